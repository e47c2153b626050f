import { Duration, Stack, Validations } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import type { Construct } from 'constructs';

/**
 * One key for every topic of the construct. CloudWatch must be allowed to use it, or alarm
 * notifications are dropped silently: the AWS-managed alias/aws/sns key cannot grant that.
 */
export function topicKey(scope: Construct): kms.Key {
  const key = new kms.Key(scope, 'TopicKey', {
    description: 'eni-failover: encrypts the alarm and notification topics',
    enableKeyRotation: true,
  });
  key.addToResourcePolicy(
    new iam.PolicyStatement({
      sid: 'AllowCloudWatchAlarmsToPublish',
      principals: [new iam.ServicePrincipal('cloudwatch.amazonaws.com')],
      actions: ['kms:Decrypt', 'kms:GenerateDataKey*'],
      resources: ['*'],
      conditions: { StringEquals: { 'aws:SourceAccount': Stack.of(scope).account } },
    }),
  );
  return key;
}

/** Whatever could not be delivered or processed: SNS deliveries, EventBridge targets, failed invocations. */
export function deadLetterQueue(scope: Construct): sqs.Queue {
  const queue = new sqs.Queue(scope, 'DeadLetterQueue', {
    encryption: sqs.QueueEncryption.SQS_MANAGED,
    enforceSSL: true,
    retentionPeriod: Duration.days(14),
  });
  Validations.of(queue).acknowledge({
    id: 'AwsSolutions-SQS3',
    reason:
      'This queue is the dead-letter queue (of the SNS subscription, the EventBridge targets and the function)',
  });
  return queue;
}
