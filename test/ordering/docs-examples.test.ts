/**
 * The config examples in docs/ordering.md, loaded as written through the same strict validation
 * as `hookbox serve`, and their ordering keys read from a payload. A block is picked up by the
 * `<!-- doc-test: NAME -->` comment just above it.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.ts';
import { resolveSources } from '../../src/config/sources.ts';

const doc = readFileSync(new URL('../../docs/ordering.md', import.meta.url), 'utf8');

function docBlock(name: string): string {
  const match = new RegExp(`<!-- doc-test: ${name} -->\\n\`\`\`\\w+\\n([\\s\\S]*?)\\n\`\`\``).exec(doc);
  if (!match?.[1]) throw new Error(`docs/ordering.md has no block marked doc-test: ${name}`);
  return match[1];
}

const folders: string[] = [];
afterAll(() => {
  for (const folder of folders) rmSync(folder, { recursive: true, force: true });
});

async function load(file: string, text: string) {
  const cwd = mkdtempSync(join(tmpdir(), 'hookbox-ordering-doc-'));
  folders.push(cwd);
  writeFileSync(join(cwd, file), text);
  // An ESM project, as a TypeScript config with `export default` expects.
  writeFileSync(join(cwd, 'package.json'), '{"type":"module"}\n');
  const env: Record<string, string> = { DATABASE_URL: 'file::memory:' };
  // Each ${NAME}, set to a secret of the form its scheme takes (whsec_ + base64).
  for (const [, name] of text.matchAll(/\$\{([A-Z0-9_]+)\}/g)) {
    env[name!] = `whsec_${Buffer.from(`secret-of-${name}`).toString('base64')}`;
  }
  const config = await loadConfig({ cwd, env });
  return resolveSources(config.sources);
}

describe('docs/ordering.md examples', () => {
  it('the JSON example orders Stripe per object with a 2 s window', async () => {
    const stripe = (await load('hookbox.config.json', docBlock('config-json'))).get('stripe')!;
    expect(stripe.ordering).toMatchObject({ reorderWindowMs: 2000, onDead: 'block' });
    expect(stripe.ordering!.readKey({ data: { object: { id: 'sub_1' } } })).toBe('sub_1');
  });

  it('the YAML example orders GitHub by the preset and a Standard Webhooks sender by two paths', async () => {
    const sources = await load('hookbox.config.yaml', docBlock('config-yaml'));
    const github = sources.get('github')!.ordering!;
    expect(github.readKey({ repository: { id: 9 }, issue: { number: 4 } })).toBe('9|4');
    const billing = sources.get('billing')!.ordering!;
    expect(billing.onDead).toBe('skip');
    expect(billing.readKey({ data: { customer_id: 'c1', invoice_id: 'i7' } })).toBe('c1|i7');
    expect(billing.readKey({ data: { customer_id: 'c1' } })).toBeUndefined();
  });

  it('the TypeScript example computes the key', async () => {
    // A .ts config reads process.env itself.
    process.env.SHOPIFY_WEBHOOK_SECRET ??= 'shpss_doc';
    const shopify = (await load('hookbox.config.ts', docBlock('config-ts'))).get('shopify')!.ordering!;
    expect(shopify.readKey({ order_id: 77, id: 5 })).toBe('77');
    expect(shopify.readKey({ id: 5 })).toBe('5');
    expect(shopify.readKey({})).toBeUndefined();
  });

  it('documents every preset the code has', async () => {
    const { presetPaths } = await import('../../src/ordering/presets.ts');
    for (const provider of Object.keys(presetPaths)) expect(doc).toContain(`| \`${provider}\``);
  });
});
