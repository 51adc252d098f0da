import { createHash } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { StoreUnavailableError } from '../../src/errors.ts';
import { createEventId } from '../../src/ids.ts';
import type { AttemptResult, NewEvent, Store, StoredEvent } from '../../src/store/types.ts';
import { createTestStore, type Engine, queryPostgres, type TestStore } from '../support/stores.ts';

const T0 = Date.UTC(2026, 0, 1);
const lease = 30_000;
let sequence = 0;

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

function verdict(
  eventId: string,
  outcome: AttemptResult['outcome'],
  extra: Partial<AttemptResult> = {},
): AttemptResult {
  return { eventId, outcome, startedAt: T0 + 1_000, finishedAt: T0 + 1_250, ...extra };
}

async function recordOne(store: Store, event: NewEvent, now = event.receivedAt): Promise<string> {
  const [result] = await store.recordEvents([event], now);
  return result!.id;
}

async function claim(store: Store, workerId: string, now: number, limit = 100, leaseMs = lease) {
  return store.claimEvents({ workerId, limit, leaseMs, now });
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
      t = await createTestStore(engine);
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
        const results = await store.recordEvents([event], T0 + 5);
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
          nextAttemptAt: T0,
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
        await store.recordEvents([first], T0);
        const again = redelivery(first, T0 + 60_000);
        const [result] = await store.recordEvents([again], T0 + 60_001);
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
        await store.finishAttempts('w1', [verdict(first.id, 'processed')], T0 + 2_000);
        const [result] = await store.recordEvents([redelivery(first, T0 + 3_000)], T0 + 3_000);
        expect(result).toEqual({ id: first.id, duplicate: true, status: 'processed', deliveryCount: 2 });
        // A duplicate never makes a processed event claimable again.
        expect(await claim(store, 'w1', T0 + 4_000)).toEqual([]);
      });

      it('folds duplicates inside one batch and answers every copy in input order', async () => {
        const a = delivery();
        const b = delivery();
        const c = delivery({ source: 'github', provider: 'github', dedupeKey: a.dedupeKey });
        const results = await store.recordEvents(
          [a, b, redelivery(a, T0 + 1), c, redelivery(a, T0 + 2), redelivery(b, T0 + 3)],
          T0 + 10,
        );
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
        await store.recordEvents([a], T0);
        const results = await store.recordEvents([b, redelivery(a, T0 + 5), redelivery(a, T0 + 6)], T0 + 7);
        expect(results).toEqual([
          { id: b.id, duplicate: false, status: 'pending', deliveryCount: 1 },
          { id: a.id, duplicate: true, status: 'pending', deliveryCount: 2 },
          { id: a.id, duplicate: true, status: 'pending', deliveryCount: 3 },
        ]);
        expect((await mustGet(store, a.id)).deliveryCount).toBe(3);
        expect(await store.countEvents({})).toBe(2);
      });

      it('returns nothing for an empty batch', async () => {
        expect(await store.recordEvents([], T0)).toEqual([]);
      });

      it('stores none of a batch when one row is refused', async () => {
        const existing = delivery();
        await recordOne(store, existing);
        const batch = [delivery(), redelivery(existing, T0 + 1), delivery({ dedupeKey: '' }), delivery()];
        const failure = await store.recordEvents(batch, T0 + 1).catch((error: unknown) => error);
        expect(failure).toBeInstanceOf(StoreUnavailableError);
        expect((failure as StoreUnavailableError).code).toBe('store_unavailable');
        expect((failure as StoreUnavailableError).status).toBe(503);
        expect((failure as Error).cause).toBeDefined();
        expect(await store.countEvents({})).toBe(1);
        expect((await mustGet(store, existing.id)).deliveryCount).toBe(1);
      });

      it('throws StoreUnavailableError and stores nothing when the store is closed', async () => {
        await store.close();
        await expect(store.recordEvents([delivery()], T0)).rejects.toBeInstanceOf(StoreUnavailableError);
        await expect(store.ping()).rejects.toBeInstanceOf(StoreUnavailableError);
        const sibling = t.openSibling();
        expect(await sibling.countEvents({})).toBe(0);
      });
    });

    describe('claiming', () => {
      it('claims due pending and failed events in due order, with a lease and one more attempt', async () => {
        const e1 = delivery({ receivedAt: T0 });
        const e2 = delivery({ receivedAt: T0 });
        const e3 = delivery({ receivedAt: T0 + 500 });
        const later = delivery({ receivedAt: T0 + 60_000 });
        await store.recordEvents([later, e3, e2, e1], T0 + 60_000);

        const claimed = await claim(store, 'w1', T0 + 1_000);
        expect(claimed.map((e) => e.id)).toEqual([e1.id, e2.id, e3.id]);
        for (const event of claimed) {
          expect(event).toMatchObject({
            status: 'processing',
            attempts: 1,
            lockedBy: 'w1',
            lockedAt: T0 + 1_000,
            lockedUntil: T0 + 1_000 + lease,
            updatedAt: T0 + 1_000,
          });
          expect(Buffer.isBuffer(event.body)).toBe(true);
          expect(event.headers['content-type']).toBe('application/json');
        }
        // Held events are not claimable; the later one is not due yet.
        expect(await claim(store, 'w2', T0 + 1_000)).toEqual([]);

        await store.finishAttempts(
          'w1',
          [
            verdict(e1.id, 'processed'),
            verdict(e2.id, 'failed', { error: 'boom', nextAttemptAt: T0 + 10_000 }),
            verdict(e3.id, 'dead', { error: 'gave up' }),
          ],
          T0 + 2_000,
        );
        expect(await claim(store, 'w2', T0 + 9_999)).toEqual([]);
        const retried = await claim(store, 'w2', T0 + 10_000);
        expect(retried.map((e) => [e.id, e.attempts, e.lockedBy])).toEqual([[e2.id, 2, 'w2']]);
        expect((await claim(store, 'w2', T0 + 60_000)).map((e) => e.id)).toEqual([later.id]);
        expect(await claim(store, 'w2', T0 + 1_000_000)).toEqual([]);
      });

      it('respects the limit and excluded sources', async () => {
        const stripe = [delivery(), delivery(), delivery()];
        const github = [delivery({ source: 'github', provider: 'github' })];
        await store.recordEvents([...stripe, ...github], T0);
        const first = await store.claimEvents({ workerId: 'w1', limit: 2, leaseMs: lease, now: T0 });
        expect(first).toHaveLength(2);
        const rest = await store.claimEvents({
          workerId: 'w1',
          limit: 10,
          leaseMs: lease,
          now: T0,
          excludeSources: ['stripe-main'],
        });
        expect(rest.map((e) => e.id)).toEqual([github[0]!.id]);
        expect(await store.claimEvents({ workerId: 'w1', limit: 0, leaseMs: lease, now: T0 })).toEqual([]);
        const last = await store.claimEvents({
          workerId: 'w1',
          limit: 10,
          leaseMs: lease,
          now: T0,
          excludeSources: [],
        });
        expect(last).toHaveLength(1);
      });

      it('never hands one event to two concurrent claimers', async () => {
        const events = Array.from({ length: 200 }, (_, i) => delivery({ receivedAt: T0 + (i % 7) }));
        await store.recordEvents(events, T0 + 10);
        const sibling = t.openSibling();
        const claimers = [store, sibling, store, sibling].map(async (s, i) => {
          const mine: string[] = [];
          for (;;) {
            const batch = await s.claimEvents({ workerId: `w${i}`, limit: 7, leaseMs: lease, now: T0 + 100 });
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

      it('claims one event by id whatever its due time, once', async () => {
        const future = delivery({ receivedAt: T0 + 3_600_000 });
        await recordOne(store, future);
        const [a, b] = await Promise.all([
          store.claimEventById(future.id, { workerId: 'sync-1', leaseMs: lease, now: T0 }),
          t.openSibling().claimEventById(future.id, { workerId: 'sync-2', leaseMs: lease, now: T0 }),
        ]);
        const winners = [a, b].filter((e) => e !== null);
        expect(winners).toHaveLength(1);
        expect(winners[0]).toMatchObject({ id: future.id, status: 'processing', attempts: 1, lockedAt: T0 });
        expect(
          await store.claimEventById(future.id, { workerId: 'sync-3', leaseMs: lease, now: T0 }),
        ).toBeNull();
        expect(
          await store.claimEventById('missing', { workerId: 'sync-3', leaseMs: lease, now: T0 }),
        ).toBeNull();

        await store.finishAttempts(winners[0]!.lockedBy!, [verdict(future.id, 'processed')], T0 + 1);
        expect(
          await store.claimEventById(future.id, { workerId: 'sync-3', leaseMs: lease, now: T0 + 2 }),
        ).toBeNull();
      });
    });

    describe('finishAttempts', () => {
      it('applies every outcome with its attempts row', async () => {
        const [processed, failed, dead, ignored, released, releasedLater] = Array.from({ length: 6 }, () =>
          delivery(),
        ) as [NewEvent, NewEvent, NewEvent, NewEvent, NewEvent, NewEvent];
        await store.recordEvents([processed, failed, dead, ignored, released, releasedLater], T0);
        await claim(store, 'w1', T0 + 1_000);
        const now = T0 + 2_000;
        const applied = await store.finishAttempts(
          'w1',
          [
            verdict(processed.id, 'processed'),
            verdict(failed.id, 'failed', { error: 'HTTP 500 from billing', nextAttemptAt: T0 + 60_000 }),
            verdict(dead.id, 'dead', { error: 'unrecoverable' }),
            verdict(ignored.id, 'ignored'),
            verdict(released.id, 'released', { error: 'worker shutting down' }),
            verdict(releasedLater.id, 'released', { nextAttemptAt: T0 + 5_000 }),
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
          await store.finishAttempts(
            'w1',
            [verdict(event.id, 'failed', { error: `try ${round}`, nextAttemptAt: now })],
            now,
          );
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

      it('is fenced by the lease holder', async () => {
        const event = delivery();
        await recordOne(store, event);
        await claim(store, 'w1', T0);
        expect(await store.finishAttempts('w2', [verdict(event.id, 'processed')], T0 + 1)).toEqual([]);
        expect(await mustGet(store, event.id)).toMatchObject({ status: 'processing', lockedBy: 'w1' });
        expect(await store.listAttempts(event.id)).toEqual([]);
        expect(await store.finishAttempts('w1', [], T0 + 1)).toEqual([]);
      });

      it('skips a result whose lease was lost to another worker', async () => {
        const event = delivery();
        const other = delivery();
        await store.recordEvents([event, other], T0);
        await claim(store, 'w1', T0, 10, 1_000);
        expect(await store.reclaimExpiredLeases(T0 + 1_000, 5)).toEqual([event.id, other.id].sort());
        await claim(store, 'w2', T0 + 1_000);

        const late = await store.finishAttempts(
          'w1',
          [verdict(event.id, 'processed'), verdict(other.id, 'failed', { error: 'x', nextAttemptAt: T0 })],
          T0 + 1_500,
        );
        expect(late).toEqual([]);
        expect(await mustGet(store, event.id)).toMatchObject({
          status: 'processing',
          lockedBy: 'w2',
          attempts: 2,
        });
        expect(await store.finishAttempts('w2', [verdict(event.id, 'processed')], T0 + 1_600)).toEqual([
          event.id,
        ]);
      });

      it('extends only leases the worker still holds', async () => {
        const [a, b, c] = [delivery(), delivery(), delivery()];
        await store.recordEvents([a, b, c], T0);
        await claim(store, 'w1', T0, 2);
        await claim(store, 'w2', T0, 1);
        const until = T0 + 120_000;
        expect(await store.extendLeases('w1', [b.id, a.id, c.id, 'missing'], until, T0 + 10)).toEqual([
          b.id,
          a.id,
        ]);
        expect(await mustGet(store, a.id)).toMatchObject({
          lockedUntil: until,
          updatedAt: T0 + 10,
          lockedBy: 'w1',
        });
        expect((await mustGet(store, c.id)).lockedUntil).toBe(T0 + lease);
        await store.finishAttempts('w1', [verdict(a.id, 'processed')], T0 + 20);
        expect(await store.extendLeases('w1', [a.id, b.id], until + 1, T0 + 30)).toEqual([b.id]);
        expect(await store.extendLeases('w1', [], until, T0)).toEqual([]);
      });
    });

    describe('reclaimExpiredLeases', () => {
      it('returns expired leases to failed with a lease_expired attempt', async () => {
        const short = delivery();
        const long = delivery();
        await recordOne(store, short);
        await recordOne(store, long);
        await store.claimEvents({ workerId: 'w1', limit: 1, leaseMs: 1_000, now: T0 + 100 });
        await store.claimEvents({ workerId: 'w2', limit: 1, leaseMs: 60_000, now: T0 + 100 });

        expect(await store.reclaimExpiredLeases(T0 + 1_099, 3)).toEqual([]);
        expect(await store.reclaimExpiredLeases(T0 + 1_100, 3)).toEqual([short.id]);
        expect(await mustGet(store, short.id)).toMatchObject({
          status: 'failed',
          nextAttemptAt: T0 + 1_100,
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
        // Reclaimed events are due again at once.
        expect((await claim(store, 'w3', T0 + 1_100)).map((e) => e.id)).toEqual([short.id]);
      });

      it('marks dead once the attempt budget is spent', async () => {
        const event = delivery();
        await recordOne(store, event);
        for (let round = 1; round <= 3; round++) {
          const now = T0 + round * 10_000;
          const [claimed] = await store.claimEvents({ workerId: `w${round}`, limit: 1, leaseMs: 1_000, now });
          expect(claimed?.attempts).toBe(round);
          expect(await store.reclaimExpiredLeases(now + 1_000, 3)).toEqual([event.id]);
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

        expect(await tx.commitWith('w1', verdict(event.id, 'processed'), T0 + 2_000)).toBe(true);
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

      it("rolls the handler's writes back when the lease was lost", async () => {
        const event = delivery();
        await recordOne(store, event);
        await claim(store, 'w1', T0, 1, 1_000);
        const tx = (await store.beginEventTransaction())!;
        await tx.handle.query('INSERT INTO side_effects (event_id) VALUES ($1)', [event.id]);
        // Meanwhile the lease expires and another worker takes the event.
        await store.reclaimExpiredLeases(T0 + 1_000, 5);
        await claim(store, 'w2', T0 + 1_000);

        expect(await tx.commitWith('w1', verdict(event.id, 'processed'), T0 + 1_500)).toBe(false);
        expect(await sideEffects()).toEqual([]);
        expect(await mustGet(store, event.id)).toMatchObject({ status: 'processing', lockedBy: 'w2' });
        expect((await store.listAttempts(event.id)).map((a) => a.outcome)).toEqual(['lease_expired']);
      });

      it('completes through finishAttempts when the handler never used the handle', async () => {
        const event = delivery();
        await recordOne(store, event);
        await claim(store, 'w1', T0);
        const tx = (await store.beginEventTransaction())!;
        expect(tx.used).toBe(false);
        expect(await tx.commitWith('w1', verdict(event.id, 'processed'), T0 + 5)).toBe(true);
        expect((await mustGet(store, event.id)).status).toBe('processed');

        const other = delivery();
        await recordOne(store, other);
        await claim(store, 'w1', T0);
        const lost = (await store.beginEventTransaction())!;
        expect(await lost.commitWith('w2', verdict(other.id, 'processed'), T0 + 5)).toBe(false);
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
        await store.recordEvents(events, T0 + 30_000);
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

        await store.claimEvents({ workerId: 'w1', limit: 4, leaseMs: lease, now: T0 + 30_000 });
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

        const target = events[17]!;
        for (const search of [target.id, target.dedupeKey]) {
          const found = await store.listEvents({ limit: 10, search });
          expect(found.events.map((e) => e.id)).toEqual([target.id]);
          expect(await store.countEvents({ search })).toBe(1);
        }
        expect(await store.countEvents({ search: 'no-such-key' })).toBe(0);
        expect(await store.countEvents({})).toBe(25);
      });

      it('lists due failed events oldest first', async () => {
        const [a, b, c] = [delivery(), delivery(), delivery()];
        await store.recordEvents([a, b, c], T0);
        await claim(store, 'w1', T0);
        await store.finishAttempts(
          'w1',
          [
            verdict(a.id, 'failed', { error: 'a', nextAttemptAt: T0 + 3_000 }),
            verdict(b.id, 'failed', { error: 'b', nextAttemptAt: T0 + 1_000 }),
            verdict(c.id, 'failed', { error: 'c', nextAttemptAt: T0 + 9_000 }),
          ],
          T0 + 500,
        );
        const due = await store.listRetryableEvents(T0 + 5_000, 10);
        expect(due.map((e) => e.id)).toEqual([b.id, a.id]);
        expect(due[0]).not.toHaveProperty('body');
        expect((await store.listRetryableEvents(T0 + 5_000, 1)).map((e) => e.id)).toEqual([b.id]);
      });
    });

    describe('manual actions', () => {
      it('marks an event processed once, leaving a processed event untouched', async () => {
        const event = delivery();
        await recordOne(store, event);
        expect(await store.markProcessed(event.id, T0 + 1_000)).toBe(true);
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

        expect(await store.markProcessed(event.id, T0 + 9_000)).toBe(false);
        expect(await mustGet(store, event.id)).toMatchObject({
          processedAt: T0 + 1_000,
          updatedAt: T0 + 1_000,
        });
        expect(await store.listAttempts(event.id)).toHaveLength(1);
        expect(await store.markProcessed('missing', T0)).toBe(false);
      });

      it('marks a held event processed and fences out its worker', async () => {
        const event = delivery();
        await recordOne(store, event);
        await claim(store, 'w1', T0);
        expect(await store.markProcessed(event.id, T0 + 10)).toBe(true);
        expect(await mustGet(store, event.id)).toMatchObject({
          status: 'processed',
          lockedBy: null,
          lockedUntil: null,
        });
        expect(
          await store.finishAttempts('w1', [verdict(event.id, 'failed', { error: 'late' })], T0 + 20),
        ).toEqual([]);
      });

      it('bulk-marks only events not yet processed', async () => {
        const [a, b, c] = [delivery(), delivery(), delivery()];
        await store.recordEvents([a, b, c], T0);
        await store.markProcessed(a.id, T0 + 1);
        expect(await store.bulkMarkProcessed([a.id, b.id, c.id, b.id, 'missing'], T0 + 2)).toBe(2);
        expect(await store.countEvents({ status: 'processed' })).toBe(3);
        expect((await mustGet(store, a.id)).updatedAt).toBe(T0 + 1);
        expect(await store.listAttempts(b.id)).toMatchObject([{ workerId: 'manual', outcome: 'processed' }]);
        expect(await store.bulkMarkProcessed([], T0 + 3)).toBe(0);
      });

      it('counts a manual failure and goes dead at the budget', async () => {
        const event = delivery();
        await recordOne(store, event);
        const failed = await store.markFailed(event.id, 'refund rejected', T0 + 60_000, 2, T0 + 10);
        expect(failed).toMatchObject({
          id: event.id,
          status: 'failed',
          attempts: 1,
          lastError: 'refund rejected',
          nextAttemptAt: T0 + 60_000,
          updatedAt: T0 + 10,
        });
        expect(Buffer.isBuffer(failed!.body)).toBe(true);
        const dead = await store.markFailed(event.id, 'still rejected', T0 + 120_000, 2, T0 + 20);
        expect(dead).toMatchObject({ status: 'dead', attempts: 2, lastError: 'still rejected' });
        expect(
          (await store.listAttempts(event.id)).map((a) => [a.attemptNumber, a.workerId, a.outcome, a.error]),
        ).toEqual([
          [1, 'manual', 'failed', 'refund rejected'],
          [2, 'manual', 'dead', 'still rejected'],
        ]);
        expect(await store.markFailed('missing', 'x', T0, 2, T0)).toBeNull();
        const done = delivery();
        await recordOne(store, done);
        await store.markProcessed(done.id, T0);
        expect(await store.markFailed(done.id, 'x', T0, 2, T0 + 1)).toBeNull();
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
        await store.recordEvents([dead, failed, processed, held], T0);
        await claim(store, 'w1', T0);
        await store.finishAttempts(
          'w1',
          [
            verdict(dead.id, 'dead', { error: 'gone' }),
            verdict(failed.id, 'failed', { error: 'flaky', nextAttemptAt: T0 + 999_999 }),
            verdict(processed.id, 'processed'),
          ],
          T0 + 100,
        );
        await recordOne(store, { ...pending, source: 'github', provider: 'github' });

        expect(await store.requeueEvents({ ids: [] }, T0 + 200)).toBe(0);
        expect(await store.requeueEvents({ ids: [dead.id, held.id] }, T0 + 200)).toBe(1);
        expect(await mustGet(store, dead.id)).toMatchObject({
          status: 'pending',
          attempts: 0,
          nextAttemptAt: T0 + 200,
          lastError: 'gone',
          updatedAt: T0 + 200,
        });
        expect(
          await store.requeueEvents({ status: ['failed', 'processed'], source: 'stripe-main' }, T0 + 300),
        ).toBe(2);
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
        expect(await store.requeueEvents({}, T0 + 400)).toBe(4);
        expect(await mustGet(store, held.id)).toMatchObject({ status: 'processing', lockedBy: 'w1' });
        expect((await claim(store, 'w2', T0 + 400)).map((e) => e.attempts)).toEqual([1, 1, 1, 1]);
      });

      it('requeues events stuck in processing, lease or not', async () => {
        const [stuck, fresh] = [delivery(), delivery()];
        await recordOne(store, stuck);
        await store.claimEvents({ workerId: 'w1', limit: 1, leaseMs: 600_000, now: T0 });
        await recordOne(store, fresh);
        await store.claimEvents({ workerId: 'w2', limit: 1, leaseMs: 600_000, now: T0 + 50_000 });

        expect(await store.requeueStuckProcessing(T0 + 30_000, T0 + 60_000)).toBe(1);
        expect(await mustGet(store, stuck.id)).toMatchObject({
          status: 'pending',
          nextAttemptAt: T0 + 60_000,
          lockedBy: null,
          lockedAt: null,
          lockedUntil: null,
          attempts: 1,
        });
        expect(await store.listAttempts(stuck.id)).toMatchObject([
          { workerId: 'w1', outcome: 'released', startedAt: T0, finishedAt: T0 + 60_000, durationMs: 60_000 },
        ]);
        expect(await mustGet(store, fresh.id)).toMatchObject({ status: 'processing', lockedBy: 'w2' });
        expect(await store.requeueStuckProcessing(T0 + 30_000, T0 + 60_000)).toBe(0);
      });
    });

    describe('deletion', () => {
      it('deletes one event with its attempts', async () => {
        const event = delivery();
        await recordOne(store, event);
        await claim(store, 'w1', T0);
        await store.finishAttempts('w1', [verdict(event.id, 'processed')], T0 + 1);
        expect(await store.deleteEvent(event.id)).toBe(true);
        expect(await store.getEvent(event.id)).toBeNull();
        expect(await store.listAttempts(event.id)).toEqual([]);
        expect(await store.deleteEvent(event.id)).toBe(false);
      });

      it('deletes processed and ignored events finished before a time', async () => {
        const [oldProcessed, oldIgnored, failed, newProcessed, pending] = Array.from({ length: 5 }, () =>
          delivery(),
        ) as [NewEvent, NewEvent, NewEvent, NewEvent, NewEvent];
        await store.recordEvents([oldProcessed, oldIgnored, failed, newProcessed, pending], T0);
        await store.claimEvents({ workerId: 'w1', limit: 3, leaseMs: lease, now: T0 });
        await store.finishAttempts(
          'w1',
          [
            verdict(oldProcessed.id, 'processed'),
            verdict(oldIgnored.id, 'ignored'),
            verdict(failed.id, 'failed', { error: 'x', nextAttemptAt: T0 }),
          ],
          T0 + 1_000,
        );
        await store.markProcessed(newProcessed.id, T0 + 5_000);

        expect(await store.deleteProcessedBefore(T0 + 1_000)).toBe(0);
        expect(await store.deleteProcessedBefore(T0 + 2_000, 1)).toBe(1);
        expect(await store.deleteProcessedBefore(T0 + 2_000)).toBe(1);
        expect(await store.getEvent(oldProcessed.id)).toBeNull();
        expect(await store.getEvent(oldIgnored.id)).toBeNull();
        expect(await store.countEvents({})).toBe(3);
        expect(await store.deleteProcessedBefore(T0 + 10_000, 100)).toBe(1);
        expect(await store.countEvents({})).toBe(2);
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
        await store.recordEvents([first, single, elsewhere, redelivery(single, T0 + 1)], T0);
        expect(await store.findDuplicateBodies(10)).toEqual([]);
        await store.recordEvents([second, third], T0 + 10);

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
        await store.recordEvents([once, twice, thrice], T0);
        await store.recordEvents([redelivery(twice, T0 + 1), redelivery(thrice, T0 + 1)], T0 + 1);
        await store.recordEvents([redelivery(thrice, T0 + 2)], T0 + 2);
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
          byStatus: { pending: 0, processing: 0, processed: 0, failed: 0, dead: 0, ignored: 0 },
          byProvider: {},
          byType: {},
          oldestPending: null,
        });
        const oldestDone = delivery({ receivedAt: T0 - 10_000 });
        const oldestWaiting = delivery({ receivedAt: T0 - 5_000, eventType: 'charge.failed' });
        const newer = delivery({ receivedAt: T0, source: 'github', provider: 'github', eventType: 'push' });
        await store.recordEvents([oldestDone, oldestWaiting, newer], T0);
        await store.markProcessed(oldestDone.id, T0 + 1);

        expect(await store.getStatistics()).toEqual({
          total: 3,
          byStatus: { pending: 2, processing: 0, processed: 1, failed: 0, dead: 0, ignored: 0 },
          byProvider: { stripe: 2, github: 1 },
          byType: { 'invoice.paid': 1, 'charge.failed': 1, push: 1 },
          oldestPending: {
            id: oldestWaiting.id,
            source: 'stripe-main',
            eventType: 'charge.failed',
            receivedAt: T0 - 5_000,
          },
        });

        // A held event is still waiting for an outcome.
        await claim(store, 'w1', T0 + 2);
        const stats = await store.getStatistics();
        expect(stats.byStatus.processing).toBe(2);
        expect(stats.oldestPending?.id).toBe(oldestWaiting.id);
      });

      it('aggregates a monitoring window', async () => {
        const since = T0;
        const now = T0 + 600_000;
        const before = delivery({ receivedAt: T0 - 1 });
        const inWindow = Array.from({ length: 5 }, (_, i) =>
          delivery({ receivedAt: T0 + i * 1_000, eventType: i < 3 ? 'invoice.paid' : 'push' }),
        );
        await store.recordEvents([before, ...inWindow], T0 + 5_000);
        await store.recordEvents(
          [redelivery(inWindow[0]!, T0 + 6_000), redelivery(inWindow[0]!, T0 + 6_001)],
          T0 + 6_001,
        );

        await claim(store, 'w1', T0 + 10_000);
        const ids = inWindow.map((e) => e.id);
        await store.finishAttempts(
          'w1',
          [
            verdict(ids[0]!, 'processed', { startedAt: T0 + 10_000, finishedAt: T0 + 10_300 }),
            verdict(ids[1]!, 'processed', { startedAt: T0 + 10_000, finishedAt: T0 + 10_100 }),
            verdict(ids[2]!, 'failed', {
              startedAt: T0 + 10_000,
              finishedAt: T0 + 10_200,
              error: 'x',
              nextAttemptAt: T0,
            }),
            verdict(ids[3]!, 'dead', { startedAt: T0 + 10_000, finishedAt: T0 + 10_050, error: 'y' }),
            verdict(before.id, 'processed', { startedAt: T0 + 10_000, finishedAt: T0 + 10_400 }),
          ],
          T0 + 20_000,
        );
        await store.markFailed(ids[4]!, 'manual failure', T0, 5, T0 + 30_000);

        const aggregates = await store.aggregateWindow(since, now, 100);
        expect(aggregates).toEqual({
          total: 5,
          byStatus: { pending: 0, processing: 0, processed: 2, failed: 2, dead: 1, ignored: 0 },
          byProvider: { stripe: 5 },
          byType: { 'invoice.paid': 3, push: 2 },
          // Four events with one attempt, and one claimed once and then failed by hand.
          averageAttempts: 1.2,
          duplicateDeliveries: 2,
          attemptDurations: [50, 100, 200, 300, 400],
          // processed_at - received_at: ids[0] at T0, ids[1] at T0+1000, `before` at T0-1.
          processingLatencies: [19_000, 20_000, 20_001],
          failedAttempts: 3,
        });

        const capped = await store.aggregateWindow(since, now, 2);
        expect(capped.attemptDurations).toHaveLength(2);
        expect(capped.processingLatencies).toHaveLength(2);

        const empty = await store.aggregateWindow(T0 + 1_000_000, T0 + 2_000_000, 10);
        expect(empty).toEqual({
          total: 0,
          byStatus: { pending: 0, processing: 0, processed: 0, failed: 0, dead: 0, ignored: 0 },
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

        const settle = async (id: string, outcome: AttemptResult['outcome'], at: number) => {
          expect(
            await store.claimEventById(id, { workerId: 'w', leaseMs: lease, now: at - 100 }),
          ).not.toBeNull();
          const extra = outcome === 'failed' ? { nextAttemptAt: at } : {};
          await store.finishAttempts(
            'w',
            [verdict(id, outcome, { startedAt: at - 100, finishedAt: at, ...extra })],
            at,
          );
        };
        // Before the window: one still waiting (counts in every bucket's backlog), one long processed.
        const early = await recordOne(store, delivery({ receivedAt: T0 - 10 * minute }));
        const old = await recordOne(store, delivery({ receivedAt: T0 - 20 * minute }));
        await settle(old, 'processed', T0 - 15 * minute);
        const a = delivery({ receivedAt: T0 + 10_000 });
        const b = delivery({ receivedAt: T0 + 20_000 });
        await store.recordEvents([a, b], T0 + 20_000);
        await settle(a.id, 'processed', T0 + minute + 5_000);
        await settle(b.id, 'failed', T0 + 2 * minute + 5_000);
        await settle(b.id, 'dead', T0 + 3 * minute + 5_000);
        // A redelivery is not a new event; an event on a bucket's first millisecond is in that bucket.
        await store.recordEvents([redelivery(a, T0 + 3 * minute)], T0 + 3 * minute);
        await recordOne(store, delivery({ receivedAt: T0 + 4 * minute }));
        expect((await store.getEvent(early))?.status).toBe('pending');

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
        await writer.recordEvents([delivery()], T0);
        await first.called;
        expect(first.count()).toBeGreaterThanOrEqual(1);

        await unsubscribe();
        const callsBefore = first.count();
        const second = nextCall();
        const unsubscribeSecond = await store.onEventsRecorded(second.listener);
        await writer.recordEvents([delivery()], T0 + 1);
        await second.called;
        expect(first.count()).toBe(callsBefore);
        await unsubscribeSecond();
      });

      if (engine === 'postgres') {
        it('listens again after losing its connection', async () => {
          let calls = 0;
          const unsubscribe = await store.onEventsRecorded(() => {
            calls += 1;
          });
          const terminated = await queryPostgres(
            'SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query = $1',
            [`LISTEN "hookbox_events_${t.schema}"`],
          );
          expect(terminated).toHaveLength(1);
          // Notifications sent while it was down are lost, so reconnecting wakes listeners once.
          await vi.waitFor(() => expect(calls).toBeGreaterThanOrEqual(1), { timeout: 10_000, interval: 50 });
          const before = calls;
          await t.openSibling().recordEvents([delivery()], T0);
          await vi.waitFor(() => expect(calls).toBeGreaterThan(before), { timeout: 10_000, interval: 20 });
          await unsubscribe();
        });
      }
    });
  });
}
