// Prometheus metrics of our own, beside Yoga's (graphql_envelop_*, graphql_yoga_http_duration). One registry per app,
// so several servers in one process (tests) never share counters.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { AcceptedCompletion, IvyEvent } from '../domain/ivy.ts';

export class AppMetrics {
  readonly registry = new Registry();
  readonly operations = new Counter({
    name: 'ivy_operations_total',
    help: 'GraphQL operations by name, type and outcome (ok or an ErrorCode).',
    labelNames: ['operation', 'type', 'outcome'],
    registers: [this.registry],
  });
  readonly operationSeconds = new Histogram({
    name: 'ivy_operation_duration_seconds',
    help: 'GraphQL operation latency (a subscription: its whole life).',
    labelNames: ['operation', 'type'],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
    registers: [this.registry],
  });
  readonly openSockets = new Gauge({
    name: 'ivy_websocket_connections',
    help: 'Open graphql-ws connections.',
    registers: [this.registry],
  });
  readonly openSubscriptions = new Gauge({
    name: 'ivy_subscriptions_active',
    help: 'Running subscriptions, over graphql-ws and SSE.',
    registers: [this.registry],
  });
  readonly completions = new Counter({
    name: 'ivy_completions_total',
    help: 'Completions by provider, billing mode and outcome (finished or an ErrorCode).',
    labelNames: ['provider', 'billing', 'outcome'],
    registers: [this.registry],
  });
  readonly firstToken = new Histogram({
    name: 'ivy_completion_first_token_seconds',
    help: 'Time from acceptance to the first text delta.',
    labelNames: ['provider'],
    buckets: [0.05, 0.1, 0.25, 0.5, 1, 2, 4, 8, 16],
    registers: [this.registry],
  });
  readonly earlyUpstream = new Counter({
    name: 'ivy_early_upstream_requests_total',
    help: 'Credits completions whose upstream request left while the hold was placed: kept, or cut when the hold was refused (the house key carried a request that answered no one).',
    labelNames: ['outcome'],
    registers: [this.registry],
  });
  readonly creditsHeld = new Counter({
    name: 'ivy_credits_held_total',
    help: 'Credits held before calling upstream (credits mode).',
    registers: [this.registry],
  });
  readonly creditsCharged = new Counter({
    name: 'ivy_credits_charged_total',
    help: 'Credits charged when completions settled.',
    registers: [this.registry],
  });
  readonly providerErrors = new Counter({
    name: 'ivy_provider_errors_total',
    help: 'Completions that ended with a provider error, by code.',
    labelNames: ['provider', 'code'],
    registers: [this.registry],
  });
  readonly keyTests = new Counter({
    name: 'ivy_key_tests_total',
    help: 'Personal key tests by result: ok, or not_ok_ plus the key status after the test (invalid; valid when rate limited; unchanged when unreachable).',
    labelNames: ['provider', 'result'],
    registers: [this.registry],
  });
  readonly sweepReleases = new Counter({
    name: 'ivy_ledger_sweep_released_holds_total',
    help: 'Abandoned credit holds released by the expiry sweep.',
    registers: [this.registry],
  });

  /** Node's process metrics (event loop lag, heap, GC) only when served: they install monitors. */
  constructor(processMetrics = true) {
    if (processMetrics) collectDefaultMetrics({ register: this.registry });
  }

  /** Passes a completion's events through unchanged, counting its outcome, first token and credits. */
  observeCompletion<E extends IvyEvent>(c: AcceptedCompletion, stream: AsyncGenerator<E>): AsyncGenerator<E> {
    const started = performance.now();
    let firstDelta = true;
    let counted = false;
    this.creditsHeld.inc(c.holdAmount);
    const count = (outcome: string) => {
      if (counted) return;
      counted = true;
      this.completions.inc({ provider: c.provider, billing: c.billing, outcome });
    };
    const observe = (event: IvyEvent) => {
      if (event.kind === 'delta' && firstDelta) {
        firstDelta = false;
        this.firstToken.observe({ provider: c.provider }, (performance.now() - started) / 1000);
      } else if (event.kind === 'finished' || event.kind === 'failed') {
        this.creditsCharged.inc(event.creditsCharged);
        count(event.kind === 'finished' ? 'finished' : event.code);
        if (event.kind === 'failed' && event.code.startsWith('PROVIDER_'))
          this.providerErrors.inc({ provider: c.provider, code: event.code });
      }
    };
    const observed: AsyncGenerator<E> = {
      next: (...args) => stream.next(...args).then((r) => (r.done ? count('CANCELLED') : observe(r.value), r)),
      return: (value) => (count('CANCELLED'), stream.return(value)),
      throw: (err) => stream.throw(err),
      [Symbol.asyncIterator]: () => observed,
      [Symbol.asyncDispose]: async () => {
        await observed.return(undefined);
      },
    } as AsyncGenerator<E>;
    return observed;
  }
}
