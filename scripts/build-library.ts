// Builds what the package ships (npm's `prepack`): the library as one CommonJS file, its declarations, and the
// prebuilt functions (scripts/build-functions.ts).
//
// Why CommonJS only: every app `cdk init` writes is CommonJS (TypeScript and JavaScript), and an ES module imports
// a CommonJS module's named exports as well (Node reads esbuild's export annotation), so one build serves both.
// A second, ESM build would load twice in an app that mixes `require` and `import` (two EniFailover classes, two
// ConfigErrors that `instanceof` tells apart), and aws-cdk-lib itself is CommonJS.
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { build } from 'esbuild';
import { buildFunctions } from './build-functions.ts';

const ROOT = join(import.meta.dirname, '..');
const DIST = join(ROOT, 'dist');
/** The declarations; a package.json there makes them CommonJS declarations in a `"type": "module"` package. */
const TYPES = join(DIST, 'types');

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? files(path) : [path];
  });
}

export async function buildLibrary(): Promise<void> {
  rmSync(TYPES, { recursive: true, force: true });
  execFileSync(join(ROOT, 'node_modules', '.bin', 'tsc'), ['-p', 'tsconfig.build.json'], {
    cwd: ROOT,
    stdio: 'inherit',
  });
  for (const file of files(TYPES)) {
    // tsc keeps the sources' `./x.ts` specifiers in declarations; a consumer resolves `./x.js` to `./x.d.ts`.
    const text = readFileSync(file, 'utf8');
    writeFileSync(file, text.replace(/(['"])(\.{1,2}\/[^'"]+)\.ts\1/g, '$1$2.js$1'));
  }
  writeFileSync(join(TYPES, 'package.json'), `${JSON.stringify({ type: 'commonjs' })}\n`);

  await build({
    entryPoints: [join(ROOT, 'lib', 'index.ts')],
    outfile: join(DIST, 'index.cjs'),
    bundle: true,
    platform: 'node',
    format: 'cjs',
    // The package's floor (engines): the library runs in the user's CDK app.
    target: 'node22',
    // aws-cdk-lib and constructs are peers (one copy in the app), zod a dependency: never bundled.
    packages: 'external',
    // lib/bundling.ts finds the prebuilt functions from its own directory: import.meta in the sources (ESM in
    // the repository), __dirname in the CommonJS file (dist/, below the package root all the same).
    define: { 'import.meta.dirname': '__dirname' },
    sourcemap: false,
    logLevel: 'error',
  });
  await buildFunctions();
}

if (import.meta.url === `file://${process.argv[1]}`) await buildLibrary();
