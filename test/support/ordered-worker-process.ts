/**
 * One worker process for the ordering property test (test/ordering/ordering-property.test.ts):
 * a Worker on the store a database URL names (a SQLite file or a PostgreSQL schema shared with
 * another such process), whose handler follows a plan per (dedupe key, attempt) and appends a
 * line to a shared log when each run starts and ends. Spawned as
 * `node --import tsx test/support/ordered-worker-process.ts` with its settings as JSON in
 * HOOKBOX_ORDERED_WORKER; prints `ready` once the worker runs. The test kills it with SIGKILL.
 *
 * Log lines (epoch ms with a fraction, comparable across processes on one machine):
 *   start <eventId> <attempt> <pid> <time> <claimedAt: when the store claimed it, epoch ms>
 *   end <eventId> <attempt> <pid> <time>
 */
import { appendFileSync, readFileSync } from 'node:fs';
import { createLogger } from '../../src/logger.ts';
import { openStore } from '../../src/store/open-store.ts';
import { HandlerRegistry } from '../../src/worker/handler-registry.ts';
import { Worker } from '../../src/worker/worker.ts';

export interface OrderedRunPlan {
  durationMs: number;
  fails: boolean;
}

export interface OrderedWorkerSettings {
  databaseUrl: string;
  runLog: string;
  /** JSON file: plans per dedupe key, one per attempt; later attempts succeed at once. */
  plansFile: string;
  leaseMs: number;
  concurrency: number;
}

const settings = JSON.parse(process.env.HOOKBOX_ORDERED_WORKER ?? '{}') as OrderedWorkerSettings;
const plans = JSON.parse(readFileSync(settings.plansFile, 'utf8')) as Record<string, OrderedRunPlan[]>;
const now = () => performance.timeOrigin + performance.now();
const write = (line: string) => appendFileSync(settings.runLog, `${line}\n`);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const store = openStore(settings.databaseUrl, { pools: { ingest: 1, worker: 2, handlers: 1, queries: 1 } });
const handlers = new HandlerRegistry();
handlers.register('stripe', '*', async ({ event, attempt, signal }) => {
  const plan = plans[event.dedupeKey]?.[attempt - 1];
  write(`start ${event.id} ${attempt} ${process.pid} ${now()} ${event.lockedAt}`);
  try {
    if (!plan) return;
    await Promise.race([
      sleep(plan.durationMs),
      new Promise((resolve) => signal.addEventListener('abort', resolve, { once: true })),
    ]);
    if (plan.fails) throw new Error('planned failure');
  } finally {
    write(`end ${event.id} ${attempt} ${process.pid} ${now()}`);
  }
});

const worker = new Worker({
  store,
  handlers,
  clock: { now: () => Date.now() },
  random: () => 0.5,
  logger: createLogger({ level: 'silent' }),
  retryPolicy: { maxAttempts: 50, baseDelayMs: 20, maxDelayMs: 100 },
  decodePayload: (event) => JSON.parse(event.body.toString()),
  workerId: `process-${process.pid}`,
  leaseMs: settings.leaseMs,
  handlerTimeoutMs: 10_000,
  pollIntervalMs: 50,
  concurrency: settings.concurrency,
});

await worker.start();
process.stdout.write('ready\n');
