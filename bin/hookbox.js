#!/usr/bin/env node
// The `hookbox` command. An installed package runs the compiled dist/ (no TypeScript at run
// time). A checkout of the repository, where src/ sits beside this file, runs the sources
// through tsx instead, so a stale dist/ from an earlier build is never what runs.
import { existsSync } from 'node:fs';

const source = new URL('../src/cli/main.ts', import.meta.url);
if (existsSync(source)) {
  const { register } = await import('tsx/esm/api');
  register();
  await import(source.href);
} else {
  await import('../dist/cli/main.js');
}
