// The Pothos schema builder, its plugins and the auth scopes every field declares.
import SchemaBuilder from '@pothos/core';
import PrismaPlugin from '@pothos/plugin-prisma';
import RelayPlugin from '@pothos/plugin-relay';
import ScopeAuthPlugin from '@pothos/plugin-scope-auth';
import ComplexityPlugin from '@pothos/plugin-complexity';
import { PAGE_FROM_PARENT } from './lib/page-from-parent.ts';
import { GraphQLError } from 'graphql';
import type PrismaTypes from './generated/pothos-types.ts';
import { getDatamodel } from './generated/pothos-types.ts';
import { AUTH_FAILURE_MESSAGES, type Context } from './context.ts';
import { membershipHas, PERMISSIONS, type Permission } from './domain/permissions.ts';
import { FORBIDDEN_MESSAGE } from './lib/errors.ts';

export interface OrgScope {
  orgId: string;
  permission: Permission;
}

export const builder = new SchemaBuilder<{
  Context: Context;
  PrismaTypes: PrismaTypes;
  AuthScopes: { signedIn: boolean; orgPermission: OrgScope };
  Scalars: { DateTime: { Input: Date; Output: Date }; JSON: { Input: unknown; Output: unknown } };
  DefaultFieldNullability: false;
}>({
  plugins: [ScopeAuthPlugin, ComplexityPlugin, RelayPlugin, PrismaPlugin, PAGE_FROM_PARENT],
  // Costs are declared on fields (src/lib/operation-cost.ts) and checked before execution (src/lib/operation-limits.ts).
  complexity: { defaultComplexity: 1, defaultListMultiplier: 10 },
  // A connection's page size is charged on the connection field itself, so edges do not multiply it again.
  relay: {
    clientMutationId: 'omit',
    cursorType: 'String',
    edgesFieldOptions: { complexity: { field: 1, multiplier: 1 } },
  },
  defaultFieldNullability: false,
  prisma: {
    client: (ctx) => ctx.services.db,
    dmmf: getDatamodel(),
    filterConnectionTotalCount: true,
  },
  scopeAuth: {
    authorizeOnSubscribe: true,
    // The same refusal whether the org does not exist or the viewer is not in it.
    unauthorizedError: (_parent, ctx) =>
      ctx.viewer
        ? new GraphQLError(FORBIDDEN_MESSAGE, {
            extensions: { code: 'FORBIDDEN' },
          })
        : new GraphQLError(AUTH_FAILURE_MESSAGES[ctx.authFailure ?? 'missing'], {
            extensions: { code: 'UNAUTHENTICATED' },
          }),
    authScopes: async (ctx) => ({
      signedIn: ctx.viewer !== null,
      orgPermission: async ({ orgId, permission }) => membershipHas(await ctx.membership(orgId), permission),
    }),
  },
});

builder.queryType({});
builder.mutationType({});
builder.subscriptionType({
  description:
    'Over graphql-ws (ws://…/graphql) send the token as `connectionParams.authorization` ("Bearer <token>"); an ' +
    '`Authorization` header in the subscribe message’s `extensions.headers` (what GraphiQL sends) is accepted too. ' +
    'Over server-sent events (POST /graphql with `Accept: text/event-stream`) send the usual Authorization header.',
});

type OrgArgs = { orgId?: string; input?: { orgId?: string } };

/**
 * Declares that a field needs `permission` in the org named by its `orgId` (or `input.orgId`) argument, and writes
 * that same requirement into the field's description so schema.graphql and GraphiQL show it.
 */
export function requiresOrg(permission: Permission, description: string) {
  const roles = PERMISSIONS[permission].join(', ');
  return {
    description: `${description}\n\nRequires \`${permission}\` in the org (roles: ${roles}).`,
    authScopes: (_parent: unknown, args: OrgArgs) => ({
      orgPermission: { orgId: String(args.orgId ?? args.input?.orgId ?? ''), permission },
    }),
  } as const;
}

/**
 * The per-event re-check of a subscription declared with requiresOrg(permission): the same decision, on the viewer's
 * membership read afresh (and its token re-verified now and then), so a member removed or demoted, or a token revoked,
 * while subscribed loses the stream.
 */
export function stillAllowed(ctx: Context, orgId: string, permission: Permission): () => Promise<boolean> {
  return async () => membershipHas(await ctx.refreshMembership(orgId), permission);
}

/** Declares that a field only needs a signed-in user. */
export function requiresSignIn(description: string) {
  return { description: `${description}\n\nRequires a signed-in user.`, authScopes: { signedIn: true } } as const;
}
