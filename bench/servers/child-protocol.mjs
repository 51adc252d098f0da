// The child side of the bench's process protocol, in plain JavaScript so a server can run
// without TypeScript at all (the deployed Hookbox). A server reads its config from
// BENCH_CONFIG, says `ready` over IPC once listening, answers `report` requests, and shuts down
// on `stop` (or when the parent goes away). Types: child-protocol.d.mts.

export function readConfig() {
  const raw = process.env.BENCH_CONFIG;
  if (!raw) throw new Error('BENCH_CONFIG is not set: bench servers are started by bench/run.ts');
  return JSON.parse(raw);
}

function send(message) {
  process.send?.(message);
}

export function announceReady(port) {
  send({ type: 'ready', port });
}

/** Wire `report` and `stop` requests; `stop` runs `close` then exits. */
export function serveParent(handlers) {
  let closing = false;
  const close = () => {
    if (closing) return;
    closing = true;
    handlers.close().then(
      () => process.exit(0),
      (error) => {
        process.stderr.write(`bench server close failed: ${error.message}\n`);
        process.exit(1);
      },
    );
  };
  process.on('message', (message) => {
    if (message.type === 'stop') close();
    else if (message.type === 'report') {
      Promise.resolve(handlers.report?.()).then(
        (report) => send({ type: 'report', id: message.id, report }),
        (error) => send({ type: 'report', id: message.id, report: { error: error.message } }),
      );
    }
  });
  process.on('disconnect', close);
  process.on('SIGTERM', close);
  process.on('SIGINT', close);
}
