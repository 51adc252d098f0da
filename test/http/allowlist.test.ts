/**
 * Per-source IP allowlists (CIDR lists, node:net BlockList): a client outside the list is
 * answered 403 ip_not_allowed and nothing is stored. The client IP is the socket's peer
 * address, or the last X-Forwarded-For entry only when the source trusts a proxy.
 */
import type { AddressInfo } from 'node:net';
import { serve } from '@hono/node-server';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createManualClock } from '../../src/clock.ts';
import { resolveSources } from '../../src/config/sources.ts';
import { createHookbox, type Hookbox } from '../../src/hookbox.ts';
import type { Store } from '../../src/store/types.ts';
import { createTestStore, engines } from '../support/stores.ts';
import { signStripe, stripeEventBody } from '../support/stripe.ts';

const secret = 'whsec_test_allowlist_secret';
const allowlist = ['10.0.0.0/8', '2001:db8::/32'];

describe.each(engines)('IP allowlist on %s', (engine) => {
  let store: Store;
  let cleanup: () => Promise<void>;
  let hookbox: Hookbox;
  const clock = createManualClock(Date.UTC(2026, 5, 1, 12));
  let sequence = 0;

  beforeEach(async () => {
    ({ store, cleanup } = await createTestStore(engine));
    hookbox = createHookbox({
      store,
      clock,
      sources: {
        direct: { provider: 'stripe', secrets: [secret], allowlist },
        proxied: { provider: 'stripe', secrets: [secret], allowlist, trustProxy: true },
        open: { provider: 'stripe', secrets: [secret] },
        loopback: { provider: 'stripe', secrets: [secret], allowlist: ['127.0.0.1', '::1'] },
      },
      worker: { enabled: false },
    });
    await hookbox.start();
  });
  afterEach(async () => {
    await hookbox.worker.stop();
    await cleanup();
  });

  /** A correctly signed delivery to `source`, as if from `remoteAddress` (the socket's peer). */
  function post(source: string, remoteAddress: string | undefined, headers: Record<string, string> = {}) {
    sequence += 1;
    const body = stripeEventBody(`evt_allowlist_${sequence}`);
    return hookbox.fetch(
      new Request(`http://hookbox.test/webhooks/${source}`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'stripe-signature': signStripe(body, secret, Math.floor(clock.now() / 1000)),
          ...headers,
        },
        body,
      }),
      { incoming: { socket: { remoteAddress } } },
    );
  }

  async function expectAllowed(response: Response): Promise<void> {
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({ received: true, duplicate: false });
  }

  async function expectRefused(response: Response, clientIp: string): Promise<void> {
    expect(response.status).toBe(403);
    expect(await response.json()).toEqual({
      error: { code: 'ip_not_allowed', message: `client ${clientIp} is not on this source's allowlist` },
    });
  }

  const countStored = () => store.countEvents({});

  it('accepts clients inside an IPv4 or IPv6 range', async () => {
    await expectAllowed(await post('direct', '10.1.2.3'));
    await expectAllowed(await post('direct', '10.255.255.255'));
    await expectAllowed(await post('direct', '2001:db8::1'));
    await expectAllowed(await post('direct', '2001:db8:ffff:1::42'));
    expect(await countStored()).toBe(4);
  });

  it('refuses clients outside every range with 403 ip_not_allowed, storing nothing', async () => {
    for (const address of ['11.0.0.1', '192.168.1.10', '9.255.255.255', '2001:db9::1', '::1', '127.0.0.1']) {
      await expectRefused(await post('direct', address), address);
    }
    expect(await countStored()).toBe(0);
  });

  it('refuses before checking the signature: an unsigned request from outside gets 403, not 401', async () => {
    const response = await hookbox.fetch(
      new Request('http://hookbox.test/webhooks/direct', { method: 'POST', body: '{}' }),
      { incoming: { socket: { remoteAddress: '198.51.100.7' } } },
    );
    await expectRefused(response, '198.51.100.7');
  });

  it('refuses when the peer address is unknown', async () => {
    await expectRefused(await post('direct', undefined), '(unknown)');
    expect(await countStored()).toBe(0);
  });

  it('handles IPv4-mapped IPv6 peer addresses (a dual-stack socket) as IPv4', async () => {
    await expectAllowed(await post('direct', '::ffff:10.1.2.3'));
    await expectRefused(await post('direct', '::ffff:192.168.1.10'), '::ffff:192.168.1.10');
    expect(await countStored()).toBe(1);
  });

  it('ignores X-Forwarded-For without trustProxy: an outside client cannot claim an allowed IP', async () => {
    await expectRefused(
      await post('direct', '203.0.113.9', { 'x-forwarded-for': '10.1.2.3' }),
      '203.0.113.9',
    );
    // And the other way round: an inside socket is allowed whatever the header says.
    await expectAllowed(await post('direct', '10.1.2.3', { 'x-forwarded-for': '203.0.113.9' }));
    expect(await countStored()).toBe(1);
  });

  it('honours X-Forwarded-For with trustProxy, taking the entry the proxy appended (the last)', async () => {
    // The proxy (127.0.0.1, itself outside the list) forwards a client inside the list.
    await expectAllowed(await post('proxied', '127.0.0.1', { 'x-forwarded-for': '10.1.2.3' }));
    await expectAllowed(await post('proxied', '127.0.0.1', { 'x-forwarded-for': '2001:db8::7' }));
    await expectAllowed(
      await post('proxied', '127.0.0.1', { 'x-forwarded-for': '203.0.113.1, ::ffff:10.0.0.9' }),
    );
    // A client outside the list that sends its own X-Forwarded-For: the proxy appends the real
    // address, and only that one counts.
    await expectRefused(
      await post('proxied', '127.0.0.1', { 'x-forwarded-for': '10.1.2.3, 203.0.113.9' }),
      '203.0.113.9',
    );
    await expectRefused(
      await post('proxied', '10.1.2.3', { 'x-forwarded-for': '192.168.0.1' }),
      '192.168.0.1',
    );
    // A malformed entry is no address: refused.
    await expectRefused(await post('proxied', '127.0.0.1', { 'x-forwarded-for': 'unknown' }), 'unknown');
    expect(await countStored()).toBe(3);
  });

  it('falls back to the socket address when a trusted proxy sent no X-Forwarded-For', async () => {
    await expectAllowed(await post('proxied', '10.4.5.6'));
    await expectRefused(await post('proxied', '127.0.0.1'), '127.0.0.1');
  });

  it('lets every client through a source without an allowlist', async () => {
    await expectAllowed(await post('open', '203.0.113.9'));
    await expectAllowed(await post('open', undefined));
  });

  it('takes the address from the real socket when served by @hono/node-server', async () => {
    const server = serve({ fetch: hookbox.fetch, port: 0, hostname: '127.0.0.1' });
    try {
      await new Promise<void>((resolve) => server.once('listening', () => resolve()));
      const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      const send = (source: string, headers: Record<string, string> = {}) => {
        sequence += 1;
        const body = stripeEventBody(`evt_socket_${sequence}`);
        return fetch(`${base}/webhooks/${source}`, {
          method: 'POST',
          headers: {
            'content-type': 'application/json',
            'stripe-signature': signStripe(body, secret, Math.floor(clock.now() / 1000)),
            ...headers,
          },
          body,
        });
      };
      await expectAllowed(await send('loopback'));
      // The header is ignored without trustProxy, so a loopback peer cannot pose as 10.x.
      await expectRefused(await send('direct', { 'x-forwarded-for': '10.1.2.3' }), '127.0.0.1');
      expect(await countStored()).toBe(1);
    } finally {
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });
});

describe('allowlist configuration', () => {
  it('names the bad entry at start-up', () => {
    // '10.1.2.3/' once parsed as /0 (Number('') is 0) and let every IPv4 client through.
    for (const entry of [
      '10.0.0.0/33',
      'not-an-ip',
      '2001:db8::/129',
      '10.0.0.0/x',
      '10.1.2.3/',
      '10.0.0.0/ 8',
      '10.0.0.0/0x8',
    ]) {
      expect(() =>
        resolveSources({ s: { provider: 'stripe', secrets: [secret], allowlist: [entry] } }),
      ).toThrow(`sources.s.allowlist: "${entry}"`);
    }
  });
});
