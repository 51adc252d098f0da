/**
 * Standard Webhooks (https://www.standardwebhooks.com), used by Svix and many senders:
 * `webhook-id`, `webhook-timestamp`, `webhook-signature: v1,<base64> [v1,<base64> ...]`, each
 * an HMAC-SHA256 of `${id}.${timestamp}.${body}` keyed with the base64 bytes of a `whsec_`
 * secret. Svix sends the same headers under `svix-` names.
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
  parseJson,
  parseUnixSeconds,
  readHeader,
  readJsonKey,
  reject,
  rejectMismatch,
  splitHeaderList,
} from './verify-core.ts';

const standardSecret = generatedSecretString.refine(
  (value) => {
    const base64 = value.startsWith('whsec_') ? value.slice('whsec_'.length) : value;
    return /^[A-Za-z0-9+/]+={0,2}$/.test(base64) && Buffer.from(base64, 'base64').length > 0;
  },
  { message: 'must be `whsec_` followed by the base64 key, as the sender shows it' },
);

export const standardWebhooksSettingsSchema = z
  .strictObject({
    /** `whsec_<base64>` secrets, newest first while rotating. */
    secrets: z.array(standardSecret).optional(),
    secret: standardSecret.optional(),
    toleranceSeconds: toleranceSeconds.default(300),
  })
  .refine((value) => hasSecret(value.secrets, value.secret), {
    message: 'set `secrets` (a list of whsec_... secrets, newest first) or `secret`',
    path: ['secrets'],
  })
  .transform(({ secrets, secret, ...rest }) => ({ ...rest, secrets: combineSecrets(secrets, secret) }));

export type StandardWebhooksSettingsInput = z.input<typeof standardWebhooksSettingsSchema>;
export type StandardWebhooksSettings = z.output<typeof standardWebhooksSettingsSchema>;

function signedContent(id: string, timestamp: string, body: Uint8Array): [string, Uint8Array] {
  return [`${id}.${timestamp}.`, body];
}

function verifyStandardWebhook(delivery: Delivery, settings: StandardWebhooksSettings): Verification {
  const id = readHeader(delivery.headers, 'webhook-id', 'svix-id');
  const timestampText = readHeader(delivery.headers, 'webhook-timestamp', 'svix-timestamp');
  const header = readHeader(delivery.headers, 'webhook-signature', 'svix-signature');
  const missing = [
    id === undefined ? 'webhook-id' : undefined,
    timestampText === undefined ? 'webhook-timestamp' : undefined,
    header === undefined ? 'webhook-signature' : undefined,
  ].filter((name) => name !== undefined);
  if (id === undefined || timestampText === undefined || header === undefined) {
    return reject(
      'signature_missing',
      `missing ${missing.join(', ')} (or the svix- equivalents): the sender must sign with Standard Webhooks`,
    );
  }
  const timestamp = parseUnixSeconds(timestampText);
  if (timestamp === undefined) {
    return reject('signature_malformed', 'webhook-timestamp is not a whole number of Unix seconds');
  }

  const signatures: Buffer[] = [];
  for (const entry of splitHeaderList(header, ' ')) {
    const comma = entry.indexOf(',');
    // Other versions (v1a asymmetric signatures, future ones) are skipped, as the spec asks.
    if (comma === -1 || entry.slice(0, comma) !== 'v1') continue;
    const bytes = decodeSignature(entry.slice(comma + 1), 'base64');
    if (bytes !== undefined) signatures.push(bytes);
  }
  if (signatures.length === 0) {
    return reject('signature_malformed', 'webhook-signature has no `v1,<base64>` entry');
  }

  // Signed over the timestamp as a number, as the reference verifiers rebuild it.
  const signedTimestamp = String(timestamp);
  const matches = (body: Uint8Array) =>
    findMatchingSecret({
      algorithm: 'sha256',
      secrets: settings.secrets,
      secretEncoding: 'base64',
      content: signedContent(id, signedTimestamp, body),
      signatures,
    }) !== -1;
  if (!matches(delivery.body)) {
    return rejectMismatch({
      delivery,
      label: 'v1 signature',
      mismatchMessage:
        'no v1 signature matches: was the body re-serialized? was the right whsec_ secret configured?',
      matchesBody: matches,
    });
  }

  const stale = checkTimestampTolerance(timestamp, delivery.now, settings.toleranceSeconds);
  if (stale !== undefined) return stale;

  const parsed = parseJson(delivery.body);
  if (!parsed.ok) {
    return reject(
      'payload_invalid',
      `the body is not JSON (${parsed.error}): a { type, data } payload is expected`,
    );
  }
  const type = readJsonKey(parsed.value, 'type');
  if (type === undefined) {
    return reject(
      'payload_invalid',
      'the payload has no string `type`: Hookbox routes Standard Webhooks on it',
    );
  }
  return accept({ dedupeKey: id, eventType: type, payload: parsed.value });
}

function signStandardWebhook(
  body: Buffer,
  settings: StandardWebhooksSettings,
  options: SignOptions,
): SignedDelivery {
  const secret = settings.secrets[0];
  if (secret === undefined) throw new Error('standard-webhooks: no secret configured to sign with');
  const timestamp = String(Math.floor(options.now / 1000));
  const signature = computeHmac('sha256', secret, signedContent(options.eventId, timestamp, body), 'base64');
  return {
    headers: {
      'content-type': 'application/json',
      'webhook-id': options.eventId,
      'webhook-timestamp': timestamp,
      'webhook-signature': `v1,${signature.toString('base64')}`,
    },
    body,
  };
}

function sampleStandardWebhookBody(options: { eventType: string; eventId: string; now: number }): Buffer {
  const payload = {
    type: options.eventType,
    timestamp: new Date(options.now).toISOString(),
    data: {
      id: options.eventId,
      object: 'contact',
      email: 'jenny.rosen@example.com',
      name: 'Jenny Rosen',
      created_at: new Date(options.now - 60_000).toISOString(),
    },
  };
  return Buffer.from(JSON.stringify(payload), 'utf8');
}

export const standardWebhooks: Provider<StandardWebhooksSettings> = {
  name: 'standard-webhooks',
  secretHeaders: ['webhook-signature', 'svix-signature'],
  parseSettings: (raw) => standardWebhooksSettingsSchema.parse(raw),
  verify: verifyStandardWebhook,
  sign: signStandardWebhook,
  sampleBody: sampleStandardWebhookBody,
};
