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

/** Metrics a metric-math alarm may hold: a heartbeat alarm watches at most this many functions. */
const METRICS_PER_ALARM = 10;

/**
 * The heartbeat of the reconcile rounds: an alarm when a function's rounds stop reporting. A round observes every
 * pair of its function and publishes `Attached` for each (lambda/telemetry.ts), so the sample count of each
 * function's first pair proves that function's round ran to its end: the schedule fired, Lambda ran the function
 * (not throttled, not failing at init), and it could read EC2. One alarm watches up to ten functions: the minimum
 * over them, each function's silence filled with 0 (FILL), so one function stopped is enough; missing data is
 * breaching too. Two periods of at least 5 minutes (EMF metrics may arrive a minute or two late): it fires after
 * about 10 minutes without a round (a 1-minute schedule), or two missed rounds of a longer one. CloudWatch
 * evaluates at most a day (evaluation periods x period): past a 12-hour schedule no heartbeat is made.
 */
export function heartbeatAlarms(
  scope: Construct,
  serviceName: string,
  functions: readonly (readonly Pair[])[],
  every: Duration,
  notificationTopic: sns.ITopic,
): cloudwatch.Alarm[] {
  const period = Math.max(every.toSeconds(), 300);
  const firsts = functions.flatMap((pairs) => (pairs[0] ? [pairs[0]] : []));
  if (firsts.length === 0 || period * 2 > 86_400) return [];
  const alarms: cloudwatch.Alarm[] = [];
  for (let from = 0; from < firsts.length; from += METRICS_PER_ALARM) {
    const watched = firsts.slice(from, from + METRICS_PER_ALARM);
    const usingMetrics = Object.fromEntries(
      watched.map((pair, i) => [
        `f${i}`,
        new cloudwatch.Metric({
          namespace: METRICS_NAMESPACE,
          metricName: 'Attached',
          dimensionsMap: { service: serviceName, Pair: pair.name },
          statistic: cloudwatch.Stats.SAMPLE_COUNT,
          period: Duration.seconds(period),
        }),
      ]),
    );
    const filled = Object.keys(usingMetrics).map((id) => `FILL(${id}, 0)`);
    const alarm = new cloudwatch.Alarm(
      scope,
      from === 0 ? 'Heartbeat' : `Heartbeat${from / METRICS_PER_ALARM + 1}`,
      {
        alarmDescription: `eni-failover ${serviceName}: the reconcile rounds of a function stopped reporting for ${(2 * period) / 60} minutes (its schedule disabled or deleted, the function failing or throttled, or EC2 unreadable): nothing heals its pairs until rounds resume. The metric Attached (SampleCount) of each function's first pair (${watched.map((p) => p.name).join(', ')}) shows which; read that function's logs and its ReconcileSchedule rule`,
        metric: new cloudwatch.MathExpression({
          expression: filled.length === 1 ? (filled[0] as string) : `MIN([${filled.join(', ')}])`,
          usingMetrics,
          period: Duration.seconds(period),
          label: 'reconcile rounds of the quietest function',
        }),
        threshold: 1,
        comparisonOperator: cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
        evaluationPeriods: 2,
        datapointsToAlarm: 2,
        treatMissingData: cloudwatch.TreatMissingData.BREACHING,
      },
    );
    alarm.addAlarmAction(new cwActions.SnsAction(notificationTopic));
    // Back to OK is news too: rounds resumed.
    alarm.addOkAction(new cwActions.SnsAction(notificationTopic));
    alarms.push(alarm);
  }
  return alarms;
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
  /** A rehearsal (daily, or at a deploy) found a pair whose move would fail: a call refused or a check failing. */
  readonly notReady: cloudwatch.Alarm;
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
    // New dead letters, not the queue's depth: a depth alarm stays in ALARM until someone empties the queue, and an
    // alarm acts only on a change of state, so later dead letters would notify no one. Every dead letter here is
    // sent (SNS, EventBridge and Lambda's on-failure destination call SendMessage), so NumberOfMessagesSent counts
    // it (SQS Developer Guide, "Available CloudWatch metrics for Amazon SQS": only messages moved by a queue's own
    // redrive policy are not counted, and no queue redrives into this one).
    deadLetters: alarm(
      'DeadLetters',
      'an event could not be delivered or processed; read the dead-letter queue (this alarm fires again for each new one)',
      deadLetterQueue.metricNumberOfMessagesSent({
        period: Duration.minutes(5),
        statistic: cloudwatch.Stats.SUM,
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
    notReady: alarm(
      'NotReady',
      'a rehearsal found a pair that is not ready: a move would be refused (a permission, a check); the metric Ready by Pair says which, and npm run drill -- rehearse says why',
      own('NotReady'),
    ),
  };
}

/** The prober's own health (issue 17), on the on-call path (the notification topic). */
export interface ProberAlarms {
  /** A run failed, or a status or Invoke call of it did: probes or evidence may be missing. */
  readonly errors: cloudwatch.Alarm;
  /** The prober cannot reach either member of a pair: its own path, or both members, are down. */
  readonly blind: cloudwatch.Alarm;
  /** No run started in 3 minutes: nothing detects in seconds (the status-check alarms still do). */
  readonly silent: cloudwatch.Alarm;
}

export function proberAlarms(
  scope: Construct,
  serviceName: string,
  fn: lambda.IFunction,
  notificationTopic: sns.ITopic,
): ProberAlarms {
  const own = (metricName: string) =>
    new cloudwatch.Metric({
      namespace: METRICS_NAMESPACE,
      metricName,
      dimensionsMap: { service: serviceName },
      statistic: cloudwatch.Stats.SUM,
      period: Duration.minutes(1),
    });
  const prefix = `eni-failover ${serviceName} prober`;
  const errors = new cloudwatch.MathExpression({
    expression: 'FILL(lambdaErrors, 0) + FILL(probeErrors, 0)',
    usingMetrics: {
      lambdaErrors: fn.metricErrors({ period: Duration.minutes(1), statistic: cloudwatch.Stats.SUM }),
      probeErrors: own('ProbeErrors'),
    },
    period: Duration.minutes(1),
    label: 'prober errors',
  });
  const silent = new cloudwatch.Alarm(scope, 'SilentAlarm', {
    alarmDescription: `${prefix}: no run started in 3 minutes; probe detection is off (status-check alarms still work)`,
    metric: fn.metricInvocations({ period: Duration.minutes(1), statistic: cloudwatch.Stats.SUM }),
    threshold: 1,
    comparisonOperator: cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
    evaluationPeriods: 3,
    treatMissingData: cloudwatch.TreatMissingData.BREACHING,
  });
  silent.addAlarmAction(new cwActions.SnsAction(notificationTopic));
  return {
    errors: alarmOnAny(
      scope,
      'ErrorsAlarm',
      `${prefix}: a run, a status call or an Invoke failed; read the prober's logs`,
      errors,
      notificationTopic,
    ),
    blind: alarmOnAny(
      scope,
      'BlindAlarm',
      `${prefix} cannot reach either member of a pair (its own path, or both members, are down), or has never reached one this run (its security group or listener keeps the prober out); nothing moves on its evidence (the logs say which pair and member)`,
      own('ProbeBlind'),
      notificationTopic,
    ),
    silent,
  };
}

/**
 * A pair's service address has not answered for 3 minutes although the member the ENI is attached to passes its
 * own probes (issue 23): the guest did not bring the interface up (a hot-plug race in amazon-ec2-net-utils or
 * cloud-init), a route or a listener on the ENI's address is wrong. No move cures that, so it pages a person. The
 * prober publishes AddressDownHolderUp, 1 for each probe of the address that failed while the holder passed: the
 * minute's minimum is 1 only when every probe of that minute did. A move's own outage (detach, attach, hot-plug:
 * 20 s to a minute) does not last 3 whole minutes; a prober that does not run publishes nothing (not breaching).
 */
export function addressAlarm(
  scope: Construct,
  serviceName: string,
  pair: string,
  notificationTopic: sns.ITopic,
): cloudwatch.Alarm {
  const alarm = new cloudwatch.Alarm(scope, `AddressAlarm-${pair}`, {
    alarmDescription: `eni-failover ${serviceName}: pair ${pair}'s service address has not answered the prober for 3 minutes although the instance the ENI is attached to passes its own probes: check the interface is up in the guest (docs/operations.md)`,
    metric: new cloudwatch.Metric({
      namespace: METRICS_NAMESPACE,
      metricName: 'AddressDownHolderUp',
      dimensionsMap: { service: serviceName, Pair: pair },
      statistic: cloudwatch.Stats.MINIMUM,
      period: Duration.minutes(1),
    }),
    threshold: 1,
    comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
    evaluationPeriods: 3,
    treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
  });
  alarm.addAlarmAction(new cwActions.SnsAction(notificationTopic));
  return alarm;
}
