import {
  INVALID_SPAN_CONTEXT,
  ProxyTracerProvider,
  type Span,
  SpanStatusCode,
  trace,
} from '@opentelemetry/api';

/**
 * Counters and histograms the pipeline reports into (Prometheus in monitor/prometheus.ts).
 * A port, so the core has no hard dependency on prom-client and tests can observe it.
 */
export interface Telemetry {
  deliveryReceived(source: string, duplicate: boolean, latencyMs: number): void;
  deliveryRejected(source: string, code: string): void;
  attemptFinished(source: string, outcome: string, durationMs: number): void;
  /** A delivery attempt to a destination finished (outcome: succeeded, failed, dead, disabled). Optional. */
  deliveryAttemptFinished?(source: string, destination: string, outcome: string, durationMs: number): void;
}

export const noopTelemetry: Telemetry = {
  deliveryReceived() {},
  deliveryRejected() {},
  attemptFinished() {},
};

/** Report to every given telemetry (the application's own, Prometheus, the rejection log). */
export function combineTelemetry(...parts: Telemetry[]): Telemetry {
  const all = parts.filter((part) => part !== noopTelemetry);
  if (all.length === 0) return noopTelemetry;
  if (all.length === 1) return all[0]!;
  return {
    deliveryReceived: (...args) => {
      for (const part of all) part.deliveryReceived(...args);
    },
    deliveryRejected: (...args) => {
      for (const part of all) part.deliveryRejected(...args);
    },
    attemptFinished: (...args) => {
      for (const part of all) part.attemptFinished(...args);
    },
    deliveryAttemptFinished: (...args) => {
      for (const part of all) part.deliveryAttemptFinished?.(...args);
    },
  };
}

/** Spans go through @opentelemetry/api: a no-op until the application registers an SDK. */
export const tracer = trace.getTracer('hookbox');

/** What the global provider delegates to while no SDK is registered. */
const noTracerProvider = new ProxyTracerProvider().getDelegate();
/** A span that records nothing, for the calls made while tracing is off. */
const unrecordedSpan = trace.wrapSpanContext(INVALID_SPAN_CONTEXT);

/** Whether an SDK is registered: only then do spans (and their context switches) cost anything. */
function isTracing(): boolean {
  const provider = trace.getTracerProvider();
  return !(provider instanceof ProxyTracerProvider && provider.getDelegate() === noTracerProvider);
}

/**
 * Run `fn` inside an active span, recording an exception and ending the span either way. With
 * no SDK registered, `fn` runs directly with a span that records nothing: the no-op tracer
 * would still switch contexts and allocate per call, on every delivery and attempt.
 */
export async function withSpan<T>(
  name: string,
  attributes: Record<string, string | number | boolean>,
  fn: (span: Span) => Promise<T>,
): Promise<T> {
  if (!isTracing()) return fn(unrecordedSpan);
  return tracer.startActiveSpan(name, { attributes }, async (span) => {
    try {
      return await fn(span);
    } catch (error) {
      span.recordException(error as Error);
      span.setStatus({ code: SpanStatusCode.ERROR, message: (error as Error).message });
      throw error;
    } finally {
      span.end();
    }
  });
}
