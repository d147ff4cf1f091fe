// Relay global ids: every type that implements Node has an `id` that names its type and its key, so it is unique
// across the whole API (what Apollo's and urql's normalized caches, and Relay, need) and `node(id:)` can load it.
// The encoding is opaque to clients: base64url of "Type:key". Org ids are global ids too, so every `orgId` argument
// takes an Org's `id` (what `viewer.memberships.org.id` returns) as well as the org's uuid (ORG_ID_ARGS below).
import SchemaBuilder, { BasePlugin, type PothosOutputFieldConfig, type SchemaTypes } from '@pothos/core';
import type { GraphQLFieldResolver } from 'graphql';
import { refuse } from './errors.ts';

/** The types that implement Node; an id naming any other type is not one this API returned. */
export const NODE_TYPES = ['Org', 'OrgAiSettings', 'CreditBalance', 'AiModel', 'UsageEntry', 'AuditEvent'] as const;
export type NodeType = (typeof NODE_TYPES)[number];

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export const NOT_AN_ID = 'The id is not one this API returned: pass the `id` of an object you read from it.';

export function encodeGlobalId(typename: string, key: string | number | bigint): string {
  return Buffer.from(`${typename}:${key}`, 'utf8').toString('base64url');
}

/** The type and key of a global id, or BAD_USER_INPUT (never echoing what was sent) when it is not one of ours. */
export function decodeGlobalId(globalId: string): { typename: string; id: string } {
  const decoded = /^[A-Za-z0-9_-]+$/.test(globalId) ? Buffer.from(globalId, 'base64url').toString('utf8') : '';
  const colon = decoded.indexOf(':');
  const typename = decoded.slice(0, colon);
  const id = decoded.slice(colon + 1);
  if (colon < 1 || !id || !(NODE_TYPES as readonly string[]).includes(typename)) refuse('BAD_USER_INPUT', NOT_AN_ID);
  return { typename, id };
}

/** An Org's global id decoded to its uuid; anything else is returned as sent (a uuid, or something refused later). */
export function orgKey(value: unknown): unknown {
  // A uuid is already the key (and decoding one as base64url would throw and catch on every request: 1.3 % of the
  // CPU of an `orgAiSettings` request, issue 10).
  if (typeof value !== 'string' || UUID.test(value)) return value;
  try {
    const { typename, id } = decodeGlobalId(value);
    return typename === 'Org' ? id : value;
  } catch {
    return value;
  }
}

// Pothos registers plugins by declaration merging into its global namespace.
declare global {
  // eslint-disable-next-line @typescript-eslint/no-namespace
  export namespace PothosSchemaTypes {
    interface Plugins<Types extends SchemaTypes> {
      orgIdArgs: OrgIdArgsPlugin<Types>;
    }
  }
}

type Args = Record<string, unknown>;

/** `orgId` (or `input.orgId`) given as an Org's global id, replaced by the org's uuid. */
function withOrgKeys(args: Args): Args {
  const input = args.input as Args | null | undefined;
  let out = args;
  if ('orgId' in args) out = { ...out, orgId: orgKey(args.orgId) };
  if (input && typeof input === 'object' && 'orgId' in input)
    out = { ...out, input: { ...input, orgId: orgKey(input.orgId) } };
  return out;
}

/**
 * Runs first (outside the auth scopes), so the scope check and the resolver both see the org's uuid whichever form
 * of its id the client sent.
 */
export class OrgIdArgsPlugin<Types extends SchemaTypes> extends BasePlugin<Types> {
  override wrapResolve(
    resolver: GraphQLFieldResolver<unknown, Types['Context'], object>,
    fieldConfig: PothosOutputFieldConfig<Types>,
  ): GraphQLFieldResolver<unknown, Types['Context'], object> {
    if (!hasOrgIdArg(fieldConfig)) return resolver;
    return (parent, args, ctx, info) => resolver(parent, withOrgKeys(args as Args), ctx, info);
  }

  override wrapSubscribe(
    subscribe: GraphQLFieldResolver<unknown, Types['Context'], object> | undefined,
    fieldConfig: PothosOutputFieldConfig<Types>,
  ): GraphQLFieldResolver<unknown, Types['Context'], object> | undefined {
    if (!subscribe || !hasOrgIdArg(fieldConfig)) return subscribe;
    return (parent, args, ctx, info) => subscribe(parent, withOrgKeys(args as Args), ctx, info);
  }
}

function hasOrgIdArg<Types extends SchemaTypes>(fieldConfig: PothosOutputFieldConfig<Types>): boolean {
  return 'orgId' in fieldConfig.args || 'input' in fieldConfig.args;
}

/** The name to list first in the builder's `plugins`. */
export const ORG_ID_ARGS = 'orgIdArgs';
SchemaBuilder.registerPlugin(ORG_ID_ARGS, OrgIdArgsPlugin);
