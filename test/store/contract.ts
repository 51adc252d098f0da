import { createHash } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createManualClock } from '../../src/clock.ts';
import { StoreRowRefusedError, StoreUnavailableError } from '../../src/errors.ts';
import { createEventId } from '../../src/ids.ts';
import type { AttemptResult, ClaimedEvent, NewEvent, Store, StoredEvent } from '../../src/store/types.ts';
import { createTestStore, type Engine, queryPostgres, type TestStore } from '../support/stores.ts';

const T0 = Date.UTC(2026, 0, 1);
const lease = 30_000;
let sequence = 0;
/** The stores' clock: every test moves it forward by hand (at). */
const clock = createManualClock(T0);
function at(ms: number): void {
  clock.set(ms);
}

function sha256(body: Buffer): string {
  return createHash('sha256').update(body).digest('hex');
}

/** One verified delivery as ingest would hand it over; a fresh dedupe key unless given. */
function delivery(overrides: Partial<NewEvent> = {}): NewEvent {
  sequence += 1;
  const receivedAt = overrides.receivedAt ?? T0;
  const body = overrides.body ?? Buffer.from(JSON.stringify({ id: `evt_${sequence}`, type: 'invoice.paid' }));
  return {
    id: createEventId(receivedAt),
    source: 'stripe-main',
    provider: 'stripe',
    dedupeKey: `evt_${sequence}`,
    eventType: 'invoice.paid',
    headers: { 'content-type': 'application/json', 'stripe-signature': 't=1,v1=redacted' },
    body,
    bodySha256: sha256(body),
    receivedAt,
    ...overrides,
  };
}

/** A copy of a delivery as the provider's retry would arrive: same key, new proposed id. */
function redelivery(of: NewEvent, receivedAt: number): NewEvent {
  return { ...of, id: createEventId(receivedAt), receivedAt };
}

/** The token each event's latest claim got, so verdicts are made under the right claim. */
const tokens = new Map<string, number>();

function verdict(
  eventId: string,
  outcome: AttemptResult['outcome'],
  extra: Partial<AttemptResult> = {},
): AttemptResult {
  return {
    eventId,
    token: tokens.get(eventId) ?? 1,
    outcome,
    startedAt: T0 + 1_000,
    finishedAt: T0 + 1_250,
    ...extra,
  };
}

function remember(events: ClaimedEvent[]): ClaimedEvent[] {
  for (const event of events) tokens.set(event.id, event.claimToken);
  return events;
}

async function recordOne(store: Store, event: NewEvent): Promise<string> {
  const [result] = await store.recordEvents([event]);
  return result!.id;
}

async function claim(store: Store, workerId: string, now: number, limit = 100, leaseMs = lease) {
  at(now);
  return remember(await store.claimEvents({ workerId, limit, leaseMs }));
}

async function finish(store: Store, workerId: string, results: AttemptResult[], now: number) {
  at(now);
  return (await store.finishAttempts(workerId, results)).map((c) => c.eventId);
}

/** Reclaim every expired lease the store finds, due again after `delayMs`, dead at `maxAttempts`. */
async function reclaimAll(store: Store, now: number, maxAttempts: number, delayMs = 0) {
  at(now);
  const expired = await store.findExpiredLeases(100);
  return store.reclaimExpiredLeases(
    expired.map((lease) => ({
      ...lease,
      outcome: lease.attempts >= maxAttempts ? 'dead' : 'failed',
      retryDelayMs: delayMs,
    })),
  );
}

async function mustGet(store: Store, id: string): Promise<StoredEvent> {
  const event = await store.getEvent(id);
  expect(event, `event ${id}`).not.toBeNull();
  return event!;
}

export function describeStoreContract(engine: Engine): void {
  describe(`Store contract: ${engine}`, () => {
    let t: TestStore;
    let store: Store;

    beforeEach(async () => {
      at(T0);
      tokens.clear();
      t = await createTestStore(engine, { clock });
      store = t.store;
    });

    afterEach(async () => {
      await t.cleanup();
    });

    it('reports its engine and answers a ping', async () => {
      expect(store.engine).toBe(engine);
      await expect(store.ping()).resolves.toBeUndefined();
    });

    describe('recordEvents', () => {
      it('records a new event exactly as received', async () => {
        const body = Buffer.from([0x7b, 0x00, 0xff, 0xfe, 0x0a, 0x7d]); // not valid UTF-8: bytes must survive
        const event = delivery({ body, bodySha256: sha256(body) });
        at(T0 + 5);
        const results = await store.recordEvents([event]);
        expect(results).toEqual([{ id: event.id, duplicate: false, status: 'pending', deliveryCount: 1 }]);

        const stored = await mustGet(store, event.id);
        expect(stored).toEqual({
          id: event.id,
          source: 'stripe-main',
          provider: 'stripe',
          dedupeKey: event.dedupeKey,
          eventType: 'invoice.paid',
          status: 'pending',
          attempts: 0,
          // Due from when the store recorded it, by the store's clock.
          nextAttemptAt: T0 + 5,
          lockedUntil: null,
          lockedBy: null,
          lockedAt: null,
          receivedAt: T0,
          deliveryCount: 1,
          lastDeliveryAt: T0,
          processedAt: null,
          lastError: null,
          headers: event.headers,
          body,
          bodySha256: sha256(body),
          updatedAt: T0 + 5,
        });
        expect(Buffer.isBuffer(stored.body)).toBe(true);
        expect(await store.findEventByDedupeKey('stripe-main', event.dedupeKey)).toEqual(stored);
        expect(await store.findEventByDedupeKey('other-source', event.dedupeKey)).toBeNull();
        expect(await store.getEvent('01NOTANEVENT0000000000000')).toBeNull();
      });

      it('answers a repeat delivery as a duplicate of the stored event', async () => {
        const first = delivery();
        await store.recordEvents([first]);
        const again = redelivery(first, T0 + 60_000);
        at(T0 + 60_001);
        const [result] = await store.recordEvents([again]);
        expect(result).toEqual({ id: first.id, duplicate: true, status: 'pending', deliveryCount: 2 });

        const stored = await mustGet(store, first.id);
        expect(stored.deliveryCount).toBe(2);
        expect(stored.lastDeliveryAt).toBe(T0 + 60_000);
        expect(stored.receivedAt).toBe(T0);
        expect(stored.updatedAt).toBe(T0 + 60_001);
        expect(await store.getEvent(again.id)).toBeNull();
        expect(await store.countEvents({})).toBe(1);
      });

      it('reports the current status on a duplicate of a processed event', async () => {
        const first = delivery();
        await recordOne(store, first);
        await claim(store, 'w1', T0);
        await finish(store, 'w1', [verdict(first.id, 'processed')], T0 + 2_000);
        at(T0 + 3_000);
        const [result] = await store.recordEvents([redelivery(first, T0 + 3_000)]);
        expect(result).toEqual({ id: first.id, duplicate: true, status: 'processed', deliveryCount: 2 });
        // A duplicate never makes a processed event claimable again.
        expect(await claim(store, 'w1', T0 + 4_000)).toEqual([]);
      });

      it('folds duplicates inside one batch and answers every copy in input order', async () => {
        const a = delivery();
        const b = delivery();
        const c = delivery({ source: 'github', provider: 'github', dedupeKey: a.dedupeKey });
        at(T0 + 10);
        const results = await store.recordEvents([
          a,
          b,
          redelivery(a, T0 + 1),
          c,
          redelivery(a, T0 + 2),
          redelivery(b, T0 + 3),
        ]);
        expect(results).toEqual([
          { id: a.id, duplicate: false, status: 'pending', deliveryCount: 1 },
          { id: b.id, duplicate: false, status: 'pending', deliveryCount: 1 },
          { id: a.id, duplicate: true, status: 'pending', deliveryCount: 2 },
          { id: c.id, duplicate: false, status: 'pending', deliveryCount: 1 },
          { id: a.id, duplicate: true, status: 'pending', deliveryCount: 3 },
          { id: b.id, duplicate: true, status: 'pending', deliveryCount: 2 },
        ]);
        expect(await store.countEvents({})).toBe(3);
        const storedA = await mustGet(store, a.id);
        expect(storedA.deliveryCount).toBe(3);
        expect(storedA.lastDeliveryAt).toBe(T0 + 2);
        expect(storedA.body).toEqual(a.body);
      });

      it('counts duplicates across batches, including a batch that repeats a stored key', async () => {
        const a = delivery();
        const b = delivery();
        await store.recordEvents([a]);
        at(T0 + 7);
        const results = await store.recordEvents([b, redelivery(a, T0 + 5), redelivery(a, T0 + 6)]);
        expect(results).toEqual([
          { id: b.id, duplicate: false, status: 'pending', deliveryCount: 1 },
          { id: a.id, duplicate: true, status: 'pending', deliveryCount: 2 },
          { id: a.id, duplicate: true, status: 'pending', deliveryCount: 3 },
        ]);
        expect((await mustGet(store, a.id)).deliveryCount).toBe(3);
        expect(await store.countEvents({})).toBe(2);
      });

      it('returns nothing for an empty batch', async () => {
        expect(await store.recordEvents([])).toEqual([]);
      });

      it('refuses a batch whose row the database cannot store, storing none of it', async () => {
        const existing = delivery();
        await recordOne(store, existing);
        // An empty key breaks the table's own check: the row's data, not the store, is at fault.
        const batch = [delivery(), redelivery(existing, T0 + 1), delivery({ dedupeKey: '' }), delivery()];
        at(T0 + 1);
        const failure = await store.recordEvents(batch).catch((error: unknown) => error);
        expect(failure).toBeInstanceOf(StoreRowRefusedError);
        expect((failure as StoreRowRefusedError).code).toBe('payload_invalid');
        expect((failure as StoreRowRefusedError).status).toBe(400);
        expect((failure as Error).cause).toBeDefined();
        expect(await store.countEvents({})).toBe(1);
        expect((await mustGet(store, existing.id)).deliveryCount).toBe(1);
      });

      it('throws StoreUnavailableError and stores nothing when the store is closed', async () => {
        await store.close();
        await expect(store.recordEvents([delivery()])).rejects.toBeInstanceOf(StoreUnavailableError);
        await expect(store.ping()).rejects.toBeInstanceOf(StoreUnavailableError);
        const sibling = t.openSibling();
        expect(await sibling.countEvents({})).toBe(0);
      });

      it('claims new events in the same write when ingest asks (claim-at-ingest)', async () => {
        const existing = delivery();
        await recordOne(store, existing);
        const [a, b, c] = [delivery(), delivery(), delivery()];
        at(T0 + 100);
        const results = await store.recordEvents([a, redelivery(existing, T0 + 100), b, c], {
          workerId: 'local',
          leaseMs: 5_000,
          // The duplicate's position cannot claim anything; c's is not offered.
          positions: new Set([0, 1, 2]),
        });
        const held = {
          token: 1,
          lockedAt: T0 + 100,
          lockedUntil: T0 + 5_100,
          nextAttemptAt: T0 + 100,
          updatedAt: T0 + 100,
        };
        expect(results).toEqual([
          { id: a.id, duplicate: false, status: 'processing', deliveryCount: 1, claim: held },
          { id: existing.id, duplicate: true, status: 'pending', deliveryCount: 2 },
          { id: b.id, duplicate: false, status: 'processing', deliveryCount: 1, claim: held },
          { id: c.id, duplicate: false, status: 'pending', deliveryCount: 1 },
        ]);
        expect(await mustGet(store, a.id)).toMatchObject({
          status: 'processing',
          attempts: 1,
          lockedBy: 'local',
          lockedAt: T0 + 100,
          lockedUntil: T0 + 5_100,
        });
        // Claimed at ingest means held: no other claimer gets them, and the claim's verdict applies.
        expect((await claim(store, 'other', T0 + 200)).map((e) => e.id).sort()).toEqual(
          [existing.id, c.id].sort(),
        );
        expect(await finish(store, 'local', [verdict(a.id, 'processed', { token: 1 })], T0 + 300)).toEqual([
          a.id,
        ]);
        // Repeating the new event's copy in one batch claims it once and answers the copy as a duplicate.
        const d = delivery();
        const copies = await store.recordEvents([d, redelivery(d, T0 + 301)], {
          workerId: 'local',
          leaseMs: 5_000,
          positions: new Set([0, 1]),
        });
        expect(copies.map((r) => [r.duplicate, r.claim?.token ?? null])).toEqual([
          [false, 1],
          [true, null],
        ]);
      });
    });

    describe('claiming', () => {
      it('claims due pending and failed events in due order, with a lease, a new token and one more attempt', async () => {
        const e1 = delivery({ receivedAt: T0 });
        const e2 = delivery({ receivedAt: T0 });
        const e3 = delivery({ receivedAt: T0 + 500 });
        await store.recordEvents([e3, e2, e1]);

        const claimed = await claim(store, 'w1', T0 + 1_000);
        // Due at once, oldest id first.
        expect(claimed.map((e) => e.id)).toEqual([e1.id, e2.id, e3.id]);
        for (const event of claimed) {
          expect(event).toMatchObject({
            status: 'processing',
            attempts: 1,
            claimToken: 1,
            lockedBy: 'w1',
            lockedAt: T0 + 1_000,
            lockedUntil: T0 + 1_000 + lease,
            updatedAt: T0 + 1_000,
          });
          expect(Buffer.isBuffer(event.body)).toBe(true);
          expect(event.headers['content-type']).toBe('application/json');
        }
        // Held events are not claimable.
        expect(await claim(store, 'w2', T0 + 1_000)).toEqual([]);

        await finish(
          store,
          'w1',
          [
            verdict(e1.id, 'processed'),
            verdict(e2.id, 'failed', { error: 'boom', retryDelayMs: 8_000 }),
            verdict(e3.id, 'dead', { error: 'gave up' }),
          ],
          T0 + 2_000,
        );
        expect(await claim(store, 'w2', T0 + 9_999)).toEqual([]);
        const retried = await claim(store, 'w2', T0 + 10_000);
        expect(retried.map((e) => [e.id, e.attempts, e.claimToken, e.lockedBy])).toEqual([
          [e2.id, 2, 2, 'w2'],
        ]);
        expect(await claim(store, 'w2', T0 + 1_000_000)).toEqual([]);
      });

      it('respects the limit and excluded sources', async () => {
        const stripe = [delivery(), delivery(), delivery()];
        const github = [delivery({ source: 'github', provider: 'github' })];
        await store.recordEvents([...stripe, ...github]);
        const first = await store.claimEvents({ workerId: 'w1', limit: 2, leaseMs: lease });
        expect(first).toHaveLength(2);
        const rest = await store.claimEvents({
          workerId: 'w1',
          limit: 10,
          leaseMs: lease,
          excludeSources: ['stripe-main'],
        });
        expect(rest.map((e) => e.id)).toEqual([github[0]!.id]);
        expect(await store.claimEvents({ workerId: 'w1', limit: 0, leaseMs: lease })).toEqual([]);
        const last = await store.claimEvents({
          workerId: 'w1',
          limit: 10,
          leaseMs: lease,
          excludeSources: [],
        });
        expect(last).toHaveLength(1);
      });

      it('never hands one event to two concurrent claimers', async () => {
        const events = Array.from({ length: 200 }, (_, i) => delivery({ receivedAt: T0 + (i % 7) }));
        await store.recordEvents(events);
        const sibling = t.openSibling();
        at(T0 + 100);
        const claimers = [store, sibling, store, sibling].map(async (s, i) => {
          const mine: string[] = [];
          for (;;) {
            const batch = await s.claimEvents({ workerId: `w${i}`, limit: 7, leaseMs: lease });
            if (batch.length === 0) return mine;
            for (const event of batch) {
              expect(event.lockedBy).toBe(`w${i}`);
              mine.push(event.id);
            }
          }
        });
        const claimed = (await Promise.all(claimers)).flat();
        expect(claimed).toHaveLength(200);
        expect(new Set(claimed).size).toBe(200);
        expect(await store.countEvents({ status: 'processing' })).toBe(200);
        expect(await store.countEvents({ status: 'processing', search: events[0]!.id })).toBe(1);
      });

      it('claims one event by id once, keeping a failed event to its backoff unless told otherwise', async () => {
        const event = delivery();
        await recordOne(store, event);
        const [a, b] = await Promise.all([
          store.claimEventById(event.id, { workerId: 'sync-1', leaseMs: lease }),
          t.openSibling().claimEventById(event.id, { workerId: 'sync-2', leaseMs: lease }),
        ]);
        const winners = [a, b].filter((e) => e !== null);
        expect(winners).toHaveLength(1);
        expect(winners[0]).toMatchObject({
          id: event.id,
          status: 'processing',
          attempts: 1,
          claimToken: 1,
          lockedAt: T0,
        });
        expect(await store.claimEventById(event.id, { workerId: 'sync-3', leaseMs: lease })).toBeNull();
        expect(await store.claimEventById('missing', { workerId: 'sync-3', leaseMs: lease })).toBeNull();

        await finish(
          store,
          winners[0]!.lockedBy!,
          [verdict(event.id, 'failed', { error: 'x', retryDelayMs: 60_000 })],
          T0 + 1,
        );
        // A provider's retry does not skip Hookbox's backoff...
        at(T0 + 59_000);
        expect(await store.claimEventById(event.id, { workerId: 'sync-3', leaseMs: lease })).toBeNull();
        // ...an operator's retry does...
        const forced = await store.claimEventById(event.id, {
          workerId: 'manual',
          leaseMs: lease,
          ignoreBackoff: true,
        });
        expect(forced).toMatchObject({ attempts: 2, claimToken: 2 });
        tokens.set(event.id, 2);
        await finish(store, 'manual', [verdict(event.id, 'processed')], T0 + 59_500);
        // ...and nothing claims a processed event.
        at(T0 + 120_000);
        expect(
          await store.claimEventById(event.id, { workerId: 'sync-3', leaseMs: lease, ignoreBackoff: true }),
        ).toBeNull();
      });
    });

    describe('finishAttempts', () => {
      it('applies every outcome with its attempts row', async () => {
        const [processed, failed, dead, ignored, released, releasedLater] = Array.from({ length: 6 }, () =>
          delivery(),
        ) as [NewEvent, NewEvent, NewEvent, NewEvent, NewEvent, NewEvent];
        await store.recordEvents([processed, failed, dead, ignored, released, releasedLater]);
        await claim(store, 'w1', T0 + 1_000);
        const now = T0 + 2_000;
        const applied = await finish(
          store,
          'w1',
          [
            verdict(processed.id, 'processed'),
            verdict(failed.id, 'failed', { error: 'HTTP 500 from billing', retryDelayMs: 58_000 }),
            verdict(dead.id, 'dead', { error: 'unrecoverable' }),
            verdict(ignored.id, 'ignored'),
            verdict(released.id, 'released', { error: 'worker shutting down' }),
            verdict(releasedLater.id, 'released', { retryDelayMs: 3_000 }),
          ],
          now,
        );
        expect(applied).toEqual([
          processed.id,
          failed.id,
          dead.id,
          ignored.id,
          released.id,
          releasedLater.id,
        ]);

        const unlocked = { lockedBy: null, lockedAt: null, lockedUntil: null, updatedAt: now };
        expect(await mustGet(store, processed.id)).toMatchObject({
          ...unlocked,
          status: 'processed',
          processedAt: now,
          lastError: null,
          attempts: 1,
        });
        expect(await mustGet(store, failed.id)).toMatchObject({
          ...unlocked,
          status: 'failed',
          nextAttemptAt: T0 + 60_000,
          lastError: 'HTTP 500 from billing',
          processedAt: null,
          attempts: 1,
        });
        expect(await mustGet(store, dead.id)).toMatchObject({
          ...unlocked,
          status: 'dead',
          lastError: 'unrecoverable',
          attempts: 1,
        });
        expect(await mustGet(store, ignored.id)).toMatchObject({
          ...unlocked,
          status: 'ignored',
          processedAt: now,
          attempts: 1,
        });
        expect(await mustGet(store, released.id)).toMatchObject({
          ...unlocked,
          status: 'pending',
          attempts: 0,
          nextAttemptAt: now,
          lastError: null,
        });
        expect(await mustGet(store, releasedLater.id)).toMatchObject({
          status: 'pending',
          attempts: 0,
          nextAttemptAt: T0 + 5_000,
        });

        const expectations: [string, string, string | null][] = [
          [processed.id, 'processed', null],
          [failed.id, 'failed', 'HTTP 500 from billing'],
          [dead.id, 'dead', 'unrecoverable'],
          [ignored.id, 'ignored', null],
          [released.id, 'released', 'worker shutting down'],
          [releasedLater.id, 'released', null],
        ];
        for (const [id, outcome, error] of expectations) {
          const attempts = await store.listAttempts(id);
          expect(attempts).toEqual([
            {
              id: expect.any(Number),
              eventId: id,
              attemptNumber: 1,
              workerId: 'w1',
              startedAt: T0 + 1_000,
              finishedAt: T0 + 1_250,
              durationMs: 250,
              outcome,
              error,
            },
          ]);
        }
        // A released event is claimable again and its next attempt is still the first.
        const again = await claim(store, 'w2', now);
        expect(again.map((e) => [e.id, e.attempts])).toEqual([[released.id, 1]]);
      });

      it('lists attempts in the order they were made', async () => {
        const event = delivery();
        await recordOne(store, event);
        for (let round = 1; round <= 3; round++) {
          const now = T0 + round * 10_000;
          await claim(store, 'w1', now);
          await finish(store, 'w1', [verdict(event.id, 'failed', { error: `try ${round}` })], now);
        }
        const attempts = await store.listAttempts(event.id);
        expect(attempts.map((a) => [a.attemptNumber, a.error])).toEqual([
          [1, 'try 1'],
          [2, 'try 2'],
          [3, 'try 3'],
        ]);
        expect(attempts[0]!.id).toBeLessThan(attempts[1]!.id);
        expect(await store.listAttempts('missing')).toEqual([]);
      });

      it('is fenced by the claim token, not by the worker id', async () => {
        const event = delivery();
        await recordOne(store, event);
        await claim(store, 'w1', T0, 10, 1_000);
        expect(await finish(store, 'w1', [verdict(event.id, 'processed', { token: 2 })], T0 + 1)).toEqual([]);
        expect(await mustGet(store, event.id)).toMatchObject({ status: 'processing', lockedBy: 'w1' });
        expect(await store.listAttempts(event.id)).toEqual([]);
        expect(await finish(store, 'w1', [], T0 + 1)).toEqual([]);

        // The same worker's lease expires and it claims the event again: the first claim's
        // late verdict must not finish the second claim.
        expect(await reclaimAll(store, T0 + 1_000, 5)).toEqual([event.id]);
        const [again] = await claim(store, 'w1', T0 + 1_000);
        expect(again).toMatchObject({ id: event.id, claimToken: 2, lockedBy: 'w1', attempts: 2 });
        expect(await finish(store, 'w1', [verdict(event.id, 'processed', { token: 1 })], T0 + 1_100)).toEqual(
          [],
        );
        expect(await mustGet(store, event.id)).toMatchObject({ status: 'processing', attempts: 2 });
        expect(await finish(store, 'w1', [verdict(event.id, 'processed', { token: 2 })], T0 + 1_200)).toEqual(
          [event.id],
        );
      });

      it('skips a result whose lease was lost to another worker', async () => {
        const event = delivery();
        const other = delivery();
        await store.recordEvents([event, other]);
        const first = await claim(store, 'w1', T0, 10, 1_000);
        expect(await reclaimAll(store, T0 + 1_000, 5)).toEqual([event.id, other.id].sort());
        await claim(store, 'w2', T0 + 1_000);

        const stale = first.map((e) => ({ eventId: e.id, token: e.claimToken }));
        const late = await finish(
          store,
          'w1',
          [
            { ...stale[0]!, outcome: 'processed', startedAt: T0, finishedAt: T0 + 1 },
            { ...stale[1]!, outcome: 'failed', startedAt: T0, finishedAt: T0 + 1, error: 'x' },
          ],
          T0 + 1_500,
        );
        expect(late).toEqual([]);
        expect(await mustGet(store, event.id)).toMatchObject({
          status: 'processing',
          lockedBy: 'w2',
          attempts: 2,
        });
        expect(await finish(store, 'w2', [verdict(event.id, 'processed')], T0 + 1_600)).toEqual([event.id]);
      });

      it('extends only leases whose claim still holds the event', async () => {
        const [a, b, c] = [delivery(), delivery(), delivery()];
        await store.recordEvents([a, b, c]);
        await claim(store, 'w1', T0, 2);
        await claim(store, 'w2', T0, 1);
        const claimOf = (id: string) => ({ eventId: id, token: tokens.get(id)! });
        at(T0 + 10);
        expect(
          await store.extendLeases(
            [claimOf(b.id), claimOf(a.id), { eventId: c.id, token: 7 }, { eventId: 'missing', token: 1 }],
            120_000,
          ),
        ).toEqual([claimOf(b.id), claimOf(a.id)]);
        expect(await mustGet(store, a.id)).toMatchObject({
          lockedUntil: T0 + 120_010,
          updatedAt: T0 + 10,
          lockedBy: 'w1',
        });
        expect((await mustGet(store, c.id)).lockedUntil).toBe(T0 + lease);
        await finish(store, 'w1', [verdict(a.id, 'processed')], T0 + 20);
        at(T0 + 30);
        expect(await store.extendLeases([claimOf(a.id), claimOf(b.id)], 1_000)).toEqual([claimOf(b.id)]);
        expect(await store.extendLeases([], 1_000)).toEqual([]);
      });

      it('records an attempt that timed out while its event stays held, then applies the verdict once', async () => {
        const event = delivery();
        await recordOne(store, event);
        const [held] = await claim(store, 'w1', T0 + 1_000);
        const record = {
          eventId: event.id,
          token: held!.claimToken,
          outcome: 'failed' as const,
          startedAt: T0 + 1_000,
          finishedAt: T0 + 31_000,
          error: 'handler timed out after 30000 ms',
        };
        at(T0 + 31_000);
        expect(await store.recordAttempts('w1', [record, { ...record, token: 99 }])).toEqual([
          { eventId: event.id, token: held!.claimToken },
        ]);
        expect(await mustGet(store, event.id)).toMatchObject({
          status: 'processing',
          lockedBy: 'w1',
          lastError: 'handler timed out after 30000 ms',
        });
        expect(await store.listAttempts(event.id)).toMatchObject([
          { attemptNumber: 1, outcome: 'failed', durationMs: 30_000, workerId: 'w1' },
        ]);
        // The handler settles a minute later; the event is let go with the verdict, no second row.
        expect(
          await finish(store, 'w1', [{ ...record, retryDelayMs: 5_000, alreadyRecorded: true }], T0 + 91_000),
        ).toEqual([event.id]);
        expect(await mustGet(store, event.id)).toMatchObject({
          status: 'failed',
          nextAttemptAt: T0 + 96_000,
          lockedBy: null,
        });
        expect(await store.listAttempts(event.id)).toHaveLength(1);
        expect(await store.recordAttempts('w1', [])).toEqual([]);
      });
    });

    describe('expired leases', () => {
      it('finds expired leases and returns them to failed after a delay, with a lease_expired attempt', async () => {
        const short = delivery();
        const long = delivery();
        await recordOne(store, short);
        await recordOne(store, long);
        at(T0 + 100);
        const [shortClaim] = remember(await store.claimEvents({ workerId: 'w1', limit: 1, leaseMs: 1_000 }));
        await store.claimEvents({ workerId: 'w2', limit: 1, leaseMs: 60_000 });

        at(T0 + 1_099);
        expect(await store.findExpiredLeases(10)).toEqual([]);
        at(T0 + 1_100);
        const expired = await store.findExpiredLeases(10);
        expect(expired).toEqual([
          {
            eventId: short.id,
            token: shortClaim!.claimToken,
            source: 'stripe-main',
            attempts: 1,
            lockedBy: 'w1',
            lockedAt: T0 + 100,
          },
        ]);
        expect(await store.findExpiredLeases(0)).toEqual([]);
        // A reclaim under a wrong token, or of a lease renewed meanwhile, changes nothing.
        expect(
          await store.reclaimExpiredLeases([
            { ...expired[0]!, token: 42, outcome: 'failed', retryDelayMs: 0 },
          ]),
        ).toEqual([]);
        expect(
          await store.reclaimExpiredLeases([{ ...expired[0]!, outcome: 'failed', retryDelayMs: 20_000 }]),
        ).toEqual([short.id]);
        expect(await mustGet(store, short.id)).toMatchObject({
          status: 'failed',
          // A lost attempt waits its backoff like any failed one.
          nextAttemptAt: T0 + 21_100,
          lastError: 'lease expired (worker w1 stopped before finishing)',
          lockedBy: null,
          lockedAt: null,
          lockedUntil: null,
          attempts: 1,
          updatedAt: T0 + 1_100,
        });
        expect(await store.listAttempts(short.id)).toEqual([
          {
            id: expect.any(Number),
            eventId: short.id,
            attemptNumber: 1,
            workerId: 'w1',
            startedAt: T0 + 100,
            finishedAt: T0 + 1_100,
            durationMs: 1_000,
            outcome: 'lease_expired',
            error: 'lease expired (worker w1 stopped before finishing)',
          },
        ]);
        expect(await mustGet(store, long.id)).toMatchObject({ status: 'processing', lockedBy: 'w2' });
        expect(await claim(store, 'w3', T0 + 21_099)).toEqual([]);
        expect((await claim(store, 'w3', T0 + 21_100)).map((e) => e.id)).toEqual([short.id]);
      });

      it('does not reclaim a lease renewed after it was found expired', async () => {
        const event = delivery();
        await recordOne(store, event);
        const [held] = await claim(store, 'w1', T0, 1, 1_000);
        at(T0 + 1_000);
        const expired = await store.findExpiredLeases(10);
        expect(expired).toHaveLength(1);
        // The holder was only slow: its renewal lands first.
        expect(
          await store.extendLeases([{ eventId: event.id, token: held!.claimToken }], 5_000),
        ).toHaveLength(1);
        expect(
          await store.reclaimExpiredLeases([{ ...expired[0]!, outcome: 'failed', retryDelayMs: 0 }]),
        ).toEqual([]);
        expect(await mustGet(store, event.id)).toMatchObject({ status: 'processing', lockedBy: 'w1' });
      });

      it('marks dead once the attempt budget is spent', async () => {
        const event = delivery();
        await recordOne(store, event);
        for (let round = 1; round <= 3; round++) {
          const now = T0 + round * 10_000;
          at(now);
          const [claimed] = await store.claimEvents({ workerId: `w${round}`, limit: 1, leaseMs: 1_000 });
          expect(claimed?.attempts).toBe(round);
          expect(await reclaimAll(store, now + 1_000, 3)).toEqual([event.id]);
        }
        const stored = await mustGet(store, event.id);
        expect(stored.status).toBe('dead');
        expect(stored.attempts).toBe(3);
        expect(stored.lastError).toBe('lease expired (worker w3 stopped before finishing)');
        const attempts = await store.listAttempts(event.id);
        expect(attempts.map((a) => [a.attemptNumber, a.workerId, a.outcome])).toEqual([
          [1, 'w1', 'lease_expired'],
          [2, 'w2', 'lease_expired'],
          [3, 'w3', 'lease_expired'],
        ]);
        expect(await claim(store, 'w4', T0 + 1_000_000)).toEqual([]);
      });

      it('counts events held longer than a threshold', async () => {
        const [a, b] = [delivery(), delivery()];
        await store.recordEvents([a, b]);
        await claim(store, 'w1', T0, 1, 600_000);
        await claim(store, 'w1', T0 + 50_000, 1, 600_000);
        at(T0 + 60_000);
        expect(await store.countHeldLongerThan(30_000)).toBe(1);
        expect(await store.countHeldLongerThan(5_000)).toBe(2);
        expect(await store.countHeldLongerThan(120_000)).toBe(0);
      });
    });

    describe('event transactions', () => {
      if (engine === 'sqlite') {
        it('are not offered on SQLite', async () => {
          expect(await store.beginEventTransaction()).toBeNull();
        });
        return;
      }

      async function sideEffects(): Promise<string[]> {
        const rows = await queryPostgres<{ event_id: string }>(
          'SELECT event_id FROM side_effects ORDER BY event_id',
          [],
          t.schema,
        );
        return rows.map((r) => r.event_id);
      }

      beforeEach(async () => {
        await queryPostgres('CREATE TABLE side_effects (event_id text PRIMARY KEY)', [], t.schema);
      });

      it("commits the handler's writes together with processed", async () => {
        const event = delivery();
        await recordOne(store, event);
        await claim(store, 'w1', T0);
        const tx = (await store.beginEventTransaction())!;
        expect(tx.used).toBe(false);
        const insert = await tx.handle.query('INSERT INTO side_effects (event_id) VALUES ($1)', [event.id]);
        expect(insert.rowCount).toBe(1);
        expect(tx.used).toBe(true);
        // Not visible outside the transaction before it commits.
        expect(await sideEffects()).toEqual([]);
        const read = await tx.handle.query<{ event_id: string }>('SELECT event_id FROM side_effects');
        expect(read.rows).toEqual([{ event_id: event.id }]);

        at(T0 + 2_000);
        expect(await tx.commitWith('w1', verdict(event.id, 'processed'))).toBe(true);
        expect(await sideEffects()).toEqual([event.id]);
        expect(await mustGet(store, event.id)).toMatchObject({
          status: 'processed',
          processedAt: T0 + 2_000,
          lockedBy: null,
        });
        expect((await store.listAttempts(event.id)).map((a) => [a.workerId, a.outcome])).toEqual([
          ['w1', 'processed'],
        ]);
      });

      it('stamps processed_at when the transaction commits, not when it began (database clock)', async () => {
        // On the database's clock now() is the transaction's start: a handler that runs for a
        // second inside ctx.tx must not get a processed_at from before it ran.
        const real = t.openSibling({ clock: null });
        const event = delivery();
        await recordOne(real, event);
        const [claimed] = await real.claimEvents({ workerId: 'w1', limit: 1, leaseMs: 60_000 });
        expect(claimed?.id).toBe(event.id);
        const tx = (await real.beginEventTransaction())!;
        await tx.handle.query('INSERT INTO side_effects (event_id) VALUES ($1)', [event.id]);
        await new Promise((resolve) => setTimeout(resolve, 1_000));
        const beforeCommit = Date.now();
        expect(await tx.commitWith('w1', verdict(event.id, 'processed'))).toBe(true);
        const processed = await mustGet(real, event.id);
        expect(processed.processedAt).toBeGreaterThanOrEqual(beforeCommit - 100);
      });

      it("rolls the handler's writes back when the claim was lost", async () => {
        const event = delivery();
        await recordOne(store, event);
        await claim(store, 'w1', T0, 1, 1_000);
        const stale = verdict(event.id, 'processed');
        const tx = (await store.beginEventTransaction())!;
        await tx.handle.query('INSERT INTO side_effects (event_id) VALUES ($1)', [event.id]);
        // Meanwhile the lease expires and the same worker takes the event again: a new claim.
        await reclaimAll(store, T0 + 1_000, 5);
        await claim(store, 'w1', T0 + 1_000);

        at(T0 + 1_500);
        expect(await tx.commitWith('w1', stale)).toBe(false);
        expect(await sideEffects()).toEqual([]);
        expect(await mustGet(store, event.id)).toMatchObject({
          status: 'processing',
          lockedBy: 'w1',
          attempts: 2,
        });
        expect((await store.listAttempts(event.id)).map((a) => a.outcome)).toEqual(['lease_expired']);
      });

      it('completes through finishAttempts when the handler never used the handle', async () => {
        const event = delivery();
        await recordOne(store, event);
        await claim(store, 'w1', T0);
        const tx = (await store.beginEventTransaction())!;
        expect(tx.used).toBe(false);
        expect(await tx.commitWith('w1', verdict(event.id, 'processed'))).toBe(true);
        expect((await mustGet(store, event.id)).status).toBe('processed');

        const other = delivery();
        await recordOne(store, other);
        await claim(store, 'w1', T0);
        const lost = (await store.beginEventTransaction())!;
        expect(await lost.commitWith('w1', verdict(other.id, 'processed', { token: 5 }))).toBe(false);
      });

      it('discards the writes on rollback', async () => {
        const event = delivery();
        await recordOne(store, event);
        await claim(store, 'w1', T0);
        const tx = (await store.beginEventTransaction())!;
        await tx.handle.query('INSERT INTO side_effects (event_id) VALUES ($1)', [event.id]);
        await tx.rollback();
        await tx.rollback();
        expect(await sideEffects()).toEqual([]);
        expect((await mustGet(store, event.id)).status).toBe('processing');
        const unused = (await store.beginEventTransaction())!;
        await unused.rollback();
      });
    });

    describe('listing and counting', () => {
      async function recordListingFixture() {
        const events = Array.from({ length: 25 }, (_, i) =>
          delivery({
            receivedAt: T0 + i * 1_000,
            source: i % 2 === 0 ? 'stripe-main' : 'github',
            provider: i % 2 === 0 ? 'stripe' : 'github',
            eventType: i % 3 === 0 ? 'invoice.paid' : 'push',
          }),
        );
        at(T0 + 30_000);
        await store.recordEvents(events);
        return events;
      }

      it('pages newest first over a cursor without gaps or repeats', async () => {
        const events = await recordListingFixture();
        const newestFirst = events.map((e) => e.id).reverse();
        const seen: string[] = [];
        const sizes: number[] = [];
        let cursor: string | undefined;
        for (;;) {
          const page = await store.listEvents({ limit: 7, ...(cursor ? { cursor } : {}) });
          sizes.push(page.events.length);
          seen.push(...page.events.map((e) => e.id));
          if (!page.nextCursor) break;
          expect(page.nextCursor).toBe(page.events.at(-1)!.id);
          cursor = page.nextCursor;
        }
        expect(sizes).toEqual([7, 7, 7, 4]);
        expect(seen).toEqual(newestFirst);

        // A page that ends exactly at the last event says so.
        const exact = await store.listEvents({ limit: 25 });
        expect(exact.events).toHaveLength(25);
        expect(exact.nextCursor).toBeNull();

        const summary = exact.events[0]!;
        expect(summary).not.toHaveProperty('body');
        expect(summary).not.toHaveProperty('headers');
        expect(summary).toMatchObject({ id: newestFirst[0], status: 'pending', deliveryCount: 1 });
      });

      it('filters by source, provider, status, type, time and search, across pages', async () => {
        const events = await recordListingFixture();
        const github = events
          .filter((e) => e.source === 'github')
          .map((e) => e.id)
          .reverse();
        const seen: string[] = [];
        let cursor: string | undefined;
        do {
          const page = await store.listEvents({ limit: 5, source: 'github', ...(cursor ? { cursor } : {}) });
          seen.push(...page.events.map((e) => e.id));
          cursor = page.nextCursor ?? undefined;
        } while (cursor);
        expect(seen).toEqual(github);
        expect(await store.countEvents({ source: 'github' })).toBe(12);
        expect(await store.countEvents({ provider: 'stripe' })).toBe(13);

        await claim(store, 'w1', T0 + 30_000, 4);
        const processing = await store.listEvents({ limit: 100, status: 'processing' });
        expect(processing.events.map((e) => e.id).sort()).toEqual(
          events
            .slice(0, 4)
            .map((e) => e.id)
            .sort(),
        );
        expect(await store.countEvents({ status: ['processing', 'pending'] })).toBe(25);
        expect(await store.countEvents({ status: ['processed'] })).toBe(0);
        expect(await store.countEvents({ status: 'pending', source: 'stripe-main' })).toBe(11);

        expect(await store.countEvents({ eventType: 'invoice.paid' })).toBe(9);
        const window = await store.listEvents({ limit: 100, since: T0 + 5_000, until: T0 + 10_000 });
        expect(window.events.map((e) => e.receivedAt)).toEqual([9, 8, 7, 6, 5].map((i) => T0 + i * 1_000));
        expect(await store.countEvents({ since: T0 + 5_000, until: T0 + 10_000 })).toBe(5);
        expect(await store.countEvents({ since: T0 + 5_001 })).toBe(19);

        const target = events[17]!;
        for (const search of [target.id, target.dedupeKey]) {
          const found = await store.listEvents({ limit: 10, search });
          expect(found.events.map((e) => e.id)).toEqual([target.id]);
          expect(await store.countEvents({ search })).toBe(1);
        }
        // One key under two sources is two events.
        const twin = delivery({ source: 'zzz-last', provider: 'github', dedupeKey: target.dedupeKey });
        await recordOne(store, twin);
        expect(
          (await store.listEvents({ limit: 10, search: target.dedupeKey })).events.map((e) => e.id),
        ).toEqual([target.id, twin.id]);
        expect(await store.countEvents({ search: 'no-such-key' })).toBe(0);
        expect(await store.countEvents({})).toBe(26);
      });

      it('lists due failed events oldest first', async () => {
        const [a, b, c] = [delivery(), delivery(), delivery()];
        await store.recordEvents([a, b, c]);
        await claim(store, 'w1', T0);
        await finish(
          store,
          'w1',
          [
            verdict(a.id, 'failed', { error: 'a', retryDelayMs: 2_500 }),
            verdict(b.id, 'failed', { error: 'b', retryDelayMs: 500 }),
            verdict(c.id, 'failed', { error: 'c', retryDelayMs: 8_500 }),
          ],
          T0 + 500,
        );
        at(T0 + 5_000);
        const due = await store.listRetryableEvents(10);
        expect(due.map((e) => e.id)).toEqual([b.id, a.id]);
        expect(due[0]).not.toHaveProperty('body');
        expect((await store.listRetryableEvents(1)).map((e) => e.id)).toEqual([b.id]);
      });
    });

    describe('manual actions', () => {
      it('marks an event processed once, leaving a processed event untouched', async () => {
        const event = delivery();
        await recordOne(store, event);
        at(T0 + 1_000);
        expect(await store.markProcessed(event.id)).toBe(true);
        expect(await mustGet(store, event.id)).toMatchObject({
          status: 'processed',
          processedAt: T0 + 1_000,
          updatedAt: T0 + 1_000,
          lockedBy: null,
        });
        expect(await store.listAttempts(event.id)).toMatchObject([
          {
            workerId: 'manual',
            outcome: 'processed',
            startedAt: T0 + 1_000,
            finishedAt: T0 + 1_000,
            durationMs: 0,
          },
        ]);

        at(T0 + 9_000);
        expect(await store.markProcessed(event.id)).toBe(false);
        expect(await mustGet(store, event.id)).toMatchObject({
          processedAt: T0 + 1_000,
          updatedAt: T0 + 1_000,
        });
        expect(await store.listAttempts(event.id)).toHaveLength(1);
        expect(await store.markProcessed('missing')).toBe(false);
      });

      it('marks a held event processed and fences out its worker', async () => {
        const event = delivery();
        await recordOne(store, event);
        await claim(store, 'w1', T0);
        at(T0 + 10);
        expect(await store.markProcessed(event.id)).toBe(true);
        expect(await mustGet(store, event.id)).toMatchObject({
          status: 'processed',
          lockedBy: null,
          lockedUntil: null,
        });
        expect(await finish(store, 'w1', [verdict(event.id, 'failed', { error: 'late' })], T0 + 20)).toEqual(
          [],
        );
      });

      it('bulk-marks only events not yet processed', async () => {
        const [a, b, c] = [delivery(), delivery(), delivery()];
        await store.recordEvents([a, b, c]);
        at(T0 + 1);
        await store.markProcessed(a.id);
        at(T0 + 2);
        expect(await store.bulkMarkProcessed([a.id, b.id, c.id, b.id, 'missing'])).toBe(2);
        expect(await store.countEvents({ status: 'processed' })).toBe(3);
        expect((await mustGet(store, a.id)).updatedAt).toBe(T0 + 1);
        expect(await store.listAttempts(b.id)).toMatchObject([{ workerId: 'manual', outcome: 'processed' }]);
        expect(await store.bulkMarkProcessed([])).toBe(0);
      });

      it('counts a manual failure and goes dead at the budget', async () => {
        const event = delivery();
        await recordOne(store, event);
        at(T0 + 10);
        const failed = await store.markFailed(event.id, 'refund rejected', 59_990, 2);
        expect(failed).toMatchObject({
          id: event.id,
          status: 'failed',
          attempts: 1,
          lastError: 'refund rejected',
          nextAttemptAt: T0 + 60_000,
          updatedAt: T0 + 10,
        });
        expect(Buffer.isBuffer(failed!.body)).toBe(true);
        at(T0 + 20);
        const dead = await store.markFailed(event.id, 'still rejected', 120_000, 2);
        expect(dead).toMatchObject({ status: 'dead', attempts: 2, lastError: 'still rejected' });
        expect(
          (await store.listAttempts(event.id)).map((a) => [a.attemptNumber, a.workerId, a.outcome, a.error]),
        ).toEqual([
          [1, 'manual', 'failed', 'refund rejected'],
          [2, 'manual', 'dead', 'still rejected'],
        ]);
        expect(await store.markFailed('missing', 'x', 0, 2)).toBeNull();
        const done = delivery();
        await recordOne(store, done);
        await store.markProcessed(done.id);
        expect(await store.markFailed(done.id, 'x', 0, 2)).toBeNull();
        expect((await mustGet(store, done.id)).status).toBe('processed');
      });

      it('requeues matching events that no worker holds', async () => {
        const [dead, failed, processed, held, pending] = Array.from({ length: 5 }, () => delivery()) as [
          NewEvent,
          NewEvent,
          NewEvent,
          NewEvent,
          NewEvent,
        ];
        await store.recordEvents([dead, failed, processed, held]);
        await claim(store, 'w1', T0);
        await finish(
          store,
          'w1',
          [
            verdict(dead.id, 'dead', { error: 'gone' }),
            verdict(failed.id, 'failed', { error: 'flaky', retryDelayMs: 999_999 }),
            verdict(processed.id, 'processed'),
          ],
          T0 + 100,
        );
        await recordOne(store, { ...pending, source: 'github', provider: 'github' });

        at(T0 + 200);
        expect(await store.requeueEvents({ ids: [] })).toBe(0);
        expect(await store.requeueEvents({ ids: [dead.id, held.id] })).toBe(1);
        expect(await mustGet(store, dead.id)).toMatchObject({
          status: 'pending',
          attempts: 0,
          nextAttemptAt: T0 + 200,
          lastError: 'gone',
          updatedAt: T0 + 200,
        });
        at(T0 + 300);
        expect(await store.requeueEvents({ status: ['failed', 'processed'], source: 'stripe-main' })).toBe(2);
        expect(await mustGet(store, processed.id)).toMatchObject({
          status: 'pending',
          processedAt: null,
          attempts: 0,
        });
        expect(await mustGet(store, failed.id)).toMatchObject({
          status: 'pending',
          nextAttemptAt: T0 + 300,
          lastError: 'flaky',
        });
        // Everything except the held event.
        at(T0 + 400);
        expect(await store.requeueEvents({})).toBe(4);
        expect(await mustGet(store, held.id)).toMatchObject({ status: 'processing', lockedBy: 'w1' });
        expect((await claim(store, 'w2', T0 + 400)).map((e) => e.attempts)).toEqual([1, 1, 1, 1]);
      });
    });

    describe('deletion and retention', () => {
      it('deletes one event with its body and attempts', async () => {
        const event = delivery();
        await recordOne(store, event);
        await claim(store, 'w1', T0);
        await finish(store, 'w1', [verdict(event.id, 'processed')], T0 + 1);
        expect(await store.deleteEvent(event.id)).toBe(true);
        expect(await store.getEvent(event.id)).toBeNull();
        expect(await store.listAttempts(event.id)).toEqual([]);
        expect(await store.deleteEvent(event.id)).toBe(false);
        // A new event under the same key is a new event, not the deleted one's leftovers.
        const again = redelivery(event, T0 + 2);
        at(T0 + 2);
        expect((await store.recordEvents([again]))[0]).toMatchObject({ id: again.id, duplicate: false });
        expect((await mustGet(store, again.id)).body).toEqual(event.body);
      });

      it('deletes processed and ignored events finished before a time', async () => {
        const [oldProcessed, oldIgnored, failed, newProcessed, pending] = Array.from({ length: 5 }, () =>
          delivery(),
        ) as [NewEvent, NewEvent, NewEvent, NewEvent, NewEvent];
        await store.recordEvents([oldProcessed, oldIgnored, failed, newProcessed, pending]);
        await claim(store, 'w1', T0, 3);
        await finish(
          store,
          'w1',
          [
            verdict(oldProcessed.id, 'processed'),
            verdict(oldIgnored.id, 'ignored'),
            verdict(failed.id, 'failed', { error: 'x' }),
          ],
          T0 + 1_000,
        );
        at(T0 + 5_000);
        await store.markProcessed(newProcessed.id);

        expect(await store.deleteProcessedBefore(T0 + 1_000)).toBe(0);
        expect(await store.deleteProcessedBefore(T0 + 2_000, 1)).toBe(1);
        expect(await store.deleteProcessedBefore(T0 + 2_000)).toBe(1);
        expect(await store.getEvent(oldProcessed.id)).toBeNull();
        expect(await store.getEvent(oldIgnored.id)).toBeNull();
        expect(await store.listAttempts(oldProcessed.id)).toEqual([]);
        expect(await store.countEvents({})).toBe(3);
        expect(await store.deleteProcessedBefore(T0 + 10_000, 100)).toBe(1);
        expect(await store.countEvents({})).toBe(2);
      });

      it('scrubs bodies of finished events, walking the events once in id order', async () => {
        const events = Array.from({ length: 5 }, () => delivery());
        await store.recordEvents(events);
        await claim(store, 'w1', T0, 4);
        await finish(
          store,
          'w1',
          events
            .slice(0, 4)
            .map((e, i) => verdict(e.id, i === 2 ? 'failed' : 'processed', { error: i === 2 ? 'x' : null })),
          T0 + 1_000,
        );
        at(T0 + 10_000);
        const first = await store.scrubBodiesBefore(T0 + 2_000, { limit: 2 });
        expect(first).toEqual({ count: 2, lastId: events[1]!.id });
        const second = await store.scrubBodiesBefore(T0 + 2_000, { limit: 2, afterId: first.lastId! });
        // events[2] failed and events[4] is pending: only events[3] is scrubbed.
        expect(second).toEqual({ count: 1, lastId: events[3]!.id });
        expect(await store.scrubBodiesBefore(T0 + 2_000, { limit: 2, afterId: second.lastId! })).toEqual({
          count: 0,
          lastId: events[4]!.id,
        });
        expect(await store.scrubBodiesBefore(T0 + 2_000, { limit: 2, afterId: events[4]!.id })).toEqual({
          count: 0,
          lastId: null,
        });
        const scrubbed = await mustGet(store, events[0]!.id);
        expect(scrubbed.body).toEqual(Buffer.alloc(0));
        expect(scrubbed.bodySha256).toBe(events[0]!.bodySha256);
        expect(scrubbed.headers).toEqual(events[0]!.headers);
        expect((await mustGet(store, events[2]!.id)).body).toEqual(events[2]!.body);
        // Already scrubbed bodies are not scrubbed again.
        expect((await store.scrubBodiesBefore(T0 + 2_000)).count).toBe(0);
        const [archived] = await store.listFinishedEvents(T0 + 2_000, '', 1);
        expect(archived).toMatchObject({ id: events[0]!.id, bodyScrubbedAt: T0 + 10_000 });
      });
    });

    describe('reports', () => {
      it('finds bodies stored under several dedupe keys of one source', async () => {
        expect(await store.findDuplicateBodies(10)).toEqual([]);
        const body = Buffer.from('{"same":true}');
        const first = delivery({ body, bodySha256: sha256(body) });
        const second = delivery({ body, bodySha256: sha256(body) });
        const third = delivery({ body, bodySha256: sha256(body) });
        const elsewhere = delivery({ body, bodySha256: sha256(body), source: 'github', provider: 'github' });
        const single = delivery();
        await store.recordEvents([first, single, elsewhere, redelivery(single, T0 + 1)]);
        expect(await store.findDuplicateBodies(10)).toEqual([]);
        await store.recordEvents([second, third]);

        const groups = await store.findDuplicateBodies(10);
        expect(groups).toEqual([
          {
            source: 'stripe-main',
            bodySha256: sha256(body),
            count: 3,
            eventIds: [first.id, second.id, third.id].sort(),
            dedupeKeys: [first, second, third].sort((a, b) => (a.id < b.id ? -1 : 1)).map((e) => e.dedupeKey),
          },
        ]);
        expect(await store.findDuplicateBodies(0)).toEqual([]);
      });

      it('lists redelivered events, most deliveries first', async () => {
        const [once, twice, thrice] = [delivery(), delivery(), delivery()];
        await store.recordEvents([once, twice, thrice]);
        await store.recordEvents([redelivery(twice, T0 + 1), redelivery(thrice, T0 + 1)]);
        await store.recordEvents([redelivery(thrice, T0 + 2)]);
        const redelivered = await store.listRedeliveredEvents(10);
        expect(redelivered.map((e) => [e.id, e.deliveryCount])).toEqual([
          [thrice.id, 3],
          [twice.id, 2],
        ]);
        expect(redelivered[0]).not.toHaveProperty('body');
        expect(await store.listRedeliveredEvents(1)).toHaveLength(1);
      });

      it('summarizes the whole store', async () => {
        expect(await store.getStatistics()).toEqual({
          total: 0,
          byStatus: {
            pending: 0,
            processing: 0,
            processed: 0,
            failed: 0,
            dead: 0,
            ignored: 0,
            waiting: 0,
            delivering: 0,
          },
          byProvider: {},
          byType: {},
          oldestPending: null,
        });
        const oldestDone = delivery({ receivedAt: T0 - 10_000 });
        const oldestWaiting = delivery({ receivedAt: T0 - 5_000, eventType: 'charge.failed' });
        const newer = delivery({ receivedAt: T0, source: 'github', provider: 'github', eventType: 'push' });
        await store.recordEvents([oldestDone, oldestWaiting, newer]);
        at(T0 + 1);
        await store.markProcessed(oldestDone.id);

        expect(await store.getStatistics()).toEqual({
          total: 3,
          byStatus: {
            pending: 2,
            processing: 0,
            processed: 1,
            failed: 0,
            dead: 0,
            ignored: 0,
            waiting: 0,
            delivering: 0,
          },
          byProvider: { stripe: 2, github: 1 },
          byType: { 'invoice.paid': 1, 'charge.failed': 1, push: 1 },
          oldestPending: {
            id: oldestWaiting.id,
            source: 'stripe-main',
            eventType: 'charge.failed',
            receivedAt: T0 - 5_000,
          },
        });

        // A held event is still waiting for an outcome, and may be the oldest.
        await claim(store, 'w1', T0 + 2, 1);
        const stats = await store.getStatistics();
        expect(stats.byStatus.processing).toBe(1);
        expect(stats.oldestPending?.id).toBe(oldestWaiting.id);
      });

      it('aggregates a monitoring window', async () => {
        const since = T0;
        const until = T0 + 600_000;
        const before = delivery({ receivedAt: T0 - 1 });
        const inWindow = Array.from({ length: 5 }, (_, i) =>
          delivery({ receivedAt: T0 + i * 1_000, eventType: i < 3 ? 'invoice.paid' : 'push' }),
        );
        at(T0 + 5_000);
        await store.recordEvents([before, ...inWindow]);
        at(T0 + 6_001);
        await store.recordEvents([
          redelivery(inWindow[0]!, T0 + 6_000),
          redelivery(inWindow[0]!, T0 + 6_001),
        ]);

        await claim(store, 'w1', T0 + 10_000);
        const ids = inWindow.map((e) => e.id);
        await finish(
          store,
          'w1',
          [
            verdict(ids[0]!, 'processed', { startedAt: T0 + 10_000, finishedAt: T0 + 10_300 }),
            verdict(ids[1]!, 'processed', { startedAt: T0 + 10_000, finishedAt: T0 + 10_100 }),
            verdict(ids[2]!, 'failed', { startedAt: T0 + 10_000, finishedAt: T0 + 10_200, error: 'x' }),
            verdict(ids[3]!, 'dead', { startedAt: T0 + 10_000, finishedAt: T0 + 10_050, error: 'y' }),
            verdict(before.id, 'processed', { startedAt: T0 + 10_000, finishedAt: T0 + 10_400 }),
          ],
          T0 + 20_000,
        );
        at(T0 + 30_000);
        await store.markFailed(ids[4]!, 'manual failure', 0, 5);

        const aggregates = await store.aggregateWindow(since, until, 100);
        expect(aggregates).toEqual({
          total: 5,
          byStatus: {
            pending: 0,
            processing: 0,
            processed: 2,
            failed: 2,
            dead: 1,
            ignored: 0,
            waiting: 0,
            delivering: 0,
          },
          byProvider: { stripe: 5 },
          byType: { 'invoice.paid': 3, push: 2 },
          // Four events with one attempt, and one claimed once and then failed by hand.
          averageAttempts: 1.2,
          duplicateDeliveries: 2,
          attemptDurations: [50, 100, 200, 300, 400],
          // Received to the processed attempt's end: ids[0] at T0, ids[1] at T0+1000, `before` at T0-1.
          processingLatencies: [9_100, 10_300, 10_401],
          failedAttempts: 3,
        });

        const capped = await store.aggregateWindow(since, until, 2);
        expect(capped.attemptDurations).toHaveLength(2);
        expect(capped.processingLatencies).toHaveLength(2);

        const empty = await store.aggregateWindow(T0 + 1_000_000, T0 + 2_000_000, 10);
        expect(empty).toEqual({
          total: 0,
          byStatus: {
            pending: 0,
            processing: 0,
            processed: 0,
            failed: 0,
            dead: 0,
            ignored: 0,
            waiting: 0,
            delivering: 0,
          },
          byProvider: {},
          byType: {},
          averageAttempts: 0,
          duplicateDeliveries: 0,
          attemptDurations: [],
          processingLatencies: [],
          failedAttempts: 0,
        });
      });
    });

    describe('time series', () => {
      const minute = 60_000;
      const empty = (start: number) => ({ start, received: 0, processed: 0, failed: 0, backlog: 0 });

      it('counts received, processed and failed per bucket, and walks the backlog back from now', async () => {
        const now = T0 + 4 * minute + 30_000;
        expect(await store.aggregateTimeSeries(T0, now, minute)).toEqual(
          [0, 1, 2, 3, 4].map((i) => empty(T0 + i * minute)),
        );

        const settle = async (id: string, outcome: AttemptResult['outcome'], when: number) => {
          at(when - 100);
          const claimed = await store.claimEventById(id, {
            workerId: 'w',
            leaseMs: lease,
            ignoreBackoff: true,
          });
          expect(claimed).not.toBeNull();
          tokens.set(id, claimed!.claimToken);
          await finish(store, 'w', [verdict(id, outcome, { startedAt: when - 100, finishedAt: when })], when);
        };
        // Before the window: one still waiting (counts in every bucket's backlog), one long processed.
        at(T0 - 20 * minute);
        const old = await recordOne(store, delivery({ receivedAt: T0 - 20 * minute }));
        at(T0 - 10 * minute);
        const early = await recordOne(store, delivery({ receivedAt: T0 - 10 * minute }));
        await settle(old, 'processed', T0 - 5 * minute);
        const a = delivery({ receivedAt: T0 + 10_000 });
        const b = delivery({ receivedAt: T0 + 20_000 });
        at(T0 + 20_000);
        await store.recordEvents([a, b]);
        await settle(a.id, 'processed', T0 + minute + 5_000);
        await settle(b.id, 'failed', T0 + 2 * minute + 5_000);
        await settle(b.id, 'dead', T0 + 3 * minute + 5_000);
        // A redelivery is not a new event; an event on a bucket's first millisecond is in that bucket.
        at(T0 + 4 * minute);
        await store.recordEvents([redelivery(a, T0 + 3 * minute)]);
        await recordOne(store, delivery({ receivedAt: T0 + 4 * minute }));
        expect((await store.getEvent(early))?.status).toBe('pending');

        at(now);
        expect(await store.aggregateTimeSeries(T0, now, minute)).toEqual([
          { start: T0, received: 2, processed: 0, failed: 0, backlog: 3 },
          { start: T0 + minute, received: 0, processed: 1, failed: 0, backlog: 2 },
          { start: T0 + 2 * minute, received: 0, processed: 0, failed: 1, backlog: 2 },
          { start: T0 + 3 * minute, received: 0, processed: 0, failed: 1, backlog: 1 },
          { start: T0 + 4 * minute, received: 1, processed: 0, failed: 0, backlog: 2 },
        ]);
        // Wider buckets add up the same rows.
        expect(await store.aggregateTimeSeries(T0, now, 5 * minute)).toEqual([
          { start: T0, received: 3, processed: 1, failed: 2, backlog: 2 },
        ]);
      });

      it('refuses a window it cannot bucket', async () => {
        await expect(store.aggregateTimeSeries(T0, T0 - 1, minute)).rejects.toThrow(RangeError);
        await expect(store.aggregateTimeSeries(T0, T0 + minute, 0)).rejects.toThrow(RangeError);
        await expect(store.aggregateTimeSeries(T0, T0 + 30 * 24 * 60 * minute, minute)).rejects.toThrow(
          /at most/,
        );
      });
    });

    describe('wake-ups', () => {
      function nextCall(): { listener: () => void; called: Promise<void>; count: () => number } {
        let calls = 0;
        let resolve!: () => void;
        const called = new Promise<void>((r) => {
          resolve = r;
        });
        return {
          listener: () => {
            calls += 1;
            resolve();
          },
          called,
          count: () => calls,
        };
      }

      it('calls listeners when events are recorded, until unsubscribed', async () => {
        // On PostgreSQL the write comes from another store instance, as from another process.
        const writer = engine === 'postgres' ? t.openSibling() : store;
        const first = nextCall();
        const unsubscribe = await store.onEventsRecorded(first.listener);
        await writer.recordEvents([delivery()]);
        await first.called;
        expect(first.count()).toBeGreaterThanOrEqual(1);

        await unsubscribe();
        const callsBefore = first.count();
        const second = nextCall();
        const unsubscribeSecond = await store.onEventsRecorded(second.listener);
        await writer.recordEvents([delivery()]);
        await second.called;
        expect(first.count()).toBe(callsBefore);
        await unsubscribeSecond();
      });

      it('does not wake anyone for events claimed at ingest', async () => {
        const writer = engine === 'postgres' ? t.openSibling() : store;
        let calls = 0;
        const unsubscribe = await store.onEventsRecorded(() => {
          calls += 1;
        });
        await writer.recordEvents([delivery()], {
          workerId: 'local',
          leaseMs: lease,
          positions: new Set([0]),
        });
        // A pending event recorded after it is a wake-up; the claimed one before it was not.
        const marker = nextCall();
        const unsubscribeMarker = await store.onEventsRecorded(marker.listener);
        await writer.recordEvents([delivery()]);
        await marker.called;
        expect(calls).toBe(1);
        await unsubscribe();
        await unsubscribeMarker();
      });

      if (engine === 'postgres') {
        it('listens again after losing its connection', async () => {
          let calls = 0;
          const unsubscribe = await store.onEventsRecorded(() => {
            calls += 1;
          });
          const terminated = await queryPostgres(
            // The connection LISTENs on the events channel and, after it, the deliveries channel.
            'SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query LIKE $1',
            [`LISTEN "hookbox_events_${t.schema}"%`],
          );
          expect(terminated).toHaveLength(1);
          // Notifications sent while it was down are lost, so reconnecting wakes listeners once.
          await vi.waitFor(() => expect(calls).toBeGreaterThanOrEqual(1), { timeout: 10_000, interval: 50 });
          const before = calls;
          await t.openSibling().recordEvents([delivery()]);
          await vi.waitFor(() => expect(calls).toBeGreaterThan(before), { timeout: 10_000, interval: 20 });
          await unsubscribe();
        });
      }
    });
  });
}
