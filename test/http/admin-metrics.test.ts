import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createManualClock } from '../../src/clock.ts';
import { createHookbox, type Hookbox } from '../../src/hookbox.ts';
import { createTestStore, engines } from '../support/stores.ts';
import { signStripe, stripeEventBody } from '../support/stripe.ts';

const token = 'metrics-admin-token-0123456789';
const secret = 'whsec_metrics_test';

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/**
 * A strict reader of the Prometheus text exposition format (0.0.4): every non-empty line is a
 * HELP, a TYPE or a sample; every sample belongs to a declared family; label values are quoted and
 * escaped; histograms have cumulative buckets ending in +Inf equal to _count.
 */
function parsePrometheusText(text: string): { types: Map<string, string>; samples: Sample[] } {
  const types = new Map<string, string>();
  const samples: Sample[] = [];
  const name = '[a-zA-Z_:][a-zA-Z0-9_:]*';
  // Special values are case-insensitive, as Prometheus parses them (Go's ParseFloat); prom-client writes "Nan".
  const value = '(?:[+-]?(?:\\d+(?:\\.\\d*)?|\\.\\d+)(?:[eE][+-]?\\d+)?|[+-]?[Ii][Nn][Ff]|[Nn][Aa][Nn])';
  const sampleLine = new RegExp(`^(${name})(?:\\{(.*)\\})? (${value})(?: -?\\d+)?$`);
  const labelPair = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\[\\"n])*)"(,|$)/y;
  expect(text.endsWith('\n')).toBe(true);
  for (const line of text.split('\n').slice(0, -1)) {
    // The format allows empty lines (prom-client separates families with one).
    if (line === '') continue;
    if (line.startsWith('# HELP ')) {
      expect(line).toMatch(new RegExp(`^# HELP ${name} .*$`));
      continue;
    }
    if (line.startsWith('# TYPE ')) {
      const match = new RegExp(`^# TYPE (${name}) (counter|gauge|histogram|summary|untyped)$`).exec(line);
      expect(match, line).not.toBeNull();
      types.set(match![1]!, match![2]!);
      continue;
    }
    const match = sampleLine.exec(line);
    expect(match, `not a sample line: ${line}`).not.toBeNull();
    const labels: Record<string, string> = {};
    const rawLabels = match![2] ?? '';
    labelPair.lastIndex = 0;
    while (labelPair.lastIndex < rawLabels.length) {
      const pair = labelPair.exec(rawLabels);
      expect(pair, `bad labels in ${line}`).not.toBeNull();
      labels[pair![1]!] = pair![2]!;
    }
    const sampleName = match![1]!;
    const family = [sampleName, sampleName.replace(/_(bucket|sum|count|total|created)$/, '')].find((n) =>
      types.has(n),
    );
    expect(family, `sample ${sampleName} has no # TYPE`).toBeDefined();
    samples.push({ name: sampleName, labels, value: Number(match![3]!.replace(/inf/i, 'Infinity')) });
  }
  for (const [family, type] of types) {
    if (type !== 'histogram') continue;
    const series = new Map<string, Sample[]>();
    for (const sample of samples.filter((s) => s.name === `${family}_bucket`)) {
      const { le: _le, ...rest } = sample.labels;
      const key = JSON.stringify(rest);
      series.set(key, [...(series.get(key) ?? []), sample]);
    }
    for (const [key, buckets] of series) {
      const values = buckets.map((b) => b.value);
      expect([...values].sort((a, b) => a - b)).toEqual(values);
      expect(buckets.at(-1)!.labels.le).toBe('+Inf');
      const count = samples.find((s) => s.name === `${family}_count` && JSON.stringify(s.labels) === key);
      expect(count?.value).toBe(values.at(-1));
    }
  }
  return { types, samples };
}

function sampleValue(
  samples: Sample[],
  name: string,
  labels: Record<string, string> = {},
): number | undefined {
  return samples.find(
    (s) => s.name === name && Object.entries(labels).every(([key, value]) => s.labels[key] === value),
  )?.value;
}

describe.each(engines)('/metrics on %s', (engine) => {
  let cleanup: () => Promise<void>;
  let hookbox: Hookbox;
  const clock = createManualClock(Date.UTC(2026, 6, 1, 8));

  beforeEach(async () => {
    const created = await createTestStore(engine);
    cleanup = created.cleanup;
    hookbox = createHookbox({
      store: created.store,
      clock,
      random: () => 0,
      retry: { maxAttempts: 2 },
      sources: { stripe: { provider: 'stripe', secrets: [secret] } },
      handlers: {
        stripe: {
          'invoice.paid': () => {},
          'charge.failed': () => {
            throw new Error('card service down');
          },
        },
      },
      worker: { enabled: false },
      admin: { token },
    });
    await hookbox.start();
  });
  afterEach(async () => {
    await hookbox.stop();
    await cleanup();
  });

  const deliver = (body: string, signature: string, source = 'stripe') =>
    hookbox.fetch(
      new Request(`http://hookbox.test/webhooks/${source}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'stripe-signature': signature },
        body,
      }),
    );
  const now = () => Math.floor(clock.now() / 1000);

  async function scrape(auth: string | null = token) {
    const response = await hookbox.fetch(
      new Request('http://hookbox.test/metrics', {
        headers: auth ? { authorization: `Bearer ${auth}` } : {},
      }),
    );
    return response;
  }

  it('parses as Prometheus text, and its counters match the deliveries and attempts of the test', async () => {
    const paid1 = stripeEventBody('evt_1', 'invoice.paid');
    const paid2 = stripeEventBody('evt_2', 'invoice.paid');
    const failing = stripeEventBody('evt_3', 'charge.failed');
    for (const body of [paid1, paid2, failing, paid1]) {
      expect((await deliver(body, signStripe(body, secret, now()))).status).toBe(200);
    }
    const forged = stripeEventBody('evt_4');
    expect((await deliver(forged, signStripe(forged, 'whsec_wrong', now()))).status).toBe(401);
    expect((await deliver(forged, signStripe(forged, 'whsec_wrong', now()))).status).toBe(401);
    expect((await deliver(forged, signStripe(forged, secret, now() - 3600))).status).toBe(401);
    expect((await deliver(forged, 'x', 'nowhere')).status).toBe(404);
    // invoice.paid x2 processed; charge.failed fails once (retry due at once) then dies.
    expect(await hookbox.worker.processDue()).toBe(4);

    const response = await scrape();
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    const { types, samples } = parsePrometheusText(await response.text());

    const stripe = { source: 'stripe' };
    expect(types.get('hookbox_deliveries_received_total')).toBe('counter');
    expect(sampleValue(samples, 'hookbox_deliveries_received_total', stripe)).toBe(4);
    expect(sampleValue(samples, 'hookbox_deliveries_duplicate_total', stripe)).toBe(1);
    expect(
      sampleValue(samples, 'hookbox_deliveries_rejected_total', { ...stripe, reason: 'signature_mismatch' }),
    ).toBe(2);
    expect(
      sampleValue(samples, 'hookbox_deliveries_rejected_total', {
        ...stripe,
        reason: 'timestamp_outside_tolerance',
      }),
    ).toBe(1);
    expect(
      sampleValue(samples, 'hookbox_deliveries_rejected_total', {
        source: '(unknown)',
        reason: 'source_not_found',
      }),
    ).toBe(1);
    expect(sampleValue(samples, 'hookbox_events_processed_total', stripe)).toBe(2);
    expect(sampleValue(samples, 'hookbox_events_failed_total', stripe)).toBe(1);
    expect(sampleValue(samples, 'hookbox_events_dead_total', stripe)).toBe(1);

    expect(types.get('hookbox_ingest_latency_seconds')).toBe('histogram');
    expect(sampleValue(samples, 'hookbox_ingest_latency_seconds_count', stripe)).toBe(4);
    expect(
      sampleValue(samples, 'hookbox_handler_duration_seconds_count', { ...stripe, outcome: 'processed' }),
    ).toBe(2);
    expect(
      sampleValue(samples, 'hookbox_handler_duration_seconds_count', { ...stripe, outcome: 'failed' }),
    ).toBe(1);
    expect(
      sampleValue(samples, 'hookbox_handler_duration_seconds_count', { ...stripe, outcome: 'dead' }),
    ).toBe(1);

    // Gauges read the store: nothing waits; 2 of 3 finished events succeeded -> success rate fails -> DEGRADED.
    expect(types.get('hookbox_backlog_events')).toBe('gauge');
    expect(sampleValue(samples, 'hookbox_backlog_events')).toBe(0);
    expect(sampleValue(samples, 'hookbox_oldest_pending_age_seconds')).toBe(0);
    expect(sampleValue(samples, 'hookbox_health_status')).toBe(1);
    expect(sampleValue(samples, 'hookbox_health_check_passed', { check: 'successRate' })).toBe(0);
    expect(sampleValue(samples, 'hookbox_health_check_passed', { check: 'processingBacklog' })).toBe(1);

    // The same rejections, by reason, in the monitor's window metrics.
    const monitor = await hookbox.fetch(
      new Request('http://hookbox.test/api/admin/webhooks/monitor', {
        headers: { authorization: `Bearer ${token}` },
      }),
    );
    expect((await monitor.json()).data.metrics.rejected).toEqual({
      total: 4,
      byReason: { signature_mismatch: 2, timestamp_outside_tolerance: 1, source_not_found: 1 },
      bySource: { stripe: 3, '(unknown)': 1 },
    });

    // Process metrics.
    expect(types.get('process_cpu_user_seconds_total')).toBe('counter');
    expect(sampleValue(samples, 'nodejs_heap_size_total_bytes')).toBeGreaterThan(0);
  });

  it('reports backlog and oldest pending age as they stand at scrape time (after the health cache)', async () => {
    const body = stripeEventBody('evt_wait');
    await deliver(body, signStripe(body, secret, now()));
    clock.advance(90_000);
    const { samples } = parsePrometheusText(await (await scrape()).text());
    expect(sampleValue(samples, 'hookbox_backlog_events')).toBe(1);
    expect(sampleValue(samples, 'hookbox_oldest_pending_age_seconds')).toBe(90);
    expect(sampleValue(samples, 'hookbox_health_status')).toBe(0);
  });

  it('keeps each Hookbox instance on its own registry', async () => {
    const body = stripeEventBody('evt_own');
    await deliver(body, signStripe(body, secret, now()));
    const created = await createTestStore(engine);
    const other = createHookbox({
      store: created.store,
      clock,
      sources: { stripe: { provider: 'stripe', secrets: [secret] } },
      worker: { enabled: false },
      admin: { metricsPublic: true },
      monitor: { metrics: { processMetrics: false } },
    });
    try {
      const response = await other.fetch(new Request('http://hookbox.test/metrics'));
      expect(response.status).toBe(200);
      const { samples } = parsePrometheusText(await response.text());
      expect(sampleValue(samples, 'hookbox_deliveries_received_total', { source: 'stripe' })).toBeUndefined();
      expect(samples.some((s) => s.name.startsWith('process_'))).toBe(false);
      const mine = parsePrometheusText(await (await scrape()).text()).samples;
      expect(sampleValue(mine, 'hookbox_deliveries_received_total', { source: 'stripe' })).toBe(1);
    } finally {
      await created.cleanup();
    }
  });

  it('needs a token unless metrics are public', async () => {
    expect((await scrape(null)).status).toBe(401);
  });
});
