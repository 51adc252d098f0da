import { randomInt } from 'node:crypto';
import { type Clock, type Random, systemClock } from './clock.ts';
import { createEventService, type EventService } from './events/event-service.ts';
import { type AdminOptions, mountAdminRoutes } from './http/admin/routes.ts';
import { createHttpApp } from './http/app.ts';
import { mountDashboard } from './http/dashboard/routes.ts';
import { createDashboardSessions } from './http/dashboard/session.ts';
import { GroupCommitter } from './ingest/group-commit.ts';
import { decodePayload } from './ingest/payload.ts';
import { createAdmission, type RateLimitSettings, type SourceRateLimit } from './ingest/rate-limit.ts';
import { createReceiver, type InlineOutcome, type ReceiveContext } from './ingest/receive.ts';
import { parseSourceLimits } from './ingest/request-checks.ts';
import { buildAllowlist, defaultMaxBodyBytes, type ProcessingMode, type Source } from './ingest/source.ts';
import { type Logger, silentLogger } from './logger.ts';
import { createMonitoring, defaultRetentionDays, type MonitoringOptions } from './monitor/monitoring.ts';
import { combineTelemetry, noopTelemetry, type Telemetry } from './monitor/telemetry.ts';
import { getProvider } from './providers/registry.ts';
import { createRedaction, type RedactionSettings } from './redaction.ts';
import { openStore } from './store/open-store.ts';
import type { Store, StoredEvent } from './store/types.ts';
import { type CircuitBreakerSettings, CircuitBreakers } from './worker/circuit-breaker.ts';
import { type Handler, HandlerRegistry } from './worker/handler-registry.ts';
import { defaultRetryPolicy, type RetryPolicy } from './worker/retry-policy.ts';
import { Worker } from './worker/worker.ts';

/** One source as written in config: the Hookbox keys below, plus the provider's own settings (secrets...). */
export interface SourceDefinition {
  provider: string;
  mode?: ProcessingMode;
  maxBodyBytes?: number;
  publicUrl?: string;
  allowlist?: string[];
  trustProxy?: boolean;
  /** Request headers over this many bytes (names + values) get 431; default 16 KiB. */
  maxHeaderBytes?: number;
  /** Per-source and per-client-IP limits, answered 429 with Retry-After; none by default. */
  rateLimit?: SourceRateLimit;
  [setting: string]: unknown;
}

export interface WorkerSettings {
  /** Run the background worker on start() (default true). */
  enabled?: boolean;
  leaseMs?: number;
  batchSize?: number;
  concurrency?: number;
  pollIntervalMs?: number;
  handlerTimeoutMs?: number;
  workerId?: string;
}

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
  const store = typeof options.store === 'object' ? options.store : openStore(options.store);
  const retryPolicy: RetryPolicy = { ...defaultRetryPolicy, ...options.retry };
  const monitoring = createMonitoring(
    {
      store,
      clock,
      logger,
      maxAttempts: retryPolicy.maxAttempts,
      wake: () => worker.wake(),
      breakers: () => breakers?.snapshot() ?? [],
    },
    options.monitor,
  );
  const telemetry = combineTelemetry(options.telemetry ?? noopTelemetry, monitoring.telemetry);
  const sources = resolveSources(options.sources);
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
  const committer = new GroupCommitter({ store, now: () => clock.now() });
  const events: EventService = createEventService({
    store,
    clock,
    random,
    retryPolicy,
    decodePayload: decode,
  });

  async function processInline(eventId: string, payload: unknown): Promise<InlineOutcome> {
    const claimed = await store.claimEventById(eventId, {
      workerId: worker.workerId,
      leaseMs: workerSettings.leaseMs ?? 30_000,
      now: clock.now(),
    });
    if (!claimed) return waitForOutcome(eventId);
    const summary = await worker.processClaimed(claimed, payload);
    if (summary.outcome === 'processed' || summary.outcome === 'ignored') return { outcome: summary.outcome };
    if (summary.outcome === 'failed' || summary.outcome === 'dead')
      return { outcome: summary.outcome, error: summary.error };
    // Released without running: an open circuit breaker (or shutdown) deferred it.
    if (summary.outcome === 'released')
      return { outcome: 'deferred', error: summary.error ?? 'the worker is shutting down' };
    return { outcome: 'busy' };
  }

  /** Another worker holds the event: report its outcome if it finishes within the handler timeout. */
  async function waitForOutcome(eventId: string): Promise<InlineOutcome> {
    const deadline = Date.now() + (workerSettings.handlerTimeoutMs ?? 30_000);
    while (Date.now() < deadline) {
      const event = await store.getEvent(eventId);
      if (!event) return { outcome: 'failed', error: 'event deleted' };
      if (event.status === 'processed' || event.status === 'ignored') return { outcome: event.status };
      if (event.status === 'failed' || event.status === 'dead') {
        return { outcome: event.status, error: event.lastError ?? 'handler failed' };
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    return { outcome: 'busy' };
  }

  const admission = createAdmission({
    sources,
    settings: options.rateLimit,
    databaseUrl: typeof options.store === 'string' ? options.store : undefined,
    logger,
  });
  const receiver = createReceiver({
    sources,
    committer,
    clock,
    logger,
    telemetry,
    processInline,
    admit: admission.admit,
    redaction: createRedaction(options.redaction),
  });
  const app = createHttpApp({ receiver, store, logger });
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
  let started = false;

  return {
    store,
    events,
    worker,
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
      if (started) return;
      started = true;
      if (options.migrate !== false) await store.migrate();
      if (workerSettings.enabled !== false) await worker.start();
      monitoring.start();
    },
    /** Stop the worker (finishing or releasing in-flight events) and close the store. */
    async stop(graceMs?: number): Promise<void> {
      monitoring.stop();
      await worker.stop(graceMs);
      await store.close();
      await admission.close();
      started = false;
    },
  };
}

export type Hookbox = ReturnType<typeof createHookbox>;

/** Validate every source at once; the error lists each problem. */
export function resolveSources(definitions: Record<string, SourceDefinition>): Map<string, Source> {
  const problems: string[] = [];
  const resolved = new Map<string, Source>();
  for (const [name, definition] of Object.entries(definitions)) {
    if (!/^[a-zA-Z0-9][a-zA-Z0-9_-]{0,63}$/.test(name)) {
      problems.push(`sources.${name}: a source name is 1-64 letters, digits, "-" or "_"`);
      continue;
    }
    const {
      provider: providerName,
      mode,
      maxBodyBytes,
      publicUrl,
      allowlist,
      trustProxy,
      maxHeaderBytes,
      rateLimit,
      ...settings
    } = definition;
    try {
      const provider = getProvider(providerName);
      if (mode !== undefined && mode !== 'async' && mode !== 'sync')
        throw new Error('mode must be "async" or "sync"');
      resolved.set(name, {
        name,
        provider,
        settings: provider.parseSettings(settings),
        mode: mode ?? 'async',
        maxBodyBytes: maxBodyBytes ?? defaultMaxBodyBytes,
        publicUrl,
        allowlist: allowlist ? buildAllowlist(allowlist) : undefined,
        trustProxy: trustProxy ?? false,
        ...parseSourceLimits({ maxHeaderBytes, rateLimit }),
      });
    } catch (error) {
      problems.push(...describeProblems(`sources.${name}`, error));
    }
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return resolved;
}

export class ConfigError extends Error {
  readonly problems: string[];
  constructor(problems: string[]) {
    super(`invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
    this.problems = problems;
  }
}

export function describeProblems(prefix: string, error: unknown): string[] {
  const issues = (error as { issues?: { path: PropertyKey[]; message: string }[] }).issues;
  if (Array.isArray(issues)) {
    return issues.map((issue) => `${[prefix, ...issue.path.map(String)].join('.')}: ${issue.message}`);
  }
  return [`${prefix}: ${(error as Error).message}`];
}

function definedOnly<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(
    Object.entries(value).filter(([key, v]) => v !== undefined && key !== 'enabled'),
  ) as Partial<T>;
}
