import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createManualClock } from '../../src/clock.ts';
import { createHookbox, type Hookbox } from '../../src/hookbox.ts';
import type { Store } from '../../src/store/types.ts';
import { createTestStore, engines } from '../support/stores.ts';
import { signStripe, stripeEventBody } from '../support/stripe.ts';

const secret = 'whsec_test_receive_secret';

describe.each(engines)('receive route on %s', (engine) => {
  let store: Store;
  let cleanup: () => Promise<void>;
  let hookbox: Hookbox;
  const clock = createManualClock(Date.UTC(2026, 5, 1, 12));
  const nowSeconds = () => Math.floor(clock.now() / 1000);

  beforeEach(async () => {
    clock.set(Date.UTC(2026, 5, 1, 12));
    ({ store, cleanup } = await createTestStore(engine, { clock }));
    hookbox = createHookbox({
      store,
      clock,
      // Pinned jitter: a failed first attempt waits half of the 10 s backoff ceiling.
      random: () => 0.5,
      sources: {
        stripe: { provider: 'stripe', secrets: [secret] },
        payments: { provider: 'stripe', secrets: [secret], mode: 'sync', maxBodyBytes: 4096 },
      },
      worker: { enabled: false },
    });
    await hookbox.start();
  });
  afterEach(async () => {
    await hookbox.worker.stop();
    await cleanup();
  });

  function post(path: string, body: string | Buffer, headers: Record<string, string> = {}) {
    return hookbox.fetch(
      new Request(`http://hookbox.test${path}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...headers },
        body: new Uint8Array(Buffer.from(body)),
      }),
    );
  }
  const signed = (body: string, at = nowSeconds()) => ({ 'stripe-signature': signStripe(body, secret, at) });

  it('stores a valid delivery and answers 200 only with its id', async () => {
    const body = stripeEventBody('evt_ok');
    const response = await post('/webhooks/stripe', body, signed(body));
    expect(response.status).toBe(200);
    const json = await response.json();
    expect(json).toEqual({ received: true, id: expect.any(String), duplicate: false });
    const event = await store.getEvent(json.id);
    expect(event).toMatchObject({
      source: 'stripe',
      provider: 'stripe',
      dedupeKey: 'evt_ok',
      eventType: 'payment_intent.succeeded',
    });
    expect(event!.body.equals(Buffer.from(body))).toBe(true);
    expect(event!.headers['stripe-signature']).toBeDefined();
  });

  it('answers the /api/webhooks alias the same way', async () => {
    const body = stripeEventBody('evt_alias');
    const response = await post('/api/webhooks/stripe', body, signed(body));
    expect(response.status).toBe(200);
    expect((await response.json()).duplicate).toBe(false);
  });

  it('counts a repeat delivery on the existing event and says duplicate', async () => {
    const body = stripeEventBody('evt_twice');
    const first = await (await post('/webhooks/stripe', body, signed(body))).json();
    const second = await (await post('/webhooks/stripe', body, signed(body))).json();
    expect(second).toEqual({ received: true, id: first.id, duplicate: true });
    expect((await store.getEvent(first.id))!.deliveryCount).toBe(2);
  });

  it('keeps credentials out of the stored headers', async () => {
    const body = stripeEventBody('evt_headers');
    const json = await (
      await post('/webhooks/stripe', body, {
        ...signed(body),
        authorization: 'Bearer s3cr3t',
        cookie: 'sid=1',
      })
    ).json();
    const event = await store.getEvent(json.id);
    expect(event!.headers.authorization).toBeUndefined();
    expect(event!.headers.cookie).toBeUndefined();
  });

  const rejections: [
    string,
    () => { body: string | Buffer; headers: Record<string, string> },
    number,
    string,
  ][] = [
    [
      'a forged signature',
      () => ({
        body: stripeEventBody('evt_forged'),
        headers: {
          'stripe-signature': signStripe(stripeEventBody('evt_forged'), 'whsec_wrong', nowSeconds()),
        },
      }),
      401,
      'signature_mismatch',
    ],
    [
      'a stale timestamp',
      () => {
        const b = stripeEventBody('evt_stale');
        return { body: b, headers: signed(b, nowSeconds() - 301) };
      },
      401,
      'timestamp_outside_tolerance',
    ],
    [
      'a re-serialized body',
      () => {
        const b = stripeEventBody('evt_reser');
        return { body: JSON.stringify(JSON.parse(b)), headers: signed(b) };
      },
      401,
      'signature_body_reserialized',
    ],
    [
      'no signature header',
      () => ({ body: stripeEventBody('evt_nosig'), headers: {} }),
      401,
      'signature_missing',
    ],
    [
      'a malformed signature header',
      () => ({ body: stripeEventBody('evt_bad'), headers: { 'stripe-signature': 'garbage' } }),
      401,
      'signature_malformed',
    ],
    [
      'a signed body without an id',
      () => {
        const b = JSON.stringify({ type: 'x' });
        return { body: b, headers: signed(b) };
      },
      400,
      'payload_invalid',
    ],
    [
      'a signed body that is not JSON',
      () => {
        const b = 'not json';
        return { body: b, headers: signed(b) };
      },
      400,
      'payload_invalid',
    ],
  ];

  it.each(rejections)(
    'rejects %s with its own code and stores nothing',
    async (_name, make, status, code) => {
      const { body, headers } = make();
      const response = await post('/webhooks/stripe', body, headers);
      expect(response.status).toBe(status);
      const json = await response.json();
      expect(json.error.code).toBe(code);
      expect(json.error.message).not.toContain(secret);
      expect(await store.countEvents({})).toBe(0);
    },
  );

  it('answers 404 for an unknown source and stores nothing', async () => {
    const body = stripeEventBody('evt_404');
    const response = await post('/webhooks/nope', body, signed(body));
    expect(response.status).toBe(404);
    expect((await response.json()).error.code).toBe('source_not_found');
    expect(await store.countEvents({})).toBe(0);
  });

  it('answers 413 for a body over the source limit and stores nothing', async () => {
    const body = stripeEventBody('evt_big', 'payment_intent.succeeded', { padding: 'x'.repeat(5000) });
    const response = await post('/webhooks/payments', body, signed(body));
    expect(response.status).toBe(413);
    expect((await response.json()).error.code).toBe('payload_too_large');
    expect(await store.countEvents({})).toBe(0);
  });

  it('answers 503 and acknowledges nothing when the store cannot commit; /readyz says not ready', async () => {
    const other = await createTestStore(engine);
    const down = createHookbox({
      store: other.store,
      clock,
      sources: { stripe: { provider: 'stripe', secrets: [secret] } },
    });
    await other.store.close();
    try {
      const body = stripeEventBody('evt_down');
      const response = await down.fetch(
        new Request('http://hookbox.test/webhooks/stripe', { method: 'POST', headers: signed(body), body }),
      );
      expect(response.status).toBe(503);
      expect((await response.json()).error.code).toBe('store_unavailable');
      const ready = await down.fetch(new Request('http://hookbox.test/readyz'));
      expect(ready.status).toBe(503);
    } finally {
      await other.cleanup().catch(() => {});
    }
  });

  describe('sync mode', () => {
    it('processes inline and answers 200 after the handler succeeded', async () => {
      const seen: string[] = [];
      hookbox.on('payments', '*', ({ event, payload }) => {
        seen.push(event.dedupeKey, (payload as { type: string }).type);
      });
      const body = stripeEventBody('evt_sync');
      const response = await post('/webhooks/payments', body, signed(body));
      expect(response.status).toBe(200);
      const json = await response.json();
      expect(json).toMatchObject({ received: true, processed: true, duplicate: false });
      expect(seen).toEqual(['evt_sync', 'payment_intent.succeeded']);
      expect((await store.getEvent(json.id))!.status).toBe('processed');
    });

    it('answers 500 when the handler fails, keeps the event, and a processed repeat says alreadyProcessed', async () => {
      let fail = true;
      hookbox.on('payments', 'payment_intent.succeeded', () => {
        if (fail) throw new Error('downstream unavailable');
      });
      const body = stripeEventBody('evt_sync_fail');
      const failed = await post('/webhooks/payments', body, signed(body));
      expect(failed.status).toBe(500);
      const failedJson = await failed.json();
      expect(failedJson.error.code).toBe('handler_failed');
      expect(failedJson.error.message).toContain('downstream unavailable');
      expect(await store.getEvent(failedJson.id)).toMatchObject({ status: 'failed', attempts: 1 });

      // The provider retries before Hookbox's backoff has passed: the handler does not run early.
      fail = false;
      const early = await post('/webhooks/payments', body, signed(body));
      expect(early.status).toBe(500);
      expect((await early.json()).error.message).toContain(
        `will be retried from ${new Date(clock.now() + 5_000).toISOString()}`,
      );
      expect(await store.getEvent(failedJson.id)).toMatchObject({ status: 'failed', attempts: 1 });

      clock.advance(5_000);
      const retried = await post('/webhooks/payments', body, signed(body));
      expect(retried.status).toBe(200);
      expect(await retried.json()).toMatchObject({ processed: true, duplicate: true });

      const repeat = await post('/webhooks/payments', body, signed(body));
      expect(repeat.status).toBe(200);
      expect(await repeat.json()).toMatchObject({ alreadyProcessed: true, duplicate: true });
      expect((await store.getEvent(failedJson.id))!.deliveryCount).toBe(4);
    });

    it('answers a repeat of a dead event 200 with dead: true, so the provider stops too', async () => {
      let runs = 0;
      hookbox.on('payments', 'payment_intent.succeeded', () => {
        runs++;
        throw new Error('card declined permanently');
      });
      const body = stripeEventBody('evt_sync_dead');
      // Five attempts (the default budget), each after its backoff.
      let last: Response | undefined;
      for (let attempt = 1; attempt <= 5; attempt++) {
        last = await post('/webhooks/payments', body, signed(body));
        clock.advance(6 * 60 * 60_000);
      }
      expect(runs).toBe(5);
      expect(last!.status).toBe(200);
      const deadJson = await last!.json();
      expect(deadJson).toMatchObject({ received: true, duplicate: true, dead: true });
      expect(deadJson.error).toContain('card declined permanently');
      expect(await store.getEvent(deadJson.id)).toMatchObject({ status: 'dead', attempts: 5 });

      // Nothing will retry it: a repeat says so with a 2xx, and runs nothing.
      const repeat = await post('/webhooks/payments', body, signed(body));
      expect(repeat.status).toBe(200);
      expect(await repeat.json()).toEqual({ received: true, id: deadJson.id, duplicate: true, dead: true });
      expect(runs).toBe(5);
    });

    it('says the handler did not run when its circuit breaker is open, without spending an attempt', async () => {
      const other = await createTestStore(engine);
      const guarded = createHookbox({
        store: other.store,
        clock,
        sources: { payments: { provider: 'stripe', secrets: [secret], mode: 'sync' } },
        circuitBreaker: { failureThreshold: 1, cooldownMs: 60_000 },
        worker: { enabled: false },
      });
      guarded.on('payments', '*', () => {
        throw new Error('ledger down');
      });
      await guarded.start();
      try {
        const send = (id: string) => {
          const body = stripeEventBody(id);
          return guarded.fetch(
            new Request('http://hookbox.test/webhooks/payments', {
              method: 'POST',
              headers: signed(body),
              body,
            }),
          );
        };
        const first = await (await send('evt_breaker_1')).json();
        expect(first.error.message).toContain('ledger down');
        const second = await send('evt_breaker_2');
        expect(second.status).toBe(500);
        const json = await second.json();
        expect(json.error.message).toContain('circuit breaker open');
        expect(json.error.message).not.toContain('another worker');
        expect(await other.store.getEvent(json.id)).toMatchObject({ status: 'pending', attempts: 0 });
      } finally {
        await guarded.stop();
        await other.cleanup().catch(() => {});
      }
    });

    it('answers 200 with ignored when no handler is registered', async () => {
      const body = stripeEventBody('evt_unhandled');
      const response = await post('/webhooks/payments', body, signed(body));
      expect(response.status).toBe(200);
      const json = await response.json();
      expect(json.ignored).toBe(true);
      expect((await store.getEvent(json.id))!.status).toBe('ignored');
    });
  });

  it('reports readiness from the store', async () => {
    const ready = await hookbox.fetch(new Request('http://hookbox.test/readyz'));
    expect(ready.status).toBe(200);
    const alive = await hookbox.fetch(new Request('http://hookbox.test/healthz'));
    // Liveness carries the worker's figures: what it holds, and handlers stuck past their timeout.
    expect(await alive.json()).toEqual({ status: 'ok', worker: { held: 0, stuck: 0, reserved: 0 } });
  });
});
