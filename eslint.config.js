// @ts-check
/**
 * `npm run lint` (with prettier --check and knip). Type-aware: the rules that matter most here are
 * the promise ones, since a dropped promise on the routing mesh is a silent lost message.
 */
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['node_modules/', 'dist/', 'coverage/', 'scratch/out/'] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: {
        projectService: { allowDefaultProject: ['*.js'] },
        tsconfigRootDir: import.meta.dirname,
      },
    },
    rules: {
      // Prettier wraps code at the same width; this catches the comments and lines it cannot wrap.
      'max-len': [
        'error',
        { code: 120, ignoreStrings: true, ignoreTemplateLiterals: true, ignoreUrls: true, ignoreRegExpLiterals: true },
      ],
      'no-duplicate-imports': ['error', { includeExports: true, allowSeparateTypeImports: true }],
      // A closure that reads a variable before its one later assignment (a close handler set up
      // before the resource it releases exists) cannot be a const.
      'prefer-const': ['error', { ignoreReadBeforeAssign: true }],
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none', ignoreRestSiblings: true },
      ],
      // Handlers are async to honour an interface that returns a promise; dropping `async` from one
      // that has nothing to await would turn its throws into synchronous ones, which callers do not
      // expect.
      '@typescript-eslint/require-await': 'off',
      // The SDK's error classes type `code` as a plain string or number while their codes are enums.
      '@typescript-eslint/no-unsafe-enum-comparison': 'off',
    },
  },
  {
    // Tests read response bodies that supertest and fetch type as `any`; asserting on them is the
    // point, so the any-propagation rules stay for production code only. Their fetch stubs are
    // called with strings and URLs only, never a Request.
    files: ['**/*.test.ts', 'src/test/**/*.ts'],
    rules: {
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-base-to-string': 'off',
    },
  },
  {
    files: ['**/*.js', '**/*.mjs'],
    ...tseslint.configs.disableTypeChecked,
    languageOptions: {
      ...tseslint.configs.disableTypeChecked.languageOptions,
      globals: { URL: 'readonly', process: 'readonly', console: 'readonly' },
    },
  },
);
