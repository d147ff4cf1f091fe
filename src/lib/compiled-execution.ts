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
// ("got invalid value { …, apiKey: "sk-…" }"), and a refused setPersonalKey would then echo the key. Variables are
// therefore checked first by the executor Yoga uses otherwise (@graphql-tools/executor), whose messages name the
// field and never the value: a refusal reads exactly as before, and graphql-jit only sees variables that coerce.
import { useGraphQlJit } from '@envelop/graphql-jit';
import { getVariableValues } from '@graphql-tools/executor';
import { getOperationAST, Kind, type DocumentNode, type ExecutionArgs, type ExecutionResult } from 'graphql';
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

const useVariablesCheckedFirst = (): Plugin => ({
  onExecute: ({ executeFn, setExecuteFn }) => {
    setExecuteFn((args) => variableErrors(args) ?? executeFn(args));
  },
  onSubscribe: ({ subscribeFn, setSubscribeFn }) => {
    setSubscribeFn((args) => variableErrors(args) ?? subscribeFn(args));
  },
});

/** Test hook: how many documents became eligible for compilation (one operation, executed a second time). */
export const compiledDocuments = { count: 0 };

/** graphql-jit, then the variables check around it. Before any plugin that wraps or replaces execute or subscribe. */
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
  return [useGraphQlJit({}, { enableIf: secondSight }) as Plugin, useVariablesCheckedFirst()];
}
