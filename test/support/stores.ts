import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import type { Clock } from '../../src/clock.ts';
import { describeDatabaseUrl } from '../../src/store/open-store.ts';
import { createPostgresStore, type PostgresStoreOptions } from '../../src/store/postgres/postgres-store.ts';
import { createSqliteStore } from '../../src/store/sqlite/sqlite-store.ts';
import type { Store } from '../../src/store/types.ts';

export const engines = ['sqlite', 'postgres'] as const;
export type Engine = (typeof engines)[number];

/** The PostgreSQL the tests use: DATABASE_URL when it is a postgres URL, else the local default. */
export function postgresTestUrl(): string {
  const url = process.env.DATABASE_URL;
  return url && /^postgres(ql)?:\/\//i.test(url) ? url : 'postgresql://postgres@127.0.0.1:5432/test';
}

/** A schema name no other test file uses: test files run in parallel against one database. */
export function uniqueSchemaName(): string {
  return `hb_t_${randomBytes(6).toString('hex')}`;
}

/** Run statements on the test database outside any store (setup and inspection). */
export async function queryPostgres<R = Record<string, unknown>>(
  sql: string,
  params: unknown[] = [],
  schema?: string,
): Promise<R[]> {
  const client = new pg.Client({
    connectionString: postgresTestUrl(),
    connectionTimeoutMillis: 5000,
    ...(schema ? { options: `-c search_path=${schema}` } : {}),
  });
  try {
    await client.connect();
  } catch (error) {
    throw new Error(
      `PostgreSQL is not reachable at ${describeDatabaseUrl(postgresTestUrl())} (${(error as Error).message}): start PostgreSQL or set DATABASE_URL to a postgres:// URL. The store tests never skip it.`,
      { cause: error },
    );
  }
  try {
    return (await client.query(sql, params)).rows as R[];
  } finally {
    await client.end();
  }
}

export interface TestStore {
  store: Store;
  /**
   * Another store on the same database (same SQLite file / same PostgreSQL schema), closed by
   * cleanup; with its own clock when given (a seeder writing "days ago").
   */
  /** Another store on the same database; `clock: null` runs it on the real clock (PostgreSQL's own). */
  openSibling(options?: { clock?: Clock | null }): Store;
  /** The SQLite file (SQLite only). */
  path?: string;
  /** The schema everything lives in (PostgreSQL only). */
  schema?: string;
  cleanup(): Promise<void>;
}

export interface TestStoreOptions {
  migrate?: boolean;
  /**
   * The clock the store decides leases and due times by. Absent: the real one (the database's
   * own on PostgreSQL), as in production.
   */
  clock?: Clock;
  /** PostgreSQL pool sizes by role. */
  pools?: PostgresStoreOptions['pools'];
  /** PostgreSQL statement deadlines by role. */
  deadlinesMs?: PostgresStoreOptions['deadlinesMs'];
}

/** Pool sizes of test stores unless a test says otherwise. */
export const testPoolSizes = { ingest: 2, worker: 2, leases: 1, handlers: 3, queries: 2 } as const;

/**
 * The DATABASE_URL of a Hookbox process a test spawns on PostgreSQL schema `schema`, with small
 * pools (`?pool_<role>=`, docs/reliability.md) as test stores have. At the production sizes a
 * process may open 23 connections, and three servers of one file beside two of another took
 * PostgreSQL past its 100: ingest answered 503 and handler transactions failed to begin.
 */
export function postgresProcessUrl(schema: string): string {
  const base = postgresTestUrl();
  const params = new URLSearchParams({ schema });
  for (const [role, size] of Object.entries(testPoolSizes)) params.set(`pool_${role}`, String(size));
  return `${base}${base.includes('?') ? '&' : '?'}${params}`;
}

/** A migrated store in a fresh location: a temp SQLite file or a fresh PostgreSQL schema. */
export async function createTestStore(engine: Engine, options: TestStoreOptions = {}): Promise<TestStore> {
  const opened: Store[] = [];
  let open: (clock: { clock?: Clock }) => Store;
  let dropLocation: () => Promise<void>;
  let location: { path?: string; schema?: string };

  if (engine === 'sqlite') {
    const dir = await mkdtemp(join(tmpdir(), 'hookbox-store-'));
    const path = join(dir, 'hookbox.db');
    open = (clock) => createSqliteStore({ path, ...clock });
    dropLocation = () => rm(dir, { recursive: true, force: true });
    location = { path };
  } else {
    // Fail loudly (never skip) when PostgreSQL is down, so a green run always covers both engines.
    await queryPostgres('SELECT 1');
    const schema = uniqueSchemaName();
    open = (clock) =>
      createPostgresStore({
        connectionString: postgresTestUrl(),
        schema,
        ...clock,
        // Test files run in parallel against one PostgreSQL (max_connections 100 here): small
        // pools by default, the production sizes only where a test asks for them.
        pools: { ...testPoolSizes, ...options.pools },
        ...(options.deadlinesMs ? { deadlinesMs: options.deadlinesMs } : {}),
      });
    dropLocation = async () => {
      await queryPostgres(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    };
    location = { schema };
  }

  const openTracked = (siblingOptions: { clock?: Clock | null } = {}) => {
    const clock = siblingOptions.clock === null ? undefined : (siblingOptions.clock ?? options.clock);
    const store = open(clock ? { clock } : {});
    opened.push(store);
    return store;
  };
  const cleanup = async () => {
    await Promise.all(opened.map((s) => s.close().catch(() => {})));
    await dropLocation();
  };

  const store = openTracked();
  if (options.migrate !== false) {
    try {
      await store.migrate();
    } catch (error) {
      await cleanup();
      throw error;
    }
  }
  return { store, openSibling: (siblingOptions) => openTracked(siblingOptions), ...location, cleanup };
}
