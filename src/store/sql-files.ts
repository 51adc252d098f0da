import { readFileSync } from 'node:fs';

/**
 * Read the named `.sql` files of one folder once, at store creation, so a missing or
 * misnamed file fails at start-up rather than on the first request that needs it.
 */
export function readSqlFiles<const Name extends string>(
  folder: URL,
  names: readonly Name[],
): Record<Name, string> {
  const statements = {} as Record<Name, string>;
  for (const name of names) {
    const file = new URL(`${name}.sql`, folder);
    try {
      statements[name] = readFileSync(file, 'utf8');
    } catch (error) {
      throw new Error(
        `Cannot read the SQL file ${file.pathname}: ship the store's sql/ folder next to its module.`,
        { cause: error },
      );
    }
  }
  return statements;
}
