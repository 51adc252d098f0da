/**
 * Group commit keeps the invariants (DESIGN 1 and 3), tested through the real receive route
 * on a real store of each engine:
 *  - a batch whose commit fails for want of a store answers 503 to each of its requests and
 *    stores none of them, while requests in other batches are answered 200 and stored;
 *  - a row the database refuses fails alone (400), and its batch neighbours are stored;
 *  - duplicates within one batch and across batches yield one event each;
 *  - no request is answered before the commit holding its row has returned.
 *
 * Batches are made deterministic by holding the store's commits behind a gate: deliveries that
 * arrive while every commit slot is held pile up in the committer and go out together.
 */
import { createHash } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { StoreRowRefusedError, StoreUnavailableError } from '../../src/errors.ts';
import { createHookbox, type Hookbox } from '../../src/hookbox.ts';
import { createEventId } from '../../src/ids.ts';
import { GroupCommitter } from '../../src/ingest/group-commit.ts';
import type { NewEvent, Store } from '../../src/store/types.ts';
import { createTestStore, engines, type TestStore } from '../support/stores.ts';
import { signStripe, stripeEventBody } from '../support/stripe.ts';

const secret = 'whsec_test_group_commit_secret';

interface ObservedBatch {
  keys: string[];
  /** The store's commit threw: nothing of the batch may be stored. */
  failed: boolean;
  /** The store's commit returned. */
  committed: boolean;
}

/** A row the schema refuses (empty dedupe key), sorted after every `stripe` row of the batch. */
function poisonRow(like: NewEvent, now: number): NewEvent {
  const body = Buffer.from('{}');
  return {
    ...like,
    id: createEventId(now),
    source: 'zz-poison',
    dedupeKey: '',
    body,
    bodySha256: createHash('sha256').update(body).digest('hex'),
  };
}

/**
 * Wrap a real store's recordEvents: record each batch, hold commits while the gate is closed,
 * make a batch holding a doomed key fail as a store outage would (nothing reaches the store),
 * and make a batch holding a poisoned key fail inside the store itself (a row its schema refuses
 * is added to that batch's one transaction, so the real adapter refuses the whole batch).
 */
function instrumentStore(store: Store) {
  const batches: ObservedBatch[] = [];
  const committedKeys = new Set<string>();
  const doomedKeys = new Set<string>();
  const poisonedKeys = new Set<string>();
  let gate: Promise<void> | null = null;
  let openGate: () => void = () => {};
  let delay: () => number = () => 0;
  const recordEvents = store.recordEvents.bind(store);

  store.recordEvents = async (events, claim) => {
    const batch: ObservedBatch = { keys: events.map((e) => e.dedupeKey), failed: false, committed: false };
    batches.push(batch);
    if (gate) await gate;
    const wait = delay();
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    if (events.some((e) => doomedKeys.has(e.dedupeKey))) {
      batch.failed = true;
      throw new StoreUnavailableError('the connection to the database was lost (simulated)');
    }
    const poisoned = events.some((e) => poisonedKeys.has(e.dedupeKey));
    try {
      const results = await recordEvents(
        poisoned ? [...events, poisonRow(events[0]!, Date.now())] : events,
        claim,
      );
      // The results answer the given events; the poison row never commits, so nothing to trim.
      batch.committed = true;
      for (const key of batch.keys) committedKeys.add(key);
      return results;
    } catch (error) {
      batch.failed = true;
      throw error;
    }
  };

  return {
    batches,
    committedKeys,
    doomedKeys,
    poisonedKeys,
    hold() {
      gate = new Promise<void>((resolve) => {
        openGate = resolve;
      });
    },
    release() {
      gate = null;
      openGate();
    },
    setDelay(next: () => number) {
      delay = next;
    },
    batchOf(key: string): ObservedBatch {
      const found = batches.filter((b) => b.keys.includes(key));
      if (found.length !== 1) throw new Error(`${key} is in ${found.length} batches`);
      return found[0]!;
    },
  };
}

const turn = () => new Promise<void>((resolve) => setImmediate(resolve));

async function until(condition: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 5_000;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
}

describe.each(engines)('group commit through the receive route on %s', (engine) => {
  let testStore: TestStore;
  let store: Store;
  let hookbox: Hookbox;
  let probe: ReturnType<typeof instrumentStore>;
  /** Deliveries that have reached the committer. */
  let queued: number;

  beforeEach(async () => {
    testStore = await createTestStore(engine);
    store = testStore.store;
    probe = instrumentStore(store);
    queued = 0;
    const record = GroupCommitter.prototype.record;
    vi.spyOn(GroupCommitter.prototype, 'record').mockImplementation(function (
      this: GroupCommitter,
      event,
      options,
    ) {
      queued++;
      return record.call(this, event, options);
    });
    hookbox = createHookbox({
      store,
      sources: { stripe: { provider: 'stripe', secrets: [secret] } },
      worker: { enabled: false },
    });
    await hookbox.start();
  });

  afterEach(async () => {
    vi.restoreAllMocks();
    await hookbox.stop();
    await testStore.cleanup();
  });

  function deliver(eventId: string): Promise<Response> {
    const body = stripeEventBody(eventId);
    return hookbox.fetch(
      new Request('http://hookbox.test/webhooks/stripe', {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'stripe-signature': signStripe(body, secret, Math.floor(Date.now() / 1000)),
        },
        body: new Uint8Array(Buffer.from(body)),
      }),
    );
  }

  /**
   * With the gate closed, send deliveries one at a time until one no longer starts a commit of
   * its own: every commit slot is then held, and whatever arrives next joins one batch (with the
   * last opener). Returns the openers' responses.
   */
  async function occupyEveryCommitSlot(
    prefix: string,
  ): Promise<{ key: string; response: Promise<Response> }[]> {
    probe.hold();
    const openers: { key: string; response: Promise<Response> }[] = [];
    for (let i = 0; i < 8; i++) {
      const before = probe.batches.length;
      const key = `${prefix}_${i}`;
      const target = queued + 1;
      openers.push({ key, response: deliver(key) });
      await until(() => queued >= target, `${key} to reach the committer`);
      for (let t = 0; t < 5; t++) await turn();
      if (probe.batches.length === before) return openers;
    }
    throw new Error('the committer never stopped starting commits while they were held');
  }

  /** Send deliveries concurrently and wait until every one of them has reached the committer. */
  async function sendTogether(keys: string[]): Promise<Promise<Response>[]> {
    const target = queued + keys.length;
    const responses = keys.map((key) => deliver(key));
    await until(() => queued >= target, 'the deliveries to reach the committer');
    return responses;
  }

  it('writes deliveries that arrive during a commit together, in one batch', async () => {
    const openers = await occupyEveryCommitSlot('evt_open');
    const keys = Array.from({ length: 20 }, (_, i) => `evt_together_${i}`);
    const responses = await sendTogether(keys);
    probe.release();
    const answered = await Promise.all([...openers.map((o) => o.response), ...responses]);
    expect(answered.map((r) => r.status)).toEqual(answered.map(() => 200));
    // Held openers went one per slot; everything after them went in a single statement.
    const batch = probe.batchOf(keys[0]!);
    expect(batch.keys).toEqual(expect.arrayContaining([...keys, openers.at(-1)!.key]));
    expect(probe.batches).toHaveLength(openers.length);
  });

  it('answers 503 to every request of a batch whose commit fails, stores none of them, and serves other batches', async () => {
    const openers = await occupyEveryCommitSlot('evt_open');
    const innocent = ['evt_innocent_1', 'evt_innocent_2', 'evt_innocent_3'];
    const doomed = ['evt_doomed_1', 'evt_doomed_2'];
    for (const key of doomed) probe.doomedKeys.add(key);
    const sent = [...innocent, ...doomed];
    const responses = await sendTogether(sent);
    probe.release();

    const openerResponses = await Promise.all(openers.map((o) => o.response));
    const sentResponses = await Promise.all(responses);
    const byKey = new Map<string, Response>([
      ...openers.map((o, i) => [o.key, openerResponses[i]!] as const),
      ...sent.map((key, i) => [key, sentResponses[i]!] as const),
    ]);
    const failedBatch = probe.batchOf(doomed[0]!);

    // The failing batch held innocent deliveries too: they share its commit, so they fail with it.
    expect(failedBatch.failed).toBe(true);
    expect(failedBatch.keys).toEqual(expect.arrayContaining([...innocent, ...doomed]));
    for (const [key, response] of byKey) {
      const batch = probe.batchOf(key);
      if (batch === failedBatch) {
        expect(response.status, key).toBe(503);
        expect((await response.json()).error.code).toBe('store_unavailable');
        expect(await store.findEventByDedupeKey('stripe', key), key).toBeNull();
      } else {
        expect(batch.committed, key).toBe(true);
        expect(response.status, key).toBe(200);
        expect(await store.findEventByDedupeKey('stripe', key), key).not.toBeNull();
      }
    }
    // Nothing of the failed batch reached the table.
    expect(await store.countEvents({})).toBe(openers.length - 1);

    // The committer carries on: later batches commit and answer 200.
    probe.doomedKeys.clear();
    const after = await deliver('evt_after_failure');
    expect(after.status).toBe(200);
    expect(await store.findEventByDedupeKey('stripe', 'evt_after_failure')).not.toBeNull();
    // A provider retrying the failed deliveries gets them stored.
    for (const key of [...innocent, ...doomed]) expect((await deliver(key)).status).toBe(200);
    expect(await store.countEvents({})).toBe(openers.length - 1 + 1 + innocent.length + doomed.length);
  });

  it('records the neighbours of a row the database refuses, and answers that row alone 400', async () => {
    const openers = await occupyEveryCommitSlot('evt_open');
    const innocent = Array.from({ length: 12 }, (_, i) => `evt_neighbour_${i}`);
    const poisoned = ['evt_poisoned_1', 'evt_poisoned_2'];
    for (const key of poisoned) probe.poisonedKeys.add(key);
    const sent = [...innocent.slice(0, 6), poisoned[0]!, ...innocent.slice(6), poisoned[1]!];
    const responses = await sendTogether(sent);
    probe.release();
    await Promise.all(openers.map((o) => o.response));
    const answers = await Promise.all(responses);
    // They were one batch, refused as a whole by the store...
    expect(
      probe.batches.find((b) => b.keys.includes(poisoned[0]!) && b.keys.includes(innocent[0]!))?.failed,
    ).toBe(true);
    // ...and every neighbour was stored and acknowledged all the same.
    for (const [i, key] of sent.entries()) {
      if (poisoned.includes(key)) {
        expect(answers[i]!.status, key).toBe(400);
        expect((await answers[i]!.json()).error.code).toBe('payload_invalid');
        expect(await store.findEventByDedupeKey('stripe', key)).toBeNull();
      } else {
        expect(answers[i]!.status, key).toBe(200);
        expect(await store.findEventByDedupeKey('stripe', key), key).not.toBeNull();
      }
    }
    expect(await store.countEvents({})).toBe(openers.length + innocent.length);
  });

  it('refuses the batch in the store itself: the adapter raises StoreRowRefusedError and stores nothing', async () => {
    probe.poisonedKeys.add('evt_direct');
    const now = Date.now();
    const body = Buffer.from(stripeEventBody('evt_direct'));
    const event: NewEvent = {
      id: createEventId(now),
      source: 'stripe',
      provider: 'stripe',
      dedupeKey: 'evt_direct',
      eventType: 'payment_intent.succeeded',
      headers: {},
      body,
      bodySha256: createHash('sha256').update(body).digest('hex'),
      receivedAt: now,
    };
    await expect(store.recordEvents([event])).rejects.toBeInstanceOf(StoreRowRefusedError);
    expect(await store.findEventByDedupeKey('stripe', 'evt_direct')).toBeNull();
  });

  it('answers 503, not 200, when the store throws outright or answers for fewer rows than it was given', async () => {
    const recordEvents = store.recordEvents.bind(store);
    store.recordEvents = () => {
      throw new Error('driver bug');
    };
    expect((await deliver('evt_thrown')).status).toBe(503);
    store.recordEvents = async (events, claim) => (await recordEvents(events, claim)).slice(1);
    expect((await deliver('evt_short')).status).toBe(503);
    store.recordEvents = recordEvents;
    // The committer is not wedged: the next delivery (a retry of one of them) goes through.
    expect((await deliver('evt_thrown')).status).toBe(200);
  });

  it('yields one event per key for duplicates within one batch and across batches', async () => {
    const openers = await occupyEveryCommitSlot('evt_open');
    const sent = ['evt_dup_a', 'evt_dup_b', 'evt_dup_a', 'evt_single', 'evt_dup_a', 'evt_dup_b', 'evt_dup_a'];
    const responses = await sendTogether(sent);
    probe.release();
    await Promise.all(openers.map((o) => o.response));
    const answers = await Promise.all(
      (await Promise.all(responses)).map(async (r) => ({ status: r.status, ...(await r.json()) })),
    );

    // They really were one batch: the same key several times in one statement.
    const batch = probe.batchOf('evt_single');
    expect(batch.keys.filter((k) => k === 'evt_dup_a')).toHaveLength(4);
    expect(batch.committed).toBe(true);

    for (const key of ['evt_dup_a', 'evt_dup_b', 'evt_single']) {
      const mine = answers.filter((_, i) => sent[i] === key);
      expect(mine.every((a) => a.status === 200)).toBe(true);
      expect(mine.filter((a) => a.duplicate === false)).toHaveLength(1);
      expect(new Set(mine.map((a) => a.id)).size).toBe(1);
      const stored = await store.findEventByDedupeKey('stripe', key);
      expect(stored?.id).toBe(mine[0]!.id);
      expect(stored?.deliveryCount).toBe(mine.length);
    }

    // Across batches: a later delivery of a stored key is a duplicate of the same event.
    const firstId = answers[0]!.id as string;
    for (let i = 0; i < 2; i++) {
      const again = await deliver('evt_dup_a');
      expect(again.status).toBe(200);
      expect(await again.json()).toEqual({ received: true, id: firstId, duplicate: true });
    }
    expect((await store.findEventByDedupeKey('stripe', 'evt_dup_a'))?.deliveryCount).toBe(6);
    expect(await store.countEvents({})).toBe(openers.length + 3);
  });

  it('never answers a request before the commit holding its row has returned', async () => {
    const sibling = testStore.openSibling();
    // Commits take a while, at random, so batches overlap and answers could race ahead.
    probe.setDelay(() => Math.floor(Math.random() * 15));
    const keys = Array.from({ length: 60 }, (_, i) => `evt_race_${i % 45}`);
    const early: string[] = [];
    const invisible: string[] = [];
    await Promise.all(
      keys.map(async (key, i) => {
        await new Promise((resolve) => setTimeout(resolve, i % 7));
        const response = await deliver(key);
        // Checked the moment the answer exists: its commit must already have returned...
        if (!probe.committedKeys.has(key)) early.push(key);
        expect(response.status).toBe(200);
        // ...and the row is visible to another connection, so it is durable, not just written.
        if ((await sibling.findEventByDedupeKey('stripe', key)) === null) invisible.push(key);
      }),
    );
    expect(early).toEqual([]);
    expect(invisible).toEqual([]);
    expect(probe.batches.length).toBeLessThan(keys.length);
    expect(await store.countEvents({})).toBe(45);
  });
});
