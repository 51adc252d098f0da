import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, describe, expect, it } from 'vitest';
import { createHookbox as createInternal } from '../../src/hookbox.ts';
import { ConfigError, createHookbox, createLogger, type Hookbox } from '../../src/index.ts';
import { createTestStore } from '../support/stores.ts';
import { signStripe, stripeEventBody } from '../support/stripe.ts';

// The public factory (src/create-hookbox.ts): what a library user gets from `import ... from 'hookbox'`.
describe('createHookbox (public)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'hookbox-public-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const secret = 'whsec_public_factory';

  function signedDelivery(id: string): Request {
    const body = stripeEventBody(id);
    return new Request('http://app.test/api/webhooks/stripe', {
      method: 'POST',
      headers: { 'stripe-signature': signStripe(body, secret, Math.floor(Date.now() / 1000)) },
      body,
    });
  }

  async function waitForStatus(hookbox: Hookbox, id: string, status: string): Promise<void> {
    for (let i = 0; i < 200; i++) {
      if ((await hookbox.events.getEvent(id))?.event.status === status) return;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    throw new Error(`event ${id} never became ${status}`);
  }

  it('exposes only the declared interface: no store, worker, Hono app or monitoring internals', () => {
    const hookbox = createHookbox({ store: `file:${join(dir, 'keys.db')}`, sources: {} });
    expect(Object.keys(hookbox).sort()).toEqual(
      [
        'checkHealth',
        'destinations',
        'evaluateAndNotify',
        'events',
        'fetch',
        'on',
        'receive',
        'start',
        'stop',
      ].sort(),
    );
  });

  it('opens, creates and migrates nothing until the first request (a `next build` imports it)', async () => {
    const path = join(dir, 'lazy', 'hookbox.db');
    const hookbox = createHookbox({
      store: `file:${path}`,
      sources: { stripe: { provider: 'stripe', secrets: [secret] } },
    });
    const ran: string[] = [];
    hookbox.on('stripe', 'payment_intent.succeeded', ({ event }) => {
      ran.push(event.dedupeKey);
    });
    expect(existsSync(join(dir, 'lazy'))).toBe(false);

    // No start(): the first request opens and migrates the store and starts the worker.
    const { fetch } = hookbox; // bound: `export const POST = hookbox.fetch` works
    const response = await fetch(signedDelivery('evt_lazy_1'));
    expect(response.status).toBe(200);
    const { id } = (await response.json()) as { id: string };
    expect(existsSync(path)).toBe(true);
    await waitForStatus(hookbox, id, 'processed');
    expect(ran).toEqual(['evt_lazy_1']);
    await hookbox.stop();
  });

  it('answers 503 when it cannot start, and starts on a later request once it can', async () => {
    const blocker = join(dir, 'blocked');
    writeFileSync(blocker, 'a file where the database folder should be');
    const lines: string[] = [];
    const destination = new Writable({
      write(chunk, _encoding, done) {
        lines.push(String(chunk));
        done();
      },
    });
    const hookbox = createHookbox({
      store: `file:${join(blocker, 'hookbox.db')}`,
      sources: { stripe: { provider: 'stripe', secrets: [secret] } },
      worker: { enabled: false },
      logger: createLogger({ destination }),
    });
    const refused = await hookbox.fetch(signedDelivery('evt_blocked_1'));
    expect(refused.status).toBe(503);
    expect(await refused.json()).toEqual({
      error: { code: 'store_unavailable', message: 'Hookbox could not open its store; see the log' },
    });
    // The reason is in the log, not lost behind the 503.
    expect(lines.join('')).toContain('EEXIST');

    rmSync(blocker);
    const accepted = await hookbox.fetch(signedDelivery('evt_blocked_1'));
    expect(accepted.status).toBe(200);
    expect(await accepted.json()).toMatchObject({ received: true, duplicate: false });
    await hookbox.stop();
  });

  it('throws a ConfigError for an invalid source on start, naming it', async () => {
    const hookbox = createHookbox({
      store: `file:${join(dir, 'config.db')}`,
      sources: { 'bad name!': { provider: 'stripe' } },
    });
    const failure = await hookbox.start().catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(ConfigError);
    expect((failure as ConfigError).problems.join('\n')).toContain('sources.bad name!');
  });

  it('runs `*` handlers beside the specific one, and a repeat delivery runs nothing again', async () => {
    const hookbox = createHookbox({
      store: `file:${join(dir, 'wildcard.db')}`,
      sources: { stripe: { provider: 'stripe', secrets: [secret] } },
    });
    const ran: string[] = [];
    hookbox.on('stripe', 'payment_intent.succeeded', () => void ran.push('specific'));
    hookbox.on('stripe', '*', () => void ran.push('stripe:*'));
    hookbox.on('*', '*', () => void ran.push('*:*'));
    await hookbox.start();
    const first = (await (await hookbox.fetch(signedDelivery('evt_wild_1'))).json()) as { id: string };
    await waitForStatus(hookbox, first.id, 'processed');
    const repeat = (await (await hookbox.fetch(signedDelivery('evt_wild_1'))).json()) as {
      duplicate: boolean;
    };
    expect(repeat.duplicate).toBe(true);
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(ran).toEqual(['specific', 'stripe:*', '*:*']);
    await hookbox.stop();
  });

  it('starts afresh after stop(), keeping the handlers registered before', async () => {
    const hookbox = createHookbox({
      store: `file:${join(dir, 'restart.db')}`,
      sources: { stripe: { provider: 'stripe', secrets: [secret] } },
    });
    const ran: string[] = [];
    hookbox.on('stripe', '*', ({ event }) => void ran.push(event.dedupeKey));
    await hookbox.start();
    await hookbox.stop();
    const { id } = (await (await hookbox.fetch(signedDelivery('evt_restart_1'))).json()) as { id: string };
    await waitForStatus(hookbox, id, 'processed');
    expect(ran).toEqual(['evt_restart_1']);
    await hookbox.stop();
  });
});

describe('createHookbox (internal composition)', () => {
  it('can be started again after a failed start, and concurrent starts share one', async () => {
    const test = await createTestStore('sqlite', { migrate: false });
    let migrations = 0;
    const migrate = test.store.migrate.bind(test.store);
    test.store.migrate = async () => {
      migrations++;
      if (migrations === 1) throw new Error('the disk is full (simulated)');
      return migrate();
    };
    const hookbox = createInternal({
      store: test.store,
      sources: { stripe: { provider: 'stripe', secrets: ['whsec_internal_start'] } },
    });
    try {
      await expect(hookbox.start()).rejects.toThrow('the disk is full');
      await Promise.all([hookbox.start(), hookbox.start()]);
      expect(migrations).toBe(2);
      expect(hookbox.worker.running).toBe(true);
    } finally {
      await hookbox.stop();
      await test.cleanup();
    }
  });
});
