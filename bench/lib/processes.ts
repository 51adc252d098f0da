import { type ChildProcess, spawn } from 'node:child_process';
import { appendFileSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { PacedLoadOptions, PacedLoadResult } from '../load/paced-load.ts';
import type { LoadOptions, LoadResult } from '../load/stripe-load.ts';
import type { ChildMessage } from '../servers/child.ts';

export const repoRoot = fileURLToPath(new URL('../../', import.meta.url));
export const workDir = join(repoRoot, '.bench');

/** Extra node flags for every bench child (`--cpu-prof` when profiling). */
let childNodeFlags: string[] = [];
export function setChildNodeFlags(flags: string[]): void {
  childNodeFlags = flags;
}

export interface ServerHandle {
  readonly name: string;
  readonly pid: number;
  readonly port: number;
  readonly url: string;
  /** Ask the server for its measurements. */
  report<T>(): Promise<T>;
  /** The peak resident set size of the server process so far (VmHWM), in MB. */
  peakRssMb(): number;
  stop(): Promise<void>;
}

function startChild(script: string, config: unknown, ipc: boolean, extraFlags: string[] = []): ChildProcess {
  // A plain JavaScript server (the deployed Hookbox) runs without the TypeScript loader.
  const loader = script.endsWith('.mjs') ? [] : ['--import', 'tsx'];
  return spawn(process.execPath, [...childNodeFlags, ...extraFlags, ...loader, join(repoRoot, script)], {
    cwd: repoRoot,
    env: { ...process.env, BENCH_CONFIG: JSON.stringify(config), NODE_ENV: 'production' },
    stdio: ipc ? ['ignore', 'pipe', 'pipe', 'ipc'] : ['ignore', 'pipe', 'pipe'],
  });
}

function collect(child: ChildProcess): () => string {
  let output = '';
  const keep = (chunk: Buffer) => {
    output = (output + chunk.toString('utf8')).slice(-8_000);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  return () => output;
}

/** Start a bench server as its own process and wait for it to say it is ready. */
export async function startServer(
  name: string,
  script: string,
  config: unknown,
  timeoutMs = 30_000,
): Promise<ServerHandle> {
  const child = startChild(script, config, true);
  if (childNodeFlags.some((flag) => flag.startsWith('--cpu-prof'))) {
    // Profiles are named by pid: say which server each pid was.
    const dir = childNodeFlags
      .find((flag) => flag.startsWith('--cpu-prof-dir='))
      ?.slice('--cpu-prof-dir='.length);
    if (dir) appendFileSync(join(dir, 'servers.txt'), `${child.pid} ${name} ${JSON.stringify(config)}\n`);
  }
  const output = collect(child);
  const pending = new Map<number, (report: unknown) => void>();
  let nextId = 1;
  let exitCode: number | null | undefined;
  const exited = new Promise<void>((resolve) => {
    child.on('exit', (code, signal) => {
      exitCode = code ?? (signal ? -1 : null);
      for (const resolveReport of pending.values()) resolveReport({ error: `${name} exited` });
      resolve();
    });
  });

  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${name} did not start within ${timeoutMs} ms:\n${output()}`));
    }, timeoutMs);
    child.on('message', (message: ChildMessage) => {
      if (message.type === 'ready') {
        clearTimeout(timer);
        resolve(message.port ?? 0);
      } else if (message.type === 'report') {
        pending.get(message.id)?.(message.report);
        pending.delete(message.id);
      }
    });
    child.on('exit', () => {
      clearTimeout(timer);
      reject(new Error(`${name} exited before it was ready (code ${exitCode}):\n${output()}`));
    });
  });

  return {
    name,
    pid: child.pid!,
    port,
    url: `http://127.0.0.1:${port}`,
    report<T>() {
      if (exitCode !== undefined) return Promise.reject(new Error(`${name} has exited:\n${output()}`));
      const id = nextId++;
      return new Promise<T>((resolve, reject) => {
        pending.set(id, (report) => {
          const failed = (report as { error?: string } | undefined)?.error;
          if (failed) reject(new Error(`${name}: ${failed}\n${output()}`));
          else resolve(report as T);
        });
        child.send({ type: 'report', id });
      });
    },
    peakRssMb() {
      return readPeakRssMb(child.pid!);
    },
    async stop() {
      if (exitCode !== undefined) return;
      child.send({ type: 'stop' });
      const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** VmHWM of a live process: its peak resident set size since it started. */
export function readPeakRssMb(pid: number): number {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const match = /VmHWM:\s+(\d+)\s+kB/.exec(status);
    return match ? Math.round(Number(match[1]) / 102.4) / 10 : Number.NaN;
  } catch {
    return Number.NaN;
  }
}

/** Run the load generator (autocannon) as its own process against one server. */
export function runLoad(options: Omit<LoadOptions, 'outFile'>): Promise<LoadResult> {
  return runLoadScript('bench/load/stripe-load.ts', options, options.warmupSec + options.durationSec);
}

/** Run the paced (fixed-rate) load generator as its own process. */
export function runPacedLoad(options: Omit<PacedLoadOptions, 'outFile'>): Promise<PacedLoadResult> {
  return runLoadScript('bench/load/paced-load.ts', options, options.warmupSec + options.durationSec);
}

async function runLoadScript<R>(script: string, options: object, seconds: number): Promise<R> {
  const outFile = join(workDir, `load-${process.pid}-${Date.now()}.json`);
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', join(repoRoot, script), JSON.stringify({ ...options, outFile })],
    {
      cwd: repoRoot,
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  const output = collect(child);
  // Bounded in time whatever happens: the phases' length plus a minute.
  const timer = setTimeout(() => child.kill('SIGKILL'), seconds * 1000 + 60_000);
  const code = await new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
  clearTimeout(timer);
  if (code !== 0) throw new Error(`the load generator ${script} failed (exit ${code}):\n${output()}`);
  try {
    return JSON.parse(readFileSync(outFile, 'utf8')) as R;
  } finally {
    rmSync(outFile, { force: true });
  }
}

/** What the deployed Hookbox bench server (servers/hookbox-deployed.mjs) is started with. */
export interface DeployedHookboxConfig {
  mode: 'ingest' | 'latency';
  databaseUrl: string;
  secret: string;
  source: string;
  worker?: { batchSize?: number; concurrency?: number };
}

/** Hookbox as deployed: the compiled package's standalone server, in its own plain-JS process. */
export function startDeployedHookbox(name: string, config: DeployedHookboxConfig): Promise<ServerHandle> {
  return startServer(name, 'bench/servers/hookbox-deployed.mjs', config);
}
