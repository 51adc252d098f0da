/**
 * Operating destinations (docs/destinations.md, "Operate"): the one service behind
 * `hookbox.destinations`, and the one the admin API, the CLI and the dashboard call. Every
 * method validates its input against the configured destinations and throws a HookboxError
 * whose code maps to an HTTP status (errors.ts): `destination_not_found` (404),
 * `delivery_not_found` (404), `event_not_found` (404), `destination_state_conflict` (409),
 * `delivery_not_retryable` (409), `invalid_input` (400). Nothing here holds state: the store is
 * the truth, so several processes can run these at once.
 *
 * States: `active` (no row), `paused` (an operator; resume -> active), `disabled` (a 410 Gone;
 * enable -> active). While paused or disabled, deliveries queue (pending) and are claimed by no
 * process; on resume or enable they go out oldest first.
 */
import { HookboxError } from '../errors.ts';
import type { Source } from '../ingest/source.ts';
import type {
  DeliveryAttempt,
  DeliveryStatus,
  DeliveryStore,
  DestinationCounts,
  DestinationState,
  DestinationStateRecord,
  EventQueryStore,
  StoredDelivery,
} from '../store/types.ts';
import { deliveryStatuses } from '../store/types.ts';
import type { Destination } from './settings.ts';

/** One destination as operators see it (its secret and header values are never included). */
export interface DestinationSummary {
  source: string;
  name: string;
  /** The URL deliveries are posted to. */
  url: string;
  types: readonly string[];
  state: DestinationState;
  /** Why it is paused or disabled (an operator's reason, the 410's error); null when active. */
  stateReason: string | null;
  /** When the state last changed; null when it never did. */
  stateChangedAt: number | null;
  /** Deliveries by status: pending, processing, failed and dead now; succeeded in the window. */
  deliveries: Record<DeliveryStatus, number>;
  /** Deliveries still to make: pending + failed + processing. */
  backlog: number;
  /** Attempts in the recent window (`windowMs`, default one hour) by outcome. */
  recentAttempts: DestinationCounts['attemptsSince'];
  /** Succeeded / (succeeded + failed + dead) attempts in the window, percent; null without any. */
  recentSuccessRate: number | null;
}

export interface ListDeliveriesOptions {
  source?: string;
  destination?: string;
  status?: DeliveryStatus | DeliveryStatus[];
  eventId?: string;
  /** 1-500, default 50. */
  limit?: number;
  /** The `nextCursor` of the previous page. */
  cursor?: string;
}

export interface DeliveryPage {
  deliveries: StoredDelivery[];
  /** Pass as `cursor` for the next page; null on the last page. */
  nextCursor: string | null;
}

export interface DeliveryDetail {
  delivery: StoredDelivery;
  /** Oldest first; each with its status code, duration, response excerpt (≤ 1 KB) and error. */
  attempts: DeliveryAttempt[];
}

/**
 * The operations; `source`/`name` always name a configured destination. Pause, resume and enable
 * return the destination as it is afterwards.
 */
export interface DestinationOperations {
  /** Every configured destination with its state and counts (`windowMs`: the recent window, default 1 h). */
  listDestinations(options?: { windowMs?: number }): Promise<DestinationSummary[]>;
  /** Stop delivering: deliveries queue until resumed. Refused (409) for a disabled destination: enable it. */
  pause(source: string, name: string, reason?: string): Promise<DestinationSummary>;
  /** Deliver again after a pause, oldest first. Refused (409) unless paused. */
  resume(source: string, name: string): Promise<DestinationSummary>;
  /** Deliver again after a 410 disabled it (or a pause). Refused (409) when already active. */
  enable(source: string, name: string): Promise<DestinationSummary>;
  /** Deliveries newest first, with filters. */
  listDeliveries(options?: ListDeliveriesOptions): Promise<DeliveryPage>;
  /** One delivery with its attempts; null when there is none with this id. */
  getDelivery(id: number): Promise<DeliveryDetail | null>;
  /** A failed or dead delivery back to pending, due now, with a fresh attempt budget. */
  retryDelivery(id: number): Promise<StoredDelivery>;
  /**
   * Deliver an event again (same body, same `webhook-id`) to one destination of its source, or to
   * all of them that match its type when `destination` is absent.
   */
  replayEvent(eventId: string, options?: { destination?: string }): Promise<StoredDelivery[]>;
}

export interface DestinationOperationsDeps {
  store: DeliveryStore & Pick<EventQueryStore, 'getEvent' | 'now'>;
  sources: ReadonlyMap<string, Source>;
  /** Called after anything that makes deliveries due (resume, enable, retry, replay). */
  wake?: () => void;
  /** Called after a destination is paused: this process lets go of what it claimed ahead. */
  paused?: (source: string, name: string) => void;
}

const defaultWindowMs = 60 * 60_000;

export function createDestinationOperations(deps: DestinationOperationsDeps): DestinationOperations {
  const { store, sources } = deps;
  const wake = deps.wake ?? (() => {});

  function destinationsOf(source: string): readonly Destination[] {
    return sources.get(source)?.destinations ?? [];
  }

  function find(source: string, name: string): Destination {
    const destination = destinationsOf(source).find((d) => d.name === name);
    if (!destination) {
      const known = [...sources.values()].flatMap((s) => (s.destinations ?? []).map((d) => d.key));
      throw new HookboxError(
        'destination_not_found',
        `no destination ${source}/${name} is configured${known.length ? `; configured: ${known.join(', ')}` : ''}`,
      );
    }
    return destination;
  }

  async function summarize(
    destinations: readonly Destination[],
    windowMs: number,
  ): Promise<DestinationSummary[]> {
    const now = await store.now();
    const [states, counts] = await Promise.all([
      store.listDestinationStates(),
      store.countDeliveries(now - windowMs),
    ]);
    const stateOf = new Map<string, DestinationStateRecord>(states.map((s) => [`${s.source}/${s.name}`, s]));
    const countsOf = new Map(counts.map((c) => [`${c.source}/${c.name}`, c]));
    return destinations.map((destination) => {
      const state = stateOf.get(destination.key);
      const count = countsOf.get(destination.key);
      const byStatus =
        count?.byStatus ??
        (Object.fromEntries(deliveryStatuses.map((s) => [s, 0])) as Record<DeliveryStatus, number>);
      const recent = count?.attemptsSince ?? {
        succeeded: 0,
        failed: 0,
        dead: 0,
        disabled: 0,
        lease_expired: 0,
      };
      const finished =
        recent.succeeded + recent.failed + recent.dead + recent.disabled + recent.lease_expired;
      return {
        source: destination.source,
        name: destination.name,
        url: destination.url,
        types: destination.types.patterns,
        state: state?.state ?? 'active',
        stateReason: state && state.state !== 'active' ? state.reason : null,
        stateChangedAt: state?.changedAt ?? null,
        deliveries: byStatus,
        backlog: byStatus.pending + byStatus.failed + byStatus.processing,
        recentAttempts: recent,
        recentSuccessRate: finished === 0 ? null : Math.round((recent.succeeded / finished) * 10_000) / 100,
      };
    });
  }

  async function summaryOf(destination: Destination): Promise<DestinationSummary> {
    const [summary] = await summarize([destination], defaultWindowMs);
    return summary!;
  }

  async function currentState(destination: Destination): Promise<DestinationState> {
    const states = await store.listDestinationStates();
    return (
      states.find((s) => s.source === destination.source && s.name === destination.name)?.state ?? 'active'
    );
  }

  async function transition(
    source: string,
    name: string,
    allowed: readonly DestinationState[],
    next: DestinationState,
    reason: string | null,
    refusal: (state: DestinationState) => string,
  ): Promise<DestinationSummary> {
    const destination = find(source, name);
    const state = await currentState(destination);
    if (!allowed.includes(state)) throw new HookboxError('destination_state_conflict', refusal(state));
    await store.setDestinationState(destination.source, destination.name, next, reason);
    if (next === 'active') wake();
    if (next === 'paused') deps.paused?.(destination.source, destination.name);
    return summaryOf(destination);
  }

  return {
    async listDestinations(options = {}) {
      const all = [...sources.values()].flatMap((s) => s.destinations ?? []);
      return summarize(all, options.windowMs ?? defaultWindowMs);
    },

    pause(source, name, reason) {
      return transition(
        source,
        name,
        ['active', 'paused'],
        'paused',
        reason ?? 'paused by an operator',
        () => `${source}/${name} is disabled (it answered 410 Gone): enable it instead of pausing it`,
      );
    },

    resume(source, name) {
      return transition(source, name, ['paused'], 'active', null, (state) =>
        state === 'disabled'
          ? `${source}/${name} is disabled (it answered 410 Gone), not paused: enable it once the endpoint accepts deliveries again`
          : `${source}/${name} is not paused (it is ${state})`,
      );
    },

    enable(source, name) {
      return transition(
        source,
        name,
        ['disabled', 'paused'],
        'active',
        null,
        () => `${source}/${name} is already active`,
      );
    },

    async listDeliveries(options = {}) {
      const limit = options.limit ?? 50;
      if (!Number.isInteger(limit) || limit < 1 || limit > 500) {
        throw new HookboxError('invalid_input', `limit must be an integer from 1 to 500, not ${limit}`);
      }
      const statuses = options.status === undefined ? undefined : [options.status].flat();
      const unknown = statuses?.filter((s) => !(deliveryStatuses as readonly string[]).includes(s));
      if (unknown?.length) {
        throw new HookboxError(
          'invalid_input',
          `unknown delivery status ${unknown.join(', ')}: use ${deliveryStatuses.join(', ')}`,
        );
      }
      let beforeId: number | undefined;
      if (options.cursor !== undefined) {
        beforeId = Number(options.cursor);
        if (!Number.isSafeInteger(beforeId) || beforeId < 1) {
          throw new HookboxError('invalid_input', 'cursor must be the nextCursor of a previous page');
        }
      }
      const rows = await store.listDeliveries({
        ...(options.source === undefined ? {} : { source: options.source }),
        ...(options.destination === undefined ? {} : { destination: options.destination }),
        ...(statuses === undefined ? {} : { status: statuses }),
        ...(options.eventId === undefined ? {} : { eventId: options.eventId }),
        ...(beforeId === undefined ? {} : { beforeId }),
        limit: limit + 1,
      });
      const page = rows.slice(0, limit);
      return { deliveries: page, nextCursor: rows.length > limit ? String(page.at(-1)!.id) : null };
    },

    async getDelivery(id) {
      const delivery = await store.getDelivery(id);
      if (!delivery) return null;
      return { delivery, attempts: await store.listDeliveryAttempts(id) };
    },

    async retryDelivery(id) {
      const retried = await store.retryDelivery(id);
      if (retried) {
        wake();
        return retried;
      }
      const existing = await store.getDelivery(id);
      if (!existing) throw new HookboxError('delivery_not_found', `no delivery with id ${id}`);
      throw new HookboxError(
        'delivery_not_retryable',
        `delivery ${id} is ${existing.status}: only a failed or dead delivery can be retried (replay its event to deliver it again)`,
      );
    },

    async replayEvent(eventId, options = {}) {
      const event = await store.getEvent(eventId);
      if (!event) throw new HookboxError('event_not_found', `no event with id ${eventId}`);
      let names: string[];
      if (options.destination !== undefined) {
        names = [find(event.source, options.destination).name];
      } else {
        names = destinationsOf(event.source)
          .filter((d) => d.types.matches(event.eventType))
          .map((d) => d.name);
        if (names.length === 0) {
          throw new HookboxError(
            'destination_not_found',
            `source ${event.source} has no destination that takes ${event.eventType} events`,
          );
        }
      }
      const deliveries = await store.replayEvent(eventId, names);
      if (!deliveries) throw new HookboxError('event_not_found', `no event with id ${eventId}`);
      wake();
      return deliveries.filter((d) => names.includes(d.destination));
    },
  };
}
