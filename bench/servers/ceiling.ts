/**
 * The ceiling: a bare node:http server that reads the whole body and answers 200 with a body
 * the size of Hookbox's answer. Nothing is verified or stored; no server on this machine
 * answers these requests faster.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { announceReady, serveParent } from './child.ts';

const answer = Buffer.from(
  JSON.stringify({ received: true, id: '01JZZZZZZZZZZZZZZZZZZZZZZZ', duplicate: false }),
);

const server = createServer((request, response) => {
  let size = 0;
  request.on('data', (chunk: Buffer) => {
    size += chunk.length;
  });
  request.on('end', () => {
    response.writeHead(size > 0 ? 200 : 400, {
      'content-type': 'application/json',
      'content-length': answer.length,
    });
    response.end(answer);
  });
});
server.keepAliveTimeout = 5_000;
server.listen(0, '127.0.0.1', () => announceReady((server.address() as AddressInfo).port));
serveParent({
  close: () =>
    new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    }),
});
