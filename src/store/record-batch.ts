import type { EventStatus, IngestClaim, NewEvent, RecordResult } from './types.ts';

/**
 * Group commit, shared by both adapters. A batch may carry the same (source, dedupeKey)
 * several times (a provider retrying while the first copy waits for the commit); an upsert
 * cannot touch one row twice in one statement, so copies are folded here first: the first
 * copy is the candidate row, every copy adds one delivery.
 */
export interface DeliveryGroup {
  /** The first copy; its id is the one proposed for a new event. */
  event: NewEvent;
  /** Input positions of every copy, first copy first. */
  positions: number[];
  /** The latest receive time among the copies: the event's last delivery. */
  lastDeliveryAt: number;
}

function groupKey(source: string, dedupeKey: string): string {
  return JSON.stringify([source, dedupeKey]);
}

/**
 * Fold a batch into one group per (source, dedupeKey), sorted by that key so concurrent
 * batches lock rows in the same order and cannot deadlock each other.
 */
export function groupDeliveries(events: NewEvent[]): DeliveryGroup[] {
  const groups = new Map<string, DeliveryGroup>();
  events.forEach((event, position) => {
    const key = groupKey(event.source, event.dedupeKey);
    const group = groups.get(key);
    if (group) {
      group.positions.push(position);
      group.lastDeliveryAt = Math.max(group.lastDeliveryAt, event.receivedAt);
    } else {
      groups.set(key, { event, positions: [position], lastDeliveryAt: event.receivedAt });
    }
  });
  return [...groups.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, group]) => group);
}

/** Whether ingest's worker takes this group's event if it turns out new (its first copy's position). */
export function isClaimedAtIngest(group: DeliveryGroup, claim: IngestClaim | undefined): boolean {
  // An ordered event is never claimed at ingest: its key's head decides (docs/ordering.md).
  return (
    claim?.positions.has(group.positions[0]!) === true && !group.event.ordering && !group.event.forwardOnly
  );
}

/** The status a new event is recorded with, when ingest's worker does not claim it. */
export function unclaimedStatus(event: NewEvent): 'waiting' | 'delivering' | 'pending' {
  if (event.ordering) return 'waiting';
  return event.forwardOnly && event.destinations?.length ? 'delivering' : 'pending';
}

/** What the upsert reported for one group. */
export interface RecordedRow {
  id: string;
  status: EventStatus;
  deliveryCount: number;
  /** Set when the row is new and was claimed in the same write. */
  claim?: RecordResult['claim'];
}

/**
 * Answer every copy in input order. The group's row is new when the stored id is the one its
 * first copy proposed; later copies are duplicates. Delivery counts are numbered copy by copy,
 * as if the copies had arrived one after another.
 */
export function answerDeliveries(
  count: number,
  groups: DeliveryGroup[],
  recorded: (group: DeliveryGroup) => RecordedRow,
): RecordResult[] {
  const results: RecordResult[] = new Array(count);
  for (const group of groups) {
    const row = recorded(group);
    const isNew = row.id === group.event.id;
    const before = row.deliveryCount - group.positions.length;
    group.positions.forEach((position, copy) => {
      const duplicate = copy > 0 || !isNew;
      results[position] = {
        id: row.id,
        duplicate,
        status: row.status,
        deliveryCount: before + copy + 1,
        ...(!duplicate && row.claim ? { claim: row.claim } : {}),
      };
    });
  }
  return results;
}

export function keyOf(source: string, dedupeKey: string): string {
  return groupKey(source, dedupeKey);
}
