import { builder, requiresOrg, stillAllowed } from '../builder.ts';
import { MAX_TOKENS_DEFAULT, MAX_TOKENS_LIMIT, type IvyEvent } from '../domain/ivy.ts';
import type { IndexedEvent } from '../domain/answer-log.ts';
import { startCompletion } from '../domain/ivy-stream.ts';
import { resumeCompletion } from '../domain/ivy-resume.ts';
import { FINISH_REASONS } from '../providers/types.ts';
import { refuse } from '../lib/errors.ts';
import { socketStillOpen } from '../lib/graphql-ws.ts';
import { releaseOnEnd } from '../lib/release-on-end.ts';
import { PROVIDER_CALL_COST } from '../lib/operation-cost.ts';
import { AiProviderRef, ErrorCodeRef } from './scalars.ts';
import { BillingMode } from '../generated/prisma/enums.ts';

export const BillingModeRef = builder.enumType(BillingMode, {
  name: 'BillingMode',
  description: 'CREDITS: billed to the org’s prepaid credits. BYOK: billed by the provider to the member’s own key.',
});
export const FallbackReasonRef = builder.enumType('FallbackReason', {
  description:
    'Why an answer in a BYOK org ran on Intervy Credits (only when an Org Admin turned fallbackToCredits on): the member had no key (NO_API_KEY), their key was marked INVALID (KEY_INVALID), or the provider refused it before any text streamed (PROVIDER_AUTH_FAILED).',
  values: ['NO_API_KEY', 'KEY_INVALID', 'PROVIDER_AUTH_FAILED'] as const,
});
const IvyMessageRole = builder.enumType('IvyMessageRole', { values: ['USER', 'ASSISTANT'] as const });

const IvyMessageInput = builder.inputType('IvyMessageInput', {
  fields: (t) => ({
    role: t.field({ type: IvyMessageRole, required: true }),
    content: t.string({ required: true }),
  }),
});

export const IvyCompletionInputRef = builder.inputType('IvyCompletionInput', {
  fields: (t) => ({
    orgId: t.id({ required: true }),
    messages: t.field({
      type: [IvyMessageInput],
      required: true,
      description: 'The conversation so far; the last one is the USER’s question.',
    }),
    system: t.string({ description: 'Instructions for Ivy.' }),
    maxTokens: t.int({
      description: `Longest answer, in tokens: 1 to ${MAX_TOKENS_LIMIT}, default ${MAX_TOKENS_DEFAULT}. Credits mode holds enough credits for it.`,
    }),
    requestId: t.id({
      description:
        'Client-chosen idempotency key, in both billing modes: a repeat in the same org, while the first runs or after it ended, is refused (DUPLICATE_REQUEST): never answered or billed twice, and never sent upstream on a member’s own key. Also the key to resume or stop the answer.',
    }),
    resumeFrom: t.int({
      description:
        'Resume: re-attach to your answer `requestId` (the other fields are ignored) and receive the events after this `index` (0: all of them), then the live rest. Works on any instance while it runs and for RESUME_RETENTION_MS after it ended; nothing is sent upstream or billed again. Another member’s requestId is FORBIDDEN, like an unknown one; an answer no longer kept is RESUME_EXPIRED.',
    }),
  }),
});

const FinishReason = builder.enumType('IvyFinishReason', {
  description:
    'Why an answer ended, from the vendor’s stop reason: END_TURN (it was done), MAX_TOKENS (cut at maxTokens), STOP_SEQUENCE, TOOL_USE, PAUSE_TURN, REFUSAL (the model declined), CONTENT_FILTER (the vendor’s filter cut it), OTHER (a reason this API does not know yet).',
  values: FINISH_REASONS,
});

type Of<K extends IvyEvent['kind']> = Extract<IndexedEvent, { kind: K }>;
const INDEX = {
  description:
    'This event’s place in the answer, from 1. After a lost connection, resume with `resumeFrom` set to the last index you received.',
};

// Every member who may ask Ivy (ivy:use) may see the balance (ai-settings:view): the final events carry it, never null
// (test/unit/permissions.test.ts fails if the catalog ever parts the two).
const BALANCE_AFTER =
  'The org’s credit balance once this answer was settled: the same figure `creditBalance` returns right after, and the one `creditBalanceChanged` pushes. In BYOK mode the answer moved nothing and this is the org’s current balance (a BYOK org still has one, and its answers may fall back to credits).';

const Started = builder.objectRef<Of<'started'>>('IvyCompletionStarted').implement({
  fields: (t) => ({
    index: t.exposeInt('index', INDEX),
    requestId: t.exposeID('requestId'),
    provider: t.expose('provider', { type: AiProviderRef }),
    model: t.exposeString('model', { description: 'The vendor model id serving this answer.' }),
    billing: t.expose('billing', { type: BillingModeRef }),
    fallbackReason: t.expose('fallbackReason', {
      type: FallbackReasonRef,
      nullable: true,
      description: 'Set when this answer runs on Intervy Credits instead of the member’s own key.',
    }),
  }),
});
const Delta = builder.objectRef<Of<'delta'>>('IvyTextDelta').implement({
  fields: (t) => ({ index: t.exposeInt('index', INDEX), text: t.exposeString('text') }),
});
const Finished = builder.objectRef<Of<'finished'>>('IvyCompletionFinished').implement({
  fields: (t) => ({
    index: t.exposeInt('index', INDEX),
    finishReason: t.expose('finishReason', { type: FinishReason }),
    inputTokens: t.exposeInt('inputTokens', { nullable: true }),
    outputTokens: t.exposeInt('outputTokens', { nullable: true }),
    creditsCharged: t.exposeInt('creditsCharged'),
    creditBalance: t.exposeInt('creditBalance', {
      description: BALANCE_AFTER,
    }),
  }),
});
const Failed = builder.objectRef<Of<'failed'>>('IvyCompletionFailed').implement({
  fields: (t) => ({
    index: t.exposeInt('index', INDEX),
    code: t.expose('code', { type: ErrorCodeRef }),
    message: t.exposeString('message'),
    creditsCharged: t.exposeInt('creditsCharged', {
      description:
        'What was billed for the part streamed before the failure: the input the provider accepted and at least the output delivered.',
    }),
    creditBalance: t.exposeInt('creditBalance', {
      description: `${BALANCE_AFTER} Also on a Stop (code CANCELLED). When the bill could not be recorded (INTERNAL_SERVER_ERROR): the balance once the answer was accepted.`,
    }),
  }),
});

const byKind = { started: Started, delta: Delta, finished: Finished, failed: Failed } as const;

const IvyCompletionEvent = builder.unionType('IvyCompletionEvent', {
  description:
    'IvyCompletionStarted first, then IvyTextDelta in order, then exactly one IvyCompletionFinished or IvyCompletionFailed.',
  types: [Started, Delta, Finished, Failed],
  resolveType: (event: IndexedEvent) => byKind[event.kind],
});

builder.subscriptionField('ivyCompletion', (t) =>
  t.field({
    ...requiresOrg(
      'ivy:use',
      'Asks Ivy and streams the answer, or resumes one (`resumeFrom`). Refusals (NO_API_KEY, INSUFFICIENT_CREDITS, RATE_LIMITED for too many answers at once per member, org or connection, …) come before any of the answer is streamed or billed, and before anything is sent upstream on a member’s own key (on Intervy Credits, a request the server expects to hold leaves while the hold is placed and is cut at once if it is refused). graphql-ws `complete` is Stop (the answer is cancelled at once); a connection that goes away (and any SSE request that closes) only detaches: the answer goes on for RESUME_WINDOW_MS, then is cancelled unless someone resumed it.',
    ),
    type: IvyCompletionEvent,
    complexity: PROVIDER_CALL_COST,
    args: { input: t.arg({ type: IvyCompletionInputRef, required: true }) },
    subscribe: async (_root, { input }, ctx) => {
      const orgId = String(input.orgId);
      const { lifecycle, metrics } = ctx.services;
      // Over graphql-ws, return() on an open socket is the client's `complete` (Stop); on a closed one, a lost connection.
      const stopOnReturn = () => ctx.socket != null && socketStillOpen(ctx.socket);
      if (input.resumeFrom != null) {
        if (input.requestId == null) refuse('BAD_USER_INPUT', 'To resume, send the requestId of the answer.');
        const stream = await resumeCompletion(
          ctx.services,
          ctx.viewer!,
          { orgId, requestId: String(input.requestId), resumeFrom: input.resumeFrom },
          { clientGone: ctx.signal, stopOnReturn },
        );
        // Not counted in flight for a drain: it holds no upstream request, and once this instance closes its socket
        // (1001) the client resumes on another one.
        return stream;
      }
      // Concurrency slots (member, org, socket) are taken first, so a request over a limit is refused at once and
      // never queues; they are freed once, however the stream ends: when it settles (even if it never took a step)
      // or when its consumer ends or stops it, whichever comes first.
      const release = await ctx.services.limits.acquireCompletion({
        userId: ctx.viewer!.userId,
        orgId,
        socket: ctx.socket,
      });
      let released: Promise<void> | undefined;
      const free = () => (released ??= release());
      const gone = () => ctx.signal?.aborted === true || (ctx.socket != null && !socketStillOpen(ctx.socket));
      try {
        // Started in its turn (COMPLETIONS_STARTING_AT_ONCE): a client gone while it waited starts nothing.
        const stream = await ctx.services.limits.starting(async () => {
          if (gone())
            refuse('CANCELLED', 'The connection closed before this answer could start: nothing was sent or charged.');
          return startCompletion(
            ctx.services,
            ctx.viewer!,
            { ...input, orgId, requestId: input.requestId == null ? null : String(input.requestId) },
            {
              clientGone: ctx.signal,
              stopOnReturn,
              // On a timer (MEMBERSHIP_RECHECK_MS), not per event: read through the invalidated cache.
              stillAllowed: stillAllowed(ctx, orgId, 'ivy:use', { periodic: true }),
              onSettled: () => void free(),
              // The end of a shutdown's grace period cuts the upstream request; the stream ends SERVER_SHUTTING_DOWN.
              shutdown: lifecycle?.shutdownSignal,
              // Counted for /metrics.
              wrap: (accepted, events) => (metrics ? metrics.observeCompletion(accepted, events) : events),
            },
          );
        });
        // In flight (for a shutdown's grace period) until its end reaches the transport, its slot freed first.
        // A client gone (socket closed, SSE request aborted) only detached: the answer still runs upstream and keeps
        // its slot until it settles, so dropping connections cannot run more answers at once than the limits allow.
        const guarded = releaseOnEnd(stream, () => (gone() ? Promise.resolve() : free()));
        return lifecycle ? lifecycle.track(guarded) : guarded;
      } catch (err) {
        await free();
        throw err;
      }
    },
    resolve: (event: IndexedEvent) => event,
  }),
);
