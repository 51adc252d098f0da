import { verify as rsaVerify, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  checkCertificateUrl,
  crc32Unsigned,
  createPaypalProvider,
  fetchCertificateOverHttps,
  paypal,
} from '../../src/providers/paypal.ts';
import {
  changeOneByte,
  deliveryOf,
  expectAccepted,
  expectRejected,
  fixturesDir,
  makeDelivery,
  readVectors,
  vectorsDir,
} from './helpers.ts';

const vector = readVectors().paypal_sdk_real;
const paypalDir = new URL('paypal/', vectorsDir);
const certDir = fileURLToPath(paypalDir);
const body = readFileSync(new URL('paypal-body.json', paypalDir));
const vectorHeaders = JSON.parse(readFileSync(new URL('paypal-headers.json', paypalDir), 'utf8')) as Record<
  string,
  string
>;
const vectorCertPem = readFileSync(new URL('CERT-360caa42-fca2a594-a5cafa77.pem', paypalDir), 'utf8');
const transmittedAt = Date.parse(vector.transmission_time);

const testKeyPem = readFileSync(new URL('paypal-test-key.pem', fixturesDir), 'utf8');
const testCertPem = readFileSync(new URL('paypal-test-cert.pem', fixturesDir), 'utf8');
const wrongCnCertPem = readFileSync(new URL('paypal-wrong-cn-cert.pem', fixturesDir), 'utf8');

/** An injected fetcher that records calls and serves one PEM (or fails). */
function recordingFetcher(pem?: string) {
  const calls: string[] = [];
  const fetchCertificate = async (url: string) => {
    calls.push(url);
    if (pem === undefined) throw new Error('no network in tests');
    return pem;
  };
  return { calls, fetchCertificate };
}

afterEach(() => vi.unstubAllGlobals());

describe('paypal: the real signed delivery from the PayPal SDK', () => {
  const settings = paypal.parseSettings({ webhookId: vector.webhook_id, certDir });

  it('signs over the unsigned decimal CRC32 of the raw bytes; the signed-int32 form does not verify', () => {
    expect(body.length).toBe(vector.body_bytes);
    expect(crc32Unsigned(body)).toBe(vector.crc32_unsigned_decimal);
    const prefix = `${vector.transmission_id}|${vector.transmission_time}|${vector.webhook_id}|`;
    expect(`${prefix}${crc32Unsigned(body)}`).toBe(vector.signed_message);
    const key = new X509Certificate(vectorCertPem).publicKey;
    const signature = Buffer.from(vectorHeaders['paypal-transmission-sig']!, 'base64');
    expect(rsaVerify('sha256', Buffer.from(vector.signed_message), key, signature)).toBe(true);
    expect(rsaVerify('sha256', Buffer.from(`${prefix}${vector.crc32_signed_WRONG}`), key, signature)).toBe(
      false,
    );
  });

  it('verifies through certDir, as of its transmission time, without fetching', async () => {
    const { calls, fetchCertificate } = recordingFetcher();
    const provider = createPaypalProvider({ fetchCertificate });
    const accepted = expectAccepted(
      await provider.verify(makeDelivery({ body, headers: vectorHeaders, now: transmittedAt }), settings),
    );
    expect(accepted).toMatchObject({
      dedupeKey: 'WH-0G2756385H040842W-5Y612302CV158622M',
      eventType: 'PAYMENT.SALE.COMPLETED',
    });
    expect(calls).toEqual([]);
  });

  it('has no freshness window by default, so a retried delivery still verifies years later', async () => {
    const provider = createPaypalProvider(recordingFetcher());
    expectAccepted(
      await provider.verify(
        makeDelivery({ body, headers: vectorHeaders, now: Date.UTC(2026, 0, 1) }),
        settings,
      ),
    );
    const strict = paypal.parseSettings({ webhookId: vector.webhook_id, certDir, toleranceSeconds: 300 });
    expectRejected(
      await provider.verify(
        makeDelivery({ body, headers: vectorHeaders, now: Date.UTC(2026, 0, 1) }),
        strict,
      ),
      'timestamp_outside_tolerance',
    );
  });

  it('rejects a one-byte change of the body', async () => {
    const provider = createPaypalProvider(recordingFetcher());
    expectRejected(
      await provider.verify(
        makeDelivery({ body: changeOneByte(body), headers: vectorHeaders, now: transmittedAt }),
        settings,
      ),
      'signature_mismatch',
    );
  });

  it('rejects another webhook id (taken from settings, never from the request)', async () => {
    const provider = createPaypalProvider(recordingFetcher());
    const other = paypal.parseSettings({ webhookId: '1AB23456CD789012E', certDir });
    const rejected = expectRejected(
      await provider.verify(makeDelivery({ body, headers: vectorHeaders, now: transmittedAt }), other),
      'signature_mismatch',
    );
    expect(rejected.message).toContain('webhookId');
  });

  it('diagnoses a re-serialized body', async () => {
    const provider = createPaypalProvider(recordingFetcher());
    const pretty = Buffer.from(JSON.stringify(JSON.parse(body.toString()), null, 2));
    expectRejected(
      await provider.verify(
        makeDelivery({ body: pretty, headers: vectorHeaders, now: transmittedAt }),
        settings,
      ),
      'signature_body_reserialized',
    );
  });

  it('refuses the certificate at a time it was not valid', async () => {
    const provider = createPaypalProvider(recordingFetcher());
    const headers = { ...vectorHeaders, 'paypal-transmission-time': '2018-01-01T00:00:00Z' };
    const rejected = expectRejected(
      await provider.verify(makeDelivery({ body, headers, now: transmittedAt }), settings),
      'certificate_refused',
    );
    expect(rejected.message).toContain('not at the transmission time');
  });

  it('rejects missing headers and other algorithms', async () => {
    const provider = createPaypalProvider(recordingFetcher());
    const { 'paypal-transmission-sig': _sig, ...unsigned } = vectorHeaders;
    const missing = expectRejected(
      await provider.verify(makeDelivery({ body, headers: unsigned, now: transmittedAt }), settings),
      'signature_missing',
    );
    expect(missing.message).toContain('PAYPAL-TRANSMISSION-SIG');
    expectRejected(
      await provider.verify(
        makeDelivery({
          body,
          headers: { ...vectorHeaders, 'paypal-auth-algo': 'SHA1withRSA' },
          now: transmittedAt,
        }),
        settings,
      ),
      'signature_malformed',
    );
  });
});

describe('paypal certificate URLs', () => {
  const refused = [
    ['http', 'http://api.sandbox.paypal.com/v1/notifications/certs/CERT-360caa42-fca2a594-a5cafa77'],
    ['another host', 'https://evil.example/v1/notifications/certs/CERT-360caa42-fca2a594-a5cafa77'],
    ['a look-alike host', 'https://api.paypal.com.evil.example/v1/notifications/certs/CERT-1'],
    ['a sibling PayPal host', 'https://www.paypal.com/v1/notifications/certs/CERT-1'],
    ['an IPv4 literal', 'https://151.101.1.21/v1/notifications/certs/CERT-1'],
    ['an IPv6 literal', 'https://[2606:4700::1]/v1/notifications/certs/CERT-1'],
    ['user@host', 'https://api.paypal.com@evil.example/v1/notifications/certs/CERT-1'],
    ['user:password@host', 'https://user:pw@api.paypal.com/v1/notifications/certs/CERT-1'],
    ['a backslash trick', 'https://api.paypal.com\\@evil.example/v1/notifications/certs/CERT-1'],
    ['an explicit default port', 'https://api.paypal.com:443/v1/notifications/certs/CERT-1'],
    ['another port', 'https://api.paypal.com:8443/v1/notifications/certs/CERT-1'],
    ['another path', 'https://api.paypal.com/v1/oauth2/token'],
    ['dot segments', 'https://api.paypal.com/v1/notifications/certs/../../oauth2/token'],
    ['encoded dot segments', 'https://api.paypal.com/v1/notifications/certs/%2e%2e%2f%2e%2e%2fetc'],
    ['a query', 'https://api.paypal.com/v1/notifications/certs/CERT-1?next=https://evil.example'],
    ['a nested path', 'https://api.paypal.com/v1/notifications/certs/a/b'],
    ['upper case', 'https://API.PAYPAL.COM/v1/notifications/certs/CERT-1'],
    ['a file URL', 'file:///etc/passwd'],
    ['not a URL', 'CERT-360caa42-fca2a594-a5cafa77'],
  ] as const;

  for (const [what, url] of refused) {
    it(`refuses ${what} without sending a request`, async () => {
      const { calls, fetchCertificate } = recordingFetcher(testCertPem);
      const provider = createPaypalProvider({ fetchCertificate });
      const settings = paypal.parseSettings({ webhookId: vector.webhook_id, certDir });
      const headers = { ...vectorHeaders, 'paypal-cert-url': url };
      const rejected = expectRejected(
        await provider.verify(makeDelivery({ body, headers, now: transmittedAt }), settings),
        'certificate_refused',
      );
      expect(rejected.message).toContain('PAYPAL-CERT-URL');
      expect(calls).toEqual([]);
      expect(checkCertificateUrl(url).ok).toBe(false);
    });
  }

  it('accepts the four PayPal API hosts', () => {
    for (const host of [
      'api.paypal.com',
      'api.sandbox.paypal.com',
      'api-m.paypal.com',
      'api-m.sandbox.paypal.com',
    ]) {
      expect(checkCertificateUrl(`https://${host}/v1/notifications/certs/CERT-1a2b`)).toEqual({
        ok: true,
        name: 'CERT-1a2b',
      });
    }
  });

  it('the production fetcher refuses redirects', async () => {
    const fetchSpy = vi.fn(async () => {
      throw new TypeError('fetch failed: unexpected redirect');
    });
    vi.stubGlobal('fetch', fetchSpy);
    await expect(fetchCertificateOverHttps(vector.cert_url)).rejects.toThrow(/redirect/);
    expect(fetchSpy).toHaveBeenCalledWith(vector.cert_url, expect.objectContaining({ redirect: 'error' }));

    // Through the default provider: a redirect is a refused certificate, not a crash.
    const provider = createPaypalProvider();
    const settings = paypal.parseSettings({ webhookId: vector.webhook_id });
    const rejected = expectRejected(
      await provider.verify(makeDelivery({ body, headers: vectorHeaders, now: transmittedAt }), settings),
      'certificate_refused',
    );
    expect(rejected.message).toContain('could not load the signing certificate');
  });
});

describe('paypal with an injected fetcher and a test certificate', () => {
  const certUrl = 'https://api-m.sandbox.paypal.com/v1/notifications/certs/CERT-hookbox-test';
  const now = Date.UTC(2027, 0, 15, 12, 0, 0);
  const settings = paypal.parseSettings({
    webhookId: 'WH-TEST-1',
    signingKey: testKeyPem,
    signingCertUrl: certUrl,
  });

  async function signedDelivery(provider = paypal) {
    const sample = provider.sampleBody!({ eventType: 'PAYMENT.CAPTURE.COMPLETED', eventId: 'WH-evt-1', now });
    const signed = await provider.sign!(sample, settings, {
      now,
      url: 'https://x.test',
      eventType: 'PAYMENT.CAPTURE.COMPLETED',
      eventId: 'WH-evt-1',
    });
    return deliveryOf(signed, now);
  }

  it('fetches through the injected fetcher, then serves the certificate from the cache', async () => {
    const { calls, fetchCertificate } = recordingFetcher(testCertPem);
    const provider = createPaypalProvider({ fetchCertificate });
    const accepted = expectAccepted(await provider.verify(await signedDelivery(provider), settings));
    expect([accepted.dedupeKey, accepted.eventType]).toEqual(['WH-evt-1', 'PAYMENT.CAPTURE.COMPLETED']);
    expectAccepted(await provider.verify(await signedDelivery(provider), settings));
    expect(calls).toEqual([certUrl]);
  });

  it('refuses a certificate whose subject CN is not *.paypal.com', async () => {
    const provider = createPaypalProvider(recordingFetcher(wrongCnCertPem));
    const rejected = expectRejected(
      await provider.verify(await signedDelivery(provider), settings),
      'certificate_refused',
    );
    expect(rejected.message).toContain('paypal.com.attacker.example');
  });

  it('answers a fetch failure with certificate_refused, and retries the fetch next time', async () => {
    const failing = recordingFetcher();
    const provider = createPaypalProvider(failing);
    expectRejected(await provider.verify(await signedDelivery(provider), settings), 'certificate_refused');
    expectRejected(await provider.verify(await signedDelivery(provider), settings), 'certificate_refused');
    expect(failing.calls).toHaveLength(2);
  });

  it('signing needs a test key', async () => {
    const plain = paypal.parseSettings({ webhookId: 'WH-TEST-1' });
    await expect(
      paypal.sign!(Buffer.from('{}'), plain, { now, url: 'x', eventType: 't', eventId: 'i' }),
    ).rejects.toThrow(/signingKey/);
  });

  it('settings need a webhook id and a PayPal cert URL for signing', () => {
    expect(() => paypal.parseSettings({})).toThrow(/webhookId/);
    expect(() =>
      paypal.parseSettings({ webhookId: 'x', signingCertUrl: 'https://evil.example/cert' }),
    ).toThrow();
  });
});
