// The package as CDK users meet it. `npm pack` once, then three apps, each with the packed tarball installed:
// - the TypeScript app `cdk init app --language typescript` writes (CommonJS), with the template's own dependencies
//   from the npm registry, the README's example pasted in as lib/my-app-stack.ts; its `tsc`, `cdk synth` (per its
//   cdk.json) and jest test, and its types checked under NodeNext and Node16 without @types/node;
// - the JavaScript app `cdk init app --language javascript` writes (CommonJS, `require`), at the oldest aws-cdk-lib
//   the peer range allows (2.269.0), with an application check (CfnApplicationStatusCheck) to synthesize;
// - an ES-module app (.mjs) with only aws-cdk-lib and constructs, installed offline from the repository's lock, run
//   with only node's directory (and the shell's) on the PATH: cfn-lint and the IAM evaluation of its template.
// And the tarball itself: only what a consumer runs, and @arethetypeswrong/cli finds nothing wrong with its types.
// The npm cache is the user's own (filled by `npm ci`), shared by every install here (`--prefer-offline`): after the
// first run, the installs ask the registry for nothing it has already given.
import { execFile, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ACCOUNT,
  type CfnTemplate,
  evaluate,
  functionPairs,
  hopsOf,
  REGION,
} from '../helpers/policy-engine.ts';
import { CFN_LINT, cfnLintAvailable, runCfnLintTests } from '../helpers/tools.ts';

const ROOT = join(import.meta.dirname, '..', '..');
const TOPIC_ARN = `arn:aws:sns:${REGION}:${ACCOUNT}:ops-alerts`;
/** The oldest aws-cdk-lib the peer range allows: the first with CfnApplicationStatusCheck. */
const CDK_LIB_FLOOR = '2.269.0';
/**
 * The oldest constructs the peer range allows: aws-cdk-lib's own floor (its peerDependencies say ^10.5.0), so that an
 * app pinned there installs without ERESOLVE.
 */
const CONSTRUCTS_FLOOR = '10.5.0';

/** The ES-module app: the whole of it, one .mjs file. */
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

/** The JavaScript app's stack, as a `cdk init --language javascript` user writes it: with an application check. */
const JS_STACK = `const { Duration, Stack } = require('aws-cdk-lib/core');
const { EniFailover } = require('eni-failover');

class MyAppStack extends Stack {
  constructor(scope, id, props) {
    super(scope, id, props);
    new EniFailover(this, 'WebFailover', {
      pairs: [
        {
          name: 'web',
          networkInterfaceId: 'eni-0123456789abcdef0',
          primaryInstanceId: 'i-0123456789abcdef0',
          standbyInstanceId: 'i-0fedcba9876543210',
          deviceIndex: 1,
          applicationCheck: { protocol: 'http', port: 80, path: '/health' },
        },
      ],
      reconcileSchedule: Duration.minutes(5),
    });
  }
}

module.exports = { MyAppStack };
`;

/** The TypeScript app's test, the template's own commented-out example made real (jest, @swc/jest). */
const TS_TEST = `import * as cdk from 'aws-cdk-lib/core';
import { Template } from 'aws-cdk-lib/assertions';
import * as MyApp from '../lib/my-app-stack';

test('the stack protects the web pair', () => {
  const app = new cdk.App();
  const stack = new MyApp.MyAppStack(app, 'MyTestStack');
  const template = Template.fromStack(stack);
  // The failover function, and the rehearsal's that proves it at every deploy.
  template.resourceCountIs('AWS::Lambda::Function', 2);
  template.resourceCountIs('Custom::Rehearsal', 1);
  template.hasResourceProperties('AWS::CloudWatch::Alarm', { Threshold: 2, MetricName: 'Moved' });
});
`;

/** The first TypeScript block of the README's "Use it in your own stack": what a `cdk init` user pastes. */
function readmeExample(): string {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const section = readme.slice(readme.indexOf('## Use it in your own stack'));
  const block = /```ts\n([\s\S]*?)```/.exec(section)?.[1];
  if (!block) throw new Error('README.md: no ```ts block under "Use it in your own stack"');
  return block;
}

/** `out` is stdout and stderr together, for the assertions' messages; `stdout` alone for what is parsed. */
type Run = { status: number; stdout: string; out: string };

/** Runs a command to its end; never throws (the tests assert on status and output). */
function run(cmd: string, args: string[], cwd: string, env: NodeJS.ProcessEnv = process.env): Promise<Run> {
  return new Promise((resolve) => {
    execFile(cmd, args, { cwd, env, maxBuffer: 64 * 1024 * 1024 }, (error, stdout, stderr) => {
      const code = (error as { code?: unknown } | null)?.code;
      resolve({
        status: error ? (typeof code === 'number' ? code : 1) : 0,
        stdout,
        out: `${stdout}${stderr}`,
      });
    });
  });
}

/** Runs a step the tests cannot go on without; throws with its output when it fails. */
async function must(cmd: string, args: string[], cwd: string, env?: NodeJS.ProcessEnv): Promise<string> {
  const result = await run(cmd, args, cwd, env);
  if (result.status !== 0)
    throw new Error(`${cmd} ${args.join(' ')} (in ${cwd}) exited ${result.status}:\n${result.out}`);
  return result.stdout;
}

const NPM_FLAGS = ['--no-audit', '--no-fund', '--loglevel=error'];
/** The CDK CLI without its calls home: no version check, no telemetry (cdk.json turns notices off). */
const CDK_ENV = { ...process.env, CDK_DISABLE_VERSION_CHECK: '1', CDK_DISABLE_CLI_TELEMETRY: '1' };
/**
 * The directory of `sh` on this PATH: npm runs every script with it (`npm test`, cdk.json's app through npx). Where
 * node comes from a system directory, that directory holds `sh` too; a Node.js installed elsewhere (.ci/run's
 * Node.js 24, in a cache) does not.
 */
const SHELL_DIR = (process.env.PATH ?? '')
  .split(delimiter)
  .find((d) => d !== '' && existsSync(join(d, 'sh')));
/**
 * For the apps' own commands: node's own directory first on the PATH (node, npm, npx), then the shell's, and not the
 * repository's node_modules/.bin.
 */
const APP_ENV = {
  ...CDK_ENV,
  PATH: [dirname(process.execPath), ...(SHELL_DIR ? [SHELL_DIR] : [])].join(delimiter),
};

/** `cdk init app --generate-only` with the CLI of the devDependencies, in a directory named my-app (so MyAppStack). */
async function cdkInit(parent: string, language: 'typescript' | 'javascript'): Promise<string> {
  const app = join(parent, 'my-app');
  mkdirSync(app, { recursive: true });
  await must(
    join(ROOT, 'node_modules', '.bin', 'cdk'),
    ['init', 'app', '--language', language, '--generate-only'],
    app,
    CDK_ENV,
  );
  // As AWS_FACTS and the repository's own cdk.json: no notices, no telemetry, so synth asks nothing of the network.
  const cdkJson = JSON.parse(readFileSync(join(app, 'cdk.json'), 'utf8')) as {
    context?: Record<string, unknown>;
  };
  writeFileSync(
    join(app, 'cdk.json'),
    JSON.stringify(
      { ...cdkJson, notices: false, context: { ...cdkJson.context, 'cli-telemetry': false } },
      null,
      2,
    ),
  );
  return app;
}

const readJson = <T>(file: string) => JSON.parse(readFileSync(file, 'utf8')) as T;
const templateOf = (app: string): CfnTemplate => {
  const file = join(app, 'cdk.out', 'MyAppStack.template.json');
  return existsSync(file) ? readJson<CfnTemplate>(file) : { Resources: {} };
};
const resourcesOf = (template: CfnTemplate, type: string) =>
  Object.values(template.Resources).filter((r) => r.Type === type);
/** The failover functions (their pairs file), not the deploy-time rehearsal's. */
const failoverFunctionsOf = (template: CfnTemplate) =>
  resourcesOf(template, 'AWS::Lambda::Function').filter((f) =>
    JSON.stringify(f.Properties?.Environment ?? {}).includes('FAILOVER_PAIRS_FILE'),
  );

type PackFile = { path: string };
type Pack = { filename: string; size: number; files: PackFile[] };

let dir: string;
let tarball: Pack;
let dryRun: Pack;
let tsApp: string;
let jsApp: string;
let esmApp: string;
/** @arethetypeswrong/cli on the tarball, started while the apps install (it needs only the tarball). */
let attw: Promise<Run>;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'eni-failover-consumer-'));
  // As a publisher packs it: `prepack` builds the library and the functions first. The templates meanwhile.
  const [packed, ts, js] = await Promise.all([
    must('npm', ['pack', '--json', '--pack-destination', dir], ROOT),
    cdkInit(join(dir, 'ts'), 'typescript'),
    cdkInit(join(dir, 'js'), 'javascript'),
  ]);
  [tarball] = JSON.parse(packed) as [Pack];
  [dryRun] = JSON.parse(await must('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], ROOT)) as [
    Pack,
  ];
  const tgz = join(dir, tarball.filename);
  attw = run(
    join(ROOT, 'node_modules', '.bin', 'attw'),
    [tgz, '--format', 'json', '--no-definitely-typed'],
    ROOT,
  );
  tsApp = ts;
  jsApp = js;
  writeFileSync(join(tsApp, 'lib', 'my-app-stack.ts'), readmeExample());
  writeFileSync(join(tsApp, 'test', 'my-app.test.ts'), TS_TEST);
  writeFileSync(join(jsApp, 'lib', 'my-app-stack.js'), JS_STACK);

  esmApp = join(dir, 'esm');
  mkdirSync(esmApp);
  const version = (name: string) =>
    readJson<{ version: string }>(join(ROOT, 'node_modules', name, 'package.json')).version;
  const dependencies = { 'aws-cdk-lib': version('aws-cdk-lib'), constructs: version('constructs') };
  writeFileSync(
    join(esmApp, 'package.json'),
    JSON.stringify({ name: 'consumer', private: true, type: 'module', dependencies }),
  );
  writeFileSync(join(esmApp, 'package-lock.json'), consumerLock(dependencies));
  writeFileSync(join(esmApp, 'app.mjs'), APP);

  // The installs wait mostly on the network and the disk: all three at once. Each template's own dependencies
  // (what `npm install` in it would install) and the tarball, in one install.
  await Promise.all([
    must('npm', ['install', ...NPM_FLAGS, '--prefer-offline', tgz], tsApp),
    must(
      'npm',
      [
        'install',
        ...NPM_FLAGS,
        '--prefer-offline',
        '--save-exact',
        `aws-cdk-lib@${CDK_LIB_FLOOR}`,
        `constructs@${CONSTRUCTS_FLOOR}`,
        tgz,
      ],
      jsApp,
    ),
    must('npm', ['install', ...NPM_FLAGS, '--offline', tgz], esmApp),
  ]);
}, 600_000);

afterAll(() => {
  // Three apps' node_modules take a while to delete on a busy disk: in the background, not in the suite's time.
  if (dir) spawn('rm', ['-rf', dir], { detached: true, stdio: 'ignore' }).unref();
});

describe('the tarball', () => {
  it('holds only what a consumer runs: the CommonJS library, its types, the prebuilt functions, README, CHANGELOG and LICENSE', () => {
    const paths = tarball.files.map((f) => f.path).sort();
    const unexpected = paths.filter(
      (p) =>
        !/^dist\/types\/(lib\/[\w-]+|lambda\/config|lambda\/probe\/config)\.d\.ts$/.test(p) &&
        !/^dist\/functions\/[\w-]+\/index\.mjs$/.test(p) &&
        ![
          'README.md',
          'CHANGELOG.md',
          'LICENSE',
          'package.json',
          'dist/index.cjs',
          'dist/types/package.json',
        ].includes(p),
    );
    expect(unexpected).toEqual([]);
    expect(paths).toEqual(
      expect.arrayContaining([
        'CHANGELOG.md',
        'LICENSE',
        'README.md',
        'dist/index.cjs',
        'dist/types/package.json',
        'dist/types/lib/index.d.ts',
        'dist/types/lambda/config.d.ts',
        'dist/functions/handler/index.mjs',
        'dist/functions/handler-os-check/index.mjs',
        'dist/functions/app-check-association/index.mjs',
        'dist/functions/prober/index.mjs',
        'dist/functions/rehearsal/index.mjs',
      ]),
    );
    // `npm pack --dry-run` lists the very same files.
    expect(dryRun.files.map((f) => f.path).sort()).toEqual(paths);
  });

  it('has types that resolve for require and import under node10, node16 and bundler (@arethetypeswrong/cli)', async () => {
    const { stdout, out, status } = await attw;
    const report = JSON.parse(stdout) as {
      analysis: {
        problems?: unknown[];
        entrypoints: Record<string, { resolutions: Record<string, { resolution?: { fileName: string } }> }>;
      };
    };
    expect(report.analysis.problems ?? [], out).toEqual([]);
    const root = report.analysis.entrypoints['.']?.resolutions ?? {};
    expect(
      Object.fromEntries(Object.entries(root).map(([kind, r]) => [kind, r.resolution?.fileName])),
    ).toEqual({
      node10: '/node_modules/eni-failover/dist/types/lib/index.d.ts',
      'node16-cjs': '/node_modules/eni-failover/dist/types/lib/index.d.ts',
      'node16-esm': '/node_modules/eni-failover/dist/types/lib/index.d.ts',
      bundler: '/node_modules/eni-failover/dist/types/lib/index.d.ts',
    });
    expect(status, out).toBe(0);
  });
});

describe('in the TypeScript app cdk init writes (CommonJS), with the README example', {
  timeout: 180_000,
}, () => {
  it('is the CommonJS app the template makes: no "type" in package.json, NodeNext, tsc before every synth', () => {
    expect(readJson<{ type?: string }>(join(tsApp, 'package.json')).type).toBeUndefined();
    expect(readFileSync(join(tsApp, 'tsconfig.json'), 'utf8')).toMatch(/"module": "NodeNext"/);
    // Its synth compiles first: a type error in the example fails the synth below.
    expect(readJson<{ app: string }>(join(tsApp, 'cdk.json')).app).toBe('npx tsc && npx tsx bin/my-app.ts');
  });

  /** The template's compiler on the example alone, with no ambient types (no @types/node): its error lines. */
  async function typeCheck(mode: 'NodeNext' | 'Node16', skipLibCheck: boolean): Promise<string[]> {
    const config = `tsconfig.${mode}.json`;
    const compilerOptions = {
      module: mode,
      moduleResolution: mode,
      target: 'ES2022',
      strict: true,
      noEmit: true,
    };
    writeFileSync(
      join(tsApp, config),
      JSON.stringify({
        compilerOptions: { ...compilerOptions, skipLibCheck, types: [] },
        files: ['lib/my-app-stack.ts'],
      }),
    );
    const tsc = await run(
      join(tsApp, 'node_modules', '.bin', 'tsc'),
      ['-p', config, '--pretty', 'false'],
      tsApp,
      APP_ENV,
    );
    return tsc.out.split('\n').filter((l) => /error TS\d+/.test(l));
  }

  it("type-checks under NodeNext without @types/node, the package's declarations checked too (no skipLibCheck)", async () => {
    // aws-cdk-lib's own declarations need more than ES2022's lib (Disposable): its errors are its own. Any other
    // error (in the example, in the package's declarations, or none resolved) fails.
    const errors = await typeCheck('NodeNext', false);
    expect(errors.filter((l) => !l.startsWith('node_modules/aws-cdk-lib/'))).toEqual([]);
  });

  it('type-checks under Node16 without @types/node', async () => {
    expect(await typeCheck('Node16', true)).toEqual([]);
  });

  it("passes the template's tsc and synthesizes with its own cdk synth (cdk.json: tsc, then tsx), bundling nothing", async () => {
    const synth = await run('npx', ['--no-install', 'cdk', 'synth', '--quiet'], tsApp, APP_ENV);
    expect(synth.status, synth.out).toBe(0);
    expect(synth.out).not.toContain('Bundling asset');
    const template = templateOf(tsApp);
    const [fn] = failoverFunctionsOf(template);
    expect(failoverFunctionsOf(template)).toHaveLength(1);
    expect(resourcesOf(template, 'AWS::Lambda::Function')).toHaveLength(2);
    expect(resourcesOf(template, 'Custom::Rehearsal')).toHaveLength(1);
    expect(fn?.Properties?.Handler).toBe('index.handler');
    const env = (fn?.Properties?.Environment as { Variables?: Record<string, unknown> } | undefined)
      ?.Variables;
    // The pairs travel in the function's code (pairs.json), read as the function reads them.
    const [[, pairs] = ['', []]] = functionPairs(template, join(tsApp, 'cdk.out'));
    expect(pairs.map((p) => p.networkInterfaceId)).toEqual(['eni-0123456789abcdef0']);
    expect(env?.NOTIFICATION_TOPIC_ARN).toBe('arn:aws:sns:eu-west-1:123456789012:ops-alerts');
  });

  it("passes the template's jest test, which builds the stack through the package", async () => {
    const jest = await run('npm', ['test'], tsApp, APP_ENV);
    expect(jest.status, jest.out).toBe(0);
    expect(jest.out).toMatch(/✓ the stack protects the web pair/);
    expect(jest.out).toMatch(/Tests:\s+1 passed, 1 total/);
  });
});

describe(`in the JavaScript app cdk init writes (CommonJS, require), at aws-cdk-lib ${CDK_LIB_FLOOR} and constructs ${CONSTRUCTS_FLOOR}`, {
  timeout: 120_000,
}, () => {
  it(`has aws-cdk-lib ${CDK_LIB_FLOOR} and constructs ${CONSTRUCTS_FLOOR}, the floors of the peer ranges, one copy of each`, () => {
    const modules = join(jsApp, 'node_modules');
    const versionOf = (name: string) =>
      readJson<{ version: string }>(join(modules, name, 'package.json')).version;
    expect(versionOf('aws-cdk-lib')).toBe(CDK_LIB_FLOOR);
    expect(versionOf('constructs')).toBe(CONSTRUCTS_FLOOR);
    const peers = readJson<{ peerDependencies: Record<string, string> }>(
      join(modules, 'eni-failover', 'package.json'),
    ).peerDependencies;
    expect(peers).toEqual({ 'aws-cdk-lib': `^${CDK_LIB_FLOOR}`, constructs: `^${CONSTRUCTS_FLOOR}` });
    // aws-cdk-lib's own range for constructs: no stricter (ERESOLVE), no looser.
    expect(
      readJson<{ peerDependencies: Record<string, string> }>(
        join(ROOT, 'node_modules', 'aws-cdk-lib', 'package.json'),
      ).peerDependencies.constructs,
    ).toBe(peers.constructs);
    expect(existsSync(join(modules, 'eni-failover', 'node_modules', 'aws-cdk-lib'))).toBe(false);
    expect(existsSync(join(modules, 'eni-failover', 'node_modules', 'constructs'))).toBe(false);
  });

  it('require() gives the public API and nothing else', async () => {
    const names = await must(
      process.execPath,
      ['-e', "console.log(JSON.stringify(Object.keys(require('eni-failover')).sort()))"],
      jsApp,
      APP_ENV,
    );
    expect(JSON.parse(names)).toEqual(['ConfigError', 'EniFailover', 'METRICS_NAMESPACE', 'TAG']);
  });

  it("synthesizes with the template's own cdk synth, the application check included", async () => {
    const synth = await run('npx', ['--no-install', 'cdk', 'synth', '--quiet'], jsApp, APP_ENV);
    expect(synth.status, synth.out).toBe(0);
    const template = templateOf(jsApp);
    expect(resourcesOf(template, 'AWS::Lambda::Function').map((f) => f.Properties?.Handler)).toContain(
      'index.handler',
    );
    const [check] = resourcesOf(template, 'AWS::EC2::ApplicationStatusCheck');
    expect(check?.Properties).toMatchObject({ Protocol: 'http', Port: 80 });
  });
});

describe('in an ES-module JavaScript app (.mjs) with only aws-cdk-lib and constructs', {
  timeout: 120_000,
}, () => {
  let synth: Run;
  let template: CfnTemplate;

  beforeAll(async () => {
    // Only node on the PATH and no CLI: the app's own process, as `cdk synth` would start it.
    synth = await run(process.execPath, ['app.mjs'], esmApp, {
      PATH: dirname(process.execPath),
      CDK_OUTDIR: join(esmApp, 'cdk.out'),
    });
    const file = join(esmApp, 'cdk.out', 'Consumer.template.json');
    template = existsSync(file) ? readJson<CfnTemplate>(file) : { Resources: {} };
  }, 120_000);

  it('installs with aws-cdk-lib and constructs as peers: one copy of each, and no esbuild or tsx', () => {
    const modules = join(esmApp, 'node_modules');
    expect(existsSync(join(modules, 'eni-failover', 'dist', 'index.cjs'))).toBe(true);
    expect(existsSync(join(modules, 'eni-failover', 'node_modules', 'aws-cdk-lib'))).toBe(false);
    expect(existsSync(join(modules, 'eni-failover', 'node_modules', 'constructs'))).toBe(false);
    expect(existsSync(join(modules, 'esbuild'))).toBe(false);
    expect(existsSync(join(modules, 'tsx'))).toBe(false);
  });

  it('imports the named exports and synthesizes without bundling anything', () => {
    expect(synth.status, synth.out).toBe(0);
    expect(synth.out).not.toContain('Bundling asset');
    const functions = failoverFunctionsOf(template);
    expect(functions).toHaveLength(1);
    expect(functions[0]?.Properties?.Handler).toBe('index.handler');
    expect(resourcesOf(template, 'Custom::Rehearsal')).toHaveLength(1);
  });

  it('the function notifies the topic it was given, and its role may publish there', async () => {
    const fn = failoverFunctionsOf(template)[0];
    const env = (fn?.Properties?.Environment as { Variables?: Record<string, unknown> } | undefined)
      ?.Variables;
    expect(env?.NOTIFICATION_TOPIC_ARN).toBe(TOPIC_ARN);
    // The construct made no topic of its own for notifications: only the function's alarm topic.
    expect(resourcesOf(template, 'AWS::SNS::Topic')).toHaveLength(1);
    const publish = (await evaluate(hopsOf(template, join(esmApp, 'cdk.out')))).filter((r) =>
      /: publish a result$/.test(r.name),
    );
    expect(publish.map((r) => [r.resource, r.got])).toEqual([[TOPIC_ARN, 'Allowed']]);
  });

  it.runIf(runCfnLintTests)('passes cfn-lint with no error or warning', async () => {
    if (!cfnLintAvailable)
      throw new Error(`${CFN_LINT} is not installed (CI=true requires it): pip install cfn-lint`);
    const lint = await run(
      CFN_LINT,
      ['--format', 'parseable', '--regions', REGION, '--', join(esmApp, 'cdk.out', 'Consumer.template.json')],
      ROOT,
    );
    const findings = lint.out.split('\n').filter((l) => /:[EW]\d+:/.test(l));
    expect(findings, lint.out).toEqual([]);
    expect([0, 8], `cfn-lint exited ${lint.status}: ${lint.out}`).toContain(lint.status);
  });
});
