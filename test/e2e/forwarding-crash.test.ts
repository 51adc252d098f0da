import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { Webhook } from 'standardwebhooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openStore } from '../../src/store/open-store.ts';
import type { Store } from '../../src/store/types.ts';
import {
  generateSigningSecret,
  type RecordingServer,
  startRecordingServer,
} from '../destinations/helpers.ts';
import { deliver, postgresUrl } from '../support/e2e-fixture.ts';
import { startServerProcess, waitUntil, withoutEnvSources } from '../support/processes.ts';
import { engines, postgresProcessUrl } from '../support/stores.ts';

const burst = 1_000;

// kill -9 of a `hookbox serve` forwarding a burst of 1,000 events to a destination, configured
// by a JSON file alone: every acknowledged event reaches the destination at least once, and a
// repeat carries the same webhook-id (the event id) as the first delivery.
describe.each(engines)('SIGKILL while forwarding on %s', (engine) => {
  let cwd: string;
  let databaseUrl: string;
  let schema: string | null = null;
  let app: RecordingServer;
  let store: Store | undefined;
  const secret = `whsec_${randomBytes(12).toString('hex')}`;
  const signingSecret = generateSigningSecret();

  beforeAll(async () => {
    cwd = mkdtempSync(join(tmpdir(), `hookbox-forward-${engine}-`));
    databaseUrl = `file:${join(cwd, 'hookbox.db')}`;
    if (engine === 'postgres') {
      schema = `hb_fwd_${randomBytes(5).toString('hex')}`;
      databaseUrl = postgresProcessUrl(schema);
    }
    app = await startRecordingServer();
    writeFileSync(
      join(cwd, 'hookbox.config.json'),
      JSON.stringify({
        sources: {
          stripe: {
            provider: 'stripe',
            secrets: [secret],
            destinations: [
              {
                name: 'app',
                url: `${app.url}/webhooks`,
                signingSecret,
                allowPrivateNetwork: true,
                concurrency: 20,
                backoff: { baseDelayMs: 100, maxDelayMs: 500 },
              },
            ],
          },
        },
        worker: { leaseMs: 1000, pollIntervalMs: 200 },
        delivery: { leaseMs: 1000, pollIntervalMs: 200 },
      }),
    );
  });

  afterAll(async () => {
    await store?.close();
    await app?.close();
    if (schema) {
      const client = new pg.Client({ connectionString: postgresUrl });
      await client.connect();
      await client.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
      await client.end();
    }
    rmSync(cwd, { recursive: true, force: true });
  });

  it('delivers every acknowledged event at least once, each repeat with its webhook-id unchanged', async () => {
    const env = { ...withoutEnvSources, DATABASE_URL: databaseUrl };
    const acknowledged = new Set<string>();
    const queue = Array.from({ length: burst }, (_, i) => `evt_fwd_${i}`);
    const sendAll = async (url: string, stopAt: () => boolean) =>
      Promise.all(
        Array.from({ length: 16 }, async () => {
          for (;;) {
            if (stopAt()) return;
            const id = queue.shift();
            if (id === undefined) return;
            const { status } = await deliver(url, secret, id);
            if (status === 200) acknowledged.add(id);
            else queue.push(id); // not acknowledged: the provider would send it again
          }
        }),
      );

    const first = await startServerProcess({ cwd, env });
    let killed = false;
    const firstBurst = sendAll(first.url, () => killed);
    await waitUntil(async () => acknowledged.size >= burst / 3, 30_000);
    await first.kill();
    killed = true;
    await firstBurst;
    const ackedBeforeKill = acknowledged.size;
    expect(ackedBeforeKill).toBeGreaterThan(0);

    const survivor = await startServerProcess({ cwd, env });
    try {
      await sendAll(survivor.url, () => false);
      expect(acknowledged.size).toBe(burst);
      const received = () =>
        new Set(app.requests.map((r) => (JSON.parse(r.body.toString()) as { id: string }).id));
      await waitUntil(async () => [...acknowledged].every((id) => received().has(id)), 60_000);
      store = openStore(databaseUrl);
      await waitUntil(async () => (await store!.countEvents({ status: 'processed' })) === burst, 30_000);
    } finally {
      await survivor.stop();
    }

    const verifier = new Webhook(signingSecret);
    const webhookIds = new Map<string, Set<string>>();
    for (const request of app.requests) {
      const { id } = JSON.parse(request.body.toString()) as { id: string };
      const ids = webhookIds.get(id) ?? new Set<string>();
      ids.add(String(request.headers['webhook-id']));
      webhookIds.set(id, ids);
      expect(() =>
        verifier.verify(request.body.toString(), request.headers as Record<string, string>),
      ).not.toThrow();
    }
    for (const dedupeKey of acknowledged) {
      const event = await store!.findEventByDedupeKey('stripe', dedupeKey);
      expect(event, `acknowledged ${dedupeKey} must be stored`).not.toBeNull();
      expect([...(webhookIds.get(dedupeKey) ?? [])], `webhook-ids of ${dedupeKey}`).toEqual([event!.id]);
    }
    // At least once: the kill may have cut deliveries whose response never got recorded.
    expect(app.requests.length).toBeGreaterThanOrEqual(burst);
  }, 120_000);
});
