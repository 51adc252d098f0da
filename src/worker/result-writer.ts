import { StoreRowRefusedError } from '../errors.ts';
import type { Logger } from '../logger.ts';
import type { AttemptResult, Claim } from '../store/types.ts';

export interface ResultWriterOptions {
  /** One batched, fenced write of verdicts; returns the claims applied. */
  write: (batch: AttemptResult[]) => Promise<Claim[]>;
  logger: Logger;
  /** Tries per batch before its callers are told it failed; default 5. */
  maxTries?: number;
  /** The first retry's delay, doubling; default 100 ms. */
  retryBaseMs?: number;
  /** How long a batch waits for more verdicts to join it; default 0 (just the current event-loop turn). */
  gatherMs?: number;
  /** Verdicts in one write at most; default 500. */
  maxBatch?: number;
}

interface Pending {
  result: AttemptResult;
  resolve: (applied: boolean) => void;
  reject: (error: unknown) => void;
}

/**
 * Writes worker verdicts in batches: every verdict that arrives while a write is under way goes
 * into the next one, so a busy worker makes one commit for many events. Each caller learns
 * about its own verdict only: whether it was applied (false: its claim no longer held the
 * event, a stale verdict), or, after the retries, that its batch could not be written. A batch
 * the store refuses for one verdict's data is split until that verdict stands alone, so it
 * never costs its neighbours their verdicts.
 */
export class ResultWriter {
  readonly #o: Required<Omit<ResultWriterOptions, 'write' | 'logger'>> &
    Pick<ResultWriterOptions, 'write' | 'logger'>;
  #queue: Pending[] = [];
  #running: Promise<void> | null = null;

  constructor(options: ResultWriterOptions) {
    this.#o = { maxTries: 5, retryBaseMs: 100, gatherMs: 0, maxBatch: 500, ...options };
  }

  /** Queue one verdict; resolves once it is written: true when applied, false when its claim was stale. */
  write(result: AttemptResult): Promise<boolean> {
    return new Promise((resolve, reject) => {
      this.#queue.push({ result, resolve, reject });
      this.#running ??= this.#run();
    });
  }

  /** Resolves when every verdict queued so far has been written (or has failed). */
  async flush(): Promise<void> {
    while (this.#running) await this.#running;
  }

  async #run(): Promise<void> {
    try {
      await this.#gather();
      while (this.#queue.length > 0) {
        const batch = this.#queue.splice(0, this.#o.maxBatch);
        await this.#writeBatch(batch);
      }
    } finally {
      this.#running = null;
    }
    // A verdict queued between the last splice and the reset above starts its own run.
    if (this.#queue.length > 0) this.#running ??= this.#run();
  }

  #gather(): Promise<void> {
    const { gatherMs } = this.#o;
    return new Promise((resolve) => (gatherMs > 0 ? setTimeout(resolve, gatherMs) : setImmediate(resolve)));
  }

  async #writeBatch(batch: Pending[]): Promise<void> {
    for (let tries = 1; ; tries++) {
      try {
        const applied = await this.#o.write(batch.map((p) => p.result));
        const keys = new Set(applied.map((c) => `${c.eventId}#${c.token}`));
        for (const pending of batch)
          pending.resolve(keys.has(`${pending.result.eventId}#${pending.result.token}`));
        return;
      } catch (error) {
        if (error instanceof StoreRowRefusedError) {
          // Retrying the same data cannot help: find the refused verdict by halves.
          if (batch.length === 1) {
            batch[0]!.reject(error);
            return;
          }
          const half = Math.ceil(batch.length / 2);
          await this.#writeBatch(batch.slice(0, half));
          await this.#writeBatch(batch.slice(half));
          return;
        }
        if (tries >= this.#o.maxTries) {
          for (const pending of batch) pending.reject(error);
          return;
        }
        // The outcome is known; losing it would re-run handlers. Retry while the lease lasts.
        this.#o.logger.warn(
          { err: (error as Error).message, tries, verdicts: batch.length },
          'writing attempt results failed; retrying',
        );
        await new Promise((resolve) => setTimeout(resolve, this.#o.retryBaseMs * 2 ** (tries - 1)));
      }
    }
  }
}
