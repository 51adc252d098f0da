import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import express from 'express';
import Fastify from 'fastify';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { createExpressMiddleware } from '../../src/adapters/express.ts';
import { createFastifyPlugin } from '../../src/adapters/fastify.ts';
import { createNodeListener } from '../../src/adapters/node.ts';
import { createHookbox, type Hookbox } from '../../src/index.ts';
import { signStripe, stripeEventBody } from '../support/stripe.ts';

// The framework entry points (hookbox/node, hookbox/express, hookbox/fastify) on real servers
// on loopback. What they must get right: the raw body reaches the verifier untouched whatever
// parsers the app uses elsewhere, and the socket's peer address reaches the allowlist.
const secret = 'whsec_adapter_tests';
const dir = mkdtempSync(join(tmpdir(), 'hookbox-adapters-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let databases = 0;
function newHookbox(): Hookbox {
  databases += 1;
  return createHookbox({
    store: `file:${join(dir, `adapters-${databases}.db`)}`,
    sources: {
      stripe: { provider: 'stripe', secrets: [secret] },
      // Only loopback may post here: accepted only if the adapter passes the real peer address.
      loopback: { provider: 'stripe', secrets: [secret], allowlist: ['127.0.0.1', '::1'] },
      office: { provider: 'stripe', secrets: [secret], allowlist: ['10.0.0.0/8'] },
    },
    worker: { enabled: false },
  });
}

function deliver(base: string, source: string, id: string): Promise<Response> {
  // Pretty-printed JSON: a parser that re-serializes it changes the bytes, and the signature fails.
  const body = stripeEventBody(id);
  return fetch(`${base}/webhooks/${source}`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      'stripe-signature': signStripe(body, secret, Math.floor(Date.now() / 1000)),
    },
    body,
  });
}

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0)) await cleanup();
});

/** Listen on loopback; the server and the Hookbox are closed after the test. */
async function serve(server: Server, hookbox: Hookbox): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  cleanups.push(async () => {
    server.close();
    await hookbox.stop();
  });
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

/** The app's own JSON route, parsed by the framework's own parser. */
async function expectOwnJsonRoute(base: string): Promise<void> {
  const order = await fetch(`${base}/orders`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ sku: 'A1' }),
  });
  expect(await order.json()).toEqual({ parsed: { sku: 'A1' } });
}

async function expectTheContract(base: string, hookbox: Hookbox): Promise<void> {
  const first = await deliver(base, 'stripe', 'evt_adapter_1');
  expect(first.status).toBe(200);
  const { id, duplicate } = (await first.json()) as { id: string; duplicate: boolean };
  expect(duplicate).toBe(false);
  expect(await (await deliver(base, 'stripe', 'evt_adapter_1')).json()).toMatchObject({
    id,
    duplicate: true,
  });
  const stored = await hookbox.events.getEvent(id);
  expect(stored?.event.body.toString()).toBe(stripeEventBody('evt_adapter_1'));
  expect(stored?.event.deliveryCount).toBe(2);

  expect((await deliver(base, 'loopback', 'evt_adapter_2')).status).toBe(200);
  const refused = await deliver(base, 'office', 'evt_adapter_3');
  expect(refused.status).toBe(403);
  expect(((await refused.json()) as { error: { code: string } }).error.code).toBe('ip_not_allowed');
  expect((await fetch(`${base}/healthz`)).status).toBe(200);
}

describe('hookbox/node', () => {
  it('serves Hookbox from node:http with the raw body and the peer address', async () => {
    const hookbox = newHookbox();
    const base = await serve(createServer(createNodeListener(hookbox)), hookbox);
    await expectTheContract(base, hookbox);
  });
});

describe('hookbox/express', () => {
  it('serves Hookbox before express.json(), and the app keeps its own JSON routes and 404s', async () => {
    const hookbox = newHookbox();
    const app = express();
    app.use(createExpressMiddleware(hookbox));
    app.use(express.json());
    app.post('/orders', (request, response) => {
      response.json({ parsed: request.body });
    });
    const base = await serve(createServer(app), hookbox);
    await expectTheContract(base, hookbox);

    await expectOwnJsonRoute(base);
    // A path Hookbox does not serve is Express's, not a Hookbox 404.
    const missing = await fetch(`${base}/nowhere`);
    expect(missing.status).toBe(404);
    expect(await missing.text()).toContain('Cannot GET /nowhere');
  });

  it('keeps the full path when mounted under a prefix', async () => {
    const hookbox = newHookbox();
    const app = express();
    app.use('/webhooks', createExpressMiddleware(hookbox));
    const base = await serve(createServer(app), hookbox);
    expect((await deliver(base, 'stripe', 'evt_prefixed')).status).toBe(200);
  });

  it('refuses with what to do when a body parser already read the body', async () => {
    const hookbox = newHookbox();
    const app = express();
    app.use(express.json());
    app.use(createExpressMiddleware(hookbox));
    const errors: string[] = [];
    app.use(
      (error: Error, _request: express.Request, response: express.Response, _next: express.NextFunction) => {
        errors.push(error.message);
        response.status(500).end();
      },
    );
    const base = await serve(createServer(app), hookbox);
    const response = await deliver(base, 'stripe', 'evt_parsed_first');
    expect(response.status).toBe(500);
    expect(errors).toEqual([
      'Hookbox needs the raw body of POST /webhooks/stripe, but a body parser (express.json(), express.raw(), ...) already read it: call app.use(createExpressMiddleware(hookbox)) before any body parser',
    ]);
    await hookbox.start();
    expect(await hookbox.events.countEvents({})).toBe(0);
  });
});

describe('hookbox/fastify', () => {
  it("serves Hookbox with the raw body while the app's JSON parser keeps working outside the plugin", async () => {
    const hookbox = newHookbox();
    const app = Fastify();
    await app.register(createFastifyPlugin(hookbox));
    app.post('/orders', async (request) => ({ parsed: request.body }));
    const base = await app.listen({ port: 0, host: '127.0.0.1' });
    cleanups.push(async () => {
      await app.close();
      await hookbox.stop();
    });
    await expectTheContract(base, hookbox);

    await expectOwnJsonRoute(base);
    // A body without a content type still reaches Hookbox (Stripe always sends one; others may not).
    const body = stripeEventBody('evt_no_content_type');
    const bare = await fetch(`${base}/webhooks/stripe`, {
      method: 'POST',
      headers: { 'stripe-signature': signStripe(body, secret, Math.floor(Date.now() / 1000)) },
      body: new Blob([body]),
    });
    expect(bare.status).toBe(200);
  });
});
