/**
 * Issue 10 acceptance, PostgreSQL: a property test. Two workers, each a Worker instance on its
 * own store instance (its own pools), share one PostgreSQL schema through random schedules of
 * handler durations, timeouts (handlers that ignore their signal and settle later), lost
 * leases, stops and restarts. From the log of every run's start and end it asserts that no two
 * runs of one event overlap, except in the one case the design cannot prevent (below), that
 * every event reaches a final status, and that each processed event's effect, written through
 * its ctx.tx transaction, exists exactly once.
 *
 * What "lost lease" means here: a worker's store stops answering for a while, injected at the
 * store object the worker was given (test/support/faulty-store.ts), either its lease renewals
 * only or every call that reaches the database, in one of three ways: refused at once, hanging
 * until the fault ends, or taking effect with the answer lost. A fault longer than the lease
 * lets the lease run out in the database, and the other worker reclaims and runs the event.
 *
 * Which overlaps are impossible, and which are only prevented for handlers that honour their
 * signal:
 * - Impossible by design, whatever the handler does: while a worker can renew, no other worker
 *   can claim its event (claims take pending or due failed events only; a reclaim needs the lease
 *   to have run out by the database's clock, and renewals keep it ahead). A timeout keeps the
 *   event held until the handler settles, and a stop keeps renewing through its grace period.
 *   Within one worker, a re-claim of an event whose earlier run still goes waits for that run.
 * - Prevented only for handlers that honour their signal: when a worker cannot renew (it lost
 *   the database) its handlers are aborted with a third of the lease left unconfirmed, and a
 *   stop that runs out of grace aborts them too; a handler that stops then has settled before
 *   the lease runs out. A handler that IGNORES its signal while its worker lost the database,
 *   or after a stop gave up on it, goes on running after its lease expired, and then another
 *   worker may run the event beside it. That limit is real; the check allows exactly that case
 *   (the earlier run ignores its signal, and its worker had a fault or a stop between the
 *   earlier run's start and the later run's start), and counts it, rather than hiding it.
 *   Its ctx.tx effect still cannot be written twice: the stale run's commit is fenced by its
 *   claim token and rolled back.
 */
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import type { Store } from '../../src/store/types.ts';
import { HandlerRegistry } from '../../src/worker/handler-registry.ts';
import type { Worker } from '../../src/worker/worker.ts';
import { createFaultyStore, type FaultWindow } from '../support/faulty-store.ts';
import { createTestStore, queryPostgres } from '../support/stores.ts';
import { createTestWorker, RunLog, recordEvent, sleep, untilAborted, waitUntil } from './helpers.ts';
import {
  checkOverlaps,
  eventPlans,
  type FaultPlan,
  faultPlans,
  type RunPlan,
  target,
  type Window,
} from './schedules.ts';

const leaseMs = 1_000;
const handlerTimeoutMs = 3_000;
const chaosMs = 5_000;

interface StopPlan {
  atMs: number;
  target: 0 | 1;
  graceMs: number;
  downMs: number;
}
interface Schedule {
  /** Per event, the plans of its first attempts while the chaos lasts (later runs succeed at once). */
  events: RunPlan[][];
  faults: FaultPlan[];
  stops: StopPlan[];
}

const schedules: fc.Arbitrary<Schedule> = fc.record({
  events: eventPlans({ min: 12, max: 20 }),
  faults: faultPlans(chaosMs, { min: 2, max: 5 }),
  stops: fc.array(
    fc.record({
      atMs: fc.integer({ min: 0, max: chaosMs - 500 }),
      target,
      graceMs: fc.integer({ min: 0, max: 1_500 }),
      downMs: fc.integer({ min: 50, max: 1_500 }),
    }),
    { maxLength: 2 },
  ),
});

/** Overlaps the design allows (see the header), across all runs of the property, for the record. */
const tolerated: string[] = [];

async function runSchedule(schedule: Schedule): Promise<void> {
  // Small pools: the shared test database has connections for every test file running at once.
  const testStore = await createTestStore('postgres', {
    pools: { ingest: 1, worker: 2, handlers: 3, queries: 1 },
  });
  const cleanups: (() => Promise<unknown> | unknown)[] = [() => testStore.cleanup()];
  try {
    await queryPostgres(
      `CREATE TABLE ${testStore.schema}.effects (event_id text NOT NULL, worker text NOT NULL)`,
    );
    const log = new RunLog();
    const chaosEnds = performance.now() + chaosMs;
    const faulty = [0, 1].map(() => createFaultyStore<Store>(testStore.openSibling()));
    const stopWindows: Window[][] = [[], []];
    const indexOf = new Map<string, number>();
    const workers: Worker[] = [0, 1].map((w) => {
      const handlers = new HandlerRegistry();
      handlers.register(
        'stripe',
        '*',
        log.track(`w${w}`, async ({ event, attempt, signal, tx }, run) => {
          const plan =
            performance.now() < chaosEnds
              ? schedule.events[indexOf.get(event.id)!]?.[attempt - 1]
              : undefined;
          if (plan) {
            run.ignoresSignal = !plan.honoursSignal;
            await (plan.honoursSignal
              ? Promise.race([sleep(plan.durationMs), untilAborted(signal).then(() => sleep(5))])
              : sleep(plan.durationMs));
            if (plan.fails) throw new Error('planned failure');
          }
          await tx!.query('INSERT INTO effects (event_id, worker) VALUES ($1, $2)', [event.id, `w${w}`]);
        }),
      );
      return createTestWorker({
        store: faulty[w]!.store,
        handlers,
        workerId: `w${w}`,
        leaseMs,
        handlerTimeoutMs,
        pollIntervalMs: 50,
        retryPolicy: { maxAttempts: 50, baseDelayMs: 20, maxDelayMs: 200 },
        random: () => 0.5,
      });
    });
    cleanups.push(() => Promise.all(workers.map((w) => w.stop(2_000))));
    cleanups.push(() => {
      for (const f of faulty) f.heal();
    });

    const half = Math.ceil(schedule.events.length / 2);
    const record = async (from: number, to: number) => {
      for (let i = from; i < to; i++) indexOf.set(await recordEvent(testStore.store, `evt_${i}`), i);
    };
    await record(0, half);
    await Promise.all(workers.map((w) => w.start()));

    // The chaos: faults and stops at their times; stops of one worker one after another.
    const chains: Promise<void>[] = [Promise.resolve(), Promise.resolve()];
    const actions: Promise<void>[] = [
      sleep(chaosMs / 2).then(() => record(half, schedule.events.length)),
      ...schedule.faults.map((fault) =>
        sleep(fault.atMs).then(() =>
          faulty[fault.target]!.inject({
            methods: fault.scope === 'renewals' ? ['extendLeases'] : 'all',
            mode: fault.mode,
            durationMs: fault.durationMs,
          }),
        ),
      ),
      ...schedule.stops.map((stop) =>
        sleep(stop.atMs).then(() => {
          chains[stop.target] = chains[stop.target]!.then(async () => {
            const start = performance.now();
            await workers[stop.target]!.stop(stop.graceMs);
            await sleep(stop.downMs);
            await workers[stop.target]!.start();
            stopWindows[stop.target]!.push({ start, end: performance.now() });
          });
        }),
      ),
    ];
    await Promise.all(actions);
    await Promise.all(chains);
    await sleep(Math.max(0, chaosEnds - performance.now()));
    for (const f of faulty) f.heal();

    // Liveness: with the faults healed and both workers running, every event reaches a final status.
    await waitUntil(
      async () => (await testStore.store.countEvents({ status: ['pending', 'processing', 'failed'] })) === 0,
      'every event reaches processed or dead',
      25_000,
      100,
    );
    await Promise.all(workers.map((w) => w.stop(2_000)));
    expect(log.runs.filter((r) => r.end === null)).toEqual([]);

    const windowsOf = (workerId: string): Window[] => {
      const w = Number(workerId.slice(1));
      const faults: FaultWindow[] = faulty[w]!.windows();
      return [...faults, ...stopWindows[w]!];
    };
    const checked = log.runs.map((r) => ({ ...r, owner: r.workerId, end: r.end! }));
    const { violations, tolerated: allowed } = checkOverlaps(checked, windowsOf);
    tolerated.push(...allowed);
    expect(violations).toEqual([]);

    // Exactly-once effects through ctx.tx: one per processed event, none for a dead one.
    const effects = await queryPostgres<{ event_id: string; n: string }>(
      `SELECT event_id, count(*) AS n FROM ${testStore.schema}.effects GROUP BY event_id`,
    );
    const processed = await testStore.store.listEvents({ limit: 1000, status: 'processed' });
    expect(new Map(effects.map((e) => [e.event_id, Number(e.n)]))).toEqual(
      new Map(processed.events.map((e) => [e.id, 1])),
    );
    expect(processed.events.length + (await testStore.store.countEvents({ status: 'dead' }))).toBe(
      schedule.events.length,
    );
  } finally {
    for (const cleanup of cleanups.reverse()) await cleanup();
  }
}

describe('no two runs of one event overlap: two workers on one PostgreSQL (property)', () => {
  afterAll(() => {
    // For the record, not an assertion: how often the documented limit showed up.
    if (tolerated.length > 0)
      console.info(`overlaps allowed by the documented limit: ${tolerated.join(', ')}`);
  });

  it('holds through random durations, timeouts, lost leases, stops and restarts; every event reaches a final status', async () => {
    const seed = process.env.HOOKBOX_PROPERTY_SEED ? Number(process.env.HOOKBOX_PROPERTY_SEED) : undefined;
    await fc.assert(fc.asyncProperty(schedules, runSchedule), {
      numRuns: 4,
      // A schedule takes seconds of real time: report the first failing one with its seed, no shrinking.
      endOnFailure: true,
      ...(seed === undefined ? {} : { seed }),
    });
  }, 120_000);
});
