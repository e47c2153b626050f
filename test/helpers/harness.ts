import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { SNSClient } from '@aws-sdk/client-sns';
import { type AwsClientStub, mockClient } from 'aws-sdk-client-mock';
import { Ec2Adapter } from '../../lambda/aws/ec2.ts';
import { publishResult } from '../../lambda/aws/sns.ts';
import type { Pair } from '../../lambda/config.ts';
import type { OsPort } from '../../lambda/execute.ts';
import { createFailover, FailoverError } from '../../lambda/failover.ts';
import type { Result } from '../../lambda/result.ts';
import type { Clock } from '../../lambda/retry.ts';
import type { StatePort } from '../../lambda/state.ts';
import { FakeClock, FakeEc2 } from '../../ops/fake-ec2.ts';
import { localState } from './state.ts';
import { PAIR, PRIMARY, STANDBY } from './world.ts';

export const TOPIC = 'arn:aws:sns:eu-west-1:123456789012:eni-failover-events';

export interface Harness {
  ec2: FakeEc2;
  /** The pair state every container shares: a table of its own on dynalite (test/helpers/state.ts). */
  state: StatePort;
  sns: AwsClientStub<SNSClient>;
  clock: FakeClock;
  invoke: (event: unknown, remainingMs?: number) => Promise<unknown>;
  /**
   * Another Lambda container of the same function: its own adapter and in-process queue, the same EC2 and
   * state table (or `through`, a view of that table that can pause this container between its calls).
   */
  container: (through?: StatePort) => (event: unknown, remainingMs?: number) => Promise<unknown>;
  /** Every published result, parsed back from its JSON body. */
  published: () => { subject: string; body: Record<string, unknown> }[];
}

/**
 * The real failover (adapter, planner, executor, SNS publisher) over a fake EC2 and a mocked SNS,
 * with a clock that makes waits free. The pair's ENI starts on a healthy primary.
 */
export function harness(
  options: {
    pairs?: Pair[];
    clock?: Clock;
    settle?: { detachMs: number; attachMs: number };
    logger?: Logger;
    metrics?: Metrics;
    os?: OsPort;
    state?: StatePort;
  } = {},
): Harness {
  const state = options.state ?? localState();
  const clock = new FakeClock();
  const ec2 = new FakeEc2(
    PAIR.networkInterfaceId,
    'eu-west-1a',
    'vpc-1',
    options.clock ?? clock,
    options.settle,
  );
  ec2.addInstance({ id: PRIMARY });
  ec2.addInstance({ id: STANDBY });
  ec2.place(PRIMARY);
  const snsClient = new SNSClient({
    region: 'eu-west-1',
    credentials: { accessKeyId: 'x', secretAccessKey: 'x' },
  });
  const sns = mockClient(snsClient);
  sns.resolves({ MessageId: 'm-1' });
  const container = (through: StatePort = state) => {
    const failover = createFailover({
      config: { pairs: options.pairs ?? [PAIR], topicArn: TOPIC },
      ec2: new Ec2Adapter(ec2.client),
      state: through,
      notify: (r, signal) => publishResult(snsClient, TOPIC, r, signal),
      logger: options.logger ?? new Logger({ logLevel: 'SILENT' }),
      metrics: options.metrics ?? new Metrics({ namespace: 'EniFailoverTest' }),
      region: 'eu-west-1',
      clock: options.clock ?? clock,
      os: options.os,
    });
    return (event: unknown, remainingMs = 60_000) =>
      failover(event, { getRemainingTimeInMillis: () => remainingMs });
  };
  return {
    ec2,
    state,
    sns,
    clock,
    invoke: container(),
    container,
    published: () =>
      sns.calls().map((c) => {
        const input = c.args[0].input as { Subject: string; Message: string };
        return { subject: input.Subject, body: JSON.parse(input.Message) };
      }),
  };
}

/** Pairs web-0 … web-(n-1), each with its own ENI on its own healthy primary. */
export function fleet(n: number): { h: Harness; pairs: Pair[] } {
  const pairs: Pair[] = Array.from({ length: n }, (_, i) =>
    i === 0
      ? { ...PAIR, name: 'web-0' }
      : {
          name: `web-${i}`,
          networkInterfaceId: `eni-0${String(i).padStart(16, 'd')}`,
          primaryInstanceId: `i-0${String(i).padStart(16, 'e')}`,
          standbyInstanceId: `i-0${String(i).padStart(16, 'f')}`,
          deviceIndex: 1,
        },
  );
  const h = harness({ pairs });
  for (const p of pairs.slice(1)) {
    h.ec2.addEni(p.networkInterfaceId);
    h.ec2.addInstance({ id: p.primaryInstanceId });
    h.ec2.addInstance({ id: p.standbyInstanceId });
    h.ec2.place(p.primaryInstanceId, 1, p.networkInterfaceId);
  }
  return { h, pairs };
}

/** Every result of an invocation; a failure part-way answers the results it published before throwing. */
export async function results(promise: Promise<unknown>): Promise<Result[]> {
  try {
    const r = await promise;
    return (Array.isArray(r) ? r : [r]) as Result[];
  } catch (error) {
    if (error instanceof FailoverError) return error.results;
    throw error;
  }
}

/** What Lambda returns for a one-pair event or, for a failure part-way, the result it published before throwing. */
export async function outcome(promise: Promise<unknown>): Promise<Result> {
  return (await results(promise))[0] as Result;
}
