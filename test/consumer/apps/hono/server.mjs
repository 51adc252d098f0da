// Hono on Node: Hookbox answers its own paths, the app's routes stay the app's.
import { serve } from '@hono/node-server';
import { Hono } from 'hono';
import { createHookbox, isHookboxPath } from 'hookbox';

const hookbox = createHookbox({
  store: process.env.DATABASE_URL,
  sources: { stripe: { provider: 'stripe', secrets: [process.env.STRIPE_WEBHOOK_SECRET] } },
});
hookbox.on('stripe', 'payment_intent.succeeded', ({ event }) => {
  console.log(`handled ${event.dedupeKey}`);
});

const app = new Hono();
app.use((c, next) =>
  isHookboxPath(c.req.path)
    ? hookbox.fetch(c.req.raw, { remoteAddress: c.env.incoming.socket.remoteAddress })
    : next(),
);
app.post('/orders', async (c) => c.json({ parsed: await c.req.json() }));

const server = serve(
  { fetch: app.fetch, port: Number(process.env.PORT ?? 3000), hostname: '127.0.0.1' },
  (info) => {
    console.log(`listening http://127.0.0.1:${info.port}`);
  },
);
process.on('SIGTERM', () => server.close(() => void hookbox.stop()));
