/**
 * A paced load generator for the latency scenario: one delivery every 1/rate s on a fixed
 * schedule (open loop: a slow answer does not delay the next send), each stamped with the
 * wall time it left (`x-bench-sent-at`), so the server can time delivery -> handler start.
 * autocannon's rate limit sends each second's quota in a burst at the top of the second,
 * which is not a steady rate; hence this client.
 *
 * Usage: node --import tsx bench/load/paced-load.ts '<PacedLoadOptions as JSON>'
 */
import { writeFileSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { benchEventId, benchSecret, createBodyFactory, signStripe } from '../lib/deliveries.ts';
import { type Percentiles, percentiles } from '../lib/stats.ts';

export interface PacedLoadOptions {
  url: string;
  /** Deliveries per second. */
  rate: number;
  durationSec: number;
  /** Unmeasured deliveries first (not stamped, so the server does not time them), seconds. */
  warmupSec: number;
  /** Sockets at most. */
  connections: number;
  repeatEvery: number;
  runTag: string;
  outFile: string;
}

export interface PacedLoadResult {
  sent: number;
  ok: number;
  failed: number;
  /** Unique event ids answered 2xx. */
  acked: string[];
  /** Answered 2xx as new (not duplicate) in the measured phase: the handler starts to expect. */
  measuredNew: number;
  /** HTTP latency from the scheduled send time, ms. */
  httpLatencyMs: Percentiles;
  achievedRate: number;
  cpuSeconds: number;
}

const options = JSON.parse(process.argv[2] ?? '{}') as PacedLoadOptions;
const target = new URL(options.url);
if (target.hostname !== '127.0.0.1') throw new Error(`load only targets 127.0.0.1, not ${target.hostname}`);

const agent = new Agent({ keepAlive: true, maxSockets: options.connections });
const bodyOf = createBodyFactory();
const wallNow = () => performance.timeOrigin + performance.now();
const acked = new Set<string>();
const latencies: number[] = [];
const recent: string[] = [];
let fresh = 0;
let sent = 0;
let ok = 0;
let failed = 0;
let measuredNew = 0;

function send(scheduledAt: number, measured: boolean): Promise<void> {
  sent++;
  let eventId: string;
  if (options.repeatEvery > 0 && sent % options.repeatEvery === 0 && recent.length > 0) {
    eventId = recent[sent % recent.length]!;
  } else {
    eventId = benchEventId(options.runTag, fresh++);
    recent.push(eventId);
    if (recent.length > 1000) recent.shift();
  }
  const body = bodyOf(eventId);
  const headers: Record<string, string | number> = {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(body),
    'stripe-signature': signStripe(body, benchSecret, Math.floor(Date.now() / 1000)),
  };
  if (measured) headers['x-bench-sent-at'] = wallNow().toFixed(3);
  return new Promise((resolve) => {
    const req = request(
      {
        agent,
        host: '127.0.0.1',
        port: target.port,
        path: target.pathname,
        method: 'POST',
        headers,
        timeout: 10_000,
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          text += chunk;
        });
        res.on('end', () => {
          if (measured) latencies.push(performance.now() - scheduledAt);
          if (res.statusCode === 200) {
            ok++;
            acked.add(eventId);
            if (measured && !(JSON.parse(text) as { duplicate?: boolean }).duplicate) measuredNew++;
          } else failed++;
          resolve();
        });
      },
    );
    req.on('error', () => {
      failed++;
      resolve();
    });
    req.on('timeout', () => req.destroy());
    req.end(body);
  });
}

async function run(): Promise<void> {
  const interval = 1000 / options.rate;
  const warmupCount = Math.round(options.warmupSec * options.rate);
  const total = warmupCount + Math.round(options.durationSec * options.rate);
  const inFlight: Promise<void>[] = [];
  const start = performance.now();
  let measuredStart = 0;
  for (let i = 0; i < total; i++) {
    const due = start + i * interval;
    const wait = due - performance.now();
    // Timers are not finer than a millisecond: sleep until due, then send everything due.
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    if (i === warmupCount) measuredStart = performance.now();
    inFlight.push(send(due, i >= warmupCount));
  }
  const measuredEnd = performance.now();
  await Promise.all(inFlight);
  agent.destroy();
  const result: PacedLoadResult = {
    sent,
    ok,
    failed,
    acked: [...acked],
    measuredNew,
    httpLatencyMs: percentiles(latencies),
    achievedRate: ((total - warmupCount) / (measuredEnd - measuredStart)) * 1000,
    cpuSeconds: (process.cpuUsage().user + process.cpuUsage().system) / 1e6,
  };
  writeFileSync(options.outFile, JSON.stringify(result));
}

run().then(
  () => process.exit(0),
  (error) => {
    process.stderr.write(`paced load failed: ${(error as Error).stack ?? error}\n`);
    process.exit(1);
  },
);
