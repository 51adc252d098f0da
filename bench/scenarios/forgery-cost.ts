/**
 * What a forged delivery costs beside a genuine one of the same size (issue 11, item 4): an
 * unauthenticated sender must not be able to make Hookbox spend more CPU per request than a
 * provider does. Both go through the real receive route (`hookbox.fetch`, no socket) of one
 * Hookbox on a SQLite file in this process, so the CPU of verifying, parsing, committing and
 * answering is all counted by process.cpuUsage().
 *
 *   node --import tsx bench/scenarios/forgery-cost.ts            sizes 1 KiB .. 1 MiB
 *   node --import tsx bench/scenarios/forgery-cost.ts --quick    fewer requests per size
 *   node --import tsx bench/scenarios/forgery-cost.ts --json     the results as JSON
 */
import { createHmac } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { createHookbox } from '../../src/hookbox.ts';

const secret = 'whsec_forgery_cost_bench_secret';
const forgedWith = 'whsec_not_the_configured_secret';

export interface ForgeryCostRow {
  bodyBytes: number;
  requests: number;
  /** CPU milliseconds per request (user + system) for a genuine, stored delivery. */
  genuineCpuMs: number;
  /** The same for a forged one of the same size, answered 401. */
  forgedCpuMs: number;
  /** forged / genuine: at most 1 is the goal. */
  ratio: number;
  /** The reason the forgeries got (signature_mismatch unless a diagnosis ran). */
  forgedCode: string;
}

export interface ForgeryCostResult {
  rows: ForgeryCostRow[];
}

/**
 * A Stripe event padded to about `bytes` with line items, pretty-printed as Stripe sends it:
 * many small objects, which is what JSON parsing and re-serialization spend their time on.
 */
function eventBody(id: string, bytes: number): string {
  const item = (n: number) => ({ id: `li_${n}`, object: 'line_item', amount: 1000 + n, currency: 'usd' });
  const build = (count: number) =>
    JSON.stringify(
      {
        id,
        object: 'event',
        type: 'invoice.paid',
        data: { object: { lines: Array.from({ length: count }, (_, n) => item(n)) } },
      },
      null,
      2,
    );
  const empty = build(0).length;
  const perItem = build(100).length / 100 - empty / 100;
  return build(Math.max(0, Math.floor((bytes - empty) / perItem)));
}

function signature(body: string, key: string, at: number): string {
  const t = Math.floor(at / 1000);
  return `t=${t},v1=${createHmac('sha256', key).update(`${t}.${body}`).digest('hex')}`;
}

function cpuMs(): number {
  const usage = process.cpuUsage();
  return (usage.user + usage.system) / 1000;
}

export async function runForgeryCost(
  options: { sizes?: number[]; requests?: (bytes: number) => number } = {},
): Promise<ForgeryCostResult> {
  const sizes = options.sizes ?? [1024, 16 * 1024, 64 * 1024, 256 * 1024, 1000 * 1024];
  const requestsFor = options.requests ?? ((bytes: number) => Math.max(20, Math.min(400, (4 << 20) / bytes)));
  const dir = await mkdtemp(join(tmpdir(), 'hookbox-forgery-cost-'));
  const hookbox = createHookbox({
    store: `file:${join(dir, 'hookbox.db')}`,
    sources: { stripe: { provider: 'stripe', secrets: [secret], maxBodyBytes: 2 * 1024 * 1024 } },
    worker: { enabled: false },
  });
  await hookbox.start();
  const post = async (body: string, stripeSignature: string) => {
    const response = await hookbox.fetch(
      new Request('http://hookbox.bench/webhooks/stripe', {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'stripe-signature': stripeSignature },
        body,
      }),
    );
    return { status: response.status, json: (await response.json()) as { error?: { code: string } } };
  };

  const rows: ForgeryCostRow[] = [];
  try {
    for (const bytes of sizes) {
      const requests = Math.round(requestsFor(bytes));
      // Bodies are built before the clock starts; each genuine one has its own id, so each is stored.
      const genuine = Array.from({ length: requests }, (_, n) => eventBody(`evt_${bytes}_${n}`, bytes));
      const forged = Array.from({ length: requests }, (_, n) => eventBody(`evt_forged_${bytes}_${n}`, bytes));
      const now = Date.now();
      const genuineSignatures = genuine.map((body) => signature(body, secret, now));
      const forgedSignatures = forged.map((body) => signature(body, forgedWith, now));
      // Warm up both paths (JIT, caches) on bodies of this size.
      await post(genuine[0]!, genuineSignatures[0]!);
      let forgedCode = (await post(forged[0]!, forgedSignatures[0]!)).json.error?.code ?? 'accepted?';

      let started = cpuMs();
      for (let n = 1; n < requests; n++) {
        const answer = await post(genuine[n]!, genuineSignatures[n]!);
        if (answer.status !== 200) throw new Error(`a genuine delivery got ${answer.status}`);
      }
      const genuineCpuMs = (cpuMs() - started) / (requests - 1);

      started = cpuMs();
      for (let n = 1; n < requests; n++) {
        const answer = await post(forged[n]!, forgedSignatures[n]!);
        if (answer.status !== 401) throw new Error(`a forged delivery got ${answer.status}`);
        forgedCode = answer.json.error?.code ?? forgedCode;
      }
      const forgedCpuMs = (cpuMs() - started) / (requests - 1);
      rows.push({
        bodyBytes: Buffer.byteLength(genuine[0]!),
        requests,
        genuineCpuMs: round(genuineCpuMs),
        forgedCpuMs: round(forgedCpuMs),
        ratio: round(forgedCpuMs / genuineCpuMs),
        forgedCode,
      });
    }
  } finally {
    await hookbox.stop();
    await rm(dir, { recursive: true, force: true });
  }
  return { rows };
}

function round(value: number): number {
  return Math.round(value * 1000) / 1000;
}

export function formatForgeryCost(result: ForgeryCostResult): string {
  const lines = ['body bytes  requests  genuine CPU ms  forged CPU ms  forged/genuine  forged answer'];
  for (const row of result.rows) {
    lines.push(
      [
        String(row.bodyBytes).padStart(10),
        String(row.requests).padStart(9),
        row.genuineCpuMs.toFixed(3).padStart(15),
        row.forgedCpuMs.toFixed(3).padStart(14),
        row.ratio.toFixed(2).padStart(15),
        `  ${row.forgedCode}`,
      ].join(' '),
    );
  }
  return lines.join('\n');
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const quick = process.argv.includes('--quick');
  const result = await runForgeryCost(
    quick ? { requests: (bytes) => Math.max(10, Math.min(100, (1 << 20) / bytes)) } : {},
  );
  process.stdout.write(
    process.argv.includes('--json') ? `${JSON.stringify(result)}\n` : `${formatForgeryCost(result)}\n`,
  );
}
