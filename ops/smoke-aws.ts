import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  CloudFormationClient,
  DescribeStacksCommand,
  GetTemplateCommand,
  paginateListStackResources,
  type Stack,
} from '@aws-sdk/client-cloudformation';
import {
  CloudWatchClient,
  DescribeAlarmsCommand,
  DescribeAlarmsForMetricCommand,
  SetAlarmStateCommand,
} from '@aws-sdk/client-cloudwatch';
import {
  DescribeInstancesCommand,
  EC2Client,
  StartInstancesCommand,
  StopInstancesCommand,
} from '@aws-sdk/client-ec2';
import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { SNSClient, SubscribeCommand, UnsubscribeCommand } from '@aws-sdk/client-sns';
import {
  CreateQueueCommand,
  DeleteMessageBatchCommand,
  DeleteQueueCommand,
  GetQueueAttributesCommand,
  ReceiveMessageCommand,
  SetQueueAttributesCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';
import { Ec2Adapter } from '../lambda/aws/ec2.ts';
import type { Result } from '../lambda/result.ts';
import { holderOf } from '../lambda/view.ts';
import { functionPairs } from './drill.ts';
import type {
  AwsPort,
  CdkPort,
  Deployed,
  Listener,
  Notification,
  Retained,
  SmokeDeps,
  SmokeOptions,
} from './smoke.ts';

const ROOT = join(import.meta.dirname, '..');
/** The project's own CDK CLI (a devDependency): `npx cdk` without it would try to install one. */
export const CDK = join(ROOT, 'node_modules', '.bin', 'cdk');

export interface SmokeClients {
  cloudformation: CloudFormationClient;
  cloudwatch: CloudWatchClient;
  ec2: EC2Client;
  lambda: LambdaClient;
  sns: SNSClient;
  sqs: SQSClient;
}

export function smokeClients(options: Pick<SmokeOptions, 'profile' | 'region'>): SmokeClients {
  const config = {
    ...(options.region ? { region: options.region } : {}),
    ...(options.profile ? { profile: options.profile } : {}),
  };
  return {
    cloudformation: new CloudFormationClient(config),
    cloudwatch: new CloudWatchClient(config),
    ec2: new EC2Client(config),
    lambda: new LambdaClient(config),
    sns: new SNSClient(config),
    sqs: new SQSClient(config),
  };
}

async function describeStack(cfn: CloudFormationClient, stackName: string): Promise<Stack | undefined> {
  try {
    return (await cfn.send(new DescribeStacksCommand({ StackName: stackName }))).Stacks?.[0];
  } catch (error) {
    // CloudFormation answers a missing stack with ValidationError "Stack with id X does not exist".
    if ((error as Error).name === 'ValidationError' && /does not exist/.test((error as Error).message))
      return undefined;
    throw error;
  }
}

const output = (stack: Stack, key: string) => {
  const value = stack.Outputs?.find((o) => o.OutputKey === key)?.OutputValue;
  if (!value)
    throw new Error(`stack ${stack.StackName} has no ${key} output: is it the demo stack (-c demo=true)?`);
  return value;
};

/** How to remove what a template retains; the types the demo stack retains are named. */
function removeWith(type: string, id: string): string {
  if (type === 'AWS::KMS::Key')
    return `aws kms schedule-key-deletion --key-id ${id} --pending-window-in-days 7`;
  if (type === 'AWS::Logs::LogGroup') return `aws logs delete-log-group --log-group-name ${id}`;
  return 'delete it in its service console';
}

/** The smoke test's view of AWS, over real SDK clients. */
export function awsPort(c: SmokeClients, stackName: string): AwsPort {
  const adapter = new Ec2Adapter(c.ec2);
  const holder = async (eni: string) => {
    const view = await adapter.describeEni(eni);
    if (!view) throw new Error(`${eni} does not exist`);
    return holderOf(view);
  };
  return {
    bootstrap: async () => {
      const toolkit = await describeStack(c.cloudformation, 'CDKToolkit');
      if (!toolkit?.StackId || !toolkit.StackStatus?.endsWith('_COMPLETE')) return undefined;
      // arn:aws:cloudformation:REGION:ACCOUNT:stack/CDKToolkit/ID
      const [, , , region = '', account = ''] = toolkit.StackId.split(':');
      return { account, region };
    },

    discover: async (): Promise<Deployed> => {
      const stack = await describeStack(c.cloudformation, stackName);
      if (!stack) throw new Error(`stack ${stackName} does not exist after the deploy`);
      const [functionName] = output(stack, 'FunctionNames').split(',') as [string];
      const alarmTopics = output(stack, 'AlarmTopicArns').split(',');
      const [pair] = await functionPairs(c.lambda, functionName);
      if (!pair) throw new Error(`function ${functionName} protects no pair`);
      // The alarm on the primary's StatusCheckFailed whose action is this stack's alarm topic.
      const alarms = await c.cloudwatch.send(
        new DescribeAlarmsForMetricCommand({
          Namespace: 'AWS/EC2',
          MetricName: 'StatusCheckFailed',
          Dimensions: [{ Name: 'InstanceId', Value: pair.primaryInstanceId }],
        }),
      );
      const alarm = alarms.MetricAlarms?.find(
        (a) =>
          a.Dimensions?.some((d) => d.Name === 'InstanceId' && d.Value === pair.primaryInstanceId) &&
          a.AlarmActions?.some((arn) => alarmTopics.includes(arn)),
      );
      if (!alarm?.AlarmName) {
        throw new Error(
          `no StatusCheckFailed alarm on the primary ${pair.primaryInstanceId} acts on ${alarmTopics.join(', ')}`,
        );
      }
      return {
        functionName,
        notificationTopicArn: output(stack, 'NotificationTopicArn'),
        pair,
        alarmName: alarm.AlarmName,
      };
    },

    retained: async () => {
      const body =
        (await c.cloudformation.send(new GetTemplateCommand({ StackName: stackName }))).TemplateBody ?? '{}';
      const resources =
        (JSON.parse(body) as { Resources?: Record<string, { Type: string; DeletionPolicy?: string }> })
          .Resources ?? {};
      const kept = new Set(
        Object.entries(resources)
          .filter(([, r]) => r.DeletionPolicy === 'Retain' || r.DeletionPolicy === 'RetainExceptOnCreate')
          .map(([id]) => id),
      );
      const found: Retained[] = [];
      for await (const page of paginateListStackResources(
        { client: c.cloudformation },
        { StackName: stackName },
      )) {
        for (const r of page.StackResourceSummaries ?? []) {
          if (
            r.LogicalResourceId &&
            kept.has(r.LogicalResourceId) &&
            r.ResourceType &&
            r.PhysicalResourceId
          ) {
            found.push({
              type: r.ResourceType,
              id: r.PhysicalResourceId,
              removeWith: removeWith(r.ResourceType, r.PhysicalResourceId),
            });
          }
        }
      }
      return found;
    },

    alarmState: async (alarmName) =>
      (await c.cloudwatch.send(new DescribeAlarmsCommand({ AlarmNames: [alarmName] }))).MetricAlarms?.[0]
        ?.StateValue,

    setAlarmState: async (alarmName, state, reason) => {
      await c.cloudwatch.send(
        new SetAlarmStateCommand({ AlarmName: alarmName, StateValue: state, StateReason: reason }),
      );
    },

    // A normal stop, as an operator or a failing host would cause it; not forced.
    stop: async (instanceId) => {
      await c.ec2.send(new StopInstancesCommand({ InstanceIds: [instanceId] }));
    },
    start: async (instanceId) => {
      await c.ec2.send(new StartInstancesCommand({ InstanceIds: [instanceId] }));
    },
    instanceState: async (instanceId) =>
      (await c.ec2.send(new DescribeInstancesCommand({ InstanceIds: [instanceId] }))).Reservations?.[0]
        ?.Instances?.[0]?.State?.Name,

    holder,

    release: async (eni) => {
      const view = await adapter.describeEni(eni);
      const attachmentId = view?.attachment?.id;
      if (!view || !attachmentId) return;
      await adapter.detach(attachmentId, false);
      for (let i = 0; i < 60 && (await holder(eni)) !== null; i++) await sleep(2_000);
    },

    invoke: async (functionName, event) => {
      const response = await c.lambda.send(
        new InvokeCommand({
          FunctionName: functionName,
          Payload: new TextEncoder().encode(JSON.stringify(event)),
        }),
      );
      const payload = response.Payload ? new TextDecoder().decode(response.Payload) : '';
      if (response.FunctionError) throw new Error(`the function threw: ${payload}`);
      return JSON.parse(payload) as Result;
    },

    listen: (topicArn) => listen(c, topicArn, stackName),
  };
}

/** A queue subscribed to the notification topic: what an on-call phone would receive. */
async function listen(c: SmokeClients, topicArn: string, stackName: string): Promise<Listener> {
  const queueUrl = (
    await c.sqs.send(new CreateQueueCommand({ QueueName: `${stackName}-smoke-${Date.now()}`.slice(0, 80) }))
  ).QueueUrl as string;
  const queueArn = (
    await c.sqs.send(new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['QueueArn'] }))
  ).Attributes?.QueueArn as string;
  // SNS developer guide, "Subscribing an Amazon SQS queue to an Amazon SNS topic": the queue's policy
  // must let sns.amazonaws.com send to it, for this topic only.
  await c.sqs.send(
    new SetQueueAttributesCommand({
      QueueUrl: queueUrl,
      Attributes: {
        Policy: JSON.stringify({
          Version: '2012-10-17',
          Statement: [
            {
              Effect: 'Allow',
              Principal: { Service: 'sns.amazonaws.com' },
              Action: 'sqs:SendMessage',
              Resource: queueArn,
              Condition: { ArnEquals: { 'aws:SourceArn': topicArn } },
            },
          ],
        }),
      },
    }),
  );
  // "When the queue owner creates a subscription, the subscription doesn't require confirmation"
  // (SNS developer guide, sending SNS messages to an SQS queue in a different account).
  const subscriptionArn = (
    await c.sns.send(
      new SubscribeCommand({
        TopicArn: topicArn,
        Protocol: 'sqs',
        Endpoint: queueArn,
        ReturnSubscriptionArn: true,
      }),
    )
  ).SubscriptionArn;
  return {
    receive: async (waitSeconds) => {
      const messages =
        (
          await c.sqs.send(
            new ReceiveMessageCommand({
              QueueUrl: queueUrl,
              MaxNumberOfMessages: 10,
              WaitTimeSeconds: waitSeconds,
            }),
          )
        ).Messages ?? [];
      if (messages.length > 0) {
        await c.sqs.send(
          new DeleteMessageBatchCommand({
            QueueUrl: queueUrl,
            Entries: messages.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle })),
          }),
        );
      }
      return messages.map((m) => notification(m.Body));
    },
    close: async () => {
      if (subscriptionArn) await c.sns.send(new UnsubscribeCommand({ SubscriptionArn: subscriptionArn }));
      await c.sqs.send(new DeleteQueueCommand({ QueueUrl: queueUrl }));
    },
  };
}

/** An SNS envelope (not raw delivery) -> its subject and, when it is one, the function's result. */
export function notification(body: string | undefined): Notification {
  try {
    const envelope = JSON.parse(body ?? '{}') as { Subject?: string; Message?: string };
    const message = JSON.parse(envelope.Message ?? 'null') as Partial<Result> | null;
    const result =
      message && typeof message.outcome === 'string' && Array.isArray(message.steps)
        ? (message as Result)
        : undefined;
    return { subject: envelope.Subject ?? '(no subject)', result };
  } catch {
    return { subject: '(not JSON)', result: undefined };
  }
}

/** Runs the project's CDK CLI on the demo app; rejects with the tail of its output when it fails. */
export function cdkPort(
  options: Pick<SmokeOptions, 'profile' | 'region' | 'stackName'>,
  log: (line: string) => void,
): CdkPort {
  const run = (args: string[]) =>
    new Promise<void>((resolve, reject) => {
      const outDir = mkdtempSync(join(tmpdir(), 'eni-failover-smoke-'));
      const child = spawn(
        CDK,
        [
          ...args,
          '-c',
          'demo=true',
          '-c',
          `stackName=${options.stackName}`,
          ...(options.profile ? ['--profile', options.profile] : []),
          // A cloud assembly of its own, so a smoke test leaves the project's cdk.out alone.
          '--output',
          outDir,
          '--no-notices',
        ],
        {
          cwd: ROOT,
          env: {
            ...process.env,
            // As cdk.json: no notices, no telemetry, no upgrade advice.
            CDK_DISABLE_CLI_TELEMETRY: '1',
            CDK_DISABLE_VERSION_CHECK: '1',
            ...(options.region ? { AWS_REGION: options.region, AWS_DEFAULT_REGION: options.region } : {}),
          },
        },
      );
      const tail: string[] = [];
      const take = (chunk: Buffer) => {
        for (const line of chunk.toString().split('\n')) {
          if (!line.trim()) continue;
          log(`  cdk | ${line}`);
          tail.push(line);
          if (tail.length > 5) tail.shift();
        }
      };
      child.stdout.on('data', take);
      child.stderr.on('data', take);
      child.on('error', reject);
      child.on('close', (code) => {
        rmSync(outDir, { recursive: true, force: true });
        if (code === 0) resolve();
        else reject(new Error(`cdk ${args[0]} exited with ${code}: ${tail.join(' / ')}`));
      });
    });
  return {
    // --method=direct: CreateStack/UpdateStack without a change set (CDK CLI reference, cdk deploy),
    // the same command in an account and against moto, whose change-set path leaves no stack outputs.
    deploy: () => run(['deploy', '--require-approval', 'never', '--method=direct']),
    destroy: () => run(['destroy', '--force']),
  };
}

/** Asks on the terminal; without one there is no one to ask, so the answer is no. */
export async function terminalConfirm(question: string): Promise<boolean> {
  if (!process.stdin.isTTY) {
    console.error('No terminal to confirm on: pass --yes to deploy without asking.');
    return false;
  }
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    return /^y(es)?$/i.test((await rl.question(`${question} [y/N] `)).trim());
  } finally {
    rl.close();
  }
}

/** The real ports, for bin/smoke.ts. */
export function realSmokeDeps(options: SmokeOptions): SmokeDeps {
  const err = (line: string) => console.error(line);
  return {
    cdk: cdkPort(options, err),
    aws: awsPort(smokeClients(options), options.stackName),
    confirm: terminalConfirm,
    out: (line) => console.log(line),
    err,
    now: () => Date.now(),
    sleep: (ms) => sleep(ms),
  };
}
