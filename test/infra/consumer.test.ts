// The package as a CDK user meets it: `npm pack`, the tarball installed into a fresh JavaScript CDK app that has
// only aws-cdk-lib and constructs (no esbuild, no tsx), `new EniFailover(...)` with the user's own topic, synth,
// cfn-lint, and the IAM evaluation of the one hop that matters here: the function may publish to that topic.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ACCOUNT, type CfnTemplate, evaluate, hopsOf, REGION } from '../helpers/policy-engine';
import { CFN_LINT, cfnLintAvailable, runCfnLintTests } from '../helpers/tools';

const ROOT = join(import.meta.dirname, '..', '..');
const TOPIC_ARN = `arn:aws:sns:${REGION}:${ACCOUNT}:ops-alerts`;

/** The consumer's whole app: plain JavaScript, as `cdk init app --language javascript` would have it. */
const APP = `import { App, Stack } from 'aws-cdk-lib';
import * as sns from 'aws-cdk-lib/aws-sns';
import { EniFailover } from 'eni-failover';

const app = new App();
const stack = new Stack(app, 'Consumer', { env: { account: '${ACCOUNT}', region: '${REGION}' } });
const opsAlerts = sns.Topic.fromTopicArn(stack, 'OpsAlerts', '${TOPIC_ARN}');
new EniFailover(stack, 'WebFailover', {
  pairs: [
    {
      name: 'web',
      networkInterfaceId: 'eni-0123456789abcdef0',
      primaryInstanceId: 'i-0123456789abcdef0',
      standbyInstanceId: 'i-0fedcba9876543210',
      deviceIndex: 1,
    },
  ],
  notificationTopic: opsAlerts,
});
app.synth();
`;

/**
 * The consumer's lock: aws-cdk-lib, constructs and zod (the package's one dependency) exactly as the repository's
 * lock resolved them, so that `npm install --offline` takes them from npm's cache (filled by the repository's own
 * `npm ci`) and never asks the registry.
 */
function consumerLock(dependencies: Record<string, string>): string {
  type Entry = {
    version: string;
    dev?: boolean;
    dependencies?: Record<string, string>;
    peerDependencies?: Record<string, string>;
    peerDependenciesMeta?: Record<string, { optional?: boolean }>;
  };
  const lock = JSON.parse(readFileSync(join(ROOT, 'package-lock.json'), 'utf8')) as {
    packages: Record<string, Entry>;
  };
  const out: Record<string, Entry> = {};
  const visit = (path: string) => {
    const entry = lock.packages[path];
    if (out[path] || !entry) return;
    const { dev: _dev, ...kept } = entry;
    out[path] = kept;
    for (const [nested, e] of Object.entries(lock.packages))
      if (nested.startsWith(`${path}/node_modules/`)) out[nested] = { ...e, dev: undefined };
    for (const dep of Object.keys({ ...entry.dependencies, ...entry.peerDependencies })) {
      if (entry.peerDependenciesMeta?.[dep]?.optional || lock.packages[`${path}/node_modules/${dep}`])
        continue;
      visit(`node_modules/${dep}`);
    }
  };
  for (const name of [...Object.keys(dependencies), 'zod']) visit(`node_modules/${name}`);
  return JSON.stringify({
    name: 'consumer',
    lockfileVersion: 3,
    requires: true,
    packages: { '': { name: 'consumer', dependencies }, ...out },
  });
}

const npm = (args: string[], cwd: string) =>
  execFileSync('npm', [...args, '--no-audit', '--no-fund'], { cwd, encoding: 'utf8', stdio: 'pipe' });

describe('the packed library in a fresh JavaScript CDK app', { timeout: 120_000 }, () => {
  let dir: string;
  let tarball: { filename: string; size: number; files: { path: string }[] };
  let synth: { status: number | null; stdout: string; stderr: string };
  let template: CfnTemplate;

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'eni-failover-consumer-'));
    // As a publisher packs it: `prepare` builds the library and the functions first.
    [tarball] = JSON.parse(npm(['pack', '--json', '--pack-destination', dir], ROOT)) as [typeof tarball];
    const version = (name: string) =>
      (
        JSON.parse(readFileSync(join(ROOT, 'node_modules', name, 'package.json'), 'utf8')) as {
          version: string;
        }
      ).version;
    const dependencies = { 'aws-cdk-lib': version('aws-cdk-lib'), constructs: version('constructs') };
    const app = join(dir, 'app');
    execFileSync('mkdir', [app]);
    writeFileSync(
      join(app, 'package.json'),
      JSON.stringify({ name: 'consumer', private: true, type: 'module', dependencies }),
    );
    writeFileSync(join(app, 'package-lock.json'), consumerLock(dependencies));
    writeFileSync(join(app, 'cdk.json'), JSON.stringify({ app: 'node app.mjs' }));
    writeFileSync(join(app, 'app.mjs'), APP);
    npm(['install', '--offline', join(dir, tarball.filename)], app);
    // Only node on the PATH: nothing of the repository's (esbuild, tsx) is within reach of the synth.
    const run = spawnSync(process.execPath, ['app.mjs'], {
      cwd: app,
      encoding: 'utf8',
      env: { PATH: dirname(process.execPath), CDK_OUTDIR: join(app, 'cdk.out') },
    });
    synth = { status: run.status, stdout: run.stdout, stderr: run.stderr };
    const file = join(app, 'cdk.out', 'Consumer.template.json');
    template = existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as CfnTemplate) : { Resources: {} };
  }, 120_000);

  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('the tarball holds only the compiled library, its types, the prebuilt functions, README and LICENSE', () => {
    const paths = tarball.files.map((f) => f.path).sort();
    const unexpected = paths.filter(
      (p) =>
        !/^dist\/(lib\/[\w-]+|lambda\/config)\.(js|d\.ts)$/.test(p) &&
        !/^dist\/functions\/[\w-]+\/index\.mjs$/.test(p) &&
        !['README.md', 'LICENSE', 'package.json'].includes(p),
    );
    expect(unexpected).toEqual([]);
    expect(paths).toEqual(
      expect.arrayContaining([
        'LICENSE',
        'README.md',
        'dist/lib/index.js',
        'dist/lib/index.d.ts',
        'dist/lambda/config.js',
        'dist/functions/handler/index.mjs',
        'dist/functions/handler-os-check/index.mjs',
        'dist/functions/app-check-association/index.mjs',
      ]),
    );
  });

  it('installs with aws-cdk-lib and constructs as peers: one copy of each, and no esbuild or tsx', () => {
    const modules = join(dir, 'app', 'node_modules');
    expect(existsSync(join(modules, 'eni-failover', 'dist', 'lib', 'index.js'))).toBe(true);
    expect(existsSync(join(modules, 'eni-failover', 'node_modules', 'aws-cdk-lib'))).toBe(false);
    expect(existsSync(join(modules, 'eni-failover', 'node_modules', 'constructs'))).toBe(false);
    expect(existsSync(join(modules, 'esbuild'))).toBe(false);
    expect(existsSync(join(modules, 'tsx'))).toBe(false);
  });

  it('synthesizes without bundling anything', () => {
    expect(synth.status, synth.stderr).toBe(0);
    expect(synth.stderr).not.toContain('Bundling asset');
    const functions = Object.values(template.Resources).filter((r) => r.Type === 'AWS::Lambda::Function');
    expect(functions).toHaveLength(1);
    expect(functions[0]?.Properties?.Handler).toBe('index.handler');
  });

  it('the function notifies the topic it was given, and its role may publish there', async () => {
    const fn = Object.values(template.Resources).find((r) => r.Type === 'AWS::Lambda::Function');
    const env = (fn?.Properties?.Environment as { Variables?: Record<string, unknown> } | undefined)
      ?.Variables;
    expect(env?.NOTIFICATION_TOPIC_ARN).toBe(TOPIC_ARN);
    // The construct made no topic of its own for notifications: only the function's alarm topic.
    expect(Object.values(template.Resources).filter((r) => r.Type === 'AWS::SNS::Topic')).toHaveLength(1);
    const publish = (await evaluate(hopsOf(template, join(dir, 'app', 'cdk.out')))).filter((r) =>
      /: publish a result$/.test(r.name),
    );
    expect(publish.map((r) => [r.resource, r.got])).toEqual([[TOPIC_ARN, 'Allowed']]);
  });

  it.runIf(runCfnLintTests)('passes cfn-lint with no error or warning', () => {
    if (!cfnLintAvailable)
      throw new Error(`${CFN_LINT} is not installed (CI=true requires it): pip install cfn-lint`);
    const run = spawnSync(
      CFN_LINT,
      [
        '--format',
        'parseable',
        '--regions',
        REGION,
        '--',
        join(dir, 'app', 'cdk.out', 'Consumer.template.json'),
      ],
      { encoding: 'utf8' },
    );
    const findings = run.stdout.split('\n').filter((l) => /:[EW]\d+:/.test(l));
    expect(findings, run.stdout + run.stderr).toEqual([]);
    expect([0, 8], `cfn-lint exited ${run.status}: ${run.stderr}`).toContain(run.status);
  });
});
