import { GraphQLError, Kind } from 'graphql';
import { builder } from '../builder.ts';
import { ERROR_CODES } from '../lib/errors.ts';

builder.scalarType('DateTime', {
  description: 'An instant, as an ISO-8601 string in UTC.',
  serialize: (value) => (value instanceof Date ? value.toISOString() : new Date(String(value)).toISOString()),
  parseValue: (value) => {
    const d = new Date(String(value));
    if (typeof value !== 'string' || Number.isNaN(d.getTime()))
      throw new GraphQLError('DateTime must be an ISO-8601 string.');
    return d;
  },
  parseLiteral: (ast) => {
    if (ast.kind !== Kind.STRING || Number.isNaN(new Date(ast.value).getTime()))
      throw new GraphQLError('DateTime must be an ISO-8601 string.');
    return new Date(ast.value);
  },
});

builder.scalarType('JSON', {
  description: 'Arbitrary JSON (audit event detail).',
  serialize: (value) => value,
  parseValue: (value) => value,
});

export const AiProviderRef = builder.enumType('AiProvider', {
  description: 'Who serves Ivy for the org: Intervy (billed to credits) or the member’s own Anthropic or OpenAI key.',
  values: ['INTERVY_CREDITS', 'ANTHROPIC', 'OPENAI'] as const,
});
export const PlanRef = builder.enumType('Plan', { values: ['FREE', 'GROWTH', 'ENTERPRISE'] as const });
export const OrgRoleRef = builder.enumType('OrgRole', { values: ['ADMIN', 'STAFFING', 'INTERVIEWER'] as const });
export const KeyStatusRef = builder.enumType('KeyStatus', {
  description: 'UNTESTED after saving; VALID or INVALID after the last Test (or after the provider refused it).',
  values: ['UNTESTED', 'VALID', 'INVALID'] as const,
});

export const ErrorCodeRef = builder.enumType('ErrorCode', {
  description: 'Every refusal carries one of these in `extensions.code`.',
  values: Object.fromEntries(Object.entries(ERROR_CODES).map(([code, description]) => [code, { description }])) as {
    [K in keyof typeof ERROR_CODES]: { description: string };
  },
});
