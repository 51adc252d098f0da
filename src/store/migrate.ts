import { readdirSync, readFileSync } from 'node:fs';

/** One numbered, forward-only schema change: `NNN_name.sql` in an engine's migrations folder. */
export interface Migration {
  version: number;
  name: string;
  sql: string;
}

const migrationFileName = /^(\d+)_([a-z0-9_-]+)\.sql$/i;

/** Every migration of a folder, in version order; a repeated version number is an error. */
export function readMigrations(folder: URL): Migration[] {
  const migrations: Migration[] = [];
  for (const file of readdirSync(folder).sort()) {
    const match = migrationFileName.exec(file);
    if (!match) continue;
    const version = Number(match[1]);
    const name = match[2]!;
    if (migrations.some((m) => m.version === version)) {
      throw new Error(`Two migrations share version ${version} in ${folder.pathname}: renumber one of them.`);
    }
    migrations.push({ version, name, sql: readFileSync(new URL(file, folder), 'utf8') });
  }
  if (migrations.length === 0) {
    throw new Error(`No migrations found in ${folder.pathname}: ship the store's migrations/ folder.`);
  }
  return migrations.sort((a, b) => a.version - b.version);
}

/**
 * The migrations not applied yet. A database that has applied a version this code does not
 * know was migrated by a newer Hookbox; running older code against it is refused rather than
 * guessed at, since migrations only go forward.
 */
export function selectPendingMigrations(known: Migration[], appliedVersions: Iterable<number>): Migration[] {
  const applied = new Set(Array.from(appliedVersions, Number));
  const newest = known.at(-1)?.version ?? 0;
  const unknown = [...applied].filter((v) => !known.some((m) => m.version === v));
  if (unknown.some((v) => v > newest)) {
    throw new Error(
      `The database has migration ${Math.max(...unknown)} applied, newer than this Hookbox knows (${newest}): run a Hookbox version at least as new as the one that migrated it.`,
    );
  }
  return known.filter((m) => !applied.has(m.version));
}

/** A migration failure that names the migration, so the operator knows which file to look at. */
export function migrationError(engine: string, migration: Migration | null, cause: unknown): Error {
  const what = migration
    ? `migration ${String(migration.version).padStart(3, '0')}_${migration.name}`
    : 'the migration bookkeeping';
  const reason = cause instanceof Error ? cause.message : String(cause);
  return new Error(
    `Could not apply ${what} on ${engine}: ${reason}. Nothing of it was applied; fix the cause and start again.`,
    {
      cause,
    },
  );
}
