/**
 * PostgreSQL pools by role, sized and timed from DATABASE_URL (`?pool_<role>=N`,
 * `?deadline_<role>_ms=N`; docs/reliability.md): parsed and refused like `?schema=`, taken out
 * of the URL before it reaches the driver, and in force on a real PostgreSQL.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, onTestFinished } from 'vitest';
import { loadConfig } from '../../src/config/load.ts';
import { openStore, parseDatabaseUrl } from '../../src/store/open-store.ts';
import type { Store } from '../../src/store/types.ts';
import { postgresTestUrl, queryPostgres, uniqueSchemaName } from '../support/stores.ts';

describe('DATABASE_URL pool settings', () => {
  it('reads pool sizes and deadlines by role and leaves the driver only its own parameters', () => {
    expect(
      parseDatabaseUrl(
        'postgres://u:p@db/hookbox?sslmode=require&pool_handlers=60&pool_ingest=4&deadline_handlers_ms=120000&schema=hb',
      ),
    ).toEqual({
      engine: 'postgres',
      connectionString: 'postgres://u:p@db/hookbox?sslmode=require',
      schema: 'hb',
      pools: { handlers: 60, ingest: 4 },
      deadlinesMs: { handlers: 120_000 },
    });
  });

  it('refuses an unknown pool and a size or deadline out of range, saying what it takes', () => {
    expect(() => parseDatabaseUrl('postgres://db/x?pool_handler=10')).toThrow(
      '?pool_handler= names no pool: the pools are ingest, worker, leases, handlers, queries (pool_<pool>=N, deadline_<pool>_ms=N)',
    );
    expect(() => parseDatabaseUrl('postgres://db/x?pool_worker=0')).toThrow(
      '?pool_worker=0 is not a pool size: use a whole number from 1 to 1000',
    );
    expect(() => parseDatabaseUrl('postgres://db/x?deadline_ingest_ms=5s')).toThrow(
      '?deadline_ingest_ms=5s is not a deadline: use a whole number from 100 to 86400000 (milliseconds)',
    );
  });

  it('reports a bad pool setting as a configuration problem', async () => {
    // An empty folder: no config file, only the environment.
    const cwd = mkdtempSync(join(tmpdir(), 'hookbox-pools-'));
    onTestFinished(() => rmSync(cwd, { recursive: true, force: true }));
    await expect(
      loadConfig({
        cwd,
        env: { DATABASE_URL: 'postgres://db/x?pool_handlers=many', STRIPE_WEBHOOK_SECRET: 'whsec_x' },
        flags: {},
      }),
    ).rejects.toThrow(
      'DATABASE_URL: ?pool_handlers=many is not a pool size: use a whole number from 1 to 1000',
    );
  });
});

describe('DATABASE_URL pool settings on a real PostgreSQL', () => {
  let store: Store | null = null;
  const schema = uniqueSchemaName();
  afterEach(async () => {
    await store?.close();
    await queryPostgres(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  });

  it('sizes the handlers pool and times its statements as the URL says', async () => {
    const url = new URL(postgresTestUrl());
    url.searchParams.set('schema', schema);
    url.searchParams.set('pool_handlers', '1');
    url.searchParams.set('deadline_handlers_ms', '300');
    store = openStore(url.toString());
    await store.migrate();

    // One handler connection: a second transaction waits until the first lets go of it.
    const first = (await store.beginEventTransaction())!;
    await first.handle.query('SELECT 1');
    const second = (await store.beginEventTransaction())!;
    let answered = false;
    const waiting = second.handle.query('SELECT 2 AS n').then((r) => {
      answered = true;
      return r.rows;
    });
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(answered).toBe(false);
    await first.rollback();
    expect(await waiting).toEqual([{ n: 2 }]);

    // A handler statement past its 300 ms deadline is cancelled by the server.
    const started = performance.now();
    await expect(second.handle.query('SELECT pg_sleep(5)')).rejects.toThrow(/statement timeout/);
    expect(performance.now() - started).toBeLessThan(2_000);
    await second.rollback();
  });
});
