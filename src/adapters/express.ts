/**
 * `hookbox/express`: Hookbox as Express middleware. Mount it before any body parser:
 * `express.json()` reads the body, and a signature covers the raw bytes, so a body parsed and
 * re-serialized no longer verifies (the most common cause of signature failures in Express).
 * Requests for paths Hookbox does not serve go on to the next handler untouched.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Hookbox } from '../public-types.ts';
import { createNodeListener } from './node.ts';
import { isHookboxPath } from './paths.ts';

/** The parts of Express's request this needs (Express's own types are not required). */
export interface ExpressLikeRequest extends IncomingMessage {
  /** The URL before any mount path was stripped. */
  originalUrl?: string;
}

export type ExpressMiddleware = (
  request: ExpressLikeRequest,
  response: ServerResponse,
  next: (error?: unknown) => void,
) => void;

/** `app.use(createExpressMiddleware(hookbox))`, before `express.json()`. */
export function createExpressMiddleware(hookbox: Pick<Hookbox, 'fetch'>): ExpressMiddleware {
  const listener = createNodeListener(hookbox);
  return (request, response, next) => {
    const url = request.originalUrl ?? request.url ?? '/';
    if (!isHookboxPath(new URL(url, 'http://host').pathname)) {
      next();
      return;
    }
    if (request.readableDidRead) {
      next(
        new Error(
          `Hookbox needs the raw body of ${request.method} ${url}, but a body parser (express.json(), express.raw(), ...) already read it: call app.use(createExpressMiddleware(hookbox)) before any body parser`,
        ),
      );
      return;
    }
    // Hookbox routes on the full path, whatever path the middleware was mounted under.
    request.url = url;
    listener(request, response).catch(next);
  };
}
