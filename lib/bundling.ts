import { join } from 'node:path';

/** Where the function's entry point is, from the repository root. */
export const HANDLER_ENTRY = join(import.meta.dirname, '..', 'lambda', 'handler.ts');
/** The same function with the OS check (SSM) bundled in: for groups with a pair that sets verifyOs. */
export const OS_CHECK_ENTRY = join(import.meta.dirname, '..', 'lambda', 'handler-os-check.ts');

/**
 * How the function is bundled: the one definition the CDK construct and the benchmark share.
 * ESM with the packages' `module` builds lets esbuild drop the SDK code the function never calls,
 * which halves the cold import time against CommonJS (README, benchmark).
 */
export const BUNDLING = {
  format: 'esm',
  target: 'node22',
  mainFields: ['module', 'main'],
  minify: true,
  // Some dependencies still call require(); ESM output has none unless one is made.
  banner: "import{createRequire}from'module';const require=createRequire(import.meta.url);",
} as const;
/** The custom resource that associates EC2 application status checks with instances (lib/application-checks.ts). */
export const ASSOCIATION_ENTRY = join(
  import.meta.dirname,
  '..',
  'lambda',
  'custom',
  'app-check-association.ts',
);
