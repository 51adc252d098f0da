import { describe, expect, it } from 'vitest';
import { resolveSources } from '../../src/config/sources.ts';
import { serializeEventDetail } from '../../src/http/admin/serialize.ts';
import { providers } from '../../src/providers/registry.ts';
import { createSourceRedaction } from '../../src/redaction.ts';
import type { StoredEvent } from '../../src/store/types.ts';

describe('serializeEventDetail', () => {
  it("masks every scheme's declared signature headers, configured ones included, and keeps the rest", () => {
    const sources = resolveSources({
      acme: { provider: 'generic-hmac', header: 'X-Payload-Digest', secret: 's' },
    });
    const redaction = createSourceRedaction({ headers: ['x-internal'] }, sources.values());
    const declared = [
      ...Object.values(providers).flatMap((provider) => provider.secretHeaders),
      'x-payload-digest',
      'x-internal',
      // Not declared by anyone, but named like a credential: masked too.
      'x-sender-api-token',
    ];
    const kept = {
      'content-type': 'application/json',
      'x-github-delivery': 'abc',
      'paypal-transmission-id': 'id-1',
      'webhook-id': 'msg_1',
    };
    const headers = { ...Object.fromEntries(declared.map((name) => [name, 'SECRET'])), ...kept };
    const at = Date.UTC(2026, 0, 1);
    const event = {
      headers,
      body: Buffer.from('{}'),
      receivedAt: at,
      lastDeliveryAt: at,
      processedAt: null,
      nextAttemptAt: null,
      lockedUntil: null,
      lockedAt: null,
      updatedAt: at,
    } as unknown as StoredEvent;
    const shown = serializeEventDetail(event, [], redaction).headers;
    for (const name of declared) expect(shown[name], name).toBe('[redacted]');
    expect(shown).toMatchObject(kept);
    expect(JSON.stringify(shown)).not.toContain('SECRET');
  });
});
