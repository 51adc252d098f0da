import { Gauge, type Registry } from 'prom-client';
import { type BreakerSnapshot, type BreakerState, breakerStates } from '../worker/circuit-breaker.ts';

const stateValue: Record<BreakerState, number> = { closed: 0, half_open: 1, open: 2 };

/**
 * Circuit breakers in /metrics, read at scrape time: one series per handler registration that
 * has seen a failure (bounded by the handlers registered, not by the event types received).
 */
export function registerBreakerMetrics(registry: Registry, read: () => BreakerSnapshot[]): void {
  const registers = [registry];
  new Gauge({
    name: 'hookbox_circuit_breaker_state',
    help: `Circuit breaker of each handler: ${breakerStates.map((s) => `${stateValue[s]} ${s}`).join(', ')}.`,
    labelNames: ['handler'],
    registers,
    collect() {
      this.reset();
      for (const breaker of read()) this.set({ handler: breaker.handler }, stateValue[breaker.state]);
    },
  });
  new Gauge({
    name: 'hookbox_circuit_breaker_consecutive_failures',
    help: 'Consecutive failed attempts of each handler since its last success.',
    labelNames: ['handler'],
    registers,
    collect() {
      this.reset();
      for (const breaker of read()) this.set({ handler: breaker.handler }, breaker.consecutiveFailures);
    },
  });
  new Gauge({
    name: 'hookbox_circuit_breaker_opened',
    help: 'How many times each handler circuit breaker has opened since the process started.',
    labelNames: ['handler'],
    registers,
    collect() {
      this.reset();
      for (const breaker of read()) this.set({ handler: breaker.handler }, breaker.timesOpened);
    },
  });
}
