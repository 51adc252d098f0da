import { type Context, type Env, Hono, type MiddlewareHandler } from 'hono';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import type { z } from 'zod';
import type { Clock } from '../../clock.ts';
import { errorBody, HookboxError } from '../../errors.ts';
import type { Logger } from '../../logger.ts';
import type { Monitoring } from '../../monitor/monitoring.ts';
import type { Redaction } from '../../redaction.ts';
import type { Store } from '../../store/types.ts';
import { type AdminAuthOptions, createTokenAuthenticator, requireAccess } from './auth.ts';
import { createDestinationHandlers, type DestinationRoutesDependencies } from './destination-routes.ts';
import { buildOpenApiDocument } from './openapi.ts';
import { adminOperations, type OperationId, type OperationSpec } from './operations.ts';
import { serializeEventDetail, serializeEventSummary } from './serialize.ts';
import { parseInput, readJsonBody } from './validation.ts';

/** The `admin` option of createHookbox. */
export interface AdminOptions extends AdminAuthOptions {
  /** Serve /metrics without a token (only where the network already limits who can scrape). */
  metricsPublic?: boolean;
}

export interface AdminRoutesDependencies {
  store: Store;
  clock: Clock;
  logger: Logger;
  monitoring: Pick<Monitoring, 'health' | 'actions' | 'prometheus'>;
  auth: AdminAuthOptions;
  /** Serve /metrics without a token. */
  metricsPublic?: boolean;
  /** cleanup's olderThanDays when the request names none. */
  retentionDays: number;
  /** The Hookbox's one Redaction: which stored headers every output masks. */
  redaction: Redaction;
  /** destinations: the operations service and the configured sources (destination-routes.ts). */
  destinations: DestinationRoutesDependencies;
}

export type InputOf<S> = {
  query: S extends { query: infer Q extends z.ZodType } ? z.output<Q> : undefined;
  params: S extends { params: infer P extends z.ZodType } ? z.output<P> : undefined;
  body: S extends { body: infer B extends z.ZodType } ? z.output<B> : undefined;
};
export type Handlers = {
  [K in OperationId]: (input: InputOf<(typeof adminOperations)[K]>, c: Context) => Promise<Response>;
};

/** What a 5xx answer says: never the error's own message, which is written for the log. */
const serverErrorMessages: Partial<Record<string, string>> = {
  store_unavailable: 'the store is unavailable right now; retry later (the server log has the cause)',
  internal_error: 'an unexpected error occurred; see the server log',
};

const passThrough: MiddlewareHandler = async (_c, next) => {
  await next();
};

/**
 * Mount the admin API, the maintenance trigger, the OpenAPI document and /metrics on `app`.
 * Every route is declared once in operations.ts with its access level and schemas; here each
 * is guarded (401/403), validated (400 naming each field) and answered `{success, data}`.
 */
export function mountAdminRoutes<E extends Env>(app: Hono<E>, deps: AdminRoutesDependencies): void {
  const { store, clock, monitoring } = deps;
  const { actions, health } = monitoring;
  const authenticator = createTokenAuthenticator(deps.auth);
  const ok = (c: Context, data: unknown) => c.json({ success: true, data });
  let openApiDocument: ReturnType<typeof buildOpenApiDocument> | null = null;

  const handlers: Handlers = {
    async getMonitor({ query }, c) {
      const report = await health.checkHealth({ windowMinutes: query.timeWindow, fresh: query.refresh });
      const { alerts, recommendations, ...base } = report;
      return ok(c, query.report ? { ...base, alerts, recommendations } : base);
    },

    async runMonitorAction({ body }, c) {
      const data = await runAction(body);
      return c.json({ success: true, action: body.action, data });
    },

    async listEvents({ query }, c) {
      const page = await store.listEvents({
        limit: query.limit ?? 50,
        cursor: query.cursor,
        source: query.source,
        provider: query.provider,
        status: query.status,
        eventType: query.type,
        since: query.since,
        until: query.until,
        search: query.search,
      });
      return ok(c, { events: page.events.map(serializeEventSummary), nextCursor: page.nextCursor });
    },

    async bulkRetryEvents({ body }, c) {
      const toMs = (value: string | number | undefined) =>
        value === undefined ? undefined : typeof value === 'number' ? value : Date.parse(value);
      const { requeued } = await actions.bulkRetry({
        status: body.status,
        source: body.source,
        provider: body.provider,
        eventType: body.type,
        since: toMs(body.since),
        until: toMs(body.until),
      });
      return ok(c, { count: requeued });
    },

    async getEvent({ params }, c) {
      const event = await store.getEvent(params.id);
      if (!event) throw new HookboxError('event_not_found', `no event with id ${params.id}`);
      return ok(c, serializeEventDetail(event, await store.listAttempts(event.id), deps.redaction));
    },

    async retryEvent({ params, body }, c) {
      return ok(c, await actions.retryEvent({ eventId: params.id, force: body?.force }));
    },

    async deleteEvent({ params }, c) {
      return ok(c, await actions.deleteEvent({ eventId: params.id }));
    },

    async getStatistics(_input, c) {
      const statistics = await store.getStatistics();
      const oldest = statistics.oldestPending;
      return ok(c, {
        ...statistics,
        oldestPending: oldest
          ? {
              ...oldest,
              receivedAt: new Date(oldest.receivedAt).toISOString(),
              ageMinutes: Math.round((clock.now() - oldest.receivedAt) / 600) / 100,
            }
          : null,
        timestamp: new Date(clock.now()).toISOString(),
      });
    },

    async getTimeSeries({ query }, c) {
      const minutes = query.window ?? 60;
      const bucketMs = 60_000;
      const now = clock.now();
      // Whole minutes, the last one still filling, so a bucket keeps its place between refreshes.
      const since = Math.floor(now / bucketMs) * bucketMs - (minutes - 1) * bucketMs;
      const buckets = await store.aggregateTimeSeries(since, now, bucketMs);
      return ok(c, {
        window: { minutes, since: new Date(since).toISOString(), until: new Date(now).toISOString() },
        bucketMs,
        received: buckets.map((b) => b.received),
        processed: buckets.map((b) => b.processed),
        failed: buckets.map((b) => b.failed),
        backlog: buckets.map((b) => b.backlog),
      });
    },

    async getDuplicates({ query }, c) {
      const { sameBody, redelivered } = await actions.findDuplicates({ limit: query.limit ?? 100 });
      return ok(c, { sameBody, redelivered: redelivered.map(serializeEventSummary) });
    },

    async listBlockedKeys({ query }, c) {
      const keys = await actions.listBlockedKeys({ limit: query.limit });
      return ok(c, {
        keys: keys.map((k) => ({
          ...k,
          blockedSince: new Date(k.blockedSince).toISOString(),
          blockedForSeconds: Math.max(0, Math.round((clock.now() - k.blockedSince) / 1000)),
        })),
      });
    },

    async unblockKey({ body }, c) {
      return ok(c, await actions.unblockKey(body));
    },

    async getOpenApi(_input, c) {
      openApiDocument ??= buildOpenApiDocument();
      return c.json(openApiDocument);
    },

    async runMaintenance(_input, c) {
      return ok(c, await actions.runMaintenance());
    },

    async getMetrics() {
      const text = await monitoring.prometheus.render();
      return new Response(text, { headers: { 'content-type': monitoring.prometheus.contentType } });
    },

    ...createDestinationHandlers(deps.destinations),
  };

  function runAction(request: InputOf<typeof adminOperations.runMonitorAction>['body']) {
    switch (request.action) {
      case 'cleanup':
        return actions.cleanup({ olderThanDays: request.params?.olderThanDays ?? deps.retentionDays });
      case 'auto-remediate':
        return actions.autoRemediate(request.params ?? {});
      case 'retry-failed':
        return actions.retryFailed(request.params ?? {});
      case 'retry-event':
        return actions.retryEvent(request.params);
      case 'mark-processed':
        return actions.markProcessed(request.params);
      case 'delete-event':
        return actions.deleteEvent(request.params);
      case 'find-duplicates':
        return actions.findDuplicates(request.params ?? {});
    }
  }

  const admin = new Hono();
  admin.onError((error, c) => {
    if (error instanceof HookboxError && error.status < 500) {
      return c.json(
        errorBody(error.code, error.message, error.details),
        error.status as ContentfulStatusCode,
      );
    }
    if (error instanceof HookboxError) {
      // A 5xx message is written for the log: a store error carries the driver's own text
      // (hosts, users, SQL). The response says only what happened and what to do.
      deps.logger.error({ code: error.code, err: error.message }, 'admin request failed');
      return c.json(
        errorBody(error.code, serverErrorMessages[error.code] ?? serverErrorMessages.internal_error!),
        error.status as ContentfulStatusCode,
      );
    }
    // Never echo internals: the log has them.
    deps.logger.error(
      { err: (error as Error).message, path: new URL(c.req.url).pathname },
      'admin request failed',
    );
    return c.json(errorBody('internal_error', 'an unexpected error occurred; see the server log'), 500);
  });

  for (const [id, spec] of Object.entries(adminOperations) as [OperationId, OperationSpec][]) {
    const guard =
      id === 'getMetrics' && deps.metricsPublic ? passThrough : requireAccess(authenticator, spec.access);
    const handle = handlers[id] as (input: unknown, c: Context) => Promise<Response>;
    admin.on(spec.method.toUpperCase(), spec.path, guard, async (c) => {
      const input = {
        query: spec.query ? parseInput(spec.query, c.req.query(), 'query') : undefined,
        params: spec.params ? parseInput(spec.params, c.req.param(), 'path') : undefined,
        body: spec.body ? parseInput(spec.body, await readJsonBody(c.req.raw), 'body') : undefined,
      };
      return handle(input, c);
    });
  }
  app.route('/', admin as unknown as Hono<E>);
}
