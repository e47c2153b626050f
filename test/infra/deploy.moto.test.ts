import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EventBridgeClient, ListRulesCommand } from '@aws-sdk/client-eventbridge';
import { GetRoleCommand, IAMClient } from '@aws-sdk/client-iam';
import { LambdaClient, ListFunctionsCommand } from '@aws-sdk/client-lambda';
import { ListTopicsCommand, SNSClient } from '@aws-sdk/client-sns';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CfnTemplate, functionPairs } from '../helpers/policy-engine.ts';
import { pairs } from '../helpers/synth.ts';
import { type Moto, runMotoTests, startMoto } from '../helpers/tools.ts';

const ROOT = join(import.meta.dirname, '..', '..');
const CDK = join(ROOT, 'node_modules', '.bin', 'cdk');

describe.runIf(runMotoTests)('cdk bootstrap and cdk deploy against moto', () => {
  let moto: Moto;
  const config = { pairs: pairs(2), notificationEmails: ['oncall@example.com'] };
  const env = () => ({
    ...process.env,
    AWS_ENDPOINT_URL: moto.url,
    AWS_ACCESS_KEY_ID: 'testing',
    AWS_SECRET_ACCESS_KEY: 'testing',
    AWS_REGION: 'us-east-1',
    AWS_DEFAULT_REGION: 'us-east-1',
    CDK_DISABLE_VERSION_CHECK: '1',
  });
  const region = {
    region: 'us-east-1',
    endpoint: '',
    credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' },
  };

  function cdk(args: string[]): Promise<{ code: number | null; log: string }> {
    return new Promise((resolve) => {
      const child = spawn(CDK, args, { cwd: ROOT, env: env() });
      let log = '';
      child.stdout.on('data', (d) => {
        log += d;
      });
      child.stderr.on('data', (d) => {
        log += d;
      });
      child.on('close', (code) => resolve({ code, log }));
    });
  }

  beforeAll(async () => {
    moto = await startMoto();
    region.endpoint = moto.url;
  });
  afterAll(async () => moto?.stop());

  it('deploys the configured stack: the function, its role, both topics and the state-change rule exist', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'eni-failover-deploy-')), 'failover.json');
    writeFileSync(file, JSON.stringify(config));
    const context = ['-c', `config=${file}`];

    // Its own output directory: bootstrap synthesizes the app too, and the CLI refuses to share cdk.out with
    // another test file's CLI running at the same moment.
    const bootstrapOut = mkdtempSync(join(tmpdir(), 'cdk-bootstrap-'));
    const bootstrap = await cdk([
      'bootstrap',
      'aws://123456789012/us-east-1',
      ...context,
      '--output',
      bootstrapOut,
    ]);
    expect(bootstrap.code, bootstrap.log).toBe(0);
    const assembly = mkdtempSync(join(tmpdir(), 'cdk-out-'));
    const synth = await cdk(['synth', ...context, '--quiet', '--output', assembly]);
    expect(synth.code, synth.log).toBe(0);
    // moto 5.2.1 cannot create a KMS key that has CloudFormation tags (it reads TagKey/TagValue, where
    // CloudFormation gives Key/Value) and then creates nothing of the stack: deploy the template without them.
    const templateFile = join(assembly, 'EniFailover.template.json');
    const template = JSON.parse(readFileSync(templateFile, 'utf8')) as {
      Resources: Record<string, { Type: string; Properties: { Tags?: unknown } }>;
    };
    for (const r of Object.values(template.Resources))
      if (r.Type === 'AWS::KMS::Key') delete r.Properties.Tags;
    writeFileSync(templateFile, JSON.stringify(template));
    const deploy = await cdk(['deploy', '--app', assembly, '--require-approval', 'never']);
    expect(deploy.code, deploy.log).toBe(0);

    const functions = (await new LambdaClient(region).send(new ListFunctionsCommand({}))).Functions ?? [];
    const fn = functions.find((f) => f.FunctionName?.startsWith('EniFailover-'));
    expect(fn).toMatchObject({ Runtime: 'nodejs24.x', Handler: 'index.handler' });
    // Its pairs: in its code (the staged asset the deploy uploaded), as the function's own loader reads them.
    expect(fn?.Environment?.Variables?.FAILOVER_PAIRS_FILE).toBe('pairs.json');
    const [[, deployedPairs] = ['', []]] = functionPairs(template as CfnTemplate, assembly);
    expect(deployedPairs).toEqual(config.pairs);
    expect(fn?.Environment?.Variables?.NOTIFICATION_TOPIC_ARN).toMatch(
      /^arn:aws:sns:us-east-1:123456789012:EniFailover-/,
    );

    const roleName = fn?.Role?.split('/').pop();
    expect(
      (await new IAMClient(region).send(new GetRoleCommand({ RoleName: roleName }))).Role?.RoleName,
    ).toBe(roleName);

    const topics = (await new SNSClient(region).send(new ListTopicsCommand({}))).Topics ?? [];
    expect(topics.map((t) => t.TopicArn)).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/AlarmTopic/),
        expect.stringMatching(/NotificationTopic/),
      ]),
    );

    const rules = (await new EventBridgeClient(region).send(new ListRulesCommand({}))).Rules ?? [];
    const watched = rules
      .filter((r) => r.Name?.includes('StateChangeRule'))
      .flatMap((r) => JSON.parse(r.EventPattern ?? '{}').detail['instance-id'] as string[]);
    expect(watched.sort()).toEqual(
      config.pairs.flatMap((p) => [p.primaryInstanceId, p.standbyInstanceId]).sort(),
    );
    // About 105 s alone on this 2-core machine under load, more when the whole suite shares it.
  }, 300_000);
});
