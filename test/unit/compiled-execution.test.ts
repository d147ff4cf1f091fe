import { describe, expect, it } from 'vitest';
import { buildSchema, GraphQLError, parse, type ExecutionArgs } from 'graphql';
import { variablesReworded } from '../../src/lib/compiled-execution.ts';
import { createMaskError } from '../../src/lib/graphql-errors.ts';
import { createLogger } from '../../src/lib/logger.ts';

const schema = buildSchema(`
  input KeyInput { provider: String!, apiKey: String! }
  type Query { ok: Boolean }
  type Mutation { save(input: KeyInput!): Boolean }
`);
const document = parse('mutation Save($input: KeyInput!) { save(input: $input) }');
const KEY = 'sk-ant-api03-unit-test-secret-0000';
const args = (variableValues: Record<string, unknown>): ExecutionArgs => ({ schema, document, variableValues });
/** What a client is sent for a result's errors (the server's error masking). */
const mask = createMaskError(createLogger('silent'));
const sent = (result: unknown) => JSON.stringify((result as { errors: GraphQLError[] }).errors.map((e) => mask(e)));
/** What graphql-jit answers when it refuses the variables: errors alone, quoting the value. */
const jitRefusal = () => ({
  errors: [new GraphQLError(`Variable "$input" got invalid value { apiKey: "${KEY}" }; Field "provider" missing.`)],
});

describe('the variables refused by compiled execution', () => {
  it('are worded by the executor, whose errors reach the client naming the field and never quoting the value', () => {
    expect(sent(jitRefusal())).toContain(KEY); // what graphql-jit's own words would send
    const out = variablesReworded(args({ input: { apiKey: KEY } }), jitRefusal());
    expect(sent(out)).toContain('Field \\"provider\\" of required type \\"String!\\" was not provided.');
    expect(sent(out)).not.toContain(KEY);
  });

  it('stay refused, worded without the value, should the executor take what graphql-jit refused', () => {
    const out = variablesReworded(args({ input: { provider: 'ANTHROPIC', apiKey: KEY } }), jitRefusal()) as {
      errors: GraphQLError[];
    };
    expect(out.errors).toHaveLength(1);
    expect(out.errors[0].message).toBe('Variable "$input" got an invalid value.');
    expect(out.errors[0].extensions.code).toBe('BAD_USER_INPUT');
    expect(sent(out)).not.toContain(KEY);
  });

  it('leave every other result as it is: data with errors, and errors that are not about variables', () => {
    const executed = { data: { save: null }, errors: [new GraphQLError(`Variable "$input" echoed by a resolver`)] };
    expect(variablesReworded(args({ input: { apiKey: KEY } }), executed)).toBe(executed);
    const forbidden = { errors: [new GraphQLError('You may not do that in this org.')] };
    expect(variablesReworded(args({ input: { apiKey: KEY } }), forbidden)).toBe(forbidden);
  });
});
