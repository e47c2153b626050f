import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { App, Lazy, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import type { Pair } from '../../lambda/config.ts';
import { loadStackConfig } from '../../lib/config-file.ts';
import { EniFailover, groupPairs, VALUES_ENV_BUDGET } from '../../lib/eni-failover.ts';
import { POLICY_SLOTS, policySlotOf, RULE_SLOTS, slotOf } from '../../lib/grouping.ts';
import { EniFailoverStack, STACK_RESOURCE_LIMIT } from '../../lib/stack.ts';
import { type CfnTemplate, functionPairs } from '../helpers/policy-engine.ts';
import { assemblyOf, newApp, pairs, synthConfigured, synthDemo } from '../helpers/synth.ts';

/** The failover functions (not the custom resources' or the rehearsal's): those given a pairs file. */
const FAILOVER_FUNCTION = {
  Properties: { Environment: { Variables: Match.objectLike({ FAILOVER_PAIRS_FILE: Match.anyValue() }) } },
};

type Statement = {
  Action: string | string[];
  Resource: unknown;
  Principal?: unknown;
  Condition?: unknown;
  Sid?: string;
};

/** The statements of every identity policy: inline ones, and the customer managed ones of the pair slots. */
function statements(template: Template): Statement[] {
  return Object.values({
    ...template.findResources('AWS::IAM::Policy'),
    ...template.findResources('AWS::IAM::ManagedPolicy'),
  }).flatMap(
    (p) =>
      (p as { Properties: { PolicyDocument: { Statement: Statement[] } } }).Properties.PolicyDocument
        .Statement,
  );
}
const actionsOf = (s: Statement) => (Array.isArray(s.Action) ? s.Action : [s.Action]);

describe('EniFailover stack (configured, two pairs)', () => {
  const config = { pairs: pairs(2), notificationEmails: ['oncall@example.com'] };
  let template: Template;
  let stack: Stack;
  beforeAll(() => {
    ({ template, stack } = synthConfigured(config));
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
    // Scoped by ID in a condition: ENIs on the network-interface statement, instances on the instance one.
    const enis = all.find((s) => s.Sid === 'MoveKeepAndTagTheConfiguredEnis');
    const instances = all.find((s) => s.Sid === 'BetweenTheirInstances');
    expect(JSON.stringify(enis?.Resource)).toContain(':network-interface/*');
    expect(JSON.stringify(instances?.Resource)).toContain(':instance/*');
    expect(actionsOf(instances as Statement)).toEqual([
      'ec2:AttachNetworkInterface',
      'ec2:DetachNetworkInterface',
    ]);
    const conditioned = (sid: string, key: string) =>
      all
        .filter((x) => x.Sid === sid)
        .flatMap((x) => (x.Condition as { StringEquals: Record<string, string[]> }).StringEquals[key] ?? []);
    expect(conditioned('MoveKeepAndTagTheConfiguredEnis', 'ec2:NetworkInterfaceID').sort()).toEqual(
      config.pairs.map((p) => p.networkInterfaceId).sort(),
    );
    expect(conditioned('BetweenTheirInstances', 'ec2:InstanceID').sort()).toEqual(
      config.pairs.flatMap((p) => [p.primaryInstanceId, p.standbyInstanceId]).sort(),
    );
    expect(
      all.some(
        (s) =>
          actionsOf(s).includes('sns:Publish') && JSON.stringify(s.Resource).includes('NotificationTopic'),
      ),
    ).toBe(true);
  });

  it('the function has a role of its own with no AWS managed policy', () => {
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
          FAILOVER_PAIRS_FILE: 'pairs.json',
          FAILOVER_VALUES: Match.absent(),
          NOTIFICATION_TOPIC_ARN: { Ref: Match.stringLikeRegexp('^EniFailoverNotificationTopic') },
        },
      },
    });
    // The pairs are in a file in its code, read by the function's own loader: the configuration as given.
    const [[, read] = ['', []]] = functionPairs(template.toJSON() as CfnTemplate, assemblyOf(stack));
    expect(read).toEqual(config.pairs);
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

  it("a state-change (and Spot warning) rule per slot its pairs fill, each for its pairs' instances, with retries and a dead-letter queue", () => {
    const rules = Object.values(
      template.findResources('AWS::Events::Rule', {
        Properties: {
          EventPattern: { 'detail-type': Match.arrayWith(['EC2 Instance State-change Notification']) },
        },
      }),
    ) as { Properties: { EventPattern: { detail: { 'instance-id': string[] } } } }[];
    expect(rules).toHaveLength(new Set(config.pairs.map(slotOf)).size);
    expect(rules.flatMap((r) => r.Properties.EventPattern.detail['instance-id']).sort()).toEqual(
      config.pairs.flatMap((p) => [p.primaryInstanceId, p.standbyInstanceId]).sort(),
    );
    for (const r of rules)
      expect(r.Properties).toMatchObject({
        EventPattern: {
          source: ['aws.ec2'],
          'detail-type': ['EC2 Instance State-change Notification', 'EC2 Spot Instance Interruption Warning'],
          detail: {
            $or: [
              { state: ['stopping', 'stopped', 'shutting-down', 'terminated'] },
              { 'instance-action': [{ exists: true }] },
            ],
          },
        },
        Targets: [
          {
            RetryPolicy: { MaximumRetryAttempts: 4, MaximumEventAgeInSeconds: 3600 },
            DeadLetterConfig: {
              Arn: { 'Fn::GetAtt': [expect.stringMatching(/^EniFailoverDeadLetterQueue/), 'Arn'] },
            },
          },
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
    const failoverFunctions = template.findResources('AWS::Lambda::Function', FAILOVER_FUNCTION);
    expect(Object.keys(failoverFunctions).length).toBeGreaterThan(0);
    for (const f of Object.values(failoverFunctions))
      expect(
        (f as { Properties: { Environment: { Variables: unknown } } }).Properties.Environment.Variables,
      ).toMatchObject({
        POWERTOOLS_SERVICE_NAME: 'EniFailover-EniFailover',
        POWERTOOLS_METRICS_NAMESPACE: 'EniFailover',
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
      'AWS::IAM::ManagedPolicy',
      'AWS::Lambda::EventInvokeConfig',
      'AWS::Lambda::Permission',
      // A custom resource's properties are its handler's; CDK tags none.
      'Custom::Rehearsal',
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
    const fenced = statements(synthConfigured({ pairs: [{ ...a, fence: true }, b] }).template).filter((s) =>
      actionsOf(s).includes('ec2:StopInstances'),
    );
    expect(fenced).toHaveLength(1);
    const text = JSON.stringify(fenced[0]?.Condition);
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
    /** The bundle in each failover function's code (its asset in the cloud assembly). */
    const bundles = (config: Pair[]) => {
      const { template, stack } = synthConfigured({ pairs: config });
      return Object.values(template.findResources('AWS::Lambda::Function', FAILOVER_FUNCTION)).map((f) =>
        readFileSync(
          join(
            assemblyOf(stack),
            String((f as { Metadata: Record<string, string> }).Metadata['aws:asset:path']),
            'index.mjs',
          ),
          'utf8',
        ),
      );
    };
    const prebuilt = (name: string) => readFileSync(join('dist', 'functions', name, 'index.mjs'), 'utf8');
    expect(bundles([{ ...a, verifyOs: true }, b])).toEqual([prebuilt('handler-os-check')]);
    expect(bundles([a, b])).toEqual([prebuilt('handler')]);
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

describe('pairs with no `group` share one function however many; `group` gives pairs a function of their own', () => {
  it('one function per group, the ungrouped pairs first, each in configuration order', () => {
    const all = pairs(100);
    expect(groupPairs(all).map((g) => [g.group, g.pairs.length])).toEqual([[undefined, 100]]);
    const [a, b, c] = pairs(3) as [Pair, Pair, Pair];
    expect(
      groupPairs([{ ...a, group: 'x' }, b, c]).map((g) => [g.group, g.pairs.map((p) => p.name)]),
    ).toEqual([
      [undefined, ['svc1', 'svc2']],
      ['x', ['svc0']],
    ]);
  });

  it("tokens beyond what the function's environment holds (FAILOVER_VALUES) are refused, named, with what to do", () => {
    const stack = new Stack(new App(), 'S');
    // IDs of resources made in the same app: CloudFormation resolves them, so they go to the environment.
    const tokened = (n: number, group?: string) =>
      pairs(n).map((p, i) => ({
        ...p,
        networkInterfaceId: Lazy.string({ produce: () => p.networkInterfaceId }),
        primaryInstanceId: Lazy.string({ produce: () => p.primaryInstanceId }),
        standbyInstanceId: Lazy.string({ produce: () => p.standbyInstanceId }),
        name: `${group ?? 'p'}${i}`,
        ...(group ? { group } : {}),
      }));
    // 3 tokens a pair, each counted as 32 characters and its quotes: 36 pairs fit the 3,500 bytes, 37 do not.
    expect(() => new EniFailover(stack, 'Fits', { pairs: tokened(32) })).not.toThrow();
    expect(() => new EniFailover(new Stack(new App(), 'S'), 'F', { pairs: tokened(40) })).toThrow(
      new RegExp(
        `the pairs without a "group": 120 values CloudFormation resolves at deploy .* over the ${VALUES_ENV_BUDGET.toLocaleString('en')} .* give some of these pairs another "group"`,
      ),
    );
    expect(
      () =>
        new EniFailover(new Stack(new App(), 'S'), 'F', { pairs: [...tokened(20), ...tokened(20, 'other')] }),
    ).not.toThrow();
  });

  it('a group name that is not 1-32 letters or digits is refused by name', () => {
    const [p] = pairs(1) as [Pair];
    expect(
      () => new EniFailover(new Stack(new App(), 'S'), 'F', { pairs: [{ ...p, group: 'web-1' }] }),
    ).toThrow(/pairs\[0\]\.group must be 1-32 letters or digits, got "web-1"/);
  });

  it('60 pairs with no group: one function, its pairs in its code, its environment far under 4 KB, every rule and policy slot filled', () => {
    const { template, stack } = synthConfigured({ pairs: pairs(60) });
    const functions = Object.values(template.findResources('AWS::Lambda::Function', FAILOVER_FUNCTION)) as {
      Properties: { Environment: { Variables: Record<string, unknown> } };
    }[];
    expect(functions).toHaveLength(1);
    const [[, read] = ['', []]] = functionPairs(template.toJSON() as CfnTemplate, assemblyOf(stack));
    expect(read).toEqual(pairs(60));
    const variables = functions[0]?.Properties.Environment.Variables ?? {};
    expect(Object.keys(variables).sort()).toEqual([
      'FAILOVER_PAIRS_FILE',
      'FAILOVER_STATE_TABLE',
      'NOTIFICATION_TOPIC_ARN',
      'POWERTOOLS_METRICS_NAMESPACE',
      'POWERTOOLS_SERVICE_NAME',
    ]);
    // A state-change rule per rule slot, a managed policy per policy slot (60 names fill all 16 and 8), the reconcile
    // schedule and the daily rehearsal.
    expect(new Set(pairs(60).map(slotOf)).size).toBe(RULE_SLOTS);
    template.resourceCountIs('AWS::Events::Rule', RULE_SLOTS + 2);
    template.resourceCountIs('AWS::IAM::ManagedPolicy', POLICY_SLOTS);
    // Two a pair, the function's Errors, the construct's 6 on itself and its heartbeat.
    template.resourceCountIs('AWS::CloudWatch::Alarm', 120 + 1 + 6 + 1);
    const rules = Object.values(
      template.findResources('AWS::Events::Rule', { Properties: { EventPattern: Match.anyValue() } }),
    );
    for (const r of rules)
      expect(
        JSON.stringify((r as { Properties: { EventPattern: unknown } }).Properties.EventPattern).length,
      ).toBeLessThan(2_048);
  });
});

describe('stable homes: a pair keeps its resources, and others theirs, when pairs come and go', () => {
  /** Each pair's resources by logical ID (alarms, its function, its slot's rule and policy), and every resource's properties. */
  function homes(config: Pair[]): { home: Map<string, string>; resources: Record<string, unknown> } {
    const app = newApp();
    const stack = new EniFailoverStack(app, 'EniFailover', {
      env: { account: '123456789012', region: 'eu-west-1' },
      config: { pairs: config },
    });
    const template = Template.fromStack(stack).toJSON() as CfnTemplate;
    const home = new Map<string, string>();
    for (const [id, served] of functionPairs(template, assemblyOf(stack)))
      for (const p of served) home.set(`${p.name} function`, id);
    for (const [id, r] of Object.entries(template.Resources)) {
      const text = JSON.stringify(r.Properties);
      const alarmOf = /^eni-failover (\S+): StatusCheckFailed on the (primary|standby)/.exec(
        String(r.Properties?.AlarmDescription ?? ''),
      );
      if (r.Type === 'AWS::CloudWatch::Alarm' && alarmOf) home.set(`${alarmOf[1]} ${alarmOf[2]} alarm`, id);
      for (const p of config) {
        if (r.Type === 'AWS::Events::Rule' && text.includes(p.primaryInstanceId))
          home.set(`${p.name} rule`, id);
        if (r.Type === 'AWS::IAM::ManagedPolicy' && text.includes(p.networkInterfaceId))
          home.set(`${p.name} policy`, id);
      }
    }
    return { home, resources: template.Resources };
  }

  it("inserting a pair in the middle of 60 and removing another moves no other pair's function, alarms, rule or policy", () => {
    const before = pairs(60);
    const added: Pair = {
      name: 'newcomer',
      networkInterfaceId: 'eni-0ffffffffffffffff',
      primaryInstanceId: 'i-0fffffffffffffff0',
      standbyInstanceId: 'i-0fffffffffffffff1',
      deviceIndex: 1,
    };
    const removed = before[45] as Pair;
    const after = [...before.slice(0, 30), added, ...before.slice(30).filter((p) => p !== removed)];
    const was = homes(before);
    const now = homes(after);
    expect(was.home.size).toBe(60 * 5);
    for (const [what, id] of was.home) {
      if (what.startsWith(`${removed.name} `)) expect(now.home.get(what), what).toBeUndefined();
      else expect(now.home.get(what), what).toBe(id);
    }
    expect(now.home.get('newcomer function')).toBe(was.home.get('svc0 function'));
    // Only the slots of the pairs that came and went change; every other rule and policy is exactly as it was.
    const touched = new Set([
      `rule ${slotOf(added)}`,
      `rule ${slotOf(removed)}`,
      `policy ${policySlotOf(added)}`,
      `policy ${policySlotOf(removed)}`,
    ]);
    let untouched = 0;
    for (const p of before.filter((x) => x !== removed)) {
      for (const [kind, slot] of [
        ['rule', slotOf(p)],
        ['policy', policySlotOf(p)],
      ] as const) {
        if (touched.has(`${kind} ${slot}`)) continue;
        const id = was.home.get(`${p.name} ${kind}`) as string;
        expect(now.resources[id], `${p.name} ${kind}`).toEqual(was.resources[id]);
        untouched++;
      }
    }
    expect(untouched).toBeGreaterThan(60);
    // A managed policy's Description cannot be updated: a change replaces the policy (CloudFormation Template
    // Reference, AWS::IAM::ManagedPolicy). Every slot's, the newcomer's own included, stays as it was, so its slot's
    // policy is updated in place (its document changes) rather than replaced beside the others.
    const descriptions = (resources: Record<string, unknown>) =>
      Object.fromEntries(
        Object.entries(resources as CfnTemplate['Resources'])
          .filter(([, r]) => r.Type === 'AWS::IAM::ManagedPolicy')
          .map(([id, r]) => [id, r.Properties?.Description]),
      );
    expect(Object.keys(descriptions(was.resources))).toHaveLength(8);
    expect(descriptions(now.resources)).toEqual(descriptions(was.resources));
    const newcomers = now.home.get('newcomer policy') as string;
    expect(JSON.stringify(was.resources[newcomers])).not.toContain(added.networkInterfaceId);
  }, 120_000);
});

describe('one stack holds what CloudFormation allows, and says what to do beyond', () => {
  /** Synthesizes the configured stack (the count needs only the template). */
  const synth = (n: number) =>
    Template.fromStack(
      new EniFailoverStack(newApp(), 'EniFailover', {
        env: { account: '123456789012', region: 'eu-west-1' },
        config: { pairs: pairs(n) },
      }),
    );
  /** The template's resource count, or the refusal. */
  const attempt = (n: number): number | Error => {
    try {
      return Object.keys(synth(n).toJSON().Resources).length;
    } catch (error) {
      return error as Error;
    }
  };

  // README, "Many pairs": 2 resources a pair (its alarms); the stack's own 21 (with the heartbeat alarm, the state
  // table, the rehearsal's 6 and its NotReady alarm), the function's 13 with its reconcile schedule and the daily
  // rehearsal's permission, and once every slot holds a pair 16 state-change rules with their permissions and 8
  // policies: 74. 213 pairs make 500; the 214th adds 2.
  it(`the largest configuration that fits ${STACK_RESOURCE_LIMIT} resources (213 pairs, no group) synthesizes; one pair more is refused, naming the limit and the way out`, () => {
    expect(attempt(213)).toBe(213 * 2 + 74);
    const over = attempt(214);
    expect(over).toBeInstanceOf(Error);
    expect(String(over)).toMatch(
      /214 pairs in 1 function make 502 CloudFormation resources, over CloudFormation's limit of 500 per stack .*split the pairs across configuration files, one stack each/,
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
    const names = Object.values(template.findResources('AWS::Lambda::Function', FAILOVER_FUNCTION)).map(
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
      Properties: { Environment: { Variables: { FAILOVER_VALUES: unknown } } };
    };
    // The demo's ENI and instances are made in the stack: their IDs reach the function through its environment.
    expect(JSON.stringify(env.Properties.Environment.Variables.FAILOVER_VALUES)).toContain('ServiceEni');
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
