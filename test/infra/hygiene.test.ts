// Production hygiene of the construct: the heartbeat of the reconcile rounds, what `cdk destroy` keeps, and the
// experiments' target tags over a pair's life (the handler against the in-memory EC2).
import { App, Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { beforeEach, describe, expect, it } from 'vitest';
import type { Pair } from '../../lambda/config.ts';
import { applyTags, type TagEvent, type TagProperties } from '../../lambda/custom/experiment-targets.ts';
import { EniFailover, type EniFailoverProps } from '../../lib/eni-failover.ts';
import { ec2Error, FakeClock, FakeEc2 } from '../../ops/fake-ec2.ts';
import { pairs } from '../helpers/synth.ts';

type Resources = Record<
  string,
  { Type: string; Properties: Record<string, unknown>; DeletionPolicy?: string; UpdateReplacePolicy?: string }
>;
const resourcesOf = (props: Partial<EniFailoverProps> & Pick<EniFailoverProps, 'pairs'>) => {
  const stack = new Stack(new App({ context: { 'aws:cdk:bundling-stacks': [] } }), 'S', {
    env: { account: '123456789012', region: 'eu-west-1' },
  });
  new EniFailover(stack, 'F', props);
  return Template.fromStack(stack).toJSON().Resources as Resources;
};
const ofType = (resources: Resources, type: string) =>
  Object.entries(resources).filter(([, r]) => r.Type === type);
const heartbeats = (resources: Resources) =>
  ofType(resources, 'AWS::CloudWatch::Alarm').filter(([id]) => /Heartbeat/.test(id));

describe('the heartbeat: an alarm when reconcile rounds stop reporting', { timeout: 120_000 }, () => {
  it("one alarm on the quietest function's round count, missing data breaching, to the notification topic (and back to OK)", () => {
    const [alarm] = heartbeats(resourcesOf({ pairs: pairs(2) }));
    expect(alarm).toBeDefined();
    const p = alarm?.[1].Properties as Record<string, unknown>;
    expect(p).toMatchObject({
      ComparisonOperator: 'LessThanThreshold',
      Threshold: 1,
      EvaluationPeriods: 2,
      DatapointsToAlarm: 2,
      TreatMissingData: 'breaching',
      AlarmActions: [{ Ref: expect.stringMatching(/^FNotificationTopic/) }],
      OKActions: [{ Ref: expect.stringMatching(/^FNotificationTopic/) }],
    });
    // The function's first pair's Attached sample count: a round publishes it for every pair it observed.
    expect(p.Metrics).toEqual([
      expect.objectContaining({ Expression: 'FILL(f0, 0)', ReturnData: true }),
      {
        Id: 'f0',
        ReturnData: false,
        MetricStat: {
          Metric: {
            Namespace: 'EniFailover',
            MetricName: 'Attached',
            Dimensions: [
              { Name: 'Pair', Value: 'svc0' },
              { Name: 'service', Value: 'S-F' },
            ],
          },
          Period: 300,
          Stat: 'SampleCount',
        },
      },
    ]);
  });

  it('with several functions, one silent function is enough: the minimum over them, each silence filled with 0', () => {
    const grouped = pairs(3).map((p, i) => ({ ...p, group: `g${i}` }));
    const [alarm] = heartbeats(resourcesOf({ pairs: grouped }));
    const metrics = alarm?.[1].Properties.Metrics as { Id: string; Expression?: string }[];
    expect(metrics.find((m) => m.Expression)?.Expression).toBe(
      'MIN([FILL(f0, 0), FILL(f1, 0), FILL(f2, 0)])',
    );
    expect(JSON.stringify(metrics)).toContain('"svc2"');
  });

  it('more than ten functions: one alarm per ten (a metric-math alarm holds ten metrics)', () => {
    const grouped = pairs(11).map((p, i) => ({ ...p, group: `g${i}` }));
    expect(heartbeats(resourcesOf({ pairs: grouped })).map(([id]) => id.replace(/[0-9A-F]{8}$/, ''))).toEqual(
      ['FHeartbeat', 'FHeartbeat2'],
    );
  });

  it('its period follows the schedule (at least 5 minutes); no schedule, or one past 12 hours, no heartbeat', () => {
    const hourly = heartbeats(resourcesOf({ pairs: pairs(1), reconcileSchedule: Duration.hours(1) }));
    expect(JSON.stringify(hourly[0]?.[1].Properties.Metrics)).toContain('"Period":3600');
    expect(heartbeats(resourcesOf({ pairs: pairs(1), reconcileSchedule: false }))).toEqual([]);
    expect(heartbeats(resourcesOf({ pairs: pairs(1), reconcileSchedule: Duration.hours(13) }))).toEqual([]);
  });
});

describe('removalPolicy: what `cdk destroy` keeps', { timeout: 120_000 }, () => {
  const kept = (resources: Resources) =>
    Object.fromEntries(
      [
        ...ofType(resources, 'AWS::KMS::Key'),
        ...ofType(resources, 'AWS::Logs::LogGroup'),
        ...ofType(resources, 'AWS::SQS::Queue'),
        ...ofType(resources, 'AWS::DynamoDB::Table'),
      ].map(([id, r]) => [id.replace(/[0-9A-F]{8}$/, ''), r.DeletionPolicy]),
    );
  const checked = pairs(1).map((p) => ({ ...p, applicationCheck: { protocol: 'http' as const, port: 80 } }));

  it('by default the key, every log group, the dead-letter queue and the pair-state table are retained', () => {
    expect(kept(resourcesOf({ pairs: checked }))).toEqual({
      FTopicKey: 'Retain',
      FDeadLetterQueue: 'Retain',
      FStateTable: 'Retain',
      FFailoverLogGroup: 'Retain',
      FApplicationCheckAssociationsLogGroup: 'Retain',
      FRehearsalLogGroup: 'Retain',
    });
  });

  it('DESTROY deletes them with the stack', () => {
    expect(
      Object.values(kept(resourcesOf({ pairs: checked, removalPolicy: RemovalPolicy.DESTROY }))),
    ).toEqual(['Delete', 'Delete', 'Delete', 'Delete', 'Delete', 'Delete']);
  });

  it('SNAPSHOT is refused by name: none of them takes one', () => {
    expect(() => resourcesOf({ pairs: pairs(1), removalPolicy: RemovalPolicy.SNAPSHOT })).toThrow(
      /removalPolicy must be RETAIN, DESTROY or RETAIN_ON_UPDATE_OR_DELETE .*got snapshot/,
    );
  });
});

describe("the experiments' target tags over a pair's life (handler against the in-memory EC2)", () => {
  const [p] = pairs(1) as [Pair];
  const other = 'i-0aaaaaaaaaaaaaaa9';
  const key = `eni-failover:${p.name}`;
  let fake: FakeEc2;
  beforeEach(() => {
    fake = new FakeEc2(p.networkInterfaceId, 'eu-west-1a', 'vpc-1', new FakeClock());
    for (const id of [p.primaryInstanceId, p.standbyInstanceId, other]) fake.addInstance({ id });
  });
  const event = (
    RequestType: TagEvent['RequestType'],
    props: TagProperties,
    extra: Partial<TagEvent> = {},
  ) => ({
    RequestType,
    LogicalResourceId: 'svc0ExperimentTargets',
    ResourceProperties: props,
    ...extra,
  });
  const tagged = () =>
    Object.fromEntries(
      [...fake.instanceTags]
        .filter(([id, t]) => fake.instances.has(id) && key in t)
        .map(([id, t]) => [id, t[key]] as const),
    );
  const both = { TagKey: key, TagValue: 'svc', InstanceIds: [p.primaryInstanceId, p.standbyInstanceId] };

  it('create tags both members; a member replaced is untagged in the update (no delete follows one in place)', async () => {
    expect(await applyTags(fake.client, event('Create', both))).toBe(`${key}=svc`);
    expect(tagged()).toEqual({ [p.primaryInstanceId]: 'svc', [p.standbyInstanceId]: 'svc' });
    const changed = { ...both, InstanceIds: [p.primaryInstanceId, other] };
    expect(
      await applyTags(
        fake.client,
        event('Update', changed, { PhysicalResourceId: `${key}=svc`, OldResourceProperties: both }),
      ),
    ).toBe(`${key}=svc`);
    expect(tagged()).toEqual({ [p.primaryInstanceId]: 'svc', [other]: 'svc' });
  });

  it("an update whose untag of a dropped member is refused fails, naming EC2's refusal (the member keeps the tag, so it stays a target)", async () => {
    await applyTags(fake.client, event('Create', both));
    const changed = { ...both, InstanceIds: [p.primaryInstanceId, other] };
    const update = event('Update', changed, {
      PhysicalResourceId: `${key}=svc`,
      OldResourceProperties: both,
    });
    fake.fail(
      'DeleteTags',
      ec2Error('UnauthorizedOperation', 'You are not authorized to perform this operation.'),
    );
    await expect(applyTags(fake.client, update)).rejects.toThrow(
      'You are not authorized to perform this operation.',
    );
    expect(tagged()).toEqual({ [p.primaryInstanceId]: 'svc', [p.standbyInstanceId]: 'svc', [other]: 'svc' });
    // Old properties that never tagged anything leave nothing to untag: the update succeeds.
    const unparsable = event('Update', changed, {
      PhysicalResourceId: `${key}=svc`,
      OldResourceProperties: { TagKey: key },
    });
    expect(await applyTags(fake.client, unparsable)).toBe(`${key}=svc`);
  });

  it("delete removes only its own value: another construct's tag on the same key stays", async () => {
    await applyTags(fake.client, event('Create', both));
    await applyTags(
      fake.client,
      event('Create', { ...both, TagValue: 'svc2', InstanceIds: [p.standbyInstanceId] }),
    );
    await applyTags(fake.client, event('Delete', both, { PhysicalResourceId: `${key}=svc` }));
    expect(tagged()).toEqual({ [p.standbyInstanceId]: 'svc2' });
  });

  it('delete of a terminated and forgotten instance succeeds; any other refusal fails the delete', async () => {
    await applyTags(fake.client, event('Create', both));
    fake.instances.delete(p.standbyInstanceId);
    await applyTags(fake.client, event('Delete', both, { PhysicalResourceId: `${key}=svc` }));
    expect(tagged()).toEqual({});
    fake.fail('DeleteTags', ec2Error('UnauthorizedOperation', 'not authorized'));
    await expect(applyTags(fake.client, event('Delete', both))).rejects.toThrow('not authorized');
  });
});
