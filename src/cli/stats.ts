import type { Command } from 'commander';
import { systemClock } from '../clock.ts';
import { collectWindowMetrics } from '../monitor/window-metrics.ts';
import { openMigratedStore } from './check-schema.ts';
import { fail, loadCliConfig, printTable } from './shared.ts';

export function registerStatsCommand(program: Command): void {
  program
    .command('stats')
    .description('event counts (all time) and the metrics of a recent window')
    .option('--window <minutes>', 'window of the metrics, in minutes (default: the configured window, 60)')
    .option('--json', 'print JSON')
    .action(async (options: { window?: string; json?: boolean }, command: Command) => {
      const config = await loadCliConfig(command);
      const windowMinutes =
        options.window === undefined ? config.monitor.windowMinutes : Number(options.window);
      if (!Number.isInteger(windowMinutes) || windowMinutes < 1 || windowMinutes > 10_080) {
        fail('--window takes a whole number of minutes from 1 to 10080', 2);
      }
      const store = await openMigratedStore(config.databaseUrl);
      try {
        const [statistics, window] = await Promise.all([
          store.getStatistics(),
          collectWindowMetrics({ store, clock: systemClock }, windowMinutes),
        ]);
        const oldest = statistics.oldestPending;
        const allTime = {
          ...statistics,
          oldestPending: oldest ? { ...oldest, receivedAt: new Date(oldest.receivedAt).toISOString() } : null,
        };
        if (options.json) {
          const { rejected: _perServer, ...metrics } = window;
          process.stdout.write(`${JSON.stringify({ allTime, window: metrics })}\n`);
          return;
        }
        printStats(allTime, window);
      } finally {
        await store.close();
      }
    });
}

function printStats(
  allTime: {
    total: number;
    byStatus: Record<string, number>;
    byProvider: Record<string, number>;
    byType: Record<string, number>;
    oldestPending: { id: string; source: string; receivedAt: string } | null;
  },
  window: Awaited<ReturnType<typeof collectWindowMetrics>>,
): void {
  const out = (line = '') => process.stdout.write(`${line}\n`);
  out(`All events: ${allTime.total}`);
  printTable(
    Object.entries(allTime.byStatus).map(([status, count]) => ({ status, count })),
    ['status', 'count'],
  );
  out(
    allTime.oldestPending
      ? `Oldest waiting: ${allTime.oldestPending.id} (${allTime.oldestPending.source}), received ${allTime.oldestPending.receivedAt}`
      : 'Oldest waiting: none',
  );
  out();
  out(`Last ${window.window.minutes} min (${window.window.since} to ${window.window.until}):`);
  const d = window.handlerDurationMs;
  const l = window.processingLatencyMs;
  printTable(
    [
      { metric: 'received', value: window.total },
      { metric: 'processed', value: window.processed },
      { metric: 'failed (incl. dead)', value: window.failed },
      { metric: 'pending', value: window.pending },
      { metric: 'success rate', value: `${window.successRate}%` },
      { metric: 'average attempts', value: window.averageAttempts },
      { metric: 'duplicate deliveries', value: window.duplicateDeliveries },
      {
        metric: 'handler ms avg/p50/p95/p99',
        value: `${d.average}/${d.p50}/${d.p95}/${d.p99} (${d.samples} attempts)`,
      },
      { metric: 'receive->processed ms avg/p50/p95/p99', value: `${l.average}/${l.p50}/${l.p95}/${l.p99}` },
      { metric: 'backlog (now)', value: window.backlog },
      { metric: 'oldest waiting (min)', value: window.oldestPendingAgeMinutes },
    ],
    ['metric', 'value'],
  );
  const counts = (title: string, byKey: Record<string, number>) => {
    const entries = Object.entries(byKey).sort((a, b) => b[1] - a[1]);
    if (entries.length > 0) out(`${title}: ${entries.map(([key, count]) => `${key} ${count}`).join(', ')}`);
  };
  counts('By provider', window.byProvider);
  counts('By type', window.byType);
}
