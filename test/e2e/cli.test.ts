import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, type ServerProcess, startServerProcess, waitUntil } from '../support/processes.ts';
import { signStripe, stripeEventBody } from '../support/stripe.ts';

// The README's first-run path, through real processes: `npm start` (`hookbox serve --demo`)
// with no configuration (demo mode on SQLite), then `hookbox send` and `hookbox events list` from the same folder.
describe('demo mode from a fresh folder', () => {
  let cwd: string;
  let server: ServerProcess;
  const env = { DATABASE_URL: '', STRIPE_WEBHOOK_SECRET: '' };

  beforeAll(async () => {
    cwd = mkdtempSync(join(tmpdir(), 'hookbox-cli-'));
    server = await startServerProcess({ cwd, env, serveArgs: ['--demo'] });
  });
  afterAll(async () => {
    await server?.stop();
    rmSync(cwd, { recursive: true, force: true });
  });

  it('announces demo mode with the generated secret', () => {
    const printed = server.output.join('\n');
    expect(printed).toContain('DEMO MODE');
    expect(printed).toMatch(/whsec_[A-Za-z0-9_-]{20,}/);
  });

  it('turns the dashboard on with a generated sign-in token, printed and saved in ./data', async () => {
    const token = readFileSync(join(cwd, 'data', 'demo-admin-token'), 'utf8').trim();
    expect(token).toMatch(/^[0-9a-f]{48}$/);
    expect(server.output.join('\n')).toContain(
      `dashboard: ${server.url}/dashboard  sign in with the token saved in`,
    );
    expect(server.output.join('\n')).toContain(token);
    const signIn = await fetch(`${server.url}/dashboard/sign-in`);
    expect(signIn.status).toBe(200);
    const admin = (authorization?: string) =>
      fetch(`${server.url}/api/admin/events`, authorization ? { headers: { authorization } } : {});
    expect((await admin(`Bearer ${token}`)).status).toBe(200);
    expect((await admin()).status).toBe(401);
  });

  it('accepts `hookbox send`, shows the event as processed, and counts a repeat as a duplicate', async () => {
    const to = `${server.url}/webhooks/stripe`;
    const first = await runCli(['send', 'stripe', '--to', to, '--id', 'evt_cli_1'], { cwd, env });
    expect(first.stderr).toBe('');
    expect(first.code).toBe(0);
    expect(first.stdout).toMatch(/^200 .*"duplicate":false/);

    const listed = await waitUntil(async () => {
      const result = await runCli(['events', 'list', '--json'], { cwd, env });
      const events = JSON.parse(result.stdout) as {
        dedupeKey: string;
        status: string;
        deliveryCount: number;
      }[];
      return events.find((e) => e.dedupeKey === 'evt_cli_1' && e.status === 'processed');
    });
    expect(listed.deliveryCount).toBe(1);

    const again = await runCli(['send', 'stripe', '--to', to, '--id', 'evt_cli_1'], { cwd, env });
    expect(again.code).toBe(0);
    expect(again.stdout).toContain('"duplicate":true');
    const after = JSON.parse(
      (await runCli(['events', 'list', '--json', '--source', 'stripe'], { cwd, env })).stdout,
    );
    expect(after).toHaveLength(1);
    expect(after[0]).toMatchObject({ dedupeKey: 'evt_cli_1', deliveryCount: 2, status: 'processed' });
  });

  it('shows and retries one event, and filters the list', async () => {
    const list = JSON.parse(
      (await runCli(['events', 'list', '--json', '--status', 'processed', '--limit', '1'], { cwd, env }))
        .stdout,
    );
    expect(list).toHaveLength(1);
    const shown = await runCli(['events', 'show', list[0].id, '--json'], { cwd, env });
    const detail = JSON.parse(shown.stdout);
    expect(detail.attempts[0].outcome).toBe('processed');
    expect(JSON.parse(detail.body).id).toBe(list[0].dedupeKey);
    const retried = await runCli(['events', 'retry', list[0].id], { cwd, env });
    expect(retried.stdout).toContain('requeued');
    const none = JSON.parse(
      (await runCli(['events', 'list', '--json', '--status', 'dead'], { cwd, env })).stdout,
    );
    expect(none).toEqual([]);
    const bad = await runCli(['events', 'list', '--status', 'nonsense'], { cwd, env });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('unknown status nonsense');
  });
});

describe('hookbox verify', () => {
  let cwd: string;
  const secret = 'whsec_cli_verify_secret';
  const settings = JSON.stringify({ secrets: [secret] });
  const at = 1_767_225_600;

  beforeAll(() => {
    cwd = mkdtempSync(join(tmpdir(), 'hookbox-verify-'));
    const body = stripeEventBody('evt_verify');
    writeFileSync(join(cwd, 'body.json'), body);
    writeFileSync(
      join(cwd, 'headers.json'),
      JSON.stringify({ 'Stripe-Signature': signStripe(body, secret, at) }),
    );
    writeFileSync(join(cwd, 'reserialized.json'), JSON.stringify(JSON.parse(body)));
  });
  afterAll(() => rmSync(cwd, { recursive: true, force: true }));

  const verify = (...extra: string[]) =>
    runCli(
      [
        'verify',
        'stripe',
        '--settings',
        settings,
        '--body',
        'body.json',
        '--headers',
        'headers.json',
        ...extra,
      ],
      { cwd },
    );

  it('exits 0 for a delivery that verifies at its time', async () => {
    const result = await verify('--at', String(at + 10));
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('dedupe key evt_verify');
  });

  it('exits 1 with the age against the tolerance for a stale one', async () => {
    const result = await verify('--at', String(at + 412));
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('timestamp 412 s older than the 300 s tolerance');
  });

  it('exits 1 with a hint when the body was re-serialized', async () => {
    const result = await runCli(
      [
        'verify',
        'stripe',
        '--settings',
        settings,
        '--body',
        'reserialized.json',
        '--headers',
        'headers.json',
        '--at',
        String(at),
      ],
      { cwd },
    );
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('signature_body_reserialized');
    expect(result.stderr).toMatch(/raw/);
  });
});

describe('configuration errors', () => {
  it('exits non-zero and lists every problem at once', async () => {
    const cwd = mkdtempSync(join(tmpdir(), 'hookbox-badconfig-'));
    try {
      writeFileSync(
        join(cwd, 'hookbox.config.mjs'),
        `export default { sources: { stripe: { provider: 'stripe' }, bad: { provider: 'nope' }, 'x y': { provider: 'stripe', secrets: ['whsec_a'] } }, server: { port: -1 } };\n`,
      );
      const result = await runCli(['serve'], { cwd, env: { DATABASE_URL: 'mysql://x' } });
      expect(result.code).toBe(2);
      expect(result.stderr).toContain('DATABASE_URL');
      expect(result.stderr).toContain('server.port');
      expect(result.stderr).toContain('sources.bad');
      expect(result.stderr).toContain('sources.stripe');
      expect(result.stderr).toContain('sources.x y');
    } finally {
      rmSync(cwd, { recursive: true, force: true });
    }
  });
});
