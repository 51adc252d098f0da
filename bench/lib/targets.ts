import { randomBytes } from 'node:crypto';
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import pg from 'pg';
import { createPostgresStore } from '../../src/store/postgres/postgres-store.ts';
import { createSqliteStore } from '../../src/store/sqlite/sqlite-store.ts';
import type { Store } from '../../src/store/types.ts';
import { workDir } from './processes.ts';

export const engines = ['sqlite', 'postgres'] as const;
export type Engine = (typeof engines)[number];

/** Where one bench server keeps its events: a fresh SQLite file or a fresh PostgreSQL schema. */
export type StoreTarget =
  | { engine: 'sqlite'; path: string }
  | { engine: 'postgres'; connectionString: string; schema: string };

/** The PostgreSQL the bench uses: DATABASE_URL when it is a postgres URL, else the local test database. */
export function postgresUrl(): string {
  const url = process.env.DATABASE_URL;
  return url && /^postgres(ql)?:\/\//i.test(url) ? url : 'postgresql://postgres@127.0.0.1:5432/test';
}

const runId = randomBytes(3).toString('hex');
const created: StoreTarget[] = [];

/** A fresh location for one server of one scenario; dropped by `dropTargets`. */
export function newTarget(engine: Engine, label: string): StoreTarget {
  const name = `${label}_${runId}`.toLowerCase().replace(/[^a-z0-9_]/g, '_');
  let target: StoreTarget;
  if (engine === 'sqlite') {
    const dir = join(workDir, 'db');
    mkdirSync(dir, { recursive: true });
    target = { engine, path: join(dir, `${name}.db`) };
  } else {
    target = { engine, connectionString: postgresUrl(), schema: `hb_bench_${name}`.slice(0, 48) };
  }
  created.push(target);
  return target;
}

/** A Hookbox database URL for the target (`?schema=` is Hookbox's own parameter). */
export function databaseUrlOf(target: StoreTarget): string {
  if (target.engine === 'sqlite') return `file:${target.path}`;
  const url = new URL(target.connectionString);
  url.searchParams.set('schema', target.schema);
  return url.toString();
}

export function openTargetStore(target: StoreTarget, poolSize?: number): Store {
  return target.engine === 'sqlite'
    ? createSqliteStore({ path: target.path })
    : createPostgresStore({
        connectionString: target.connectionString,
        schema: target.schema,
        ...(poolSize ? { pools: { worker: poolSize, queries: poolSize } } : {}),
      });
}

/** An empty location for a server that creates its own tables (the naive and lean receivers). */
export async function prepareEmptyTarget(target: StoreTarget): Promise<void> {
  if (target.engine === 'postgres') await queryPostgres(`CREATE SCHEMA IF NOT EXISTS ${target.schema}`);
}

/** Create the schema (migrated) so a server can start on it. */
export async function prepareTarget(target: StoreTarget): Promise<void> {
  const store = openTargetStore(target);
  try {
    await store.migrate();
  } finally {
    await store.close();
  }
}

export async function queryPostgres<R>(sql: string, params: unknown[] = [], schema?: string): Promise<R[]> {
  const client = new pg.Client({
    connectionString: postgresUrl(),
    connectionTimeoutMillis: 5000,
    ...(schema ? { options: `-c search_path=${schema}` } : {}),
  });
  await client.connect();
  try {
    return (await client.query(sql, params)).rows as R[];
  } finally {
    await client.end();
  }
}

/** Every stored (dedupe key -> delivery count) of the target, read straight from its table. */
export async function readStoredDeliveries(target: StoreTarget): Promise<Map<string, number>> {
  const sql = 'SELECT dedupe_key, delivery_count FROM events';
  let rows: { dedupe_key: string; delivery_count: number | string }[];
  if (target.engine === 'sqlite') {
    const db = new Database(target.path, { readonly: true });
    try {
      rows = db.prepare(sql).all() as typeof rows;
    } finally {
      db.close();
    }
  } else {
    rows = await queryPostgres(sql, [], target.schema);
  }
  return new Map(rows.map((r) => [r.dedupe_key, Number(r.delivery_count)]));
}

/** Events of a Hookbox target not finished yet (pending, processing or failed). */
export async function countBacklog(target: StoreTarget): Promise<number> {
  const sql = "SELECT count(*) AS n FROM events WHERE status IN ('pending', 'processing', 'failed')";
  if (target.engine === 'sqlite') {
    const db = new Database(target.path, { readonly: true });
    try {
      return Number((db.prepare(sql).get() as { n: number }).n);
    } finally {
      db.close();
    }
  }
  return Number((await queryPostgres<{ n: string }>(sql, [], target.schema))[0]?.n ?? 0);
}

export async function dropTarget(target: StoreTarget): Promise<void> {
  if (target.engine === 'sqlite') {
    for (const suffix of ['', '-wal', '-shm']) rmSync(`${target.path}${suffix}`, { force: true });
  } else {
    await queryPostgres(`DROP SCHEMA IF EXISTS ${target.schema} CASCADE`);
  }
}

/** Drop every location this run created (called at the end, also after a failure). */
export async function dropTargets(): Promise<void> {
  for (const target of created.splice(0)) await dropTarget(target).catch(() => {});
}

/** A fresh PostgreSQL schema name for a peer that creates its own schema (graphile-worker). */
export function newPostgresSchema(label: string): string {
  const target = newTarget('postgres', label) as Extract<StoreTarget, { engine: 'postgres' }>;
  return target.schema;
}
