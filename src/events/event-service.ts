import type { Clock, Random } from '../clock.ts';
import { errorMessage, HookboxError } from '../errors.ts';
import { createEventId } from '../ids.ts';
import { normalizeIdentity } from '../ingest/identity.ts';
import { sha256Hex } from '../providers/verify-core.ts';
import type { RecordEventInput, RecordOutcome } from '../public-types.ts';
import type {
  Attempt,
  DuplicateBodyGroup,
  EventFilter,
  EventPage,
  EventSummary,
  ListEventsQuery,
  Store,
  StoredEvent,
  StoreStatistics,
} from '../store/types.ts';
import { decideAfterFailure, type RetryPolicy } from '../worker/retry-policy.ts';

const dayMs = 24 * 60 * 60 * 1000;
/** The lease of a retry run from the admin API or the CLI, renewed every third of it. */
export const defaultRetryLeaseMs = 30_000;

// The inputs and outcomes applications see are declared once, with the public API.
export type { RecordEventInput, RecordOutcome } from '../public-types.ts';

export interface RetryOutcome {
  success: boolean;
  /** Why it did not run or what the handler threw. */
  error?: string;
  event: StoredEvent | null;
}

export interface EventServiceOptions {
  store: Store;
  clock: Clock;
  random: Random;
  retryPolicy: RetryPolicy;
  /** Decode a stored body into the payload a retry handler receives. */
  decodePayload: (event: StoredEvent) => unknown;
  /** The lease a retry run holds, renewed every third of it; default `defaultRetryLeaseMs`. */
  retryLeaseMs?: number;
  /** Destinations: the names of a source's destinations that take an event type (none: undefined). */
  routeEvent?: (source: string, eventType: string) => string[] | undefined;
}

export type RetryHandler = (event: StoredEvent, payload: unknown) => unknown | Promise<unknown>;

/**
 * The operations of the original design, over the Store port: what the admin API, the CLI and
 * an embedding application use to inspect and act on events.
 */
export function createEventService(options: EventServiceOptions) {
  const { store, clock } = options;

  return {
    /** Record one event outside the HTTP route (deduplicated like a delivery). */
    async recordEvent(input: RecordEventInput): Promise<{ id: string; outcome: RecordOutcome }> {
      const body = typeof input.body === 'string' ? Buffer.from(input.body) : input.body;
      const identity = normalizeIdentity(input.dedupeKey, input.eventType);
      if (!identity.ok) throw new HookboxError('payload_invalid', identity.message);
      const now = clock.now();
      const [result] = await store.recordEvents([
        {
          id: createEventId(now),
          source: input.source,
          provider: input.provider,
          dedupeKey: identity.dedupeKey,
          eventType: identity.eventType,
          headers: input.headers ?? {},
          body,
          bodySha256: sha256Hex(body),
          receivedAt: now,
          destinations: options.routeEvent?.(input.source, identity.eventType),
        },
      ]);
      const outcome: RecordOutcome = !result!.duplicate
        ? 'new'
        : result!.status === 'processed'
          ? 'already_processed'
          : 'duplicate';
      return { id: result!.id, outcome };
    },

    markProcessed: (id: string): Promise<boolean> => store.markProcessed(id),

    /** Count a failed attempt made outside the worker and schedule the next one by the retry policy. */
    async markFailed(id: string, error: string): Promise<StoredEvent | null> {
      const event = await store.getEvent(id);
      if (!event || event.status === 'processed') return null;
      const decision = decideAfterFailure(options.retryPolicy, event.attempts + 1, options.random);
      const delay = decision.outcome === 'failed' ? decision.retryDelayMs : 0;
      return store.markFailed(id, error, delay, options.retryPolicy.maxAttempts);
    },

    async isProcessed(source: string, dedupeKey: string): Promise<boolean> {
      const event = await store.findEventByDedupeKey(source, dedupeKey);
      return event?.status === 'processed';
    },

    /**
     * Run `handler` on one event now, under a lease so no worker holds it at the same time.
     * A processed event is not retried; a dead one is given a fresh cycle first.
     */
    async retryEvent(id: string, handler: RetryHandler): Promise<RetryOutcome> {
      const existing = await store.getEvent(id);
      if (!existing) return { success: false, error: `no event with id ${id}`, event: null };
      if (existing.status === 'processed')
        return { success: false, error: 'event already processed', event: existing };
      // A dead or ignored event gets a fresh cycle; a failed one is run now, not after its backoff.
      if (existing.status === 'dead' || existing.status === 'ignored') {
        await store.requeueEvents({ ids: [id] });
      }
      const workerId = 'manual-retry';
      const retryLeaseMs = options.retryLeaseMs ?? defaultRetryLeaseMs;
      const claimed = await store.claimEventById(id, {
        workerId,
        leaseMs: retryLeaseMs,
        ignoreBackoff: true,
      });
      if (!claimed) return { success: false, error: 'event is being processed by a worker', event: existing };
      const claim = { eventId: id, token: claimed.claimToken };
      // The lease is renewed while the handler runs, as the worker renews its own: a retry
      // that outlives one lease must not let a worker start a second run beside it.
      const renewal = setInterval(() => {
        store.extendLeases([claim], retryLeaseMs).catch(() => {});
      }, retryLeaseMs / 3);
      const startedAt = clock.now();
      let failure: unknown = null;
      try {
        await handler(claimed, options.decodePayload(claimed));
      } catch (error) {
        failure = error;
      } finally {
        clearInterval(renewal);
      }
      const finishedAt = clock.now();
      const message = failure === null ? null : errorMessage(failure);
      const decision =
        failure === null ? null : decideAfterFailure(options.retryPolicy, claimed.attempts, options.random);
      const applied = await store.finishAttempts(workerId, [
        decision === null
          ? { ...claim, outcome: 'processed', startedAt, finishedAt }
          : {
              ...claim,
              outcome: decision.outcome,
              startedAt,
              finishedAt,
              error: message,
              ...(decision.outcome === 'failed' ? { retryDelayMs: decision.retryDelayMs } : {}),
            },
      ]);
      const event = await store.getEvent(id);
      // The store's word decides: a verdict it did not apply (the event was taken from this
      // retry meanwhile, e.g. marked processed by an operator) is not a success.
      if (applied.length === 0) {
        return {
          success: false,
          error: 'the retry lost its claim on the event before its result was recorded',
          event,
        };
      }
      return failure === null ? { success: true, event } : { success: false, error: message!, event };
    },

    /** Put events back in the queue for the workers (admin retry); returns how many. */
    requeueEvents: (filter: EventFilter & { ids?: string[] }): Promise<number> => store.requeueEvents(filter),

    listEvents: (query: ListEventsQuery): Promise<EventPage> => store.listEvents(query),
    countEvents: (filter: EventFilter): Promise<number> => store.countEvents(filter),
    getFailedEventsForRetry: (limit = 100): Promise<EventSummary[]> => store.listRetryableEvents(limit),

    /** One event with its attempts, oldest first. */
    getEvent: async (id: string): Promise<{ event: StoredEvent; attempts: Attempt[] } | null> => {
      const event = await store.getEvent(id);
      return event ? { event, attempts: await store.listAttempts(id) } : null;
    },

    findDuplicates: (limit = 100): Promise<DuplicateBodyGroup[]> => store.findDuplicateBodies(limit),
    listRedelivered: (limit = 100): Promise<EventSummary[]> => store.listRedeliveredEvents(limit),

    /** Delete processed events older than `days` days; returns how many. */
    cleanupOldEvents: (days: number): Promise<number> =>
      store.deleteProcessedBefore(clock.now() - days * dayMs),

    bulkMarkProcessed: (ids: string[]): Promise<number> => store.bulkMarkProcessed(ids),
    deleteEvent: (id: string): Promise<boolean> => store.deleteEvent(id),
    getStatistics: (): Promise<StoreStatistics> => store.getStatistics(),
  };
}

export type EventService = ReturnType<typeof createEventService>;
