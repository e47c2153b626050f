import { Duration } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as cwActions from 'aws-cdk-lib/aws-cloudwatch-actions';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as sns from 'aws-cdk-lib/aws-sns';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import type { Construct } from 'constructs';
import type { Pair } from '../lambda/config.ts';

/** The function's EMF namespace (POWERTOOLS_METRICS_NAMESPACE); its `service` dimension is the construct's service name. */
export const METRICS_NAMESPACE = 'EniFailover';

/** Any datapoint at or above 1 in a minute; no data is not a problem (nothing happened). */
function alarmOnAny(
  scope: Construct,
  id: string,
  description: string,
  metric: cloudwatch.IMetric,
  topic: sns.ITopic,
): cloudwatch.Alarm {
  const alarm = new cloudwatch.Alarm(scope, id, {
    alarmDescription: description,
    metric,
    threshold: 1,
    comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
    evaluationPeriods: 1,
    treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
  });
  alarm.addAlarmAction(new cwActions.SnsAction(topic));
  return alarm;
}

/** The pairs' names, as many as fit `max` characters (an alarm description holds 1,024), then how many more. */
const namesWithin = (pairs: readonly Pair[], max: number): string => {
  const names = pairs.map((p) => p.name);
  let shown = names.length;
  while (shown > 1 && names.slice(0, shown).join(', ').length > max) shown--;
  return names.length === shown
    ? names.join(', ')
    : `${names.slice(0, shown).join(', ')} and ${names.length - shown} more pairs`;
};

/** One function's errors: a failover stopped part-way (Lambda retries it). */
export function functionErrorsAlarm(
  scope: Construct,
  fn: lambda.IFunction,
  pairs: readonly Pair[],
  notificationTopic: sns.ITopic,
): cloudwatch.Alarm {
  return alarmOnAny(
    scope,
    'Errors',
    `eni-failover: the function for ${namesWithin(pairs, 800)} failed (a failover stopped part-way; Lambda retries it)`,
    fn.metricErrors({ period: Duration.minutes(1), statistic: cloudwatch.Stats.SUM }),
    notificationTopic,
  );
}

/** The alarms on the service itself, shared by all of one construct's functions. */
export interface ServiceAlarms {
  readonly deadLetters: cloudwatch.Alarm;
  /** An automatic failover was refused: a service may be down and nobody moved its address. */
  readonly automaticRefusals: cloudwatch.Alarm;
  /** An outcome could not be published to the notification topic. */
  readonly notifyFailed: cloudwatch.Alarm;
  /** A pair's other member could not take the ENI now: one more failure and the address is down. */
  readonly notRedundant: cloudwatch.Alarm;
  /** A pair's ENI is attached to no one: its address is down. */
  readonly unattached: cloudwatch.Alarm;
}

/**
 * Alarms on the service itself, to the notification topic. The function's metrics carry the dimension
 * `service` = the construct's service name (POWERTOOLS_SERVICE_NAME), so two constructs in one account
 * each alarm on their own pairs only.
 */
export function serviceAlarms(
  scope: Construct,
  serviceName: string,
  deadLetterQueue: sqs.IQueue,
  notificationTopic: sns.ITopic,
): ServiceAlarms {
  const own = (metricName: string) =>
    new cloudwatch.Metric({
      namespace: METRICS_NAMESPACE,
      metricName,
      dimensionsMap: { service: serviceName },
      statistic: cloudwatch.Stats.MAXIMUM,
      period: Duration.minutes(1),
    });
  const alarm = (id: string, description: string, metric: cloudwatch.IMetric) =>
    alarmOnAny(scope, id, `eni-failover ${serviceName}: ${description}`, metric, notificationTopic);
  return {
    deadLetters: alarm(
      'DeadLetters',
      'an event could not be delivered or processed; read the dead-letter queue',
      deadLetterQueue.metricApproximateNumberOfMessagesVisible({
        period: Duration.minutes(1),
        statistic: cloudwatch.Stats.MAXIMUM,
      }),
    ),
    automaticRefusals: alarm(
      'AutomaticRefusals',
      'an automatic failover was refused: a service may be down and nobody moved its address',
      own('AutomaticRefusals'),
    ),
    notifyFailed: alarm(
      'NotifyFailed',
      'an outcome could not be published to the notification topic: read the function logs for what happened',
      own('NotifyFailed'),
    ),
    notRedundant: alarm(
      'NotRedundant',
      'a pair has lost its redundancy: the member that does not hold the ENI could not take it now (stopped, impaired or failing a check); the metric Redundant by Pair says which',
      own('NotRedundant'),
    ),
    unattached: alarm(
      'Unattached',
      'an ENI is attached to no one: its address is down until the function attaches it; the metric Attached by Pair says which',
      own('Unattached'),
    ),
  };
}
