import { Command } from 'commander';
import { registerEventsCommand } from './events.ts';
import { registerMigrateCommand } from './migrate.ts';
import { registerSendCommand } from './send.ts';
import { registerServeCommand } from './serve.ts';
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

await program.parseAsync(process.argv);
