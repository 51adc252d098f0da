// `hookbox serve` from the installed package, with a JavaScript config (no TypeScript loader).
export default {
  sources: { stripe: { provider: 'stripe', secrets: [process.env.STRIPE_WEBHOOK_SECRET] } },
  handlers: {
    stripe: {
      'payment_intent.succeeded': ({ event }) => {
        console.log(`handled ${event.dedupeKey}`);
      },
    },
  },
};
