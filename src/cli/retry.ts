import type { Command } from 'commander';
import type { EventFilter } from '../store/types.ts';
import { createProgress } from './progress.ts';
import { fail, openCliStore, parseTimeOption } from './shared.ts';

interface RetryOptions {
  status: string;
  source?: string;
  since?: string;
  batchSize: string;
  dryRun?: boolean;
}

export function registerRetryCommand(program: Command): void {
  program
    .command('retry')
    .description('requeue failed or dead events for the workers, with a fresh set of attempts')
    .requiredOption('--status <status>', 'failed or dead')
    .option('--source <name>', 'only events of this source')
    .option('--since <time>', 'only events received at or after (ISO 8601, unix seconds, or an age like 24h)')
    .option('--batch-size <n>', 'events requeued per statement', '500')
    .option('--dry-run', 'only count what would be requeued')
    .action(async (options: RetryOptions, command: Command) => {
      if (options.status !== 'failed' && options.status !== 'dead') {
        fail(`--status is failed or dead, not "${options.status}"`, 2);
      }
      const batchSize = Number(options.batchSize);
      if (!Number.isInteger(batchSize) || batchSize < 1 || batchSize > 1000) {
        fail('--batch-size takes a whole number from 1 to 1000', 2);
      }
      const since = parseTimeOption('--since', options.since);
      const filter: EventFilter = { status: options.status, source: options.source, since };
      const store = await openCliStore(command);
      try {
        const total = await store.countEvents(filter);
        if (options.dryRun) {
          process.stdout.write(`${total} ${options.status} events would be requeued (dry run)\n`);
          return;
        }
        const progress = createProgress('retry', total);
        let requeued = 0;
        let cursor: string | undefined;
        // Page by id (newest first) and requeue each page by id: the status filter in the
        // requeue skips any event a worker or another operator changed in between.
        for (;;) {
          const page = await store.listEvents({ ...filter, limit: batchSize, cursor });
          if (page.events.length === 0) break;
          requeued += await store.requeueEvents({
            ids: page.events.map((event) => event.id),
            status: options.status as 'failed' | 'dead',
          });
          progress.update(requeued);
          if (!page.nextCursor) break;
          cursor = page.nextCursor;
        }
        progress.finish(`requeued ${requeued} ${options.status} events`);
      } finally {
        await store.close();
      }
    });
}
