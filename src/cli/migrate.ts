import type { Command } from 'commander';
import { describeDatabaseUrl, openStore } from '../store/open-store.ts';
import { loadCliConfig } from './shared.ts';

export function registerMigrateCommand(program: Command): void {
  program
    .command('migrate')
    .description('apply pending database migrations (also done at start-up)')
    .action(async (_options: unknown, command: Command) => {
      const config = await loadCliConfig(command);
      const store = openStore(config.databaseUrl);
      try {
        await store.migrate();
        process.stdout.write(`migrated ${describeDatabaseUrl(config.databaseUrl)}\n`);
      } finally {
        await store.close();
      }
    });
}
