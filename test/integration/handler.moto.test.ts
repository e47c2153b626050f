import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { CreateTopicCommand, SNSClient, SubscribeCommand } from '@aws-sdk/client-sns';
import {
  CreateQueueCommand,
  GetQueueAttributesCommand,
  ReceiveMessageCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';
import type { Context } from 'aws-lambda';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { createStateTable } from '../../ops/dynamo.ts';
import { buildWorld, type MotoWorld, useEndpoint } from '../../ops/world.ts';
import { SAMPLE_INSTANCE, sample } from '../helpers/events.ts';
import { MOTO_STATE_TABLE } from '../helpers/state.ts';
import { type Moto, runMotoTests, startMoto } from '../helpers/tools.ts';

const context = {
  getRemainingTimeInMillis: () => 60_000,
  functionName: 'eni-failover',
  awsRequestId: 'r-1',
} as Context;

/** Imports lambda/handler.ts afresh, as a new Lambda container would, with this environment (and the state table on moto). */
async function coldStart(env: Record<string, string>) {
  vi.resetModules();
  for (const [k, v] of Object.entries({ FAILOVER_STATE_TABLE: MOTO_STATE_TABLE, ...env })) vi.stubEnv(k, v);
  return (await import('../../lambda/handler.ts')).handler;
}

describe.runIf(runMotoTests)('lambda/handler.ts end to end against moto (EC2, SNS and DynamoDB)', () => {
  let moto: Moto;
  let w: MotoWorld;
  let topicArn: string;
  let queueUrl: string;

  beforeAll(async () => {
    moto = await startMoto();
    useEndpoint(moto.url);
  });
  afterEach(() => {
    vi.restoreAllMocks();
  });
  afterAll(async () => {
    vi.unstubAllEnvs();
    await moto?.stop();
  });
  beforeEach(async () => {
    await moto.reset();
    w = await buildWorld();
    await createStateTable(new DynamoDBClient({}), MOTO_STATE_TABLE);
    // The notification topic, with a queue subscribed so the test can read what operators would get.
    const sns = new SNSClient({});
    const sqs = new SQSClient({});
    topicArn = (await sns.send(new CreateTopicCommand({ Name: 'eni-failover-events' }))).TopicArn as string;
    queueUrl = (await sqs.send(new CreateQueueCommand({ QueueName: 'inbox' }))).QueueUrl as string;
    const { Attributes } = await sqs.send(
      new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['QueueArn'] }),
    );
    await sns.send(
      new SubscribeCommand({ TopicArn: topicArn, Protocol: 'sqs', Endpoint: Attributes?.QueueArn }),
    );
  });

  async function inbox(): Promise<{ Subject: string; Message: string }[]> {
    const r = await new SQSClient({}).send(
      new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10 }),
    );
    return (r.Messages ?? []).map((m) => JSON.parse(m.Body ?? '{}'));
  }

  it('configured from its environment, it fails over on an EC2 stop and publishes the outcome', async () => {
    const handler = await coldStart({
      FAILOVER_PAIRS: JSON.stringify([w.pair]),
      NOTIFICATION_TOPIC_ARN: topicArn,
    });
    await w.stop(w.primary);

    const result = await handler(
      sample('eventbridge-state-change', { [SAMPLE_INSTANCE]: w.primary }),
      context,
    );

    expect(result).toMatchObject({
      outcome: 'moved',
      pair: 'web',
      from: w.primary,
      to: w.standby,
      networkInterfaceId: w.eni,
    });
    expect((await w.where()).holder).toBe(w.standby);
    const [note] = await inbox();
    expect(note?.Subject).toMatch(
      new RegExp(`^eni-failover web: MOVED \\(FORCED\\) to ${w.standby} in \\d+\\.\\d s$`),
    );
    expect(JSON.parse(note?.Message ?? '{}')).toEqual(result);
  });

  it('a refusal is published with the failed checks named', async () => {
    const handler = await coldStart({
      FAILOVER_PAIRS: JSON.stringify([{ ...w.pair, standbyInstanceId: w.decoy }]),
      NOTIFICATION_TOPIC_ARN: topicArn,
    });
    await w.stop(w.primary);
    const result = await handler(sample('sns-alarm', { [SAMPLE_INSTANCE]: w.primary }), context);
    expect(result).toMatchObject([{ outcome: 'refused' }]);
    const [note] = await inbox();
    expect(note?.Subject).toBe('eni-failover web: REFUSED: target-az');
    expect((await w.where()).holder).toBe(w.primary);
  });

  it("its logs and metrics carry the stack's service name (POWERTOOLS_SERVICE_NAME), so two stacks' metrics do not mix", async () => {
    // Prepare: Powertools writes through the global console in dev mode, so it can be read here.
    const lines: Record<string, unknown>[] = [];
    for (const method of ['log', 'info', 'warn', 'error', 'debug'] as const) {
      vi.spyOn(console, method).mockImplementation((text: unknown) => {
        lines.push(JSON.parse(String(text)));
      });
    }
    const handler = await coldStart({
      FAILOVER_PAIRS: JSON.stringify([w.pair]),
      POWERTOOLS_SERVICE_NAME: 'shop-failover',
      POWERTOOLS_DEV: 'true',
      POWERTOOLS_LOG_LEVEL: 'DEBUG',
      POWERTOOLS_METRICS_DISABLED: 'false',
    });
    await w.stop(w.primary);

    // Act
    await handler(sample('eventbridge-state-change', { [SAMPLE_INSTANCE]: w.primary }), context);

    // Assess
    const moved = lines.find((l) => '_aws' in l && 'Moved' in l);
    expect(moved).toMatchObject({ service: 'shop-failover', Pair: 'web', Moved: 1 });
    const logs = lines.filter((l) => !('_aws' in l));
    expect(logs.length).toBeGreaterThan(0);
    for (const l of logs) expect(l).toMatchObject({ service: 'shop-failover' });
  });

  it('verifyOs in a function built without the OS check fails at init, saying which entry it needs', async () => {
    await expect(
      coldStart({ FAILOVER_PAIRS: JSON.stringify([{ ...w.pair, verifyOs: true }]) }),
    ).rejects.toThrow(
      /pair\(s\) web set verifyOs, which needs the function built from lambda\/handler-os-check\.ts/,
    );
    vi.resetModules();
    const withCheck = (await import('../../lambda/handler-os-check.ts')).handler;
    expect(withCheck).toBeTypeOf('function');
  });

  it('a bad configuration fails at init, naming every problem, before any event', async () => {
    const bad = [
      { ...w.pair, deviceIndex: 0 },
      { ...w.pair, name: 'web' },
    ];
    await expect(
      coldStart({ FAILOVER_PAIRS: JSON.stringify(bad), NOTIFICATION_TOPIC_ARN: 'nope' }),
    ).rejects.toThrow(
      /deviceIndex must be 1 or more[\s\S]*pair name "web" is used twice[\s\S]*NOTIFICATION_TOPIC_ARN must be an SNS topic ARN/,
    );
  });
});
