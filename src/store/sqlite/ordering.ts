import type Database from 'better-sqlite3';
import type { OrderingRef } from '../types.ts';

/**
 * Ordering on SQLite (docs/ordering.md): every write is already serialised (one writer, IMMEDIATE
 * transactions), so a write that changes keys' sets of unfinished events promotes each key's
 * heads at its end, inside the same transaction (promote-ordering-key.sql, one statement for
 * all the keys). Returns how many events became runnable.
 */
export function promoteOrderingKeys(
  statement: (name: 'promote-ordering-key') => Database.Statement,
  refs: Iterable<OrderingRef | null | undefined>,
  now: number,
): number {
  const keys: [string, string][] = [];
  for (const ref of refs) if (ref) keys.push([ref.source, ref.key]);
  if (keys.length === 0) return 0;
  const moved = statement('promote-ordering-key').all({ keys: JSON.stringify(keys), now }) as {
    id: string;
    status: string;
  }[];
  return moved.filter((row) => row.status !== 'waiting').length;
}

/** An ordered row's key as a ref, or undefined for an unordered row. */
export function refOf(row: { source: string; ordering_key: string | null }): OrderingRef | undefined {
  return row.ordering_key === null ? undefined : { source: row.source, key: row.ordering_key };
}
