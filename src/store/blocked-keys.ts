import { toMillis } from './rows.ts';
import type { BlockedKey } from './types.ts';

/** A row of list-blocked-keys.sql, as both engines return it. */
export interface BlockedKeyRow {
  source: string;
  ordering_key: string;
  id: string;
  event_type: string;
  last_error: string | null;
  blocked_since: number | Date | string;
  waiting: number | string;
}

export function mapBlockedKeyRow(row: BlockedKeyRow): BlockedKey {
  return {
    source: row.source,
    key: row.ordering_key,
    headId: row.id,
    headEventType: row.event_type,
    lastError: row.last_error,
    blockedSince: toMillis(row.blocked_since),
    waiting: Number(row.waiting),
  };
}
