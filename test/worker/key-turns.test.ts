import { afterEach, describe, expect, it } from 'vitest';
import type { Store, WorkerStore } from '../../src/store/types.ts';
import { HandlerRegistry } from '../../src/worker/handler-registry.ts';
import { MAX_TURNS_PER_SLOT, type Worker } from '../../src/worker/worker.ts';
import { createTestStore, type TestStore } from '../support/stores.ts';
import { createTestWorker, recordEvent, waitUntil } from './helpers.ts';

// A slot that finishes an ordered event takes its key's next one in the verdict's commit
// (docs/ordering.md, "How it runs"). SQLite only: PostgreSQL's store does not offer it
// (test/ordering/store-ordering.test.ts checks that), so there is nothing to attack there.
let sequence = 0;

async function recordInOrder(store: Store, keys: string[]): Promise<string[]> {
  const ids: string[] = [];
  // One at a time: each its own receipt, so ids (the oldest-first claim order) follow `keys`.
  for (const key of keys) {
    sequence += 1;
    const ordering = { key, orderedAt: Date.now() + sequence, holdMs: 0, onDead: 'block' as const };
    ids.push(await recordEvent(store, `evt_${sequence}`, { ordering }));
  }
  return ids;
}

describe('a key passes its turn to its next event (sqlite)', () => {
  let test: TestStore;
  let worker: Worker | undefined;
  afterEach(async () => {
    await worker?.stop(1_000);
    worker = undefined;
    await test.cleanup();
  });

  it(`keeps a slot for at most ${MAX_TURNS_PER_SLOT} events of one key in a row, so a busy key cannot starve another`, async () => {
    test = await createTestStore('sqlite');
    // b0 is older than every a but the first: the oldest-first claim would run it second.
    const keys = ['a', 'b', ...Array.from({ length: 24 }, () => 'a')];
    const ids = await recordInOrder(test.store, keys);
    const ran: string[] = [];
    const handlers = new HandlerRegistry();
    handlers.register('stripe', '*', ({ event }) => {
      ran.push(event.id);
    });
    let claims = 0;
    const store = new Proxy(test.store, {
      get(target, property, receiver) {
        if (property !== 'claimEvents') return Reflect.get(target, property, receiver);
        return async (...args: Parameters<Store['claimEvents']>) => {
          const claimed = await target.claimEvents(...args);
          if (claimed.length > 0) claims++;
          return claimed;
        };
      },
    });
    worker = createTestWorker({ store, handlers, concurrency: 1, batchSize: 1 });
    await worker.start();
    await waitUntil(
      async () => (await test.store.getStatistics()).byStatus.processed === ids.length,
      'all processed',
    );
    const aIds = ids.filter((_, i) => keys[i] === 'a');
    // Key order holds, and b ran once a's slot had used its turns: after a's first ten, not after all 25.
    expect(ran.filter((id) => aIds.includes(id))).toEqual(aIds);
    expect(ran.indexOf(ids[1]!)).toBe(MAX_TURNS_PER_SLOT);
    // Every other event was taken in the commit of its predecessor's verdict: a's 1st, 11th and
    // 21st and b's only event were claimed, none of the other 22.
    expect(claims).toBe(4);
  });

  it('a stop during the verdict write that took the next event gives that event back unrun', async () => {
    test = await createTestStore('sqlite');
    const ids = await recordInOrder(test.store, ['k', 'k', 'k']);
    const ran: string[] = [];
    const handlers = new HandlerRegistry();
    handlers.register('stripe', '*', ({ event }) => {
      ran.push(event.id);
    });
    let stopping: Promise<void> | undefined;
    let taken: string[] = [];
    // Stop the worker after the write committed, before the worker hears of the event it took.
    const store = new Proxy(test.store, {
      get(target, property, receiver) {
        if (property !== 'finishAttemptsAndClaimNext') return Reflect.get(target, property, receiver);
        return async (...args: Parameters<NonNullable<WorkerStore['finishAttemptsAndClaimNext']>>) => {
          const finished = await target.finishAttemptsAndClaimNext!(...args);
          taken = finished.claimed.map((e) => e.id);
          stopping ??= worker!.stop(1_000);
          return finished;
        };
      },
    });
    worker = createTestWorker({ store, handlers, concurrency: 1, batchSize: 1 });
    await worker.start();
    await waitUntil(() => stopping !== undefined, 'the first verdict was written');
    await stopping;
    expect(taken).toEqual([ids[1]]);
    expect(ran).toEqual([ids[0]]);
    // Released: pending again, the attempt given back, the third still behind it.
    const second = await test.store.getEvent(ids[1]!);
    expect([second!.status, second!.attempts]).toEqual(['pending', 0]);
    expect((await test.store.getEvent(ids[2]!))!.status).toBe('waiting');
    // A new worker goes on in key order, each event once.
    worker = createTestWorker({ store: test.store, handlers, concurrency: 1 });
    await worker.start();
    await waitUntil(() => ran.length === 3, 'the key finished');
    expect(ran).toEqual(ids);
  });
});
