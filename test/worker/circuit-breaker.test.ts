import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createManualClock } from '../../src/clock.ts';
import { createHookbox, type Hookbox } from '../../src/hookbox.ts';
import { createEventId } from '../../src/ids.ts';
import { silentLogger } from '../../src/logger.ts';
import type { Store } from '../../src/store/types.ts';
import { CircuitBreakers } from '../../src/worker/circuit-breaker.ts';
import { HandlerRegistry } from '../../src/worker/handler-registry.ts';
import { Worker } from '../../src/worker/worker.ts';
import { createTestStore, engines } from '../support/stores.ts';

describe('circuit breakers (unit, manual clock)', () => {
  const start = Date.UTC(2026, 5, 1);

  it('opens after N consecutive failures, refuses until the cool-down, then admits one trial', () => {
    const clock = createManualClock(start);
    const breakers = new CircuitBreakers({ clock, settings: { failureThreshold: 3, cooldownMs: 30_000 } });
    const key = 'stripe:*';
    breakers.recordFailure(key, false, 'boom');
    breakers.recordFailure(key, false, 'boom');
    expect(breakers.admit([key])).toEqual({ allowed: true, trials: [] });
    // A success in between resets the count: only consecutive failures open it.
    breakers.recordSuccess(key, false);
    breakers.recordFailure(key, false, 'boom');
    breakers.recordFailure(key, false, 'boom');
    expect(breakers.snapshot()[0]).toMatchObject({ state: 'closed', consecutiveFailures: 2 });
    breakers.recordFailure(key, false, 'boom');
    expect(breakers.snapshot()[0]).toMatchObject({
      handler: key,
      state: 'open',
      consecutiveFailures: 3,
      openedAt: new Date(start).toISOString(),
      retryAt: new Date(start + 30_000).toISOString(),
      timesOpened: 1,
      lastError: 'boom',
    });
    expect(breakers.admit([key])).toEqual({ allowed: false, retryAt: start + 30_000, blockedBy: [key] });

    clock.advance(29_999);
    expect(breakers.admit([key]).allowed).toBe(false);
    clock.advance(1);
    expect(breakers.snapshot()[0]!.state).toBe('half_open');
    expect(breakers.admit([key])).toEqual({ allowed: true, trials: [key] });
    // While the trial runs, every other event waits trialWaitMs (min(cool-down, 5 s)).
    expect(breakers.admit([key])).toEqual({ allowed: false, retryAt: clock.now() + 5_000, blockedBy: [key] });
    breakers.recordSuccess(key, true);
    expect(breakers.snapshot()[0]).toMatchObject({ state: 'closed', consecutiveFailures: 0, retryAt: null });
    expect(breakers.admit([key])).toEqual({ allowed: true, trials: [] });
  });

  it('re-opens for a full cool-down when the trial fails; a straggler does not decide a half-open breaker', () => {
    const clock = createManualClock(start);
    const breakers = new CircuitBreakers({ clock, settings: { failureThreshold: 1, cooldownMs: 10_000 } });
    breakers.recordFailure('a:*', false, 'down');
    clock.advance(10_000);
    expect(breakers.admit(['a:*'])).toEqual({ allowed: true, trials: ['a:*'] });
    // An event that started before the breaker opened finishes now: it neither closes nor re-opens it.
    breakers.recordSuccess('a:*', false);
    breakers.recordFailure('a:*', false, 'late');
    expect(breakers.snapshot()[0]!.state).toBe('half_open');
    breakers.recordFailure('a:*', true, 'still down');
    expect(breakers.snapshot()[0]).toMatchObject({
      state: 'open',
      retryAt: new Date(clock.now() + 10_000).toISOString(),
      timesOpened: 2,
      lastError: 'still down',
    });
  });

  it('admits all or nothing across an event’s handlers and hands back an abandoned trial', () => {
    const clock = createManualClock(start);
    const breakers = new CircuitBreakers({ clock, settings: { failureThreshold: 1, cooldownMs: 1_000 } });
    breakers.recordFailure('a:*', false, 'x');
    breakers.recordFailure('b:*', false, 'x');
    clock.advance(1_000);
    breakers.recordFailure('c:*', false, 'x'); // c opens now, a and b are due for a trial
    const refused = breakers.admit(['a:*', 'b:*', 'c:*']);
    expect(refused).toEqual({ allowed: false, retryAt: clock.now() + 1_000, blockedBy: ['c:*'] });
    // No trial permit was taken from a or b by the refused event.
    expect(breakers.admit(['a:*', 'b:*'])).toEqual({ allowed: true, trials: ['a:*', 'b:*'] });
    expect(breakers.admit(['a:*']).allowed).toBe(false);
    breakers.abandonTrial('a:*');
    expect(breakers.admit(['a:*'])).toEqual({ allowed: true, trials: ['a:*'] });
  });

  it('validates its settings', () => {
    const clock = createManualClock(start);
    expect(() => new CircuitBreakers({ clock, settings: { failureThreshold: 0 } })).toThrow(
      /failureThreshold/,
    );
    expect(new CircuitBreakers({ clock }).settings).toEqual({
      failureThreshold: 5,
      cooldownMs: 30_000,
      trialWaitMs: 5_000,
    });
  });
});

describe.each(engines)('circuit breaker in the worker on %s', (engine) => {
  let store: Store;
  let cleanup: () => Promise<void>;
  const clock = createManualClock(Date.UTC(2026, 5, 1));
  let breakers: CircuitBreakers;
  let worker: Worker;
  let broken: boolean;
  let runs: string[];

  beforeEach(async () => {
    clock.set(Date.UTC(2026, 5, 1));
    ({ store, cleanup } = await createTestStore(engine, { clock }));
    broken = true;
    runs = [];
    const handlers = new HandlerRegistry();
    handlers.register('stripe', '*', ({ event }) => {
      runs.push(event.dedupeKey);
      if (broken) throw new Error('downstream unavailable');
    });
    // A second source with a healthy handler: its breaker is separate and never opens.
    handlers.register('github', '*', ({ event }) => {
      runs.push(event.dedupeKey);
    });
    breakers = new CircuitBreakers({ clock, settings: { failureThreshold: 3, cooldownMs: 30_000 } });
    worker = new Worker({
      store,
      handlers,
      clock,
      random: () => 0,
      logger: silentLogger,
      // Zero backoff: a failed event is due again at once, so only the breaker holds it back.
      retryPolicy: { maxAttempts: 10, baseDelayMs: 0, maxDelayMs: 0 },
      decodePayload: (event) => JSON.parse(event.body.toString()),
      workerId: 'worker-breaker',
      batchSize: 1,
      concurrency: 1,
      breakers,
    });
  });
  afterEach(async () => {
    await worker.stop(100);
    await cleanup();
  });

  async function record(dedupeKey: string, source = 'stripe') {
    const body = Buffer.from(JSON.stringify({ id: dedupeKey, type: 'invoice.paid' }));
    const [result] = await store.recordEvents([
      {
        id: createEventId(clock.now()),
        source,
        provider: source,
        dedupeKey,
        eventType: 'invoice.paid',
        headers: {},
        body,
        bodySha256: dedupeKey,
        receivedAt: clock.now(),
      },
    ]);
    clock.advance(1);
    return result!.id;
  }

  async function attemptsSpent(): Promise<number> {
    const page = await store.listEvents({ limit: 100 });
    return page.events.reduce((sum, e) => sum + e.attempts, 0);
  }

  it('opens after 3 failures, holds events without spending attempts, and a successful trial closes it', async () => {
    for (let i = 1; i <= 6; i++) await record(`evt_${i}`);
    await record('gh_1', 'github');

    await worker.processDue();
    // Three failed attempts opened the breaker; everything else of stripe waits, github ran.
    expect(runs.filter((r) => r.startsWith('evt_'))).toHaveLength(3);
    expect(runs).toContain('gh_1');
    expect(await attemptsSpent()).toBe(3 + 1);
    const openedAt = clock.now();
    expect(breakers.snapshot()).toEqual([
      expect.objectContaining({ handler: 'stripe:*', state: 'open', consecutiveFailures: 3, timesOpened: 1 }),
    ]);
    const waiting = await store.listEvents({ limit: 100, source: 'stripe' });
    for (const event of waiting.events) {
      expect(event.status).toBe('pending');
      expect(event.nextAttemptAt).toBe(openedAt + 30_000);
      expect(event.attempts).toBeLessThanOrEqual(1);
    }
    // The hand-back is on the audit trail, as a `released` attempt that did not count.
    const released = (await Promise.all(waiting.events.map((e) => store.listAttempts(e.id)))).flat();
    expect(released.filter((a) => a.outcome === 'released').length).toBeGreaterThanOrEqual(3);
    expect(released.find((a) => a.outcome === 'released')!.error).toMatch(
      /circuit breaker open for stripe:\*/,
    );

    // Nothing is claimed during the cool-down.
    clock.advance(29_000);
    runs = [];
    expect(await worker.processDue()).toBe(0);
    expect(runs).toEqual([]);

    // After it: one trial; it succeeds, the breaker closes and the rest run.
    broken = false;
    clock.set(openedAt + 30_000);
    await worker.processDue();
    expect(breakers.snapshot()[0]).toMatchObject({ state: 'closed', consecutiveFailures: 0 });
    expect(await store.countEvents({ status: 'processed' })).toBe(7);
    expect(runs).toHaveLength(6);
    // Total attempts: 3 failures + one successful run per stripe event + github's one.
    expect(await attemptsSpent()).toBe(3 + 6 + 1);
  });

  it('re-opens for a new cool-down when the half-open trial fails', async () => {
    for (let i = 1; i <= 5; i++) await record(`evt_${i}`);
    await worker.processDue();
    expect(breakers.snapshot()[0]!.state).toBe('open');
    const spent = await attemptsSpent();

    clock.advance(30_000);
    runs = [];
    await worker.processDue();
    // Exactly one trial ran, failed, and the breaker is open again from now.
    expect(runs).toHaveLength(1);
    expect(await attemptsSpent()).toBe(spent + 1);
    expect(breakers.snapshot()[0]).toMatchObject({
      state: 'open',
      retryAt: new Date(clock.now() + 30_000).toISOString(),
      timesOpened: 2,
    });
    expect(await store.countEvents({ status: ['dead'] })).toBe(0);

    clock.advance(30_000);
    broken = false;
    await worker.processDue();
    expect(await store.countEvents({ status: 'processed' })).toBe(5);
    expect(breakers.snapshot()[0]!.state).toBe('closed');
  });
});

describe.each(engines)('circuit breaker state in the health report and /metrics on %s', (engine) => {
  const adminToken = 'breaker-admin-token-0123456789';
  let cleanup: () => Promise<void>;
  let hookbox: Hookbox;
  const clock = createManualClock(Date.UTC(2026, 5, 1, 12));

  beforeEach(async () => {
    const test = await createTestStore(engine, { clock });
    cleanup = test.cleanup;
    hookbox = createHookbox({
      store: test.store,
      clock,
      sources: { stripe: { provider: 'stripe', secrets: ['whsec_breaker_test'] } },
      handlers: {
        stripe: {
          '*': () => {
            throw new Error('downstream unavailable');
          },
        },
      },
      retry: { maxAttempts: 10, baseDelayMs: 0, maxDelayMs: 0 },
      circuitBreaker: { failureThreshold: 2, cooldownMs: 60_000 },
      worker: { enabled: false, batchSize: 1, concurrency: 1 },
      admin: { token: adminToken },
      monitor: { cacheSeconds: 0 },
    });
    await hookbox.start();
  });
  afterEach(async () => {
    await hookbox.stop();
    await cleanup();
  });

  it('reports an open breaker in GET /api/admin/webhooks/monitor and in /metrics', async () => {
    for (const key of ['evt_m1', 'evt_m2', 'evt_m3']) {
      await hookbox.store.recordEvents([
        {
          id: createEventId(clock.now()),
          source: 'stripe',
          provider: 'stripe',
          dedupeKey: key,
          eventType: 'invoice.paid',
          headers: {},
          body: Buffer.from(JSON.stringify({ id: key, type: 'invoice.paid' })),
          bodySha256: key,
          receivedAt: clock.now(),
        },
      ]);
    }
    await hookbox.worker.processDue();
    expect(hookbox.breakers!.snapshot()).toEqual([
      expect.objectContaining({ handler: 'stripe:*', state: 'open', consecutiveFailures: 2 }),
    ]);

    const auth = { authorization: `Bearer ${adminToken}` };
    const report = await hookbox.fetch(
      new Request('http://hookbox.test/api/admin/webhooks/monitor?refresh=true', { headers: auth }),
    );
    expect(report.status).toBe(200);
    const body = (await report.json()) as { data: { circuitBreakers: unknown[] } };
    expect(body.data.circuitBreakers).toEqual([
      expect.objectContaining({
        handler: 'stripe:*',
        state: 'open',
        consecutiveFailures: 2,
        timesOpened: 1,
        retryAt: new Date(clock.now() + 60_000).toISOString(),
        lastError: 'downstream unavailable',
      }),
    ]);

    const metrics = await hookbox.fetch(new Request('http://hookbox.test/metrics', { headers: auth }));
    expect(metrics.status).toBe(200);
    const text = await metrics.text();
    expect(text).toContain('hookbox_circuit_breaker_state{handler="stripe:*"} 2');
    expect(text).toContain('hookbox_circuit_breaker_consecutive_failures{handler="stripe:*"} 2');
    expect(text).toContain('hookbox_circuit_breaker_opened{handler="stripe:*"} 1');

    // After the cool-down the breaker admits a trial: half-open (1) until it concludes.
    clock.advance(60_000);
    const later = await (
      await hookbox.fetch(new Request('http://hookbox.test/metrics', { headers: auth }))
    ).text();
    expect(later).toContain('hookbox_circuit_breaker_state{handler="stripe:*"} 1');
  });
});
