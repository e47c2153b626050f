import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import { CloudWatchClient, DescribeAlarmsCommand, PutMetricAlarmCommand } from '@aws-sdk/client-cloudwatch';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import {
  AttachNetworkInterfaceCommand,
  DescribeInstancesCommand,
  EC2Client,
  StartInstancesCommand,
  StopInstancesCommand,
} from '@aws-sdk/client-ec2';
import { GetFunctionConfigurationCommand, InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { ListQueuesCommand, SQSClient } from '@aws-sdk/client-sqs';
import type { Context } from 'aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StateAdapter } from '../../lambda/aws/state.ts';
import { ENV, type Pair } from '../../lambda/config.ts';
import type { Result } from '../../lambda/result.ts';
import { functionPairs } from '../../ops/drill.ts';
import type { AwsPort, CdkPort, Deployed, SmokeDeps, SmokeOptions, SmokeReport } from '../../ops/smoke.ts';
import { runSmoke } from '../../ops/smoke.ts';
import { awsPort, CDK, smokeClients } from '../../ops/smoke-aws.ts';
import { useEndpoint } from '../../ops/world.ts';
import { type Moto, runMotoTests, startMoto } from '../helpers/tools.ts';

const ROOT = join(import.meta.dirname, '..', '..');

/**
 * `cdk deploy` of the demo app as the smoke's CDK port runs it, less what moto 5.2.1 cannot create:
 * - a KMS key with CloudFormation tags (moto reads TagKey/TagValue where CloudFormation gives Key/Value,
 *   answers 500, and the SDK's replay of CreateStack then meets AlreadyExists), as
 *   test/infra/deploy.moto.test.ts does;
 * - custom resources (the VPC's Custom::VpcRestrictDefaultSG, from the recommended flag
 *   @aws-cdk/aws-ec2:restrictDefaultSecurityGroup): moto invokes their handler only in Docker and keeps
 *   the stack CREATE_IN_PROGRESS until the handler answers, so `cdk deploy` would wait for ever. Nothing
 *   in the template refers to it; it only empties the default security group, which the smoke never uses.
 * A real account gets both. What the CLI prints goes to `log`, as the smoke's CDK port passes it on.
 */
async function deployAsMotoCan(stackName: string, log: (line: string) => void): Promise<string> {
  const env = { ...process.env, CDK_DISABLE_CLI_TELEMETRY: '1', CDK_DISABLE_VERSION_CHECK: '1' };
  const out = mkdtempSync(join(tmpdir(), 'eni-failover-smoke-moto-'));
  const cdk = async (args: string[]) => {
    const { stdout, stderr } = await promisify(execFile)(CDK, [...args, '--no-notices'], { cwd: ROOT, env });
    for (const line of `${stdout}\n${stderr}`.split('\n')) if (line.trim()) log(`  cdk | ${line}`);
  };
  await cdk(['synth', '-c', 'demo=true', '-c', `stackName=${stackName}`, '--quiet', '--output', out]);
  const file = join(out, `${stackName}.template.json`);
  const template = JSON.parse(readFileSync(file, 'utf8')) as {
    Resources: Record<string, { Type: string; Properties: { Tags?: unknown } }>;
  };
  for (const [id, r] of Object.entries(template.Resources)) {
    if (r.Type === 'AWS::KMS::Key') delete r.Properties.Tags;
    if (r.Type.startsWith('Custom::')) delete template.Resources[id];
  }
  writeFileSync(file, JSON.stringify(template));
  await cdk(['deploy', '--app', out, '--require-approval', 'never', '--method=direct']);
  return out;
}

/** The cloud assembly the deploy above synthesized: the function's code, its pairs file among it. */
let assembly: string | undefined;
const FIXTURES = join(ROOT, 'test', 'fixtures', 'events');
const ACCOUNT = '123456789012';
const REGION = 'eu-west-1';
const options: SmokeOptions = {
  profile: undefined,
  region: REGION,
  stackName: 'EniFailoverDemo',
  keep: false,
  yes: true,
  json: false,
};
// moto answers at once: short waits keep the failing path quick. The real ones are TIMEOUTS.
const timeouts = { pathMs: 20_000, startMs: 10_000, settleMs: 0, pollMs: 100 };

type Handler = (event: unknown, context: Context) => Promise<Result | Result[]>;

/**
 * moto runs Lambda functions only in Docker, which these machines lack: the deployed function's code
 * (lambda/handler.ts) runs here instead, configured from the deployed function's environment as
 * Lambda would configure it (its pairs file from the code the deploy uploaded), against moto's EC2 and
 * notification topic.
 */
async function functionStandIn(lambda: LambdaClient, functionName: string) {
  const config = await lambda.send(new GetFunctionConfigurationCommand({ FunctionName: functionName }));
  const variables = config.Environment?.Variables ?? {};
  if (!assembly) throw new Error('no deploy has run: the function code is in its cloud assembly');
  const template = JSON.parse(readFileSync(join(assembly, `${options.stackName}.template.json`), 'utf8')) as {
    Resources: Record<string, { Type: string; Metadata?: Record<string, string>; Properties?: object }>;
  };
  const code = Object.values(template.Resources).find(
    (r) => r.Type === 'AWS::Lambda::Function' && JSON.stringify(r.Properties).includes(ENV.pairsFile),
  )?.Metadata?.['aws:asset:path'];
  Object.assign(process.env, variables, {
    [ENV.pairsFile]: join(assembly, String(code), String(variables[ENV.pairsFile])),
  });
  const { handler } = (await import('../../lambda/handler.ts')) as { handler: Handler };
  const context = { getRemainingTimeInMillis: () => 60_000, functionName, awsRequestId: 'smoke' } as Context;
  const invocations: unknown[] = [];
  return {
    invocations,
    answer: (event: unknown) => handler(event, context),
    run: async (event: unknown) => {
      invocations.push(event);
      const answer = await handler(event, context);
      return (Array.isArray(answer) ? answer[0] : answer) as Result;
    },
  };
}

/** moto's Lambda, except that an invoke runs the function's code here (the operator's status, say). */
function lambdaWithStandIn(): LambdaClient {
  const moto = new LambdaClient({});
  const lambda = new LambdaClient({});
  mockClient(lambda)
    .on(GetFunctionConfigurationCommand)
    .callsFake((input) => moto.send(new GetFunctionConfigurationCommand(input)))
    .on(InvokeCommand)
    .callsFake(async (input: { FunctionName: string; Payload: Uint8Array }) => {
      const fn = await functionStandIn(moto, input.FunctionName);
      const answer = await fn.answer(JSON.parse(new TextDecoder().decode(input.Payload)));
      return { StatusCode: 200, Payload: new TextEncoder().encode(JSON.stringify(answer)) };
    });
  return lambda;
}

/** The alarm as CloudWatch delivers it through SNS (events/sns-alarm.json), for this alarm and instance. */
function alarmViaSns(alarm: { AlarmName?: string; AlarmArn?: string }, instanceId: string) {
  const event = JSON.parse(readFileSync(join(FIXTURES, 'sns-alarm.json'), 'utf8'));
  const message = JSON.parse(event.Records[0].Sns.Message);
  Object.assign(message, { AlarmName: alarm.AlarmName, AlarmArn: alarm.AlarmArn });
  message.Trigger.Dimensions = [{ value: instanceId, name: 'InstanceId' }];
  event.Records[0].Sns.Message = JSON.stringify(message);
  return event;
}

function stateChange(instanceId: string, state: string) {
  const event = JSON.parse(readFileSync(join(FIXTURES, 'eventbridge-state-change.json'), 'utf8'));
  event.detail = { 'instance-id': instanceId, state };
  return event;
}

describe.runIf(runMotoTests)('npm run smoke against moto', () => {
  let moto: Moto;
  const clients = () => ({ ...smokeClients(options), lambda: lambdaWithStandIn() });

  beforeAll(async () => {
    moto = await startMoto();
    useEndpoint(moto.url);
  });
  afterAll(async () => moto?.stop());

  /** The smoke's ports over real clients against moto; `cloud` stands in for what moto does not do. */
  function deps(cdk: CdkPort, aws: AwsPort) {
    const out: string[] = [];
    const err: string[] = [];
    const d: SmokeDeps = {
      cdk,
      aws,
      confirm: async () => {
        throw new Error('the tests pass --yes: nothing may ask');
      },
      out: (l) => out.push(l),
      err: (l) => err.push(l),
      now: () => Date.now(),
      sleep: (ms) => new Promise((r) => setTimeout(r, ms)),
      timeouts,
    };
    return { d, out, err };
  }

  /** A CDK port that must not be reached. */
  const noCdk: CdkPort = {
    deploy: async () => {
      throw new Error('deploy must not run');
    },
    destroy: async () => {
      throw new Error('destroy must not run');
    },
  };

  it('refuses before deploying into an environment that is not bootstrapped: exit 2, and says how', async () => {
    const { d, err } = deps(noCdk, awsPort(clients(), options.stackName));
    expect(await runSmoke(options, d)).toBe(2);
    expect(err.join('\n')).toMatch(
      /not bootstrapped for the CDK .*\n {2}npx cdk bootstrap aws:\/\/ACCOUNT\/eu-west-1/,
    );
  });

  /**
   * Stands in for what moto's CloudFormation skips (AWS::EC2::NetworkInterfaceAttachment and
   * AWS::CloudWatch::Alarm): the ENI on the primary at index 1, and status-check alarms on both
   * instances that act on the alarm topic, as the demo stack's template declares them.
   */
  async function asCloudFormationWould() {
    const c = clients();
    const outputs =
      (await c.cloudformation.send(new DescribeStacksCommand({ StackName: options.stackName }))).Stacks?.[0]
        ?.Outputs ?? [];
    const value = (key: string) => outputs.find((o) => o.OutputKey === key)?.OutputValue as string;
    const [pair] = (await functionPairs(c.lambda, value('FunctionNames'))) as [Pair];
    await new EC2Client({}).send(
      new AttachNetworkInterfaceCommand({
        NetworkInterfaceId: pair.networkInterfaceId,
        InstanceId: pair.primaryInstanceId,
        DeviceIndex: 1,
      }),
    );
    for (const [role, instanceId] of [
      ['Primary', pair.primaryInstanceId],
      ['Standby', pair.standbyInstanceId],
    ]) {
      await new CloudWatchClient({}).send(
        new PutMetricAlarmCommand({
          AlarmName: `${options.stackName}-EniFailoverdemo${role}StatusCheck-SMOKE`,
          Namespace: 'AWS/EC2',
          MetricName: 'StatusCheckFailed',
          Dimensions: [{ Name: 'InstanceId', Value: instanceId }],
          Statistic: 'Maximum',
          Period: 60,
          EvaluationPeriods: 2,
          Threshold: 1,
          ComparisonOperator: 'GreaterThanOrEqualToThreshold',
          AlarmActions: value('AlarmTopicArns').split(','),
        }),
      );
    }
  }

  /**
   * The real ports against moto, with the hops moto does not make played by the function's own code:
   * moto's SetAlarmState publishes nothing (real CloudWatch runs the alarm's SNS action), moto emits
   * no EC2 state-change events to EventBridge, and moto cannot run the function (Docker).
   */
  async function cloud(real: AwsPort, { dropStateChanges = false } = {}) {
    const deployed: Deployed = await real.discover();
    const fn = await functionStandIn(clients().lambda, deployed.functionName);
    const cw = new CloudWatchClient({});
    const port: AwsPort = {
      ...real,
      setAlarmState: async (name, state, reason) => {
        await real.setAlarmState(name, state, reason);
        if (state !== 'ALARM') return;
        const alarm = (await cw.send(new DescribeAlarmsCommand({ AlarmNames: [name] }))).MetricAlarms?.[0];
        const instance = alarm?.Dimensions?.find((x) => x.Name === 'InstanceId')?.Value as string;
        await fn.run(alarmViaSns(alarm ?? {}, instance));
      },
      stop: async (instanceId) => {
        await real.stop(instanceId);
        if (dropStateChanges) return; // as if the rule's pattern did not match
        // EventBridge sends one event per state: stopping, then stopped.
        for (const state of ['stopping', 'stopped']) await fn.run(stateChange(instanceId, state));
      },
      // Real EC2 sets LaunchTime to the latest start (EC2 API Reference, Instance: "The time that the
      // instance was last launched"); moto 5.2.1 keeps the first. The function reads a restart after a
      // forced detach from it (target-forced-detach), so the record is put before that LaunchTime, as
      // the start makes it on AWS.
      start: async (instanceId) => {
        await real.start(instanceId);
        // The stand-in runs with the deployed function's environment: its state table on moto's DynamoDB.
        const state = new StateAdapter(new DynamoDBClient({}), String(process.env[ENV.stateTable]));
        const record = await state.read(deployed.pair.name);
        if (record.forcedDetach?.instanceId !== instanceId) return;
        const instance = await new EC2Client({}).send(
          new DescribeInstancesCommand({ InstanceIds: [instanceId] }),
        );
        const launched = instance.Reservations?.[0]?.Instances?.[0]?.LaunchTime?.getTime() ?? 0;
        await state.change(deployed.pair.name, () => ({
          forcedDetach: { instanceId, at: launched - 1_000 },
        }));
      },
      invoke: (_name, event) => fn.run(event),
    };
    return { port, fn, deployed };
  }

  it('deploys the demo stack with the project CDK CLI, drives the alarm, the stop and the drill, fails back, and cleans up', async () => {
    // The one step the README asks of a user first.
    await promisify(execFile)(
      CDK,
      // Its own output directory: the CLI refuses to share cdk.out with another test file's CLI.
      [
        'bootstrap',
        `aws://${ACCOUNT}/${REGION}`,
        '-c',
        'demo=true',
        '--no-notices',
        '--output',
        mkdtempSync(join(tmpdir(), 'cdk-bootstrap-')),
      ],
      { cwd: ROOT, env: { ...process.env, CDK_DISABLE_CLI_TELEMETRY: '1', CDK_DISABLE_VERSION_CHECK: '1' } },
    );
    const real = awsPort(clients(), options.stackName);
    const cdkLog: string[] = [];
    let standIn: Awaited<ReturnType<typeof cloud>> | undefined;
    const calls: string[] = [];
    // The stand-ins exist once the deploy has made the function they stand in for.
    const aws: AwsPort = new Proxy(real, { get: (_t, key: keyof AwsPort) => (standIn?.port ?? real)[key] });
    const { d, out, err } = deps(
      {
        deploy: async () => {
          calls.push('deploy');
          assembly = await deployAsMotoCan(options.stackName, (l) => cdkLog.push(l));
          await asCloudFormationWould();
          standIn = await cloud(real);
        },
        // moto's CloudFormation cannot delete this stack (it deletes the VPC before its subnets and
        // has no delete for AWS::EC2::NetworkInterface), so `cdk destroy` is not run here.
        destroy: async () => {
          calls.push('destroy');
        },
      },
      aws,
    );

    const code = await runSmoke(options, d);
    const text = out.join('\n');
    expect(code, `${text}\n${err.join('\n')}\n${cdkLog.slice(-20).join('\n')}`).toBe(0);
    const p = standIn?.deployed.pair;
    if (!p) throw new Error('not deployed');

    // The CLI that ran is the project's own, on the demo app.
    expect(cdkLog.join('\n')).toMatch(/EniFailoverDemo/);
    // Every path, in order, with the outcome the operator expects and the ENI where it should be.
    expect(text).toMatch(
      /== 1\. status-check alarm[\s\S]*\[demo\] UNCHANGED[\s\S]*reads healthy now[\s\S]*OK: the alarm reached/,
    );
    expect(text).toMatch(
      new RegExp(
        `== 2\\. stop of the primary[\\s\\S]*\\[demo\\] MOVED .*${p.primaryInstanceId} \\(primary\\) -> ${p.standbyInstanceId} \\(standby\\)`,
      ),
    );
    expect(text).toMatch(
      /== 3\. drill: dry run[\s\S]*DRY RUN[\s\S]*== 4\. drill: the fail-back[\s\S]*MOVED .*\(standby\) -> .*\(primary\)/,
    );
    expect(text).toContain('Every path behaved (4 of 4).');
    // The notifications came through the real topic -> queue subscription.
    expect(text).toMatch(/notification: "eni-failover demo: unchanged, held by i-/);
    expect(text).toMatch(/notification: "eni-failover demo: MOVED to i-/);
    // The figures: a row per path with the outcome and timings.
    expect(text).toMatch(
      /stop of the primary \(EventBridge state change\)\s+moved\s+\d+\.\d s\s+\d+\.\d s\s+\d+\.\d s/,
    );
    // The function saw exactly the events AWS would send: one alarm, two state changes, two invokes.
    expect(standIn?.fn.invocations).toHaveLength(5);
    // Cleaned up: the ENI detached for CloudFormation, destroy run after it, the queue gone, the
    // retained KMS key and log group named with the command that removes them.
    expect(calls).toEqual(['deploy', 'destroy']);
    expect(await real.holder(p.networkInterfaceId)).toBeNull();
    expect(text).toMatch(
      /detached eni-\S+ so that CloudFormation can delete it[\s\S]*cdk destroy EniFailoverDemo/,
    );
    expect((await new SQSClient({}).send(new ListQueuesCommand({}))).QueueUrls ?? []).not.toContainEqual(
      expect.stringContaining('smoke'),
    );
    expect(text).toMatch(
      /AWS::KMS::Key \S+: aws kms schedule-key-deletion --key-id \S+ --pending-window-in-days 7/,
    );
    expect(text).toMatch(/AWS::Logs::LogGroup \S+: aws logs delete-log-group/);
    expect(err.join('\n')).toBe('');
    // cdk synth, bootstrap and deploy against moto: about 110 s alone on this 2-core machine under load, more in the whole suite.
  }, 300_000);

  it('a path that does not behave: exit 1, the later paths are not run, and the stack is still destroyed', async () => {
    // The stack of the test above is still in moto (which cannot delete it): deploying again is a no-op.
    const real = awsPort(clients(), options.stackName);
    const before = await real.discover();
    await new EC2Client({}).send(
      new AttachNetworkInterfaceCommand({
        NetworkInterfaceId: before.pair.networkInterfaceId,
        InstanceId: before.pair.primaryInstanceId,
        DeviceIndex: 1,
      }),
    );
    const standIn = await cloud(real, { dropStateChanges: true });
    const calls: string[] = [];
    const { d, out } = deps(
      {
        deploy: async () => {
          calls.push('deploy');
        },
        destroy: async () => {
          calls.push('destroy');
        },
      },
      standIn.port,
    );
    d.timeouts = { ...timeouts, pathMs: 1_500 };

    const code = await runSmoke({ ...options, json: true }, d);
    const report = JSON.parse(out.join('\n')) as SmokeReport;
    expect(code).toBe(1);
    expect(report.ok).toBe(false);
    expect(report.paths.map((p) => [p.name, p.ok])).toEqual([
      ['status-check alarm (SetAlarmState ALARM)', true],
      ['stop of the primary (EventBridge state change)', false],
    ]);
    expect(report.paths[1]?.problem).toBe('no "moved" notification for pair demo within 1.5 s');
    // Nothing moved it: the ENI stayed on the stopped primary until the cleanup let it go.
    expect(calls).toEqual(['deploy', 'destroy']);
    expect(report.destroyed).toBe(true);
    expect(await real.holder(before.pair.networkInterfaceId)).toBeNull();
  }, 60_000);
  it('a refusal ends the path at once: exit 1 with the refusal and its checks, without waiting out the path', async () => {
    // The stack of the tests above; the standby is stopped, so the failover must refuse.
    const real = awsPort(clients(), options.stackName);
    const { pair } = await real.discover();
    const ec2 = new EC2Client({});
    await ec2.send(new StartInstancesCommand({ InstanceIds: [pair.primaryInstanceId] }));
    await ec2.send(
      new AttachNetworkInterfaceCommand({
        NetworkInterfaceId: pair.networkInterfaceId,
        InstanceId: pair.primaryInstanceId,
        DeviceIndex: 1,
      }),
    );
    await ec2.send(new StopInstancesCommand({ InstanceIds: [pair.standbyInstanceId] }));
    const standIn = await cloud(real);
    const { d, out } = deps({ deploy: async () => undefined, destroy: async () => undefined }, standIn.port);
    // Ten minutes: were the refusal not to end the wait, the test would time out.
    d.timeouts = { ...timeouts, pathMs: 600_000 };

    const code = await runSmoke({ ...options, json: true }, d);
    const report = JSON.parse(out.join('\n')) as SmokeReport;
    expect(code).toBe(1);
    expect(report.paths[1]?.result?.outcome).toBe('refused');
    expect(report.paths[1]?.problem).toMatch(/^the function answered refused \(.*target-running: /);
  }, 60_000);
});
