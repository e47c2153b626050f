import { describe, expect, it } from 'vitest';
import { parseEvent } from '../../lambda/events.ts';
import { alarmMessage, SAMPLE_INSTANCE, sample, snsAlarm } from '../helpers/events.ts';

const one = (event: unknown) => {
  const parsed = parseEvent(event);
  expect(parsed.triggers).toHaveLength(1);
  return parsed.triggers[0];
};

describe('events: the four accepted shapes', () => {
  it('SNS alarm: instance from the lower-case dimensions, region from the ARN (not "EU (Ireland)")', () => {
    const parsed = parseEvent(sample('sns-alarm'));
    expect(parsed.batch).toBe(true);
    expect(parsed.triggers).toEqual([
      {
        kind: 'alarm',
        instanceId: SAMPLE_INSTANCE,
        alarmName: 'web-primary-status-check',
        region: 'eu-west-1',
      },
    ]);
  });

  it('SNS alarm with upper-case dimensions', () => {
    const message = alarmMessage({
      Trigger: { Dimensions: [{ Name: 'InstanceId', Value: SAMPLE_INSTANCE }] },
    });
    expect(parseEvent(snsAlarm([message])).triggers[0]).toMatchObject({
      kind: 'alarm',
      instanceId: SAMPLE_INSTANCE,
    });
  });

  it('SNS alarm on a metric-math alarm names the instance through Trigger.Metrics', () => {
    const message = alarmMessage({
      Trigger: {
        Metrics: [
          {
            Id: 'm1',
            MetricStat: { Metric: { Dimensions: [{ name: 'InstanceId', value: SAMPLE_INSTANCE }] } },
          },
        ],
      },
    });
    expect(parseEvent(snsAlarm([message])).triggers[0]).toMatchObject({
      kind: 'alarm',
      instanceId: SAMPLE_INSTANCE,
    });
  });

  it('SNS event with several records gives one trigger per record', () => {
    const parsed = parseEvent(snsAlarm([alarmMessage(), alarmMessage({ NewStateValue: 'OK' })]));
    expect(parsed.triggers.map((t) => t.kind)).toEqual(['alarm', 'ignored']);
  });

  it('alarm as a direct Lambda action', () => {
    expect(one(sample('alarm-lambda-action'))).toEqual({
      kind: 'alarm',
      instanceId: SAMPLE_INSTANCE,
      alarmName: 'web-primary-status-check',
      region: 'eu-west-1',
    });
  });

  it('EC2 state change to a failed state', () => {
    for (const state of ['stopping', 'stopped', 'shutting-down', 'terminated']) {
      const event = {
        ...sample('eventbridge-state-change'),
        detail: { 'instance-id': SAMPLE_INSTANCE, state },
      };
      expect(one(event)).toEqual({
        kind: 'state-change',
        instanceId: SAMPLE_INSTANCE,
        state,
        region: 'eu-west-1',
      });
    }
  });

  it('manual maintenance: the sample, its end (0 minutes), and who/why', () => {
    expect(one(sample('manual-maintenance'))).toEqual({
      kind: 'maintenance',
      pair: 'web',
      minutes: 30,
      reason: undefined,
    });
    expect(one({ action: 'maintenance', pair: 'web', minutes: 0 })).toMatchObject({ minutes: 0 });
    expect(one({ action: 'maintenance', pair: 'web', minutes: 60, reason: 'kernel patch, by ana' })).toEqual({
      kind: 'maintenance',
      pair: 'web',
      minutes: 60,
      reason: 'kernel patch, by ana',
    });
  });

  it.each<[string, unknown, RegExp]>([
    ['minutes missing', { action: 'maintenance', pair: 'web' }, /minutes: .*whole number of minutes/],
    ['minutes as text', { action: 'maintenance', pair: 'web', minutes: '30m' }, /minutes: .*whole number/],
    ['a fraction', { action: 'maintenance', pair: 'web', minutes: 1.5 }, /minutes: .*whole number/],
    [
      'negative',
      { action: 'maintenance', pair: 'web', minutes: -5 },
      /minutes: must be 0 \(ends maintenance\) or more/,
    ],
    [
      'over a week',
      { action: 'maintenance', pair: 'web', minutes: 10081 },
      /minutes: must be at most 10080 \(a week\)/,
    ],
    ['no pair', { action: 'maintenance', minutes: 30 }, /pair: /],
    ['a typo', { action: 'maintenance', pair: 'web', minute: 30 }, /unknown field\(s\) minute/],
    ['an empty reason', { action: 'maintenance', pair: 'web', minutes: 30, reason: '' }, /reason: /],
  ])('manual maintenance, %s: ignored, naming the problem', (_name, event, reason) => {
    const t = one(event);
    expect(t).toMatchObject({ kind: 'ignored' });
    expect(t?.kind === 'ignored' && t.reason).toMatch(/^not a valid manual invocation: /);
    expect(t?.kind === 'ignored' && t.reason).toMatch(reason);
  });

  it('Spot interruption warning (the documented shape): the instance, its action, and when it goes (two minutes on)', () => {
    expect(one(sample('eventbridge-spot-interruption'))).toEqual({
      kind: 'planned',
      warning: 'spot-interruption',
      instanceId: SAMPLE_INSTANCE,
      sentAt: '2026-11-22T10:15:00.000Z',
      action: 'terminate',
      endsAt: '2026-11-22T10:17:00.000Z',
      region: 'eu-west-1',
    });
    for (const action of ['stop', 'hibernate']) {
      const event = {
        ...sample('eventbridge-spot-interruption'),
        detail: { 'instance-id': SAMPLE_INSTANCE, 'instance-action': action },
      };
      expect(one(event)).toMatchObject({ kind: 'planned', action });
    }
  });

  it('rebalance recommendation (the documented shape): the instance, and no time, since EC2 gives none', () => {
    expect(one(sample('eventbridge-rebalance-recommendation'))).toEqual({
      kind: 'planned',
      warning: 'rebalance-recommendation',
      instanceId: SAMPLE_INSTANCE,
      sentAt: '2026-11-22T10:10:00.000Z',
      action: undefined,
      endsAt: undefined,
      region: 'eu-west-1',
    });
  });

  it('manual status, move and dry run', () => {
    expect(one(sample('manual-status'))).toEqual({ kind: 'status', pair: 'web' });
    expect(one(sample('manual-drill'))).toEqual({ kind: 'move', pair: 'web', to: 'standby', dryRun: true });
    expect(one({ action: 'move', pair: 'web' })).toEqual({
      kind: 'move',
      pair: 'web',
      to: undefined,
      dryRun: false,
    });
  });
});

describe('events: what cannot move anything is ignored with a reason', () => {
  it.each<[string, unknown, RegExp]>([
    [
      'OK alarm',
      sample('sns-alarm-ok'),
      /alarm web-primary-status-check is OK: only ALARM can move anything/,
    ],
    [
      'INSUFFICIENT_DATA alarm',
      snsAlarm([alarmMessage({ NewStateValue: 'INSUFFICIENT_DATA' })]),
      /is INSUFFICIENT_DATA/,
    ],
    [
      'alarm action in OK',
      {
        ...sample('alarm-lambda-action'),
        alarmData: { ...(sample('alarm-lambda-action').alarmData as object), state: { value: 'OK' } },
      },
      /is OK/,
    ],
    [
      'EC2 instance now running',
      { ...sample('eventbridge-state-change'), detail: { 'instance-id': SAMPLE_INSTANCE, state: 'running' } },
      /is running, which is not a failure/,
    ],
    [
      'EventBridge event of another kind',
      { ...sample('eventbridge-state-change'), 'detail-type': 'AWS API Call via CloudTrail' },
      /is not an EC2 state change/,
    ],
    [
      'Spot warning without an instance ID',
      { ...sample('eventbridge-spot-interruption'), detail: { 'instance-action': 'terminate' } },
      /EC2 Spot Instance Interruption Warning has a bad detail: instance-id/,
    ],
    [
      'Spot warning without its action',
      { ...sample('eventbridge-spot-interruption'), detail: { 'instance-id': SAMPLE_INSTANCE } },
      /instance-action is required/,
    ],
    [
      'Spot warning without a time',
      { ...sample('eventbridge-spot-interruption'), time: 'soon' },
      /no valid "time" \(got "soon"\)/,
    ],
    [
      'a Spot warning from another source',
      { ...sample('eventbridge-spot-interruption'), source: 'my.app' },
      /from my.app is not an EC2 state change, Spot interruption warning or rebalance recommendation/,
    ],
    [
      'state change without an instance ID',
      { ...sample('eventbridge-state-change'), detail: { state: 'stopped' } },
      /instance-id/,
    ],
    [
      'alarm without an InstanceId dimension',
      snsAlarm([alarmMessage({ Trigger: { Dimensions: [{ name: 'AutoScalingGroupName', value: 'x' }] } })]),
      /names 0 InstanceId dimensions/,
    ],
    [
      'alarm on two instances',
      snsAlarm([
        alarmMessage({
          Trigger: {
            Dimensions: [
              { name: 'InstanceId', value: 'i-0123456789abcdef0' },
              { name: 'InstanceId', value: 'i-0123456789abcdef1' },
            ],
          },
        }),
      ]),
      /names 2 InstanceId dimensions/,
    ],
    [
      'alarm with a bad ARN',
      snsAlarm([alarmMessage({ AlarmArn: 'arn:aws:sns:eu-west-1:123456789012:x' })]),
      /AlarmArn: must be a CloudWatch alarm ARN/,
    ],
    ['SNS message that is not JSON', snsAlarm([]), /non-empty array/],
    [
      'SNS message that is not an alarm',
      snsAlarm([{ hello: 'world' }]),
      /SNS message is not a CloudWatch alarm/,
    ],
    [
      'manual typo "dryrun" (never a real move)',
      { action: 'move', pair: 'web', dryrun: true },
      /unknown field\(s\) dryrun/,
    ],
    ['manual move to a third instance', { action: 'move', pair: 'web', to: 'i-0123456789abcdef0' }, /to: /],
    ['manual unknown action', { action: 'delete', pair: 'web' }, /not a valid manual invocation/],
    ['manual move without a pair', { action: 'move' }, /pair/],
    ['reconcile with an unknown field', { action: 'reconcile', pairs: ['web'] }, /unknown field\(s\) pairs/],
    ['dryRun as a string', { action: 'move', pair: 'web', dryRun: 'false' }, /dryRun/],
    ['an empty object', {}, /unrecognised event/],
    ['a string', 'failover now', /must be a JSON object, got string/],
    ['null', null, /must be a JSON object/],
    ['an array', [sample('manual-status')], /got an array/],
  ])('%s', (_name, event, reason) => {
    const trigger = one(event);
    expect(trigger?.kind).toBe('ignored');
    expect(trigger?.kind === 'ignored' && trigger.reason).toMatch(reason);
  });

  it('an SNS record whose Message is not JSON', () => {
    const event = snsAlarm([{}]) as { Records: { Sns: { Message: string } }[] };
    (event.Records[0] as { Sns: { Message: string } }).Sns.Message = 'ALARM!';
    expect(one(event)).toEqual({
      kind: 'ignored',
      reason: 'SNS message is not JSON, so not a CloudWatch alarm',
    });
  });
});
