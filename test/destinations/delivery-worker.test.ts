/**
 * The delivery worker's holding rules, on real stores of both engines and real HTTP servers:
 * leases renewed through a long attempt (no second worker takes it), graceful stop (finish in
 * the grace period, or abort and release without counting the attempt), and per-destination
 * capacity (one destination's stuck backlog never delays another's deliveries).
 */
import { createHash } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { systemClock } from '../../src/clock.ts';
import { DeliveryWorker } from '../../src/destinations/delivery-worker.ts';
import { createDestinationHttpClient } from '../../src/destinations/http-client.ts';
import { type DestinationInput, parseDestinations } from '../../src/destinations/settings.ts';
import { createEventId } from '../../src/ids.ts';
import { silentLogger } from '../../src/logger.ts';
import type { NewEvent, Store } from '../../src/store/types.ts';
import { createTestStore, engines, queryPostgres } from '../support/stores.ts';
import { createCapturingLogger, sleep, waitUntil } from '../worker/helpers.ts';
import { generateSigningSecret, type RecordingServer, startRecordingServer } from './helpers.ts';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => {});
});

let sequence = 0;
function newEvent(destinations: string[]): NewEvent {
  sequence += 1;
  const body = Buffer.from(JSON.stringify({ id: `evt_w${sequence}`, type: 'invoice.paid' }));
  return {
    id: createEventId(Date.now()),
    source: 'stripe',
    provider: 'stripe',
    dedupeKey: `evt_w${sequence}`,
    eventType: 'invoice.paid',
    headers: { 'content-type': 'application/json' },
    body,
    bodySha256: createHash('sha256').update(body).digest('hex'),
    receivedAt: Date.now(),
    destinations,
  };
}

async function server(respond?: Parameters<typeof startRecordingServer>[0]): Promise<RecordingServer> {
  const started = await startRecordingServer(respond);
  cleanups.push(() => started.close());
  return started;
}

function worker(
  store: Store,
  inputs: (Partial<DestinationInput> & { name: string; url: string })[],
  leaseMs = 30_000,
  observe?: ConstructorParameters<typeof DeliveryWorker>[0]['observe'],
  logger = silentLogger,
) {
  const destinations = parseDestinations(
    inputs.map((input) => ({ signingSecret: generateSigningSecret(), allowPrivateNetwork: true, ...input })),
    'stripe',
  );
  const client = createDestinationHttpClient();
  const deliveryWorker = new DeliveryWorker({
    store,
    destinations,
    client,
    clock: systemClock,
    random: () => 0.5,
    logger,
    leaseMs,
    pollIntervalMs: 50,
    settleIntervalMs: 200,
    ...(observe ? { observe } : {}),
  });
  cleanups.push(async () => {
    await deliveryWorker.stop(100);
    await client.close();
  });
  return deliveryWorker;
}

/** Answers after `ms`, or never when the request is cut off first. */
function answerAfter(ms: number) {
  return (_request: unknown, response: import('node:http').ServerResponse) => {
    const timer = setTimeout(() => response.end('ok'), ms);
    response.on('close', () => clearTimeout(timer));
  };
}

for (const engine of engines) {
  describe(`delivery worker on ${engine}`, () => {
    async function openStore() {
      const t = await createTestStore(engine);
      cleanups.push(() => t.cleanup());
      return t;
    }

    it('renews the lease through an attempt longer than it: a second worker never takes the delivery', async () => {
      const t = await openStore();
      const app = await server(answerAfter(1_200));
      const first = worker(t.store, [{ name: 'app', url: app.url, timeoutMs: 5_000 }], 300);
      const second = worker(t.openSibling(), [{ name: 'app', url: app.url, timeoutMs: 5_000 }], 300);
      await t.store.recordEvents([newEvent(['app'])]);
      await first.start();
      await waitUntil(() => app.requests.length === 1, 'the first worker sent it');
      await second.start();
      const [delivery] = await t.store.listDeliveries({ limit: 1 });
      await waitUntil(
        async () => (await t.store.getDelivery(delivery!.id))?.status === 'succeeded',
        'it succeeded',
      );
      await sleep(300);
      expect(app.requests).toHaveLength(1);
      expect((await t.store.getDelivery(delivery!.id))?.attempts).toBe(1);
    });

    it('stop lets an attempt finish within the grace period; observers hear of each written attempt', async () => {
      const t = await openStore();
      const app = await server(answerAfter(300));
      const observed: unknown[] = [];
      const deliveryWorker = worker(t.store, [{ name: 'app', url: app.url }], 30_000, (attempt) => {
        observed.push(attempt);
        throw new Error('an observer that fails changes nothing');
      });
      await t.store.recordEvents([newEvent(['app'])]);
      await deliveryWorker.start();
      await waitUntil(() => app.requests.length === 1, 'the attempt started');
      await deliveryWorker.stop(3_000);
      const [delivery] = await t.store.listDeliveries({ limit: 1 });
      expect(delivery).toMatchObject({ status: 'succeeded', attempts: 1 });
      expect(observed).toMatchObject([
        { destination: 'stripe/app', outcome: 'succeeded', statusCode: 200, errorCode: null },
      ]);
    });

    it('stop aborts an attempt past the grace period and releases it, the attempt not counted', async () => {
      const t = await openStore();
      const app = await server(answerAfter(10_000));
      const deliveryWorker = worker(t.store, [{ name: 'app', url: app.url, timeoutMs: 20_000 }]);
      await t.store.recordEvents([newEvent(['app'])]);
      await deliveryWorker.start();
      await waitUntil(() => app.requests.length === 1, 'the attempt started');
      const stopping = performance.now();
      await deliveryWorker.stop(200);
      expect(performance.now() - stopping).toBeLessThan(3_000);
      const [delivery] = await t.store.listDeliveries({ limit: 1 });
      expect(delivery).toMatchObject({ status: 'pending', attempts: 0, lockedBy: null });
      expect(await t.store.listDeliveryAttempts(delivery!.id)).toEqual([]);
    });

    // Only PostgreSQL can leave this state: on SQLite one writer at a time settles each event in
    // the verdict's own transaction, and the worker does not look again.
    it.runIf(engine === 'postgres')(
      'settles an event a moment after its delivery finished, when a racing verdict left it delivering',
      async () => {
        const t = await openStore();
        const app = await server();
        const client = createDestinationHttpClient();
        const deliveryWorker = new DeliveryWorker({
          store: t.store,
          destinations: parseDestinations(
            [
              {
                name: 'app',
                url: app.url,
                signingSecret: generateSigningSecret(),
                allowPrivateNetwork: true,
              },
            ],
            'stripe',
          ),
          client,
          clock: systemClock,
          random: () => 0.5,
          logger: silentLogger,
          pollIntervalMs: 50,
          // The sweep would come by only after the test: the settle after the verdict must do it.
          settleIntervalMs: 600_000,
          settleDelayMs: 500,
        });
        cleanups.push(async () => {
          await deliveryWorker.stop(100);
          await client.close();
        });
        const event = newEvent(['app']);
        await t.store.recordEvents([event]);
        await deliveryWorker.start();
        await waitUntil(
          async () => (await t.store.listDeliveries({ limit: 1 }))[0]?.status === 'succeeded',
          'the delivery succeeded',
        );
        // What a handler verdict committed on another process at the same moment can leave.
        await queryPostgres(`UPDATE events SET status = 'delivering' WHERE id = '${event.id}'`, [], t.schema);
        expect((await t.store.getEvent(event.id))?.status).toBe('delivering');
        await waitUntil(
          async () => (await t.store.getEvent(event.id))?.status === 'processed',
          'the event is settled',
          3_000,
        );
      },
    );

    it('warns at start about deliveries waiting for a destination no longer configured', async () => {
      const t = await openStore();
      const app = await server();
      await t.store.recordEvents([newEvent(['gone', 'app'])]);
      const capture = createCapturingLogger();
      const deliveryWorker = worker(
        t.store,
        [{ name: 'app', url: app.url }],
        30_000,
        undefined,
        capture.logger,
      );
      await deliveryWorker.start();
      await waitUntil(() => app.requests.length === 1, 'the configured destination got it');
      await waitUntil(
        () => capture.lines().some((line) => line.destination === 'stripe/gone'),
        'the warning about stripe/gone',
      );
      expect(capture.lines().find((line) => line.destination === 'stripe/gone')).toMatchObject({
        waiting: 1,
        msg: expect.stringMatching(/not configured: add it back/),
      });
      expect(capture.lines().some((line) => line.destination === 'stripe/app' && line.waiting)).toBe(false);
    });

    it("one destination's stuck backlog never delays another's deliveries", async () => {
      const t = await openStore();
      const stuck = await server(answerAfter(10_000));
      const fine = await server();
      const deliveryWorker = worker(t.store, [
        { name: 'stuck', url: stuck.url, concurrency: 2, timeoutMs: 20_000 },
        { name: 'fine', url: fine.url, concurrency: 2 },
      ]);
      for (let i = 0; i < 20; i++) await t.store.recordEvents([newEvent(['stuck', 'fine'])]);
      await deliveryWorker.start();
      await waitUntil(() => fine.requests.length === 20, 'the fine destination got all 20', 5_000);
      // The stuck one holds its own two slots and two more claimed ahead, waiting behind them
      // unsent (the fine one's last verdicts may still be being written).
      await waitUntil(
        () => deliveryWorker.stats().byDestination['stripe/fine'] === undefined,
        'fine is idle',
      );
      expect(stuck.requests).toHaveLength(2);
      expect(deliveryWorker.stats().byDestination).toEqual({ 'stripe/stuck': 4 });
    });
  });
}
