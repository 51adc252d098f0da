/**
 * Issue 14's acceptance, in process: a real Hookbox (receive route, store of each engine, event
 * worker, delivery worker) forwarding to real HTTP servers on 127.0.0.1. The kill -9 case is in
 * test/e2e/forwarding-crash.test.ts.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import type { ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Webhook } from 'standardwebhooks';
import { afterEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.ts';
import { ConfigError } from '../../src/config/problems.ts';
import type { DestinationInput } from '../../src/destinations/settings.ts';
import { createHookbox, type HookboxInternals } from '../../src/hookbox.ts';
import { createTestStore, engines, type TestStore } from '../support/stores.ts';
import { signStripe, stripeEventBody } from '../support/stripe.ts';
import { sleep, waitUntil } from '../worker/helpers.ts';
import {
  generateSigningSecret,
  type ReceivedRequest,
  type RecordingServer,
  startRecordingServer,
} from './helpers.ts';

const stripeSecret = 'whsec_issue_14_forwarding';
const fastBackoff = { baseDelayMs: 50, maxDelayMs: 200 };

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => {});
});

async function server(respond?: Parameters<typeof startRecordingServer>[0]): Promise<RecordingServer> {
  const started = await startRecordingServer(respond);
  cleanups.push(() => started.close());
  return started;
}

/** Answers with these statuses in turn (the last one from then on). */
function answers(...statuses: (number | [number, Record<string, string>])[]) {
  return (_request: ReceivedRequest, response: ServerResponse, index: number) => {
    const entry = statuses[Math.min(index, statuses.length - 1)]!;
    const [status, headers] = Array.isArray(entry) ? entry : [entry, {}];
    response.writeHead(status, headers).end(`answer ${index + 1}`);
  };
}

function destination(fields: Partial<DestinationInput> & { name: string; url: string }): DestinationInput {
  return {
    signingSecret: generateSigningSecret(),
    allowPrivateNetwork: true,
    backoff: fastBackoff,
    ...fields,
  };
}

async function gateway(
  engine: (typeof engines)[number],
  destinations: DestinationInput[],
  extra: Partial<Parameters<typeof createHookbox>[0]> = {},
  sourceExtra: Record<string, unknown> = {},
): Promise<{ hookbox: HookboxInternals; t: TestStore }> {
  const t = await createTestStore(engine);
  cleanups.push(() => t.cleanup());
  const hookbox = createHookbox({
    store: t.store,
    migrate: false,
    sources: { stripe: { provider: 'stripe', secrets: [stripeSecret], destinations, ...sourceExtra } },
    worker: { pollIntervalMs: 50 },
    delivery: { pollIntervalMs: 50, settleIntervalMs: 200 },
    ...extra,
  });
  await hookbox.start();
  cleanups.push(() => hookbox.stop(500));
  return { hookbox, t };
}

async function send(hookbox: HookboxInternals, providerId: string, type = 'invoice.paid'): Promise<string> {
  const body = stripeEventBody(providerId, type);
  const response = await hookbox.fetch(
    new Request('http://hookbox.test/webhooks/stripe', {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'stripe-signature': signStripe(body, stripeSecret, Math.floor(Date.now() / 1000)),
      },
      body,
    }),
  );
  expect(response.status).toBe(200);
  return ((await response.json()) as { id: string }).id;
}

async function statusOf(hookbox: HookboxInternals, eventId: string) {
  return (await hookbox.store.getEvent(eventId))?.status;
}

for (const engine of engines) {
  describe(`forwarding to destinations on ${engine}`, () => {
    it('retries 503, 503, 200 with three identical, verifiable bodies under one webhook-id', async () => {
      const app = await server(answers(503, 503, 200));
      const signingSecret = generateSigningSecret();
      const { hookbox } = await gateway(engine, [
        destination({ name: 'app', url: `${app.url}/hooks`, signingSecret }),
      ]);
      const eventId = await send(hookbox, 'evt_retry');
      await waitUntil(
        async () => (await statusOf(hookbox, eventId)) === 'processed',
        'the event is processed',
      );

      expect(app.requests).toHaveLength(3);
      const verifier = new Webhook(signingSecret);
      const sent = stripeEventBody('evt_retry', 'invoice.paid');
      for (const [index, request] of app.requests.entries()) {
        expect(request.method).toBe('POST');
        expect(request.url).toBe('/hooks');
        expect(request.body.toString()).toBe(sent);
        expect(request.headers['webhook-id']).toBe(eventId);
        expect(request.headers['content-type']).toBe('application/json');
        expect(request.headers['x-hookbox-source']).toBe('stripe');
        expect(request.headers['x-hookbox-event-type']).toBe('invoice.paid');
        expect(request.headers['x-hookbox-attempt']).toBe(String(index + 1));
        expect(() =>
          verifier.verify(request.body.toString(), request.headers as Record<string, string>),
        ).not.toThrow();
      }
      // Another secret does not verify: the signature is really the destination's.
      expect(() =>
        new Webhook(generateSigningSecret()).verify(
          app.requests[0]!.body.toString(),
          app.requests[0]!.headers as Record<string, string>,
        ),
      ).toThrow();

      const { deliveries } = await hookbox.destinations.listDeliveries({ eventId });
      expect(deliveries).toMatchObject([
        { destination: 'app', status: 'succeeded', attempts: 3, lastStatusCode: 200 },
      ]);
      const detail = await hookbox.destinations.getDelivery(deliveries[0]!.id);
      expect(detail?.attempts.map((a) => [a.attemptNumber, a.statusCode, a.outcome])).toEqual([
        [1, 503, 'failed'],
        [2, 503, 'failed'],
        [3, 200, 'succeeded'],
      ]);
      expect(detail?.attempts[0]?.responseExcerpt.toString()).toBe('answer 1');
    });

    it('waits at least the Retry-After of a 429', async () => {
      const app = await server(answers([429, { 'retry-after': '2' }], 200));
      const { hookbox } = await gateway(engine, [
        destination({ name: 'app', url: app.url, backoff: { baseDelayMs: 50, maxDelayMs: 10_000 } }),
      ]);
      const eventId = await send(hookbox, 'evt_429');
      await waitUntil(
        async () => (await statusOf(hookbox, eventId)) === 'processed',
        'the event is processed',
        10_000,
      );
      expect(app.requests).toHaveLength(2);
      expect(app.requests[1]!.receivedAt - app.requests[0]!.receivedAt).toBeGreaterThanOrEqual(2_000);
    });

    it('a 410 disables the destination; later events queue until it is enabled', async () => {
      let gone = true;
      const app = await server((_request, response) => response.writeHead(gone ? 410 : 200).end());
      const { hookbox } = await gateway(engine, [destination({ name: 'app', url: app.url })]);
      const first = await send(hookbox, 'evt_gone_1');
      await waitUntil(
        async () => (await hookbox.destinations.listDestinations())[0]?.state === 'disabled',
        'the destination is disabled',
      );
      const second = await send(hookbox, 'evt_gone_2');
      await sleep(400);
      expect(app.requests).toHaveLength(1);
      const [summary] = await hookbox.destinations.listDestinations();
      expect(summary).toMatchObject({ state: 'disabled', backlog: 2 });
      expect(summary?.stateReason).toMatch(/410 Gone/);
      await expect(hookbox.destinations.resume('stripe', 'app')).rejects.toMatchObject({
        code: 'destination_state_conflict',
      });

      gone = false;
      await hookbox.destinations.enable('stripe', 'app');
      await waitUntil(
        async () =>
          (await statusOf(hookbox, first)) === 'processed' &&
          (await statusOf(hookbox, second)) === 'processed',
        'both events are processed',
      );
      expect(app.requests.map((r) => r.headers['webhook-id'])).toEqual([first, first, second]);
    });

    it('retries a destination that times out, without delaying another destination of the same event', async () => {
      const slow = await server((_request, response, index) => {
        if (index > 0) response.end('ok');
        // The first request is never answered: the attempt times out.
      });
      const fast = await server();
      const { hookbox } = await gateway(engine, [
        destination({ name: 'slow', url: slow.url, timeoutMs: 2_500 }),
        destination({ name: 'fast', url: fast.url }),
      ]);
      const started = Date.now();
      const eventId = await send(hookbox, 'evt_timeout');
      await waitUntil(() => fast.requests.length === 1, 'the fast destination has it');
      // Well before the slow destination's attempt can time out.
      expect(fast.requests[0]!.receivedAt - started).toBeLessThan(1_500);
      await waitUntil(
        async () => (await statusOf(hookbox, eventId)) === 'processed',
        'the event is processed',
      );
      expect(slow.requests).toHaveLength(2);
      const [slowDelivery] = (await hookbox.destinations.listDeliveries({ destination: 'slow' })).deliveries;
      const detail = await hookbox.destinations.getDelivery(slowDelivery!.id);
      expect(detail?.attempts.map((a) => a.errorCode)).toEqual(['timeout', null]);
    });

    it('fans out to three; the failing one goes dead alone and is retried alone', async () => {
      let failing = true;
      const a = await server();
      const b = await server();
      const c = await server((_request, response) => response.writeHead(failing ? 500 : 200).end());
      const { hookbox } = await gateway(engine, [
        destination({ name: 'a', url: a.url }),
        destination({ name: 'b', url: b.url }),
        destination({ name: 'c', url: c.url, maxAttempts: 2 }),
      ]);
      const ids = [await send(hookbox, 'evt_fan_1'), await send(hookbox, 'evt_fan_2')];
      await waitUntil(
        async () =>
          (await hookbox.destinations.listDeliveries({ destination: 'c', status: 'dead' })).deliveries
            .length === 2,
        "c's deliveries are dead",
      );
      for (const id of ids)
        await waitUntil(async () => (await statusOf(hookbox, id)) === 'dead', 'the event is dead');
      expect(a.requests.map((r) => r.headers['webhook-id']).sort()).toEqual([...ids].sort());
      expect(b.requests.map((r) => r.headers['webhook-id']).sort()).toEqual([...ids].sort());
      expect(c.requests).toHaveLength(4);

      failing = false;
      const dead = (await hookbox.destinations.listDeliveries({ destination: 'c', status: 'dead' }))
        .deliveries;
      for (const delivery of dead) await hookbox.destinations.retryDelivery(delivery.id);
      for (const id of ids) {
        await waitUntil(async () => (await statusOf(hookbox, id)) === 'processed', 'the event is processed');
      }
      expect(a.requests).toHaveLength(2);
      expect(b.requests).toHaveLength(2);
      expect(c.requests).toHaveLength(6);
      await expect(hookbox.destinations.retryDelivery(dead[0]!.id)).rejects.toMatchObject({
        code: 'delivery_not_retryable',
      });
      await expect(hookbox.destinations.retryDelivery(999_999)).rejects.toMatchObject({
        code: 'delivery_not_found',
      });
    });

    it('sends only the event types a destination asks for; an event nobody takes stays ignored', async () => {
      const invoices = await server();
      const { hookbox } = await gateway(engine, [
        // One at a time, so the two invoices arrive in receipt order (the order asserted below).
        destination({ name: 'billing', url: invoices.url, types: ['invoice.*'], concurrency: 1 }),
      ]);
      const paid = await send(hookbox, 'evt_types_1', 'invoice.paid');
      const charge = await send(hookbox, 'evt_types_2', 'charge.succeeded');
      const failed = await send(hookbox, 'evt_types_3', 'invoice.payment.failed');
      await waitUntil(
        async () => (await statusOf(hookbox, failed)) === 'processed',
        'the last invoice is processed',
      );
      // Its event settles separately from the last one's, so it may still be delivering here.
      await waitUntil(
        async () => (await statusOf(hookbox, paid)) === 'processed',
        'the first invoice is processed',
      );
      await waitUntil(async () => (await statusOf(hookbox, charge)) === 'ignored', 'the charge is ignored');
      expect(invoices.requests.map((r) => r.headers['x-hookbox-event-type'])).toEqual([
        'invoice.paid',
        'invoice.payment.failed',
      ]);
    });

    it('an event only destinations take skips the event worker; one a handler also takes runs it first', async () => {
      const app = await server();
      const handled: string[] = [];
      const { hookbox } = await gateway(engine, [destination({ name: 'app', url: app.url })], {
        handlers: { stripe: { 'customer.created': async ({ event }) => void handled.push(event.id) } },
      });
      // Paused, so both events stop at their deliveries and what the event worker did shows.
      await hookbox.destinations.pause('stripe', 'app', 'looking');
      const forwarded = await send(hookbox, 'evt_only_forwarded', 'invoice.paid');
      const both = await send(hookbox, 'evt_handled_too', 'customer.created');
      // Recorded delivering: no claim, no attempt row, nothing for the worker to do.
      expect(await statusOf(hookbox, forwarded)).toBe('delivering');
      expect(await hookbox.store.getEvent(forwarded)).toMatchObject({ attempts: 0 });
      await waitUntil(() => handled.length === 1, 'the handler ran');
      await waitUntil(
        async () => (await statusOf(hookbox, both)) === 'delivering',
        'the handled event is delivering',
      );
      await sleep(200);
      expect(await hookbox.store.listAttempts(forwarded)).toEqual([]);
      expect((await hookbox.store.listAttempts(both)).map((a) => a.outcome)).toEqual(['processed']);
      expect(handled).toEqual([both]);

      await hookbox.destinations.resume('stripe', 'app');
      for (const id of [forwarded, both])
        await waitUntil(async () => (await statusOf(hookbox, id)) === 'processed', `${id} is processed`);
      expect(app.requests.map((r) => r.headers['webhook-id']).sort()).toEqual([forwarded, both].sort());
      expect(await hookbox.store.getEvent(forwarded)).toMatchObject({
        attempts: 0,
        processedAt: expect.any(Number),
      });
    });

    it('pausing lets go of what this process claimed ahead: only the attempt in flight still goes out', async () => {
      // Each request is answered after 400 ms: one in flight, one claimed ahead behind it.
      const app = await server((_request, response) => {
        setTimeout(() => response.writeHead(200).end('ok'), 400);
      });
      const { hookbox } = await gateway(engine, [destination({ name: 'app', url: app.url, concurrency: 1 })]);
      const ids: string[] = [];
      for (let i = 0; i < 4; i++) ids.push(await send(hookbox, `evt_ahead_${i}`));
      await waitUntil(
        () => app.requests.length === 1 && hookbox.deliveryWorker.stats().held === 2,
        'one delivery is in flight and one is claimed ahead',
      );
      await hookbox.destinations.pause('stripe', 'app', 'deploying');
      await waitUntil(() => hookbox.deliveryWorker.stats().held === 0, 'the worker holds nothing');
      await sleep(300);
      expect(app.requests.map((r) => r.headers['webhook-id'])).toEqual([ids[0]]);
      const [paused] = await hookbox.destinations.listDestinations();
      expect(paused).toMatchObject({ state: 'paused', backlog: 3 });

      await hookbox.destinations.resume('stripe', 'app');
      await waitUntil(() => app.requests.length === 4, 'the other three arrived', 10_000);
      expect(app.requests.map((r) => r.headers['webhook-id'])).toEqual(ids);
      // The released delivery's attempt did not count: it goes out as its first.
      expect(app.requests[1]!.headers['x-hookbox-attempt']).toBe('1');
    });

    it('a paused destination receives nothing, then everything in order of receipt after resume', async () => {
      const app = await server();
      const { hookbox } = await gateway(engine, [destination({ name: 'app', url: app.url, concurrency: 1 })]);
      await hookbox.destinations.pause('stripe', 'app', 'deploying');
      const ids: string[] = [];
      for (let i = 0; i < 8; i++) ids.push(await send(hookbox, `evt_pause_${i}`));
      await sleep(300);
      expect(app.requests).toHaveLength(0);
      const [paused] = await hookbox.destinations.listDestinations();
      expect(paused).toMatchObject({ state: 'paused', stateReason: 'deploying', backlog: 8 });
      for (const id of ids) expect(await statusOf(hookbox, id)).toBe('delivering');

      await hookbox.destinations.resume('stripe', 'app');
      await waitUntil(() => app.requests.length === 8, 'all eight arrived');
      expect(app.requests.map((r) => r.headers['webhook-id'])).toEqual(ids);
    });

    it('forwards an event recorded through the event service like one received over HTTP', async () => {
      const app = await server();
      const { hookbox } = await gateway(engine, [
        destination({ name: 'app', url: app.url, types: ['invoice.*'] }),
      ]);
      const body = stripeEventBody('evt_recorded', 'invoice.paid');
      const { id, outcome } = await hookbox.events.recordEvent({
        source: 'stripe',
        provider: 'stripe',
        dedupeKey: 'evt_recorded',
        eventType: 'invoice.paid',
        body,
        headers: { 'content-type': 'application/json' },
      });
      expect(outcome).toBe('new');
      await waitUntil(async () => (await statusOf(hookbox, id)) === 'processed', 'the event is processed');
      expect(app.requests.map((r) => [r.headers['webhook-id'], r.body.toString()])).toEqual([[id, body]]);
    });

    it('sync mode answers after the handler, and a repeat while deliveries remain answers at once', async () => {
      const app = await server();
      const handled: string[] = [];
      const { hookbox } = await gateway(
        engine,
        [destination({ name: 'app', url: app.url })],
        { handlers: { stripe: { '*': ({ event }) => void handled.push(event.dedupeKey) } } },
        { mode: 'sync' },
      );
      await hookbox.destinations.pause('stripe', 'app');
      const eventId = await send(hookbox, 'evt_sync');
      expect(handled).toEqual(['evt_sync']);
      expect(await statusOf(hookbox, eventId)).toBe('delivering');
      const started = performance.now();
      expect(await send(hookbox, 'evt_sync')).toBe(eventId);
      expect(performance.now() - started).toBeLessThan(1_000);
      expect(handled).toEqual(['evt_sync']);
      await hookbox.destinations.resume('stripe', 'app');
      await waitUntil(
        async () => (await statusOf(hookbox, eventId)) === 'processed',
        'the event is processed',
      );
      expect(app.requests).toHaveLength(1);
    });

    it('replays an event to one destination with the same webhook-id', async () => {
      const app = await server();
      const other = await server();
      const { hookbox } = await gateway(engine, [
        destination({ name: 'app', url: app.url }),
        destination({ name: 'other', url: other.url }),
      ]);
      const eventId = await send(hookbox, 'evt_replay');
      await waitUntil(
        async () => (await statusOf(hookbox, eventId)) === 'processed',
        'the event is processed',
      );
      const replayed = await hookbox.destinations.replayEvent(eventId, { destination: 'app' });
      expect(replayed).toMatchObject([{ destination: 'app', status: 'pending', attempts: 0 }]);
      await waitUntil(() => app.requests.length === 2, 'the replay arrived');
      await waitUntil(
        async () => (await statusOf(hookbox, eventId)) === 'processed',
        'the event is processed again',
      );
      expect(app.requests.map((r) => r.headers['webhook-id'])).toEqual([eventId, eventId]);
      expect(app.requests[1]!.body.equals(app.requests[0]!.body)).toBe(true);
      expect(other.requests).toHaveLength(1);
      await expect(hookbox.destinations.replayEvent(eventId, { destination: 'nope' })).rejects.toMatchObject({
        code: 'destination_not_found',
      });
    });

    it('refuses, at delivery time, a host name that resolves to the cloud metadata address', async () => {
      const app = await server();
      const { hookbox } = await gateway(
        engine,
        [
          destination({
            name: 'app',
            url: `http://hooks.example.test:${app.port}/hooks`,
            allowPrivateNetwork: false,
            maxAttempts: 1,
          }),
        ],
        {
          delivery: {
            pollIntervalMs: 50,
            settleIntervalMs: 200,
            // The production injection point (http-client.ts): DNS answers the metadata address.
            lookup: (_hostname, _options, callback) =>
              callback(null, [{ address: '169.254.169.254', family: 4 }]),
          },
        },
      );
      const eventId = await send(hookbox, 'evt_ssrf');
      await waitUntil(async () => (await statusOf(hookbox, eventId)) === 'dead', 'the event is dead');
      const [delivery] = (await hookbox.destinations.listDeliveries({ eventId })).deliveries;
      const detail = await hookbox.destinations.getDelivery(delivery!.id);
      expect(detail?.attempts).toMatchObject([
        { errorCode: 'address_refused', statusCode: null, outcome: 'dead' },
      ]);
      expect(detail?.attempts[0]?.error).toMatch(/hooks\.example\.test resolved to .*cloud metadata/);
      expect(app.requests).toHaveLength(0);
    });
  });
}

describe('destination config', () => {
  it('refuses 127.0.0.1 without allowPrivateNetwork in a JSON config, naming the destination', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'hookbox-dest-config-'));
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    const write = (destination: Record<string, unknown>) =>
      writeFile(
        join(dir, 'hookbox.config.json'),
        JSON.stringify({
          sources: {
            stripe: {
              provider: 'stripe',
              secrets: [stripeSecret],
              destinations: [
                {
                  name: 'local',
                  url: 'http://127.0.0.1:4000/hooks',
                  signingSecret: generateSigningSecret(),
                  ...destination,
                },
              ],
            },
          },
        }),
      );
    await write({});
    const refused = await loadConfig({ cwd: dir, env: {} }).catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(ConfigError);
    expect((refused as ConfigError).problems).toEqual([
      expect.stringMatching(
        /^sources\.stripe\.destinations\[local\]\.url: 127\.0\.0\.1 is a loopback address: refused .*"allowPrivateNetwork": true/,
      ),
    ]);
    await write({ allowPrivateNetwork: true });
    const config = await loadConfig({ cwd: dir, env: {} });
    expect(config.sources.stripe?.destinations).toHaveLength(1);
  });
});
