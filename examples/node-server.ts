// Hookbox mounted in a plain Node server, with handlers in the app's own code.
// Run from this repository: STRIPE_WEBHOOK_SECRET=whsec_... node --import tsx examples/node-server.ts
// (here `hookbox` resolves to src/ through tsconfig.json's paths; in an app, to the installed package).
import { createServer } from 'node:http';
import { createHookbox, createLogger } from 'hookbox';
import { createNodeListener } from 'hookbox/node';

export function createApp(options: { databaseUrl?: string; stripeSecret: string }) {
  const hookbox = createHookbox({
    store: options.databaseUrl, // undefined: SQLite at ./data/hookbox.db
    sources: { stripe: { provider: 'stripe', secrets: [options.stripeSecret] } },
    logger: createLogger({ level: 'info' }),
  });

  hookbox.on('stripe', 'payment_intent.succeeded', async ({ payload, event, logger }) => {
    const intent = (payload as { data: { object: { id: string; amount: number } } }).data.object;
    logger.info({ intent: intent.id, amount: intent.amount, eventId: event.id }, 'payment received');
  });

  return hookbox;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const secret = process.env.STRIPE_WEBHOOK_SECRET;
  if (!secret) throw new Error('set STRIPE_WEBHOOK_SECRET to your endpoint secret (whsec_...)');
  const hookbox = createApp({ databaseUrl: process.env.DATABASE_URL, stripeSecret: secret });
  await hookbox.start(); // fail fast: open and migrate the store before taking traffic

  // hookbox/node bridges node:http to hookbox.fetch, streaming the raw body untouched. Hosts
  // that speak Request/Response (Hono, Next.js, Bun, Deno) call hookbox.fetch directly.
  const server = createServer(createNodeListener(hookbox));
  server.listen(Number(process.env.PORT ?? 3000), () => console.log('listening on', server.address()));
  process.on('SIGTERM', () => server.close(() => void hookbox.stop()));
}
