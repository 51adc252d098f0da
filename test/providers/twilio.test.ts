import { createHash } from 'node:crypto';
import twilioSdk from 'twilio';
import { describe, expect, it } from 'vitest';
import { twilio } from '../../src/providers/twilio.ts';
import {
  changeOneByte,
  deliveryOf,
  expectAccepted,
  expectNoLeak,
  expectRejected,
  makeDelivery,
  readVectors,
} from './helpers.ts';

const vectors = readVectors();
const now = Date.UTC(2026, 0, 15, 12, 0, 0);
const authToken = 'a'.repeat(32);
const oldToken = 'b'.repeat(32);
const settings = twilio.parseSettings({ authTokens: [authToken, oldToken] });
const url = 'https://hooks.example.com/webhooks/twilio?source=sms';

const statusParams = {
  AccountSid: 'AC00000000000000000000000000000000',
  ApiVersion: '2010-04-01',
  From: '+15017122661',
  MessageSid: 'SM1234567890abcdef1234567890abcdef',
  MessageStatus: 'delivered',
  SmsSid: 'SM1234567890abcdef1234567890abcdef',
  SmsStatus: 'delivered',
  To: '+15558675310',
};

function formBody(params: Record<string, string> | [string, string][]): Buffer {
  return Buffer.from(new URLSearchParams(params).toString(), 'utf8');
}

function verifyForm(body: Buffer, signature: string, atUrl = url, extra: Record<string, string> = {}) {
  return twilio.verify(
    makeDelivery({
      body,
      url: atUrl,
      now,
      headers: {
        'x-twilio-signature': signature,
        'content-type': 'application/x-www-form-urlencoded',
        ...extra,
      },
    }),
    settings,
  );
}

describe('twilio verify, with twilio-node as the oracle', () => {
  it('accepts what validateRequest accepts, with a status-derived key and type', async () => {
    const signature = twilioSdk.getExpectedTwilioSignature(authToken, url, statusParams);
    expect(twilioSdk.validateRequest(authToken, signature, url, statusParams)).toBe(true);
    const accepted = expectAccepted(await verifyForm(formBody(statusParams), signature));
    expect(accepted.dedupeKey).toBe('SM1234567890abcdef1234567890abcdef:delivered');
    expect(accepted.eventType).toBe('message.delivered');
    expect(accepted.payload).toEqual(statusParams);
  });

  it('never keys on the unsigned I-Twilio-Idempotency-Token: a fresh token is the same event', async () => {
    const signature = twilioSdk.getExpectedTwilioSignature(authToken, url, statusParams);
    const keys = [];
    for (const token of ['idem-1', 'idem-2']) {
      const accepted = expectAccepted(
        await verifyForm(formBody(statusParams), signature, url, { 'i-twilio-idempotency-token': token }),
      );
      keys.push(accepted.dedupeKey);
    }
    expect(keys).toEqual([
      'SM1234567890abcdef1234567890abcdef:delivered',
      'SM1234567890abcdef1234567890abcdef:delivered',
    ]);
  });

  it('signs repeated keys with all their values sorted, as twilio-node does', async () => {
    const pairs: [string, string][] = [
      ['To', '+15558675310'],
      ['MediaUrl', 'https://b.example/2'],
      ['MediaUrl', 'https://a.example/1'],
      ['Body', 'héllo & goodbye'],
      ['body', 'lower-case key sorts after upper case'],
    ];
    const params = {
      To: '+15558675310',
      MediaUrl: ['https://b.example/2', 'https://a.example/1'],
      Body: 'héllo & goodbye',
      body: 'lower-case key sorts after upper case',
    };
    const signature = twilioSdk.getExpectedTwilioSignature(authToken, url, params);
    expect(twilioSdk.validateRequest(authToken, signature, url, params)).toBe(true);
    const accepted = expectAccepted(await verifyForm(formBody(pairs), signature));
    expect(accepted.eventType).toBe('twilio.webhook');
    expect((accepted.payload as Record<string, unknown>).MediaUrl).toEqual([
      'https://b.example/2',
      'https://a.example/1',
    ]);
  });

  it('accepts the URL with or without the default port', async () => {
    const withPort = 'https://hooks.example.com:443/webhooks/twilio?source=sms';
    const signedWithPort = twilioSdk.getExpectedTwilioSignature(authToken, withPort, statusParams);
    const signedWithout = twilioSdk.getExpectedTwilioSignature(authToken, url, statusParams);
    expect(twilioSdk.validateRequest(authToken, signedWithPort, url, statusParams)).toBe(true);
    expect(twilioSdk.validateRequest(authToken, signedWithout, withPort, statusParams)).toBe(true);
    expectAccepted(await verifyForm(formBody(statusParams), signedWithPort, url));
    expectAccepted(await verifyForm(formBody(statusParams), signedWithout, withPort));
    const httpSigned = twilioSdk.getExpectedTwilioSignature(
      authToken,
      'http://hooks.example.com:80/t',
      statusParams,
    );
    expectAccepted(await verifyForm(formBody(statusParams), httpSigned, 'http://hooks.example.com/t'));
  });

  it('rejects another port, or another URL', async () => {
    const signature = twilioSdk.getExpectedTwilioSignature(
      authToken,
      'https://hooks.example.com:8443/t',
      statusParams,
    );
    expect(twilioSdk.validateRequest(authToken, signature, 'https://hooks.example.com/t', statusParams)).toBe(
      false,
    );
    const rejected = expectRejected(
      await verifyForm(formBody(statusParams), signature, 'https://hooks.example.com/t'),
      'signature_mismatch',
    );
    expect(rejected.message).toContain('publicUrl');
  });

  it('accepts the old auth token while rotating', async () => {
    const signature = twilioSdk.getExpectedTwilioSignature(oldToken, url, statusParams);
    expectAccepted(await verifyForm(formBody(statusParams), signature));
  });

  it('rejects a one-byte change of the body and a wrong token', async () => {
    const body = formBody(statusParams);
    const signature = twilioSdk.getExpectedTwilioSignature(authToken, url, statusParams);
    const changed = changeOneByte(body, body.indexOf('delivered') + 1);
    const changedParams = Object.fromEntries(new URLSearchParams(changed.toString()));
    expect(twilioSdk.validateRequest(authToken, signature, url, changedParams)).toBe(false);
    expectRejected(await verifyForm(changed, signature), 'signature_mismatch');

    const wrong = twilioSdk.getExpectedTwilioSignature('c'.repeat(32), url, statusParams);
    expect(twilioSdk.validateRequest(authToken, wrong, url, statusParams)).toBe(false);
    const rejected = expectRejected(await verifyForm(body, wrong), 'signature_mismatch');
    expectNoLeak(rejected, authToken, oldToken, signature);
  });

  it('rejects a missing or non-base64 signature', async () => {
    expectRejected(
      await twilio.verify(makeDelivery({ body: formBody(statusParams), url, now }), settings),
      'signature_missing',
    );
    expectRejected(await verifyForm(formBody(statusParams), 'not base64!'), 'signature_malformed');
  });

  it('signs a form body that twilio-node and Hookbox accept', async () => {
    const body = twilio.sampleBody!({ eventType: 'message.sent', eventId: 'SMabc', now });
    const signed = await twilio.sign!(body, settings, {
      now,
      url,
      eventType: 'message.sent',
      eventId: 'SMabc',
    });
    expect(signed.headers['content-type']).toBe('application/x-www-form-urlencoded');
    const params = Object.fromEntries(new URLSearchParams(body.toString()));
    expect(twilioSdk.validateRequest(authToken, signed.headers['x-twilio-signature']!, url, params)).toBe(
      true,
    );
    const accepted = expectAccepted(await twilio.verify(deliveryOf(signed, now, url), settings));
    expect(accepted.eventType).toBe('message.sent');
    expect(accepted.dedupeKey).toBe('SMabc:sent');
  });
});

describe('twilio JSON bodies (bodySHA256)', () => {
  const body = '{"type":"com.twilio.messaging.message.delivered","data":{"messageSid":"SMx"}}';
  const hash = twilioSdk.getExpectedBodyHash(body);
  const jsonUrl = `https://hooks.example.com/webhooks/twilio?bodySHA256=${hash}`;
  const signature = twilioSdk.getExpectedTwilioSignature(authToken, jsonUrl, {});
  const verifyJson = (raw: Buffer | string, atUrl = jsonUrl, sig = signature) =>
    twilio.verify(
      makeDelivery({
        body: raw,
        url: atUrl,
        now,
        headers: { 'x-twilio-signature': sig, 'content-type': 'application/json' },
      }),
      settings,
    );

  it('accepts what validateRequestWithBody accepts', async () => {
    expect(twilioSdk.validateRequestWithBody(authToken, signature, jsonUrl, body)).toBe(true);
    const accepted = expectAccepted(await verifyJson(body));
    expect(accepted.eventType).toBe('com.twilio.messaging.message.delivered');
    expect(accepted.payload).toEqual(JSON.parse(body));
  });

  it('rejects a one-byte change of the body (hash mismatch)', async () => {
    const changed = changeOneByte(Buffer.from(body), 12);
    expect(twilioSdk.validateRequestWithBody(authToken, signature, jsonUrl, changed.toString())).toBe(false);
    const rejected = expectRejected(await verifyJson(changed), 'signature_mismatch');
    expect(rejected.message).toContain('bodySHA256');
  });

  it('diagnoses a re-serialized body', async () => {
    const pretty = JSON.stringify(JSON.parse(body), null, 2);
    const prettyHash = twilioSdk.getExpectedBodyHash(pretty);
    const prettyUrl = `https://hooks.example.com/webhooks/twilio?bodySHA256=${prettyHash}`;
    const prettySignature = twilioSdk.getExpectedTwilioSignature(authToken, prettyUrl, {});
    expectRejected(await verifyJson(body, prettyUrl, prettySignature), 'signature_body_reserialized');
  });

  it('refuses a JSON body whose URL has no bodySHA256', async () => {
    const plainUrl = 'https://hooks.example.com/webhooks/twilio';
    const sig = twilioSdk.getExpectedTwilioSignature(authToken, plainUrl, {});
    expectRejected(await verifyJson(body, plainUrl, sig), 'unsupported_media_type');
  });

  it('signs a JSON body through the URL', async () => {
    const signed = await twilio.sign!(Buffer.from(body), settings, {
      now,
      url: 'https://hooks.example.com/webhooks/twilio',
      eventType: 'x',
      eventId: 'idem-json',
    });
    expect(signed.url).toBe(jsonUrl);
    expect(
      twilioSdk.validateRequestWithBody(authToken, signed.headers['x-twilio-signature']!, signed.url!, body),
    ).toBe(true);
    const accepted = expectAccepted(await twilio.verify(deliveryOf(signed, now), settings));
    // The body is signed through bodySHA256; the idempotency token `sign` adds is not.
    expect(accepted.dedupeKey).toBe(createHash('sha256').update(body).digest('hex'));
  });
});

describe('twilio published vectors', () => {
  it('twilio_form verifies', async () => {
    const v = vectors.twilio_form;
    const vectorSettings = twilio.parseSettings({ authToken: v.auth_token });
    expect(twilioSdk.validateRequest(v.auth_token, v.x_twilio_signature, v.url, v.params)).toBe(true);
    const accepted = expectAccepted(
      await twilio.verify(
        makeDelivery({
          body: formBody(v.params),
          url: v.url,
          now,
          headers: { 'x-twilio-signature': v.x_twilio_signature },
        }),
        vectorSettings,
      ),
    );
    expect(accepted.eventType).toBe('call');
    // It carries Digits (a <Gather> action), so it dedupes on the body hash.
    expect(accepted.dedupeKey).toMatch(/^[0-9a-f]{64}$/);
  });

  it('twilio_form verifies with the :443 form of its URL', async () => {
    const v = vectors.twilio_form;
    const withPort = v.url.replace('mycompany.com/', 'mycompany.com:443/');
    expectAccepted(
      await twilio.verify(
        makeDelivery({
          body: formBody(v.params),
          url: withPort,
          now,
          headers: { 'x-twilio-signature': v.x_twilio_signature },
        }),
        twilio.parseSettings({ authToken: v.auth_token }),
      ),
    );
  });

  it('the HMAC-SHA256 variant verifies as a SharedKey delivery', async () => {
    const v = vectors.twilio_form;
    expect(twilioSdk.getExpectedTwilioSignature(v.auth_token, v.url, v.params, 'HMAC_SHA256')).toBe(
      v.hmac_sha256_variant_generated,
    );
    const delivery = makeDelivery({
      body: formBody(v.params),
      url: v.url,
      now,
      headers: {
        'x-twilio-signature': v.hmac_sha256_variant_generated,
        'x-twilio-webhooks-signature-settings': 'key=webhooks_sharedkey_1,algorithm=HMAC_SHA256',
      },
    });
    expectAccepted(await twilio.verify(delivery, twilio.parseSettings({ sharedKeySecret: v.auth_token })));
    const onlyAuthToken = expectRejected(
      await twilio.verify(delivery, twilio.parseSettings({ authToken: v.auth_token })),
      'signature_mismatch',
    );
    expect(onlyAuthToken.message).toContain('sharedKeySecrets');
  });

  it('twilio_json verifies', async () => {
    const v = vectors.twilio_json;
    expect(twilioSdk.validateRequestWithBody(v.auth_token, v.x_twilio_signature, v.url, v.body)).toBe(true);
    const accepted = expectAccepted(
      await twilio.verify(
        makeDelivery({
          body: v.body,
          url: v.url,
          now,
          headers: { 'x-twilio-signature': v.x_twilio_signature, 'content-type': 'application/json' },
        }),
        twilio.parseSettings({ authToken: v.auth_token }),
      ),
    );
    expect(accepted.eventType).toBe('twilio.webhook');
  });
});

describe('twilio dedupe keys and types', () => {
  const cases: [Record<string, string>, string, string][] = [
    [{ CallSid: 'CA1', CallStatus: 'completed', SequenceNumber: '3' }, 'CA1:completed:3', 'call.completed'],
    [
      { CallSid: 'CA1', RecordingSid: 'RE1', RecordingStatus: 'completed' },
      'RE1:completed',
      'recording.completed',
    ],
    [
      { ConferenceSid: 'CF1', StatusCallbackEvent: 'participant-join', CallSid: 'CA2', SequenceNumber: '1' },
      'CF1:participant-join:CA2:1',
      'conference.participant-join',
    ],
    [{ MessageSid: 'SM1', SmsStatus: 'received', Body: 'hi' }, 'SM1:received', 'message.received'],
  ];
  for (const [params, key, type] of cases) {
    it(`${type} -> ${key}`, async () => {
      const signature = twilioSdk.getExpectedTwilioSignature(authToken, url, params);
      const accepted = expectAccepted(await verifyForm(formBody(params), signature));
      expect([accepted.dedupeKey, accepted.eventType]).toEqual([key, type]);
    });
  }

  it('a <Gather> action (caller input) dedupes on the body hash, so two inputs are two events', async () => {
    const first = { CallSid: 'CA1', CallStatus: 'in-progress', Digits: '1' };
    const second = { CallSid: 'CA1', CallStatus: 'in-progress', Digits: '2' };
    const a = expectAccepted(
      await verifyForm(formBody(first), twilioSdk.getExpectedTwilioSignature(authToken, url, first)),
    );
    const b = expectAccepted(
      await verifyForm(formBody(second), twilioSdk.getExpectedTwilioSignature(authToken, url, second)),
    );
    expect(a.dedupeKey).not.toBe(b.dedupeKey);
    expect(a.eventType).toBe('call.in-progress');
  });

  it('decodes a stored form body with repeated keys for handlers', () => {
    const body = formBody([
      ['A', '1'],
      ['A', '2'],
      ['B', '3'],
    ]);
    expect(twilio.decodePayload!(body, { 'content-type': 'application/x-www-form-urlencoded' })).toEqual({
      A: ['1', '2'],
      B: '3',
    });
  });
});
