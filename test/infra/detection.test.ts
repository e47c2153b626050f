import { App, Duration, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import type { ApplicationCheck, Pair } from '../../lambda/config';
import type { StackConfig } from '../../lib/config-file';
import { EniFailover } from '../../lib/eni-failover';
import { slotOf } from '../../lib/grouping';
import { EniFailoverStack } from '../../lib/stack';
import { newApp, pairs } from '../helpers/synth';

/** The configured stack's template, without bundling the functions (these tests read the template only). */
const templateOf = (config: StackConfig) =>
  Template.fromStack(
    new EniFailoverStack(newApp({ context: { 'aws:cdk:bundling-stacks': [] } }), 'EniFailover', {
      env: { account: '123456789012', region: 'eu-west-1' },
      config,
    }),
  );
type Resources = Record<string, { Type: string; Properties: Record<string, unknown> }>;
const resourcesOf = (template: Template) => template.toJSON().Resources as Resources;
const ofType = (template: Template, type: string) =>
  Object.entries(resourcesOf(template)).filter(([, r]) => r.Type === type);
const failoverFunctions = (template: Template) =>
  ofType(template, 'AWS::Lambda::Function')
    .filter(([, f]) => JSON.stringify(f.Properties.Environment).includes('FAILOVER_PAIRS'))
    .map(([id]) => id);
const schedules = (template: Template) =>
  ofType(template, 'AWS::Events::Rule').filter(([, r]) => r.Properties.ScheduleExpression !== undefined);

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
    // The state-change rules stay: one per slot the two pairs fill.
    expect(ofType(off, 'AWS::Events::Rule')).toHaveLength(new Set(pairs(2).map(slotOf)).size);
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

describe('EC2 application status checks', () => {
  const settings: ApplicationCheck = {
    protocol: 'https',
    port: 8443,
    path: '/healthz',
    timeout: 5,
    failureThreshold: 3,
    successThreshold: 2,
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
      DeviceIndex: 0,
    });
  });

  it('associated with both members by the custom resource, whose role can only (dis)associate', () => {
    const [checkId] = ofType(template, 'AWS::EC2::ApplicationStatusCheck')[0] ?? [];
    const associations = ofType(template, 'Custom::ApplicationStatusCheckInstanceAssociation');
    expect(associations.map(([, a]) => a.Properties.InstanceId).sort()).toEqual([...members].sort());
    for (const [, a] of associations) {
      expect(a.Properties.ApplicationStatusCheckId).toEqual({
        'Fn::GetAtt': [checkId, 'ApplicationStatusCheckId'],
      });
      expect(a.Properties.ServiceToken).toEqual({
        'Fn::GetAtt': [expect.stringMatching(/^EniFailoverApplicationCheckAssociationsFunction/), 'Arn'],
      });
    }
    const statements = ofType(template, 'AWS::IAM::Policy')
      .filter(([id]) => id.startsWith('EniFailoverApplicationCheckAssociationsRole'))
      .flatMap(
        ([, p]) => (p.Properties.PolicyDocument as { Statement: { Action: string | string[] }[] }).Statement,
      );
    const ec2Actions = statements.flatMap((s) => [s.Action].flat()).filter((a) => a.startsWith('ec2:'));
    expect(ec2Actions.sort()).toEqual([
      'ec2:AssociateApplicationStatusCheck',
      'ec2:DescribeApplicationStatusCheckAssociations',
      'ec2:DisassociateApplicationStatusCheck',
    ]);
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

  it('no check, no association function: a configuration without applicationCheck gets none of it', () => {
    const none = templateOf({ pairs: pairs(2) });
    expect(ofType(none, 'AWS::EC2::ApplicationStatusCheck')).toEqual([]);
    expect(ofType(none, 'Custom::ApplicationStatusCheckInstanceAssociation')).toEqual([]);
    expect(ofType(none, 'AWS::Lambda::Function')).toHaveLength(1);
  });

  it("more checks than EC2's 50 per account are refused, naming the quota", () => {
    const many = pairs(51).map((p) => ({ ...p, applicationCheck: { protocol: 'http' as const, port: 80 } }));
    expect(() => new EniFailover(new Stack(new App(), 'S'), 'F', { pairs: many })).toThrow(
      /51 pairs set applicationCheck, over EC2's quota of 50 application status checks per account/,
    );
  });

  it('the stack limit counts them: 3 checks push a 210-pair stack over 500 resources, and it says so', () => {
    const config = (checks: number) => ({
      pairs: pairs(210).map((p, i) =>
        i % 10 === 0 && i / 10 < checks
          ? { ...p, applicationCheck: { protocol: 'http' as const, port: 80 } }
          : p,
      ),
    });
    // 210 x 2 alarms + 64 (lib/stack.ts): 484; each check 5 more, and the association function 4.
    expect(Object.keys(resourcesOf(templateOf(config(0)))).length).toBe(484);
    expect(Object.keys(resourcesOf(templateOf(config(2)))).length).toBe(484 + 2 * 5 + 4);
    expect(() => templateOf(config(3))).toThrow(
      /210 pairs in 1 function make 503 CloudFormation resources, over CloudFormation's limit of 500 per stack \(each pair takes 2 alarms, and 5 more with an applicationCheck/,
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
