// Typed documents for clients. The GraphiQL example operations are the documents, so codegen also proves they
// still validate against schema.graphql (CI runs it).
import type { CodegenConfig } from '@graphql-codegen/cli';

const config: CodegenConfig = {
  schema: 'schema.graphql',
  documents: ['src/graphiql.ts', 'test/support/ivy.ts', 'examples/*.ts'],
  emitLegacyCommonJSImports: false,
  generates: {
    'src/generated/graphql/': {
      preset: 'client',
      config: { enumsAsTypes: true, useTypeImports: true },
    },
  },
};

export default config;
