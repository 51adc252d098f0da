import type { Command } from 'commander';
import { systemClock } from '../clock.ts';
import { loadConfig, type ResolvedConfig } from '../config/load.ts';
import { type CheckName, checkNames, type HealthStatus } from '../monitor/health-checks.ts';
import { createHealthMonitor, type HealthReport } from '../monitor/health-monitor.ts';
import { openStore } from '../store/open-store.ts';
import { fail, printTable } from './shared.ts';

/** Exit codes a cron job or a probe can test: 0 HEALTHY, 1 DEGRADED, 2 CRITICAL; 3 when it could not check. */
export const healthExitCodes: Record<HealthStatus, number> = { HEALTHY: 0, DEGRADED: 1, CRITICAL: 2 };
const couldNotCheck = 3;

export function registerHealthCommand(program: Command): void {
  program
    .command('health')
    .description(
      'run the six health checks against the store; exit 0 HEALTHY, 1 DEGRADED, 2 CRITICAL, 3 could not check',
    )
    .option('--window <minutes>', 'window of the metrics, in minutes (default: the configured window, 60)')
    .option('--json', 'print the report as JSON')
    .action(async (options: { window?: string; json?: boolean }, command: Command) => {
      // Exit codes 1 and 2 are statuses here, so every failure to check exits 3 instead.
      let config: ResolvedConfig;
      try {
        config = await loadConfig({ configFile: command.optsWithGlobals<{ config?: string }>().config });
      } catch (error) {
        fail((error as Error).message, couldNotCheck);
      }
      const windowMinutes =
        options.window === undefined ? config.monitor.windowMinutes : Number(options.window);
      if (!Number.isInteger(windowMinutes) || windowMinutes < 1 || windowMinutes > 10_080) {
        fail('--window takes a whole number of minutes from 1 to 10080', couldNotCheck);
      }
      let report: HealthReport;
      const store = openStore(config.databaseUrl);
      try {
        await store.migrate();
        const monitor = createHealthMonitor({
          store,
          clock: systemClock,
          thresholds: config.monitor.thresholds,
          windowMinutes,
          cacheMs: 0,
        });
        report = await monitor.checkHealth();
      } catch (error) {
        fail(`could not read the store: ${(error as Error).message}`, couldNotCheck);
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
