import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { getProvider, providers } from '../../src/providers/registry.ts';
import { deliveryOf, expectAccepted, fixturesDir } from './helpers.ts';

describe('provider registry', () => {
  it('lists every scheme under its config name', () => {
    expect(Object.keys(providers).sort()).toEqual(
      [
        'firebase',
        'generic-hmac',
        'github',
        'paypal',
        'shopify',
        'slack',
        'standard-webhooks',
        'stripe',
        'twilio',
      ].sort(),
    );
    for (const [name, provider] of Object.entries(providers)) {
      expect(provider.name).toBe(name);
      for (const header of provider.secretHeaders) expect(header).toBe(header.toLowerCase());
    }
  });

  it('getProvider names the known providers when the name is unknown', () => {
    expect(getProvider('stripe')).toBe(providers.stripe);
    expect(() => getProvider('strpie')).toThrow(
      /unknown provider "strpie": known providers are stripe, paypal, twilio/,
    );
    expect(() => getProvider('toString')).toThrow(/unknown provider/);
  });
});

/** What `hookbox send` does: sample body, sign, and the verifier accepts it. */
describe('every HMAC scheme round-trips sampleBody -> sign -> verify', () => {
  const now = Date.UTC(2027, 0, 15, 12, 0, 0);
  const url = 'https://hooks.example.com/webhooks/test';
  const cases: Record<string, [settings: unknown, eventType: string]> = {
    stripe: [{ secret: 'whsec_roundtrip' }, 'payment_intent.succeeded'],
    twilio: [{ authToken: 'f'.repeat(32) }, 'message.delivered'],
    'standard-webhooks': [{ secret: `whsec_${Buffer.alloc(24, 3).toString('base64')}` }, 'invoice.paid'],
    github: [{ secret: 'gh' }, 'issues.opened'],
    shopify: [{ secret: 'sh' }, 'orders/create'],
    slack: [{ signingSecret: 'slack-secret' }, 'app_mention'],
    'generic-hmac': [
      { header: 'x-signature', secret: 'g', eventType: { jsonPath: 'type' }, dedupeKey: { jsonPath: 'id' } },
      'thing.happened',
    ],
    paypal: [
      {
        webhookId: 'WH-1',
        signingKey: readFileSync(new URL('paypal-test-key.pem', fixturesDir), 'utf8'),
        signingCertUrl: 'https://api-m.sandbox.paypal.com/v1/notifications/certs/paypal-test-cert',
        certDir: fileURLToPath(fixturesDir),
      },
      'PAYMENT.CAPTURE.COMPLETED',
    ],
  };
  for (const [name, [raw, eventType]] of Object.entries(cases)) {
    it(name, async () => {
      const provider = getProvider(name);
      const settings = provider.parseSettings(raw);
      const body = provider.sampleBody!({ eventType, eventId: 'evt_roundtrip_1', now });
      const signed = await provider.sign!(body, settings, {
        now,
        url,
        eventType,
        eventId: 'evt_roundtrip_1',
      });
      const accepted = expectAccepted(await provider.verify(deliveryOf(signed, now, url), settings));
      expect(accepted.eventType).toBe(eventType);
      // GitHub and Shopify sign only the body, so their key is its hash (docs/security.md); the
      // sample bodies carry the event id, so two samples are still two events.
      const signedBodyOnly = name === 'github' || name === 'shopify';
      if (signedBodyOnly) {
        expect(accepted.dedupeKey).toBe(createHash('sha256').update(body).digest('hex'));
        expect(body.toString()).toContain('evt_roundtrip_1');
      } else if (name !== 'twilio') expect(accepted.dedupeKey).toBe('evt_roundtrip_1');
    });
  }
});
