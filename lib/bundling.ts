import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import * as lambda from 'aws-cdk-lib/aws-lambda';

/**
 * The package's root: the repository (lib/ runs from source) or the installed package (dist/index.cjs runs, where
 * the build makes import.meta.dirname __dirname), found as the nearest directory up with a package.json.
 */
function packageRoot(from: string): string {
  let dir = from;
  while (!existsSync(join(dir, 'package.json'))) {
    const up = dirname(dir);
    if (up === dir) throw new Error(`eni-failover: no package.json above ${from}`);
    dir = up;
  }
  return dir;
}
const ROOT = packageRoot(import.meta.dirname);

/** Where the function's entry point is, in the repository. */
export const HANDLER_ENTRY = join(ROOT, 'lambda', 'handler.ts');
/** The same function with the OS check (SSM) bundled in: for groups with a pair that sets verifyOs. */
export const OS_CHECK_ENTRY = join(ROOT, 'lambda', 'handler-os-check.ts');
/** The custom resource that associates EC2 application status checks with instances (lib/application-checks.ts). */
export const ASSOCIATION_ENTRY = join(ROOT, 'lambda', 'custom', 'app-check-association.ts');
/** The deploy-time rehearsal's custom resource (lib/rehearsal.ts). */
export const REHEARSAL_ENTRY = join(ROOT, 'lambda', 'custom', 'rehearsal.ts');
/** The prober, in the pairs' VPC (issue 17). */
export const PROBER_ENTRY = join(ROOT, 'lambda', 'probe', 'handler.ts');

/**
 * How the functions are bundled: the one definition the build (scripts/build-functions.ts) and the benchmark
 * share. ESM with the packages' `module` builds lets esbuild drop the SDK code the function never calls,
 * which halves the cold import time against CommonJS (docs/benchmarks.md). The SDK is bundled, not taken from
 * the runtime: its version is the one tested and benchmarked (and the one that knows the application status
 * check calls).
 */
export const BUNDLING = {
  format: 'esm',
  // The runtime the functions run on (lambda.Runtime.NODEJS_24_X): esbuild keeps what Node 24 has natively.
  target: 'node24',
  mainFields: ['module', 'main'],
  minify: true,
  // Some dependencies still call require(); ESM output has none unless one is made.
  banner: "import{createRequire}from'module';const require=createRequire(import.meta.url);",
} as const;

/**
 * esbuild's options for a function bundle (plain data: the library does not import esbuild), so that the build
 * and the benchmark's "as deployed" bundle cannot drift apart.
 */
export function esbuildOptions(entry: string, outfile: string) {
  return {
    entryPoints: [entry],
    outfile,
    bundle: true,
    platform: 'node' as const,
    format: BUNDLING.format,
    target: BUNDLING.target,
    mainFields: [...BUNDLING.mainFields],
    minify: BUNDLING.minify,
    banner: { js: BUNDLING.banner },
    sourcemap: false,
    logLevel: 'error' as const,
  };
}

/** Every function the construct deploys, by the name of its prebuilt directory, with its entry point. */
export const FUNCTION_ENTRIES = {
  handler: HANDLER_ENTRY,
  'handler-os-check': OS_CHECK_ENTRY,
  'app-check-association': ASSOCIATION_ENTRY,
  prober: PROBER_ENTRY,
  rehearsal: REHEARSAL_ENTRY,
} as const;
export type FunctionName = keyof typeof FUNCTION_ENTRIES;

/** Where the build puts the prebuilt functions: `<dir>/index.mjs` each, shipped in the package. */
export const FUNCTIONS_DIR = join(ROOT, 'dist', 'functions');
/** The handler of every prebuilt function (an ESM bundle's file is index.mjs). */
export const PREBUILT_HANDLER = 'index.handler';

/**
 * A prebuilt function's code: built once (npm's `prepack`, before packing), so that an app using the
 * construct needs neither esbuild nor tsx at synth.
 */
export function prebuiltCode(name: FunctionName, files: Readonly<Record<string, string>> = {}): lambda.Code {
  const dir = join(FUNCTIONS_DIR, name);
  if (!existsSync(join(dir, 'index.mjs'))) {
    throw new Error(`eni-failover: the prebuilt function ${dir}/index.mjs is missing; run npm run build`);
  }
  if (Object.keys(files).length === 0) return lambda.Code.fromAsset(dir);
  // The bundle plus the given files (the function's pairs), staged in a directory named by their content, so
  // that the same configuration stages once and gives the same asset hash.
  const bundle = readFileSync(join(dir, 'index.mjs'));
  const key = createHash('sha256')
    .update(bundle)
    .update(JSON.stringify(Object.entries(files).sort()))
    .digest('hex');
  const staged = join(tmpdir(), 'eni-failover-assets', key.slice(0, 32));
  if (!existsSync(staged)) {
    const partial = `${staged}.${process.pid}`;
    mkdirSync(partial, { recursive: true });
    writeFileSync(join(partial, 'index.mjs'), bundle);
    for (const [file, text] of Object.entries(files)) writeFileSync(join(partial, file), text);
    try {
      renameSync(partial, staged);
    } catch {
      // Another synth staged the same content first: theirs is identical.
      rmSync(partial, { recursive: true, force: true });
    }
  }
  return lambda.Code.fromAsset(staged);
}
