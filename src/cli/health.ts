import type { Command } from 'commander';
import { systemClock } from '../clock.ts';
import type { ResolvedConfig } from '../config/load.ts';
import { resolveSources } from '../config/sources.ts';
import { createDestinationOperations } from '../destinations/operations.ts';
import { type CheckName, checkNames, type HealthStatus } from '../monitor/health-checks.ts';
import { createHealthMonitor, type HealthReport } from '../monitor/health-monitor.ts';
import { stuckAfterMsFor } from '../monitor/window-metrics.ts';
import type { Store } from '../store/types.ts';
import { openMigratedStore } from './check-schema.ts';
import { explainFailure } from './failures.ts';
import { fail, loadCliConfig, printTable } from './shared.ts';

/** Exit codes a cron job or a probe can test: 0 HEALTHY, 1 DEGRADED, 2 CRITICAL; 3 when it could not check. */
export const healthExitCodes: Record<HealthStatus, number> = { HEALTHY: 0, DEGRADED: 1, CRITICAL: 2 };
const couldNotCheck = 3;

export function registerHealthCommand(program: Command): void {
  program
    .command('health')
    .description(
      'run the health checks against the store; exit 0 HEALTHY, 1 DEGRADED, 2 CRITICAL, 3 could not check',
    )
    .option('--window <minutes>', 'window of the metrics, in minutes (default: the configured window, 60)')
    .option('--json', 'print the report as JSON')
    .action(async (options: { window?: string; json?: boolean }, command: Command) => {
      // Exit codes 1 and 2 are statuses here, so every failure to check exits 3 instead.
      let config: ResolvedConfig;
      try {
        config = await loadCliConfig(command);
      } catch (error) {
        fail(explainFailure(error).message, couldNotCheck);
      }
      const windowMinutes =
        options.window === undefined ? config.monitor.windowMinutes : Number(options.window);
      if (!Number.isInteger(windowMinutes) || windowMinutes < 1 || windowMinutes > 10_080) {
        fail('--window takes a whole number of minutes from 1 to 10080', couldNotCheck);
      }
      let report: HealthReport;
      let store: Store;
      try {
        store = await openMigratedStore(config.databaseUrl);
      } catch (error) {
        fail(`could not check: ${explainFailure(error).message}`, couldNotCheck);
      }
      try {
        // destinations: the same checks as the server's, over the configured destinations.
        const sources = resolveSources(config.sources);
        const destinations = createDestinationOperations({ store, sources });
        const monitor = createHealthMonitor({
          store,
          clock: systemClock,
          thresholds: config.monitor.thresholds,
          windowMinutes,
          cacheMs: 0,
          stuckAfterMs: stuckAfterMsFor(config.worker?.handlerTimeoutMs),
          destinations: (windowMs) => destinations.listDestinations({ windowMs }),
        });
        report = await monitor.checkHealth();
      } catch (error) {
        fail(`could not read the store: ${explainFailure(error).message}`, couldNotCheck);
      } finally {
        await store.close().catch(() => {});
      }
      if (options.json) process.stdout.write(`${JSON.stringify(report)}\n`);
      else printReport(report);
      process.exitCode = healthExitCodes[report.status];
    });
}

function printReport(report: HealthReport): void {
  const out = (line = '') => process.stdout.write(`${line}\n`);
  out(`Hookbox health: ${report.status} (window ${report.metrics.window.minutes} min, ${report.timestamp})`);
  out();
  printTable(
    checkNames.map((name: CheckName) => {
      const check = report.checks[name];
      return {
        check: name,
        status: check.passed ? 'ok' : 'FAIL',
        value: `${check.value} ${check.unit}`,
        threshold: `${check.bound} ${check.threshold}`,
      };
    }),
    ['check', 'status', 'value', 'threshold'],
  );
  // Held past the handler timeout: a handler that never settled (its event is never run twice).
  out();
  out(`Stuck events (held longer than their handler may run): ${report.metrics.stuck}`);
  if (report.metrics.blocked.length > 0) {
    out();
    out(`Blocked ordering keys (${report.metrics.blockedKeys}; docs/ordering.md):`);
    for (const k of report.metrics.blocked) {
      out(
        `  ${k.source} ${JSON.stringify(k.key)}: dead head ${k.headId} (${k.headEventType}), ${k.waiting} waiting`,
      );
    }
    out('  unblock with: hookbox keys unblock SOURCE KEY --retry|--skip');
  }
  if (report.alerts.length > 0) {
    out();
    out('Alerts:');
    for (const alert of report.alerts) {
      out(`  [${alert.severity}] ${alert.type}: ${alert.message}`);
      out(`    action: ${alert.action}`);
    }
  }
  if (report.recommendations.length > 0) {
    out();
    out('Recommendations:');
    for (const recommendation of report.recommendations) out(`  - ${recommendation}`);
  }
  // Rejections are counted per server process in memory; the CLI reads only the store.
  out();
  out('Rejected deliveries are counted by the server: see GET /api/admin/webhooks/monitor or /metrics.');
}
