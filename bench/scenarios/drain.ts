import { startServer } from '../lib/processes.ts';
import { seedPendingEvents } from '../lib/seed.ts';
import type { BenchSettings } from '../lib/settings.ts';
import { type Engine, newPostgresSchema, newTarget, postgresUrl } from '../lib/targets.ts';
import type { GraphileDrainConfig, GraphileDrainReport } from '../servers/graphile-drain.ts';
import type { DrainReport, HookboxServerConfig } from '../servers/hookbox.ts';
import { round } from './ingest.ts';

export interface GraphileFigures {
  default: GraphileDrainReport;
  throughput: GraphileDrainReport;
}

export interface DrainResult {
  events: number;
  hookbox: DrainReport;
  /** The peer ran on PostgreSQL (graphile-worker has no SQLite); the same figures serve both engines. */
  peer: string;
  graphileDefaultPerSec: number;
  graphileThroughputPerSec: number;
  vsGraphileDefault: number;
  vsGraphileThroughput: number;
}

export async function drainWithHookbox(
  engine: Engine,
  events: number,
  timeLimitSec: number,
): Promise<DrainReport> {
  const target = newTarget(engine, 'drain');
  await seedPendingEvents(target, events, { prefix: 'drain' });
  const config: HookboxServerConfig = { mode: 'drain', target, expected: events, timeLimitSec };
  const server = await startServer('hookbox drain', 'bench/servers/hookbox.ts', config);
  try {
    const report = await server.report<DrainReport>();
    return {
      ...report,
      elapsedMs: round(report.elapsedMs, 1),
      eventsPerSec: Math.round(report.eventsPerSec),
    };
  } finally {
    await server.stop();
  }
}

export async function drainWithGraphile(
  settings: GraphileDrainConfig['settings'],
  events: number,
  timeLimitSec: number,
): Promise<GraphileDrainReport> {
  const config: GraphileDrainConfig = {
    connectionString: postgresUrl(),
    schema: newPostgresSchema(`gw_${settings}`),
    expected: events,
    timeLimitSec,
    settings,
  };
  const server = await startServer(
    `graphile-worker (${settings})`,
    'bench/servers/graphile-drain.ts',
    config,
    120_000,
  );
  try {
    const report = await server.report<GraphileDrainReport>();
    return {
      ...report,
      elapsedMs: round(report.elapsedMs, 1),
      eventsPerSec: Math.round(report.eventsPerSec),
    };
  } finally {
    await server.stop();
  }
}

export async function runGraphile(
  settings: BenchSettings,
  log: (line: string) => void,
): Promise<GraphileFigures> {
  log('[postgres] drain: graphile-worker, default settings');
  const byDefault = await drainWithGraphile('default', settings.drain.events, settings.drain.timeLimitSec);
  log('[postgres] drain: graphile-worker, throughput settings');
  const throughput = await drainWithGraphile(
    'throughput',
    settings.drain.events,
    settings.drain.timeLimitSec,
  );
  return { default: byDefault, throughput };
}

export async function runDrain(
  engine: Engine,
  settings: BenchSettings,
  graphile: GraphileFigures,
  log: (line: string) => void,
): Promise<DrainResult> {
  log(`[${engine}] drain: hookbox worker, ${settings.drain.events} pending events`);
  const hookbox = await drainWithHookbox(engine, settings.drain.events, settings.drain.timeLimitSec);
  return {
    events: settings.drain.events,
    hookbox,
    peer: 'graphile-worker 0.16.6 on the same PostgreSQL',
    graphileDefaultPerSec: graphile.default.eventsPerSec,
    graphileThroughputPerSec: graphile.throughput.eventsPerSec,
    vsGraphileDefault: round(hookbox.eventsPerSec / graphile.default.eventsPerSec),
    vsGraphileThroughput: round(hookbox.eventsPerSec / graphile.throughput.eventsPerSec),
  };
}
