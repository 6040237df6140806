// Lint baseline from shared/STYLE.md section 3: type-checked rules, no floating promises,
// type-only imports, no cycles, no default exports, no console in library code.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['node_modules/**', 'dist/**', 'src/gen/**', 'eslint.config.js', 'coverage/**', 'scripts/**', 'test/support/bin/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/consistent-type-imports': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      // Named exports only; import cycles are checked by madge in `npm run lint`.
      'no-restricted-syntax': ['error', { selector: 'ExportDefaultDeclaration', message: 'use named exports' }],
      curly: ['error', 'all'],
      'no-console': 'error',
      'no-restricted-properties': ['error', { object: 'it', property: 'only' }, { object: 'describe', property: 'only' }],
    },
  },
  {
    // Declarations of untyped CommonJS modules mirror their default export.
    files: ['vitest.config.ts', 'test/**/global-setup.ts', 'src/types/**/*.d.ts'],
    rules: { 'no-restricted-syntax': 'off' },
  },
  {
    files: ['bench/**', 'src/cli/**', 'test/**', 'deploy/**'],
    rules: { 'no-console': 'off' },
  },
);
