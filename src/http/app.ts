import { Hono } from 'hono';
import { errorBody } from '../errors.ts';
import type { ReceiveContext } from '../ingest/receive.ts';
import type { Logger } from '../logger.ts';
import type { StoreLifecycle } from '../store/types.ts';
import type { WorkerStats } from '../worker/worker.ts';

export interface HttpAppOptions {
  receiver: { receive(request: Request, source: string, context?: ReceiveContext): Promise<Response> };
  store: Pick<StoreLifecycle, 'engine' | 'ping'>;
  logger: Logger;
  /** This process's worker: what it holds and how many handlers are stuck past their timeout. */
  workerStats?: () => WorkerStats;
  /** destinations: this process's delivery worker: deliveries held, per destination (none when idle). */
  deliveryStats?: () => { held: number; byDestination: Record<string, number> } | null;
}

/** The env @hono/node-server passes: the Node request, for the socket's peer address. */
export interface NodeEnv {
  incoming?: { socket?: { remoteAddress?: string } };
}

/**
 * The HTTP surface over web-standard Request/Response (Hono), so the same app mounts in
 * Next.js route handlers, Bun, Deno, or @hono/node-server.
 */
export function createHttpApp(options: HttpAppOptions): Hono<{ Bindings: NodeEnv }> {
  const app = new Hono<{ Bindings: NodeEnv }>();

  const receive = (c: { req: { raw: Request; param(name: 'source'): string }; env: NodeEnv | undefined }) =>
    options.receiver.receive(c.req.raw, c.req.param('source'), {
      remoteAddress: c.env?.incoming?.socket?.remoteAddress,
    });
  app.post('/webhooks/:source', (c) => receive(c));
  app.post('/api/webhooks/:source', (c) => receive(c));

  // Liveness: the process answers. The worker's figures ride along (no store round trip): a
  // stuck count above 0 means a handler ran past its timeout and has not settled.
  app.get('/healthz', (c) =>
    c.json({
      status: 'ok',
      ...(options.workerStats ? { worker: options.workerStats() } : {}),
      ...(options.deliveryStats?.() ? { deliveries: options.deliveryStats() } : {}),
    }),
  );
  app.get('/readyz', async (c) => {
    try {
      await options.store.ping();
      return c.json({ status: 'ready', store: options.store.engine });
    } catch {
      return c.json({ status: 'not_ready', store: options.store.engine, reason: 'store unreachable' }, 503);
    }
  });

  app.notFound((c) =>
    c.json(errorBody('route_not_found', `no route for ${c.req.method} ${new URL(c.req.url).pathname}`), 404),
  );
  app.onError((error, c) => {
    // Never echo a stack trace or internal message: the log has it.
    options.logger.error({ err: error.message, path: new URL(c.req.url).pathname }, 'unhandled error');
    return c.json(errorBody('internal_error', 'an unexpected error occurred; see the server log'), 500);
  });
  return app;
}
