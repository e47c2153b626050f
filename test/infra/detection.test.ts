import { App, Duration, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import type { ApplicationCheck, Pair } from '../../lambda/config.ts';
import type { StackConfig } from '../../lib/config-file.ts';
import { EniFailover } from '../../lib/eni-failover.ts';
import { slotOf } from '../../lib/grouping.ts';
import { EniFailoverStack } from '../../lib/stack.ts';
import { matches } from '../helpers/event-pattern.ts';
import { SAMPLE_INSTANCE, sample } from '../helpers/events.ts';
import { type CfnTemplate, functionPairs } from '../helpers/policy-engine.ts';
import { assemblyOf, newApp, pairs } from '../helpers/synth.ts';

/** The configured stack's template, without bundling the functions (these tests read the template only). */
const templateOf = (config: StackConfig) =>
  Template.fromStack(
    new EniFailoverStack(newApp({ context: { 'aws:cdk:bundling-stacks': [] } }), 'EniFailover', {
      env: { account: '123456789012', region: 'eu-west-1' },
      config,
    }),
  );
/** The pairs each failover function reads, as deployed: its pairs file in the cloud assembly, FAILOVER_VALUES resolved. */
const deployedPairs = (config: StackConfig): Pair[] => {
  const stack = new EniFailoverStack(newApp({ context: { 'aws:cdk:bundling-stacks': [] } }), 'EniFailover', {
    env: { account: '123456789012', region: 'eu-west-1' },
    config,
  });
  const template = Template.fromStack(stack).toJSON() as CfnTemplate;
  return functionPairs(template, assemblyOf(stack)).flatMap(([, read]) => [...read]);
};
type Resources = Record<string, { Type: string; Properties: Record<string, unknown> }>;
const resourcesOf = (template: Template) => template.toJSON().Resources as Resources;
const ofType = (template: Template, type: string) =>
  Object.entries(resourcesOf(template)).filter(([, r]) => r.Type === type);
const failoverFunctions = (template: Template) =>
  ofType(template, 'AWS::Lambda::Function')
    .filter(([, f]) => JSON.stringify(f.Properties.Environment ?? {}).includes('FAILOVER_PAIRS'))
    .map(([id]) => id);
const schedules = (template: Template) =>
  ofType(template, 'AWS::Events::Rule').filter(
    // Not the daily rehearsal's (test/infra/rehearsal.test.ts).
    ([, r]) => r.Properties.ScheduleExpression !== undefined && !JSON.stringify(r).includes('rehearse'),
  );

describe('the reconcile schedule', () => {
  it('every failover function gets {"action":"reconcile"} every minute, retried within the minute, failures to the dead-letter queue', () => {
    // 20 of them in a group of their own: two functions.
    const template = templateOf({ pairs: pairs(40).map((p, i) => (i < 20 ? p : { ...p, group: 'apart' })) });
    const functions = failoverFunctions(template);
    expect(functions).toHaveLength(2);
    const rules = schedules(template);
    const targeted = rules.map(([, r]) => {
      const [target] = r.Properties.Targets as [Record<string, unknown>];
      expect(r.Properties.ScheduleExpression).toBe('rate(1 minute)');
      expect(JSON.parse(String(target.Input))).toEqual({ action: 'reconcile' });
      expect(target.RetryPolicy).toEqual({ MaximumRetryAttempts: 2, MaximumEventAgeInSeconds: 60 });
      expect(target.DeadLetterConfig).toEqual({
        Arn: { 'Fn::GetAtt': [expect.stringMatching(/^EniFailoverDeadLetterQueue/), 'Arn'] },
      });
      return (target.Arn as { 'Fn::GetAtt': [string] })['Fn::GetAtt'][0];
    });
    expect(targeted.sort()).toEqual([...functions].sort());
    // EventBridge may invoke each function from its own schedule only.
    for (const [ruleId] of rules)
      template.hasResourceProperties('AWS::Lambda::Permission', {
        Principal: 'events.amazonaws.com',
        SourceArn: { 'Fn::GetAtt': [ruleId, 'Arn'] },
      });
  });

  it('the configuration file sets its period, or turns it off (the state-change rule stays)', () => {
    const [rule] = schedules(templateOf({ pairs: pairs(2), reconcileScheduleMinutes: 5 }));
    expect(rule?.[1].Properties.ScheduleExpression).toBe('rate(5 minutes)');
    expect(JSON.stringify(rule?.[1].Properties.Targets)).toContain('"MaximumEventAgeInSeconds":300');
    const off = templateOf({ pairs: pairs(2), reconcileScheduleMinutes: false });
    expect(schedules(off)).toEqual([]);
    // The state-change rules stay: one per slot the two pairs fill (and the daily rehearsal's).
    expect(ofType(off, 'AWS::Events::Rule')).toHaveLength(new Set(pairs(2).map(slotOf)).size + 1);
  });

  it('a period that is not whole minutes is refused by name', () => {
    expect(
      () =>
        new EniFailover(new Stack(new App(), 'S'), 'F', {
          pairs: pairs(1),
          reconcileSchedule: Duration.seconds(90),
        }),
    ).toThrow(/reconcileSchedule must be whole minutes, 1 minute or more .*got 1 minute 30 seconds/);
  });
});

describe('planned failures: Spot interruption warnings and rebalance recommendations reach the function', () => {
  const [rebalancing, plain] = pairs(2) as [Pair, Pair];
  const template = templateOf({ pairs: [{ ...rebalancing, moveOnRebalance: true }, plain] });
  const [fn] = failoverFunctions(template);
  const rules = ofType(template, 'AWS::Events::Rule').filter(([, r]) => r.Properties.EventPattern);
  /** The rules whose pattern matches the event, as EventBridge matches it. */
  const routed = (event: Record<string, unknown>) =>
    rules.filter(([, r]) => matches(r.Properties.EventPattern as Record<string, unknown>, event));
  const about = (name: string, instanceId: string, detail: Record<string, unknown> = {}) => {
    const event = sample(name, { [SAMPLE_INSTANCE]: instanceId });
    return { ...event, detail: { ...(event.detail as object), ...detail } };
  };
  const outsider = 'i-0999999999999999a';

  it('exactly the Spot warnings, rebalance recommendations (of pairs with moveOnRebalance) and failed states of members', () => {
    const cases: [string, Record<string, unknown>, number][] = [
      ['Spot warning, primary', about('eventbridge-spot-interruption', rebalancing.primaryInstanceId), 1],
      [
        'Spot warning, standby of a plain pair',
        about('eventbridge-spot-interruption', plain.standbyInstanceId),
        1,
      ],
      [
        'Spot warning (stop), plain pair',
        about('eventbridge-spot-interruption', plain.primaryInstanceId, { 'instance-action': 'stop' }),
        1,
      ],
      ['Spot warning, not a member', about('eventbridge-spot-interruption', outsider), 0],
      [
        'rebalance, pair with moveOnRebalance',
        about('eventbridge-rebalance-recommendation', rebalancing.standbyInstanceId),
        1,
      ],
      [
        'rebalance, pair without it',
        about('eventbridge-rebalance-recommendation', plain.primaryInstanceId),
        0,
      ],
      ['rebalance, not a member', about('eventbridge-rebalance-recommendation', outsider), 0],
      [
        'state change to stopping',
        about('eventbridge-state-change', plain.primaryInstanceId, { state: 'stopping' }),
        1,
      ],
      [
        'state change to running',
        about('eventbridge-state-change', plain.primaryInstanceId, { state: 'running' }),
        0,
      ],
      [
        'a Spot warning from another source',
        { ...about('eventbridge-spot-interruption', plain.primaryInstanceId), source: 'my.app' },
        0,
      ],
    ];
    expect(cases.map(([name, event]) => [name, routed(event).length])).toEqual(
      cases.map(([name, , n]) => [name, n]),
    );
  });

  it('each to the function, with retries and the dead-letter queue; EventBridge may invoke it from each rule', () => {
    const spot = routed(about('eventbridge-spot-interruption', plain.primaryInstanceId));
    const rebalance = routed(about('eventbridge-rebalance-recommendation', rebalancing.primaryInstanceId));
    for (const [ruleId, rule] of [...spot, ...rebalance]) {
      const [target] = rule.Properties.Targets as [Record<string, unknown>];
      expect(target.Arn).toEqual({ 'Fn::GetAtt': [fn, 'Arn'] });
      expect(target.RetryPolicy).toEqual({ MaximumRetryAttempts: 4, MaximumEventAgeInSeconds: 3600 });
      expect(target.DeadLetterConfig).toEqual({
        Arn: { 'Fn::GetAtt': [expect.stringMatching(/^EniFailoverDeadLetterQueue/), 'Arn'] },
      });
      template.hasResourceProperties('AWS::Lambda::Permission', {
        Principal: 'events.amazonaws.com',
        SourceArn: { 'Fn::GetAtt': [ruleId, 'Arn'] },
      });
    }
    // The Spot warnings share the state-change rule: no resource of their own (a stack holds at most 500).
    expect(spot[0]?.[0]).toMatch(/StateChangeRule/);
    expect(rebalance[0]?.[0]).toMatch(/RebalanceRule/);
  });

  it('no rebalance rule when no pair asks for it (the default)', () => {
    const none = templateOf({ pairs: [plain] });
    expect(ofType(none, 'AWS::Events::Rule').filter(([, r]) => r.Properties.EventPattern)).toHaveLength(1);
  });
});

describe('EC2 application status checks', () => {
  const settings: ApplicationCheck = {
    protocol: 'https',
    port: 8443,
    path: '/healthz',
    timeout: 5,
    failureThreshold: 3,
    successThreshold: 2,
    statusCodeMatcher: '200-299',
    initializationGracePeriodSeconds: 120,
    ipVersion: 'ipv6',
  };
  const [checked, plain] = pairs(2) as [Pair, Pair];
  const template = templateOf({ pairs: [{ ...checked, applicationCheck: settings }, plain] });
  const members = [checked.primaryInstanceId, checked.standbyInstanceId];

  it("one check per pair that asks for one, with the pair's settings, on each member's own interface", () => {
    const checks = ofType(template, 'AWS::EC2::ApplicationStatusCheck');
    expect(checks).toHaveLength(1);
    expect(checks[0]?.[1].Properties).toMatchObject({
      Protocol: 'https',
      Port: 8443,
      Path: '/healthz',
      Timeout: 5,
      FailureThreshold: 3,
      SuccessThreshold: 2,
      StatusCodeMatcher: '200-299',
      InitializationGracePeriodSeconds: 120,
      IpVersion: 'ipv6',
      DeviceIndex: 0,
      Aggregation: 'included',
    });
  });

  it('a bad setting is refused at synth, naming the pair, the field and the value', () => {
    const bad = (applicationCheck: Record<string, unknown>) => () =>
      new EniFailover(new Stack(new App(), 'S'), 'F', {
        pairs: [
          {
            ...checked,
            applicationCheck: { protocol: 'http', port: 80, ...applicationCheck } as ApplicationCheck,
          },
        ],
      });
    expect(bad({ statusCodeMatcher: '2xx' })).toThrow(
      /pairs\[0\]\.applicationCheck\.statusCodeMatcher must be HTTP status codes or ranges separated by commas, e\.g\. "200,204" or "200-299", got "2xx"/,
    );
    expect(bad({ statusCodeMatcher: '299-200' })).toThrow(
      /the range 299-200, whose first code is not below its second/,
    );
    expect(bad({ initializationGracePeriodSeconds: 900 })).toThrow(
      /applicationCheck\.initializationGracePeriodSeconds must be from 1 to 600, got 900/,
    );
    expect(bad({ ipVersion: 'ipv5' })).toThrow(
      /applicationCheck\.ipVersion must be "ipv4" or "ipv6", got "ipv5"/,
    );
  });

  it('associated with both members by one resource per check, with a service timeout; its role may (dis)associate only checks tagged with the service, associate only those members', () => {
    const [checkId] = ofType(template, 'AWS::EC2::ApplicationStatusCheck')[0] ?? [];
    const associations = ofType(template, 'Custom::ApplicationStatusCheckAssociations');
    expect(associations).toHaveLength(1);
    expect(associations[0]?.[1].Properties).toEqual({
      ServiceToken: {
        'Fn::GetAtt': [expect.stringMatching(/^EniFailoverApplicationCheckAssociationsFunction/), 'Arn'],
      },
      // Ten minutes, not CloudFormation's default hour: a stuck handler fails the deploy early.
      ServiceTimeout: '600',
      ApplicationStatusCheckId: { 'Fn::GetAtt': [checkId, 'ApplicationStatusCheckId'] },
      // Sorted, so that a swap of primary and standby is no change at all.
      InstanceIds: [...members].sort(),
    });
    const statements = ofType(template, 'AWS::IAM::Policy')
      .filter(([id]) => id.startsWith('EniFailoverApplicationCheckAssociationsRole'))
      .flatMap(
        ([, p]) =>
          (
            p.Properties.PolicyDocument as {
              Statement: { Sid?: string; Action: string | string[]; Resource: unknown }[];
            }
          ).Statement,
      );
    const ec2Actions = statements.flatMap((s) => [s.Action].flat()).filter((a) => a.startsWith('ec2:'));
    expect([...new Set(ec2Actions)].sort()).toEqual([
      'ec2:AssociateApplicationStatusCheck',
      'ec2:DescribeApplicationStatusCheckAssociations',
      'ec2:DisassociateApplicationStatusCheck',
    ]);
    const bySid = (sid: string) =>
      statements.find((s) => s.Sid === sid) as { Resource: unknown; Condition?: unknown } | undefined;
    // The checks by tag, which the check carries: the permission outlives the template that listed them.
    const checkTags = (
      (ofType(template, 'AWS::EC2::ApplicationStatusCheck')[0]?.[1].Properties.Tags ?? []) as {
        Key: string;
        Value: string;
      }[]
    ).filter((t) => t.Key === 'eni-failover:service');
    expect(checkTags).toHaveLength(1);
    expect(JSON.stringify(bySid('OnlyTheConstructsChecks')?.Resource)).toContain(
      ':application-status-check/*',
    );
    expect(bySid('OnlyTheConstructsChecks')?.Condition).toEqual({
      StringEquals: { 'aws:ResourceTag/eni-failover:service': checkTags[0]?.Value },
    });
    const associate = JSON.stringify(bySid('AssociateOnlyCurrentMembers')?.Resource);
    for (const i of members) expect(associate).toContain(`:instance/${i}`);
    expect(associate).not.toContain(plain.primaryInstanceId);
    expect(associate).not.toContain('*');
    expect(JSON.stringify(bySid('DisassociateFromAnyInstance')?.Resource)).toContain(':instance/*');
  });

  it("an alarm on each member's StatusCheckFailed_Application to the alarm topic, whose policy lets it publish", () => {
    const alarms = ofType(template, 'AWS::CloudWatch::Alarm').filter(
      ([, a]) => a.Properties.MetricName === 'StatusCheckFailed_Application',
    );
    expect(alarms.map(([, a]) => (a.Properties.Dimensions as { Value: string }[])[0]?.Value).sort()).toEqual(
      [...members].sort(),
    );
    const topicPolicy = JSON.stringify(
      ofType(template, 'AWS::SNS::TopicPolicy').filter(([, p]) => JSON.stringify(p).includes('AlarmTopic')),
    );
    for (const [id, a] of alarms) {
      expect(a.Properties).toMatchObject({
        Namespace: 'AWS/EC2',
        Statistic: 'Maximum',
        Period: 60,
        Threshold: 1,
        EvaluationPeriods: 1,
        AlarmActions: [{ Ref: expect.stringMatching(/^EniFailoverAlarmTopic/) }],
      });
      expect(topicPolicy).toContain(`"Fn::GetAtt":["${id}","Arn"]`);
    }
  });

  it("the function's pairs name the check it made by its ID (through FAILOVER_VALUES), so that the function judges that check alone", () => {
    const [checkId] = ofType(template, 'AWS::EC2::ApplicationStatusCheck')[0] ?? [];
    const fn = ofType(template, 'AWS::Lambda::Function').find(([, f]) =>
      String(JSON.stringify(f.Properties.Environment)).includes('FAILOVER_PAIRS_FILE'),
    )?.[1];
    if (!fn) throw new Error('no failover function in the template');
    // The ID is a token: it travels in FAILOVER_VALUES, which CloudFormation resolves.
    expect(JSON.stringify(fn.Properties.Environment)).toContain(
      JSON.stringify({ 'Fn::GetAtt': [checkId, 'ApplicationStatusCheckId'] }),
    );
    // Read as the function reads it (its loader, the pairs file, the values resolved as CloudFormation would).
    const deployed = deployedPairs({ pairs: [{ ...checked, applicationCheck: settings }, plain] });
    expect(deployed.find((p) => p.name === checked.name)?.applicationCheckId).toMatch(/^asc-[0-9a-f]{17}$/);
    // The pair without a check names none: its members' application status is not read.
    expect(deployed.find((p) => p.name === plain.name)).not.toHaveProperty('applicationCheckId');
  });

  it('a pair that names an existing check (applicationCheckId) gets no check and no association of its own', () => {
    const config = { pairs: [{ ...checked, applicationCheckId: 'asc-0aaaaaaaaaaaaaaa1' }, plain] };
    const named = templateOf(config);
    expect(ofType(named, 'AWS::EC2::ApplicationStatusCheck')).toEqual([]);
    expect(ofType(named, 'Custom::ApplicationStatusCheckInstanceAssociation')).toEqual([]);
    expect(deployedPairs(config).find((p) => p.name === checked.name)?.applicationCheckId).toBe(
      'asc-0aaaaaaaaaaaaaaa1',
    );
  });

  it('a pair that both makes a check and names one is refused by name', () => {
    const both = { ...checked, applicationCheck: settings, applicationCheckId: 'asc-0aaaaaaaaaaaaaaa1' };
    expect(() => new EniFailover(new Stack(new App(), 'S'), 'F', { pairs: [both] })).toThrow(
      /sets applicationCheck \(the stack makes a check\) and applicationCheckId \(asc-0aaaaaaaaaaaaaaa1, an existing check\): give one of them/,
    );
  });

  it('no check, no association function: a configuration without applicationCheck gets none of it', () => {
    const none = templateOf({ pairs: pairs(2) });
    expect(ofType(none, 'AWS::EC2::ApplicationStatusCheck')).toEqual([]);
    expect(ofType(none, 'Custom::ApplicationStatusCheckAssociations')).toEqual([]);
    expect(ofType(none, 'AWS::Lambda::Function').filter(([id]) => id.includes('ApplicationCheck'))).toEqual(
      [],
    );
  });

  it("more checks than EC2's 50 per account are refused, naming the quota", () => {
    const many = pairs(51).map((p) => ({ ...p, applicationCheck: { protocol: 'http' as const, port: 80 } }));
    expect(() => new EniFailover(new Stack(new App(), 'S'), 'F', { pairs: many })).toThrow(
      /51 pairs set applicationCheck, over EC2's quota of 50 application status checks per account/,
    );
  });

  it('the stack limit counts them: 3 checks push a 206-pair stack over 500 resources, and it says so', () => {
    const config = (checks: number) => ({
      pairs: pairs(206).map((p, i) =>
        i % 10 === 0 && i / 10 < checks
          ? { ...p, applicationCheck: { protocol: 'http' as const, port: 80 } }
          : p,
      ),
    });
    // 206 x 2 alarms + 74 (lib/stack.ts): 486; each check 4 more, and the first 5: the association function's 4
    // and the function role's ObserveApplicationStatus policy.
    expect(Object.keys(resourcesOf(templateOf(config(0)))).length).toBe(486);
    expect(Object.keys(resourcesOf(templateOf(config(2)))).length).toBe(486 + 2 * 4 + 5);
    expect(() => templateOf(config(3))).toThrow(
      /206 pairs in 1 function make 503 CloudFormation resources, over CloudFormation's limit of 500 per stack \(each pair takes 2 alarms, and 4 more with an applicationCheck/,
    );
  });
});

describe('the dashboard', () => {
  it("shows every pair by the construct's service name: holder, attached, redundant, moves and their durations, refusals, failures", () => {
    const template = templateOf({ pairs: pairs(3) });
    const dashboards = ofType(template, 'AWS::CloudWatch::Dashboard');
    expect(dashboards).toHaveLength(1);
    const body = JSON.stringify(dashboards[0]?.[1].Properties.DashboardBody);
    for (const p of pairs(3)) {
      expect(body).toContain(`${p.name}: who holds the ENI`);
      for (const metric of [
        'OnStandby',
        'Attached',
        'Redundant',
        'Moved',
        'FailoverDuration',
        'Refused',
        'Failed',
      ])
        expect(body).toContain(
          `\\"EniFailover\\",\\"${metric}\\",\\"Pair\\",\\"${p.name}\\",\\"service\\",\\"EniFailover-EniFailover\\"`,
        );
    }
    for (const metric of ['Unattached', 'NotRedundant', 'AutomaticRefusals', 'NotifyFailed'])
      expect(body).toContain(`\\"EniFailover\\",\\"${metric}\\",\\"service\\",\\"EniFailover-EniFailover\\"`);
  });
});
