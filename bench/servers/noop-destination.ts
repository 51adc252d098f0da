/**
 * The forwarding bench's destination: a bare node:http server that reads each request's body
 * and answers 200 "ok", doing nothing else. `report` says how many requests it took since the
 * last report (and resets), so the parent can check every delivery arrived.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { announceReady, serveParent } from './child.ts';

let requests = 0;
let bytes = 0;
const server = createServer((request, response) => {
  request.on('data', (chunk: Buffer) => {
    bytes += chunk.length;
  });
  request.on('end', () => {
    requests++;
    response.writeHead(200, { 'content-type': 'text/plain', 'content-length': 2 });
    response.end('ok');
  });
});
server.keepAliveTimeout = 5_000;
server.listen(0, '127.0.0.1', () => announceReady((server.address() as AddressInfo).port));
serveParent({
  report: () => {
    const figures = { requests, bytes };
    requests = 0;
    bytes = 0;
    return figures;
  },
  close: () =>
    new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    }),
});
