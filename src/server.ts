import type { Server } from 'node:http';
import { serve } from '@hono/node-server';
import type { ResolvedConfig } from './config/load.ts';
import { createHookbox, type Hookbox } from './hookbox.ts';
import { createLogger, type Logger } from './logger.ts';
import { toHookboxMonitoringOptions } from './monitor/config.ts';
import { createRedaction } from './redaction.ts';
import { describeDatabaseUrl } from './store/open-store.ts';

export interface RunningServer {
  hookbox: Hookbox;
  server: Server;
  url: string;
  close(): Promise<void>;
}

/** Run Hookbox as a standalone service: migrate, start the worker, listen. */
export async function startServer(
  config: ResolvedConfig,
  logger: Logger = createServerLogger(config),
): Promise<RunningServer> {
  const hookbox = createHookbox({
    store: config.databaseUrl,
    sources: config.sources,
    handlers: config.handlers,
    retry: config.retry,
    worker: config.worker,
    rateLimit: config.rateLimit,
    circuitBreaker: config.circuitBreaker,
    redaction: config.redaction,
    ...toHookboxMonitoringOptions(config.monitor, config.admin),
    logger,
  });
  if (config.demo) {
    hookbox.on('stripe', '*', ({ event, logger: log }) => {
      log.info({ type: event.eventType, dedupeKey: event.dedupeKey }, 'demo handler: event received');
    });
  }
  await hookbox.start();

  const { port, host, headersTimeoutMs, requestTimeoutMs, keepAliveTimeoutMs } = config.server;
  const server = await new Promise<Server>((resolve) => {
    const serverOptions = { connectionsCheckingInterval: timeoutCheckInterval(config.server) };
    const created = serve({ fetch: hookbox.app.fetch, port, hostname: host, serverOptions }, () =>
      resolve(created as Server),
    ) as Server;
  });
  // Slow or idle clients must not hold sockets forever (slowloris).
  server.headersTimeout = headersTimeoutMs;
  server.requestTimeout = requestTimeoutMs;
  server.keepAliveTimeout = keepAliveTimeoutMs;
  const address = server.address();
  const boundPort = typeof address === 'object' && address ? address.port : port;
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${boundPort}`;

  if (config.demo) announceDemo(config.demo, url, logger);
  logger.info(
    {
      url,
      store: describeDatabaseUrl(config.databaseUrl),
      sources: [...hookbox.sources.values()].map((s) => `${s.name} (${s.provider.name}, ${s.mode})`),
      workerId: hookbox.worker.workerId,
    },
    'hookbox listening',
  );

  let closing: Promise<void> | null = null;
  return {
    hookbox,
    server,
    url,
    close() {
      closing ??= (async () => {
        await new Promise<void>((resolve) => server.close(() => resolve()));
        await hookbox.stop();
      })();
      return closing;
    },
  };
}

/**
 * Node enforces headersTimeout and requestTimeout only when it sweeps its connections, every
 * 30 s by default: a 10 s header timeout would then hold a slowloris socket for up to 40 s.
 * Sweep at a quarter of the shorter timeout, between 50 ms and 1 s.
 */
function timeoutCheckInterval(settings: ResolvedConfig['server']): number {
  const shorter = Math.min(settings.headersTimeoutMs, settings.requestTimeoutMs);
  return Math.min(1000, Math.max(50, Math.floor(shorter / 4)));
}

export function createServerLogger(config: ResolvedConfig): Logger {
  return createLogger({
    level: config.logLevel,
    pretty: config.prettyLogs,
    redaction: createRedaction(config.redaction),
  });
}

function announceDemo(demo: NonNullable<ResolvedConfig['demo']>, url: string, logger: Logger): void {
  // Printed, not logged: this generated secret exists to be copied. It is not a real provider's secret.
  const lines = [
    '',
    'DEMO MODE: no source is configured, so Hookbox made a Stripe source with a generated secret.',
    `  secret (saved in ${demo.secretFile}): ${demo.secret}`,
    '  try it from another terminal:',
    `    npx hookbox send stripe --to ${url}/webhooks/stripe`,
    '    npx hookbox events list',
    '  configure real sources in hookbox.config.ts or with STRIPE_WEBHOOK_SECRET (see README).',
    '',
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
  logger.warn('running in demo mode with a generated Stripe secret');
}
