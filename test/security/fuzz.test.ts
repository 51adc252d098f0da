/**
 * Property-based fuzzing (fast-check) of every signature scheme's header parsing, through
 * `provider.verify`, and of the receive route. Properties: never an exception, never an
 * acceptance without a genuine signature, never a 5xx for garbage, nothing stored.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createManualClock } from '../../src/clock.ts';
import { resolveSources } from '../../src/config/sources.ts';
import { errorCatalogue } from '../../src/errors.ts';
import { createHookbox, type Hookbox } from '../../src/hookbox.ts';
import type { Source } from '../../src/ingest/source.ts';
import { createFirebaseProvider } from '../../src/providers/firebase.ts';
import { checkCertificateUrl, createPaypalProvider } from '../../src/providers/paypal.ts';
import type { Provider, Verification } from '../../src/providers/types.ts';
import type { Store } from '../../src/store/types.ts';
import { createTestStore, engines } from '../support/stores.ts';
import { baseUrl, createSchemeKeys, paypalCertName, type SchemeKeys, signFor } from './fixtures.ts';

// A few hundred runs per property keep each one to a few seconds on two shared cores.
const runs = { numRuns: 250 };

// ---------------------------------------------------------------------------------------------
// Arbitraries

/** Characters a header value may carry on the wire (Latin-1, no CR, LF or NUL). */
const headerChar = fc
  .integer({ min: 0x09, max: 0xff })
  .filter((code) => code !== 0x0a && code !== 0x0d)
  .map((code) => String.fromCharCode(code));
const headerText = (maxLength = 200) => fc.string({ unit: headerChar, maxLength });
const hex = (maxLength = 80) => fc.string({ unit: fc.constantFrom(...'0123456789abcdefABCDEF'), maxLength });
const base64 = (maxLength = 120) =>
  fc.string({
    unit: fc.constantFrom(...'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=-_'),
    maxLength,
  });
const tokenName = fc.stringMatching(/^[a-z][a-z0-9-]{0,20}$/);
// A signature of exactly the scheme's shape: a run that draws one (with a timestamp in
// tolerance, where the scheme has one) reaches the comparison for sure. Random lengths alone
// hit the exact length too rarely: 250 Stripe runs once got no further than the parser.
const hexSignature = fc.string({
  unit: fc.constantFrom(...'0123456789abcdef'),
  minLength: 64,
  maxLength: 64,
});
const base64Signature = (bytes: number) =>
  fc.uint8Array({ minLength: bytes, maxLength: bytes }).map((raw) => Buffer.from(raw).toString('base64'));

let nowMs = 0;
const nowSeconds = () => Math.floor(nowMs / 1000);
/** Unix seconds near now (so tolerance checks pass and the signature check runs), or anything. */
const timestamp = fc.oneof(
  fc.integer({ min: -400, max: 400 }).map((skew) => String(nowSeconds() + skew)),
  fc.integer({ min: 0, max: 99_999_999_999 }).map(String),
  headerText(20),
);
const isoTime = fc.oneof(
  fc.integer({ min: -86_400_000, max: 86_400_000 }).map((skew) => new Date(nowMs + skew).toISOString()),
  headerText(30),
);

/** Key=value lists like Stripe's, with the scheme's keys and garbage mixed in. */
const keyValueList = (keys: string[], values: fc.Arbitrary<string>) =>
  fc
    .array(fc.tuple(fc.oneof(fc.constantFrom(...keys), tokenName), values), { maxLength: 12 })
    .chain((pairs) =>
      fc
        .constantFrom(',', ', ', ';', ' ')
        .map((separator) => pairs.map(([key, value]) => `${key}=${value}`).join(separator)),
    );

const certUrl = fc.oneof(
  fc.constant(`https://api-m.sandbox.paypal.com/v1/notifications/certs/${paypalCertName}`),
  // Well-formed PayPal URLs naming a certificate Hookbox does not hold: these are fetched.
  fc
    .tuple(
      fc.constantFrom(
        'api.paypal.com',
        'api-m.paypal.com',
        'api.sandbox.paypal.com',
        'api-m.sandbox.paypal.com',
      ),
      fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9._-]{0,30}$/),
    )
    .map(([host, name]) => `https://${host}/v1/notifications/certs/${name}`),
  fc
    .tuple(
      fc.constantFrom('https', 'http', 'HTTPS', 'file', 'ftp'),
      fc.constantFrom(
        'api.paypal.com',
        'api-m.paypal.com',
        'api.sandbox.paypal.com',
        'api.paypal.com.evil.example',
        'api.paypal.com@evil.example',
        'evil.example#@api.paypal.com',
        '169.254.169.254',
        'localhost',
        '[::1]',
        'api.paypal.com:8443',
        'API.PAYPAL.COM',
      ),
      fc.constantFrom(
        '/v1/notifications/certs/',
        '/v1/notifications/certs/../',
        '/other/',
        '/v1/notifications/certs/%2e%2e/',
      ),
      fc.oneof(fc.stringMatching(/^[A-Za-z0-9._-]{0,30}$/), headerText(30)),
    )
    .map(([scheme, host, path, name]) => `${scheme}://${host}${path}${name}`),
  headerText(120),
);

const jwtLike = fc
  .tuple(
    fc.oneof(
      fc.json(),
      fc.constant('{"alg":"none","typ":"JWT"}'),
      fc.constant('{"alg":"RS256","kid":"hostile-1"}'),
    ),
    fc.json(),
    base64(60),
  )
  .map(([header, payload, signature]) => {
    const part = (text: string) => Buffer.from(text).toString('base64url');
    return `${part(header)}.${part(payload)}.${signature}`;
  });

/** Header values shaped like each scheme's, with garbage mixed in: the parsers' whole input space. */
const schemeHeaders: Record<string, fc.Arbitrary<string>> = {
  'stripe-signature': fc.oneof(
    fc.tuple(timestamp, hexSignature).map(([t, signature]) => `t=${t},v1=${signature}`),
    keyValueList(['t', 'v1', 'v0'], fc.oneof(hex(70), timestamp)),
    headerText(),
  ),
  'x-hub-signature-256': fc.oneof(
    hexSignature.map((h) => `sha256=${h}`),
    hex(70).map((h) => `sha256=${h}`),
    headerText(),
  ),
  'x-hub-signature': fc.oneof(
    hex(45).map((h) => `sha1=${h}`),
    headerText(),
  ),
  'x-github-delivery': headerText(40),
  'x-github-event': headerText(20),
  'webhook-id': headerText(40),
  'webhook-timestamp': timestamp,
  'webhook-signature': fc.oneof(
    base64Signature(32).map((b) => `v1,${b}`),
    fc
      .array(
        base64(50).map((b) => `v1,${b}`),
        { maxLength: 20 },
      )
      .map((list) => list.join(' ')),
    headerText(),
  ),
  'svix-signature': headerText(),
  'x-slack-signature': fc.oneof(
    hexSignature.map((h) => `v0=${h}`),
    hex(70).map((h) => `v0=${h}`),
    headerText(),
  ),
  'x-slack-request-timestamp': timestamp,
  'x-twilio-signature': fc.oneof(base64Signature(20), base64(40), headerText()),
  'x-twilio-webhooks-signature-settings': headerText(60),
  'x-shopify-hmac-sha256': fc.oneof(base64Signature(32), base64(50), headerText()),
  'x-shopify-topic': headerText(20),
  'x-shopify-event-id': headerText(20),
  'x-signature': fc.oneof(
    hexSignature.map((h) => `sha256=${h}`),
    hex(70).map((h) => `sha256=${h}`),
    headerText(),
  ),
  'paypal-transmission-id': headerText(40),
  'paypal-transmission-time': isoTime,
  'paypal-transmission-sig': fc.oneof(base64(400), headerText()),
  'paypal-cert-url': certUrl,
  'paypal-auth-algo': fc.oneof(fc.constant('SHA256withRSA'), headerText(20)),
  authorization: fc.oneof(
    jwtLike.map((t) => `Bearer ${t}`),
    headerText(300),
  ),
  'content-type': fc.oneof(
    fc.constantFrom(
      'application/json',
      'application/x-www-form-urlencoded',
      'text/plain',
      'multipart/form-data; boundary=x',
      'application/json; charset=utf-16',
    ),
    headerText(60),
  ),
};

function toHeaders(values: Record<string, string | undefined>): Headers {
  const headers = new Headers();
  for (const [name, value] of Object.entries(values)) {
    if (value === undefined) continue;
    try {
      headers.append(name, value);
    } catch {
      // A value Headers refuses cannot arrive over HTTP either.
    }
  }
  return headers;
}

/** Any subset of the schemes' headers, plus a few random ones. */
const headersArbitrary = fc
  .tuple(
    fc.record(schemeHeaders, { requiredKeys: [] }),
    fc.dictionary(tokenName, headerText(100), { maxKeys: 5 }),
  )
  .map(([known, extra]) => toHeaders({ ...extra, ...known }));

/** Each scheme's own headers, all present and mostly well-formed, so the fuzzing reaches the signature check. */
const ownHeaders: Record<string, string[]> = {
  stripe: ['stripe-signature'],
  github: ['x-hub-signature-256', 'x-github-delivery', 'x-github-event'],
  standard: ['webhook-id', 'webhook-timestamp', 'webhook-signature'],
  slack: ['x-slack-signature', 'x-slack-request-timestamp'],
  twilio: ['x-twilio-signature'],
  shopify: ['x-shopify-hmac-sha256', 'x-shopify-topic', 'x-shopify-event-id'],
  generic: ['x-signature'],
  paypal: [
    'paypal-transmission-id',
    'paypal-transmission-time',
    'paypal-transmission-sig',
    'paypal-cert-url',
    'paypal-auth-algo',
  ],
  firebase: ['authorization'],
};

/** The refusal that shows the verifier got as far as comparing a signature (or token). */
const deepRefusals: Record<string, string[]> = {
  stripe: ['signature_mismatch', 'signature_body_reserialized'],
  github: ['signature_mismatch', 'signature_body_reserialized'],
  standard: ['signature_mismatch', 'signature_body_reserialized'],
  slack: ['signature_mismatch', 'signature_body_reserialized'],
  twilio: ['signature_mismatch'],
  shopify: ['signature_mismatch', 'signature_body_reserialized'],
  generic: ['signature_mismatch', 'signature_body_reserialized'],
  paypal: ['signature_mismatch', 'signature_body_reserialized'],
  firebase: ['token_invalid'],
};

function wellFormedHeaders(scheme: string): fc.Arbitrary<Headers> {
  const names = ownHeaders[scheme]!;
  const picked = Object.fromEntries(names.map((name) => [name, schemeHeaders[name]!]));
  return fc.record(picked).map((values) => toHeaders(values));
}

const bodyArbitrary = fc.oneof(
  fc.uint8Array({ maxLength: 2048 }).map((bytes) => Buffer.from(bytes)),
  fc.json().map((text) => Buffer.from(text)),
  fc
    .record({
      id: fc.string(),
      type: fc.string(),
      message: fc.record({ messageId: fc.string(), data: base64(40) }),
    })
    .map((value) => Buffer.from(JSON.stringify(value))),
);

const urlArbitrary = (source: string) =>
  fc.oneof(
    fc.constant(`${baseUrl}/webhooks/${source}`),
    hex(64).map((h) => `${baseUrl}/webhooks/${source}?bodySHA256=${h}`),
    fc.webUrl(),
    headerText(40),
  );

// ---------------------------------------------------------------------------------------------
// Providers

let keys: SchemeKeys;
let sources: Map<string, Source>;
/** Every URL the PayPal verifier tried to fetch. */
const certificateFetches: string[] = [];

beforeAll(async () => {
  keys = await createSchemeKeys();
  nowMs = keys.now;
  sources = resolveSources(keys.sources);
  // No network: these fetchers only record and fail. Every other lookup is file-based.
  const paypal = createPaypalProvider({
    fetchCertificate: async (url) => {
      certificateFetches.push(url);
      throw new Error('no network in the fuzz tests');
    },
  });
  const firebase = createFirebaseProvider({
    fetchJwks: async () => {
      throw new Error('no network in the fuzz tests');
    },
  });
  sources.set('paypal', { ...sources.get('paypal')!, provider: paypal as Provider<unknown> });
  sources.set('firebase', { ...sources.get('firebase')!, provider: firebase as Provider<unknown> });
});
afterAll(() => keys?.cleanup());

const schemeSources = [
  'stripe',
  'github',
  'standard',
  'slack',
  'twilio',
  'shopify',
  'generic',
  'paypal',
  'firebase',
];

/** Verify, turning an exception into a failed property with its message. */
async function verifySafely(
  source: Source,
  delivery: Parameters<Provider['verify']>[0],
): Promise<Verification> {
  try {
    return await source.provider.verify(delivery, source.settings);
  } catch (error) {
    throw new Error(
      `${source.provider.name}.verify threw for garbage: ${(error as Error)?.stack ?? String(error)}`,
    );
  }
}

function expectRefused(result: Verification, scheme: string): void {
  if (result.ok)
    throw new Error(`${scheme} accepted a delivery without a genuine signature: ${result.dedupeKey}`);
  const status = errorCatalogue[result.code]?.status;
  expect(status, `${scheme}: ${result.code}`).toBeGreaterThanOrEqual(400);
  expect(status, `${scheme}: ${result.code}`).toBeLessThan(500);
  expect(typeof result.message).toBe('string');
}

describe.each(schemeSources)('fuzzing the %s scheme through provider.verify', (name) => {
  it('never throws and never accepts garbage headers and bodies', async () => {
    const source = sources.get(name)!;
    await fc.assert(
      fc.asyncProperty(headersArbitrary, bodyArbitrary, urlArbitrary(name), async (headers, body, url) => {
        const result = await verifySafely(source, { headers, body, url, now: nowMs });
        expectRefused(result, name);
      }),
      runs,
    );
  });

  it('never accepts well-formed headers with forged signatures, and reaches the signature check', async () => {
    const source = sources.get(name)!;
    const refusals = new Map<string, number>();
    await fc.assert(
      fc.asyncProperty(wellFormedHeaders(name), bodyArbitrary, async (headers, body) => {
        const url = `${baseUrl}/webhooks/${name}`;
        const result = await verifySafely(source, { headers, body, url, now: nowMs });
        expectRefused(result, name);
        if (!result.ok) refusals.set(result.code, (refusals.get(result.code) ?? 0) + 1);
      }),
      runs,
    );
    // Not vacuous: some runs got past parsing to the comparison itself.
    const deep = deepRefusals[name]!.reduce((sum, code) => sum + (refusals.get(code) ?? 0), 0);
    expect(deep, JSON.stringify(Object.fromEntries(refusals))).toBeGreaterThan(0);
  });

  it('never accepts a genuine delivery whose body was swapped for another', async () => {
    const source = sources.get(name)!;
    // Firebase authenticates the push endpoint with a token, not the body (see docs/security.md).
    if (name === 'firebase') return;
    const signed = await signFor(source, { eventId: `evt_fuzz_${name}`, now: nowMs });
    // The genuine delivery itself passes: the property below is not vacuous.
    expect(
      (await verifySafely(source, { ...signed, headers: new Headers(signed.headers), now: nowMs })).ok,
    ).toBe(true);
    await fc.assert(
      fc.asyncProperty(
        bodyArbitrary.filter((other) => !other.equals(signed.body)),
        async (other) => {
          // Twilio signs decoded form parameters: a body that decodes to the same parameters is the same delivery.
          if (name === 'twilio' && sameFormParameters(other, signed.body)) return;
          const result = await verifySafely(source, {
            body: other,
            headers: new Headers(signed.headers),
            url: signed.url,
            now: nowMs,
          });
          expectRefused(result, name);
        },
      ),
      { numRuns: 100 },
    );
  });

  it('never accepts a delivery signed with any other secret or key', async () => {
    if (name === 'paypal' || name === 'firebase') return; // keys, not secrets: covered by the garbage property
    const source = sources.get(name)!;
    const settings = source.settings as Record<string, unknown>;
    const secretKey = ['secrets', 'signingSecrets', 'authTokens'].find((key) =>
      Array.isArray(settings[key]),
    )!;
    const genuine = settings[secretKey] as string[];
    const secretArbitrary =
      name === 'standard'
        ? fc
            .uint8Array({ minLength: 1, maxLength: 40 })
            .map((bytes) => `whsec_${Buffer.from(bytes).toString('base64')}`)
        : fc.string({ minLength: 1, maxLength: 40 }).filter((s) => s.trim() === s && s.length > 0);
    await fc.assert(
      fc.asyncProperty(
        secretArbitrary.filter((secret) => !genuine.includes(secret)),
        async (secret) => {
          const forger = { ...source, settings: { ...settings, [secretKey]: [secret] } };
          const signed = await signFor(forger, { eventId: 'evt_forged', now: nowMs });
          const result = await verifySafely(source, {
            body: signed.body,
            headers: new Headers(signed.headers),
            url: signed.url,
            now: nowMs,
          });
          expectRefused(result, name);
        },
      ),
      { numRuns: 100 },
    );
  });
});

function sameFormParameters(a: Buffer, b: Buffer): boolean {
  const sorted = (body: Buffer) =>
    [...new URLSearchParams(body.toString('utf8'))]
      .map((pair) => pair.join('='))
      .sort()
      .join('&');
  return sorted(a) === sorted(b);
}

describe('PayPal certificate URLs under fuzzing', () => {
  it('fetches only https URLs on PayPal certificate hosts and paths, whatever the header says', async () => {
    const source = sources.get('paypal')!;
    const genuine = await signFor(source, { eventId: 'WH-fuzz-cert', now: nowMs });
    const outcomes = new Map<string, number>();
    await fc.assert(
      fc.asyncProperty(certUrl, async (url) => {
        const headers = new Headers(genuine.headers);
        try {
          headers.set('paypal-cert-url', url);
        } catch {
          return; // not a header value HTTP can carry
        }
        const result = await verifySafely(source, {
          body: genuine.body,
          headers,
          url: genuine.url,
          now: nowMs,
        });
        // Only the URL named by the genuine signer verifies; any other is refused one way or another.
        if (result.ok) expect(url).toBe(genuine.headers['paypal-cert-url']);
        else outcomes.set(result.code, (outcomes.get(result.code) ?? 0) + 1);
      }),
      { numRuns: 400 },
    );
    for (const url of certificateFetches) expect(checkCertificateUrl(url).ok, url).toBe(true);
    // Both paths were taken: URLs refused before any fetch, and well-formed ones fetched (and failed).
    expect(outcomes.get('certificate_refused') ?? 0).toBeGreaterThan(0);
    expect(certificateFetches.length).toBeGreaterThan(0);
  });
});

// ---------------------------------------------------------------------------------------------
// The receive route

// Mostly configured sources, so most runs go past the lookup into limits and verification.
const sourceSegment = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom(...schemeSources, 'stripe-b', 'tight', 'wide') },
  fc.string({ maxLength: 80 }).map(encodeURIComponent),
  fc.string({ unit: 'grapheme', maxLength: 20 }).map(encodeURIComponent),
  fc.constantFrom('..%2f..', '%2e%2e', '%00', '%ff', '__proto__', 'constructor', 'stripe%0d%0aX: y'),
);

describe.each(engines)('fuzzing the receive route on %s', (engine) => {
  let hookbox: Hookbox;
  let store: Store;
  let cleanup: () => Promise<void>;
  const unhandled: unknown[] = [];
  const onUnhandled = (reason: unknown) => unhandled.push(reason);

  beforeAll(async () => {
    process.on('unhandledRejection', onUnhandled);
    const testStore = await createTestStore(engine);
    store = testStore.store;
    cleanup = testStore.cleanup;
    hookbox = createHookbox({
      store,
      clock: createManualClock(keys.now),
      sources: keys.sources,
      worker: { enabled: false },
    });
    await hookbox.start();
  });
  afterAll(async () => {
    process.off('unhandledRejection', onUnhandled);
    await hookbox?.worker.stop();
    await cleanup?.();
  });

  it('answers arbitrary deliveries with a 4xx and a catalogue code, never a 5xx, storing nothing', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom('/webhooks/', '/api/webhooks/'),
        sourceSegment,
        fc.oneof(headersArbitrary, fc.constantFrom(...schemeSources).chain(wellFormedHeaders)),
        bodyArbitrary,
        async (prefix, segment, headers, body) => {
          const response = await hookbox.fetch(
            new Request(`${baseUrl}${prefix}${segment}`, {
              method: 'POST',
              headers,
              body: new Uint8Array(body),
            }),
          );
          const text = await response.text();
          expect(response.status, text).toBeGreaterThanOrEqual(400);
          expect(response.status, text).toBeLessThan(500);
          const json = JSON.parse(text) as { error: { code: keyof typeof errorCatalogue } };
          expect(errorCatalogue[json.error.code]?.status).toBe(response.status);
        },
      ),
      { numRuns: 300 },
    );
    expect(await store.countEvents({})).toBe(0);
    // Let any stray promise settle before checking that none was left unhandled.
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(unhandled).toEqual([]);
  });
});
