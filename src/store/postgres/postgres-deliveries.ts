/**
 * The DeliveryStore role on PostgreSQL (issue 14), beside postgres-store.ts which lends it its
 * pools and helpers. Claims use FOR UPDATE SKIP LOCKED per destination, times follow the
 * database's clock (or the injected one), every verdict is fenced by its claim token.
 */
import type pg from 'pg';
import { StoreUnavailableError } from '../../errors.ts';
import {
  type DeliveryAttemptRow,
  type DeliveryCountRow,
  type DeliveryPayloadRow,
  type DeliveryRow,
  type DestinationStateRow,
  firstPerDelivery,
  foldDeliveryCounts,
  keepAppliedDeliveryClaims,
  mapClaimedDeliveryRow,
  mapDeliveryAttemptRow,
  mapDeliveryRow,
  mapDestinationStateRow,
  RESPONSE_EXCERPT_LIMIT,
  requireAttempt,
} from '../delivery-rows.ts';
import { storeUnavailable, toDate } from '../rows.ts';
import { readSqlFiles } from '../sql-files.ts';
import type { DeliveryStore, DestinationState, NewEvent, OrderingRef } from '../types.ts';
import { distinctOrderingRefs } from './ordering.ts';

const statementNames = [
  'insert-deliveries',
  'claim-deliveries',
  'extend-delivery-leases',
  'finish-deliveries',
  'reclaim-expired-deliveries',
  'list-delivering-events',
  'list-settleable-ordered-events',
  'settle-events',
  'list-destination-states',
  'set-destination-state',
  'get-delivery',
  'list-deliveries',
  'list-delivery-attempts',
  'count-deliveries',
  'retry-delivery',
  'replay-event',
] as const;
type StatementName = (typeof statementNames)[number];

/** Filters bound NULL-or-value: planned per call (see plannedPerCall in postgres-store.ts). */
const plannedPerCall = new Set<StatementName>(['list-deliveries']);

export interface PostgresDeliveryContext {
  pools: { ingest: pg.Pool; worker: pg.Pool; leases: pg.Pool; queries: pg.Pool };
  /** The injected time, or NULL for the database's now(). */
  nowParam(): Date | null;
  /** The NOTIFY channel wake-ups go to. */
  channel: string;
  /** Runs a statement, retrying deadlocks and serialization failures (each statement is its own transaction). */
  query(client: pg.Pool | pg.PoolClient, config: pg.QueryConfig): Promise<pg.QueryResult>;
  /**
   * Ordering (docs/ordering.md): run `work` on the worker pool, inside a transaction that first
   * locks these keys and then promotes their heads when `refs` name any; else on the pool.
   */
  inOrder<T>(refs: OrderingRef[], work: (client: pg.Pool | pg.PoolClient) => Promise<T>): Promise<T>;
}

export interface PostgresDeliveries {
  methods: Omit<DeliveryStore, 'engine' | 'onDeliveriesDue'>;
  /**
   * The config of insert-deliveries.sql for the new events among `events` (ids as proposed:
   * `isNew` says which were stored as new), or null when none has destinations. recordEvents
   * runs it after record-events.sql in one transaction.
   */
  insertDeliveriesConfig(
    events: readonly NewEvent[],
    isNew: (event: NewEvent) => boolean,
  ): pg.QueryConfig | null;
}

export function createPostgresDeliveries(context: PostgresDeliveryContext): PostgresDeliveries {
  const { pools, nowParam, channel } = context;
  const sql = readSqlFiles(new URL('./sql/', import.meta.url), statementNames);

  function config(name: StatementName, values: unknown[]): pg.QueryConfig {
    return plannedPerCall.has(name)
      ? { text: sql[name], values }
      : { name: `hookbox_${name.replaceAll('-', '_')}`, text: sql[name], values };
  }

  async function run<Row>(
    pool: pg.Pool | pg.PoolClient,
    action: string,
    name: StatementName,
    values: unknown[],
  ) {
    try {
      return (await context.query(pool, config(name, values))).rows as Row[];
    } catch (error) {
      throw storeUnavailable('PostgreSQL', action, error);
    }
  }

  /** Settle these events if unordered (settle-events.sql); ordered ones settle under their keys' locks. */
  async function settleUnorderedEvents(eventIds: string[]): Promise<number> {
    if (eventIds.length === 0) return 0;
    const rows = await run<{ id: string }>(pools.worker, 'settle events', 'settle-events', [
      nowParam(),
      [...new Set(eventIds)],
      false,
    ]);
    return rows.length;
  }

  /** The sweep's ordered part: settle under the keys' locks, then promote each key's next event. */
  async function settleOrderedEvents(limit: number): Promise<number> {
    const candidates = await run<{ id: string; source: string; ordering_key: string }>(
      pools.worker,
      'find ordered events to settle',
      'list-settleable-ordered-events',
      [limit],
    );
    if (candidates.length === 0) return 0;
    const refs = distinctOrderingRefs(candidates.map((c) => ({ source: c.source, key: c.ordering_key })));
    try {
      const settled = await context.inOrder(refs, (client) =>
        run<{ id: string }>(client, 'settle ordered events', 'settle-events', [
          nowParam(),
          candidates.map((c) => c.id),
          true,
        ]),
      );
      return settled.length;
    } catch (error) {
      throw error instanceof StoreUnavailableError
        ? error
        : storeUnavailable('PostgreSQL', 'settle ordered events', error);
    }
  }

  const methods: Omit<DeliveryStore, 'engine' | 'onDeliveriesDue'> = {
    async claimDeliveries({ workerId, leaseMs, destinations }) {
      const wanted = destinations.filter((d) => d.limit > 0);
      if (wanted.length === 0) return [];
      const rows = await run<DeliveryRow & DeliveryPayloadRow>(
        pools.worker,
        'claim deliveries',
        'claim-deliveries',
        [
          nowParam(),
          wanted.map((d) => d.source),
          wanted.map((d) => d.name),
          wanted.map((d) => d.limit),
          workerId,
          leaseMs,
        ],
      );
      return rows
        .map(mapClaimedDeliveryRow)
        .sort((a, b) => a.nextAttemptAt - b.nextAttemptAt || a.eventId.localeCompare(b.eventId));
    },

    async extendDeliveryLeases(claims, leaseMs) {
      if (claims.length === 0) return [];
      const rows = await run<{ id: string; claim_token: number }>(
        pools.leases,
        'extend delivery leases',
        'extend-delivery-leases',
        [nowParam(), claims.map((c) => c.deliveryId), claims.map((c) => c.token), leaseMs],
      );
      return keepAppliedDeliveryClaims(claims, rows);
    },

    async finishDeliveries(workerId, results) {
      if (results.length === 0) return [];
      const unique = firstPerDelivery(results);
      const records = unique.map(requireAttempt);
      // A verdict that settles an ordered event frees its key: written under the key's lock.
      const refs = distinctOrderingRefs(unique.map((r) => r.ordering));
      const rows = await context
        .inOrder(refs, (client) =>
          run<{ id: string; claim_token: number }>(client, 'finish deliveries', 'finish-deliveries', [
            nowParam(),
            unique.map((r) => r.deliveryId),
            unique.map((r) => r.token),
            unique.map((r) => r.outcome),
            unique.map((r) => Math.max(0, Math.round(r.retryDelayMs ?? 0))),
            records.map((a) => toDate(a?.startedAt ?? null)),
            records.map((a) => (a ? Math.max(0, Math.round(a.durationMs)) : null)),
            records.map((a) => a?.statusCode ?? null),
            records.map((a) => (a ? a.responseExcerpt.subarray(0, RESPONSE_EXCERPT_LIMIT) : Buffer.alloc(0))),
            records.map((a) => a?.errorCode ?? null),
            // NUL cannot be stored in text: an endpoint's error text could carry one.
            records.map((a) => a?.error?.replaceAll('\u0000', '\ufffd') ?? null),
            workerId,
          ]),
        )
        .catch((error: unknown) => {
          throw error instanceof StoreUnavailableError
            ? error
            : storeUnavailable('PostgreSQL', 'finish deliveries', error);
        });
      return keepAppliedDeliveryClaims(
        unique.map(({ deliveryId, token }) => ({ deliveryId, token })),
        rows,
      );
    },

    async reclaimExpiredDeliveries(limit) {
      const rows = await run<{ count: string }>(
        pools.worker,
        'reclaim expired delivery leases',
        'reclaim-expired-deliveries',
        [nowParam(), limit],
      );
      return Number(rows[0]?.count ?? 0);
    },

    async settleDeliveringEvents(afterId, limit) {
      const page = await run<{ id: string }>(
        pools.worker,
        'list delivering events',
        'list-delivering-events',
        [afterId, limit],
      );
      const unordered = await settleUnorderedEvents(page.map((row) => row.id));
      const ordered = await settleOrderedEvents(limit);
      return { count: unordered + ordered, lastId: page.at(-1)?.id ?? null };
    },

    settleEvents: settleUnorderedEvents,

    async listDestinationStates() {
      const rows = await run<DestinationStateRow>(
        pools.queries,
        'list destination states',
        'list-destination-states',
        [],
      );
      return rows.map(mapDestinationStateRow);
    },

    async setDestinationState(source, name, state, reason) {
      const rows = await run<{ previous: DestinationState | null }>(
        pools.queries,
        'set a destination state',
        'set-destination-state',
        [source, name, state, reason, nowParam()],
      );
      return rows[0]?.previous ?? 'active';
    },

    async getDelivery(id) {
      const rows = await run<DeliveryRow>(pools.queries, 'read a delivery', 'get-delivery', [id]);
      return rows[0] ? mapDeliveryRow(rows[0]) : null;
    },

    async listDeliveries(filter) {
      const rows = await run<DeliveryRow>(pools.queries, 'list deliveries', 'list-deliveries', [
        filter.source ?? null,
        filter.destination ?? null,
        filter.status?.length ? filter.status : null,
        filter.eventId ?? null,
        filter.beforeId ?? null,
        filter.limit,
      ]);
      return rows.map(mapDeliveryRow);
    },

    async listDeliveryAttempts(deliveryId) {
      const rows = await run<DeliveryAttemptRow>(
        pools.queries,
        'list delivery attempts',
        'list-delivery-attempts',
        [deliveryId],
      );
      return rows.map(mapDeliveryAttemptRow);
    },

    async countDeliveries(since) {
      const rows = await run<DeliveryCountRow>(pools.queries, 'count deliveries', 'count-deliveries', [
        toDate(since),
      ]);
      return foldDeliveryCounts(rows);
    },

    async retryDelivery(id) {
      const rows = await run<DeliveryRow>(pools.queries, 'retry a delivery', 'retry-delivery', [
        id,
        nowParam(),
        channel,
      ]);
      return rows[0] ? mapDeliveryRow(rows[0]) : null;
    },

    async replayEvent(eventId, destinations) {
      const rows = await run<DeliveryRow>(pools.queries, 'replay an event', 'replay-event', [
        eventId,
        [...new Set(destinations)],
        nowParam(),
        channel,
      ]);
      return rows.length === 0 ? null : rows.map(mapDeliveryRow);
    },
  };

  return {
    methods,
    insertDeliveriesConfig(events, isNew) {
      const eventIds: string[] = [];
      const sources: string[] = [];
      const names: string[] = [];
      for (const event of events) {
        if (!event.destinations?.length || !isNew(event)) continue;
        for (const name of event.destinations) {
          eventIds.push(event.id);
          sources.push(event.source);
          names.push(name);
        }
      }
      if (eventIds.length === 0) return null;
      return config('insert-deliveries', [eventIds, sources, names, nowParam(), channel]);
    },
  };
}
