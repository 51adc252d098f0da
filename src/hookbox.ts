import { randomInt } from 'node:crypto';
import { type Clock, type Random, systemClock } from './clock.ts';
import { createEventService, type EventService } from './events/event-service.ts';
import { createHttpApp } from './http/app.ts';
import { GroupCommitter } from './ingest/group-commit.ts';
import { decodePayload } from './ingest/payload.ts';
import { createReceiver, type InlineOutcome, type ReceiveContext } from './ingest/receive.ts';
import { buildAllowlist, defaultMaxBodyBytes, type ProcessingMode, type Source } from './ingest/source.ts';
import { type Logger, silentLogger } from './logger.ts';
import { noopTelemetry, type Telemetry } from './monitor/telemetry.ts';
import { getProvider } from './providers/registry.ts';
import { openStore } from './store/open-store.ts';
import type { Store, StoredEvent } from './store/types.ts';
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
  /** Apply migrations on start() (default true). */
  migrate?: boolean;
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
  const telemetry = options.telemetry ?? noopTelemetry;
  const store = typeof options.store === 'object' ? options.store : openStore(options.store);
  const retryPolicy: RetryPolicy = { ...defaultRetryPolicy, ...options.retry };
  const sources = resolveSources(options.sources);
  const handlers = new HandlerRegistry();
  for (const [source, byType] of Object.entries(options.handlers ?? {})) {
    for (const [type, handler] of Object.entries(byType)) handlers.register(source, type, handler);
  }

  const decode = (event: StoredEvent) =>
    decodePayload(sources.get(event.source)?.provider, event.body, event.headers);
  const workerSettings = options.worker ?? {};
  const worker = new Worker({
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

  const receiver = createReceiver({ sources, committer, clock, logger, telemetry, processInline });
  const app = createHttpApp({ receiver, store, logger });
  let started = false;

  return {
    store,
    events,
    worker,
    sources: sources as ReadonlyMap<string, Source>,
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
    },
    /** Stop the worker (finishing or releasing in-flight events) and close the store. */
    async stop(graceMs?: number): Promise<void> {
      await worker.stop(graceMs);
      await store.close();
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
