/**
 * Issue 11, item 3: signature headers are stored (an event can be re-verified, invariant 2) but
 * never shown. One signed delivery per scheme goes through the real receive route; then every
 * admin API answer (admin and read-only tokens), every dashboard page, `hookbox events show`
 * and every log line is searched for each signature sent and each secret: none may appear.
 * The generic HMAC source signs in `x-payload-digest`, a header name no pattern would guess.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createManualClock } from '../../src/clock.ts';
import { resolveSources } from '../../src/config/sources.ts';
import { createHookbox, type Hookbox, type SourceDefinition } from '../../src/hookbox.ts';
import { createLogger } from '../../src/logger.ts';
import { providers } from '../../src/providers/registry.ts';
import { createSourceRedaction } from '../../src/redaction.ts';
import { everySchemeSources, noSourcesFromEnv } from '../support/every-scheme.ts';
import { runCli } from '../support/processes.ts';
import { createTestStore, engines, type TestStore } from '../support/stores.ts';

const adminToken = 'adm_redaction_everywhere_0123456789';
const readOnlyToken = 'ro_redaction_everywhere_0123456789';
const now = Date.UTC(2027, 0, 15, 12, 0, 0);

/** The sample type each scheme is sent with. */
const eventTypes: Record<string, string> = {
  stripe: 'payment_intent.succeeded',
  paypal: 'PAYMENT.CAPTURE.COMPLETED',
  twilio: 'message.delivered',
  firebase: 'user.created',
  'standard-webhooks': 'invoice.paid',
  github: 'issues.opened',
  shopify: 'orders/create',
  slack: 'app_mention',
  'generic-hmac': 'thing.happened',
};

/** One source per scheme; the generic HMAC one signs in a header no pattern would guess. */
function sourceDefinitions(dir: string): Promise<Record<string, SourceDefinition>> {
  return everySchemeSources(dir, { 'generic-hmac': { header: 'X-Payload-Digest' } });
}

/** Every secret-looking string in the definitions: secrets, tokens, private keys. */
function secretsOf(definitions: Record<string, SourceDefinition>): string[] {
  const found: string[] = [];
  for (const definition of Object.values(definitions)) {
    for (const [key, value] of Object.entries(definition)) {
      if (!/secret|token|key/i.test(key) || key === 'signingKid') continue;
      for (const item of Array.isArray(value) ? value : [value])
        if (typeof item === 'string') found.push(item);
    }
  }
  // A PEM is searched by a line of its base64, which is what a leak would show.
  return found.map((text) => (text.includes('-----BEGIN') ? (text.split('\n')[2] ?? text) : text));
}

/** A signature value, and the runs of it long enough to be recognised (the MAC without its prefix). */
function fragments(value: string): string[] {
  return [value, ...value.split(/[\s,=;]+/).filter((part) => part.length >= 20)];
}

describe.each(engines)('signatures and secrets in no output and no log line (%s)', (engine) => {
  let dir: string;
  let testStore: TestStore;
  let hookbox: Hookbox;
  let definitions: Record<string, SourceDefinition>;
  const logLines: string[] = [];
  const outputs: { where: string; text: string }[] = [];
  const sentSignatures: { source: string; header: string; value: string }[] = [];
  const eventIds: Record<string, string> = {};

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'hookbox-redaction-'));
    testStore = await createTestStore(engine);
    definitions = Object.fromEntries(
      Object.entries(await sourceDefinitions(dir)).map(([name, def]) => [name, { ...def, mode: 'sync' }]),
    );
    const sources = resolveSources(definitions);
    const destination = new Writable({
      write(chunk, _encoding, done) {
        logLines.push(...String(chunk).split('\n').filter(Boolean));
        done();
      },
    });
    const logger = createLogger({
      level: 'debug',
      destination,
      redaction: createSourceRedaction(undefined, sources.values()),
    });
    hookbox = createHookbox({
      store: testStore.store,
      clock: createManualClock(now),
      sources: definitions,
      logger,
      // Handlers that log what they were given: the headers and payload, and fail once.
      handlers: {
        '*': {
          '*': ({ event, payload, logger: log }) => {
            log.debug({ headers: event.headers, payload }, 'handler saw the event');
            log.info({ event }, 'handler saw the whole event');
          },
        },
      },
      worker: { enabled: false },
      admin: { token: adminToken, readOnlyTokens: [readOnlyToken] },
      monitor: { metrics: { processMetrics: false } },
    });
    await hookbox.start();

    for (const [name, source] of hookbox.sources) {
      const eventType = eventTypes[name]!;
      const url = `http://hookbox.test/webhooks/${name}`;
      const body = source.provider.sampleBody!({ eventType, eventId: `evt_redaction_${name}`, now });
      const signed = await source.provider.sign!(body, source.settings, {
        now,
        url,
        eventType,
        eventId: `evt_redaction_${name}`,
      });
      const declared = new Set([
        ...source.provider.secretHeaders,
        ...(source.provider.secretHeadersFor?.(source.settings) ?? []),
      ]);
      for (const [header, value] of Object.entries(signed.headers)) {
        if (declared.has(header.toLowerCase())) sentSignatures.push({ source: name, header, value });
      }
      const response = await hookbox.fetch(
        new Request(signed.url ?? url, {
          method: 'POST',
          headers: signed.headers,
          body: new Uint8Array(signed.body),
        }),
      );
      const text = await response.text();
      outputs.push({ where: `POST /webhooks/${name}`, text });
      expect({ name, status: response.status, text }).toMatchObject({ name, status: 200 });
      eventIds[name] = (JSON.parse(text) as { id: string }).id;
    }
  }, 60_000);

  afterAll(async () => {
    await hookbox?.stop();
    await testStore?.cleanup();
    rmSync(dir, { recursive: true, force: true });
  });

  async function read(path: string, headers: Record<string, string>) {
    const response = await hookbox.fetch(
      new Request(`http://hookbox.test${path}`, { headers, redirect: 'manual' }),
    );
    const text = await response.text();
    outputs.push({ where: `GET ${path}`, text });
    return { status: response.status, text };
  }

  function expectNothingLeaked(texts: { where: string; text: string }[]) {
    const needles = [
      ...sentSignatures.flatMap(({ source, header, value }) =>
        fragments(value).map((fragment) => ({ what: `${source} ${header}`, fragment })),
      ),
      ...secretsOf(definitions).map((secret) => ({ what: 'a configured secret', fragment: secret })),
      { what: 'the admin token', fragment: adminToken },
      { what: 'the read-only token', fragment: readOnlyToken },
    ];
    for (const { where, text } of texts) {
      for (const { what, fragment } of needles) {
        expect(text.includes(fragment), `${what} appears in ${where}`).toBe(false);
      }
    }
  }

  it('sent a signature for every scheme, and stored them for re-verification', async () => {
    expect(new Set(sentSignatures.map((s) => s.source))).toEqual(new Set(Object.keys(providers)));
    expect(sentSignatures.find((s) => s.source === 'generic-hmac')?.header.toLowerCase()).toBe(
      'x-payload-digest',
    );
    for (const { source, header, value } of sentSignatures) {
      const stored = await testStore.store.getEvent(eventIds[source]!);
      // Credentials (Firebase's Authorization) are never stored; signatures are, as sent.
      if (header.toLowerCase() === 'authorization') expect(stored!.headers.authorization).toBeUndefined();
      else expect(stored!.headers[header.toLowerCase()], `${source} ${header}`).toBe(value);
    }
  });

  it('shows none of them through the admin API, with an admin or a read-only token', async () => {
    for (const token of [adminToken, readOnlyToken]) {
      const authorization = { authorization: `Bearer ${token}` };
      for (const id of Object.values(eventIds)) {
        const detail = await read(`/api/admin/events/${id}`, authorization);
        expect(detail.status).toBe(200);
        const shown = (JSON.parse(detail.text) as { data: { headers: Record<string, string> } }).data.headers;
        for (const { source, header } of sentSignatures) {
          if (eventIds[source] === id && header.toLowerCase() !== 'authorization')
            expect(shown[header.toLowerCase()], `${source} ${header}`).toBe('[redacted]');
        }
      }
      expect((await read('/api/admin/events?limit=100', authorization)).status).toBe(200);
      expect((await read('/api/admin/duplicates', authorization)).status).toBe(200);
    }
    expectNothingLeaked(outputs);
  });

  it('shows none of them on the dashboard', async () => {
    const signIn = await hookbox.fetch(
      new Request('http://hookbox.test/dashboard/sign-in', {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', 'sec-fetch-site': 'same-origin' },
        body: new URLSearchParams({ token: adminToken }).toString(),
        redirect: 'manual',
      }),
    );
    expect(signIn.status).toBe(303);
    const cookie = { cookie: signIn.headers.get('set-cookie')!.split(';')[0]! };
    const pages = ['/dashboard', '/dashboard/events', '/dashboard/dead-letters', '/dashboard/duplicates'];
    for (const id of Object.values(eventIds)) {
      pages.push(`/dashboard/events/${id}`);
      // What the event page's script shows: the admin API, called with the session cookie.
      pages.push(`/api/admin/events/${id}`);
    }
    const before = outputs.length;
    for (const page of pages) expect((await read(page, cookie)).status, page).toBe(200);
    expectNothingLeaked(outputs.slice(before));
  });

  it('writes none of them to any log line', () => {
    expect(logLines.some((line) => line.includes('handler saw the event'))).toBe(true);
    expectNothingLeaked(
      logLines.map((line, index) => ({ where: `log line ${index}: ${line.slice(0, 300)}`, text: line })),
    );
  });

  // `hookbox events show` runs the same serializer as the admin API over the same Redaction; it
  // is a separate process per event, so it runs once, on SQLite, where the test owns the file.
  it.runIf(engine === 'sqlite')(
    'shows none of them in hookbox events show',
    { timeout: 120_000 },
    async () => {
      writeFileSync(
        join(dir, 'hookbox.config.mjs'),
        `export default ${JSON.stringify({ sources: definitions })};\n`,
      );
      const env = { ...noSourcesFromEnv, DATABASE_URL: `file:${testStore.path}` };
      const shown: { where: string; text: string }[] = [];
      for (const [name, id] of Object.entries(eventIds)) {
        const result = await runCli(['events', 'show', id], { cwd: dir, env });
        expect({ name, code: result.code, stderr: result.stderr }).toEqual({ name, code: 0, stderr: '' });
        // Firebase's only declared header is its bearer token, which is never stored at all.
        if (name !== 'firebase') expect(result.stdout).toContain('[redacted]');
        shown.push({ where: `hookbox events show (${name})`, text: result.stdout + result.stderr });
      }
      expectNothingLeaked(shown);
    },
  );
});
