import { createHash } from 'node:crypto';
import { Writable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createManualClock } from '../src/clock.ts';
import { createHookbox, type Hookbox } from '../src/hookbox.ts';
import { createLogger } from '../src/logger.ts';
import { compilePath, createRedaction, maskCardNumbers } from '../src/redaction.ts';
import type { Store } from '../src/store/types.ts';
import { createTestStore, engines } from './support/stores.ts';
import { signStripe, stripeEventBody } from './support/stripe.ts';

describe('redaction rules', () => {
  it('masks card numbers by network prefix, length and Luhn check, not timestamps or ids', () => {
    expect(maskCardNumbers('visa 4242424242424242, spaced 4000 0566 5566 5556, amex 378282246310005')).toBe(
      'visa [card redacted], spaced [card redacted], amex [card redacted]',
    );
    expect(maskCardNumbers('mc 5555-5555-5555-4444 in pi_4242424242424242')).toBe(
      'mc [card redacted] in pi_[card redacted]',
    );
    // An epoch-ms timestamp, a Luhn-failing number, a 20-digit id: left alone.
    expect(maskCardNumbers('1767225600000 4242424242424241 12345678901234567890')).toBe(
      '1767225600000 4242424242424241 12345678901234567890',
    );
  });

  it('matches JSON paths with * for one segment and ** for any depth', () => {
    expect(compilePath('data.object.card.number')(['data', 'object', 'card', 'number'])).toBe(true);
    expect(compilePath('*.cvc')(['card', 'cvc'])).toBe(true);
    expect(compilePath('*.cvc')(['a', 'card', 'cvc'])).toBe(false);
    expect(compilePath('**.cvc')(['a', 'card', 'cvc'])).toBe(true);
    expect(compilePath('**.cvc')(['cvc'])).toBe(true);
    expect(compilePath('items.*.iban')(['items', '3', 'iban'])).toBe(true);
    expect(() => compilePath('')).toThrow(/JSON path/);
  });

  it('redacts JSON paths and card numbers in a body, keeping every other byte as received', () => {
    const redaction = createRedaction({ jsonPaths: ['data.object.customer.email', '*.iban'] });
    const body = `{
  "id": "evt_1", "big": 12345678901234567890,
  "data": {"object": {"card": {"number": "4242 4242 4242 4242", "cvc": "123", "exp_month": 12},
    "customer": {"email": "a@example.com"}, "note": "paid with 5555555555554444 today",
    "raw": 4242424242424242, "created": 1767225600000}},
  "bank": {"iban": ["DE89 3704"]}, "list": [{"cvv": 1}]
}`;
    expect(redaction.redactBody(Buffer.from(body)).toString()).toBe(`{
  "id": "evt_1", "big": 12345678901234567890,
  "data": {"object": {"card": {"number": "[redacted]", "cvc": "[redacted]", "exp_month": 12},
    "customer": {"email": "[redacted]"}, "note": "paid with [card redacted] today",
    "raw": "[redacted]", "created": 1767225600000}},
  "bank": {"iban": "[redacted]"}, "list": [{"cvv": "[redacted]"}]
}`);
    // Nothing to redact: the very same buffer comes back.
    const clean = Buffer.from('{"id":"evt_2","amount":2000}');
    expect(redaction.redactBody(clean)).toBe(clean);
    // Not JSON: only card numbers are masked (a form post).
    expect(redaction.redactBody(Buffer.from('a=1&card=4242424242424242')).toString()).toBe(
      'a=1&card=[card redacted]',
    );
    expect(redaction.redactBody(Buffer.from('{"broken": '))).toEqual(Buffer.from('{"broken": '));
  });

  it('drops the default and configured credential headers from what is stored', () => {
    const redaction = createRedaction({ headers: ['X-Internal-Auth'] });
    const kept = redaction.storableHeaders(
      new Headers({
        authorization: 'Bearer a',
        cookie: 'c=1',
        'proxy-authorization': 'Basic b',
        'x-api-key': 'k',
        'x-internal-auth': 'i',
        'stripe-signature': 't=1,v1=ab',
        'content-type': 'application/json',
      }),
    );
    expect(kept).toEqual({ 'stripe-signature': 't=1,v1=ab', 'content-type': 'application/json' });
  });

  it('stores and shows headers given as Headers, a plain object or [name, value] pairs alike', () => {
    const redaction = createRedaction({}, ['X-Payload-Digest']);
    const pairs: [string, string][] = [
      ['Authorization', 'Bearer a'],
      ['X-Payload-Digest', 'abc123'],
      ['Content-Type', 'application/json'],
    ];
    for (const input of [new Headers(pairs), Object.fromEntries(pairs), pairs]) {
      // Stored: credentials dropped, the signature kept (re-verification), names in lower case.
      expect(redaction.storableHeaders(input)).toEqual({
        'x-payload-digest': 'abc123',
        'content-type': 'application/json',
      });
      // Shown: everything masked that is declared or looks like a credential.
      expect(redaction.showableHeaders(input)).toEqual({
        authorization: '[redacted]',
        'x-payload-digest': '[redacted]',
        'content-type': 'application/json',
      });
    }
    expect(redaction.maskedHeaders.has('x-payload-digest')).toBe(true);
    // Every registered scheme's own signature headers are masked whatever is passed.
    for (const name of [
      'stripe-signature',
      'x-hub-signature-256',
      'shopify-hmac-sha256',
      'webhook-signature',
    ])
      expect(createRedaction().maskedHeaders.has(name), name).toBe(true);
  });

  it('masks credentials, configured headers and paths, card numbers and stacks in log lines', () => {
    const lines: string[] = [];
    const destination = new Writable({
      write(chunk, _encoding, callback) {
        lines.push(...chunk.toString().trim().split('\n'));
        callback();
      },
    });
    const logger = createLogger({
      level: 'debug',
      destination,
      redaction: createRedaction({ headers: ['x-internal-auth'], jsonPaths: ['payload.customer.email'] }),
    });
    logger.info(
      {
        headers: {
          authorization: 'Bearer abc',
          'x-internal-auth': 'zzz',
          'x-hub-signature-256': 'sha256=ff',
        },
        payload: { customer: { email: 'a@example.com' }, card: { number: '4242424242424242', cvc: '123' } },
        adminToken: 'tok_1234567890abcdef',
        secrets: ['whsec_1'],
        err: new Error('charge for 4000056655665556 failed'),
      },
      'paid with 5555555555554444',
    );
    logger.warn('card %s', '378282246310005');
    const text = lines.join('\n');
    for (const leaked of [
      'Bearer abc',
      'zzz',
      'sha256=ff',
      'a@example.com',
      '4242424242424242',
      'tok_1234567890abcdef',
      'whsec_1',
      '4000056655665556',
      '5555555555554444',
      '378282246310005',
      '    at ',
    ]) {
      expect(text).not.toContain(leaked);
    }
    const first = JSON.parse(lines[0]!);
    expect(first.err).toBe('Error: charge for [card redacted] failed');
    expect(first.payload.card).toEqual({ number: '[redacted]', cvc: '[redacted]' });
    expect(first.msg).toBe('paid with [card redacted]');
  });
});

describe.each(engines)('redaction at ingest on %s', (engine) => {
  const secret = 'whsec_redaction_test_secret';
  let store: Store;
  let cleanup: () => Promise<void>;
  let hookbox: Hookbox;
  const clock = createManualClock(Date.UTC(2026, 5, 1, 12));
  const handled: unknown[] = [];

  beforeEach(async () => {
    ({ store, cleanup } = await createTestStore(engine));
    handled.length = 0;
    hookbox = createHookbox({
      store,
      clock,
      sources: {
        stripe: { provider: 'stripe', secrets: [secret] },
        cards: { provider: 'stripe', secrets: [secret] },
        cardsSync: { provider: 'stripe', secrets: [secret], mode: 'sync' },
      },
      handlers: { cardsSync: { '*': ({ payload }) => void handled.push(payload) } },
      redaction: { headers: ['x-forwarded-client-cert'], storedBodySources: ['cards', 'cardsSync'] },
      worker: { enabled: false },
    });
    await hookbox.start();
  });
  afterEach(async () => {
    await hookbox.stop();
    await cleanup();
  });

  async function post(source: string, body: string) {
    const response = await hookbox.fetch(
      new Request(`http://hookbox.test/webhooks/${source}`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          authorization: 'Bearer should-not-be-stored',
          'x-forwarded-client-cert': 'Hash=abc',
          'stripe-signature': signStripe(body, secret, Math.floor(clock.now() / 1000)),
        },
        body,
      }),
    );
    expect(response.status).toBe(200);
    return store.getEvent(((await response.json()) as { id: string }).id);
  }

  const cardBody = (id: string) =>
    stripeEventBody(id, 'payment_method.attached', { card: { number: '4242424242424242', cvc: '314' } });

  it('keeps the raw body of sources that did not opt in, and never stores credential headers', async () => {
    const body = cardBody('evt_raw');
    const event = await post('stripe', body);
    expect(event!.body.toString()).toBe(body);
    expect(event!.headers.authorization).toBeUndefined();
    expect(event!.headers['x-forwarded-client-cert']).toBeUndefined();
    expect(event!.headers['stripe-signature']).toBeDefined();
  });

  it('stores a redacted body for an opted-in source, with the hash of the bytes as received', async () => {
    const body = cardBody('evt_redacted');
    const event = await post('cards', body);
    const stored = event!.body.toString();
    expect(stored).not.toContain('4242424242424242');
    expect(stored).not.toContain('314');
    expect(JSON.parse(stored).data.object.card).toEqual({ number: '[redacted]', cvc: '[redacted]' });
    expect(event!.dedupeKey).toBe('evt_redacted');
    expect(event!.bodySha256).toBe(createHashHex(body));
  });

  it('gives sync handlers of an opted-in source the redacted payload too', async () => {
    await post('cardsSync', cardBody('evt_sync'));
    expect(handled).toHaveLength(1);
    expect(JSON.stringify(handled[0])).not.toContain('4242424242424242');
  });
});

function createHashHex(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}
