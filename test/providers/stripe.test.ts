import { createHmac } from 'node:crypto';
import Stripe from 'stripe';
import { describe, expect, it } from 'vitest';
import { stripe } from '../../src/providers/stripe.ts';
import {
  changeOneByte,
  deliveryOf,
  expectAccepted,
  expectNoLeak,
  expectRejected,
  makeDelivery,
} from './helpers.ts';

const sdk = new Stripe('sk_test_hookbox');
const secret = 'whsec_test_secret_new';
const oldSecret = 'whsec_test_secret_old';
const now = Date.UTC(2026, 0, 15, 12, 0, 0);
const timestamp = Math.floor(now / 1000);
const settings = stripe.parseSettings({ secrets: [secret, oldSecret] });
const payload = stripe.sampleBody!({ eventType: 'payment_intent.succeeded', eventId: 'evt_1Hookbox', now });

function oracleAccepts(body: string | Buffer, header: string, withSecret: string, at = now): boolean {
  try {
    sdk.webhooks.constructEvent(body, header, withSecret, 300, undefined, at);
    return true;
  } catch {
    return false;
  }
}

function sdkHeader(body: string, withSecret = secret, at = timestamp): string {
  return sdk.webhooks.generateTestHeaderString({ payload: body, secret: withSecret, timestamp: at });
}

function verify(body: Buffer | string, header: string | undefined, at = now) {
  return stripe.verify(
    makeDelivery({ body, headers: header === undefined ? {} : { 'stripe-signature': header }, now: at }),
    settings,
  );
}

describe('stripe settings', () => {
  it('accepts a single secret or a list, and defaults the tolerance to 300 s', () => {
    expect(stripe.parseSettings({ secret })).toEqual({ secrets: [secret], toleranceSeconds: 300 });
    expect(stripe.parseSettings({ secrets: [secret], toleranceSeconds: 60 }).toleranceSeconds).toBe(60);
  });

  it('throws a ZodError naming every problem, without echoing secrets', () => {
    expect(() => stripe.parseSettings({})).toThrow(/secrets/);
    try {
      stripe.parseSettings({ secrets: ['whsec_abc\n'], toleranceSeconds: -1 });
      expect.unreachable();
    } catch (error) {
      const issues = (error as { issues: { path: unknown[] }[] }).issues;
      expect(issues.map((issue) => issue.path.join('.'))).toEqual(['secrets.0', 'toleranceSeconds']);
      expect(JSON.stringify(issues)).not.toContain('whsec_abc');
    }
  });
});

describe('stripe verify, with stripe-node as the oracle', () => {
  it('accepts what constructEvent accepts, yielding id, type and the event', async () => {
    const body = payload.toString('utf8');
    const header = sdkHeader(body);
    expect(oracleAccepts(body, header, secret)).toBe(true);
    const accepted = expectAccepted(await verify(payload, header));
    expect(accepted.dedupeKey).toBe('evt_1Hookbox');
    expect(accepted.eventType).toBe('payment_intent.succeeded');
    expect(accepted.payload).toEqual(JSON.parse(body));
  });

  it('the sample body is a pretty-printed event of about 2 KB', () => {
    const body = payload.toString('utf8');
    expect(payload.length).toBeGreaterThan(1500);
    expect(payload.length).toBeLessThan(3000);
    expect(body).toBe(JSON.stringify(JSON.parse(body), null, 2));
    expect(JSON.parse(body)).toMatchObject({ object: 'event', livemode: false, data: { object: {} } });
  });

  it('signs what it verifies, and what constructEvent verifies', async () => {
    const signed = await stripe.sign!(payload, settings, {
      now,
      url: 'https://x.test/',
      eventType: 'payment_intent.succeeded',
      eventId: 'evt_1Hookbox',
    });
    expect(signed.headers['stripe-signature']).toMatch(/^t=\d+,v1=[0-9a-f]{64}$/);
    expect(oracleAccepts(signed.body, signed.headers['stripe-signature']!, secret)).toBe(true);
    expectAccepted(await stripe.verify(deliveryOf(signed, now), settings));
  });

  it('accepts a delivery signed with the old secret while rotating', async () => {
    const header = sdkHeader(payload.toString('utf8'), oldSecret);
    expect(oracleAccepts(payload, header, oldSecret)).toBe(true);
    expectAccepted(await verify(payload, header));
  });

  it('accepts when one of two v1 values matches', async () => {
    const good = sdkHeader(payload.toString('utf8'));
    const header = `${good.replace(/v1=/, `v1=${'0'.repeat(64)},v1=`)}`;
    expect(header.match(/v1=/g)).toHaveLength(2);
    expect(oracleAccepts(payload, header, secret)).toBe(true);
    expectAccepted(await verify(payload, header));
  });

  it('tolerates spaces around entries (a documented deviation), but not upper-case hex', async () => {
    const [t, v1] = sdkHeader(payload.toString('utf8')).split(',');
    expectAccepted(await verify(payload, ` ${t} , ${v1} `));
    const upper = `${t},v1=${v1!.slice(3).toUpperCase()}`;
    expect(oracleAccepts(payload, upper, secret)).toBe(false);
    expectRejected(await verify(payload, upper), 'signature_malformed');
  });

  it('ignores v0 signatures', async () => {
    const header = sdkHeader(payload.toString('utf8'));
    expectAccepted(await verify(payload, `${header},v0=${'f'.repeat(64)}`));
    const v0Only = `t=${timestamp},v0=${header.split('v1=')[1]}`;
    const rejected = expectRejected(await verify(payload, v0Only), 'signature_malformed');
    expect(rejected.message).toContain('v1');
  });

  it('rejects a one-byte change of the body', async () => {
    const header = sdkHeader(payload.toString('utf8'));
    const changed = changeOneByte(payload);
    expect(oracleAccepts(changed, header, secret)).toBe(false);
    const rejected = expectRejected(await verify(changed, header), 'signature_mismatch');
    expect(rejected.message).toBe(
      'no v1 signature matches: was the body re-serialized? was the right secret configured?',
    );
  });

  it('rejects a wrong secret, without echoing the secret or the expected signature', async () => {
    const header = sdkHeader(payload.toString('utf8'), 'whsec_somebody_else');
    expect(oracleAccepts(payload, header, secret)).toBe(false);
    const rejected = expectRejected(await verify(payload, header), 'signature_mismatch');
    const expected = createHmac('sha256', secret)
      .update(`${timestamp}.${payload.toString('utf8')}`)
      .digest('hex');
    expectNoLeak(rejected, secret, oldSecret, expected);
  });

  it('rejects a stale timestamp, as constructEvent does', async () => {
    const staleAt = timestamp - 412;
    const header = sdkHeader(payload.toString('utf8'), secret, staleAt);
    expect(oracleAccepts(payload, header, secret)).toBe(false);
    const rejected = expectRejected(await verify(payload, header), 'timestamp_outside_tolerance');
    expect(rejected.message).toMatch(/^timestamp 412 s older than the 300 s tolerance/);
  });

  it('rejects a timestamp too far in the future', async () => {
    const header = sdkHeader(payload.toString('utf8'), secret, timestamp + 95 + 300);
    const rejected = expectRejected(await verify(payload, header), 'timestamp_outside_tolerance');
    expect(rejected.message).toMatch(/^timestamp 395 s in the future, beyond the 300 s tolerance/);
  });

  it('honours a configured tolerance', async () => {
    const header = sdkHeader(payload.toString('utf8'), secret, timestamp - 400);
    const wide = stripe.parseSettings({ secret, toleranceSeconds: 600 });
    expectAccepted(
      await stripe.verify(
        makeDelivery({ body: payload, headers: { 'stripe-signature': header }, now }),
        wide,
      ),
    );
  });

  it('diagnoses a re-serialized JSON body', async () => {
    const header = sdkHeader(payload.toString('utf8'));
    const reserialized = Buffer.from(JSON.stringify(JSON.parse(payload.toString('utf8'))));
    expect(oracleAccepts(reserialized, header, secret)).toBe(false);
    const rejected = expectRejected(await verify(reserialized, header), 'signature_body_reserialized');
    expect(rejected.message).toContain('raw');
    expect(rejected.message).toContain('not parsed JSON');
  });

  it('verifies the raw bytes of a body that is not valid UTF-8', async () => {
    const body = Buffer.concat([
      Buffer.from('{"id":"evt_bytes","type":"charge.succeeded","note":"'),
      Buffer.from([0xff, 0xfe, 0xc3, 0x28]),
      Buffer.from('"}'),
    ]);
    const signature = createHmac('sha256', secret)
      .update(Buffer.concat([Buffer.from(`${timestamp}.`), body]))
      .digest('hex');
    const header = `t=${timestamp},v1=${signature}`;
    const accepted = expectAccepted(await verify(body, header));
    expect(accepted.dedupeKey).toBe('evt_bytes');
    // stripe-node decodes a Buffer payload as UTF-8 first, replacing invalid bytes with U+FFFD,
    // so it verifies a different byte string and disagrees here. Stripe itself only sends UTF-8.
    expect(oracleAccepts(body, header, secret)).toBe(false);
    expectRejected(await verify(changeOneByte(body, body.length - 4), header), 'signature_mismatch');
  });

  it('agrees with constructEvent on a Buffer of multi-byte UTF-8', async () => {
    const body = Buffer.from('{"id":"evt_utf8","type":"customer.created","name":"Zoë Ångström 🚀"}', 'utf8');
    const header = sdkHeader(body.toString('utf8'));
    expect(oracleAccepts(body, header, secret)).toBe(true);
    expectAccepted(await verify(body, header));
  });

  it('rejects a missing header', async () => {
    const rejected = expectRejected(await verify(payload, undefined), 'signature_missing');
    expect(rejected.message).toContain('Stripe-Signature');
  });

  it('rejects malformed headers with the reason', async () => {
    const v1 = sdkHeader(payload.toString('utf8')).split(',')[1]!;
    for (const header of [v1, `t=abc,${v1}`, `t=${timestamp}`, `t=${timestamp},v1=not-hex`, 'garbage']) {
      expectRejected(await verify(payload, header), 'signature_malformed');
    }
  });

  it('rejects a verified body without id or type as payload_invalid, naming the field', async () => {
    for (const [body, field] of [
      ['{"type":"x"}', '`id`'],
      ['{"id":"evt_1"}', '`type`'],
      ['not json', 'not JSON'],
    ] as const) {
      const rejected = expectRejected(await verify(body, sdkHeader(body)), 'payload_invalid');
      expect(rejected.message).toContain(field);
    }
  });
});
