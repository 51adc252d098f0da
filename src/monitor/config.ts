import { Cron } from 'croner';
import { z } from 'zod';
import { listProblems } from '../config/problems.ts';
import type { AdminOptions } from '../http/admin/routes.ts';
import {
  type AlertType,
  alertTypes,
  defaultHealthThresholds,
  type HealthThresholds,
} from './health-checks.ts';
import type { MonitoringOptions } from './monitoring.ts';

/** The monitoring settings the server runs with (config file `monitor` section + environment). */
export interface MonitorSettings {
  /** Default window of metrics and checks, minutes. */
  windowMinutes: number;
  /** How long a health report is reused, seconds. */
  cacheSeconds: number;
  thresholds: HealthThresholds;
  alerts: {
    slackWebhookUrl: string | null;
    webhookUrl: string | null;
    /** Minimum minutes between two notices of one alert type while it persists. */
    cooldownMinutes: number;
    cooldownMinutesByType: Partial<Record<AlertType, number>>;
    /** How often the server evaluates health and notifies; 0 turns the loop off. */
    checkIntervalSeconds: number;
  };
  maintenance: {
    /** Cron pattern for cleanup + auto-remediation; null turns the schedule off. */
    schedule: string | null;
    timezone: string | null;
    /** Processed events older than this are deleted by maintenance. */
    retentionDays: number;
    /** Processed events older than this get their body emptied, metadata kept; null never. */
    scrubBodiesAfterDays: number | null;
    /** Events in processing longer than this are requeued by auto-remediation. */
    stuckAfterMinutes: number;
    /** A token external schedulers may use for POST /api/cron/webhook-maintenance only. */
    cronSecret: string | null;
  };
  metrics: {
    /** Serve /metrics without a token (only where the network already restricts who scrapes). */
    public: boolean;
    processMetrics: boolean;
  };
}

type DeepPartial<T> = { [K in keyof T]?: T[K] extends object ? DeepPartial<T[K]> | null : T[K] };
/** The `monitor` section of hookbox.config.ts. */
export type MonitorConfigFile = DeepPartial<MonitorSettings>;

export const defaultMonitorSettings: MonitorSettings = {
  windowMinutes: 60,
  cacheSeconds: 30,
  thresholds: { ...defaultHealthThresholds },
  alerts: {
    slackWebhookUrl: null,
    webhookUrl: null,
    cooldownMinutes: 30,
    cooldownMinutesByType: {},
    checkIntervalSeconds: 60,
  },
  maintenance: {
    schedule: '0 2 * * *',
    timezone: null,
    retentionDays: 90,
    scrubBodiesAfterDays: null,
    stuckAfterMinutes: 30,
    cronSecret: null,
  },
  metrics: { public: false, processMetrics: true },
};

const count = z.coerce.number().int().min(0);
const minutes = z.coerce.number().positive();
const url = z.url({ protocol: /^https?$/, error: 'use an http:// or https:// URL' });
const booleanText = z.union([
  z.boolean(),
  z.enum(['true', 'false', '1', '0', 'yes', 'no']).transform((v) => v === 'true' || v === '1' || v === 'yes'),
]);
const cronPattern = z
  .string()
  .refine(isCronPattern, 'use a cron pattern like "0 2 * * *" (minute hour day month weekday)');

const settingsSchema = z.strictObject({
  windowMinutes: z.coerce.number().int().min(1).max(10_080),
  cacheSeconds: z.coerce.number().min(0),
  thresholds: z.strictObject({
    maxRecentFailures: count,
    maxBacklog: count,
    maxOldestPendingMinutes: minutes,
    maxAverageAttempts: z.coerce.number().min(1),
    maxDuplicateDeliveries: count,
    minSuccessRate: z.coerce.number().min(0).max(100),
    maxBlockedKeys: count,
    destinationMinSuccessRate: z.coerce.number().min(0).max(100),
    destinationMinAttempts: z.coerce.number().int().min(1),
    destinationMaxBacklog: count,
  }),
  alerts: z.strictObject({
    slackWebhookUrl: url.nullable(),
    webhookUrl: url.nullable(),
    cooldownMinutes: z.coerce.number().min(0),
    cooldownMinutesByType: z.partialRecord(z.enum(alertTypes), z.coerce.number().min(0)),
    checkIntervalSeconds: z.coerce.number().min(0),
  }),
  maintenance: z.strictObject({
    schedule: cronPattern.nullable(),
    timezone: z.string().min(1).nullable(),
    retentionDays: z.coerce.number().int().min(1),
    scrubBodiesAfterDays: z.coerce.number().int().min(1).nullable(),
    stuckAfterMinutes: minutes,
    cronSecret: z.string().min(16, 'use at least 16 characters').nullable(),
  }),
  metrics: z.strictObject({ public: booleanText, processMetrics: booleanText }),
});

/** Environment variable -> setting path. */
export const monitorEnvNames: Record<string, string[]> = {
  MONITOR_WINDOW_MINUTES: ['windowMinutes'],
  HEALTH_CACHE_SECONDS: ['cacheSeconds'],
  HEALTH_MAX_RECENT_FAILURES: ['thresholds', 'maxRecentFailures'],
  HEALTH_MAX_BACKLOG: ['thresholds', 'maxBacklog'],
  HEALTH_MAX_OLDEST_PENDING_MINUTES: ['thresholds', 'maxOldestPendingMinutes'],
  HEALTH_MAX_AVERAGE_ATTEMPTS: ['thresholds', 'maxAverageAttempts'],
  HEALTH_MAX_DUPLICATES: ['thresholds', 'maxDuplicateDeliveries'],
  HEALTH_MIN_SUCCESS_RATE: ['thresholds', 'minSuccessRate'],
  HEALTH_MAX_BLOCKED_KEYS: ['thresholds', 'maxBlockedKeys'],
  HEALTH_DESTINATION_MIN_SUCCESS_RATE: ['thresholds', 'destinationMinSuccessRate'],
  HEALTH_DESTINATION_MIN_ATTEMPTS: ['thresholds', 'destinationMinAttempts'],
  HEALTH_DESTINATION_MAX_BACKLOG: ['thresholds', 'destinationMaxBacklog'],
  ALERT_SLACK_WEBHOOK_URL: ['alerts', 'slackWebhookUrl'],
  ALERT_WEBHOOK_URL: ['alerts', 'webhookUrl'],
  ALERT_COOLDOWN_MINUTES: ['alerts', 'cooldownMinutes'],
  ALERT_CHECK_INTERVAL_SECONDS: ['alerts', 'checkIntervalSeconds'],
  MAINTENANCE_CRON: ['maintenance', 'schedule'],
  MAINTENANCE_TIMEZONE: ['maintenance', 'timezone'],
  RETENTION_DAYS: ['maintenance', 'retentionDays'],
  SCRUB_BODIES_AFTER_DAYS: ['maintenance', 'scrubBodiesAfterDays'],
  STUCK_AFTER_MINUTES: ['maintenance', 'stuckAfterMinutes'],
  CRON_SECRET: ['maintenance', 'cronSecret'],
  METRICS_PUBLIC: ['metrics', 'public'],
};

/**
 * Merge defaults, the config file's `monitor` section and the environment (which wins), and
 * validate once. Problems name the environment variable when the value came from there.
 * `MAINTENANCE_CRON=off` turns the schedule off.
 */
export function resolveMonitorSettings(
  file: unknown,
  env: NodeJS.ProcessEnv,
): { settings: MonitorSettings; problems: string[] } {
  const merged = structuredClone(defaultMonitorSettings) as unknown as Record<
    string,
    Record<string, unknown>
  >;
  const problems: string[] = [];
  if (file !== undefined && file !== null) {
    if (typeof file !== 'object') problems.push('monitor: must be an object');
    else mergeInto(merged, file as Record<string, unknown>);
  }
  const fromEnv = new Map<string, string>();
  for (const [name, path] of Object.entries(monitorEnvNames)) {
    const value = env[name];
    if (value === undefined || value === '') continue;
    const [section, key] = path;
    const parsed = name === 'MAINTENANCE_CRON' && /^(off|none|false|disabled)$/i.test(value) ? null : value;
    if (key === undefined) (merged as Record<string, unknown>)[section!] = parsed;
    else merged[section!]![key] = parsed;
    fromEnv.set(path.join('.'), name);
  }
  const result = settingsSchema.safeParse(merged);
  if (!result.success) {
    for (const { path, message } of listProblems(result.error, { schema: settingsSchema })) {
      problems.push(`${fromEnv.get(path) ?? `monitor.${path}`}: ${message}`);
    }
    return { settings: defaultMonitorSettings, problems };
  }
  return { settings: result.data as MonitorSettings, problems };
}

/** Copy `source` over `target`, one level of sections deep (unknown keys are kept to be reported). */
function mergeInto(target: Record<string, Record<string, unknown>>, source: Record<string, unknown>): void {
  for (const [key, value] of Object.entries(source)) {
    const current = target[key];
    if (
      current &&
      typeof current === 'object' &&
      value &&
      typeof value === 'object' &&
      !Array.isArray(value)
    ) {
      target[key] = { ...current, ...(value as Record<string, unknown>) };
    } else (target as Record<string, unknown>)[key] = value;
  }
}

export function isCronPattern(pattern: string): boolean {
  try {
    new Cron(pattern, { paused: true }).stop();
    return true;
  } catch {
    return false;
  }
}

/** The `monitor` and `admin` options of createHookbox for resolved server settings. */
export function toHookboxMonitoringOptions(
  settings: MonitorSettings,
  admin: { token?: string; readOnlyTokens: readonly string[] },
): { monitor: MonitoringOptions; admin: AdminOptions } {
  return {
    monitor: {
      windowMinutes: settings.windowMinutes,
      cacheSeconds: settings.cacheSeconds,
      thresholds: settings.thresholds,
      alerts: { ...settings.alerts },
      maintenance: {
        schedule: settings.maintenance.schedule,
        timezone: settings.maintenance.timezone,
        retentionDays: settings.maintenance.retentionDays,
        scrubBodiesAfterDays: settings.maintenance.scrubBodiesAfterDays,
        stuckAfterMinutes: settings.maintenance.stuckAfterMinutes,
      },
      metrics: { processMetrics: settings.metrics.processMetrics },
    },
    admin: {
      token: admin.token,
      readOnlyTokens: admin.readOnlyTokens,
      cronSecret: settings.maintenance.cronSecret,
      metricsPublic: settings.metrics.public,
    },
  };
}
