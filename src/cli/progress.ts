/** Where progress is written: stderr, so stdout stays clean for --json and pipes. */
export interface ProgressStream {
  write(text: string): unknown;
  isTTY?: boolean;
  columns?: number;
}

export interface Progress {
  /** `done` items so far (of `total`, which may be raised when the estimate was low). */
  update(done: number): void;
  finish(summary: string): void;
}

/**
 * A progress bar redrawn in place on a terminal, and plain lines ("retry: 500/1200 (41%)")
 * otherwise, so logs of cron jobs and CI stay readable.
 */
export function createProgress(
  label: string,
  total: number,
  stream: ProgressStream = process.stderr,
): Progress {
  const tty = Boolean(stream.isTTY);
  let last = '';
  return {
    update(done) {
      const known = Math.max(total, done);
      const ratio = known === 0 ? 1 : done / known;
      const percent = Math.floor(ratio * 100);
      if (tty) {
        const width = Math.max(10, Math.min(40, (stream.columns ?? 80) - label.length - 30));
        const filled = Math.round(ratio * width);
        stream.write(
          `\r${label} [${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${percent}% ${done}/${known}`,
        );
        return;
      }
      const line = `${label}: ${done}/${known} (${percent}%)`;
      if (line !== last) stream.write(`${line}\n`);
      last = line;
    },
    finish(summary) {
      stream.write(tty ? `\r\u001b[2K${summary}\n` : `${summary}\n`);
    },
  };
}
