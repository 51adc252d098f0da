import type { IncomingMessage, ServerResponse } from 'node:http';
import { errorBody } from '../errors.ts';
import type { IncomingDelivery, ReceiveAnswer, Receiver } from '../ingest/receive.ts';
import type { Logger } from '../logger.ts';

/**
 * The receive route straight on Node's request and response, for `hookbox serve`: the same
 * pipeline as `hookbox.fetch`, without building a web Request, its Headers and a Response for
 * every delivery (that conversion cost more than the rest of the receive path). Everything else
 * (admin API, dashboard, health) still goes through the Hono app.
 */
const receivePath = /^\/(?:api\/)?webhooks\/([^/?#]+)\/?(?:\?|$)/;

/** The source a request is for, when it is a delivery this fast path takes; null otherwise. */
export function matchDelivery(request: IncomingMessage): string | null {
  if (request.method !== 'POST' || request.url === undefined) return null;
  const match = receivePath.exec(request.url);
  if (!match) return null;
  try {
    return decodeURIComponent(match[1]!);
  } catch {
    // Not valid percent-encoding: the Hono app answers it (404 source_not_found).
    return null;
  }
}

/** Node's request as the receive pipeline's IncomingDelivery. */
export function deliveryFromNode(request: IncomingMessage): IncomingDelivery {
  const { headers } = request;
  return {
    headers: {
      get(name: string): string | null {
        const value = headers[name.toLowerCase()];
        if (value === undefined) return null;
        return Array.isArray(value) ? value.join(', ') : value;
      },
    },
    headerBytes() {
      let size = 0;
      for (const part of request.rawHeaders) size += part.length;
      return size;
    },
    headerRecord() {
      const record: Record<string, string> = {};
      for (const [name, value] of Object.entries(headers)) {
        if (value !== undefined) record[name] = Array.isArray(value) ? value.join(', ') : value;
      }
      return record;
    },
    url: () => `http://${headers.host ?? 'localhost'}${request.url ?? '/'}`,
    readBody: (limit) => readNodeBody(request, limit),
    ...(request.socket.remoteAddress ? { remoteAddress: request.socket.remoteAddress } : {}),
  };
}

/**
 * The body up to `limit` bytes; null when it is larger (reading stops there). Rejects when the
 * client goes away before the body is complete.
 */
function readNodeBody(request: IncomingMessage, limit: number): Promise<Buffer | null> {
  const declared = Number(request.headers['content-length'] ?? Number.NaN);
  if (Number.isFinite(declared) && declared > limit) return Promise.resolve(null);
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        cleanup();
        request.pause();
        resolve(null);
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = () => {
      cleanup();
      resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size));
    };
    const onAborted = () => {
      cleanup();
      reject(new Error('the client closed the connection before the body was complete'));
    };
    const cleanup = () => {
      request.off('data', onData);
      request.off('end', onEnd);
      request.off('aborted', onAborted);
      request.off('error', onAborted);
    };
    request.on('data', onData);
    request.on('end', onEnd);
    request.on('aborted', onAborted);
    request.on('error', onAborted);
  });
}

/** Write an answer; a body left unread (an oversized one) closes the connection rather than draining it. */
export function writeAnswer(response: ServerResponse, answer: ReceiveAnswer, bodyUnread: boolean): void {
  const text = JSON.stringify(answer.body);
  response.writeHead(answer.status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
    ...(bodyUnread ? { connection: 'close' } : {}),
    ...answer.headers,
  });
  response.end(text);
}

/** Run one delivery through the receive pipeline on Node's own objects. */
export async function receiveOnNode(
  receiver: Pick<Receiver, 'handle'>,
  request: IncomingMessage,
  response: ServerResponse,
  source: string,
  logger: Logger,
): Promise<void> {
  try {
    const answer = await receiver.handle(deliveryFromNode(request), source);
    writeAnswer(response, answer, !request.complete);
  } catch (error) {
    // Never echo a stack trace or internal message: the log has it.
    logger.error({ err: (error as Error).message, path: request.url }, 'unhandled error');
    if (!response.headersSent) {
      writeAnswer(
        response,
        {
          status: 500,
          body: errorBody('internal_error', 'an unexpected error occurred; see the server log'),
        },
        !request.complete,
      );
    } else response.destroy();
  }
}
