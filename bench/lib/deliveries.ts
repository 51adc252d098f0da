import { createHmac } from 'node:crypto';
import { stripe } from '../../src/providers/stripe.ts';

/** The Stripe endpoint secret every bench server is configured with (a bench fixture, not a real secret). */
export const benchSecret = 'whsec_hookbox_bench_0123456789abcdef';
export const benchSource = 'stripe';
export const benchEventType = 'payment_intent.succeeded';
/** The destination the forwarding bench's events go to. */
export const benchDestination = 'app';

/** Stripe event ids are `evt_` and 24 characters; a fixed length keeps every body the same size. */
export function benchEventId(runTag: string, n: number): string {
  const tag = runTag
    .replace(/[^A-Za-z0-9]/g, '')
    .slice(0, 8)
    .padEnd(8, 'X');
  return `evt_1${tag}${String(n).padStart(15, '0')}`;
}

const templateId = 'evt_1TEMPLATE000000000000000';
const templateSuffix = templateId.replace(/[^A-Za-z0-9]/g, '').slice(-14);

/**
 * Bodies as Stripe sends them (provider sample: a pretty-printed payment_intent event, ~2 KB),
 * built from a template split once, so making one costs a few string joins, not a JSON.stringify.
 * The body of an id is always the same bytes, so a repeat delivery re-sends exactly the original.
 */
export function createBodyFactory(now = Date.now()): (eventId: string) => string {
  const sample = stripe.sampleBody!({ eventType: benchEventType, eventId: templateId, now })
    .toString('utf8')
    .replaceAll(templateId, '\u0000I')
    .replaceAll(templateSuffix, '\u0000S');
  const parts = sample.split('\u0000');
  const head = parts[0]!;
  const rest = parts.slice(1).map((part) => ({ id: part.startsWith('I'), text: part.slice(1) }));
  return (eventId) => {
    const suffix = eventId.replace(/[^A-Za-z0-9]/g, '').slice(-14);
    let body = head;
    for (const part of rest) body += (part.id ? eventId : suffix) + part.text;
    return body;
  };
}

/** `Stripe-Signature: t=<s>,v1=HMAC-SHA256(secret, t + '.' + body)`, as Stripe signs. */
export function signStripe(body: string | Buffer, secret: string, timestampSeconds: number): string {
  const mac = createHmac('sha256', secret).update(`${timestampSeconds}.`).update(body).digest('hex');
  return `t=${timestampSeconds},v1=${mac}`;
}
