/** Running a consumer app as its own process and talking to it like a provider would. */
import { cpSync, mkdtempSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Stripe from 'stripe';
import { type ServerProcess, startProcess } from '../../support/processes.ts';
import { type InstallOptions, installInto, repoRoot } from './install.ts';

export const appsDir = join(repoRoot, 'test', 'consumer', 'apps');

/** A copy of `source` (an app folder) in a fresh temporary folder, with the tarball installed. */
export function createApp(source: string, options: InstallOptions): string {
  const dir = join(mkdtempSync(join(tmpdir(), 'hookbox-consumer-')), 'app');
  cpSync(source, dir, { recursive: true, filter: (path) => !/[/\\](node_modules|\.next|data)$/.test(path) });
  installInto(dir, options);
  return dir;
}

/** The dedupe keys of the lines `handled <dedupe key> ...` an app's handler printed. */
export function handledIds(app: ServerProcess): string[] {
  return app.output.flatMap((line) => /^handled (\S+)/.exec(line)?.[1] ?? []);
}

/**
 * Start `command` in `cwd` with only PATH, HOME and `env` in its environment, and resolve once
 * it prints `listening <url>` (or `listeningUrl` finds one).
 */
export function startApp(
  command: string[],
  options: { cwd: string; env?: Record<string, string>; listeningUrl?: (line: string) => string | null },
): Promise<ServerProcess> {
  return startProcess(command, {
    cwd: options.cwd,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...options.env },
    listeningUrl:
      options.listeningUrl ?? ((line) => /^listening (http:\/\/\S+)/.exec(line.trim())?.[1] ?? null),
  });
}

/** A port nobody listens on right now (for hosts that cannot be told to pick one, like `next start`). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

const stripe = new Stripe('sk_test_consumer_tests_never_call_the_api');

/** POST one Stripe event, signed by the official SDK, as Stripe would deliver it. */
export async function deliverStripeEvent(
  url: string,
  secret: string,
  id: string,
): Promise<{ status: number; body: { received?: boolean; id?: string; duplicate?: boolean } }> {
  const payload = JSON.stringify(
    {
      id,
      object: 'event',
      type: 'payment_intent.succeeded',
      data: { object: { id: `pi_${id}`, amount: 2000 } },
    },
    null,
    2,
  );
  const response = await fetch(url, {
    method: 'POST',
    headers: {
      'content-type': 'application/json; charset=utf-8',
      'stripe-signature': stripe.webhooks.generateTestHeaderString({ payload, secret }),
    },
    body: payload,
  });
  return { status: response.status, body: (await response.json()) as never };
}

/** Wait until `probe` holds, polling. */
export async function waitFor(probe: () => boolean, what: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!probe()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/**
 * The contract every consumer app must keep: a signed delivery is stored (200, not a
 * duplicate), handled once; the same delivery again is a duplicate and runs nothing.
 */
export async function expectStoredOnceHandledOnce(app: ServerProcess, webhookUrl: string, secret: string) {
  const id = `evt_consumer_${Date.now()}`;
  const first = await deliverStripeEvent(webhookUrl, secret, id);
  if (first.status !== 200 || first.body.duplicate !== false) {
    throw new Error(
      `first delivery: ${first.status} ${JSON.stringify(first.body)}\n${app.output.join('\n')}`,
    );
  }
  await waitFor(() => handledIds(app).includes(id), `the handler to run for ${id}`);
  const repeat = await deliverStripeEvent(webhookUrl, secret, id);
  // Settle a moment: a second run, if there were one, would show up now.
  await new Promise((resolve) => setTimeout(resolve, 500));
  return { first, repeat, handled: handledIds(app).filter((handledId) => handledId === id) };
}
