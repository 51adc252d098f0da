import { AsyncLocalStorage } from 'node:async_hooks';
import {
  type Context,
  type ContextManager,
  context,
  ROOT_CONTEXT,
  SpanStatusCode,
  trace,
} from '@opentelemetry/api';
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  type ReadableSpan,
  SimpleSpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createManualClock } from '../src/clock.ts';
import { createHookbox, type Hookbox } from '../src/hookbox.ts';
import { createTestStore, engines } from './support/stores.ts';
import { signStripe, stripeEventBody } from './support/stripe.ts';

/**
 * The context manager @opentelemetry/context-async-hooks provides (not installed here; the Node
 * SDK brings it): the active context follows async/await through AsyncLocalStorage, which is
 * what makes the verify, store and attempt spans children of the receive span.
 */
class AsyncLocalStorageContextManager implements ContextManager {
  readonly #storage = new AsyncLocalStorage<Context>();
  active(): Context {
    return this.#storage.getStore() ?? ROOT_CONTEXT;
  }
  with<A extends unknown[], F extends (...args: A) => ReturnType<F>>(
    ctx: Context,
    fn: F,
    thisArg?: ThisParameterType<F>,
    ...args: A
  ): ReturnType<F> {
    return this.#storage.run(ctx, () => fn.call(thisArg, ...args));
  }
  bind<T>(ctx: Context, target: T): T {
    if (typeof target !== 'function') return target;
    const manager = this;
    return function (this: unknown, ...args: unknown[]) {
      return manager.with(ctx, () => (target as (...a: unknown[]) => unknown).apply(this, args));
    } as T;
  }
  enable(): this {
    return this;
  }
  disable(): this {
    this.#storage.disable();
    return this;
  }
}

const secret = 'whsec_tracing_test';
const exporter = new InMemorySpanExporter();

beforeAll(() => {
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  trace.setGlobalTracerProvider(
    new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] }),
  );
});
afterAll(() => {
  trace.disable();
  context.disable();
});

describe.each(engines)('OpenTelemetry spans on %s', (engine) => {
  let cleanup: () => Promise<void>;
  let hookbox: Hookbox;
  const clock = createManualClock(Date.UTC(2026, 7, 1, 10));

  beforeEach(async () => {
    exporter.reset();
    const created = await createTestStore(engine, { clock });
    cleanup = created.cleanup;
    hookbox = createHookbox({
      store: created.store,
      clock,
      random: () => 0.5,
      sources: {
        stripe: { provider: 'stripe', secrets: [secret] },
        payments: { provider: 'stripe', secrets: [secret], mode: 'sync' },
      },
      handlers: {
        '*': {
          'invoice.paid': () => {},
          'charge.failed': () => {
            throw new Error('card service down');
          },
        },
      },
      worker: { enabled: false },
      monitor: { metrics: { processMetrics: false } },
    });
    await hookbox.start();
  });
  afterEach(async () => {
    await hookbox.stop();
    await cleanup();
  });

  const deliver = (source: string, body: string) =>
    hookbox.fetch(
      new Request(`http://hookbox.test/webhooks/${source}`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'stripe-signature': signStripe(body, secret, Math.floor(clock.now() / 1000)),
        },
        body,
      }),
    );
  const named = (spans: ReadableSpan[], name: string) => spans.filter((s) => s.name === name);

  it('links receive -> verify, store write and attempt as parent and children of one trace (sync mode)', async () => {
    const response = await deliver('payments', stripeEventBody('evt_traced', 'invoice.paid'));
    expect(response.status).toBe(200);
    const { id } = await response.json();

    const spans = exporter.getFinishedSpans();
    expect(spans.map((s) => s.name).sort()).toEqual([
      'hookbox.attempt',
      'hookbox.receive',
      'hookbox.store.record',
      'hookbox.verify',
    ]);
    const [receive] = named(spans, 'hookbox.receive');
    const root = receive!.spanContext();
    expect(receive!.parentSpanContext).toBeUndefined();
    for (const child of spans.filter((s) => s !== receive)) {
      expect(child.spanContext().traceId, child.name).toBe(root.traceId);
      expect(child.parentSpanContext?.spanId, child.name).toBe(root.spanId);
    }
    expect(receive!.attributes).toMatchObject({
      'hookbox.source': 'payments',
      'hookbox.event_type': 'invoice.paid',
      'hookbox.event_id': id,
    });
    expect(named(spans, 'hookbox.verify')[0]!.attributes).toMatchObject({
      'hookbox.source': 'payments',
      'hookbox.provider': 'stripe',
    });
    expect(named(spans, 'hookbox.store.record')[0]!.attributes).toMatchObject({
      'hookbox.source': 'payments',
    });
    expect(named(spans, 'hookbox.attempt')[0]!.attributes).toEqual({
      'hookbox.source': 'payments',
      'hookbox.event_type': 'invoice.paid',
      'hookbox.event_id': id,
      'hookbox.attempt': 1,
      'hookbox.outcome': 'processed',
    });
  });

  it('gives each background worker attempt its own span with the attempt number and outcome', async () => {
    const response = await deliver('stripe', stripeEventBody('evt_retry', 'charge.failed'));
    const { id } = await response.json();
    // Async mode: the delivery's trace ends at the acknowledgement.
    expect(named(exporter.getFinishedSpans(), 'hookbox.attempt')).toHaveLength(0);

    await hookbox.worker.processDue();
    clock.advance(6 * 60 * 60_000);
    await hookbox.worker.processDue();
    const attempts = named(exporter.getFinishedSpans(), 'hookbox.attempt');
    expect(
      attempts.map((s) => [
        s.attributes['hookbox.event_id'],
        s.attributes['hookbox.attempt'],
        s.attributes['hookbox.outcome'],
      ]),
    ).toEqual([
      [id, 1, 'failed'],
      [id, 2, 'failed'],
    ]);
    // A worker attempt starts its own trace: it runs long after the delivery was acknowledged.
    expect(attempts[0]!.parentSpanContext).toBeUndefined();
    expect(attempts[0]!.spanContext().traceId).not.toBe(attempts[1]!.spanContext().traceId);
  });

  it('marks the receive span of a rejected delivery without failing it', async () => {
    const body = stripeEventBody('evt_forged');
    const response = await hookbox.fetch(
      new Request('http://hookbox.test/webhooks/stripe', {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'stripe-signature': signStripe(body, 'whsec_wrong', 1),
        },
        body,
      }),
    );
    expect(response.status).toBe(401);
    const spans = exporter.getFinishedSpans();
    expect(spans.map((s) => s.name).sort()).toEqual(['hookbox.receive', 'hookbox.verify']);
    expect(named(spans, 'hookbox.receive')[0]!.status.code).not.toBe(SpanStatusCode.ERROR);
  });
});
