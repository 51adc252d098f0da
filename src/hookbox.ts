import { randomInt } from 'node:crypto';
import { type Clock, type Random, systemClock } from './clock.ts';
import { resolveSources } from './config/sources.ts';
import { DeliveryWorker } from './destinations/delivery-worker.ts';
import { createDestinationHttpClient, type HostLookup } from './destinations/http-client.ts';
import { createDestinationOperations } from './destinations/operations.ts';
import { routeEvent } from './destinations/route.ts';
import { createEventService, type EventService } from './events/event-service.ts';
import { type AdminOptions, mountAdminRoutes } from './http/admin/routes.ts';
import { createHttpApp } from './http/app.ts';
import { mountDashboard } from './http/dashboard/routes.ts';
import { createDashboardSessions } from './http/dashboard/session.ts';
import { GroupCommitter } from './ingest/group-commit.ts';
import { decodePayload } from './ingest/payload.ts';
import { createAdmission, type RateLimitSettings } from './ingest/rate-limit.ts';
import { createReceiver, type ReceiveContext } from './ingest/receive.ts';
import type { Source } from './ingest/source.ts';
import { type Logger, silentLogger } from './logger.ts';
import { createMonitoring, defaultRetentionDays, type MonitoringOptions } from './monitor/monitoring.ts';
import { stuckAfterMsFor } from './monitor/window-metrics.ts';
import type { SourceDefinition, WorkerSettings } from './public-types.ts';
import { createSourceRedaction, type RedactionSettings } from './redaction.ts';
import { openStore } from './store/open-store.ts';
import type { Store, StoredEvent } from './store/types.ts';
import { combineTelemetry, noopTelemetry, type Telemetry } from './telemetry.ts';
import { type CircuitBreakerSettings, CircuitBreakers } from './worker/circuit-breaker.ts';
import { type Handler, HandlerRegistry } from './worker/handler-registry.ts';
import { defaultRetryPolicy, type RetryPolicy } from './worker/retry-policy.ts';
import { createInlineRunner } from './worker/sync-mode.ts';
import { Worker } from './worker/worker.ts';

// Source validation lives in src/config/; ConfigError stays importable from here.
export { ConfigError } from './config/problems.ts';
// Declared once, with the rest of the public types; the composition takes them as they are.
export type { SourceDefinition, WorkerSettings } from './public-types.ts';

export interface HookboxOptions {
  /** A Store, or a DATABASE_URL (`postgres://...`, `file:PATH`); default SQLite at ./data/hookbox.db. */
  store?: Store | string;
  sources: Record<string, SourceDefinition>;
  /** handlers[source][eventType]; `*` matches any source or type. */
  handlers?: Record<string, Record<string, Handler>>;
  retry?: Partial<RetryPolicy>;
  worker?: WorkerSettings;
  logger?: Logger;
  clock?: Clock;
  random?: Random;
  telemetry?: Telemetry;
  /** Where rate-limit counters live: `memory` (default, one process) or `postgres` (several). */
  rateLimit?: RateLimitSettings;
  /** Per-handler circuit breakers (default 5 consecutive failures open one for 30 s); false turns them off. */
  circuitBreaker?: Partial<CircuitBreakerSettings> | false;
  /** Headers never stored, JSON paths masked, sources whose stored bodies are redacted (opt-in). */
  redaction?: RedactionSettings;
  /** Apply migrations on start() (default true). */
  migrate?: boolean;
  /** Health thresholds, alert sinks, maintenance schedule (docs/operations.md). */
  monitor?: MonitoringOptions;
  /** Bearer tokens for the admin API, /metrics and the maintenance trigger; without any, they answer 401. */
  admin?: AdminOptions;
  /**
   * The operator dashboard at /dashboard, served whenever `admin.token` is set (docs/dashboard.md);
   * `enabled: false` turns it off, `sessionTtlMinutes` sets how long a sign-in lasts (default 720).
   */
  dashboard?: { enabled?: boolean; sessionTtlMinutes?: number };
  /**
   * The delivery worker (docs/destinations.md): `lookup` resolves destination host names (default
   * `dns.lookup`; every address it returns passes the address guard), the rest tunes its loop.
   */
  delivery?: {
    lookup?: HostLookup;
    leaseMs?: number;
    pollIntervalMs?: number;
    settleIntervalMs?: number;
  };
}

// randomInt takes ranges below 2^48; 2^47 steps is ample resolution for a delay.
const uniform: Random = () => randomInt(0, 2 ** 47) / 2 ** 47;

/**
 * Build a Hookbox: the receive route as a web-standard `fetch`, the handler registry, the
 * background worker and the event service, over one store.
 */
export function createHookbox(options: HookboxOptions) {
  const clock = options.clock ?? systemClock;
  const random = options.random ?? uniform;
  const logger = options.logger ?? silentLogger;
  const store =
    typeof options.store === 'object'
      ? options.store
      : openStore(options.store, options.clock ? { clock: options.clock } : {});
  const retryPolicy: RetryPolicy = { ...defaultRetryPolicy, ...options.retry };
  const sources = resolveSources(options.sources);
  // Health and /metrics read destinations only when some are configured (no queries otherwise).
  const forwards = [...sources.values()].some((source) => (source.destinations ?? []).length > 0);
  const monitoring = createMonitoring(
    {
      store,
      clock,
      random,
      logger,
      retryPolicy,
      stuckAfterMs: stuckAfterMsFor(options.worker?.handlerTimeoutMs),
      wake: () => worker.wake(),
      breakers: () => breakers?.snapshot() ?? [],
      ...(forwards
        ? { destinations: (windowMs: number) => destinationOperations.listDestinations({ windowMs }) }
        : {}),
    },
    options.monitor,
  );
  const telemetry = combineTelemetry(options.telemetry ?? noopTelemetry, monitoring.telemetry);
  const handlers = new HandlerRegistry();
  for (const [source, byType] of Object.entries(options.handlers ?? {})) {
    for (const [type, handler] of Object.entries(byType)) handlers.register(source, type, handler);
  }

  const decode = (event: StoredEvent) =>
    decodePayload(sources.get(event.source)?.provider, event.body, event.headers);
  const workerSettings = options.worker ?? {};
  const breakers =
    options.circuitBreaker === false
      ? null
      : new CircuitBreakers({ clock, logger, settings: options.circuitBreaker ?? {} });
  const worker = new Worker({
    ...(breakers ? { breakers } : {}),
    store,
    handlers,
    clock,
    random,
    logger,
    telemetry,
    retryPolicy,
    decodePayload: decode,
    ...definedOnly(workerSettings),
  });
  // Destinations (issue 14): one keep-alive pool per destination, one delivery worker beside the event worker.
  const destinations = [...sources.values()].flatMap((source) => source.destinations ?? []);
  const destinationClient = createDestinationHttpClient({
    clock,
    ...(options.delivery?.lookup ? { lookup: options.delivery.lookup } : {}),
  });
  const deliveryWorker = new DeliveryWorker({
    store,
    destinations,
    client: destinationClient,
    clock,
    random,
    logger,
    // destinations: each written attempt into /metrics (and the application's own telemetry).
    observe: (attempt) => {
      const at = attempt.destination.indexOf('/');
      telemetry.deliveryAttemptFinished?.(
        attempt.destination.slice(0, at),
        attempt.destination.slice(at + 1),
        attempt.outcome,
        attempt.durationMs,
      );
    },
    ...definedOnly({
      leaseMs: options.delivery?.leaseMs,
      pollIntervalMs: options.delivery?.pollIntervalMs,
      settleIntervalMs: options.delivery?.settleIntervalMs,
    }),
  });
  const destinationOperations = createDestinationOperations({
    store,
    sources,
    wake: () => deliveryWorker.wake(),
    paused: (source, name) => deliveryWorker.releaseWaiting(`${source}/${name}`),
  });

  // Claim-at-ingest: new events go straight to this process's worker when it has room.
  const committer = new GroupCommitter({
    store,
    ...(workerSettings.enabled === false ? {} : { claimer: worker }),
  });
  const events: EventService = createEventService({
    store,
    clock,
    random,
    retryPolicy,
    decodePayload: decode,
    routeEvent: (source, eventType) => routeEvent(sources.get(source)?.destinations, eventType),
  });

  const processInline = createInlineRunner({
    store,
    worker,
    waitMs: workerSettings.handlerTimeoutMs ?? 30_000,
  });

  const admission = createAdmission({
    sources,
    settings: options.rateLimit,
    databaseUrl: typeof options.store === 'string' ? options.store : undefined,
    logger,
  });
  // One Redaction for storing, showing and logging headers, knowing every scheme's signature headers.
  const redaction = createSourceRedaction(options.redaction, sources.values());
  const receiver = createReceiver({
    sources,
    committer,
    clock,
    logger,
    telemetry,
    processInline,
    admit: admission.admit,
    redaction,
    // Only a process whose worker runs knows its handlers are the ones that would run the event.
    ...(workerSettings.enabled === false
      ? {}
      : {
          runsHandlersFor: (source: string, type: string) =>
            handlers.findRegistrations(source, type).length > 0,
        }),
  });
  const app = createHttpApp({
    receiver,
    store,
    logger,
    workerStats: () => worker.stats(),
    deliveryStats: () => (forwards ? deliveryWorker.stats() : null),
  });
  // Dashboard sessions are keyed by ADMIN_TOKEN, so there is no dashboard without one.
  const sessions =
    options.admin?.token && options.dashboard?.enabled !== false
      ? createDashboardSessions({
          adminToken: options.admin.token,
          readOnlyTokens: options.admin.readOnlyTokens,
          clock,
          ttlMs: options.dashboard?.sessionTtlMinutes
            ? options.dashboard.sessionTtlMinutes * 60_000
            : undefined,
        })
      : null;
  mountAdminRoutes(app, {
    store,
    clock,
    logger,
    monitoring,
    auth: { ...options.admin, sessions: sessions?.reader },
    metricsPublic: options.admin?.metricsPublic,
    retentionDays: options.monitor?.maintenance?.retentionDays ?? defaultRetentionDays,
    redaction,
    destinations: { destinations: destinationOperations, sources },
  });
  if (sessions) {
    mountDashboard(app, {
      sessions,
      health: monitoring.health,
      store,
      sources: [...sources.values()].map((source) => ({ name: source.name, provider: source.provider.name })),
      logger,
    });
  }
  let starting: Promise<void> | null = null;

  return {
    store,
    events,
    worker,
    /** Forwards events to the sources' destinations (idle when none is configured). */
    deliveryWorker,
    /** Operate destinations and deliveries (pause, resume, enable, list, retry, replay). */
    destinations: destinationOperations,
    /** Per-handler circuit breakers (null when turned off): `snapshot()` for health and metrics. */
    breakers,
    sources: sources as ReadonlyMap<string, Source>,
    /** Health checks, alerts, admin actions and Prometheus metrics. */
    monitoring,
    /** The Hono app: mount it, or use `fetch`. */
    app,
    /** Web-standard handler for POST /webhooks/:source, /api/webhooks/:source, /healthz and /readyz. */
    fetch: (request: Request, env?: Parameters<typeof app.fetch>[1]): Promise<Response> =>
      Promise.resolve(app.fetch(request, env)),
    /** The receive pipeline itself, for the standalone server's fast path on Node's own request. */
    receiver,
    /** Receive one delivery for `source` directly (framework adapters that route by themselves). */
    receive: (request: Request, source: string, context?: ReceiveContext) =>
      receiver.receive(request, source, context),
    /** Register a handler for a source and event type (`*` for any). */
    on(source: string, eventType: string, handler: Handler) {
      handlers.register(source, eventType, handler);
      return this;
    },
    /** Migrate the store (unless disabled) and start the background worker. */
    async start(): Promise<void> {
      // Concurrent callers share one start; a failed start can be tried again.
      starting ??= (async () => {
        if (options.migrate !== false) await store.migrate();
        if (workerSettings.enabled !== false) {
          await worker.start();
          await deliveryWorker.start();
        }
        monitoring.start();
      })().catch((error: unknown) => {
        starting = null;
        throw error;
      });
      return starting;
    },
    /** Stop the worker (finishing or releasing in-flight events) and close the store. */
    async stop(graceMs?: number): Promise<void> {
      monitoring.stop();
      await Promise.all([worker.stop(graceMs), deliveryWorker.stop(graceMs)]);
      await destinationClient.close();
      await store.close();
      await admission.close();
      starting = null;
    },
  };
}

/** Everything createHookbox builds; internal (the server, tests). The public type is `Hookbox` in public-types.ts. */
export type HookboxInternals = ReturnType<typeof createHookbox>;
/** The old name of HookboxInternals, kept while src/server.ts still uses it. */
export type Hookbox = HookboxInternals;

function definedOnly<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(
    Object.entries(value).filter(([key, v]) => v !== undefined && key !== 'enabled'),
  ) as Partial<T>;
}
