import { Command } from 'commander';
import { registerArchiveCommand } from './archive.ts';
import { registerCleanupCommand } from './cleanup.ts';
import { registerDestinationsCommand } from './destinations.ts';
import { registerEventsCommand } from './events.ts';
import { explainFailure } from './failures.ts';
import { registerHealthCommand } from './health.ts';
import { registerKeysCommand } from './keys.ts';
import { registerMigrateCommand } from './migrate.ts';
import { registerRetryCommand } from './retry.ts';
import { registerSendCommand } from './send.ts';
import { registerServeCommand } from './serve.ts';
import { registerStatsCommand } from './stats.ts';
import { registerVerifyCommand } from './verify.ts';
import { readVersion } from './version.ts';

const program = new Command('hookbox')
  .description('A durable inbox for incoming webhooks')
  .version(readVersion(), '-V, --version', 'print the version')
  .option(
    '-c, --config <file>',
    'config file (default: hookbox.config.ts|mjs|js|json|yaml|yml in the current folder)',
  )
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
registerKeysCommand(program);
registerDestinationsCommand(program);

try {
  await program.parseAsync(process.argv);
} catch (error) {
  // Exit codes and their meaning: docs/cli.md.
  const { message, exitCode, stack } = explainFailure(error);
  process.stderr.write(`hookbox: ${stack ?? message}\n`);
  process.exit(exitCode);
}
