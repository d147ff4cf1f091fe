// The Pothos schema builder, its plugins and the auth scopes every field declares.
import SchemaBuilder from '@pothos/core';
import PrismaPlugin from '@pothos/plugin-prisma';
import RelayPlugin from '@pothos/plugin-relay';
import ScopeAuthPlugin from '@pothos/plugin-scope-auth';
import ComplexityPlugin from '@pothos/plugin-complexity';
import { decodeGlobalId, encodeGlobalId, NOT_AN_ID, ORG_ID_ARGS } from './lib/global-ids.ts';
import { GraphQLError } from 'graphql';
import type PrismaTypes from './generated/pothos-types.ts';
import { getDatamodel } from './generated/pothos-types.ts';
import { AUTH_FAILURE_MESSAGES, type Context } from './context.ts';
import { membershipHas, PERMISSIONS, type Permission } from './domain/permissions.ts';
import { FORBIDDEN_MESSAGE, forbidden, refuse } from './lib/errors.ts';

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
  // ORG_ID_ARGS first: the auth scopes and resolvers see an org's uuid whichever id of it the client sent.
  plugins: [ORG_ID_ARGS, ScopeAuthPlugin, ComplexityPlugin, RelayPlugin, PrismaPlugin],
  // Costs are declared on fields (src/lib/operation-cost.ts) and checked before execution (src/lib/operation-limits.ts).
  complexity: { defaultComplexity: 1, defaultListMultiplier: 10 },
  // A connection's page size is charged on the connection field itself, so edges do not multiply it again.
  relay: {
    clientMutationId: 'omit',
    cursorType: 'String',
    edgesFieldOptions: { complexity: { field: 1, multiplier: 1 } },
    encodeGlobalID: (typename, id) => encodeGlobalId(typename, id),
    decodeGlobalID: (globalId) => decodeGlobalId(globalId),
    nodeTypeOptions: {
      description:
        'An object with an id unique across the API, which `node(id:)` loads again (what normalized client caches key on).',
    },
    nodeQueryOptions: {
      description:
        'Loads any object by its `id`, with the same permission as the field that returned it: an id of an org you ' +
        'are not in (or whose role falls short), or of nothing, is FORBIDDEN; one this API did not return is BAD_USER_INPUT.',
      authScopes: { signedIn: true },
      // Each node type's loader finds only what the viewer may see: null here is "not yours, or not there".
      resolve: async (_root, _args, _ctx, _info, resolveNode) => (await resolveNode(_args.id)) ?? forbidden(),
    },
    nodesQueryOptions: false,
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
    // Answered as they are when memory holds the membership (no promise per request: issue 10).
    authScopes: (ctx) => ({
      signedIn: ctx.viewer !== null,
      orgPermission: ({ orgId, permission }) => {
        const membership = ctx.membership(orgId);
        return membership instanceof Promise
          ? membership.then((m) => membershipHas(m, permission))
          : membershipHas(membership, permission);
      },
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
export function stillAllowed(
  ctx: Context,
  orgId: string,
  permission: Permission,
  opts?: { periodic?: boolean },
): () => Promise<boolean> {
  return async () => membershipHas(await ctx.refreshMembership(orgId, opts), permission);
}

/** Declares that a field only needs a signed-in user. */
export function requiresSignIn(description: string) {
  return { description: `${description}\n\nRequires a signed-in user.`, authScopes: { signedIn: true } } as const;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** The uuid key of a global id, or BAD_USER_INPUT: a key that is no uuid was not handed out by this API. */
export function uuidKey(id: string): string {
  return UUID.test(id) ? id : refuse('BAD_USER_INPUT', NOT_AN_ID);
}

/**
 * A Prisma filter on an org: the viewer holds `permission` in it (the same PERMISSIONS table every field's scope
 * reads), so a node loader finds a row only when its normal field would have shown it.
 */
export function orgWhereViewerHas(ctx: Context, permission: Permission) {
  return {
    memberships: {
      some: { userId: ctx.viewer?.userId ?? '', role: { in: [...PERMISSIONS[permission]] } },
    },
  };
}
