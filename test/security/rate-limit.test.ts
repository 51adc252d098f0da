import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createManualClock } from '../../src/clock.ts';
import { loadConfig } from '../../src/config/load.ts';
import { ConfigError, createHookbox, type Hookbox, type HookboxOptions } from '../../src/hookbox.ts';
import { clientKeyOf, rateLimitTableName } from '../../src/ingest/rate-limit.ts';
import { startServerProcess } from '../support/processes.ts';
import {
  createTestStore,
  engines,
  postgresProcessUrl,
  queryPostgres,
  type TestStore,
} from '../support/stores.ts';
import { signStripe, stripeEventBody } from '../support/stripe.ts';

const secret = 'whsec_rate_limit_test_secret';
const clock = createManualClock(Date.UTC(2026, 5, 1, 12));

/** Everything a test opened, closed after it (hookboxes before their stores). */
const opened: { hookboxes: Hookbox[]; stores: TestStore[] } = { hookboxes: [], stores: [] };
afterEach(async () => {
  await Promise.all(opened.hookboxes.splice(0).map((hookbox) => hookbox.stop().catch(() => {})));
  await Promise.all(opened.stores.splice(0).map((store) => store.cleanup()));
});

async function openStore(engine: (typeof engines)[number]): Promise<TestStore> {
  const testStore = await createTestStore(engine);
  opened.stores.push(testStore);
  return testStore;
}

async function startHookbox(
  testStore: TestStore,
  sources: HookboxOptions['sources'],
  rateLimit?: HookboxOptions['rateLimit'],
): Promise<Hookbox> {
  const hookbox = createHookbox({
    store: testStore.openSibling(),
    clock,
    sources,
    worker: { enabled: false },
    ...(rateLimit ? { rateLimit } : {}),
  });
  opened.hookboxes.push(hookbox);
  await hookbox.start();
  return hookbox;
}

let sequence = 0;
/** One signed Stripe delivery with a fresh event id, from `remoteAddress`. */
function deliver(
  hookbox: Hookbox,
  source: string,
  options: { remoteAddress?: string; headers?: Record<string, string> } = {},
) {
  sequence += 1;
  const body = stripeEventBody(`evt_rl_${sequence}`);
  const request = new Request(`http://hookbox.test/webhooks/${source}`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      'stripe-signature': signStripe(body, secret, Math.floor(clock.now() / 1000)),
      ...options.headers,
    },
    body,
  });
  return hookbox.receive(request, source, { remoteAddress: options.remoteAddress ?? '203.0.113.10' });
}

async function statuses(responses: Promise<Response>[]): Promise<number[]> {
  return (await Promise.all(responses)).map((response) => response.status);
}

async function expectRateLimited(response: Response, maxSeconds: number): Promise<void> {
  expect(response.status).toBe(429);
  const retryAfter = Number(response.headers.get('retry-after'));
  expect(Number.isInteger(retryAfter)).toBe(true);
  expect(retryAfter).toBeGreaterThanOrEqual(1);
  expect(retryAfter).toBeLessThanOrEqual(maxSeconds);
  const body = await response.json();
  expect(body.error.code).toBe('rate_limited');
  expect(body.error.message).toContain(`retry in ${retryAfter} s`);
}

describe.each(engines)('rate limits with the memory limiter, %s store', (engine) => {
  it('answers 429 with Retry-After once a source spends its budget, and stores nothing more', async () => {
    const testStore = await openStore(engine);
    const hookbox = await startHookbox(testStore, {
      stripe: {
        provider: 'stripe',
        secrets: [secret],
        rateLimit: { perSource: { points: 3, durationSeconds: 60 } },
      },
      other: { provider: 'stripe', secrets: [secret] },
    });
    // Three different clients: the per-source limit counts them together.
    for (const ip of ['203.0.113.1', '203.0.113.2', '203.0.113.3']) {
      expect((await deliver(hookbox, 'stripe', { remoteAddress: ip })).status).toBe(200);
    }
    await expectRateLimited(await deliver(hookbox, 'stripe', { remoteAddress: '203.0.113.4' }), 60);
    expect(await testStore.store.countEvents({ source: 'stripe' })).toBe(3);
    // An unlimited source is untouched by another source's limit.
    expect(await statuses([1, 2, 3, 4, 5].map(() => deliver(hookbox, 'other')))).toEqual(Array(5).fill(200));
  });

  it('limits each client IP on its own and leaves other clients alone', async () => {
    const testStore = await openStore(engine);
    const hookbox = await startHookbox(testStore, {
      stripe: {
        provider: 'stripe',
        secrets: [secret],
        rateLimit: { perClientIp: { points: 2, durationSeconds: 30 } },
      },
    });
    const noisy = { remoteAddress: '198.51.100.7' };
    expect(await statuses([deliver(hookbox, 'stripe', noisy), deliver(hookbox, 'stripe', noisy)])).toEqual([
      200, 200,
    ]);
    await expectRateLimited(await deliver(hookbox, 'stripe', noisy), 30);
    // The same client as an IPv4-mapped IPv6 address is the same client.
    await expectRateLimited(await deliver(hookbox, 'stripe', { remoteAddress: '::ffff:198.51.100.7' }), 30);
    expect((await deliver(hookbox, 'stripe', { remoteAddress: '198.51.100.8' })).status).toBe(200);
    expect(await testStore.store.countEvents({})).toBe(3);
  });

  it('refuses a noisy client before it spends the source budget', async () => {
    const testStore = await openStore(engine);
    const hookbox = await startHookbox(testStore, {
      stripe: {
        provider: 'stripe',
        secrets: [secret],
        rateLimit: {
          perClientIp: { points: 1, durationSeconds: 60 },
          perSource: { points: 3, durationSeconds: 60 },
        },
      },
    });
    const noisy = { remoteAddress: '192.0.2.50' };
    expect((await deliver(hookbox, 'stripe', noisy)).status).toBe(200);
    for (let i = 0; i < 5; i++) expect((await deliver(hookbox, 'stripe', noisy)).status).toBe(429);
    // The noisy client's refused deliveries did not count against the source: two others still fit.
    expect((await deliver(hookbox, 'stripe', { remoteAddress: '192.0.2.51' })).status).toBe(200);
    expect((await deliver(hookbox, 'stripe', { remoteAddress: '192.0.2.52' })).status).toBe(200);
    await expectRateLimited(await deliver(hookbox, 'stripe', { remoteAddress: '192.0.2.53' }), 60);
  });
});

describe('client IP resolution for per-IP limits', () => {
  const limited = (trustProxy: boolean) => ({
    provider: 'stripe',
    secrets: [secret],
    trustProxy,
    rateLimit: { perClientIp: { points: 1, durationSeconds: 60 } },
  });

  it('ignores X-Forwarded-For unless the source trusts a proxy', async () => {
    const hookbox = await startHookbox(await openStore('sqlite'), { direct: limited(false) });
    const peer = '203.0.113.20';
    expect((await deliver(hookbox, 'direct', { remoteAddress: peer })).status).toBe(200);
    // A client inventing a new X-Forwarded-For per request does not escape its limit.
    const spoofed = await deliver(hookbox, 'direct', {
      remoteAddress: peer,
      headers: { 'x-forwarded-for': '192.0.2.99' },
    });
    await expectRateLimited(spoofed, 60);
  });

  it('behind a trusted proxy, counts the address the proxy appended, not what the client wrote', async () => {
    const hookbox = await startHookbox(await openStore('sqlite'), { proxied: limited(true) });
    const proxy = '10.0.0.2';
    const first = await deliver(hookbox, 'proxied', {
      remoteAddress: proxy,
      headers: { 'x-forwarded-for': '1.1.1.1, 198.51.100.30' },
    });
    expect(first.status).toBe(200);
    // Same real client (last entry), different forged first entry: still limited.
    const forged = await deliver(hookbox, 'proxied', {
      remoteAddress: proxy,
      headers: { 'x-forwarded-for': '8.8.8.8, 198.51.100.30' },
    });
    await expectRateLimited(forged, 60);
    // Another real client behind the same proxy has its own budget.
    const other = await deliver(hookbox, 'proxied', {
      remoteAddress: proxy,
      headers: { 'x-forwarded-for': '198.51.100.31' },
    });
    expect(other.status).toBe(200);
  });

  it('counts a whole IPv6 /64 as one client and garbage addresses as bounded keys', () => {
    expect(clientKeyOf('2001:db8:1:2::10')).toBe(clientKeyOf('2001:db8:1:2:ffff:eeee:dddd:cccc'));
    expect(clientKeyOf('2001:db8:1:2::10')).not.toBe(clientKeyOf('2001:db8:1:3::10'));
    expect(clientKeyOf('::1:2:3:4:5:6:7')).toBe('0:1:2:3::/64');
    expect(clientKeyOf('::ffff:192.0.2.1')).toBe('192.0.2.1');
    expect(clientKeyOf('x'.repeat(10_000))).toMatch(/^unparsed:[0-9a-f]{16}$/);
    expect(clientKeyOf('not an ip')).not.toBe(clientKeyOf('not an ip either'));
  });

  it('admits again once the window has passed', async () => {
    const hookbox = await startHookbox(await openStore('sqlite'), {
      stripe: {
        provider: 'stripe',
        secrets: [secret],
        rateLimit: { perSource: { points: 1, durationSeconds: 1 } },
      },
    });
    expect((await deliver(hookbox, 'stripe')).status).toBe(200);
    await expectRateLimited(await deliver(hookbox, 'stripe'), 1);
    await new Promise((resolve) => setTimeout(resolve, 1100));
    expect((await deliver(hookbox, 'stripe')).status).toBe(200);
  });
});

describe('rate limits shared through PostgreSQL', () => {
  const sources = {
    stripe: {
      provider: 'stripe',
      secrets: [secret],
      rateLimit: { perSource: { points: 3, durationSeconds: 60 } },
    },
  };

  it('holds one budget across two Hookbox instances, in a table inside the Hookbox schema', async () => {
    const testStore = await openStore('postgres');
    const databaseUrl = postgresProcessUrl(testStore.schema!);
    const a = await startHookbox(testStore, sources, { store: 'postgres', databaseUrl });
    const b = await startHookbox(testStore, sources, { store: 'postgres', databaseUrl });
    expect(await statuses([deliver(a, 'stripe'), deliver(b, 'stripe')])).toEqual([200, 200]);
    expect((await deliver(a, 'stripe')).status).toBe(200);
    // The fourth delivery goes to the instance that has seen only one: the budget is shared.
    await expectRateLimited(await deliver(b, 'stripe'), 60);
    expect(await testStore.store.countEvents({})).toBe(3);

    const [table] = await queryPostgres<{ found: string | null }>('SELECT to_regclass($1)::text AS found', [
      `${testStore.schema}.${rateLimitTableName}`,
    ]);
    expect(table?.found).toBe(`${testStore.schema}.${rateLimitTableName}`);
  });

  it('shares the budget when several instances create the counter table at the same moment', async () => {
    // Concurrent CREATE TABLE IF NOT EXISTS can fail for all but one creator ('type ... already
    // exists'); a loser once fell back to counting in memory, so its deliveries escaped the limit.
    const limited = {
      stripe: { ...sources.stripe, rateLimit: { perSource: { points: 4, durationSeconds: 60 } } },
    };
    for (let round = 0; round < 3; round++) {
      const testStore = await openStore('postgres');
      const databaseUrl = postgresProcessUrl(testStore.schema!);
      const instances = await Promise.all(
        Array.from({ length: 6 }, () => startHookbox(testStore, limited, { store: 'postgres', databaseUrl })),
      );
      const answered = await statuses(
        instances.flatMap((hookbox) => [deliver(hookbox, 'stripe'), deliver(hookbox, 'stripe')]),
      );
      expect(answered.filter((status) => status === 200)).toHaveLength(4);
      expect(answered.filter((status) => status === 429)).toHaveLength(8);
    }
  });

  it('keeps separate budgets per instance with the memory limiter (what postgres is for)', async () => {
    const testStore = await openStore('postgres');
    const a = await startHookbox(testStore, sources);
    const b = await startHookbox(testStore, sources);
    for (let i = 0; i < 3; i++) expect((await deliver(a, 'stripe')).status).toBe(200);
    expect((await deliver(a, 'stripe')).status).toBe(429);
    expect((await deliver(b, 'stripe')).status).toBe(200);
  });

  it('falls back to a per-process memory limit, never a 5xx, when PostgreSQL is unreachable', async () => {
    const testStore = await openStore('sqlite');
    const hookbox = await startHookbox(testStore, sources, {
      store: 'postgres',
      // Nothing listens on port 1: every connection is refused at once.
      databaseUrl: 'postgresql://postgres@127.0.0.1:1/test',
    });
    expect(await statuses([1, 2, 3].map(() => deliver(hookbox, 'stripe')))).toEqual([200, 200, 200]);
    await expectRateLimited(await deliver(hookbox, 'stripe'), 60);
  });
});

describe('rate limit configuration', () => {
  it('names every invalid limit setting at once', () => {
    let error: unknown;
    try {
      createHookbox({
        store: 'file::memory:',
        sources: {
          a: {
            provider: 'stripe',
            secrets: [secret],
            rateLimit: { perSource: { points: 0, durationSeconds: 60 } },
          },
          b: {
            provider: 'stripe',
            secrets: [secret],
            rateLimit: { perClientIp: { points: 5, durationSeconds: 1.5 } },
          },
          c: { provider: 'stripe', secrets: [secret], maxHeaderBytes: 10 },
        },
      });
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const problems = (error as ConfigError).problems.join('\n');
    expect(problems).toContain('sources.a.rateLimit.perSource.points');
    expect(problems).toContain('sources.b.rateLimit.perClientIp.durationSeconds');
    expect(problems).toContain('sources.c.maxHeaderBytes');
  });

  it("refuses store 'postgres' without a PostgreSQL URL to keep the counters in", () => {
    expect(() =>
      createHookbox({
        store: 'file::memory:',
        sources: {
          a: {
            provider: 'stripe',
            secrets: [secret],
            rateLimit: { perSource: { points: 1, durationSeconds: 1 } },
          },
        },
        rateLimit: { store: 'postgres' },
      }),
    ).toThrow(/needs a PostgreSQL database/);
  });
});

describe('rate limits from hookbox.config through hookbox serve', () => {
  function writeConfig(config: string): string {
    const dir = mkdtempSync(join(tmpdir(), 'hookbox-rate-limit-'));
    writeFileSync(join(dir, 'hookbox.config.mjs'), config);
    return dir;
  }

  it('lists rate limit problems with the rest of the configuration', async () => {
    const dir = writeConfig(`export default {
  sources: { stripe: { provider: 'stripe', secrets: ['${secret}'], rateLimit: { perSource: { points: -1, durationSeconds: 60 } } } },
  rateLimit: { store: 'redis' },
};`);
    try {
      const error = await loadConfig({ cwd: dir, env: { DATABASE_URL: 'file::memory:' } }).catch(
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(ConfigError);
      const problems = (error as ConfigError).problems.join('\n');
      expect(problems).toContain('rateLimit.store');
      expect(problems).toContain('sources.stripe.rateLimit.perSource.points');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("refuses store 'postgres' on a SQLite database at start-up", async () => {
    const dir = writeConfig(`export default {
  sources: { stripe: { provider: 'stripe', secrets: ['${secret}'] } },
  rateLimit: { store: 'postgres' },
};`);
    try {
      const error = await loadConfig({ cwd: dir, env: { DATABASE_URL: 'file::memory:' } }).catch(
        (e: unknown) => e,
      );
      expect((error as ConfigError).problems).toEqual([
        "rateLimit.store: 'postgres' needs DATABASE_URL to be PostgreSQL, or rateLimit.databaseUrl",
      ]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('answers 429 with Retry-After over a real socket, keyed on the peer address', async () => {
    const dir = writeConfig(`export default {
  sources: { stripe: { provider: 'stripe', secrets: ['${secret}'], rateLimit: { perClientIp: { points: 2, durationSeconds: 60 } } } },
  worker: { enabled: false },
};`);
    const server = await startServerProcess({
      cwd: dir,
      env: { DATABASE_URL: `file:${join(dir, 'hookbox.db')}` },
    });
    try {
      const post = () => {
        sequence += 1;
        const body = stripeEventBody(`evt_served_${sequence}`);
        return fetch(`${server.url}/webhooks/stripe`, {
          method: 'POST',
          headers: {
            'content-type': 'application/json',
            'stripe-signature': signStripe(body, secret, Math.floor(Date.now() / 1000)),
          },
          body,
        });
      };
      expect((await post()).status).toBe(200);
      expect((await post()).status).toBe(200);
      await expectRateLimited(await post(), 60);
    } finally {
      await server.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
