import { Duration, Stack, Tags, Token } from 'aws-cdk-lib';
import type * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import type * as fis from 'aws-cdk-lib/aws-fis';
import type * as kms from 'aws-cdk-lib/aws-kms';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as subs from 'aws-cdk-lib/aws-sns-subscriptions';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { ConfigError } from '../lambda/config';
import { AssociationProvider, applicationCheckProblems } from './application-checks';
import { failoverDashboard } from './dashboard';
import { experimentTemplates } from './experiments';
import { FailoverFunction } from './failover-function';
import { groupPairs, groupProblems } from './grouping';
import { type EniFailoverProps, propsProblems } from './props';
import { type ServiceAlarms, serviceAlarms } from './self-monitoring';
import { allowAlarmsToPublish, deadLetterQueue, topicKey } from './topics';

export { FailoverFunction } from './failover-function';
export { groupPairs, PAIRS_ENV_BUDGET } from './grouping';
export type { EniFailoverProps } from './props';

/** The tag every resource of the construct carries; its value is the construct's service name. */
export const TAG = 'eni-failover';

/** `<stack name>-<path in the stack>`, in the characters a service name allows. */
function defaultServiceName(scope: Construct): string {
  const stack = Stack.of(scope);
  const inStack = scope.node.scopes.slice(scope.node.scopes.indexOf(stack) + 1).map((c) => c.node.id);
  const parts = Token.isUnresolved(stack.stackName) ? inStack : [stack.stackName, ...inStack];
  return parts
    .join('-')
    .replace(/[^A-Za-z0-9_-]/g, '-')
    .slice(0, 100);
}

/**
 * Keeps each pair's service address alive: status-check alarms and EC2 state-change events trigger a
 * function that moves the pair's secondary ENI to the healthy member, with every check first.
 *
 * The parts, one file each: props.ts (props and their validation), grouping.ts (pairs per function),
 * failover-function.ts (a function and its topic), function-role.ts (its permissions), detection.ts
 * (status-check alarms, state-change rule, reconcile schedule), application-checks.ts (EC2 application status
 * checks, their associations and alarms), dashboard.ts, topics.ts (key, dead-letter queue, who may publish),
 * experiments.ts (FIS), self-monitoring.ts (alarms on the service itself).
 */
export class EniFailover extends Construct {
  /** The `service` dimension of the functions' metrics, and the value of every resource's `eni-failover` tag. */
  readonly serviceName: string;
  /** One function per group of pairs (the pairs' `group`; those without one share the first), each within Lambda's 4 KB environment. */
  readonly shards: FailoverFunction[];
  /** Every outcome is published here; the service's own alarms too. */
  readonly notificationTopic: sns.Topic;
  /** Whatever could not be delivered or processed: SNS deliveries, EventBridge targets, failed invocations. */
  readonly deadLetterQueue: sqs.Queue;
  readonly key: kms.Key;
  /** The alarms on the service itself (to the notification topic). */
  readonly alarms: ServiceAlarms;
  /** Every pair's state, moves and durations, and the service's own figures. */
  readonly dashboard: cloudwatch.Dashboard;
  /** The FIS experiment templates, by pair name (see `experiments`). */
  readonly experiments: Record<string, fis.CfnExperimentTemplate>;

  constructor(scope: Construct, id: string, props: EniFailoverProps) {
    super(scope, id);
    const problems = [
      ...propsProblems(props),
      ...groupProblems(props.pairs),
      ...applicationCheckProblems(props.pairs),
    ];
    // A ConfigError, as for a bad pairs list: the CDK app prints it without a stack trace.
    if (problems.length > 0) throw new ConfigError(problems.map((p) => `${this.node.path}: ${p}`));
    const pairs = props.pairs;
    this.serviceName = props.serviceName ?? defaultServiceName(this);
    Tags.of(this).add(TAG, this.serviceName);

    this.key = topicKey(this, this.serviceName);
    this.deadLetterQueue = deadLetterQueue(this);
    this.notificationTopic = new sns.Topic(this, 'NotificationTopic', {
      masterKey: this.key,
      enforceSSL: true,
    });
    for (const email of props.notificationEmails ?? [])
      this.notificationTopic.addSubscription(new subs.EmailSubscription(email));

    const logRetention = props.logRetention ?? logs.RetentionDays.THREE_MONTHS;
    const associations = pairs.some((p) => p.applicationCheck)
      ? new AssociationProvider(this, 'ApplicationCheckAssociations', logRetention)
      : undefined;
    // The construct ID (and so every logical ID under it) comes from the group's name, never its position.
    this.shards = groupPairs(pairs).map(
      ({ group, pairs: members }) =>
        new FailoverFunction(this, group === undefined ? 'Failover' : `Failover-${group}`, {
          pairs: members,
          key: this.key,
          notificationTopic: this.notificationTopic,
          deadLetterQueue: this.deadLetterQueue,
          datapoints: props.alarmDatapoints ?? 1,
          timeout: props.timeout ?? Duration.minutes(5),
          retryAttempts: props.retryAttempts ?? 2,
          reservedConcurrency: props.reservedConcurrency,
          logRetention,
          serviceName: this.serviceName,
          reconcileSchedule: props.reconcileSchedule ?? Duration.minutes(1),
          associations,
        }),
    );

    this.alarms = serviceAlarms(this, this.serviceName, this.deadLetterQueue, this.notificationTopic);
    allowAlarmsToPublish(this.notificationTopic, [
      ...this.shards.map((s) => s.errorsAlarm),
      ...Object.values(this.alarms),
    ]);
    this.dashboard = failoverDashboard(this, this.serviceName, pairs);
    this.experiments = experimentTemplates(
      this,
      pairs.filter((p) => props.experiments?.includes(p.name)),
      this.alarms.automaticRefusals,
      props.experimentRestartAfter,
    );
  }
}
