// Hookbox as deployed: the compiled package (dist/, no TypeScript at run time) running the
// standalone server exactly as `hookbox serve` does, worker on. Two modes:
//  - `ingest`: a registered no-op handler, so every delivery is also processed;
//  - `latency`: a handler that notes when it starts (delivery sent -> handler start).
// Plain JavaScript, so the process holds nothing a deployment would not (no tsx loader).
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../dist/config/load.js';
import { createLogger } from '../../dist/logger.js';
import { startServer } from '../../dist/server.js';
import { announceReady, readConfig, serveParent } from './child-protocol.mjs';

const config = readConfig();
const wallNow = () => performance.timeOrigin + performance.now();
const sentToHandler = [];
const receivedToHandler = [];
const noteStart = ({ event }) => {
  const started = wallNow();
  const sentAt = Number(event.headers['x-bench-sent-at']);
  if (Number.isFinite(sentAt)) sentToHandler.push(started - sentAt);
  receivedToHandler.push(started - event.receivedAt);
};

const loaded = await loadConfig({
  cwd: mkdtempSync(join(tmpdir(), 'hookbox-bench-')),
  env: {
    DATABASE_URL: config.databaseUrl,
    STRIPE_WEBHOOK_SECRET: config.secret,
    PORT: '0',
    HOST: '127.0.0.1',
    LOG_LEVEL: 'warn',
    LOG_FORMAT: 'json',
  },
});
const running = await startServer(
  {
    ...loaded,
    handlers: { [config.source]: { '*': config.mode === 'latency' ? noteStart : () => {} } },
    worker: { ...loaded.worker, ...config.worker, enabled: true },
  },
  createLogger({ level: 'warn' }),
);
announceReady(Number(new URL(running.url).port));
serveParent({
  // Raw samples: the parent computes the percentiles (bench/lib/stats.ts).
  report: () => ({ sentToHandler, receivedToHandler }),
  close: () => running.close(),
});
