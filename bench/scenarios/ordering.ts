import { startServer } from '../lib/processes.ts';
import { seedPendingEvents } from '../lib/seed.ts';
import type { BenchSettings } from '../lib/settings.ts';
import { median } from '../lib/stats.ts';
import { type Engine, newTarget } from '../lib/targets.ts';
import type { DrainReport, HookboxServerConfig } from '../servers/hookbox.ts';
import { round } from './ingest.ts';

export interface OrderingRound {
  unorderedPerSec: number;
  orderedPerSec: number;
  vsUnordered: number;
}

export interface OrderingResult {
  events: number;
  keys: number;
  /** The round whose ratio is the median: its two drains. */
  unorderedPerSec: number;
  orderedPerSec: number;
  /** The median over the rounds of orderedPerSec / unorderedPerSec (target >= 0.8). */
  vsUnordered: number;
  /** Each round: an unordered drain, then an ordered one, each on a fresh store. */
  rounds: OrderingRound[];
  /** Events per claim query and per verdict write, unordered / ordered: what the store round trips cost. */
  eventsPerClaim: { unordered: number; ordered: number };
  eventsPerWrite: { unordered: number; ordered: number };
  /** Ordered events claimed in the verdict write that freed their key, not by a claim of their own. */
  handedOver: number;
  oneKey: { events: number; eventsPerSec: number; overlaps: number; complete: boolean };
  complete: boolean;
}

async function drain(
  engine: Engine,
  events: number,
  keys: number | null,
  timeLimitSec: number,
  logRuns = false,
  roundNumber = 1,
): Promise<DrainReport & { overlaps?: number }> {
  // A fresh store each round: a drained one has nothing left to drain.
  const target = newTarget(engine, `${keys === null ? 'unordered' : `ordered_${keys}`}_r${roundNumber}`);
  // Ordered over `keys` keys (in key order: event i is the i-th), or unordered.
  await seedPendingEvents(target, events, {
    prefix: 'ordering',
    ...(keys === null
      ? {}
      : {
          extra: (index, now) => ({
            ordering: {
              key: `obj_${index % keys}`,
              orderedAt: now + index,
              holdMs: 0,
              onDead: 'block' as const,
            },
          }),
        }),
  });
  const config: HookboxServerConfig = { mode: 'drain', target, expected: events, timeLimitSec, logRuns };
  const server = await startServer(
    `hookbox drain (${keys === null ? 'unordered' : `${keys} keys`})`,
    'bench/servers/hookbox.ts',
    config,
  );
  try {
    const report = await server.report<DrainReport & { overlaps?: number }>();
    return {
      ...report,
      elapsedMs: round(report.elapsedMs, 1),
      eventsPerSec: Math.round(report.eventsPerSec),
    };
  } finally {
    await server.stop();
  }
}

const perTrip = (events: number, trips: number) => (trips > 0 ? round(events / trips, 1) : 0);

export async function runOrdering(
  engine: Engine,
  settings: BenchSettings,
  log: (line: string) => void,
): Promise<OrderingResult> {
  const { events, keys, rounds, oneKeyEvents, timeLimitSec } = settings.ordering;
  // Two drains run one after the other meet different moments of a shared machine: single pairs
  // gave 0.60-0.97x for the same code. Alternating pairs and their median ratio, as ingest's
  // interleaved rounds do, keep one slow moment from deciding the figure.
  const pairs: { unordered: DrainReport; ordered: DrainReport; ratio: number }[] = [];
  for (let n = 1; n <= rounds; n++) {
    log(`[${engine}] ordering: round ${n}/${rounds}, unordered drain, ${events} events`);
    const unordered = await drain(engine, events, null, timeLimitSec, false, n);
    log(`[${engine}] ordering: round ${n}/${rounds}, ordered drain, ${events} events over ${keys} keys`);
    const ordered = await drain(engine, events, keys, timeLimitSec, false, n);
    const ratio = unordered.eventsPerSec > 0 ? round(ordered.eventsPerSec / unordered.eventsPerSec, 3) : 0;
    pairs.push({ unordered, ordered, ratio });
  }
  const vsUnordered = round(median(pairs.map((p) => p.ratio)), 3);
  // The median round (for an even count, the lower middle one) gives the drains shown beside it.
  const { unordered, ordered } = [...pairs].sort((a, b) => a.ratio - b.ratio)[
    Math.floor((pairs.length - 1) / 2)
  ]!;
  log(`[${engine}] ordering: one key, ${oneKeyEvents} events (strictly serial)`);
  const oneKey = await drain(engine, oneKeyEvents, 1, timeLimitSec, true);
  return {
    events,
    keys,
    unorderedPerSec: unordered.eventsPerSec,
    orderedPerSec: ordered.eventsPerSec,
    vsUnordered,
    rounds: pairs.map((p) => ({
      unorderedPerSec: p.unordered.eventsPerSec,
      orderedPerSec: p.ordered.eventsPerSec,
      vsUnordered: p.ratio,
    })),
    eventsPerClaim: {
      unordered: perTrip(unordered.finished, unordered.claims),
      ordered: perTrip(ordered.finished, ordered.claims),
    },
    eventsPerWrite: {
      unordered: perTrip(unordered.finished, unordered.writes),
      ordered: perTrip(ordered.finished, ordered.writes),
    },
    handedOver: ordered.handedOver,
    oneKey: {
      events: oneKeyEvents,
      eventsPerSec: oneKey.eventsPerSec,
      overlaps: oneKey.overlaps ?? -1,
      complete: oneKey.complete,
    },
    complete: pairs.every((p) => p.unordered.complete && p.ordered.complete),
  };
}
