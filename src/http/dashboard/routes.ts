import { type Context, type Env, Hono, type MiddlewareHandler } from 'hono';
import { deleteCookie, setCookie } from 'hono/cookie';
import { html } from 'hono/html';
import { errorBody } from '../../errors.ts';
import { readBodyWithin } from '../../ingest/read-body.ts';
import type { Logger } from '../../logger.ts';
import type { HealthMonitor, HealthReport } from '../../monitor/health-monitor.ts';
import type { Store } from '../../store/types.ts';
import { type AssetName, loadDashboardAssets } from './assets.ts';
import { renderDestinations, renderEventDeliveries } from './destinations-page.ts';
import {
  type AssetUrls,
  type EventFilterValues,
  type PageName,
  renderBlockedKeys,
  renderDeadLetters,
  renderDuplicates,
  renderEventDetail,
  renderEventNotFound,
  renderEvents,
  renderLayout,
  renderOverview,
  renderSignIn,
} from './pages.ts';
import { type DashboardSession, type DashboardSessions, sessionCookieName } from './session.ts';

export interface DashboardDependencies {
  sessions: DashboardSessions;
  health: Pick<HealthMonitor, 'checkHealth'>;
  store: Pick<Store, 'getEvent'>;
  /** Configured sources, for the events filter. */
  sources: readonly { name: string; provider: string }[];
  logger: Logger;
}

// Everything comes from this origin: no CDN, no inline script or style to allow.
const contentSecurityPolicy = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "form-action 'self'",
  "frame-ancestors 'none'",
  "base-uri 'none'",
].join('; ');

const securityHeaders: MiddlewareHandler = async (c, next) => {
  await next();
  c.header('content-security-policy', contentSecurityPolicy);
  c.header('x-content-type-options', 'nosniff');
  c.header('x-frame-options', 'DENY');
  c.header('referrer-policy', 'no-referrer');
  if (!c.req.path.startsWith('/dashboard/assets/')) c.header('cache-control', 'no-store');
};

const eventIdPattern = /^[0-9A-Za-z_-]{1,64}$/;
const maxFormBytes = 8192;

/**
 * The dashboard's own small forms (sign-in, sign-out): URL-encoded, at most 8 KiB read, whatever
 * Content-Length claims; anything else is an empty form.
 */
async function readSmallForm(request: Request): Promise<Record<string, string>> {
  const type = request.headers.get('content-type') ?? '';
  if (!type.toLowerCase().startsWith('application/x-www-form-urlencoded')) return {};
  const body = await readBodyWithin(request, maxFormBytes);
  return body === null ? {} : Object.fromEntries(new URLSearchParams(body.toString('utf8')));
}

/** Only a dashboard path may follow sign-in: never another origin (`//host`, `/\host`). */
function safeNext(value: unknown): string {
  if (typeof value !== 'string' || value.length > 512) return '/dashboard';
  return /^\/dashboard(?:[/?][^\\\s]*)?$/.test(value) && !value.startsWith('//') && !value.includes('/\\')
    ? value
    : '/dashboard';
}

function isHttps(c: Context): boolean {
  if (new URL(c.req.url).protocol === 'https:') return true;
  // A spoofed header can only add Secure to the spoofer's own cookie.
  return c.req.header('x-forwarded-proto')?.split(',')[0]?.trim().toLowerCase() === 'https';
}

/**
 * Whether a form post comes from the dashboard's own pages. Browsers label every request with
 * Sec-Fetch-Site: only `same-origin` (our sign-in page) and `none` (the user's own doing) pass;
 * `same-site` is a page on another port or a sibling subdomain. A browser without Fetch Metadata
 * still sends Origin on a POST, which must then be this dashboard's own. Neither header: not a
 * browser form of ours, refused.
 */
function isFromDashboard(c: Context): boolean {
  const fetchSite = c.req.header('sec-fetch-site');
  if (fetchSite !== undefined) return fetchSite === 'same-origin' || fetchSite === 'none';
  const origin = c.req.header('origin');
  if (origin === undefined) return false;
  const url = new URL(c.req.url);
  // Behind a TLS-terminating proxy the page is https while this request arrived as http.
  return origin === url.origin || (isHttps(c) && origin === `https://${url.host}`);
}

/**
 * Mount the operator dashboard at /dashboard on `app`: sign-in with an admin or read-only token,
 * server-rendered pages, and their static assets. The pages' scripts call the admin API
 * (/api/admin/...) with the session cookie, which the admin auth accepts (auth.ts).
 */
export function mountDashboard<E extends Env>(app: Hono<E>, deps: DashboardDependencies): void {
  const { sessions } = deps;
  const assets = loadDashboardAssets();
  const assetUrl = (name: AssetName) => assets.get(name)!.url;
  const assetUrls: AssetUrls = {
    css: assetUrl('dashboard.css'),
    js: assetUrl('dashboard.js'),
    charts: assetUrl('charts.js'),
    destinations: assetUrl('destinations.js'),
  };
  const sourceNames = deps.sources.map((s) => s.name).sort();
  const providers = [...new Set(deps.sources.map((s) => s.provider))].sort();

  const dashboard = new Hono();
  dashboard.use('/dashboard', securityHeaders);
  dashboard.use('/dashboard/*', securityHeaders);

  dashboard.get('/dashboard/assets/:name', (c) => {
    const asset = assets.get(c.req.param('name'));
    if (!asset) return c.text('not found', 404);
    const etag = `"${asset.hash}"`;
    // A hashed URL never changes content; any other URL revalidates.
    const cacheControl = c.req.query('v') === asset.hash ? 'public, max-age=31536000, immutable' : 'no-cache';
    if (c.req.header('if-none-match') === etag) {
      return c.body(null, 304, { etag, 'cache-control': cacheControl });
    }
    return c.body(new Uint8Array(asset.body), 200, {
      'content-type': asset.contentType,
      etag,
      'cache-control': cacheControl,
    });
  });

  dashboard.get('/dashboard/sign-in', (c) => {
    const next = safeNext(c.req.query('next'));
    if (sessions.read(c.req.header('cookie'))) return c.redirect(next, 302);
    return c.html(renderSignIn({ assets: assetUrls, next }));
  });

  dashboard.post('/dashboard/sign-in', async (c) => {
    // SameSite=Strict guards the session cookie; this refuses a sign-in posted from anywhere but
    // the dashboard's own page (login CSRF), a sibling subdomain or another port included.
    if (!isFromDashboard(c)) {
      return c.html(
        renderSignIn({ assets: assetUrls, next: '/dashboard', error: 'Sign in from this page.' }),
        403,
      );
    }
    const form = await readSmallForm(c.req.raw).catch(() => ({}) as Record<string, string>);
    const next = safeNext(form.next);
    const token = typeof form.token === 'string' ? form.token.trim() : '';
    const signedIn = token ? sessions.signIn(token) : null;
    if (!signedIn) {
      deps.logger.warn({ path: '/dashboard/sign-in' }, 'dashboard sign-in refused: unknown token');
      const error = token ? 'That is not a configured admin or read-only token.' : 'Enter a token.';
      return c.html(renderSignIn({ assets: assetUrls, next, error }), 401);
    }
    setCookie(c, sessionCookieName, signedIn.cookie, {
      path: '/',
      httpOnly: true,
      sameSite: 'Strict',
      secure: isHttps(c),
      maxAge: Math.floor(sessions.ttlMs / 1000),
    });
    deps.logger.info({ role: signedIn.session.credential }, 'dashboard sign-in');
    return c.redirect(next, 303);
  });

  dashboard.post('/dashboard/sign-out', async (c) => {
    const session = sessions.read(c.req.header('cookie'));
    const form = await readSmallForm(c.req.raw).catch(() => ({}) as Record<string, string>);
    const csrf = form.csrf;
    // Signing out is harmless, but a forged form must not be able to end an operator's session.
    if (session && !sessions.verifyCsrf(session, csrf)) {
      return c.json(errorBody('csrf_failed', 'reload the dashboard and sign out again'), 403);
    }
    deleteCookie(c, sessionCookieName, { path: '/', secure: isHttps(c), httpOnly: true, sameSite: 'Strict' });
    return c.redirect('/dashboard/sign-in', 303);
  });

  /** A page handler behind the session: without one, a redirect to sign-in that comes back here. */
  function page(render: (c: Context, session: DashboardSession) => Promise<Response> | Response) {
    return async (c: Context) => {
      const session = sessions.read(c.req.header('cookie'));
      if (!session) {
        const url = new URL(c.req.url);
        return c.redirect(`/dashboard/sign-in?next=${encodeURIComponent(url.pathname + url.search)}`, 302);
      }
      return render(c, session);
    };
  }

  function layout(
    c: Context,
    session: DashboardSession,
    view: {
      page: PageName;
      title: string;
      body: ReturnType<typeof renderOverview>;
      data?: Record<string, string>;
    },
    status: 200 | 404 = 200,
  ) {
    return c.html(renderLayout({ ...view, session, assets: assetUrls }), status);
  }

  const overview = page(async (c, session) => {
    let report: HealthReport | null = null;
    try {
      report = await deps.health.checkHealth();
    } catch (error) {
      // The page still renders; its script retries through the API.
      deps.logger.warn({ err: (error as Error).message }, 'dashboard: health report failed');
    }
    return layout(c, session, { page: 'overview', title: 'Overview', body: renderOverview(report) });
  });
  dashboard.get('/dashboard', overview);
  dashboard.get('/dashboard/', overview);

  dashboard.get(
    '/dashboard/events',
    page((c, session) => {
      const text = (name: keyof EventFilterValues) => (c.req.query(name) ?? '').trim().slice(0, 256);
      const filters: EventFilterValues = {
        search: text('search'),
        source: text('source'),
        provider: text('provider'),
        type: text('type'),
        status: text('status'),
        since: text('since'),
        until: text('until'),
      };
      const deleted = c.req.query('deleted');
      const notice = deleted && eventIdPattern.test(deleted) ? `Event ${deleted} was deleted.` : null;
      return layout(c, session, {
        page: 'events',
        title: 'Events',
        body: renderEvents({ filters, sources: sourceNames, providers, notice }),
      });
    }),
  );

  dashboard.get(
    '/dashboard/events/:id',
    page(async (c, session) => {
      const id = c.req.param('id') ?? '';
      const event = eventIdPattern.test(id) ? await deps.store.getEvent(id) : null;
      if (!event) {
        return layout(
          c,
          session,
          {
            page: 'event',
            title: 'Event not found',
            body: renderEventNotFound(id),
          },
          404,
        );
      }
      return layout(c, session, {
        page: 'event',
        title: `Event ${id}`,
        body: html`${renderEventDetail({ eventId: id, session })}${renderEventDeliveries({ session })}`,
        data: { 'event-id': id },
      });
    }),
  );

  dashboard.get(
    '/dashboard/dead-letters',
    page((c, session) =>
      layout(c, session, {
        page: 'dead-letters',
        title: 'Dead letters',
        body: renderDeadLetters({ session }),
      }),
    ),
  );

  dashboard.get(
    '/dashboard/duplicates',
    page((c, session) =>
      layout(c, session, { page: 'duplicates', title: 'Duplicates', body: renderDuplicates() }),
    ),
  );

  dashboard.get(
    '/dashboard/blocked-keys',
    page((c, session) =>
      layout(c, session, {
        page: 'blocked-keys',
        title: 'Blocked keys',
        body: renderBlockedKeys({ session }),
      }),
    ),
  );

  // destinations: (issue 14) destinations-page.ts, assets/destinations.js
  dashboard.get(
    '/dashboard/destinations',
    page((c, session) =>
      layout(c, session, {
        page: 'destinations',
        title: 'Destinations',
        body: renderDestinations({ session }),
      }),
    ),
  );

  app.route('/', dashboard as unknown as Hono<E>);
}
