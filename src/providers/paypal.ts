/**
 * PayPal: an RSA (PKCS#1 v1.5, SHA-256) signature in `PAYPAL-TRANSMISSION-SIG` over
 * `<transmission id>|<transmission time>|<webhook id>|<CRC32 of the raw body, unsigned decimal>`,
 * checked against the certificate at `PAYPAL-CERT-URL`.
 *
 * The certificate URL comes from the request, so it is the attack surface: only https URLs
 * on PayPal's API hosts under /v1/notifications/certs/ are ever fetched, and anything else is
 * refused before a request leaves this process (no SSRF, no attacker-supplied key). The
 * webhook id comes from settings, never from the request, so a delivery signed for another
 * PayPal app's webhook does not verify here.
 */
import { randomUUID, sign as rsaSign, verify as rsaVerify, X509Certificate } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as zlib from 'node:zlib';
import { z } from 'zod';
import { toleranceSeconds } from './settings.ts';
import type { Delivery, Provider, Rejection, SignedDelivery, SignOptions, Verification } from './types.ts';
import {
  accept,
  checkTimestampTolerance,
  decodeSignature,
  describeError,
  isRecord,
  LruCache,
  parseJson,
  readHeader,
  readJsonKey,
  reject,
  rejectMismatchAsync,
} from './verify-core.ts';

// ---------------------------------------------------------------------------------------------
// Certificate URLs

const CERT_HOSTS = new Set([
  'api.paypal.com',
  'api.sandbox.paypal.com',
  'api-m.paypal.com',
  'api-m.sandbox.paypal.com',
]);
const CERT_PATH = '/v1/notifications/certs/';
const CERT_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

/**
 * The certificate's name (last path segment) when `url` is one Hookbox fetches, else why not.
 * The URL must already be in canonical form (WHATWG serialisation equals the text): that one
 * rule rejects explicit ports (even :443), user-info, backslashes, dot segments, percent
 * escapes in the host, upper case and whitespace, which parsers disagree about.
 */
export function checkCertificateUrl(url: string): { ok: true; name: string } | { ok: false; reason: string } {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return { ok: false, reason: 'is not a URL' };
  }
  if (parsed.protocol !== 'https:') return { ok: false, reason: 'is not https' };
  // The authority as written: the parser drops a default port (:443) that should still be refused.
  const authority = /^[a-z][a-z0-9+.-]*:\/\/([^/?#\\]*)/i.exec(url)?.[1] ?? '';
  if (parsed.username !== '' || parsed.password !== '' || authority.includes('@')) {
    return { ok: false, reason: 'carries user info' };
  }
  if (parsed.port !== '' || /:[^\]]*$/.test(authority)) return { ok: false, reason: 'names a port' };
  if (!CERT_HOSTS.has(parsed.hostname)) {
    return { ok: false, reason: `is not on a PayPal API host (${[...CERT_HOSTS].join(', ')})` };
  }
  if (parsed.href !== url) return { ok: false, reason: 'is not in canonical form' };
  if (parsed.search !== '' || parsed.hash !== '') return { ok: false, reason: 'has a query or fragment' };
  if (!parsed.pathname.startsWith(CERT_PATH)) return { ok: false, reason: `is not under ${CERT_PATH}` };
  const name = parsed.pathname.slice(CERT_PATH.length);
  if (!CERT_NAME.test(name)) return { ok: false, reason: 'does not end in a certificate name' };
  return { ok: true, name };
}

// ---------------------------------------------------------------------------------------------
// Settings

const certificateUrl = z.string().refine((url) => checkCertificateUrl(url).ok, {
  message: `must be https://api(-m)(.sandbox).paypal.com${CERT_PATH}<name>`,
});

export const paypalSettingsSchema = z.strictObject({
  /** The id PayPal shows for this webhook (Developer Dashboard > app > Webhooks): part of the signed message. */
  webhookId: z.string().min(1, 'must not be empty: copy the webhook id from the PayPal developer dashboard'),
  /** A folder of PEM files named `<last segment of the cert URL>.pem`, consulted before any fetch. */
  certDir: z.string().min(1).optional(),
  /**
   * Off by default: PayPal documents no freshness window, and it retries a failed delivery for
   * up to three days, so refusing an old transmission time could lose the event.
   */
  toleranceSeconds: toleranceSeconds.optional(),
  /** Test/dev only (`hookbox send`): a PEM private key matching a certificate in certDir. */
  signingKey: z.string().min(1).optional(),
  /** Test/dev only: the cert URL `sign` puts in PAYPAL-CERT-URL. */
  signingCertUrl: certificateUrl.optional(),
});

export type PaypalSettingsInput = z.input<typeof paypalSettingsSchema>;
export type PaypalSettings = z.output<typeof paypalSettingsSchema>;

const DEFAULT_SIGNING_CERT_URL = `https://api-m.sandbox.paypal.com${CERT_PATH}CERT-hookbox-test`;

// ---------------------------------------------------------------------------------------------
// CRC32

/** Table-driven CRC-32 (IEEE), for runtimes before node:zlib's crc32 (Node 20.15). */
function crc32Fallback(bytes: Uint8Array): number {
  let table = crcTable;
  if (table === undefined) {
    table = new Uint32Array(256);
    for (let n = 0; n < 256; n += 1) {
      let c = n;
      for (let k = 0; k < 8; k += 1) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      table[n] = c >>> 0;
    }
    crcTable = table;
  }
  let crc = 0xffffffff;
  for (const byte of bytes) crc = (table[(crc ^ byte) & 0xff] ?? 0) ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}
let crcTable: Uint32Array | undefined;

const zlibCrc32 = (zlib as { crc32?: (data: Uint8Array) => number }).crc32;

/** The body's CRC32 as PayPal signs it: unsigned decimal (a signed int32 would break half the bodies). */
export function crc32Unsigned(bytes: Uint8Array): string {
  const crc = zlibCrc32 === undefined ? crc32Fallback(bytes) : zlibCrc32(bytes);
  return String(crc >>> 0);
}

// ---------------------------------------------------------------------------------------------
// Provider

export interface PaypalProviderOptions {
  /** Fetches a certificate PEM; only ever called with URLs checkCertificateUrl accepts. */
  fetchCertificate?: (url: string) => Promise<string>;
  /** How many certificates to keep, by URL. */
  cacheSize?: number;
}

const MAX_CERTIFICATE_BYTES = 64 * 1024;

/** The production fetcher: global fetch, no redirects (a redirect could lead off PayPal's hosts). */
export async function fetchCertificateOverHttps(url: string): Promise<string> {
  const response = await fetch(url, { redirect: 'error', signal: AbortSignal.timeout(10_000) });
  if (!response.ok) throw new Error(`HTTP ${response.status} from the certificate URL`);
  const text = await response.text();
  if (text.length > MAX_CERTIFICATE_BYTES) throw new Error('the certificate response is larger than 64 KiB');
  return text;
}

const HEADERS = {
  id: 'paypal-transmission-id',
  time: 'paypal-transmission-time',
  sig: 'paypal-transmission-sig',
  certUrl: 'paypal-cert-url',
  algo: 'paypal-auth-algo',
} as const;

const ISO_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?(?:Z|[+-]\d{2}:\d{2})$/;

function readCommonName(certificate: X509Certificate): string[] {
  return certificate.subject
    .split('\n')
    .filter((line) => line.startsWith('CN='))
    .map((line) => line.slice(3).toLowerCase());
}

export function createPaypalProvider(options: PaypalProviderOptions = {}): Provider<PaypalSettings> {
  const fetchCertificate = options.fetchCertificate ?? fetchCertificateOverHttps;
  // In-flight loads are shared, so a burst of deliveries fetches a new certificate once.
  const certificates = new LruCache<string, Promise<X509Certificate>>(options.cacheSize ?? 100);

  async function readCertificatePem(url: string, name: string, certDir: string | undefined): Promise<string> {
    if (certDir !== undefined) {
      try {
        return await readFile(join(certDir, `${name}.pem`), 'utf8');
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
      }
    }
    return fetchCertificate(url);
  }

  function loadCertificate(url: string, name: string, certDir: string | undefined): Promise<X509Certificate> {
    const cached = certificates.get(url);
    if (cached !== undefined) return cached;
    const loading = readCertificatePem(url, name, certDir).then((pem) => new X509Certificate(pem));
    certificates.set(url, loading);
    // A failed load is forgotten, so the next delivery (PayPal retries) tries again.
    loading.catch(() => {
      if (certificates.peek(url) === loading) certificates.delete(url);
    });
    return loading;
  }

  async function verifyPaypal(delivery: Delivery, settings: PaypalSettings): Promise<Verification> {
    const transmissionId = readHeader(delivery.headers, HEADERS.id);
    const transmissionTime = readHeader(delivery.headers, HEADERS.time);
    const signatureText = readHeader(delivery.headers, HEADERS.sig);
    const certUrl = readHeader(delivery.headers, HEADERS.certUrl);
    const algorithm = readHeader(delivery.headers, HEADERS.algo);
    if (
      transmissionId === undefined ||
      transmissionTime === undefined ||
      signatureText === undefined ||
      certUrl === undefined ||
      algorithm === undefined
    ) {
      const missing = Object.values(HEADERS).filter(
        (name) => readHeader(delivery.headers, name) === undefined,
      );
      return reject(
        'signature_missing',
        `missing ${missing.map((name) => name.toUpperCase()).join(', ')}: subscribe the PayPal webhook to this URL`,
      );
    }
    if (algorithm !== 'SHA256withRSA') {
      return reject(
        'signature_malformed',
        `PAYPAL-AUTH-ALGO is ${JSON.stringify(algorithm.slice(0, 40))}: only SHA256withRSA is accepted`,
      );
    }
    const transmittedAt = ISO_TIME.test(transmissionTime) ? Date.parse(transmissionTime) : Number.NaN;
    if (Number.isNaN(transmittedAt)) {
      return reject('signature_malformed', 'PAYPAL-TRANSMISSION-TIME is not an ISO 8601 date-time');
    }
    // PayPal's SDKs decode the signature with Node's lenient base64 decoder; so does Hookbox.
    const signature = decodeSignature(signatureText, 'base64', { anyBase64: true });
    if (signature === undefined)
      return reject('signature_malformed', 'PAYPAL-TRANSMISSION-SIG is not base64');

    const urlCheck = checkCertificateUrl(certUrl);
    if (!urlCheck.ok) {
      return reject(
        'certificate_refused',
        `PAYPAL-CERT-URL ${urlCheck.reason}: Hookbox only fetches https://api(-m)(.sandbox).paypal.com${CERT_PATH}<name>, so this delivery did not come from PayPal`,
      );
    }

    let certificate: X509Certificate;
    try {
      certificate = await loadCertificate(certUrl, urlCheck.name, settings.certDir);
    } catch (error) {
      return reject(
        'certificate_refused',
        `could not load the signing certificate ${certUrl} (${describeError(error)}): PayPal retries, or put ${urlCheck.name}.pem in certDir`,
      );
    }
    const problem = checkCertificate(certificate, transmittedAt, transmissionTime);
    if (problem !== undefined) return problem;

    const prefix = `${transmissionId}|${transmissionTime}|${settings.webhookId}|`;
    const matches = (body: Uint8Array) => {
      try {
        return rsaVerify(
          'sha256',
          Buffer.from(prefix + crc32Unsigned(body), 'utf8'),
          certificate.publicKey,
          signature,
        );
      } catch {
        return false;
      }
    };
    if (!matches(delivery.body)) {
      return rejectMismatchAsync({
        delivery,
        label: 'transmission signature',
        mismatchMessage:
          "PAYPAL-TRANSMISSION-SIG does not verify: is webhookId this webhook's id in the PayPal dashboard? was the body re-serialized?",
        matchesBody: matches,
      });
    }

    if (settings.toleranceSeconds !== undefined) {
      const stale = checkTimestampTolerance(
        Math.floor(transmittedAt / 1000),
        delivery.now,
        settings.toleranceSeconds,
      );
      if (stale !== undefined) return stale;
    }

    return readPaypalEvent(delivery.body);
  }

  async function signPaypal(
    body: Buffer,
    settings: PaypalSettings,
    options: SignOptions,
  ): Promise<SignedDelivery> {
    if (settings.signingKey === undefined) {
      throw new Error(
        'paypal: only PayPal can sign real deliveries; for tests set signingKey (a PEM private key) and put the matching certificate in certDir',
      );
    }
    const transmissionId = randomUUID();
    const transmissionTime = new Date(options.now).toISOString().replace(/\.\d{3}Z$/, 'Z');
    const message = `${transmissionId}|${transmissionTime}|${settings.webhookId}|${crc32Unsigned(body)}`;
    const signature = rsaSign('sha256', Buffer.from(message, 'utf8'), settings.signingKey);
    return {
      headers: {
        'content-type': 'application/json',
        [HEADERS.id]: transmissionId,
        [HEADERS.time]: transmissionTime,
        [HEADERS.sig]: signature.toString('base64'),
        [HEADERS.certUrl]: settings.signingCertUrl ?? DEFAULT_SIGNING_CERT_URL,
        [HEADERS.algo]: 'SHA256withRSA',
      },
      body,
    };
  }

  return {
    name: 'paypal',
    secretHeaders: [HEADERS.sig],
    parseSettings: (raw) => paypalSettingsSchema.parse(raw),
    verify: verifyPaypal,
    sign: signPaypal,
    sampleBody: samplePaypalBody,
  };
}

function checkCertificate(
  certificate: X509Certificate,
  transmittedAt: number,
  time: string,
): Rejection | undefined {
  const names = readCommonName(certificate);
  if (names.length === 0 || !names.every((name) => name.endsWith('.paypal.com'))) {
    return reject(
      'certificate_refused',
      `the certificate's subject CN is ${JSON.stringify(names.join(', '))}, not a *.paypal.com name: this delivery did not come from PayPal`,
    );
  }
  if (certificate.publicKey.asymmetricKeyType !== 'rsa') {
    return reject('certificate_refused', 'the certificate does not hold an RSA key, as SHA256withRSA needs');
  }
  const validFrom = Date.parse(certificate.validFrom);
  const validTo = Date.parse(certificate.validTo);
  if (!(transmittedAt >= validFrom && transmittedAt <= validTo)) {
    return reject(
      'certificate_refused',
      `the certificate is valid from ${certificate.validFrom} to ${certificate.validTo}, not at the transmission time ${time}`,
    );
  }
  return undefined;
}

function readPaypalEvent(body: Buffer): Verification {
  const parsed = parseJson(body);
  if (!parsed.ok || !isRecord(parsed.value)) {
    return reject('payload_invalid', 'the body is not a JSON object: PayPal sends an event object');
  }
  const id = readJsonKey(parsed.value, 'id');
  if (id === undefined) {
    return reject('payload_invalid', 'the event has no string `id`: Hookbox dedupes PayPal events on it');
  }
  const eventType = readJsonKey(parsed.value, 'event_type');
  if (eventType === undefined) {
    return reject(
      'payload_invalid',
      'the event has no string `event_type`: Hookbox routes PayPal events on it',
    );
  }
  return accept({ dedupeKey: id, eventType, payload: parsed.value });
}

function samplePaypalBody(options: { eventType: string; eventId: string; now: number }): Buffer {
  const at = new Date(options.now).toISOString().replace(/\.\d{3}Z$/, 'Z');
  const event = {
    id: options.eventId,
    event_version: '1.0',
    create_time: at,
    resource_type: 'capture',
    resource_version: '2.0',
    event_type: options.eventType,
    summary: 'Payment completed for $ 20.0 USD',
    resource: {
      id: '42311647XV020574X',
      amount: { currency_code: 'USD', value: '20.00' },
      final_capture: true,
      status: 'COMPLETED',
      create_time: at,
      update_time: at,
    },
    links: [
      {
        href: `https://api.sandbox.paypal.com/v1/notifications/webhooks-events/${options.eventId}`,
        rel: 'self',
        method: 'GET',
      },
    ],
  };
  return Buffer.from(JSON.stringify(event), 'utf8');
}

/** The production instance: certificates fetched with global fetch. */
export const paypal: Provider<PaypalSettings> = createPaypalProvider();
