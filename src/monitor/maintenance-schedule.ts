import { Cron } from 'croner';
import type { Logger } from '../logger.ts';

export interface MaintenanceSchedule {
  /** The next planned run, or null when stopped. */
  nextRun(): Date | null;
  /** Run now, outside the schedule (still skipped while a run is going). */
  trigger(): Promise<void>;
  stop(): void;
}

/**
 * Run maintenance on a cron pattern (default daily at 02:00). A run still going when the next
 * one is due is skipped, not stacked; a failed run is logged and the schedule carries on.
 */
export function scheduleMaintenance(options: {
  schedule: string;
  timezone?: string | null;
  run: () => Promise<unknown>;
  logger: Logger;
}): MaintenanceSchedule {
  const job = new Cron(
    options.schedule,
    {
      timezone: options.timezone ?? undefined,
      protect: () => options.logger.warn('maintenance is still running; skipping this scheduled run'),
      unref: true,
      catch: (error: unknown) =>
        options.logger.error(
          { err: (error as Error).message },
          'scheduled maintenance failed; it runs again on schedule',
        ),
    },
    async () => {
      await options.run();
    },
  );
  return {
    nextRun: () => job.nextRun(),
    trigger: () => job.trigger(),
    stop: () => job.stop(),
  };
}
