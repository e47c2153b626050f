import { Duration } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as cwActions from 'aws-cdk-lib/aws-cloudwatch-actions';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as sns from 'aws-cdk-lib/aws-sns';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import type { Construct } from 'constructs';
import type { Pair } from '../lambda/config';

/** One function's errors: a failover stopped part-way (Lambda retries it). */
export function functionErrorsAlarm(
  scope: Construct,
  fn: lambda.IFunction,
  pairs: readonly Pair[],
  notificationTopic: sns.ITopic,
): void {
  new cloudwatch.Alarm(scope, 'Errors', {
    alarmDescription: `eni-failover: the function for ${pairs.map((p) => p.name).join(', ')} failed (a failover stopped part-way; Lambda retries it)`,
    metric: fn.metricErrors({ period: Duration.minutes(1), statistic: cloudwatch.Stats.SUM }),
    threshold: 1,
    comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
    evaluationPeriods: 1,
    treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
  }).addAlarmAction(new cwActions.SnsAction(notificationTopic));
}

/** Alarms on the service itself (shared by all its functions), to the notification topic. */
export function serviceAlarms(
  scope: Construct,
  deadLetterQueue: sqs.IQueue,
  notificationTopic: sns.ITopic,
): void {
  const notify = new cwActions.SnsAction(notificationTopic);
  const selfAlarm = (id: string, description: string, metric: cloudwatch.IMetric) =>
    new cloudwatch.Alarm(scope, id, {
      alarmDescription: description,
      metric,
      threshold: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      evaluationPeriods: 1,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    }).addAlarmAction(notify);
  selfAlarm(
    'DeadLetters',
    'eni-failover: an event could not be delivered or processed; read the dead-letter queue',
    deadLetterQueue.metricApproximateNumberOfMessagesVisible({
      period: Duration.minutes(1),
      statistic: cloudwatch.Stats.MAXIMUM,
    }),
  );
  selfAlarm(
    'AutomaticRefusals',
    'eni-failover: an automatic failover was refused: a service may be down and nobody moved its address',
    new cloudwatch.Metric({
      namespace: 'EniFailover',
      metricName: 'AutomaticRefusals',
      dimensionsMap: { service: 'eni-failover' },
      statistic: cloudwatch.Stats.SUM,
      period: Duration.minutes(1),
    }),
  );
}
