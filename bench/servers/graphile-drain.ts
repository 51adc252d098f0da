/**
 * The drain peer: graphile-worker 0.16 draining no-op jobs on the same PostgreSQL, in its own
 * schema. Jobs carry the same ~2 KB Stripe body Hookbox events carry, and are all queued
 * (one `add_jobs` call per 10,000) before the clock starts.
 *  - `default`: graphile-worker's defaults (concurrency 1, 2 s polling, PostgreSQL time);
 *  - `throughput`: the knobs its docs give for throughput: concurrency, a pool to match,
 *    Node's clock (`useNodeTime`), and no per-job success log line (NO_LOG_SUCCESS).
 */
import { EventEmitter } from 'node:events';
import { Logger, run, runMigrations, type WorkerEvents } from 'graphile-worker';
import pg from 'pg';
import { createBodyFactory } from '../lib/deliveries.ts';
import { announceReady, readConfig, serveParent } from './child.ts';

export interface GraphileDrainConfig {
  connectionString: string;
  schema: string;
  expected: number;
  /** Stop counting after this long, whatever is left. */
  timeLimitSec: number;
  settings: 'default' | 'throughput';
  /** throughput settings only. */
  concurrency?: number;
}

export interface GraphileDrainReport {
  settings: GraphileDrainConfig['settings'];
  concurrency: number;
  complete: boolean;
  finished: number;
  elapsedMs: number;
  eventsPerSec: number;
}

const config = readConfig<GraphileDrainConfig>();
const silent = new Logger(() => () => {});
const { connectionString, schema, expected } = config;
const throughput = config.settings === 'throughput';
const concurrency = throughput ? (config.concurrency ?? 16) : 1;
if (throughput) process.env.NO_LOG_SUCCESS = '1';

await runMigrations({ connectionString, schema, logger: silent });
const client = new pg.Client({ connectionString });
await client.connect();
const body = createBodyFactory()('evt_1GRAPHILEJOB00000000000000');
for (let queued = 0; queued < expected; queued += 10_000) {
  const count = Math.min(10_000, expected - queued);
  await client.query(
    `SELECT count(*) FROM "${schema}".add_jobs(ARRAY(
       SELECT ROW('noop', $1::json, NULL, NULL, NULL, NULL, NULL, NULL)::"${schema}".job_spec
       FROM generate_series(1, $2)))`,
    [body, count],
  );
}
await client.end();
announceReady();

let runner: Awaited<ReturnType<typeof run>> | null = null;
serveParent({
  report: async (): Promise<GraphileDrainReport> => {
    const events: WorkerEvents = new EventEmitter();
    let finished = 0;
    let doneAt = 0;
    let counted = 0;
    const done = new Promise<void>((resolve) => {
      const stop = () => {
        if (doneAt !== 0) return;
        doneAt = performance.now();
        counted = finished;
        resolve();
      };
      // job:complete fires after the job's completion is committed.
      events.on('job:complete', () => {
        finished++;
        if (finished === expected) stop();
      });
      setTimeout(stop, config.timeLimitSec * 1000).unref();
    });
    const startedAt = performance.now();
    runner = await run({
      connectionString,
      schema,
      logger: silent,
      events,
      noHandleSignals: true,
      taskList: { noop: async () => {} },
      ...(throughput ? { concurrency, maxPoolSize: concurrency + 2, useNodeTime: true } : {}),
    });
    await done;
    const elapsedMs = doneAt - startedAt;
    return {
      settings: config.settings,
      concurrency,
      complete: counted >= expected,
      finished: counted,
      elapsedMs,
      eventsPerSec: (counted / elapsedMs) * 1000,
    };
  },
  close: async () => {
    await runner?.stop();
  },
});
