/**
 * Summarize a V8 CPU profile (`node --cpu-prof`, or `npm run bench -- --profile`): the
 * functions with the most self time, and the share of time by file group.
 *
 * Usage: node --import tsx bench/profile-summary.ts FILE.cpuprofile [top=25]
 */
import { readFileSync } from 'node:fs';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
  children?: number[];
}
interface Profile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

const [file, topArg] = process.argv.slice(2);
if (!file) {
  process.stderr.write('usage: node --import tsx bench/profile-summary.ts FILE.cpuprofile [top]\n');
  process.exit(2);
}
const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile;
const top = Number(topArg ?? 25);

const byId = new Map(profile.nodes.map((n) => [n.id, n]));
const selfMicros = new Map<number, number>();
for (let i = 0; i < profile.samples.length; i++) {
  const id = profile.samples[i]!;
  selfMicros.set(id, (selfMicros.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0));
}
const sampled = [...selfMicros.values()].reduce((a, b) => a + b, 0);
// Shares are of busy time: a server waiting for its load (or for the database) is idle, and
// counting that would dilute everything else.
let idle = 0;
for (const [id, micros] of selfMicros) if (byId.get(id)?.callFrame.functionName === '(idle)') idle += micros;
const total = sampled - idle;

function shortUrl(url: string): string {
  const nm = url.lastIndexOf('node_modules/');
  if (nm !== -1) return url.slice(nm + 'node_modules/'.length);
  const src = url.search(/\/(src|bench)\//);
  if (src !== -1) return url.slice(src + 1);
  return url.replace(/^node:/, 'node:');
}

function groupOf(node: ProfileNode): string {
  const { url, functionName } = node.callFrame;
  if (url === '')
    return functionName === '(garbage collector)'
      ? 'gc'
      : functionName === '(idle)'
        ? 'idle'
        : `(${functionName || 'native'})`;
  if (url.includes('node_modules/')) {
    const rest = url.slice(url.lastIndexOf('node_modules/') + 'node_modules/'.length).split('/');
    return rest[0]!.startsWith('@') ? `${rest[0]}/${rest[1]}` : rest[0]!;
  }
  if (url.startsWith('node:')) return 'node core';
  const match = /\/(src|bench)\/([^/]+)/.exec(url);
  return match ? `${match[1]}/${match[2]}` : url;
}

const byFunction = new Map<string, number>();
const byGroup = new Map<string, number>();
for (const [id, micros] of selfMicros) {
  const node = byId.get(id)!;
  const { functionName, url, lineNumber } = node.callFrame;
  const key = `${functionName || '(anonymous)'}  ${url ? `${shortUrl(url)}:${lineNumber + 1}` : ''}`;
  byFunction.set(key, (byFunction.get(key) ?? 0) + micros);
  const group = groupOf(node);
  byGroup.set(group, (byGroup.get(group) ?? 0) + micros);
}

const pct = (micros: number) => `${((micros / total) * 100).toFixed(1).padStart(5)}%`;
process.stdout.write(
  `${file}: ${(sampled / 1e6).toFixed(2)} s sampled, ${(total / 1e6).toFixed(2)} s busy (shares below are of busy time)\n\nby group:\n`,
);
for (const [group, micros] of [...byGroup]
  .sort((a, b) => b[1] - a[1])
  .filter(([g]) => g !== 'idle')
  .slice(0, 20)) {
  process.stdout.write(`  ${pct(micros)}  ${group}\n`);
}
// Inclusive time: a node's own samples plus its descendants', summed per function (a function
// that appears on its own stack is counted once per stack, by skipping nested repeats).
const parentOf = new Map<number, number>();
for (const node of profile.nodes) for (const child of node.children ?? []) parentOf.set(child, node.id);
const inclusive = new Map<string, number>();
for (const [id, micros] of selfMicros) {
  const seen = new Set<string>();
  for (let at: number | undefined = id; at !== undefined; at = parentOf.get(at)) {
    const node = byId.get(at)!;
    const { functionName, url, lineNumber } = node.callFrame;
    if (!url.includes('/src/')) continue;
    const key = `${functionName || '(anonymous)'}  ${shortUrl(url)}:${lineNumber + 1}`;
    if (seen.has(key)) continue;
    seen.add(key);
    inclusive.set(key, (inclusive.get(key) ?? 0) + micros);
  }
}
process.stdout.write(`\ntop ${top} Hookbox (src/) functions by inclusive time:\n`);
for (const [key, micros] of [...inclusive].sort((a, b) => b[1] - a[1]).slice(0, top)) {
  process.stdout.write(`  ${pct(micros)}  ${key}\n`);
}
process.stdout.write(`\ntop ${top} functions by self time:\n`);
for (const [key, micros] of [...byFunction]
  .sort((a, b) => b[1] - a[1])
  .filter(([key]) => !key.startsWith('(idle)'))
  .slice(0, top)) {
  process.stdout.write(`  ${pct(micros)}  ${key}\n`);
}
