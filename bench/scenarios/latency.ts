import { benchSecret, benchSource } from '../lib/deliveries.ts';
import { runPacedLoad, startDeployedHookbox } from '../lib/processes.ts';
import type { BenchSettings } from '../lib/settings.ts';
import { type Percentiles, percentiles } from '../lib/stats.ts';
import { databaseUrlOf, type Engine, newTarget, prepareTarget } from '../lib/targets.ts';
import type { PacedLoadResult } from '../load/paced-load.ts';

/** The deployed server's raw samples, ms. */
interface LatencySamples {
  sentToHandler: number[];
  receivedToHandler: number[];
}

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
  const server = await startDeployedHookbox('hookbox latency', {
    mode: 'latency',
    databaseUrl: databaseUrlOf(target),
    secret: benchSecret,
    source: benchSource,
  });
  let load: PacedLoadResult;
  let report: LatencySamples;
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
      report = await server.report<LatencySamples>();
      if (report.sentToHandler.length >= load.measuredNew || Date.now() > deadline) break;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  } finally {
    await server.stop();
  }
  const sentToHandler = percentiles(report.sentToHandler);
  return {
    rate,
    achievedRate: round(load.achievedRate, 1),
    p50: sentToHandler.p50,
    p99: sentToHandler.p99,
    sentToHandler,
    receivedToHandler: percentiles(report.receivedToHandler),
    httpLatencyMs: load.httpLatencyMs,
    handled: sentToHandler.count,
    expected: load.measuredNew,
    failed: load.failed,
  };
}
