import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { OAuth2Client } from 'google-auth-library';
import { exportJWK, exportPKCS8, exportSPKI, generateKeyPair, type JWTPayload, SignJWT } from 'jose';
import { beforeAll, describe, expect, it } from 'vitest';
import { createFirebaseProvider, firebase, GOOGLE_JWKS_URL } from '../../src/providers/firebase.ts';
import type { Delivery } from '../../src/providers/types.ts';
import { expectAccepted, expectRejected, makeDelivery } from './helpers.ts';

const audience = 'https://hooks.example.com/webhooks/firebase';
const email = 'pubsub-push@hookbox-test.iam.gserviceaccount.com';
const kid = 'test-key-1';

type KeyPair = Awaited<ReturnType<typeof generateKeyPair>>;
let keys: KeyPair;
let otherKeys: KeyPair;
let publicJwk: Record<string, unknown>;
let publicPem: string;
let jwksFile: string;

beforeAll(async () => {
  keys = await generateKeyPair('RS256', { extractable: true });
  otherKeys = await generateKeyPair('RS256', { extractable: true });
  publicJwk = { ...(await exportJWK(keys.publicKey)), kid, alg: 'RS256', use: 'sig' };
  publicPem = await exportSPKI(keys.publicKey);
  jwksFile = join(mkdtempSync(join(tmpdir(), 'hookbox-jwks-')), 'jwks.json');
  writeFileSync(jwksFile, JSON.stringify({ keys: [publicJwk] }));
});

async function token(
  now: number,
  claims: JWTPayload = {},
  options: { key?: KeyPair['privateKey']; kid?: string; lifetime?: number } = {},
) {
  const issuedAt = Math.floor(now / 1000);
  return new SignJWT({ email, email_verified: true, azp: '1234', sub: '1234', ...claims })
    .setProtectedHeader({ alg: 'RS256', kid: options.kid ?? kid, typ: 'JWT' })
    .setIssuer((claims.iss as string | undefined) ?? 'https://accounts.google.com')
    .setAudience((claims.aud as string | undefined) ?? audience)
    .setIssuedAt(issuedAt)
    .setExpirationTime(issuedAt + (options.lifetime ?? 3600))
    .sign(options.key ?? keys.privateKey);
}

function envelope(data: string, attributes: Record<string, string> = { eventType: 'user.created' }) {
  return JSON.stringify({
    message: {
      data: Buffer.from(data).toString('base64'),
      attributes,
      messageId: '2070443601311540',
      publishTime: '2026-01-15T12:00:00.000Z',
    },
    subscription: 'projects/p/subscriptions/s',
  });
}

function pushDelivery(jwt: string | undefined, now: number, body = envelope('{"uid":"u1"}')): Delivery {
  return makeDelivery({
    body,
    headers: jwt === undefined ? {} : { authorization: `Bearer ${jwt}` },
    now,
    url: audience,
  });
}

const oracle = new OAuth2Client();
async function oracleAccepts(jwt: string): Promise<boolean> {
  try {
    await oracle.verifySignedJwtWithCertsAsync(jwt, { [kid]: publicPem }, audience, [
      'accounts.google.com',
      'https://accounts.google.com',
    ]);
    return true;
  } catch {
    return false;
  }
}

describe('firebase (Pub/Sub push) with a local JWKS file', () => {
  const settings = () => firebase.parseSettings({ audience, serviceAccountEmail: email, jwksFile });

  it('accepts what google-auth-library accepts, and decodes the message for handlers', async () => {
    const now = Date.now();
    const jwt = await token(now);
    expect(await oracleAccepts(jwt)).toBe(true);
    const accepted = expectAccepted(await firebase.verify(pushDelivery(jwt, now), settings()));
    expect(accepted.dedupeKey).toBe('2070443601311540');
    expect(accepted.eventType).toBe('user.created');
    expect(accepted.payload).toEqual({
      data: { uid: 'u1' },
      attributes: { eventType: 'user.created' },
      messageId: '2070443601311540',
      publishTime: '2026-01-15T12:00:00.000Z',
      subscription: 'projects/p/subscriptions/s',
    });
    expect(firebase.decodePayload!(pushDelivery(jwt, now).body, {})).toEqual(accepted.payload);
  });

  it('types by the configured attribute, else pubsub.message; non-JSON data stays text', async () => {
    const now = Date.now();
    const custom = firebase.parseSettings({
      audience,
      serviceAccountEmail: email,
      jwksFile,
      typeAttribute: 'kind',
    });
    const accepted = expectAccepted(
      await firebase.verify(
        pushDelivery(await token(now), now, envelope('plain text', { kind: 'note.added' })),
        custom,
      ),
    );
    expect(accepted.eventType).toBe('note.added');
    expect((accepted.payload as { data: unknown }).data).toBe('plain text');
    const untyped = expectAccepted(
      await firebase.verify(pushDelivery(await token(now), now, envelope('{}', {})), settings()),
    );
    expect(untyped.eventType).toBe('pubsub.message');
  });

  it('rejects a wrong audience, as google-auth-library does', async () => {
    const now = Date.now();
    const jwt = await token(now, { aud: 'https://elsewhere.example/' });
    expect(await oracleAccepts(jwt)).toBe(false);
    const rejected = expectRejected(
      await firebase.verify(pushDelivery(jwt, now), settings()),
      'token_invalid',
    );
    expect(rejected.message).toContain('audience');
  });

  it('rejects another service account, and email_verified false', async () => {
    const now = Date.now();
    const wrongEmail = await token(now, { email: 'someone@else.iam.gserviceaccount.com' });
    expect(await oracleAccepts(wrongEmail)).toBe(true); // the library leaves the email to the caller
    expect(
      expectRejected(await firebase.verify(pushDelivery(wrongEmail, now), settings()), 'token_invalid')
        .message,
    ).toContain('serviceAccountEmail');
    const unverified = await token(now, { email_verified: false });
    expect(
      expectRejected(await firebase.verify(pushDelivery(unverified, now), settings()), 'token_invalid')
        .message,
    ).toContain('email_verified');
  });

  it('rejects an expired token beyond the clock tolerance, as google-auth-library does', async () => {
    const now = Date.now();
    const jwt = await token(now - 2 * 3600_000);
    expect(await oracleAccepts(jwt)).toBe(false);
    const rejected = expectRejected(
      await firebase.verify(pushDelivery(jwt, now), settings()),
      'token_invalid',
    );
    expect(rejected.message).toContain('expired');
    // Within the 60 s default skew it still verifies.
    const edge = await token(now - 3600_000 - 30_000);
    expectAccepted(await firebase.verify(pushDelivery(edge, now), settings()));
  });

  it('rejects a token issued in the future beyond the tolerance, as google-auth-library does', async () => {
    const now = Date.now();
    // google-auth-library allows 300 s of skew; with the same tolerance, the verdicts agree.
    const wide = firebase.parseSettings({
      audience,
      serviceAccountEmail: email,
      jwksFile,
      clockToleranceSeconds: 300,
    });
    for (const [aheadSeconds, accepted] of [
      [0, true],
      [290, true],
      [301, false],
      [600, false],
    ] as const) {
      const jwt = await token(now + aheadSeconds * 1000);
      expect(await oracleAccepts(jwt), `oracle, iat +${aheadSeconds} s`).toBe(accepted);
      const result = await firebase.verify(pushDelivery(jwt, now), wide);
      expect(result.ok, `hookbox, iat +${aheadSeconds} s`).toBe(accepted);
      if (!result.ok) expect(result.message).toContain('issued');
    }
    // The default tolerance is 60 s: a token issued 90 s ahead is refused.
    expectRejected(
      await firebase.verify(pushDelivery(await token(now + 90_000), now), settings()),
      'token_invalid',
    );
  });

  it('rejects a token valid for more than a day, as google-auth-library does', async () => {
    const now = Date.now();
    const long = await token(now, {}, { lifetime: 86_400 + 60 });
    expect(await oracleAccepts(long)).toBe(false);
    const rejected = expectRejected(
      await firebase.verify(pushDelivery(long, now), settings()),
      'token_invalid',
    );
    expect(rejected.message).toContain('day');
    // A whole day is still fine for both (Google issues one-hour tokens).
    const day = await token(now - 60_000, {}, { lifetime: 86_400 });
    expect(await oracleAccepts(day)).toBe(true);
    expectAccepted(await firebase.verify(pushDelivery(day, now), settings()));
    // Stricter than Google, on purpose (docs/providers.md): issued long ago with a lifetime over
    // a day, it is refused here even though it expires within a day from now.
    const old = await token(now - 20 * 3600_000, {}, { lifetime: 86_400 + 600 });
    expect(await oracleAccepts(old)).toBe(true);
    expectRejected(await firebase.verify(pushDelivery(old, now), settings()), 'token_invalid');
  });

  it('rejects a token signed by another key, or naming an unknown kid', async () => {
    const now = Date.now();
    const forged = await token(now, {}, { key: otherKeys.privateKey });
    expect(await oracleAccepts(forged)).toBe(false);
    expect(
      expectRejected(await firebase.verify(pushDelivery(forged, now), settings()), 'token_invalid').message,
    ).toContain('signature');
    const unknown = await token(now, {}, { key: otherKeys.privateKey, kid: 'nope' });
    expectRejected(await firebase.verify(pushDelivery(unknown, now), settings()), 'token_invalid');
  });

  it('rejects another issuer, a missing or malformed header', async () => {
    const now = Date.now();
    const jwt = await token(now, { iss: 'https://evil.example' });
    expect(await oracleAccepts(jwt)).toBe(false);
    expectRejected(await firebase.verify(pushDelivery(jwt, now), settings()), 'token_invalid');
    expectRejected(await firebase.verify(pushDelivery(undefined, now), settings()), 'token_invalid');
    expectRejected(
      await firebase.verify(
        makeDelivery({ body: envelope('{}'), headers: { authorization: 'Basic abc' }, now }),
        settings(),
      ),
      'token_invalid',
    );
  });

  it('verifies as of delivery.now, not the wall clock', async () => {
    const at = Date.UTC(2030, 5, 1);
    const jwt = await token(at);
    expectAccepted(await firebase.verify(pushDelivery(jwt, at + 60_000), settings()));
    expectRejected(await firebase.verify(pushDelivery(jwt, at + 2 * 3600_000), settings()), 'token_invalid');
  });

  it('rejects a verified envelope without messageId as payload_invalid', async () => {
    const now = Date.now();
    const body = JSON.stringify({ message: { data: '' }, subscription: 's' });
    expectRejected(
      await firebase.verify(pushDelivery(await token(now), now, body), settings()),
      'payload_invalid',
    );
  });

  it('names an unreadable jwksFile', async () => {
    const now = Date.now();
    const missing = firebase.parseSettings({
      audience,
      serviceAccountEmail: email,
      jwksFile: '/nonexistent/jwks.json',
    });
    const rejected = expectRejected(
      await firebase.verify(pushDelivery(await token(now), now), missing),
      'token_invalid',
    );
    expect(rejected.message).toContain('/nonexistent/jwks.json');
  });

  it('signs with test settings (signingKey, signingKid) what it verifies', async () => {
    const now = Date.now();
    const signing = firebase.parseSettings({
      audience,
      serviceAccountEmail: email,
      jwksFile,
      signingKey: await exportPKCS8(keys.privateKey),
      signingKid: kid,
    });
    const body = firebase.sampleBody!({ eventType: 'user.deleted', eventId: 'm-1', now });
    const signed = await firebase.sign!(body, signing, {
      now,
      url: audience,
      eventType: 'user.deleted',
      eventId: 'm-1',
    });
    const jwt = signed.headers.authorization!.slice('Bearer '.length);
    expect(await oracleAccepts(jwt)).toBe(true);
    const accepted = expectAccepted(await firebase.verify(pushDelivery(jwt, now, body.toString()), signing));
    expect([accepted.dedupeKey, accepted.eventType]).toEqual(['m-1', 'user.deleted']);
  });
});

describe('firebase with an injected JWKS fetcher', () => {
  const settings = firebase.parseSettings({ audience, serviceAccountEmail: email });

  function countingFetcher(maxAgeSeconds?: number) {
    const calls: string[] = [];
    const fetchJwks = async (url: string) => {
      calls.push(url);
      return maxAgeSeconds === undefined ? { keys: [publicJwk] } : { keys: [publicJwk], maxAgeSeconds };
    };
    return { calls, fetchJwks };
  }

  it("fetches Google's key set once and caches it for its max-age", async () => {
    const { calls, fetchJwks } = countingFetcher(600);
    const provider = createFirebaseProvider({ fetchJwks });
    const at = Date.UTC(2030, 0, 1);
    expectAccepted(await provider.verify(pushDelivery(await token(at), at), settings));
    expectAccepted(await provider.verify(pushDelivery(await token(at + 599_000), at + 599_000), settings));
    expect(calls).toEqual([GOOGLE_JWKS_URL]);
    expectAccepted(await provider.verify(pushDelivery(await token(at + 601_000), at + 601_000), settings));
    expect(calls).toHaveLength(2);
  });

  it('refetches once for an unknown kid (key rotation), but not more often than the cooldown', async () => {
    let served: unknown[] = [{ ...publicJwk, kid: 'old-key' }];
    const calls: string[] = [];
    const provider = createFirebaseProvider({
      fetchJwks: async (url) => {
        calls.push(url);
        return { keys: served, maxAgeSeconds: 3600 };
      },
    });
    const at = Date.UTC(2030, 0, 1);
    expectRejected(await provider.verify(pushDelivery(await token(at), at), settings), 'token_invalid');
    expect(calls).toHaveLength(1);
    served = [publicJwk];
    const later = at + 60_000;
    expectAccepted(await provider.verify(pushDelivery(await token(later), later), settings));
    expect(calls).toHaveLength(2);
  });

  it('answers a failed fetch with token_invalid, and tries again next time', async () => {
    let calls = 0;
    const provider = createFirebaseProvider({
      fetchJwks: async () => {
        calls += 1;
        throw new Error('offline');
      },
    });
    const at = Date.UTC(2030, 0, 1);
    const rejected = expectRejected(
      await provider.verify(pushDelivery(await token(at), at), settings),
      'token_invalid',
    );
    expect(rejected.message).toContain('offline');
    expectRejected(await provider.verify(pushDelivery(await token(at), at), settings), 'token_invalid');
    expect(calls).toBe(2);
  });
});
