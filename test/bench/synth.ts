import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { EniFailoverStack } from '../../lib/stack.ts';
import { newApp, pairs } from '../helpers/synth.ts';

export interface SynthFigures {
  pairs: number;
  ms: number;
  resources: number;
  templateBytes: number;
  functions: number;
}

/** One synth of the configured stack, as `cdk synth` runs it (bundling, cdk-nag), in this process. */
export function benchSynth(n: number): SynthFigures {
  const outdir = mkdtempSync(join(tmpdir(), 'eni-failover-bench-synth-'));
  const start = performance.now();
  // cdk.json's feature flags, as `cdk synth` reads them.
  const app = newApp({ outdir });
  new EniFailoverStack(app, 'EniFailover', {
    env: { account: '123456789012', region: 'eu-west-1' },
    config: { pairs: pairs(n) },
  });
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  app.synth();
  const ms = performance.now() - start;
  const file = readdirSync(outdir).find((f) => f.endsWith('.template.json')) as string;
  const text = readFileSync(join(outdir, file), 'utf8');
  const resources = Object.values(JSON.parse(text).Resources) as { Type: string; Properties?: unknown }[];
  return {
    pairs: n,
    ms,
    resources: resources.length,
    templateBytes: Buffer.byteLength(text),
    // The failover functions (their pairs file), not the rehearsal's or the custom resources'.
    functions: resources.filter(
      (r) => r.Type === 'AWS::Lambda::Function' && JSON.stringify(r.Properties).includes('FAILOVER_PAIRS'),
    ).length,
  };
}
