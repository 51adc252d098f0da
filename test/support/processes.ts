import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const hookboxBin = fileURLToPath(new URL('../../bin/hookbox.js', import.meta.url));

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
}): Promise<ServerProcess> {
  const child = spawn(process.execPath, [hookboxBin, ...(options.args ?? []), 'serve', '--port', '0'], {
    cwd: options.cwd,
    env: { ...process.env, LOG_FORMAT: 'json', LOG_LEVEL: 'info', ...options.env },
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
      if (!line.includes('hookbox listening')) return;
      clearTimeout(timer);
      const url = (JSON.parse(line) as { url: string }).url;
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
