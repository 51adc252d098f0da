import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openStore } from '../../src/store/open-store.ts';
import { deliver } from '../support/e2e-fixture.ts';
import { type PrivatePostgres, startPrivatePostgres } from '../support/private-postgres.ts';
import { type ServerProcess, startServerProcess, waitUntil } from '../support/processes.ts';

/** Times are performance.now(): monotonic, and fine enough that no delivery shares a boundary's millisecond. */
interface Delivery {
  id: string;
  status: number;
  start: number;
  end: number;
}

// PostgreSQL crashes (pg_ctl stop -m immediate) under load and comes back while the server keeps
// running: no 2xx while it is down, only 503s within a bounded time, /readyz says not ready,
// the same process recovers by itself, and nothing acknowledged is lost or handled twice.
// A private cluster: the shared PostgreSQL other tests use is never stopped.
describe('PostgreSQL outage under load', () => {
  let postgres: PrivatePostgres;
  let server: ServerProcess | undefined;
  let cwd: string;
  const secret = `whsec_${randomBytes(12).toString('hex')}`;

  beforeAll(async () => {
    postgres = await startPrivatePostgres();
    const client = new pg.Client({ connectionString: postgres.url });
    await client.connect();
    await client.query('CREATE TABLE effects (event_id text NOT NULL)');
    await client.end();
    cwd = mkdtempSync(join(tmpdir(), 'hookbox-outage-'));
    writeFileSync(
      join(cwd, 'hookbox.config.mjs'),
      `export default {
  sources: { stripe: { provider: 'stripe', secrets: [${JSON.stringify(secret)}] } },
  worker: { leaseMs: 1000, pollIntervalMs: 200 },
  retry: { baseDelayMs: 200, maxDelayMs: 1000, maxAttempts: 50 },
  handlers: {
    stripe: {
      '*': async ({ event, tx }) => {
        await tx.query('INSERT INTO effects (event_id) VALUES ($1)', [event.id]);
      },
    },
  },
};
`,
    );
  }, 90_000);
  afterAll(async () => {
    await server?.stop();
    await postgres?.destroy();
    rmSync(cwd, { recursive: true, force: true });
  });

  it('answers 503 while PostgreSQL is down, reports not ready, and recovers without a restart', async () => {
    server = await startServerProcess({ cwd, env: { DATABASE_URL: postgres.url } });
    const pid = server.process.pid;
    const url = server.url;
    const deliveries: Delivery[] = [];
    let next = 0;
    let sending = true;
    const senders = Array.from({ length: 6 }, async () => {
      while (sending) {
        const id = `evt_outage_${next++}`;
        const start = performance.now();
        const { status } = await deliver(url, secret, id);
        deliveries.push({ id, status, start, end: performance.now() });
        if (status !== 200) await new Promise((resolve) => setTimeout(resolve, 20));
      }
    });
    const readiness: { at: number; status: number; body: unknown }[] = [];
    let probing = true;
    const prober = (async () => {
      while (probing) {
        const at = performance.now();
        try {
          const response = await fetch(`${url}/readyz`, { signal: AbortSignal.timeout(10_000) });
          readiness.push({ at, status: response.status, body: await response.json() });
        } catch {
          readiness.push({ at, status: 0, body: null });
        }
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
    })();

    await new Promise((resolve) => setTimeout(resolve, 1500));
    const crashCalledAt = performance.now();
    await postgres.crash();
    const downAt = performance.now();
    await new Promise((resolve) => setTimeout(resolve, 3000));
    const restartCalledAt = performance.now();
    await postgres.start();
    const upAt = performance.now();
    // Keep the load on until deliveries are acknowledged again.
    const recovered = await waitUntil(async () => {
      if (server!.process.exitCode !== null)
        throw new Error(`the server exited:\n${server!.output.slice(-20).join('\n')}`);
      return deliveries.find((d) => d.start >= upAt && d.status === 200);
    }, 20_000);
    await new Promise((resolve) => setTimeout(resolve, 1000));
    sending = false;
    await Promise.all(senders);
    await waitUntil(async () => readiness.some((r) => r.at >= upAt && r.status === 200), 10_000);
    probing = false;
    await prober;

    // Only 200 or 503, ever; the server process was never replaced.
    expect(new Set(deliveries.map((d) => d.status))).toEqual(new Set([200, 503]));
    expect(server.process.exitCode).toBeNull();
    expect(server.process.pid).toBe(pid);

    // While PostgreSQL was down: every delivery got 503, quickly.
    const duringOutage = deliveries.filter((d) => d.start >= downAt && d.end <= restartCalledAt);
    expect(duringOutage.length).toBeGreaterThan(10);
    expect(duringOutage.every((d) => d.status === 503)).toBe(true);
    const slowest = Math.max(...duringOutage.map((d) => d.end - d.start));
    expect(slowest, 'a 503 must come within the connection timeout').toBeLessThan(6_000);

    // /readyz said not ready during the outage and ready again after it.
    const notReady = readiness.filter((r) => r.at >= downAt && r.at + 1000 <= restartCalledAt);
    expect(notReady.length).toBeGreaterThan(0);
    expect(notReady.every((r) => r.status === 503)).toBe(true);
    expect(notReady[0]!.body).toMatchObject({ status: 'not_ready' });
    expect(readiness.at(-1)!.status).toBe(200);
    expect(recovered.end - upAt, 'recovery after PostgreSQL is back').toBeLessThan(15_000);

    // Every acknowledged delivery is stored and reaches processed; each effect exists once.
    const acknowledged = deliveries.filter((d) => d.status === 200);
    expect(acknowledged.filter((d) => d.end < crashCalledAt).length).toBeGreaterThan(10);
    const store = openStore(postgres.url);
    try {
      await waitUntil(
        async () => (await store.countEvents({ status: ['pending', 'processing', 'failed'] })) === 0,
        40_000,
      );
      for (const delivery of acknowledged) {
        const event = await store.findEventByDedupeKey('stripe', delivery.id);
        expect(event, `acknowledged ${delivery.id} must be stored`).not.toBeNull();
        expect(event!.status).toBe('processed');
      }
      expect(await store.countEvents({ status: ['dead', 'ignored'] })).toBe(0);
    } finally {
      await store.close();
    }
    const client = new pg.Client({ connectionString: postgres.url });
    await client.connect();
    try {
      const effects = await client.query<{ event_id: string; n: string }>(
        'SELECT event_id, count(*) AS n FROM effects GROUP BY event_id',
      );
      const processed = await client.query<{ n: string }>(
        "SELECT count(*) AS n FROM events WHERE status = 'processed'",
      );
      expect(effects.rows.length).toBe(Number(processed.rows[0]!.n));
      expect(effects.rows.filter((r) => Number(r.n) !== 1)).toEqual([]);
      // The worker's LISTEN connection came back too (wake-ups, not only polling).
      await waitUntil(async () => {
        const { rows } = await client.query<{ n: string }>(
          "SELECT count(*) AS n FROM pg_stat_activity WHERE query ILIKE 'LISTEN %'",
        );
        return Number(rows[0]!.n) >= 1;
      }, 40_000);
    } finally {
      await client.end();
    }
    process.stdout.write(
      `postgres outage: ${deliveries.length} deliveries, ${acknowledged.length} acknowledged, ${duringOutage.length} answered 503 during the outage (slowest ${Math.round(slowest)} ms), recovered ${Math.round(recovered.end - upAt)} ms after restart\n`,
    );
  }, 120_000);
});
