import { type CpuSnapshot, processCpuSeconds, snapshotCpu } from '../lib/cpu.ts';
import { benchSecret, benchSource } from '../lib/deliveries.ts';
import { runLoad, type ServerHandle, startDeployedHookbox } from '../lib/processes.ts';
import type { BenchSettings } from '../lib/settings.ts';
import { databaseUrlOf, newTarget, prepareTarget, readStoredDeliveries } from '../lib/targets.ts';
import type { LoadResult } from '../load/stripe-load.ts';
import { round } from './ingest.ts';

export interface ScaleStep {
  processes: number;
  /** Medians over the rounds. */
  rps: number;
  p50Ms: number;
  p99Ms: number;
  errors: number;
  /** Cores used by all Hookbox processes together, by PostgreSQL, and by everything else. */
  serverCores: number;
  postgresCores: number;
  otherCores: number;
  perRoundRps: number[];
}

export interface ScaleResult {
  steps: ScaleStep[];
  /** req/s with the most processes over req/s with one. */
  speedup: number;
  /** Count check over every step: event ids answered 2xx, and how many of them are not stored. */
  acked: number;
  missing: number;
}

interface Sample {
  rps: number;
  p50: number;
  p99: number;
  errors: number;
  server: number;
  postgres: number;
  other: number;
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

/**
 * Several Hookbox processes on one PostgreSQL schema (DESIGN, Scaling out), the load spread
 * over them by one load generator; one and two processes are loaded in turn, round after
 * round. On one 2-core machine the processes share the cores with PostgreSQL and the load
 * generator, so this shows what a second process costs or gains there, not a cluster's scaling.
 */
export async function runScale(settings: BenchSettings, log: (line: string) => void): Promise<ScaleResult> {
  const target = newTarget('postgres', 'scale');
  await prepareTarget(target);
  const servers: ServerHandle[] = await Promise.all(
    [1, 2].map((i) =>
      startDeployedHookbox(`hookbox ${i}`, {
        mode: 'ingest',
        databaseUrl: databaseUrlOf(target),
        secret: benchSecret,
        source: benchSource,
      }),
    ),
  );
  const loads: LoadResult[] = [];
  const samples = new Map<number, Sample[]>([
    [1, []],
    [2, []],
  ]);
  try {
    for (let r = 0; r < settings.ingest.rounds; r++) {
      for (const processes of [1, 2]) {
        log(
          `[postgres] scale round ${r + 1}/${settings.ingest.rounds}: ${processes} Hookbox process(es) on one PostgreSQL`,
        );
        const used = servers.slice(0, processes);
        const before: CpuSnapshot = snapshotCpu(used[0]!.pid);
        const cpuBefore = used.map((s) => processCpuSeconds(s.pid));
        const load = await runLoad({
          url: `${used[0]!.url}/webhooks/stripe`,
          urls: used.map((s) => `${s.url}/webhooks/stripe`),
          connections: settings.ingest.connections,
          durationSec: settings.ingest.durationSec,
          warmupSec: r === 0 ? settings.ingest.warmupSec : 0,
          maxRequests: settings.ingest.maxRequests,
          repeatEvery: settings.ingest.repeatEvery,
          runTag: `scale${processes}${r}`,
          recordAcks: true,
        });
        const after = snapshotCpu(used[0]!.pid);
        loads.push(load);
        const wall = (after.at - before.at) / 1000;
        const server = used.reduce((sum, s, i) => sum + (processCpuSeconds(s.pid) - cpuBefore[i]!), 0);
        const postgres = Math.max(0, after.postgres - before.postgres);
        const busy = after.machine.busy - before.machine.busy;
        const m = load.measured;
        samples.get(processes)!.push({
          rps: m.rps,
          p50: m.latencyMs.p50,
          p99: m.latencyMs.p99,
          errors: m.errors + m.timeouts + m.non2xx,
          server: server / wall,
          postgres: postgres / wall,
          other: Math.max(0, busy - server - postgres - load.cpuSeconds) / wall,
        });
      }
    }
  } finally {
    await Promise.all(servers.map((s) => s.stop()));
  }
  const steps: ScaleStep[] = [...samples].map(([processes, list]) => ({
    processes,
    rps: Math.round(median(list.map((s) => s.rps))),
    p50Ms: median(list.map((s) => s.p50)),
    p99Ms: median(list.map((s) => s.p99)),
    errors: list.reduce((sum, s) => sum + s.errors, 0),
    serverCores: round(median(list.map((s) => s.server))),
    postgresCores: round(median(list.map((s) => s.postgres))),
    otherCores: round(median(list.map((s) => s.other))),
    perRoundRps: list.map((s) => Math.round(s.rps)),
  }));
  const stored = await readStoredDeliveries(target);
  const acked = new Set(loads.flatMap((l) => l.acked));
  let missing = 0;
  for (const id of acked) if (!stored.has(id)) missing++;
  return { steps, speedup: round(steps.at(-1)!.rps / steps[0]!.rps), acked: acked.size, missing };
}
