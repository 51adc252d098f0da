/**
 * `hookbox/node`: Hookbox as a node:http request listener. The body is streamed to the receive
 * pipeline untouched, the peer address passed on for allowlists and per-IP rate limits.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { getRequestListener } from '@hono/node-server';
import type { Hookbox } from '../public-types.ts';

export type NodeRequestListener = (request: IncomingMessage, response: ServerResponse) => Promise<void>;

/** `http.createServer(createNodeListener(hookbox))`, or call it from any node:http host. */
export function createNodeListener(hookbox: Pick<Hookbox, 'fetch'>): NodeRequestListener {
  // overrideGlobalObjects: false, so mounting Hookbox does not swap the app's global Request/Response.
  return getRequestListener(
    (request, env) => hookbox.fetch(request, { remoteAddress: env.incoming.socket.remoteAddress }),
    { overrideGlobalObjects: false },
  );
}
