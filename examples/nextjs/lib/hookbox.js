// One Hookbox per server process, shared by the route handlers. createHookbox opens nothing:
// `next build` imports this file, and the store is opened, migrated and the worker started
// only by the first request. With several instances (serverless, or more than one machine)
// set DATABASE_URL=postgres://... so every instance shares one inbox.
import { createHookbox } from 'hookbox';

export const hookbox = createHookbox({
  store: process.env.DATABASE_URL, // unset: SQLite at ./data/hookbox.db
  sources: {
    stripe: { provider: 'stripe', secrets: [process.env.STRIPE_WEBHOOK_SECRET ?? ''] },
  },
  admin: { token: process.env.ADMIN_TOKEN }, // the admin API and the dashboard; unset: both answer 401
});

hookbox.on('stripe', 'payment_intent.succeeded', async ({ event, payload }) => {
  // Your application's code: fulfil the order, email the receipt...
  console.log('handled', event.dedupeKey, payload.data.object.id);
});
