// Operation limits for every transport (HTTP, SSE, graphql-ws all run through Yoga's envelope): document size before
// parsing, tokens while parsing, depth/aliases/directives/structural cost while validating (graphql-armor), and the
// schema-aware cost (provider calls, list sizes, with the request's variables) just before execution.
import { LRUCache } from 'lru-cache';
import { costLimitRule } from '@escape.tech/graphql-armor-cost-limit';
import { maxAliasesRule } from '@escape.tech/graphql-armor-max-aliases';
import { maxDepthRule } from '@escape.tech/graphql-armor-max-depth';
import { maxDirectivesRule } from '@escape.tech/graphql-armor-max-directives';
import { MaxTokensParserWLexer } from '@escape.tech/graphql-armor-max-tokens';
import { blockFieldSuggestionsPlugin } from '@escape.tech/graphql-armor-block-field-suggestions';
import { createComplexityRule } from '@pothos/plugin-complexity';
import {
  GraphQLError,
  NoSchemaIntrospectionCustomRule,
  validate,
  type DocumentNode,
  type GraphQLSchema,
  type ValidationContext,
} from 'graphql';
import type { Plugin } from 'graphql-yoga';
import type { OperationLimits } from '../config.ts';

export type LimitName = keyof OperationLimits;

/** The env var behind each limit, so a refusal tells an operator what to raise. */
const ENV_OF: Record<LimitName, string> = {
  documentBytes: 'LIMIT_DOCUMENT_BYTES',
  tokens: 'LIMIT_TOKENS',
  depth: 'LIMIT_DEPTH',
  aliases: 'LIMIT_ALIASES',
  directives: 'LIMIT_DIRECTIVES',
  structuralCost: 'LIMIT_STRUCTURAL_COST',
  cost: 'LIMIT_COST',
};

/** `http` (Yoga's status hint) only where Yoga strips it again: before execution results reach a socket. */
function limitExceeded(limit: LimitName, max: number, what: string, http = true): GraphQLError {
  return new GraphQLError(
    `Operation refused: ${what} (limit ${ENV_OF[limit]} = ${max}). Split the operation, ask for less, or pass long text as variables.`,
    {
      extensions: {
        code: 'OPERATION_LIMIT_EXCEEDED',
        limit: ENV_OF[limit],
        max,
        ...(http ? { http: { status: 400 } } : {}),
      },
    },
  );
}

/** armor's messages read "Syntax Error: Query depth limit of 6 exceeded, found 7."; keep the facts, drop the prefix. */
const armorFacts = (err: GraphQLError) => err.message.replace(/^Syntax Error:\s*/, '').replace(/\.$/, '');

/** One options object for every graphql-armor rule: each reads its own limit (`n` or `maxCost`) and ignores the rest. */
interface ArmorOptions {
  n: number;
  maxCost: number;
  flattenFragments: boolean;
  propagateOnRejection: boolean;
  onReject: ((ctx: ValidationContext | null, err: GraphQLError) => void)[];
}

function armorRule(limit: LimitName, max: number, make: (opts: ArmorOptions) => (ctx: ValidationContext) => unknown) {
  return (ctx: ValidationContext) =>
    make({
      n: max,
      maxCost: max,
      flattenFragments: true,
      propagateOnRejection: false,
      onReject: [
        (c: ValidationContext | null, err: GraphQLError) => c?.reportError(limitExceeded(limit, max, armorFacts(err))),
      ],
    })(ctx) as ReturnType<typeof NoSchemaIntrospectionCustomRule>;
}

function refuseCostly(
  schema: GraphQLSchema,
  document: DocumentNode,
  variables: unknown,
  operationName: string | null | undefined,
  context: object,
  max: number,
) {
  costComputations.count++;
  const rule = createComplexityRule({
    context,
    variableValues: (variables ?? {}) as Record<string, unknown>,
    operationName,
    validate: ({ complexity }, report) => {
      if (complexity > max)
        report(limitExceeded('cost', max, `its cost is ${complexity} (provider calls and list sizes count)`, false));
    },
  });
  // Only the cost verdict: anything else wrong with the document was reported by validation already.
  const errors = validate(schema, document, [rule]).filter((e) => e.extensions?.code === 'OPERATION_LIMIT_EXCEEDED');
  return errors.length ? { errors } : null;
}

/** Documents (Yoga's parser cache hands out one DocumentNode per source) whose operation and variables passed. */
const withinCost = new WeakMap<DocumentNode, LRUCache<string, true>>();
/** Keys longer than this (a long conversation sent to Ivy) are not kept: their cost is computed each time. */
const MAX_VERDICT_KEY = 1024;
/** Test hook: how many times a cost was computed (a whole validation pass) rather than remembered. */
export const costComputations = { count: 0 };

/**
 * The variables as far as a cost can depend on them: every string (an id, a requestId, a message's text, an enum
 * value) reads as "". A cost reads page sizes (numbers) and which fields a directive keeps (booleans), never a
 * string (src/lib/operation-cost.ts), so ivyCompletion's cost is computed once per document and message count, not
 * once per answer: every subscribe carried a fresh requestId, a miss each time (issue 10).
 */
const costShape = (variables: unknown) =>
  JSON.stringify(variables ?? {}, (_key, value: unknown) => (typeof value === 'string' ? '' : value));

/**
 * refuseCostly, remembering what passed: a cost is a function of the document, the operation and the variables'
 * numbers and booleans alone (every field's complexity in src/lib/operation-cost.ts reads its arguments, never the
 * context), and computing it is a whole validation pass (9 % of the CPU of an `orgAiSettings` request, issue 10). A
 * refusal is computed afresh each time: its errors are the operation's own.
 */
function costVerdict(...args: Parameters<typeof refuseCostly>): ReturnType<typeof refuseCostly> {
  const [, document, variables, operationName] = args;
  const key = `${operationName ?? ''}|${costShape(variables)}`;
  if (key.length > MAX_VERDICT_KEY) return refuseCostly(...args);
  let passed = withinCost.get(document);
  if (passed?.has(key)) return null;
  const refused = refuseCostly(...args);
  if (!refused) {
    if (!passed) withinCost.set(document, (passed = new LRUCache({ max: 256 })));
    passed.set(key, true);
  }
  return refused;
}

export function useOperationLimits(limits: OperationLimits, opts: { introspection: boolean }): Plugin {
  const rules = [
    armorRule('depth', limits.depth, maxDepthRule),
    armorRule('aliases', limits.aliases, maxAliasesRule),
    armorRule('directives', limits.directives, maxDirectivesRule),
    armorRule('structuralCost', limits.structuralCost, costLimitRule),
  ];
  const hideSuggestions = opts.introspection ? null : blockFieldSuggestionsPlugin();
  return {
    onParse({ params, setParseFn }) {
      const source = typeof params.source === 'string' ? params.source : params.source.body;
      // Before the lexer sees a byte: a 3 MB document costs one length check.
      if (source.length > limits.documentBytes || Buffer.byteLength(source) > limits.documentBytes) {
        throw limitExceeded(
          'documentBytes',
          limits.documentBytes,
          `the document is larger than ${limits.documentBytes} bytes`,
        );
      }
      setParseFn((src, options) =>
        new MaxTokensParserWLexer(src, {
          ...options,
          n: limits.tokens,
          onReject: [
            () => {
              throw limitExceeded('tokens', limits.tokens, `the document has more than ${limits.tokens} tokens`);
            },
          ],
        }).parseDocument(),
      );
    },
    onValidate(payload) {
      for (const rule of rules) payload.addValidationRule(rule);
      if (!opts.introspection) payload.addValidationRule(NoSchemaIntrospectionCustomRule);
      return hideSuggestions?.onValidate?.(payload);
    },
    onExecute({ args, setResultAndStopExecution }) {
      const refused = costVerdict(
        args.schema,
        args.document,
        args.variableValues,
        args.operationName,
        args.contextValue as object,
        limits.cost,
      );
      if (refused) setResultAndStopExecution(refused);
    },
    onSubscribe({ args, setResultAndStopExecution }) {
      const refused = costVerdict(
        args.schema,
        args.document,
        args.variableValues,
        args.operationName,
        args.contextValue as object,
        limits.cost,
      );
      if (refused) setResultAndStopExecution(refused);
    },
  };
}
