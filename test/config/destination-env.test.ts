/** One destination from environment variables alone (docs/configuration.md). */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.ts';
import { ConfigError } from '../../src/config/problems.ts';
import { resolveSources } from '../../src/config/sources.ts';

const secret = `whsec_${Buffer.alloc(32, 1).toString('base64')}`;
let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'hookbox-dest-env-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function problemsOf(env: Record<string, string>): Promise<string[]> {
  try {
    await loadConfig({ cwd: dir, env });
    return [];
  } catch (error) {
    if (error instanceof ConfigError) return [...error.problems];
    throw error;
  }
}

describe('a destination from HOOKBOX_DESTINATION_*', () => {
  it('joins the only source, with every setting read and validated', async () => {
    const config = await loadConfig({
      cwd: dir,
      env: {
        STRIPE_WEBHOOK_SECRET: 'whsec_stripe',
        HOOKBOX_DESTINATION_URL: 'http://127.0.0.1:3000/webhooks',
        HOOKBOX_DESTINATION_SECRET: secret,
        HOOKBOX_DESTINATION_TYPES: 'invoice.*, customer.*',
        HOOKBOX_DESTINATION_TIMEOUT_MS: '5000',
        HOOKBOX_DESTINATION_ALLOW_PRIVATE_NETWORK: 'true',
      },
    });
    const [destination] = resolveSources(config.sources).get('stripe')?.destinations ?? [];
    expect(destination).toMatchObject({
      key: 'stripe/app',
      url: 'http://127.0.0.1:3000/webhooks',
      timeoutMs: 5000,
      allowPrivateNetwork: true,
    });
    expect(destination?.types.patterns).toEqual(['invoice.*', 'customer.*']);
  });

  it('names the variable a bad value came from', async () => {
    const problems = await problemsOf({
      STRIPE_WEBHOOK_SECRET: 'whsec_stripe',
      HOOKBOX_DESTINATION_URL: 'http://127.0.0.1:3000/webhooks',
      HOOKBOX_DESTINATION_SECRET: 'not-a-secret',
      HOOKBOX_DESTINATION_TIMEOUT_MS: 'soon',
    });
    expect(problems).toEqual([
      expect.stringMatching(/^HOOKBOX_DESTINATION_SECRET: must be `whsec_/),
      'HOOKBOX_DESTINATION_TIMEOUT_MS: Invalid input: expected number, received string',
      expect.stringMatching(/^HOOKBOX_DESTINATION_URL: 127\.0\.0\.1 is a loopback address: refused/),
    ]);
  });

  it('asks which source when several are configured, and for the URL when only the rest is set', async () => {
    expect(
      await problemsOf({
        STRIPE_WEBHOOK_SECRET: 'whsec_stripe',
        GITHUB_WEBHOOK_SECRET: 'gh',
        HOOKBOX_DESTINATION_URL: 'https://app.example.com/hooks',
        HOOKBOX_DESTINATION_SECRET: secret,
      }),
    ).toEqual([
      'HOOKBOX_DESTINATION_SOURCE: several sources are configured (stripe, github): name the one to forward from',
    ]);
    expect(
      await problemsOf({
        STRIPE_WEBHOOK_SECRET: 'whsec_stripe',
        GITHUB_WEBHOOK_SECRET: 'gh',
        HOOKBOX_DESTINATION_SOURCE: 'github',
        HOOKBOX_DESTINATION_URL: 'https://app.example.com/hooks',
        HOOKBOX_DESTINATION_SECRET: secret,
      }),
    ).toEqual([]);
    expect(
      await problemsOf({ STRIPE_WEBHOOK_SECRET: 'whsec_stripe', HOOKBOX_DESTINATION_SECRET: secret }),
    ).toEqual([
      'HOOKBOX_DESTINATION_URL: missing, but HOOKBOX_DESTINATION_SECRET is set: set the URL events are forwarded to, or unset the others',
    ]);
  });
});
