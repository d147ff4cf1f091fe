// Operations run as JavaScript compiled once per document (graphql-jit, through the envelop plugin), not walked by the
// generic executor each time. A subscription's every event is executed against its selection set: that walk was
// the largest per-delta cost after the socket writes (issue 10). Measured, streams of 200 deltas with no pause:
// 194–206 → 147–158 µs of server CPU a delta; the 1,000-stream row's p99 added delay went from 452 and 918 ms to
// −74 and −23 ms over the direct SDK baseline (two runs each, alternated, same machine and minutes).
//
// A document is compiled from its second execution on: compiling costs more than one walk of the executor, and a
// client sending a new document each time (hostile traffic, or a one-off from GraphiQL) would otherwise buy a
// compilation with every request. The app's own documents repeat, and a subscription's are compiled before its events.
//
// Only documents of one operation are compiled: the plugin keeps one compilation per document, whichever operation
// it was made for, so a document of several (GraphiQL's examples: Me, Settings, SaveMyKey…) would run the first one
// compiled whatever operation a later request names (the browser walkthrough caught SaveMyKey answering Settings).
//
// One difference matters here: graphql-jit's own variable coercion quotes the rejected value in its message
// ("got invalid value { …, apiKey: "sk-…" }"), and a refused setPersonalKey would then echo the key. The executor Yoga
// uses otherwise (@graphql-tools/executor) quotes it too, but keeps the reason alone ('Field "provider" … was not
// provided.') as the error's originalError, which is all the error masking (lib/graphql-errors.ts) sends. A result
// made of graphql-jit's refusal of the variables therefore has them checked again by that executor, whose errors
// take its place: a refusal reads exactly as before. The check used to run before every execution, 10 µs of a
// 460 µs orgAiSettings request (issue 10), for the rare refusal.
import { useGraphQlJit } from '@envelop/graphql-jit';
import { getVariableValues } from '@graphql-tools/executor';
import {
  getOperationAST,
  GraphQLError,
  Kind,
  type DocumentNode,
  type ExecutionArgs,
  type ExecutionResult,
} from 'graphql';
import type { Plugin } from 'graphql-yoga';

/** The executor's verdict on the variables: its errors, or null when they coerce. */
function variableErrors(args: ExecutionArgs): ExecutionResult | null {
  const operation = getOperationAST(args.document, args.operationName);
  if (!operation) return null; // graphql-jit reports a missing operation itself
  const checked = getVariableValues(args.schema, operation.variableDefinitions ?? [], args.variableValues ?? {}, {
    maxErrors: 50,
  });
  return 'errors' in checked && checked.errors ? { errors: checked.errors } : null;
}

/** graphql-jit's refusal of the variables: errors alone, each naming a variable (its messages quote the value). */
const refusedVariables = (result: unknown): result is ExecutionResult & { errors: readonly GraphQLError[] } =>
  typeof result === 'object' &&
  result !== null &&
  !('data' in result) &&
  Array.isArray((result as ExecutionResult).errors) &&
  (result as ExecutionResult).errors!.some((e) => e.message.startsWith('Variable "$'));

/**
 * The executor's errors in place of graphql-jit's refusal of the variables. Should the two ever disagree (graphql-jit
 * refuses what the executor takes), the refusal stands, worded without the value.
 */
export const variablesReworded = (args: ExecutionArgs, result: unknown) => {
  if (!refusedVariables(result)) return result;
  return (
    variableErrors(args) ?? {
      errors: result.errors.map((e) =>
        e.message.startsWith('Variable "$')
          ? new GraphQLError(`${e.message.slice(0, e.message.indexOf('"', 11) + 1)} got an invalid value.`, {
              extensions: { code: 'BAD_USER_INPUT' },
            })
          : e,
      ),
    }
  );
};

/** `then` for a value that may or may not be a promise (execute and subscribe return either). */
const thenMaybe = <T, R>(value: T | Promise<T>, then: (value: T) => R): R | Promise<R> =>
  value instanceof Promise ? value.then(then) : then(value as T);

const useVariablesWordedByTheExecutor = (): Plugin => ({
  onExecute: ({ executeFn, setExecuteFn }) => {
    setExecuteFn((args) => thenMaybe(executeFn(args), (result) => variablesReworded(args, result)));
  },
  onSubscribe: ({ subscribeFn, setSubscribeFn }) => {
    setSubscribeFn((args) => thenMaybe(subscribeFn(args), (result) => variablesReworded(args, result)));
  },
});

/** Test hook: how many documents became eligible for compilation (one operation, executed a second time). */
export const compiledDocuments = { count: 0 };

/** graphql-jit, then the variables' rewording around it. Before any plugin that wraps or replaces execute or subscribe. */
export function useCompiledExecution(): Plugin[] {
  // Documents are Yoga's parser cache's (one per source, at most its 1,024 newest), held weakly here as there.
  const compiled = new WeakMap<DocumentNode, boolean>();
  const secondSight = ({ document }: { document: DocumentNode }) => {
    if (document.definitions.filter((d) => d.kind === Kind.OPERATION_DEFINITION).length !== 1) return false;
    const before = compiled.get(document);
    compiled.set(document, before !== undefined);
    if (before === false) compiledDocuments.count++;
    return before !== undefined;
  };
  return [useGraphQlJit({}, { enableIf: secondSight }) as Plugin, useVariablesWordedByTheExecutor()];
}
