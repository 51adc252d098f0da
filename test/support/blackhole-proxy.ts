import { createConnection, createServer, type Server, type Socket } from 'node:net';

/**
 * A TCP proxy in front of a server (PostgreSQL here) that can start swallowing traffic: a
 * database that stops answering without closing anything, as a network partition or a frozen
 * host looks to a client. While it blackholes, bytes in either direction are dropped, new
 * connections are accepted but never reach the server, and nothing is closed, so the client
 * learns only from its own deadlines. `restore()` drops the swallowed connections (their
 * protocol state is lost) and forwards new ones again.
 */
export interface BlackholeProxy {
  /** The port to connect to instead of the server's. */
  port: number;
  /** Connections accepted so far. */
  readonly accepted: number;
  blackhole(): void;
  restore(): void;
  close(): Promise<void>;
}

export async function startBlackholeProxy(target: { host: string; port: number }): Promise<BlackholeProxy> {
  let swallowing = false;
  let accepted = 0;
  const pairs = new Set<{ client: Socket; upstream: Socket | null }>();

  const server: Server = createServer((client) => {
    accepted++;
    const pair: { client: Socket; upstream: Socket | null } = { client, upstream: null };
    pairs.add(pair);
    const forget = () => {
      pairs.delete(pair);
      client.destroy();
      pair.upstream?.destroy();
    };
    client.on('error', forget);
    client.on('close', forget);
    if (swallowing) {
      // Accepted, then silence: the client's connect succeeds and its startup message vanishes.
      client.on('data', () => {});
      return;
    }
    const upstream = createConnection(target);
    pair.upstream = upstream;
    upstream.on('error', forget);
    upstream.on('close', forget);
    client.on('data', (chunk) => {
      if (!swallowing) upstream.write(chunk);
    });
    upstream.on('data', (chunk) => {
      if (!swallowing) client.write(chunk);
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('the proxy has no TCP port');

  return {
    port: address.port,
    get accepted() {
      return accepted;
    },
    blackhole() {
      swallowing = true;
    },
    restore() {
      swallowing = false;
      for (const pair of pairs) {
        pair.client.destroy();
        pair.upstream?.destroy();
      }
      pairs.clear();
    },
    async close() {
      for (const pair of pairs) {
        pair.client.destroy();
        pair.upstream?.destroy();
      }
      pairs.clear();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
