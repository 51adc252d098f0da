// Express: Hookbox's middleware first, then the app's own body parser and routes.
import express from 'express';
import { createHookbox } from 'hookbox';
import { createExpressMiddleware } from 'hookbox/express';

const hookbox = createHookbox({
  store: process.env.DATABASE_URL,
  sources: { stripe: { provider: 'stripe', secrets: [process.env.STRIPE_WEBHOOK_SECRET] } },
});
hookbox.on('stripe', 'payment_intent.succeeded', ({ event }) => {
  console.log(`handled ${event.dedupeKey}`);
});

const app = express();
app.use(createExpressMiddleware(hookbox)); // before express.json(): signatures cover the raw body
app.use(express.json());
app.post('/orders', (request, response) => {
  response.json({ parsed: request.body });
});

const server = app.listen(Number(process.env.PORT ?? 3000), '127.0.0.1', () => {
  console.log(`listening http://127.0.0.1:${server.address().port}`);
});
process.on('SIGTERM', () => server.close(() => void hookbox.stop()));
