import pg from 'pg';
import type { Clock } from '../../clock.ts';
import { errorMessage, StoreRowRefusedError, StoreUnavailableError } from '../../errors.ts';
import { eventIdFloor } from '../../ids.ts';
import { type BlockedKeyRow, mapBlockedKeyRow } from '../blocked-keys.ts';
import { migrationError, readMigrations, selectPendingMigrations } from '../migrate.ts';
import {
  answerDeliveries,
  groupDeliveries,
  isClaimedAtIngest,
  keyOf,
  type RecordedRow,
  unclaimedStatus,
} from '../record-batch.ts';
import {
  type AttemptRow,
  type ClaimedEventRow,
  type EventGroupRow,
  type EventRow,
  type EventSummaryRow,
  firstPerEvent,
  foldEventGroups,
  keepAppliedClaims,
  mapArchivableRow,
  mapAttemptRow,
  mapClaimedEventRow,
  mapEventRow,
  mapEventSummaryRow,
  normalizeStatuses,
  rowRefused,
  sortByClaimOrder,
  sortSamples,
  storeUnavailable,
  toDate,
  toMillis,
} from '../rows.ts';
import { readSqlFiles } from '../sql-files.ts';
import { foldTimeSeries, type TimeSeriesRow } from '../time-series.ts';
import type {
  AttemptResult,
  Claim,
  EventFilter,
  EventStatus,
  EventTransaction,
  NewEvent,
  OrderingRef,
  Store,
} from '../types.ts';
import { distinctOrderingRefs, inOrderedTransaction, orderWithin, type RunStatement } from './ordering.ts';
import { createPostgresDeliveries } from './postgres-deliveries.ts';

const statementNames = [
  'create-migrations-table',
  'lock-migrations',
  'list-applied-migrations',
  'record-migration',
  'record-events',
  'claim-events',
  'claim-event-by-id',
  'extend-leases',
  'record-attempts',
  'finish-attempts',
  'find-expired-leases',
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
  'count-held-longer-than',
  'aggregate-time-series',
  'scrub-bodies-before',
  'list-finished-events',
  'delete-finished-events',
  'read-clock',
  // Ordering (src/store/postgres/ordering.ts).
  'lock-ordering-keys',
  'promote-ordering-keys',
  'list-ordering-keys',
  'list-requeue-ordering-keys',
  'list-blocked-keys',
  'skip-blocked-head',
] as const;
type StatementName = (typeof statementNames)[number];

/**
 * Statements whose optional filters are NULL-or-value parameters run unnamed, so PostgreSQL
 * plans each call with its actual values (and drops the NULL branches) instead of reusing a
 * generic plan that cannot use the filter indexes.
 */
const plannedPerCall = new Set<StatementName>(['list-events', 'count-events', 'requeue-events']);

/** Connection pools by role, so no role waits on another's connections (docs/reliability.md). */
export type PoolRole = 'ingest' | 'worker' | 'leases' | 'handlers' | 'queries';

export const defaultPoolSizes: Readonly<Record<PoolRole, number>> = {
  // Group commit keeps at most two commits in flight.
  ingest: 3,
  // Claims, results and reclaims: a handful of statements at a time.
  worker: 4,
  // Lease renewals alone, one statement per tick for every held event and delivery: a renewal
  // never queues behind a claim or a verdict batch, so a busy worker cannot let a lease lapse.
  leases: 1,
  // One per handler running a ctx.tx transaction at once; more wait for a connection.
  handlers: 10,
  // Admin API, dashboard, CLI, monitoring.
  queries: 4,
};

/** Every statement's deadline by role: a database that stops answering fails the call instead of hanging it. */
export const defaultDeadlinesMs: Readonly<Record<PoolRole, number>> = {
  ingest: 5_000,
  worker: 10_000,
  leases: 10_000,
  handlers: 60_000,
  queries: 30_000,
};

export interface PostgresStoreOptions {
  connectionString: string;
  /** Every connection uses this schema (created by migrate()); lower-case letters, digits, `_`. */
  schema?: string;
  /**
   * The time leases and due times are decided by. Absent (production): the database's own clock,
   * one clock for every instance sharing the database. Tests inject a manual clock.
   */
  clock?: Clock;
  /** Pool sizes by role (defaults in `defaultPoolSizes`). */
  pools?: Partial<Record<PoolRole, number>>;
  /** Statement deadlines by role in ms (defaults in `defaultDeadlinesMs`). */
  deadlinesMs?: Partial<Record<PoolRole, number>>;
  /** Time to open a connection or wait for a free one; default 5000 ms. */
  connectTimeoutMs?: number;
}

// Lower-case only: an unquoted search_path entry is folded to lower case, so a mixed-case name
// would silently point at a different schema than the one migrate() creates. 48 characters
// leave room for the notification channel name within PostgreSQL's 63.
const schemaNamePattern = /^[a-z_][a-z0-9_]{0,47}$/;

function quoteIdentifier(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

/**
 * What an engine error means for the call that got it, by SQLSTATE class: the row's data
 * (22 data exception, 23 integrity, 54 a limit such as an index row too big) is that row's
 * fault; a deadlock or serialization failure is retried; everything else (connections,
 * resources, shutdown, timeouts) means the store is unavailable.
 */
export function classifyPostgresError(error: unknown): 'row' | 'retry' | 'unavailable' {
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code !== 'string' || code.length !== 5) return 'unavailable';
  if (code === '40P01' || code === '40001') return 'retry';
  if (/^(22|23|54)/.test(code)) return 'row';
  return 'unavailable';
}

function noop(): void {}

/**
 * The shared store: any number of Hookbox processes on one PostgreSQL. Claims use
 * FOR UPDATE SKIP LOCKED, leases and due times follow the database's clock, every lease and
 * verdict is fenced by its claim token, ingest wakes workers with NOTIFY, and a handler may
 * write through the transaction that marks its event processed.
 */
export function createPostgresStore(options: PostgresStoreOptions): Store {
  const { connectionString, schema, clock } = options;
  if (schema !== undefined && !schemaNamePattern.test(schema)) {
    throw new Error(
      `Invalid PostgreSQL schema name "${schema}": use 1-48 lower-case letters, digits or underscores, starting with a letter or underscore.`,
    );
  }
  const sql = readSqlFiles(new URL('./sql/', import.meta.url), statementNames);
  const migrations = readMigrations(new URL('./migrations/', import.meta.url));
  const channel = schema ? `hookbox_events_${schema}` : 'hookbox_events';
  // Destinations: deliveries made due (new ones, a retry, a replay) wake delivery workers only.
  const deliveryChannel = schema ? `hookbox_d_${schema}` : 'hookbox_deliveries';
  const connectTimeoutMs = options.connectTimeoutMs ?? 5_000;

  const clientConfig: pg.ClientConfig = {
    connectionString,
    connectionTimeoutMillis: connectTimeoutMs,
    // A peer that vanishes without a FIN (a partition) is found by TCP keep-alive, not by the
    // next query hanging until its deadline.
    keepAlive: true,
    keepAliveInitialDelayMillis: 10_000,
    ...(schema ? { options: `-c search_path=${schema}` } : {}),
  };

  function createPool(role: PoolRole): pg.Pool {
    const deadline = options.deadlinesMs?.[role] ?? defaultDeadlinesMs[role];
    // `pipeline` (pg 8.23, not yet in @types/pg): statements issued together on one connection go
    // out together, as an ordered transaction's do (ordering.ts); the server answers them in order.
    const config: pg.PoolConfig & { pipeline: boolean } = {
      ...clientConfig,
      max: options.pools?.[role] ?? defaultPoolSizes[role],
      // The server cancels a statement past its deadline; the client gives up a little later
      // in case the server itself stopped answering.
      statement_timeout: deadline,
      query_timeout: deadline + 1_000,
      pipeline: true,
    };
    const pool = new pg.Pool(config);
    // An idle client that loses its connection is dropped by the pool; the next query opens a new
    // one or fails with StoreUnavailableError. Without a handler the process would crash.
    pool.on('error', noop);
    return pool;
  }
  const pools: Record<PoolRole, pg.Pool> = {
    ingest: createPool('ingest'),
    worker: createPool('worker'),
    leases: createPool('leases'),
    handlers: createPool('handlers'),
    queries: createPool('queries'),
  };

  let closed = false;

  /** The injected time as a parameter, or NULL: the statement then uses the database's now(). */
  function nowParam(): Date | null {
    return clock ? new Date(clock.now()) : null;
  }

  /**
   * Every statement here is its own transaction, so a deadlock or serialization failure rolled
   * it back whole and running it again is safe. Deadlocks do happen between processes: an
   * ingest upsert counting duplicates locks rows in (source, dedupe key) order while another
   * process's lease renewal or attempt results lock some of the same rows in id order.
   */
  async function queryRetryingDeadlocks(
    client: pg.Pool | pg.PoolClient,
    config: pg.QueryConfig,
  ): Promise<pg.QueryResult> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await client.query(config);
      } catch (error) {
        // On a checked-out client the statement is part of a transaction (ordering, ctx.tx) that
        // the deadlock aborted: the transaction's owner runs it again whole, not this statement.
        if (attempt >= 3 || classifyPostgresError(error) !== 'retry' || !(client instanceof pg.Pool))
          throw error;
      }
    }
  }

  function queryConfig(name: StatementName, values: unknown[]): pg.QueryConfig {
    return plannedPerCall.has(name)
      ? { text: sql[name], values }
      : { name: `hookbox_${name.replaceAll('-', '_')}`, text: sql[name], values };
  }

  async function runOn<Row>(
    client: pg.Pool | pg.PoolClient,
    action: string,
    name: StatementName,
    values: unknown[],
  ): Promise<pg.QueryResult & { rows: Row[] }> {
    try {
      return (await queryRetryingDeadlocks(client, queryConfig(name, values))) as pg.QueryResult & {
        rows: Row[];
      };
    } catch (error) {
      throw storeUnavailable('PostgreSQL', action, error);
    }
  }

  async function run<Row>(role: PoolRole, action: string, name: StatementName, values: unknown[]) {
    return (await runOn<Row>(pools[role], action, name, values)).rows;
  }

  async function runCount(role: PoolRole, action: string, name: StatementName, values: unknown[]) {
    const rows = await run<{ count: string }>(role, action, name, values);
    return Number(rows[0]?.count ?? 0);
  }

  // ---- Ordering (docs/ordering.md): writes about ordered events lock their keys, then promote ----
  // A promotion wakes delivery workers too ($5): a promoted event's deliveries are due at once.
  const runOrderingStatement: RunStatement = (client, name, values) =>
    client.query(queryConfig(name, name === 'promote-ordering-keys' ? [...values, deliveryChannel] : values));
  function ordered<T>(role: PoolRole, refs: OrderingRef[], work: (client: pg.PoolClient) => Promise<T>) {
    return inOrderedTransaction(
      { pool: pools[role], refs, now: nowParam, channel, run: runOrderingStatement },
      work,
    );
  }
  /** Run `work` on `role`'s pool, inside an ordered transaction when `refs` name any key. */
  function maybeOrdered<T>(
    role: PoolRole,
    refs: OrderingRef[],
    work: (client: pg.Pool | pg.PoolClient) => Promise<T>,
  ): Promise<T> {
    return refs.length === 0 ? work(pools[role]) : ordered(role, refs, work);
  }
  /** The ordering keys of these events (operator actions name events by id). */
  async function orderingKeysOf(ids: string[]): Promise<OrderingRef[]> {
    if (ids.length === 0) return [];
    const rows = await run<{ source: string; ordering_key: string }>(
      'queries',
      'read ordering keys',
      'list-ordering-keys',
      [ids],
    );
    return rows.map((r) => ({ source: r.source, key: r.ordering_key }));
  }

  /** An operator's write: in an ordered transaction when it touches ordered events. */
  async function operatorWrite<T>(
    refs: OrderingRef[],
    action: string,
    work: (client: pg.Pool | pg.PoolClient) => Promise<T>,
  ): Promise<T> {
    try {
      return await maybeOrdered('queries', refs, work);
    } catch (error) {
      if (error instanceof StoreUnavailableError) throw error;
      throw storeUnavailable('PostgreSQL', action, error);
    }
  }

  function bindFilter(filter: EventFilter): unknown[] {
    return [
      filter.source ?? null,
      filter.provider ?? null,
      normalizeStatuses(filter.status),
      filter.eventType ?? null,
      filter.since === undefined ? null : eventIdFloor(filter.since),
      filter.until === undefined ? null : eventIdFloor(filter.until),
      filter.search ?? null,
    ];
  }

  /** Parallel arrays for finish-attempts.sql, one element per distinct event (first verdict wins). */
  function bindFinishAttempts(workerId: string, results: AttemptResult[]): unknown[] {
    const unique = firstPerEvent(results);
    return [
      workerId,
      unique.map((r) => r.eventId),
      unique.map((r) => r.token),
      unique.map((r) => r.outcome),
      unique.map((r) => toDate(r.startedAt)),
      unique.map((r) => toDate(r.finishedAt)),
      unique.map((r) => Math.max(0, r.finishedAt - r.startedAt)),
      unique.map((r) => r.error ?? null),
      unique.map((r) => Math.max(0, Math.round(r.retryDelayMs ?? 0))),
      unique.map((r) => r.alreadyRecorded === true),
      nowParam(),
    ];
  }

  async function finishAttemptsOn(
    client: pg.Pool | pg.PoolClient,
    workerId: string,
    results: AttemptResult[],
  ): Promise<Claim[]> {
    const result = await queryRetryingDeadlocks(
      client,
      queryConfig('finish-attempts', bindFinishAttempts(workerId, results)),
    );
    return keepAppliedClaims(
      results.map(({ eventId, token }) => ({ eventId, token })),
      result.rows as { id: string; claim_token: number }[],
    );
  }

  // ---- Destinations (issue 14): the DeliveryStore role, in its own module ----
  const deliveries = createPostgresDeliveries({
    pools,
    nowParam,
    channel: deliveryChannel,
    query: queryRetryingDeadlocks,
    inOrder: (refs, work) => maybeOrdered('worker', refs, work),
  });

  /** One pending delivery per routed destination of each event `recorded` created (not of duplicates). */
  async function insertDeliveriesOn(
    client: pg.PoolClient,
    recorded: pg.QueryResult,
    events: NewEvent[],
  ): Promise<void> {
    const stored = new Set((recorded.rows as { id: string }[]).map((r) => r.id));
    const insert = deliveries.insertDeliveriesConfig(events, (event) => stored.has(event.id));
    if (insert) await client.query(insert);
  }

  /**
   * record-events.sql, then the pending deliveries of the events it stored as new, in one
   * transaction: a delivery exists exactly when its event does. A deadlock retries the whole.
   */
  async function recordWithDeliveries(record: pg.QueryConfig, events: NewEvent[]): Promise<pg.QueryResult> {
    const client = await pools.ingest.connect();
    let broken: Error | undefined;
    try {
      for (let attempt = 1; ; attempt++) {
        try {
          await client.query('BEGIN');
          const result = await client.query(record);
          await insertDeliveriesOn(client, result, events);
          await client.query('COMMIT');
          return result;
        } catch (error) {
          await client.query('ROLLBACK').catch((rollbackError: Error) => {
            broken = rollbackError;
          });
          if (broken || attempt >= 3 || classifyPostgresError(error) !== 'retry') throw error;
        }
      }
    } finally {
      client.release(broken ?? false);
    }
  }

  // ---- LISTEN/NOTIFY wake-ups: one dedicated connection per store, opened on first subscription ----
  const listeners = new Set<() => void>();
  const deliveryListeners = new Set<() => void>();
  const subscribed = () => listeners.size + deliveryListeners.size > 0;
  let listening: Promise<pg.Client> | null = null;
  let listenClient: pg.Client | null = null;
  let reconnectDelayMs = 500;

  function wakeListeners(which: Set<() => void> = listeners): void {
    for (const listener of which) {
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
      else if (message.channel === deliveryChannel) wakeListeners(deliveryListeners);
    });
    const onLost = () => handleListenerLost(client);
    client.on('error', onLost);
    client.on('end', onLost);
    try {
      await client.connect();
      await client.query(`LISTEN ${quoteIdentifier(channel)}; LISTEN ${quoteIdentifier(deliveryChannel)}`);
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

  /** Add a wake-up listener to one channel's set; the returned function removes it. */
  async function subscribe(
    which: Set<() => void>,
    action: string,
    listener: () => void,
  ): Promise<() => Promise<void>> {
    if (closed) throw storeUnavailable('PostgreSQL', action, new Error('the store is closed'));
    const wrapped = () => listener();
    which.add(wrapped);
    try {
      await startListening();
    } catch (error) {
      which.delete(wrapped);
      throw storeUnavailable('PostgreSQL', action, error);
    }
    return async () => {
      which.delete(wrapped);
      if (!subscribed()) await stopListening();
    };
  }

  function handleListenerLost(client: pg.Client): void {
    if (listenClient !== client) return;
    listenClient = null;
    listening = null;
    client.end().catch(noop);
    scheduleListenerReconnect();
  }

  function scheduleListenerReconnect(): void {
    if (closed || !subscribed()) return;
    const timer = setTimeout(async () => {
      if (closed || !subscribed() || listening) return;
      try {
        await startListening();
        reconnectDelayMs = 500;
        // Notifications sent while the connection was down are lost: wake everyone once.
        wakeListeners();
        wakeListeners(deliveryListeners);
      } catch {
        reconnectDelayMs = Math.min(reconnectDelayMs * 2, 30_000);
        scheduleListenerReconnect();
      }
    }, reconnectDelayMs);
    timer.unref();
  }

  const store: Store = {
    engine: 'postgres',
    ...deliveries.methods,

    async migrate() {
      // Its own connection without a statement deadline: a migration copies whole tables.
      const client = new pg.Client({ ...clientConfig, statement_timeout: 0 });
      client.on('error', noop);
      try {
        await client.connect();
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
      } catch (error) {
        await client.query('ROLLBACK').catch(noop);
        throw migrationError('PostgreSQL', current, error);
      } finally {
        await client.end().catch(noop);
      }
    },

    async ping() {
      try {
        await pools.queries.query('SELECT 1');
      } catch (error) {
        throw storeUnavailable('PostgreSQL', 'answer a ping', error);
      }
    },

    async close() {
      if (closed) return;
      closed = true;
      listeners.clear();
      deliveryListeners.clear();
      await stopListening();
      await Promise.all(Object.values(pools).map((pool) => pool.end().catch(noop)));
    },

    async now() {
      const rows = await run<{ now: Date }>('queries', 'read the clock', 'read-clock', [nowParam()]);
      return toMillis(rows[0]!.now);
    },

    async recordEvents(events, claim) {
      if (events.length === 0) return [];
      const groups = groupDeliveries(events);
      const bodies = Buffer.concat(groups.map((g) => g.event.body));
      const offsets: number[] = [];
      let offset = 1; // substring() counts bytes from 1
      for (const group of groups) {
        offsets.push(offset);
        offset += group.event.body.length;
      }
      let rows: {
        id: string;
        source: string;
        dedupe_key: string;
        status: EventStatus;
        delivery_count: number;
        claim_token: number;
        locked_at: Date | null;
        locked_until: Date | null;
        next_attempt_at: Date;
        updated_at: Date;
      }[];
      const orderingRefs = distinctOrderingRefs(
        groups.map((g) => g.event.ordering && { source: g.event.source, key: g.event.ordering.key }),
      );
      try {
        const record = queryConfig('record-events', [
          groups.map((g) => g.event.id),
          groups.map((g) => g.event.source),
          groups.map((g) => g.event.provider),
          groups.map((g) => g.event.dedupeKey),
          groups.map((g) => g.event.eventType),
          groups.map((g) => JSON.stringify(g.event.headers)),
          bodies,
          offsets,
          groups.map((g) => g.event.body.length),
          groups.map((g) => g.event.bodySha256),
          groups.map((g) => toDate(g.event.receivedAt)),
          groups.map((g) => g.positions.length),
          groups.map((g) => toDate(g.lastDeliveryAt)),
          groups.map((g) => isClaimedAtIngest(g, claim)),
          nowParam(),
          channel,
          claim?.workerId ?? null,
          claim?.leaseMs ?? 0,
          groups.map((g) => g.event.ordering?.key ?? null),
          groups.map((g) => toDate(g.event.ordering?.orderedAt)),
          groups.map((g) => g.event.ordering?.onDead ?? null),
          groups.map((g) => g.event.ordering?.holdMs ?? 0),
          groups.map((g) => unclaimedStatus(g.event)),
        ]);
        const recorded = groups.map((g) => g.event);
        // Destinations: only a batch with deliveries to write pays for a transaction around two
        // statements; ordering: only a batch with ordered events locks keys and promotes heads.
        const withDeliveries = recorded.some((event) => event.destinations?.length);
        const result =
          orderingRefs.length > 0
            ? await ordered('ingest', orderingRefs, async (client) => {
                const written = await client.query(record);
                if (withDeliveries) await insertDeliveriesOn(client, written, recorded);
                return written;
              })
            : withDeliveries
              ? await recordWithDeliveries(record, recorded)
              : await queryRetryingDeadlocks(pools.ingest, record);
        rows = result.rows;
      } catch (error) {
        if (classifyPostgresError(error) === 'row') throw rowRefused('PostgreSQL', error);
        throw storeUnavailable(
          'PostgreSQL',
          `record ${events.length} event(s); nothing of the batch was stored`,
          error,
        );
      }
      const byKey = new Map<string, RecordedRow>(
        rows.map((r) => [
          keyOf(r.source, r.dedupe_key),
          {
            id: r.id,
            status: r.status,
            deliveryCount: r.delivery_count,
            ...(r.locked_at && r.locked_until
              ? {
                  claim: {
                    token: r.claim_token,
                    lockedAt: toMillis(r.locked_at),
                    lockedUntil: toMillis(r.locked_until),
                    nextAttemptAt: toMillis(r.next_attempt_at),
                    updatedAt: toMillis(r.updated_at),
                  },
                }
              : {}),
          },
        ]),
      );
      return answerDeliveries(events.length, groups, (group) => {
        const row = byKey.get(keyOf(group.event.source, group.event.dedupeKey));
        if (!row) {
          throw new Error(
            `record-events returned no row for source ${group.event.source}: the upsert is broken.`,
          );
        }
        // A duplicate of an event someone holds is not this call's claim.
        if (row.id !== group.event.id || !isClaimedAtIngest(group, claim)) delete row.claim;
        return row;
      });
    },

    async claimEvents({ workerId, limit, leaseMs, excludeSources }) {
      if (limit <= 0) return [];
      const rows = await run<ClaimedEventRow>('worker', 'claim events', 'claim-events', [
        nowParam(),
        limit,
        workerId,
        leaseMs,
        excludeSources ?? [],
      ]);
      return sortByClaimOrder(rows.map(mapClaimedEventRow));
    },

    async claimEventById(id, { workerId, leaseMs, ignoreBackoff }) {
      const rows = await run<ClaimedEventRow>('worker', 'claim an event', 'claim-event-by-id', [
        nowParam(),
        id,
        workerId,
        leaseMs,
        ignoreBackoff === true,
      ]);
      return rows[0] ? mapClaimedEventRow(rows[0]) : null;
    },

    async extendLeases(claims, leaseMs) {
      if (claims.length === 0) return [];
      const rows = await run<{ id: string; claim_token: number }>(
        'leases',
        'extend leases',
        'extend-leases',
        [nowParam(), claims.map((c) => c.eventId), claims.map((c) => c.token), leaseMs],
      );
      return keepAppliedClaims(claims, rows);
    },

    async recordAttempts(workerId, records) {
      if (records.length === 0) return [];
      const unique = firstPerEvent(records);
      const rows = await run<{ id: string; claim_token: number }>(
        'worker',
        'record attempts',
        'record-attempts',
        [
          workerId,
          unique.map((r) => r.eventId),
          unique.map((r) => r.token),
          unique.map((r) => r.outcome),
          unique.map((r) => toDate(r.startedAt)),
          unique.map((r) => toDate(r.finishedAt)),
          unique.map((r) => r.error),
          nowParam(),
        ],
      );
      return keepAppliedClaims(records, rows).map(({ eventId, token }) => ({ eventId, token }));
    },

    async finishAttempts(workerId, results) {
      if (results.length === 0) return [];
      try {
        const refs = distinctOrderingRefs(results.map((r) => r.ordering));
        return await maybeOrdered('worker', refs, (client) => finishAttemptsOn(client, workerId, results));
      } catch (error) {
        // A value PostgreSQL cannot store in one verdict refuses the whole statement: say so, so
        // the worker isolates that verdict instead of retrying its neighbours with it.
        if (classifyPostgresError(error) === 'row') {
          throw new StoreRowRefusedError(
            `PostgreSQL refused a verdict's data (${errorMessage(error)}); none of the ${results.length} verdict(s) in this statement was applied`,
            { cause: error },
          );
        }
        throw storeUnavailable('PostgreSQL', 'finish attempts', error);
      }
    },

    async findExpiredLeases(limit) {
      const rows = await run<{
        id: string;
        claim_token: number;
        source: string;
        attempts: number;
        locked_by: string | null;
        locked_at: Date | null;
        ordering_key: string | null;
      }>('worker', 'find expired leases', 'find-expired-leases', [nowParam(), limit]);
      return rows.map((r) => ({
        ...(r.ordering_key !== null ? { ordering: { source: r.source, key: r.ordering_key } } : {}),
        eventId: r.id,
        token: Number(r.claim_token),
        source: r.source,
        attempts: Number(r.attempts),
        lockedBy: r.locked_by,
        lockedAt: r.locked_at ? toMillis(r.locked_at) : null,
      }));
    },

    async reclaimExpiredLeases(reclaims) {
      if (reclaims.length === 0) return [];
      const unique = firstPerEvent(reclaims);
      const values = [
        nowParam(),
        unique.map((r) => r.eventId),
        unique.map((r) => r.token),
        unique.map((r) => r.outcome),
        unique.map((r) => Math.max(0, Math.round(r.retryDelayMs))),
        unique.map((r) => r.lockedBy),
        unique.map((r) => toDate(r.lockedAt)),
      ];
      const refs = distinctOrderingRefs(unique.map((r) => r.ordering));
      let result: pg.QueryResult<{ id: string }>;
      try {
        result = await maybeOrdered('worker', refs, (client) =>
          runOn<{ id: string }>(client, 'reclaim expired leases', 'reclaim-expired-leases', values),
        );
      } catch (error) {
        if (error instanceof StoreUnavailableError) throw error;
        throw storeUnavailable('PostgreSQL', 'reclaim expired leases', error);
      }
      return result.rows.map((r) => r.id);
    },

    async beginEventTransaction() {
      return beginEventTransaction();
    },

    onEventsRecorded(listener) {
      return subscribe(listeners, 'listen for new events', listener);
    },

    onDeliveriesDue(listener) {
      return subscribe(deliveryListeners, 'listen for due deliveries', listener);
    },

    async getEvent(id) {
      const rows = await run<EventRow>('queries', 'read an event', 'get-event', [id]);
      return rows[0] ? mapEventRow(rows[0]) : null;
    },

    async findEventByDedupeKey(source, dedupeKey) {
      const rows = await run<EventRow>('queries', 'read an event', 'find-event-by-dedupe-key', [
        source,
        dedupeKey,
      ]);
      return rows[0] ? mapEventRow(rows[0]) : null;
    },

    async listAttempts(eventId) {
      const rows = await run<AttemptRow>('queries', 'list attempts', 'list-attempts', [eventId]);
      return rows.map(mapAttemptRow);
    },

    async listEvents(query) {
      const rows = await run<EventSummaryRow>('queries', 'list events', 'list-events', [
        ...bindFilter(query),
        query.cursor ?? null,
        query.limit + 1,
      ]);
      const page = rows.slice(0, query.limit).map(mapEventSummaryRow);
      const more = rows.length > query.limit;
      return { events: page, nextCursor: more ? (page.at(-1)?.id ?? null) : null };
    },

    async countEvents(filter) {
      return runCount('queries', 'count events', 'count-events', bindFilter(filter));
    },

    async listRetryableEvents(limit) {
      const rows = await run<EventSummaryRow>('queries', 'list retryable events', 'list-retryable-events', [
        nowParam(),
        limit,
      ]);
      return rows.map(mapEventSummaryRow);
    },

    async markProcessed(id) {
      return (await store.bulkMarkProcessed([id])) === 1;
    },

    async bulkMarkProcessed(ids) {
      if (ids.length === 0) return 0;
      const unique = [...new Set(ids)];
      const result = await operatorWrite(await orderingKeysOf(unique), 'mark events processed', (client) =>
        runOn<{ id: string }>(client, 'mark events processed', 'mark-processed', [unique, nowParam()]),
      );
      return result.rows.length;
    },

    async markFailed(id, error, retryDelayMs, maxAttempts) {
      const result = await operatorWrite(await orderingKeysOf([id]), 'mark an event failed', (client) =>
        runOn<{ id: string }>(client, 'mark an event failed', 'mark-failed', [
          id,
          error,
          Math.max(0, Math.round(retryDelayMs)),
          maxAttempts,
          nowParam(),
        ]),
      );
      return result.rows[0] ? store.getEvent(id) : null;
    },

    async requeueEvents(filter) {
      if (filter.ids && filter.ids.length === 0) return 0;
      const values = [...bindFilter(filter), filter.ids ?? null, nowParam()];
      // The keys first (a read with the same filter), so their locks come before any row lock.
      const keyRows = await run<{ source: string; ordering_key: string }>(
        'queries',
        'read ordering keys',
        'list-requeue-ordering-keys',
        values.slice(0, 8),
      );
      const refs = keyRows.map((r) => ({ source: r.source, key: r.ordering_key }));
      const result = await operatorWrite(refs, 'requeue events', (client) =>
        runOn(client, 'requeue events', 'requeue-events', [
          ...values,
          refs.map((r) => r.source),
          refs.map((r) => r.key),
        ]),
      );
      return result.rowCount ?? 0;
    },

    async deleteEvent(id) {
      const result = await operatorWrite(await orderingKeysOf([id]), 'delete an event', (client) =>
        runOn<{ count: string }>(client, 'delete an event', 'delete-event', [id]),
      );
      return Number(result.rows[0]?.count ?? 0) > 0;
    },

    async listBlockedKeys(limit) {
      const rows = await run<BlockedKeyRow>('queries', 'list blocked keys', 'list-blocked-keys', [limit]);
      return rows.map(mapBlockedKeyRow);
    },

    async unblockKey(source, key, action) {
      const refs = [{ source, key }];
      return operatorWrite(refs, 'unblock a key', async (client) => {
        const blocked = await runOn<{ id: string }>(client, 'unblock a key', 'skip-blocked-head', [
          source,
          key,
          nowParam(),
          action === 'skip',
        ]);
        const head = blocked.rows[0]?.id;
        if (!head) return null;
        if (action === 'retry') {
          await runOn(client, 'requeue the head', 'requeue-events', [
            null,
            null,
            null,
            null,
            null,
            null,
            null,
            [head],
            nowParam(),
            [source],
            [key],
          ]);
        }
        return head;
      });
    },

    async deleteProcessedBefore(before, limit) {
      return runCount('queries', 'delete processed events', 'delete-processed-before', [
        toDate(before),
        limit ?? null,
      ]);
    },

    async scrubBodiesBefore(before, scrubOptions = {}) {
      const rows = await run<{ count: string; last_id: string | null }>(
        'queries',
        'scrub bodies of processed events',
        'scrub-bodies-before',
        [toDate(before), nowParam(), scrubOptions.afterId ?? '', scrubOptions.limit ?? null],
      );
      return { count: Number(rows[0]?.count ?? 0), lastId: rows[0]?.last_id ?? null };
    },

    async listFinishedEvents(before, afterId, limit) {
      const rows = await run<EventRow>('queries', 'list finished events', 'list-finished-events', [
        toDate(before),
        afterId,
        limit,
      ]);
      return rows.map(mapArchivableRow);
    },

    async deleteFinishedEvents(ids, before) {
      if (ids.length === 0) return 0;
      return runCount('queries', 'delete archived events', 'delete-finished-events', [ids, toDate(before)]);
    },

    async findDuplicateBodies(limit) {
      const rows = await run<{
        source: string;
        body_sha256: string;
        count: string;
        event_ids: string[];
        dedupe_keys: string[];
      }>('queries', 'find duplicate bodies', 'find-duplicate-bodies', [limit]);
      return rows.map((row) => ({
        source: row.source,
        bodySha256: row.body_sha256,
        count: Number(row.count),
        eventIds: row.event_ids,
        dedupeKeys: row.dedupe_keys,
      }));
    },

    async listRedeliveredEvents(limit) {
      const rows = await run<EventSummaryRow>(
        'queries',
        'list redelivered events',
        'list-redelivered-events',
        [limit],
      );
      return rows.map(mapEventSummaryRow);
    },

    async getStatistics() {
      const [groups, oldest] = await Promise.all([
        run<EventGroupRow>('queries', 'read statistics', 'summarize-events', [null, null]),
        run<{ id: string; source: string; event_type: string; received_at: Date }>(
          'queries',
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

    async countHeldLongerThan(ms) {
      return runCount('queries', 'count held events', 'count-held-longer-than', [nowParam(), ms]);
    },

    async aggregateWindow(since, until, maxSamples) {
      const window = [toDate(since), toDate(until)];
      const action = 'aggregate the monitoring window';
      const [groupRows, durations, latencies, failed] = await Promise.all([
        run<EventGroupRow>('queries', action, 'summarize-events', [
          eventIdFloor(since),
          eventIdFloor(until + 1),
        ]),
        run<{ duration_ms: string }>('queries', action, 'list-attempt-durations', [...window, maxSamples]),
        run<{ latency: number }>('queries', action, 'list-processing-latencies', [...window, maxSamples]),
        run<{ count: string }>('queries', action, 'count-failed-attempts', window),
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

    async aggregateTimeSeries(since, until, bucketMs) {
      const rows = await run<TimeSeriesRow>('queries', 'aggregate the time series', 'aggregate-time-series', [
        toDate(since),
        toDate(until),
        bucketMs,
        eventIdFloor(since),
        eventIdFloor(until + 1),
      ]);
      return foldTimeSeries(rows, since, until, bucketMs);
    },
  };

  /**
   * A transaction a handler may write through, on the handlers' own pool. No connection is
   * taken until the handler's first query, so handlers that never use it cost nothing and
   * complete via finishAttempts.
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
          const client = await pools.handlers.connect();
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

      async commitWith(workerId, result) {
        if (result.outcome !== 'processed') {
          await transaction.rollback();
          throw new Error(
            `commitWith applies only a processed result, got "${result.outcome}": roll back the handler's writes and report the outcome with finishAttempts.`,
          );
        }
        if (finished) throw new Error('This event transaction is already committed or rolled back.');
        if (!opening) {
          finished = true;
          const applied = await store.finishAttempts(workerId, [result]);
          return applied.length > 0;
        }
        finished = true;
        const client = await opening;
        let applied: Claim[];
        try {
          applied = result.ordering
            ? await orderWithin(
                client,
                { refs: [result.ordering], now: nowParam, channel, run: runOrderingStatement },
                (c) => finishAttemptsOn(c, workerId, [result]),
              )
            : await finishAttemptsOn(client, workerId, [result]);
          // A lost claim rolls back: the handler's writes must not outlive the event's new holder.
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
