/**
 * Issue 10 acceptance, SQLite: the property test of no-overlap-postgres.test.ts with two worker
 * processes on one database file (test/support/worker-process.ts), each logging its runs'
 * starts and ends to one shared file. Random schedules of handler durations, timeouts
 * (handlers that ignore their signal), lost leases (a process's store stops answering for a
 * while, injected at its store object), kill -9 of one process at a random moment, graceful
 * stops (SIGTERM) and restarts. Asserted from the log: no two runs of one event overlap, except
 * in the documented case (the earlier run ignores its signal and its process had lost the
 * database or was stopping; see no-overlap-postgres.test.ts for why that one cannot be
 * prevented), and every event reaches a final status. A killed process's unfinished runs end
 * when the parent sees it exit: nothing of it runs after that.
 */

import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Sqlite from 'better-sqlite3';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { type ReadyProcess, spawnReadyProcess } from '../support/processes.ts';
import { createTestStore } from '../support/stores.ts';
import type { WorkerProcessSettings } from '../support/worker-process.ts';
import { recordEvent, sleep, waitUntil } from './helpers.ts';
import { checkOverlaps, eventPlans, type FaultPlan, faultPlans, type RunPlan, target } from './schedules.ts';

const leaseMs = 1_000;
const handlerTimeoutMs = 3_000;
const chaosMs = 6_000;
const script = fileURLToPath(new URL('../support/worker-process.ts', import.meta.url));

interface ProcessAction {
  atMs: number;
  target: 0 | 1;
  kind: 'kill' | 'stop';
  graceMs: number;
  downMs: number;
}
interface Schedule {
  events: RunPlan[][];
  faults: FaultPlan[];
  actions: ProcessAction[];
}

const schedules: fc.Arbitrary<Schedule> = fc.record({
  events: eventPlans({ min: 10, max: 16 }),
  faults: faultPlans(chaosMs, { min: 2, max: 4 }),
  actions: fc.array(
    fc.record({
      atMs: fc.integer({ min: 500, max: chaosMs - 1_000 }),
      target,
      kind: fc.constantFrom<'kill' | 'stop'>('kill', 'stop'),
      graceMs: fc.integer({ min: 0, max: 1_500 }),
      downMs: fc.integer({ min: 100, max: 1_500 }),
    }),
    { minLength: 1, maxLength: 2 },
  ),
});

interface LoggedRun {
  eventId: string;
  attempt: number;
  pid: number;
  start: number;
  end: number | null;
  ignoresSignal: boolean;
}

type Spawned = ReadyProcess;

function spawnWorker(settings: WorkerProcessSettings): Promise<Spawned> {
  return spawnReadyProcess(script, { HOOKBOX_WORKER_PROCESS: JSON.stringify(settings) });
}

function readLog(path: string, exits: Map<number, number>) {
  const runs: LoggedRun[] = [];
  const windows = new Map<number, { start: number; end: number }[]>();
  const windowOf = (pid: number) => {
    if (!windows.has(pid)) windows.set(pid, []);
    return windows.get(pid)!;
  };
  for (const line of readFileSync(path, 'utf8').split('\n')) {
    const [kind, ...fields] = line.split(' ');
    if (kind === 'start') {
      const [eventId, attempt, pid, at, ignores] = fields;
      runs.push({
        eventId: eventId!,
        attempt: Number(attempt),
        pid: Number(pid),
        start: Number(at),
        end: null,
        ignoresSignal: ignores === '1',
      });
    } else if (kind === 'end') {
      const [eventId, attempt, pid, at] = fields;
      const run = runs.find(
        (r) =>
          r.eventId === eventId && r.attempt === Number(attempt) && r.pid === Number(pid) && r.end === null,
      );
      if (run) run.end = Number(at);
    } else if (kind === 'fault') {
      const [pid, start, end] = fields.map(Number);
      windowOf(pid!).push({ start: start!, end: end! });
    } else if (kind === 'stop') {
      const [pid, at] = fields.map(Number);
      windowOf(pid!).push({ start: at!, end: exits.get(pid!) ?? Number.POSITIVE_INFINITY });
    }
  }
  // A killed process's runs end at the latest when it exited.
  for (const run of runs) if (run.end === null) run.end = exits.get(run.pid) ?? null;
  return { runs, windows };
}

/** Which events are not final and who holds them, and how each worker process ended: a liveness failure says why. */
function describeUnfinished(path: string, processes: Spawned[]): string {
  const db = new Sqlite(path, { readonly: true });
  try {
    const events = db
      .prepare(
        `SELECT id, status, attempts, claim_token, locked_by, locked_until, next_attempt_at
         FROM events WHERE status IN ('pending', 'processing', 'failed')`,
      )
      .all();
    const exits = processes.map((p) => ({
      pid: p.pid,
      code: p.child.exitCode,
      signal: p.child.signalCode,
      output: p.output.join('').slice(-2_000),
    }));
    return JSON.stringify({ unfinished: events, processes: exits }, null, 1);
  } finally {
    db.close();
  }
}

async function runSchedule(schedule: Schedule): Promise<void> {
  const testStore = await createTestStore('sqlite');
  const dir = mkdtempSync(join(tmpdir(), 'hookbox-processes-'));
  const live = new Set<Spawned>();
  const all: Spawned[] = [];
  const exits = new Map<number, number>();
  try {
    const runLog = join(dir, 'runs.log');
    const plansFile = join(dir, 'plans.json');
    writeFileSync(runLog, '');
    writeFileSync(
      plansFile,
      JSON.stringify(Object.fromEntries(schedule.events.map((p, i) => [`evt_${i}`, p]))),
    );
    const chaosStarts = Date.now() + 2_000;
    const base: Omit<WorkerProcessSettings, 'faults' | 'graceMs'> = {
      path: testStore.path!,
      runLog,
      plansFile,
      chaosUntil: chaosStarts + chaosMs,
      leaseMs,
      handlerTimeoutMs,
    };
    // A restarted process takes over the faults of its slot still to come.
    const start = async (index: 0 | 1, graceMs: number): Promise<Spawned> => {
      const spawned = await spawnWorker({
        ...base,
        graceMs,
        faults: schedule.faults
          .filter((f) => f.target === index && chaosStarts + f.atMs > Date.now())
          .map((f) => ({
            at: chaosStarts + f.atMs,
            methods: f.scope === 'renewals' ? ['extendLeases'] : 'all',
            mode: f.mode,
            durationMs: f.durationMs,
          })),
      });
      live.add(spawned);
      all.push(spawned);
      void spawned.exited.then((at) => {
        exits.set(spawned.pid, at);
        live.delete(spawned);
      });
      return spawned;
    };
    const processes: Spawned[] = await Promise.all([start(0, 1_000), start(1, 1_000)]);

    const half = Math.ceil(schedule.events.length / 2);
    for (let i = 0; i < half; i++) await recordEvent(testStore.store, `evt_${i}`);
    await sleep(Math.max(0, chaosStarts - Date.now()));

    // Each process's actions one after another; the two processes' at the same time.
    const byTarget = [0, 1].map((t) =>
      schedule.actions.filter((a) => a.target === t).sort((a, b) => a.atMs - b.atMs),
    );
    await Promise.all([
      sleep(chaosMs / 2).then(async () => {
        for (let i = half; i < schedule.events.length; i++) await recordEvent(testStore.store, `evt_${i}`);
      }),
      ...byTarget.map(async (actions, t) => {
        for (const action of actions) {
          await sleep(Math.max(0, chaosStarts + action.atMs - Date.now()));
          const current = processes[t]!;
          current.child.kill(action.kind === 'kill' ? 'SIGKILL' : 'SIGTERM');
          await current.exited;
          await sleep(action.downMs);
          processes[t] = await start(t as 0 | 1, action.graceMs);
        }
      }),
    ]);

    // Liveness: both processes up, the chaos over, every event reaches a final status.
    await waitUntil(
      async () => (await testStore.store.countEvents({ status: ['pending', 'processing', 'failed'] })) === 0,
      'every event reaches processed or dead',
      30_000,
      100,
    ).catch((error: Error) => {
      throw new Error(`${error.message}\n${describeUnfinished(testStore.path!, all)}`);
    });
    for (const spawned of [...live]) {
      spawned.child.kill('SIGTERM');
      await spawned.exited;
    }

    const { runs, windows } = readLog(runLog, exits);
    expect(runs.filter((r) => r.end === null)).toEqual([]);
    const { violations, tolerated: allowed } = checkOverlaps(
      runs.map((r) => ({ ...r, owner: String(r.pid), end: r.end! })),
      (owner) => windows.get(Number(owner)) ?? [],
    );
    tolerated.push(...allowed);
    expect(violations).toEqual([]);
    const processed = await testStore.store.countEvents({ status: 'processed' });
    const dead = await testStore.store.countEvents({ status: 'dead' });
    expect(processed + dead).toBe(schedule.events.length);
  } finally {
    for (const spawned of [...live]) {
      spawned.child.kill('SIGKILL');
      await spawned.exited;
    }
    await testStore.cleanup();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Overlaps the documented limit allows, across all runs of the property, for the record. */
const tolerated: string[] = [];

describe('no two runs of one event overlap: two worker processes on one SQLite file (property)', () => {
  afterAll(() => {
    // For the record, not an assertion: how often the documented limit showed up.
    if (tolerated.length > 0)
      console.info(`overlaps allowed by the documented limit: ${tolerated.join(', ')}`);
  });

  it('holds through random durations, timeouts, lost leases, kill -9, stops and restarts; every event reaches a final status', async () => {
    const seed = process.env.HOOKBOX_PROPERTY_SEED ? Number(process.env.HOOKBOX_PROPERTY_SEED) : undefined;
    await fc.assert(fc.asyncProperty(schedules, runSchedule), {
      numRuns: 3,
      endOnFailure: true,
      ...(seed === undefined ? {} : { seed }),
    });
  }, 120_000);
});
