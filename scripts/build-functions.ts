// Prebuilds every function the construct deploys into dist/functions/<name>/index.mjs, with the bundling
// settings the benchmark measures (lib/bundling.ts). Run by `npm run build` (npm's `prepack`), and before
// the tests and every synth in the repository, so the bundles never lag lambda/: esbuild takes about a second.
import { mkdirSync, readdirSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { build } from 'esbuild';
import { esbuildOptions, FUNCTION_ENTRIES, FUNCTIONS_DIR } from '../lib/bundling.ts';

export async function buildFunctions(): Promise<void> {
  await Promise.all(
    Object.entries(FUNCTION_ENTRIES).map(async ([name, entry]) => {
      const outfile = join(FUNCTIONS_DIR, name, 'index.mjs');
      const { outputFiles } = await build({ ...esbuildOptions(entry, outfile), write: false });
      // Written aside, then renamed over the old bundle (atomic on one file system): a synth running meanwhile
      // (another test file, while the consumer test packs) reads the old bundle or the new one, never half of one.
      // The temporary file stays outside the function's directory, which is the asset.
      const [bundle] = outputFiles;
      if (!bundle) throw new Error(`esbuild wrote nothing for ${entry}`);
      const aside = join(FUNCTIONS_DIR, `.${name}.mjs.tmp`);
      mkdirSync(dirname(outfile), { recursive: true });
      writeFileSync(aside, bundle.contents);
      renameSync(aside, outfile);
    }),
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
