#!/usr/bin/env node
// npm run build: compile src/ to dist/ (ESM, .d.ts, source maps), then copy what the modules
// read at run time beside them: SQL statements, migrations, dashboard assets. Each of those
// modules finds its files with `new URL('./sql/', import.meta.url)`, so the same code runs
// from src/ (tests, tsx) and from dist/ (the published package).
import { execFileSync } from 'node:child_process';
import { cpSync, readdirSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, extname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const src = join(root, 'src');
const dist = join(root, 'dist');

rmSync(dist, { recursive: true, force: true });
const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
execFileSync(process.execPath, [tsc, '-p', join(root, 'tsconfig.build.json')], { stdio: 'inherit' });

let copied = 0;
for (const entry of readdirSync(src, { recursive: true, withFileTypes: true })) {
  if (!entry.isFile() || extname(entry.name) === '.ts') continue;
  const from = join(entry.parentPath, entry.name);
  cpSync(from, join(dist, relative(src, from)));
  copied += 1;
}
console.error(`dist/: compiled src/ and copied ${copied} SQL and asset files beside the modules`);
