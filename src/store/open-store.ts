import { fileURLToPath } from 'node:url';
import { createPostgresStore } from './postgres/postgres-store.ts';
import { createSqliteStore } from './sqlite/sqlite-store.ts';
import type { Store } from './types.ts';

export const defaultSqlitePath = './data/hookbox.db';

const acceptedForms =
  'postgres://USER:PASSWORD@HOST:PORT/DATABASE (or postgresql://) for PostgreSQL, file:PATH for a SQLite file (file::memory: for an in-memory database), or leave it unset for SQLite at ./data/hookbox.db';

/** Where a database URL points, without opening anything. */
export type StoreLocation =
  | { engine: 'postgres'; connectionString: string; schema?: string }
  | { engine: 'sqlite'; path: string };

/** Parse a database URL into its engine and location; throws on a form Hookbox does not accept. */
export function parseDatabaseUrl(databaseUrl: string | undefined): StoreLocation {
  const url = databaseUrl?.trim() ?? '';
  if (url === '') return { engine: 'sqlite', path: defaultSqlitePath };
  if (/^postgres(ql)?:\/\//i.test(url)) return parsePostgresUrl(url);
  if (/^file:/i.test(url)) {
    // file:///abs/path is a real file URL; file:PATH (relative or absolute) is taken literally.
    const path = /^file:\/\//i.test(url) ? fileURLToPath(url) : url.slice('file:'.length);
    if (path === '') {
      throw new Error(`The database URL "file:" names no file: use file:PATH, e.g. file:./data/hookbox.db.`);
    }
    return { engine: 'sqlite', path };
  }
  throw new Error(`Unsupported database URL "${describeDatabaseUrl(url)}": use ${acceptedForms}.`);
}

/**
 * `?schema=NAME` is Hookbox's own parameter (several deployments or test runs sharing one
 * database); it is taken out before the URL reaches the driver.
 */
function parsePostgresUrl(url: string): StoreLocation {
  const parsed = new URL(url);
  const schema = parsed.searchParams.get('schema') ?? undefined;
  if (schema === undefined) return { engine: 'postgres', connectionString: url };
  parsed.searchParams.delete('schema');
  return { engine: 'postgres', connectionString: parsed.toString(), schema };
}

/** Open the store a database URL names (not yet migrated: call `migrate()`). */
export function openStore(databaseUrl: string | undefined, options: { schema?: string } = {}): Store {
  const location = parseDatabaseUrl(databaseUrl);
  if (location.engine === 'postgres') {
    return createPostgresStore({
      connectionString: location.connectionString,
      ...((options.schema ?? location.schema) ? { schema: options.schema ?? location.schema } : {}),
    });
  }
  return createSqliteStore({ path: location.path });
}

/** The database URL in a form safe to log: passwords masked, wherever they appear. */
export function describeDatabaseUrl(databaseUrl: string | undefined): string {
  const url = databaseUrl?.trim() ?? '';
  if (url === '') return `file:${defaultSqlitePath} (default)`;
  return (
    url
      // userinfo runs to the last @ of the authority, so an unencoded @ in a password is masked too
      .replace(/^([a-z][a-z0-9+.-]*:\/\/)([^/?#]*)@/i, (_match, scheme: string, userinfo: string) => {
        const colon = userinfo.indexOf(':');
        return colon === -1 ? `${scheme}${userinfo}@` : `${scheme}${userinfo.slice(0, colon)}:***@`;
      })
      .replace(/([?&](?:password|passwd|pwd)=)[^&#]*/gi, '$1***')
  );
}
