import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { getRequestListener } from '@hono/node-server';
import type { ResolvedConfig } from './config/load.ts';
import { resolveSources } from './config/sources.ts';
import { createHookbox, type Hookbox } from './hookbox.ts';
import { matchDelivery, receiveOnNode } from './http/node-receive.ts';
import { createLogger, type Logger } from './logger.ts';
import { toHookboxMonitoringOptions } from './monitor/config.ts';
import { createSourceRedaction } from './redaction.ts';
import { describeDatabaseUrl } from './store/open-store.ts';

export interface RunningServer {
  hookbox: Hookbox;
  server: Server;
  url: string;
  close(): Promise<void>;
}

/**
 * Run Hookbox as a standalone service: bind the port first (so a port in use fails before the
 * store is opened or migrated), then migrate, start the worker, and answer requests. A request
 * that arrives while the store migrates waits for it.
 */
export async function startServer(
  config: ResolvedConfig,
  logger: Logger = createServerLogger(config),
): Promise<RunningServer> {
  const { port, host, headersTimeoutMs, requestTimeoutMs, keepAliveTimeoutMs } = config.server;
  let started: (hookbox: Hookbox) => void = () => {};
  const ready = new Promise<Hookbox>((resolve) => {
    started = resolve;
  });
  let handle: FetchHandler = (request, env) => ready.then((hookbox) => hookbox.app.fetch(request, env));
  let receiving: Hookbox | null = null;
  // hostname: the URL of a request without a Host header (HTTP/1.0 and older clients).
  const honoListener = getRequestListener((request, env) => handle(request, env), { hostname: host });
  // Deliveries take the fast path on Node's own request and response; everything else (admin
  // API, dashboard, health) goes through the Hono app as web-standard requests.
  const listener = (request: IncomingMessage, response: ServerResponse) => {
    const source = matchDelivery(request);
    if (source === null) {
      void honoListener(request, response);
      return;
    }
    if (receiving) {
      void receiveOnNode(receiving.receiver, request, response, source, logger);
      return;
    }
    void ready.then((hookbox) => receiveOnNode(hookbox.receiver, request, response, source, logger));
  };
  const server = createServer({ connectionsCheckingInterval: timeoutCheckInterval(config.server) }, listener);
  await listen(server, port, host);

  let hookbox: Hookbox | undefined;
  try {
    hookbox = createHookbox({
      store: config.databaseUrl,
      sources: config.sources,
      handlers: config.handlers,
      retry: config.retry,
      worker: config.worker,
      ...(config.delivery ? { delivery: config.delivery } : {}),
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
  } catch (error) {
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await hookbox?.stop().catch(() => {});
    throw error;
  }
  const running = hookbox;
  handle = (request, env) => running.app.fetch(request, env);
  receiving = running;
  started(running);

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
      sources: [...running.sources.values()].map((s) => `${s.name} (${s.provider.name}, ${s.mode})`),
      workerId: running.worker.workerId,
    },
    'hookbox listening',
  );

  let closing: Promise<void> | null = null;
  return {
    hookbox: running,
    server,
    url,
    close() {
      closing ??= (async () => {
        await new Promise<void>((resolve) => server.close(() => resolve()));
        await running.stop();
      })();
      return closing;
    },
  };
}

type FetchHandler = (
  request: Request,
  env: Parameters<Hookbox['app']['fetch']>[1],
) => Promise<Response> | Response;

/** Listen, or reject with the listen error (EADDRINUSE, EACCES...) instead of crashing. */
function listen(server: Server, port: number, host: string): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
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
    // The same rules as the Hookbox's own Redaction, so signature headers are masked in logs too.
    redaction: createSourceRedaction(config.redaction, resolveSources(config.sources).values()),
  });
}

function announceDemo(demo: NonNullable<ResolvedConfig['demo']>, url: string, logger: Logger): void {
  // Printed, not logged: the generated secret and token exist to be copied. Neither is a real
  // provider's secret; an operator's own ADMIN_TOKEN is never printed.
  const signIn = demo.tokenFile
    ? `sign in with the token saved in ${demo.tokenFile}: ${demo.adminToken}`
    : 'sign in with your ADMIN_TOKEN';
  const lines = [
    '',
    'DEMO MODE (--demo): a Stripe source with a generated secret, and the dashboard.',
    `  secret (saved in ${demo.secretFile}): ${demo.secret}`,
    `  dashboard: ${url}/dashboard  ${signIn}`,
    '  try it from another terminal:',
    `    npx hookbox send stripe --to ${url}/webhooks/stripe`,
    '    npx hookbox events list',
    '  for real sources, configure hookbox.config.ts (or .json, .yaml) or STRIPE_WEBHOOK_SECRET,',
    '  then run `hookbox serve` without --demo (docs/configuration.md).',
    '',
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
  logger.warn('running in demo mode with a generated Stripe secret');
}
