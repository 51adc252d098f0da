import { describe, expect, it } from 'vitest';
import { redactHeaders } from '../../src/http/admin/serialize.ts';

describe('redactHeaders', () => {
  it("masks every provider's signature header and credentials, and keeps the rest", () => {
    const signatureHeaders = [
      'stripe-signature',
      'paypal-transmission-sig',
      'x-twilio-signature',
      'x-hub-signature-256',
      'x-shopify-hmac-sha256',
      'x-slack-signature',
      'webhook-signature',
      'svix-signature',
      'authorization',
      'cookie',
    ];
    const kept = {
      'content-type': 'application/json',
      'x-github-delivery': 'abc',
      'paypal-transmission-id': 'id-1',
    };
    const headers = { ...Object.fromEntries(signatureHeaders.map((name) => [name, 'SECRET'])), ...kept };
    const redacted = redactHeaders(headers);
    for (const name of signatureHeaders) expect(redacted[name], name).toBe('[redacted]');
    expect(redacted).toMatchObject(kept);
  });
});
