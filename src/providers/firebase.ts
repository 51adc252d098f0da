/**
 * Firebase and other Google sources, delivered by a Cloud Pub/Sub push subscription with
 * authentication on: `Authorization: Bearer <JWT>`, an OIDC token signed RS256 by Google for
 * the subscription's service account and audience. Keys come from Google's JWKS, cached for
 * its Cache-Control max-age; `jwksFile` supplies them offline.
 *
 * The body is the push envelope `{ message: { data, attributes, messageId, publishTime },
 * subscription }`; handlers get the decoded message.
 */
import { readFile } from 'node:fs/promises';
import {
  createLocalJWKSet,
  type errors,
  importJWK,
  importPKCS8,
  type JSONWebKeySet,
  type JWK,
  type JWTPayload,
  jwtVerify,
  SignJWT,
} from 'jose';
import { z } from 'zod';
import type { Delivery, Provider, SignedDelivery, SignOptions, Verification } from './types.ts';
import {
  accept,
  describeError,
  isRecord,
  parseJson,
  readHeader,
  readJsonKey,
  reject,
} from './verify-core.ts';

export const GOOGLE_JWKS_URL = 'https://www.googleapis.com/oauth2/v3/certs';
const GOOGLE_ISSUERS = ['accounts.google.com', 'https://accounts.google.com'];

export const firebaseSettingsSchema = z.strictObject({
  /** The audience set on the push subscription (by default its push endpoint URL). */
  audience: z.string().min(1, 'must not be empty: use the audience set on the Pub/Sub push subscription'),
  /** The service account the push subscription authenticates as. */
  serviceAccountEmail: z.string().regex(/^[^@\s]+@[^@\s]+$/, 'must be a service account email'),
  /** A JWKS JSON file with Google's keys, for offline use instead of fetching jwksUrl. */
  jwksFile: z.string().min(1).optional(),
  jwksUrl: z.url({ protocol: /^https$/ }).default(GOOGLE_JWKS_URL),
  /** Allowed clock skew on exp/iat/nbf, bounded: a wide window only helps replays. */
  clockToleranceSeconds: z.number().int().min(0).max(300).default(60),
  /** The message attribute that names the event type. */
  typeAttribute: z.string().min(1).default('eventType'),
  /** Test/dev only (`hookbox send`): a private key, PEM (PKCS#8) or JWK, whose public half is in jwksFile. */
  signingKey: z.union([z.string().min(1), z.record(z.string(), z.unknown())]).optional(),
  /** Test/dev only: the `kid` to put in signed tokens (defaults to the JWK's kid). */
  signingKid: z.string().min(1).optional(),
});

export type FirebaseSettingsInput = z.input<typeof firebaseSettingsSchema>;
export type FirebaseSettings = z.output<typeof firebaseSettingsSchema>;

export interface FetchedJwks {
  keys: unknown[];
  /** From the response's Cache-Control max-age. */
  maxAgeSeconds?: number;
}

export interface FirebaseProviderOptions {
  fetchJwks?: (url: string) => Promise<FetchedJwks>;
}

/** Used when the key set response carries no max-age. */
const DEFAULT_JWKS_MAX_AGE_SECONDS = 300;
/** A token naming an unknown kid triggers a refetch (Google rotated), but at most this often. */
const JWKS_REFETCH_COOLDOWN_MS = 30_000;

/** The production fetcher: global fetch, max-age from Cache-Control. */
export async function fetchJwksOverHttps(url: string): Promise<FetchedJwks> {
  const response = await fetch(url, { redirect: 'error', signal: AbortSignal.timeout(10_000) });
  if (!response.ok) throw new Error(`HTTP ${response.status} from ${url}`);
  const body = (await response.json()) as unknown;
  if (!isRecord(body) || !Array.isArray(body.keys)) throw new Error(`${url} did not return a JWKS`);
  const maxAge = /(?:^|[,\s])max-age=(\d+)/i.exec(response.headers.get('cache-control') ?? '')?.[1];
  return maxAge === undefined ? { keys: body.keys } : { keys: body.keys, maxAgeSeconds: Number(maxAge) };
}

type KeySet = ReturnType<typeof createLocalJWKSet>;

/** A failure to load keys is ours (file, network), not the token's. */
class KeySetLoadError extends Error {}

interface CachedKeySet {
  keySet: KeySet;
  fetchedAt: number;
  expiresAt: number;
}

function toKeySet(keys: unknown[]): KeySet {
  return createLocalJWKSet({ keys } as JSONWebKeySet);
}

/** Why jose refused a token, in words that say what to check (claims are evidence, never keys). */
function describeTokenError(error: unknown, settings: FirebaseSettings): string {
  const code = (error as { code?: unknown }).code;
  if (code === 'ERR_JWT_EXPIRED') {
    const exp = (error as errors.JWTExpired).payload.exp;
    const at = typeof exp === 'number' ? ` at ${new Date(exp * 1000).toISOString()}` : '';
    return `the token expired${at}, beyond the ${settings.clockToleranceSeconds} s clock tolerance: Pub/Sub retries with a fresh token; if every delivery fails, check this server's clock`;
  }
  if (code === 'ERR_JWT_CLAIM_VALIDATION_FAILED') {
    const failure = error as errors.JWTClaimValidationFailed;
    const value = failure.payload[failure.claim];
    const shown = value === undefined ? 'missing' : JSON.stringify(value).slice(0, 120);
    if (failure.claim === 'aud') {
      return `the token's audience is ${shown}, not the configured audience: set \`audience\` to the push subscription's audience`;
    }
    if (failure.claim === 'iss') {
      return `the token's issuer is ${shown}, not accounts.google.com: only Google-signed push tokens are accepted`;
    }
    return `the token's ${failure.claim} claim (${shown}) fails validation (${failure.reason}): check the clocks, or the push subscription`;
  }
  if (code === 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED') {
    return "the token's signature does not verify against Google's keys: it was not issued by Google";
  }
  if (code === 'ERR_JWKS_NO_MATCHING_KEY') {
    return "no key in Google's key set matches the token's kid: the token was not issued by Google, or jwksFile is outdated";
  }
  if (code === 'ERR_JOSE_ALG_NOT_ALLOWED')
    return 'the token is not signed with RS256, as Google push tokens are';
  return `the bearer token is not a valid JWT (${describeError(error)})`;
}

export function createFirebaseProvider(options: FirebaseProviderOptions = {}): Provider<FirebaseSettings> {
  const fetchJwks = options.fetchJwks ?? fetchJwksOverHttps;
  const remoteKeySets = new Map<string, Promise<CachedKeySet>>();
  const fileKeySets = new Map<string, Promise<KeySet>>();

  function loadFileKeySet(path: string): Promise<KeySet> {
    let loading = fileKeySets.get(path);
    if (loading === undefined) {
      loading = readFile(path, 'utf8').then((text) => {
        const parsed = JSON.parse(text) as unknown;
        if (!isRecord(parsed) || !Array.isArray(parsed.keys))
          throw new Error('not a JWKS ({ "keys": [...] })');
        return toKeySet(parsed.keys);
      });
      fileKeySets.set(path, loading);
      // Forget a failed read, so fixing the file needs no restart.
      loading.catch(() => {
        if (fileKeySets.get(path) === loading) fileKeySets.delete(path);
      });
    }
    return loading;
  }

  function fetchRemoteKeySet(url: string, now: number): Promise<CachedKeySet> {
    const loading = fetchJwks(url).then((fetched) => ({
      keySet: toKeySet(fetched.keys),
      fetchedAt: now,
      expiresAt: now + (fetched.maxAgeSeconds ?? DEFAULT_JWKS_MAX_AGE_SECONDS) * 1000,
    }));
    remoteKeySets.set(url, loading);
    loading.catch(() => {
      if (remoteKeySets.get(url) === loading) remoteKeySets.delete(url);
    });
    return loading;
  }

  async function loadRemoteKeySet(url: string, now: number): Promise<CachedKeySet> {
    const cached = remoteKeySets.get(url);
    if (cached !== undefined) {
      const entry = await cached.catch(() => undefined);
      if (entry !== undefined && now < entry.expiresAt) return entry;
    }
    return fetchRemoteKeySet(url, now);
  }

  async function verifyToken(token: string, settings: FirebaseSettings, now: number): Promise<JWTPayload> {
    const verifyWith = async (keySet: KeySet) =>
      (
        await jwtVerify(token, keySet, {
          algorithms: ['RS256'],
          issuer: GOOGLE_ISSUERS,
          audience: settings.audience,
          clockTolerance: settings.clockToleranceSeconds,
          currentDate: new Date(now),
          requiredClaims: ['exp', 'iat'],
        })
      ).payload;
    const { jwksFile, jwksUrl } = settings;
    if (jwksFile !== undefined) {
      return verifyWith(await loadingKeys(jwksFile, () => loadFileKeySet(jwksFile)));
    }
    const entry = await loadingKeys(jwksUrl, () => loadRemoteKeySet(jwksUrl, now));
    try {
      return await verifyWith(entry.keySet);
    } catch (error) {
      // Google rotates keys ahead of max-age now and then: an unknown kid earns one refetch.
      const unknownKid = (error as { code?: unknown }).code === 'ERR_JWKS_NO_MATCHING_KEY';
      if (!unknownKid || now - entry.fetchedAt < JWKS_REFETCH_COOLDOWN_MS) throw error;
      return verifyWith((await loadingKeys(jwksUrl, () => fetchRemoteKeySet(jwksUrl, now))).keySet);
    }
  }

  async function verifyFirebase(delivery: Delivery, settings: FirebaseSettings): Promise<Verification> {
    const authorization = readHeader(delivery.headers, 'authorization');
    if (authorization === undefined) {
      return reject(
        'token_invalid',
        'no Authorization header: enable authentication on the Pub/Sub push subscription (service account and audience)',
      );
    }
    const token = /^Bearer\s+([A-Za-z0-9_.-]+)$/i.exec(authorization)?.[1];
    if (token === undefined) {
      return reject('token_invalid', 'the Authorization header is not `Bearer <JWT>`');
    }

    let claims: JWTPayload;
    try {
      claims = await verifyToken(token, settings, delivery.now);
    } catch (error) {
      return reject(
        'token_invalid',
        error instanceof KeySetLoadError ? error.message : describeTokenError(error, settings),
      );
    }
    const timing = checkTokenTiming(claims, settings, delivery.now);
    if (timing !== undefined) return reject('token_invalid', timing);
    if (claims.email !== settings.serviceAccountEmail) {
      return reject(
        'token_invalid',
        `the token is for ${JSON.stringify(claims.email ?? null)}, not the configured serviceAccountEmail: set it to the push subscription's service account`,
      );
    }
    if (claims.email_verified !== true) {
      return reject(
        'token_invalid',
        "the token's email_verified is not true: Google push tokens always verify the email",
      );
    }

    return readPushEnvelope(delivery.body, settings);
  }

  async function signFirebase(
    body: Buffer,
    settings: FirebaseSettings,
    options: SignOptions,
  ): Promise<SignedDelivery> {
    if (settings.signingKey === undefined) {
      throw new Error(
        'firebase: only Google can sign real push tokens; for tests set signingKey (a private PEM or JWK) with its public key in jwksFile',
      );
    }
    const key =
      typeof settings.signingKey === 'string'
        ? await importPKCS8(settings.signingKey, 'RS256')
        : await importJWK(settings.signingKey as JWK, 'RS256');
    const kid =
      settings.signingKid ??
      (typeof settings.signingKey === 'object' ? readJsonKey(settings.signingKey, 'kid') : undefined);
    const issuedAt = Math.floor(options.now / 1000);
    const token = await new SignJWT({ email: settings.serviceAccountEmail, email_verified: true })
      .setProtectedHeader(
        kid === undefined ? { alg: 'RS256', typ: 'JWT' } : { alg: 'RS256', typ: 'JWT', kid },
      )
      .setIssuer('https://accounts.google.com')
      .setAudience(settings.audience)
      .setSubject('100000000000000000000')
      .setIssuedAt(issuedAt)
      .setExpirationTime(issuedAt + 3600)
      .sign(key);
    return { headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` }, body };
  }

  return {
    name: 'firebase',
    secretHeaders: ['authorization'],
    parseSettings: (raw) => firebaseSettingsSchema.parse(raw),
    verify: verifyFirebase,
    sign: signFirebase,
    decodePayload: decodeStoredPushBody,
    sampleBody: samplePushBody,
  };
}

/** Google issues one-hour push tokens; google-auth-library refuses any that lives over a day. */
const MAX_TOKEN_LIFETIME_SECONDS = 86_400;

/**
 * What jose leaves unchecked without maxTokenAge, and google-auth-library checks: a token
 * issued in the future beyond the clock tolerance, one whose lifetime (exp - iat) is over a
 * day, and one that expires more than a day from now. jose has already checked that exp and
 * iat are numbers and that exp has not passed.
 */
function checkTokenTiming(claims: JWTPayload, settings: FirebaseSettings, nowMs: number): string | undefined {
  const iat = claims.iat ?? 0;
  const exp = claims.exp ?? 0;
  const now = nowMs / 1000;
  if (iat > now + settings.clockToleranceSeconds) {
    return `the token was issued ${Math.round(iat - now)} s in the future, beyond the ${settings.clockToleranceSeconds} s clock tolerance: check the clocks of this server`;
  }
  if (exp - iat > MAX_TOKEN_LIFETIME_SECONDS || exp >= now + MAX_TOKEN_LIFETIME_SECONDS) {
    return 'the token is valid for more than a day: Google issues push tokens for one hour, so this one was not issued by Pub/Sub';
  }
  return undefined;
}

/** Key set loading failures are ours (file, network), not the token's: say so. */
async function loadingKeys<T>(source: string, load: () => Promise<T>): Promise<T> {
  try {
    return await load();
  } catch (error) {
    throw new KeySetLoadError(
      `could not load Google's signing keys from ${source} (${describeError(error)}): Pub/Sub retries; check jwksFile or network access`,
    );
  }
}

function readPushEnvelope(body: Buffer, settings: FirebaseSettings): Verification {
  const parsed = parseJson(body);
  if (!parsed.ok || !isRecord(parsed.value) || !isRecord(parsed.value.message)) {
    return reject('payload_invalid', 'the body is not a Pub/Sub push envelope ({ message, subscription })');
  }
  const message = parsed.value.message;
  const messageId = readJsonKey(message, 'messageId') ?? readJsonKey(message, 'message_id');
  if (messageId === undefined) {
    return reject(
      'payload_invalid',
      'the push message has no `messageId`: Hookbox dedupes Pub/Sub messages on it',
    );
  }
  const attributes = isRecord(message.attributes) ? message.attributes : {};
  const typeAttribute = attributes[settings.typeAttribute];
  const eventType =
    typeof typeAttribute === 'string' && typeAttribute !== '' ? typeAttribute : 'pubsub.message';

  return accept({
    dedupeKey: messageId,
    eventType,
    payload: decodePushMessage(parsed.value, message, messageId),
  });
}

/** What handlers receive: the message with its data decoded (parsed JSON when it parses, else UTF-8 text). */
function decodePushMessage(
  envelope: Record<string, unknown>,
  message: Record<string, unknown>,
  messageId: string | undefined,
): unknown {
  let data: unknown;
  if (typeof message.data === 'string') {
    const text = Buffer.from(message.data, 'base64').toString('utf8');
    const decoded = parseJson(text);
    data = decoded.ok ? decoded.value : text;
  }
  return {
    data,
    attributes: isRecord(message.attributes) ? message.attributes : {},
    messageId,
    publishTime: message.publishTime ?? message.publish_time,
    subscription: envelope.subscription,
  };
}

function decodeStoredPushBody(body: Buffer): unknown {
  const parsed = parseJson(body);
  if (!parsed.ok || !isRecord(parsed.value) || !isRecord(parsed.value.message)) {
    return parsed.ok ? parsed.value : body.toString('utf8');
  }
  const message = parsed.value.message;
  const messageId = readJsonKey(message, 'messageId') ?? readJsonKey(message, 'message_id');
  return decodePushMessage(parsed.value, message, messageId);
}

function samplePushBody(options: { eventType: string; eventId: string; now: number }): Buffer {
  const event = { id: options.eventId, type: options.eventType, uid: 'sample-user-uid', status: 'ok' };
  const envelope = {
    message: {
      data: Buffer.from(JSON.stringify(event), 'utf8').toString('base64'),
      attributes: { eventType: options.eventType },
      messageId: options.eventId,
      publishTime: new Date(options.now).toISOString(),
    },
    subscription: 'projects/hookbox-sample/subscriptions/hookbox-push',
  };
  return Buffer.from(JSON.stringify(envelope), 'utf8');
}

/** The production instance: Google's keys fetched with global fetch. */
export const firebase: Provider<FirebaseSettings> = createFirebaseProvider();
