import type { Clock, Random } from '../clock.ts';
import { createEventId } from '../ids.ts';
import { sha256Hex } from '../providers/verify-core.ts';
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
import { errorMessage } from '../worker/worker.ts';

const dayMs = 24 * 60 * 60 * 1000;

export interface RecordEventInput {
  source: string;
  provider: string;
  dedupeKey: string;
  eventType: string;
  body: Buffer | string;
  headers?: Record<string, string>;
}

export type RecordOutcome = 'new' | 'duplicate' | 'already_processed';

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
      const now = clock.now();
      const [result] = await store.recordEvents(
        [
          {
            id: createEventId(now),
            source: input.source,
            provider: input.provider,
            dedupeKey: input.dedupeKey,
            eventType: input.eventType,
            headers: input.headers ?? {},
            body,
            bodySha256: sha256Hex(body),
            receivedAt: now,
          },
        ],
        now,
      );
      const outcome: RecordOutcome = !result!.duplicate
        ? 'new'
        : result!.status === 'processed'
          ? 'already_processed'
          : 'duplicate';
      return { id: result!.id, outcome };
    },

    markProcessed: (id: string): Promise<boolean> => store.markProcessed(id, clock.now()),

    /** Count a failed attempt made outside the worker and schedule the next one by the retry policy. */
    async markFailed(id: string, error: string): Promise<StoredEvent | null> {
      const event = await store.getEvent(id);
      if (!event || event.status === 'processed') return null;
      const now = clock.now();
      const decision = decideAfterFailure(options.retryPolicy, event.attempts + 1, now, options.random);
      const next = decision.outcome === 'failed' ? decision.nextAttemptAt : now;
      return store.markFailed(id, error, next, options.retryPolicy.maxAttempts, now);
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
      if (existing.status === 'dead' || existing.status === 'ignored') {
        await store.requeueEvents({ ids: [id] }, clock.now());
      }
      const workerId = 'manual-retry';
      const claimed = await store.claimEventById(id, { workerId, leaseMs: 5 * 60_000, now: clock.now() });
      if (!claimed) return { success: false, error: 'event is being processed by a worker', event: existing };
      const startedAt = clock.now();
      try {
        await handler(claimed, options.decodePayload(claimed));
        await store.finishAttempts(
          workerId,
          [{ eventId: id, outcome: 'processed', startedAt, finishedAt: clock.now() }],
          clock.now(),
        );
        return { success: true, event: await store.getEvent(id) };
      } catch (error) {
        const message = errorMessage(error);
        const now = clock.now();
        const decision = decideAfterFailure(options.retryPolicy, claimed.attempts, now, options.random);
        await store.finishAttempts(
          workerId,
          [
            {
              eventId: id,
              outcome: decision.outcome,
              startedAt,
              finishedAt: now,
              error: message,
              nextAttemptAt: decision.outcome === 'failed' ? decision.nextAttemptAt : undefined,
            },
          ],
          now,
        );
        return { success: false, error: message, event: await store.getEvent(id) };
      }
    },

    /** Put events back in the queue for the workers (admin retry); returns how many. */
    requeueEvents: (filter: EventFilter & { ids?: string[] }): Promise<number> =>
      store.requeueEvents(filter, clock.now()),

    listEvents: (query: ListEventsQuery): Promise<EventPage> => store.listEvents(query),
    countEvents: (filter: EventFilter): Promise<number> => store.countEvents(filter),
    getFailedEventsForRetry: (limit = 100): Promise<EventSummary[]> =>
      store.listRetryableEvents(clock.now(), limit),

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

    bulkMarkProcessed: (ids: string[]): Promise<number> => store.bulkMarkProcessed(ids, clock.now()),
    deleteEvent: (id: string): Promise<boolean> => store.deleteEvent(id),
    getStatistics: (): Promise<StoreStatistics> => store.getStatistics(),
  };
}

export type EventService = ReturnType<typeof createEventService>;
