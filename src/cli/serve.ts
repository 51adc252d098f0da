import type { Command } from 'commander';
import { createServerLogger, startServer } from '../server.ts';
import { loadCliConfig } from './shared.ts';

export function registerServeCommand(program: Command): void {
  program
    .command('serve')
    .description('run the receive routes, worker and health endpoints')
    .option('-p, --port <port>', 'port to listen on (default: PORT or 3000)')
    .option('-H, --host <host>', 'address to bind (default: HOST or 127.0.0.1)')
    .option(
      '--demo',
      'try Hookbox: a Stripe source with a generated secret, and the dashboard with a generated sign-in token (both saved in ./data)',
    )
    .action(async (options: { port?: string; host?: string; demo?: boolean }, command: Command) => {
      const config = await loadCliConfig(command, {
        flags: { port: options.port, host: options.host },
        demo: options.demo === true,
        requireSource: true,
      });
      const logger = createServerLogger(config);
      const running = await startServer(config, logger);
      let signals = 0;
      const shutdown = (signal: string) => {
        signals++;
        if (signals > 1) process.exit(1);
        logger.info({ signal }, 'shutting down: finishing in-flight events');
        running.close().then(
          () => process.exit(0),
          (error) => {
            logger.error({ err: (error as Error).message }, 'shutdown failed');
            process.exit(1);
          },
        );
      };
      process.on('SIGTERM', () => shutdown('SIGTERM'));
      process.on('SIGINT', () => shutdown('SIGINT'));
    });
}
