import { Webhook } from 'standardwebhooks';
import { describe, expect, it } from 'vitest';
import { describeSigningSecretProblem, signDelivery } from '../../src/destinations/sign.ts';
import { generateSigningSecret } from './helpers.ts';

describe('signDelivery, with the standardwebhooks library as the oracle', () => {
  it('produces headers the library verifies, for several bodies and ids', () => {
    const secret = generateSigningSecret();
    const bodies = ['{"type":"invoice.paid","data":{"id":"in_1"}}', '{"emoji":"é 🎉"}', 'a=1&b=2'];
    for (const [index, text] of bodies.entries()) {
      const body = Buffer.from(text, 'utf8');
      const headers = signDelivery({ id: `01HEVENT${index}`, now: Date.now(), body, secret });
      expect(headers['webhook-id']).toBe(`01HEVENT${index}`);
      expect(headers['webhook-timestamp']).toBe(String(Math.floor(Date.now() / 1000)));
      expect(() => new Webhook(secret).verify(body, { ...headers }, { jsonParse: false })).not.toThrow();
    }
  });

  it('is refused by the library with another secret or a changed body', () => {
    const secret = generateSigningSecret();
    const body = Buffer.from('{"type":"a"}');
    const headers = signDelivery({ id: 'evt', now: Date.now(), body, secret });
    expect(() => new Webhook(generateSigningSecret()).verify(body, { ...headers })).toThrow(
      /No matching signature/,
    );
    expect(() => new Webhook(secret).verify(Buffer.from('{"type":"b"}'), { ...headers })).toThrow(
      /No matching signature/,
    );
  });

  it('sends whole seconds of the attempt time', () => {
    const headers = signDelivery({
      id: 'evt',
      now: Date.UTC(2026, 0, 1, 0, 0, 0, 999),
      body: Buffer.from('x'),
      secret: generateSigningSecret(),
    });
    expect(headers['webhook-timestamp']).toBe(String(Date.UTC(2026, 0, 1) / 1000));
  });
});

describe('describeSigningSecretProblem', () => {
  it('accepts whsec_ secrets of 24 to 64 bytes', () => {
    for (const bytes of [24, 32, 64]) {
      expect(
        describeSigningSecretProblem(`whsec_${Buffer.alloc(bytes, 7).toString('base64')}`),
      ).toBeUndefined();
    }
  });

  it.each([
    ['no prefix', Buffer.alloc(32).toString('base64'), /must be `whsec_`/],
    ['too short', `whsec_${Buffer.alloc(23).toString('base64')}`, /23 bytes/],
    ['too long', `whsec_${Buffer.alloc(65).toString('base64')}`, /65 bytes/],
    ['not base64', `whsec_${'!'.repeat(44)}`, /not standard padded base64/],
    ['url-safe alphabet', `whsec_${'-_'.repeat(22)}`, /not standard padded base64/],
    ['empty key', 'whsec_', /not standard padded base64/],
  ])('refuses %s', (_label, secret, message) => {
    expect(describeSigningSecretProblem(secret)).toMatch(message);
  });
});
