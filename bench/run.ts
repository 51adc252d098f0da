/**
 * Hookbox's benchmark suite: each scenario runs Hookbox beside its baseline or peer in the
 * same run, every server and the load generator in its own process, over loopback.
 *
 *   npm run bench                      full run (a few minutes)
 *   npm run bench -- --quick           the same scenarios, shorter (under a minute)
 *   npm run bench -- --json            only the JSON summary on stdout (the table goes to stderr)
 *   npm run bench -- --engine sqlite   one engine (sqlite | postgres)
 *   npm run bench -- --only ingest,latency   (scenarios: ingest, drain, latency, forward, scale, indexes, ordering)
 *   npm run bench -- --profile         write V8 CPU profiles of every server to .bench/profiles/
 *   npm run bench -- --update-docs     put this run's results into docs/benchmarks.md
 *   npm run -s bench -- --quick --json only JSON on stdout (-s: without npm's own banner)
 *
 * Exits non-zero only when an acknowledged event is missing from the store or a scenario
 * crashes; a missed target is reported, not fatal.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { repoRoot, setChildNodeFlags, workDir } from './lib/processes.ts';
import { formatTable, replaceDocsSection, type Summary, summarize } from './lib/report.ts';
import { benchSettings } from './lib/settings.ts';
import { dropTargets, type Engine, engines, queryPostgres } from './lib/targets.ts';
import { type DrainResult, type GraphileFigures, runDrain, runGraphile } from './scenarios/drain.ts';
import { type ForwardResult, runForward } from './scenarios/forward.ts';
import { type IndexCost, runIndexCost } from './scenarios/index-cost.ts';
import { type IngestResult, runIngest } from './scenarios/ingest.ts';
import { type LatencyResult, runLatency } from './scenarios/latency.ts';
import { type OrderingResult, runOrdering } from './scenarios/ordering.ts';
import { runScale, type ScaleResult } from './scenarios/scale.ts';

const scenarioNames = ['ingest', 'drain', 'latency', 'forward', 'scale', 'indexes', 'ordering'] as const;
type ScenarioName = (typeof scenarioNames)[number];

export interface EngineResults {
  ingest?: IngestResult;
  drain?: DrainResult;
  latency?: LatencyResult;
  /** Forwarding to a no-op destination against a bare undici loop. */
  forward?: ForwardResult;
  scale?: ScaleResult;
  /** What each optional index costs an event's record + finish. */
  indexes?: IndexCost[];
  /** Ordering per key vs the unordered drain, and one key (docs/ordering.md). */
  ordering?: OrderingResult;
  errors: { scenario: string; message: string }[];
}

function parseArgs(argv: string[]) {
  const args = {
    quick: false,
    json: false,
    profile: false,
    /** Write this run's results into docs/benchmarks.md (between its bench:results markers). */
    updateDocs: false,
    engines: [...engines] as Engine[],
    only: null as ScenarioName[] | null,
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const value = () => {
      const next = arg.includes('=') ? arg.slice(arg.indexOf('=') + 1) : argv[++i];
      if (!next) throw new Error(`${arg} needs a value`);
      return next;
    };
    if (arg === '--quick') args.quick = true;
    else if (arg === '--json') args.json = true;
    else if (arg === '--profile') args.profile = true;
    else if (arg === '--update-docs') args.updateDocs = true;
    else if (arg.startsWith('--engine')) {
      args.engines = value().split(',') as Engine[];
      for (const e of args.engines)
        if (!engines.includes(e)) throw new Error(`unknown engine "${e}": use sqlite or postgres`);
    } else if (arg.startsWith('--only')) {
      args.only = value().split(',') as ScenarioName[];
      for (const s of args.only)
        if (!scenarioNames.includes(s))
          throw new Error(`unknown scenario "${s}": use ${scenarioNames.join(', ')}`);
    } else if (arg === '--help' || arg === '-h') {
      process.stdout.write(
        'usage: npm run bench -- [--quick] [--json] [--engine sqlite|postgres] [--only ingest,drain,latency,forward,scale,indexes,ordering] [--profile] [--update-docs]\n',
      );
      process.exit(0);
    } else throw new Error(`unknown option ${arg} (see --help)`);
  }
  // `scale` (several processes on one PostgreSQL) and `indexes` belong to the full run; --quick
  // leaves them out.
  const only =
    args.only ?? scenarioNames.filter((name) => !(args.quick && (name === 'scale' || name === 'indexes')));
  return { ...args, only };
}

async function describeMachine(usePostgres: boolean) {
  const sqlite = new Database(':memory:');
  const sqliteVersion = (sqlite.prepare('SELECT sqlite_version() AS v').get() as { v: string }).v;
  sqlite.close();
  let postgres: string | null = null;
  if (usePostgres) {
    const rows = await queryPostgres<{ server_version: string }>('SHOW server_version');
    const sync = await queryPostgres<{ synchronous_commit: string }>('SHOW synchronous_commit');
    postgres = `${rows[0]?.server_version} (synchronous_commit=${sync[0]?.synchronous_commit})`;
  }
  return {
    cpu: `${cpus().length} x ${cpus()[0]?.model ?? 'unknown'}`,
    memoryGb: Math.round(totalmem() / 2 ** 30),
    node: process.version,
    sqlite: `${sqliteVersion} (WAL, synchronous=FULL)`,
    postgres,
    loadAverageAtStart: loadavg().map((x) => Math.round(x * 100) / 100),
  };
}

async function main(): Promise<number> {
  const args = parseArgs(process.argv.slice(2));
  const settings = benchSettings(args.quick);
  const begun = performance.now();
  const log = (line: string) =>
    process.stderr.write(`${((performance.now() - begun) / 1000).toFixed(1).padStart(6)} s  ${line}\n`);
  mkdirSync(workDir, { recursive: true });
  // Hookbox is measured as deployed: the compiled package (dist/), built from these sources now.
  log('building dist/ (npm run build)');
  execFileSync(process.execPath, [join(repoRoot, 'scripts', 'build.mjs')], {
    cwd: repoRoot,
    stdio: 'ignore',
  });
  if (args.profile) {
    const dir = join(workDir, 'profiles');
    mkdirSync(dir, { recursive: true });
    setChildNodeFlags(['--cpu-prof', `--cpu-prof-dir=${dir}`]);
    log(`profiling: CPU profiles go to ${dir}`);
  }

  const startedAt = new Date();
  const t0 = performance.now();
  const needsPostgres = args.engines.includes('postgres') || args.only.includes('drain');
  const machine = await describeMachine(needsPostgres);
  const results: Partial<Record<Engine, EngineResults>> = {};
  const attempt = async <T>(
    engine: Engine,
    scenario: string,
    work: () => Promise<T>,
  ): Promise<T | undefined> => {
    try {
      return await work();
    } catch (error) {
      const message = (error as Error).stack ?? String(error);
      log(`[${engine}] ${scenario} crashed: ${message}`);
      results[engine]!.errors.push({ scenario, message: (error as Error).message });
      return undefined;
    }
  };

  try {
    for (const engine of args.engines) {
      const engineResults: EngineResults = { errors: [] };
      results[engine] = engineResults;
      if (args.only.includes('ingest'))
        engineResults.ingest = await attempt(engine, 'ingest', () => runIngest(engine, settings, log));
      if (args.only.includes('latency'))
        engineResults.latency = await attempt(engine, 'latency', () => runLatency(engine, settings, log));
      if (args.only.includes('forward'))
        engineResults.forward = await attempt(engine, 'forward', () => runForward(engine, settings, log));
      if (args.only.includes('indexes')) {
        log(`[${engine}] index costs: record + finish with and without each optional index`);
        engineResults.indexes = await attempt(engine, 'indexes', () => runIndexCost(engine, args.quick));
      }
      if (args.only.includes('ordering'))
        engineResults.ordering = await attempt(engine, 'ordering', () => runOrdering(engine, settings, log));
    }
    if (args.only.includes('drain')) {
      // graphile-worker runs on PostgreSQL only: measured once, the peer of both engines' drains.
      const first = args.engines[0]!;
      const graphile: GraphileFigures | undefined = await attempt(first, 'drain (graphile-worker)', () =>
        runGraphile(settings, log),
      );
      for (const engine of args.engines) {
        if (graphile)
          results[engine]!.drain = await attempt(engine, 'drain', () =>
            runDrain(engine, settings, graphile, log),
          );
      }
    }
    if (args.only.includes('scale') && args.engines.includes('postgres')) {
      results.postgres!.scale = await attempt('postgres', 'scale', () => runScale(settings, log));
    }
  } finally {
    await dropTargets();
  }

  const summary: Summary = summarize({
    mode: args.quick ? 'quick' : 'full',
    command: `npm run bench --${process.argv.slice(2).length ? ` ${process.argv.slice(2).join(' ')}` : ''}`,
    startedAt: startedAt.toISOString(),
    durationSec: Math.round((performance.now() - t0) / 100) / 10,
    machine: { ...machine, loadAverageAtEnd: loadavg().map((x) => Math.round(x * 100) / 100) },
    settings,
    results,
  });
  writeFileSync(join(workDir, `last-${summary.mode}.json`), `${JSON.stringify(summary, null, 2)}\n`);
  const table = formatTable(summary);
  if (args.updateDocs) {
    const docs = join(repoRoot, 'docs', 'benchmarks.md');
    writeFileSync(docs, replaceDocsSection(readFileSync(docs, 'utf8'), summary));
    // The tables come out unpadded; `npm run check` formats Markdown with biome, so do it here.
    execFileSync(join(repoRoot, 'node_modules', '.bin', 'biome'), ['format', '--write', docs], {
      stdio: 'ignore',
    });
    log(`wrote this run's results into ${docs}`);
  }
  if (args.json) {
    process.stderr.write(`${table}\n`);
    process.stdout.write(`${JSON.stringify(summary, null, 2)}\n`);
  } else {
    process.stdout.write(
      `${table}\n\nJSON summary: ${join(workDir, `last-${summary.mode}.json`)} (or run with --json)\n`,
    );
  }
  return summary.ok ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  async (error) => {
    process.stderr.write(`bench failed: ${(error as Error).stack ?? error}\n`);
    await dropTargets().catch(() => {});
    process.exit(1);
  },
);
