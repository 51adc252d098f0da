import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.ts';
import { defaultMonitorSettings, resolveMonitorSettings } from '../../src/monitor/config.ts';

describe('monitor settings', () => {
  it('defaults to the original design: thresholds, 30 s cache, daily 02:00 maintenance', () => {
    const { settings, problems } = resolveMonitorSettings(undefined, {});
    expect(problems).toEqual([]);
    expect(settings).toEqual(defaultMonitorSettings);
    expect(settings.thresholds).toEqual({
      maxRecentFailures: 10,
      maxBacklog: 100,
      maxOldestPendingMinutes: 30,
      maxAverageAttempts: 2,
      maxDuplicateDeliveries: 5,
      minSuccessRate: 95,
      maxBlockedKeys: 0,
      destinationMinSuccessRate: 80,
      destinationMinAttempts: 10,
      destinationMaxBacklog: 1000,
    });
    expect(settings.cacheSeconds).toBe(30);
    expect(settings.maintenance.schedule).toBe('0 2 * * *');
  });

  it('reads the environment over the config file', () => {
    const { settings, problems } = resolveMonitorSettings(
      { thresholds: { maxBacklog: 500, minSuccessRate: 90 }, alerts: { cooldownMinutes: 5 } },
      {
        HEALTH_MAX_BACKLOG: '250',
        ALERT_SLACK_WEBHOOK_URL: 'https://hooks.slack.com/services/T0/B0/xyz',
        ALERT_WEBHOOK_URL: 'http://alerts.internal/hookbox',
        MAINTENANCE_CRON: '30 3 * * 0',
        RETENTION_DAYS: '14',
        CRON_SECRET: 'cron-secret-of-enough-length',
        METRICS_PUBLIC: 'true',
      },
    );
    expect(problems).toEqual([]);
    expect(settings.thresholds).toMatchObject({ maxBacklog: 250, minSuccessRate: 90, maxRecentFailures: 10 });
    expect(settings.alerts).toMatchObject({
      slackWebhookUrl: 'https://hooks.slack.com/services/T0/B0/xyz',
      webhookUrl: 'http://alerts.internal/hookbox',
      cooldownMinutes: 5,
    });
    expect(settings.maintenance).toMatchObject({ schedule: '30 3 * * 0', retentionDays: 14 });
    expect(settings.metrics.public).toBe(true);
  });

  it('turns the schedule off with MAINTENANCE_CRON=off', () => {
    expect(
      resolveMonitorSettings(undefined, { MAINTENANCE_CRON: 'off' }).settings.maintenance.schedule,
    ).toBeNull();
  });

  it('reports every problem at once, naming the variable or the config key', () => {
    const { problems } = resolveMonitorSettings(
      { thresholds: { maxBacklogg: 3 }, alerts: { cooldownMinutes: -1 } },
      {
        ALERT_WEBHOOK_URL: 'ftp://nope',
        MAINTENANCE_CRON: 'every day',
        RETENTION_DAYS: 'ninety',
        HEALTH_MIN_SUCCESS_RATE: '120',
        CRON_SECRET: 'short',
      },
    );
    const named = problems.map((p) => p.split(':')[0]);
    expect(named).toEqual(
      expect.arrayContaining([
        'monitor.thresholds.maxBacklogg',
        'monitor.alerts.cooldownMinutes',
        'ALERT_WEBHOOK_URL',
        'MAINTENANCE_CRON',
        'RETENTION_DAYS',
        'HEALTH_MIN_SUCCESS_RATE',
        'CRON_SECRET',
      ]),
    );
    expect(problems).toContain('monitor.thresholds.maxBacklogg: unknown key; did you mean `maxBacklog`?');
    expect(problems.find((p) => p.startsWith('MAINTENANCE_CRON'))).toMatch(
      /cron pattern like "0 2 \* \* \*"/,
    );
    // A secret's value is never echoed.
    expect(problems.join('\n')).not.toContain('short');
  });

  describe('through loadConfig', () => {
    let cwd: string;
    beforeEach(() => {
      cwd = mkdtempSync(join(tmpdir(), 'hookbox-monitor-config-'));
    });
    afterEach(() => rmSync(cwd, { recursive: true, force: true }));

    it('resolves the monitor section of hookbox.config.mjs with the environment', async () => {
      writeFileSync(
        join(cwd, 'hookbox.config.mjs'),
        `export default { sources: { stripe: { provider: 'stripe', secrets: ['whsec_x'] } }, monitor: { windowMinutes: 15, thresholds: { maxRecentFailures: 3 } } };`,
      );
      const config = await loadConfig({ cwd, env: { RETENTION_DAYS: '7' } });
      expect(config.monitor.windowMinutes).toBe(15);
      expect(config.monitor.thresholds.maxRecentFailures).toBe(3);
      expect(config.monitor.maintenance.retentionDays).toBe(7);
    });

    it('fails start-up listing monitor problems with the others', async () => {
      await expect(
        loadConfig({ cwd, env: { STRIPE_WEBHOOK_SECRET: 'whsec_x', HEALTH_MAX_BACKLOG: '-1' } }),
      ).rejects.toThrow(/HEALTH_MAX_BACKLOG/);
    });
  });
});
