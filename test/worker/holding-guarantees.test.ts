/**
 * Issue 10, one test per numbered item (5 and 6, pools and deadlines, are in
 * pools-and-deadlines.test.ts). Each runs real workers on a real store of each engine where the
 * item applies; faults are injected at the store object a worker is given.
 */
import { readFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { type Clock, systemClock } from '../../src/clock.ts';
import { StoreRowRefusedError, StoreUnavailableError } from '../../src/errors.ts';
import { createEventService } from '../../src/events/event-service.ts';
import { createHookbox } from '../../src/hookbox.ts';
import { createLogger } from '../../src/logger.ts';
import type { AttemptResult, Claim } from '../../src/store/types.ts';
import { HandlerRegistry } from '../../src/worker/handler-registry.ts';
import { ResultWriter } from '../../src/worker/result-writer.ts';
import { defaultRetryPolicy, maxTimeToDeadMs } from '../../src/worker/retry-policy.ts';
import { Worker } from '../../src/worker/worker.ts';
import { createFaultyStore } from '../support/faulty-store.ts';
import { createTestStore, engines, type TestStore } from '../support/stores.ts';
import {
  createOffsetClock,
  createTestWorker,
  deliverStripe,
  RunLog,
  recordEvent,
  sleep,
  waitUntil,
} from './helpers.ts';

const secret = 'whsec_issue_10_holding_guarantees';

/** Everything a test opened, closed after it whatever happened. */
function createScope() {
  const cleanups: (() => Promise<void> | void)[] = [];
  return {
    add(cleanup: () => Promise<void> | void) {
      cleanups.unshift(cleanup);
    },
    async close() {
      for (const cleanup of cleanups.splice(0)) await cleanup();
    },
  };
}

function gate(scope: ReturnType<typeof createScope>): { promise: Promise<void>; open: () => void } {
  let open!: () => void;
  const promise = new Promise<void>((resolve) => {
    open = resolve;
  });
  scope.add(() => open());
  return { promise, open };
}

const scope = createScope();
afterEach(() => scope.close());

async function openStore(
  engine: (typeof engines)[number],
  options: { clock?: Clock } = {},
): Promise<TestStore> {
  const testStore = await createTestStore(engine, options);
  scope.add(() => testStore.cleanup());
  return testStore;
}

function startedWorker(options: Parameters<typeof createTestWorker>[0]): Worker {
  const worker = createTestWorker(options);
  scope.add(() => worker.stop(200));
  return worker;
}

describe.each(engines)('issue 10 on %s', (engine) => {
  it('item 1 (handler timeout): a timed-out handler that ignores its signal keeps its event held, shows as stuck, and never overlaps a second run', async () => {
    // The store's clock runs with real time and jumps on cue, so "held past the stuck threshold" needs no wait.
    const clock = createOffsetClock();
    const testStore = await openStore(engine, { clock });
    const log = new RunLog();
    const settle = gate(scope);
    const handler = log.track('hookbox', async (_context, run) => {
      if (run.attempt === 1) await settle.promise;
    });
    const hookbox = createHookbox({
      store: testStore.store,
      clock,
      sources: { stripe: { provider: 'stripe', secrets: [secret] } },
      handlers: { stripe: { '*': handler } },
      retry: { maxAttempts: 5, baseDelayMs: 10, maxDelayMs: 10 },
      worker: { handlerTimeoutMs: 100, pollIntervalMs: 20 },
      admin: { token: 'issue-10-admin-token-0123456789' },
      monitor: { metrics: { processMetrics: false } },
    });
    scope.add(() => hookbox.stop(200));
    await hookbox.start();
    // A second worker on its own store instance polls and reclaims all the while.
    const handlers = new HandlerRegistry();
    handlers.register(
      'stripe',
      '*',
      log.track('other', () => undefined),
    );
    const other = startedWorker({
      store: testStore.openSibling({ clock }),
      handlers,
      clock,
      leaseMs: 30_000,
    });
    await other.start();

    expect((await deliverStripe(hookbox, secret, 'evt_timeout', clock)).status).toBe(200);
    await waitUntil(() => log.runs[0]?.abortReason === 'timeout', 'the handler times out');
    const healthz = await (await hookbox.fetch(new Request('http://hookbox.test/healthz'))).json();
    expect(healthz.worker).toMatchObject({ held: 1, stuck: 1 });

    // Held past the handler timeout plus the 10 s grace: the store-wide figures count it as stuck too.
    clock.advance(11_000);
    const auth = { authorization: 'Bearer issue-10-admin-token-0123456789' };
    const metrics = await (
      await hookbox.fetch(new Request('http://hookbox.test/metrics', { headers: auth }))
    ).text();
    expect(metrics).toMatch(/^hookbox_stuck_handlers 1$/m);
    const monitor = await (
      await hookbox.fetch(new Request('http://hookbox.test/api/admin/webhooks/monitor', { headers: auth }))
    ).json();
    expect(monitor.data.metrics.stuck).toBe(1);

    await sleep(500);
    expect(log.runs).toHaveLength(1);
    settle.open();
    const id = log.runs[0]!.eventId;
    await waitUntil(
      async () => (await testStore.store.getEvent(id))?.status === 'processed',
      'the retry runs',
    );
    expect(log.overlaps()).toEqual([]);
    expect((await testStore.store.listAttempts(id)).map((a) => a.outcome)).toEqual(['failed', 'processed']);
    expect(hookbox.worker.stats()).toMatchObject({ held: 0, stuck: 0 });
  });

  it('item 2 (graceful stop): leases keep renewing through the grace period, so another instance never runs the event while the first still does', async () => {
    const testStore = await openStore(engine);
    const log = new RunLog();
    const handlers = new HandlerRegistry();
    // Renewals come every third of a lease; at 300 ms one delayed 200 ms on a loaded machine
    // let the other instance take the event over, as it should, and this failed.
    const leaseMs = 1_000;
    handlers.register(
      'stripe',
      '*',
      log.track('either', () => sleep(leaseMs * 3)),
    );
    const stopping = startedWorker({ store: testStore.store, handlers, leaseMs, workerId: 'stopping' });
    const other = startedWorker({ store: testStore.openSibling(), handlers, leaseMs, workerId: 'other' });
    const id = await recordEvent(testStore.store, 'evt_stop');
    await stopping.start();
    await waitUntil(() => log.runs.length === 1, 'the run starts');
    await other.start();
    await stopping.stop(leaseMs * 20);
    expect(log.runs[0]!.end).not.toBeNull();
    await sleep(leaseMs * 2);
    expect(log.runs).toHaveLength(1);
    expect((await testStore.store.listAttempts(id)).map((a) => [a.workerId, a.outcome])).toEqual([
      ['stopping', 'processed'],
    ]);
  });

  it('item 3 (fencing by claim): a restarted worker with the same id re-claims the event; the old attempt can neither finish nor renew the new claim', async () => {
    const clock = createOffsetClock();
    const testStore = await openStore(engine, { clock });
    const log = new RunLog();
    const settleOld = gate(scope);
    const handlers = new HandlerRegistry();
    // The new claim must keep its lease through its renewals: room for a loaded machine, as in item 2.
    const leaseMs = 1_000;
    handlers.register(
      'stripe',
      '*',
      log.track('web-1', async (_context, run) => {
        // The old run ignores its signal and succeeds late; the new run takes several leases.
        if (run.attempt === 1) await settleOld.promise;
        else await sleep(leaseMs * 3);
      }),
    );
    const faulty = createFaultyStore(testStore.store);
    scope.add(() => faulty.heal());
    // Two instances of one configured worker id: the old one has lost the database.
    const old = startedWorker({ store: faulty.store, handlers, clock, leaseMs, workerId: 'web-1' });
    const restarted = startedWorker({
      store: testStore.openSibling({ clock }),
      handlers,
      clock,
      leaseMs,
      workerId: 'web-1',
    });
    const id = await recordEvent(testStore.store, 'evt_same_id', { clock });
    await old.start();
    await waitUntil(() => log.runs.length === 1, 'the old run starts');
    faulty.inject({ methods: 'all', mode: 'hang', durationMs: 60_000 });
    clock.advance(leaseMs + 1);
    await restarted.start();
    await waitUntil(() => log.runs.length === 2, 'the restarted worker runs the event');
    // The old run settles with success while the new claim runs: its verdict must be dropped.
    faulty.heal();
    settleOld.open();
    await waitUntil(() => old.stats().held === 0, 'the old worker lets go');
    expect(await testStore.store.getEvent(id)).toMatchObject({ status: 'processing', attempts: 2 });
    await waitUntil(
      async () => (await testStore.store.getEvent(id))?.status === 'processed',
      'the new run finishes',
    );
    expect((await testStore.store.listAttempts(id)).map((a) => a.outcome)).toEqual([
      'lease_expired',
      'processed',
    ]);
  });

  it('item 7 (crash recovery): a reclaimed event waits its backoff like any failed attempt, and the documented time to dead is the computed one', async () => {
    const testStore = await openStore(engine);
    const leaseMs = 300;
    const log = new RunLog();
    const handlers = new HandlerRegistry();
    handlers.register(
      'stripe',
      '*',
      log.track('survivor', () => undefined),
    );
    const ids = await Promise.all(['a', 'b', 'c'].map((k) => recordEvent(testStore.store, `evt_crash_${k}`)));
    // A worker claims all three and dies: nobody renews, nobody finishes.
    const claimed = await testStore.store.claimEvents({ workerId: 'crashed', limit: 10, leaseMs });
    expect(claimed).toHaveLength(3);
    // Backoff after attempt 1: random 0.5 * min(max, 2000 * 2^0) = 1 s.
    const survivor = startedWorker({
      store: testStore.openSibling(),
      handlers,
      leaseMs,
      random: () => 0.5,
      retryPolicy: { maxAttempts: 5, baseDelayMs: 2_000, maxDelayMs: 60_000 },
    });
    await survivor.start();
    await waitUntil(
      async () => (await testStore.store.countEvents({ status: 'processed' })) === 3,
      'all recover',
      10_000,
    );
    for (const id of ids) {
      const [expired, processed] = await testStore.store.listAttempts(id);
      expect(expired).toMatchObject({ workerId: 'crashed', outcome: 'lease_expired' });
      expect(processed).toMatchObject({ outcome: 'processed', attemptNumber: 2 });
      // Both times by the same machine's clock (the database's on PostgreSQL runs on this host too).
      expect(processed!.startedAt - expired!.finishedAt).toBeGreaterThanOrEqual(1_000 - 50);
    }
    // The defaults: 10 s base, doubling, 5 attempts: ceilings 10 + 20 + 40 + 80 s.
    const backoffMs = maxTimeToDeadMs(defaultRetryPolicy);
    expect(backoffMs).toBe(150_000);
    // A handler that crashes its process: each lost lease runs out up to a lease after the
    // crash and is reclaimed within the next half lease (the reclaim interval), five times.
    const { leaseMs: defaultLeaseMs } = new Worker({
      store: testStore.store,
      handlers,
      clock: systemClock,
      random: Math.random,
      logger: createLogger({ level: 'silent' }),
      retryPolicy: defaultRetryPolicy,
      decodePayload: () => null,
    });
    const crashingMs = defaultRetryPolicy.maxAttempts * (defaultLeaseMs * 1.5) + backoffMs;
    const docs = readFileSync(new URL('../../docs/reliability.md', import.meta.url), 'utf8');
    expect(docs).toContain(`at most ${backoffMs / 1000} s of backoff`);
    expect(docs).toMatch(new RegExp(`crashes its process every time +\\| at most ${crashingMs / 1000} s`));
  });

  it('item 8 (sync mode): a dead event’s repeat answers 200 dead:true without running, and a failed event’s repeat keeps its backoff', async () => {
    const clock = createOffsetClock();
    const testStore = await openStore(engine, { clock });
    let runs = 0;
    const hookbox = createHookbox({
      store: testStore.store,
      clock,
      sources: { stripe: { provider: 'stripe', secrets: [secret], mode: 'sync' } },
      handlers: {
        stripe: {
          '*': () => {
            runs++;
            throw new Error('downstream refused');
          },
        },
      },
      retry: { maxAttempts: 2, baseDelayMs: 60_000, maxDelayMs: 60_000 },
      random: () => 0.5,
      worker: { enabled: false },
    });
    scope.add(() => hookbox.stop(200));
    await hookbox.start();

    const first = await deliverStripe(hookbox, secret, 'evt_sync', clock);
    expect(first.status).toBe(500);
    expect((await first.json()).error.message).toMatch(/will be retried from \d{4}-/);
    expect(runs).toBe(1);
    // The provider retries at once: the backoff (30 s) holds, the handler does not run.
    const early = await deliverStripe(hookbox, secret, 'evt_sync', clock);
    expect(early.status).toBe(500);
    expect((await early.json()).error.message).toMatch(/will be retried from \d{4}-/);
    expect(runs).toBe(1);
    // After the backoff the repeat runs it: the last attempt, so dead, and the provider is told to stop.
    clock.advance(30_001);
    const last = await deliverStripe(hookbox, secret, 'evt_sync', clock);
    expect(last.status).toBe(200);
    expect(await last.json()).toMatchObject({ received: true, duplicate: true, dead: true });
    expect(runs).toBe(2);
    const again = await deliverStripe(hookbox, secret, 'evt_sync', clock);
    expect(again.status).toBe(200);
    expect(await again.json()).toMatchObject({ received: true, duplicate: true, dead: true });
    expect(runs).toBe(2);
  });

  it('item 9 (write failures): a verdict the database cannot store does not cost the verdicts written beside it', async () => {
    const testStore = await openStore(engine);
    const handlers = new HandlerRegistry();
    const started = new Set<string>();
    const bothStarted = gate(scope);
    handlers.register('stripe', '*', async ({ event }) => {
      started.add(event.dedupeKey);
      if (started.size === 2) bothStarted.open();
      await bothStarted.promise;
      // A NUL character: PostgreSQL cannot store it in text.
      if (event.dedupeKey === 'evt_nul') throw new Error('upstream said \u0000 nothing');
    });
    // A long backoff, so the failed event stays failed once its verdict is written.
    const worker = startedWorker({
      store: testStore.store,
      handlers,
      resultGatherMs: 20,
      random: () => 0.5,
      retryPolicy: { maxAttempts: 5, baseDelayMs: 60_000, maxDelayMs: 60_000 },
    });
    const nul = await recordEvent(testStore.store, 'evt_nul');
    const fine = await recordEvent(testStore.store, 'evt_fine');
    await worker.start();
    await waitUntil(
      async () => (await testStore.store.countEvents({ status: ['processed', 'failed'] })) === 2,
      'both verdicts are written',
    );
    expect(await testStore.store.getEvent(fine)).toMatchObject({ status: 'processed', attempts: 1 });
    expect(await testStore.store.getEvent(nul)).toMatchObject({
      status: 'failed',
      attempts: 1,
      lastError: 'upstream said \ufffd nothing',
    });
  });

  it('item 9 (write failures): retryEvent reports failure when its verdict was not applied', async () => {
    const testStore = await openStore(engine);
    const { store } = testStore;
    const id = await recordEvent(store, 'evt_manual');
    const events = createEventService({
      store,
      clock: systemClock,
      random: () => 0.5,
      retryPolicy: defaultRetryPolicy,
      decodePayload: (event) => JSON.parse(event.body.toString()),
    });
    // While the retry's handler runs, an operator marks the event processed: the retry's claim is gone.
    const outcome = await events.retryEvent(id, async () => {
      expect(await store.markProcessed(id)).toBe(true);
    });
    expect(outcome.success).toBe(false);
    expect(outcome.error).toMatch(/lost its claim/);
    expect(outcome.event).toMatchObject({ status: 'processed' });
    expect((await store.listAttempts(id)).map((a) => [a.workerId, a.outcome])).toEqual([
      ['manual', 'processed'],
    ]);
  });
});

describe('issue 10 on postgres only', () => {
  it('item 4 (clocks): a worker whose host clock runs 60 s fast never takes over a live lease, because the database clock decides', async () => {
    const testStore = await openStore('postgres');
    const log = new RunLog();
    const handlers = new HandlerRegistry();
    const leaseMs = 1_000;
    handlers.register(
      'stripe',
      '*',
      log.track('either', async ({ event }) => {
        if (event.dedupeKey === 'evt_live') await sleep(leaseMs * 3);
      }),
    );
    const holder = startedWorker({ store: testStore.store, handlers, leaseMs, workerId: 'on-time' });
    const fastClock: Clock = { now: () => Date.now() + 60_000 };
    // The fast clock goes to the worker only: its store (no clock injected) uses the database's.
    const fast = startedWorker({
      store: testStore.openSibling(),
      handlers,
      leaseMs,
      clock: fastClock,
      workerId: 'fast',
    });
    const live = await recordEvent(testStore.store, 'evt_live');
    await holder.start();
    await waitUntil(() => log.runs.length === 1, 'the holder runs the event');
    await fast.start();
    const other = await recordEvent(testStore.store, 'evt_other');
    await waitUntil(
      async () => (await testStore.store.countEvents({ status: 'processed' })) === 2,
      'both events are processed',
    );
    expect(log.of(live)).toHaveLength(1);
    expect(log.overlaps()).toEqual([]);
    expect((await testStore.store.listAttempts(live)).map((a) => [a.workerId, a.outcome])).toEqual([
      ['on-time', 'processed'],
    ]);
    // The fast worker did work meanwhile: it was polling and reclaiming, not idle.
    expect(log.of(other)).toHaveLength(1);
    expect((await testStore.store.listAttempts(other)).map((a) => a.outcome)).toEqual(['processed']);
  });
});

describe('result writer: each caller learns about its own verdict only', () => {
  const logger = createLogger({ level: 'silent' });
  const verdict = (eventId: string): AttemptResult => ({
    eventId,
    token: 1,
    outcome: 'processed',
    startedAt: 0,
    finishedAt: 1,
  });

  it('a batch that cannot be written fails its own callers, not the callers of the next batch', async () => {
    let calls = 0;
    const writer = new ResultWriter({
      logger,
      maxTries: 2,
      retryBaseMs: 1,
      write: async (batch): Promise<Claim[]> => {
        calls++;
        if (batch.some((r) => r.eventId === 'down')) throw new StoreUnavailableError('the store is down');
        return batch;
      },
    });
    const down = writer.write(verdict('down'));
    // Once the first batch has gone out (a timer of 0 ms may fire before the writer's
    // setImmediate gathers, and would put both verdicts in one batch).
    while (calls === 0) await sleep(1);
    const later = writer.write(verdict('later'));
    await expect(down).rejects.toThrow('the store is down');
    await expect(later).resolves.toBe(true);
    expect(calls).toBe(3);
  });

  it('a verdict the store refuses fails alone; the verdicts batched with it are applied', async () => {
    const written: string[] = [];
    const writer = new ResultWriter({
      logger,
      gatherMs: 20,
      write: async (batch): Promise<Claim[]> => {
        if (batch.some((r) => r.eventId === 'poison')) throw new StoreRowRefusedError('refused');
        written.push(...batch.map((r) => r.eventId));
        return batch.filter((r) => r.eventId !== 'stale');
      },
    });
    const answers = await Promise.allSettled(
      ['a', 'poison', 'b', 'stale', 'c'].map((id) => writer.write(verdict(id))),
    );
    expect(answers.map((a) => (a.status === 'fulfilled' ? a.value : 'rejected'))).toEqual([
      true,
      'rejected',
      true,
      false,
      true,
    ]);
    expect(written.sort()).toEqual(['a', 'b', 'c', 'stale']);
  });
});
