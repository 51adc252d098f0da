// biome-ignore-all lint/suspicious/noTemplateCurlyInString: ${VAR} substitution is what these tests are about.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.ts';
import { ConfigError } from '../../src/config/problems.ts';

const folders: string[] = [];
afterAll(() => {
  for (const folder of folders) rmSync(folder, { recursive: true, force: true });
});

function folderWith(files: Record<string, string>): string {
  const cwd = mkdtempSync(join(tmpdir(), 'hookbox-formats-'));
  folders.push(cwd);
  for (const [name, text] of Object.entries(files)) writeFileSync(join(cwd, name), text);
  return cwd;
}

async function problemsIn(cwd: string, env: Record<string, string> = {}, configFile?: string) {
  try {
    await loadConfig({ cwd, configFile, env: { DATABASE_URL: 'file::memory:', ...env } });
    return [];
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    return error.problems;
  }
}

const asModule = `export default {
  sources: { stripe: { provider: 'stripe', secrets: ['whsec_one', 'whsec_two'], mode: 'sync' } },
  server: { port: 4100, host: '0.0.0.0' },
  worker: { concurrency: 4 },
  retry: { maxAttempts: 3 },
  monitor: { thresholds: { maxBacklog: 7 } },
};
`;
const asJson = JSON.stringify({
  sources: { stripe: { provider: 'stripe', secrets: ['${STRIPE_NEW}', '${STRIPE_OLD}'], mode: 'sync' } },
  server: { port: 4100, host: '0.0.0.0' },
  worker: { concurrency: 4 },
  retry: { maxAttempts: 3 },
  monitor: { thresholds: { maxBacklog: 7 } },
});
const asYaml = `# the same config as YAML
sources:
  stripe:
    provider: stripe
    secrets: ["\${STRIPE_NEW}", "\${STRIPE_OLD}"]
    mode: sync
server: { port: 4100, host: 0.0.0.0 }
worker: { concurrency: 4 }
retry: { maxAttempts: 3 }
monitor:
  thresholds: { maxBacklog: 7 }
`;
const secrets = { STRIPE_NEW: 'whsec_one', STRIPE_OLD: 'whsec_two' };

describe('JSON and YAML configs', () => {
  it('resolve to what the same config in a module resolves to, secrets from ${VAR}', async () => {
    const load = (files: Record<string, string>) =>
      loadConfig({ cwd: folderWith(files), env: { DATABASE_URL: 'file::memory:', ...secrets } });
    const fromModule = await load({ 'hookbox.config.mjs': asModule });
    const comparable = ({ configFile: _file, ...rest }: Awaited<ReturnType<typeof load>>) => rest;
    expect(fromModule.sources.stripe).toMatchObject({ secrets: ['whsec_one', 'whsec_two'] });
    for (const [name, text] of [
      ['hookbox.config.json', asJson],
      ['hookbox.config.yaml', asYaml],
      ['hookbox.config.yml', asYaml],
    ] as const) {
      const loaded = await load({ [name]: text });
      expect(loaded.configFile).toMatch(/hookbox\.config\.(json|yaml|yml)$/);
      expect(comparable(loaded)).toEqual(comparable(fromModule));
    }
  });

  it('are as strict as a module: an unknown key gets the nearest known one', async () => {
    const cwd = folderWith({
      'hookbox.config.yaml': 'sources:\n  s: { provider: stripe, secret: whsec_x, mod: sync }\n',
    });
    expect(await problemsIn(cwd)).toEqual(['sources.s.mod: unknown key; did you mean `mode`?']);
  });

  it('refuse handlers, saying where they go', async () => {
    const cwd = folderWith({ 'hookbox.config.json': '{"handlers": {"stripe": {}}}' });
    expect(await problemsIn(cwd)).toEqual([
      'handlers: hookbox.config.json cannot hold handlers (they are functions): register them in a hookbox.config.ts or .mjs file instead, which takes every other key too',
    ]);
  });

  it('name each unset or empty variable once, with the path that uses it', async () => {
    const cwd = folderWith({
      'hookbox.config.yaml':
        'sources:\n  stripe: { provider: stripe, secrets: ["${STRIPE_NEW}", "${STRIPE_OLD}"] }\nserver: { port: "${HOOKBOX_PORT}" }\n',
    });
    expect(await problemsIn(cwd, { STRIPE_NEW: 'whsec_one', STRIPE_OLD: '' })).toEqual([
      'sources.stripe.secrets.1: ${STRIPE_OLD} is empty in the environment: set STRIPE_OLD, or write the value in the file',
      'server.port: ${HOOKBOX_PORT} is not set in the environment: set HOOKBOX_PORT, or write the value in the file',
    ]);
  });

  it('substitute inside a string, take $${ as a literal ${, and refuse a malformed reference', async () => {
    const cwd = folderWith({
      'hookbox.config.json': JSON.stringify({
        database: 'postgres://hookbox:${DB_PASSWORD}@db.internal/hookbox',
        sources: { g: { provider: 'github', secret: 'a$${literal}' } },
        server: { port: '${HOOKBOX_PORT}' },
      }),
    });
    const loaded = await loadConfig({ cwd, env: { DB_PASSWORD: 'pw', HOOKBOX_PORT: '4200' } });
    expect(loaded.databaseUrl).toBe('postgres://hookbox:pw@db.internal/hookbox');
    expect(loaded.sources.g).toMatchObject({ secret: 'a${literal}' });
    expect(loaded.server.port).toBe(4200);

    const bad = folderWith({
      'hookbox.config.json': '{"sources":{"g":{"provider":"github","secret":"${1X}"}}}',
    });
    expect(await problemsIn(bad)).toEqual([
      'sources.g.secret: "${1X}" is not a variable reference: use ${NAME} with letters, digits and _, or $${ for a literal ${',
    ]);
  });

  it('report syntax errors with their line and column', async () => {
    const json = folderWith({ 'hookbox.config.json': '{\n  "sources": {,}\n}' });
    const [jsonProblem] = await problemsIn(json);
    expect(jsonProblem).toMatch(/^hookbox\.config\.json: not valid JSON: .*\(line 2, column \d+\)$/);
    const yaml = folderWith({ 'hookbox.config.yaml': 'sources:\n  a: 1\n  a: 2\n' });
    expect(await problemsIn(yaml)).toEqual([
      'hookbox.config.yaml: not valid YAML: Map keys must be unique at line 3, column 3',
    ]);
  });

  it('must hold an object', async () => {
    expect(await problemsIn(folderWith({ 'hookbox.config.yaml': '- stripe\n' }))).toEqual([
      'hookbox.config.yaml: must hold an object of settings, such as { "sources": { ... } }',
    ]);
  });
});

describe('finding the config file', () => {
  it('is ambiguous when two formats sit side by side', async () => {
    const cwd = folderWith({ 'hookbox.config.mjs': 'export default {};\n', 'hookbox.config.json': '{}' });
    expect(await problemsIn(cwd)).toEqual([
      `found hookbox.config.mjs and hookbox.config.json in ${cwd}: keep one, or choose with --config (using hookbox.config.mjs for the other checks)`,
    ]);
    expect(await problemsIn(cwd, {}, 'hookbox.config.json')).toEqual([]);
  });

  it('refuses an extension it cannot read, and a file that does not exist', async () => {
    const cwd = folderWith({ 'hookbox.toml': '' });
    await expect(loadConfig({ cwd, configFile: 'hookbox.toml' })).rejects.toThrow(
      'hookbox.toml: a config file ends in .ts, .mjs or .js',
    );
    await expect(loadConfig({ cwd, configFile: 'missing.json' })).rejects.toThrow(
      /--config: .*missing\.json does not exist/,
    );
  });
});
