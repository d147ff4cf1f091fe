import { describe, expect, it } from 'vitest';
import { GraphQLEnumType, GraphQLObjectType, GraphQLUnionType, GraphQLInputObjectType } from 'graphql';
import { schema } from '../../src/app.ts';

// The names and types the issues fix for integrators and the frontend.
const FIELDS: Record<string, Record<string, string>> = {
  Query: {
    viewer: 'Viewer!',
    orgAiSettings: 'OrgAiSettings!',
    creditBalance: 'CreditBalance!',
    providerChangeImpact: 'ProviderChangeImpact!',
    auditLog: 'AuditEventConnection!',
    // Nullable since #12: one refused field (an interviewer asking for usage) must not blank a whole page.
    usage: 'UsageReport',
  },
  Mutation: {
    updateProvider: 'OrgAiSettings!',
    setPersonalKey: 'PersonalApiKey!',
    testPersonalKey: 'KeyTestResult!',
    deletePersonalKey: 'Boolean!',
  },
  Subscription: { orgAiSettingsChanged: 'OrgAiSettings!', ivyCompletion: 'IvyCompletionEvent!' },
  OrgAiSettings: {
    orgId: 'ID!',
    provider: 'AiProvider!',
    effectiveProvider: 'AiProvider!',
    model: 'AiModel!',
    availableModels: '[AiModel!]!',
    plan: 'Plan!',
    byokAvailable: 'Boolean!',
    byokActive: 'Boolean!',
    viewerCanManage: 'Boolean!',
    viewerKeys: '[PersonalApiKey!]!',
    updatedAt: 'DateTime!',
    graceWindow: 'GraceWindow',
  },
  GraceWindow: { endsAt: 'DateTime!', active: 'Boolean!', daysRemaining: 'Int!' },
  AiModel: {
    id: 'ID!',
    modelId: 'String!',
    label: 'String!',
    provider: 'AiProvider!',
    description: 'String!',
    recommended: 'Boolean!',
  },
  PersonalApiKey: {
    provider: 'AiProvider!',
    hint: 'String!',
    status: 'KeyStatus!',
    lastTestedAt: 'DateTime',
    updatedAt: 'DateTime!',
  },
  KeyTestResult: { ok: 'Boolean!', status: 'KeyStatus!', message: 'String!' },
  CreditBalance: { balance: 'Int!' },
  IvyCompletionStarted: { requestId: 'ID!', provider: 'AiProvider!', model: 'String!', billing: 'BillingMode!' },
  IvyTextDelta: { text: 'String!' },
  IvyCompletionFinished: { inputTokens: 'Int', outputTokens: 'Int', creditsCharged: 'Int!', creditBalance: 'Int!' },
  IvyCompletionFailed: { code: 'ErrorCode!', message: 'String!', creditsCharged: 'Int!' },
  UsageReport: {
    trackingAvailable: 'Boolean!',
    notice: 'String',
    providerDashboardUrl: 'String',
    totalCreditsCharged: 'Int!',
    entries: 'UsageEntryConnection!',
  },
  UsageEntry: { id: 'ID!', provider: 'AiProvider!', billing: 'BillingMode!', vendor: 'AiProvider!', model: 'String!' },
};

const ENUMS: Record<string, string[]> = {
  AiProvider: ['INTERVY_CREDITS', 'ANTHROPIC', 'OPENAI'],
  Plan: ['FREE', 'GROWTH', 'ENTERPRISE'],
  OrgRole: ['ADMIN', 'STAFFING', 'INTERVIEWER'],
  KeyStatus: ['UNTESTED', 'VALID', 'INVALID'],
  BillingMode: ['CREDITS', 'BYOK'],
};

const REQUIRED_CODES = [
  'UNAUTHENTICATED',
  'FORBIDDEN',
  'BAD_USER_INPUT',
  'PLAN_UPGRADE_REQUIRED',
  'INVALID_API_KEY_FORMAT',
  'NO_API_KEY',
  'INSUFFICIENT_CREDITS',
  'PROVIDER_AUTH_FAILED',
  'PROVIDER_RATE_LIMITED',
  'PROVIDER_UNAVAILABLE',
];

describe('the GraphQL contract', () => {
  it.each(Object.entries(FIELDS))('keeps the fixed fields of %s', (typeName, fields) => {
    const type = schema.getType(typeName) as GraphQLObjectType;
    expect(type, typeName).toBeInstanceOf(GraphQLObjectType);
    const actual = type.getFields();
    for (const [field, typeString] of Object.entries(fields))
      expect(String(actual[field]?.type), `${typeName}.${field}`).toBe(typeString);
  });

  it('keeps the fixed enums, and ErrorCode holds every code the issues name', () => {
    for (const [name, values] of Object.entries(ENUMS)) {
      expect((schema.getType(name) as GraphQLEnumType).getValues().map((v) => v.name)).toEqual(values);
    }
    const codes = (schema.getType('ErrorCode') as GraphQLEnumType).getValues().map((v) => v.name);
    expect(codes).toEqual(expect.arrayContaining(REQUIRED_CODES));
  });

  it('keeps the ivyCompletion input and event union', () => {
    const input = (schema.getType('IvyCompletionInput') as GraphQLInputObjectType).getFields();
    expect(Object.fromEntries(Object.entries(input).map(([k, f]) => [k, String(f.type)]))).toEqual({
      orgId: 'ID!',
      messages: '[IvyMessageInput!]!',
      system: 'String',
      maxTokens: 'Int',
      requestId: 'ID',
      resumeFrom: 'Int',
    });
    const union = schema.getType('IvyCompletionEvent') as GraphQLUnionType;
    expect(union.getTypes().map((t) => t.name)).toEqual([
      'IvyCompletionStarted',
      'IvyTextDelta',
      'IvyCompletionFinished',
      'IvyCompletionFailed',
    ]);
    const args = (schema.getType('Query') as GraphQLObjectType)
      .getFields()
      .usage.args.map((a) => `${a.name}: ${a.type}`);
    // Since #12 paging is on the connection only (usage.entries), and usage takes a date range.
    expect(args).toEqual(['orgId: ID!', 'from: DateTime', 'to: DateTime']);
    const entries = (schema.getType('UsageReport') as GraphQLObjectType)
      .getFields()
      .entries.args.map((a) => `${a.name}: ${a.type}`)
      .sort();
    expect(entries).toEqual(['after: String', 'before: String', 'first: Int', 'last: Int']);
  });
});
