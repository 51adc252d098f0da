import { Webhook } from 'standardwebhooks';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { standardWebhooks } from '../../src/providers/standard-webhooks.ts';
import {
  changeOneByte,
  deliveryOf,
  expectAccepted,
  expectNoLeak,
  expectRejected,
  makeDelivery,
  readVectors,
} from './helpers.ts';

const vector = readVectors().standard_webhooks_v1;
const secret = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';
const newSecret = `whsec_${Buffer.alloc(24, 7).toString('base64')}`;
const now = Date.UTC(2026, 0, 15, 12, 0, 0);
const settings = standardWebhooks.parseSettings({ secrets: [newSecret, secret] });
const payload = '{"type":"contact.created","timestamp":"2026-01-15T12:00:00Z","data":{"id":"c_1"}}';

function headersFor(msgId: string, at: number, signature: string, prefix = 'webhook') {
  return {
    [`${prefix}-id`]: msgId,
    [`${prefix}-timestamp`]: String(Math.floor(at / 1000)),
    [`${prefix}-signature`]: signature,
  };
}

/** The reference verifier reads Date.now(); pin it to the delivery time. */
function oracleAccepts(body: string, headers: Record<string, string>, withSecret: string, at = now): boolean {
  vi.useFakeTimers({ now: at, toFake: ['Date'] });
  try {
    new Webhook(withSecret).verify(body, headers);
    return true;
  } catch {
    return false;
  } finally {
    vi.useRealTimers();
  }
}

afterEach(() => vi.useRealTimers());

describe('standard-webhooks verify, with the standardwebhooks library as the oracle', () => {
  it('accepts what Webhook.verify accepts', async () => {
    const signature = new Webhook(secret).sign('msg_1', new Date(now), payload);
    const headers = headersFor('msg_1', now, signature);
    expect(oracleAccepts(payload, headers, secret)).toBe(true);
    const accepted = expectAccepted(
      await standardWebhooks.verify(makeDelivery({ body: payload, headers, now }), settings),
    );
    expect(accepted).toMatchObject({
      dedupeKey: 'msg_1',
      eventType: 'contact.created',
      payload: JSON.parse(payload),
    });
  });

  it('accepts the svix- header aliases', async () => {
    const signature = new Webhook(secret).sign('msg_2', new Date(now), payload);
    expectAccepted(
      await standardWebhooks.verify(
        makeDelivery({ body: payload, headers: headersFor('msg_2', now, signature, 'svix'), now }),
        settings,
      ),
    );
  });

  it('accepts any v1 entry of a space-separated list and skips other versions', async () => {
    const good = new Webhook(secret).sign('msg_3', new Date(now), payload);
    const list = `v1a,${'A'.repeat(86)} v1,${Buffer.alloc(32).toString('base64')} ${good}`;
    const headers = headersFor('msg_3', now, list);
    expect(oracleAccepts(payload, headers, secret)).toBe(true);
    expectAccepted(await standardWebhooks.verify(makeDelivery({ body: payload, headers, now }), settings));
  });

  it('signs what it and the reference verifier accept', async () => {
    const body = standardWebhooks.sampleBody!({ eventType: 'invoice.paid', eventId: 'msg_s', now });
    const signed = await standardWebhooks.sign!(body, settings, {
      now,
      url: 'https://x.test',
      eventType: 'invoice.paid',
      eventId: 'msg_s',
    });
    expect(oracleAccepts(body.toString(), signed.headers, newSecret)).toBe(true);
    const accepted = expectAccepted(await standardWebhooks.verify(deliveryOf(signed, now), settings));
    expect(accepted.eventType).toBe('invoice.paid');
  });

  it('rejects a one-byte change, a wrong secret, and stale or future timestamps', async () => {
    const signature = new Webhook(secret).sign('msg_4', new Date(now), payload);
    const headers = headersFor('msg_4', now, signature);
    const changed = changeOneByte(Buffer.from(payload));
    expect(oracleAccepts(changed.toString(), headers, secret)).toBe(false);
    expectRejected(
      await standardWebhooks.verify(makeDelivery({ body: changed, headers, now }), settings),
      'signature_mismatch',
    );

    const other = `whsec_${Buffer.alloc(24, 9).toString('base64')}`;
    const wrong = headersFor('msg_4', now, new Webhook(other).sign('msg_4', new Date(now), payload));
    expect(oracleAccepts(payload, wrong, secret)).toBe(false);
    const mismatch = expectRejected(
      await standardWebhooks.verify(makeDelivery({ body: payload, headers: wrong, now }), settings),
      'signature_mismatch',
    );
    expectNoLeak(mismatch, secret, newSecret, signature.slice(3));

    const staleAt = now - 301_000;
    const stale = headersFor('msg_4', staleAt, new Webhook(secret).sign('msg_4', new Date(staleAt), payload));
    expect(oracleAccepts(payload, stale, secret)).toBe(false);
    const rejected = expectRejected(
      await standardWebhooks.verify(makeDelivery({ body: payload, headers: stale, now }), settings),
      'timestamp_outside_tolerance',
    );
    expect(rejected.message).toMatch(/^timestamp 301 s older/);

    const futureAt = now + 301_000;
    const future = headersFor(
      'msg_4',
      futureAt,
      new Webhook(secret).sign('msg_4', new Date(futureAt), payload),
    );
    expect(oracleAccepts(payload, future, secret)).toBe(false);
    expectRejected(
      await standardWebhooks.verify(makeDelivery({ body: payload, headers: future, now }), settings),
      'timestamp_outside_tolerance',
    );
  });

  it('diagnoses a re-serialized body', async () => {
    const pretty = JSON.stringify(JSON.parse(payload), null, 2);
    const headers = headersFor('msg_5', now, new Webhook(secret).sign('msg_5', new Date(now), pretty));
    expectRejected(
      await standardWebhooks.verify(makeDelivery({ body: payload, headers, now }), settings),
      'signature_body_reserialized',
    );
  });

  it('rejects missing and malformed headers', async () => {
    const missing = expectRejected(
      await standardWebhooks.verify(
        makeDelivery({ body: payload, headers: { 'webhook-id': 'm' }, now }),
        settings,
      ),
      'signature_missing',
    );
    expect(missing.message).toContain('webhook-timestamp, webhook-signature');
    const headers = headersFor('m', now, 'v2,abc');
    expectRejected(
      await standardWebhooks.verify(makeDelivery({ body: payload, headers, now }), settings),
      'signature_malformed',
    );
    expectRejected(
      await standardWebhooks.verify(
        makeDelivery({ body: payload, headers: { ...headers, 'webhook-timestamp': 'yesterday' }, now }),
        settings,
      ),
      'signature_malformed',
    );
  });

  it('rejects a verified body without a type', async () => {
    const body = '{"data":{}}';
    const headers = headersFor('msg_6', now, new Webhook(secret).sign('msg_6', new Date(now), body));
    const rejected = expectRejected(
      await standardWebhooks.verify(makeDelivery({ body, headers, now }), settings),
      'payload_invalid',
    );
    expect(rejected.message).toContain('`type`');
  });

  it('refuses secrets that are not whsec_ base64', () => {
    expect(() => standardWebhooks.parseSettings({ secrets: ['not base64!'] })).toThrow(/whsec_/);
    expect(standardWebhooks.parseSettings({ secret }).secrets).toEqual([secret]);
  });
});

describe('standard-webhooks published vector', () => {
  it('verifies at its timestamp, as the reference library does', async () => {
    const at = Number(vector.webhook_timestamp) * 1000;
    const headers = {
      'webhook-id': vector.webhook_id,
      'webhook-timestamp': vector.webhook_timestamp,
      'webhook-signature': vector.webhook_signature,
    };
    expect(new Webhook(vector.secret).sign(vector.webhook_id, new Date(at), vector.payload)).toBe(
      vector.webhook_signature,
    );
    expect(oracleAccepts(vector.payload, headers, vector.secret, at)).toBe(true);
    const vectorSettings = standardWebhooks.parseSettings({ secrets: [vector.secret] });
    const delivery = makeDelivery({ body: vector.payload, headers, now: at });
    // The vector's payload has no `type`: the signature verifies, then the payload is refused.
    const result = await standardWebhooks.verify(delivery, vectorSettings);
    const rejected = expectRejected(result, 'payload_invalid');
    expect(rejected.message).toContain('`type`');
    expectRejected(
      await standardWebhooks.verify({ ...delivery, body: changeOneByte(delivery.body) }, vectorSettings),
      'signature_mismatch',
    );
  });
});
