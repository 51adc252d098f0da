import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { slack } from '../../src/providers/slack.ts';
import {
  changeOneByte,
  deliveryOf,
  expectAccepted,
  expectNoLeak,
  expectRejected,
  makeDelivery,
  readVectors,
} from './helpers.ts';

const vector = readVectors().slack_official;
// Slack's documented recipe with node:crypto as the oracle (no official verifier package is installed).
const oracleSign = (secret: string, timestamp: number | string, body: string) =>
  `v0=${createHmac('sha256', secret).update(`v0:${timestamp}:${body}`).digest('hex')}`;

const now = Date.UTC(2026, 0, 15, 12, 0, 0);
const timestamp = Math.floor(now / 1000);
const secret = '8f742231b10e8888abcd99yyyzzz85a5';
const newSecret = '0123456789abcdef0123456789abcdef';
const settings = slack.parseSettings({ signingSecrets: [newSecret, secret] });

function verifyBody(
  body: string | Buffer,
  signature: string,
  contentType = 'application/json',
  at = timestamp,
) {
  return slack.verify(
    makeDelivery({
      body,
      headers: {
        'x-slack-signature': signature,
        'x-slack-request-timestamp': String(at),
        'content-type': contentType,
      },
      now,
    }),
    settings,
  );
}

describe('slack published vector', () => {
  it('slack_official verifies at its timestamp as a slash command', async () => {
    const at = Number(vector.timestamp) * 1000;
    expect(oracleSign(vector.signing_secret, vector.timestamp, vector.body)).toBe(vector.x_slack_signature);
    const delivery = makeDelivery({
      body: vector.body,
      headers: {
        'x-slack-signature': vector.x_slack_signature,
        'x-slack-request-timestamp': vector.timestamp,
        'content-type': 'application/x-www-form-urlencoded',
      },
      now: at,
    });
    const vectorSettings = slack.parseSettings({ signingSecret: vector.signing_secret });
    const accepted = expectAccepted(await slack.verify(delivery, vectorSettings));
    expect(accepted.eventType).toBe('slash_command');
    expect(accepted.dedupeKey).toMatch(/^[0-9a-f]{64}$/);
    expect((accepted.payload as Record<string, string>).command).toBe('/webhook-collect');
    expectRejected(
      await slack.verify({ ...delivery, body: changeOneByte(delivery.body) }, vectorSettings),
      'signature_mismatch',
    );
    // The same delivery now, years later, is a replay.
    expectRejected(await slack.verify({ ...delivery, now }, vectorSettings), 'timestamp_outside_tolerance');
  });
});

describe('slack verify', () => {
  const event = JSON.stringify({
    type: 'event_callback',
    event_id: 'Ev08MFMKH6',
    event: { type: 'app_mention', text: 'hi' },
  });

  it('reads Events API callbacks: event_id and event.type', async () => {
    const accepted = expectAccepted(await verifyBody(event, oracleSign(secret, timestamp, event)));
    expect(accepted).toMatchObject({ dedupeKey: 'Ev08MFMKH6', eventType: 'app_mention' });
  });

  it('answers url_verification only after the signature verified', async () => {
    const body = JSON.stringify({
      token: 't',
      challenge: '3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P',
      type: 'url_verification',
    });
    const accepted = expectAccepted(await verifyBody(body, oracleSign(newSecret, timestamp, body)));
    expect(accepted.handshake).toEqual({
      status: 200,
      body: { challenge: '3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P' },
    });
    const rejected = await verifyBody(body, oracleSign('not the secret', timestamp, body));
    expectRejected(rejected, 'signature_mismatch');
    expect('handshake' in rejected).toBe(false);
  });

  it("answers Slack's unsigned ssl_check as a handshake, and nothing else without a signature", async () => {
    const body = 'ssl_check=1&token=gIkuvaNzQIHg97ATvDxqgjtO';
    const delivery = (extra: Record<string, string> = {}) =>
      makeDelivery({ body, headers: { 'content-type': 'application/x-www-form-urlencoded', ...extra }, now });
    const accepted = expectAccepted(await slack.verify(delivery(), settings));
    expect(accepted.handshake).toEqual({ status: 200, body: { ok: true } });
    // Signed or not, it is the same handshake.
    const signed = delivery({
      'x-slack-signature': oracleSign(secret, timestamp, body),
      'x-slack-request-timestamp': String(timestamp),
    });
    expect(expectAccepted(await slack.verify(signed, settings)).handshake?.status).toBe(200);
    // Anything else unsigned is still refused: a slash command, ssl_check=0, or a JSON body.
    for (const other of ['command=%2Fpay&text=1', 'ssl_check=0&token=x', 'ssl_check=1&command=%2Fpay']) {
      const result = await slack.verify({ ...delivery(), body: Buffer.from(other) }, settings);
      expectRejected(result, 'signature_missing');
    }
    expectRejected(
      await slack.verify(
        makeDelivery({ body: '{"ssl_check":"1"}', headers: { 'content-type': 'application/json' }, now }),
        settings,
      ),
      'signature_missing',
    );
  });

  it('reads interactivity payloads', async () => {
    const body = new URLSearchParams({
      payload: JSON.stringify({ type: 'block_actions', trigger_id: '1' }),
    }).toString();
    const accepted = expectAccepted(
      await verifyBody(body, oracleSign(secret, timestamp, body), 'application/x-www-form-urlencoded'),
    );
    expect(accepted.eventType).toBe('block_actions');
    expect(
      slack.decodePayload!(Buffer.from(body), { 'content-type': 'application/x-www-form-urlencoded' }),
    ).toEqual({
      type: 'block_actions',
      trigger_id: '1',
    });
  });

  it('rejects a one-byte change, a wrong secret, and a stale timestamp', async () => {
    const signature = oracleSign(secret, timestamp, event);
    expectRejected(await verifyBody(changeOneByte(Buffer.from(event)), signature), 'signature_mismatch');
    const rejected = expectRejected(
      await verifyBody(event, oracleSign('wrong', timestamp, event)),
      'signature_mismatch',
    );
    expectNoLeak(rejected, secret, newSecret, signature);
    const stale = timestamp - 301;
    const old = expectRejected(
      await verifyBody(event, oracleSign(secret, stale, event), 'application/json', stale),
      'timestamp_outside_tolerance',
    );
    expect(old.message).toMatch(/^timestamp 301 s older than the 300 s tolerance/);
  });

  it('diagnoses a re-serialized body; rejects missing and malformed headers', async () => {
    const pretty = JSON.stringify(JSON.parse(event), null, 2);
    expectRejected(
      await verifyBody(event, oracleSign(secret, timestamp, pretty)),
      'signature_body_reserialized',
    );
    expectRejected(await slack.verify(makeDelivery({ body: event, now }), settings), 'signature_missing');
    expectRejected(await verifyBody(event, 'v1=abcd'), 'signature_malformed');
  });

  it('signs what it verifies', async () => {
    const body = slack.sampleBody!({ eventType: 'app_mention', eventId: 'Ev1', now });
    const signed = await slack.sign!(body, settings, {
      now,
      url: 'https://x.test',
      eventType: 'app_mention',
      eventId: 'Ev1',
    });
    expect(signed.headers['x-slack-signature']).toBe(oracleSign(newSecret, timestamp, body.toString()));
    const accepted = expectAccepted(await slack.verify(deliveryOf(signed, now), settings));
    expect([accepted.eventType, accepted.dedupeKey]).toEqual(['app_mention', 'Ev1']);
  });
});
