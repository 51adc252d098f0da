/**
 * globalSetup of the consumer suites: `npm pack` the repository once (its prepack builds
 * dist/), into a temporary folder the tests install from.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';
import { repoRoot } from './install.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    /** The tarball `npm pack` made of this checkout. */
    tarball: string;
  }
}

export default function setup(project: TestProject): () => void {
  const dir = mkdtempSync(join(tmpdir(), 'hookbox-pack-'));
  const started = Date.now();
  const output = execFileSync('npm', ['pack', '--json', '--pack-destination', dir], {
    cwd: repoRoot,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  // npm prints the lifecycle scripts' own output before its JSON.
  const [{ filename }] = JSON.parse(output.slice(output.search(/^\[/m))) as [{ filename: string }];
  console.log(`npm pack (build included) took ${((Date.now() - started) / 1000).toFixed(1)} s`);
  project.provide('tarball', join(dir, filename));
  return () => rmSync(dir, { recursive: true, force: true });
}
