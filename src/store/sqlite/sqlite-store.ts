import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import { type Clock, systemClock } from '../../clock.ts';
import { eventIdFloor } from '../../ids.ts';
import { type BlockedKeyRow, mapBlockedKeyRow } from '../blocked-keys.ts';
import { migrationError, readMigrations, selectPendingMigrations } from '../migrate.ts';
import {
  answerDeliveries,
  groupDeliveries,
  isClaimedAtIngest,
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
} from '../rows.ts';
import { readSqlFiles } from '../sql-files.ts';
import { foldTimeSeries, type TimeSeriesRow } from '../time-series.ts';
import type {
  AttemptResult,
  Claim,
  ClaimedEvent,
  EventFilter,
  EventStatus,
  FinishedAttempts,
  OrderingRef,
  Store,
  SuccessorClaimOptions,
} from '../types.ts';
import { promoteOrderingKeys, refOf } from './ordering.ts';
import { createSqliteDeliveries } from './sqlite-deliveries.ts';

const statementNames = [
  'create-migrations-table',
  'list-applied-migrations',
  'record-migration',
  'insert-event',
  'count-duplicate',
  'insert-event-body',
  'claim-events',
  'claim-event-by-id',
  'read-event-body',
  'extend-lease',
  'note-held-attempt',
  'finish-attempt',
  'record-finished-attempt',
  'insert-attempt',
  'find-expired-leases',
  'reclaim-expired-lease',
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
  'delete-finished-events',
  'delete-attempts',
  'delete-bodies',
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
  'last-scrub-candidate',
  'list-finished-events',
  // Ordering (src/store/sqlite/ordering.ts).
  'promote-ordering-key',
  'list-ordering-keys',
  'list-blocked-keys',
  'skip-blocked-head',
] as const;
type StatementName = (typeof statementNames)[number];

/** How long a write waits for another connection's lock before failing (SQLITE_BUSY). */
const busyTimeoutMs = 5000;
/** The wait once a write has timed out, until a write succeeds again. */
const stuckLockTimeoutMs = 100;

export interface SqliteStoreOptions {
  /** A file path (its folder is created when missing) or `:memory:`. */
  path: string;
  /** The time leases and due times are decided by; default the system clock (tests inject one). */
  clock?: Clock;
}

/**
 * What an engine error means for the call that got it: a constraint the row broke, a value too
 * big or of the wrong type is that row's fault; anything else (busy, full, I/O, read-only,
 * corrupt) means the store is unavailable.
 */
export function classifySqliteError(error: unknown): 'row' | 'unavailable' {
  const code = String((error as { code?: unknown } | null)?.code ?? '');
  return /^SQLITE_(CONSTRAINT|TOOBIG|MISMATCH)/.test(code) ? 'row' : 'unavailable';
}

/** Filter parameters bound as NULL when absent, matching the `(@x IS NULL OR ...)` SQL. */
function bindFilter(filter: EventFilter) {
  const statuses = normalizeStatuses(filter.status);
  return {
    source: filter.source ?? null,
    provider: filter.provider ?? null,
    statuses: statuses ? JSON.stringify(statuses) : null,
    eventType: filter.eventType ?? null,
    sinceId: filter.since === undefined ? null : eventIdFloor(filter.since),
    untilId: filter.until === undefined ? null : eventIdFloor(filter.until),
    search: filter.search ?? null,
  };
}

/**
 * A migration that edits the schema text (SQLite's documented way to widen a CHECK, see
 * migrations/005) switches writable_schema on; better-sqlite3's defensive mode forbids that
 * unless unsafe mode is on for the migration, and other connections re-read the schema only
 * once schema_version moves.
 */
function applySqliteMigration(db: Database.Database, migrationSql: string): void {
  const rewritesSchema = /PRAGMA\s+writable_schema\s*=\s*ON/i.test(migrationSql);
  if (!rewritesSchema) {
    db.exec(migrationSql);
    return;
  }
  const version = db.pragma('schema_version', { simple: true }) as number;
  db.unsafeMode(true);
  try {
    db.exec(migrationSql);
    db.pragma(`schema_version = ${version + 1}`);
  } finally {
    db.unsafeMode(false);
  }
}

/**
 * The embedded store: one SQLite file in WAL mode, fsynced on every commit. better-sqlite3 is
 * synchronous, so each method runs to completion before the event loop moves on; write
 * transactions are IMMEDIATE so several processes sharing the file wait on busy_timeout
 * instead of failing a lock upgrade halfway. Every lease and verdict is fenced by its claim
 * token.
 */
export function createSqliteStore(options: SqliteStoreOptions): Store {
  const { path } = options;
  const clock = options.clock ?? systemClock;
  const inMemory = path === ':memory:' || path === '';
  if (!inMemory) mkdirSync(dirname(path), { recursive: true });

  const sql = readSqlFiles(new URL('./sql/', import.meta.url), statementNames);
  const migrations = readMigrations(new URL('./migrations/', import.meta.url));

  let db: Database.Database;
  try {
    db = new Database(path);
    // busy_timeout first, so switching to WAL waits for another process opening the file.
    db.pragma(`busy_timeout = ${busyTimeoutMs}`);
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = FULL');
  } catch (error) {
    throw storeUnavailable('SQLite', `open the database at ${path}`, error);
  }

  // Prepared on first use, not at creation: SQLite compiles against the schema, which does
  // not exist until migrate() has run.
  const prepared = new Map<StatementName, Database.Statement>();
  function statement(name: StatementName): Database.Statement {
    let stmt = prepared.get(name);
    if (!stmt) {
      stmt = db.prepare(sql[name]);
      prepared.set(name, stmt);
    }
    return stmt;
  }

  function attempt<T>(action: string, work: () => T): T {
    try {
      return work();
    } catch (error) {
      throw storeUnavailable('SQLite', action, error);
    }
  }

  // better-sqlite3 waits for a lock synchronously, holding the event loop. After one write has
  // waited the whole busy_timeout, the lock is taken to be stuck (another process holds it) and
  // later writes wait only briefly until one succeeds, so deliveries get their 503 at once
  // instead of queueing behind one 5 s wait after another.
  let lockStuck = false;
  function immediate<T>(action: string, work: () => T): T {
    const waitBriefly = lockStuck;
    if (waitBriefly) db.pragma(`busy_timeout = ${stuckLockTimeoutMs}`);
    try {
      const result = db.transaction(work).immediate();
      lockStuck = false;
      return result;
    } catch (error) {
      if (/^SQLITE_BUSY/.test(String((error as { code?: unknown }).code))) lockStuck = true;
      throw storeUnavailable('SQLite', action, error);
    } finally {
      if (waitBriefly) db.pragma(`busy_timeout = ${busyTimeoutMs}`);
    }
  }

  /**
   * SQLite has one writer: the hot writes that arrive in one turn of the event loop (a batch of
   * deliveries from group commit, a batch of verdicts from the worker) share one transaction, one
   * commit and one write of each page they both touch (a just-claimed event's row is usually on
   * the page its verdict rewrites). If the shared transaction fails, each write runs again alone,
   * so each caller learns about its own write only.
   */
  let sharedWrites: {
    action: string;
    work: () => unknown;
    settle: (error: unknown, value?: unknown) => void;
  }[] = [];
  function inSharedTransaction<T>(action: string, work: () => T): Promise<T> {
    return new Promise((resolve, reject) => {
      sharedWrites.push({
        action,
        work,
        settle: (error, value) => (error === undefined ? resolve(value as T) : reject(error)),
      });
      if (sharedWrites.length === 1) setImmediate(runSharedWrites);
    });
  }
  function runSharedWrites(): void {
    const writes = sharedWrites;
    sharedWrites = [];
    if (writes.length > 1) {
      let values: unknown[] | undefined;
      try {
        values = immediate(`write ${writes.length} batches together`, () => writes.map((w) => w.work()));
      } catch {
        // Rolled back whole: below, each write is tried on its own.
      }
      if (values) {
        for (const [i, write] of writes.entries()) write.settle(undefined, values[i]);
        return;
      }
    }
    for (const write of writes) {
      try {
        write.settle(undefined, immediate(write.action, write.work));
      } catch (error) {
        write.settle(error);
      }
    }
  }

  // Destinations (issue 14): the DeliveryStore role, in its own module.
  const deliveries = createSqliteDeliveries({
    db: () => db,
    clock,
    immediate,
    attempt,
    // Ordering (docs/ordering.md): a delivering event that settles frees its key for the next.
    promoteKeysOf: (eventIds, now) => eventIds.length > 0 && promote(orderingKeysOf(eventIds), now),
    wakePromoted: () => notifyPromoted(),
  });

  const listeners = new Set<() => void>();

  /** After a commit that promoted ordered events: their handlers and their deliveries are due. */
  function notifyPromoted(): void {
    notifyListeners();
    deliveries.notifyDue();
  }

  function notifyListeners(): void {
    for (const listener of listeners) {
      try {
        listener();
      } catch {
        // A wake-up listener failing must not fail the write that was already committed;
        // workers also poll, so a missed wake-up only delays work.
      }
    }
  }

  function insertAttempt(row: {
    eventId: string;
    attemptNumber: number;
    workerId: string;
    startedAt: number;
    finishedAt: number;
    outcome: string;
    error: string | null;
  }): void {
    statement('insert-attempt').run({ ...row, durationMs: Math.max(0, row.finishedAt - row.startedAt) });
  }

  function markProcessedIds(ids: string[], now: number): string[] {
    const rows = statement('mark-processed').all({ ids: JSON.stringify(ids), now }) as {
      id: string;
      attempts: number;
    }[];
    for (const row of rows) {
      insertAttempt({
        eventId: row.id,
        attemptNumber: row.attempts,
        workerId: 'manual',
        startedAt: now,
        finishedAt: now,
        outcome: 'processed',
        error: null,
      });
    }
    return rows.map((r) => r.id);
  }

  /** Claimed rows come back without their bodies (RETURNING sees only `events`): add them. */
  function withBodies(rows: ClaimedEventRow[]): ClaimedEvent[] {
    return rows.map((row) => {
      const body = statement('read-event-body').get({ id: row.id }) as
        | Pick<EventRow, 'headers' | 'body' | 'body_sha256'>
        | undefined;
      if (!body) throw new Error(`event ${row.id} has no body row: the store is inconsistent.`);
      return mapClaimedEventRow({ ...row, ...body });
    });
  }

  // ---- Ordering (docs/ordering.md): a write that changes keys' events promotes their heads ----
  /** Promote these keys' heads (inside the caller's transaction); true when an event became runnable. */
  function promote(refs: Iterable<OrderingRef | null | undefined>, now: number): boolean {
    return promoteOrderingKeys(statement, refs, now).promoted > 0;
  }
  function orderingKeysOf(ids: string[]): OrderingRef[] {
    const rows = statement('list-ordering-keys').all({ ids: JSON.stringify(ids) }) as {
      source: string;
      ordering_key: string;
    }[];
    return rows.map((r) => ({ source: r.source, key: r.ordering_key }));
  }

  /** An operator's write, then the promotion of the keys it touched, in one IMMEDIATE transaction. */
  function writeAndPromote<T>(
    action: string,
    work: (now: number) => { value: T; refs: Iterable<OrderingRef | null | undefined> },
  ): T {
    const now = clock.now();
    let promoted = false;
    const value = immediate(action, () => {
      const result = work(now);
      promoted = promote(result.refs, now);
      return result.value;
    });
    if (promoted) notifyPromoted();
    return value;
  }

  /** Deletes what goes with deleted events (no foreign keys: see migration 003). */
  function deleteBelongings(ids: string[]): number {
    if (ids.length === 0) return 0;
    const list = JSON.stringify(ids);
    statement('delete-attempts').run({ ids: list });
    statement('delete-bodies').run({ ids: list });
    deliveries.deleteDeliveriesOf(list);
    return ids.length;
  }

  /**
   * Verdicts in one shared transaction, then the promotion of their keys, in which, with `next`,
   * the heads of the keys they left are claimed for the same worker instead (docs/ordering.md).
   */
  async function finishAndClaimNext(
    workerId: string,
    results: AttemptResult[],
    next: SuccessorClaimOptions | null,
  ): Promise<FinishedAttempts> {
    if (results.length === 0) return { applied: [], claimed: [] };
    const now = clock.now();
    let promoted = false;
    let claimed: ClaimedEvent[] = [];
    const applied = await inSharedTransaction('finish attempts', () => {
      promoted = false;
      claimed = [];
      const applied: Claim[] = [];
      const orderingRefs: OrderingRef[] = [];
      for (const result of firstPerEvent(results)) {
        const fence = { eventId: result.eventId, token: result.token };
        // The audit row first: it reads the attempt number off the held row, and its own fence
        // says whether the verdict applies (then the update below applies too).
        if (!result.alreadyRecorded) {
          const recorded = statement('record-finished-attempt').run({
            ...fence,
            workerId,
            startedAt: result.startedAt,
            finishedAt: result.finishedAt,
            durationMs: Math.max(0, result.finishedAt - result.startedAt),
            outcome: result.outcome,
            error: result.error ?? null,
          });
          if (recorded.changes === 0) continue;
        }
        const finished = statement('finish-attempt').run({
          ...fence,
          outcome: result.outcome,
          error: result.error ?? null,
          retryDelayMs: Math.max(0, Math.round(result.retryDelayMs ?? 0)),
          now,
        });
        if (finished.changes === 0) continue;
        if (result.outcome === 'processed' || result.outcome === 'ignored') {
          deliveries.settleAfterHandlers(result.eventId);
        }
        applied.push({ eventId: result.eventId, token: result.token });
        if (result.ordering) orderingRefs.push(result.ordering);
      }
      if (orderingRefs.length > 0) {
        const take = next ? { ...next, workerId, lockedUntil: now + next.leaseMs } : undefined;
        const moved = promoteOrderingKeys(statement, orderingRefs, now, take);
        promoted = moved.promoted > 0;
        claimed = withBodies(moved.taken);
      }
      return applied;
    });
    if (promoted) notifyPromoted();
    // A taken event's deliveries are due as a promoted one's are.
    else if (claimed.length > 0) deliveries.notifyDue();
    return { applied, claimed: sortByClaimOrder(claimed) };
  }

  const store: Store = {
    engine: 'sqlite',
    ...deliveries.methods,

    async migrate() {
      let current: (typeof migrations)[number] | null = null;
      try {
        db.transaction(() => {
          db.exec(sql['create-migrations-table']);
          const applied = db.prepare(sql['list-applied-migrations']).pluck().all() as number[];
          const record = db.prepare(sql['record-migration']);
          for (const migration of selectPendingMigrations(migrations, applied)) {
            current = migration;
            applySqliteMigration(db, migration.sql);
            record.run({ version: migration.version, name: migration.name, appliedAt: Date.now() });
          }
          current = null;
        }).immediate();
      } catch (error) {
        throw migrationError('SQLite', current, error);
      }
      // SQLite re-prepares cached statements after a schema change by itself; dropping them
      // here just keeps no statement compiled against a schema that no longer exists.
      prepared.clear();
    },

    async ping() {
      attempt('answer a ping', () => db.prepare('SELECT 1').get());
    },

    async close() {
      listeners.clear();
      deliveries.close();
      if (db.open) db.close();
    },

    async now() {
      return clock.now();
    },

    async recordEvents(events, claim) {
      if (events.length === 0) return [];
      const groups = groupDeliveries(events);
      const recorded = new Map<(typeof groups)[number], RecordedRow>();
      const now = clock.now();
      let unclaimedNew = false;
      let promoted = false;
      let deliveriesCreated = false;
      try {
        await inSharedTransaction(`record ${events.length} event(s); nothing of the batch was stored`, () => {
          // From scratch each time: a shared transaction that failed runs this again on its own.
          recorded.clear();
          unclaimedNew = false;
          promoted = false;
          deliveriesCreated = false;
          const orderingRefs: OrderingRef[] = [];
          const insertEvent = statement('insert-event');
          const insertBody = statement('insert-event-body');
          const lockedUntil = now + (claim?.leaseMs ?? 0);
          const workerId = claim?.workerId ?? null;
          for (const group of groups) {
            const { event } = group;
            const claimed = isClaimedAtIngest(group, claim);
            const { ordering } = event;
            if (ordering) orderingRefs.push({ source: event.source, key: ordering.key });
            const status = claimed ? 'processing' : unclaimedStatus(event);
            const inserted = insertEvent.run(
              event.id,
              event.source,
              event.provider,
              event.dedupeKey,
              event.eventType,
              status,
              claimed ? 1 : 0,
              claimed ? 1 : 0,
              ordering ? now + ordering.holdMs : now,
              claimed ? workerId : null,
              claimed ? now : null,
              claimed ? lockedUntil : null,
              event.receivedAt,
              group.positions.length,
              group.lastDeliveryAt,
              now,
              ordering?.key ?? null,
              ordering?.orderedAt ?? null,
              ordering?.onDead ?? null,
            );
            if (inserted.changes === 1) {
              insertBody.run(event.id, JSON.stringify(event.headers), event.body, event.bodySha256);
              if (status === 'pending') unclaimedNew = true;
              if (event.destinations?.length) {
                deliveries.insertDeliveries(event.id, event.source, event.destinations, now);
                deliveriesCreated = true;
              }
              // A new row holds exactly what was written: no need to read it back.
              recorded.set(group, {
                id: event.id,
                status,
                deliveryCount: group.positions.length,
                ...(claimed
                  ? { claim: { token: 1, lockedAt: now, lockedUntil, nextAttemptAt: now, updatedAt: now } }
                  : {}),
              });
              continue;
            }
            const row = statement('count-duplicate').get(
              group.positions.length,
              group.lastDeliveryAt,
              now,
              event.source,
              event.dedupeKey,
            ) as { id: string; status: EventStatus; delivery_count: number };
            recorded.set(group, { id: row.id, status: row.status, deliveryCount: row.delivery_count });
          }
          if (orderingRefs.length > 0) promoted = promote(orderingRefs, now);
        });
      } catch (error) {
        const cause = (error as { cause?: unknown }).cause;
        if (classifySqliteError(cause) === 'row') throw rowRefused('SQLite', cause);
        throw error;
      }
      const results = answerDeliveries(events.length, groups, (group) => recorded.get(group)!);
      if (unclaimedNew) notifyListeners();
      if (promoted) notifyPromoted();
      if (deliveriesCreated) deliveries.notifyDue();
      return results;
    },

    async claimEvents({ workerId, limit, leaseMs, excludeSources }) {
      if (limit <= 0) return [];
      const now = clock.now();
      const events = immediate('claim events', () =>
        withBodies(
          statement('claim-events').all({
            workerId,
            now,
            lockedUntil: now + leaseMs,
            limit,
            excludedSources: excludeSources?.length ? JSON.stringify(excludeSources) : null,
          }) as ClaimedEventRow[],
        ),
      );
      return sortByClaimOrder(events);
    },

    async claimEventById(id, { workerId, leaseMs, ignoreBackoff }) {
      const now = clock.now();
      const events = immediate('claim an event', () =>
        withBodies(
          statement('claim-event-by-id').all({
            id,
            workerId,
            now,
            lockedUntil: now + leaseMs,
            ignoreBackoff: ignoreBackoff ? 1 : 0,
          }) as ClaimedEventRow[],
        ),
      );
      return events[0] ?? null;
    },

    async extendLeases(claims, leaseMs) {
      if (claims.length === 0) return [];
      const now = clock.now();
      return immediate('extend leases', () =>
        claims.filter(
          (claim) =>
            statement('extend-lease').get({
              eventId: claim.eventId,
              token: claim.token,
              lockedUntil: now + leaseMs,
              now,
            }) !== undefined,
        ),
      );
    },

    async recordAttempts(workerId, records) {
      if (records.length === 0) return [];
      const now = clock.now();
      return immediate('record attempts', () => {
        const applied: Claim[] = [];
        for (const record of firstPerEvent(records)) {
          const row = statement('note-held-attempt').get({
            eventId: record.eventId,
            token: record.token,
            error: record.error,
            now,
          }) as { id: string; attempts: number } | undefined;
          if (!row) continue;
          insertAttempt({
            eventId: row.id,
            attemptNumber: row.attempts,
            workerId,
            startedAt: record.startedAt,
            finishedAt: record.finishedAt,
            outcome: record.outcome,
            error: record.error,
          });
          applied.push({ eventId: record.eventId, token: record.token });
        }
        return applied;
      });
    },

    async finishAttempts(workerId, results) {
      return (await finishAndClaimNext(workerId, results, null)).applied;
    },

    finishAttemptsAndClaimNext: finishAndClaimNext,

    async findExpiredLeases(limit) {
      const rows = attempt('find expired leases', () =>
        statement('find-expired-leases').all({ now: clock.now(), limit }),
      ) as {
        id: string;
        claim_token: number;
        source: string;
        attempts: number;
        locked_by: string | null;
        locked_at: number | null;
        ordering_key: string | null;
      }[];
      return rows.map((r) => ({
        ...(r.ordering_key !== null ? { ordering: { source: r.source, key: r.ordering_key } } : {}),
        eventId: r.id,
        token: r.claim_token,
        source: r.source,
        attempts: r.attempts,
        lockedBy: r.locked_by,
        lockedAt: r.locked_at,
      }));
    },

    async reclaimExpiredLeases(reclaims) {
      if (reclaims.length === 0) return [];
      const now = clock.now();
      let promoted = false;
      const ids = immediate('reclaim expired leases', () => {
        const reclaimed: string[] = [];
        const orderingRefs: OrderingRef[] = [];
        for (const reclaim of firstPerEvent(reclaims)) {
          const error = `lease expired (worker ${reclaim.lockedBy ?? 'unknown'} stopped before finishing)`;
          const row = statement('reclaim-expired-lease').get({
            eventId: reclaim.eventId,
            token: reclaim.token,
            outcome: reclaim.outcome,
            retryDelayMs: Math.max(0, Math.round(reclaim.retryDelayMs)),
            error,
            now,
          }) as { id: string; attempts: number } | undefined;
          if (!row) continue;
          insertAttempt({
            eventId: row.id,
            attemptNumber: row.attempts,
            workerId: reclaim.lockedBy ?? 'unknown',
            startedAt: reclaim.lockedAt ?? now,
            finishedAt: now,
            outcome: 'lease_expired',
            error,
          });
          reclaimed.push(row.id);
          if (reclaim.ordering) orderingRefs.push(reclaim.ordering);
        }
        promoted = orderingRefs.length > 0 && promote(orderingRefs, now);
        return reclaimed;
      });
      if (promoted) notifyPromoted();
      return ids.sort();
    },

    async beginEventTransaction() {
      // Handlers on SQLite cannot share the store's transaction: better-sqlite3 is synchronous
      // and a handler awaits, so the worker completes through finishAttempts instead.
      return null;
    },

    async onEventsRecorded(listener) {
      // One process per SQLite file receives, so in-process wake-ups reach every worker that can
      // share this store instance.
      const wrapped = () => listener();
      listeners.add(wrapped);
      return async () => {
        listeners.delete(wrapped);
      };
    },

    async getEvent(id) {
      const row = attempt('read an event', () => statement('get-event').get({ id })) as EventRow | undefined;
      return row ? mapEventRow(row) : null;
    },

    async findEventByDedupeKey(source, dedupeKey) {
      const row = attempt('read an event', () =>
        statement('find-event-by-dedupe-key').get({ source, dedupeKey }),
      ) as EventRow | undefined;
      return row ? mapEventRow(row) : null;
    },

    async listAttempts(eventId) {
      const rows = attempt('list attempts', () =>
        statement('list-attempts').all({ eventId }),
      ) as AttemptRow[];
      return rows.map(mapAttemptRow);
    },

    async listEvents(query) {
      const rows = attempt('list events', () =>
        statement('list-events').all({
          ...bindFilter(query),
          cursor: query.cursor ?? null,
          limit: query.limit + 1,
        }),
      ) as EventSummaryRow[];
      const page = rows.slice(0, query.limit).map(mapEventSummaryRow);
      const more = rows.length > query.limit;
      return { events: page, nextCursor: more ? (page.at(-1)?.id ?? null) : null };
    },

    async countEvents(filter) {
      const row = attempt('count events', () => statement('count-events').get(bindFilter(filter))) as {
        count: number;
      };
      return row.count;
    },

    async listRetryableEvents(limit) {
      const rows = attempt('list retryable events', () =>
        statement('list-retryable-events').all({ now: clock.now(), limit }),
      ) as EventSummaryRow[];
      return rows.map(mapEventSummaryRow);
    },

    async markProcessed(id) {
      return (await store.bulkMarkProcessed([id])) === 1;
    },

    async bulkMarkProcessed(ids) {
      if (ids.length === 0) return 0;
      const unique = [...new Set(ids)];
      return writeAndPromote('mark events processed', (now) => ({
        refs: orderingKeysOf(unique),
        value: markProcessedIds(unique, now),
      })).length;
    },

    async markFailed(id, error, retryDelayMs, maxAttempts) {
      const changed = writeAndPromote('mark an event failed', (now) => {
        const refs = orderingKeysOf([id]);
        const updated = statement('mark-failed').get({
          id,
          error,
          retryDelayMs: Math.max(0, Math.round(retryDelayMs)),
          maxAttempts,
          now,
        }) as { id: string; status: string; attempts: number } | undefined;
        if (updated) {
          insertAttempt({
            eventId: id,
            attemptNumber: updated.attempts,
            workerId: 'manual',
            startedAt: now,
            finishedAt: now,
            outcome: updated.status,
            error,
          });
        }
        return { refs, value: updated !== undefined };
      });
      return changed ? store.getEvent(id) : null;
    },

    async requeueEvents(filter) {
      if (filter.ids && filter.ids.length === 0) return 0;
      return writeAndPromote('requeue events', (now) => {
        const rows = statement('requeue-events').all({
          ...bindFilter(filter),
          ids: filter.ids ? JSON.stringify(filter.ids) : null,
          now,
        }) as { source: string; ordering_key: string | null }[];
        return { refs: rows.map(refOf), value: rows.length };
      });
    },

    async deleteEvent(id) {
      return writeAndPromote('delete an event', () => {
        const refs = orderingKeysOf([id]);
        const rows = statement('delete-event').all({ id }) as { id: string }[];
        return { refs, value: deleteBelongings(rows.map((r) => r.id)) > 0 };
      });
    },

    async listBlockedKeys(limit) {
      const rows = attempt('list blocked keys', () =>
        statement('list-blocked-keys').all({ limit }),
      ) as BlockedKeyRow[];
      return rows.map(mapBlockedKeyRow);
    },

    async unblockKey(source, key, action) {
      return writeAndPromote('unblock a key', (now) => {
        const head = statement('skip-blocked-head').get({
          source,
          key,
          now,
          skip: action === 'skip' ? 1 : 0,
        }) as { id: string } | undefined;
        if (head && action === 'retry') {
          statement('requeue-events').all({
            ...bindFilter({}),
            ids: JSON.stringify([head.id]),
            now,
          });
        }
        return { refs: [{ source, key }], value: head?.id ?? null };
      });
    },

    async deleteProcessedBefore(before, limit) {
      return immediate('delete processed events', () => {
        const rows = statement('delete-processed-before').all({ before, limit: limit ?? -1 }) as {
          id: string;
        }[];
        return deleteBelongings(rows.map((r) => r.id));
      });
    },

    async scrubBodiesBefore(before, scrubOptions = {}) {
      const afterId = scrubOptions.afterId ?? '';
      const limit = scrubOptions.limit ?? -1;
      return immediate('scrub bodies of processed events', () => {
        const info = statement('scrub-bodies-before').run({ before, now: clock.now(), afterId, limit });
        const last = statement('last-scrub-candidate').get({ afterId, limit }) as { last_id: string | null };
        return { count: info.changes, lastId: last.last_id };
      });
    },

    async listFinishedEvents(before, afterId, limit) {
      const rows = attempt('list finished events', () =>
        statement('list-finished-events').all({ before, afterId, limit }),
      ) as EventRow[];
      return rows.map(mapArchivableRow);
    },

    async deleteFinishedEvents(ids, before) {
      if (ids.length === 0) return 0;
      return immediate('delete archived events', () => {
        const rows = statement('delete-finished-events').all({ ids: JSON.stringify(ids), before }) as {
          id: string;
        }[];
        return deleteBelongings(rows.map((r) => r.id));
      });
    },

    async findDuplicateBodies(limit) {
      const rows = attempt('find duplicate bodies', () =>
        statement('find-duplicate-bodies').all({ limit }),
      ) as {
        source: string;
        body_sha256: string;
        count: number;
        event_ids: string;
        dedupe_keys: string;
      }[];
      return rows.map((row) => ({
        source: row.source,
        bodySha256: row.body_sha256,
        count: row.count,
        eventIds: JSON.parse(row.event_ids) as string[],
        dedupeKeys: JSON.parse(row.dedupe_keys) as string[],
      }));
    },

    async listRedeliveredEvents(limit) {
      const rows = attempt('list redelivered events', () =>
        statement('list-redelivered-events').all({ limit }),
      ) as EventSummaryRow[];
      return rows.map(mapEventSummaryRow);
    },

    async getStatistics() {
      return attempt('read statistics', () => {
        // One read transaction, so the counts and the oldest pending event agree.
        return db
          .transaction(() => {
            const groups = statement('summarize-events').all({
              sinceId: null,
              untilId: null,
            }) as EventGroupRow[];
            const oldest = statement('find-oldest-pending').get() as
              | { id: string; source: string; event_type: string; received_at: number }
              | undefined;
            const { total, byStatus, byProvider, byType } = foldEventGroups(groups);
            return {
              total,
              byStatus,
              byProvider,
              byType,
              oldestPending: oldest
                ? {
                    id: oldest.id,
                    source: oldest.source,
                    eventType: oldest.event_type,
                    receivedAt: oldest.received_at,
                  }
                : null,
            };
          })
          .deferred();
      });
    },

    async countHeldLongerThan(ms) {
      const row = attempt('count held events', () =>
        statement('count-held-longer-than').get({ now: clock.now(), ms }),
      ) as { count: number };
      return row.count;
    },

    async aggregateWindow(since, until, maxSamples) {
      return attempt('aggregate the monitoring window', () =>
        db
          .transaction(() => {
            const window = { since, until };
            const groups = foldEventGroups(
              statement('summarize-events').all({
                sinceId: eventIdFloor(since),
                untilId: eventIdFloor(until + 1),
              }) as EventGroupRow[],
            );
            const durations = statement('list-attempt-durations')
              .pluck()
              .all({ ...window, limit: maxSamples }) as number[];
            const latencies = statement('list-processing-latencies')
              .pluck()
              .all({ ...window, limit: maxSamples }) as number[];
            const failed = statement('count-failed-attempts').get(window) as { count: number };
            return {
              total: groups.total,
              byStatus: groups.byStatus,
              byProvider: groups.byProvider,
              byType: groups.byType,
              averageAttempts: groups.total === 0 ? 0 : groups.attempts / groups.total,
              duplicateDeliveries: groups.extraDeliveries,
              attemptDurations: sortSamples(durations),
              processingLatencies: sortSamples(latencies),
              failedAttempts: failed.count,
            };
          })
          .deferred(),
      );
    },

    async aggregateTimeSeries(since, until, bucketMs) {
      const rows = attempt('aggregate the time series', () =>
        statement('aggregate-time-series').all({
          since,
          until,
          bucketMs,
          sinceId: eventIdFloor(since),
          untilId: eventIdFloor(until + 1),
        }),
      ) as TimeSeriesRow[];
      return foldTimeSeries(rows, since, until, bucketMs);
    },
  };
  return store;
}
