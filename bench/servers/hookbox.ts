/**
 * Hookbox under test, in its own process.
 *  - `ingest`: the standalone server (startServer, as `hookbox serve` runs it) with the worker
 *    off, so the figure is the receive path alone;
 *  - `latency`: the same server with the worker on and a handler that notes when it starts;
 *  - `drain`: no HTTP; the worker alone drains events already stored, with a no-op handler.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig, type ResolvedConfig } from '../../src/config/load.ts';
import { createHookbox } from '../../src/hookbox.ts';
import { createLogger } from '../../src/logger.ts';
import { startServer } from '../../src/server.ts';
import type { Store } from '../../src/store/types.ts';
import type { HandlerContext } from '../../src/worker/handler-registry.ts';
import { benchSecret, benchSource } from '../lib/deliveries.ts';
import { percentiles } from '../lib/stats.ts';
import { databaseUrlOf, openTargetStore, type StoreTarget } from '../lib/targets.ts';
import { announceReady, readConfig, serveParent } from './child.ts';

export interface HookboxServerConfig {
  mode: 'ingest' | 'latency' | 'drain';
  target: StoreTarget;
  /** drain: how many events must be finished before the drain counts as done. */
  expected?: number;
  /** drain: stop counting after this long, whatever is left. */
  timeLimitSec?: number;
  worker?: { batchSize?: number; concurrency?: number };
}

export interface LatencyReport {
  handled: number;
  /** Delivery sent (load generator's clock) -> handler start, ms. */
  sentToHandler: ReturnType<typeof percentiles>;
  /** Event receivedAt (Hookbox's clock, whole ms) -> handler start, ms. */
  receivedToHandler: ReturnType<typeof percentiles>;
}

export interface DrainReport {
  /** Whether every expected event finished within the time limit. */
  complete: boolean;
  finished: number;
  elapsedMs: number;
  eventsPerSec: number;
}

const config = readConfig<HookboxServerConfig>();
const wallNow = () => performance.timeOrigin + performance.now();

if (config.mode === 'drain') await runDrain();
else await runServer();

async function runServer(): Promise<void> {
  const sentToHandler: number[] = [];
  const receivedToHandler: number[] = [];
  const noteStart = ({ event }: HandlerContext) => {
    const started = wallNow();
    const sentAt = Number(event.headers['x-bench-sent-at']);
    if (Number.isFinite(sentAt)) sentToHandler.push(started - sentAt);
    receivedToHandler.push(started - event.receivedAt);
  };

  const cwd = mkdtempSync(join(tmpdir(), 'hookbox-bench-'));
  const loaded = await loadConfig({
    cwd,
    env: {
      DATABASE_URL: databaseUrlOf(config.target),
      STRIPE_WEBHOOK_SECRET: benchSecret,
      PORT: '0',
      HOST: '127.0.0.1',
      LOG_LEVEL: 'warn',
      LOG_FORMAT: 'json',
    },
  });
  const handlers: ResolvedConfig['handlers'] =
    config.mode === 'latency' ? { [benchSource]: { '*': noteStart } } : {};
  const serverConfig: ResolvedConfig = {
    ...loaded,
    handlers,
    worker: { ...loaded.worker, ...config.worker, enabled: config.mode === 'latency' },
  };
  const running = await startServer(serverConfig, createLogger({ level: 'warn' }));
  announceReady(Number(new URL(running.url).port));
  serveParent({
    report: (): LatencyReport => ({
      handled: receivedToHandler.length,
      sentToHandler: percentiles(sentToHandler),
      receivedToHandler: percentiles(receivedToHandler),
    }),
    close: () => running.close(),
  });
}

async function runDrain(): Promise<void> {
  const expected = config.expected ?? 0;
  const store: Store = openTargetStore(config.target);
  let finished = 0;
  let startedAt = 0;
  let doneAt = 0;
  let onDone: (() => void) | null = null;
  const done = new Promise<void>((resolve) => {
    onDone = resolve;
  });
  // Count what is committed, not what handlers saw: a drain ends when the last outcome is written.
  const finishAttempts = store.finishAttempts.bind(store);
  store.finishAttempts = async (workerId, results, now) => {
    const applied = await finishAttempts(workerId, results, now);
    finished += applied.length;
    if (finished >= expected && doneAt === 0) {
      doneAt = performance.now();
      onDone?.();
    }
    return applied;
  };
  await store.migrate();
  const hookbox = createHookbox({
    store,
    sources: { [benchSource]: { provider: 'stripe', secrets: [benchSecret] } },
    handlers: { [benchSource]: { '*': () => {} } },
    worker: { ...config.worker },
    migrate: false,
  });
  announceReady();
  serveParent({
    report: async (): Promise<DrainReport> => {
      startedAt = performance.now();
      const limit = setTimeout(
        () => {
          doneAt = performance.now();
          onDone?.();
        },
        (config.timeLimitSec ?? 600) * 1000,
      );
      await hookbox.start();
      await done;
      clearTimeout(limit);
      const elapsedMs = doneAt - startedAt;
      const counted = finished;
      return {
        complete: counted >= expected,
        finished: counted,
        elapsedMs,
        eventsPerSec: (counted / elapsedMs) * 1000,
      };
    },
    close: () => hookbox.stop(),
  });
}
