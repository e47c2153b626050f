import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { App, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import type { Pair } from '../../lambda/config';
import { loadStackConfig } from '../../lib/config-file';
import { EniFailover, groupPairs, PAIRS_ENV_BUDGET } from '../../lib/eni-failover';
import { EniFailoverStack, STACK_RESOURCE_LIMIT } from '../../lib/stack';
import { newApp, PAIRS_PER_GROUP, pairs, synthConfigured, synthDemo } from '../helpers/synth';

type Statement = {
  Action: string | string[];
  Resource: unknown;
  Principal?: unknown;
  Condition?: unknown;
  Sid?: string;
};

function statements(template: Template): Statement[] {
  return Object.values(template.findResources('AWS::IAM::Policy')).flatMap(
    (p) =>
      (p as { Properties: { PolicyDocument: { Statement: Statement[] } } }).Properties.PolicyDocument
        .Statement,
  );
}
const actionsOf = (s: Statement) => (Array.isArray(s.Action) ? s.Action : [s.Action]);

describe('EniFailover stack (configured, two pairs)', () => {
  const config = { pairs: pairs(2), notificationEmails: ['oncall@example.com'] };
  let template: Template;
  beforeAll(() => {
    template = synthConfigured(config).template;
  });

  it('two status-check alarms per pair, as fast as the 1-minute metric allows, to the alarm topic', () => {
    const alarms = template.findResources('AWS::CloudWatch::Alarm', {
      Properties: { MetricName: 'StatusCheckFailed' },
    });
    expect(Object.keys(alarms)).toHaveLength(4);
    const instances = Object.values(alarms).map(
      (a) => (a as { Properties: { Dimensions: { Value: string }[] } }).Properties.Dimensions[0]?.Value,
    );
    expect(instances.sort()).toEqual(
      config.pairs.flatMap((p) => [p.primaryInstanceId, p.standbyInstanceId]).sort(),
    );
    for (const alarm of Object.values(alarms)) {
      expect((alarm as { Properties: unknown }).Properties).toMatchObject({
        Namespace: 'AWS/EC2',
        Statistic: 'Maximum',
        Period: 60,
        Threshold: 1,
        ComparisonOperator: 'GreaterThanOrEqualToThreshold',
        EvaluationPeriods: 1,
        DatapointsToAlarm: 1,
        AlarmActions: [{ Ref: expect.stringMatching(/^EniFailoverAlarmTopic/) }],
      });
    }
  });

  it('no mutating EC2 action on `*`: attach/detach on the ENIs and instances, modify/tag on the ENIs only', () => {
    const all = statements(template);
    for (const s of all) {
      const mutating = actionsOf(s).some((a) => a.startsWith('ec2:') && !a.startsWith('ec2:Describe'));
      if (mutating) expect(s.Resource, JSON.stringify(s)).not.toEqual('*');
      if (s.Resource === '*') {
        expect(actionsOf(s).every((a) => a.startsWith('ec2:Describe') || a.startsWith('xray:'))).toBe(true);
      }
    }
    const move = all.find((s) => s.Sid === 'MoveTheConfiguredEnisBetweenTheirInstances');
    const text = JSON.stringify(move?.Resource);
    for (const p of config.pairs) {
      for (const id of [p.networkInterfaceId, p.primaryInstanceId, p.standbyInstanceId])
        expect(text).toContain(id);
    }
    expect(JSON.stringify(all.find((s) => s.Sid === 'KeepAndTagTheConfiguredEnis')?.Resource)).not.toContain(
      ':instance/',
    );
    expect(
      all.some(
        (s) =>
          actionsOf(s).includes('sns:Publish') && JSON.stringify(s.Resource).includes('NotificationTopic'),
      ),
    ).toBe(true);
  });

  it('the function has a role of its own with no managed policy', () => {
    template.hasResourceProperties('AWS::IAM::Role', {
      AssumeRolePolicyDocument: Match.objectLike({
        Statement: [Match.objectLike({ Principal: { Service: 'lambda.amazonaws.com' } })],
      }),
      ManagedPolicyArns: Match.absent(),
    });
  });

  it('the topics are encrypted with a key CloudWatch may use, and refuse plain HTTP', () => {
    template.hasResourceProperties('AWS::KMS::Key', {
      EnableKeyRotation: true,
      KeyPolicy: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Principal: { Service: 'cloudwatch.amazonaws.com' },
            Action: ['kms:Decrypt', 'kms:GenerateDataKey*'],
            Condition: { StringEquals: { 'aws:SourceAccount': '123456789012' } },
          }),
        ]),
      },
    });
    const topics = template.findResources('AWS::SNS::Topic');
    expect(Object.keys(topics)).toHaveLength(2);
    template.allResourcesProperties('AWS::SNS::Topic', {
      KmsMasterKeyId: Match.objectLike({ 'Fn::GetAtt': Match.anyValue() }),
    });
    const policies = template.findResources('AWS::SNS::TopicPolicy');
    expect(Object.keys(policies)).toHaveLength(2);
    for (const p of Object.values(policies)) {
      expect(JSON.stringify(p)).toContain('"aws:SecureTransport":"false"');
    }
  });

  it('the alarm topic delivers to the function, redriving to the dead-letter queue', () => {
    template.hasResourceProperties('AWS::SNS::Subscription', {
      Protocol: 'lambda',
      TopicArn: { Ref: Match.stringLikeRegexp('^EniFailoverAlarmTopic') },
      RedrivePolicy: {
        deadLetterTargetArn: { 'Fn::GetAtt': [Match.stringLikeRegexp('^EniFailoverDeadLetterQueue'), 'Arn'] },
      },
    });
    template.hasResourceProperties('AWS::SNS::Subscription', {
      Protocol: 'email',
      Endpoint: 'oncall@example.com',
    });
  });

  it('the function: arm64, latest Node.js, unreserved (pairs in parallel), traced, its own log group, its configuration', () => {
    template.hasResourceProperties('AWS::Lambda::Function', {
      Runtime: 'nodejs24.x',
      Architectures: ['arm64'],
      ReservedConcurrentExecutions: Match.absent(),
      Timeout: 300,
      TracingConfig: { Mode: 'Active' },
      LoggingConfig: { LogGroup: { Ref: Match.stringLikeRegexp('^EniFailoverLogGroup') } },
      Environment: {
        Variables: {
          FAILOVER_PAIRS: JSON.stringify(config.pairs),
          NOTIFICATION_TOPIC_ARN: { Ref: Match.stringLikeRegexp('^EniFailoverNotificationTopic') },
        },
      },
    });
    template.hasResourceProperties('AWS::Logs::LogGroup', { RetentionInDays: 90 });
    template.hasResourceProperties('AWS::Lambda::EventInvokeConfig', {
      MaximumRetryAttempts: 2,
      DestinationConfig: {
        OnFailure: {
          Destination: { 'Fn::GetAtt': [Match.stringLikeRegexp('^EniFailoverDeadLetterQueue'), 'Arn'] },
        },
      },
    });
  });

  it('one state-change (and Spot warning) rule for every configured instance, with retries and a dead-letter queue', () => {
    expect(
      Object.keys(
        template.findResources('AWS::Events::Rule', { Properties: { EventPattern: Match.anyValue() } }),
      ),
    ).toHaveLength(1);
    template.hasResourceProperties('AWS::Events::Rule', {
      EventPattern: {
        source: ['aws.ec2'],
        'detail-type': ['EC2 Instance State-change Notification', 'EC2 Spot Instance Interruption Warning'],
        detail: {
          'instance-id': config.pairs.flatMap((p) => [p.primaryInstanceId, p.standbyInstanceId]),
          $or: [
            { state: ['stopping', 'stopped', 'shutting-down', 'terminated'] },
            { 'instance-action': [{ exists: true }] },
          ],
        },
      },
      Targets: [
        Match.objectLike({
          RetryPolicy: { MaximumRetryAttempts: 4, MaximumEventAgeInSeconds: 3600 },
          DeadLetterConfig: {
            Arn: { 'Fn::GetAtt': [Match.stringLikeRegexp('^EniFailoverDeadLetterQueue'), 'Arn'] },
          },
        }),
      ],
    });
  });

  it('alarms on the service itself go to the notification topic: errors, dead letters, refusals, lost redundancy, stranded ENIs, lost notifications', () => {
    const toNotifications = {
      AlarmActions: [{ Ref: Match.stringLikeRegexp('^EniFailoverNotificationTopic') }],
    };
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      MetricName: 'Errors',
      Namespace: 'AWS/Lambda',
      ...toNotifications,
    });
    // New dead letters (messages sent), not the queue's depth: each new one fires the alarm again.
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      MetricName: 'NumberOfMessagesSent',
      Namespace: 'AWS/SQS',
      Statistic: 'Sum',
      Period: 300,
      Threshold: 1,
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
      EvaluationPeriods: 1,
      TreatMissingData: 'notBreaching',
      ...toNotifications,
    });
    for (const metric of ['AutomaticRefusals', 'NotifyFailed', 'NotRedundant', 'Unattached']) {
      template.hasResourceProperties('AWS::CloudWatch::Alarm', {
        MetricName: metric,
        Namespace: 'EniFailover',
        // The construct's own service name: the function reports under it (POWERTOOLS_SERVICE_NAME).
        Dimensions: [{ Name: 'service', Value: 'EniFailover-EniFailover' }],
        Statistic: 'Maximum',
        Period: 60,
        Threshold: 1,
        ComparisonOperator: 'GreaterThanOrEqualToThreshold',
        EvaluationPeriods: 1,
        TreatMissingData: 'notBreaching',
        ...toNotifications,
      });
    }
    template.allResourcesProperties('AWS::Lambda::Function', {
      Environment: {
        Variables: Match.objectLike({
          POWERTOOLS_SERVICE_NAME: 'EniFailover-EniFailover',
          POWERTOOLS_METRICS_NAMESPACE: 'EniFailover',
        }),
      },
    });
  });

  it('every resource that takes tags carries eni-failover = the service name; the key has an alias', () => {
    // CloudFormation has no Tags property for these types.
    const untaggable = new Set([
      'AWS::KMS::Alias',
      'AWS::SQS::QueuePolicy',
      'AWS::SNS::TopicPolicy',
      'AWS::SNS::Subscription',
      'AWS::IAM::Policy',
      'AWS::Lambda::EventInvokeConfig',
      'AWS::Lambda::Permission',
    ]);
    const resources = template.toJSON().Resources as Record<
      string,
      { Type: string; Properties: { Tags?: unknown } }
    >;
    for (const [id, r] of Object.entries(resources)) {
      if (untaggable.has(r.Type)) continue;
      expect(r.Properties.Tags, `${id} (${r.Type})`).toEqual(
        expect.arrayContaining([{ Key: 'eni-failover', Value: 'EniFailover-EniFailover' }]),
      );
    }
    template.hasResourceProperties('AWS::KMS::Alias', {
      AliasName: 'alias/eni-failover/EniFailover-EniFailover',
      TargetKeyId: { 'Fn::GetAtt': [Match.stringLikeRegexp('^EniFailoverTopicKey'), 'Arn'] },
    });
  });

  it('outputs the function, the topics, the dashboard and a ready-to-copy drill command', () => {
    for (const name of [
      'FunctionNames',
      'AlarmTopicArns',
      'NotificationTopicArn',
      'DeadLetterQueueUrl',
      'DashboardName',
    ])
      template.hasOutput(name, {});
    const drill = JSON.stringify(template.findOutputs('DrillCommand'));
    expect(drill).toContain('aws lambda invoke --function-name');
    expect(drill).toContain('{\\"action\\":\\"move\\",\\"pair\\":\\"svc0\\",\\"dryRun\\":true}');
  });
});

describe('fencing permissions', () => {
  it('ec2:StopInstances only on the instances of pairs that fence; none when no pair does', () => {
    const [a, b] = pairs(2) as [ReturnType<typeof pairs>[number], ReturnType<typeof pairs>[number]];
    const fenced = statements(synthConfigured({ pairs: [{ ...a, fence: true }, b] }).template).find((s) =>
      actionsOf(s).includes('ec2:StopInstances'),
    );
    const text = JSON.stringify(fenced?.Resource);
    expect(text).toContain(a.primaryInstanceId);
    expect(text).toContain(a.standbyInstanceId);
    expect(text).not.toContain(b.primaryInstanceId);
    const none = statements(synthConfigured({ pairs: [a, b] }).template).filter((s) =>
      actionsOf(s).includes('ec2:StopInstances'),
    );
    expect(none).toEqual([]);
  });
});

describe('the OS check and fault injection, when asked for', () => {
  const [a, b] = pairs(2) as [ReturnType<typeof pairs>[number], ReturnType<typeof pairs>[number]];

  it("verifyOs: ssm:SendCommand only with AWS-RunShellScript on the verifying pairs' instances; nothing otherwise", () => {
    const all = statements(synthConfigured({ pairs: [{ ...a, verifyOs: true }, b] }).template);
    const send = all.find((s) => actionsOf(s).includes('ssm:SendCommand'));
    const text = JSON.stringify(send?.Resource);
    expect(text).toContain(':document/AWS-RunShellScript');
    expect(text).toContain(a.standbyInstanceId);
    expect(text).not.toContain(b.standbyInstanceId);
    expect(all.find((s) => actionsOf(s).includes('ssm:GetCommandInvocation'))?.Resource).toBe('*');
    const none = statements(synthConfigured({ pairs: [a, b] }).template).filter((s) =>
      actionsOf(s).some((x) => x.startsWith('ssm:')),
    );
    expect(none).toEqual([]);
  });

  it('experiments: an FIS template that stops the member holding the ENI when it starts and restarts it after 5 minutes, with a role that can do only that', () => {
    const { template } = synthConfigured({ pairs: [a, b], experiments: [a.name] });
    template.resourceCountIs('AWS::FIS::ExperimentTemplate', 1);
    template.hasResourceProperties('AWS::FIS::ExperimentTemplate', {
      // A refused automatic failover stops the experiment (FIS then starts the instance again).
      StopConditions: [
        {
          Source: 'aws:cloudwatch:alarm',
          Value: { 'Fn::GetAtt': [Match.stringLikeRegexp('^EniFailoverAutomaticRefusals'), 'Arn'] },
        },
      ],
      // Whichever member holds the ENI and runs when the experiment starts: both carry the tag.
      Targets: {
        holder: {
          ResourceType: 'aws:ec2:instance',
          SelectionMode: 'ALL',
          ResourceTags: { [`eni-failover:${a.name}`]: 'EniFailover-EniFailover' },
          Filters: [
            { Path: 'NetworkInterfaces.NetworkInterfaceId', Values: [a.networkInterfaceId] },
            { Path: 'State.Name', Values: ['running'] },
          ],
        },
      },
      Actions: {
        stopHolder: {
          ActionId: 'aws:ec2:stop-instances',
          Parameters: { startInstancesAfterDuration: 'PT300S' },
          Targets: { Instances: 'holder' },
        },
      },
    });
    // The tag, on both members, by the construct's custom resource.
    template.hasResourceProperties('Custom::ExperimentTargetTags', {
      TagKey: `eni-failover:${a.name}`,
      TagValue: 'EniFailover-EniFailover',
      InstanceIds: [a.primaryInstanceId, a.standbyInstanceId].sort(),
      ServiceTimeout: '600',
    });
    const fisRole = Object.values(template.findResources('AWS::IAM::Role')).find((r) =>
      JSON.stringify(r).includes('fis.amazonaws.com'),
    ) as { Properties: { AssumeRolePolicyDocument: { Statement: { Condition?: unknown }[] } } };
    // Only FIS, only for this account's experiments (the confused deputy).
    expect(fisRole.Properties.AssumeRolePolicyDocument.Statement[0]?.Condition).toEqual({
      StringEquals: { 'aws:SourceAccount': '123456789012' },
      ArnLike: { 'aws:SourceArn': 'arn:aws:fis:eu-west-1:123456789012:experiment/*' },
    });
    const fisPolicy = statements(template).find((s) => actionsOf(s).includes('ec2:StartInstances'));
    expect(actionsOf(fisPolicy as Statement).sort()).toEqual(['ec2:StartInstances', 'ec2:StopInstances']);
    expect(JSON.stringify(fisPolicy?.Resource)).toContain(a.primaryInstanceId);
    expect(JSON.stringify(fisPolicy?.Resource)).toContain(a.standbyInstanceId);
    expect(JSON.stringify(fisPolicy?.Resource)).not.toContain(b.primaryInstanceId);
    const grant = statements(template).find((s) => actionsOf(s).includes('kms:CreateGrant'));
    expect(grant).toMatchObject({
      Resource: 'arn:aws:kms:eu-west-1:123456789012:key/*',
      Condition: {
        Bool: { 'kms:GrantIsForAWSResource': 'true' },
        StringEquals: { 'kms:ViaService': 'ec2.eu-west-1.amazonaws.com' },
      },
    });
    expect(JSON.stringify(template.findOutputs(`${a.name}ExperimentCommand`))).toContain(
      'aws fis start-experiment --experiment-template-id',
    );
    synthConfigured({ pairs: [a, b] }).template.resourceCountIs('AWS::FIS::ExperimentTemplate', 0);
  });

  it('only a function whose pairs verify the OS is built from the entry that bundles SSM', () => {
    const { template } = synthConfigured({ pairs: [{ ...a, verifyOs: true }, b] });
    const code = Object.values(template.findResources('AWS::Lambda::Function')).map((f) =>
      JSON.stringify((f as { Properties: { Code: unknown } }).Properties.Code),
    );
    const plain = JSON.stringify(
      (
        Object.values(
          synthConfigured({ pairs: [a, b] }).template.findResources('AWS::Lambda::Function'),
        )[0] as { Properties: { Code: unknown } }
      ).Properties.Code,
    );
    expect(code).toHaveLength(1);
    expect(code[0]).not.toEqual(plain);
  });

  it('an experiment for a pair that is not configured is an error', () => {
    expect(
      () => new EniFailover(new Stack(new App(), 'S'), 'F', { pairs: [a], experiments: ['nope'] }),
    ).toThrow(/experiments names "nope", which is not a configured pair/);
  });
});

describe('EniFailover props are validated at synth, every problem at once', () => {
  const make = (props: Partial<ConstructorParameters<typeof EniFailover>[2]>) => () =>
    new EniFailover(new Stack(new App(), 'S'), 'F', { pairs: pairs(1), ...props });

  it('names each bad prop with the value received', () => {
    const [p] = pairs(1);
    expect(
      make({
        pairs: [
          { ...(p as NonNullable<typeof p>), deviceIndex: 0 },
          { ...(p as NonNullable<typeof p>), networkInterfaceId: 'eni-bad' },
        ],
        alarmDatapoints: 0,
        retryAttempts: 5,
        notificationEmails: ['not-an-email'],
      }),
    ).toThrow(
      /pairs\[0\]\.deviceIndex must be 1 or more[\s\S]*pairs\[1\]\.networkInterfaceId must look like[\s\S]*pair name "svc0" is used twice[\s\S]*alarmDatapoints must be a whole number from 1 to 60, got 0[\s\S]*retryAttempts must be 0, 1 or 2, got 5[\s\S]*"not-an-email", not an email address/,
    );
  });

  it('reservedConcurrency is off by default and applied to every function when set', () => {
    const stack = new Stack(new App(), 'S');
    new EniFailover(stack, 'F', { pairs: pairs(1), reservedConcurrency: 5 });
    Template.fromStack(stack).hasResourceProperties('AWS::Lambda::Function', {
      ReservedConcurrentExecutions: 5,
    });
    expect(make({ reservedConcurrency: 0 })).toThrow(
      /reservedConcurrency must be a whole number of 1 or more, got 0/,
    );
  });

  it('accepts tokens for IDs (resources made in the same stack)', () => {
    const stack = new Stack(new App(), 'S');
    expect(
      () =>
        new EniFailover(stack, 'F', {
          pairs: [
            {
              name: 'demo',
              networkInterfaceId: stack.stackId,
              primaryInstanceId: stack.account,
              standbyInstanceId: stack.region,
              deviceIndex: 1,
            },
          ],
        }),
    ).not.toThrow();
  });
});

describe('pairs beyond one function are grouped by their `group`, and 100 fit one stack', () => {
  it('one function per group, the ungrouped pairs first, each in configuration order', () => {
    const all = pairs(100);
    const groups = groupPairs(all);
    expect(groups.map((g) => g.group)).toEqual(['g0', 'g1', 'g2', 'g3', 'g4']);
    expect(groups.flatMap((g) => g.pairs)).toEqual(all);
    const [a, b, c] = pairs(3) as [Pair, Pair, Pair];
    expect(
      groupPairs([{ ...a, group: 'x' }, b, c]).map((g) => [g.group, g.pairs.map((p) => p.name)]),
    ).toEqual([
      [undefined, ['svc1', 'svc2']],
      ['x', ['svc0']],
    ]);
  });

  it("a group whose FAILOVER_PAIRS would not fit Lambda's environment is refused, named, with what to do", () => {
    const tooMany = pairs(PAIRS_PER_GROUP + 5).map(({ group: _, ...p }) => p);
    expect(() => new EniFailover(new Stack(new App(), 'S'), 'F', { pairs: tooMany })).toThrow(
      /the pairs without a "group": 25 pairs make [\d,]+ bytes of FAILOVER_PAIRS, over the 3,500 .* give some of these pairs another "group"/,
    );
    const oneGroup = tooMany.map((p) => ({ ...p, group: 'big' }));
    expect(() => new EniFailover(new Stack(new App(), 'S'), 'F', { pairs: oneGroup })).toThrow(
      /group "big": 25 pairs/,
    );
  });

  it('a group name that is not 1-32 letters or digits is refused by name', () => {
    const [p] = pairs(1) as [Pair];
    expect(
      () => new EniFailover(new Stack(new App(), 'S'), 'F', { pairs: [{ ...p, group: 'web-1' }] }),
    ).toThrow(/pairs\[0\]\.group must be 1-32 letters or digits, got "web-1"/);
  });

  it("100 pairs: one function per group, every Lambda environment under 4 KB, within CloudFormation's limits", () => {
    const { template, stack } = synthConfigured({ pairs: pairs(100) });
    const functions = Object.values(template.findResources('AWS::Lambda::Function')) as {
      Properties: { Environment: { Variables: Record<string, unknown> } };
    }[];
    expect(functions).toHaveLength(100 / PAIRS_PER_GROUP);
    const configured = functions.flatMap((f) =>
      JSON.parse(String(f.Properties.Environment.Variables.FAILOVER_PAIRS)),
    );
    // The function is given its pairs without the group, a deployment choice it has no use for.
    expect(configured).toEqual(pairs(100).map(({ group: _, ...p }) => p));
    for (const f of functions) {
      // Tokens resolve to ARNs of about 60 characters; count them generously.
      const size = Object.entries(f.Properties.Environment.Variables)
        .map(([k, v]) => k.length + (typeof v === 'string' ? v.length : 80))
        .reduce((a, b) => a + b, 0);
      expect(size).toBeLessThan(4096);
      expect(JSON.stringify(f.Properties.Environment.Variables.FAILOVER_PAIRS).length).toBeLessThanOrEqual(
        PAIRS_ENV_BUDGET + 2_000,
      );
    }
    const resources = Object.keys(template.toJSON().Resources).length;
    expect(resources).toBeLessThanOrEqual(500);
    expect(JSON.stringify(template.toJSON()).length).toBeLessThanOrEqual(1_000_000);
    // Each function watches only its own pairs' instances, and its role can move only its own ENIs.
    // Two rules per function: the state-change (and Spot warning) rule and the reconcile schedule.
    template.resourceCountIs('AWS::Events::Rule', 2 * functions.length);
    // Two a pair, each function's Errors, the construct's 5 on itself and its heartbeat (one per ten functions).
    template.resourceCountIs('AWS::CloudWatch::Alarm', 200 + functions.length + 5 + 1);
    expect(stack.node.tryFindChild('EniFailover')).toBeDefined();
  });
});

describe('stable homes: a pair keeps its function and alarms when other pairs come and go', () => {
  /** Logical IDs of each pair's function and alarms, by pair name. */
  function homes(config: Pair[]): Map<string, string> {
    // Logical IDs need no bundled code.
    const app = newApp({ context: { 'aws:cdk:bundling-stacks': [] } });
    const stack = new EniFailoverStack(app, 'EniFailover', {
      env: { account: '123456789012', region: 'eu-west-1' },
      config: { pairs: config },
    });
    const resources = Template.fromStack(stack).toJSON().Resources as Record<
      string,
      {
        Type: string;
        Properties: { Environment?: { Variables: { FAILOVER_PAIRS: string } }; AlarmDescription?: string };
      }
    >;
    const home = new Map<string, string>();
    for (const [id, r] of Object.entries(resources)) {
      if (r.Type === 'AWS::Lambda::Function') {
        for (const p of JSON.parse(r.Properties.Environment?.Variables.FAILOVER_PAIRS ?? '[]') as Pair[])
          home.set(`${p.name} function`, id);
      }
      const alarmOf = /^eni-failover (\S+): StatusCheckFailed on the (primary|standby)/.exec(
        r.Properties.AlarmDescription ?? '',
      );
      if (r.Type === 'AWS::CloudWatch::Alarm' && alarmOf) home.set(`${alarmOf[1]} ${alarmOf[2]} alarm`, id);
    }
    return home;
  }

  it("inserting a pair at the top of a 40-pair config changes no other pair's function or alarm logical ID", () => {
    const before = pairs(40);
    const added: Pair = {
      name: 'newcomer',
      networkInterfaceId: 'eni-0ffffffffffffffff',
      primaryInstanceId: 'i-0fffffffffffffff0',
      standbyInstanceId: 'i-0fffffffffffffff1',
      deviceIndex: 1,
      group: 'g1',
    };
    const was = homes(before);
    const now = homes([added, ...before]);
    expect(was.size).toBe(40 * 3);
    for (const [what, id] of was) expect(now.get(what), what).toBe(id);
    expect(now.get('newcomer function')).toBe(was.get('svc20 function'));
    // And removing one leaves the others where they were.
    const fewer = homes(before.slice(1));
    for (const [what, id] of fewer) expect(was.get(what), what).toBe(id);
  });
});

describe('one stack holds what CloudFormation allows, and says what to do beyond', () => {
  /** Synthesizes the configured stack without bundling the function (the count needs only the template). */
  const synth = (n: number) =>
    Template.fromStack(
      new EniFailoverStack(newApp({ context: { 'aws:cdk:bundling-stacks': [] } }), 'EniFailover', {
        env: { account: '123456789012', region: 'eu-west-1' },
        config: { pairs: pairs(n) },
      }),
    );
  /** The template's resource count, or the refusal. */
  const tried = new Map<number, number | Error>();
  const attempt = (n: number): number | Error => {
    if (!tried.has(n)) {
      try {
        tried.set(n, Object.keys(synth(n).toJSON().Resources).length);
      } catch (error) {
        tried.set(n, error as Error);
      }
    }
    return tried.get(n) as number | Error;
  };

  // 9 groups of 20 (README, "Many pairs"): 2 resources a pair, 14 a group (with its reconcile schedule), 13 the
  // stack (with the dashboard and the heartbeat): 499; the 181st pair opens a tenth group, 16 more.
  it(`the largest configuration that fits ${STACK_RESOURCE_LIMIT} resources (180 pairs in groups of 20) synthesizes; one pair more is refused, naming the limit and the way out`, () => {
    const low = 180;
    const high = low + 1;
    const synthesized = attempt(low) as number;
    expect(synthesized).toBeLessThanOrEqual(STACK_RESOURCE_LIMIT);
    expect(synthesized).toBe(180 * 2 + 9 * 14 + 13);
    expect(attempt(high)).toBeInstanceOf(Error);
    expect(String(attempt(high))).toMatch(
      new RegExp(
        `${high} pairs in 10 groups make \\d+ CloudFormation resources, over CloudFormation's limit of 500 per stack .*split the pairs across configuration files, one stack each`,
      ),
    );
  }, 120_000);
});

describe('two constructs in one stack', () => {
  it('each has its own service name, metrics, alarms, key alias and tag value', () => {
    const stack = new Stack(newApp(), 'Shop');
    const [a, b] = pairs(2) as [ReturnType<typeof pairs>[number], ReturnType<typeof pairs>[number]];
    new EniFailover(stack, 'Web', { pairs: [a] });
    new EniFailover(stack, 'Db', { pairs: [b], serviceName: 'shop-db' });
    const template = Template.fromStack(stack);
    const services = (metric: string) =>
      Object.values(template.findResources('AWS::CloudWatch::Alarm', { Properties: { MetricName: metric } }))
        .map((r) => JSON.stringify((r as { Properties: { Dimensions: unknown } }).Properties.Dimensions))
        .sort();
    expect(services('NotRedundant')).toEqual([
      JSON.stringify([{ Name: 'service', Value: 'Shop-Web' }]),
      JSON.stringify([{ Name: 'service', Value: 'shop-db' }]),
    ]);
    const names = Object.values(template.findResources('AWS::Lambda::Function')).map(
      (f) =>
        (f as { Properties: { Environment: { Variables: Record<string, string> } } }).Properties.Environment
          .Variables.POWERTOOLS_SERVICE_NAME,
    );
    expect(names.sort()).toEqual(['Shop-Web', 'shop-db']);
    const aliases = Object.values(template.findResources('AWS::KMS::Alias')).map(
      (r) => (r as { Properties: { AliasName: string } }).Properties.AliasName,
    );
    expect(aliases.sort()).toEqual(['alias/eni-failover/Shop-Web', 'alias/eni-failover/shop-db']);
  });

  it('a service name outside 1-100 letters, digits, _ or - is refused', () => {
    expect(
      () => new EniFailover(new Stack(new App(), 'S'), 'F', { pairs: pairs(1), serviceName: 'has space' }),
    ).toThrow(/serviceName must be 1-100 letters, digits, '_' or '-', got "has space"/);
  });
});

describe('operations hygiene', () => {
  it('the example configuration enables no experiment: stopping a production primary is a choice', () => {
    expect(loadStackConfig('failover.example.json').experiments ?? []).toEqual([]);
  });

  it("cdk.json carries every feature flag aws-cdk-lib recommends for a new app, and the tests' apps use them", () => {
    const recommended = JSON.parse(
      readFileSync(join('node_modules', 'aws-cdk-lib', 'recommended-feature-flags.json'), 'utf8'),
    ) as Record<string, unknown>;
    const { context } = JSON.parse(readFileSync('cdk.json', 'utf8')) as { context: Record<string, unknown> };
    expect(Object.keys(recommended).length).toBeGreaterThan(50);
    for (const [flag, value] of Object.entries(recommended)) expect(context[flag], flag).toEqual(value);
    expect(newApp().node.tryGetContext('@aws-cdk/core:enablePartitionLiterals')).toBe(true);
  });
});

describe('the demo stack', () => {
  it('two t4g.nano Amazon Linux 2023 instances in one subnet, an ENI on the first at device index 1, protected, with its outputs', () => {
    const { template } = synthDemo();
    const instances = Object.values(template.findResources('AWS::EC2::Instance')) as {
      Properties: { SubnetId: unknown; InstanceType: string };
    }[];
    expect(instances.map((i) => i.Properties.InstanceType)).toEqual(['t4g.nano', 't4g.nano']);
    expect(JSON.stringify(instances[0]?.Properties.SubnetId)).toEqual(
      JSON.stringify(instances[1]?.Properties.SubnetId),
    );
    template.hasResourceProperties('AWS::EC2::NetworkInterfaceAttachment', {
      DeviceIndex: '1',
      DeleteOnTermination: false,
      InstanceId: { Ref: Match.stringLikeRegexp('^Primary') },
      NetworkInterfaceId: { Ref: 'ServiceEni' },
    });
    template.hasResourceProperties('AWS::EC2::SecurityGroup', { SecurityGroupIngress: Match.absent() });
    template.resourceCountIs('AWS::EC2::NatGateway', 0);
    const env = Object.values(template.findResources('AWS::Lambda::Function')).find((f) =>
      JSON.stringify(f).includes('FAILOVER_PAIRS'),
    ) as {
      Properties: { Environment: { Variables: { FAILOVER_PAIRS: unknown } } };
    };
    expect(JSON.stringify(env.Properties.Environment.Variables.FAILOVER_PAIRS)).toContain('ServiceEni');
    template.resourceCountIs('AWS::FIS::ExperimentTemplate', 1);
    for (const name of [
      'ServiceAddress',
      'StopPrimaryCommand',
      'demoExperimentCommand',
      'DrillCommand',
      'FunctionNames',
    ])
      template.hasOutput(name, {});
  });
});
