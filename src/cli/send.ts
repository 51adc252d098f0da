import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { exitCodes } from './failures.ts';
import { resolveCliSource, type SourceChoice } from './resolve-source.ts';
import { fail } from './shared.ts';

interface SendOptions extends SourceChoice {
  to: string;
  type?: string;
  data?: string;
  id?: string;
}

export function registerSendCommand(program: Command): void {
  program
    .command('send')
    .description('sign a test event as <source> would and POST it (like `stripe trigger`)')
    .argument('<source>', 'a configured source name, or a provider name')
    .requiredOption('--to <url>', 'where to POST, e.g. http://127.0.0.1:3000/webhooks/stripe')
    .option('--type <type>', 'event type of the sample event')
    .option('--data <file>', 'send this file as the body instead of a sample event')
    .option('--id <id>', 'event id of the sample event (send it twice to see a duplicate)')
    .option('--provider <name>', 'the scheme, when <source> is not a provider name')
    .option('--settings <json>', 'scheme settings as JSON, instead of the config (e.g. secrets)')
    .action(async (name: string, options: SendOptions, command: Command) => {
      const source = await resolveCliSource(name, options, command);
      const { provider } = source;
      if (!provider.sign)
        fail(`the ${provider.name} scheme cannot be signed locally (it needs the provider's private key)`, 2);
      if (!URL.canParse(options.to)) fail(`--to takes an absolute URL, not "${options.to}"`, 2);
      const now = Date.now();
      const eventType = options.type ?? defaultEventType(provider.name);
      const eventId = options.id ?? `evt_test_${randomBytes(8).toString('hex')}`;
      let body: Buffer;
      if (options.data) body = readDataFile(options.data);
      else if (provider.sampleBody) body = provider.sampleBody({ eventType, eventId, now });
      else
        body = Buffer.from(JSON.stringify({ id: eventId, type: eventType, created: Math.floor(now / 1000) }));
      // Schemes that sign the URL (Twilio) must sign the one the server verifies: its publicUrl.
      const signedUrl = publicUrlFor(options.to, source.publicUrl);
      let signed: Awaited<ReturnType<typeof provider.sign>>;
      try {
        signed = await provider.sign(body, source.settings, { now, url: signedUrl, eventType, eventId });
      } catch (error) {
        // Schemes signed by the provider's own key (PayPal, Pub/Sub) sign only with test keys.
        fail(`${(error as Error).message} (in the source's settings, or with --settings)`, 2);
      }
      // The scheme may add to the signed URL (Twilio's bodySHA256): post to --to with the same addition.
      const postUrl =
        signed.url === undefined
          ? options.to
          : signed.url.startsWith(signedUrl)
            ? options.to + signed.url.slice(signedUrl.length)
            : signed.url;
      let response: Response;
      try {
        response = await fetch(postUrl, {
          method: 'POST',
          headers: signed.headers,
          body: new Uint8Array(signed.body),
        });
      } catch (error) {
        const cause = (error as Error).cause as Error | undefined;
        fail(
          `could not reach ${options.to} (${cause?.message ?? (error as Error).message}): is the server running?`,
          exitCodes.unavailable,
        );
      }
      const text = await response.text();
      process.stdout.write(`${response.status} ${text}\n`);
      process.exit(response.ok ? 0 : 1);
    });
}

/**
 * The URL the server verifies a delivery posted to `to` against: with the source's publicUrl,
 * that base replaces the scheme, host and port (the same rule as the receive route).
 */
export function publicUrlFor(to: string, publicUrl: string | undefined): string {
  if (!publicUrl) return to;
  const url = new URL(to);
  return publicUrl.replace(/\/+$/, '') + url.pathname + url.search;
}

function readDataFile(path: string): Buffer {
  try {
    return readFileSync(path);
  } catch (error) {
    fail(
      `--data: cannot read ${path} (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`,
      2,
    );
  }
}

function defaultEventType(provider: string): string {
  const defaults: Record<string, string> = {
    stripe: 'payment_intent.succeeded',
    paypal: 'PAYMENT.CAPTURE.COMPLETED',
    github: 'push',
    shopify: 'orders/create',
    slack: 'app_mention',
  };
  return defaults[provider] ?? 'test.event';
}
