import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const hookboxBin = fileURLToPath(new URL('../../bin/hookbox.js', import.meta.url));

/** The variables that define sources without a config file, emptied: only a test's config defines sources. */
export const withoutEnvSources = {
  STRIPE_WEBHOOK_SECRET: '',
  PAYPAL_WEBHOOK_ID: '',
  TWILIO_AUTH_TOKEN: '',
  FIREBASE_PUSH_AUDIENCE: '',
  FIREBASE_PUSH_SERVICE_ACCOUNT: '',
  STANDARD_WEBHOOKS_SECRET: '',
  GITHUB_WEBHOOK_SECRET: '',
  SHOPIFY_WEBHOOK_SECRET: '',
  SLACK_SIGNING_SECRET: '',
};

export interface ServerProcess {
  url: string;
  process: ChildProcess;
  /** Every line the server printed (stdout and stderr). */
  output: string[];
  /** SIGKILL: no shutdown code runs. */
  kill(): Promise<void>;
  /** SIGTERM and wait for exit. */
  stop(): Promise<number | null>;
}

/** Start `hookbox serve` on a free port and resolve once it logs that it listens. */
export function startServerProcess(options: {
  cwd: string;
  env?: Record<string, string>;
  args?: string[];
  /** Options of `serve` itself, such as --demo. */
  serveArgs?: string[];
}): Promise<ServerProcess> {
  return startProcess(
    [
      process.execPath,
      hookboxBin,
      ...(options.args ?? []),
      'serve',
      '--port',
      '0',
      ...(options.serveArgs ?? []),
    ],
    {
      cwd: options.cwd,
      env: { ...process.env, LOG_FORMAT: 'json', LOG_LEVEL: 'info', ...options.env },
      listeningUrl: (line) =>
        line.includes('hookbox listening') ? (JSON.parse(line) as { url: string }).url : null,
    },
  );
}

/** Start `command` and resolve once `listeningUrl` finds the URL it serves in a line it printed. */
export function startProcess(
  command: string[],
  options: { cwd: string; env: NodeJS.ProcessEnv; listeningUrl: (line: string) => string | null },
): Promise<ServerProcess> {
  const child = spawn(command[0]!, command.slice(1), {
    cwd: options.cwd,
    env: options.env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const output: string[] = [];
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`server did not start in time:\n${output.join('\n')}`)),
      30_000,
    );
    const onLine = (line: string) => {
      output.push(line);
      const url = options.listeningUrl(line);
      if (!url) return;
      clearTimeout(timer);
      resolve({
        url,
        process: child,
        output,
        kill: async () => {
          child.kill('SIGKILL');
          await exited;
        },
        stop: async () => {
          child.kill('SIGTERM');
          return exited;
        },
      });
    };
    for (const stream of [child.stdout!, child.stderr!]) {
      let buffered = '';
      stream.on('data', (chunk: Buffer) => {
        buffered += chunk.toString();
        const lines = buffered.split('\n');
        buffered = lines.pop()!;
        for (const line of lines) onLine(line);
      });
    }
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`server exited with ${code} before listening:\n${output.join('\n')}`));
    });
  });
}

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Run the hookbox CLI to completion. */
export function runCli(
  args: string[],
  options: { cwd: string; env?: Record<string, string> },
): Promise<CliResult> {
  const child = spawn(process.execPath, [hookboxBin, ...args], {
    cwd: options.cwd,
    env: { ...process.env, LOG_FORMAT: 'json', ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk) => {
    stdout += chunk;
  });
  child.stderr.on('data', (chunk) => {
    stderr += chunk;
  });
  return new Promise((resolve) => child.once('close', (code) => resolve({ code, stdout, stderr })));
}

export async function waitUntil<T>(
  probe: () => Promise<T | undefined | false>,
  timeoutMs = 20_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** A TypeScript process run with tsx that prints `ready` once it runs (the worker processes of the property tests). */
export interface ReadyProcess {
  child: ChildProcess;
  pid: number;
  /** When the parent saw it exit, by `now`: nothing of the process runs after that. */
  exited: Promise<number>;
  /** Everything it printed so far (stdout and stderr chunks). */
  output: string[];
}

/**
 * Spawn `script` under tsx with `env` added to this process's environment, and resolve once it
 * prints `ready`; reject with its output if it exits first or is not ready within 30 s.
 */
export function spawnReadyProcess(
  script: string,
  env: Record<string, string>,
  now: () => number = Date.now,
): Promise<ReadyProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', script], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const output: string[] = [];
  const exited = new Promise<number>((resolve) => child.once('exit', () => resolve(now())));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`worker process did not start:\n${output.join('')}`)),
      30_000,
    );
    child.stderr!.on('data', (chunk) => output.push(String(chunk)));
    child.stdout!.on('data', (chunk) => {
      output.push(String(chunk));
      if (output.join('').includes('ready')) {
        clearTimeout(timer);
        resolve({ child, pid: child.pid!, exited, output });
      }
    });
    void exited.then(() => {
      clearTimeout(timer);
      reject(new Error(`worker process exited before it was ready:\n${output.join('')}`));
    });
  });
}
