/**
 * Acceptance: `hookbox send <provider>` produces a delivery the server accepts, for every
 * provider. One real `hookbox serve` process with a source per provider; each `hookbox send`
 * runs from the same folder, so it reads the same hookbox.config.mjs; `hookbox events list`
 * then shows one stored event per source.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { providers } from '../../src/providers/registry.ts';
import { everySchemeSources, noSourcesFromEnv } from '../support/every-scheme.ts';
import { runCli, type ServerProcess, startServerProcess } from '../support/processes.ts';

/** Only the config's sources exist, whatever the environment running the tests holds. */
const env = noSourcesFromEnv;

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
  // Twilio signs the URL it posts to: the server sees http://127.0.0.1:PORT/webhooks/twilio,
  // which is exactly the --to URL, so no publicUrl is needed here.
  const sources = await everySchemeSources(cwd, {
    'generic-hmac': {
      algorithm: 'sha256',
      encoding: 'hex',
      signedContent: 'timestamp.body',
      timestampHeader: 'x-timestamp',
    },
  });
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
    // Identity only from signed data (docs/security.md): GitHub and Shopify key on the hash of
    // the body, Twilio on the signed sid and status, not on the unsigned id `send` also sets.
    const keyOf = (source: string) =>
      source === 'github' || source === 'shopify'
        ? expect.stringMatching(/^[0-9a-f]{64}$/)
        : source === 'twilio'
          ? 'evt_e2e_twilio:event'
          : `evt_e2e_${source}`;
    for (const source of sources) {
      expect(bySource[source]).toMatchObject({ ...expected[source], dedupeKey: keyOf(source) });
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
