// biome-ignore-all lint/suspicious/noTemplateCurlyInString: the configs below use ${VAR} substitution.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Stripe from 'stripe';
import { afterAll, describe, expect, it } from 'vitest';
import {
  runCli,
  type ServerProcess,
  startServerProcess,
  waitUntil,
  withoutEnvSources,
} from '../support/processes.ts';
import { stripeEventBody } from '../support/stripe.ts';

// A config without TypeScript: the server runs from hookbox.config.json or .yaml, the signing
// secret comes from the environment through ${VAR}, and a delivery signed by the `stripe`
// package itself is stored once (a repeat is a duplicate).

const sdk = new Stripe('sk_test_hookbox');
const secret = 'whsec_config_files_e2e';
const folders: string[] = [];
const servers: ServerProcess[] = [];
afterAll(async () => {
  await Promise.all(servers.map((server) => server.stop()));
  for (const folder of folders) rmSync(folder, { recursive: true, force: true });
});

function folderWith(files: Record<string, string>): string {
  const cwd = mkdtempSync(join(tmpdir(), 'hookbox-config-files-'));
  folders.push(cwd);
  for (const [name, text] of Object.entries(files)) writeFileSync(join(cwd, name), text);
  return cwd;
}

async function postStripe(server: ServerProcess, id: string) {
  const body = stripeEventBody(id);
  const response = await fetch(`${server.url}/webhooks/payments`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      'stripe-signature': sdk.webhooks.generateTestHeaderString({ payload: body, secret }),
    },
    body,
  });
  return { status: response.status, body: (await response.json()) as { duplicate?: boolean } };
}

const env = { DATABASE_URL: '', ...withoutEnvSources, PAYMENTS_SECRET: secret };

describe.each<{ format: string; files: Record<string, string>; args: string[] }>([
  {
    format: 'JSON, found in the current folder',
    files: {
      'hookbox.config.json': JSON.stringify({
        sources: { payments: { provider: 'stripe', secrets: ['${PAYMENTS_SECRET}'] } },
        logLevel: 'info',
      }),
    },
    args: [],
  },
  {
    format: 'YAML, named by --config',
    files: {
      'gateway.yaml': 'sources:\n  payments:\n    provider: stripe\n    secrets: ["${PAYMENTS_SECRET}"]\n',
    },
    args: ['--config', 'gateway.yaml'],
  },
])('a server configured in $format', ({ files, args }) => {
  it('accepts a delivery signed by the stripe package, once', async () => {
    const cwd = folderWith(files);
    const server = await startServerProcess({ cwd, env, args });
    servers.push(server);
    expect(await postStripe(server, 'evt_config_file')).toMatchObject({
      status: 200,
      body: { duplicate: false },
    });
    expect(await postStripe(server, 'evt_config_file')).toMatchObject({
      status: 200,
      body: { duplicate: true },
    });

    const stored = await waitUntil(async () => {
      const listed = await runCli([...args, 'events', 'list', '--json'], { cwd, env });
      const events = JSON.parse(listed.stdout) as {
        source: string;
        dedupeKey: string;
        deliveryCount: number;
      }[];
      return events.length === 1 && events[0]!.deliveryCount === 2 ? events : undefined;
    });
    expect(stored[0]).toMatchObject({ source: 'payments', dedupeKey: 'evt_config_file' });

    const forged = await fetch(`${server.url}/webhooks/payments`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'stripe-signature': sdk.webhooks.generateTestHeaderString({
          payload: stripeEventBody('evt_forged'),
          secret: 'whsec_not_it',
        }),
      },
      body: stripeEventBody('evt_forged'),
    });
    expect(forged.status).toBe(401);
  });
});

describe('hookbox send twilio signs the URL the server verifies', () => {
  it('uses the source publicUrl, not the --to address (form and JSON bodies)', async () => {
    const cwd = folderWith({
      'hookbox.config.yaml': [
        'sources:',
        '  twilio:',
        '    provider: twilio',
        '    authTokens: ["${TWILIO_TOKEN}"]',
        // Behind a proxy, Twilio posts to the public URL; Hookbox sees its own address.
        '    publicUrl: https://hooks.example.com',
        '',
      ].join('\n'),
      'status.json': JSON.stringify({ MessageSid: 'SM_json_1', MessageStatus: 'delivered' }),
    });
    const twilioEnv = { ...env, TWILIO_TOKEN: 'twilio_publicurl_token' };
    const server = await startServerProcess({ cwd, env: twilioEnv });
    servers.push(server);
    const to = `${server.url}/webhooks/twilio`;
    const form = await runCli(['send', 'twilio', '--to', to, '--id', 'SM_form_1'], { cwd, env: twilioEnv });
    expect({ code: form.code, stderr: form.stderr }).toEqual({ code: 0, stderr: '' });
    expect(form.stdout).toMatch(/^200 /);
    const json = await runCli(['send', 'twilio', '--to', to, '--data', 'status.json'], {
      cwd,
      env: twilioEnv,
    });
    expect({ code: json.code, stderr: json.stderr }).toEqual({ code: 0, stderr: '' });
    expect(json.stdout).toMatch(/^200 /);
  });
});
