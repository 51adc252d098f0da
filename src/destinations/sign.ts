/**
 * Standard Webhooks signing of what Hookbox forwards (https://www.standardwebhooks.com):
 * `webhook-signature: v1,<base64 HMAC-SHA256 of "id.timestamp.body">`, keyed with the bytes of
 * the destination's `whsec_<base64>` secret. The app verifies with any Standard Webhooks
 * library (the `standardwebhooks` packages for JavaScript, Python, Go, Ruby, PHP, ...).
 */
import { computeHmac } from '../providers/verify-core.ts';

export interface StandardWebhookHeaders {
  /** The Hookbox event id: the same on every retry and replay, so the app can deduplicate on it. */
  'webhook-id': string;
  /** Unix seconds of this attempt. */
  'webhook-timestamp': string;
  'webhook-signature': string;
}

export interface SignInput {
  id: string;
  /** Milliseconds since the epoch; sent as whole seconds. */
  now: number;
  body: Uint8Array;
  /** `whsec_<base64>`, already validated by parseSigningSecret. */
  secret: string;
}

export function signDelivery(input: SignInput): StandardWebhookHeaders {
  const timestamp = String(Math.floor(input.now / 1000));
  const signature = computeHmac('sha256', input.secret, [`${input.id}.${timestamp}.`, input.body], 'base64');
  return {
    'webhook-id': input.id,
    'webhook-timestamp': timestamp,
    'webhook-signature': `v1,${signature.toString('base64')}`,
  };
}

const SECRET_PREFIX = 'whsec_';
// Canonical padded base64: Buffer.from() would silently skip other characters.
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
/** The spec's bounds for a symmetric key: 24 to 64 bytes. */
export const SIGNING_SECRET_BYTES = { min: 24, max: 64 } as const;

/** Why a signing secret is unusable, or undefined when it is a `whsec_` secret of 24-64 bytes. */
export function describeSigningSecretProblem(secret: string): string | undefined {
  if (!secret.startsWith(SECRET_PREFIX)) {
    return "must be `whsec_` followed by base64 key bytes (generate one: node -e \"console.log('whsec_' + require('node:crypto').randomBytes(32).toString('base64'))\")";
  }
  const base64 = secret.slice(SECRET_PREFIX.length);
  if (!BASE64.test(base64) || base64.length === 0) {
    return 'the part after `whsec_` is not standard padded base64 (A-Z a-z 0-9 + / and = padding)';
  }
  const bytes = Buffer.from(base64, 'base64').length;
  if (bytes < SIGNING_SECRET_BYTES.min || bytes > SIGNING_SECRET_BYTES.max) {
    return `decodes to ${bytes} bytes; Standard Webhooks keys are ${SIGNING_SECRET_BYTES.min} to ${SIGNING_SECRET_BYTES.max} bytes (32 is usual)`;
  }
  return undefined;
}
