import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { resolveSources } from '../../src/config/sources.ts';
import { genericHmac } from '../../src/providers/generic-hmac.ts';
import {
  changeOneByte,
  deliveryOf,
  expectAccepted,
  expectNoLeak,
  expectRejected,
  makeDelivery,
} from './helpers.ts';

const now = Date.UTC(2026, 0, 15, 12, 0, 0);
const timestamp = Math.floor(now / 1000);
const body = '{"data":{"id":"ord_42"},"kind":"order.paid"}';

describe('generic-hmac settings', () => {
  it('normalises header names and applies defaults', () => {
    expect(genericHmac.parseSettings({ header: 'X-Signature', secret: 's' })).toMatchObject({
      header: 'x-signature',
      algorithm: 'sha256',
      encoding: 'hex',
      signedContent: 'body',
      separator: '.',
      toleranceSeconds: 300,
      secrets: ['s'],
    });
  });

  it('reports every problem at once', () => {
    try {
      genericHmac.parseSettings({
        header: 'bad header',
        algorithm: 'md5',
        signedContent: 'timestamp.body',
        secrets: [],
      });
      expect.unreachable();
    } catch (error) {
      const paths = (error as { issues: { path: unknown[] }[] }).issues.map((issue) => issue.path.join('.'));
      expect(paths).toEqual(expect.arrayContaining(['header', 'algorithm']));
    }
    expect(() =>
      genericHmac.parseSettings({ header: 'x-sig', secret: 's', signedContent: 'timestamp.body' }),
    ).toThrow(/timestampHeader/);
  });
});

describe('generic-hmac identity', () => {
  it('refuses a dedupe key taken from a header, which the signature does not cover', () => {
    const settings = { header: 'x-sig', secret: 's', dedupeKey: { header: 'x-event-id' } };
    expect(() => genericHmac.parseSettings(settings)).toThrow(/covers the body, not headers/);
    // Through the config as createHookbox and hookbox serve validate it, naming the setting.
    expect(() => resolveSources({ acme: { provider: 'generic-hmac', ...settings } })).toThrow(
      /sources\.acme\.dedupeKey: the signature covers the body, not headers/,
    );
  });

  it('keys on the signed body when no JSON path is set, whatever the headers say', async () => {
    const settings = genericHmac.parseSettings({
      header: 'x-sig',
      secret: 's',
      eventType: { header: 'x-type' },
    });
    const signature = createHmac('sha256', 's').update(body).digest('hex');
    const keys = [];
    for (const type of ['order.paid', 'order.refunded']) {
      const accepted = expectAccepted(
        await genericHmac.verify(
          makeDelivery({ body, headers: { 'x-sig': signature, 'x-type': type, 'x-event-id': type }, now }),
          settings,
        ),
      );
      keys.push(accepted.dedupeKey);
    }
    expect(keys[0]).toMatch(/^[0-9a-f]{64}$/);
    expect(keys[1]).toBe(keys[0]);
  });
});

describe('generic-hmac verify (node:crypto as the oracle)', () => {
  for (const algorithm of ['sha1', 'sha256', 'sha512'] as const) {
    for (const encoding of ['hex', 'base64'] as const) {
      it(`${algorithm} ${encoding} with a prefix`, async () => {
        const settings = genericHmac.parseSettings({
          header: 'X-Sig',
          algorithm,
          encoding,
          prefix: `${algorithm}=`,
          secrets: ['new', 'old'],
        });
        const signature = `${algorithm}=${createHmac(algorithm, 'old').update(body).digest(encoding)}`;
        const accepted = expectAccepted(
          await genericHmac.verify(makeDelivery({ body, headers: { 'x-sig': signature }, now }), settings),
        );
        expect(accepted).toMatchObject({ eventType: 'webhook', payload: JSON.parse(body) });
        expect(accepted.dedupeKey).toMatch(/^[0-9a-f]{64}$/);
        expectRejected(
          await genericHmac.verify(
            makeDelivery({ body: changeOneByte(Buffer.from(body)), headers: { 'x-sig': signature }, now }),
            settings,
          ),
          'signature_mismatch',
        );
      });
    }
  }

  const settings = genericHmac.parseSettings({
    header: 'x-signature',
    signedContent: 'timestamp.body',
    timestampHeader: 'x-timestamp',
    separator: ':',
    dedupeKey: { jsonPath: 'data.id' },
    eventType: { header: 'x-event' },
    secrets: ['secret-a'],
  });
  const sign = (at: number, content = body, secret = 'secret-a') =>
    createHmac('sha256', secret).update(`${at}:${content}`).digest('hex');
  const verifyAt = (at: number, signature: string, content: string | Buffer = body) =>
    genericHmac.verify(
      makeDelivery({
        body: content,
        headers: { 'x-signature': signature, 'x-timestamp': String(at), 'x-event': 'order.paid' },
        now,
      }),
      settings,
    );

  it('signs timestamp + separator + body, with key and type from the configured places', async () => {
    const accepted = expectAccepted(await verifyAt(timestamp, sign(timestamp)));
    expect([accepted.dedupeKey, accepted.eventType]).toEqual(['ord_42', 'order.paid']);
  });

  it('rejects a stale timestamp, a wrong secret and a re-serialized body', async () => {
    expectRejected(await verifyAt(timestamp - 301, sign(timestamp - 301)), 'timestamp_outside_tolerance');
    const rejected = expectRejected(
      await verifyAt(timestamp, sign(timestamp, body, 'nope')),
      'signature_mismatch',
    );
    expectNoLeak(rejected, 'secret-a', sign(timestamp));
    expectRejected(
      await verifyAt(timestamp, sign(timestamp, JSON.stringify(JSON.parse(body), null, 2))),
      'signature_body_reserialized',
    );
  });

  it('rejects missing headers and a missing dedupe key', async () => {
    expectRejected(await genericHmac.verify(makeDelivery({ body, now }), settings), 'signature_missing');
    expectRejected(
      await genericHmac.verify(
        makeDelivery({ body, headers: { 'x-signature': sign(timestamp) }, now }),
        settings,
      ),
      'signature_missing',
    );
    const noId = '{"data":{}}';
    const rejected = expectRejected(
      await verifyAt(timestamp, sign(timestamp, noId), noId),
      'payload_invalid',
    );
    expect(rejected.message).toContain('data.id');
  });

  it('signs what it verifies, and names the configured header as secret', async () => {
    const sample = genericHmac.sampleBody!({ eventType: 'order.paid', eventId: 'ord_42', now });
    const signed = await genericHmac.sign!(sample, settings, {
      now,
      url: 'https://x.test',
      eventType: 'order.paid',
      eventId: 'e',
    });
    expect(signed.headers['x-signature']).toBe(sign(timestamp, sample.toString()));
    expectAccepted(await genericHmac.verify(deliveryOf(signed, now), settings));
    expect(genericHmac.secretHeadersFor!(settings)).toEqual(['x-signature']);
  });
});
