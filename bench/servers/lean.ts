/**
 * The lean reference: the least a receiver with Hookbox's durability can do, in one short file.
 * node:http, the Stripe HMAC check, JSON.parse for the id and type, and group commit (every
 * request read in one event-loop turn goes into one transaction, each answered after its
 * commit) into a narrow `events` row (unique (source, dedupe_key), one partial index) plus a
 * write-once body table. SQLite in WAL with synchronous=FULL; PostgreSQL with its defaults.
 * No handlers, no worker, no admission checks: the bench shows how far Hookbox is from this.
 */
import { createHmac, randomUUID, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import Database from 'better-sqlite3';
import pg from 'pg';
import { benchSecret } from '../lib/deliveries.ts';
import type { StoreTarget } from '../lib/targets.ts';
import { announceReady, readConfig, serveParent } from './child.ts';

const { target } = readConfig<{ target: StoreTarget }>();
const secret = Buffer.from(benchSecret);
interface Row {
  id: string;
  key: string;
  type: string;
  headers: string;
  body: Buffer;
  done: (ok: boolean) => void;
}
const schema = (blob: string) => `
  CREATE TABLE IF NOT EXISTS events (id text PRIMARY KEY, source text NOT NULL, dedupe_key text NOT NULL,
    event_type text NOT NULL, status text NOT NULL, received_at bigint NOT NULL, delivery_count integer NOT NULL,
    UNIQUE (source, dedupe_key));
  CREATE INDEX IF NOT EXISTS events_pending ON events (received_at) WHERE status = 'pending';
  CREATE TABLE IF NOT EXISTS event_bodies (event_id text PRIMARY KEY, headers text NOT NULL, body ${blob} NOT NULL);`;
const upsert = `INSERT INTO events % ON CONFLICT (source, dedupe_key) DO UPDATE SET delivery_count = events.delivery_count + 1 RETURNING id`;

let commit: (rows: Row[]) => Promise<unknown>;
let closeStore: () => Promise<void>;
if (target.engine === 'sqlite') {
  const db = new Database(target.path);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = FULL');
  db.exec(schema('blob'));
  const event = db.prepare(upsert.replace('%', `VALUES (?, 'stripe', ?, ?, 'pending', ?, 1)`)).pluck();
  const body = db.prepare('INSERT INTO event_bodies VALUES (?, ?, ?)');
  const write = db.transaction((rows: Row[]) =>
    rows.map((r) => {
      const id = event.get(r.id, r.key, r.type, Date.now()) as string;
      if (id === r.id) body.run(r.id, r.headers, r.body);
      return id;
    }),
  );
  commit = async (rows) => write.immediate(rows);
  closeStore = async () => void db.close();
} else {
  const pool = new pg.Pool({
    connectionString: target.connectionString,
    options: `-c search_path=${target.schema}`,
    max: 2,
  });
  await pool.query(schema('bytea'));
  // One statement per batch: the upsert, and the body rows of the events it created.
  const text = `WITH i AS (SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::bytea[]) AS i (id, k, t, h, b)),
    e AS (${upsert.replace('%', `SELECT id, 'stripe', k, t, 'pending', $6::bigint, 1 FROM i`)})
    INSERT INTO event_bodies SELECT i.id, i.h, i.b FROM i JOIN e ON e.id = i.id`;
  commit = async (rows) => {
    const values = [
      rows.map((r) => r.id),
      rows.map((r) => r.key),
      rows.map((r) => r.type),
      rows.map((r) => r.headers),
      rows.map((r) => r.body),
      Date.now(),
    ];
    await pool.query({ name: 'lean', text, values });
    return rows.map((r) => r.id);
  };
  closeStore = () => pool.end();
}

let queue: Row[] = [];
let committing = false;
let reportedFailure = false;
function flush(): void {
  if (committing || queue.length === 0) return;
  const rows = queue;
  queue = [];
  committing = true;
  // A provider's retry can land in the same batch as its first copy: one row per key goes in.
  const firsts = new Map<string, Row>();
  for (const row of rows) if (!firsts.has(row.key)) firsts.set(row.key, row);
  const answerAll = (ok: boolean) => {
    for (const row of rows) row.done(ok);
  };
  commit([...firsts.values()])
    .then(
      () => answerAll(true),
      (error: Error) => {
        // Said once: a reference that cannot commit would otherwise only show as 503s.
        if (!reportedFailure) process.stderr.write(`lean reference: commit failed: ${error.message}\n`);
        reportedFailure = true;
        answerAll(false);
      },
    )
    .finally(() => {
      committing = false;
      setImmediate(flush);
    });
}

function verify(header: string | undefined, body: Buffer): boolean {
  const t = /(?:^|,)t=(\d+)/.exec(header ?? '')?.[1];
  const v1 = /(?:^|,)v1=([0-9a-f]{64})/.exec(header ?? '')?.[1];
  if (!t || !v1 || Math.abs(Date.now() / 1000 - Number(t)) > 300) return false;
  const mac = createHmac('sha256', secret).update(`${t}.`).update(body).digest();
  return timingSafeEqual(mac, Buffer.from(v1, 'hex'));
}

function answer(response: ServerResponse, status: number, body: object): void {
  const text = JSON.stringify(body);
  response.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
  });
  response.end(text);
}

const server = createServer((request: IncomingMessage, response: ServerResponse) => {
  const chunks: Buffer[] = [];
  request.on('data', (chunk: Buffer) => chunks.push(chunk));
  request.on('end', () => {
    const body = Buffer.concat(chunks);
    if (!verify(request.headers['stripe-signature'] as string | undefined, body))
      return answer(response, 401, { error: 'signature' });
    const event = JSON.parse(body.toString('utf8')) as { id: string; type: string };
    const { 'stripe-signature': _signature, ...headers } = request.headers;
    const id = randomUUID();
    queue.push({
      id,
      key: event.id,
      type: event.type,
      headers: JSON.stringify(headers),
      body,
      done: (ok) =>
        ok ? answer(response, 200, { received: true, id }) : answer(response, 503, { error: 'store' }),
    });
    if (queue.length === 1) setImmediate(flush);
  });
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
