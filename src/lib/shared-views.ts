// Executes a subscription event once per distinct view, not once per subscriber (issue 10: one settings change to
// 10,000 Settings pages). A subscription field opts in with a `viewOf(event, context)`: subscribers of the same
// event, the same document and the same variables whose viewOf is the same string would receive the same result, so
// the first of them executes it and the others are handed that result. viewOf must cover everything a field under
// the subscription reads from the context (orgAiSettingsChanged: the viewer's role and the viewer's own keys); null
// executes for this subscriber alone (a refusal, say).
//
// The rest stays as GraphQL does it: the field's own subscribe (auth scopes, access re-checked at each event) runs
// per subscriber through graphql-js's createSourceEventStream, and each result still passes every plugin's onNext
// (request ids, error masking) on its own subscriber's way out.
import {
  createSourceEventStream,
  execute,
  getOperationAST,
  Kind,
  type DocumentNode,
  type ExecutionArgs,
  type ExecutionResult,
} from 'graphql';
import { isAsyncIterable, type Plugin } from 'graphql-yoga';

export type ViewOf = (event: object, context: unknown) => Promise<string | null> | string | null;

/** The one root field of a subscription operation, when it has exactly one (no fragments at the root). */
function rootFieldOf(document: DocumentNode, operationName?: string | null): string | null {
  const op = getOperationAST(document, operationName);
  if (op?.operation !== 'subscription' || op.selectionSet.selections.length !== 1) return null;
  const [field] = op.selectionSet.selections;
  return field.kind === Kind.FIELD ? field.name.value : null;
}

const documentIds = new WeakMap<DocumentNode, number>();
let nextDocumentId = 0;
/** Results by event: a WeakMap, so they go when the event does (every subscriber has taken it). */
const resultsByEvent = new WeakMap<object, Map<string, Promise<ExecutionResult>>>();

/** How many executions a view of an event cost (test hook: one per view, however many subscribers). */
export const sharedExecutions = { count: 0 };

function executeOnce(args: ExecutionArgs, event: object, viewKey: string): Promise<ExecutionResult> {
  let docId = documentIds.get(args.document);
  if (docId === undefined) documentIds.set(args.document, (docId = nextDocumentId++));
  const key = `${docId}\0${args.operationName ?? ''}\0${JSON.stringify(args.variableValues ?? {})}\0${viewKey}`;
  let results = resultsByEvent.get(event);
  if (!results) resultsByEvent.set(event, (results = new Map()));
  let result = results.get(key);
  if (!result) {
    sharedExecutions.count++;
    result = Promise.resolve(execute({ ...args, rootValue: event }) as ExecutionResult);
    results.set(key, result);
  }
  return result;
}

async function subscribeSharingViews(args: ExecutionArgs, viewOf: ViewOf) {
  const stream = await createSourceEventStream(args);
  if (!isAsyncIterable(stream)) return stream;
  const events = stream[Symbol.asyncIterator]();
  const resultOf = async (event: unknown): Promise<ExecutionResult> => {
    const view = typeof event === 'object' && event !== null ? await viewOf(event, args.contextValue) : null;
    if (view === null) return execute({ ...args, rootValue: event }) as ExecutionResult | Promise<ExecutionResult>;
    return executeOnce(args, event as object, view);
  };
  const results: AsyncIterableIterator<ExecutionResult> = {
    async next() {
      const r = await events.next();
      return r.done ? r : { done: false, value: await resultOf(r.value) };
    },
    async return() {
      await events.return?.();
      return { done: true, value: undefined };
    },
    async throw(err?: unknown) {
      await events.return?.();
      throw err;
    },
    [Symbol.asyncIterator]() {
      return results;
    },
  };
  return results;
}

/** The envelop plugin: `views` names the subscription fields whose events are executed once per view. */
export function useSharedSubscriptionViews(views: Record<string, ViewOf>): Plugin {
  return {
    onSubscribe: ({ args, setSubscribeFn }) => {
      const field = rootFieldOf(args.document, args.operationName);
      const viewOf = field ? views[field] : undefined;
      if (viewOf) setSubscribeFn((a) => subscribeSharingViews(a, viewOf));
    },
  };
}
