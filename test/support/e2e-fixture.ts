import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { openStore } from '../../src/store/open-store.ts';
import type { Store } from '../../src/store/types.ts';
import { postgresProcessUrl } from './stores.ts';
import { signStripe, stripeEventBody } from './stripe.ts';

export const postgresUrl = process.env.DATABASE_URL?.startsWith('postgres')
  ? process.env.DATABASE_URL
  : 'postgresql://postgres@127.0.0.1:5432/test';

/**
 * A folder with a hookbox.config.mjs whose handler logs `start`/`end` lines per run (and, on
 * PostgreSQL, writes an effect through the event's transaction), plus the DATABASE_URL that
 * every process of one test shares.
 */
export interface E2eFixture {
  cwd: string;
  databaseUrl: string;
  secret: string;
  runLog: string;
  openStore(): Store;
  /** Runs of the handler per event id, in log order. */
  readRuns(): Map<string, { pid: number; start: number; end: number | null }[]>;
  cleanup(): Promise<void>;
}

export async function createE2eFixture(
  engine: 'sqlite' | 'postgres',
  options: { handlerDelayMs?: number; leaseMs?: number } = {},
): Promise<E2eFixture> {
  const cwd = mkdtempSync(join(tmpdir(), `hookbox-e2e-${engine}-`));
  const secret = `whsec_${randomBytes(12).toString('hex')}`;
  const runLog = join(cwd, 'runs.log');
  let databaseUrl = `file:${join(cwd, 'hookbox.db')}`;
  let schema: string | null = null;
  if (engine === 'postgres') {
    schema = `hb_e2e_${randomBytes(5).toString('hex')}`;
    const client = new pg.Client({ connectionString: postgresUrl });
    await client.connect();
    await client.query(`CREATE SCHEMA ${schema}; CREATE TABLE ${schema}.effects (event_id text NOT NULL)`);
    await client.end();
    databaseUrl = postgresProcessUrl(schema);
  }
  writeFileSync(
    join(cwd, 'hookbox.config.mjs'),
    `import { appendFileSync } from 'node:fs';
export default {
  sources: { stripe: { provider: 'stripe', secrets: [${JSON.stringify(secret)}] } },
  worker: { leaseMs: ${options.leaseMs ?? 1000}, pollIntervalMs: 200 },
  // A killed worker's events wait their backoff once reclaimed: keep it short so recovery fits the test.
  retry: { maxAttempts: 10, baseDelayMs: 200, maxDelayMs: 1000 },
  handlers: {
    stripe: {
      '*': async ({ event, tx }) => {
        appendFileSync(${JSON.stringify(runLog)}, 'start ' + event.id + ' ' + process.pid + ' ' + Date.now() + '\\n');
        await new Promise((resolve) => setTimeout(resolve, ${options.handlerDelayMs ?? 20}));
        if (tx) await tx.query('INSERT INTO effects (event_id) VALUES ($1)', [event.id]);
        appendFileSync(${JSON.stringify(runLog)}, 'end ' + event.id + ' ' + process.pid + ' ' + Date.now() + '\\n');
      },
    },
  },
};
`,
  );
  writeFileSync(runLog, '');
  return {
    cwd,
    databaseUrl,
    secret,
    runLog,
    openStore: () => openStore(databaseUrl),
    readRuns() {
      const runs = new Map<string, { pid: number; start: number; end: number | null }[]>();
      for (const line of readFileSync(runLog, 'utf8').split('\n')) {
        const [kind, id, pid, at] = line.split(' ');
        if (!kind || !id) continue;
        const list = runs.get(id) ?? [];
        if (kind === 'start') list.push({ pid: Number(pid), start: Number(at), end: null });
        else {
          const open = list.find((r) => r.pid === Number(pid) && r.end === null);
          if (open) open.end = Number(at);
        }
        runs.set(id, list);
      }
      return runs;
    },
    async cleanup() {
      if (schema) {
        const client = new pg.Client({ connectionString: postgresUrl });
        await client.connect();
        await client.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
        await client.end();
      }
      rmSync(cwd, { recursive: true, force: true });
    },
  };
}

/** POST one signed Stripe delivery; resolves to the HTTP status, or 0 when the connection failed. */
export async function deliver(
  url: string,
  secret: string,
  eventId: string,
): Promise<{ status: number; body: unknown }> {
  const body = stripeEventBody(eventId);
  try {
    const response = await fetch(`${url}/webhooks/stripe`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'stripe-signature': signStripe(body, secret, Math.floor(Date.now() / 1000)),
      },
      body,
      signal: AbortSignal.timeout(10_000),
    });
    return { status: response.status, body: await response.json().catch(() => null) };
  } catch {
    return { status: 0, body: null };
  }
}
