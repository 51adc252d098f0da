import { execFileSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { afterAll, describe, expect, inject, it } from 'vitest';
import type { ServerProcess } from '../support/processes.ts';
import { appsDir, createApp, expectStoredOnceHandledOnce, startApp } from './support/apps.ts';

/**
 * The packed tarball installed into fresh apps, one per host a user mounts Hookbox in, each
 * run as its own process. tsx is left out of every install: nothing may need it at run time.
 */
const secret = 'whsec_consumer_frameworks';
const created: string[] = [];
afterAll(() => {
  for (const dir of created) rmSync(dirname(dir), { recursive: true, force: true });
});

function install(name: string, packages: string[]): string {
  const dir = createApp(join(appsDir, name), { tarball: inject('tarball'), packages, without: ['tsx'] });
  created.push(dir);
  return dir;
}

async function run(dir: string, entry: string): Promise<ServerProcess> {
  return startApp([process.execPath, entry], {
    cwd: dir,
    env: {
      PORT: '0',
      STRIPE_WEBHOOK_SECRET: secret,
      DATABASE_URL: `file:${join(dir, 'data', 'hookbox.db')}`,
    },
  });
}

const apps = [
  { name: 'node-esm', entry: 'app.mjs', packages: ['stripe'], ownRoutes: false },
  { name: 'express', entry: 'server.mjs', packages: ['express'], ownRoutes: true },
  { name: 'fastify', entry: 'server.mjs', packages: ['fastify'], ownRoutes: true },
  { name: 'hono', entry: 'server.mjs', packages: ['hono', '@hono/node-server'], ownRoutes: true },
];

describe.each(apps)(
  'a fresh $name app with the tarball installed',
  ({ name, entry, packages, ownRoutes }) => {
    it('stores a Stripe delivery signed by the stripe package, handles it once; a repeat is a duplicate', async () => {
      const dir = install(name, packages);
      const app = await run(dir, entry);
      try {
        const { first, repeat, handled } = await expectStoredOnceHandledOnce(
          app,
          `${app.url}/webhooks/stripe`,
          secret,
        );
        expect(first.body).toMatchObject({ received: true, duplicate: false });
        expect(repeat).toEqual({ status: 200, body: { received: true, id: first.body.id, duplicate: true } });
        expect(handled).toHaveLength(1);
        expect((await fetch(`${app.url}/healthz`)).status).toBe(200);
        if (ownRoutes) {
          // The app's own JSON routes still get parsed bodies: Hookbox took only its paths.
          const order = await fetch(`${app.url}/orders`, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify({ sku: 'A1' }),
          });
          expect(await order.json()).toEqual({ parsed: { sku: 'A1' } });
        }
      } finally {
        await app.stop();
      }
    });
  },
);

describe('a strict NodeNext TypeScript app', () => {
  it('type-checks against the published declarations (strict, exactOptionalPropertyTypes, skipLibCheck off)', () => {
    const dir = install('typescript', ['typescript', '@types/node', '@types/express', 'express', 'fastify']);
    const tsc = join(dir, 'node_modules', 'typescript', 'bin', 'tsc');
    let output = '';
    try {
      output = execFileSync(process.execPath, [tsc, '-p', dir], { cwd: dir, encoding: 'utf8' });
    } catch (error) {
      output = (error as { stdout: string }).stdout;
    }
    expect(output).toBe('');
  });
});
