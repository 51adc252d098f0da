import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createManualClock } from '../../src/clock.ts';
import { createHookbox, type Hookbox } from '../../src/hookbox.ts';
import { createLogger } from '../../src/logger.ts';
import { createAlertNotifier } from '../../src/monitor/alert-notifier.ts';
import type { Alert } from '../../src/monitor/health-checks.ts';
import { createTestStore, engines } from '../support/stores.ts';
import { createSeeder } from './seed.ts';

const minute = 60_000;

interface Received {
  path: string;
  body: Record<string, unknown>;
}

/** A local receiver standing in for Slack and a generic alert endpoint. */
async function startReceiver(status = 200): Promise<{ url: string; received: Received[]; server: Server }> {
  const received: Received[] = [];
  const server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      received.push({ path: request.url ?? '', body: JSON.parse(Buffer.concat(chunks).toString('utf8')) });
      response.writeHead(status, { 'content-type': 'text/plain' }).end(status === 200 ? 'ok' : 'nope');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}`, received, server };
}

function captureLogs() {
  const lines: string[] = [];
  const destination = new Writable({
    write(chunk, _encoding, callback) {
      lines.push(...chunk.toString('utf8').split('\n').filter(Boolean));
      callback();
    },
  });
  return { logger: createLogger({ level: 'info', destination }), lines };
}

describe.each(engines)('alert delivery on %s', (engine) => {
  let cleanup: () => Promise<void>;
  let hookbox: Hookbox;
  let receiver: Awaited<ReturnType<typeof startReceiver>>;
  let logs: ReturnType<typeof captureLogs>;
  const clock = createManualClock(Date.UTC(2026, 3, 1, 9));

  beforeEach(async () => {
    const created = await createTestStore(engine, { clock });
    cleanup = created.cleanup;
    receiver = await startReceiver();
    logs = captureLogs();
    hookbox = createHookbox({
      store: created.store,
      clock,
      logger: logs.logger,
      sources: { stripe: { provider: 'stripe', secrets: ['whsec_alerts'] } },
      worker: { enabled: false },
      monitor: {
        thresholds: { maxBacklog: 2 },
        metrics: { processMetrics: false },
        alerts: {
          slackWebhookUrl: `${receiver.url}/slack/T0000/B0000/SLACKSECRET`,
          webhookUrl: `${receiver.url}/alerts`,
          cooldownMinutes: 10,
          checkIntervalSeconds: 0,
        },
      },
    });
    await hookbox.start();
  });
  afterEach(async () => {
    await hookbox.stop();
    await new Promise((resolve) => receiver.server.close(resolve));
    await cleanup();
  });

  it('sends an alert once per cooldown, then a resolved notice when the check passes', async () => {
    const seed = createSeeder(hookbox.store, clock.now);
    const waiting = await seed.record(3);

    const first = await hookbox.monitoring.evaluateAndNotify();
    expect(first.report.status).toBe('DEGRADED');
    expect(receiver.received.map((r) => r.path)).toEqual(['/slack/T0000/B0000/SLACKSECRET', '/alerts']);
    const generic = receiver.received.find((r) => r.path === '/alerts')!.body;
    expect(generic).toMatchObject({
      service: 'hookbox',
      state: 'firing',
      status: 'DEGRADED',
      repeat: false,
      alert: { type: 'LARGE_BACKLOG', severity: 'WARNING', value: 3, threshold: 2 },
    });
    const slack = receiver.received.find((r) => r.path.startsWith('/slack'))!.body;
    expect(slack.text).toMatch(/^:warning: Hookbox WARNING: LARGE_BACKLOG: 3 events waiting/);
    expect(slack.blocks).toHaveLength(2);

    // Still failing inside the cooldown: nothing new.
    clock.advance(9 * minute);
    const quiet = await hookbox.monitoring.evaluateAndNotify();
    expect(quiet.notices).toEqual({ sent: [], suppressed: ['LARGE_BACKLOG'] });
    expect(receiver.received).toHaveLength(2);

    // The cooldown is over and the problem persists: one reminder per sink.
    clock.advance(minute);
    await hookbox.monitoring.evaluateAndNotify();
    expect(receiver.received).toHaveLength(4);
    expect(receiver.received[3]!.body).toMatchObject({ state: 'firing', repeat: true });

    // Fixed: a resolved notice, once.
    await seed.attempt(waiting, 'processed');
    clock.advance(minute);
    const resolved = await hookbox.monitoring.evaluateAndNotify();
    expect(resolved.report.status).toBe('HEALTHY');
    expect(receiver.received).toHaveLength(6);
    expect(receiver.received[5]!.body).toMatchObject({
      state: 'resolved',
      status: 'HEALTHY',
      alert: { type: 'LARGE_BACKLOG' },
      firingSince: new Date(clock.now() - 11 * minute).toISOString(),
    });
    expect(receiver.received[4]!.body.text).toMatch(/LARGE_BACKLOG resolved/);
    await hookbox.monitoring.evaluateAndNotify();
    expect(receiver.received).toHaveLength(6);

    // The log sink saw each notice.
    const logged = logs.lines.map(
      (line) => JSON.parse(line) as { msg: string; alert?: string; state?: string },
    );
    expect(logged.filter((l) => l.alert === 'LARGE_BACKLOG' && l.state === 'firing')).toHaveLength(2);
    expect(logged.filter((l) => l.alert === 'LARGE_BACKLOG' && l.state === 'resolved')).toHaveLength(1);
  });
});

describe('alert sinks that fail', () => {
  it('logs the failure by sink name, never the URL, and keeps notifying the other sinks', async () => {
    const broken = await startReceiver(500);
    const logs = captureLogs();
    const delivered: string[] = [];
    const clock = createManualClock();
    const { createSlackSink } = await import('../../src/monitor/alert-notifier.ts');
    const notifier = createAlertNotifier({
      clock,
      logger: logs.logger,
      sinks: [
        createSlackSink(`${broken.url}/services/T1/B1/VERYSECRETPATH`),
        { name: 'memory', send: async (notice) => void delivered.push(notice.alert.type) },
      ],
    });
    const alert: Alert = {
      type: 'STALE_EVENTS',
      severity: 'CRITICAL',
      check: 'oldestPending',
      message: 'old',
      action: 'act',
      value: 40,
      threshold: 30,
    };
    const result = await notifier.notify({ status: 'CRITICAL', alerts: [alert] });
    expect(result.sent).toHaveLength(1);
    expect(delivered).toEqual(['STALE_EVENTS']);
    expect(broken.received).toHaveLength(1);
    const warning = logs.lines.map((l) => JSON.parse(l)).find((l) => l.sink === 'slack');
    expect(warning).toMatchObject({ alert: 'STALE_EVENTS', err: 'the receiver answered HTTP 500' });
    expect(logs.lines.join('\n')).not.toContain('VERYSECRETPATH');
    await new Promise((resolve) => broken.server.close(resolve));
  });

  it('honours a per-type cooldown', async () => {
    const clock = createManualClock();
    const sent: string[] = [];
    const notifier = createAlertNotifier({
      clock,
      logger: captureLogs().logger,
      cooldownMs: 60 * minute,
      cooldownMsByType: { LARGE_BACKLOG: minute },
      sinks: [{ name: 'memory', send: async (n) => void sent.push(`${n.state}:${n.alert.type}`) }],
    });
    const make = (type: Alert['type']): Alert => ({
      type,
      severity: 'WARNING',
      check: 'processingBacklog',
      message: '',
      action: '',
      value: 1,
      threshold: 0,
    });
    const report = { status: 'DEGRADED' as const, alerts: [make('LARGE_BACKLOG'), make('DUPLICATE_EVENTS')] };
    await notifier.notify(report);
    clock.advance(minute);
    await notifier.notify(report);
    expect(sent).toEqual(['firing:LARGE_BACKLOG', 'firing:DUPLICATE_EVENTS', 'firing:LARGE_BACKLOG']);
    expect(notifier.listActive().map((a) => a.type)).toEqual(['LARGE_BACKLOG', 'DUPLICATE_EVENTS']);
  });
});
