// Fastify: Hookbox's plugin, and the app's own routes with Fastify's JSON parser.
import Fastify from 'fastify';
import { createHookbox } from 'hookbox';
import { createFastifyPlugin } from 'hookbox/fastify';

const hookbox = createHookbox({
  store: process.env.DATABASE_URL,
  sources: { stripe: { provider: 'stripe', secrets: [process.env.STRIPE_WEBHOOK_SECRET] } },
});
hookbox.on('stripe', 'payment_intent.succeeded', ({ event }) => {
  console.log(`handled ${event.dedupeKey}`);
});

const app = Fastify();
await app.register(createFastifyPlugin(hookbox));
app.post('/orders', async (request) => ({ parsed: request.body }));
app.addHook('onClose', () => hookbox.stop());

const url = await app.listen({ port: Number(process.env.PORT ?? 3000), host: '127.0.0.1' });
console.log(`listening ${url}`);
process.on('SIGTERM', () => void app.close());
