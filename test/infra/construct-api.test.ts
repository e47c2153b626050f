// The construct as a CDK user calls it: bring-your-own topics and key, validation, metrics, grantInvoke.
import { type CfnElement, Duration, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as sns from 'aws-cdk-lib/aws-sns';
import { describe, expect, it } from 'vitest';
import type { Pair } from '../../lambda/config.ts';
import { EniFailover } from '../../lib/index.ts';
import { newApp, pairs } from '../helpers/synth.ts';

const env = { account: '123456789012', region: 'eu-west-1' };
const NOTIFY_ARN = 'arn:aws:sns:eu-west-1:123456789012:ops-alerts';
const ALARM_ARN = 'arn:aws:sns:eu-west-1:123456789012:ec2-alarms';
const KEY_ARN = 'arn:aws:kms:eu-west-1:123456789012:key/11111111-2222-3333-4444-555555555555';
const [a, b] = pairs(2) as [Pair, Pair];
const stack = (id = 'Shop') => new Stack(newApp(), id, { env });
const resources = (template: Template, type: string) => Object.values(template.findResources(type));

describe('topics and key the user brings', () => {
  const given = () => {
    const s = stack();
    const failover = new EniFailover(s, 'Web', {
      pairs: [a, { ...b, group: 'db' }],
      notificationTopic: sns.Topic.fromTopicAttributes(s, 'Ops', { topicArn: NOTIFY_ARN, keyArn: KEY_ARN }),
      alarmTopic: sns.Topic.fromTopicArn(s, 'Alarms', ALARM_ARN),
    });
    return { failover, template: Template.fromStack(s) };
  };

  it('with both topics given, the construct makes no topic and no key, and every function notifies the given one', () => {
    const { failover, template } = given();
    template.resourceCountIs('AWS::SNS::Topic', 0);
    template.resourceCountIs('AWS::KMS::Key', 0);
    expect(failover.key).toBeUndefined();
    expect(failover.functions).toHaveLength(2);
    const failoverFunctions = Object.values(
      template.findResources('AWS::Lambda::Function', {
        Properties: {
          Environment: { Variables: Match.objectLike({ FAILOVER_PAIRS_FILE: Match.anyValue() }) },
        },
      }),
    );
    const vars = failoverFunctions.map(
      (f) =>
        (f as { Properties: { Environment: { Variables: Record<string, unknown> } } }).Properties.Environment,
    );
    expect(vars.map((v) => v.Variables.NOTIFICATION_TOPIC_ARN)).toEqual([NOTIFY_ARN, NOTIFY_ARN]);
  });

  it('every instance alarm publishes to the given alarm topic, and both functions are subscribed to it', () => {
    const { template } = given();
    const statusAlarms = resources(template, 'AWS::CloudWatch::Alarm').filter(
      (r) => (r as { Properties: { MetricName?: string } }).Properties.MetricName === 'StatusCheckFailed',
    );
    expect(statusAlarms).toHaveLength(4);
    for (const alarm of statusAlarms)
      expect((alarm as { Properties: { AlarmActions: unknown } }).Properties.AlarmActions).toEqual([
        ALARM_ARN,
      ]);
    const subs = resources(template, 'AWS::SNS::Subscription').map(
      (r) => (r as { Properties: { TopicArn: unknown; Protocol: string } }).Properties,
    );
    expect(subs.filter((p) => p.Protocol === 'lambda').map((p) => p.TopicArn)).toEqual([
      ALARM_ARN,
      ALARM_ARN,
    ]);
    // The service's own alarms go to the given notification topic.
    const own = resources(template, 'AWS::CloudWatch::Alarm').filter(
      (r) => (r as { Properties: { MetricName?: string } }).Properties.MetricName === 'AutomaticRefusals',
    );
    expect((own[0] as { Properties: { AlarmActions: unknown } }).Properties.AlarmActions).toEqual([
      NOTIFY_ARN,
    ]);
  });

  it("the functions' roles may publish to the given topic and use its key, and nothing more of KMS", () => {
    const { template } = given();
    const statements = resources(template, 'AWS::IAM::Policy').flatMap(
      (p) =>
        (p as { Properties: { PolicyDocument: { Statement: { Action: unknown; Resource: unknown }[] } } })
          .Properties.PolicyDocument.Statement,
    );
    const publish = statements.filter((s) => JSON.stringify(s.Action).includes('sns:Publish'));
    expect(publish.map((s) => s.Resource)).toEqual([NOTIFY_ARN, NOTIFY_ARN]);
    const kmsStatements = statements.filter((s) => JSON.stringify(s.Action).includes('kms:'));
    expect(kmsStatements).toHaveLength(2);
    for (const s of kmsStatements) {
      expect(s.Resource).toBe(KEY_ARN);
      expect([s.Action].flat().sort()).toEqual(['kms:Decrypt', 'kms:GenerateDataKey*']);
    }
  });

  it("a key given encrypts the construct's topics, and CloudWatch alarms of the account may use it", () => {
    const s = stack();
    const key = new kms.Key(s, 'TeamKey', { enableKeyRotation: true });
    const failover = new EniFailover(s, 'Web', { pairs: [a], encryptionKey: key });
    const template = Template.fromStack(s);
    template.resourceCountIs('AWS::KMS::Key', 1);
    template.resourceCountIs('AWS::KMS::Alias', 0);
    expect(failover.key).toBe(key);
    const keyId = s.getLogicalId(key.node.defaultChild as kms.CfnKey);
    for (const topic of resources(template, 'AWS::SNS::Topic'))
      expect((topic as { Properties: { KmsMasterKeyId: unknown } }).Properties.KmsMasterKeyId).toEqual({
        'Fn::GetAtt': [keyId, 'Arn'],
      });
    template.hasResourceProperties('AWS::KMS::Key', {
      KeyPolicy: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Principal: { Service: 'cloudwatch.amazonaws.com' },
            Action: ['kms:Decrypt', 'kms:GenerateDataKey*'],
            Condition: Match.objectLike({ StringEquals: { 'aws:SourceAccount': '123456789012' } }),
          }),
        ]),
      },
    });
  });
});

describe('validation', () => {
  it('reports every problem at once, each with the value received, and builds nothing', () => {
    const s = stack();
    const make = () =>
      new EniFailover(s, 'Bad', {
        pairs: [a],
        alarmDatapoints: 0,
        retryAttempts: 5,
        timeout: Duration.seconds(10),
        reconcileSchedule: Duration.seconds(30),
        notificationTopic: sns.Topic.fromTopicArn(s, 'Ops', NOTIFY_ARN),
        notificationEmails: ['oncall@example.com'],
      });
    let message = '';
    try {
      make();
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message).toContain('alarmDatapoints must be a whole number from 1 to 60, got 0');
    expect(message).toContain('retryAttempts must be 0, 1 or 2, got 5');
    expect(message).toContain('timeout must be from 1 to 15 minutes, got 10 seconds');
    expect(message).toContain('reconcileSchedule must be whole minutes, 1 minute or more');
    expect(message).toContain('notificationEmails (oncall@example.com) subscribe to the construct');
    expect(s.node.findChild('Bad').node.children).toEqual([]);
  });
});

describe('metrics and grants for operators', () => {
  it("metric helpers name the construct's own service and the pair; an unknown pair is an error", () => {
    const s = stack();
    const web = new EniFailover(s, 'Web', { pairs: [a] });
    const db = new EniFailover(s, 'Db', { pairs: [b] });
    const moves = web.metricMoves(a.name);
    expect(moves.namespace).toBe('EniFailover');
    expect(moves.metricName).toBe('Moved');
    expect(moves.dimensions).toEqual({ service: 'Shop-Web', Pair: a.name });
    expect(moves.statistic).toBe('Sum');
    expect(web.metricRefusals(a.name).metricName).toBe('Refused');
    expect(web.metricFailures(a.name).metricName).toBe('Failed');
    expect(web.metricFailoverDuration(a.name).statistic).toBe('Maximum');
    expect(web.metricUnattached().dimensions).toEqual({ service: 'Shop-Web' });
    // Two constructs in one stack never read each other's figures.
    expect(db.metricAutomaticRefusals().dimensions).toEqual({ service: 'Shop-Db' });
    expect(() => web.metricMoves(b.name)).toThrow(
      new RegExp(`asked for pair "${b.name}", which is not a configured pair \\(${a.name}\\)`),
    );
  });

  it('grantInvoke lets an operator role invoke every failover function, and only those', () => {
    const s = stack();
    const failover = new EniFailover(s, 'Web', { pairs: [a, { ...b, group: 'db' }] });
    const operators = new iam.Role(s, 'Operators', { assumedBy: new iam.AccountRootPrincipal() });
    failover.grantInvoke(operators);
    const template = Template.fromStack(s);
    const roleId = s.getLogicalId(operators.node.defaultChild as iam.CfnRole);
    const policy = resources(template, 'AWS::IAM::Policy').find((p) =>
      JSON.stringify((p as { Properties: { Roles: unknown } }).Properties.Roles).includes(roleId),
    ) as { Properties: { PolicyDocument: { Statement: { Action: unknown; Resource: unknown }[] } } };
    const invoked = policy.Properties.PolicyDocument.Statement.filter(
      (st) => st.Action === 'lambda:InvokeFunction',
    ).flatMap((st) => [st.Resource].flat());
    const fnIds = failover.functions.map((f) => s.getLogicalId(f.node.defaultChild as CfnElement));
    // Each function's ARN, and its versions and aliases (ARN:*): both functions, nothing else.
    expect(fnIds).toHaveLength(2);
    for (const id of fnIds) expect(JSON.stringify(invoked)).toContain(id);
    for (const r of invoked)
      expect(
        fnIds.some((id) => JSON.stringify(r).includes(id)),
        JSON.stringify(r),
      ).toBe(true);
  });
});

describe('two constructs in one account', () => {
  it('the same construct ID in two stacks gets two service names, key aliases and metric dimensions', () => {
    const app = newApp();
    const one = new EniFailover(new Stack(app, 'ShopEu', { env }), 'Failover', { pairs: [a] });
    const two = new EniFailover(new Stack(app, 'ShopUs', { env }), 'Failover', { pairs: [b] });
    expect(one.serviceName).not.toBe(two.serviceName);
    expect(one.metricNotRedundant().dimensions).not.toEqual(two.metricNotRedundant().dimensions);
    const alias = (s: Stack) =>
      (
        Object.values(Template.fromStack(s).findResources('AWS::KMS::Alias'))[0] as {
          Properties: { AliasName: string };
        }
      ).Properties.AliasName;
    expect(alias(Stack.of(one))).toBe('alias/eni-failover/ShopEu-Failover');
    expect(alias(Stack.of(two))).toBe('alias/eni-failover/ShopUs-Failover');
  });
});
