import { execFile } from 'node:child_process';
import { readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { createApp } from './support/apps.ts';
import { repoRoot } from './support/install.ts';

/**
 * The documentation's runnable examples, run as written against the packed package.
 *
 * The convention (also in docs/library.md, "Runnable examples"): a fenced block whose info
 * string is a language and then `runnable` is run; `ts`/`typescript` with tsx (as a user runs
 * a .ts file), `js`/`mjs` with node, `sh`/`bash` with bash -eu -o pipefail, with the installed
 * package's commands on PATH. `file=NAME` writes the block to that file instead of running it.
 * The blocks of one document run in order, in one fresh folder holding the installed tarball;
 * each must exit 0. STRIPE_WEBHOOK_SECRET is set to a test secret.
 */
const run = promisify(execFile);

interface Example {
  document: string;
  line: number;
  language: string;
  file: string | null;
  code: string;
}

function runnableExamples(document: string): Example[] {
  const text = readFileSync(join(repoRoot, document), 'utf8');
  const examples: Example[] = [];
  for (const match of text.matchAll(/^```(\w+)[ \t]+([^\n]*)\n([\s\S]*?)^```[ \t]*$/gm)) {
    const [, language, attributes, code] = match as unknown as [string, string, string, string];
    if (!/(^|\s)runnable(\s|$)/.test(attributes)) continue;
    examples.push({
      document,
      line: text.slice(0, match.index).split('\n').length,
      language,
      file: /(?:^|\s)file=(\S+)/.exec(attributes)?.[1] ?? null,
      code,
    });
  }
  return examples;
}

const documents = [
  'README.md',
  ...readdirSync(join(repoRoot, 'docs'))
    .filter((name) => name.endsWith('.md'))
    .map((name) => `docs/${name}`),
];
const byDocument = documents
  .map((document) => ({ document, examples: runnableExamples(document) }))
  .filter(({ examples }) => examples.length > 0);

const created: string[] = [];
afterAll(() => {
  for (const dir of created) rmSync(dirname(dir), { recursive: true, force: true });
});

it('finds the runnable examples (removing a marker by accident fails here)', () => {
  expect(byDocument.map(({ document }) => document)).toEqual(
    expect.arrayContaining(['README.md', 'docs/library.md']),
  );
  expect(byDocument.flatMap(({ examples }) => examples).length).toBeGreaterThanOrEqual(3);
});

describe.each(byDocument)('$document', ({ examples }) => {
  it(`runs its ${examples.length} runnable example(s) in order, each exiting 0`, async () => {
    // tsx is an optional peer of hookbox: the README tells a user with a hookbox.config.ts to
    // install it beside hookbox, so this app does too (the `.ts` examples run under it).
    const dir = createApp(join(repoRoot, 'test', 'consumer', 'apps', 'docs'), {
      tarball: inject('tarball'),
      packages: ['tsx'],
    });
    created.push(dir);
    const env = {
      PATH: `${join(dir, 'node_modules', '.bin')}:${process.env.PATH ?? ''}`,
      HOME: process.env.HOME ?? '',
      STRIPE_WEBHOOK_SECRET: 'whsec_docs_examples_secret',
    };
    for (const [index, example] of examples.entries()) {
      const where = `${example.document}:${example.line}`;
      if (example.file) {
        writeFileSync(join(dir, example.file), example.code);
        continue;
      }
      let command: string[];
      if (example.language === 'ts' || example.language === 'typescript') {
        writeFileSync(join(dir, `example-${index}.ts`), example.code);
        command = [process.execPath, '--import', 'tsx', `example-${index}.ts`];
      } else if (example.language === 'js' || example.language === 'mjs') {
        writeFileSync(join(dir, `example-${index}.mjs`), example.code);
        command = [process.execPath, `example-${index}.mjs`];
      } else if (example.language === 'sh' || example.language === 'bash') {
        command = ['bash', '-eu', '-o', 'pipefail', '-c', example.code];
      } else {
        throw new Error(`${where}: no runner for a runnable \`${example.language}\` block`);
      }
      try {
        await run(command[0]!, command.slice(1), { cwd: dir, env, timeout: 60_000 });
      } catch (error) {
        const { stdout, stderr } = error as { stdout?: string; stderr?: string };
        throw new Error(`${where} failed:\n${example.code}\n--- stdout\n${stdout}\n--- stderr\n${stderr}`);
      }
    }
  });
});
