// A strict NodeNext TypeScript app using the public API: type-checked only (tsc --noEmit).
import { createServer } from 'node:http';
import express from 'express';
import Fastify from 'fastify';
import {
  ConfigError,
  createHookbox,
  createLogger,
  defineConfig,
  type HandlerContext,
  type Hookbox,
  type HookboxEvent,
  type HookboxOptions,
  isHookboxPath,
} from 'hookbox';
import { createExpressMiddleware } from 'hookbox/express';
import { createFastifyPlugin } from 'hookbox/fastify';
import { createNodeListener } from 'hookbox/node';

const options: HookboxOptions = {
  store: process.env.DATABASE_URL,
  sources: {
    stripe: { provider: 'stripe', secrets: [process.env.STRIPE_WEBHOOK_SECRET ?? ''], mode: 'async' },
  },
  retry: { maxAttempts: 5 },
  worker: { concurrency: 4 },
  logger: createLogger({ level: 'info' }),
};
export const hookbox: Hookbox = createHookbox(options);

async function onInvoicePaid({ event, payload, tx, logger, signal, attempt }: HandlerContext): Promise<void> {
  const stored: HookboxEvent = event;
  const amount = (payload as { data: { object: { amount_paid: number } } }).data.object.amount_paid;
  logger.info({ id: stored.id, attempt, amount, aborted: signal.aborted }, 'invoice paid');
  if (tx) {
    const { rowCount } = await tx.query<{ id: string }>('INSERT INTO ledger (id, amount) VALUES ($1, $2)', [
      stored.dedupeKey,
      amount,
    ]);
    logger.info({ rowCount }, 'ledger written');
  }
}
hookbox.on('stripe', 'invoice.paid', onInvoicePaid).on('*', '*', ({ event }) => event.eventType);

// The internals are not part of the type.
// @ts-expect-error no store on the public interface
void hookbox.store;
// @ts-expect-error no Hono app on the public interface
void hookbox.app;

export async function POST(request: Request): Promise<Response> {
  return hookbox.fetch(request);
}

const page = await hookbox.events.listEvents({ limit: 10, status: ['failed', 'dead'] });
const first: string | undefined = page.events[0]?.id;
const report = await hookbox.checkHealth({ fresh: true });
const status: 'HEALTHY' | 'DEGRADED' | 'CRITICAL' = report.status;
void first;
void status;

const expressApp = express();
expressApp.use(createExpressMiddleware(hookbox));
expressApp.use(express.json());

const fastifyApp = Fastify();
await fastifyApp.register(createFastifyPlugin(hookbox));

createServer(createNodeListener(hookbox));
const served: boolean = isHookboxPath('/webhooks/stripe');
void served;

export default defineConfig({
  sources: { stripe: { provider: 'stripe', secrets: ['whsec_...'] } },
  handlers: { stripe: { '*': async ({ event }) => void event.id } },
});

try {
  await hookbox.start();
} catch (error) {
  if (error instanceof ConfigError) console.error(error.problems.join('\n'));
}
