/**
 * Ordering per key holds for destinations too (issue 15): an ordered event holds its key while
 * its deliveries remain, so one destination receives one key's events in order, whatever its
 * retries; other keys are not held behind it. Real HTTP servers on 127.0.0.1, both engines.
 */
import type { ServerResponse } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { createHookbox, type HookboxInternals } from '../../src/hookbox.ts';
import {
  generateSigningSecret,
  type ReceivedRequest,
  startRecordingServer,
} from '../destinations/helpers.ts';
import { createTestStore, engines } from '../support/stores.ts';
import { signStripe } from '../support/stripe.ts';
import { waitUntil } from '../worker/helpers.ts';

const secret = 'whsec_ordered_destinations';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => {});
});

function stripeBody(id: string, created: number, object: string): string {
  return JSON.stringify({
    id,
    object: 'event',
    type: 'customer.subscription.updated',
    created,
    data: { object: { id: object } },
  });
}

async function deliver(hookbox: HookboxInternals, body: string): Promise<void> {
  const response = await hookbox.fetch(
    new Request('http://hookbox.test/webhooks/stripe', {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'stripe-signature': signStripe(body, secret, Math.floor(Date.now() / 1000)),
      },
      body,
    }),
  );
  expect(response.status).toBe(200);
}

/** The Stripe event id a forwarded request carries. */
const eventOf = (request: ReceivedRequest) => (JSON.parse(request.body.toString()) as { id: string }).id;

for (const engine of engines) {
  describe(`ordered events forwarded to a destination (${engine})`, () => {
    it("delivers one key's events in order, the next only once the earlier one's delivery succeeded", async () => {
      // The first two requests for sub_1's first event fail; everything else succeeds.
      let failuresLeft = 2;
      const destination = await startRecordingServer((request: ReceivedRequest, response: ServerResponse) => {
        const failing = eventOf(request) === 'evt_1' && failuresLeft-- > 0;
        response.writeHead(failing ? 503 : 200).end(failing ? 'busy' : 'ok');
      });
      cleanups.push(() => destination.close());
      const t = await createTestStore(engine);
      cleanups.push(() => t.cleanup());
      const hookbox = createHookbox({
        store: t.store,
        migrate: false,
        sources: {
          stripe: {
            provider: 'stripe',
            secrets: [secret],
            ordering: { key: 'data.object.id' },
            destinations: [
              {
                name: 'app',
                url: destination.url,
                signingSecret: generateSigningSecret(),
                allowPrivateNetwork: true,
                backoff: { baseDelayMs: 100, maxDelayMs: 150 },
              },
            ],
          },
        },
        worker: { pollIntervalMs: 25 },
        delivery: { pollIntervalMs: 25, settleIntervalMs: 100 },
      });
      await hookbox.start();
      cleanups.push(() => hookbox.stop(500));

      const now = Math.floor(Date.now() / 1000);
      await deliver(hookbox, stripeBody('evt_1', now, 'sub_1'));
      await deliver(hookbox, stripeBody('evt_2', now + 1, 'sub_1'));
      await deliver(hookbox, stripeBody('evt_3', now + 2, 'sub_1'));
      await deliver(hookbox, stripeBody('evt_other', now, 'sub_2'));

      await waitUntil(
        async () => (await hookbox.store.countEvents({ status: 'processed' })) === 4,
        'every event delivered and processed',
        15_000,
        25,
      );
      const received = destination.requests.map(eventOf);
      const ofKey = received.filter((id) => id !== 'evt_other');
      // evt_1 twice refused then accepted; only then evt_2, then evt_3: each key's events in order.
      expect(ofKey).toEqual(['evt_1', 'evt_1', 'evt_1', 'evt_2', 'evt_3']);
      // The other key was not held behind sub_1's retries.
      expect(received.indexOf('evt_other')).toBeLessThan(received.lastIndexOf('evt_1'));
    });
  });
}
