import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import { migrationError, readMigrations, selectPendingMigrations } from '../migrate.ts';
import { answerDeliveries, groupDeliveries, type RecordedRow } from '../record-batch.ts';
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
} from '../rows.ts';
import { readSqlFiles } from '../sql-files.ts';
import { foldTimeSeries, type TimeSeriesRow } from '../time-series.ts';
import type { AttemptResult, EventFilter, EventStatus, Store } from '../types.ts';

const statementNames = [
  'create-migrations-table',
  'list-applied-migrations',
  'record-migration',
  'record-event',
  'claim-events',
  'claim-event-by-id',
  'extend-leases',
  'finish-attempt',
  'insert-attempt',
  'record-expired-leases',
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
  'record-stuck-processing',
  'requeue-stuck-processing',
  'aggregate-time-series',
  'scrub-bodies-before',
  'list-finished-events',
  'delete-finished-events',
] as const;
type StatementName = (typeof statementNames)[number];

/** How long a write waits for another connection's lock before failing (SQLITE_BUSY). */
const busyTimeoutMs = 5000;
/** The wait once a write has timed out, until a write succeeds again. */
const stuckLockTimeoutMs = 100;

export interface SqliteStoreOptions {
  /** A file path (its folder is created when missing) or `:memory:`. */
  path: string;
}

/** Filter parameters bound as NULL when absent, matching the `(@x IS NULL OR ...)` SQL. */
function bindFilter(filter: EventFilter) {
  const statuses = normalizeStatuses(filter.status);
  return {
    source: filter.source ?? null,
    provider: filter.provider ?? null,
    statuses: statuses ? JSON.stringify(statuses) : null,
    eventType: filter.eventType ?? null,
    since: filter.since ?? null,
    until: filter.until ?? null,
    search: filter.search ?? null,
  };
}

/**
 * The embedded store: one SQLite file in WAL mode, fsynced on every commit. better-sqlite3 is
 * synchronous, so each method runs to completion before the event loop moves on; write
 * transactions are IMMEDIATE so several processes sharing the file wait on busy_timeout
 * instead of failing a lock upgrade halfway.
 */
export function createSqliteStore(options: SqliteStoreOptions): Store {
  const { path } = options;
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
    db.pragma('foreign_keys = ON');
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
      const result = attempt(action, () => db.transaction(work).immediate());
      lockStuck = false;
      return result;
    } catch (error) {
      if (/^SQLITE_BUSY/.test(String((error as { cause?: { code?: unknown } }).cause?.code)))
        lockStuck = true;
      throw error;
    } finally {
      if (waitBriefly) db.pragma(`busy_timeout = ${busyTimeoutMs}`);
    }
  }

  const listeners = new Set<() => void>();

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

  function finishOne(workerId: string, result: AttemptResult, now: number): boolean {
    const row = statement('finish-attempt').get({
      eventId: result.eventId,
      workerId,
      outcome: result.outcome,
      error: result.error ?? null,
      nextAttemptAt: result.nextAttemptAt ?? null,
      now,
    }) as { id: string; attempts: number } | undefined;
    if (!row) return false;
    insertAttempt({
      eventId: row.id,
      // A release gave the attempt back, so the attempt that ran was the one before the decrement.
      attemptNumber: result.outcome === 'released' ? row.attempts + 1 : row.attempts,
      workerId,
      startedAt: result.startedAt,
      finishedAt: result.finishedAt,
      outcome: result.outcome,
      error: result.error ?? null,
    });
    return true;
  }

  const store: Store = {
    engine: 'sqlite',

    async migrate() {
      let current: (typeof migrations)[number] | null = null;
      try {
        db.transaction(() => {
          db.exec(sql['create-migrations-table']);
          const applied = db.prepare(sql['list-applied-migrations']).pluck().all() as number[];
          const record = db.prepare(sql['record-migration']);
          for (const migration of selectPendingMigrations(migrations, applied)) {
            current = migration;
            db.exec(migration.sql);
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
      if (db.open) db.close();
    },

    async recordEvents(events, now) {
      if (events.length === 0) return [];
      const groups = groupDeliveries(events);
      const recorded = new Map<(typeof groups)[number], RecordedRow>();
      immediate(`record ${events.length} event(s); nothing of the batch was stored`, () => {
        for (const group of groups) {
          const { event } = group;
          const row = statement('record-event').get({
            id: event.id,
            source: event.source,
            provider: event.provider,
            dedupeKey: event.dedupeKey,
            eventType: event.eventType,
            receivedAt: event.receivedAt,
            deliveryCount: group.positions.length,
            lastDeliveryAt: group.lastDeliveryAt,
            headers: JSON.stringify(event.headers),
            body: event.body,
            bodySha256: event.bodySha256,
            now,
          }) as { id: string; status: EventStatus; delivery_count: number };
          recorded.set(group, { id: row.id, status: row.status, deliveryCount: row.delivery_count });
        }
      });
      const results = answerDeliveries(events.length, groups, (group) => recorded.get(group)!);
      if (results.some((r) => !r.duplicate)) notifyListeners();
      return results;
    },

    async claimEvents({ workerId, limit, leaseMs, now, excludeSources }) {
      if (limit <= 0) return [];
      const rows = immediate('claim events', () =>
        statement('claim-events').all({
          workerId,
          now,
          lockedUntil: now + leaseMs,
          limit,
          excludedSources: excludeSources?.length ? JSON.stringify(excludeSources) : null,
        }),
      ) as EventRow[];
      return sortByClaimOrder(rows.map(mapEventRow));
    },

    async claimEventById(id, { workerId, leaseMs, now }) {
      const row = immediate('claim an event', () =>
        statement('claim-event-by-id').get({ id, workerId, now, lockedUntil: now + leaseMs }),
      ) as EventRow | undefined;
      return row ? mapEventRow(row) : null;
    },

    async extendLeases(workerId, eventIds, lockedUntil, now) {
      if (eventIds.length === 0) return [];
      const rows = immediate('extend leases', () =>
        statement('extend-leases').all({ ids: JSON.stringify(eventIds), workerId, lockedUntil, now }),
      ) as { id: string }[];
      return keepInputOrder(
        eventIds,
        rows.map((r) => r.id),
      );
    },

    async finishAttempts(workerId, results, now) {
      if (results.length === 0) return [];
      const applied = immediate('finish attempts', () => {
        const ids: string[] = [];
        const seen = new Set<string>();
        for (const result of results) {
          // A repeated id in one call: the first verdict wins, as the fence would make it on PostgreSQL.
          if (seen.has(result.eventId)) continue;
          seen.add(result.eventId);
          if (finishOne(workerId, result, now)) ids.push(result.eventId);
        }
        return ids;
      });
      return applied;
    },

    async reclaimExpiredLeases(now, maxAttempts) {
      const rows = immediate('reclaim expired leases', () => {
        statement('record-expired-leases').run({ now });
        return statement('reclaim-expired-leases').all({ now, maxAttempts }) as { id: string }[];
      });
      return rows.map((r) => r.id).sort();
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

    async listRetryableEvents(now, limit) {
      const rows = attempt('list retryable events', () =>
        statement('list-retryable-events').all({ now, limit }),
      ) as EventSummaryRow[];
      return rows.map(mapEventSummaryRow);
    },

    async markProcessed(id, now) {
      const ids = immediate('mark an event processed', () => markProcessedIds([id], now));
      return ids.length === 1;
    },

    async bulkMarkProcessed(ids, now) {
      if (ids.length === 0) return 0;
      return immediate('mark events processed', () => markProcessedIds([...new Set(ids)], now)).length;
    },

    async markFailed(id, error, nextAttemptAt, maxAttempts, now) {
      const row = immediate('mark an event failed', () => {
        const updated = statement('mark-failed').get({ id, error, nextAttemptAt, maxAttempts, now }) as
          | EventRow
          | undefined;
        if (updated) {
          insertAttempt({
            eventId: id,
            attemptNumber: updated.attempts as number,
            workerId: 'manual',
            startedAt: now,
            finishedAt: now,
            outcome: updated.status,
            error,
          });
        }
        return updated;
      });
      return row ? mapEventRow(row) : null;
    },

    async requeueEvents(filter, now) {
      if (filter.ids && filter.ids.length === 0) return 0;
      const info = immediate('requeue events', () =>
        statement('requeue-events').run({
          ...bindFilter(filter),
          ids: filter.ids ? JSON.stringify(filter.ids) : null,
          now,
        }),
      );
      return info.changes;
    },

    async deleteEvent(id) {
      const info = immediate('delete an event', () => statement('delete-event').run({ id }));
      return info.changes > 0;
    },

    async deleteProcessedBefore(before, limit) {
      const info = immediate('delete processed events', () =>
        statement('delete-processed-before').run({ before, limit: limit ?? -1 }),
      );
      return info.changes;
    },

    async scrubBodiesBefore(before, now, limit) {
      const info = immediate('scrub bodies of processed events', () =>
        statement('scrub-bodies-before').run({ before, now, limit: limit ?? -1 }),
      );
      return info.changes;
    },

    async listFinishedEvents(before, afterId, limit) {
      const rows = attempt('list finished events', () =>
        statement('list-finished-events').all({ before, afterId, limit }),
      ) as EventRow[];
      return rows.map(mapArchivableRow);
    },

    async deleteFinishedEvents(ids, before) {
      if (ids.length === 0) return 0;
      const info = immediate('delete archived events', () =>
        statement('delete-finished-events').run({ ids: JSON.stringify(ids), before }),
      );
      return info.changes;
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
            const groups = statement('summarize-events').all({ since: null, until: null }) as EventGroupRow[];
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

    async aggregateWindow(since, now, maxSamples) {
      return attempt('aggregate the monitoring window', () =>
        db
          .transaction(() => {
            const window = { since, until: now };
            const groups = foldEventGroups(statement('summarize-events').all(window) as EventGroupRow[]);
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

    async aggregateTimeSeries(since, now, bucketMs) {
      const rows = attempt('aggregate the time series', () =>
        statement('aggregate-time-series').all({ since, until: now, bucketMs }),
      ) as TimeSeriesRow[];
      return foldTimeSeries(rows, since, now, bucketMs);
    },

    async requeueStuckProcessing(lockedBefore, now) {
      const info = immediate('requeue stuck events', () => {
        statement('record-stuck-processing').run({ lockedBefore, now });
        return statement('requeue-stuck-processing').run({ lockedBefore, now });
      });
      return info.changes;
    },
  };
  return store;
}
