import type { Command } from 'commander';
import { resolveSources } from '../config/sources.ts';
import type { Source } from '../ingest/source.ts';
import { getProvider } from '../providers/registry.ts';
import { fail, loadCliConfig } from './shared.ts';

export interface SourceChoice {
  /** Settings as JSON, for a scheme used without a config file (tests, vectors, one-off checks). */
  settings?: string;
  provider?: string;
}

/**
 * The source a CLI command acts as: `--settings` (with `--provider` or the name as provider)
 * builds one on the spot; otherwise the configured source of that name, or the only
 * configured source using that provider.
 */
export async function resolveCliSource(
  name: string,
  choice: SourceChoice,
  command: Command,
): Promise<Source> {
  if (choice.settings !== undefined) {
    let settings: Record<string, unknown>;
    try {
      settings = JSON.parse(choice.settings);
    } catch {
      fail('--settings must be a JSON object, e.g. \'{"secrets":["whsec_..."]}\'', 2);
    }
    const provider = choice.provider ?? name;
    try {
      getProvider(provider);
      // Problems name the flag the settings came from, not a config file's `sources.<name>`.
      const nameOf = (_source: string, path: string) => (path === '' ? '--settings' : `--settings ${path}`);
      return resolveSources({ [name]: { ...settings, provider } }, { nameOf }).get(name)!;
    } catch (error) {
      fail((error as Error).message, 2);
    }
  }
  const config = await loadCliConfig(command);
  const sources = resolveSources(config.sources);
  const byName = sources.get(name);
  if (byName) return byName;
  const byProvider = [...sources.values()].filter((s) => s.provider.name === (choice.provider ?? name));
  if (byProvider.length === 1) return byProvider[0]!;
  const known = [...sources.keys()].join(', ') || '(none)';
  fail(
    byProvider.length > 1
      ? `several sources use provider "${name}" (${byProvider.map((s) => s.name).join(', ')}): name one`
      : `no source "${name}" is configured (configured: ${known}); pass --settings to use a scheme without config`,
    2,
  );
}
