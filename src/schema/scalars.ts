import { DateTimeResolver, JSONResolver } from 'graphql-scalars';
import { builder } from '../builder.ts';
import { ERROR_CODES } from '../lib/errors.ts';
import { AiProvider, KeyStatus, OrgRole, Plan } from '../generated/prisma/enums.ts';

// graphql-scalars does the parsing and ISO-8601 (RFC 3339) serialization; the descriptions stay ours.
builder.addScalarType('DateTime', DateTimeResolver, { description: 'An instant, as an ISO-8601 string in UTC.' });
builder.addScalarType('JSON', JSONResolver, { description: 'Arbitrary JSON (audit event detail).' });

// Enums that mirror the database's are built from Prisma's generated objects, so a value added to schema.prisma
// reaches the API without being listed again here.
export const AiProviderRef = builder.enumType(AiProvider, {
  name: 'AiProvider',
  description: 'Who serves Ivy for the org: Intervy (billed to credits) or the member’s own Anthropic or OpenAI key.',
});
export const PlanRef = builder.enumType(Plan, { name: 'Plan' });
export const OrgRoleRef = builder.enumType(OrgRole, { name: 'OrgRole' });
export const KeyStatusRef = builder.enumType(KeyStatus, {
  name: 'KeyStatus',
  description: 'UNTESTED after saving; VALID or INVALID after the last Test (or after the provider refused it).',
});

export const ErrorCodeRef = builder.enumType('ErrorCode', {
  description: 'Every refusal carries one of these in `extensions.code`.',
  values: Object.fromEntries(Object.entries(ERROR_CODES).map(([code, description]) => [code, { description }])) as {
    [K in keyof typeof ERROR_CODES]: { description: string };
  },
});
