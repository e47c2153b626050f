// Prebuilds every function the construct deploys into dist/functions/<name>/index.mjs, with the bundling
// settings the benchmark measures (lib/bundling.ts). Run by `npm run build` (npm's `prepare`), and before
// the tests and every synth in the repository, so the bundles never lag lambda/: esbuild takes about a second.
import { readdirSync, rmSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { build } from 'esbuild';
import { BUNDLING, FUNCTION_ENTRIES, FUNCTIONS_DIR } from '../lib/bundling.ts';

export async function buildFunctions(): Promise<void> {
  rmSync(FUNCTIONS_DIR, { recursive: true, force: true });
  await Promise.all(
    Object.entries(FUNCTION_ENTRIES).map(([name, entry]) =>
      build({
        entryPoints: [entry],
        outfile: join(FUNCTIONS_DIR, name, 'index.mjs'),
        bundle: true,
        platform: 'node',
        format: BUNDLING.format,
        target: BUNDLING.target,
        mainFields: [...BUNDLING.mainFields],
        minify: BUNDLING.minify,
        banner: { js: BUNDLING.banner },
        sourcemap: false,
        logLevel: 'error',
      }),
    ),
  );
}

/** Newest modification time of the files under dir (recursively), in ms. */
function newest(path: string): number {
  const stat = statSync(path);
  if (!stat.isDirectory()) return stat.mtimeMs;
  return Math.max(0, ...readdirSync(path).map((name) => newest(join(path, name))));
}

/**
 * Rebuilds the functions unless every bundle is newer than what goes into them (lambda/, the bundling
 * settings, the lock file): the check costs milliseconds, so the tests and every synth run it.
 */
export async function ensureFunctions(): Promise<void> {
  const root = dirname(dirname(FUNCTIONS_DIR));
  const sources = Math.max(
    newest(join(root, 'lambda')),
    newest(join(root, 'lib', 'bundling.ts')),
    newest(join(root, 'package-lock.json')),
  );
  const bundles = Object.keys(FUNCTION_ENTRIES).map((name) => join(FUNCTIONS_DIR, name, 'index.mjs'));
  let oldest = 0;
  try {
    oldest = Math.min(...bundles.map((file) => statSync(file).mtimeMs));
  } catch {
    // A bundle is missing: build them all.
  }
  if (oldest <= sources) await buildFunctions();
}

if (import.meta.url === `file://${process.argv[1]}`) await buildFunctions();
