/** Shared pieces of the provider tests: deliveries, the published vectors, result assertions. */
import { readFileSync } from 'node:fs';
import { expect } from 'vitest';
import type {
  Accepted,
  Delivery,
  Rejection,
  SignedDelivery,
  Verification,
} from '../../src/providers/types.ts';

/** The published vectors, kept in the repository (test/fixtures/vectors/README.md names their sources). */
export const vectorsDir = new URL('../fixtures/vectors/', import.meta.url);
export const fixturesDir = new URL('./fixtures/', import.meta.url);

export interface Vectors {
  github_official: { secret: string; payload: string; x_hub_signature_256: string };
  slack_official: { signing_secret: string; timestamp: string; body: string; x_slack_signature: string };
  standard_webhooks_v1: {
    secret: string;
    webhook_id: string;
    webhook_timestamp: string;
    payload: string;
    webhook_signature: string;
  };
  twilio_form: {
    auth_token: string;
    url: string;
    params: Record<string, string>;
    x_twilio_signature: string;
    hmac_sha256_variant_generated: string;
  };
  twilio_json: {
    auth_token: string;
    body: string;
    bodySHA256: string;
    url: string;
    x_twilio_signature: string;
  };
  paypal_sdk_real: {
    transmission_id: string;
    transmission_time: string;
    webhook_id: string;
    cert_url: string;
    crc32_unsigned_decimal: string;
    crc32_signed_WRONG: string;
    signed_message: string;
    body_bytes: number;
  };
}

export function readVectors(): Vectors {
  return JSON.parse(readFileSync(new URL('vectors.json', vectorsDir), 'utf8')) as Vectors;
}

export function makeDelivery(options: {
  body: Buffer | string;
  headers?: Record<string, string> | Headers;
  url?: string;
  now: number;
}): Delivery {
  return {
    body: typeof options.body === 'string' ? Buffer.from(options.body, 'utf8') : options.body,
    headers: options.headers instanceof Headers ? options.headers : new Headers(options.headers ?? {}),
    url: options.url ?? 'https://hooks.example.com/webhooks/test',
    now: options.now,
  };
}

/** A signed delivery as the receive route would see it. */
export function deliveryOf(signed: SignedDelivery, now: number, url?: string): Delivery {
  return makeDelivery({ body: signed.body, headers: signed.headers, url: signed.url ?? url, now });
}

export function expectAccepted(result: Verification): Accepted {
  if (!result.ok) throw new Error(`expected acceptance, got ${result.code}: ${result.message}`);
  return result;
}

export function expectRejected(result: Verification, code: Rejection['code']): Rejection {
  if (result.ok)
    throw new Error(`expected ${code}, got acceptance (${result.eventType} ${result.dedupeKey})`);
  expect(result.code, result.message).toBe(code);
  return result;
}

/** Flip one bit of one byte (the middle one by default). */
export function changeOneByte(body: Buffer, index = Math.floor(body.length / 2)): Buffer {
  const changed = Buffer.from(body);
  changed[index] = (changed[index] ?? 0) ^ 0x01;
  return changed;
}

/** Messages never echo secrets or expected signatures. */
export function expectNoLeak(result: Verification, ...secrets: string[]): void {
  const text = JSON.stringify(result);
  for (const secret of secrets) expect(text).not.toContain(secret);
}
