import { runPacedLoad, startServer } from '../lib/processes.ts';
import type { BenchSettings } from '../lib/settings.ts';
import type { Percentiles } from '../lib/stats.ts';
import { type Engine, newTarget, prepareTarget } from '../lib/targets.ts';
import type { PacedLoadResult } from '../load/paced-load.ts';
import type { HookboxServerConfig, LatencyReport } from '../servers/hookbox.ts';
import { round } from './ingest.ts';

export interface LatencyResult {
  rate: number;
  achievedRate: number;
  /** Delivery sent -> handler start (the receive-to-handler-start figure, plus loopback), ms. */
  p50: number;
  p99: number;
  sentToHandler: Percentiles;
  /** Hookbox's receivedAt (whole ms) -> handler start, ms. */
  receivedToHandler: Percentiles;
  /** The HTTP answer, from the scheduled send time, ms. */
  httpLatencyMs: Percentiles;
  handled: number;
  expected: number;
  failed: number;
}

export async function runLatency(
  engine: Engine,
  settings: BenchSettings,
  log: (line: string) => void,
): Promise<LatencyResult> {
  const { rate, warmupSec, durationSec, connections } = settings.latency;
  log(`[${engine}] latency: ${rate} deliveries/s for ${durationSec} s, worker on`);
  const target = newTarget(engine, 'latency');
  await prepareTarget(target);
  const config: HookboxServerConfig = { mode: 'latency', target };
  const server = await startServer('hookbox latency', 'bench/servers/hookbox.ts', config);
  let load: PacedLoadResult;
  let report: LatencyReport;
  try {
    load = await runPacedLoad({
      url: `${server.url}/webhooks/stripe`,
      rate,
      durationSec,
      warmupSec,
      connections,
      repeatEvery: 10,
      runTag: 'latency',
    });
    // Let the last handlers start before asking.
    const deadline = Date.now() + 5_000;
    for (;;) {
      report = await server.report<LatencyReport>();
      if (report.sentToHandler.count >= load.measuredNew || Date.now() > deadline) break;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  } finally {
    await server.stop();
  }
  return {
    rate,
    achievedRate: round(load.achievedRate, 1),
    p50: report.sentToHandler.p50,
    p99: report.sentToHandler.p99,
    sentToHandler: report.sentToHandler,
    receivedToHandler: report.receivedToHandler,
    httpLatencyMs: load.httpLatencyMs,
    handled: report.sentToHandler.count,
    expected: load.measuredNew,
    failed: load.failed,
  };
}
