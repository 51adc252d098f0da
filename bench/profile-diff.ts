/**
 * Where one CPU profile spent more time than another: self time per function, in ms, of B
 * minus A, largest first (for example the unordered and the ordered drain servers of one
 * `npm run bench -- --only ordering --profile` run; `.bench/profiles/servers.txt` says which
 * file is which server).
 *
 * Usage: node --import tsx bench/profile-diff.ts A.cpuprofile B.cpuprofile [top=30]
 */
import { readFileSync } from 'node:fs';

interface Profile {
  nodes: { id: number; callFrame: { functionName: string; url: string; lineNumber: number } }[];
  samples: number[];
  timeDeltas: number[];
}

function readSelfTimes(file: string): Map<string, number> {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile;
  const nodes = new Map(profile.nodes.map((n) => [n.id, n]));
  const micros = new Map<number, number>();
  profile.samples.forEach((id, i) => {
    micros.set(id, (micros.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0));
  });
  const byFunction = new Map<string, number>();
  for (const [id, us] of micros) {
    const { functionName, url, lineNumber } = nodes.get(id)!.callFrame;
    const where = url.replace(/.*node_modules\//, '').replace(/^.*?\/(src|bench|test)\//, '$1/');
    const name = `${functionName || '(anonymous)'} ${where}${where ? `:${lineNumber + 1}` : ''}`;
    byFunction.set(name, (byFunction.get(name) ?? 0) + us);
  }
  return byFunction;
}

const [a, b, topArg] = process.argv.slice(2);
if (!a || !b) {
  process.stderr.write('usage: node --import tsx bench/profile-diff.ts A.cpuprofile B.cpuprofile [top]\n');
  process.exit(2);
}
const before = readSelfTimes(a);
const after = readSelfTimes(b);
const names = new Set([...before.keys(), ...after.keys()]);
const rows = [...names]
  .map((name) => ({ name, ms: ((after.get(name) ?? 0) - (before.get(name) ?? 0)) / 1000 }))
  .sort((x, y) => y.ms - x.ms)
  .slice(0, Number(topArg ?? 30));
for (const { name, ms } of rows) process.stdout.write(`${ms.toFixed(0).padStart(7)} ms  ${name}\n`);
