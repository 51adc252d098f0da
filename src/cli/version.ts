import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * Hookbox's version from its package.json, found by walking up from this module: the same
 * code runs from src/cli/ (tsx) and from the compiled dist/cli/, at different depths.
 */
export function readVersion(from: string = fileURLToPath(import.meta.url)): string {
  for (let dir = dirname(from); ; dir = dirname(dir)) {
    const file = join(dir, 'package.json');
    if (existsSync(file)) {
      const manifest = JSON.parse(readFileSync(file, 'utf8')) as { name?: string; version?: string };
      if (manifest.name === 'hookbox' && manifest.version) return manifest.version;
    }
    if (dirname(dir) === dir) throw new Error(`no package.json of hookbox above ${from}`);
  }
}
