/**
 * What each optional index on the hot tables costs an event's life: record (claimed at ingest)
 * and finish (processed, with its attempts row), in 50-event batches through the real store
 * adapter, once with every index and once with one index dropped, rounds interleaved so a change
 * in background load hits both alike. The primary keys and the unique (source, dedupe_key) are
 * not optional (they are the dedupe and every lookup) and are not measured here.
 *
 *   node --import tsx bench/scenarios/index-cost.ts [--quick] [--engine sqlite|postgres]
 */
import { createHash } from 'node:crypto';
import Database from 'better-sqlite3';
import { createEventId } from '../../src/ids.ts';
import type { Store } from '../../src/store/types.ts';
import {
  dropTargets,
  type Engine,
  newTarget,
  openTargetStore,
  prepareTarget,
  queryPostgres,
} from '../lib/targets.ts';

/** The optional indexes of migration 003, each with the query it serves. */
export const optionalIndexes = [
  { name: 'events_claimable', serves: 'claims of due pending/failed events' },
  { name: 'events_held', serves: 'lease renewal, reclaim, held and stuck counts' },
  { name: 'events_dead', serves: 'the dead-letter list and count' },
  { name: 'attempts_event_id', serves: "an event's attempts (detail page, deletes)" },
  { name: 'attempts_finished_at', serves: 'monitoring windows and the time series' },
] as const;

export interface IndexCost {
  index: string;
  serves: string;
  /** Wall time per event (record + finish) with every index, and without this one, µs. */
  withMicros: number;
  withoutMicros: number;
  /** What the index costs per event, µs (negative: within noise). */
  costMicros: number;
}

const body = Buffer.alloc(2048, 0x7b);
const sha = createHash('sha256').update(body).digest('hex');
let sequence = 0;

/** One record + finish cycle of `batch` events; returns wall µs per event. */
async function cycle(store: Store, batch: number): Promise<number> {
  const now = Date.now();
  const events = Array.from({ length: batch }, () => ({
    id: createEventId(now),
    source: 'stripe',
    provider: 'stripe',
    dedupeKey: `evt_cost_${sequence++}`,
    eventType: 'invoice.paid',
    headers: { 'content-type': 'application/json', 'user-agent': 'Stripe/1.0' },
    body,
    bodySha256: sha,
    receivedAt: now,
  }));
  const started = performance.now();
  const results = await store.recordEvents(events, {
    workerId: 'cost',
    leaseMs: 30_000,
    positions: new Set(events.map((_, i) => i)),
  });
  await store.finishAttempts(
    'cost',
    results.map((r) => ({
      eventId: r.id,
      token: r.claim?.token ?? 1,
      outcome: 'processed',
      startedAt: now,
      finishedAt: now,
    })),
  );
  return ((performance.now() - started) * 1000) / batch;
}

async function dropIndex(engine: Engine, target: ReturnType<typeof newTarget>, index: string): Promise<void> {
  if (target.engine === 'sqlite') {
    const db = new Database(target.path);
    db.exec(`DROP INDEX ${index}`);
    db.close();
  } else {
    await queryPostgres(`DROP INDEX ${index}`, [], target.schema);
  }
  void engine;
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

export async function runIndexCost(engine: Engine, quick: boolean): Promise<IndexCost[]> {
  const rounds = quick ? 3 : 9;
  const cyclesPerRound = quick ? 10 : 40;
  const costs: IndexCost[] = [];
  for (const { name, serves } of optionalIndexes) {
    const withAll = newTarget(engine, `idx_all_${name}`);
    const without = newTarget(engine, `idx_no_${name}`);
    await Promise.all([prepareTarget(withAll), prepareTarget(without)]);
    await dropIndex(engine, without, name);
    const stores = [openTargetStore(withAll), openTargetStore(without)] as const;
    const samples: [number[], number[]] = [[], []];
    try {
      for (const store of stores) for (let i = 0; i < 3; i++) await cycle(store, 50); // warm-up
      for (let r = 0; r < rounds; r++) {
        for (const [k, store] of stores.entries()) {
          let total = 0;
          for (let i = 0; i < cyclesPerRound; i++) total += await cycle(store, 50);
          samples[k]!.push(total / cyclesPerRound);
        }
      }
    } finally {
      await Promise.all(stores.map((s) => s.close()));
    }
    const withMicros = Math.round(median(samples[0]) * 10) / 10;
    const withoutMicros = Math.round(median(samples[1]) * 10) / 10;
    costs.push({
      index: name,
      serves,
      withMicros,
      withoutMicros,
      costMicros: Math.round((withMicros - withoutMicros) * 10) / 10,
    });
  }
  return costs;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const quick = process.argv.includes('--quick');
  const engineArg = process.argv.find((a) => a.startsWith('--engine='))?.slice('--engine='.length);
  const engines: Engine[] = engineArg ? [engineArg as Engine] : ['sqlite', 'postgres'];
  try {
    for (const engine of engines) {
      const costs = await runIndexCost(engine, quick);
      process.stdout.write(`\n${engine}: record + finish, wall µs per event (50-event batches)\n`);
      process.stdout.write('| index | serves | with | without | cost |\n|:--|:--|--:|--:|--:|\n');
      for (const c of costs) {
        process.stdout.write(
          `| ${c.index} | ${c.serves} | ${c.withMicros} | ${c.withoutMicros} | ${c.costMicros} |\n`,
        );
      }
    }
  } finally {
    await dropTargets();
  }
}
