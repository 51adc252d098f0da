/**
 * Acceptance: `hookbox send <provider>` produces a delivery the server accepts, for every
 * provider. One real `hookbox serve` process with a source per provider; each `hookbox send`
 * runs from the same folder, so it reads the same hookbox.config.mjs; `hookbox events list`
 * then shows one stored event per source.
 */
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { exportJWK, exportPKCS8, generateKeyPair } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { providers } from '../../src/providers/registry.ts';
import { runCli, type ServerProcess, startServerProcess } from '../support/processes.ts';

const fixturesDir = new URL('../providers/fixtures/', import.meta.url);

/** The env names that define sources without a config file: empty, so only the config's sources exist. */
const env = {
  DATABASE_URL: '',
  STRIPE_WEBHOOK_SECRET: '',
  PAYPAL_WEBHOOK_ID: '',
  TWILIO_AUTH_TOKEN: '',
  FIREBASE_PUSH_AUDIENCE: '',
  FIREBASE_PUSH_SERVICE_ACCOUNT: '',
  STANDARD_WEBHOOKS_SECRET: '',
  GITHUB_WEBHOOK_SECRET: '',
  SHOPIFY_WEBHOOK_SECRET: '',
  SLACK_SIGNING_SECRET: '',
};

/** What each source stores for a sample event sent with `--id`: the default type of `hookbox send`. */
const expected: Record<string, { provider: string; eventType: string }> = {
  stripe: { provider: 'stripe', eventType: 'payment_intent.succeeded' },
  paypal: { provider: 'paypal', eventType: 'PAYMENT.CAPTURE.COMPLETED' },
  twilio: { provider: 'twilio', eventType: 'message.event' },
  firebase: { provider: 'firebase', eventType: 'test.event' },
  'standard-webhooks': { provider: 'standard-webhooks', eventType: 'test.event' },
  github: { provider: 'github', eventType: 'push' },
  shopify: { provider: 'shopify', eventType: 'orders/create' },
  slack: { provider: 'slack', eventType: 'app_mention' },
  'generic-hmac': { provider: 'generic-hmac', eventType: 'test.event' },
};

async function writeConfig(cwd: string): Promise<void> {
  // PayPal: `sign` puts its default cert URL (.../certs/CERT-hookbox-test) in PAYPAL-CERT-URL;
  // certDir serves the test certificate under that name, so nothing is fetched.
  const certDir = join(cwd, 'paypal-certs');
  mkdirSync(certDir);
  copyFileSync(new URL('paypal-test-cert.pem', fixturesDir), join(certDir, 'CERT-hookbox-test.pem'));
  const paypalKey = readFileSync(new URL('paypal-test-key.pem', fixturesDir), 'utf8');

  // Firebase: a local RS256 key stands in for Google's; its public half is the JWKS file.
  const { privateKey, publicKey } = await generateKeyPair('RS256', { extractable: true });
  const kid = 'hookbox-e2e-key';
  const jwksFile = join(cwd, 'google-jwks.json');
  writeFileSync(
    jwksFile,
    JSON.stringify({ keys: [{ ...(await exportJWK(publicKey)), kid, alg: 'RS256', use: 'sig' }] }),
  );

  const sources = {
    stripe: { provider: 'stripe', secrets: ['whsec_e2e_stripe_secret'] },
    paypal: { provider: 'paypal', webhookId: '8PT597110X687430LKGECATA', certDir, signingKey: paypalKey },
    // Twilio signs the URL it posts to: the server sees http://127.0.0.1:PORT/webhooks/twilio,
    // which is exactly the --to URL, so no publicUrl is needed here.
    twilio: { provider: 'twilio', authTokens: ['e2e_twilio_auth_token'] },
    firebase: {
      provider: 'firebase',
      audience: 'https://hookbox.test/webhooks/firebase',
      serviceAccountEmail: 'push@hookbox-e2e.iam.gserviceaccount.com',
      jwksFile,
      signingKey: await exportPKCS8(privateKey),
      signingKid: kid,
    },
    'standard-webhooks': {
      provider: 'standard-webhooks',
      secrets: [`whsec_${Buffer.from('e2e standard webhooks key 32 by').toString('base64')}`],
    },
    github: { provider: 'github', secrets: ['e2e github secret'] },
    shopify: { provider: 'shopify', secrets: ['e2e_shopify_client_secret'] },
    slack: { provider: 'slack', signingSecrets: ['e2e0slack0signing0secret'] },
    'generic-hmac': {
      provider: 'generic-hmac',
      header: 'x-signature',
      algorithm: 'sha256',
      encoding: 'hex',
      signedContent: 'timestamp.body',
      timestampHeader: 'x-timestamp',
      dedupeKey: { jsonPath: 'id' },
      eventType: { jsonPath: 'type' },
      secrets: ['e2e generic secret'],
    },
  };
  writeFileSync(join(cwd, 'hookbox.config.mjs'), `export default ${JSON.stringify({ sources }, null, 2)};\n`);
}

describe('hookbox send, for every provider, against one server', () => {
  let cwd: string;
  let server: ServerProcess;

  beforeAll(async () => {
    cwd = mkdtempSync(join(tmpdir(), 'hookbox-send-all-'));
    await writeConfig(cwd);
    server = await startServerProcess({ cwd, env });
  });
  afterAll(async () => {
    await server?.stop();
    if (cwd) rmSync(cwd, { recursive: true, force: true });
  });

  it('covers every provider in the registry', () => {
    expect(Object.keys(expected).sort()).toEqual(Object.keys(providers).sort());
  });

  it('accepts a signed sample from each, and stores one event per source', { timeout: 60_000 }, async () => {
    const sources = Object.keys(expected);
    const results = await Promise.all(
      sources.map((source) =>
        runCli(['send', source, '--to', `${server.url}/webhooks/${source}`, '--id', `evt_e2e_${source}`], {
          cwd,
          env,
        }),
      ),
    );
    for (const [index, source] of sources.entries()) {
      const result = results[index]!;
      expect({ source, stderr: result.stderr, code: result.code }).toEqual({ source, stderr: '', code: 0 });
      const [status, ...rest] = result.stdout.trim().split(' ');
      expect({ source, status }).toEqual({ source, status: '200' });
      expect(JSON.parse(rest.join(' '))).toMatchObject({ received: true, duplicate: false });
    }

    const listed = await runCli(['events', 'list', '--json', '--limit', '100'], { cwd, env });
    expect(listed.code).toBe(0);
    const events = JSON.parse(listed.stdout) as {
      source: string;
      provider: string;
      dedupeKey: string;
      eventType: string;
    }[];
    expect(events).toHaveLength(sources.length);
    const bySource = Object.fromEntries(events.map((event) => [event.source, event]));
    for (const source of sources) {
      expect(bySource[source]).toMatchObject({ ...expected[source], dedupeKey: `evt_e2e_${source}` });
    }
  });

  it('refuses a delivery signed with another secret (the acceptances above are not vacuous)', async () => {
    const result = await runCli(
      [
        'send',
        'stripe',
        '--settings',
        JSON.stringify({ secrets: ['whsec_not_the_configured_one'] }),
        '--to',
        `${server.url}/webhooks/stripe`,
      ],
      { cwd, env },
    );
    expect(result.code).toBe(1);
    expect(result.stdout).toMatch(/^401 .*"code":"signature_mismatch"/);
  });
});
