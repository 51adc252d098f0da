import type { Clock } from '../clock.ts';
import type { Logger } from '../logger.ts';
import type { Alert, AlertType, HealthStatus } from './health-checks.ts';

/** One message to the outside world about one alert type. */
export interface AlertNotice {
  /** `firing` when raised (and again after each cooldown while it persists), `resolved` when its check passes again. */
  state: 'firing' | 'resolved';
  alert: Alert;
  /** The overall status when the notice was made. */
  status: HealthStatus;
  /** When the alert first fired in this episode (ISO). */
  firingSince: string;
  timestamp: string;
  /** True for a reminder of an alert already announced. */
  repeat: boolean;
}

/** Where notices go: the log, a Slack-compatible incoming webhook, a generic HTTP endpoint. */
export interface AlertSink {
  readonly name: string;
  send(notice: AlertNotice): Promise<void>;
}

export interface AlertNotifierOptions {
  sinks: AlertSink[];
  clock: Clock;
  logger: Logger;
  /** Minimum time between two firing notices of the same type (ms). */
  cooldownMs?: number;
  /** Per-type cooldowns overriding `cooldownMs`. */
  cooldownMsByType?: Partial<Record<AlertType, number>>;
}

export interface NotifyResult {
  sent: AlertNotice[];
  /** Types still firing but inside their cooldown. */
  suppressed: AlertType[];
}

export const defaultAlertCooldownMs = 30 * 60_000;

/**
 * Turns successive health reports into notices: a new alert is sent at once, a persistent one
 * at most once per cooldown, and a resolved notice follows when its check passes again.
 */
export function createAlertNotifier(options: AlertNotifierOptions) {
  const active = new Map<AlertType, { since: number; lastSentAt: number; alert: Alert }>();
  const cooldownOf = (type: AlertType) =>
    options.cooldownMsByType?.[type] ?? options.cooldownMs ?? defaultAlertCooldownMs;

  async function deliver(notice: AlertNotice): Promise<void> {
    await Promise.all(
      options.sinks.map(async (sink) => {
        try {
          await sink.send(notice);
        } catch (error) {
          // The sink's URL is a credential (Slack): name the sink, never its address.
          options.logger.warn(
            { sink: sink.name, alert: notice.alert.type, err: (error as Error).message },
            'sending an alert failed; check the sink URL and that the receiver is up',
          );
        }
      }),
    );
  }

  return {
    async notify(report: { status: HealthStatus; alerts: Alert[] }): Promise<NotifyResult> {
      const now = options.clock.now();
      const iso = (ms: number) => new Date(ms).toISOString();
      const sent: AlertNotice[] = [];
      const suppressed: AlertType[] = [];
      const current = new Set<AlertType>();
      for (const alert of report.alerts) {
        current.add(alert.type);
        const state = active.get(alert.type);
        if (state && now - state.lastSentAt < cooldownOf(alert.type)) {
          state.alert = alert;
          suppressed.push(alert.type);
          continue;
        }
        const since = state?.since ?? now;
        active.set(alert.type, { since, lastSentAt: now, alert });
        sent.push({
          state: 'firing',
          alert,
          status: report.status,
          firingSince: iso(since),
          timestamp: iso(now),
          repeat: state !== undefined,
        });
      }
      for (const [type, state] of active) {
        if (current.has(type)) continue;
        active.delete(type);
        sent.push({
          state: 'resolved',
          alert: state.alert,
          status: report.status,
          firingSince: iso(state.since),
          timestamp: iso(now),
          repeat: false,
        });
      }
      for (const notice of sent) await deliver(notice);
      return { sent, suppressed };
    },

    /** Alert types currently firing, with when each started. */
    listActive(): { type: AlertType; since: string }[] {
      return [...active].map(([type, state]) => ({ type, since: new Date(state.since).toISOString() }));
    },
  };
}

export type AlertNotifier = ReturnType<typeof createAlertNotifier>;

export function createLogSink(logger: Logger): AlertSink {
  return {
    name: 'log',
    async send(notice) {
      const fields = {
        alert: notice.alert.type,
        severity: notice.alert.severity,
        status: notice.status,
        state: notice.state,
        value: notice.alert.value,
        threshold: notice.alert.threshold,
      };
      if (notice.state === 'resolved') logger.info(fields, `resolved: ${notice.alert.type}`);
      else if (notice.alert.severity === 'CRITICAL' || notice.alert.severity === 'ERROR') {
        logger.error({ ...fields, action: notice.alert.action }, notice.alert.message);
      } else logger.warn({ ...fields, action: notice.alert.action }, notice.alert.message);
    },
  };
}

export interface HttpSinkOptions {
  /** Abort a send that takes longer (ms). */
  timeoutMs?: number;
  /** Extra request headers (an Authorization for the receiver, say). */
  headers?: Record<string, string>;
  fetch?: typeof fetch;
}

/** A Slack-compatible incoming webhook (Slack, Mattermost, Rocket.Chat...): `{text}` plus blocks. */
export function createSlackSink(url: string, options: HttpSinkOptions = {}): AlertSink {
  return {
    name: 'slack',
    send: (notice) => postJson(url, formatSlackMessage(notice), options),
  };
}

/** A generic JSON POST of the notice itself. */
export function createHttpSink(url: string, options: HttpSinkOptions = {}): AlertSink {
  return {
    name: 'webhook',
    send: (notice) => postJson(url, { service: 'hookbox', ...notice }, options),
  };
}

const severityEmoji: Record<Alert['severity'], string> = {
  INFO: ':information_source:',
  WARNING: ':warning:',
  ERROR: ':x:',
  CRITICAL: ':rotating_light:',
};

export function formatSlackMessage(notice: AlertNotice): { text: string; blocks: unknown[] } {
  const { alert } = notice;
  const text =
    notice.state === 'resolved'
      ? `:white_check_mark: Hookbox: ${alert.type} resolved (status ${notice.status})`
      : `${severityEmoji[alert.severity]} Hookbox ${alert.severity}: ${alert.type}: ${alert.message}${notice.repeat ? ' (still firing)' : ''}`;
  const blocks: unknown[] = [{ type: 'section', text: { type: 'mrkdwn', text } }];
  if (notice.state === 'firing') {
    blocks.push({
      type: 'context',
      elements: [
        {
          type: 'mrkdwn',
          text: `*Action:* ${alert.action} | status ${notice.status} | since ${notice.firingSince}`,
        },
      ],
    });
  }
  return { text, blocks };
}

async function postJson(url: string, body: unknown, options: HttpSinkOptions): Promise<void> {
  const response = await (options.fetch ?? fetch)(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...options.headers },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(options.timeoutMs ?? 5_000),
  });
  // Drain the body so the connection is reused.
  await response.arrayBuffer().catch(() => undefined);
  if (!response.ok) throw new Error(`the receiver answered HTTP ${response.status}`);
}
