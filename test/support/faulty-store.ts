import { StoreUnavailableError } from '../../src/errors.ts';

/**
 * How an injected fault treats a call:
 * - `fail`: rejects at once, as a refused connection does;
 * - `hang`: never reaches the database and answers nothing until the fault ends, then rejects,
 *   as a query on a partitioned connection does when its deadline passes;
 * - `lose-response`: the call reaches the database and takes effect, but the answer is lost:
 *   the caller waits until the fault ends, then gets a rejection;
 * - `slow`: the call takes effect at once and its answer arrives when the fault ends, as from a
 *   loaded database.
 */
export type FaultMode = 'fail' | 'hang' | 'lose-response' | 'slow';

/**
 * Methods that do not reach the database when called (a handler transaction connects on its
 * first query; subscribing and closing are local): `all` leaves them alone.
 */
const local = new Set(['beginEventTransaction', 'onEventsRecorded', 'close', 'migrate']);

export interface Fault {
  /** Which store methods it affects; `all` for a worker that lost the database entirely (every call that reaches it). */
  methods: readonly string[] | 'all';
  mode: FaultMode;
  durationMs: number;
}

/** When a fault was in force, in performance.now() time. */
export interface FaultWindow {
  start: number;
  end: number;
  fault: Fault;
}

interface Active {
  fault: Fault;
  start: number;
  endsAt: number;
  ended: Promise<void>;
  end: () => void;
}

/**
 * A store seen through a fault injector: the injection point is the store object the worker
 * is given, exactly where production hands it its store. Calls pass through to the real store
 * unless a fault covering the method is in force.
 */
export function createFaultyStore<S extends object>(store: S) {
  let active: Active | null = null;
  const windows: FaultWindow[] = [];
  const waiters: { method: string; resolve: () => void }[] = [];

  /** Tell whoever waits for `method` that a call of it just succeeded. */
  function succeeded(method: string): void {
    for (const waiter of waiters.filter((w) => w.method === method)) {
      waiters.splice(waiters.indexOf(waiter), 1);
      waiter.resolve();
    }
  }

  function covers(method: string): Active | null {
    if (!active) return null;
    const { methods } = active.fault;
    return (methods === 'all' && !local.has(method)) || (methods !== 'all' && methods.includes(method))
      ? active
      : null;
  }

  function heal(): void {
    if (!active) return;
    const current = active;
    active = null;
    windows.push({ start: current.start, end: performance.now(), fault: current.fault });
    current.end();
  }

  function inject(fault: Fault): void {
    heal();
    let end!: () => void;
    const ended = new Promise<void>((resolve) => {
      end = resolve;
    });
    const start = performance.now();
    const current: Active = { fault, start, endsAt: start + fault.durationMs, ended, end };
    active = current;
    // Not unref'd: a call waiting on a partitioned connection keeps its process alive through
    // the socket, and this timer stands in for it. Unref'd, a worker process whose every call
    // hung found its event loop empty and exited 0 in the middle of the fault.
    setTimeout(() => {
      if (active === current) heal();
    }, fault.durationMs);
  }

  function refusal(method: string): StoreUnavailableError {
    return new StoreUnavailableError(`injected fault: the store did not answer ${method}`);
  }

  const faulty = new Proxy(store, {
    get(target, property, receiver) {
      const value = Reflect.get(target, property, receiver) as unknown;
      if (typeof value !== 'function' || typeof property !== 'string') return value;
      return (...args: unknown[]) => {
        const fault = covers(property);
        if (!fault) {
          const result = (value as (...a: unknown[]) => unknown).apply(target, args);
          if (result instanceof Promise) {
            return result.then((answer: unknown) => {
              succeeded(property);
              return answer;
            });
          }
          return result;
        }
        if (fault.fault.mode === 'fail') return Promise.reject(refusal(property));
        if (fault.fault.mode === 'hang') return fault.ended.then(() => Promise.reject(refusal(property)));
        const reached = Promise.resolve((value as (...a: unknown[]) => unknown).apply(target, args));
        if (fault.fault.mode === 'slow') {
          return reached.then(
            (answer) => fault.ended.then(() => answer),
            (error: unknown) => fault.ended.then(() => Promise.reject(error)),
          );
        }
        return reached.then(
          () => fault.ended.then(() => Promise.reject(refusal(property))),
          () => fault.ended.then(() => Promise.reject(refusal(property))),
        );
      };
    },
  });

  return {
    store: faulty,
    inject,
    heal,
    /** Resolves after the next call of `method` that succeeds (a renewal that went through). */
    nextSuccess(method: string): Promise<void> {
      return new Promise((resolve) => waiters.push({ method, resolve }));
    },
    /** Whether a fault is in force now. */
    get faulted(): boolean {
      return active !== null;
    },
    /** Every fault so far, the one in force included (ending now). */
    windows(): FaultWindow[] {
      return active
        ? [...windows, { start: active.start, end: performance.now(), fault: active.fault }]
        : [...windows];
    },
  };
}

export type FaultyStore<S extends object> = ReturnType<typeof createFaultyStore<S>>;
