/**
 * Hookbox's public library API (docs/library.md). Everything not exported here, or from the
 * adapters' subpaths (`hookbox/node`, `hookbox/express`, `hookbox/fastify`), is internal.
 * The types are declared by hand in public-types.ts.
 */

export { hookboxRoutes, isHookboxPath } from './adapters/paths.ts';
export { defineConfig, type HookboxConfigFile } from './config/load.ts';
export { createHookbox } from './create-hookbox.ts';
export { type ErrorCode, errorCatalogue, HookboxError } from './errors.ts';
export { ConfigError } from './hookbox.ts';
export { createLogger, type LoggerOptions } from './logger.ts';
export { createHttpSink, createSlackSink, type HttpSinkOptions } from './monitor/alert-notifier.ts';
export type * from './public-types.ts';
