import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Clock } from '../../clock.ts';
import { createTokenAuthenticator, type SessionReader } from '../admin/auth.ts';

export const sessionCookieName = 'hookbox_session';
export const defaultSessionTtlMs = 12 * 60 * 60_000;

export interface DashboardSession {
  credential: 'admin' | 'read';
  /** Required as x-csrf-token (API) or the `csrf` field (forms) on every change this session makes. */
  csrfToken: string;
  expiresAt: number;
}

export interface DashboardSessionOptions {
  /** ADMIN_TOKEN: grants full sessions and keys the cookie signature. */
  adminToken: string;
  /** ADMIN_READONLY_TOKENS: grant read-only sessions. */
  readOnlyTokens?: readonly string[];
  clock: Clock;
  ttlMs?: number;
}

/** The signed payload, short keys to keep the cookie small. */
interface Payload {
  v: 1;
  /** Role. */
  r: 'admin' | 'read';
  /** Fingerprint of the token signed in with, so removing a token from config ends its sessions. */
  t: string;
  /** CSRF token. */
  c: string;
  /** Expiry, epoch ms. */
  e: number;
}

const digest = (value: string) => createHash('sha256').update(value, 'utf8').digest();

/**
 * Stateless dashboard sessions: the cookie is base64url(JSON payload) + "." + base64url(HMAC-SHA256),
 * keyed by a key derived from ADMIN_TOKEN. Any Hookbox process configured with the same
 * ADMIN_TOKEN accepts it, so several instances behind a load balancer need no shared session
 * store and no sticky sessions. Rotating ADMIN_TOKEN ends every session; removing a read-only
 * token ends the sessions signed in with it (the payload carries its fingerprint).
 */
export function createDashboardSessions(options: DashboardSessionOptions) {
  const { clock } = options;
  const ttlMs = options.ttlMs ?? defaultSessionTtlMs;
  // A derived key, so the cookie's MAC never uses the token itself as a key for two purposes.
  const key = createHmac('sha256', options.adminToken).update('hookbox dashboard session key v1').digest();
  const authenticator = createTokenAuthenticator({
    token: options.adminToken,
    readOnlyTokens: options.readOnlyTokens,
  });
  const fingerprint = (token: string) =>
    createHmac('sha256', key).update(`token\0${token}`).digest().subarray(0, 12).toString('base64url');
  const fingerprints = new Map<string, 'admin' | 'read'>([[fingerprint(options.adminToken), 'admin']]);
  for (const token of options.readOnlyTokens ?? []) if (token) fingerprints.set(fingerprint(token), 'read');

  const sign = (encoded: string) => createHmac('sha256', key).update(encoded).digest();

  function encode(payload: Payload): string {
    const encoded = Buffer.from(JSON.stringify(payload)).toString('base64url');
    return `${encoded}.${sign(encoded).toString('base64url')}`;
  }

  function decode(value: string): DashboardSession | null {
    const dot = value.indexOf('.');
    if (dot <= 0) return null;
    const encoded = value.slice(0, dot);
    const presented = Buffer.from(value.slice(dot + 1), 'base64url');
    const expected = sign(encoded);
    if (presented.length !== expected.length || !timingSafeEqual(presented, expected)) return null;
    let payload: Payload;
    try {
      payload = JSON.parse(Buffer.from(encoded, 'base64url').toString('utf8')) as Payload;
    } catch {
      return null;
    }
    if (payload?.v !== 1 || typeof payload.e !== 'number' || typeof payload.c !== 'string') return null;
    if (payload.e <= clock.now()) return null;
    if (fingerprints.get(payload.t) !== payload.r) return null;
    return { credential: payload.r, csrfToken: payload.c, expiresAt: payload.e };
  }

  function readCookie(cookieHeader: string | undefined): string | null {
    if (!cookieHeader) return null;
    for (const part of cookieHeader.split(';')) {
      const eq = part.indexOf('=');
      if (eq > 0 && part.slice(0, eq).trim() === sessionCookieName) return part.slice(eq + 1).trim();
    }
    return null;
  }

  function verifyCsrf(session: DashboardSession, presented: string | undefined): boolean {
    // Digests of equal length, so the comparison time says nothing about the token.
    return typeof presented === 'string' && timingSafeEqual(digest(presented), digest(session.csrfToken));
  }

  const reader: SessionReader = {
    read(cookieHeader) {
      const value = readCookie(cookieHeader);
      const session = value ? decode(value) : null;
      if (!session) return null;
      return {
        credential: session.credential,
        verifyCsrf: (presented) => verifyCsrf(session, presented),
      };
    },
  };

  return {
    ttlMs,
    /** For the admin API's auth (auth.ts): the session cookie as an alternative to a Bearer token. */
    reader,

    /**
     * Sign in with a token: ADMIN_TOKEN or a read-only token (never the cron secret), compared
     * in constant time. Returns the cookie value and the session, or null.
     */
    signIn(token: string): { cookie: string; session: DashboardSession } | null {
      const credential = authenticator.identify(token);
      if (credential !== 'admin' && credential !== 'read') return null;
      const payload: Payload = {
        v: 1,
        r: credential,
        t: fingerprint(token),
        c: randomBytes(24).toString('base64url'),
        e: clock.now() + ttlMs,
      };
      return {
        cookie: encode(payload),
        session: { credential, csrfToken: payload.c, expiresAt: payload.e },
      };
    },

    /** The valid session a request carries, or null (absent, forged, expired, or its token removed). */
    read(cookieHeader: string | undefined): DashboardSession | null {
      const value = readCookie(cookieHeader);
      return value ? decode(value) : null;
    },

    verifyCsrf,
  };
}

export type DashboardSessions = ReturnType<typeof createDashboardSessions>;
