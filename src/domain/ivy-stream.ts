// Produces an accepted completion and settles it exactly once, however it ends: finished, failed upstream, the
// member removed mid-answer, the client pressing Stop (before the first event too), the resume window running out
// after the connection dropped, or the server shutting down.
import { DomainError, refuse, type ErrorCode } from '../lib/errors.ts';
import type { StreamPart } from '../providers/types.ts';
import { extendHold, holdForFallback, settleCompletion, type Settlement } from './credits.ts';
import { earlyStartsFor, partsOf } from './early-upstream.ts';
import { creditsRoute } from './ivy-plan.ts';
import { spendMonth } from './member-caps.ts';
import {
  acceptCompletion,
  askUpstream,
  failureMessage,
  type AcceptedCompletion,
  type IvyCompletionInput,
  type IvyEvent,
} from './ivy.ts';
import type { IndexedEvent } from './answer-log.ts';
import { markKeyInvalid } from './key-vault.ts';
import { LiveAnswer } from './live-answer.ts';
import { vendorName } from './vendors.ts';
import { billFor, TextTokenEstimate, type Bill, type Usage } from './pricing.ts';
import type { Actor, Services } from './services.ts';

type Ending =
  | Extract<StreamPart, { type: 'finish' }>
  | {
      type: 'error';
      code: ErrorCode;
      message: string;
      inputTokens: number | null;
      outputTokens: number | null;
      cachedInputTokens?: number | null;
    };

export interface StreamOptions {
  /** Aborted when the client goes away (an SSE request closed): the answer detaches, it is not cancelled. */
  clientGone?: AbortSignal;
  /** Asked when the client's stream is returned: true when that means Stop (graphql-ws `complete`), else it detaches. */
  stopOnReturn?: () => boolean;
  /** Whether the member may still use Ivy in the org: asked again at most every MEMBERSHIP_RECHECK_MS of streaming. */
  stillAllowed?: () => Promise<boolean>;
  /** Called once the completion is settled (however it ended). */
  onSettled?: () => void;
  /** Aborted when a server shutdown's grace period ends: the upstream request is cut, the stream ends SERVER_SHUTTING_DOWN. */
  shutdown?: AbortSignal;
  /** Decorates the answer's events as they are produced (metrics); settlement stays guaranteed underneath. */
  wrap?: (c: AcceptedCompletion, events: AsyncGenerator<IvyEvent>) => AsyncGenerator<IvyEvent>;
}

const CANCELLED = { code: 'CANCELLED', message: 'Cancelled by the client.' } as const;

/** One completion's meter (what was delivered, what the provider reported) and its once-only settlement. */
class CompletionRun {
  readonly delivered = new TextTokenEstimate();
  usage: Usage = { inputTokens: null, outputTokens: null, cachedInputTokens: null };
  private settlement?: Promise<Bill & Settlement>;
  /** Why Intervy Credits could not take over after the member's key was refused (said in the failure message). */
  private fallbackRefused?: string;
  onSettled?: () => void;

  constructor(
    private readonly s: Services,
    readonly c: AcceptedCompletion,
  ) {}

  /** The first call decides the bill; later calls (a cancellation racing the stream's own end) get the same one. */
  settle(end: Ending): Promise<Bill & Settlement> {
    if (!this.settlement) {
      this.settlement = this.bill(end);
      this.settlement
        .then(
          ({ creditsCharged }) => {
            const { c } = this;
            this.s.events.emit('completion-settled', {
              completionId: c.completionId,
              orgId: c.orgId,
              requestId: c.requestId,
              status: end.type === 'finish' ? 'SUCCEEDED' : end.code,
              creditsCharged,
            });
          },
          () => {},
        )
        .finally(() => this.onSettled?.());
    }
    return this.settlement;
  }

  cancel(): Promise<unknown> {
    return this.settle({ type: 'error', ...CANCELLED, ...this.usage }).catch((error) =>
      this.s.log.error('could not settle a cancelled completion; the expiry sweep will release its hold', {
        error,
        completionId: this.c.completionId,
      }),
    );
  }

  private async bill(end: Ending): Promise<Bill & Settlement> {
    const { s, c } = this;
    const reported = {
      inputTokens: end.inputTokens ?? this.usage.inputTokens,
      outputTokens: end.outputTokens ?? this.usage.outputTokens,
      cachedInputTokens: end.cachedInputTokens ?? this.usage.cachedInputTokens,
    };
    if (end.type === 'error' && end.code === 'PROVIDER_AUTH_FAILED' && c.billing === 'BYOK') {
      await markKeyInvalid(s, c.orgId, c.userId, c.vendor);
    }
    const bill = billFor(c.model, {
      finished: end.type === 'finish',
      reported,
      delivered: this.delivered,
      promptTokens: () => TextTokenEstimate.of(c.system, ...c.messages.map((m) => m.content)),
    });
    const status = end.type === 'finish' ? 'SUCCEEDED' : end.code === 'CANCELLED' ? 'CANCELLED' : 'FAILED';
    const settled = await settleCompletion(s, c.completionId, {
      status,
      charge: c.billing === 'CREDITS' ? bill.charge : 0,
      inputTokens: bill.inputTokens,
      outputTokens: bill.outputTokens,
      inputEstimated: bill.inputEstimated,
      outputEstimated: bill.outputEstimated,
      deliveredChars: this.delivered.chars,
      cachedInputTokens: c.billing === 'CREDITS' ? bill.cachedInputTokens : null,
      cacheSaving: c.billing === 'CREDITS' ? bill.cacheSaving : 0,
      errorCode: end.type === 'error' ? end.code : null,
      now: s.clock.now(),
    });
    // What the next completion of the org expects of its hold (early-upstream.ts).
    earlyStartsFor(s.db).balance(c.orgId, settled.balance);
    // BYOK: the provider bills the member; the event shows only what it reported.
    return c.billing === 'CREDITS'
      ? { ...bill, ...settled }
      : ({ ...bill, ...reported, ...settled } as Bill & Settlement);
  }

  private upstream(signal: AbortSignal): AsyncIterable<StreamPart> {
    return askUpstream(this.s, this.c, signal);
  }

  /**
   * Reads the member's provider until its first text or its end. A 401/403 before any text marks the key INVALID and
   * places a credits hold on this same completion (same requestId, settled once); the house model then answers.
   */
  private async fallBackIfRefused(parts: AsyncIterator<StreamPart>, signal: AbortSignal) {
    const { s, c } = this;
    const early: StreamPart[] = [];
    for (let r = await parts.next(); !r.done; r = await parts.next()) {
      early.push(r.value);
      if (r.value.type !== 'usage') break;
    }
    const rest = { [Symbol.asyncIterator]: () => parts };
    const last = early.at(-1);
    if (last?.type !== 'error' || last.code !== 'PROVIDER_AUTH_FAILED' || signal.aborted) return chain(early, rest);
    const route = creditsRoute(s, c, 'PROVIDER_AUTH_FAILED');
    let hold;
    try {
      hold = await holdForFallback(s, c.completionId, {
        orgId: c.orgId,
        userId: c.userId,
        vendor: route.vendor,
        model: route.model.id,
        holdAmount: route.holdAmount,
        spendMonth: spendMonth(s.clock.now()),
        fallbackReason: route.fallbackReason,
      });
    } catch (err) {
      if (!(err instanceof DomainError)) throw err;
      this.fallbackRefused = err.message;
      return chain(early, rest);
    }
    if (!hold) return chain(early, rest); // cancelled meanwhile: settled as BYOK, nothing held
    await markKeyInvalid(s, c.orgId, c.userId, c.vendor);
    Object.assign(c, {
      provider: 'INTERVY_CREDITS',
      billing: 'CREDITS',
      vendor: route.vendor,
      model: route.model,
      apiKey: route.apiKey,
      holdAmount: hold.holdAmount,
      balanceAtAccept: hold.balanceAfter,
      fallbackReason: route.fallbackReason,
    });
    this.usage = { inputTokens: null, outputTokens: null, cachedInputTokens: null };
    return this.upstream(signal);
  }

  async *events(
    signal: AbortSignal,
    stillAllowed?: () => Promise<boolean>,
    shutdown?: AbortSignal,
  ): AsyncGenerator<IvyEvent> {
    const { s, c } = this;
    let end: Ending | null = null;
    let lastCheck = s.clock.now().getTime();
    let lastExtended = lastCheck;
    let started = false;
    const recheck: { pending: boolean; refused: boolean; failed?: unknown } = { pending: false, refused: false };
    try {
      // Credits: the request may have left while the hold was placed (its controller is this run's).
      let parts: AsyncIterable<StreamPart> = c.early ? partsOf(c.early) : this.upstream(signal);
      // With the org's consent, the start is held back until the provider's first text: a key refused before then
      // moves the completion to Intervy Credits. Never after text: the member has seen an answer begin.
      if (c.fallbackArmed) parts = await this.fallBackIfRefused(parts[Symbol.asyncIterator](), signal);
      yield {
        kind: 'started',
        requestId: c.requestId,
        provider: c.provider,
        model: c.model.id,
        billing: c.billing,
        fallbackReason: c.fallbackReason,
      };
      started = true;
      for await (const part of parts) {
        if (part.type === 'usage') {
          this.usage = {
            inputTokens: part.inputTokens ?? this.usage.inputTokens,
            outputTokens: part.outputTokens ?? this.usage.outputTokens,
            cachedInputTokens: part.cachedInputTokens ?? this.usage.cachedInputTokens,
          };
          continue;
        }
        if (part.type !== 'text-delta') {
          end = part;
          continue;
        }
        const now = s.clock.now().getTime();
        // The membership re-check runs beside the stream, not in front of a delta: under load its two queries wait
        // for a pooled connection behind every other stream's, and a delta held behind them arrives late. A verdict
        // of no (or a failed check) cuts the stream at the next delta after it.
        if (recheck.refused) {
          end = {
            type: 'error',
            code: 'FORBIDDEN',
            message: 'You are no longer a member of this org, so Ivy stopped answering.',
            ...this.usage,
          };
          break; // leaving the loop returns the adapter's stream, which aborts the upstream request
        }
        if (recheck.failed) throw recheck.failed;
        if (stillAllowed && !recheck.pending && now - lastCheck >= s.config.membershipRecheckMs) {
          lastCheck = now;
          recheck.pending = true;
          stillAllowed().then(
            (allowed) => Object.assign(recheck, { pending: false, refused: !allowed }),
            (err: unknown) => Object.assign(recheck, { pending: false, failed: err }),
          );
        }
        // A stream that makes progress is alive: keep the expiry sweep off its hold (it is for crashed processes).
        if (now - lastExtended >= s.config.holdTimeoutMs / 3) {
          lastExtended = now;
          await extendHold(s.db, c.completionId, new Date(now + s.config.holdTimeoutMs));
        }
        this.delivered.add(part.text);
        yield { kind: 'delta', text: part.text };
      }
    } catch (err) {
      s.log.error('provider adapter threw instead of ending its stream', { error: err, vendor: c.vendor });
    }
    if (!started) {
      const { requestId, provider, model, billing, fallbackReason } = c;
      yield { kind: 'started', requestId, provider, model: model.id, billing, fallbackReason };
    }
    if (end?.type === 'error' && this.fallbackRefused) {
      end = { ...end, message: `${end.message} Intervy Credits could not take over: ${this.fallbackRefused}` };
    }
    end ??= {
      type: 'error',
      code: 'PROVIDER_UNAVAILABLE',
      message: `${vendorName(c.vendor)} ended the answer without finishing it.`,
      ...this.usage,
    };
    if (end.type === 'error' && end.code === 'CANCELLED' && shutdown?.aborted) {
      // Cut by a server shutdown, not by the client: tell it to retry (billed like any cut stream).
      end = {
        ...end,
        code: 'SERVER_SHUTTING_DOWN',
        message: 'This server is restarting and could not finish the answer: ask again.',
      };
    }
    let bill: Bill & Settlement;
    try {
      bill = await this.settle(end);
    } catch (err) {
      // The answer streamed but could not be billed (database unreachable). Charge nothing: the hold stays until
      // the expiry sweep releases it in full.
      s.log.error('could not settle a completion; the expiry sweep will release its hold', {
        error: err,
        completionId: c.completionId,
      });
      yield {
        kind: 'failed',
        code: 'INTERNAL_SERVER_ERROR',
        message: 'Ivy answered, but we could not record the result. Nothing was charged for it.',
        creditsCharged: 0,
        creditBalance: c.balanceAtAccept,
      };
      return;
    }
    const figures = {
      inputTokens: bill.inputTokens,
      outputTokens: bill.outputTokens,
      creditsCharged: bill.creditsCharged,
      creditBalance: bill.balance,
    };
    if (end.type === 'finish') yield { kind: 'finished', finishReason: end.reason, ...figures };
    else {
      const message =
        end.code === 'FORBIDDEN' ? end.message : failureMessage(c, end as Extract<StreamPart, { type: 'error' }>);
      yield {
        kind: 'failed',
        code: end.code,
        message,
        creditsCharged: bill.creditsCharged,
        creditBalance: bill.balance,
      };
    }
  }
}

/**
 * Starts producing an accepted completion on this instance and returns the first client's reader of it. The run
 * goes on by itself and appends each event to the answer's log; readers (this one, and any that resume) read the
 * log. Stop (`stopOnReturn`, stopIvyCompletion, a server shutdown) aborts the upstream request at once and settles
 * the completion for what was produced; a client going away only detaches (live-answer.ts).
 */
export function completionStream(
  s: Services,
  c: AcceptedCompletion,
  opts: StreamOptions = {},
): AsyncGenerator<IndexedEvent> {
  const run = new CompletionRun(s, c);
  const upstream = c.early?.controller ?? new AbortController();
  // Listeners by hand, not AbortSignal.any: the shutdown signal lives as long as the process, and composites that
  // SDKs listen on stay attached to such a signal (nodejs/node#55351, #64476); removing ours on settle frees them.
  const cutForShutdown = () => upstream.abort();
  opts.shutdown?.addEventListener('abort', cutForShutdown, { once: true });
  const stop = () => {
    upstream.abort();
    return run.cancel();
  };
  const answer = new LiveAnswer(s, c, stop);
  s.answers.register(answer);
  const entry = { cancel: stop };
  track(s, entry);
  run.onSettled = () => {
    untrack(s, entry);
    opts.shutdown?.removeEventListener('abort', cutForShutdown);
    opts.onSettled?.();
  };
  const reader = answer.attach(0, { clientGone: opts.clientGone, stopOnReturn: opts.stopOnReturn });
  void (async () => {
    const produced = run.events(upstream.signal, opts.stillAllowed, opts.shutdown);
    // Decorated where it is produced, so metrics count each answer once whoever reads it (or nobody).
    const events = opts.wrap ? opts.wrap(c, produced) : produced;
    // A run with no listener (detached) is still in flight for a drain's grace period.
    for await (const event of s.lifecycle ? s.lifecycle.trackRun(events) : events) s.answers.append(answer, event);
  })();
  return reader;
}

async function* chain(first: StreamPart[], rest: AsyncIterable<StreamPart>): AsyncGenerator<StreamPart> {
  yield* first;
  yield* rest;
}

type Inflight = Services['inflight'] extends Set<infer E> ? E : never;

function track(s: Services, entry: Inflight) {
  s.inflight.add(entry);
  s.events.emit('inflight-changed', s.inflight.size);
}

function untrack(s: Services, entry: Inflight) {
  if (s.inflight.delete(entry)) s.events.emit('inflight-changed', s.inflight.size);
}

/**
 * Accepts a completion and returns its event stream. From the moment acceptance starts until the completion is
 * settled, it is in `s.inflight`, so stopping the server waits for an acceptance under way and then settles it.
 */
export async function startCompletion(
  s: Services,
  actor: Actor,
  input: IvyCompletionInput,
  opts: StreamOptions = {},
): Promise<AsyncGenerator<IndexedEvent>> {
  let accepting!: Promise<AcceptedCompletion>;
  const entry = {
    cancel: () =>
      accepting.then(
        (accepted) => s.answers.local(accepted.completionId)?.stop(),
        () => undefined,
      ),
  };
  track(s, entry);
  try {
    // Checked in the same turn as the tracking above: a shutdown that began while this subscribe was on its way
    // (its checks, its slots) has already passed the point where it settles what is in flight, and a hold placed now
    // would outlive the process (the ledger checker caught one). Before that point, this acceptance is tracked and
    // the shutdown settles it.
    if (s.lifecycle?.draining)
      refuse(
        'SERVER_SHUTTING_DOWN',
        'This server is shutting down: send the request again (it will reach another instance).',
      );
    accepting = acceptCompletion(s, actor, input);
    const accepted = await accepting;
    const stream = completionStream(s, accepted, opts);
    return stream;
  } finally {
    untrack(s, entry);
  }
}
