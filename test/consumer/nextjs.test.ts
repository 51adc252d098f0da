import { execFile } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { createApp, expectStoredOnceHandledOnce, freePort, startApp } from './support/apps.ts';
import { repoRoot } from './support/install.ts';

/**
 * examples/nextjs, built and served from the packed tarball: `next build` must not open,
 * create or migrate a database (it imports every route module), then `next start` serves
 * the webhook, admin and dashboard routes. Its own suite (vitest.nextjs.config.ts): slow.
 */
const run = promisify(execFile);
const secret = 'whsec_consumer_nextjs';
const adminToken = 'consumer-nextjs-admin-token-0123456789';
let appDir = '';
afterAll(() => {
  if (appDir) rmSync(dirname(appDir), { recursive: true, force: true });
});

describe('examples/nextjs (App Router) from the tarball', () => {
  it('builds without touching the database, then stores, handles once and deduplicates', async () => {
    appDir = createApp(join(repoRoot, 'examples', 'nextjs'), {
      tarball: inject('tarball'),
      packages: ['next', 'react', 'react-dom'],
      without: ['tsx'],
    });
    const databaseDir = join(appDir, 'state');
    const env = {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? '',
      NEXT_TELEMETRY_DISABLED: '1',
      DATABASE_URL: `file:${join(databaseDir, 'hookbox.db')}`,
    };
    const next = join(appDir, 'node_modules', 'next', 'dist', 'bin', 'next');

    const build = await run(process.execPath, [next, 'build'], {
      cwd: appDir,
      env,
      maxBuffer: 16 * 1024 * 1024,
    });
    expect(build.stdout).toContain('/api/webhooks/[source]');
    // Nothing opened, created or migrated at build time: no database folder, no ./data.
    expect(existsSync(databaseDir)).toBe(false);
    expect(existsSync(join(appDir, 'data'))).toBe(false);

    const port = await freePort();
    const app = await startApp(
      [process.execPath, next, 'start', '--port', String(port), '--hostname', '127.0.0.1'],
      {
        cwd: appDir,
        env: { ...env, STRIPE_WEBHOOK_SECRET: secret, ADMIN_TOKEN: adminToken },
        listeningUrl: (line) => (line.includes('Ready') ? `http://127.0.0.1:${port}` : null),
      },
    );
    try {
      const { first, repeat, handled } = await expectStoredOnceHandledOnce(
        app,
        `${app.url}/api/webhooks/stripe`,
        secret,
      );
      expect(first.body).toMatchObject({ received: true, duplicate: false });
      expect(repeat.body).toEqual({ received: true, id: first.body.id, duplicate: true });
      expect(handled).toHaveLength(1);
      expect(existsSync(join(databaseDir, 'hookbox.db'))).toBe(true);

      // The admin route: the one event, delivered twice.
      const statistics = await fetch(`${app.url}/api/admin/statistics`, {
        headers: { authorization: `Bearer ${adminToken}` },
      });
      expect(statistics.status).toBe(200);
      expect(await statistics.json()).toMatchObject({ success: true, data: { total: 1 } });
      expect((await fetch(`${app.url}/api/admin/statistics`)).status).toBe(401);
      // The dashboard route: no session, so it sends the browser to sign in.
      const dashboard = await fetch(`${app.url}/dashboard`, { redirect: 'manual' });
      expect(dashboard.status).toBe(302);
      expect(dashboard.headers.get('location')).toContain('/dashboard/sign-in');
      const signIn = await fetch(`${app.url}/dashboard/sign-in`);
      expect(await signIn.text()).toContain('Admin token');
    } finally {
      await app.stop();
    }
  });
});
