import { StartInstancesCommand } from '@aws-sdk/client-ec2';
import { CreateTopicCommand, SNSClient, SubscribeCommand } from '@aws-sdk/client-sns';
import {
  CreateQueueCommand,
  GetQueueAttributesCommand,
  ReceiveMessageCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';
import type { Context } from 'aws-lambda';
import type { Pair } from '../lambda/config';
import type { Result } from '../lambda/result';
import { formatResult, type Names } from './format';
import { startMoto } from './moto';
import { buildWorld, type MotoWorld, useEndpoint } from './world';

type Handler = (event: unknown, context: Context) => Promise<Result | Result[]>;

/** The world the acts play in: moto's environment, and a second pair whose standby is in the wrong AZ. */
type Scene = MotoWorld & { api: Pair };

interface Act {
  title: string;
  prepare?: (w: Scene) => Promise<void>;
  event: (w: Scene) => unknown;
  /** What must be true afterwards, as a sentence and a check. */
  expect: {
    outcome: Result['outcome'];
    holder: (w: Scene) => string;
    eni?: (w: Scene) => string;
    says: string;
  };
}

/** An alarm on `instanceId`, shaped exactly as CloudWatch delivers it through SNS. */
function statusCheckAlarm(instanceId: string, alarmName: string) {
  const message = {
    AlarmName: alarmName,
    AlarmArn: `arn:aws:cloudwatch:eu-west-1:123456789012:alarm:${alarmName}`,
    NewStateValue: 'ALARM',
    OldStateValue: 'OK',
    Region: 'EU (Ireland)',
    Trigger: {
      MetricName: 'StatusCheckFailed',
      Namespace: 'AWS/EC2',
      Dimensions: [{ value: instanceId, name: 'InstanceId' }],
    },
  };
  return {
    Records: [
      {
        EventSource: 'aws:sns',
        EventVersion: '1.0',
        EventSubscriptionArn: 'arn:aws:sns:eu-west-1:123456789012:eni-failover-alarms:demo',
        Sns: {
          Type: 'Notification',
          MessageId: `demo-${Date.now()}`,
          Subject: `ALARM: "${alarmName}"`,
          Message: JSON.stringify(message),
        },
      },
    ],
  };
}

const ACTS: Act[] = [
  {
    title: 'The web primary fails: it stops, and its status-check alarm fires',
    prepare: (w) => w.stop(w.primary),
    event: (w) => statusCheckAlarm(w.primary, 'web-primary-status-check'),
    expect: { outcome: 'moved', holder: (w) => w.standby, says: 'the ENI moved to the standby' },
  },
  {
    title: 'The same alarm is delivered again (SNS delivers at least once)',
    event: (w) => statusCheckAlarm(w.primary, 'web-primary-status-check'),
    expect: { outcome: 'unchanged', holder: (w) => w.standby, says: 'nothing moved a second time' },
  },
  {
    title: 'A misconfigured pair: the api standby is in another Availability Zone',
    prepare: async (w) => w.stop(w.api.primaryInstanceId),
    event: (w) => statusCheckAlarm(w.api.primaryInstanceId, 'api-primary-status-check'),
    expect: {
      outcome: 'refused',
      holder: (w) => w.api.primaryInstanceId,
      eni: (w) => w.api.networkInterfaceId,
      says: 'refused before touching anything, with its reasons',
    },
  },
  {
    title: 'The web primary is repaired; fail back with a drill: a dry run, then the move',
    prepare: async (w) => {
      await w.ec2.send(new StartInstancesCommand({ InstanceIds: [w.primary] }));
    },
    event: () => ({ action: 'move', pair: 'web', to: 'primary', dryRun: true }),
    expect: { outcome: 'dry-run', holder: (w) => w.standby, says: 'the dry run changed nothing' },
  },
  {
    title: '...and the fail-back itself, off a healthy standby (no Force)',
    event: () => ({ action: 'move', pair: 'web', to: 'primary' }),
    expect: { outcome: 'moved', holder: (w) => w.primary, says: 'the ENI is home on the primary' },
  },
];

/**
 * The local demo: moto plays EC2 and SNS; the real function (lambda/handler.ts, configured from its
 * environment as in Lambda) is invoked with real-shaped events. Returns the number of acts that did
 * not end as expected.
 */
export async function runDemo(log: (line: string) => void = console.log): Promise<number> {
  const moto = await startMoto();
  try {
    useEndpoint(moto.url);
    const world = await buildWorld();
    // A second service, "api", whose standby was put in the wrong AZ by mistake.
    const apiPrimary = await world.launch(world.subnetA);
    const apiEni = await world.createEni(world.subnetA, { instanceId: apiPrimary, deviceIndex: 1 });
    const api: Pair = {
      name: 'api',
      networkInterfaceId: apiEni,
      primaryInstanceId: apiPrimary,
      standbyInstanceId: world.decoy,
      deviceIndex: 1,
    };
    const w: Scene = { ...world, api };
    const names: Names = {
      [w.primary]: 'web primary',
      [w.standby]: 'web standby',
      [apiPrimary]: 'api primary',
      [w.decoy]: 'api standby, eu-west-1b',
    };

    // The notification topic, with a queue standing in for the on-call phone.
    const sns = new SNSClient({});
    const sqs = new SQSClient({});
    const topicArn = (await sns.send(new CreateTopicCommand({ Name: 'eni-failover-events' })))
      .TopicArn as string;
    const queueUrl = (await sqs.send(new CreateQueueCommand({ QueueName: 'on-call-phone' })))
      .QueueUrl as string;
    const { Attributes } = await sqs.send(
      new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['QueueArn'] }),
    );
    await sns.send(
      new SubscribeCommand({ TopicArn: topicArn, Protocol: 'sqs', Endpoint: Attributes?.QueueArn }),
    );

    process.env.FAILOVER_PAIRS = JSON.stringify([w.pair, api]);
    process.env.NOTIFICATION_TOPIC_ARN = topicArn;
    const { handler } = (await import('../lambda/handler')) as { handler: Handler };
    const context = {
      getRemainingTimeInMillis: () => 60_000,
      functionName: 'eni-failover-demo',
      awsRequestId: 'demo',
    } as Context;

    log(`moto is EC2 at ${moto.url}: VPC ${w.vpcId}, subnets in eu-west-1a and eu-west-1b`);
    log(`pair web: ${w.eni} on ${w.primary} (primary), standby ${w.standby}, both eu-west-1a`);
    log(`pair api: ${apiEni} on ${apiPrimary} (primary), standby ${w.decoy} in eu-west-1b (a mistake)\n`);

    let failures = 0;
    for (const [i, act] of ACTS.entries()) {
      log(`== ${i + 1}. ${act.title}`);
      await act.prepare?.(w);
      const answer = await handler(act.event(w), context);
      const result = (Array.isArray(answer) ? answer[0] : answer) as Result;
      log(formatResult(result, names));
      const messages =
        (await sqs.send(new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10 })))
          .Messages ?? [];
      for (const m of messages) log(`  phone: "${JSON.parse(m.Body ?? '{}').Subject}"`);
      const holder = (await w.where(act.expect.eni?.(w) ?? w.eni)).holder;
      const ok = result.outcome === act.expect.outcome && holder === act.expect.holder(w);
      if (!ok) failures += 1;
      log(
        ok
          ? `  OK: ${act.expect.says}\n`
          : `  NOT AS EXPECTED: wanted ${act.expect.outcome} with the ENI on ${act.expect.holder(w)}; got ${result.outcome} with it on ${holder}\n`,
      );
    }
    log(
      failures === 0
        ? `Every act ended as expected (${ACTS.length} of ${ACTS.length}).`
        : `${failures} of ${ACTS.length} acts did not end as expected.`,
    );
    return failures;
  } finally {
    await moto.stop();
  }
}
