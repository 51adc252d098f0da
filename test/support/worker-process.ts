/**
 * One worker process for the multi-process tests: a Worker on a SQLite file shared with other
 * processes, whose handler follows a plan per (event, attempt) and appends a line to a shared
 * log when each run starts and ends. Faults are injected at the store object the worker is
 * given, at the times the plan says. Spawned by test/worker/no-overlap-sqlite-processes.test.ts
 * as `node --import tsx test/support/worker-process.ts` with its settings as JSON in
 * HOOKBOX_WORKER_PROCESS; prints `ready` once the worker runs; SIGTERM stops it gracefully.
 *
 * Log lines (times are epoch ms with a fraction, comparable across processes on one machine):
 *   start <eventId> <attempt> <pid> <time> <ignoresSignal 0|1>
 *   end <eventId> <attempt> <pid> <time>
 *   fault <pid> <start> <end>
 *   stop <pid> <time>
 */
import { appendFileSync, readFileSync } from 'node:fs';
import { createLogger } from '../../src/logger.ts';
import { createSqliteStore } from '../../src/store/sqlite/sqlite-store.ts';
import { HandlerRegistry } from '../../src/worker/handler-registry.ts';
import { Worker } from '../../src/worker/worker.ts';
import { createFaultyStore, type FaultMode } from './faulty-store.ts';

export interface RunPlan {
  durationMs: number;
  honoursSignal: boolean;
  fails: boolean;
}

export interface WorkerProcessSettings {
  path: string;
  runLog: string;
  /** JSON file: plans per dedupe key, one per attempt, followed until `chaosUntil`. */
  plansFile: string;
  chaosUntil: number;
  leaseMs: number;
  handlerTimeoutMs: number;
  graceMs: number;
  faults: { at: number; methods: string[] | 'all'; mode: FaultMode; durationMs: number }[];
}

const settings = JSON.parse(process.env.HOOKBOX_WORKER_PROCESS ?? '{}') as WorkerProcessSettings;
const plans = JSON.parse(readFileSync(settings.plansFile, 'utf8')) as Record<string, RunPlan[]>;
const now = () => performance.timeOrigin + performance.now();
const write = (line: string) => appendFileSync(settings.runLog, `${line}\n`);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const faulty = createFaultyStore(createSqliteStore({ path: settings.path }));
const handlers = new HandlerRegistry();
handlers.register('stripe', '*', async ({ event, attempt, signal }) => {
  const plan = Date.now() < settings.chaosUntil ? plans[event.dedupeKey]?.[attempt - 1] : undefined;
  write(`start ${event.id} ${attempt} ${process.pid} ${now()} ${plan && !plan.honoursSignal ? 1 : 0}`);
  try {
    if (!plan) return;
    await (plan.honoursSignal
      ? Promise.race([
          sleep(plan.durationMs),
          new Promise((resolve) => signal.addEventListener('abort', resolve, { once: true })),
        ])
      : sleep(plan.durationMs));
    if (plan.fails) throw new Error('planned failure');
  } finally {
    write(`end ${event.id} ${attempt} ${process.pid} ${now()}`);
  }
});

const worker = new Worker({
  store: faulty.store,
  handlers,
  clock: { now: () => Date.now() },
  random: () => 0.5,
  logger: createLogger({ level: 'silent' }),
  retryPolicy: { maxAttempts: 50, baseDelayMs: 20, maxDelayMs: 200 },
  decodePayload: (event) => JSON.parse(event.body.toString()),
  workerId: `process-${process.pid}`,
  leaseMs: settings.leaseMs,
  handlerTimeoutMs: settings.handlerTimeoutMs,
  pollIntervalMs: 50,
});

for (const fault of settings.faults) {
  const start = setTimeout(
    () => {
      const startedAt = now();
      write(`fault ${process.pid} ${startedAt} ${startedAt + fault.durationMs}`);
      faulty.inject({ methods: fault.methods, mode: fault.mode, durationMs: fault.durationMs });
    },
    Math.max(0, fault.at - Date.now()),
  );
  start.unref();
}

process.on('SIGTERM', () => {
  write(`stop ${process.pid} ${now()}`);
  void worker.stop(settings.graceMs).finally(() => process.exit(0));
});

await worker.start();
process.stdout.write('ready\n');
