import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createManualClock } from '../../src/clock.ts';
import { silentLogger } from '../../src/logger.ts';
import type { Store } from '../../src/store/types.ts';
import { type Handler, HandlerRegistry } from '../../src/worker/handler-registry.ts';
import { computeRetryDelay } from '../../src/worker/retry-policy.ts';
import { Worker, type WorkerOptions } from '../../src/worker/worker.ts';
import { createTestStore, engines } from '../support/stores.ts';
import { recordEvent as recordStoredEvent } from './helpers.ts';

describe('retry policy', () => {
  it('draws full jitter below an exponential ceiling capped at the maximum', () => {
    const policy = { maxAttempts: 5, baseDelayMs: 1000, maxDelayMs: 5000 };
    expect(computeRetryDelay(policy, 1, () => 0.999)).toBe(999);
    expect(computeRetryDelay(policy, 3, () => 0.5)).toBe(2000);
    expect(computeRetryDelay(policy, 10, () => 0.5)).toBe(2500);
    expect(computeRetryDelay(policy, 2, () => 0)).toBe(0);
  });
});

describe.each(engines)('worker on %s', (engine) => {
  let store: Store;
  let cleanup: () => Promise<void>;
  let handlers: HandlerRegistry;
  const clock = createManualClock(Date.UTC(2026, 5, 1));
  const workers: Worker[] = [];

  beforeEach(async () => {
    ({ store, cleanup } = await createTestStore(engine, { clock }));
    handlers = new HandlerRegistry();
  });
  afterEach(async () => {
    for (const worker of workers.splice(0)) await worker.stop(100);
    await cleanup();
  });

  function createWorker(overrides: Partial<WorkerOptions> = {}) {
    const worker = new Worker({
      store,
      handlers,
      clock,
      random: () => 0.5,
      logger: silentLogger,
      retryPolicy: { maxAttempts: 3, baseDelayMs: 10_000, maxDelayMs: 60_000 },
      decodePayload: (event) => JSON.parse(event.body.toString()),
      workerId: 'worker-test',
      ...overrides,
    });
    workers.push(worker);
    return worker;
  }

  function recordEvent(dedupeKey: string, eventType = 'invoice.paid', source = 'stripe') {
    return recordStoredEvent(store, dedupeKey, { clock, eventType, source });
  }

  it('runs the handler with its context and marks the event processed with an attempt row', async () => {
    const seen: unknown[] = [];
    handlers.register('stripe', 'invoice.paid', ({ event, payload, attempt, signal, logger }) => {
      seen.push({
        id: event.id,
        payload,
        attempt,
        aborted: signal.aborted,
        hasLogger: typeof logger.info === 'function',
      });
    });
    const id = await recordEvent('evt_w1');
    expect(await createWorker().processDue()).toBe(1);
    expect(seen).toEqual([
      { id, payload: { id: 'evt_w1', type: 'invoice.paid' }, attempt: 1, aborted: false, hasLogger: true },
    ]);
    const event = await store.getEvent(id);
    expect(event).toMatchObject({ status: 'processed', attempts: 1, lockedBy: null });
    const attempts = await store.listAttempts(id);
    expect(attempts).toHaveLength(1);
    expect(attempts[0]).toMatchObject({ attemptNumber: 1, workerId: 'worker-test', outcome: 'processed' });
  });

  it('matches handlers by source and type, with * for any', async () => {
    const calls: string[] = [];
    handlers.register('stripe', '*', ({ event }) => void calls.push(`any-type:${event.dedupeKey}`));
    handlers.register(
      '*',
      'charge.refunded',
      ({ event }) => void calls.push(`any-source:${event.dedupeKey}`),
    );
    await recordEvent('evt_a', 'charge.refunded');
    await recordEvent('evt_b', 'invoice.paid', 'github');
    await createWorker().processDue();
    expect(calls.sort()).toEqual(['any-source:evt_a', 'any-type:evt_a']);
    const ignored = await store.listEvents({ limit: 10, status: 'ignored' });
    expect(ignored.events.map((e) => e.dedupeKey)).toEqual(['evt_b']);
  });

  it('backs off with jitter after a failure, then goes dead after the last attempt', async () => {
    handlers.register('stripe', '*', () => {
      throw new Error('downstream 502');
    });
    const id = await recordEvent('evt_fail');
    const worker = createWorker();
    await worker.processDue();
    let event = (await store.getEvent(id))!;
    // attempt 1: delay = 0.5 * min(60s, 10s * 2^0) = 5 s
    expect(event).toMatchObject({
      status: 'failed',
      attempts: 1,
      lastError: 'downstream 502',
      nextAttemptAt: clock.now() + 5_000,
    });
    expect(await worker.processDue()).toBe(0);
    clock.advance(5_000);
    await worker.processDue();
    event = (await store.getEvent(id))!;
    expect(event).toMatchObject({ status: 'failed', attempts: 2, nextAttemptAt: clock.now() + 10_000 });
    clock.advance(10_000);
    await worker.processDue();
    event = (await store.getEvent(id))!;
    expect(event).toMatchObject({ status: 'dead', attempts: 3 });
    expect((await store.listAttempts(id)).map((a) => a.outcome)).toEqual(['failed', 'failed', 'dead']);
  });

  it('reclaims an expired lease of a crashed worker and processes the event after its backoff', async () => {
    const id = await recordEvent('evt_crash');
    const [claimed] = await store.claimEvents({ workerId: 'crashed-worker', limit: 1, leaseMs: 1_000 });
    expect(claimed?.id).toBe(id);
    let ran = 0;
    handlers.register('stripe', '*', () => {
      ran++;
    });
    const worker = createWorker();
    expect(await worker.processDue()).toBe(0);
    clock.advance(1_001);
    // Reclaimed, and waiting like any failed attempt: 0.5 * min(60 s, 10 s * 2^0) = 5 s.
    expect(await worker.processDue()).toBe(0);
    expect(await store.getEvent(id)).toMatchObject({
      status: 'failed',
      attempts: 1,
      nextAttemptAt: clock.now() + 5_000,
    });
    clock.advance(5_000);
    expect(await worker.processDue()).toBe(1);
    expect(ran).toBe(1);
    expect((await store.listAttempts(id)).map((a) => [a.workerId, a.outcome])).toEqual([
      ['crashed-worker', 'lease_expired'],
      ['worker-test', 'processed'],
    ]);
  });

  it('fails an attempt that outlives the handler timeout and aborts its signal, holding the event until it settles', async () => {
    let signalSeen: AbortSignal | undefined;
    let settle!: () => void;
    handlers.register('stripe', '*', ({ signal }) => {
      signalSeen = signal;
      // Ignores its signal, and settles only when the test says so.
      return new Promise<void>((resolve) => {
        settle = resolve;
      });
    });
    const id = await recordEvent('evt_slow');
    const worker = createWorker({ handlerTimeoutMs: 50 });
    const running = worker.processDue();
    await waitFor(() => signalSeen?.aborted === true);
    // The attempt is on record as failed, but the event is still held: no second run can start.
    await vi.waitFor(async () =>
      expect((await store.listAttempts(id)).map((a) => [a.outcome, a.error])).toEqual([
        ['failed', 'handler timed out after 50 ms'],
      ]),
    );
    expect(await store.getEvent(id)).toMatchObject({ status: 'processing', lockedBy: 'worker-test' });
    expect(worker.stats()).toMatchObject({ held: 1, stuck: 1 });
    settle();
    expect(await running).toBe(1);
    expect(await store.getEvent(id)).toMatchObject({
      status: 'failed',
      lastError: 'handler timed out after 50 ms',
      lockedBy: null,
    });
    expect(await store.listAttempts(id)).toHaveLength(1);
    expect(worker.stats()).toMatchObject({ held: 0, stuck: 0 });
  });

  it('wakes on new events without waiting for the poll, and releases in-flight events on shutdown', async () => {
    const started: string[] = [];
    const blocking: Handler = ({ event, signal }) => {
      started.push(event.dedupeKey);
      return new Promise((_, reject) => signal.addEventListener('abort', () => reject(signal.reason)));
    };
    handlers.register('stripe', '*', blocking);
    const worker = createWorker({ pollIntervalMs: 60_000 });
    await worker.start();
    const id = await recordEvent('evt_wake');
    await waitFor(() => started.length === 1);
    expect((await store.getEvent(id))!.status).toBe('processing');
    await worker.stop(20);
    const event = await store.getEvent(id);
    expect(event).toMatchObject({ status: 'pending', attempts: 0, lockedBy: null });
    expect((await store.listAttempts(id)).map((a) => a.outcome)).toEqual(['released']);
  });

  it('finishes in-flight handlers within the grace period on shutdown', async () => {
    let release!: () => void;
    handlers.register('stripe', '*', () => new Promise<void>((resolve) => (release = resolve)));
    const worker = createWorker({ pollIntervalMs: 60_000 });
    await worker.start();
    const id = await recordEvent('evt_grace');
    await waitFor(() => release !== undefined);
    const stopping = worker.stop(5_000);
    release();
    await stopping;
    expect((await store.getEvent(id))!.status).toBe('processed');
  });

  it('gives the slot of a settled handler to the next event while its verdict is written, up to one slot-full', async () => {
    let openGate!: () => void;
    const gate = new Promise<void>((resolve) => (openGate = resolve));
    const finishAttempts = store.finishAttempts.bind(store);
    // Verdict writes stall (a slow commit) until the gate opens.
    store.finishAttempts = async (workerId, results) => {
      await gate;
      return finishAttempts(workerId, results);
    };
    const started: string[] = [];
    handlers.register('stripe', '*', ({ event }) => {
      started.push(event.dedupeKey);
    });
    for (let i = 0; i < 6; i++) await recordEvent(`evt_settling_${i}`);
    const worker = createWorker({ pollIntervalMs: 20, batchSize: 2, concurrency: 2 });
    await worker.start();
    // Two run, settle and wait for their verdicts; two more take their slots; then no more:
    // at most one slot-full of events waits for its verdict.
    await waitFor(() => started.length === 4);
    await new Promise((resolve) => setTimeout(resolve, 150));
    expect(started).toHaveLength(4);
    expect(worker.stats().held).toBe(4);
    openGate();
    await vi.waitFor(async () => expect(await store.countEvents({ status: 'processed' })).toBe(6), {
      timeout: 5_000,
    });
    expect(new Set(started).size).toBe(6);
  });

  it('goes quiet once nothing is waiting: no claim loop, no starved event loop', async () => {
    let claims = 0;
    const claimEvents = store.claimEvents.bind(store);
    store.claimEvents = async (options) => {
      claims++;
      // Slow claims, so handlers finish (and free slots) while a claim is in flight.
      await new Promise((resolve) => setTimeout(resolve, 5));
      return claimEvents(options);
    };
    // Handlers a little shorter than a claim: slots free up while the next claim is out.
    handlers.register(
      'stripe',
      '*',
      () => new Promise((resolve) => setTimeout(resolve, 2 + Math.random() * 4)),
    );
    const worker = createWorker({ pollIntervalMs: 60_000, batchSize: 5, concurrency: 5 });
    await worker.start();
    for (let i = 0; i < 40; i++) await recordEvent(`evt_quiet_${i}`);
    await vi.waitFor(async () => expect(await store.countEvents({ status: 'processed' })).toBe(40), {
      timeout: 10_000,
    });
    const settled = claims;
    // A timer must still fire promptly (a spinning loop of resolved promises would starve it)...
    const started = performance.now();
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(performance.now() - started).toBeLessThan(1_000);
    // ...and with nothing waiting, nobody claims until the next poll.
    expect(claims - settled).toBeLessThanOrEqual(1);
  });

  it('never lets two workers hold the same event', async () => {
    const running = new Set<string>();
    const runs = new Map<string, number>();
    let overlap = false;
    handlers.register('stripe', '*', async ({ event }) => {
      if (running.has(event.id)) overlap = true;
      running.add(event.id);
      runs.set(event.id, (runs.get(event.id) ?? 0) + 1);
      await new Promise((resolve) => setTimeout(resolve, 1));
      running.delete(event.id);
    });
    for (let i = 0; i < 60; i++) await recordEvent(`evt_many_${i}`);
    const a = createWorker({ workerId: 'worker-a', batchSize: 7 });
    const b = createWorker({ workerId: 'worker-b', batchSize: 7 });
    const [ranA, ranB] = await Promise.all([a.processDue(), b.processDue()]);
    expect(ranA + ranB).toBe(60);
    expect(overlap).toBe(false);
    expect([...runs.values()].every((n) => n === 1)).toBe(true);
    expect(await store.countEvents({ status: 'processed' })).toBe(60);
  });

  // The transaction handle exists only on PostgreSQL (SQLite has no separate connection to give).
  if (engine === 'postgres')
    it('commits handler writes with the processed mark, and rolls them back on failure', async () => {
      handlers.register('stripe', '*', async ({ event, tx }) => {
        await tx!.query('CREATE TABLE IF NOT EXISTS ledger (event_id text PRIMARY KEY, amount int)');
        await tx!.query('INSERT INTO ledger (event_id, amount) VALUES ($1, 100)', [event.id]);
        if (event.dedupeKey === 'evt_tx_bad') throw new Error('failed after writing');
      });
      const good = await recordEvent('evt_tx_good');
      await createWorker().processDue();
      const bad = await recordEvent('evt_tx_bad');
      await createWorker().processDue();
      const tx = (await store.beginEventTransaction())!;
      const { rows } = await tx.handle.query<{ event_id: string }>(
        'SELECT event_id FROM ledger ORDER BY event_id',
      );
      await tx.rollback();
      expect(rows.map((r) => r.event_id)).toEqual([good]);
      expect((await store.getEvent(good))!.status).toBe('processed');
      expect((await store.getEvent(bad))!.status).toBe('failed');
    });
});

async function waitFor(condition: () => boolean, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}
