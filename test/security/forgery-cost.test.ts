/**
 * Issue 11, item 4: a rejected forgery must cost no more than a genuine delivery of the same
 * size. CPU time is too noisy to assert on a shared machine (bench/scenarios/forgery-cost.ts
 * measures it), so this counts the work that made the difference: parsing and re-serializing
 * the whole body. Through the real receive route, on both engines.
 */
import { createHmac } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createManualClock } from '../../src/clock.ts';
import { createHookbox, type Hookbox } from '../../src/hookbox.ts';
import { createTestStore, engines } from '../support/stores.ts';

const secret = 'whsec_forgery_cost_secret';
const large = 100_000;

/** A pretty-printed Stripe event of about a megabyte, made of many small objects. */
function bigEvent(id: string): string {
  const lines = Array.from({ length: 9000 }, (_, n) => ({ id: `li_${n}`, object: 'line_item', amount: n }));
  return JSON.stringify({ id, object: 'event', type: 'invoice.paid', data: { object: { lines } } }, null, 2);
}

function stripeSignature(body: string, key: string, at: number): string {
  const t = Math.floor(at / 1000);
  return `t=${t},v1=${createHmac('sha256', key).update(`${t}.${body}`).digest('hex')}`;
}

describe.each(engines)('a forged large body costs no more than a genuine one, on %s', (engine) => {
  let hookbox: Hookbox;
  let cleanup: () => Promise<void>;
  const clock = createManualClock(Date.UTC(2026, 5, 1, 12));

  beforeEach(async () => {
    const testStore = await createTestStore(engine);
    cleanup = testStore.cleanup;
    hookbox = createHookbox({
      store: testStore.store,
      clock,
      sources: { stripe: { provider: 'stripe', secrets: [secret], maxBodyBytes: 2 * 1024 * 1024 } },
      worker: { enabled: false },
    });
    await hookbox.start();
  });
  afterEach(async () => {
    vi.restoreAllMocks();
    await hookbox.stop();
    await cleanup();
  });

  /** Post, counting JSON.parse and JSON.stringify calls over more than 100 kB while the route runs. */
  async function postCounting(body: string, signature: string) {
    const counts = { parse: 0, stringify: 0 };
    const parse = JSON.parse;
    const stringify = JSON.stringify;
    vi.spyOn(JSON, 'parse').mockImplementation((text, reviver) => {
      if (typeof text === 'string' && text.length > large) counts.parse++;
      return parse(text, reviver);
    });
    vi.spyOn(JSON, 'stringify').mockImplementation((value, replacer, space) => {
      const text = stringify(value, replacer as never, space);
      if (typeof text === 'string' && text.length > large) counts.stringify++;
      return text;
    });
    try {
      const response = await hookbox.fetch(
        new Request('http://hookbox.test/webhooks/stripe', {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'stripe-signature': signature },
          body,
        }),
      );
      return { status: response.status, text: await response.text(), counts };
    } finally {
      vi.restoreAllMocks();
    }
  }

  it('parses a forged 1 MB body less often than a genuine one, and re-serializes it never', async () => {
    const genuineBody = bigEvent('evt_genuine');
    expect(genuineBody.length).toBeGreaterThan(500_000);
    const genuine = await postCounting(genuineBody, stripeSignature(genuineBody, secret, clock.now()));
    expect(genuine.status).toBe(200);

    const forgedBody = bigEvent('evt_forged');
    const forged = await postCounting(forgedBody, stripeSignature(forgedBody, 'whsec_other', clock.now()));
    expect(forged.status).toBe(401);
    expect(JSON.parse(forged.text).error.code).toBe('signature_mismatch');
    expect(forged.counts.stringify).toBe(0);
    expect(forged.counts.parse).toBeLessThanOrEqual(genuine.counts.parse);
  });

  it('still names a re-serialized body when it is small', async () => {
    const pretty = JSON.stringify({ id: 'evt_small', object: 'event', type: 'invoice.paid' }, null, 2);
    const compact = JSON.stringify(JSON.parse(pretty));
    const answer = await postCounting(compact, stripeSignature(pretty, secret, clock.now()));
    expect(answer.status).toBe(401);
    expect(JSON.parse(answer.text).error.code).toBe('signature_body_reserialized');
  });
});
