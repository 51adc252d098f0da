import type { Command } from 'commander';
import { fail, openCliStore, printTable } from './shared.ts';

/**
 * `hookbox keys blocked` and `hookbox keys unblock`: ordering keys blocked by a dead head
 * (docs/ordering.md), the operator's side of `onDead: 'block'`.
 */
export function registerKeysCommand(program: Command): void {
  const keys = program
    .command('keys')
    .description('ordering keys (docs/ordering.md): list blocked keys, unblock one');

  keys
    .command('blocked')
    .description('list ordering keys blocked by a dead head, longest blocked first; exit 1 when any is')
    .option('--limit <n>', 'at most this many keys', '100')
    .option('--json', 'print the keys as JSON')
    .action(async (options: { limit: string; json?: boolean }, command: Command) => {
      const limit = Number(options.limit);
      if (!Number.isInteger(limit) || limit < 1 || limit > 1000)
        fail('--limit takes a whole number from 1 to 1000', 2);
      const store = await openCliStore(command);
      try {
        const now = await store.now();
        const blocked = (await store.listBlockedKeys(limit)).sort((a, b) => a.blockedSince - b.blockedSince);
        if (options.json) process.stdout.write(`${JSON.stringify(blocked)}\n`);
        else if (blocked.length === 0) process.stdout.write('No ordering key is blocked.\n');
        else {
          printTable(
            blocked.map((k) => ({
              source: k.source,
              key: k.key,
              head: k.headId,
              type: k.headEventType,
              waiting: String(k.waiting),
              'blocked for': formatAge(now - k.blockedSince),
              error: (k.lastError ?? '').slice(0, 60),
            })),
            ['source', 'key', 'head', 'type', 'waiting', 'blocked for', 'error'],
          );
          process.stdout.write(
            '\nUnblock one with: hookbox keys unblock SOURCE KEY --retry (run the head again) or --skip\n',
          );
        }
        process.exitCode = blocked.length > 0 ? 1 : 0;
      } finally {
        await store.close();
      }
    });

  keys
    .command('unblock <source> <key>')
    .description(
      'unblock an ordering key: --retry runs its dead head again (first), --skip leaves it dead and runs the next',
    )
    .option('--retry', 'requeue the dead head with a fresh set of attempts')
    .option('--skip', 'leave the dead head dead; the key goes on with its next event')
    .action(
      async (source: string, key: string, options: { retry?: boolean; skip?: boolean }, command: Command) => {
        if (options.retry === options.skip) fail('name one of --retry or --skip', 2);
        const action = options.retry ? 'retry' : 'skip';
        const store = await openCliStore(command);
        try {
          const headId = await store.unblockKey(source, key, action);
          if (!headId) {
            fail(
              `ordering key ${JSON.stringify(key)} of source ${source} is not blocked; list blocked keys with: hookbox keys blocked`,
              1,
            );
          }
          process.stdout.write(
            action === 'retry'
              ? `requeued dead head ${headId}: it runs first, then key ${JSON.stringify(key)} goes on\n`
              : `skipped dead head ${headId} (it stays dead): key ${JSON.stringify(key)} goes on with its next event\n`,
          );
        } finally {
          await store.close();
        }
      },
    );
}

function formatAge(ms: number): string {
  const seconds = Math.max(0, Math.round(ms / 1000));
  if (seconds < 120) return `${seconds} s`;
  if (seconds < 7200) return `${Math.round(seconds / 60)} min`;
  return `${Math.round(seconds / 3600)} h`;
}
