import { Duration } from 'aws-cdk-lib';
import type * as fis from 'aws-cdk-lib/aws-fis';
import type * as kms from 'aws-cdk-lib/aws-kms';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as subs from 'aws-cdk-lib/aws-sns-subscriptions';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { experimentTemplates } from './experiments';
import { FailoverFunction } from './failover-function';
import { shardPairs } from './grouping';
import { type EniFailoverProps, propsProblems } from './props';
import { serviceAlarms } from './self-monitoring';
import { deadLetterQueue, topicKey } from './topics';

export { FailoverFunction } from './failover-function';
export { PAIRS_ENV_BUDGET, shardPairs } from './grouping';
export type { EniFailoverProps } from './props';

/**
 * Keeps each pair's service address alive: status-check alarms and EC2 state-change events trigger a
 * function that moves the pair's secondary ENI to the healthy member, with every check first.
 *
 * The parts, one file each: props.ts (props and their validation), grouping.ts (pairs per function),
 * failover-function.ts (a function and its topic), function-role.ts (its permissions), detection.ts
 * (status-check alarms, state-change rule), topics.ts (key, dead-letter queue), experiments.ts (FIS),
 * self-monitoring.ts (alarms on the service itself).
 */
export class EniFailover extends Construct {
  /** One function per group of pairs that fits Lambda's 4 KB environment (about 20 pairs each). */
  readonly shards: FailoverFunction[];
  /** Every outcome is published here; the service's own alarms too. */
  readonly notificationTopic: sns.Topic;
  /** Whatever could not be delivered or processed: SNS deliveries, EventBridge targets, failed invocations. */
  readonly deadLetterQueue: sqs.Queue;
  readonly key: kms.Key;
  /** The FIS experiment templates, by pair name (see `experiments`). */
  readonly experiments: Record<string, fis.CfnExperimentTemplate>;

  constructor(scope: Construct, id: string, props: EniFailoverProps) {
    super(scope, id);
    const problems = propsProblems(props);
    if (problems.length > 0)
      throw new Error(`EniFailover ${this.node.path}: invalid props:\n  - ${problems.join('\n  - ')}`);
    const pairs = props.pairs;

    this.key = topicKey(this);
    this.deadLetterQueue = deadLetterQueue(this);
    this.notificationTopic = new sns.Topic(this, 'NotificationTopic', {
      masterKey: this.key,
      enforceSSL: true,
    });
    for (const email of props.notificationEmails ?? [])
      this.notificationTopic.addSubscription(new subs.EmailSubscription(email));

    this.shards = shardPairs(pairs).map(
      (group, i) =>
        new FailoverFunction(this, i === 0 ? 'Failover' : `Failover${i + 1}`, {
          pairs: group,
          key: this.key,
          notificationTopic: this.notificationTopic,
          deadLetterQueue: this.deadLetterQueue,
          datapoints: props.alarmDatapoints ?? 1,
          timeout: props.timeout ?? Duration.minutes(5),
          retryAttempts: props.retryAttempts ?? 2,
          reservedConcurrency: props.reservedConcurrency,
          logRetention: props.logRetention ?? logs.RetentionDays.THREE_MONTHS,
        }),
    );

    this.experiments = experimentTemplates(
      this,
      pairs.filter((p) => props.experiments?.includes(p.name)),
      props.experimentRestartAfter,
    );
    serviceAlarms(this, this.deadLetterQueue, this.notificationTopic);
  }
}
