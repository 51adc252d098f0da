import { createHash, createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { shopify } from '../../src/providers/shopify.ts';
import {
  changeOneByte,
  deliveryOf,
  expectAccepted,
  expectNoLeak,
  expectRejected,
  makeDelivery,
} from './helpers.ts';

// No official verifier package is installed: node:crypto, following Shopify's documented recipe, is the oracle.
const oracleSign = (secret: string, body: string | Buffer) =>
  createHmac('sha256', secret).update(body).digest('base64');

const now = Date.UTC(2026, 0, 15, 12, 0, 0);
const secret = 'shpss_new_client_secret';
const oldSecret = 'shpss_old_client_secret';
const settings = shopify.parseSettings({ secrets: [secret, oldSecret] });
const body = '{"id":820982911946154508,"email":"jon@example.com","total_price":"403.00"}';
const sha256 = (bytes: string | Buffer) => createHash('sha256').update(bytes).digest('hex');

function headers(signature: string, extra: Record<string, string> = {}) {
  return {
    'x-shopify-hmac-sha256': signature,
    'x-shopify-topic': 'orders/create',
    'x-shopify-event-id': '98880550-7158-44d4-b7cd-2c97c8a091b5',
    'x-shopify-webhook-id': 'b54557e4-bdd9-4b37-8a5f-bf7d70bcd043',
    ...extra,
  };
}

describe('shopify verify', () => {
  it('accepts a body signed as Shopify signs it, keyed by the hash of the body and typed by topic', async () => {
    const accepted = expectAccepted(
      await shopify.verify(makeDelivery({ body, headers: headers(oracleSign(secret, body)), now }), settings),
    );
    expect(accepted).toMatchObject({ dedupeKey: sha256(body), eventType: 'orders/create' });
  });

  it('keys on the signed body whatever the unsigned event and webhook ids say', async () => {
    const h = headers(oracleSign(secret, body)) as Record<string, string>;
    delete h['x-shopify-event-id'];
    delete h['x-shopify-webhook-id'];
    const withoutIds = expectAccepted(
      await shopify.verify(makeDelivery({ body, headers: h, now }), settings),
    );
    const fresh = expectAccepted(
      await shopify.verify(
        makeDelivery({
          body,
          headers: { ...h, 'x-shopify-event-id': 'fresh', 'x-shopify-topic': 'orders/paid' },
          now,
        }),
        settings,
      ),
    );
    expect([withoutIds.dedupeKey, fresh.dedupeKey]).toEqual([sha256(body), sha256(body)]);
  });

  it('accepts the old secret while rotating', async () => {
    expectAccepted(
      await shopify.verify(
        makeDelivery({ body, headers: headers(oracleSign(oldSecret, body)), now }),
        settings,
      ),
    );
  });

  it('rejects a one-byte change and a wrong secret', async () => {
    const signature = oracleSign(secret, body);
    expectRejected(
      await shopify.verify(
        makeDelivery({ body: changeOneByte(Buffer.from(body)), headers: headers(signature), now }),
        settings,
      ),
      'signature_mismatch',
    );
    const rejected = expectRejected(
      await shopify.verify(
        makeDelivery({ body, headers: headers(oracleSign('other', body)), now }),
        settings,
      ),
      'signature_mismatch',
    );
    expectNoLeak(rejected, secret, oldSecret, signature);
  });

  it('diagnoses a re-serialized body, and rejects missing or malformed signatures', async () => {
    const pretty = JSON.stringify(JSON.parse(body), null, 2);
    expectRejected(
      await shopify.verify(
        makeDelivery({ body, headers: headers(oracleSign(secret, pretty)), now }),
        settings,
      ),
      'signature_body_reserialized',
    );
    expectRejected(await shopify.verify(makeDelivery({ body, now }), settings), 'signature_missing');
    expectRejected(
      await shopify.verify(makeDelivery({ body, headers: headers('%%%'), now }), settings),
      'signature_malformed',
    );
  });

  it('needs a topic', async () => {
    const h = headers(oracleSign(secret, body)) as Record<string, string>;
    delete h['x-shopify-topic'];
    expectRejected(
      await shopify.verify(makeDelivery({ body, headers: h, now }), settings),
      'payload_invalid',
    );
  });

  it('reads the newer header names without the X- prefix, as @shopify/shopify-api does', async () => {
    const newer = {
      'shopify-hmac-sha256': oracleSign(secret, body),
      'shopify-topic': 'orders/paid',
      'shopify-event-id': '5c9e1b2a-0000-4000-8000-000000000001',
      'shopify-webhook-id': '5c9e1b2a-0000-4000-8000-000000000002',
      'shopify-shop-domain': 'example.myshopify.com',
    };
    const accepted = expectAccepted(
      await shopify.verify(makeDelivery({ body, headers: newer, now }), settings),
    );
    expect(accepted.eventType).toBe('orders/paid');
    // The same checks as under the old names: a wrong signature is still a mismatch.
    expectRejected(
      await shopify.verify(
        makeDelivery({ body, headers: { ...newer, 'shopify-hmac-sha256': oracleSign('other', body) }, now }),
        settings,
      ),
      'signature_mismatch',
    );
    expect(shopify.secretHeaders).toContain('shopify-hmac-sha256');
  });

  it('signs what node:crypto and Hookbox agree on', async () => {
    const sample = shopify.sampleBody!({ eventType: 'orders/paid', eventId: 'e-1', now });
    const signed = await shopify.sign!(sample, settings, {
      now,
      url: 'https://x.test',
      eventType: 'orders/paid',
      eventId: 'e-1',
    });
    expect(signed.headers['x-shopify-hmac-sha256']).toBe(oracleSign(secret, sample));
    const accepted = expectAccepted(await shopify.verify(deliveryOf(signed, now), settings));
    expect([accepted.eventType, accepted.dedupeKey]).toEqual(['orders/paid', sha256(sample)]);
  });
});
