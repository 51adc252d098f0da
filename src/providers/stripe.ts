/**
 * Stripe: `Stripe-Signature: t=<unix s>,v1=<hex>[,v1=<hex>...][,v0=...]`, each v1 an
 * HMAC-SHA256 of `${t}.${raw body}` with the endpoint's signing secret (`whsec_...`).
 * Stripe sends several v1 values while an endpoint's secret is being rolled; v0 is a legacy
 * test-mode scheme and is ignored.
 */
import { z } from 'zod';
import { combineSecrets, generatedSecretString, hasSecret, toleranceSeconds } from './settings.ts';
import type { Delivery, Provider, SignedDelivery, SignOptions, Verification } from './types.ts';
import {
  accept,
  checkTimestampTolerance,
  computeHmac,
  decodeSignature,
  findMatchingSecret,
  isRecord,
  parseJson,
  parseKeyValueList,
  readHeader,
  readJsonKey,
  reject,
  rejectMismatch,
} from './verify-core.ts';

export const stripeSettingsSchema = z
  .strictObject({
    /** Signing secrets, newest first while rolling a secret (the old one stays valid until it expires). */
    secrets: z.array(generatedSecretString).optional(),
    secret: generatedSecretString.optional(),
    /** How far the signed timestamp may be from now, both ways. Stripe's libraries use 300 s. */
    toleranceSeconds: toleranceSeconds.default(300),
  })
  .refine((value) => hasSecret(value.secrets, value.secret), {
    message: 'set `secrets` (a list, newest first) or `secret`: the endpoint signing secret (whsec_...)',
    path: ['secrets'],
  })
  .transform(({ secrets, secret, ...rest }) => ({ ...rest, secrets: combineSecrets(secrets, secret) }));

export type StripeSettingsInput = z.input<typeof stripeSettingsSchema>;
export type StripeSettings = z.output<typeof stripeSettingsSchema>;

const SIGNATURE_HEADER = 'stripe-signature';

function signedContent(timestamp: string, body: Uint8Array): [Buffer, Uint8Array] {
  // The prefix is ASCII and the body stays raw bytes, so a body that is not valid UTF-8 still verifies.
  return [Buffer.from(`${timestamp}.`, 'ascii'), body];
}

function verifyStripe(delivery: Delivery, settings: StripeSettings): Verification {
  const header = readHeader(delivery.headers, SIGNATURE_HEADER);
  if (header === undefined) {
    return reject(
      'signature_missing',
      'no Stripe-Signature header: point the Stripe endpoint at this URL, or use `hookbox send` to sign a test delivery',
    );
  }

  let timestamp: string | undefined;
  const encoded: string[] = [];
  for (const [key, value] of parseKeyValueList(header)) {
    if (key === 't') timestamp = value;
    else if (key === 'v1') encoded.push(value);
  }
  if (timestamp === undefined || !/^\d{1,12}$/.test(timestamp)) {
    return reject(
      'signature_malformed',
      timestamp === undefined
        ? 'Stripe-Signature has no t=<unix seconds> entry: expected `t=<timestamp>,v1=<hex>`'
        : 'Stripe-Signature t= is not a whole number of seconds: expected `t=<timestamp>,v1=<hex>`',
    );
  }
  if (encoded.length === 0) {
    return reject(
      'signature_malformed',
      'Stripe-Signature has no v1 entry (v0 is ignored): expected `t=<timestamp>,v1=<hex>`',
    );
  }
  const signatures = encoded.flatMap((text) => decodeSignature(text, 'hex') ?? []);
  if (signatures.length === 0) {
    return reject('signature_malformed', 'no Stripe-Signature v1 value is hexadecimal: expected `v1=<hex>`');
  }

  // stripe-node signs over the parsed number, so `t=0017...` is checked as `17...`.
  const signedTimestamp = String(Number(timestamp));
  const matches = (body: Uint8Array) =>
    findMatchingSecret({
      algorithm: 'sha256',
      secrets: settings.secrets,
      content: signedContent(signedTimestamp, body),
      signatures,
    }) !== -1;
  if (!matches(delivery.body)) {
    return rejectMismatch({
      delivery,
      label: 'v1 signature',
      mismatchMessage:
        'no v1 signature matches: was the body re-serialized? was the right secret configured?',
      matchesBody: matches,
    });
  }

  // Only a verified timestamp means anything: checked after the signature.
  const stale = checkTimestampTolerance(Number(timestamp), delivery.now, settings.toleranceSeconds);
  if (stale !== undefined) return stale;

  return readStripeEvent(delivery.body);
}

function readStripeEvent(body: Buffer): Verification {
  const parsed = parseJson(body);
  if (!parsed.ok) {
    return reject('payload_invalid', `the body is not JSON (${parsed.error}): Stripe sends an event object`);
  }
  if (!isRecord(parsed.value)) {
    return reject('payload_invalid', 'the body is not a JSON object: Stripe sends an event object');
  }
  const id = readJsonKey(parsed.value, 'id');
  if (id === undefined) {
    return reject('payload_invalid', 'the event has no string `id`: Hookbox dedupes Stripe events on it');
  }
  const type = readJsonKey(parsed.value, 'type');
  if (type === undefined) {
    return reject('payload_invalid', 'the event has no string `type`: Hookbox routes Stripe events on it');
  }
  return accept({ dedupeKey: id, eventType: type, payload: parsed.value });
}

function signStripe(body: Buffer, settings: StripeSettings, options: SignOptions): SignedDelivery {
  const secret = settings.secrets[0];
  if (secret === undefined) throw new Error('stripe: no secret configured to sign with');
  const timestamp = String(Math.floor(options.now / 1000));
  const signature = computeHmac('sha256', secret, signedContent(timestamp, body)).toString('hex');
  return {
    headers: {
      'content-type': 'application/json; charset=utf-8',
      [SIGNATURE_HEADER]: `t=${timestamp},v1=${signature}`,
    },
    body,
  };
}

/** A payment-intent event as Stripe sends it: pretty-printed with two spaces, about 2 KB. */
function sampleStripeBody(options: { eventType: string; eventId: string; now: number }): Buffer {
  const created = Math.floor(options.now / 1000);
  const suffix = options.eventId.replace(/[^A-Za-z0-9]/g, '').slice(-14) || 'Sample';
  const event = {
    id: options.eventId,
    object: 'event',
    api_version: '2025-09-30.clover',
    created,
    data: {
      object: {
        id: `pi_3${suffix}`,
        object: 'payment_intent',
        amount: 2000,
        amount_capturable: 0,
        amount_details: { tip: {} },
        amount_received: 2000,
        application: null,
        application_fee_amount: null,
        automatic_payment_methods: { allow_redirects: 'always', enabled: true },
        canceled_at: null,
        cancellation_reason: null,
        capture_method: 'automatic_async',
        client_secret: `pi_3${suffix}_secret_redacted`,
        confirmation_method: 'automatic',
        created: created - 3,
        currency: 'usd',
        customer: `cus_${suffix}`,
        description: 'Hookbox sample payment',
        last_payment_error: null,
        latest_charge: `ch_3${suffix}`,
        livemode: false,
        metadata: { order_id: '6735' },
        next_action: null,
        on_behalf_of: null,
        payment_method: `pm_1${suffix}`,
        payment_method_configuration_details: null,
        payment_method_options: {
          card: {
            installments: null,
            mandate_options: null,
            network: null,
            request_three_d_secure: 'automatic',
          },
        },
        payment_method_types: ['card'],
        processing: null,
        receipt_email: 'jenny.rosen@example.com',
        review: null,
        setup_future_usage: null,
        shipping: null,
        source: null,
        statement_descriptor: null,
        statement_descriptor_suffix: null,
        status: 'succeeded',
        transfer_data: null,
        transfer_group: null,
      },
    },
    livemode: false,
    pending_webhooks: 1,
    request: { id: `req_${suffix}`, idempotency_key: `${options.eventId}-idempotency` },
    type: options.eventType,
  };
  return Buffer.from(JSON.stringify(event, null, 2), 'utf8');
}

export const stripe: Provider<StripeSettings> = {
  name: 'stripe',
  secretHeaders: [SIGNATURE_HEADER],
  parseSettings: (raw) => stripeSettingsSchema.parse(raw),
  verify: verifyStripe,
  sign: signStripe,
  sampleBody: sampleStripeBody,
};
