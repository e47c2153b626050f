import { Duration, type RemovalPolicy, Stack } from 'aws-cdk-lib';
import type * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import type * as events from 'aws-cdk-lib/aws-events';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import type * as sns from 'aws-cdk-lib/aws-sns';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import type { Construct } from 'constructs';
import { acknowledge } from './nag.ts';

/**
 * The key of the topics the construct makes: the one given, or one of its own named by an alias. CloudWatch must
 * be allowed to use it, or alarm notifications are dropped: the AWS-managed alias/aws/sns key cannot grant that
 * (SNS Developer Guide, "Enable compatibility between event sources from AWS services and encrypted topics").
 * The statement lands on a key defined in this app; an imported key's owner must have added it (docs/deploying.md).
 */
export function topicKey(
  scope: Construct,
  serviceName: string,
  given: kms.IKey | undefined,
  removalPolicy: RemovalPolicy,
): kms.IKey {
  const stack = Stack.of(scope);
  let key = given;
  if (key === undefined) {
    const own = new kms.Key(scope, 'TopicKey', {
      description: `eni-failover ${serviceName}: encrypts the alarm and notification topics`,
      enableKeyRotation: true,
      removalPolicy,
    });
    own.addAlias(`alias/eni-failover/${serviceName}`);
    key = own;
  }
  key.addToResourcePolicy(
    new iam.PolicyStatement({
      // On a key given to several constructs, one statement each (a Sid is unique in a policy).
      sid: `AllowCloudWatchAlarmsToPublish${given ? serviceName.replace(/[^A-Za-z0-9]/g, '') : ''}`,
      principals: [new iam.ServicePrincipal('cloudwatch.amazonaws.com')],
      actions: ['kms:Decrypt', 'kms:GenerateDataKey*'],
      resources: ['*'],
      // The topics' policies name the alarms one by one; the key needs only this account's alarms.
      conditions: {
        StringEquals: { 'aws:SourceAccount': stack.account },
        ArnLike: {
          'aws:SourceArn': `arn:${stack.partition}:cloudwatch:${stack.region}:${stack.account}:alarm:*`,
        },
      },
    }),
  );
  return key;
}

/** Whatever could not be delivered or processed: SNS deliveries, EventBridge targets, failed invocations. */
export function deadLetterQueue(scope: Construct, removalPolicy: RemovalPolicy): sqs.Queue {
  const queue = new sqs.Queue(scope, 'DeadLetterQueue', {
    encryption: sqs.QueueEncryption.SQS_MANAGED,
    enforceSSL: true,
    retentionPeriod: Duration.days(14),
    removalPolicy,
  });
  acknowledge(
    queue,
    'AwsSolutions-SQS3',
    'This queue is the dead-letter queue (of the SNS subscription, the EventBridge targets and the function)',
  );
  return queue;
}

/**
 * The dead-letter queue's own policy: SNS may send what the alarm topics could not deliver, and EventBridge
 * what the rules could not, each in one statement that lists every source. Given the queue itself, CDK adds a
 * statement with its own condition for each subscription and rule, three a group of pairs, and SQS's policy
 * quotas (SQS Developer Guide, "Amazon SQS policy quotas": 20 statements, 10 conditions) would fail the
 * deploy from four groups on: the subscriptions and rules are given an imported view of it (deadLetterSources),
 * to which CDK adds nothing.
 */
export function allowDeadLetters(
  queue: sqs.Queue,
  sources: readonly { readonly alarmTopic: sns.ITopic; readonly rules: readonly events.IRule[] }[],
): void {
  const unique = (arns: string[]) => [...new Set(arns)];
  queue.addToResourcePolicy(
    new iam.PolicyStatement({
      sid: 'UndeliveredAlarmNotifications',
      principals: [new iam.ServicePrincipal('sns.amazonaws.com')],
      actions: ['sqs:SendMessage'],
      resources: [queue.queueArn],
      conditions: { ArnEquals: { 'aws:SourceArn': unique(sources.map((s) => s.alarmTopic.topicArn)) } },
    }),
  );
  queue.addToResourcePolicy(
    new iam.PolicyStatement({
      sid: 'UndeliveredEvents',
      principals: [new iam.ServicePrincipal('events.amazonaws.com')],
      actions: ['sqs:SendMessage'],
      resources: [queue.queueArn],
      conditions: {
        ArnEquals: { 'aws:SourceArn': unique(sources.flatMap((s) => s.rules.map((r) => r.ruleArn))) },
      },
    }),
  );
}

/** The dead-letter queue as the subscriptions and rules see it: an imported view, whose policy CDK leaves alone. */
export function deadLetterSources(scope: Construct, queue: sqs.Queue): sqs.IQueue {
  return sqs.Queue.fromQueueAttributes(scope, 'DeadLetterSources', {
    queueArn: queue.queueArn,
    queueUrl: queue.queueUrl,
  });
}

/**
 * Lets these alarms, and only these, publish to the topic (a topic the construct made: on an imported one
 * addToResourcePolicy adds nothing, and its owner's policy decides). A topic policy replaces SNS's default one, so
 * without this the TLS-only policy (enforceSSL) refuses every alarm (SNS Developer Guide, "Example cases for
 * Amazon SNS access control": CloudWatch publishes as cloudwatch.amazonaws.com with aws:SourceArn = the alarm's
 * ARN and aws:SourceAccount).
 */
export function allowAlarmsToPublish(topic: sns.ITopic, alarms: readonly cloudwatch.IAlarm[]): void {
  topic.addToResourcePolicy(
    new iam.PolicyStatement({
      sid: 'AllowTheseAlarmsToPublish',
      principals: [new iam.ServicePrincipal('cloudwatch.amazonaws.com')],
      actions: ['sns:Publish'],
      resources: [topic.topicArn],
      conditions: {
        StringEquals: { 'aws:SourceAccount': Stack.of(topic).account },
        ArnLike: { 'aws:SourceArn': alarms.map((a) => a.alarmArn) },
      },
    }),
  );
}
