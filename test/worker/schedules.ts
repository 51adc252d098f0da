/**
 * What the two no-overlap property tests share: the random plans of handler runs and faults,
 * and the one rule for which overlaps of two runs of an event are allowed (the header of
 * no-overlap-postgres.test.ts explains it).
 */
import fc from 'fast-check';
import type { FaultMode } from '../support/faulty-store.ts';
import type { RunPlan } from '../support/worker-process.ts';

export type { RunPlan };

export interface FaultPlan {
  /** Ms after the chaos starts. */
  atMs: number;
  /** Which of the two workers (or worker processes). */
  target: 0 | 1;
  scope: 'renewals' | 'all';
  mode: FaultMode;
  durationMs: number;
}

export const target = fc.constantFrom<0 | 1>(0, 1);

/** Per event, the plans of its first attempts; half of them short, most of the rest past the lease. */
export function eventPlans(count: { min: number; max: number }): fc.Arbitrary<RunPlan[][]> {
  const plan = fc.record({
    durationMs: fc.oneof(
      { weight: 1, arbitrary: fc.integer({ min: 0, max: 100 }) },
      { weight: 3, arbitrary: fc.integer({ min: 1_000, max: 4_000 }) },
    ),
    honoursSignal: fc.boolean(),
    fails: fc.boolean(),
  });
  return fc.array(fc.array(plan, { minLength: 1, maxLength: 3 }), {
    minLength: count.min,
    maxLength: count.max,
  });
}

/** Faults within the chaos, mostly longer than the lease, so the lease really runs out in the database. */
export function faultPlans(chaosMs: number, count: { min: number; max: number }): fc.Arbitrary<FaultPlan[]> {
  return fc.array(
    fc.record({
      atMs: fc.integer({ min: 100, max: chaosMs - 1_000 }),
      target,
      scope: fc.constantFrom<'renewals' | 'all'>('renewals', 'all'),
      mode: fc.constantFrom<FaultMode>('fail', 'hang', 'hang', 'lose-response'),
      durationMs: fc.oneof(
        { weight: 1, arbitrary: fc.integer({ min: 300, max: 1_000 }) },
        { weight: 3, arbitrary: fc.integer({ min: 1_500, max: 4_000 }) },
      ),
    }),
    { minLength: count.min, maxLength: count.max },
  );
}

/** One run of a handler as the overlap check sees it; `owner` is the worker or process that ran it. */
export interface CheckedRun {
  eventId: string;
  attempt: number;
  owner: string;
  start: number;
  end: number;
  ignoresSignal: boolean;
}

export interface Window {
  start: number;
  end: number;
}

/**
 * Every pair of runs of one event where the later started before the earlier ended. Allowed
 * (tolerated) only when the earlier run ignores its signal and its owner lost the database or
 * was stopping (a window of `windowsOf`) between the earlier run's start and the later's start;
 * any other overlap is a violation, described with its evidence.
 */
export function checkOverlaps(
  runs: CheckedRun[],
  windowsOf: (owner: string) => Window[],
): { violations: string[]; tolerated: string[] } {
  const violations: string[] = [];
  const tolerated: string[] = [];
  for (const earlier of runs) {
    for (const later of runs) {
      if (later === earlier || later.eventId !== earlier.eventId) continue;
      if (later.start < earlier.start || later.start >= earlier.end) continue;
      const exposed = windowsOf(earlier.owner).some((w) => w.start <= later.start && w.end >= earlier.start);
      if (earlier.ignoresSignal && exposed) {
        tolerated.push(`${earlier.eventId} ${earlier.attempt}/${later.attempt}`);
        continue;
      }
      violations.push(
        `event ${earlier.eventId}: attempt ${later.attempt} on ${later.owner} started at ${later.start.toFixed(0)} while attempt ${earlier.attempt} on ${earlier.owner} (${earlier.ignoresSignal ? 'ignores' : 'honours'} its signal; its owner ${exposed ? 'had' : 'had no'} fault or stop meanwhile) ran from ${earlier.start.toFixed(0)} to ${earlier.end.toFixed(0)}`,
      );
    }
  }
  return { violations, tolerated };
}
