import { createHmac, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ServerProcess, startServerProcess, waitUntil } from '../support/processes.ts';
import { engines, postgresTestUrl, queryPostgres, uniqueSchemaName } from '../support/stores.ts';
import { signStripe, stripeEventBody } from '../support/stripe.ts';

// A full run of a real server at LOG_LEVEL=debug: valid and forged deliveries with credentials
// in their headers and card numbers in their bodies, failing handlers, and admin calls with
// good, wrong and read-only tokens. Then every captured log line and every response is searched
// for each configured secret, each signature sent, each credential header value, the database
// password, the card number, and any stack trace: none may appear.
describe.each(engines)('no secret, signature or stack trace in logs or responses (%s)', (engine) => {
  const stripeSecret = `whsec_${randomBytes(16).toString('hex')}`;
  const githubSecret = `gh-${randomBytes(16).toString('hex')}`;
  const adminToken = `adm_${randomBytes(16).toString('hex')}`;
  const readOnlyToken = `ro_${randomBytes(16).toString('hex')}`;
  const cronSecret = `cron_${randomBytes(16).toString('hex')}`;
  const wrongToken = `wrong_${randomBytes(16).toString('hex')}`;
  const bearerCredential = `sk_live_${randomBytes(12).toString('hex')}`;
  const cookieValue = `session=${randomBytes(12).toString('hex')}`;
  const cardNumber = '4242424242424242';
  let databasePassword = '';
  let databaseUrl: string;
  let schema: string | null = null;
  let cwd: string;
  let server: ServerProcess;
  const sentSignatures: string[] = [];
  const responses: string[] = [];

  beforeAll(async () => {
    cwd = mkdtempSync(join(tmpdir(), 'hookbox-secrets-'));
    if (engine === 'postgres') {
      schema = uniqueSchemaName();
      await queryPostgres('SELECT 1');
      const url = new URL(postgresTestUrl());
      // A trusted local PostgreSQL ignores the password; one that checks it was given one already.
      if (!url.password) url.password = `pw_${randomBytes(10).toString('hex')}`;
      databasePassword = decodeURIComponent(url.password);
      url.searchParams.set('schema', schema);
      databaseUrl = url.toString();
    } else {
      databaseUrl = `file:${join(cwd, 'hookbox.db')}`;
    }
    writeFileSync(
      join(cwd, 'hookbox.config.mjs'),
      `const failedOnce = new Set();
export default {
  sources: {
    stripe: { provider: 'stripe', secrets: [${JSON.stringify(stripeSecret)}] },
    github: { provider: 'github', secret: ${JSON.stringify(githubSecret)} },
  },
  worker: { pollIntervalMs: 100 },
  retry: { baseDelayMs: 50, maxDelayMs: 100 },
  handlers: {
    stripe: {
      '*': ({ payload, logger }) => {
        logger.info({ payload }, 'stripe event handled');
      },
    },
    github: {
      '*': ({ event, logger }) => {
        logger.debug({ headers: event.headers }, 'github event headers');
        if (!failedOnce.has(event.id)) {
          failedOnce.add(event.id);
          throw new Error('the card service refused ${cardNumber}');
        }
      },
    },
  },
};
`,
    );
    server = await startServerProcess({
      cwd,
      env: {
        DATABASE_URL: databaseUrl,
        LOG_LEVEL: 'debug',
        ADMIN_TOKEN: adminToken,
        ADMIN_READONLY_TOKENS: readOnlyToken,
        CRON_SECRET: cronSecret,
      },
    });
  }, 60_000);

  afterAll(async () => {
    await server?.stop();
    if (schema) await queryPostgres(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    rmSync(cwd, { recursive: true, force: true });
  });

  async function call(path: string, init: RequestInit & { headers?: Record<string, string> } = {}) {
    const response = await fetch(`${server.url}${path}`, { ...init, signal: AbortSignal.timeout(10_000) });
    const text = await response.text();
    responses.push(`${response.status} ${JSON.stringify([...response.headers.entries()])} ${text}`);
    return { status: response.status, text };
  }

  function postStripe(body: string, signature: string, extra: Record<string, string> = {}) {
    sentSignatures.push(signature);
    return call('/webhooks/stripe', {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'stripe-signature': signature, ...extra },
      body,
    });
  }

  function postGithub(body: string, secret: string, id: string) {
    const signature = `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
    sentSignatures.push(signature);
    return call('/webhooks/github', {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'x-hub-signature-256': signature,
        'x-github-event': 'push',
        'x-github-delivery': id,
        authorization: `Bearer ${bearerCredential}`,
      },
      body,
    });
  }

  it('keeps every secret out of every log line and response', async () => {
    const now = () => Math.floor(Date.now() / 1000);
    const cardBody = (id: string) =>
      stripeEventBody(id, 'payment_method.attached', { card: { number: cardNumber, cvc: '911' } });

    // Valid deliveries, with credentials a proxy might add.
    for (let i = 0; i < 3; i++) {
      const body = cardBody(`evt_secret_${i}`);
      const { status } = await postStripe(body, signStripe(body, stripeSecret, now()), {
        authorization: `Bearer ${bearerCredential}`,
        cookie: cookieValue,
        'x-api-key': bearerCredential,
      });
      expect(status).toBe(200);
    }
    // Forged: a wrong secret, a tampered body, an old timestamp, garbage.
    const forged = cardBody('evt_forged');
    expect(
      (await postStripe(forged, signStripe(forged, `whsec_${randomBytes(16).toString('hex')}`, now())))
        .status,
    ).toBe(401);
    expect((await postStripe(`${forged} `, signStripe(forged, stripeSecret, now()))).status).toBe(401);
    expect((await postStripe(forged, signStripe(forged, stripeSecret, now() - 3600))).status).toBe(401);
    expect((await postStripe(forged, `t=${now()},v1=${'ab'.repeat(32)}`)).status).toBe(401);
    expect((await postStripe(forged, 'garbage')).status).toBe(401);

    const githubBody = JSON.stringify({ ref: 'refs/heads/main', card: cardNumber });
    expect((await postGithub(githubBody, githubSecret, 'gh-delivery-1')).status).toBe(200);
    expect((await postGithub(githubBody, `not-${githubSecret}`, 'gh-delivery-2')).status).toBe(401);

    // Admin: good, wrong, missing and read-only tokens; metrics; the cron trigger.
    const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
    expect((await call('/api/admin/events', { headers: bearer(adminToken) })).status).toBe(200);
    expect((await call('/api/admin/events', { headers: bearer(wrongToken) })).status).toBe(401);
    expect((await call('/api/admin/events')).status).toBe(401);
    expect((await call('/api/admin/statistics', { headers: bearer(readOnlyToken) })).status).toBe(200);
    const action = { method: 'POST', body: JSON.stringify({ action: 'retry-failed' }) };
    expect(
      (
        await call('/api/admin/webhooks/monitor', {
          ...action,
          headers: { ...bearer(readOnlyToken), 'content-type': 'application/json' },
        })
      ).status,
    ).toBe(403);
    expect(
      (
        await call('/api/admin/webhooks/monitor', {
          ...action,
          headers: { ...bearer(adminToken), 'content-type': 'application/json' },
        })
      ).status,
    ).toBe(200);
    expect((await call('/metrics', { headers: bearer(adminToken) })).status).toBe(200);
    expect((await call('/metrics', { headers: bearer(cronSecret) })).status).toBe(403);
    expect(
      (await call('/api/cron/webhook-maintenance', { method: 'POST', headers: bearer(cronSecret) })).status,
    ).toBe(200);
    expect(
      (await call('/api/cron/webhook-maintenance', { method: 'POST', headers: bearer(wrongToken) })).status,
    ).toBe(401);
    const listed = await call('/api/admin/events?limit=50', { headers: bearer(adminToken) });
    const firstId = (JSON.parse(listed.text) as { data: { events: { id: string }[] } }).data.events[0]!.id;
    expect((await call(`/api/admin/events/${firstId}`, { headers: bearer(adminToken) })).status).toBe(200);
    expect(
      (await call('/api/admin/events/../../etc/passwd', { headers: bearer(adminToken) })).status,
    ).toBeGreaterThanOrEqual(400);

    // Let the failing handler fail and succeed on retry, so failure paths log too.
    await waitUntil(async () => server.output.some((line) => line.includes('handler failed')), 15_000);
    await waitUntil(async () => {
      const { text } = await call('/api/admin/events?status=failed,pending,processing', {
        headers: bearer(adminToken),
      });
      return (JSON.parse(text) as { data: { events: unknown[] } }).data.events.length === 0;
    }, 15_000);
    await server.stop();

    const logs = server.output.join('\n');
    const everything = { logs, responses: responses.join('\n') };
    const secrets: Record<string, string> = {
      'stripe secret': stripeSecret,
      'github secret': githubSecret,
      'admin token': adminToken,
      'read-only token': readOnlyToken,
      'cron secret': cronSecret,
      'wrong token presented': wrongToken,
      'bearer credential of a delivery': bearerCredential,
      'cookie of a delivery': cookieValue,
    };
    // Card data is masked in every log line and in stored handler errors; the body itself is
    // stored as received (only sources that opt in store it redacted), so an admin reading the
    // event sees it.
    const logOnly: Record<string, string> = { 'card number': cardNumber, 'card cvc': '"911"' };
    if (databasePassword) secrets['database password'] = databasePassword;
    sentSignatures.forEach((signature, i) => {
      secrets[`signature #${i}`] = signature;
      const mac = /v1=([0-9a-f]{64})|sha256=([0-9a-f]{64})/.exec(signature);
      if (mac) secrets[`signature MAC #${i}`] = (mac[1] ?? mac[2])!;
    });
    for (const [where, text] of Object.entries(everything)) {
      for (const [name, secret] of Object.entries(secrets)) {
        expect(text.includes(secret), `${name} found in ${where}`).toBe(false);
      }
      if (where === 'logs') {
        for (const [name, secret] of Object.entries(logOnly))
          expect(text.includes(secret), `${name} found in ${where}`).toBe(false);
      }
      expect(text, `a stack trace in ${where}`).not.toMatch(/\n?\s{4}at [^\n]+\(?[^\n]*:\d+:\d+\)?/);
    }
    const errors = responses.filter((r) => r.includes('the card service refused'));
    expect(errors.length).toBeGreaterThan(0);
    expect(errors.every((r) => r.includes('the card service refused [card redacted]'))).toBe(true);
    // The run did log at debug level, and the failure was logged (masked).
    expect(logs).toContain('"level":20');
    expect(logs).toContain('[card redacted]');
  }, 90_000);
});
