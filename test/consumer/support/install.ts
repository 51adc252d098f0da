/**
 * Installing the packed tarball into fresh apps, quickly and without the network.
 *
 * Each app gets its own node_modules: `hookbox` unpacked from the tarball exactly as npm would
 * place it, and every package it (and the app) needs, copied from the repository's
 * node_modules as hard links (a plain copy where /tmp is another file system). Only the
 * closure of declared dependencies is copied, so a module the package imports but does not
 * declare fails here as it would for a user. better-sqlite3 comes with the native module
 * the repository already built: nothing is compiled per app.
 */
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readFileSync, symlinkSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const repoRoot = fileURLToPath(new URL('../../../', import.meta.url));
const repoModules = join(repoRoot, 'node_modules');

interface Manifest {
  name: string;
  dependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
  bin?: string | Record<string, string>;
}

const readManifest = (dir: string): Manifest => JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));

/** Where `name` resolves from a package directory inside the repository's node_modules. */
function resolvePackageDir(fromDir: string, name: string): string | null {
  for (let dir = fromDir; dir.startsWith(repoModules); dir = dirname(dir)) {
    const candidate = join(dir, 'node_modules', name);
    if (existsSync(join(candidate, 'package.json'))) return candidate;
  }
  const top = join(repoModules, name);
  return existsSync(join(top, 'package.json')) ? top : null;
}

/**
 * The top-level packages (names in the repository's node_modules) that `names` need, walking
 * dependencies, optional and peer dependencies that are installed. Nested node_modules travel
 * with their parent package.
 */
export function dependencyClosure(names: string[]): Set<string> {
  const topLevel = new Set<string>();
  const visited = new Set<string>();
  const visit = (dir: string, name: string) => {
    if (visited.has(dir)) return;
    visited.add(dir);
    if (dir === join(repoModules, name)) topLevel.add(name);
    const manifest = readManifest(dir);
    const wanted = {
      ...manifest.peerDependencies,
      ...manifest.optionalDependencies,
      ...manifest.dependencies,
    };
    for (const dependency of Object.keys(wanted)) {
      const found = resolvePackageDir(dir, dependency);
      if (found) visit(found, dependency);
    }
  };
  for (const name of names) {
    const dir = resolvePackageDir(repoModules, name);
    if (!dir) throw new Error(`${name} is not installed in the repository (run npm ci)`);
    visit(dir, name);
  }
  return topLevel;
}

function copyPackage(from: string, to: string): void {
  mkdirSync(dirname(to), { recursive: true });
  try {
    execFileSync('cp', ['-al', from, to], { stdio: 'pipe' });
  } catch {
    cpSync(from, to, { recursive: true, verbatimSymlinks: true });
  }
}

function linkBins(modules: string, name: string): void {
  const dir = join(modules, name);
  const { bin } = readManifest(dir);
  if (!bin) return;
  const bins = typeof bin === 'string' ? { [name.split('/').pop()!]: bin } : bin;
  mkdirSync(join(modules, '.bin'), { recursive: true });
  for (const [command, target] of Object.entries(bins)) {
    const link = join(modules, '.bin', command);
    if (!existsSync(link)) symlinkSync(join('..', name, target), link);
  }
}

export interface InstallOptions {
  /** The tarball `npm pack` made. */
  tarball: string;
  /** What the app itself depends on (frameworks, stripe, typescript...). */
  packages?: string[];
  /** Dependencies of hookbox left out on purpose (tsx: prove nothing needs it at run time). */
  without?: string[];
}

/** Install the tarball and `packages` into `appDir/node_modules`. */
export function installInto(appDir: string, options: InstallOptions): void {
  const modules = join(appDir, 'node_modules');
  const hookboxDir = join(modules, 'hookbox');
  mkdirSync(hookboxDir, { recursive: true });
  execFileSync('tar', ['-xzf', options.tarball, '-C', hookboxDir, '--strip-components=1']);
  const declared = Object.keys(readManifest(hookboxDir).dependencies ?? {});
  const without = new Set(options.without ?? []);
  const roots = [...declared.filter((name) => !without.has(name)), ...(options.packages ?? [])];
  for (const name of dependencyClosure(roots)) {
    if (without.has(name)) continue;
    copyPackage(join(repoModules, name), join(modules, name));
  }
  for (const name of ['hookbox', ...(options.packages ?? [])]) linkBins(modules, name);
}
