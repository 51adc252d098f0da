import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

// A fresh clone has nothing beside it: no test, script or code may read outside the repository.
// (The needles are split so this file does not match itself.)
const root = fileURLToPath(new URL('../../', import.meta.url));
const needles = ['../' + 'shared', 'shared/' + 'test-vectors', '/work/' + 'shared'];

function files(dir: string): string[] {
  return readdirSync(join(root, dir), { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile() && /\.(ts|mjs|js|json|sh)$/.test(entry.name))
    .map((entry) => relative(root, join(entry.parentPath, entry.name)));
}

describe('the repository stands alone', () => {
  it('names no path outside itself (the shared folder beside the checkout)', () => {
    const scanned = [
      ...['src', 'test', 'bench', 'scripts', 'bin', 'examples', '.ci'].flatMap(files),
      ...readdirSync(root).filter((name) => /^(package\.json|vitest\..*\.ts|tsconfig.*\.json)$/.test(name)),
      '.ci/run',
    ];
    expect(scanned.length).toBeGreaterThan(100);
    const offending = scanned.filter((file) =>
      needles.some((needle) => readFileSync(join(root, file), 'utf8').includes(needle)),
    );
    expect(offending).toEqual([]);
  });
});
