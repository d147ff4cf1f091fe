// Typed documents for clients. The GraphiQL example operations are the documents, so codegen also proves they
// still validate against schema.graphql (CI runs it).
import type { CodegenConfig } from '@graphql-codegen/cli';

const config: CodegenConfig = {
  schema: 'schema.graphql',
  documents: ['src/graphiql.ts', 'dev/**/*.ts', 'test/**/*.ts', 'examples/*.ts'],
  emitLegacyCommonJSImports: false,
  generates: {
    'src/generated/graphql/': {
      preset: 'client',
      // What the wire carries: graphql-scalars' DateTime is an ISO-8601 string, JSON any JSON value.
      config: { enumsAsTypes: true, useTypeImports: true, scalars: { DateTime: 'string', JSON: 'unknown' } },
    },
  },
};

export default config;
