import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { createManualClock } from '../../src/clock.ts';
import { createEventId } from '../../src/ids.ts';
import { readMigrations } from '../../src/store/migrate.ts';
import { createPostgresStore } from '../../src/store/postgres/postgres-store.ts';
import { createSqliteStore } from '../../src/store/sqlite/sqlite-store.ts';
import type { Store, StoredEvent } from '../../src/store/types.ts';
import { postgresTestUrl, queryPostgres, uniqueSchemaName } from '../support/stores.ts';

// Migration 003 (the narrow hot row) on a database the previous schema wrote: every event, its
// body bytes, headers, hash, state and attempts survive, and the migrated store works on them.
const T0 = Date.UTC(2026, 3, 1);
const v1 = (folder: string) => readMigrations(new URL(folder, import.meta.url)).filter((m) => m.version <= 2);

/** Four events as the v1 schema held them, one in each state that matters to a running system. */
function v1Rows() {
  const row = (n: number, status: string, extra: Record<string, unknown> = {}) => ({
    id: createEventId(T0 + n),
    source: 'stripe',
    provider: 'stripe',
    dedupe_key: `evt_v1_${n}`,
    event_type: 'invoice.paid',
    status,
    attempts: 0,
    next_attempt_at: T0 + n,
    locked_until: null,
    locked_by: null,
    locked_at: null,
    received_at: T0 + n,
    delivery_count: 1,
    last_delivery_at: T0 + n,
    processed_at: null,
    last_error: null,
    headers: JSON.stringify({ 'content-type': 'application/json', 'stripe-signature': `t=1,v1=${n}` }),
    // Bytes that are not UTF-8 must survive the copy.
    body: Buffer.from([0x7b, 0xff, n, 0x00, 0x7d]),
    body_sha256: `sha-${n}`,
    updated_at: T0 + n,
    ...extra,
  });
  return [
    row(1, 'pending'),
    row(2, 'processing', {
      attempts: 1,
      locked_by: 'old-worker',
      locked_at: T0 + 10,
      locked_until: T0 + 60_000,
    }),
    row(3, 'processed', { attempts: 1, processed_at: T0 + 20, delivery_count: 3 }),
    row(4, 'dead', { attempts: 5, last_error: 'gave up' }),
  ];
}

const columns = [
  'id',
  'source',
  'provider',
  'dedupe_key',
  'event_type',
  'status',
  'attempts',
  'next_attempt_at',
  'locked_until',
  'locked_by',
  'locked_at',
  'received_at',
  'delivery_count',
  'last_delivery_at',
  'processed_at',
  'last_error',
  'headers',
  'body',
  'body_sha256',
  'updated_at',
] as const;

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function checkMigrated(
  store: Store,
  rows: ReturnType<typeof v1Rows>,
  clock: ReturnType<typeof createManualClock>,
) {
  await store.migrate();
  for (const row of rows) {
    const event = (await store.getEvent(row.id)) as StoredEvent;
    expect(event, row.id).toMatchObject({
      id: row.id,
      dedupeKey: row.dedupe_key,
      status: row.status,
      attempts: row.attempts,
      deliveryCount: row.delivery_count,
      lockedBy: row.locked_by,
      lastError: row.last_error,
      receivedAt: row.received_at,
      bodySha256: row.body_sha256,
      headers: JSON.parse(row.headers),
    });
    expect(event.body.equals(row.body), row.id).toBe(true);
  }
  expect((await store.listAttempts(rows[2]!.id)).map((a) => [a.attemptNumber, a.outcome])).toEqual([
    [1, 'processed'],
  ]);
  // The held event's old lease still runs; once it expires it is reclaimed like any other.
  clock.set(T0 + 60_000);
  expect((await store.findExpiredLeases(10)).map((l) => [l.eventId, l.token, l.lockedBy])).toEqual([
    [rows[1]!.id, 0, 'old-worker'],
  ]);
  // New work goes on: the pending event is claimed with a first token, a repeat is a duplicate.
  const claimed = await store.claimEvents({ workerId: 'v2', limit: 10, leaseMs: 1_000 });
  expect(claimed.map((e) => [e.id, e.claimToken])).toEqual([[rows[0]!.id, 1]]);
  const [again] = await store.recordEvents([
    {
      id: createEventId(T0 + 60_000),
      source: 'stripe',
      provider: 'stripe',
      dedupeKey: rows[2]!.dedupe_key,
      eventType: 'invoice.paid',
      headers: {},
      body: Buffer.from('{}'),
      bodySha256: 'x',
      receivedAt: T0 + 60_000,
    },
  ]);
  expect(again).toMatchObject({ id: rows[2]!.id, duplicate: true, status: 'processed', deliveryCount: 4 });
  expect(await store.countEvents({})).toBe(4);
  // Deleting an event takes its moved body and attempts along.
  expect(await store.deleteEvent(rows[2]!.id)).toBe(true);
  expect(await store.listAttempts(rows[2]!.id)).toEqual([]);
}

describe('migration 003 on a database written by the previous schema', () => {
  it('keeps every SQLite event, body and attempt', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'hookbox-v1-'));
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    const path = join(dir, 'hookbox.db');
    const rows = v1Rows();
    const raw = new Database(path);
    raw.exec(
      'CREATE TABLE hookbox_migrations (version INTEGER NOT NULL PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL) STRICT',
    );
    for (const migration of v1('../../src/store/sqlite/migrations/')) {
      raw.exec(migration.sql);
      raw
        .prepare('INSERT INTO hookbox_migrations VALUES (?, ?, ?)')
        .run(migration.version, migration.name, T0);
    }
    const insert = raw.prepare(
      `INSERT INTO events (${columns.join(', ')}) VALUES (${columns.map((c) => `@${c}`).join(', ')})`,
    );
    for (const row of rows) insert.run(row);
    raw
      .prepare(
        "INSERT INTO attempts (event_id, attempt_number, worker_id, started_at, finished_at, duration_ms, outcome) VALUES (?, 1, 'old-worker', ?, ?, 5, 'processed')",
      )
      .run(rows[2]!.id, T0 + 15, T0 + 20);
    raw.close();

    const clock = createManualClock(T0 + 1_000);
    const store = createSqliteStore({ path, clock });
    cleanups.push(() => store.close());
    await checkMigrated(store, rows, clock);
  });

  it('keeps every PostgreSQL event, body and attempt', async () => {
    const schema = uniqueSchemaName();
    cleanups.push(async () => {
      await queryPostgres(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    });
    await queryPostgres(`CREATE SCHEMA ${schema}`);
    await queryPostgres(
      'CREATE TABLE hookbox_migrations (version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL)',
      [],
      schema,
    );
    for (const migration of v1('../../src/store/postgres/migrations/')) {
      await queryPostgres(migration.sql, [], schema);
      await queryPostgres(
        'INSERT INTO hookbox_migrations VALUES ($1, $2, now())',
        [migration.version, migration.name],
        schema,
      );
    }
    const rows = v1Rows();
    const times = new Set([
      'next_attempt_at',
      'locked_until',
      'locked_at',
      'received_at',
      'last_delivery_at',
      'processed_at',
      'updated_at',
    ]);
    for (const row of rows) {
      await queryPostgres(
        `INSERT INTO events (${columns.join(', ')}) VALUES (${columns.map((_, i) => `$${i + 1}`).join(', ')})`,
        columns.map((c) => {
          const value = row[c];
          return times.has(c) && value !== null ? new Date(value as number) : value;
        }),
        schema,
      );
    }
    await queryPostgres(
      "INSERT INTO attempts (event_id, attempt_number, worker_id, started_at, finished_at, duration_ms, outcome) VALUES ($1, 1, 'old-worker', $2, $3, 5, 'processed')",
      [rows[2]!.id, new Date(T0 + 15), new Date(T0 + 20)],
      schema,
    );

    const clock = createManualClock(T0 + 1_000);
    const store = createPostgresStore({ connectionString: postgresTestUrl(), schema, clock });
    cleanups.push(() => store.close());
    await checkMigrated(store, rows, clock);
  });
});
