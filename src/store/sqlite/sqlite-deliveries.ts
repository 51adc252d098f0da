/**
 * The DeliveryStore role on SQLite (issue 14), beside sqlite-store.ts which lends it its
 * connection, clock and transaction helpers. Every write runs in BEGIN IMMEDIATE, so a claim
 * reads and takes its rows under the one write lock; every verdict is fenced by its claim token.
 */
import type Database from 'better-sqlite3';
import type { Clock } from '../../clock.ts';
import {
  type DeliveryAttemptRow,
  type DeliveryCountRow,
  type DeliveryPayloadRow,
  type DeliveryRow,
  type DestinationStateRow,
  firstPerDelivery,
  foldDeliveryCounts,
  mapClaimedDeliveryRow,
  mapDeliveryAttemptRow,
  mapDeliveryRow,
  mapDestinationStateRow,
  RESPONSE_EXCERPT_LIMIT,
  requireAttempt,
} from '../delivery-rows.ts';
import { readSqlFiles } from '../sql-files.ts';
import type { ClaimedDelivery, DeliveryClaim, DeliveryStore, DestinationState } from '../types.ts';

const statementNames = [
  'insert-delivery',
  'claim-deliveries',
  'read-delivery-payload',
  'extend-delivery-lease',
  'finish-delivery',
  'insert-delivery-attempt',
  'set-destination-state',
  'get-destination-state',
  'list-destination-states',
  'mark-event-delivered',
  'mark-event-delivery-dead',
  'settle-after-handlers',
  'find-expired-deliveries',
  'reclaim-expired-delivery',
  'settle-delivering-events',
  'settle-event',
  'last-delivering-candidate',
  'get-delivery',
  'list-deliveries',
  'list-delivery-attempts',
  'count-deliveries',
  'retry-delivery',
  'reopen-event',
  'replay-delivery',
  'get-event-source',
  'delete-delivery-attempts',
  'delete-deliveries',
] as const;
type StatementName = (typeof statementNames)[number];

export interface SqliteDeliveryContext {
  db: () => Database.Database;
  clock: Clock;
  /** Run `work` in BEGIN IMMEDIATE; errors become StoreUnavailableError naming `action`. */
  immediate<T>(action: string, work: () => T): T;
  /** Run a read; errors become StoreUnavailableError naming `action`. */
  attempt<T>(action: string, work: () => T): T;
  /**
   * Inside the caller's transaction: promote the heads of the ordering keys of these events
   * (those that are ordered), whose status just changed; true when an event became runnable.
   */
  promoteKeysOf(eventIds: string[], now: number): boolean;
  /** After a commit that promoted ordered events: wake this process's event and delivery workers. */
  wakePromoted(): void;
}

export interface SqliteDeliveries {
  methods: Omit<DeliveryStore, 'engine'>;
  /** Inside recordEvents' transaction: the pending deliveries of a new event. */
  insertDeliveries(eventId: string, source: string, names: readonly string[], now: number): void;
  /** Inside finishAttempts' transaction, after a processed or ignored verdict applied. */
  settleAfterHandlers(eventId: string): void;
  /** Inside a deletion's transaction: the deliveries (and their attempts) of deleted events (a JSON array of ids). */
  deleteDeliveriesOf(idsJson: string): void;
  /** After a commit that made deliveries due: wake this process's delivery workers. */
  notifyDue(): void;
  close(): void;
}

export function createSqliteDeliveries(context: SqliteDeliveryContext): SqliteDeliveries {
  const { clock, immediate, attempt } = context;
  const sql = readSqlFiles(new URL('./sql/', import.meta.url), statementNames);
  const prepared = new Map<StatementName, Database.Statement>();
  let preparedFor: Database.Database | null = null;
  function statement(name: StatementName): Database.Statement {
    const db = context.db();
    if (preparedFor !== db) {
      prepared.clear();
      preparedFor = db;
    }
    let stmt = prepared.get(name);
    if (!stmt) {
      stmt = db.prepare(sql[name]);
      prepared.set(name, stmt);
    }
    return stmt;
  }

  function insertAttempt(
    deliveryId: number,
    attemptNumber: number,
    workerId: string,
    outcome: string,
    record: {
      startedAt: number;
      durationMs: number;
      statusCode: number | null;
      responseExcerpt: Buffer;
      errorCode: string | null;
      error: string | null;
    },
  ): void {
    statement('insert-delivery-attempt').run({
      deliveryId,
      attemptNumber,
      workerId,
      startedAt: record.startedAt,
      durationMs: Math.max(0, Math.round(record.durationMs)),
      statusCode: record.statusCode,
      excerpt: record.responseExcerpt.subarray(0, RESPONSE_EXCERPT_LIMIT),
      errorCode: record.errorCode,
      error: record.error,
      outcome,
    });
  }

  // One process per SQLite file delivers from it (as it receives), so in-process wake-ups suffice.
  const dueListeners = new Set<() => void>();
  function notifyDue(): void {
    for (const listener of dueListeners) {
      try {
        listener();
      } catch {
        // Workers also poll: a failed wake-up only delays a delivery.
      }
    }
  }

  const methods: Omit<DeliveryStore, 'engine'> = {
    async onDeliveriesDue(listener) {
      const wrapped = () => listener();
      dueListeners.add(wrapped);
      return async () => {
        dueListeners.delete(wrapped);
      };
    },

    async claimDeliveries({ workerId, leaseMs, destinations }) {
      const wanted = destinations.filter((d) => d.limit > 0);
      if (wanted.length === 0) return [];
      const now = clock.now();
      const claimed = immediate('claim deliveries', () => {
        const rows: ClaimedDelivery[] = [];
        for (const { source, name, limit } of wanted) {
          const taken = statement('claim-deliveries').all({
            workerId,
            now,
            lockedUntil: now + leaseMs,
            source,
            destination: name,
            limit,
          }) as DeliveryRow[];
          for (const row of taken) {
            const payload = statement('read-delivery-payload').get({ eventId: row.event_id }) as
              | DeliveryPayloadRow
              | undefined;
            if (!payload) {
              throw new Error(`delivery ${row.id} has no event or body row: the store is inconsistent.`);
            }
            rows.push(mapClaimedDeliveryRow({ ...row, ...payload }));
          }
        }
        return rows;
      });
      return claimed.sort((a, b) => a.nextAttemptAt - b.nextAttemptAt || a.eventId.localeCompare(b.eventId));
    },

    async extendDeliveryLeases(claims, leaseMs) {
      if (claims.length === 0) return [];
      const now = clock.now();
      return immediate('extend delivery leases', () =>
        claims.filter(
          (claim) =>
            statement('extend-delivery-lease').get({
              id: claim.deliveryId,
              token: claim.token,
              lockedUntil: now + leaseMs,
              now,
            }) !== undefined,
        ),
      );
    },

    async finishDeliveries(workerId, results) {
      if (results.length === 0) return [];
      const unique = firstPerDelivery(results);
      for (const result of unique) requireAttempt(result);
      const now = clock.now();
      let promoted = false;
      const applied = immediate('finish deliveries', () => {
        const applied: DeliveryClaim[] = [];
        const settled: string[] = [];
        for (const result of unique) {
          const record = requireAttempt(result);
          const row = statement('finish-delivery').get({
            id: result.deliveryId,
            token: result.token,
            outcome: result.outcome,
            retryDelayMs: Math.max(0, Math.round(result.retryDelayMs ?? 0)),
            statusCode: record?.statusCode ?? null,
            error: record?.error ?? null,
            now,
          }) as
            | {
                id: number;
                claim_token: number;
                event_id: string;
                source: string;
                destination: string;
                attempts: number;
              }
            | undefined;
          if (!row) continue;
          applied.push({ deliveryId: result.deliveryId, token: result.token });
          if (record) insertAttempt(row.id, row.attempts, workerId, result.outcome, record);
          if (result.outcome === 'succeeded') {
            const { changes } = statement('mark-event-delivered').run({ eventId: row.event_id, now });
            if (changes > 0) settled.push(row.event_id);
          } else if (result.outcome === 'dead') {
            const { changes } = statement('mark-event-delivery-dead').run({
              eventId: row.event_id,
              error: `delivery to ${row.destination} is dead: ${record?.error ?? 'out of attempts'}`,
              now,
            });
            if (changes > 0) settled.push(row.event_id);
          } else if (result.outcome === 'disabled') {
            statement('set-destination-state').run({
              source: row.source,
              name: row.destination,
              state: 'disabled',
              reason: record?.error ?? 'answered 410 Gone',
              now,
            });
          }
        }
        promoted = context.promoteKeysOf(settled, now);
        return applied;
      });
      if (promoted) context.wakePromoted();
      return applied;
    },

    async reclaimExpiredDeliveries(limit) {
      const now = clock.now();
      return immediate('reclaim expired delivery leases', () => {
        const expired = statement('find-expired-deliveries').all({ now, limit }) as {
          id: number;
          attempts: number;
          locked_by: string | null;
          locked_at: number | null;
        }[];
        let count = 0;
        for (const row of expired) {
          const error = `lease expired (worker ${row.locked_by ?? 'unknown'} stopped before finishing)`;
          const changed = statement('reclaim-expired-delivery').run({ id: row.id, error, now }).changes;
          if (changed === 0) continue;
          count += 1;
          insertAttempt(row.id, row.attempts, row.locked_by ?? 'unknown', 'lease_expired', {
            startedAt: row.locked_at ?? now,
            durationMs: now - (row.locked_at ?? now),
            statusCode: null,
            responseExcerpt: Buffer.alloc(0),
            errorCode: 'lease_expired',
            error,
          });
        }
        return count;
      });
    },

    async settleDeliveringEvents(afterId, limit) {
      const now = clock.now();
      let promoted = false;
      const settled = immediate('settle delivering events', () => {
        const last = statement('last-delivering-candidate').get({ afterId, limit }) as {
          last_id: string | null;
        };
        const rows = statement('settle-delivering-events').all({ afterId, limit, now }) as { id: string }[];
        promoted = context.promoteKeysOf(
          rows.map((r) => r.id),
          now,
        );
        return { count: rows.length, lastId: last.last_id };
      });
      if (promoted) context.wakePromoted();
      return settled;
    },

    async settleEvents(eventIds) {
      if (eventIds.length === 0) return 0;
      const now = clock.now();
      let promoted = false;
      const count = immediate('settle events', () => {
        const settled: string[] = [];
        for (const eventId of new Set(eventIds))
          if (statement('settle-event').run({ eventId, now }).changes > 0) settled.push(eventId);
        // Ordering: a settled event frees its key for the next one (docs/ordering.md).
        promoted = context.promoteKeysOf(settled, now);
        return settled.length;
      });
      if (promoted) context.wakePromoted();
      return count;
    },

    async listDestinationStates() {
      const rows = attempt('list destination states', () =>
        statement('list-destination-states').all(),
      ) as DestinationStateRow[];
      return rows.map(mapDestinationStateRow);
    },

    async setDestinationState(source, name, state, reason) {
      const now = clock.now();
      return immediate('set a destination state', () => {
        const previous = statement('get-destination-state').get({ source, name }) as
          | { state: DestinationState }
          | undefined;
        statement('set-destination-state').run({ source, name, state, reason, now });
        return previous?.state ?? 'active';
      });
    },

    async getDelivery(id) {
      const row = attempt('read a delivery', () => statement('get-delivery').get({ id })) as
        | DeliveryRow
        | undefined;
      return row ? mapDeliveryRow(row) : null;
    },

    async listDeliveries(filter) {
      const rows = attempt('list deliveries', () =>
        statement('list-deliveries').all({
          source: filter.source ?? null,
          destination: filter.destination ?? null,
          statuses: filter.status?.length ? JSON.stringify(filter.status) : null,
          eventId: filter.eventId ?? null,
          beforeId: filter.beforeId ?? null,
          limit: filter.limit,
        }),
      ) as DeliveryRow[];
      return rows.map(mapDeliveryRow);
    },

    async listDeliveryAttempts(deliveryId) {
      const rows = attempt('list delivery attempts', () =>
        statement('list-delivery-attempts').all({ deliveryId }),
      ) as DeliveryAttemptRow[];
      return rows.map(mapDeliveryAttemptRow);
    },

    async countDeliveries(since) {
      const rows = attempt('count deliveries', () =>
        statement('count-deliveries').all({ since }),
      ) as DeliveryCountRow[];
      return foldDeliveryCounts(rows);
    },

    async retryDelivery(id) {
      const now = clock.now();
      const row = immediate('retry a delivery', () => {
        const retried = statement('retry-delivery').get({ id, now }) as DeliveryRow | undefined;
        if (retried) statement('reopen-event').run({ eventId: retried.event_id, finishedToo: 0, now });
        return retried;
      });
      if (row) notifyDue();
      return row ? mapDeliveryRow(row) : null;
    },

    async replayEvent(eventId, destinations) {
      const now = clock.now();
      const found = immediate('replay an event', () => {
        const event = statement('get-event-source').get({ eventId }) as { source: string } | undefined;
        if (!event) return false;
        for (const destination of new Set(destinations)) {
          statement('replay-delivery').run({ eventId, source: event.source, destination, now });
        }
        if (destinations.length > 0) statement('reopen-event').run({ eventId, finishedToo: 1, now });
        return true;
      });
      if (!found) return null;
      notifyDue();
      return methods.listDeliveries({ eventId, limit: 1000 });
    },
  };

  return {
    methods,
    insertDeliveries(eventId, source, names, now) {
      const insert = statement('insert-delivery');
      for (const name of names) insert.run(eventId, source, name, now, now, now);
    },
    settleAfterHandlers(eventId) {
      statement('settle-after-handlers').run({ eventId });
    },
    notifyDue,
    close() {
      dueListeners.clear();
    },
    deleteDeliveriesOf(idsJson) {
      statement('delete-delivery-attempts').run({ ids: idsJson });
      statement('delete-deliveries').run({ ids: idsJson });
    },
  };
}
