// Stop by requestId: the explicit Stop for SSE (where a closed request only detaches), and for any instance.
import { builder, requiresOrg } from '../builder.ts';
import { stopCompletion } from '../domain/ivy-resume.ts';
import { WRITE_COST } from '../lib/operation-cost.ts';

const StopInput = builder.inputType('StopIvyCompletionInput', {
  fields: (t) => ({ orgId: t.id({ required: true }), requestId: t.id({ required: true }) }),
});
const Stopped = builder.objectRef<{ requestId: string; stopping: boolean }>('IvyCompletionStop').implement({
  fields: (t) => ({
    requestId: t.exposeID('requestId'),
    stopping: t.exposeBoolean('stopping', {
      description:
        'True when the answer was still running: it is being cancelled, and its readers get IvyCompletionFailed CANCELLED. False when it had already ended.',
    }),
  }),
});

builder.mutationField('stopIvyCompletion', (t) =>
  t.field({
    ...requiresOrg(
      'ivy:use',
      'Stop: cancels your answer `requestId` at once, whichever instance produces it and whatever transport asked for it (over SSE a closed request only detaches). Billed for what it produced. Another member’s requestId is FORBIDDEN, like an unknown one.',
    ),
    type: Stopped,
    complexity: WRITE_COST,
    args: { input: t.arg({ type: StopInput, required: true }) },
    resolve: (_r, { input }, ctx) =>
      stopCompletion(ctx.services, ctx.viewer!, { orgId: String(input.orgId), requestId: String(input.requestId) }),
  }),
);
