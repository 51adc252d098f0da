import pg from 'pg';
import { migrationError, readMigrations, selectPendingMigrations } from '../migrate.ts';
import { answerDeliveries, groupDeliveries, keyOf, type RecordedRow } from '../record-batch.ts';
import {
  type AttemptRow,
  type EventGroupRow,
  type EventRow,
  type EventSummaryRow,
  foldEventGroups,
  keepInputOrder,
  mapArchivableRow,
  mapAttemptRow,
  mapEventRow,
  mapEventSummaryRow,
  normalizeStatuses,
  sortByClaimOrder,
  sortSamples,
  storeUnavailable,
  toDate,
  toMillis,
} from '../rows.ts';
import { readSqlFiles } from '../sql-files.ts';
import { foldTimeSeries, type TimeSeriesRow } from '../time-series.ts';
import type { AttemptResult, EventFilter, EventStatus, EventTransaction, Store } from '../types.ts';

const statementNames = [
  'create-migrations-table',
  'lock-migrations',
  'list-applied-migrations',
  'record-migration',
  'record-events',
  'claim-events',
  'claim-event-by-id',
  'extend-leases',
  'finish-attempts',
  'reclaim-expired-leases',
  'get-event',
  'find-event-by-dedupe-key',
  'list-attempts',
  'list-events',
  'count-events',
  'requeue-events',
  'list-retryable-events',
  'mark-processed',
  'mark-failed',
  'delete-event',
  'delete-processed-before',
  'find-duplicate-bodies',
  'list-redelivered-events',
  'summarize-events',
  'find-oldest-pending',
  'list-attempt-durations',
  'count-failed-attempts',
  'list-processing-latencies',
  'requeue-stuck-processing',
  'aggregate-time-series',
  'scrub-bodies-before',
  'list-finished-events',
  'delete-finished-events',
] as const;
type StatementName = (typeof statementNames)[number];

/**
 * Statements whose optional filters are NULL-or-value parameters run unnamed, so PostgreSQL
 * plans each call with its actual values (and drops the NULL branches) instead of reusing a
 * generic plan that cannot use the filter indexes.
 */
const plannedPerCall = new Set<StatementName>(['list-events', 'count-events', 'requeue-events']);

export interface PostgresStoreOptions {
  connectionString: string;
  /** Every connection uses this schema (created by migrate()); lower-case letters, digits, `_`. */
  schema?: string;
  /** Pool size; default 10. */
  poolSize?: number;
}

// Lower-case only: an unquoted search_path entry is folded to lower case, so a mixed-case name
// would silently point at a different schema than the one migrate() creates. 48 characters
// leave room for the notification channel name within PostgreSQL's 63.
const schemaNamePattern = /^[a-z_][a-z0-9_]{0,47}$/;

function quoteIdentifier(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

function bindFilter(filter: EventFilter): unknown[] {
  return [
    filter.source ?? null,
    filter.provider ?? null,
    normalizeStatuses(filter.status),
    filter.eventType ?? null,
    toDate(filter.since),
    toDate(filter.until),
    filter.search ?? null,
  ];
}

/** Parallel arrays for finish-attempts.sql, one element per distinct event (first verdict wins). */
function bindFinishAttempts(workerId: string, results: AttemptResult[], now: number): unknown[] {
  const seen = new Set<string>();
  const unique = results.filter((r) => !seen.has(r.eventId) && seen.add(r.eventId));
  return [
    workerId,
    unique.map((r) => r.eventId),
    unique.map((r) => r.outcome),
    unique.map((r) => toDate(r.startedAt)),
    unique.map((r) => toDate(r.finishedAt)),
    unique.map((r) => Math.max(0, r.finishedAt - r.startedAt)),
    unique.map((r) => r.error ?? null),
    unique.map((r) => toDate(r.nextAttemptAt)),
    toDate(now),
  ];
}

function noop(): void {}

/**
 * The shared store: any number of Hookbox processes on one PostgreSQL. Claims use
 * FOR UPDATE SKIP LOCKED, ingest wakes workers with NOTIFY, and a handler may write through
 * the transaction that marks its event processed.
 */
export function createPostgresStore(options: PostgresStoreOptions): Store {
  const { connectionString, schema } = options;
  if (schema !== undefined && !schemaNamePattern.test(schema)) {
    throw new Error(
      `Invalid PostgreSQL schema name "${schema}": use 1-48 lower-case letters, digits or underscores, starting with a letter or underscore.`,
    );
  }
  const sql = readSqlFiles(new URL('./sql/', import.meta.url), statementNames);
  const migrations = readMigrations(new URL('./migrations/', import.meta.url));
  const channel = schema ? `hookbox_events_${schema}` : 'hookbox_events';

  const clientConfig: pg.ClientConfig = {
    connectionString,
    connectionTimeoutMillis: 5000,
    ...(schema ? { options: `-c search_path=${schema}` } : {}),
  };
  const pool = new pg.Pool({ ...clientConfig, max: options.poolSize ?? 10 });
  // An idle client that loses its connection is dropped by the pool; the next query opens a new
  // one or fails with StoreUnavailableError. Without a handler the process would crash.
  pool.on('error', noop);

  let closed = false;

  /**
   * Every statement here is its own transaction, so a deadlock or serialization failure rolled
   * it back whole and running it again is safe. Deadlocks do happen between processes: an
   * ingest upsert counting duplicates locks rows in (source, dedupe key) order while another
   * process's lease extension or attempt results lock some of the same rows in id order.
   */
  async function queryRetryingDeadlocks(config: pg.QueryConfig): Promise<pg.QueryResult> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await pool.query(config);
      } catch (error) {
        const code = (error as { code?: unknown }).code;
        if (attempt >= 3 || (code !== '40P01' && code !== '40001')) throw error;
      }
    }
  }

  function queryConfig(name: StatementName, values: unknown[]): pg.QueryConfig {
    return plannedPerCall.has(name)
      ? { text: sql[name], values }
      : { name: `hookbox_${name.replaceAll('-', '_')}`, text: sql[name], values };
  }

  async function run<Row>(action: string, name: StatementName, values: unknown[]): Promise<Row[]> {
    try {
      const result = await queryRetryingDeadlocks(queryConfig(name, values));
      return result.rows as Row[];
    } catch (error) {
      throw storeUnavailable('PostgreSQL', action, error);
    }
  }

  async function runCount(action: string, name: StatementName, values: unknown[]): Promise<number> {
    try {
      const result = await queryRetryingDeadlocks(queryConfig(name, values));
      return result.rowCount ?? 0;
    } catch (error) {
      throw storeUnavailable('PostgreSQL', action, error);
    }
  }

  async function finishAttemptsOn(
    client: pg.Pool | pg.PoolClient,
    workerId: string,
    results: AttemptResult[],
    now: number,
  ): Promise<string[]> {
    const result = await client.query(
      queryConfig('finish-attempts', bindFinishAttempts(workerId, results, now)),
    );
    return (result.rows as { id: string }[]).map((r) => r.id);
  }

  // ---- LISTEN/NOTIFY wake-ups: one dedicated connection per store, opened on first subscription ----
  const listeners = new Set<() => void>();
  let listening: Promise<pg.Client> | null = null;
  let listenClient: pg.Client | null = null;
  let reconnectDelayMs = 500;

  function wakeListeners(): void {
    for (const listener of listeners) {
      try {
        listener();
      } catch {
        // A failing wake-up must not stop the others; workers also poll.
      }
    }
  }

  async function connectListener(): Promise<pg.Client> {
    const client = new pg.Client(clientConfig);
    client.on('notification', (message) => {
      if (message.channel === channel) wakeListeners();
    });
    const onLost = () => handleListenerLost(client);
    client.on('error', onLost);
    client.on('end', onLost);
    try {
      await client.connect();
      await client.query(`LISTEN ${quoteIdentifier(channel)}`);
    } catch (error) {
      client.removeListener('end', onLost);
      client.end().catch(noop);
      throw error;
    }
    listenClient = client;
    return client;
  }

  function startListening(): Promise<pg.Client> {
    if (!listening) {
      const attempt = connectListener();
      listening = attempt;
      attempt.catch(() => {
        if (listening === attempt) listening = null;
      });
    }
    return listening;
  }

  async function stopListening(): Promise<void> {
    const pending = listening;
    listening = null;
    if (!pending) return;
    const client = await pending.catch(() => null);
    if (!client) return;
    if (listenClient === client) listenClient = null;
    await client.end().catch(noop);
  }

  function handleListenerLost(client: pg.Client): void {
    if (listenClient !== client) return;
    listenClient = null;
    listening = null;
    client.end().catch(noop);
    scheduleListenerReconnect();
  }

  function scheduleListenerReconnect(): void {
    if (closed || listeners.size === 0) return;
    const timer = setTimeout(async () => {
      if (closed || listeners.size === 0 || listening) return;
      try {
        await startListening();
        reconnectDelayMs = 500;
        // Notifications sent while the connection was down are lost: wake everyone once.
        wakeListeners();
      } catch {
        reconnectDelayMs = Math.min(reconnectDelayMs * 2, 30_000);
        scheduleListenerReconnect();
      }
    }, reconnectDelayMs);
    timer.unref();
  }

  const store: Store = {
    engine: 'postgres',

    async migrate() {
      let client: pg.PoolClient;
      try {
        client = await pool.connect();
      } catch (error) {
        throw migrationError('PostgreSQL', null, error);
      }
      let current: (typeof migrations)[number] | null = null;
      try {
        await client.query('BEGIN');
        await client.query(sql['lock-migrations'], [schema ?? '']);
        if (schema) await client.query(`CREATE SCHEMA IF NOT EXISTS ${quoteIdentifier(schema)}`);
        await client.query(sql['create-migrations-table']);
        const applied = await client.query(sql['list-applied-migrations']);
        const versions = (applied.rows as { version: number }[]).map((r) => r.version);
        for (const migration of selectPendingMigrations(migrations, versions)) {
          current = migration;
          await client.query(migration.sql);
          await client.query(sql['record-migration'], [migration.version, migration.name, new Date()]);
        }
        current = null;
        await client.query('COMMIT');
        client.release();
      } catch (error) {
        await client.query('ROLLBACK').catch(noop);
        client.release(error instanceof Error ? error : true);
        throw migrationError('PostgreSQL', current, error);
      }
    },

    async ping() {
      try {
        await pool.query('SELECT 1');
      } catch (error) {
        throw storeUnavailable('PostgreSQL', 'answer a ping', error);
      }
    },

    async close() {
      if (closed) return;
      closed = true;
      listeners.clear();
      await stopListening();
      await pool.end();
    },

    async recordEvents(events, now) {
      if (events.length === 0) return [];
      const groups = groupDeliveries(events);
      const rows = await run<{
        id: string;
        source: string;
        dedupe_key: string;
        status: EventStatus;
        delivery_count: number;
      }>(`record ${events.length} event(s); nothing of the batch was stored`, 'record-events', [
        groups.map((g) => g.event.id),
        groups.map((g) => g.event.source),
        groups.map((g) => g.event.provider),
        groups.map((g) => g.event.dedupeKey),
        groups.map((g) => g.event.eventType),
        groups.map((g) => JSON.stringify(g.event.headers)),
        groups.map((g) => g.event.body),
        groups.map((g) => g.event.bodySha256),
        groups.map((g) => toDate(g.event.receivedAt)),
        groups.map((g) => g.positions.length),
        groups.map((g) => toDate(g.lastDeliveryAt)),
        toDate(now),
        channel,
      ]);
      const byKey = new Map<string, RecordedRow>(
        rows.map((r) => [
          keyOf(r.source, r.dedupe_key),
          { id: r.id, status: r.status, deliveryCount: r.delivery_count },
        ]),
      );
      return answerDeliveries(events.length, groups, (group) => {
        const row = byKey.get(keyOf(group.event.source, group.event.dedupeKey));
        if (!row) {
          throw new Error(
            `record-events returned no row for source ${group.event.source}: the upsert is broken.`,
          );
        }
        return row;
      });
    },

    async claimEvents({ workerId, limit, leaseMs, now, excludeSources }) {
      if (limit <= 0) return [];
      const rows = await run<EventRow>('claim events', 'claim-events', [
        toDate(now),
        limit,
        workerId,
        toDate(now + leaseMs),
        excludeSources ?? [],
      ]);
      return sortByClaimOrder(rows.map(mapEventRow));
    },

    async claimEventById(id, { workerId, leaseMs, now }) {
      const rows = await run<EventRow>('claim an event', 'claim-event-by-id', [
        id,
        workerId,
        toDate(now),
        toDate(now + leaseMs),
      ]);
      return rows[0] ? mapEventRow(rows[0]) : null;
    },

    async extendLeases(workerId, eventIds, lockedUntil, now) {
      if (eventIds.length === 0) return [];
      const rows = await run<{ id: string }>('extend leases', 'extend-leases', [
        workerId,
        eventIds,
        toDate(lockedUntil),
        toDate(now),
      ]);
      return keepInputOrder(
        eventIds,
        rows.map((r) => r.id),
      );
    },

    async finishAttempts(workerId, results, now) {
      if (results.length === 0) return [];
      try {
        const applied = await finishAttemptsOn(pool, workerId, results, now);
        return keepInputOrder(
          results.map((r) => r.eventId),
          applied,
        );
      } catch (error) {
        throw storeUnavailable('PostgreSQL', 'finish attempts', error);
      }
    },

    async reclaimExpiredLeases(now, maxAttempts) {
      const rows = await run<{ id: string }>('reclaim expired leases', 'reclaim-expired-leases', [
        toDate(now),
        maxAttempts,
      ]);
      return rows.map((r) => r.id);
    },

    async beginEventTransaction() {
      return beginEventTransaction();
    },

    async onEventsRecorded(listener) {
      if (closed)
        throw storeUnavailable('PostgreSQL', 'listen for new events', new Error('the store is closed'));
      const wrapped = () => listener();
      listeners.add(wrapped);
      try {
        await startListening();
      } catch (error) {
        listeners.delete(wrapped);
        throw storeUnavailable('PostgreSQL', 'listen for new events', error);
      }
      return async () => {
        listeners.delete(wrapped);
        if (listeners.size === 0) await stopListening();
      };
    },

    async getEvent(id) {
      const rows = await run<EventRow>('read an event', 'get-event', [id]);
      return rows[0] ? mapEventRow(rows[0]) : null;
    },

    async findEventByDedupeKey(source, dedupeKey) {
      const rows = await run<EventRow>('read an event', 'find-event-by-dedupe-key', [source, dedupeKey]);
      return rows[0] ? mapEventRow(rows[0]) : null;
    },

    async listAttempts(eventId) {
      const rows = await run<AttemptRow>('list attempts', 'list-attempts', [eventId]);
      return rows.map(mapAttemptRow);
    },

    async listEvents(query) {
      const rows = await run<EventSummaryRow>('list events', 'list-events', [
        ...bindFilter(query),
        query.cursor ?? null,
        query.limit + 1,
      ]);
      const page = rows.slice(0, query.limit).map(mapEventSummaryRow);
      const more = rows.length > query.limit;
      return { events: page, nextCursor: more ? (page.at(-1)?.id ?? null) : null };
    },

    async countEvents(filter) {
      const rows = await run<{ count: string }>('count events', 'count-events', bindFilter(filter));
      return Number(rows[0]?.count ?? 0);
    },

    async listRetryableEvents(now, limit) {
      const rows = await run<EventSummaryRow>('list retryable events', 'list-retryable-events', [
        toDate(now),
        limit,
      ]);
      return rows.map(mapEventSummaryRow);
    },

    async markProcessed(id, now) {
      const rows = await run<{ id: string }>('mark an event processed', 'mark-processed', [
        [id],
        toDate(now),
      ]);
      return rows.length === 1;
    },

    async bulkMarkProcessed(ids, now) {
      if (ids.length === 0) return 0;
      const rows = await run<{ id: string }>('mark events processed', 'mark-processed', [
        [...new Set(ids)],
        toDate(now),
      ]);
      return rows.length;
    },

    async markFailed(id, error, nextAttemptAt, maxAttempts, now) {
      const rows = await run<EventRow>('mark an event failed', 'mark-failed', [
        id,
        error,
        toDate(nextAttemptAt),
        maxAttempts,
        toDate(now),
      ]);
      return rows[0] ? mapEventRow(rows[0]) : null;
    },

    async requeueEvents(filter, now) {
      if (filter.ids && filter.ids.length === 0) return 0;
      return runCount('requeue events', 'requeue-events', [
        ...bindFilter(filter),
        filter.ids ?? null,
        toDate(now),
      ]);
    },

    async deleteEvent(id) {
      return (await runCount('delete an event', 'delete-event', [id])) > 0;
    },

    async deleteProcessedBefore(before, limit) {
      return runCount('delete processed events', 'delete-processed-before', [toDate(before), limit ?? null]);
    },

    async scrubBodiesBefore(before, now, limit) {
      return runCount('scrub bodies of processed events', 'scrub-bodies-before', [
        toDate(before),
        toDate(now),
        limit ?? null,
      ]);
    },

    async listFinishedEvents(before, afterId, limit) {
      const rows = await run<EventRow>('list finished events', 'list-finished-events', [
        toDate(before),
        afterId,
        limit,
      ]);
      return rows.map(mapArchivableRow);
    },

    async deleteFinishedEvents(ids, before) {
      if (ids.length === 0) return 0;
      return runCount('delete archived events', 'delete-finished-events', [ids, toDate(before)]);
    },

    async findDuplicateBodies(limit) {
      const rows = await run<{
        source: string;
        body_sha256: string;
        count: string;
        event_ids: string[];
        dedupe_keys: string[];
      }>('find duplicate bodies', 'find-duplicate-bodies', [limit]);
      return rows.map((row) => ({
        source: row.source,
        bodySha256: row.body_sha256,
        count: Number(row.count),
        eventIds: row.event_ids,
        dedupeKeys: row.dedupe_keys,
      }));
    },

    async listRedeliveredEvents(limit) {
      const rows = await run<EventSummaryRow>('list redelivered events', 'list-redelivered-events', [limit]);
      return rows.map(mapEventSummaryRow);
    },

    async getStatistics() {
      const [groups, oldest] = await Promise.all([
        run<EventGroupRow>('read statistics', 'summarize-events', [null, null]),
        run<{ id: string; source: string; event_type: string; received_at: Date }>(
          'read statistics',
          'find-oldest-pending',
          [],
        ),
      ]);
      const { total, byStatus, byProvider, byType } = foldEventGroups(groups);
      const first = oldest[0];
      return {
        total,
        byStatus,
        byProvider,
        byType,
        oldestPending: first
          ? {
              id: first.id,
              source: first.source,
              eventType: first.event_type,
              receivedAt: toMillis(first.received_at),
            }
          : null,
      };
    },

    async aggregateWindow(since, now, maxSamples) {
      const window = [toDate(since), toDate(now)];
      const action = 'aggregate the monitoring window';
      const [groupRows, durations, latencies, failed] = await Promise.all([
        run<EventGroupRow>(action, 'summarize-events', window),
        run<{ duration_ms: string }>(action, 'list-attempt-durations', [...window, maxSamples]),
        run<{ latency: number }>(action, 'list-processing-latencies', [...window, maxSamples]),
        run<{ count: string }>(action, 'count-failed-attempts', window),
      ]);
      const groups = foldEventGroups(groupRows);
      return {
        total: groups.total,
        byStatus: groups.byStatus,
        byProvider: groups.byProvider,
        byType: groups.byType,
        averageAttempts: groups.total === 0 ? 0 : groups.attempts / groups.total,
        duplicateDeliveries: groups.extraDeliveries,
        attemptDurations: sortSamples(durations.map((r) => Number(r.duration_ms))),
        processingLatencies: sortSamples(latencies.map((r) => Number(r.latency))),
        failedAttempts: Number(failed[0]?.count ?? 0),
      };
    },

    async aggregateTimeSeries(since, now, bucketMs) {
      const rows = await run<TimeSeriesRow>('aggregate the time series', 'aggregate-time-series', [
        toDate(since),
        toDate(now),
        bucketMs,
      ]);
      return foldTimeSeries(rows, since, now, bucketMs);
    },

    async requeueStuckProcessing(lockedBefore, now) {
      const rows = await run<{ count: string }>('requeue stuck events', 'requeue-stuck-processing', [
        toDate(lockedBefore),
        toDate(now),
      ]);
      return Number(rows[0]?.count ?? 0);
    },
  };

  /**
   * A transaction a handler may write through. No connection is taken until the handler's
   * first query, so handlers that never use it cost nothing and complete via finishAttempts.
   */
  function beginEventTransaction(): EventTransaction {
    let opening: Promise<pg.PoolClient> | null = null;
    let finished = false;

    function open(): Promise<pg.PoolClient> {
      if (finished) {
        return Promise.reject(
          new Error(
            'This event transaction is already committed or rolled back: begin a new one for the next event.',
          ),
        );
      }
      if (!opening) {
        const attempt = (async () => {
          const client = await pool.connect();
          // The pool's error listener is off while a client is checked out: a connection lost
          // between the handler's queries (PostgreSQL restarted) would be an uncaught 'error'
          // and end the process. With this one, the next query fails instead and the client is
          // discarded on release.
          if (!client.listeners('error').includes(noop)) client.on('error', noop);
          try {
            await client.query('BEGIN');
          } catch (error) {
            client.release(error instanceof Error ? error : true);
            throw error;
          }
          return client;
        })();
        opening = attempt.catch((error: unknown) => {
          throw storeUnavailable('PostgreSQL', 'begin a transaction for the handler', error);
        });
      }
      return opening;
    }

    const transaction: EventTransaction = {
      handle: {
        async query<R = Record<string, unknown>>(text: string, params?: unknown[]) {
          const client = await open();
          const result = await client.query(text, params);
          return { rows: result.rows as R[], rowCount: result.rowCount ?? 0 };
        },
      },

      get used() {
        return opening !== null;
      },

      async commitWith(workerId, result, now) {
        if (result.outcome !== 'processed') {
          await transaction.rollback();
          throw new Error(
            `commitWith applies only a processed result, got "${result.outcome}": roll back the handler's writes and report the outcome with finishAttempts.`,
          );
        }
        if (finished) throw new Error('This event transaction is already committed or rolled back.');
        if (!opening) {
          finished = true;
          const applied = await store.finishAttempts(workerId, [result], now);
          return applied.includes(result.eventId);
        }
        finished = true;
        const client = await opening;
        let applied: string[];
        try {
          applied = await finishAttemptsOn(client, workerId, [result], now);
          // A lost lease rolls back: the handler's writes must not outlive the event's new holder.
          await client.query(applied.length === 0 ? 'ROLLBACK' : 'COMMIT');
        } catch (error) {
          await client.query('ROLLBACK').catch(noop);
          client.release(true);
          throw storeUnavailable(
            'PostgreSQL',
            "commit the handler's transaction; nothing of it was kept",
            error,
          );
        }
        client.release();
        return applied.length > 0;
      },

      async rollback() {
        if (finished) return;
        finished = true;
        if (!opening) return;
        const client = await opening.catch(() => null);
        if (!client) return;
        try {
          await client.query('ROLLBACK');
          client.release();
        } catch (error) {
          // A connection that cannot roll back is not fit to return to the pool.
          client.release(error instanceof Error ? error : true);
        }
      },
    };
    return transaction;
  }

  return store;
}
