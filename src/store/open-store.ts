import { fileURLToPath } from 'node:url';
import type { Clock } from '../clock.ts';
import {
  createPostgresStore,
  defaultPoolSizes,
  type PoolRole,
  type PostgresStoreOptions,
} from './postgres/postgres-store.ts';
import { createSqliteStore } from './sqlite/sqlite-store.ts';
import type { Store } from './types.ts';

export const defaultSqlitePath = './data/hookbox.db';

const acceptedForms =
  'postgres://USER:PASSWORD@HOST:PORT/DATABASE (or postgresql://) for PostgreSQL, file:PATH for a SQLite file (file::memory: for an in-memory database), or leave it unset for SQLite at ./data/hookbox.db';

/** Where a database URL points, without opening anything. */
export type StoreLocation =
  | {
      engine: 'postgres';
      connectionString: string;
      schema?: string;
      /** From `?pool_<role>=N` (docs/reliability.md, "Pools by role"). */
      pools?: Partial<Record<PoolRole, number>>;
      /** From `?deadline_<role>_ms=N`. */
      deadlinesMs?: Partial<Record<PoolRole, number>>;
    }
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

const poolRoles = Object.keys(defaultPoolSizes) as PoolRole[];

/**
 * Hookbox's own parameters, taken out before the URL reaches the driver: `?schema=NAME`
 * (several deployments or test runs sharing one database), `?pool_<role>=N` (connections of
 * one pool, 1-1000) and `?deadline_<role>_ms=N` (that pool's statement deadline, 100 ms to a day).
 */
function parsePostgresUrl(url: string): StoreLocation {
  const parsed = new URL(url);
  const location: Extract<StoreLocation, { engine: 'postgres' }> = {
    engine: 'postgres',
    connectionString: url,
  };
  let ours = false;
  for (const [key, value] of [...parsed.searchParams]) {
    const setting = /^pool_([a-z]+)$/.exec(key) ?? /^deadline_([a-z]+)_ms$/.exec(key);
    if (key === 'schema') location.schema = value;
    else if (!setting) continue;
    else {
      const role = setting[1] as PoolRole;
      if (!poolRoles.includes(role)) {
        throw new Error(
          `?${key}= names no pool: the pools are ${poolRoles.join(', ')} (pool_<pool>=N, deadline_<pool>_ms=N)`,
        );
      }
      const isPool = key.startsWith('pool_');
      const [min, max] = isPool ? [1, 1_000] : [100, 86_400_000];
      const n = Number(value);
      if (!/^\d+$/.test(value) || n < min || n > max) {
        throw new Error(
          `?${key}=${value} is not ${isPool ? 'a pool size' : 'a deadline'}: use a whole number from ${min} to ${max}${isPool ? '' : ' (milliseconds)'}`,
        );
      }
      if (isPool) location.pools = { ...location.pools, [role]: n };
      else location.deadlinesMs = { ...location.deadlinesMs, [role]: n };
    }
    parsed.searchParams.delete(key);
    ours = true;
  }
  if (ours) location.connectionString = parsed.toString();
  return location;
}

export interface OpenStoreOptions {
  schema?: string;
  /**
   * Decide leases and due times by this clock instead of the store's own (the database's on
   * PostgreSQL, the machine's on SQLite): tests that move time by hand.
   */
  clock?: Clock;
  /** PostgreSQL pool sizes by role (docs/reliability.md); win over the URL's `?pool_<role>=`. */
  pools?: PostgresStoreOptions['pools'];
}

/** Open the store a database URL names (not yet migrated: call `migrate()`). */
export function openStore(databaseUrl: string | undefined, options: OpenStoreOptions = {}): Store {
  const location = parseDatabaseUrl(databaseUrl);
  const clock = options.clock ? { clock: options.clock } : {};
  if (location.engine === 'postgres') {
    const schema = options.schema ?? location.schema;
    const pools = { ...location.pools, ...options.pools };
    return createPostgresStore({
      connectionString: location.connectionString,
      ...(schema ? { schema } : {}),
      ...(Object.keys(pools).length > 0 ? { pools } : {}),
      ...(location.deadlinesMs ? { deadlinesMs: location.deadlinesMs } : {}),
      ...clock,
    });
  }
  return createSqliteStore({ path: location.path, ...clock });
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
