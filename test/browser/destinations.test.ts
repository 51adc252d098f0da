import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Browser, type BrowserContext, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import {
  type ServerProcess,
  startServerProcess,
  waitUntil,
  withoutEnvSources,
} from '../support/processes.ts';
import { signStripe, stripeEventBody } from '../support/stripe.ts';

/**
 * The dashboard's destination views in Debian's chromium (headless) against a real `hookbox
 * serve` forwarding to two real HTTP servers on loopback: `crm` answers 200, `ledger` 503 until
 * the test lets it recover. The Destinations page shows the failing one; the event's page
 * retries its dead delivery, which then succeeds. No screenshot is written.
 */

const adminToken = 'browser-destinations-admin-token-0123';
const secret = 'whsec_browser_destinations_test';
const slow = 120_000;
const signingSecret = `whsec_${Buffer.from('browser-destination-secret-012345').toString('base64')}`;

describe('dashboard destinations in a browser', () => {
  let cwd: string;
  let server: ServerProcess;
  let endpoint: Server;
  let ledgerUp = false;
  const received: string[] = [];
  let browser: Browser;
  let admin: BrowserContext;
  const pageErrors: string[] = [];

  async function api(path: string) {
    const response = await fetch(`${server.url}${path}`, {
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

  beforeAll(async () => {
    endpoint = createServer((request, response) => {
      request.resume();
      request.on('end', () => {
        received.push(request.url ?? '');
        const failing = request.url === '/ledger' && !ledgerUp;
        response.writeHead(failing ? 503 : 200, { 'content-type': 'text/plain' });
        response.end(failing ? 'ledger is down for maintenance' : 'ok');
      });
    });
    await new Promise<void>((resolve) => endpoint.listen(0, '127.0.0.1', resolve));
    const { port } = endpoint.address() as AddressInfo;
    cwd = mkdtempSync(join(tmpdir(), 'hookbox-browser-destinations-'));
    const destination = (name: string) => ({
      name,
      url: `http://127.0.0.1:${port}/${name}`,
      signingSecret,
      allowPrivateNetwork: true,
      maxAttempts: 1,
    });
    writeFileSync(
      join(cwd, 'hookbox.config.json'),
      JSON.stringify({
        sources: {
          stripe: {
            provider: 'stripe',
            secrets: [secret],
            destinations: [destination('crm'), destination('ledger')],
          },
        },
      }),
    );
    server = await startServerProcess({
      cwd,
      env: { ...withoutEnvSources, ADMIN_TOKEN: adminToken, DATABASE_URL: `file:${join(cwd, 'hookbox.db')}` },
    });
    const body = stripeEventBody('evt_browser_forward_1', 'invoice.paid');
    const response = await fetch(`${server.url}/webhooks/stripe`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'stripe-signature': signStripe(body, secret, Math.floor(Date.now() / 1000)),
      },
      body,
    });
    expect(response.status).toBe(200);
    await waitUntil(async () => {
      const { deliveries } = await api('/api/admin/deliveries');
      return (
        deliveries.length === 2 &&
        deliveries.every((d: { status: string }) => ['succeeded', 'dead'].includes(d.status))
      );
    }, 30_000);

    browser = await chromium.launch({
      executablePath: '/usr/bin/chromium',
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--no-first-run',
        '--disable-background-networking',
      ],
    });
    admin = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    const page = await newPage(admin);
    await page.goto(`${server.url}/dashboard`);
    await page.getByLabel('Admin token').fill(adminToken);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.waitForURL(`${server.url}/dashboard`);
    await page.close();
  }, slow);

  afterAll(async () => {
    await browser?.close();
    await server?.stop();
    await new Promise((resolve) => endpoint?.close(resolve));
    if (cwd) rmSync(cwd, { recursive: true, force: true });
  });

  it(
    'shows the failing destination on the Destinations page, and pauses and resumes it',
    async () => {
      const page = await newPage(admin);
      await page.goto(`${server.url}/dashboard`);
      await page.getByRole('link', { name: 'Destinations' }).click();
      await page.waitForURL(`${server.url}/dashboard/destinations`);
      const ledger = page.locator('tr[data-destination="stripe/ledger"]');
      await ledger.waitFor();
      await expect(ledger.locator('[data-field="success"]').textContent()).resolves.toBe('0%');
      await expect(ledger.locator('[data-field="dead"]').textContent()).resolves.toBe('1');
      const crm = page.locator('tr[data-destination="stripe/crm"]');
      await expect(crm.locator('[data-field="success"]').textContent()).resolves.toBe('100%');

      await ledger.getByRole('button', { name: 'Pause' }).click();
      await vi.waitFor(async () => expect(await ledger.getAttribute('data-state')).toBe('paused'), {
        timeout: 10_000,
      });
      await expect(page.locator('#destination-result').textContent()).resolves.toBe(
        'stripe/ledger is now paused.',
      );
      await ledger.getByRole('button', { name: 'Resume' }).click();
      await vi.waitFor(async () => expect(await ledger.getAttribute('data-state')).toBe('active'), {
        timeout: 10_000,
      });
      await page.close();
      expect(pageErrors).toEqual([]);
    },
    slow,
  );

  it(
    "retries the dead delivery from the event's page, and it succeeds alone",
    async () => {
      const [event] = (await api('/api/admin/events')).events;
      const page = await newPage(admin);
      await page.goto(`${server.url}/dashboard/events/${event.id}`);
      const ledger = page.locator('#deliveries-table tr[data-destination="ledger"]');
      await ledger.waitFor();
      await expect(ledger.getAttribute('data-status')).resolves.toBe('dead');
      const crm = page.locator('#deliveries-table tr[data-destination="crm"]');
      await expect(crm.getByRole('button', { name: 'Retry the delivery to crm' }).isDisabled()).resolves.toBe(
        true,
      );

      ledgerUp = true;
      const crmBefore = received.filter((url) => url === '/crm').length;
      await ledger.getByRole('button', { name: 'Retry the delivery to ledger' }).click();
      await vi.waitFor(async () => expect(await ledger.getAttribute('data-status')).toBe('succeeded'), {
        timeout: 20_000,
      });
      expect(received.filter((url) => url === '/crm')).toHaveLength(crmBefore);
      expect(received.filter((url) => url === '/ledger')).toHaveLength(2);
      await page.close();
      expect(pageErrors).toEqual([]);
    },
    slow,
  );
});
