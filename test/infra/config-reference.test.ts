// One source per option: docs/configuration.md is what scripts/config-reference.ts writes from the types' TSDoc,
// and the Pair type and the schema that parses a pair are tied at compile time (lambda/config.ts _schemaIsPair).
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { configReference, interfaceFields } from '../../scripts/config-reference.ts';

const ROOT = join(import.meta.dirname, '..', '..');

/** Type-checks a copy of lambda/config.ts alone (under node_modules, so that its imports resolve). */
async function typeCheck(source: string): Promise<{ code: number; out: string }> {
  const dir = join(ROOT, 'node_modules', '.cache', 'eni-failover-drift');
  mkdirSync(dir, { recursive: true });
  const work = mkdtempSync(join(dir, 'config-'));
  writeFileSync(join(work, 'config.ts'), source);
  const compilerOptions = {
    strict: true,
    noEmit: true,
    skipLibCheck: true,
    target: 'es2022',
    module: 'nodenext',
    types: ['node'],
    typeRoots: [join(ROOT, 'node_modules', '@types')],
  };
  writeFileSync(join(work, 'tsconfig.json'), JSON.stringify({ compilerOptions, files: ['config.ts'] }));
  return promisify(execFile)(join(ROOT, 'node_modules', '.bin', 'tsc'), ['-p', work]).then(
    () => ({ code: 0, out: '' }),
    (e: { code: number; stdout: string }) => ({ code: e.code, out: e.stdout }),
  );
}

describe('the configuration reference', () => {
  it('docs/configuration.md is what the script writes from the sources (run it after changing an option)', () => {
    expect(readFileSync(join(ROOT, 'docs', 'configuration.md'), 'utf8')).toBe(configReference());
  });

  it('documents every field of a pair, each with what it does', () => {
    const fields = interfaceFields(readFileSync(join(ROOT, 'lambda', 'config.ts'), 'utf8'), 'Pair');
    expect(fields.map((f) => f.name)).toEqual(
      expect.arrayContaining(['name', 'networkInterfaceId', 'deviceIndex', 'cooldownSeconds', 'probe']),
    );
    expect(fields.filter((f) => f.description === '').map((f) => f.name)).toEqual([]);
    expect(fields.filter((f) => f.optional && f.defaultValue === undefined).map((f) => f.name)).toEqual([]);
  });

  it('a field in the Pair type that the schema lacks fails the type check (the tie itself)', async () => {
    const original = readFileSync(join(ROOT, 'lambda', 'config.ts'), 'utf8');
    const mutated = original.replace(
      '  readonly deviceIndex: number;',
      '  readonly deviceIndex: number;\n  readonly notInTheSchema?: boolean;',
    );
    expect(await typeCheck(original)).toEqual({ code: 0, out: '' });
    const broken = await typeCheck(mutated);
    expect(broken.code).not.toBe(0);
    expect(broken.out).toMatch(
      /config\.ts\(\d+,\d+\): error TS2322: Type 'true' is not assignable to type 'false'/,
    );
  });
});
