// A plain Node ESM app: node:http and the package's own entry points, nothing else.
import { createServer } from 'node:http';
import { createHookbox } from 'hookbox';
import { createNodeListener } from 'hookbox/node';

const hookbox = createHookbox({
  store: process.env.DATABASE_URL,
  sources: { stripe: { provider: 'stripe', secrets: [process.env.STRIPE_WEBHOOK_SECRET] } },
});
hookbox.on('stripe', 'payment_intent.succeeded', ({ event }) => {
  console.log(`handled ${event.dedupeKey}`);
});
await hookbox.start();

const server = createServer(createNodeListener(hookbox));
server.listen(Number(process.env.PORT ?? 3000), '127.0.0.1', () => {
  console.log(`listening http://127.0.0.1:${server.address().port}`);
});
process.on('SIGTERM', () => server.close(() => void hookbox.stop()));
