import type { Command } from 'commander';
import { openMigratedStore } from './check-schema.ts';
import { createProgress } from './progress.ts';
import { fail, loadCliConfig, parseTimeOption } from './shared.ts';

interface CleanupOptions {
  olderThan?: string;
  batchSize: string;
  dryRun?: boolean;
}

const ageFormat = /^\d+(s|m|h|d)$/;

export function registerCleanupCommand(program: Command): void {
  program
    .command('cleanup')
    .description(
      'delete processed (and ignored) events processed before an age; failed and dead events are kept',
    )
    .option('--older-than <age>', 'an age like 90d or 12h (default: the retention, RETENTION_DAYS)')
    .option('--batch-size <n>', 'events deleted per statement', '1000')
    .option('--dry-run', 'only count what would be deleted')
    .action(async (options: CleanupOptions, command: Command) => {
      const config = await loadCliConfig(command);
      const age = options.olderThan ?? `${config.monitor.maintenance.retentionDays}d`;
      if (!ageFormat.test(age)) fail(`--older-than takes an age like 90d, 12h or 30m, not "${age}"`, 2);
      const batchSize = Number(options.batchSize);
      if (!Number.isInteger(batchSize) || batchSize < 1 || batchSize > 100_000) {
        fail('--batch-size takes a whole number from 1 to 100000', 2);
      }
      const before = parseTimeOption('--older-than', age);
      const store = await openMigratedStore(config.databaseUrl);
      try {
        // An upper bound: events received before the cutoff may have been processed after it.
        const estimate = await store.countEvents({ status: ['processed', 'ignored'], until: before });
        const cutoff = new Date(before).toISOString();
        if (options.dryRun) {
          process.stdout.write(
            `at most ${estimate} processed events were processed before ${cutoff}; nothing deleted (dry run)\n`,
          );
          return;
        }
        const progress = createProgress('cleanup', estimate);
        let deleted = 0;
        for (;;) {
          const count = await store.deleteProcessedBefore(before, batchSize);
          deleted += count;
          progress.update(deleted);
          if (count < batchSize) break;
        }
        progress.finish(`deleted ${deleted} processed events processed before ${cutoff}`);
      } finally {
        await store.close();
      }
    });
}
