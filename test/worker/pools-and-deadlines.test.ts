/**
 * Issue 10 items 5 and 6 on a real PostgreSQL: pools by role (handler transactions cannot starve
 * ingest or lease renewal), statement deadlines, and a bounded group-commit queue when the
 * database stops answering. The silent database is a TCP proxy that blackholes
 * (test/support/blackhole-proxy.ts): connections stay open, nothing comes back.
 */

import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import pg from 'pg';
import { afterEach, describe, expect, it } from 'vitest';
import { createHookbox } from '../../src/hookbox.ts';
import { createEventId } from '../../src/ids.ts';
import { GroupCommitter, IngestOverloadedError } from '../../src/ingest/group-commit.ts';
import { createPostgresStore } from '../../src/store/postgres/postgres-store.ts';
import type { NewEvent, Store } from '../../src/store/types.ts';
import { type BlackholeProxy, startBlackholeProxy } from '../support/blackhole-proxy.ts';
import { createTestStore, postgresTestUrl, queryPostgres, type TestStore } from '../support/stores.ts';
import { deliverStripe, sleep, waitUntil } from './helpers.ts';

const secret = 'whsec_issue_10_pools_and_deadlines';

function newEvent(key: string, bytes: number): NewEvent {
  const now = Date.now();
  return {
    id: createEventId(now),
    source: 'stripe',
    provider: 'stripe',
    dedupeKey: key,
    eventType: 'invoice.paid',
    headers: {},
    body: Buffer.alloc(bytes, 0x61),
    bodySha256: key,
    receivedAt: now,
  };
}

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => {});
});

async function openTestStore(options: Parameters<typeof createTestStore>[1] = {}): Promise<TestStore> {
  const testStore = await createTestStore('postgres', options);
  cleanups.push(() => testStore.cleanup());
  return testStore;
}

/** The same schema, reached through a proxy that can go silent, with short deadlines. */
async function openThroughProxy(
  schema: string,
  deadlineMs: number,
): Promise<{ store: Store; proxy: BlackholeProxy }> {
  const url = new URL(postgresTestUrl());
  const proxy = await startBlackholeProxy({ host: url.hostname, port: Number(url.port || 5432) });
  url.host = `127.0.0.1:${proxy.port}`;
  const store = createPostgresStore({
    connectionString: url.toString(),
    schema,
    deadlinesMs: { ingest: deadlineMs, worker: deadlineMs, handlers: deadlineMs, queries: deadlineMs },
    connectTimeoutMs: deadlineMs,
  });
  cleanups.push(async () => {
    proxy.restore();
    await store.close();
    await proxy.close();
  });
  return { store, proxy };
}

describe('issue 10 item 5 (pools): on postgres', () => {
  it('50 slow ctx.tx handlers on a pool of 5 do not slow ingest or let a lease lapse', async () => {
    const testStore = await openTestStore({ pools: { handlers: 5 } });
    await queryPostgres(`CREATE TABLE ${testStore.schema}.effects (event_id text PRIMARY KEY)`);
    // Handlers wait their turn for one of 5 connections: the last of 50 holds its event about
    // 3 s, twice a lease, so every lease must be renewed while its handler waits or runs. A lease
    // shorter than this lapses on a loaded CI machine whatever the pools do.
    const leaseMs = 1_500;
    const hookbox = createHookbox({
      store: testStore.store,
      sources: { stripe: { provider: 'stripe', secrets: [secret] } },
      handlers: {
        stripe: {
          // Takes a handler connection at once and keeps it for its whole run.
          '*': async ({ event, tx }) => {
            await tx!.query('SELECT 1');
            await sleep(300);
            await tx!.query('INSERT INTO effects (event_id) VALUES ($1)', [event.id]);
          },
        },
      },
      retry: { maxAttempts: 20, baseDelayMs: 50, maxDelayMs: 200 },
      worker: { leaseMs, concurrency: 50, pollIntervalMs: 20 },
    });
    cleanups.push(() => hookbox.stop(2_000));
    await hookbox.start();

    // Sampled all along: a held event whose lease ran out by the database's clock.
    let lapsed = 0;
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        const [row] = await queryPostgres<{ n: string }>(
          `SELECT count(*) AS n FROM ${testStore.schema}.events WHERE status = 'processing' AND locked_until < now()`,
        );
        lapsed = Math.max(lapsed, Number(row!.n));
        await sleep(25);
      }
    })();

    const first = await Promise.all(
      Array.from({ length: 50 }, (_, i) => deliverStripe(hookbox, secret, `evt_pool_${i}`)),
    );
    expect(first.map((r) => r.status)).toEqual(Array(50).fill(200));
    await waitUntil(() => hookbox.worker.stats().held >= 40, 'the handlers hold their events');
    // Every handler connection is taken and more handlers wait for one: ingest answers anyway.
    const latencies: number[] = [];
    for (let i = 0; i < 20; i++) {
      const started = performance.now();
      expect((await deliverStripe(hookbox, secret, `evt_pool_late_${i}`)).status).toBe(200);
      latencies.push(performance.now() - started);
    }
    expect(Math.max(...latencies)).toBeLessThan(1_000);

    await waitUntil(
      async () => (await testStore.store.countEvents({ status: 'processed' })) === 70,
      'every event is processed',
      30_000,
      100,
    );
    sampling = false;
    await sampler;
    expect(lapsed).toBe(0);
    const [outcomes] = await queryPostgres<{ expired: string; effects: string }>(
      `SELECT (SELECT count(*) FROM ${testStore.schema}.attempts WHERE outcome = 'lease_expired') AS expired,
              (SELECT count(*) FROM ${testStore.schema}.effects) AS effects`,
    );
    expect(outcomes).toEqual({ expired: '0', effects: '70' });
  }, 60_000);
  it('renews leases while every worker connection waits on a key lock', async () => {
    // One worker connection, taken by a verdict that waits for its ordering key's lock (held by
    // another session here; in production, a slow transaction of the same key). Renewals have a
    // pool of their own: they must not queue behind it.
    const testStore = await openTestStore({ pools: { worker: 1 } });
    const { store } = testStore;
    // A key no other test file locks, so the lock's waiters below are this test's.
    const key = `cus_${testStore.schema}`;
    const lockName = `hookbox_ordering:stripe:${key}`;
    const ordered = {
      ...newEvent('evt_ordered', 16),
      ordering: { key, orderedAt: Date.now(), holdMs: 0, onDead: 'block' as const },
    };
    await store.recordEvents([ordered, newEvent('evt_unordered', 16)]);
    const claimed = await store.claimEvents({ workerId: 'w', limit: 10, leaseMs: 30_000 });
    expect(claimed.map((e) => e.dedupeKey).sort()).toEqual(['evt_ordered', 'evt_unordered']);
    const head = claimed.find((e) => e.dedupeKey === 'evt_ordered')!;
    const other = claimed.find((e) => e.dedupeKey === 'evt_unordered')!;

    const locker = new pg.Client({ connectionString: postgresTestUrl() });
    await locker.connect();
    cleanups.push(() => locker.end());
    await locker.query('BEGIN');
    await locker.query('SELECT pg_advisory_xact_lock(hashtextextended($1, 0))', [lockName]);
    const now = Date.now();
    const finishing = store.finishAttempts('w', [
      {
        eventId: head.id,
        token: head.claimToken,
        outcome: 'processed',
        startedAt: now,
        finishedAt: now,
        ordering: { source: 'stripe', key },
      },
    ]);
    await waitUntil(async () => {
      // A bigint advisory lock is classid (high 32 bits) and objid (low 32 bits), objsubid 1.
      const [row] = await queryPostgres<{ n: string }>(
        `SELECT count(*) AS n FROM pg_locks
         WHERE locktype = 'advisory' AND objsubid = 1 AND NOT granted
           AND (classid::bigint << 32) | objid::bigint = hashtextextended($1, 0)`,
        [lockName],
      );
      return Number(row!.n) > 0;
    }, 'the verdict waits for the key lock');

    const renewal = store.extendLeases([{ eventId: other.id, token: other.claimToken }], 30_000);
    const first = await Promise.race([
      renewal.then((kept) => kept),
      sleep(5_000).then(() => 'still waiting' as const),
    ]);
    expect(first).toEqual([{ eventId: other.id, token: other.claimToken }]);

    await locker.query('COMMIT');
    expect(await finishing).toEqual([{ eventId: head.id, token: head.claimToken }]);
  });
});

describe('an ordered verdict whose key lock outlasts the deadline: on postgres', () => {
  it('fails with the lock wait as its cause, writes nothing, and applies once the lock is free', async () => {
    // The ordered transaction is pipelined: BEGIN, the key lock and the verdict go out together,
    // so the verdict statement fails too (the transaction is aborted). The error must name the
    // lock's timeout, not the aborted transaction, and the event must be untouched.
    const testStore = await openTestStore({ deadlinesMs: { worker: 300 } });
    const { store } = testStore;
    const key = `cus_${testStore.schema}_deadline`;
    await store.recordEvents([
      { ...newEvent('evt_locked', 16), ordering: { key, orderedAt: Date.now(), holdMs: 0, onDead: 'block' } },
    ]);
    const [head] = await store.claimEvents({ workerId: 'w', limit: 10, leaseMs: 30_000 });
    const locker = new pg.Client({ connectionString: postgresTestUrl() });
    await locker.connect();
    cleanups.push(() => locker.end());
    await locker.query('BEGIN');
    await locker.query('SELECT pg_advisory_xact_lock(hashtextextended($1, 0))', [
      `hookbox_ordering:stripe:${key}`,
    ]);
    const now = Date.now();
    const verdict = {
      eventId: head!.id,
      token: head!.claimToken,
      outcome: 'processed' as const,
      startedAt: now,
      finishedAt: now,
      ordering: { source: 'stripe', key },
    };
    const failure = await store.finishAttempts('w', [verdict]).then(
      () => null,
      (error: unknown) => error as Error,
    );
    expect(failure?.message).toMatch(/statement timeout/);
    expect(failure?.message).not.toMatch(/current transaction is aborted/);
    expect(await store.getEvent(head!.id)).toMatchObject({ status: 'processing', attempts: 1 });
    expect(await store.listAttempts(head!.id)).toEqual([]);

    await locker.query('COMMIT');
    expect(await store.finishAttempts('w', [verdict])).toEqual([
      { eventId: head!.id, token: head!.claimToken },
    ]);
    expect(await store.getEvent(head!.id)).toMatchObject({ status: 'processed' });
  });
});

describe('issue 10 item 6 (deadlines and back-pressure): on postgres behind a proxy that goes silent', () => {
  const deadlineMs = 500;
  // The server cancels a statement at its deadline; the client gives up 1 s later if the server is gone.
  const clientGivesUpMs = deadlineMs + 1_000;

  it('answers deliveries 503 with Retry-After within the deadlines, and 200 again once the database answers', async () => {
    const testStore = await openTestStore();
    const { store, proxy } = await openThroughProxy(testStore.schema!, deadlineMs);
    const hookbox = createHookbox({
      store,
      sources: { stripe: { provider: 'stripe', secrets: [secret] } },
      worker: { enabled: false },
      migrate: false,
    });
    cleanups.push(() => hookbox.stop(200));
    await hookbox.start();
    expect((await deliverStripe(hookbox, secret, 'evt_before')).status).toBe(200);

    proxy.blackhole();
    const answers = await Promise.all(
      Array.from({ length: 30 }, async (_, i) => {
        const started = performance.now();
        const response = await deliverStripe(hookbox, secret, `evt_silent_${i}`);
        return {
          status: response.status,
          retryAfter: response.headers.get('retry-after'),
          ms: performance.now() - started,
        };
      }),
    );
    expect(answers.map((a) => a.status)).toEqual(Array(30).fill(503));
    expect(answers.every((a) => Number(a.retryAfter) > 0)).toBe(true);
    // At most the commit ahead of it and its own, each cut off at the client's deadline.
    expect(Math.max(...answers.map((a) => a.ms))).toBeLessThan(2 * clientGivesUpMs + 1_000);

    proxy.restore();
    await waitUntil(
      async () => (await deliverStripe(hookbox, secret, 'evt_after')).status === 200,
      'deliveries are stored again',
    );
    expect(await testStore.store.findEventByDedupeKey('stripe', 'evt_silent_0')).toBeNull();
  });

  it('bounds the pending-commit queue by rows, refuses the overflow at once, and fails what waits fast', async () => {
    const testStore = await openTestStore();
    const { store, proxy } = await openThroughProxy(testStore.schema!, deadlineMs);
    const maxQueuedRows = 1_000;
    const committer = new GroupCommitter({
      store,
      maxBatch: 50,
      maxQueuedRows,
      maxQueuedBytes: 4 * 1024 * 1024,
    });
    await committer.record(newEvent('evt_warm', 16));
    proxy.blackhole();

    // Rows: 1,200 small deliveries at once, more than the queue may hold.
    let peakRows = 0;
    const settled = await Promise.all(
      Array.from({ length: 1_200 }, async (_, i) => {
        const started = performance.now();
        const answer = committer.record(newEvent(`evt_rows_${i}`, 16)).then(
          () => 'stored',
          (error: unknown) => (error instanceof IngestOverloadedError ? 'overloaded' : 'unavailable'),
        );
        peakRows = Math.max(peakRows, committer.queued.rows);
        return { outcome: await answer, ms: performance.now() - started };
      }),
    );
    expect(peakRows).toBeLessThanOrEqual(maxQueuedRows);
    expect(settled.some((s) => s.outcome === 'stored')).toBe(false);
    const overflow = settled.filter((s) => s.outcome === 'overloaded');
    expect(overflow.length).toBeGreaterThanOrEqual(200);
    // Nothing waits behind batch after batch of a silent database: once a commit finds it gone,
    // what waits is answered too, so no delivery waits much past two client deadlines.
    expect(Math.max(...settled.map((s) => s.ms))).toBeLessThan(2 * clientGivesUpMs + 1_000);
    proxy.restore();
  });

  it('bounds the queue by bytes and keeps memory flat while 256 MiB of deliveries meet a silent database', async () => {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    const testStore = await openTestStore();
    const { store, proxy } = await openThroughProxy(testStore.schema!, deadlineMs);
    const maxQueuedBytes = 8 * 1024 * 1024;
    const committer = new GroupCommitter({ store, maxQueuedBytes });
    await committer.record(newEvent('evt_warm', 16));
    proxy.blackhole();
    const live = () => {
      gc();
      const usage = process.memoryUsage();
      return usage.heapUsed + usage.arrayBuffers;
    };
    const baseline = live();
    let peakBytes = 0;
    const perRound: number[] = [];
    const waiting: Promise<unknown>[] = [];
    // 1,024 deliveries of 256 KiB, 64 at a time, as fast as they are answered.
    for (let round = 0; round < 16; round++) {
      for (let i = 0; i < 64; i++) {
        waiting.push(committer.record(newEvent(`evt_big_${round}_${i}`, 256 * 1024)).catch(() => null));
        peakBytes = Math.max(peakBytes, committer.queued.bytes);
      }
      perRound.push(live() - baseline);
      await sleep(5);
    }
    await Promise.all(waiting);
    waiting.length = 0;
    expect(peakBytes).toBeLessThanOrEqual(maxQueuedBytes);
    // Live memory after each round: the queue's 8 MiB, two batches in flight (8 MiB each, held
    // as events, as one concatenated bytea and as the driver's message), what the round added;
    // never the 256 MiB that went through. Flat: the later rounds hold no more than the first.
    const mib = 1024 * 1024;
    expect(Math.max(...perRound)).toBeLessThan(96 * mib);
    expect(Math.max(...perRound.slice(8))).toBeLessThan(Math.max(...perRound.slice(0, 8)) + 16 * mib);
    // Answered is not yet let go: the batches still on the wire are held until their own
    // commits give up, one client deadline after they were sent. Then nothing stays.
    await waitUntil(
      () => live() - baseline < 16 * mib,
      'the in-flight batches are let go',
      2 * clientGivesUpMs + 1_000,
      100,
    );
    proxy.restore();
  });
});
