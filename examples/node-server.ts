// Hookbox mounted in a plain Node server, with handlers in the app's own code.
// Run: STRIPE_WEBHOOK_SECRET=whsec_... node --import tsx examples/node-server.ts
import { createServer } from 'node:http';
import { createHookbox, createLogger } from '../src/index.ts';

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
  await hookbox.start();

  // Bridge node:http to the web-standard fetch handler. Any framework that speaks
  // Request/Response (Hono, Next.js, Bun, Deno) can call hookbox.fetch directly instead.
  const server = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const response = await hookbox.fetch(
      new Request(`http://${req.headers.host}${req.url}`, {
        method: req.method,
        headers: req.headers as Record<string, string>,
        body: req.method === 'GET' || req.method === 'HEAD' ? undefined : Buffer.concat(chunks),
      }),
    );
    res.writeHead(response.status, Object.fromEntries(response.headers));
    res.end(Buffer.from(await response.arrayBuffer()));
  });
  server.listen(Number(process.env.PORT ?? 3000), () => console.log('listening on', server.address()));
  process.on('SIGTERM', () => server.close(() => void hookbox.stop()));
}
