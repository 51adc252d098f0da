/**
 * Shopify: `X-Shopify-Hmac-Sha256: <base64 HMAC-SHA256 of the raw body>` with the app's
 * client secret (or the webhook signing secret of a store-created webhook). Only the body is
 * signed: `X-Shopify-Event-Id`, `X-Shopify-Webhook-Id` and `X-Shopify-Topic` are not, so the
 * dedupe key is the SHA-256 of the body (the ids stay in the stored headers) and the topic,
 * which the body does not carry, is the one thing taken from an unsigned header
 * (docs/security.md). Shopify's events webhooks send the same headers without the `X-`
 * prefix (`Shopify-Hmac-Sha256`, `Shopify-Topic`, ...).
 */
import type { z } from 'zod';
import { bodySecretSettingsSchema } from './settings.ts';
import type { Delivery, Provider, SignedDelivery, SignOptions, Verification } from './types.ts';
import {
  accept,
  checkBodyHmac,
  computeHmac,
  decodeSignature,
  parseJson,
  readHeader,
  reject,
  sha256Hex,
} from './verify-core.ts';

export const shopifySettingsSchema = bodySecretSettingsSchema("the app's client secret");

export type ShopifySettingsInput = z.input<typeof shopifySettingsSchema>;
export type ShopifySettings = z.output<typeof shopifySettingsSchema>;

const SIGNATURE_HEADER = 'x-shopify-hmac-sha256';
/** Shopify's events webhooks send the same headers without the `X-` prefix; both spellings are read. */
const NEWER_SIGNATURE_HEADER = 'shopify-hmac-sha256';
const both = (name: string) => [`x-shopify-${name}`, `shopify-${name}`];

function verifyShopify(delivery: Delivery, settings: ShopifySettings): Verification {
  const header = readHeader(delivery.headers, SIGNATURE_HEADER, NEWER_SIGNATURE_HEADER);
  if (header === undefined) {
    return reject(
      'signature_missing',
      'no X-Shopify-Hmac-Sha256 (or Shopify-Hmac-Sha256) header: subscribe the Shopify webhook to this URL, or sign with `hookbox send`',
    );
  }
  if (delivery.body.length === 0) {
    // @shopify/shopify-api refuses an empty body before computing anything (missing_body).
    return reject('payload_invalid', 'the body is empty: Shopify always sends the resource as JSON or XML');
  }
  const signature = decodeSignature(header, 'base64');
  if (signature === undefined) {
    return reject('signature_malformed', 'X-Shopify-Hmac-Sha256 is not base64');
  }

  const mismatch = checkBodyHmac({
    delivery,
    secrets: settings.secrets,
    signature,
    label: 'signature',
    mismatchMessage:
      "X-Shopify-Hmac-Sha256 does not match: was the body re-serialized? is the app's client secret the one configured?",
  });
  if (mismatch) return mismatch;

  const topic = readHeader(delivery.headers, ...both('topic'));
  if (topic === undefined) {
    return reject(
      'payload_invalid',
      'no X-Shopify-Topic (or Shopify-Topic) header: Hookbox routes Shopify deliveries on it',
    );
  }
  // Shopify sends JSON unless the subscription asked for XML; handlers then get the text.
  const parsed = parseJson(delivery.body);
  return accept({
    // Only the body is signed: the event and webhook ids could be replaced on a replay, its hash cannot.
    dedupeKey: sha256Hex(delivery.body),
    eventType: topic,
    payload: parsed.ok ? parsed.value : delivery.body.toString('utf8'),
  });
}

function signShopify(body: Buffer, settings: ShopifySettings, options: SignOptions): SignedDelivery {
  const secret = settings.secrets[0];
  if (secret === undefined) throw new Error('shopify: no secret configured to sign with');
  return {
    headers: {
      'content-type': 'application/json',
      'x-shopify-topic': options.eventType,
      'x-shopify-event-id': options.eventId,
      'x-shopify-webhook-id': options.eventId,
      'x-shopify-triggered-at': new Date(options.now).toISOString(),
      'x-shopify-shop-domain': 'hookbox-sample.myshopify.com',
      [SIGNATURE_HEADER]: computeHmac('sha256', secret, [body]).toString('base64'),
    },
    body,
  };
}

function sampleShopifyBody(options: { eventType: string; eventId: string; now: number }): Buffer {
  const at = new Date(options.now).toISOString();
  const order = {
    id: 450789469,
    admin_graphql_api_id: 'gid://shopify/Order/450789469',
    email: 'jon@example.com',
    created_at: at,
    updated_at: at,
    currency: 'USD',
    financial_status: 'paid',
    total_price: '403.00',
    line_items: [{ id: 466157049, title: 'IPod Nano - 8GB', quantity: 1, price: '199.00' }],
    note: `hookbox sample ${options.eventId}`,
  };
  return Buffer.from(JSON.stringify(order), 'utf8');
}

export const shopify: Provider<ShopifySettings> = {
  name: 'shopify',
  secretHeaders: [SIGNATURE_HEADER, NEWER_SIGNATURE_HEADER],
  parseSettings: (raw) => shopifySettingsSchema.parse(raw),
  verify: verifyShopify,
  sign: signShopify,
  sampleBody: sampleShopifyBody,
};
