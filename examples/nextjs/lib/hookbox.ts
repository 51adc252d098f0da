// One Hookbox per server process, shared by the route handlers.
// With several instances (serverless, or more than one machine) use PostgreSQL:
// DATABASE_URL=postgres://... so every instance shares one inbox.
import { createHookbox } from 'hookbox';

export const hookbox = createHookbox({
  store: process.env.DATABASE_URL,
  sources: {
    stripe: { provider: 'stripe', secrets: [process.env.STRIPE_WEBHOOK_SECRET ?? ''] },
  },
});

hookbox.on('stripe', 'checkout.session.completed', async ({ payload }) => {
  // fulfil the order: this is your application's code
  console.log('checkout completed', (payload as { data: { object: { id: string } } }).data.object.id);
});

// Migrate and start the background worker once per process.
export const ready = hookbox.start();
