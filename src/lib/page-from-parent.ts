// The fixed contract pages the Usage page as `usage(first, after)`, while its list is `entries`, a prismaConnection
// with its own `first/after/last/before`. Pothos builds the Prisma page from the connection's own arguments only, so
// this plugin hands a connection marked `pageFromParent` the page its parent carries when it was given none itself.
import SchemaBuilder, { BasePlugin, type PothosOutputFieldConfig, type SchemaTypes } from '@pothos/core';
import type { GraphQLFieldResolver } from 'graphql';

// Pothos registers plugins by declaration merging into its global namespace.
declare global {
  // eslint-disable-next-line @typescript-eslint/no-namespace
  export namespace PothosSchemaTypes {
    interface Plugins<Types extends SchemaTypes> {
      pageFromParent: PageFromParentPlugin<Types>;
    }
  }
}

/** What a parent object carries for its connection: the paging arguments its own field was given. */
export interface ParentPage {
  page: { first?: number | null; after?: string | null };
}

const PAGING = ['first', 'after', 'last', 'before'] as const;

export class PageFromParentPlugin<Types extends SchemaTypes> extends BasePlugin<Types> {
  override wrapResolve(
    resolver: GraphQLFieldResolver<unknown, Types['Context'], object>,
    fieldConfig: PothosOutputFieldConfig<Types>,
  ): GraphQLFieldResolver<unknown, Types['Context'], object> {
    if (!fieldConfig.extensions?.pageFromParent) return resolver;
    return (parent, args, ctx, info) => {
      const own = PAGING.some((name) => (args as Record<string, unknown>)[name] != null);
      const { first, after } = (parent as ParentPage).page;
      return resolver(parent, own ? args : { ...args, first, after }, ctx, info);
    };
  }
}

/** The name to list in the builder's `plugins`, as Pothos's own plugins export theirs. */
export const PAGE_FROM_PARENT = 'pageFromParent';
SchemaBuilder.registerPlugin(PAGE_FROM_PARENT, PageFromParentPlugin);
