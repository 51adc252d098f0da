import type { EngineResults } from '../run.ts';
import type { CountCheck, ServerFigures } from '../scenarios/ingest.ts';
import type { LatencyResult } from '../scenarios/latency.ts';
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
    vsCeiling: number;
    vsNaive: number;
    check: CountCheck | null;
    servers: { ceiling: ServerFigures; naive: ServerFigures; hookbox: ServerFigures };
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
  memory?: { peakRssMb: number };
  /** PostgreSQL only: 1 and 2 Hookbox processes on one database. */
  scale?: ScaleResult;
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
      const { ceiling, naive, hookbox } = r.ingest;
      summary.ingest = {
        rps: hookbox.rps,
        p50Ms: hookbox.latencyMs.p50,
        p99Ms: hookbox.latencyMs.p99,
        errors: hookbox.errors,
        ceilingRps: ceiling.rps,
        naiveRps: naive.rps,
        vsCeiling: r.ingest.vsCeiling,
        vsNaive: r.ingest.vsNaive,
        check: hookbox.check ?? null,
        servers: { ceiling, naive, hookbox },
      };
      summary.memory = { peakRssMb: hookbox.peakRssMb };
      for (const figures of [hookbox, naive]) {
        if (figures.check) {
          missing += figures.check.missing;
          checked += figures.check.ackedEvents;
        }
      }
      check(engine, 'ingest.vsCeiling', r.ingest.vsCeiling, '>= 0.60', (v) => v >= 0.6);
      check(engine, 'ingest.vsNaive', r.ingest.vsNaive, '>= 4', (v) => v >= 4);
      check(engine, 'ingest.p99Ms', hookbox.latencyMs.p99, '< 50 (50 connections)', (v) => v < 50);
      check(engine, 'ingest.missing', hookbox.check?.missing, '= 0', (v) => v === 0);
      check(engine, 'memory.peakRssMb', hookbox.peakRssMb, '< 150', (v) => v < 150);
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
      check(engine, 'drain.vsGraphileDefault', r.drain.vsGraphileDefault, '>= 1.5', (v) => v >= 1.5);
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
    const { ceiling, naive, hookbox } = s.ingest.servers;
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
      row('hookbox, group commit', hookbox),
    );
  }
  if (ingestRows.length > 1) out.push(table(ingestRows));

  const ratioRows: string[][] = [['figure', ...Object.keys(summary.engines)]];
  const engineList = Object.values(summary.engines) as EngineSummary[];
  const add = (label: string, pick: (s: EngineSummary) => string) =>
    ratioRows.push([label, ...engineList.map(pick)]);
  add('ingest.vsCeiling (target >= 0.60)', (s) => fmt(s.ingest?.vsCeiling, 2));
  add('ingest.vsNaive (target >= 4)', (s) => fmt(s.ingest?.vsNaive, 2));
  add('drain events/s, hookbox', (s) => fmt(s.drain?.eventsPerSec));
  add('drain events/s, graphile-worker default', (s) => fmt(s.drain?.graphileDefaultPerSec));
  add('drain events/s, graphile-worker throughput', (s) => fmt(s.drain?.graphileThroughputPerSec));
  add('drain.vsGraphileDefault (target >= 1.5)', (s) => fmt(s.drain?.vsGraphileDefault, 2));
  add('drain.vsGraphileThroughput', (s) => fmt(s.drain?.vsGraphileThroughput, 2));
  add('latency p50 ms, sent -> handler (target < 5)', (s) => fmt(s.latency?.p50, 2));
  add('latency p99 ms, sent -> handler (target < 25)', (s) => fmt(s.latency?.p99, 2));
  add('latency achieved rate /s', (s) => fmt(s.latency?.achievedRate));
  add('memory peak RSS MB, ingest (target < 150)', (s) => fmt(s.memory?.peakRssMb));
  add('scale: req/s with 1 / 2 processes on one PostgreSQL', (s) =>
    s.scale ? s.scale.steps.map((step) => fmt(step.rps)).join(' / ') : '-',
  );
  add('scale: cores used by other work, 1 / 2 processes', (s) =>
    s.scale ? s.scale.steps.map((step) => fmt(step.otherCores, 2)).join(' / ') : '-',
  );
  out.push(table(ratioRows));

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
