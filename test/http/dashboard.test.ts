import { Hono } from 'hono';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createManualClock } from '../../src/clock.ts';
import { createHookbox, type Hookbox } from '../../src/hookbox.ts';
import type { Store } from '../../src/store/types.ts';
import { createSeeder } from '../monitor/seed.ts';
import { createTestStore } from '../support/stores.ts';

const adminToken = 'admin-token-0123456789abcdef';
const readToken = 'read-only-token-0123456789';
const cronSecret = 'cron-secret-0123456789abcdef';
const minute = 60_000;

/**
 * The dashboard's server side through `fetch`, no socket: sign-in, the session cookie, CSRF,
 * redirects, and the admin routes the dashboard added (time series, duplicates). The browser
 * flows are in test/browser/dashboard.test.ts.
 */
describe('dashboard over HTTP', () => {
  let store: Store;
  let cleanup: () => Promise<void>;
  let hookbox: Hookbox;
  let clock: ReturnType<typeof createManualClock>;
  let seed: ReturnType<typeof createSeeder>;

  function build(
    admin: { token?: string; readOnlyTokens?: string[] } = {},
    dashboard?: { enabled?: boolean },
  ) {
    return createHookbox({
      store,
      clock,
      sources: { stripe: { provider: 'stripe', secrets: ['whsec_dashboard_test'] } },
      worker: { enabled: false },
      admin: { token: adminToken, readOnlyTokens: [readToken], cronSecret, ...admin },
      dashboard,
      monitor: { metrics: { processMetrics: false } },
    });
  }

  beforeEach(async () => {
    clock = createManualClock(Date.UTC(2026, 5, 1, 12, 0, 30));
    ({ store, cleanup } = await createTestStore('sqlite', { clock }));
    seed = createSeeder(store, clock.now);
    hookbox = build();
    await hookbox.start();
  });
  afterEach(async () => {
    await hookbox.stop();
    await cleanup();
  });

  function request(
    path: string,
    init: { method?: string; headers?: Record<string, string>; body?: string } = {},
    target: Hookbox = hookbox,
  ) {
    return target.fetch(new Request(`http://hookbox.test${path}`, { redirect: 'manual', ...init }));
  }

  /** A sign-in form post; `extra` replaces the browser's Fetch Metadata (same-origin by default). */
  function signInRequest(
    token: string,
    extra: Record<string, string> = { 'sec-fetch-site': 'same-origin' },
    next = '/dashboard',
  ) {
    return request('/dashboard/sign-in', {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', ...extra },
      body: new URLSearchParams({ token, next }).toString(),
    });
  }

  /** Sign in and return the cookie pair and the page's CSRF token. */
  async function signIn(token: string, target: Hookbox = hookbox) {
    const response = await target.fetch(
      new Request('http://hookbox.test/dashboard/sign-in', {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', 'sec-fetch-site': 'same-origin' },
        body: new URLSearchParams({ token }).toString(),
        redirect: 'manual',
      }),
    );
    expect(response.status).toBe(303);
    const cookie = response.headers.get('set-cookie')!.split(';')[0]!;
    const page = await (await request('/dashboard', { headers: { cookie } }, target)).text();
    const csrf = /<meta name="csrf-token" content="([^"]+)">/.exec(page)![1]!;
    return { cookie, csrf };
  }

  describe('sign-in', () => {
    it('redirects a page request without a session to sign-in, keeping where it was going', async () => {
      for (const path of ['/dashboard', '/dashboard/events?status=dead', '/dashboard/dead-letters']) {
        const response = await request(path);
        expect(response.status).toBe(302);
        expect(response.headers.get('location')).toBe(`/dashboard/sign-in?next=${encodeURIComponent(path)}`);
      }
      const form = await request('/dashboard/sign-in?next=%2Fdashboard%2Fduplicates');
      expect(form.status).toBe(200);
      const html = await form.text();
      expect(html).toContain('<label for="token">Admin token</label>');
      expect(html).toContain('name="next" value="/dashboard/duplicates"');
    });

    it('turns the admin token into an HttpOnly, SameSite=Strict session cookie that holds no token', async () => {
      const response = await signInRequest(adminToken, undefined, '/dashboard/events?status=dead');
      expect(response.status).toBe(303);
      expect(response.headers.get('location')).toBe('/dashboard/events?status=dead');
      const setCookie = response.headers.get('set-cookie')!;
      expect(setCookie).toMatch(/^hookbox_session=[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+;/);
      expect(setCookie).toContain('HttpOnly');
      expect(setCookie).toContain('SameSite=Strict');
      expect(setCookie).toContain('Path=/');
      expect(setCookie).toContain('Max-Age=43200');
      expect(setCookie).not.toContain('Secure');
      expect(setCookie).not.toContain(adminToken);
      const payload = Buffer.from(setCookie.split('=')[1]!.split('.')[0]!, 'base64url').toString();
      expect(payload).not.toContain(adminToken);

      const behindTls = await signInRequest(adminToken, {
        'sec-fetch-site': 'same-origin',
        'x-forwarded-proto': 'https',
      });
      expect(behindTls.headers.get('set-cookie')).toContain('Secure');
    });

    it('refuses unknown tokens and the cron secret without echoing them', async () => {
      for (const token of ['not-a-configured-token-000000', cronSecret, '']) {
        const response = await signInRequest(token);
        expect(response.status).toBe(401);
        expect(response.headers.get('set-cookie')).toBeNull();
        const html = await response.text();
        expect(html).toContain('role="alert"');
        if (token) expect(html).not.toContain(token);
      }
    });

    it('reads at most 8 KiB of a sign-in form', async () => {
      const padded = new URLSearchParams({ token: adminToken, pad: 'x'.repeat(9000) }).toString();
      const response = await request('/dashboard/sign-in', {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', 'sec-fetch-site': 'same-origin' },
        body: padded,
      });
      expect(response.status).toBe(401);
      expect(response.headers.get('set-cookie')).toBeNull();
    });

    it('only follows a dashboard path after sign-in', async () => {
      for (const next of [
        '//evil.example/x',
        'https://evil.example',
        '/dashboard/\\evil',
        '/api/admin/events',
      ]) {
        const response = await signInRequest(adminToken, undefined, next);
        expect(response.headers.get('location')).toBe('/dashboard');
      }
    });

    it('refuses a sign-in posted from another site', async () => {
      const response = await signInRequest(adminToken, { 'sec-fetch-site': 'cross-site' });
      expect(response.status).toBe(403);
      expect(response.headers.get('set-cookie')).toBeNull();
    });

    it('takes a sign-in only from the dashboard itself: same-origin, none, or its own Origin', async () => {
      // A page on another port or a sibling subdomain is `same-site`: login CSRF from there too.
      const refused: Record<string, string>[] = [
        { 'sec-fetch-site': 'same-site' },
        { 'sec-fetch-site': 'same-site', origin: 'http://hookbox.test' },
        { origin: 'http://evil.hookbox.test' },
        { origin: 'http://hookbox.test:8080' },
        { origin: 'null' },
        {},
      ];
      for (const headers of refused) {
        const response = await signInRequest(adminToken, headers);
        expect(response.status, JSON.stringify(headers)).toBe(403);
        expect(response.headers.get('set-cookie')).toBeNull();
      }
      const accepted: Record<string, string>[] = [
        { 'sec-fetch-site': 'same-origin' },
        { 'sec-fetch-site': 'none' },
        // A browser without Fetch Metadata still sends Origin on a POST.
        { origin: 'http://hookbox.test' },
        // Behind a TLS-terminating proxy the page's origin is https.
        { origin: 'https://hookbox.test', 'x-forwarded-proto': 'https' },
      ];
      for (const headers of accepted) {
        const response = await signInRequest(adminToken, headers);
        expect(response.status, JSON.stringify(headers)).toBe(303);
        expect(response.headers.get('set-cookie')).toMatch(/^hookbox_session=/);
      }
    });

    it('signs out only with the CSRF token, clearing the cookie', async () => {
      const { cookie, csrf } = await signIn(adminToken);
      const form = (token: string) =>
        request('/dashboard/sign-out', {
          method: 'POST',
          headers: { cookie, 'content-type': 'application/x-www-form-urlencoded' },
          body: new URLSearchParams({ csrf: token }).toString(),
        });
      expect((await form('wrong')).status).toBe(403);
      const response = await form(csrf);
      expect(response.status).toBe(303);
      expect(response.headers.get('location')).toBe('/dashboard/sign-in');
      expect(response.headers.get('set-cookie')).toMatch(/^hookbox_session=;.*Max-Age=0/);
    });
  });

  describe('pages', () => {
    it('renders the overview with the status server-side, a CSRF meta tag, strict headers and no token', async () => {
      await seed.dead(2);
      const { cookie } = await signIn(adminToken);
      const response = await request('/dashboard', { headers: { cookie } });
      expect(response.status).toBe(200);
      expect(response.headers.get('content-security-policy')).toContain("script-src 'self'");
      expect(response.headers.get('x-frame-options')).toBe('DENY');
      expect(response.headers.get('cache-control')).toBe('no-store');
      const html = await response.text();
      expect(html).toMatch(
        /<div id="status" class="status status-(healthy|degraded|critical)" role="status" aria-live="polite"/,
      );
      expect(html).toContain('data-check="recentFailures"');
      expect(html).toContain('<meta name="csrf-token" content="');
      expect(html).not.toContain(adminToken);
      expect(html).not.toContain(readToken);
      expect(html).not.toMatch(/<script>|style="/);
      expect(html).toContain('aria-current="page">Overview</a>');
    });

    it('serves every page to a session, and 404 for an unknown event', async () => {
      const [id] = await seed.record(1);
      const { cookie } = await signIn(readToken);
      for (const path of [
        '/dashboard/events',
        `/dashboard/events/${id}`,
        '/dashboard/dead-letters',
        '/dashboard/duplicates',
        '/dashboard/blocked-keys',
        '/dashboard/destinations',
      ]) {
        const response = await request(path, { headers: { cookie } });
        expect(response.status, path).toBe(200);
      }
      const missing = await request('/dashboard/events/01KNOTANEVENT0000000000000', { headers: { cookie } });
      expect(missing.status).toBe(404);
      expect(await missing.text()).toContain('No event');
    });

    it('renders no action for a read-only session', async () => {
      const [id] = await seed.dead(1);
      const readOnly = await signIn(readToken);
      const detail = await (
        await request(`/dashboard/events/${id}`, { headers: { cookie: readOnly.cookie } })
      ).text();
      expect(detail).not.toContain('id="action-retry"');
      expect(detail).toContain('This session is read-only');
      const admin = await signIn(adminToken);
      const full = await (
        await request(`/dashboard/events/${id}`, { headers: { cookie: admin.cookie } })
      ).text();
      expect(full).toContain('id="action-retry"');
      expect(full).toContain('<dialog id="confirm-dialog"');
      // The blocked-keys page (docs/ordering.md): its unblock column and dialog for admins only.
      const blockedReadOnly = await (
        await request('/dashboard/blocked-keys', { headers: { cookie: readOnly.cookie } })
      ).text();
      expect(blockedReadOnly).toContain('id="blocked-table"');
      expect(blockedReadOnly).not.toContain('<th scope="col">Unblock</th>');
      expect(blockedReadOnly).toContain('This session is read-only');
      const blockedAdmin = await (
        await request('/dashboard/blocked-keys', { headers: { cookie: admin.cookie } })
      ).text();
      expect(blockedAdmin).toContain('<th scope="col">Unblock</th>');
      expect(blockedAdmin).toContain('<dialog id="confirm-dialog"');
      // destinations: the deliveries section, its Actions column only for an admin session.
      expect(full).toContain('id="deliveries-table"');
      expect(detail).toContain('id="deliveries-table"');
      expect(detail).not.toMatch(/deliveries-table[\s\S]*<th scope="col">Actions<\/th>/);
      const destinations = await (
        await request('/dashboard/destinations', { headers: { cookie: readOnly.cookie } })
      ).text();
      expect(destinations).toContain('pause, resume or enable destinations');
      expect(destinations).not.toContain('<th scope="col">Actions</th>');
    });

    it('escapes filter values into the form', async () => {
      const { cookie } = await signIn(adminToken);
      const html = await (
        await request(`/dashboard/events?type=${encodeURIComponent('"><script>alert(1)</script>')}`, {
          headers: { cookie },
        })
      ).text();
      expect(html).not.toContain('<script>alert(1)</script>');
      expect(html).toContain('&quot;&gt;&lt;script&gt;');
    });

    it('serves its assets from Hookbox, cached for good under their hashed URL', async () => {
      const { cookie } = await signIn(adminToken);
      const html = await (await request('/dashboard', { headers: { cookie } })).text();
      const urls = [...html.matchAll(/(?:href|src)="(\/dashboard\/assets\/[^"]+)"/g)].map((m) => m[1]!);
      expect(urls).toHaveLength(4);
      for (const url of urls) {
        const response = await request(url);
        expect(response.status).toBe(200);
        expect(response.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
        expect(response.headers.get('content-type')).toMatch(/^text\/(css|javascript)/);
        const again = await request(url, { headers: { 'if-none-match': response.headers.get('etag')! } });
        expect(again.status).toBe(304);
      }
      expect((await request('/dashboard/assets/other.js')).status).toBe(404);
    });

    it('mounts with hookbox.app in a parent Hono app (library mode)', async () => {
      const parent = new Hono();
      parent.route('/', hookbox.app);
      expect((await parent.request('/dashboard')).status).toBe(302);
      const signedIn = await parent.request('/dashboard/sign-in', {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', 'sec-fetch-site': 'same-origin' },
        body: new URLSearchParams({ token: adminToken }).toString(),
      });
      const cookie = signedIn.headers.get('set-cookie')!.split(';')[0]!;
      expect((await parent.request('/dashboard/events', { headers: { cookie } })).status).toBe(200);
      expect((await parent.request('/api/admin/statistics', { headers: { cookie } })).status).toBe(200);
    });

    it('is not served without ADMIN_TOKEN, or when turned off', async () => {
      const readOnlyOnly = build({ token: undefined });
      expect((await request('/dashboard', {}, readOnlyOnly)).status).toBe(404);
      const off = build({}, { enabled: false });
      expect((await request('/dashboard/sign-in', {}, off)).status).toBe(404);
    });
  });

  describe('the session on the admin API', () => {
    it('reads with the cookie, and acts only with the CSRF token', async () => {
      const [id] = await seed.dead(1);
      const { cookie, csrf } = await signIn(adminToken);
      expect((await request('/api/admin/statistics', { headers: { cookie } })).status).toBe(200);

      const retry = (headers: Record<string, string>) =>
        request(`/api/admin/events/${id}/retry`, { method: 'POST', headers: { cookie, ...headers } });
      for (const headers of [{}, { 'x-csrf-token': 'forged' }] as Record<string, string>[]) {
        const refused = await retry(headers);
        expect(refused.status).toBe(403);
        expect((await refused.json()).error.code).toBe('csrf_failed');
      }
      expect((await store.getEvent(id!))?.status).toBe('dead');
      const accepted = await retry({ 'x-csrf-token': csrf });
      expect(accepted.status).toBe(200);
      expect((await store.getEvent(id!))?.status).toBe('pending');
    });

    it('lets a read-only session read but not act, even with its CSRF token', async () => {
      const [id] = await seed.dead(1);
      const { cookie, csrf } = await signIn(readToken);
      expect((await request(`/api/admin/events/${id}`, { headers: { cookie } })).status).toBe(200);
      const refused = await request(`/api/admin/events/${id}/retry`, {
        method: 'POST',
        headers: { cookie, 'x-csrf-token': csrf },
      });
      expect(refused.status).toBe(403);
      expect((await refused.json()).error.code).toBe('forbidden');
      expect((await store.getEvent(id!))?.status).toBe('dead');
    });

    it('prefers a Bearer token to the cookie (no CSRF needed, its own role)', async () => {
      const [id] = await seed.dead(1);
      const readOnly = await signIn(readToken);
      const response = await request(`/api/admin/events/${id}/retry`, {
        method: 'POST',
        headers: { cookie: readOnly.cookie, authorization: `Bearer ${adminToken}` },
      });
      expect(response.status).toBe(200);
    });

    it('rejects a tampered, expired, foreign or revoked session', async () => {
      const { cookie } = await signIn(readToken);
      const [name, value] = cookie.split('=') as [string, string];
      const [payload, mac] = value.split('.') as [string, string];
      const decoded = JSON.parse(Buffer.from(payload, 'base64url').toString());
      const promoted = Buffer.from(JSON.stringify({ ...decoded, r: 'admin' })).toString('base64url');
      const tampered = [
        `${name}=${promoted}.${mac}`,
        `${name}=${payload}.${mac.slice(0, -2)}AA`,
        `${name}=${payload}`,
      ];
      for (const forged of tampered) {
        expect((await request('/dashboard', { headers: { cookie: forged } })).status).toBe(302);
        expect((await request('/api/admin/statistics', { headers: { cookie: forged } })).status).toBe(401);
      }

      // Another ADMIN_TOKEN keys another signature: its instances do not accept this cookie.
      const other = build({ token: 'another-admin-token-0123456789' });
      expect((await request('/dashboard', { headers: { cookie } }, other)).status).toBe(302);
      // The same config on another instance accepts it (stateless sessions).
      const sibling = build();
      expect((await request('/dashboard', { headers: { cookie } }, sibling)).status).toBe(200);
      // Removing the read-only token ends the sessions it opened.
      const revoked = build({ readOnlyTokens: ['another-read-token-0123456789'] });
      expect((await request('/dashboard', { headers: { cookie } }, revoked)).status).toBe(302);

      clock.advance(12 * 60 * minute + 1);
      expect((await request('/dashboard', { headers: { cookie } })).status).toBe(302);
      expect((await request('/api/admin/statistics', { headers: { cookie } })).status).toBe(401);
    });
  });

  describe('admin routes for the dashboard', () => {
    it('GET /api/admin/timeseries: per-minute buckets ending with the current minute', async () => {
      const start = clock.now();
      await seed.processed(3);
      await seed.dead(1);
      clock.advance(2 * minute);
      await seed.record(2);
      const body = await (
        await request('/api/admin/timeseries', { headers: { authorization: `Bearer ${readToken}` } })
      ).json();
      const data = body.data;
      expect(data.window.minutes).toBe(60);
      expect(data.bucketMs).toBe(minute);
      expect(Date.parse(data.window.since)).toBe(Math.floor(clock.now() / minute) * minute - 59 * minute);
      for (const series of ['received', 'processed', 'failed', 'backlog'])
        expect(data[series]).toHaveLength(60);
      const at = (ms: number) => Math.floor((ms - Date.parse(data.window.since)) / minute);
      expect(data.received[at(start)]).toBe(4);
      expect(data.processed[at(start)]).toBe(3);
      expect(data.failed[at(start)]).toBe(1);
      expect(data.received[59]).toBe(2);
      expect(data.backlog[59]).toBe(2);
      expect(data.received.reduce((a: number, b: number) => a + b, 0)).toBe(6);

      const day = await (
        await request('/api/admin/timeseries?window=1440', {
          headers: { authorization: `Bearer ${readToken}` },
        })
      ).json();
      expect(day.data.received).toHaveLength(1440);
    });

    it('GET /api/admin/duplicates: redeliveries and bodies under several ids, for read-only tokens too', async () => {
      const [id] = await seed.record(1, { key: 'evt_again' });
      await seed.record(1, { key: 'evt_again' });
      const body = await (
        await request('/api/admin/duplicates?limit=5', { headers: { authorization: `Bearer ${readToken}` } })
      ).json();
      expect(body.data.redelivered).toEqual([
        expect.objectContaining({ id, deliveryCount: 2, receivedAt: new Date(clock.now()).toISOString() }),
      ]);
      expect(body.data.sameBody).toEqual([]);
    });
  });
});
