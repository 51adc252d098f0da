/**
 * The child side of the bench's process protocol: a server reads its config from
 * BENCH_CONFIG, says `ready` over IPC once listening, answers `report` requests, and shuts
 * down on `stop` (or when the parent goes away).
 */

export type ChildMessage = { type: 'ready'; port?: number } | { type: 'report'; id: number; report: unknown };
export type ParentMessage = { type: 'report'; id: number } | { type: 'stop' };

export function readConfig<T>(): T {
  const raw = process.env.BENCH_CONFIG;
  if (!raw) throw new Error('BENCH_CONFIG is not set: bench servers are started by bench/run.ts');
  return JSON.parse(raw) as T;
}

function send(message: ChildMessage): void {
  process.send?.(message);
}

export function announceReady(port?: number): void {
  send({ type: 'ready', port });
}

/** Wire `report` and `stop` requests; `stop` runs `close` then exits. */
export function serveParent(handlers: {
  report?: () => unknown | Promise<unknown>;
  close: () => Promise<void>;
}): void {
  let closing = false;
  const close = () => {
    if (closing) return;
    closing = true;
    handlers.close().then(
      () => process.exit(0),
      (error) => {
        process.stderr.write(`bench server close failed: ${(error as Error).message}\n`);
        process.exit(1);
      },
    );
  };
  process.on('message', (message: ParentMessage) => {
    if (message.type === 'stop') close();
    else if (message.type === 'report') {
      Promise.resolve(handlers.report?.()).then(
        (report) => send({ type: 'report', id: message.id, report }),
        (error) => send({ type: 'report', id: message.id, report: { error: (error as Error).message } }),
      );
    }
  });
  process.on('disconnect', close);
  process.on('SIGTERM', close);
  process.on('SIGINT', close);
}
