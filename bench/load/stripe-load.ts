/**
 * The load generator: a separate process that posts signed Stripe deliveries (~2 KB, a share
 * of them repeats of earlier event ids, re-signed as Stripe re-signs its retries) to one
 * server over loopback with autocannon, and records which event ids were acknowledged.
 *
 * Usage: node --import tsx bench/load/stripe-load.ts '<LoadOptions as JSON>'
 * Writes a LoadResult as JSON to `outFile`.
 */
import { writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { benchEventId, benchSecret, createBodyFactory, signStripe } from '../lib/deliveries.ts';

export interface LoadOptions {
  url: string;
  /** Several servers (same path) sharing the connections; `url` is then ignored. */
  urls?: string[];
  connections: number;
  /** Measured phase, seconds. */
  durationSec: number;
  /** Unmeasured phase before it (JIT, connection pools, caches), seconds; 0 for none. */
  warmupSec: number;
  /** Requests per second over all connections; unlimited when absent. */
  rate?: number;
  /** Hard bound on requests per phase. */
  maxRequests: number;
  /** Every n-th delivery repeats an earlier event id (10 = 10%); 0 for none. */
  repeatEvery: number;
  runTag: string;
  /** Send `x-bench-seq: <n>` so a server can time one delivery end to end. */
  seqHeader?: boolean;
  /** Keep the ids answered 2xx, for the count check against the store. */
  recordAcks: boolean;
  outFile: string;
}

export interface PhaseResult {
  durationSec: number;
  completed: number;
  ok: number;
  non2xx: number;
  errors: number;
  timeouts: number;
  rps: number;
  latencyMs: { mean: number; p50: number; p90: number; p99: number; max: number };
  statusCodes: Record<string, number>;
}

export interface LoadResult {
  warmup: PhaseResult | null;
  measured: PhaseResult;
  /** Event ids answered 2xx in either phase (unique). */
  acked: string[];
  /** Deliveries answered 2xx, repeats included. */
  ackedDeliveries: number;
  sent: number;
  repeatsSent: number;
  /** CPU seconds this load generator used (user + system), start-up included. */
  cpuSeconds: number;
}

interface AutocannonRequest {
  method?: string;
  path?: string;
  headers?: Record<string, string>;
  body?: string | Buffer;
}
interface AutocannonContext {
  eventId?: string;
}
interface AutocannonResult {
  duration: number;
  errors: number;
  timeouts: number;
  non2xx: number;
  '2xx': number;
  latency: { mean: number; p50: number; p90: number; p99: number; max: number };
  statusCodeStats: Record<string, { count: number }>;
}
type Autocannon = (options: Record<string, unknown>) => Promise<AutocannonResult> & { stop(): void };

const require = createRequire(import.meta.url);
const autocannon = require('autocannon') as Autocannon;

async function main(): Promise<void> {
  const options = JSON.parse(process.argv[2] ?? '{}') as LoadOptions;
  const targets = (options.urls ?? [options.url]).map((url) => new URL(url));
  for (const t of targets) {
    if (t.hostname !== '127.0.0.1') throw new Error(`load only targets 127.0.0.1, not ${t.hostname}`);
  }
  const target = targets[0]!;

  const bodyOf = createBodyFactory();
  // A small deterministic generator: the same run sends the same sequence.
  let seed = 0x9e3779b9;
  const random = () => {
    seed ^= seed << 13;
    seed ^= seed >>> 17;
    seed ^= seed << 5;
    return (seed >>> 0) / 2 ** 32;
  };
  const recentIds: string[] = [];
  let sent = 0;
  let fresh = 0;
  let repeatsSent = 0;
  const acked = new Set<string>();
  let ackedDeliveries = 0;

  const setupRequest = (request: AutocannonRequest, context: AutocannonContext) => {
    sent++;
    let eventId: string;
    if (options.repeatEvery > 0 && sent % options.repeatEvery === 0 && recentIds.length > 0) {
      // A provider retrying: an id sent recently (possibly still in flight, so repeats also land
      // in the same group-commit batch as their original).
      eventId = recentIds[Math.floor(random() * recentIds.length)]!;
      repeatsSent++;
    } else {
      eventId = benchEventId(options.runTag, fresh++);
      recentIds.push(eventId);
      if (recentIds.length > 1000) recentIds.shift();
    }
    const body = bodyOf(eventId);
    const headers: Record<string, string> = {
      'content-type': 'application/json; charset=utf-8',
      'user-agent': 'Stripe/1.0 (+https://stripe.com/docs/webhooks)',
      'stripe-signature': signStripe(body, benchSecret, Math.floor(Date.now() / 1000)),
    };
    if (options.seqHeader) headers['x-bench-seq'] = String(sent);
    context.eventId = eventId;
    request.method = 'POST';
    request.path = target.pathname;
    request.headers = headers;
    request.body = body;
    return request;
  };
  const onResponse = (status: number, _body: string, context: AutocannonContext) => {
    if (status >= 200 && status < 300) {
      ackedDeliveries++;
      if (options.recordAcks && context.eventId) acked.add(context.eventId);
    }
  };

  async function phase(durationSec: number): Promise<PhaseResult> {
    const result = await autocannon({
      url:
        targets.length === 1
          ? `${target.origin}${target.pathname}`
          : targets.map((t) => `${t.origin}${t.pathname}`),
      connections: options.connections,
      duration: durationSec,
      maxOverallRequests: Math.max(options.maxRequests, options.connections),
      overallRate: options.rate,
      timeout: 10,
      requests: [{ setupRequest, onResponse }],
    });
    const completed = result['2xx'] + result.non2xx;
    const statusCodes: Record<string, number> = {};
    for (const [code, stat] of Object.entries(result.statusCodeStats ?? {})) statusCodes[code] = stat.count;
    return {
      durationSec: result.duration,
      completed,
      ok: result['2xx'],
      non2xx: result.non2xx,
      errors: result.errors,
      timeouts: result.timeouts,
      rps: completed / result.duration,
      latencyMs: {
        mean: result.latency.mean,
        p50: result.latency.p50,
        p90: result.latency.p90,
        p99: result.latency.p99,
        max: result.latency.max,
      },
      statusCodes,
    };
  }

  const warmup = options.warmupSec > 0 ? await phase(options.warmupSec) : null;
  const measured = await phase(options.durationSec);
  const cpu = process.cpuUsage();
  const result: LoadResult = {
    warmup,
    measured,
    acked: [...acked],
    ackedDeliveries,
    sent,
    repeatsSent,
    cpuSeconds: (cpu.user + cpu.system) / 1e6,
  };
  writeFileSync(options.outFile, JSON.stringify(result));
}

main().then(
  () => process.exit(0),
  (error) => {
    process.stderr.write(`load generator failed: ${(error as Error).stack ?? error}\n`);
    process.exit(1);
  },
);
