/**
 * The naive receiver of the original design: the same Stripe verification as Hookbox, then
 * one INSERT committed per request, then 200. Same engine and durability settings, and the
 * original design's table (one wide row with the body, its indexes: Hookbox's migrations 001
 * and 002, created here); what it lacks is group commit and the narrow row.
 */
import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import Database from 'better-sqlite3';
import pg from 'pg';
import { createEventId } from '../../src/ids.ts';
import { getProvider } from '../../src/providers/registry.ts';
import { readMigrations } from '../../src/store/migrate.ts';
import { benchSecret } from '../lib/deliveries.ts';
import type { StoreTarget } from '../lib/targets.ts';
import { announceReady, readConfig, serveParent } from './child.ts';

export interface NaiveServerConfig {
  target: StoreTarget;
  /** PostgreSQL connections (one INSERT per request each); default 20. */
  poolSize?: number;
}

const config = readConfig<NaiveServerConfig>();
const engineFolder = config.target.engine === 'sqlite' ? 'sqlite' : 'postgres';
const originalSchema = readMigrations(new URL(`../../src/store/${engineFolder}/migrations/`, import.meta.url))
  .filter((m) => m.version <= 2)
  .map((m) => m.sql);
const stripe = getProvider('stripe');
const settings = stripe.parseSettings({ secrets: [benchSecret] });

const insertSql = `
INSERT INTO events (
  id, source, provider, dedupe_key, event_type, status, attempts, next_attempt_at,
  received_at, delivery_count, last_delivery_at, headers, body, body_sha256, updated_at
) VALUES (%s)
ON CONFLICT (source, dedupe_key) DO UPDATE SET
  delivery_count = events.delivery_count + 1,
  last_delivery_at = excluded.last_delivery_at,
  updated_at = excluded.updated_at
RETURNING id`;

type Insert = (row: {
  id: string;
  dedupeKey: string;
  eventType: string;
  headers: string;
  body: Buffer;
  sha: string;
  now: number;
}) => Promise<string>;

let insert: Insert;
let closeStore: () => Promise<void>;
if (config.target.engine === 'sqlite') {
  const db = new Database(config.target.path);
  db.pragma('busy_timeout = 5000');
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = FULL');
  for (const sql of originalSchema) db.exec(sql);
  const statement = db.prepare(
    insertSql.replace(
      '%s',
      `@id, 'stripe', 'stripe', @dedupeKey, @eventType, 'pending', 0, @now, @now, 1, @now, @headers, @body, @sha, @now`,
    ),
  );
  // Autocommit: every request is its own transaction, fsynced before the answer.
  insert = async (row) => (statement.get(row) as { id: string }).id;
  closeStore = async () => {
    db.close();
  };
} else {
  const pool = new pg.Pool({
    connectionString: config.target.connectionString,
    options: `-c search_path=${config.target.schema}`,
    max: config.poolSize ?? 20,
  });
  for (const sql of originalSchema) await pool.query(sql);
  const text = insertSql.replace(
    '%s',
    `$1, 'stripe', 'stripe', $2, $3, 'pending', 0, $4, $4, 1, $4, $5::jsonb, $6, $7, $4`,
  );
  insert = async (row) => {
    const result = await pool.query({
      name: 'naive_insert',
      text,
      values: [row.id, row.dedupeKey, row.eventType, new Date(row.now), row.headers, row.body, row.sha],
    });
    return (result.rows[0] as { id: string }).id;
  };
  closeStore = () => pool.end();
}

function readBody(request: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => resolve(Buffer.concat(chunks)));
    request.on('error', reject);
  });
}

function answer(response: import('node:http').ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  response.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
  });
  response.end(text);
}

const server = createServer(async (request, response) => {
  try {
    const body = await readBody(request);
    const headers = new Headers();
    for (const [name, value] of Object.entries(request.headers)) {
      if (typeof value === 'string') headers.set(name, value);
    }
    const now = Date.now();
    const verification = await stripe.verify(
      { body, headers, url: `http://127.0.0.1${request.url}`, now },
      settings,
    );
    if (!verification.ok) return answer(response, 401, { error: { code: verification.code } });
    const kept: Record<string, string> = {};
    headers.forEach((value, name) => {
      if (name !== 'stripe-signature') kept[name] = value;
    });
    const id = await insert({
      id: createEventId(now),
      dedupeKey: verification.dedupeKey,
      eventType: verification.eventType,
      headers: JSON.stringify(kept),
      body,
      sha: createHash('sha256').update(body).digest('hex'),
      now,
    });
    answer(response, 200, { received: true, id });
  } catch {
    answer(response, 503, { error: { code: 'store_unavailable' } });
  }
});
server.keepAliveTimeout = 5_000;
server.listen(0, '127.0.0.1', () => announceReady((server.address() as AddressInfo).port));
serveParent({
  close: async () => {
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
    await closeStore();
  },
});
