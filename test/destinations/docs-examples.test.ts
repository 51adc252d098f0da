/**
 * The examples in docs/destinations.md, run as written: the config validates, and each
 * receiver accepts what Hookbox delivers, deduplicates a repeat and refuses a forged signature.
 * A block is picked up by the `<!-- doc-test: NAME ... -->` comment just above it.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { deliverOnce } from '../../src/destinations/deliver.ts';
import { createDestinationHttpClient } from '../../src/destinations/http-client.ts';
import { destinationDefaults, readDestinations } from '../../src/destinations/settings.ts';
import { runCli, startServerProcess, withoutEnvSources } from '../support/processes.ts';
import { generateSigningSecret, makeDestination } from './helpers.ts';

const root = fileURLToPath(new URL('../../', import.meta.url));
const doc = readFileSync(join(root, 'docs/destinations.md'), 'utf8');

function docBlock(name: string): string {
  // A block inside a list item is indented: the indent is allowed before its fences.
  const match = new RegExp(
    `<!-- doc-test: ${name}[ (][^\\n]*-->\\n *\`\`\`\\w+\\n([\\s\\S]*?)\\n *\`\`\``,
  ).exec(doc);
  if (!match?.[1]) throw new Error(`docs/destinations.md has no block marked doc-test: ${name}`);
  return match[1];
}

const dir = mkdtempSync(join(tmpdir(), 'hookbox-destinations-doc-'));
// The library receiver imports standardwebhooks: let it resolve from this checkout.
symlinkSync(join(root, 'node_modules'), join(dir, 'node_modules'));
const children: ChildProcess[] = [];
const client = createDestinationHttpClient();
afterAll(async () => {
  for (const child of children) child.kill('SIGKILL');
  await client.close();
  rmSync(dir, { recursive: true, force: true });
});

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as { port: number };
      probe.close(() => resolve(port));
    });
  });
}

async function startReceiver(command: string, file: string, secret: string) {
  const port = await freePort();
  const child = spawn(command, [file], {
    cwd: dir,
    env: { ...process.env, WEBHOOK_SECRET: secret, PORT: String(port) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  const output: string[] = [];
  child.stdout?.on('data', (chunk: Buffer) => output.push(chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => output.push(chunk.toString()));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${file} did not start:\n${output.join('')}`)), 15_000);
    const check = () => {
      if (output.join('').includes(`listening on ${port}`)) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stdout?.on('data', check);
    child.once('exit', (code) => reject(new Error(`${file} exited with ${code}:\n${output.join('')}`)));
  });
  return { port, output };
}

const body = Buffer.from(
  JSON.stringify({
    id: 'evt_doc_1',
    object: 'event',
    type: 'invoice.paid',
    data: { object: { id: 'in_1' } },
  }),
);
const input = (attempt: number) => ({
  eventId: '01JDOCEXAMPLE0000000000001',
  source: 'stripe',
  eventType: 'invoice.paid',
  attempt,
  body,
  contentType: 'application/json; charset=utf-8',
});

describe('docs/destinations.md', () => {
  it('the JSON config validates', () => {
    const config = JSON.parse(docBlock('destinations-config')) as {
      sources: Record<string, { destinations: unknown }>;
    };
    for (const [name, source] of Object.entries(config.sources)) {
      const { destinations, problems } = readDestinations(source.destinations, name);
      expect(problems).toEqual([]);
      expect(destinations.map((d) => d.name)).toEqual(['billing', 'crm']);
    }
  });

  it('states the time to dead that the default backoff gives', () => {
    const { maxAttempts, backoff } = destinationDefaults;
    let ceilingMs = 0;
    for (let attempt = 1; attempt < maxAttempts; attempt++) {
      ceilingMs += Math.min(backoff.maxDelayMs, backoff.baseDelayMs * 2 ** (attempt - 1));
    }
    const hours = ceilingMs / 3_600_000;
    expect(doc).toContain(`at most about ${Math.round(hours)} hours`);
    expect(doc).toContain(`about ${Math.round(hours / 2)} hours of continuous failure on`);
  });

  it.each([
    ['destinations-node-receiver', 'node', 'receiver.mjs'],
    ['destinations-node-library-receiver', 'node', 'receiver-lib.mjs'],
    ['destinations-python-receiver', 'python3', 'receiver.py'],
  ])(
    '%s accepts a delivery once, a repeat without reprocessing, and refuses a forgery',
    async (name, command, file) => {
      writeFileSync(join(dir, file), `${docBlock(name)}\n`);
      const secret = generateSigningSecret();
      const { port, output } = await startReceiver(command, file, secret);
      const destination = makeDestination({
        url: `http://127.0.0.1:${port}/webhooks`,
        allowPrivateNetwork: true,
        signingSecret: secret,
      });

      const first = await deliverOnce(client, destination, input(1));
      expect(first).toMatchObject({ verdict: 'succeeded', statusCode: 204 });
      const repeat = await deliverOnce(client, destination, input(2));
      expect(repeat).toMatchObject({ verdict: 'succeeded', statusCode: 204 });

      const forged = makeDestination({ url: `http://127.0.0.1:${port}/webhooks`, allowPrivateNetwork: true });
      const refused = await deliverOnce(client, forged, input(1));
      expect(refused).toMatchObject({ verdict: 'retry', statusCode: 401 });

      const printed = output
        .join('')
        .split('\n')
        .filter((line) => line.includes('evt_doc_1'));
      // The library example shows verification only; the other two also deduplicate on webhook-id.
      expect(printed).toHaveLength(file === 'receiver-lib.mjs' ? 2 : 1);
      expect(printed[0]).toContain('01JDOCEXAMPLE0000000000001 invoice.paid evt_doc_1');
    },
  );

  it('the walkthrough: hookbox serve with the JSON config alone forwards a Stripe event to the Python receiver', async () => {
    writeFileSync(join(dir, 'receiver.py'), `${docBlock('destinations-python-receiver')}\n`);
    const appSecret = generateSigningSecret();
    const { port, output } = await startReceiver('python3', 'receiver.py', appSecret);
    const site = mkdtempSync(join(tmpdir(), 'hookbox-walkthrough-'));
    try {
      // The documented config as written, but for the port the receiver got.
      const config = docBlock('destinations-walkthrough-config')
        .split('\n')
        .map((line) => line.replace(/^ {3}/, ''))
        .join('\n')
        .replace('127.0.0.1:4000', `127.0.0.1:${port}`);
      writeFileSync(join(site, 'hookbox.config.json'), config);
      const env = {
        ...withoutEnvSources,
        STRIPE_WEBHOOK_SECRET: 'whsec_walkthrough_stripe',
        APP_WEBHOOK_SECRET: appSecret,
        DATABASE_URL: `file:${join(site, 'hookbox.db')}`,
      };
      const server = await startServerProcess({
        cwd: site,
        env,
        serveArgs: ['--config', 'hookbox.config.json'],
      });
      try {
        const sent = await runCli(
          [
            'send',
            'stripe',
            '--type',
            'invoice.paid',
            '--id',
            'evt_walkthrough',
            '--to',
            `${server.url}/webhooks/stripe`,
          ],
          { cwd: site, env },
        );
        expect(sent.code, sent.stderr).toBe(0);
        const deadline = Date.now() + 15_000;
        while (!output.join('').includes('invoice.paid evt_walkthrough') && Date.now() < deadline) {
          await new Promise((resolve) => setTimeout(resolve, 100));
        }
        expect(output.join('')).toMatch(/^\S+ invoice\.paid evt_walkthrough$/m);
      } finally {
        await server.stop();
      }
    } finally {
      rmSync(site, { recursive: true, force: true });
    }
  });
});
