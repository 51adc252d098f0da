import type { NewEvent, RecordResult, Store } from '../store/types.ts';

export interface GroupCommitOptions {
  store: Store;
  now: () => number;
  /** Rows in one statement at most. */
  maxBatch?: number;
  /** Commits under way at once: 1 suits SQLite's single writer; PostgreSQL gains from 2. */
  maxInFlight?: number;
}

interface Waiting {
  event: NewEvent;
  resolve: (result: RecordResult) => void;
  reject: (error: unknown) => void;
}

/**
 * Group commit (DESIGN, Decisions): deliveries that arrive while a commit is under way are
 * written together in the next one, and each caller is answered only after the commit that
 * holds its row. No timer is involved: at low load a delivery commits alone at once; under
 * load batches grow by themselves. A failed commit rejects exactly the callers in it.
 */
export class GroupCommitter {
  readonly #store: Store;
  readonly #now: () => number;
  readonly #maxBatch: number;
  readonly #maxInFlight: number;
  #queue: Waiting[] = [];
  #inFlight = 0;
  #scheduled = false;

  constructor(options: GroupCommitOptions) {
    this.#store = options.store;
    this.#now = options.now;
    this.#maxBatch = options.maxBatch ?? 500;
    this.#maxInFlight = options.maxInFlight ?? (options.store.engine === 'sqlite' ? 1 : 2);
  }

  record(event: NewEvent): Promise<RecordResult> {
    return new Promise((resolve, reject) => {
      this.#queue.push({ event, resolve, reject });
      this.#schedule();
    });
  }

  #schedule(): void {
    if (this.#scheduled || this.#inFlight >= this.#maxInFlight || this.#queue.length === 0) return;
    this.#scheduled = true;
    // setImmediate lets every request already read in this turn of the event loop join the batch.
    setImmediate(() => {
      this.#scheduled = false;
      this.#commitNext();
    });
  }

  #commitNext(): void {
    if (this.#inFlight >= this.#maxInFlight || this.#queue.length === 0) return;
    const batch = this.#queue.splice(0, this.#maxBatch);
    this.#inFlight++;
    let committing: Promise<RecordResult[]>;
    try {
      committing = this.#store.recordEvents(
        batch.map((w) => w.event),
        this.#now(),
      );
    } catch (error) {
      // A store that throws instead of rejecting must not leave the batch unanswered.
      committing = Promise.reject(error);
    }
    committing
      .then((results) => {
        if (results.length !== batch.length) {
          // Never acknowledge without the store's word for each row: answer 503, the provider retries.
          throw new Error(`the store answered ${results.length} results for a batch of ${batch.length}`);
        }
        for (let i = 0; i < batch.length; i++) batch[i]!.resolve(results[i]!);
      })
      .catch((error: unknown) => {
        for (const waiting of batch) waiting.reject(error);
      })
      .finally(() => {
        this.#inFlight--;
        this.#schedule();
      });
    this.#schedule();
  }
}
