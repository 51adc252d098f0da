import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { readMigrations } from '../../src/store/migrate.ts';
import { createPostgresStore } from '../../src/store/postgres/postgres-store.ts';
import { createSqliteStore } from '../../src/store/sqlite/sqlite-store.ts';
import type { Store } from '../../src/store/types.ts';
import { postgresTestUrl, queryPostgres, uniqueSchemaName } from '../support/stores.ts';

const run = promisify(execFile);
const repoRoot = fileURLToPath(new URL('../../', import.meta.url));
const sqliteMigrations = readMigrations(new URL('../../src/store/sqlite/migrations/', import.meta.url));
const postgresMigrations = readMigrations(new URL('../../src/store/postgres/migrations/', import.meta.url));

interface MigrationRow {
  version: number;
  name: string;
  applied_at: unknown;
}

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function track(stores: Store[]): Store[] {
  cleanups.push(async () => {
    await Promise.all(stores.map((s) => s.close()));
  });
  return stores;
}

async function freshSqlitePath(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'hookbox-migrate-'));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  return join(dir, 'nested', 'hookbox.db');
}

function readSqliteMigrations(path: string): MigrationRow[] {
  const db = new Database(path, { readonly: true });
  try {
    return db
      .prepare('SELECT version, name, applied_at FROM hookbox_migrations ORDER BY version')
      .all() as MigrationRow[];
  } finally {
    db.close();
  }
}

describe('migrations on SQLite', () => {
  it('applies each migration once when two stores migrate one file at once, and re-running is a no-op', async () => {
    const path = await freshSqlitePath();
    const [a, b] = track([createSqliteStore({ path }), createSqliteStore({ path })]) as [Store, Store];
    await Promise.all([a.migrate(), b.migrate()]);

    const applied = readSqliteMigrations(path);
    expect(applied.map((m) => [m.version, m.name])).toEqual(sqliteMigrations.map((m) => [m.version, m.name]));

    await a.migrate();
    await b.migrate();
    expect(readSqliteMigrations(path)).toEqual(applied);
    await expect(a.countEvents({})).resolves.toBe(0);
  });

  it('applies each migration once when several processes start on one file at once', async () => {
    const path = await freshSqlitePath();
    const startAt = Date.now() + 1_500;
    // Each process waits for the same instant, so their migrations really overlap.
    const script = `
      const { createSqliteStore } = await import(${JSON.stringify(join(repoRoot, 'src/store/sqlite/sqlite-store.ts'))});
      const store = createSqliteStore({ path: process.argv[1] });
      await new Promise((resolve) => setTimeout(resolve, Math.max(0, Number(process.argv[2]) - Date.now())));
      await store.migrate();
      await store.close();
    `;
    const processes = Array.from({ length: 4 }, () =>
      run(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script, path, String(startAt)], {
        cwd: repoRoot,
      }),
    );
    await Promise.all(processes);
    expect(readSqliteMigrations(path).map((m) => m.version)).toEqual(sqliteMigrations.map((m) => m.version));
  });

  it('refuses a database migrated by a newer Hookbox', async () => {
    const path = await freshSqlitePath();
    const [store] = track([createSqliteStore({ path })]) as [Store];
    await store.migrate();
    const db = new Database(path);
    db.prepare('INSERT INTO hookbox_migrations (version, name, applied_at) VALUES (999, ?, 0)').run(
      'from_the_future',
    );
    db.close();
    await expect(store.migrate()).rejects.toThrow(/migration 999 applied, newer than this Hookbox knows/);
  });

  it('works in memory', async () => {
    const [store] = track([createSqliteStore({ path: ':memory:' })]) as [Store];
    await store.migrate();
    await store.migrate();
    await expect(store.countEvents({})).resolves.toBe(0);
  });
});

describe('migrations on PostgreSQL', () => {
  async function freshSchema(): Promise<string> {
    const schema = uniqueSchemaName();
    cleanups.push(async () => {
      await queryPostgres(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    });
    return schema;
  }

  it('creates the schema and applies each migration once when four stores migrate at once', async () => {
    const schema = await freshSchema();
    const stores = track(
      Array.from({ length: 4 }, () => createPostgresStore({ connectionString: postgresTestUrl(), schema })),
    );
    await Promise.all(stores.map((s) => s.migrate()));

    const applied = await queryPostgres<MigrationRow>(
      'SELECT version, name, applied_at FROM hookbox_migrations ORDER BY version',
      [],
      schema,
    );
    expect(applied.map((m) => [m.version, m.name])).toEqual(
      postgresMigrations.map((m) => [m.version, m.name]),
    );

    await Promise.all(stores.map((s) => s.migrate()));
    const again = await queryPostgres<MigrationRow>(
      'SELECT version, name, applied_at FROM hookbox_migrations ORDER BY version',
      [],
      schema,
    );
    expect(again).toEqual(applied);
    await expect(stores[0]!.countEvents({})).resolves.toBe(0);

    // Everything lives in the configured schema, nothing leaked into public.
    const tables = await queryPostgres<{ table_name: string }>(
      'SELECT table_name FROM information_schema.tables WHERE table_schema = $1 ORDER BY table_name',
      [schema],
    );
    expect(tables.map((t) => t.table_name)).toEqual([
      'attempts',
      'deliveries',
      'delivery_attempts',
      'destination_states',
      'event_bodies',
      'events',
      'hookbox_migrations',
    ]);
  });

  it('refuses a database migrated by a newer Hookbox', async () => {
    const schema = await freshSchema();
    const [store] = track([createPostgresStore({ connectionString: postgresTestUrl(), schema })]) as [Store];
    await store.migrate();
    await queryPostgres(
      "INSERT INTO hookbox_migrations (version, name, applied_at) VALUES (999, 'from_the_future', now())",
      [],
      schema,
    );
    await expect(store.migrate()).rejects.toThrow(/migration 999 applied, newer than this Hookbox knows/);
  });

  it('rejects a schema name that search_path would read differently', () => {
    expect(() => createPostgresStore({ connectionString: postgresTestUrl(), schema: 'Hookbox' })).toThrow(
      /Invalid PostgreSQL schema name "Hookbox"/,
    );
    expect(() => createPostgresStore({ connectionString: postgresTestUrl(), schema: 'a;drop' })).toThrow(
      /lower-case letters, digits or underscores/,
    );
  });
});
