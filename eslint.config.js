// ESLint: typescript-eslint's recommended rules, plus the type-aware ones that catch what tests rarely do:
// a promise nobody awaits (a lost error, a write that may not finish) and code nobody uses. Formatting is Prettier's.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['node_modules/', 'dist/', 'src/generated/', 'data/', '.data/', 'coverage/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    // GraphiQL's Ivy stream panel: plain browser JavaScript served as is (no build step), on the page's globals.
    files: ['public/**/*.js'],
    ...tseslint.configs.disableTypeChecked,
    languageOptions: {
      sourceType: 'script',
      globals: {
        globalThis: 'readonly',
        window: 'readonly',
        document: 'readonly',
        location: 'readonly',
        fetch: 'readonly',
        URL: 'readonly',
      },
    },
  },
  {
    ignores: ['public/**/*.js'],
    languageOptions: {
      parserOptions: {
        projectService: { allowDefaultProject: ['eslint.config.js'] },
        tsconfigRootDir: import.meta.dirname,
      },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': ['error', { checksVoidReturn: false }],
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrorsIgnorePattern: '^_', ignoreRestSiblings: true },
      ],
      'no-unused-private-class-members': 'error',
      'no-unreachable': 'error',
      // Tests read results through codegen's typed documents; an any has to say why on its own disable line.
      '@typescript-eslint/no-explicit-any': 'error',
    },
  },
);
