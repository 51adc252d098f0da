import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Browser, type BrowserContext, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createEventId } from '../../src/ids.ts';
import { checkNames } from '../../src/monitor/health-checks.ts';
import { openStore } from '../../src/store/open-store.ts';
import { type ServerProcess, startServerProcess, waitUntil } from '../support/processes.ts';
import { signStripe, stripeEventBody } from '../support/stripe.ts';

/**
 * The dashboard in Debian's chromium (headless) against a real `hookbox serve`: sign-in, the
 * overview, filtering events, an event's detail, retrying a dead event until it is processed,
 * bulk-retrying dead letters, a read-only session, and sign-out. The handler fails events marked
 * `fail` until a flag file exists, so the test makes dead letters and then lets them succeed.
 * Each test saves its screenshots as its last step, so only a passing run writes them: to a
 * scratch folder (test-results/screenshots/, gitignored) so `npm test` leaves the tree clean,
 * or to docs/images/ with `npm run docs:screenshots` (HOOKBOX_SCREENSHOTS_DIR).
 */

const adminToken = 'browser-admin-token-0123456789';
const readToken = 'browser-read-only-token-0123456789';
const secret = 'whsec_browser_dashboard_test';
const imagesDir = process.env.HOOKBOX_SCREENSHOTS_DIR
  ? resolve(process.env.HOOKBOX_SCREENSHOTS_DIR)
  : fileURLToPath(new URL('../../test-results/screenshots/', import.meta.url));
const viewport = { width: 1280, height: 800 };
const okCount = 12;
const failCount = 4;
const slow = 120_000;

describe('dashboard in a browser', () => {
  let cwd: string;
  let flagFile: string;
  let server: ServerProcess;
  let browser: Browser;
  let admin: BrowserContext;
  const pageErrors: string[] = [];

  async function deliver(id: string, type = 'payment_intent.succeeded', extra: Record<string, unknown> = {}) {
    const body = stripeEventBody(id, type, extra);
    const response = await fetch(`${server.url}/webhooks/stripe`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'stripe-signature': signStripe(body, secret, Math.floor(Date.now() / 1000)),
      },
      body,
    });
    expect(response.status).toBe(200);
  }

  async function statistics(): Promise<{ byStatus: Record<string, number>; total: number }> {
    const response = await fetch(`${server.url}/api/admin/statistics`, {
      headers: { authorization: `Bearer ${adminToken}` },
    });
    return (await response.json()).data;
  }

  async function newPage(context: BrowserContext): Promise<Page> {
    const page = await context.newPage();
    page.setDefaultTimeout(30_000);
    page.on('pageerror', (error) => pageErrors.push(error.message));
    return page;
  }

  async function signIn(context: BrowserContext, token: string): Promise<Page> {
    const page = await newPage(context);
    await page.goto(`${server.url}/dashboard`);
    await page.getByLabel('Admin token').fill(token);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.waitForURL(`${server.url}/dashboard`);
    return page;
  }

  function saveScreenshots(shots: Record<string, Buffer>): void {
    mkdirSync(imagesDir, { recursive: true });
    for (const [name, png] of Object.entries(shots))
      writeFileSync(join(imagesDir, `dashboard-${name}.png`), png);
  }

  beforeAll(async () => {
    cwd = mkdtempSync(join(tmpdir(), 'hookbox-browser-'));
    flagFile = join(cwd, 'downstream-is-back');
    writeFileSync(
      join(cwd, 'hookbox.config.mjs'),
      `import { existsSync } from 'node:fs';
export default {
  sources: { stripe: { provider: 'stripe', secrets: [${JSON.stringify(secret)}] } },
  retry: { maxAttempts: 1 },
  circuitBreaker: false,
  worker: { pollIntervalMs: 200 },
  handlers: {
    stripe: {
      '*': async ({ payload }) => {
        await new Promise((resolve) => setTimeout(resolve, 5 + Math.floor(Math.random() * 30)));
        if (payload?.data?.object?.fail && !existsSync(${JSON.stringify(flagFile)})) {
          throw new Error('ledger service unavailable (HTTP 503)');
        }
      },
    },
  },
};
`,
    );
    server = await startServerProcess({
      cwd,
      env: {
        ADMIN_TOKEN: adminToken,
        ADMIN_READONLY_TOKENS: readToken,
        DATABASE_URL: `file:${join(cwd, 'hookbox.db')}`,
        STRIPE_WEBHOOK_SECRET: '',
      },
    });

    const types = ['payment_intent.succeeded', 'invoice.paid', 'customer.created'];
    for (let i = 0; i < okCount; i++) await deliver(`evt_browser_ok_${i}`, types[i % types.length]);
    for (let i = 0; i < failCount; i++)
      await deliver(`evt_browser_fail_${i}`, 'invoice.payment_failed', { fail: true });
    await deliver('evt_browser_ok_1', types[1]); // a provider redelivery
    // One body under two ids: what a sender minting a new id per retry looks like.
    const store = openStore(`file:${join(cwd, 'hookbox.db')}`);
    const body = Buffer.from(stripeEventBody('evt_browser_same', 'charge.refunded'));
    const sha = createHash('sha256').update(body).digest('hex');
    const now = Date.now();
    await store.recordEvents(
      ['evt_browser_same_a', 'evt_browser_same_b'].map((dedupeKey) => ({
        id: createEventId(now),
        source: 'stripe',
        provider: 'stripe',
        dedupeKey,
        eventType: 'charge.refunded',
        headers: { 'content-type': 'application/json' },
        body,
        bodySha256: sha,
        receivedAt: now,
      })),
    );
    await store.close();

    await waitUntil(async () => {
      const { byStatus } = await statistics();
      return byStatus.dead === failCount && byStatus.processed === okCount + 2;
    }, 60_000);

    browser = await chromium.launch({
      executablePath: '/usr/bin/chromium',
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    });
    admin = await browser.newContext({ viewport });
  }, slow);

  afterAll(async () => {
    await browser?.close();
    await server?.stop();
    if (cwd) rmSync(cwd, { recursive: true, force: true });
  });

  it(
    'redirects a request without a session to sign-in, and refuses a wrong token',
    async () => {
      const raw = await fetch(`${server.url}/dashboard/dead-letters`, { redirect: 'manual' });
      expect(raw.status).toBe(302);
      expect(raw.headers.get('location')).toBe('/dashboard/sign-in?next=%2Fdashboard%2Fdead-letters');

      const context = await browser.newContext({ viewport });
      const page = await newPage(context);
      await page.goto(`${server.url}/dashboard/events?status=dead`);
      const landed = new URL(page.url());
      expect(landed.pathname).toBe('/dashboard/sign-in');
      expect(landed.searchParams.get('next')).toBe('/dashboard/events?status=dead');
      await expect(
        page.getByLabel('Admin token').evaluate((input) => input === document.activeElement),
      ).resolves.toBe(true);
      const signInShot = await page.screenshot();

      await page.getByLabel('Admin token').fill('not-a-configured-token-00000');
      await page.getByRole('button', { name: 'Sign in' }).click();
      await expect(page.getByRole('alert').textContent()).resolves.toContain('not a configured');
      expect(await context.cookies()).toEqual([]);
      await context.close();
      expect(pageErrors).toEqual([]);
      saveScreenshots({ 'sign-in': signInShot });
    },
    slow,
  );

  it(
    'signs in with the admin token and shows the overview, live',
    async () => {
      const page = await signIn(admin, adminToken);
      const [cookie] = await admin.cookies();
      expect(cookie).toMatchObject({
        name: 'hookbox_session',
        httpOnly: true,
        sameSite: 'Strict',
        path: '/',
      });
      expect(cookie!.value).not.toContain(adminToken);

      await expect(page.locator('#status .status-label').textContent()).resolves.toMatch(
        /^(HEALTHY|DEGRADED|CRITICAL)$/,
      );
      await expect(page.locator('#checks tbody tr').count()).resolves.toBe(checkNames.length);
      // 4 of 18 finished events are dead: the success-rate check fails and raises its alert.
      await page.locator('#alerts .alert', { hasText: 'LOW_SUCCESS_RATE' }).waitFor();
      await page.locator('#chart-throughput path.series-received').waitFor({ state: 'attached' });
      await page.locator('#chart-latency rect.bar').first().waitFor({ state: 'attached' });
      await expect(page.locator('#chart-throughput').getAttribute('aria-label')).resolves.toMatch(
        /\d+ received/,
      );

      // Live: a delivery shows up in the chart within a refresh or two, without a reload.
      const received = async () =>
        Number(
          /(\d+) received/.exec(
            (await page.locator('#chart-throughput').getAttribute('aria-label')) ?? '',
          )?.[1],
        );
      const before = await received();
      await deliver('evt_browser_overview_live', 'customer.updated');
      await vi.waitFor(async () => expect(await received()).toBe(before + 1), {
        timeout: 30_000,
        interval: 250,
      });

      // The last-day window draws 1440 minutes.
      await page.getByRole('button', { name: 'Last day' }).click();
      await vi.waitFor(
        async () =>
          expect(await page.locator('#chart-throughput').getAttribute('aria-label')).toContain(
            'over the last day',
          ),
        { timeout: 20_000 },
      );
      await page.getByRole('button', { name: 'Last hour' }).click();
      await vi.waitFor(
        async () =>
          expect(await page.locator('#chart-throughput').getAttribute('aria-label')).toContain(
            'over the last hour',
          ),
        { timeout: 20_000 },
      );
      const overviewShot = await page.screenshot();
      await page.evaluate(() => {
        const checks = document.querySelector('#checks-heading')!.closest('section')!;
        window.scrollTo(0, checks.getBoundingClientRect().top + window.scrollY - 16);
      });
      const chartsShot = await page.screenshot();

      // Keyboard first: the skip link is the first stop from the top, and it leads to the content.
      await page.reload();
      await page.keyboard.press('Tab');
      await expect(page.evaluate(() => document.activeElement?.textContent)).resolves.toBe('Skip to content');
      await page.keyboard.press('Enter');
      await expect(page.evaluate(() => document.activeElement?.id)).resolves.toBe('main');

      // Readable from 1024 px wide: nothing scrolls sideways.
      await page.setViewportSize({ width: 1024, height: 800 });
      await expect(page.evaluate(() => document.documentElement.scrollWidth)).resolves.toBeLessThanOrEqual(
        1024,
      );
      await page.close();
      expect(pageErrors).toEqual([]);
      saveScreenshots({ overview: overviewShot, 'overview-charts': chartsShot });
    },
    slow,
  );

  it(
    'filters events, searches by dedupe key, and shows new events without a reload',
    async () => {
      const page = await newPage(admin);
      await page.goto(`${server.url}/dashboard/events`);
      await page.locator('#events-table tbody tr[data-id]').first().waitFor();

      await page.getByLabel('Status').selectOption('dead');
      await page.getByRole('button', { name: 'Apply filters' }).click();
      await page.waitForURL(/status=dead/);
      await vi.waitFor(
        async () => expect(await page.locator('#events-table tbody tr[data-id]').count()).toBe(failCount),
        {
          timeout: 20_000,
        },
      );
      expect(await page.locator('#events-table tbody .pill').allTextContents()).toEqual(
        Array(failCount).fill('dead'),
      );

      await page.getByLabel('Status').selectOption('');
      await page.getByLabel('Event id or dedupe key').fill('evt_browser_ok_3');
      await page.getByRole('button', { name: 'Apply filters' }).click();
      await page.waitForURL(/search=evt_browser_ok_3/);
      await vi.waitFor(
        async () => {
          const rows = page.locator('#events-table tbody tr[data-id]');
          expect(await rows.count()).toBe(1);
          expect(await rows.first().textContent()).toContain('evt_browser_ok_3');
        },
        { timeout: 20_000 },
      );

      await page.getByLabel('Provider').selectOption('stripe');
      await page.getByLabel('Event id or dedupe key').fill('');
      await page.getByLabel('Type').fill('invoice.paid');
      await page.getByRole('button', { name: 'Apply filters' }).click();
      await page.waitForURL(/type=invoice.paid/);
      await vi.waitFor(
        async () => {
          const types = await page
            .locator('#events-table tbody tr[data-id] td:nth-child(2) a')
            .allTextContents();
          expect(types).toHaveLength(okCount / 3);
          expect(new Set(types)).toEqual(new Set(['invoice.paid']));
        },
        { timeout: 20_000 },
      );

      await page.getByRole('link', { name: 'Clear' }).click();
      await page.waitForURL(`${server.url}/dashboard/events`);
      await page.locator('#events-table tbody tr[data-id]').first().waitFor();
      await page.evaluate(() => {
        (window as unknown as { stayed: boolean }).stayed = true;
      });
      await deliver('evt_browser_live', 'checkout.session.completed');
      const live = page.locator('#events-table tbody tr[data-id]', { hasText: 'evt_browser_live' });
      await live.waitFor({ timeout: 30_000 });
      await expect(page.evaluate(() => (window as unknown as { stayed?: boolean }).stayed)).resolves.toBe(
        true,
      );
      // The announcer is cleared and then written 50 ms after the rows (so a repeat is read
      // again): wait for the words rather than read them the moment the row appears.
      await vi.waitFor(
        async () => expect(await page.locator('#announcer').textContent()).toMatch(/new event/),
        { timeout: 5_000 },
      );
      const eventsShot = await page.screenshot();
      await page.close();
      expect(pageErrors).toEqual([]);
      saveScreenshots({ events: eventsShot });
    },
    slow,
  );

  it(
    'opens a dead event, retries it, and watches it become processed',
    async () => {
      const page = await newPage(admin);
      await page.goto(`${server.url}/dashboard/events?status=dead`);
      await page.locator('#events-table tbody tr[data-id] a').first().click();
      await page.waitForURL(/\/dashboard\/events\/[0-9A-Z]{26}$/);
      const id = page.url().split('/').pop()!;

      await expect(page.getByRole('heading', { level: 1 }).textContent()).resolves.toContain(id);
      await vi.waitFor(async () => expect(await page.locator('#event-status').textContent()).toBe('dead'), {
        timeout: 20_000,
      });
      await expect(page.locator('#event-meta').textContent()).resolves.toContain('invoice.payment_failed');
      const signature = page.locator('#event-headers tbody tr', { hasText: 'stripe-signature' });
      await expect(signature.locator('td').textContent()).resolves.toBe('[redacted]');
      await expect(page.locator('#event-body').textContent()).resolves.toContain('"object": "event"');
      const attempts = page.locator('#attempts li');
      await expect(attempts.count()).resolves.toBe(1);
      await expect(attempts.first().textContent()).resolves.toContain('ledger service unavailable');
      const detailShot = await page.screenshot();

      writeFileSync(flagFile, 'ok');
      await page.getByRole('button', { name: 'Retry' }).click();
      await expect(page.locator('#action-result').textContent()).resolves.toMatch(/Working|Requeued/);
      await vi.waitFor(
        async () => expect(await page.locator('#event-status').textContent()).toBe('processed'),
        {
          timeout: 60_000,
          interval: 250,
        },
      );
      await vi.waitFor(async () => expect(await attempts.count()).toBe(2), { timeout: 20_000 });
      await expect(attempts.nth(1).textContent()).resolves.toContain('processed');
      await expect(page.getByRole('button', { name: 'Replay' }).isVisible()).resolves.toBe(true);
      const processedShot = await page.screenshot();
      await page.close();
      expect(pageErrors).toEqual([]);
      saveScreenshots({ 'event-detail': detailShot, 'event-processed': processedShot });
    },
    slow,
  );

  it(
    'bulk-retries dead letters, selected by keyboard and then all, with progress',
    async () => {
      const page = await newPage(admin);
      await page.goto(`${server.url}/dashboard/dead-letters`);
      const rows = page.locator('#dead-table tbody tr[data-id]');
      await vi.waitFor(async () => expect(await rows.count()).toBe(failCount - 1), { timeout: 20_000 });
      await expect(page.locator('#dead-summary').textContent()).resolves.toContain(
        `${failCount - 1} dead events`,
      );

      // Select two with the keyboard: focus a checkbox, Space toggles it.
      for (const index of [0, 1]) {
        await rows.nth(index).getByRole('checkbox').focus();
        await page.keyboard.press('Space');
      }
      const retrySelected = page.locator('#retry-selected');
      await expect(retrySelected.textContent()).resolves.toBe('Retry 2 selected');
      await expect(
        page.locator('#select-all').evaluate((box) => (box as HTMLInputElement).indeterminate),
      ).resolves.toBe(true);
      const deadShot = await page.screenshot();

      await retrySelected.click();
      await vi.waitFor(
        async () => expect(await page.locator('#bulk-progress-text').textContent()).toBe('Requeued 2 of 2.'),
        { timeout: 30_000 },
      );
      await expect(
        page.locator('#bulk-progress-bar').evaluate((bar) => (bar as HTMLProgressElement).value),
      ).resolves.toBe(2);
      await vi.waitFor(async () => expect(await rows.count()).toBe(1), { timeout: 30_000 });

      await page.locator('#retry-all').click();
      const dialog = page.getByRole('dialog');
      await dialog.waitFor();
      await expect(page.evaluate(() => document.activeElement?.id)).resolves.toBe('confirm-cancel');
      await dialog.getByRole('button', { name: 'Retry all' }).click();
      await vi.waitFor(
        async () => expect(await page.locator('#bulk-progress-text').textContent()).toBe('Requeued 1 event.'),
        { timeout: 30_000 },
      );
      await page
        .locator('#dead-table tbody td', { hasText: 'No dead letters.' })
        .waitFor({ timeout: 30_000 });
      await waitUntil(async () => {
        const { byStatus } = await statistics();
        return byStatus.dead === 0 && byStatus.processed === okCount + 2 + 2 + failCount;
      }, 60_000);
      await page.close();
      expect(pageErrors).toEqual([]);
      saveScreenshots({ 'dead-letters': deadShot });
    },
    slow,
  );

  it(
    'lists redelivered events and bodies stored under several ids',
    async () => {
      const page = await newPage(admin);
      await page.goto(`${server.url}/dashboard/duplicates`);
      const redelivered = page.locator('#redelivered-table tbody tr', { hasText: 'invoice.paid' });
      await redelivered.waitFor();
      await expect(redelivered.locator('td.num').textContent()).resolves.toBe('2');
      const group = page.locator('#same-body-table tbody tr', { hasText: 'evt_browser_same_a' });
      await group.waitFor();
      await expect(group.textContent()).resolves.toContain('evt_browser_same_b');
      const duplicatesShot = await page.screenshot();
      await page.close();
      expect(pageErrors).toEqual([]);
      saveScreenshots({ duplicates: duplicatesShot });
    },
    slow,
  );

  it(
    'gives a read-only session every page but no action',
    async () => {
      const context = await browser.newContext({ viewport });
      const page = await signIn(context, readToken);
      await expect(page.locator('.session .role').textContent()).resolves.toBe('Read-only');
      await page.locator('#checks tbody tr').first().waitFor();

      const { events } = (
        await (
          await fetch(`${server.url}/api/admin/events?search=evt_browser_ok_2`, {
            headers: { authorization: `Bearer ${readToken}` },
          })
        ).json()
      ).data;
      const id = events[0].id as string;
      await page.goto(`${server.url}/dashboard/events/${id}`);
      await vi.waitFor(
        async () => expect(await page.locator('#event-status').textContent()).toBe('processed'),
        {
          timeout: 20_000,
        },
      );
      await expect(
        page.getByRole('button', { name: /Retry|Replay|Mark processed|Delete/ }).count(),
      ).resolves.toBe(0);
      await expect(page.locator('.notice-readonly').textContent()).resolves.toContain('read-only');

      await page.goto(`${server.url}/dashboard/dead-letters`);
      await page.locator('#dead-summary', { hasText: /dead/ }).waitFor();
      await expect(page.locator('#retry-all').count()).resolves.toBe(0);
      await expect(page.getByRole('checkbox').count()).resolves.toBe(0);

      // The API refuses it too, even with the page's own CSRF token.
      const attempts = await page.evaluate(async (eventId) => {
        const csrf = document.querySelector('meta[name="csrf-token"]')!.getAttribute('content')!;
        const post = (path: string, body: unknown) =>
          fetch(path, {
            method: 'POST',
            headers: { 'content-type': 'application/json', 'x-csrf-token': csrf },
            body: JSON.stringify(body),
          }).then(async (r) => ({ status: r.status, code: (await r.json()).error?.code }));
        return [
          await post(`/api/admin/events/${eventId}/retry`, { force: true }),
          await post('/api/admin/events/retry', { status: ['dead'] }),
          await post('/api/admin/webhooks/monitor', { action: 'delete-event', params: { eventId } }),
        ];
      }, id);
      expect(attempts).toEqual(Array(3).fill({ status: 403, code: 'forbidden' }));
      const after = (
        await (
          await fetch(`${server.url}/api/admin/events/${id}`, {
            headers: { authorization: `Bearer ${readToken}` },
          })
        ).json()
      ).data;
      expect(after).toMatchObject({ status: 'processed' });
      expect(after.attempts).toHaveLength(1);
      await context.close();
      expect(pageErrors).toEqual([]);
    },
    slow,
  );

  it(
    'deletes an event after a confirmation that can be cancelled from the keyboard',
    async () => {
      const page = await newPage(admin);
      await page.goto(`${server.url}/dashboard/events?search=evt_browser_overview_live`);
      await page.locator('#events-table tbody tr[data-id] a').first().click();
      await page.waitForURL(/\/dashboard\/events\/[0-9A-Z]{26}$/);
      const id = page.url().split('/').pop()!;
      const byBearer = () =>
        fetch(`${server.url}/api/admin/events/${id}`, { headers: { authorization: `Bearer ${adminToken}` } });
      const remove = page.getByRole('button', { name: 'Delete…' });
      await vi.waitFor(async () => expect(await remove.isEnabled()).toBe(true), { timeout: 20_000 });

      await remove.click();
      const dialog = page.getByRole('dialog');
      await dialog.waitFor();
      await expect(dialog.textContent()).resolves.toContain(id);
      await expect(page.evaluate(() => document.activeElement?.id)).resolves.toBe('confirm-cancel');
      await page.keyboard.press('Escape');
      await dialog.waitFor({ state: 'hidden' });
      await expect(page.evaluate(() => document.activeElement?.id)).resolves.toBe('action-delete');
      expect((await byBearer()).status).toBe(200);

      await page.keyboard.press('Enter');
      await dialog.waitFor();
      await dialog.getByRole('button', { name: 'Delete event' }).click();
      await page.waitForURL(/\/dashboard\/events\?deleted=/);
      await expect(page.locator('.notice').textContent()).resolves.toBe(`Event ${id} was deleted.`);
      expect((await byBearer()).status).toBe(404);
      await page.close();
      expect(pageErrors).toEqual([]);
    },
    slow,
  );

  it(
    'refuses an action without the CSRF token, and signs out',
    async () => {
      const page = await newPage(admin);
      await page.goto(`${server.url}/dashboard/duplicates`);
      const refused = await page.evaluate(async () => {
        const response = await fetch('/api/admin/events/retry', {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ status: ['failed'] }),
        });
        return { status: response.status, code: (await response.json()).error?.code };
      });
      expect(refused).toEqual({ status: 403, code: 'csrf_failed' });

      await page.getByRole('button', { name: 'Sign out' }).click();
      await page.waitForURL(`${server.url}/dashboard/sign-in`);
      expect(await admin.cookies()).toEqual([]);
      await page.goto(`${server.url}/dashboard`);
      expect(new URL(page.url()).pathname).toBe('/dashboard/sign-in');
      await page.close();
      expect(pageErrors).toEqual([]);
    },
    slow,
  );
});
