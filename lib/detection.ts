import { Duration } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as cwActions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as sns from 'aws-cdk-lib/aws-sns';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import type { Construct } from 'constructs';
import { type Pair, PLANNED_DETAIL_TYPES } from '../lambda/config.ts';
import { membersOf } from './arns.ts';
import { bySlot, checkable, slotOf } from './grouping.ts';

/** The EC2 states that mean an instance has failed (the contract's event 3). */
const FAILED_STATES = ['stopping', 'stopped', 'shutting-down', 'terminated'];

/** Detection 1: status checks, for both members of every pair (their roles swap after a failover). */
export function statusCheckAlarms(
  scope: Construct,
  pairs: readonly Pair[],
  datapoints: number,
  alarmTopic: sns.ITopic,
): cloudwatch.Alarm[] {
  const alarms: cloudwatch.Alarm[] = [];
  for (const pair of pairs) {
    for (const [role, instanceId] of [
      ['Primary', pair.primaryInstanceId],
      ['Standby', pair.standbyInstanceId],
    ] as const) {
      const alarm = new cloudwatch.Alarm(scope, `${pair.name}${role}StatusCheck`, {
        alarmDescription: `eni-failover ${pair.name}: StatusCheckFailed on the ${role.toLowerCase()} ${instanceId}`,
        metric: new cloudwatch.Metric({
          namespace: 'AWS/EC2',
          metricName: 'StatusCheckFailed',
          dimensionsMap: { InstanceId: instanceId },
          statistic: cloudwatch.Stats.MAXIMUM,
          period: Duration.minutes(1),
        }),
        threshold: 1,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        evaluationPeriods: datapoints,
        datapointsToAlarm: datapoints,
        // A stopped instance sends no datapoints: the state-change rule catches it instead.
        treatMissingData: cloudwatch.TreatMissingData.MISSING,
      });
      alarm.addAlarmAction(new cwActions.SnsAction(alarmTopic));
      alarms.push(alarm);
    }
  }
  return alarms;
}

/**
 * Detection 3: a reconcile round on a schedule, the backstop for whatever the events and alarms miss (an alarm
 * that stays in ALARM runs its actions only once; a cool-down refusal; retries that all failed). An EventBridge
 * scheduled rule, like the state-change rule: the same target, retry and dead-letter queue, and a Lambda
 * permission scoped to the rule's ARN, with no role to assume. A round older than one period is superseded by
 * the next, so it is retried only within the period (at least EventBridge's minimum of 60 s).
 */
export function reconcileRule(
  scope: Construct,
  fn: lambda.IFunction,
  deadLetterQueue: sqs.IQueue,
  every: Duration,
): events.Rule {
  return new events.Rule(scope, 'ReconcileSchedule', {
    description: `eni-failover: a reconcile round every ${every.toHumanString()}`,
    schedule: events.Schedule.rate(every),
    targets: [
      new targets.LambdaFunction(fn, {
        event: events.RuleTargetInput.fromObject({ action: 'reconcile' }),
        retryAttempts: 2,
        maxEventAge: Duration.seconds(Math.max(60, Math.min(every.toSeconds(), 86_400))),
        deadLetterQueue,
      }),
    ],
  });
}

/** EventBridge's quota for an event pattern, in characters, unless raised (EventBridge User Guide, "Quotas"). */
export const EVENT_PATTERN_CHARS = 2_048;

/**
 * The state-change pattern for these instances, as EventBridge stores it: stops and terminations, and Spot
 * interruption warnings. An EC2 state change carries `state`, a Spot warning `instance-action` (EC2 User Guide,
 * "Spot Instance interruption notices"), and `$or` keeps each to its own, so the warnings cost no rule of their own.
 */
const stateChangePattern = (instances: readonly string[]) => ({
  source: ['aws.ec2'],
  'detail-type': ['EC2 Instance State-change Notification', PLANNED_DETAIL_TYPES['spot-interruption']],
  detail: {
    'instance-id': instances,
    $or: [{ state: FAILED_STATES }, { 'instance-action': [{ exists: true }] }],
  },
});

/** Every rule slot of a function whose instances would not fit one event pattern, named, with what to do. */
export function ruleProblems(pairs: readonly Pair[], which: string): string[] {
  return bySlot(checkable(pairs), slotOf).flatMap(([slot, members]) => {
    const chars = JSON.stringify(stateChangePattern(membersOf(members))).length;
    return chars <= EVENT_PATTERN_CHARS
      ? []
      : [
          `${which}: the instances of ${members.length} pairs (${members.map((p) => p.name).join(', ')}), which share state-change rule slot ${slot} by a hash of their names, make a ${chars.toLocaleString('en')}-character event pattern, over EventBridge's ${EVENT_PATTERN_CHARS.toLocaleString('en')}: give some of these pairs a "group" (a function of their own)`,
        ];
  });
}

/**
 * Detection 2: stops and terminations within seconds, and Spot interruption warnings two minutes ahead
 * (docs/contract.md events 3 and 7), straight to the function. One rule per rule slot of the function's pairs
 * (lib/grouping.ts), so that each pattern stays within EventBridge's size and a pair added or removed changes
 * only its own slot's rule; the warnings share it, so they cost no resource of their own (a stack holds at most 500).
 */
export function stateChangeRules(
  scope: Construct,
  pairs: readonly Pair[],
  fn: lambda.IFunction,
  deadLetterQueue: sqs.IQueue,
): events.Rule[] {
  return bySlot(pairs, slotOf).map(([slot, members]) => {
    const pattern = stateChangePattern(membersOf(members));
    return new events.Rule(scope, `StateChangeRule${slot}`, {
      description:
        'eni-failover: a protected instance is stopping or terminating, or a Spot interruption is announced',
      eventPattern: { source: pattern.source, detailType: pattern['detail-type'], detail: pattern.detail },
      targets: [
        new targets.LambdaFunction(fn, {
          retryAttempts: 4,
          maxEventAge: Duration.hours(1),
          deadLetterQueue,
        }),
      ],
    });
  });
}

/**
 * Rebalance recommendations (docs/contract.md event 7), only for the members of pairs with `moveOnRebalance`, so that
 * the others' never invoke the function: one rule per rule slot that holds such a pair (the state-change rules'
 * slots, so its pattern is never larger than that slot's state-change pattern), none when no pair asks for them.
 */
export function rebalanceRules(
  scope: Construct,
  pairs: readonly Pair[],
  fn: lambda.IFunction,
  deadLetterQueue: sqs.IQueue,
): events.Rule[] {
  return bySlot(
    pairs.filter((p) => p.moveOnRebalance),
    slotOf,
  ).map(
    ([slot, members]) =>
      new events.Rule(scope, `RebalanceRule${slot}`, {
        description: 'eni-failover: a protected Spot Instance is at elevated risk of interruption',
        eventPattern: {
          source: ['aws.ec2'],
          detailType: [PLANNED_DETAIL_TYPES['rebalance-recommendation']],
          detail: { 'instance-id': membersOf(members) },
        },
        targets: [
          new targets.LambdaFunction(fn, {
            retryAttempts: 4,
            maxEventAge: Duration.hours(1),
            deadLetterQueue,
          }),
        ],
      }),
  );
}
