import { createHash } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createManualClock } from '../../src/clock.ts';
import { createEventId } from '../../src/ids.ts';
import type { EventOrdering } from '../../src/ordering/key.ts';
import type { AttemptResult, ClaimedEvent, NewEvent, Store } from '../../src/store/types.ts';
import { createTestStore, type Engine, engines, type TestStore } from '../support/stores.ts';

// The promotion rules of docs/ordering.md, on both engines, with the store's clock moved by hand.
const T0 = Date.UTC(2026, 0, 1);
const lease = 30_000;
const clock = createManualClock(T0);
let sequence = 0;

function delivery(
  key: string | null,
  orderedAt: number,
  overrides: Partial<NewEvent> & { holdMs?: number; onDead?: 'block' | 'skip' } = {},
): NewEvent {
  sequence += 1;
  const { holdMs = 0, onDead = 'block', ...rest } = overrides;
  const receivedAt = rest.receivedAt ?? clock.now();
  const body = Buffer.from(JSON.stringify({ id: `evt_${sequence}`, created: orderedAt / 1000 }));
  const ordering: EventOrdering | null = key === null ? null : { key, orderedAt, holdMs, onDead };
  return {
    id: createEventId(receivedAt),
    source: 'stripe-main',
    provider: 'stripe',
    dedupeKey: `evt_${sequence}`,
    eventType: 'customer.subscription.updated',
    headers: { 'content-type': 'application/json' },
    body,
    bodySha256: createHash('sha256').update(body).digest('hex'),
    receivedAt,
    ordering,
    ...rest,
  };
}

async function record(store: Store, ...events: NewEvent[]): Promise<string[]> {
  return (await store.recordEvents(events)).map((r) => r.id);
}

async function claimIds(store: Store, workerId = 'w1', limit = 100): Promise<ClaimedEvent[]> {
  return store.claimEvents({ workerId, limit, leaseMs: lease });
}

function verdictFor(
  event: ClaimedEvent,
  outcome: AttemptResult['outcome'],
  extra: Partial<AttemptResult> = {},
): AttemptResult {
  return {
    eventId: event.id,
    token: event.claimToken,
    ...(event.orderingKey ? { ordering: { source: event.source, key: event.orderingKey } } : {}),
    outcome,
    startedAt: clock.now(),
    finishedAt: clock.now(),
    ...extra,
  };
}

async function statuses(store: Store, ids: string[]): Promise<string[]> {
  return Promise.all(ids.map(async (id) => (await store.getEvent(id))!.status));
}

for (const engine of engines) {
  describe(`ordering promotion (${engine})`, () => {
    let t: TestStore;
    let store: Store;
    beforeEach(async () => {
      clock.set(T0);
      t = await createTestStore(engine as Engine, { clock });
      store = t.store;
    });
    afterEach(async () => {
      await t.cleanup();
    });

    it('records ordered events waiting behind their key head and runs them in (orderedAt, id) order', async () => {
      const [b] = await record(store, delivery('sub_1', T0 + 2_000));
      expect(await statuses(store, [b!])).toEqual(['pending']);
      // A late delivery that is earlier than a head that has not run takes its place.
      const [a] = await record(store, delivery('sub_1', T0 + 1_000));
      expect(await statuses(store, [a!, b!])).toEqual(['pending', 'waiting']);
      const first = await claimIds(store);
      expect(first.map((e) => e.id)).toEqual([a]);
      expect(first[0]!.orderingKey).toBe('sub_1');
      expect(await claimIds(store)).toEqual([]);
      await store.finishAttempts('w1', [verdictFor(first[0]!, 'processed')]);
      const second = await claimIds(store);
      expect(second.map((e) => e.id)).toEqual([b]);
    });

    it.runIf(engine === 'postgres')(
      "a head processed through the handler's transaction (ctx.tx) frees its key in that commit",
      async () => {
        // SQLite has no handler transaction (beginEventTransaction gives null): PostgreSQL only.
        const [a, b] = await record(store, delivery('sub_tx', T0 + 1), delivery('sub_tx', T0 + 2));
        const [head] = await claimIds(store);
        expect(head?.id).toBe(a);
        const tx = (await store.beginEventTransaction())!;
        await tx.handle.query('SELECT 1');
        // Before the commit the key is still held: its next event waits.
        expect(await statuses(store, [a!, b!])).toEqual(['processing', 'waiting']);
        expect(await tx.commitWith('w1', verdictFor(head!, 'processed'))).toBe(true);
        expect(await statuses(store, [a!, b!])).toEqual(['processed', 'pending']);
        expect((await claimIds(store)).map((e) => e.id)).toEqual([b]);
      },
    );

    it('runs different keys and unordered events side by side', async () => {
      const ids = await record(
        store,
        delivery('sub_1', T0 + 1),
        delivery('sub_1', T0 + 2),
        delivery('sub_2', T0 + 1),
        delivery(null, T0),
      );
      expect(await statuses(store, ids)).toEqual(['pending', 'waiting', 'pending', 'pending']);
      const claimed = await claimIds(store);
      expect(claimed.map((e) => e.id).sort()).toEqual([ids[0], ids[2], ids[3]].sort());
    });

    it('keeps a late arrival waiting while the head runs, then runs it next (it is earlier)', async () => {
      const [b, c] = await record(store, delivery('k', T0 + 2_000), delivery('k', T0 + 3_000));
      const [held] = await claimIds(store);
      expect(held!.id).toBe(b);
      const [a] = await record(store, delivery('k', T0 + 1_000));
      expect(await statuses(store, [a!, b!, c!])).toEqual(['waiting', 'processing', 'waiting']);
      expect(await claimIds(store)).toEqual([]);
      await store.finishAttempts('w1', [verdictFor(held!, 'processed')]);
      expect((await claimIds(store)).map((e) => e.id)).toEqual([a]);
    });

    it('a failed head keeps its backoff and its place', async () => {
      const [a, b] = await record(store, delivery('k', T0 + 1), delivery('k', T0 + 2));
      const [held] = await claimIds(store);
      await store.finishAttempts('w1', [verdictFor(held!, 'failed', { retryDelayMs: 10_000 })]);
      expect(await statuses(store, [a!, b!])).toEqual(['failed', 'waiting']);
      clock.set(T0 + 5_000);
      expect(await claimIds(store)).toEqual([]);
      clock.set(T0 + 10_000);
      const retried = await claimIds(store);
      expect(retried.map((e) => e.id)).toEqual([a]);
      expect(retried[0]!.attempts).toBe(2);
    });

    it('a dead head blocks its key until it is skipped', async () => {
      const [a, b] = await record(store, delivery('k', T0 + 1), delivery('k', T0 + 2), delivery('other', T0));
      const claimed = await claimIds(store);
      const head = claimed.find((e) => e.id === a)!;
      await store.finishAttempts('w1', [verdictFor(head, 'dead', { error: 'boom' })]);
      expect(await statuses(store, [a!, b!])).toEqual(['dead', 'waiting']);
      expect(await claimIds(store)).toEqual([]);
      const blocked = await store.listBlockedKeys(10);
      expect(blocked).toEqual([
        expect.objectContaining({
          source: 'stripe-main',
          key: 'k',
          headId: a,
          waiting: 1,
          lastError: 'boom',
        }),
      ]);
      expect(await store.unblockKey('stripe-main', 'nope', 'skip')).toBeNull();
      expect(await store.unblockKey('stripe-main', 'k', 'skip')).toBe(a);
      expect(await statuses(store, [a!, b!])).toEqual(['dead', 'pending']);
      expect(await store.listBlockedKeys(10)).toEqual([]);
      expect((await claimIds(store)).map((e) => e.id)).toEqual([b]);
    });

    it('a dead head retried runs first, then the key goes on', async () => {
      const [a, b] = await record(store, delivery('k', T0 + 1), delivery('k', T0 + 2));
      const [head] = await claimIds(store);
      await store.finishAttempts('w1', [verdictFor(head!, 'dead')]);
      expect(await store.unblockKey('stripe-main', 'k', 'retry')).toBe(a);
      expect(await statuses(store, [a!, b!])).toEqual(['pending', 'waiting']);
      const [again] = await claimIds(store);
      expect(again!.id).toBe(a);
      await store.finishAttempts('w1', [verdictFor(again!, 'processed')]);
      expect((await claimIds(store)).map((e) => e.id)).toEqual([b]);
    });

    it('with onDead skip the next event runs after a dead head', async () => {
      const [a, b] = await record(
        store,
        delivery('k', T0 + 1, { onDead: 'skip' }),
        delivery('k', T0 + 2, { onDead: 'skip' }),
      );
      const [head] = await claimIds(store);
      await store.finishAttempts('w1', [verdictFor(head!, 'dead')]);
      expect(await statuses(store, [a!, b!])).toEqual(['dead', 'pending']);
      expect(await store.listBlockedKeys(10)).toEqual([]);
    });

    it('holds a new event its reorder window, so an earlier one arriving inside it runs first', async () => {
      const [later] = await record(store, delivery('k', T0 + 5_000, { holdMs: 1_000 }));
      clock.set(T0 + 500);
      expect(await claimIds(store)).toEqual([]);
      const [earlier] = await record(store, delivery('k', T0 + 4_000, { holdMs: 1_000 }));
      expect(await statuses(store, [earlier!, later!])).toEqual(['pending', 'waiting']);
      clock.set(T0 + 1_000);
      expect(await claimIds(store)).toEqual([]);
      clock.set(T0 + 1_500);
      const [first] = await claimIds(store);
      expect(first!.id).toBe(earlier);
      await store.finishAttempts('w1', [verdictFor(first!, 'processed')]);
      // The later one's own window has passed: it runs at once.
      expect((await claimIds(store)).map((e) => e.id)).toEqual([later]);
    });

    it('a reclaimed head stays the head; a release keeps its place', async () => {
      const [a, b] = await record(store, delivery('k', T0 + 1), delivery('k', T0 + 2));
      const [held] = await claimIds(store);
      clock.set(T0 + lease + 1);
      const expired = await store.findExpiredLeases(10);
      expect(expired.map((l) => [l.eventId, l.ordering?.key])).toEqual([[a, 'k']]);
      await store.reclaimExpiredLeases(expired.map((l) => ({ ...l, outcome: 'failed', retryDelayMs: 0 })));
      expect(await statuses(store, [a!, b!])).toEqual(['failed', 'waiting']);
      const [again] = await claimIds(store);
      expect(again!.id).toBe(a);
      await store.finishAttempts('w1', [verdictFor(again!, 'released')]);
      expect(await statuses(store, [a!, b!])).toEqual(['pending', 'waiting']);
      expect(held!.id).toBe(a);
    });

    it('claims by id only a runnable head (sync mode, manual retry)', async () => {
      const [a, b] = await record(store, delivery('k', T0 + 1), delivery('k', T0 + 2));
      expect(await store.claimEventById(b!, { workerId: 'w1', leaseMs: lease })).toBeNull();
      expect((await store.claimEventById(a!, { workerId: 'w1', leaseMs: lease }))?.id).toBe(a);
    });

    it('operator actions promote: requeue of an earlier event, delete and mark processed of the head', async () => {
      const [a, b, c] = await record(
        store,
        delivery('k', T0 + 1),
        delivery('k', T0 + 2),
        delivery('k', T0 + 3),
      );
      const [held] = await claimIds(store);
      await store.finishAttempts('w1', [verdictFor(held!, 'processed')]);
      expect(await statuses(store, [a!, b!, c!])).toEqual(['processed', 'pending', 'waiting']);
      // Requeueing the processed first event puts it back in front: b waits again.
      expect(await store.requeueEvents({ ids: [a!] })).toBe(1);
      expect(await statuses(store, [a!, b!, c!])).toEqual(['pending', 'waiting', 'waiting']);
      expect(await store.deleteEvent(a!)).toBe(true);
      expect(await statuses(store, [b!, c!])).toEqual(['pending', 'waiting']);
      expect(await store.markProcessed(b!)).toBe(true);
      expect(await statuses(store, [b!, c!])).toEqual(['processed', 'pending']);
      const failed = await store.markFailed(c!, 'manual', 0, 1);
      expect(failed?.status).toBe('dead');
      expect((await store.listBlockedKeys(10)).map((k) => k.headId)).toEqual([c]);
    });

    it('a duplicate of an ordered event changes nothing in its key', async () => {
      const first = delivery('k', T0 + 1);
      const [a] = await record(store, first, delivery('k', T0 + 2));
      const [dup] = await store.recordEvents([{ ...first, id: createEventId(T0 + 10) }]);
      expect(dup).toMatchObject({ id: a, duplicate: true });
      expect((await claimIds(store)).map((e) => e.id)).toEqual([a]);
    });

    it('a promotion racing claims from another store never leaves two events of a key runnable or held', async () => {
      const other = t.openSibling({ clock });
      for (let round = 0; round < 25; round++) {
        const key = `race_${round}`;
        const [head] = await record(store, delivery(key, T0 + 10_000), delivery(key, T0 + 20_000));
        // A late, earlier arrival (its promotion demotes the head) against claims of the head.
        const [claimed, [late]] = await Promise.all([
          Promise.all([claimIds(other, 'w2'), claimIds(other, 'w3')]),
          record(store, delivery(key, T0 + round)),
        ]);
        const rows = await t.store.listEvents({ limit: 10, search: undefined });
        const ofKey = (await Promise.all(rows.events.map((e) => store.getEvent(e.id)))).filter(
          (e) => e?.orderingKey === key,
        );
        const live = ofKey.filter((e) => ['pending', 'failed', 'processing'].includes(e!.status));
        expect(live.length, `round ${round}: ${ofKey.map((e) => e!.status).join(',')}`).toBe(1);
        const held = claimed.flat().filter((e) => e.orderingKey === key);
        expect(held.length).toBeLessThanOrEqual(1);
        if (held[0]) {
          // Whichever was the head when the claim ran: the first, or the late one once it committed.
          expect([head, late]).toContain(held[0].id);
          await other.finishAttempts('w2', [verdictFor(held[0], 'processed')]);
        }
        // Finish the key: every event runs once, one at a time.
        for (let i = 0; i < 3; i++) {
          const next = (await claimIds(store)).filter((e) => e.orderingKey === key);
          if (next.length === 0) break;
          expect(next).toHaveLength(1);
          await store.finishAttempts('w1', [verdictFor(next[0]!, 'processed')]);
        }
      }
    });

    it('counts waiting events in the statistics', async () => {
      await record(store, delivery('k', T0 + 1), delivery('k', T0 + 2));
      const stats = await store.getStatistics();
      expect(stats.byStatus).toMatchObject({ pending: 1, waiting: 1 });
    });
  });
}

// A verdict write that hands a key's turn to its next event (WorkerStore.finishAttemptsAndClaimNext).
// SQLite only: PostgreSQL does not offer it (a slot waiting for its verdict's commit would sit
// idle there, docs/benchmarks.md), which the last test checks.
describe('a key passes its turn inside the verdict write (sqlite)', () => {
  let t: TestStore;
  let store: Store;
  const ref = (key: string) =>
    key.includes(':')
      ? { source: key.split(':')[0]!, key: key.split(':')[1]! }
      : { source: 'stripe-main', key };
  const finishAndTake = (verdicts: AttemptResult[], keys: string[], excludeSources?: string[]) =>
    store.finishAttemptsAndClaimNext!('w1', verdicts, {
      keys: keys.map(ref),
      leaseMs: lease,
      ...(excludeSources ? { excludeSources } : {}),
    });
  beforeEach(async () => {
    clock.set(T0);
    t = await createTestStore('sqlite', { clock });
    store = t.store;
  });
  afterEach(async () => {
    await t.cleanup();
  });

  it("claims the key's next event for the same worker, straight from waiting, and nothing else", async () => {
    const [a, b, c] = await record(
      store,
      delivery('k', T0 + 1),
      delivery('k', T0 + 2),
      delivery('k', T0 + 3),
    );
    const [other] = await record(store, delivery('other', T0 + 1));
    const [held] = (await claimIds(store)).filter((e) => e.id === a);
    const { applied, claimed } = await finishAndTake([verdictFor(held!, 'processed')], ['k']);
    expect(applied).toEqual([{ eventId: a, token: held!.claimToken }]);
    expect(claimed.map((e) => [e.id, e.status, e.attempts, e.claimToken, e.lockedBy])).toEqual([
      [b, 'processing', 1, 1, 'w1'],
    ]);
    // With its body, as a claim returns it.
    expect(JSON.parse(claimed[0]!.body.toString()).id).toBeDefined();
    expect(claimed[0]!.lockedUntil).toBe(T0 + lease);
    expect(await statuses(store, [a!, b!, c!, other!])).toEqual([
      'processed',
      'processing',
      'waiting',
      'processing',
    ]);
    // The claim is fenced like any other: its verdict applies, and the key goes on.
    const second = await finishAndTake([verdictFor(claimed[0]!, 'processed')], ['k']);
    expect(second.claimed.map((e) => e.id)).toEqual([c]);
  });

  it('leaves a stopped key, a held head and an excluded source to the promotion', async () => {
    // A head inside its reorder window is promoted (pending, due later), not taken.
    const [a, b] = await record(store, delivery('held', T0 + 1), delivery('held', T0 + 2, { holdMs: 5_000 }));
    // A dead head that blocks: nothing of the key runs.
    const [d, e] = await record(store, delivery('blocked', T0 + 1), delivery('blocked', T0 + 2));
    // A source excluded by an open breaker.
    const [x, y] = await record(
      store,
      delivery('excluded', T0 + 1, { source: 'stripe-other' }),
      delivery('excluded', T0 + 2, { source: 'stripe-other' }),
    );
    const heads = await claimIds(store);
    const byId = (id: string | undefined) => heads.find((h) => h.id === id)!;
    const { applied, claimed } = await finishAndTake(
      [verdictFor(byId(a), 'processed'), verdictFor(byId(d), 'dead'), verdictFor(byId(x), 'processed')],
      ['held', 'blocked', 'stripe-other:excluded'],
      ['stripe-other'],
    );
    expect(applied).toHaveLength(3);
    expect(claimed).toEqual([]);
    expect(await statuses(store, [a!, b!, d!, e!, x!, y!])).toEqual([
      'processed',
      'pending',
      'dead',
      'waiting',
      'processed',
      'pending',
    ]);
    expect((await claimIds(store)).map((h) => h.id)).toEqual([y]);
    clock.set(T0 + 5_000);
    expect((await claimIds(store)).map((h) => h.id)).toEqual([b]);
  });

  it('takes nothing for a stale verdict: the key is held by the newer claim', async () => {
    const [a, b] = await record(store, delivery('k', T0 + 1), delivery('k', T0 + 2));
    const [first] = await claimIds(store);
    clock.set(T0 + lease + 1);
    const expired = await store.findExpiredLeases(10);
    await store.reclaimExpiredLeases(expired.map((l) => ({ ...l, outcome: 'failed', retryDelayMs: 0 })));
    const [again] = await claimIds(store, 'w2');
    expect(again!.id).toBe(a);
    const { applied, claimed } = await finishAndTake([verdictFor(first!, 'processed')], ['k']);
    expect(applied).toEqual([]);
    expect(claimed).toEqual([]);
    expect(await statuses(store, [a!, b!])).toEqual(['processing', 'waiting']);
  });

  it('is offered by SQLite only', async () => {
    const postgres = await createTestStore('postgres', { clock });
    try {
      expect(postgres.store.finishAttemptsAndClaimNext).toBeUndefined();
      expect(store.finishAttemptsAndClaimNext).toBeTypeOf('function');
    } finally {
      await postgres.cleanup();
    }
  });
});
