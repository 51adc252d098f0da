export type ChildMessage = { type: 'ready'; port?: number } | { type: 'report'; id: number; report: unknown };
export type ParentMessage = { type: 'report'; id: number } | { type: 'stop' };

export function readConfig<T>(): T;
export function announceReady(port?: number): void;
export function serveParent(handlers: {
  report?: () => unknown | Promise<unknown>;
  close: () => Promise<void>;
}): void;
