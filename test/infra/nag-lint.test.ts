import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, symlinkSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type App, Aspects, type IAspect, Stack, Validations } from 'aws-cdk-lib';
import { Annotations, Match } from 'aws-cdk-lib/assertions';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import { Queue } from 'aws-cdk-lib/aws-sqs';
import { AwsSolutionsChecks } from 'cdk-nag';
import type { IConstruct } from 'constructs';
import { describe, expect, it } from 'vitest';
import type { Pair } from '../../lambda/config.ts';
import { loadStackConfig } from '../../lib/config-file.ts';
import { EniFailoverDemoStack } from '../../lib/demo-stack.ts';
import { EniFailover } from '../../lib/index.ts';
import { EniFailoverStack } from '../../lib/stack.ts';
import { newApp, pairs } from '../helpers/synth.ts';
import { CFN_LINT, cfnLintAvailable, runCfnLintTests } from '../helpers/tools.ts';

const ENV = { account: '123456789012', region: 'eu-west-1' };
const STACKS: [string, (app: App) => Stack][] = [
  ['demo', (app) => new EniFailoverDemoStack(app, 'EniFailoverDemo')],
  [
    'the example configuration',
    (app) =>
      new EniFailoverStack(app, 'EniFailover', {
        env: ENV,
        config: loadStackConfig('failover.example.json'),
      }),
  ],
  [
    'pairs with application checks (custom resource, types cfn-lint predates)',
    (app) =>
      new EniFailoverStack(app, 'EniFailoverChecked', {
        env: ENV,
        config: {
          pairs: pairs(2).map((p) => ({
            ...p,
            applicationCheck: { protocol: 'http', port: 8080, path: '/health' },
          })),
        },
      }),
  ],
  [
    'probed pairs with a prober in a VPC and its Lambda endpoint (issue 17)',
    (app) => {
      // Environment-agnostic, and without the default-SG custom resource: the test's own VPC then adds no
      // finding of its own (dummy AZs from a lookup, the CDK's provider role), so every finding is ours.
      const stack = new Stack(app, 'EniFailoverProbed');
      const vpc = new ec2.Vpc(stack, 'Vpc', {
        maxAzs: 2,
        natGateways: 0,
        restrictDefaultSecurityGroup: false,
      });
      vpc.addFlowLog('FlowLog');
      const [web, db] = pairs(2) as [Pair, Pair];
      new EniFailover(stack, 'EniFailover', {
        pairs: [
          { ...web, probe: { protocol: 'https', port: 443, path: '/health' } },
          { ...db, probe: { protocol: 'tcp', port: 5432 } },
        ],
        probe: { vpc, subnets: { subnetType: ec2.SubnetType.PRIVATE_ISOLATED }, lambdaEndpoint: true },
      });
      return stack;
    },
  ],
  [
    '60 pairs with no group (one function; its pairs in 16 state-change rules and 8 managed policies by slot)',
    (app) => new EniFailoverStack(app, 'EniFailover60', { env: ENV, config: { pairs: pairs(60) } }),
  ],
  [
    'fenced and OS-verified pairs with experiments',
    (app) =>
      new EniFailoverStack(app, 'EniFailoverDrilled', {
        env: ENV,
        config: {
          pairs: pairs(2).map((p, i) => ({ ...p, fence: i === 0, verifyOs: i === 1 })),
          experiments: ['svc0', 'svc1'],
        },
      }),
  ],
];

/** Synthesizes with cdk-nag's AwsSolutions pack, exactly as bin/app.ts does: a finding fails the synth. */
function synthWithNag(make: (app: App) => Stack): { dir: string; stack: Stack } {
  const dir = mkdtempSync(join(tmpdir(), 'eni-failover-synth-'));
  const app = newApp({ outdir: dir });
  const stack = make(app);
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  app.synth();
  return { dir, stack };
}

function acknowledgments(root: IConstruct): { path: string; id: string; reason: string }[] {
  return root.node.findAll().flatMap((c) =>
    c.node.metadata
      .filter((m) => m.type === 'aws:cdk:acknowledged-rules')
      .flatMap((m) =>
        Object.entries(m.data as Record<string, string>).map(([id, reason]) => ({
          path: c.node.path,
          id,
          reason,
        })),
      ),
  );
}

describe.each(STACKS)('%s', (_name, make) => {
  const { dir, stack } = synthWithNag(make);

  it('passes cdk-nag AwsSolutions with no unacknowledged finding, and each acknowledgment gives its reason', () => {
    const acks = acknowledgments(stack);
    expect(acks.length).toBeGreaterThan(0);
    for (const a of acks) expect(a.reason.length, `${a.path} ${a.id}`).toBeGreaterThan(30);
  });

  it.runIf(runCfnLintTests)(
    'passes cfn-lint with no error or warning',
    () => {
      if (!cfnLintAvailable)
        throw new Error(`${CFN_LINT} is not installed (CI=true requires it): pip install cfn-lint`);
      const templates = readdirSync(dir)
        .filter((f) => f.endsWith('.template.json'))
        .map((f) => join(dir, f));
      expect(templates).toHaveLength(1);
      const run = spawnSync(
        CFN_LINT,
        ['--format', 'parseable', '--regions', 'eu-west-1', '--', ...templates],
        {
          encoding: 'utf8',
        },
      );
      const findings = run.stdout.split('\n').filter((l) => /:[EW]\d+:/.test(l));
      expect(findings, run.stdout + run.stderr).toEqual([]);
      expect([0, 8], `cfn-lint exited ${run.status}: ${run.stderr}`).toContain(run.status);
    },
    120_000,
  );
});

it('cdk-nag fails the synth on an unacknowledged finding (the check is live)', () => {
  expect(() =>
    synthWithNag((app) => {
      const stack = new EniFailoverStack(app, 'Bad', { env: ENV, config: { pairs: pairs(1) } });
      new Queue(stack, 'UnencryptedQueueWithoutDlq');
      return stack;
    }),
  ).toThrow(/AwsSolutions-SQS3/);
});

/**
 * cdk-nag 2.x, as users who have not moved to 3 run it: an aspect on the app, reading each resource's
 * `cdk_nag.rules_to_suppress` metadata, reporting findings as error annotations. Installed from the npm registry
 * into a temporary directory (not a devDependency), resolving this repository's aws-cdk-lib and constructs, so
 * that its `instanceof CfnResource` sees our resources.
 */
describe('under cdk-nag 2.x', { timeout: 120_000 }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'cdk-nag-2-'));
  execFileSync(
    'npm',
    [
      'install',
      '--no-save',
      '--no-package-lock',
      '--legacy-peer-deps',
      '--ignore-scripts',
      '--no-audit',
      '--no-fund',
      '--prefix',
      dir,
      'cdk-nag@2',
    ],
    { stdio: 'pipe', timeout: 120_000 },
  );
  const root = join(import.meta.dirname, '..', '..', 'node_modules');
  mkdirSync(join(dir, 'node_modules'), { recursive: true });
  for (const shared of ['aws-cdk-lib', 'constructs'])
    symlinkSync(join(root, shared), join(dir, 'node_modules', shared));
  const nag2 = createRequire(join(dir, 'index.js'))('cdk-nag') as {
    AwsSolutionsChecks: new (props?: { verbose?: boolean }) => IAspect;
  };
  const version = (createRequire(join(dir, 'index.js'))('cdk-nag/package.json') as { version: string })
    .version;

  /** The AwsSolutions findings cdk-nag 2 reports on the stack (as errors or warnings). */
  function findings(make: (app: App) => Stack): string[] {
    const app = newApp({ outdir: mkdtempSync(join(tmpdir(), 'eni-failover-nag2-')) });
    const stack = make(app);
    Aspects.of(app).add(new nag2.AwsSolutionsChecks());
    const annotations = Annotations.fromStack(stack);
    return [
      ...annotations.findError('*', Match.stringLikeRegexp('AwsSolutions-')),
      ...annotations.findWarning('*', Match.stringLikeRegexp('AwsSolutions-')),
    ].map((m) => `${m.id}: ${String(m.entry.data).split('\n')[0]}`);
  }

  it(`is cdk-nag 2 (${version})`, () => {
    expect(version).toMatch(/^2\./);
  });

  it.each(STACKS)('%s: no unacknowledged finding', (_name, make) => {
    expect(findings(make)).toEqual([]);
  });

  it('reports a finding nobody acknowledged (the check is live, on this aws-cdk-lib): its errors fail the synth', () => {
    expect(() =>
      findings((app) => {
        const stack = new EniFailoverStack(app, 'Bad2', { env: ENV, config: { pairs: pairs(1) } });
        new Queue(stack, 'UnencryptedQueueWithoutDlq');
        return stack;
      }),
    ).toThrow(/AwsSolutions-SQS3[^\n]*\n\s*Bad2\/UnencryptedQueueWithoutDlq/);
  });
});
