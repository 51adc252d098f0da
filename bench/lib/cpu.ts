import { readdirSync, readFileSync } from 'node:fs';

/** Clock ticks per second for /proc times (USER_HZ; 100 on Linux). */
const ticks = 100;

/** CPU seconds (user + system) a process has used, or NaN once it is gone. */
export function processCpuSeconds(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may hold spaces) start after the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / ticks;
  } catch {
    return Number.NaN;
  }
}

/** CPU seconds used so far by every process whose command is `name` (PostgreSQL's backends). */
export function commandCpuSeconds(name: string): number {
  let total = 0;
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const comm = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      if (comm !== name) continue;
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      total += (Number(fields[11]) + Number(fields[12])) / ticks;
    } catch {
      // The process ended while we looked.
    }
  }
  return total;
}

/** Busy and total CPU seconds of the whole machine (all cores) so far. */
export function machineCpuSeconds(): { busy: number; total: number } {
  const line = readFileSync('/proc/stat', 'utf8').split('\n')[0]!;
  const values = line.trim().split(/\s+/).slice(1).map(Number);
  const total = values.slice(0, 8).reduce((a, b) => a + b, 0);
  const idle = (values[3] ?? 0) + (values[4] ?? 0);
  return { busy: (total - idle) / ticks, total: total / ticks };
}

export interface CpuSnapshot {
  server: number;
  postgres: number;
  machine: { busy: number; total: number };
  at: number;
}

export function snapshotCpu(serverPid: number): CpuSnapshot {
  return {
    server: processCpuSeconds(serverPid),
    postgres: commandCpuSeconds('postgres'),
    machine: machineCpuSeconds(),
    at: performance.now(),
  };
}

/** Where the CPU went between two snapshots, in cores (1 = one core busy the whole time). */
export interface CpuShare {
  server: number;
  loadGenerator: number;
  postgres: number;
  /** Everything else on the machine: other people's work, the kernel's. */
  other: number;
  /** Cores in the machine. */
  cores: number;
}

export function cpuShare(before: CpuSnapshot, after: CpuSnapshot, loadGeneratorSeconds: number): CpuShare {
  const wall = (after.at - before.at) / 1000;
  const round = (x: number) => Math.round(x * 100) / 100;
  const busy = after.machine.busy - before.machine.busy;
  const server = after.server - before.server;
  // Backends that exit between the snapshots take their time with them: never below zero.
  const postgres = Math.max(0, after.postgres - before.postgres);
  const cores = (after.machine.total - before.machine.total) / wall;
  return {
    server: round(server / wall),
    loadGenerator: round(loadGeneratorSeconds / wall),
    postgres: round(postgres / wall),
    other: round(Math.max(0, busy - server - postgres - loadGeneratorSeconds) / wall),
    cores: Math.round(cores),
  };
}
