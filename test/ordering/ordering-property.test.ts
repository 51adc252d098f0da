/**
 * Issue 15 acceptance: a property test on both engines, two worker processes each (on one
 * SQLite file; on one PostgreSQL schema), with random arrival order of ordered events over a
 * few keys, random handler durations and failures, and random kill -9 of a process (restarted
 * after a while; its lease runs out and the other process takes the key's head over). From
 * the log of every run's start and end it asserts:
 * - within each key runs never overlap (any two runs of the key's events, retries included);
 * - within each key runs start in key order, counting retries: once a later event of the key
 *   started, no earlier event that was already recorded by then ever starts again (an event
 *   recorded after its successor started is the documented late-arrival limit, not checked);
 * - different keys ran concurrently (the measured overlap across keys is above zero);
 * - every event ends processed.
 * A killed process's unfinished runs end when the parent sees it exit.
 */

import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createEventId } from '../../src/ids.ts';
import type { NewEvent } from '../../src/store/types.ts';
import type { OrderedRunPlan, OrderedWorkerSettings } from '../support/ordered-worker-process.ts';
import { type ReadyProcess, spawnReadyProcess } from '../support/processes.ts';
import { createTestStore, type Engine, engines, postgresProcessUrl } from '../support/stores.ts';

const script = fileURLToPath(new URL('../support/ordered-worker-process.ts', import.meta.url));
const leaseMs = 1_000;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

interface PlannedEvent {
  key: number;
  /** Its place in the key: ordered_at = base + place * 1000. */
  place: number;
  plans: OrderedRunPlan[];
}
interface Schedule {
  events: PlannedEvent[];
  /** Arrival: events sorted by these random ranks, recorded in batches of `batch` with `gapMs` between. */
  ranks: number[];
  batch: number;
  gapMs: number;
  kills: { atMs: number; target: 0 | 1; downMs: number }[];
}

const plan = fc.record({
  durationMs: fc.oneof(
    { weight: 3, arbitrary: fc.integer({ min: 0, max: 60 }) },
    fc.integer({ min: 100, max: 400 }),
  ),
  fails: fc.integer({ min: 0, max: 3 }).map((n) => n === 0),
});

const schedules: fc.Arbitrary<Schedule> = fc
  .array(fc.integer({ min: 3, max: 6 }), { minLength: 4, maxLength: 6 })
  .chain((perKey) => {
    const count = perKey.reduce((a, b) => a + b, 0);
    return fc.record({
      events: fc
        .tuple(
          ...perKey.map((n, key) =>
            fc
              .array(fc.array(plan, { minLength: 1, maxLength: 2 }), { minLength: n, maxLength: n })
              .map((plans) => plans.map((p, place) => ({ key, place, plans: p }))),
          ),
        )
        .map((groups) => groups.flat()),
      ranks: fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { minLength: count, maxLength: count }),
      batch: fc.integer({ min: 1, max: 4 }),
      gapMs: fc.integer({ min: 0, max: 120 }),
      kills: fc.array(
        fc.record({
          atMs: fc.integer({ min: 200, max: 2_000 }),
          target: fc.constantFrom<0 | 1>(0, 1),
          downMs: fc.integer({ min: 100, max: 800 }),
        }),
        { minLength: 1, maxLength: 2 },
      ),
    });
  });

type Spawned = ReadyProcess;

function spawnWorker(settings: OrderedWorkerSettings): Promise<Spawned> {
  return spawnReadyProcess(
    script,
    { HOOKBOX_ORDERED_WORKER: JSON.stringify(settings) },
    () => performance.timeOrigin + performance.now(),
  );
}

interface LoggedRun {
  eventId: string;
  attempt: number;
  pid: number;
  start: number;
  /** When the store claimed the event for this run (its lockedAt). */
  claimedAt: number;
  end: number;
}

function readRuns(path: string, exits: Map<number, number>): LoggedRun[] {
  const runs: (Omit<LoggedRun, 'end'> & { end: number | null })[] = [];
  for (const line of readFileSync(path, 'utf8').split('\n')) {
    const [kind, eventId, attempt, pid, at, claimedAt] = line.split(' ');
    if (kind === 'start') {
      runs.push({
        eventId: eventId!,
        attempt: Number(attempt),
        pid: Number(pid),
        start: Number(at),
        claimedAt: Number(claimedAt),
        end: null,
      });
    } else if (kind === 'end') {
      const run = runs.find(
        (r) =>
          r.eventId === eventId && r.attempt === Number(attempt) && r.pid === Number(pid) && r.end === null,
      );
      if (run) run.end = Number(at);
    }
  }
  return runs.map((r) => ({ ...r, end: r.end ?? exits.get(r.pid) ?? Number.POSITIVE_INFINITY }));
}

function newEvent(dedupeKey: string, key: string, orderedAt: number): NewEvent {
  const body = Buffer.from(JSON.stringify({ id: dedupeKey, data: { object: { id: key } } }));
  const now = Date.now();
  return {
    id: createEventId(now),
    source: 'stripe',
    provider: 'stripe',
    dedupeKey,
    eventType: 'customer.subscription.updated',
    headers: {},
    body,
    bodySha256: createHash('sha256').update(body).digest('hex'),
    receivedAt: now,
    ordering: { key, orderedAt, holdMs: 0, onDead: 'block' },
  };
}

/** Measured overlap across keys, total ms. */
const crossKeyOverlaps: number[] = [];

async function runSchedule(engine: Engine, schedule: Schedule): Promise<void> {
  const testStore = await createTestStore(engine, {
    pools: { ingest: 1, worker: 1, handlers: 1, queries: 1 },
  });
  const dir = mkdtempSync(join(tmpdir(), 'hookbox-ordering-'));
  const live = new Set<Spawned>();
  const exits = new Map<number, number>();
  try {
    const runLog = join(dir, 'runs.log');
    const plansFile = join(dir, 'plans.json');
    writeFileSync(runLog, '');
    writeFileSync(
      plansFile,
      JSON.stringify(Object.fromEntries(schedule.events.map((e, i) => [`evt_${i}`, e.plans]))),
    );
    const databaseUrl =
      engine === 'sqlite' ? `file:${testStore.path}` : postgresProcessUrl(testStore.schema!);
    const start = async (): Promise<Spawned> => {
      const spawned = await spawnWorker({ databaseUrl, runLog, plansFile, leaseMs, concurrency: 4 });
      live.add(spawned);
      void spawned.exited.then((at) => {
        exits.set(spawned.pid, at);
        live.delete(spawned);
      });
      return spawned;
    };
    const processes = await Promise.all([start(), start()]);

    const base = Date.UTC(2026, 0, 1);
    const arrival = schedule.events.map((_, i) => i).sort((a, b) => schedule.ranks[a]! - schedule.ranks[b]!);
    const idOf = new Map<number, string>();
    const recordedBy = new Map<string, number>();
    const began = performance.timeOrigin + performance.now();
    await Promise.all([
      (async () => {
        for (let i = 0; i < arrival.length; i += schedule.batch) {
          const chunk = arrival.slice(i, i + schedule.batch);
          const results = await testStore.store.recordEvents(
            chunk.map((index) => {
              const event = schedule.events[index]!;
              return newEvent(`evt_${index}`, `sub_${event.key}`, base + event.place * 1_000);
            }),
          );
          const at = performance.timeOrigin + performance.now();
          chunk.forEach((index, j) => {
            idOf.set(index, results[j]!.id);
            recordedBy.set(results[j]!.id, at);
          });
          await sleep(schedule.gapMs);
        }
      })(),
      ...[0, 1].map(async (t) => {
        const kills = schedule.kills.filter((k) => k.target === t).sort((a, b) => a.atMs - b.atMs);
        for (const kill of kills) {
          await sleep(Math.max(0, began + kill.atMs - (performance.timeOrigin + performance.now())));
          processes[t]!.child.kill('SIGKILL');
          await processes[t]!.exited;
          await sleep(kill.downMs);
          processes[t] = await start();
        }
      }),
    ]);

    const deadline = Date.now() + 30_000;
    while ((await testStore.store.countEvents({ status: 'processed' })) < schedule.events.length) {
      if (Date.now() > deadline) throw new Error('not every event was processed within 30 s');
      await sleep(100);
    }
    for (const spawned of [...live]) {
      spawned.child.kill('SIGKILL');
      await spawned.exited;
    }

    const runs = readRuns(runLog, exits);
    const place = new Map<string, { key: number; place: number }>();
    for (const [index, id] of idOf) place.set(id, schedule.events[index]!);
    const violations: string[] = [];
    let crossKey = 0;
    for (const a of runs) {
      for (const b of runs) {
        if (a === b) continue;
        const pa = place.get(a.eventId)!;
        const pb = place.get(b.eventId)!;
        const overlap = Math.min(a.end, b.end) - Math.max(a.start, b.start);
        if (pa.key !== pb.key) {
          if (overlap > 0 && a.start < b.start) crossKey += overlap;
          continue;
        }
        if (overlap > 0 && a.start <= b.start) {
          violations.push(
            `key ${pa.key}: ${b.eventId}#${b.attempt} started at ${b.start.toFixed(1)} while ${a.eventId}#${a.attempt} ran ${a.start.toFixed(1)}-${a.end.toFixed(1)}`,
          );
        }
        // a earlier in the key, recorded before b was claimed: a never starts after b started. (An
        // earlier event recorded after its successor's claim runs after it: docs/ordering.md. Under
        // load a handler starts well after its claim, so the claim is what this compares with.)
        if (pa.place < pb.place && recordedBy.get(a.eventId)! < b.claimedAt && a.start > b.start) {
          violations.push(
            `key ${pa.key}: ${a.eventId}#${a.attempt} (place ${pa.place}) started after ${b.eventId}#${b.attempt} (place ${pb.place})`,
          );
        }
      }
    }
    expect(violations).toEqual([]);
    expect(new Set(runs.map((r) => r.eventId)).size).toBe(schedule.events.length);
    crossKeyOverlaps.push(crossKey);
    expect(crossKey).toBeGreaterThan(0);
  } finally {
    for (const spawned of [...live]) {
      spawned.child.kill('SIGKILL');
      await spawned.exited;
    }
    await testStore.cleanup();
    rmSync(dir, { recursive: true, force: true });
  }
}

for (const engine of engines) {
  describe(`ordering per key: two worker processes on ${engine === 'sqlite' ? 'one SQLite file' : 'one PostgreSQL schema'} (property)`, () => {
    it('runs never overlap within a key, start in key order counting retries, and keys run concurrently', async () => {
      const seed = process.env.HOOKBOX_PROPERTY_SEED ? Number(process.env.HOOKBOX_PROPERTY_SEED) : undefined;
      await fc.assert(
        fc.asyncProperty(schedules, (schedule) => runSchedule(engine, schedule)),
        { numRuns: 3, endOnFailure: true, ...(seed === undefined ? {} : { seed }) },
      );
    }, 90_000);
  });
}
