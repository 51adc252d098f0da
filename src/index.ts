/**
 * Hookbox's public library API. Everything not exported here is internal.
 */
export { type Clock, createManualClock, type Random, systemClock } from './clock.ts';
export { defineConfig, type HookboxConfigFile } from './config/load.ts';
export { type ErrorCode, errorCatalogue, HookboxError, StoreUnavailableError } from './errors.ts';
export type { EventService, RecordOutcome, RetryOutcome } from './events/event-service.ts';
export {
  ConfigError,
  createHookbox,
  type Hookbox,
  type HookboxOptions,
  type SourceDefinition,
  type WorkerSettings,
} from './hookbox.ts';
export type { AdminOptions } from './http/admin/routes.ts';
export { createLogger, type Logger } from './logger.ts';
export {
  type AlertNotice,
  type AlertSink,
  createHttpSink,
  createSlackSink,
} from './monitor/alert-notifier.ts';
export type { MonitorConfigFile } from './monitor/config.ts';
export type {
  Alert,
  AlertSeverity,
  AlertType,
  CheckName,
  CheckResult,
  HealthStatus,
  HealthThresholds,
} from './monitor/health-checks.ts';
export type { HealthReport } from './monitor/health-monitor.ts';
export type { Monitoring, MonitoringOptions } from './monitor/monitoring.ts';
export type { RemediationReport } from './monitor/remediation.ts';
export { combineTelemetry, type Telemetry } from './monitor/telemetry.ts';
export type { WindowMetrics } from './monitor/window-metrics.ts';
export { getProvider, providers } from './providers/registry.ts';
export type { Delivery, Provider, Verification } from './providers/types.ts';
export { createRedaction, maskCardNumbers, type Redaction, type RedactionSettings } from './redaction.ts';
export { openStore } from './store/open-store.ts';
export type {
  Attempt,
  EventFilter,
  EventStatus,
  Store,
  StoredEvent,
  TransactionHandle,
} from './store/types.ts';
export type { BreakerSnapshot, BreakerState, CircuitBreakerSettings } from './worker/circuit-breaker.ts';
export type { Handler, HandlerContext } from './worker/handler-registry.ts';
export type { RetryPolicy } from './worker/retry-policy.ts';
