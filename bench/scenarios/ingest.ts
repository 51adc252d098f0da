import { type CpuShare, type CpuSnapshot, cpuShare, snapshotCpu } from '../lib/cpu.ts';
import { benchSecret, benchSource } from '../lib/deliveries.ts';
import { runLoad, type ServerHandle, startDeployedHookbox, startServer } from '../lib/processes.ts';
import type { BenchSettings } from '../lib/settings.ts';
import { median } from '../lib/stats.ts';
import {
  countBacklog,
  databaseUrlOf,
  type Engine,
  newTarget,
  prepareEmptyTarget,
  prepareTarget,
  readStoredDeliveries,
  type StoreTarget,
} from '../lib/targets.ts';
import type { LoadResult, PhaseResult } from '../load/stripe-load.ts';

/** Every event acknowledged 2xx must be in the store afterwards (invariant 1). */
export interface CountCheck {
  /** Unique event ids answered 2xx. */
  ackedEvents: number;
  /** Of those, how many are not in the store: must be 0. */
  missing: number;
  storedEvents: number;
  /** Deliveries answered 2xx, repeats included. */
  ackedDeliveries: number;
  /** Sum of delivery_count over stored events (a delivery committed but not answered 2xx counts here only). */
  storedDeliveries: number;
}

/** One measured round against one server. */
export interface RoundFigures {
  rps: number;
  latencyMs: PhaseResult['latencyMs'];
  requests: number;
  errors: number;
  /** Server CPU per answered request, microseconds: the cost that does not depend on contention. */
  serverCpuMicrosPerRequest: number;
  /** Cores used while the load ran, by whom (`other` = everything else on the machine). */
  cpu: CpuShare;
}

export interface ServerFigures extends RoundFigures {
  /** Rounds measured; the figures above are each the median over them. */
  rounds: number;
  perRound: RoundFigures[];
  statusCodes: Record<string, number>;
  peakRssMb: number;
  check?: CountCheck;
}

export interface IngestResult {
  ceiling: ServerFigures;
  naive: ServerFigures;
  lean: ServerFigures;
  hookbox: ServerFigures;
  /** Hookbox req/s over the ceiling's (medians of the interleaved rounds). */
  vsCeiling: number;
  /** Hookbox req/s over the naive receiver's. */
  vsNaive: number;
  /** Hookbox req/s over the lean reference's: the same durability in the fewest lines. */
  vsLean: number;
  /** The lean reference's req/s over the ceiling's: what the hardware allows with this durability. */
  leanVsCeiling: number;
  /** Events Hookbox's worker had not finished when the last round ended (it must keep up). */
  backlogAfter: number;
}

export function round(x: number, digits = 2): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

/** A server under test and everything its rounds gathered. */
interface Contestant {
  name: string;
  server: ServerHandle;
  target: StoreTarget | null;
  rounds: RoundFigures[];
  loads: LoadResult[];
  statusCodes: Record<string, number>;
}

async function measureRound(
  contestant: Contestant,
  settings: BenchSettings,
  roundIndex: number,
): Promise<void> {
  const { server } = contestant;
  const before: CpuSnapshot = snapshotCpu(server.pid);
  const load = await runLoad({
    url: `${server.url}/webhooks/stripe`,
    connections: settings.ingest.connections,
    durationSec: settings.ingest.durationSec,
    // The first round of each server warms it up (JIT, pools); later rounds find it warm.
    warmupSec: roundIndex === 0 ? settings.ingest.warmupSec : 0,
    maxRequests: settings.ingest.maxRequests,
    repeatEvery: settings.ingest.repeatEvery,
    runTag: `${contestant.name.slice(0, 4)}${roundIndex}`,
    recordAcks: contestant.target !== null,
  });
  const after = snapshotCpu(server.pid);
  const m = load.measured;
  const answered = m.completed + (load.warmup?.completed ?? 0);
  contestant.loads.push(load);
  for (const [code, count] of Object.entries(m.statusCodes)) {
    contestant.statusCodes[code] = (contestant.statusCodes[code] ?? 0) + count;
  }
  contestant.rounds.push({
    rps: Math.round(m.rps),
    latencyMs: m.latencyMs,
    requests: m.completed,
    errors: m.errors + m.timeouts + m.non2xx,
    serverCpuMicrosPerRequest: Math.round(((after.server - before.server) / answered) * 1e6),
    cpu: cpuShare(before, after, load.cpuSeconds),
  });
}

async function checkCounts(target: StoreTarget, loads: LoadResult[]): Promise<CountCheck> {
  const stored = await readStoredDeliveries(target);
  let storedDeliveries = 0;
  for (const count of stored.values()) storedDeliveries += count;
  const acked = new Set(loads.flatMap((l) => l.acked));
  let missing = 0;
  for (const id of acked) if (!stored.has(id)) missing++;
  return {
    ackedEvents: acked.size,
    missing,
    storedEvents: stored.size,
    ackedDeliveries: loads.reduce((sum, l) => sum + l.ackedDeliveries, 0),
    storedDeliveries,
  };
}

async function summarizeContestant(contestant: Contestant): Promise<ServerFigures> {
  const rounds = contestant.rounds;
  const pick = (f: (r: RoundFigures) => number) => round(median(rounds.map(f)), 2);
  return {
    rps: Math.round(median(rounds.map((r) => r.rps))),
    latencyMs: {
      mean: pick((r) => r.latencyMs.mean),
      p50: pick((r) => r.latencyMs.p50),
      p90: pick((r) => r.latencyMs.p90),
      p99: pick((r) => r.latencyMs.p99),
      max: Math.max(...rounds.map((r) => r.latencyMs.max)),
    },
    requests: rounds.reduce((sum, r) => sum + r.requests, 0),
    errors: rounds.reduce((sum, r) => sum + r.errors, 0),
    serverCpuMicrosPerRequest: Math.round(median(rounds.map((r) => r.serverCpuMicrosPerRequest))),
    cpu: {
      server: pick((r) => r.cpu.server),
      loadGenerator: pick((r) => r.cpu.loadGenerator),
      postgres: pick((r) => r.cpu.postgres),
      other: pick((r) => r.cpu.other),
      cores: rounds[0]!.cpu.cores,
    },
    rounds: rounds.length,
    perRound: rounds,
    statusCodes: contestant.statusCodes,
    peakRssMb: contestant.server.peakRssMb(),
    ...(contestant.target ? { check: await checkCounts(contestant.target, contestant.loads) } : {}),
  };
}

async function startContestant(
  name: string,
  start: () => Promise<ServerHandle>,
  target: StoreTarget | null,
): Promise<Contestant> {
  return { name, server: await start(), target, rounds: [], loads: [], statusCodes: {} };
}

/** The ceiling measured earlier in this run (quick mode measures it once for both engines). */
let sharedCeiling: ServerFigures | null = null;

/**
 * Hookbox, the naive receiver and the bare ceiling, each in its own process, loaded in turn
 * round after round (so a change in background load hits all three alike); each figure is the
 * median over the rounds.
 */
export async function runIngest(
  engine: Engine,
  settings: BenchSettings,
  log: (line: string) => void,
): Promise<IngestResult> {
  const contestants: Contestant[] = [];
  const reuseCeiling = settings.shareCeiling ? sharedCeiling : null;
  try {
    // The naive receiver and the lean reference create their own tables.
    const naiveTarget = newTarget(engine, 'naive');
    const leanTarget = newTarget(engine, 'lean');
    const hookboxTarget = newTarget(engine, 'ingest');
    await Promise.all([
      prepareEmptyTarget(naiveTarget),
      prepareEmptyTarget(leanTarget),
      prepareTarget(hookboxTarget),
    ]);
    // Started together (start-up is not measured), loaded one at a time.
    const started = await Promise.allSettled([
      reuseCeiling
        ? null
        : startContestant('ceiling', () => startServer('ceiling', 'bench/servers/ceiling.ts', {}), null),
      startContestant(
        'naive',
        () => startServer('naive', 'bench/servers/naive.ts', { target: naiveTarget }),
        naiveTarget,
      ),
      startContestant(
        'lean',
        () => startServer('lean', 'bench/servers/lean.ts', { target: leanTarget }),
        leanTarget,
      ),
      startContestant(
        'hookbox',
        () =>
          startDeployedHookbox('hookbox', {
            mode: 'ingest',
            databaseUrl: databaseUrlOf(hookboxTarget),
            secret: benchSecret,
            source: benchSource,
          }),
        hookboxTarget,
      ),
    ]);
    for (const outcome of started)
      if (outcome.status === 'fulfilled' && outcome.value) contestants.push(outcome.value);
    const failed = started.find((outcome) => outcome.status === 'rejected');
    if (failed) throw (failed as PromiseRejectedResult).reason;

    for (let r = 0; r < settings.ingest.rounds; r++) {
      for (const contestant of contestants) {
        log(`[${engine}] ingest round ${r + 1}/${settings.ingest.rounds}: ${contestant.name}`);
        await measureRound(contestant, settings, r);
      }
    }

    const figures = new Map<string, ServerFigures>();
    for (const contestant of contestants) figures.set(contestant.name, await summarizeContestant(contestant));
    const ceiling = reuseCeiling ?? figures.get('ceiling')!;
    if (!reuseCeiling) sharedCeiling = ceiling;
    const naive = figures.get('naive')!;
    const lean = figures.get('lean')!;
    const hookbox = figures.get('hookbox')!;
    const backlogAfter = await countBacklog(hookboxTarget);
    return {
      ceiling,
      naive,
      lean,
      hookbox,
      vsCeiling: round(hookbox.rps / ceiling.rps),
      vsNaive: round(hookbox.rps / naive.rps),
      vsLean: round(hookbox.rps / lean.rps),
      leanVsCeiling: round(lean.rps / ceiling.rps),
      backlogAfter,
    };
  } finally {
    await Promise.all(contestants.map((c) => c.server.stop()));
  }
}
