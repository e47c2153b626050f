import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { build, type Metafile } from 'esbuild';
import { describe, expect, it } from 'vitest';

/** Every module `entries` reach, and every package they import, as esbuild's bundler resolves them. */
async function reach(entries: string[]): Promise<{ files: string[]; packages: string[] }> {
  const { metafile } = (await build({
    entryPoints: entries,
    bundle: true,
    write: false,
    metafile: true,
    outdir: 'out',
    platform: 'node',
    format: 'esm',
    packages: 'external',
    logLevel: 'silent',
  })) as { metafile: Metafile };
  const inputs = Object.values(metafile.inputs);
  return {
    files: Object.keys(metafile.inputs),
    packages: [...new Set(inputs.flatMap((i) => i.imports.filter((x) => x.external).map((x) => x.path)))],
  };
}

const sources = (dir: string): string[] =>
  readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .filter((f) => f.endsWith('.ts'))
    .map((f) => join(dir, f));

// The in-memory EC2 is a product part the demo and the tests run on (ops/fake-ec2.ts), built on a
// devDependency (aws-sdk-client-mock): the function and the construct library must never load it.
describe('what the function and the library load', () => {
  it('nothing in lambda/ or lib/ reaches ops/ (the in-memory EC2 among it), test/, or aws-sdk-client-mock', async () => {
    const { files, packages } = await reach([...sources('lambda'), ...sources('lib')]);
    expect(files).toContain('lambda/plan.ts');
    expect(files).toContain('lib/eni-failover.ts');
    expect(files.filter((f) => /^(ops|test|bin)\//.test(f))).toEqual([]);
    expect(packages.filter((p) => p.startsWith('aws-sdk-client-mock') || p === 'sinon')).toEqual([]);
  });

  it('the same walk finds the in-memory EC2 and aws-sdk-client-mock where they are loaded: the demo', async () => {
    const { files, packages } = await reach(['ops/demo.ts']);
    expect(files).toContain('ops/fake-ec2.ts');
    expect(packages).toContain('aws-sdk-client-mock');
  });
});
