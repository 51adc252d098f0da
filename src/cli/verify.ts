import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { resolveCliSource, type SourceChoice } from './resolve-source.ts';
import { fail, parseTimeOption } from './shared.ts';

interface VerifyOptions extends SourceChoice {
  body: string;
  headers: string;
  url?: string;
  at?: string;
}

export function registerVerifyCommand(program: Command): void {
  program
    .command('verify')
    .description('check a captured delivery: exit 0 when it verifies, 1 with the precise reason when not')
    .argument('<source>', 'a configured source name, or a provider name with --settings')
    .requiredOption('--body <file>', 'the raw body bytes as received')
    .requiredOption('--headers <file>', 'a JSON object of request headers')
    .option('--url <url>', 'the public URL it was posted to (schemes that sign the URL)', 'http://localhost/')
    .option('--at <time>', 'verify as of this time (ISO 8601 or unix seconds); default now')
    .option('--provider <name>', 'the scheme, when <source> is not a provider name')
    .option('--settings <json>', 'scheme settings as JSON, instead of the config')
    .action(async (name: string, options: VerifyOptions, command: Command) => {
      const source = await resolveCliSource(name, options, command);
      let headers: Headers;
      try {
        const parsed = JSON.parse(readFileSync(options.headers, 'utf8')) as Record<string, string | string[]>;
        headers = new Headers();
        for (const [key, value] of Object.entries(parsed)) {
          for (const v of Array.isArray(value) ? value : [value]) headers.append(key, String(v));
        }
      } catch (error) {
        fail(`--headers must name a JSON object of header names to values: ${(error as Error).message}`, 2);
      }
      const now = parseTimeOption('--at', options.at) ?? Date.now();
      const body = readFileSync(options.body);
      const result = await source.provider.verify(
        // An operator asked about this one delivery: diagnose a mismatch whatever its size.
        { body, headers, url: options.url ?? 'http://localhost/', now, diagnose: true },
        source.settings,
      );
      if (!result.ok && result.code === 'payload_invalid') {
        // Schemes check the signature before reading the payload, so this one verified.
        process.stdout.write(
          `signature verified: ${source.provider.name} delivery; but as a delivery it would be answered 400 payload_invalid: ${result.message}\n`,
        );
        return;
      }
      if (!result.ok) fail(`not verified (${result.code}): ${result.message}`, 1);
      process.stdout.write(
        `verified: ${source.provider.name} delivery, dedupe key ${result.dedupeKey}, type ${result.eventType}\n`,
      );
    });
}
