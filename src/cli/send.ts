import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
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
      const now = Date.now();
      const eventType = options.type ?? defaultEventType(provider.name);
      const eventId = options.id ?? `evt_test_${randomBytes(8).toString('hex')}`;
      let body: Buffer;
      if (options.data) body = readFileSync(options.data);
      else if (provider.sampleBody) body = provider.sampleBody({ eventType, eventId, now });
      else
        body = Buffer.from(JSON.stringify({ id: eventId, type: eventType, created: Math.floor(now / 1000) }));
      const signed = await provider.sign(body, source.settings, { now, url: options.to, eventType, eventId });
      let response: Response;
      try {
        response = await fetch(signed.url ?? options.to, {
          method: 'POST',
          headers: signed.headers,
          body: new Uint8Array(signed.body),
        });
      } catch (error) {
        fail(
          `could not reach ${options.to}: ${(error as Error).cause ?? (error as Error).message}; is the server running?`,
        );
      }
      const text = await response.text();
      process.stdout.write(`${response.status} ${text}\n`);
      process.exit(response.ok ? 0 : 1);
    });
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
