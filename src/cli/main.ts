import { Command } from 'commander';
import { registerArchiveCommand } from './archive.ts';
import { registerCleanupCommand } from './cleanup.ts';
import { registerEventsCommand } from './events.ts';
import { registerHealthCommand } from './health.ts';
import { registerMigrateCommand } from './migrate.ts';
import { registerRetryCommand } from './retry.ts';
import { registerSendCommand } from './send.ts';
import { registerServeCommand } from './serve.ts';
import { registerStatsCommand } from './stats.ts';
import { registerVerifyCommand } from './verify.ts';

const program = new Command('hookbox')
  .description('A durable inbox for incoming webhooks')
  .option('-c, --config <file>', 'config file (default: hookbox.config.ts|mjs|js in the current folder)')
  .showHelpAfterError();

registerServeCommand(program);
registerMigrateCommand(program);
registerSendCommand(program);
registerVerifyCommand(program);
registerEventsCommand(program);
registerArchiveCommand(program);
registerHealthCommand(program);
registerStatsCommand(program);
registerCleanupCommand(program);
registerRetryCommand(program);

await program.parseAsync(process.argv);
