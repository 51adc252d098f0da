import { createHash } from 'node:crypto';
import { sign, verify } from '@octokit/webhooks-methods';
import { describe, expect, it } from 'vitest';
import { github } from '../../src/providers/github.ts';
import {
  changeOneByte,
  deliveryOf,
  expectAccepted,
  expectNoLeak,
  expectRejected,
  makeDelivery,
  readVectors,
} from './helpers.ts';

const vector = readVectors().github_official;
const now = Date.UTC(2026, 0, 15, 12, 0, 0);
const secret = 'new github secret';
const oldSecret = "It's a Secret to Everybody";
const settings = github.parseSettings({ secrets: [secret, oldSecret] });
const payload = JSON.stringify({ action: 'opened', issue: { number: 1 }, repository: { full_name: 'o/r' } });
const sha256 = (body: string | Buffer) => createHash('sha256').update(body).digest('hex');

function headers(signature: string, extra: Record<string, string> = {}) {
  return {
    'x-hub-signature-256': signature,
    'x-github-event': 'issues',
    'x-github-delivery': '72d3162e-cc78-11e3-81ab-4c9367dc0958',
    'content-type': 'application/json',
    ...extra,
  };
}

describe('github verify, with @octokit/webhooks-methods as the oracle', () => {
  it('accepts what verify() accepts, typed event.action and keyed by the hash of the signed body', async () => {
    const signature = await sign(secret, payload);
    expect(await verify(secret, payload, signature)).toBe(true);
    const accepted = expectAccepted(
      await github.verify(makeDelivery({ body: payload, headers: headers(signature), now }), settings),
    );
    expect(accepted).toMatchObject({
      dedupeKey: sha256(payload),
      eventType: 'issues.opened',
      payload: JSON.parse(payload),
    });
  });

  it('types an event without action by its name alone', async () => {
    const body = '{"ref":"refs/heads/main"}';
    const accepted = expectAccepted(
      await github.verify(
        makeDelivery({ body, headers: headers(await sign(secret, body), { 'x-github-event': 'push' }), now }),
        settings,
      ),
    );
    expect(accepted.eventType).toBe('push');
  });

  it('accepts the older secret while rotating', async () => {
    expectAccepted(
      await github.verify(
        makeDelivery({ body: payload, headers: headers(await sign(oldSecret, payload)), now }),
        settings,
      ),
    );
  });

  it('reads form-encoded deliveries (payload field)', async () => {
    const body = new URLSearchParams({ payload }).toString();
    const accepted = expectAccepted(
      await github.verify(
        makeDelivery({
          body,
          headers: headers(await sign(secret, body), { 'content-type': 'application/x-www-form-urlencoded' }),
          now,
        }),
        settings,
      ),
    );
    expect(accepted.eventType).toBe('issues.opened');
    expect(
      github.decodePayload!(Buffer.from(body), { 'content-type': 'application/x-www-form-urlencoded' }),
    ).toEqual(JSON.parse(payload));
  });

  it('rejects a one-byte change and a wrong secret', async () => {
    const signature = await sign(secret, payload);
    const changed = changeOneByte(Buffer.from(payload));
    expect(await verify(secret, changed.toString(), signature)).toBe(false);
    expectRejected(
      await github.verify(makeDelivery({ body: changed, headers: headers(signature), now }), settings),
      'signature_mismatch',
    );
    const wrong = await sign('another secret', payload);
    expect(await verify(secret, payload, wrong)).toBe(false);
    const rejected = expectRejected(
      await github.verify(makeDelivery({ body: payload, headers: headers(wrong), now }), settings),
      'signature_mismatch',
    );
    expectNoLeak(rejected, secret, oldSecret, signature);
  });

  it('diagnoses a re-serialized body', async () => {
    const pretty = JSON.stringify(JSON.parse(payload), null, 2);
    expectRejected(
      await github.verify(
        makeDelivery({ body: payload, headers: headers(await sign(secret, pretty)), now }),
        settings,
      ),
      'signature_body_reserialized',
    );
  });

  it('rejects missing and malformed signatures, pointing at the legacy header', async () => {
    const legacy = expectRejected(
      await github.verify(
        makeDelivery({ body: payload, headers: { 'x-hub-signature': 'sha1=abc' }, now }),
        settings,
      ),
      'signature_missing',
    );
    expect(legacy.message).toContain('X-Hub-Signature-256');
    expectRejected(
      await github.verify(makeDelivery({ body: payload, headers: headers('sha1=abcd'), now }), settings),
      'signature_malformed',
    );
  });

  it('needs the event header, but not the unsigned delivery id', async () => {
    const signature = await sign(secret, payload);
    const noEvent = headers(signature) as Record<string, string>;
    delete noEvent['x-github-event'];
    expectRejected(
      await github.verify(makeDelivery({ body: payload, headers: noEvent, now }), settings),
      'payload_invalid',
    );
    const noDelivery = headers(signature) as Record<string, string>;
    delete noDelivery['x-github-delivery'];
    const accepted = expectAccepted(
      await github.verify(makeDelivery({ body: payload, headers: noDelivery, now }), settings),
    );
    const fresh = expectAccepted(
      await github.verify(
        makeDelivery({ body: payload, headers: headers(signature, { 'x-github-delivery': 'fresh' }), now }),
        settings,
      ),
    );
    expect(fresh.dedupeKey).toBe(accepted.dedupeKey);
  });

  it('signs what octokit and Hookbox accept', async () => {
    const body = github.sampleBody!({ eventType: 'issues.opened', eventId: 'd-1', now });
    const signed = await github.sign!(body, settings, {
      now,
      url: 'https://x.test',
      eventType: 'issues.opened',
      eventId: 'd-1',
    });
    expect(await verify(secret, body.toString(), signed.headers['x-hub-signature-256']!)).toBe(true);
    const accepted = expectAccepted(await github.verify(deliveryOf(signed, now), settings));
    expect([accepted.eventType, accepted.dedupeKey]).toEqual(['issues.opened', sha256(body)]);
  });
});

describe('github published vector', () => {
  it('github_official verifies (its payload is not JSON, so it stops at payload_invalid)', async () => {
    expect(await verify(vector.secret, vector.payload, vector.x_hub_signature_256)).toBe(true);
    expect(await sign(vector.secret, vector.payload)).toBe(vector.x_hub_signature_256);
    const vectorSettings = github.parseSettings({ secret: vector.secret });
    const delivery = makeDelivery({
      body: vector.payload,
      headers: headers(vector.x_hub_signature_256),
      now,
    });
    const rejected = expectRejected(await github.verify(delivery, vectorSettings), 'payload_invalid');
    expect(rejected.message).toContain('not JSON');
    expectRejected(
      await github.verify({ ...delivery, body: changeOneByte(delivery.body) }, vectorSettings),
      'signature_mismatch',
    );
  });
});
