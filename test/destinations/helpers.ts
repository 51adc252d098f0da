/** Real HTTP servers on loopback that record what a destination receives, and destination fixtures. */
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Clock } from '../../src/clock.ts';
import type { Timers } from '../../src/destinations/limits.ts';
import { type DestinationInput, parseDestinations } from '../../src/destinations/settings.ts';

export interface ReceivedRequest {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  body: Buffer;
  /** Which accepted connection carried it (1-based). */
  connection: number;
  receivedAt: number;
}

export type Responder = (request: ReceivedRequest, response: ServerResponse, index: number) => void;

export interface RecordingServer {
  url: string;
  port: number;
  requests: ReceivedRequest[];
  /** Connections accepted so far. */
  readonly connections: number;
  close(): Promise<void>;
}

/** A node:http server on 127.0.0.1 that answers each request with `respond` (default 200 "ok"). */
export async function startRecordingServer(respond?: Responder): Promise<RecordingServer> {
  const requests: ReceivedRequest[] = [];
  let connections = 0;
  const connectionIds = new WeakMap<object, number>();
  const server = createServer((request: IncomingMessage, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const received: ReceivedRequest = {
        method: request.method ?? '',
        url: request.url ?? '',
        headers: request.headers,
        body: Buffer.concat(chunks),
        connection: connectionIds.get(request.socket) ?? 0,
        receivedAt: Date.now(),
      };
      requests.push(received);
      if (respond) respond(received, response, requests.length - 1);
      else response.end('ok');
    });
  });
  server.on('connection', (socket) => {
    connections += 1;
    connectionIds.set(socket, connections);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    requests,
    get connections() {
      return connections;
    },
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

export function generateSigningSecret(): string {
  return `whsec_${randomBytes(32).toString('base64')}`;
}

/** One destination through the real config path (so every test uses what validation produces). */
export function makeDestination(fields: Partial<DestinationInput> & { url: string }, source = 'stripe') {
  const [destination] = parseDestinations(
    [{ name: 'app', signingSecret: generateSigningSecret(), ...fields }],
    source,
  );
  if (destination === undefined) throw new Error('no destination parsed');
  return destination;
}

/** Timers that fire only when the test moves the manual clock. */
export function createManualTimers(clock: Clock & { set(ms: number): void }): Timers & {
  advance(ms: number): Promise<void>;
  readonly pending: number;
} {
  let nextId = 0;
  const pending = new Map<number, { at: number; callback: () => void }>();
  return {
    setTimeout(callback, ms) {
      nextId += 1;
      pending.set(nextId, { at: clock.now() + ms, callback });
      return nextId;
    },
    clearTimeout(handle) {
      pending.delete(handle as number);
    },
    get pending() {
      return pending.size;
    },
    /** Move time forward, firing due timers in order, and let the promises they settle run. */
    async advance(ms) {
      const end = clock.now() + ms;
      for (;;) {
        const due = [...pending.entries()]
          .filter(([, t]) => t.at <= end)
          .sort((a, b) => a[1].at - b[1].at)[0];
        if (due === undefined) break;
        pending.delete(due[0]);
        clock.set(Math.max(clock.now(), due[1].at));
        due[1].callback();
        await flushMicrotasks();
      }
      clock.set(end);
      await flushMicrotasks();
    },
  };
}

export async function flushMicrotasks(): Promise<void> {
  for (let i = 0; i < 10; i++) await Promise.resolve();
}
