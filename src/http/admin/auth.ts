import { createHash, timingSafeEqual } from 'node:crypto';
import type { MiddlewareHandler } from 'hono';
import { errorBody } from '../../errors.ts';

export interface AdminAuthOptions {
  /** Full access: reads and actions. */
  token?: string | null;
  /** Read-only: every GET, no action. */
  readOnlyTokens?: readonly string[];
  /** Only for POST /api/cron/webhook-maintenance (external schedulers). */
  cronSecret?: string | null;
  /** Dashboard sessions (src/http/dashboard/session.ts): a valid session cookie stands in for a token. */
  sessions?: SessionReader | null;
}

/** What the admin auth needs from dashboard sessions: the role of a valid cookie, and its CSRF check. */
export interface SessionReader {
  read(
    cookieHeader: string | undefined,
  ): { credential: 'admin' | 'read'; verifyCsrf(presented: string | undefined): boolean } | null;
}

export type Credential = 'admin' | 'read' | 'cron';
export type Access = 'read' | 'admin' | 'cron';

/**
 * Bearer tokens from config, compared in constant time: each candidate and the presented token
 * are hashed to equal-length digests first, and every candidate is compared (no early exit), so
 * neither a token's length nor which one matched shows in the timing.
 */
export function createTokenAuthenticator(options: AdminAuthOptions) {
  const digest = (value: string) => createHash('sha256').update(value, 'utf8').digest();
  const candidates: { credential: Credential; digest: Buffer }[] = [];
  if (options.token) candidates.push({ credential: 'admin', digest: digest(options.token) });
  for (const token of options.readOnlyTokens ?? [])
    if (token) candidates.push({ credential: 'read', digest: digest(token) });
  if (options.cronSecret) candidates.push({ credential: 'cron', digest: digest(options.cronSecret) });

  return {
    enabled: candidates.length > 0,
    sessions: options.sessions ?? null,
    identify(presented: string): Credential | null {
      const presentedDigest = digest(presented);
      let found: Credential | null = null;
      for (const candidate of candidates) {
        if (timingSafeEqual(candidate.digest, presentedDigest) && found === null)
          found = candidate.credential;
      }
      return found;
    },
  };
}

export type TokenAuthenticator = ReturnType<typeof createTokenAuthenticator>;

const grants: Record<Access, Credential[]> = {
  read: ['admin', 'read'],
  admin: ['admin'],
  cron: ['admin', 'cron'],
};

/** 401 without a valid token, 403 with a valid one that does not grant `access`. */
export function requireAccess(authenticator: TokenAuthenticator, access: Access): MiddlewareHandler {
  return async (c, next) => {
    const challenge = { 'www-authenticate': 'Bearer realm="hookbox-admin"' };
    if (!authenticator.enabled) {
      return c.json(
        errorBody(
          'unauthorized',
          'the admin API is disabled: set ADMIN_TOKEN (and ADMIN_READONLY_TOKENS for read-only access)',
        ),
        401,
        challenge,
      );
    }
    // Without an Authorization header, a dashboard session cookie may stand in for the token. The
    // browser sends cookies on its own, so a change must also carry the page's CSRF token.
    const session = c.req.header('authorization')
      ? null
      : authenticator.sessions?.read(c.req.header('cookie'));
    if (session) {
      if (!grants[access].includes(session.credential)) {
        return c.json(
          errorBody('forbidden', 'this session is read-only; actions need a sign-in with ADMIN_TOKEN'),
          403,
        );
      }
      const safe = c.req.method === 'GET' || c.req.method === 'HEAD' || c.req.method === 'OPTIONS';
      if (!safe && !session.verifyCsrf(c.req.header('x-csrf-token'))) {
        return c.json(
          errorBody(
            'csrf_failed',
            "send the page's CSRF token as the x-csrf-token header; reload the dashboard",
          ),
          403,
        );
      }
      return next();
    }
    const header = c.req.header('authorization') ?? '';
    const match = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(header);
    if (!match) {
      return c.json(
        errorBody('unauthorized', 'send the admin token as "Authorization: Bearer <token>"'),
        401,
        challenge,
      );
    }
    const credential = authenticator.identify(match[1]!);
    if (credential === null) {
      return c.json(
        errorBody('unauthorized', 'the bearer token is not a configured admin token'),
        401,
        challenge,
      );
    }
    if (!grants[access].includes(credential)) {
      const message =
        credential === 'cron'
          ? 'the cron secret only runs POST /api/cron/webhook-maintenance; use ADMIN_TOKEN here'
          : 'this token is read-only; actions need ADMIN_TOKEN';
      return c.json(errorBody('forbidden', message), 403);
    }
    await next();
  };
}
