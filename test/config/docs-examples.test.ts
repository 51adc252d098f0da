import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.ts';

// Every JSON and YAML block in docs/configuration.md is a whole config file: each must load
// as written, through the same strict validation as `hookbox serve`.
const doc = readFileSync(new URL('../../docs/configuration.md', import.meta.url), 'utf8');
const blocks = [...doc.matchAll(/^```(json|yaml)\n([\s\S]*?)^```$/gm)].map((m) => ({
  format: m[1] as 'json' | 'yaml',
  text: m[2]!,
}));

const folders: string[] = [];
afterAll(() => {
  for (const folder of folders) rmSync(folder, { recursive: true, force: true });
});

describe('docs/configuration.md', () => {
  it('has JSON and YAML examples', () => {
    expect(blocks.map((b) => b.format).sort()).toEqual(['json', 'yaml']);
  });

  it.each(blocks)('its $format example loads as written', async ({ format, text }) => {
    const cwd = mkdtempSync(join(tmpdir(), 'hookbox-docs-config-'));
    folders.push(cwd);
    writeFileSync(join(cwd, `hookbox.config.${format}`), text);
    // Each ${NAME} the example uses, set to a value of the kind it stands for.
    const env: Record<string, string> = {};
    for (const [, name] of text.matchAll(/\$\{([A-Z0-9_]+)\}/g)) {
      env[name!] = name!.startsWith('STRIPE') ? `whsec_${name}` : `value-of-${name}-at-least-16`;
    }
    const config = await loadConfig({ cwd, env });
    expect(Object.keys(config.sources).length).toBeGreaterThan(0);
    expect(config.databaseUrl).toContain('value-of-DB_PASSWORD');
  });
});
