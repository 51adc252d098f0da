import type Database from 'better-sqlite3';
import type { ClaimedEventRow } from '../rows.ts';
import type { OrderingRef } from '../types.ts';

/** Keys whose heads a verdict write takes for its worker (docs/ordering.md, SQLite). */
export interface TakeHeads {
  keys: OrderingRef[];
  workerId: string;
  lockedUntil: number;
  excludeSources?: string[];
}

/**
 * Ordering on SQLite (docs/ordering.md): every write is already serialised (one writer, IMMEDIATE
 * transactions), so a write that changes keys' sets of unfinished events promotes each key's
 * heads at its end, inside the same transaction (promote-ordering-key.sql, one statement for
 * all the keys). With `take`, those keys' heads are claimed for its worker instead of promoted.
 * Returns how many events became runnable for any worker, and the rows taken.
 */
export function promoteOrderingKeys(
  statement: (name: 'promote-ordering-key') => Database.Statement,
  refs: Iterable<OrderingRef | null | undefined>,
  now: number,
  take?: TakeHeads,
): { promoted: number; taken: ClaimedEventRow[] } {
  const keys: [string, string][] = [];
  for (const ref of refs) if (ref) keys.push([ref.source, ref.key]);
  if (keys.length === 0) return { promoted: 0, taken: [] };
  const moved = statement('promote-ordering-key').all({
    keys: JSON.stringify(keys),
    takeKeys: JSON.stringify(take ? take.keys.map((k) => [k.source, k.key]) : []),
    workerId: take?.workerId ?? null,
    lockedUntil: take?.lockedUntil ?? null,
    excludedSources: take?.excludeSources?.length ? JSON.stringify(take.excludeSources) : null,
    now,
  }) as ClaimedEventRow[];
  const taken = moved.filter((row) => row.status === 'processing');
  const promoted = moved.filter((row) => row.status === 'pending' || row.status === 'failed').length;
  return { promoted, taken };
}

/** An ordered row's key as a ref, or undefined for an unordered row. */
export function refOf(row: { source: string; ordering_key: string | null }): OrderingRef | undefined {
  return row.ordering_key === null ? undefined : { source: row.source, key: row.ordering_key };
}
