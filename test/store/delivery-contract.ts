/**
 * The DeliveryStore contract (issue 14), run on both adapters like test/store/contract.ts:
 * deliveries created with their events, claims per destination in receipt order, fencing by
 * claim token, the event's status following its handlers and its deliveries, destination
 * states, reclaims, retry and replay.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createManualClock } from '../../src/clock.ts';
import { createEventId } from '../../src/ids.ts';
import type {
  ClaimedDelivery,
  DeliveryAttemptRecord,
  DeliveryResult,
  NewEvent,
  Store,
} from '../../src/store/types.ts';
import { createTestStore, type Engine, queryPostgres, type TestStore } from '../support/stores.ts';

const T0 = Date.UTC(2026, 0, 1);
const clock = createManualClock(T0);
let sequence = 0;

function newEvent(overrides: Partial<NewEvent> = {}): NewEvent {
  sequence += 1;
  const receivedAt = overrides.receivedAt ?? clock.now();
  const body = Buffer.from(JSON.stringify({ id: `evt_d${sequence}`, type: 'invoice.paid' }));
  return {
    id: createEventId(receivedAt),
    source: 'stripe',
    provider: 'stripe',
    dedupeKey: `evt_d${sequence}`,
    eventType: 'invoice.paid',
    headers: { 'content-type': 'application/json' },
    body,
    bodySha256: createHash('sha256').update(body).digest('hex'),
    receivedAt,
    ...overrides,
  };
}

function attemptRecord(fields: Partial<DeliveryAttemptRecord> = {}): DeliveryAttemptRecord {
  return {
    startedAt: clock.now(),
    durationMs: 12,
    statusCode: 200,
    responseExcerpt: Buffer.from('ok'),
    errorCode: null,
    error: null,
    ...fields,
  };
}

function verdict(
  claimed: ClaimedDelivery,
  outcome: DeliveryResult['outcome'],
  extra: Partial<DeliveryResult> = {},
): DeliveryResult {
  return {
    deliveryId: claimed.id,
    token: claimed.claimToken,
    outcome,
    ...(outcome === 'released'
      ? {}
      : {
          attempt: attemptRecord(
            outcome === 'succeeded' ? {} : { statusCode: 503, errorCode: 'status', error: 'answered 503' },
          ),
        }),
    ...extra,
  };
}

const both = (limit = 10) => [
  { source: 'stripe', name: 'billing', limit },
  { source: 'stripe', name: 'crm', limit },
];

export function describeDeliveryStoreContract(engine: Engine): void {
  describe(`DeliveryStore contract: ${engine}`, () => {
    let t: TestStore;
    let store: Store;

    beforeEach(async () => {
      clock.set(T0);
      t = await createTestStore(engine, { clock });
      store = t.store;
    });

    afterEach(async () => {
      await t.cleanup();
    });

    async function claimAll(limit = 10, workerId = 'w1', leaseMs = 30_000) {
      return store.claimDeliveries({ workerId, leaseMs, destinations: both(limit) });
    }

    /** Handlers' side: claim the event and give the verdict. */
    async function finishHandlers(eventId: string, outcome: 'processed' | 'ignored' = 'processed') {
      const [claimed] = await store.claimEvents({ workerId: 'hw', limit: 10, leaseMs: 30_000 });
      expect(claimed?.id).toBe(eventId);
      const applied = await store.finishAttempts('hw', [
        { eventId, token: claimed!.claimToken, outcome, startedAt: clock.now(), finishedAt: clock.now() },
      ]);
      expect(applied).toHaveLength(1);
    }

    async function statusOf(eventId: string) {
      return (await store.getEvent(eventId))?.status;
    }

    it('creates one pending delivery per listed destination with a new event, none for a duplicate or without destinations', async () => {
      const event = newEvent({ destinations: ['billing', 'crm'] });
      const plain = newEvent();
      const results = await store.recordEvents([event, plain]);
      expect(results.map((r) => r.duplicate)).toEqual([false, false]);
      const rows = await store.listDeliveries({ eventId: event.id, limit: 10 });
      expect(rows.map((r) => [r.destination, r.status, r.attempts]).sort()).toEqual([
        ['billing', 'pending', 0],
        ['crm', 'pending', 0],
      ]);
      expect(rows[0]!.nextAttemptAt).toBe(T0);
      expect(await store.listDeliveries({ eventId: plain.id, limit: 10 })).toEqual([]);

      clock.advance(1_000);
      const again = await store.recordEvents([{ ...event, id: createEventId(clock.now()) }]);
      expect(again[0]).toMatchObject({ id: event.id, duplicate: true });
      expect(await store.listDeliveries({ limit: 10 })).toHaveLength(2);
    });

    it('claims per destination within its limit, in receipt order, with a payload and a token', async () => {
      const events = [1, 2, 3].map(() => newEvent({ destinations: ['billing', 'crm'] }));
      for (const event of events) {
        await store.recordEvents([event]);
        clock.advance(10);
      }
      const claimed = await store.claimDeliveries({
        workerId: 'w1',
        leaseMs: 30_000,
        destinations: [
          { source: 'stripe', name: 'billing', limit: 2 },
          { source: 'stripe', name: 'crm', limit: 1 },
        ],
      });
      const billing = claimed.filter((d) => d.destination === 'billing').map((d) => d.eventId);
      const crm = claimed.filter((d) => d.destination === 'crm').map((d) => d.eventId);
      expect(billing).toEqual([events[0]!.id, events[1]!.id]);
      expect(crm).toEqual([events[0]!.id]);
      const first = claimed[0]!;
      expect(first).toMatchObject({
        status: 'processing',
        attempts: 1,
        claimToken: 1,
        lockedBy: 'w1',
        eventType: 'invoice.paid',
        headers: { 'content-type': 'application/json' },
      });
      expect(first.lockedUntil).toBe(clock.now() + 30_000);
      expect(first.body.equals(events[0]!.body)).toBe(true);
      // Held ones are not claimed twice; the rest come next, in order.
      const rest = await claimAll();
      expect(rest.map((d) => `${d.destination}:${d.eventId}`).sort()).toEqual(
        [`billing:${events[2]!.id}`, `crm:${events[1]!.id}`, `crm:${events[2]!.id}`].sort(),
      );
      expect(await claimAll()).toEqual([]);
    });

    it('keeps an event delivering after its handlers until every delivery succeeded, then processed', async () => {
      const event = newEvent({ destinations: ['billing', 'crm'] });
      await store.recordEvents([event]);
      await finishHandlers(event.id);
      expect(await statusOf(event.id)).toBe('delivering');
      expect((await store.getEvent(event.id))?.processedAt).toBeNull();

      const [a, b] = await claimAll();
      clock.advance(100);
      expect(await store.finishDeliveries('w1', [verdict(a!, 'succeeded')])).toEqual([
        { deliveryId: a!.id, token: a!.claimToken },
      ]);
      expect(await statusOf(event.id)).toBe('delivering');
      await store.finishDeliveries('w1', [verdict(b!, 'succeeded')]);
      const done = await store.getEvent(event.id);
      expect(done?.status).toBe('processed');
      expect(done?.processedAt).toBe(clock.now());
      const attempts = await store.listDeliveryAttempts(a!.id);
      expect(attempts).toMatchObject([
        { attemptNumber: 1, workerId: 'w1', statusCode: 200, outcome: 'succeeded', durationMs: 12 },
      ]);
      expect(attempts[0]!.responseExcerpt.toString()).toBe('ok');
      expect((await store.getDelivery(a!.id))?.finishedAt).toBe(clock.now());
    });

    it('marks an event processed at its handler verdict when its deliveries already succeeded; ignored becomes delivering', async () => {
      const early = newEvent({ destinations: ['billing'] });
      const unhandled = newEvent({ destinations: ['billing'] });
      const none = newEvent({ destinations: [] });
      await store.recordEvents([early]);
      const [d] = await claimAll();
      await store.finishDeliveries('w1', [verdict(d!, 'succeeded')]);
      expect(await statusOf(early.id)).toBe('pending');
      await finishHandlers(early.id);
      expect(await statusOf(early.id)).toBe('processed');

      await store.recordEvents([unhandled]);
      await finishHandlers(unhandled.id, 'ignored');
      expect(await statusOf(unhandled.id)).toBe('delivering');

      await store.recordEvents([none]);
      await finishHandlers(none.id, 'ignored');
      expect(await statusOf(none.id)).toBe('ignored');
    });

    it('drops a stale verdict and fences lease renewal by token', async () => {
      await store.recordEvents([newEvent({ destinations: ['billing'] })]);
      const [d] = await claimAll(10, 'w1', 1_000);
      clock.advance(5_000);
      expect(await store.reclaimExpiredDeliveries(10)).toBe(1);
      const reclaimed = await store.getDelivery(d!.id);
      expect(reclaimed).toMatchObject({ status: 'failed', attempts: 1, lockedBy: null });
      expect(reclaimed?.lastError).toMatch(/lease expired \(worker w1/);
      expect((await store.listDeliveryAttempts(d!.id)).map((a) => a.outcome)).toEqual(['lease_expired']);

      const [again] = await claimAll(10, 'w2');
      expect(again).toMatchObject({ id: d!.id, claimToken: 2, attempts: 2 });
      expect(await store.extendDeliveryLeases([{ deliveryId: d!.id, token: 1 }], 60_000)).toEqual([]);
      expect(await store.finishDeliveries('w1', [verdict(d!, 'succeeded')])).toEqual([]);
      expect(await store.extendDeliveryLeases([{ deliveryId: d!.id, token: 2 }], 60_000)).toEqual([
        { deliveryId: d!.id, token: 2 },
      ]);
      expect((await store.getDelivery(d!.id))?.lockedUntil).toBe(clock.now() + 60_000);
      expect(await store.finishDeliveries('w2', [verdict(again!, 'succeeded')])).toHaveLength(1);
    });

    it('waits a failed delivery its delay, gives a released attempt back', async () => {
      await store.recordEvents([newEvent({ destinations: ['billing'] })]);
      const [d] = await claimAll();
      await store.finishDeliveries('w1', [verdict(d!, 'failed', { retryDelayMs: 2_000 })]);
      expect(await store.getDelivery(d!.id)).toMatchObject({
        status: 'failed',
        lastStatusCode: 503,
        lastError: 'answered 503',
        nextAttemptAt: clock.now() + 2_000,
      });
      clock.advance(1_999);
      expect(await claimAll()).toEqual([]);
      clock.advance(1);
      const [again] = await claimAll();
      expect(again?.attempts).toBe(2);
      await store.finishDeliveries('w1', [verdict(again!, 'released')]);
      expect(await store.getDelivery(d!.id)).toMatchObject({ status: 'pending', attempts: 1 });
      expect(await store.listDeliveryAttempts(d!.id)).toHaveLength(1);
    });

    it('refuses a verdict without its attempt record', async () => {
      await store.recordEvents([newEvent({ destinations: ['billing'] })]);
      const [d] = await claimAll();
      await expect(
        store.finishDeliveries('w1', [{ deliveryId: d!.id, token: d!.claimToken, outcome: 'succeeded' }]),
      ).rejects.toThrow(/needs its attempt record/);
      expect((await store.getDelivery(d!.id))?.status).toBe('processing');
    });

    it('keeps at most 1 KB of a response excerpt', async () => {
      await store.recordEvents([newEvent({ destinations: ['billing'] })]);
      const [d] = await claimAll();
      await store.finishDeliveries('w1', [
        {
          ...verdict(d!, 'succeeded'),
          attempt: attemptRecord({ responseExcerpt: Buffer.alloc(3000, 0x61) }),
        },
      ]);
      const [attempt] = await store.listDeliveryAttempts(d!.id);
      expect(attempt!.responseExcerpt.length).toBe(1024);
    });

    it('a dead delivery kills its delivering event; retrying it alone reopens the event', async () => {
      const event = newEvent({ destinations: ['billing', 'crm'] });
      await store.recordEvents([event]);
      await finishHandlers(event.id);
      const claimed = await claimAll();
      const billing = claimed.find((d) => d.destination === 'billing')!;
      const crm = claimed.find((d) => d.destination === 'crm')!;
      await store.finishDeliveries('w1', [verdict(billing, 'dead'), verdict(crm, 'succeeded')]);
      const dead = await store.getEvent(event.id);
      expect(dead?.status).toBe('dead');
      expect(dead?.lastError).toMatch(/delivery to billing is dead: answered 503/);

      expect(await store.retryDelivery(crm.id)).toBeNull(); // succeeded: nothing to retry
      const retried = await store.retryDelivery(billing.id);
      expect(retried).toMatchObject({ status: 'pending', attempts: 0, finishedAt: null });
      expect(await statusOf(event.id)).toBe('delivering');
      const [again] = await claimAll();
      expect(again).toMatchObject({ id: billing.id, attempts: 1 });
      await store.finishDeliveries('w1', [verdict(again!, 'succeeded')]);
      expect(await statusOf(event.id)).toBe('processed');
    });

    it('a delivery dead before the handlers finished makes their verdict dead; a handler-dead event stays dead on a delivery retry', async () => {
      const event = newEvent({ destinations: ['billing'] });
      await store.recordEvents([event]);
      const [d] = await claimAll();
      await store.finishDeliveries('w1', [verdict(d!, 'dead')]);
      expect(await statusOf(event.id)).toBe('pending');
      await finishHandlers(event.id);
      expect(await statusOf(event.id)).toBe('dead');

      const other = newEvent({ destinations: ['billing'] });
      await store.recordEvents([other]);
      const [handled] = await store.claimEvents({ workerId: 'hw', limit: 1, leaseMs: 30_000 });
      await store.finishAttempts('hw', [
        {
          eventId: other.id,
          token: handled!.claimToken,
          outcome: 'dead',
          startedAt: T0,
          finishedAt: T0,
          error: 'boom',
        },
      ]);
      const [d2] = await claimAll();
      await store.finishDeliveries('w1', [verdict(d2!, 'dead')]);
      await store.retryDelivery(d2!.id);
      expect(await statusOf(other.id)).toBe('dead');
    });

    it('a 410 disables the destination: its deliveries wait until it is active again; paused ones too', async () => {
      await store.recordEvents([newEvent({ destinations: ['billing', 'crm'] })]);
      const claimed = await claimAll();
      const billing = claimed.find((d) => d.destination === 'billing')!;
      await store.finishDeliveries('w1', [
        {
          ...verdict(billing, 'disabled'),
          attempt: attemptRecord({ statusCode: 410, errorCode: 'gone', error: 'answered 410 Gone' }),
        },
      ]);
      expect(await store.getDelivery(billing.id)).toMatchObject({ status: 'pending', attempts: 1 });
      expect((await store.listDeliveryAttempts(billing.id)).map((a) => a.outcome)).toEqual(['disabled']);
      expect(await store.listDestinationStates()).toMatchObject([
        {
          source: 'stripe',
          name: 'billing',
          state: 'disabled',
          reason: 'answered 410 Gone',
          changedAt: clock.now(),
        },
      ]);
      await store.recordEvents([newEvent({ destinations: ['billing', 'crm'] })]);
      const next = await claimAll();
      expect(next.map((d) => d.destination)).toEqual(['crm']);

      expect(await store.setDestinationState('stripe', 'crm', 'paused', 'deploy')).toBe('active');
      await store.recordEvents([newEvent({ destinations: ['billing', 'crm'] })]);
      expect(await claimAll()).toEqual([]);

      expect(await store.setDestinationState('stripe', 'billing', 'active', null)).toBe('disabled');
      expect(await store.setDestinationState('stripe', 'crm', 'active', null)).toBe('paused');
      const resumed = await claimAll();
      expect(resumed.filter((d) => d.destination === 'billing')).toHaveLength(3);
      expect(resumed.filter((d) => d.destination === 'crm')).toHaveLength(1);
    });

    it('replays an event to chosen destinations with the same event, reopening a processed one', async () => {
      const event = newEvent({ destinations: ['billing'] });
      await store.recordEvents([event]);
      await finishHandlers(event.id);
      const [d] = await claimAll();
      await store.finishDeliveries('w1', [verdict(d!, 'succeeded')]);
      expect(await statusOf(event.id)).toBe('processed');

      expect(await store.replayEvent('01NOSUCHEVENT0000000000000', ['billing'])).toBeNull();
      const replayed = await store.replayEvent(event.id, ['billing', 'crm']);
      expect(replayed?.map((r) => [r.destination, r.status, r.attempts]).sort()).toEqual([
        ['billing', 'pending', 0],
        ['crm', 'pending', 0],
      ]);
      expect(await statusOf(event.id)).toBe('delivering');
      const again = await claimAll();
      expect(again.map((r) => r.eventId)).toEqual([event.id, event.id]);
      await store.finishDeliveries(
        'w1',
        again.map((r) => verdict(r, 'succeeded')),
      );
      expect(await statusOf(event.id)).toBe('processed');
      expect(await store.listDeliveryAttempts(d!.id)).toHaveLength(2);
    });

    it('lists deliveries with filters and counts them per destination', async () => {
      const first = newEvent({ destinations: ['billing', 'crm'] });
      await store.recordEvents([first]);
      await store.recordEvents([newEvent({ destinations: ['billing'] })]);
      const [d] = await store.claimDeliveries({
        workerId: 'w1',
        leaseMs: 30_000,
        destinations: [{ source: 'stripe', name: 'billing', limit: 1 }],
      });
      await store.finishDeliveries('w1', [verdict(d!, 'failed', { retryDelayMs: 1_000 })]);

      const all = await store.listDeliveries({ limit: 10 });
      expect(all.map((r) => r.id)).toEqual([...all.map((r) => r.id)].sort((a, b) => b - a));
      expect(
        await store.listDeliveries({ destination: 'billing', status: ['failed'], limit: 10 }),
      ).toMatchObject([{ id: d!.id }]);
      expect(await store.listDeliveries({ source: 'other', limit: 10 })).toEqual([]);
      expect(await store.listDeliveries({ eventId: first.id, limit: 10 })).toHaveLength(2);
      const page = await store.listDeliveries({ limit: 1 });
      expect(await store.listDeliveries({ limit: 10, beforeId: page[0]!.id })).toHaveLength(2);

      const counts = await store.countDeliveries(T0);
      expect(counts).toEqual([
        {
          source: 'stripe',
          name: 'billing',
          byStatus: { pending: 1, processing: 0, succeeded: 0, failed: 1, dead: 0 },
          attemptsSince: { succeeded: 0, failed: 1, dead: 0, disabled: 0, lease_expired: 0 },
        },
        {
          source: 'stripe',
          name: 'crm',
          byStatus: { pending: 1, processing: 0, succeeded: 0, failed: 0, dead: 0 },
          attemptsSince: { succeeded: 0, failed: 0, dead: 0, disabled: 0, lease_expired: 0 },
        },
      ]);
    });

    it('counts the backlog and the dead now, and successes only in the window, without reading succeeded rows', async () => {
      for (let i = 0; i < 3; i++) await store.recordEvents([newEvent({ destinations: ['billing'] })]);
      const [ok, gone] = await claimAll(2);
      await store.finishDeliveries('w1', [verdict(ok!, 'succeeded'), verdict(gone!, 'dead')]);
      await claimAll(1);
      clock.advance(3_600_000);
      await store.recordEvents([newEvent({ destinations: ['billing'] })]);

      const lastMinute = await store.countDeliveries(clock.now() - 60_000);
      expect(lastMinute).toEqual([
        {
          source: 'stripe',
          name: 'billing',
          byStatus: { pending: 1, processing: 1, succeeded: 0, failed: 0, dead: 1 },
          attemptsSince: { succeeded: 0, failed: 0, dead: 0, disabled: 0, lease_expired: 0 },
        },
      ]);
      const sinceStart = await store.countDeliveries(T0);
      expect(sinceStart[0]).toMatchObject({
        byStatus: { pending: 1, processing: 1, succeeded: 1, failed: 0, dead: 1 },
        attemptsSince: { succeeded: 1, dead: 1 },
      });
      // On SQLite the plan itself shows it: every table read goes through an index (PostgreSQL
      // picks sequential scans for tables this small whatever the indexes, so only SQLite says).
      if (engine === 'sqlite') {
        const db = new Database(t.path!);
        const sql = readFileSync(
          new URL('../../src/store/sqlite/sql/count-deliveries.sql', import.meta.url),
          'utf8',
        );
        const plan = (db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all({ since: 0 }) as { detail: string }[]).map(
          (r) => r.detail,
        );
        db.close();
        expect(plan.filter((line) => /^SCAN/.test(line) && !/USING (COVERING )?INDEX/.test(line))).toEqual(
          [],
        );
      }
    });

    it('wakes delivery workers for due deliveries only, not for events without destinations', async () => {
      let woken = 0;
      const unsubscribe = await store.onDeliveriesDue(() => {
        woken += 1;
      });
      const writer = t.openSibling({ clock });
      const settle = () => new Promise((resolve) => setTimeout(resolve, 300));
      await writer.recordEvents([newEvent()]);
      await settle();
      expect(woken).toBe(0);
      await writer.recordEvents([newEvent({ destinations: ['billing'] })]);
      // SQLite wakes in-process only: its sibling here is another instance on the file.
      if (engine === 'sqlite') await store.recordEvents([newEvent({ destinations: ['billing'] })]);
      await settle();
      expect(woken).toBeGreaterThanOrEqual(1);
      await unsubscribe();
      const before = woken;
      await store.recordEvents([newEvent({ destinations: ['billing'] })]);
      await settle();
      expect(woken).toBe(before);
    });

    it('deletes an event with its deliveries and their attempts', async () => {
      const event = newEvent({ destinations: ['billing'] });
      const kept = newEvent({ destinations: ['billing'] });
      await store.recordEvents([event, kept]);
      const claimed = await claimAll();
      await store.finishDeliveries(
        'w1',
        claimed.map((d) => verdict(d, 'failed', { retryDelayMs: 0 })),
      );
      const [gone] = await store.listDeliveries({ eventId: event.id, limit: 1 });
      expect(await store.deleteEvent(event.id)).toBe(true);
      expect(await store.listDeliveries({ eventId: event.id, limit: 10 })).toEqual([]);
      expect(await store.listDeliveryAttempts(gone!.id)).toEqual([]);
      expect(await store.listDeliveries({ eventId: kept.id, limit: 10 })).toHaveLength(1);
    });

    it('settles delivering events whose deliveries finished behind their back', async () => {
      const done = newEvent({ destinations: ['billing'] });
      const broken = newEvent({ destinations: ['billing', 'crm'] });
      const open = newEvent({ destinations: ['billing'] });
      await store.recordEvents([done, broken, open]);
      // What two processes' verdicts can leave on PostgreSQL: the event delivering, its deliveries finished.
      const force = async (statement: string) => {
        if (engine === 'sqlite') {
          const db = new Database(t.path!);
          try {
            db.prepare(statement).run();
          } finally {
            db.close();
          }
        } else await queryPostgres(statement, [], t.schema);
      };
      await force(`UPDATE events SET status = 'delivering'`);
      await force(`UPDATE deliveries SET status = 'succeeded' WHERE event_id = '${done.id}'`);
      await force(
        `UPDATE deliveries SET status = 'dead' WHERE event_id = '${broken.id}' AND destination = 'crm'`,
      );
      clock.advance(500);
      // Settling named events first: the open one stays, the finished one settles.
      expect(await store.settleEvents([open.id, done.id, done.id])).toBe(1);
      expect(await statusOf(done.id)).toBe('processed');
      expect(await store.settleEvents([])).toBe(0);
      await force(`UPDATE events SET status = 'delivering' WHERE id = '${done.id}'`);
      const first = await store.settleDeliveringEvents('', 2);
      const second = await store.settleDeliveringEvents(first.lastId!, 2);
      expect(first.count + second.count).toBe(2);
      expect(await store.settleDeliveringEvents(second.lastId ?? '', 2)).toEqual({ count: 0, lastId: null });
      expect(await statusOf(done.id)).toBe('processed');
      expect((await store.getEvent(done.id))?.processedAt).toBe(clock.now());
      expect(await statusOf(broken.id)).toBe('dead');
      expect(await statusOf(open.id)).toBe('delivering');
    });
  });
}
