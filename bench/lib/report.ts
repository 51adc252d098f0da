import type { EngineResults } from '../run.ts';
import type { ForwardResult } from '../scenarios/forward.ts';
import type { IndexCost } from '../scenarios/index-cost.ts';
import type { CountCheck, ServerFigures } from '../scenarios/ingest.ts';
import type { LatencyResult } from '../scenarios/latency.ts';
import type { OrderingResult } from '../scenarios/ordering.ts';
import type { ScaleResult } from '../scenarios/scale.ts';
import type { BenchSettings } from './settings.ts';
import type { Engine } from './targets.ts';

export interface TargetCheck {
  engine: Engine;
  metric: string;
  value: number | null;
  target: string;
  met: boolean | null;
}

export interface EngineSummary {
  ingest?: {
    rps: number;
    p50Ms: number;
    p99Ms: number;
    errors: number;
    ceilingRps: number;
    naiveRps: number;
    leanRps: number;
    vsCeiling: number;
    vsNaive: number;
    vsLean: number;
    leanVsCeiling: number;
    serverCpuMicrosPerRequest: number;
    backlogAfter: number;
    check: CountCheck | null;
    servers: { ceiling: ServerFigures; naive: ServerFigures; lean: ServerFigures; hookbox: ServerFigures };
  };
  drain?: {
    events: number;
    eventsPerSec: number;
    graphileDefaultPerSec: number;
    graphileThroughputPerSec: number;
    vsGraphileDefault: number;
    vsGraphileThroughput: number;
    peer: string;
  };
  latency?: LatencyResult;
  forward?: ForwardResult;
  memory?: { peakRssMb: number };
  /** PostgreSQL only: 1 and 2 Hookbox processes on one database. */
  scale?: ScaleResult;
  indexes?: IndexCost[];
  ordering?: OrderingResult;
  errors: EngineResults['errors'];
}

export interface Summary {
  bench: 'hookbox';
  mode: 'quick' | 'full';
  command: string;
  startedAt: string;
  durationSec: number;
  machine: Record<string, unknown>;
  settings: BenchSettings;
  engines: Partial<Record<Engine, EngineSummary>>;
  targets: TargetCheck[];
  countCheck: { ok: boolean; missing: number; checked: number };
  /** false when an acknowledged event is missing or a scenario crashed: the exit code follows it. */
  ok: boolean;
}

interface SummaryInput {
  mode: Summary['mode'];
  command: string;
  startedAt: string;
  durationSec: number;
  machine: Record<string, unknown>;
  settings: BenchSettings;
  results: Partial<Record<Engine, EngineResults>>;
}

export function summarize(input: SummaryInput): Summary {
  const engines: Summary['engines'] = {};
  const targets: TargetCheck[] = [];
  let missing = 0;
  let checked = 0;
  let crashed = false;
  const check = (
    engine: Engine,
    metric: string,
    value: number | undefined,
    target: string,
    met: (v: number) => boolean,
  ) => {
    const known = value !== undefined && Number.isFinite(value);
    targets.push({ engine, metric, value: known ? value : null, target, met: known ? met(value) : null });
  };

  for (const [engine, r] of Object.entries(input.results) as [Engine, EngineResults][]) {
    const summary: EngineSummary = { errors: r.errors };
    if (r.errors.length > 0) crashed = true;
    if (r.ingest) {
      const { ceiling, naive, lean, hookbox } = r.ingest;
      summary.ingest = {
        rps: hookbox.rps,
        p50Ms: hookbox.latencyMs.p50,
        p99Ms: hookbox.latencyMs.p99,
        errors: hookbox.errors,
        ceilingRps: ceiling.rps,
        naiveRps: naive.rps,
        leanRps: lean.rps,
        vsCeiling: r.ingest.vsCeiling,
        vsNaive: r.ingest.vsNaive,
        vsLean: r.ingest.vsLean,
        leanVsCeiling: r.ingest.leanVsCeiling,
        serverCpuMicrosPerRequest: hookbox.serverCpuMicrosPerRequest,
        backlogAfter: r.ingest.backlogAfter,
        check: hookbox.check ?? null,
        servers: { ceiling, naive, lean, hookbox },
      };
      summary.memory = { peakRssMb: hookbox.peakRssMb };
      for (const figures of [hookbox, naive, lean]) {
        if (figures.check) {
          missing += figures.check.missing;
          checked += figures.check.ackedEvents;
        }
      }
      check(engine, 'ingest.vsCeiling', r.ingest.vsCeiling, '>= 0.60', (v) => v >= 0.6);
      check(engine, 'ingest.vsLean', r.ingest.vsLean, '>= 0.80', (v) => v >= 0.8);
      check(engine, 'ingest.p99Ms', hookbox.latencyMs.p99, '< 50 (50 connections)', (v) => v < 50);
      check(engine, 'ingest.missing', hookbox.check?.missing, '= 0', (v) => v === 0);
      check(
        engine,
        'ingest.backlogAfter',
        r.ingest.backlogAfter,
        '= 0 (the worker keeps up)',
        (v) => v === 0,
      );
      if (engine === 'sqlite')
        check(
          engine,
          'ingest.serverCpuMicrosPerRequest',
          hookbox.serverCpuMicrosPerRequest,
          '< 80',
          (v) => v < 80,
        );
      check(engine, 'memory.peakRssMb', hookbox.peakRssMb, '< 120', (v) => v < 120);
    }
    if (r.latency) {
      summary.latency = r.latency;
      check(engine, 'latency.p50Ms', r.latency.p50, '< 5', (v) => v < 5);
      check(engine, 'latency.p99Ms', r.latency.p99, '< 25', (v) => v < 25);
    }
    if (r.drain) {
      summary.drain = {
        events: r.drain.events,
        eventsPerSec: r.drain.hookbox.eventsPerSec,
        graphileDefaultPerSec: r.drain.graphileDefaultPerSec,
        graphileThroughputPerSec: r.drain.graphileThroughputPerSec,
        vsGraphileDefault: r.drain.vsGraphileDefault,
        vsGraphileThroughput: r.drain.vsGraphileThroughput,
        peer: r.drain.peer,
      };
      check(engine, 'drain.vsGraphileThroughput', r.drain.vsGraphileThroughput, '>= 2', (v) => v >= 2);
    }
    if (r.forward) {
      summary.forward = r.forward;
      check(engine, 'forward.vsUndici', r.forward.vsUndici, '>= 0.50', (v) => v >= 0.5);
      // Every delivery acknowledged by Hookbox must have reached the destination.
      check(
        engine,
        'forward.delivered',
        r.forward.received.hookbox - r.forward.hookbox.delivered,
        '>= 0 (every success reached the destination)',
        (v) => v >= 0,
      );
      if (!r.forward.hookbox.complete) crashed = true;
    }
    if (r.indexes) summary.indexes = r.indexes;
    if (r.ordering) {
      summary.ordering = r.ordering;
      check(engine, 'ordering.vsUnordered', r.ordering.vsUnordered, '>= 0.8', (v) => v >= 0.8);
      check(engine, 'ordering.oneKey.overlaps', r.ordering.oneKey.overlaps, '0', (v) => v === 0);
    }
    if (r.scale) {
      summary.scale = r.scale;
      missing += r.scale.missing;
      checked += r.scale.acked;
    }
    engines[engine] = summary;
  }
  return {
    bench: 'hookbox',
    mode: input.mode,
    command: input.command,
    startedAt: input.startedAt,
    durationSec: input.durationSec,
    machine: input.machine,
    settings: input.settings,
    engines,
    targets,
    countCheck: { ok: missing === 0, missing, checked },
    ok: missing === 0 && !crashed,
  };
}

function fmt(value: number | undefined | null, digits = 0): string {
  if (value === undefined || value === null || !Number.isFinite(value)) return '-';
  return value.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((row) => (row[i] ?? '').length)));
  const line = (row: string[]) =>
    `| ${row.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!))).join(' | ')} |`;
  const rule = `|${widths.map((w, i) => (i === 0 ? `:${'-'.repeat(w + 1)}` : `${'-'.repeat(w + 1)}:`)).join('|')}|`;
  return [line(rows[0]!), rule, ...rows.slice(1).map(line)].join('\n');
}

/** The Markdown tables docs/benchmarks.md carries. */
export function formatTable(summary: Summary, options: { markdown?: boolean } = {}): string {
  const out: string[] = [];
  const ingestRows: string[][] = [
    [
      'ingest (50 connections)',
      'req/s',
      'p50 ms',
      'p99 ms',
      'errors',
      'peak RSS MB',
      'acked / missing',
      'server CPU µs/req',
      'cores: server / load / pg / other',
    ],
  ];
  for (const [engine, s] of Object.entries(summary.engines) as [Engine, EngineSummary][]) {
    if (!s.ingest) continue;
    const { ceiling, naive, lean, hookbox } = s.ingest.servers;
    const row = (name: string, f: ServerFigures) => [
      `${engine}: ${name}`,
      fmt(f.rps),
      fmt(f.latencyMs.p50),
      fmt(f.latencyMs.p99),
      fmt(f.errors),
      fmt(f.peakRssMb),
      f.check ? `${fmt(f.check.ackedEvents)} / ${fmt(f.check.missing)}` : '-',
      fmt(f.serverCpuMicrosPerRequest),
      [f.cpu.server, f.cpu.loadGenerator, f.cpu.postgres, f.cpu.other].map((x) => fmt(x, 2)).join(' / '),
    ];
    ingestRows.push(
      row('ceiling, bare node:http', ceiling),
      row('naive, 1 INSERT per request', naive),
      row('lean reference, same durability', lean),
      row('hookbox (worker on, no-op handler)', hookbox),
    );
  }
  if (ingestRows.length > 1) out.push(table(ingestRows));

  const ratioRows: string[][] = [['figure', ...Object.keys(summary.engines)]];
  const engineList = Object.values(summary.engines) as EngineSummary[];
  const add = (label: string, pick: (s: EngineSummary) => string) =>
    ratioRows.push([label, ...engineList.map(pick)]);
  add('ingest.vsCeiling (target >= 0.60)', (s) => fmt(s.ingest?.vsCeiling, 2));
  add('ingest.vsLean (target >= 0.80)', (s) => fmt(s.ingest?.vsLean, 2));
  add('ingest lean reference / ceiling', (s) => fmt(s.ingest?.leanVsCeiling, 2));
  add('ingest.vsNaive', (s) => fmt(s.ingest?.vsNaive, 2));
  add('ingest server CPU µs/req, hookbox (target < 80 on SQLite)', (s) =>
    fmt(s.ingest?.serverCpuMicrosPerRequest),
  );
  add('ingest backlog left after the rounds (target 0)', (s) => fmt(s.ingest?.backlogAfter));
  add('drain events/s, hookbox', (s) => fmt(s.drain?.eventsPerSec));
  add('drain events/s, graphile-worker default', (s) => fmt(s.drain?.graphileDefaultPerSec));
  add('drain events/s, graphile-worker throughput', (s) => fmt(s.drain?.graphileThroughputPerSec));
  add('drain.vsGraphileDefault', (s) => fmt(s.drain?.vsGraphileDefault, 2));
  add('drain.vsGraphileThroughput (target >= 2)', (s) => fmt(s.drain?.vsGraphileThroughput, 2));
  add('latency p50 ms, sent -> handler (target < 5)', (s) => fmt(s.latency?.p50, 2));
  add('latency p99 ms, sent -> handler (target < 25)', (s) => fmt(s.latency?.p99, 2));
  add('latency achieved rate /s', (s) => fmt(s.latency?.achievedRate));
  add('forward events/s, hookbox to a no-op destination', (s) => fmt(s.forward?.hookbox.eventsPerSec));
  add('forward events/s, bare undici loop, same bodies and headers', (s) =>
    fmt(s.forward?.undici.eventsPerSec),
  );
  add('forward.vsUndici (target >= 0.50)', (s) => fmt(s.forward?.vsUndici, 2));
  add('memory peak RSS MB, ingest (target < 120)', (s) => fmt(s.memory?.peakRssMb));
  add('ordering: drain events/s, unordered / ordered over the keys', (s) =>
    s.ordering
      ? `${fmt(s.ordering.unorderedPerSec)} / ${fmt(s.ordering.orderedPerSec)} (${fmt(s.ordering.events)} events, ${fmt(s.ordering.keys)} keys)`
      : '-',
  );
  add('ordering.vsUnordered (target >= 0.8), median of the rounds', (s) =>
    s.ordering
      ? `${fmt(s.ordering.vsUnordered, 2)} (${s.ordering.rounds.map((r) => fmt(r.vsUnordered, 2)).join(', ')})`
      : '-',
  );
  add('ordering: one key, events/s (overlapping runs, target 0)', (s) =>
    s.ordering
      ? `${fmt(s.ordering.oneKey.eventsPerSec)} (${fmt(s.ordering.oneKey.overlaps)} of ${fmt(s.ordering.oneKey.events)})`
      : '-',
  );
  add('scale: req/s with 1 / 2 processes on one PostgreSQL', (s) =>
    s.scale ? s.scale.steps.map((step) => fmt(step.rps)).join(' / ') : '-',
  );
  add('scale: cores used by other work, 1 / 2 processes', (s) =>
    s.scale ? s.scale.steps.map((step) => fmt(step.otherCores, 2)).join(' / ') : '-',
  );
  out.push(table(ratioRows));

  const indexRows: string[][] = [
    ['optional index: what it serves', 'engine', 'µs/event with', 'without', 'cost'],
  ];
  for (const [engine, s] of Object.entries(summary.engines) as [Engine, EngineSummary][]) {
    for (const c of s.indexes ?? []) {
      indexRows.push([
        `${c.index}: ${c.serves}`,
        engine,
        fmt(c.withMicros, 1),
        fmt(c.withoutMicros, 1),
        fmt(c.costMicros, 1),
      ]);
    }
  }
  if (indexRows.length > 1) out.push(table(indexRows));

  const missed = summary.targets.filter((t) => t.met === false);
  out.push(
    `count check: ${summary.countCheck.ok ? 'ok' : 'FAILED'} (${fmt(summary.countCheck.checked)} acknowledged events checked, ${fmt(summary.countCheck.missing)} missing)`,
  );
  if (options.markdown) {
    if (missed.length === 0) out.push('targets: all met');
  } else
    out.push(
      missed.length === 0
        ? 'targets: all met'
        : `targets missed: ${missed.map((t) => `${t.engine} ${t.metric} = ${fmt(t.value, 2)} (target ${t.target})`).join('; ')}`,
    );
  for (const [engine, s] of Object.entries(summary.engines) as [Engine, EngineSummary][]) {
    for (const e of s.errors) out.push(`CRASHED: ${engine} ${e.scenario}: ${e.message}`);
  }
  return out.join('\n\n');
}

/** The generated part of docs/benchmarks.md: conditions, command, tables, targets. */
export function formatMarkdown(summary: Summary): string {
  const m = summary.machine as {
    cpu?: string;
    memoryGb?: number;
    node?: string;
    sqlite?: string;
    postgres?: string | null;
    loadAverageAtStart?: number[];
    loadAverageAtEnd?: number[];
  };
  const others = (Object.values(summary.engines) as EngineSummary[])
    .flatMap((s) => (s.ingest ? Object.values(s.ingest.servers).map((f) => f.cpu.other) : []))
    .filter((x) => Number.isFinite(x));
  const lines = [
    `Run of ${summary.startedAt.replace('T', ' ').replace(/\.\d+Z$/, ' UTC')} (${summary.mode}, ${fmt(summary.durationSec)} s): \`${summary.command}\``,
    '',
    `- machine: ${m.cpu}, ${m.memoryGb} GB RAM; Node ${m.node}; SQLite ${m.sqlite}; PostgreSQL ${m.postgres ?? '-'}`,
    `- load average at start / end: ${m.loadAverageAtStart?.join(' ')} / ${m.loadAverageAtEnd?.join(' ')}`,
    others.length > 0
      ? `- cores taken by other work on the machine during the ingest rounds: ${fmt(Math.min(...others), 2)} to ${fmt(Math.max(...others), 2)} (of 2)`
      : '',
    '',
    formatTable(summary, { markdown: true }),
  ];
  const missed = summary.targets.filter((t) => t.met === false);
  if (missed.length > 0) {
    lines.push('', '| target missed | engine | measured | target |', '|:--|:--|--:|:--|');
    for (const t of missed) lines.push(`| ${t.metric} | ${t.engine} | ${fmt(t.value, 2)} | ${t.target} |`);
  }
  return lines.filter((line, i, all) => !(line === '' && all[i - 1] === '')).join('\n');
}

export const docsMarkers = { start: '<!-- bench:results:start -->', end: '<!-- bench:results:end -->' };

/** Replace the generated section of a docs file (between the markers) with this run's results. */
export function replaceDocsSection(document: string, summary: Summary): string {
  const start = document.indexOf(docsMarkers.start);
  const end = document.indexOf(docsMarkers.end);
  if (start === -1 || end === -1 || end < start) {
    throw new Error(`the docs file has no ${docsMarkers.start} ... ${docsMarkers.end} section to replace`);
  }
  return `${document.slice(0, start + docsMarkers.start.length)}\n${formatMarkdown(summary)}\n${document.slice(end)}`;
}
