import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.ts';
import { ConfigError, findNearest } from '../../src/config/problems.ts';
import { providerSettingsSchemas, resolveSources } from '../../src/config/sources.ts';
import { createHookbox } from '../../src/hookbox.ts';
import { providers } from '../../src/providers/registry.ts';

const folders: string[] = [];
afterAll(() => {
  for (const folder of folders) rmSync(folder, { recursive: true, force: true });
});

/** loadConfig on a folder holding `hookbox.config.mjs` with this config; its problems, or [] when valid. */
async function problemsOf(config: unknown, env: Record<string, string> = {}): Promise<string[]> {
  const cwd = mkdtempSync(join(tmpdir(), 'hookbox-strict-'));
  folders.push(cwd);
  writeFileSync(join(cwd, 'hookbox.config.mjs'), `export default ${JSON.stringify(config)};\n`);
  try {
    await loadConfig({ cwd, env: { DATABASE_URL: 'file::memory:', ...env } });
    return [];
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    return error.problems;
  }
}

const stripe = { provider: 'stripe', secrets: ['whsec_strict'] };

describe('an unknown key anywhere is refused with the nearest known key', () => {
  const cases: [where: string, config: unknown, problem: string][] = [
    ['the file', { handler: {} }, 'handler: unknown key; did you mean `handlers`?'],
    ['the file', { sorces: {} }, 'sorces: unknown key; did you mean `sources`?'],
    [
      'a source (Hookbox key)',
      { sources: { s: { ...stripe, publicURL: 'https://hooks.example.com' } } },
      'sources.s.publicURL: unknown key; did you mean `publicUrl`?',
    ],
    [
      'stripe settings',
      { sources: { s: { ...stripe, toleranceSecond: 60 } } },
      'sources.s.toleranceSecond: unknown key; did you mean `toleranceSeconds`?',
    ],
    [
      'paypal settings',
      { sources: { p: { provider: 'paypal', webhookId: 'WH-1', certdir: '/certs' } } },
      'sources.p.certdir: unknown key; did you mean `certDir`?',
    ],
    [
      'twilio settings',
      { sources: { t: { provider: 'twilio', authTokens: ['tok'], authTokn: 'x' } } },
      'sources.t.authTokn: unknown key; did you mean `authToken`?',
    ],
    [
      'firebase settings',
      {
        sources: {
          f: { provider: 'firebase', audience: 'a', serviceAccountEmail: 'x@y.z', jwksUri: 'https://x' },
        },
      },
      'sources.f.jwksUri: unknown key; did you mean `jwksUrl`?',
    ],
    [
      'standard-webhooks settings',
      {
        sources: {
          w: {
            provider: 'standard-webhooks',
            secrets: ['whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw'],
            sekret: 1,
          },
        },
      },
      'sources.w.sekret: unknown key; did you mean `secret`?',
    ],
    [
      'github settings',
      { sources: { g: { provider: 'github', secrets: ['x'], secretz: ['y'] } } },
      'sources.g.secretz: unknown key; did you mean `secrets`?',
    ],
    [
      'shopify settings',
      { sources: { h: { provider: 'shopify', secret: 'x', secrest: ['y'] } } },
      'sources.h.secrest: unknown key; did you mean `secrets`?',
    ],
    [
      'slack settings',
      { sources: { k: { provider: 'slack', signingSecret: 'x', signingSecrets2: [] } } },
      'sources.k.signingSecrets2: unknown key; did you mean `signingSecrets`?',
    ],
    [
      'generic-hmac settings',
      { sources: { m: { provider: 'generic-hmac', header: 'x-sig', secret: 's', algorythm: 'sha1' } } },
      'sources.m.algorythm: unknown key; did you mean `algorithm`?',
    ],
    [
      'a source rate limit',
      { sources: { s: { ...stripe, rateLimit: { perSorce: { points: 1, durationSeconds: 1 } } } } },
      'sources.s.rateLimit.perSorce: unknown key; did you mean `perSource`?',
    ],
    [
      'server',
      { sources: { s: stripe }, server: { prot: 3000 } },
      'server.prot: unknown key; did you mean `port`?',
    ],
    [
      'worker',
      { sources: { s: stripe }, worker: { concurency: 3 } },
      'worker.concurency: unknown key; did you mean `concurrency`?',
    ],
    [
      'retry',
      { sources: { s: stripe }, retry: { maxAttempt: 3 } },
      'retry.maxAttempt: unknown key; did you mean `maxAttempts`?',
    ],
    [
      'admin',
      { sources: { s: stripe }, admin: { tokens: 'x'.repeat(20) } },
      'admin.tokens: unknown key; did you mean `token`?',
    ],
    [
      'monitor',
      { sources: { s: stripe }, monitor: { thresholds: { maxBaklog: 3 } } },
      'monitor.thresholds.maxBaklog: unknown key; did you mean `maxBacklog`?',
    ],
    [
      'redaction',
      { sources: { s: stripe }, redaction: { header: ['x-card'] } },
      'redaction.header: unknown key; did you mean `headers`?',
    ],
    [
      'rate limit store',
      { sources: { s: stripe }, rateLimit: { stor: 'memory' } },
      'rateLimit.stor: unknown key; did you mean `store`?',
    ],
    [
      'circuit breaker',
      { sources: { s: stripe }, circuitBreaker: { failureThreshhold: 3 } },
      'circuitBreaker.failureThreshhold: unknown key; did you mean `failureThreshold`?',
    ],
  ];

  it.each(cases)('in %s', async (_where, config, problem) => {
    expect(await problemsOf(config)).toEqual([problem]);
  });

  it('lists the known keys when nothing is close', async () => {
    expect(await problemsOf({ sources: { s: stripe }, retry: { zzzzzzzz: 1 } })).toEqual([
      'retry.zzzzzzzz: unknown key; use one of `maxAttempts`, `baseDelayMs`, `maxDelayMs`',
    ]);
  });

  it('has a settings schema for every registered provider, so every one gets the hint', () => {
    expect(Object.keys(providerSettingsSchemas).sort()).toEqual(Object.keys(providers).sort());
  });
});

describe('sources', () => {
  it('names the missing `provider` and points at the key that looks like it', async () => {
    const problems = await problemsOf({ sources: { stripe: { provder: 'stripe', secrets: ['whsec_x'] } } });
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(
      /^sources\.stripe\.provider: missing: name the signature scheme, one of stripe, /,
    );
    expect(problems[0]).toContain('`provder` looks like a typo of it: write provider: "stripe"');
  });

  it('suggests the nearest provider for an unknown one', async () => {
    const [problem] = await problemsOf({ sources: { s: { provider: 'strpe' } } });
    expect(problem).toMatch(/^sources\.s\.provider: unknown provider "strpe"; did you mean "stripe"\?/);
  });

  it.each([
    ['sk_live_', 'a secret API key'],
    ['sk_test_', 'a secret API key'],
    ['rk_live_', 'a restricted API key'],
  ])(
    'refuses a Stripe API key (%s...) where the signing secret belongs, without echoing it',
    async (prefix, what) => {
      const key = `${prefix}51Nabcdefghijklmnop`;
      const problems = await problemsOf({
        sources: { pay: { provider: 'stripe', secrets: ['whsec_ok', key] } },
      });
      expect(problems).toEqual([
        `sources.pay.secrets.1: this is ${what} (${prefix.slice(0, 2)}_...), not a webhook signing secret: use the endpoint's signing secret (whsec_...), shown in the Stripe Dashboard under Developers > Webhooks > your endpoint > Signing secret, or printed by \`stripe listen\``,
      ]);
      expect(problems.join()).not.toContain(key);
    },
  );

  it('names the environment variable a bad env-defined source came from', async () => {
    const problems = await problemsOf({}, { STRIPE_WEBHOOK_SECRET: 'sk_test_123456' });
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(/^STRIPE_WEBHOOK_SECRET: this is a secret API key/);
    expect(
      await problemsOf({}, { FIREBASE_PUSH_SERVICE_ACCOUNT: 'push@example.iam.gserviceaccount.com' }),
    ).toEqual(['FIREBASE_PUSH_AUDIENCE: missing: add it (string)']);
  });

  it('checks publicUrl, mode and allowlist, and accepts `destinations` (validated by issue 14)', async () => {
    expect(
      await problemsOf({
        sources: {
          s: { ...stripe, publicUrl: 'hooks.example.com', mode: 'later', allowlist: ['10.0.0.0/99'] },
        },
      }),
    ).toEqual(['sources.s.mode: use "async" or "sync"', 'sources.s.publicUrl: use an absolute http(s) URL']);
    expect(await problemsOf({ sources: { s: { ...stripe, allowlist: ['10.0.0.0/99'] } } })).toEqual([
      'sources.s.allowlist: "10.0.0.0/99" has an invalid prefix length',
    ]);
    expect(await problemsOf({ sources: { s: { ...stripe, destinations: [] } } })).toEqual([]);
    expect(await problemsOf({ sources: { s: { ...stripe, destinations: {} } } })).toEqual([
      'sources.s.destinations: must be a list of destinations',
    ]);
  });

  it('validates each destination inside the source, naming it, with did-you-mean on unknown keys', async () => {
    const secret = `whsec_${Buffer.alloc(32, 7).toString('base64')}`;
    const problems = await problemsOf({
      sources: {
        s: {
          ...stripe,
          destinations: [
            { name: 'billing', url: 'https://billing.example.com/hooks', signingSecret: secret, timeout: 5 },
            { name: 'local', url: 'http://127.0.0.1:4000/hooks', signingSecret: secret },
          ],
        },
      },
    });
    expect(problems).toEqual([
      'sources.s.destinations[billing].timeout: unknown key; did you mean `timeoutMs`?',
      expect.stringMatching(
        /^sources\.s\.destinations\[local\]\.url: 127\.0\.0\.1 is a loopback address: refused .*"allowPrivateNetwork": true/,
      ),
    ]);
    expect(
      await problemsOf({
        sources: {
          s: {
            ...stripe,
            destinations: [
              {
                name: 'local',
                url: 'http://127.0.0.1:4000/hooks',
                signingSecret: secret,
                allowPrivateNetwork: true,
              },
            ],
          },
        },
      }),
    ).toEqual([]);
  });

  it('gives library callers (createHookbox) the same validation', () => {
    const build = () =>
      createHookbox({
        store: 'file::memory:',
        sources: { stripe: { provider: 'stripe', secrets: ['sk_test_abc'], tolerance: 300 } },
      });
    expect(build).toThrow(ConfigError);
    expect(build).toThrow(/sources\.stripe\.tolerance: unknown key; did you mean `toleranceSeconds`\?/);
    expect(build).toThrow(/sources\.stripe\.secrets\.0: this is a secret API key/);
  });

  it('resolves the parsed values: defaults filled in, nothing of the input kept raw', () => {
    const source = resolveSources({ s: { provider: 'stripe', secret: 'whsec_one' } }).get('s')!;
    expect(source).toMatchObject({
      mode: 'async',
      maxBodyBytes: 1024 * 1024,
      maxHeaderBytes: 16 * 1024,
      trustProxy: false,
      settings: { secrets: ['whsec_one'], toleranceSeconds: 300 },
    });
    expect(source.settings).not.toHaveProperty('secret');
  });
});

describe('environment variables are validated and named', () => {
  it('PORT and LOG_LEVEL', async () => {
    expect(await problemsOf({ sources: { s: stripe } }, { PORT: '80a', LOG_LEVEL: 'warning' })).toEqual([
      'PORT: use a whole number from 0 to 65535 (0 picks a free port) (got "80a")',
      'LOG_LEVEL: "warning" is not a level (did you mean warn?): use fatal, error, warn, info, debug, trace, silent',
    ]);
    expect(await problemsOf({ sources: { s: stripe } }, { PORT: '70000', LOG_LEVEL: 'verbose' })).toEqual([
      'PORT: use a whole number from 0 to 65535 (0 picks a free port) (got "70000")',
      'LOG_LEVEL: "verbose" is not a level: use fatal, error, warn, info, debug, trace, silent',
    ]);
  });

  it('DATABASE_URL, including the schema name PostgreSQL would be given', async () => {
    expect(await problemsOf({ sources: { s: stripe } }, { DATABASE_URL: 'mysql://db/x' })).toEqual([
      expect.stringMatching(/^DATABASE_URL: Unsupported database URL "mysql:\/\/db\/x": use postgres:\/\//),
    ]);
    expect(
      await problemsOf({ sources: { s: stripe } }, { DATABASE_URL: 'postgres://db/x?schema=Hookbox%20Prod' }),
    ).toEqual([
      'DATABASE_URL: ?schema=Hookbox Prod is not a schema name Hookbox uses: 1-48 lower-case letters, digits or underscores, starting with a letter or underscore',
    ]);
  });

  it('a --port flag is named as the flag, and wins over PORT', async () => {
    const cwd = mkdtempSync(join(tmpdir(), 'hookbox-strict-'));
    folders.push(cwd);
    const env = { DATABASE_URL: 'file::memory:', PORT: '4000', STRIPE_WEBHOOK_SECRET: 'whsec_x' };
    await expect(loadConfig({ cwd, env, flags: { port: 'x' } })).rejects.toThrow(
      'invalid configuration: --port: use a whole number',
    );
    expect((await loadConfig({ cwd, env, flags: { port: '4001' } })).server.port).toBe(4001);
    expect((await loadConfig({ cwd, env })).server.port).toBe(4000);
  });
});

describe('findNearest', () => {
  it('takes typos, swaps and case, but not unrelated words', () => {
    expect(findNearest('provder', ['provider', 'mode'])).toBe('provider');
    expect(findNearest('porvider', ['provider'])).toBe('provider');
    expect(findNearest('PUBLICURL', ['publicUrl'])).toBe('publicUrl');
    expect(findNearest('url', ['mode', 'secrets'])).toBeUndefined();
  });
});
