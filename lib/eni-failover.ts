import { Duration, RemovalPolicy, Stack, Tags, Token } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import type * as fis from 'aws-cdk-lib/aws-fis';
import type * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as subs from 'aws-cdk-lib/aws-sns-subscriptions';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { ConfigError } from '../lambda/config.ts';
import { AssociationProvider, applicationCheckProblems } from './application-checks.ts';
import { failoverDashboard } from './dashboard.ts';
import { ruleProblems } from './detection.ts';
import { experimentTemplates } from './experiments.ts';
import { FailoverFunction } from './failover-function.ts';
import { policyProblems } from './function-role.ts';
import { groupPairs, groupProblems } from './grouping.ts';
import { Prober } from './prober.ts';
import { type EniFailoverProps, propsProblems } from './props.ts';
import { Rehearsal } from './rehearsal.ts';
import { heartbeatAlarms, METRICS_NAMESPACE, type ServiceAlarms, serviceAlarms } from './self-monitoring.ts';
import {
  allowAlarmsToPublish,
  allowDeadLetters,
  deadLetterQueue,
  deadLetterSources,
  topicKey,
} from './topics.ts';

export { FailoverFunction } from './failover-function.ts';
export { groupPairs, VALUES_ENV_BUDGET } from './grouping.ts';
export type { EniFailoverProps } from './props.ts';

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
 * The pairs' state table (docs/contract.md, "Pair state"): partition key `pk` (a string), no sort key, one item per
 * pair. On-demand: a lease write and a read per move, a fraction of a cent a month per pair, and no capacity to
 * run out of when an AZ fails and every pair moves at once. Point-in-time recovery on (cdk-nag AwsSolutions-DDB3),
 * retained by default: the function never creates it, and a stack deleted and made again must not forget a forced
 * detach or a flapping episode.
 */
function stateTable(scope: Construct, removalPolicy: RemovalPolicy): dynamodb.Table {
  return new dynamodb.Table(scope, 'StateTable', {
    partitionKey: { name: 'pk', type: dynamodb.AttributeType.STRING },
    billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
    // Not the deprecated `pointInTimeRecovery` boolean (aws-cdk-lib, TableProps).
    pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
    removalPolicy,
  });
}

/**
 * Keeps each pair's service address alive: status-check alarms and EC2 state-change events trigger a
 * function that moves the pair's secondary ENI to the healthy member, with every check first.
 *
 * The parts, one file each: props.ts (props and their validation), grouping.ts (pairs per function),
 * failover-function.ts (a function and its topic), function-role.ts (its permissions), detection.ts
 * (status-check alarms, state-change and Spot rule, rebalance rule, reconcile schedule), application-checks.ts (EC2 application status
 * checks, their associations and alarms), dashboard.ts, topics.ts (key, dead-letter queue, who may publish),
 * experiments.ts (FIS), self-monitoring.ts (alarms on the service itself).
 */
export class EniFailover extends Construct {
  /** The `service` dimension of the functions' metrics, and the value of every resource's `eni-failover` tag. */
  readonly serviceName: string;
  /** One function per group of pairs (the pairs' `group`; those without one share the first, however many). */
  readonly shards: FailoverFunction[];
  /** The failover functions, one per group of pairs (see `shards` for each one's pairs, topic and rules). */
  readonly functions: lambda.IFunction[];
  /** Every outcome is published here; the service's own alarms too (the topic given, or the construct's own). */
  readonly notificationTopic: sns.ITopic;
  /** Where the instances' alarms publish: the topic given, else one per function (in the order of `functions`). */
  readonly alarmTopics: sns.ITopic[];
  /** Whatever could not be delivered or processed: SNS deliveries, EventBridge targets, failed invocations. */
  readonly deadLetterQueue: sqs.Queue;
  /** The key of the topics the construct made; undefined when it made none (both topics given). */
  readonly key: kms.IKey | undefined;
  /** The alarms on the service itself (to the notification topic). */
  readonly alarms: ServiceAlarms;
  /**
   * In ALARM when a function's reconcile rounds stop reporting (to the notification topic): one alarm per ten
   * functions; none when `reconcileSchedule` is off or longer than 12 hours.
   */
  readonly heartbeats: cloudwatch.Alarm[];
  /** Every pair's state, moves and durations, and the service's own figures. */
  readonly dashboard: cloudwatch.Dashboard;
  /** The FIS experiment templates, by pair name (see `experiments`). */
  readonly experiments: Record<string, fis.CfnExperimentTemplate>;
  /** The prober in the pairs' VPC, when `probe` is given (issue 17). */
  readonly prober: Prober | undefined;
  /**
   * The pairs' state (docs/contract.md, "Pair state"): one table per construct, one item per pair, which every
   * failover function reads and writes (FAILOVER_STATE_TABLE). Kept by `removalPolicy`.
   */
  readonly stateTable: dynamodb.Table;
  /** The rehearsal: at every deploy (a custom resource that fails the deploy when a pair is not ready) and daily. */
  readonly rehearsal: Rehearsal;
  private readonly pairNames: readonly string[];

  constructor(scope: Construct, id: string, props: EniFailoverProps) {
    super(scope, id);
    const problems = [
      ...propsProblems(props),
      ...groupProblems(props.pairs),
      ...groupPairs(props.pairs).flatMap(({ group, pairs: members }) => {
        const which = group === undefined ? 'the pairs without a "group"' : `group ${JSON.stringify(group)}`;
        return [...policyProblems(members, which), ...ruleProblems(members, which)];
      }),
      ...applicationCheckProblems(props.pairs),
    ];
    // A ConfigError, as for a bad pairs list: the CDK app prints it without a stack trace.
    if (problems.length > 0) throw new ConfigError(problems.map((p) => `${this.node.path}: ${p}`));
    const pairs = props.pairs;
    this.pairNames = pairs.map((p) => p.name);
    this.serviceName = props.serviceName ?? defaultServiceName(this);
    Tags.of(this).add(TAG, this.serviceName);

    const removalPolicy = props.removalPolicy ?? RemovalPolicy.RETAIN;
    // A key only for topics the construct makes itself.
    this.key =
      props.notificationTopic && props.alarmTopic
        ? undefined
        : topicKey(this, this.serviceName, props.encryptionKey, removalPolicy);
    this.deadLetterQueue = deadLetterQueue(this, removalPolicy);
    this.stateTable = stateTable(this, removalPolicy);
    const deadLetters = deadLetterSources(this, this.deadLetterQueue);
    let ownTopic: sns.Topic | undefined;
    if (props.notificationTopic === undefined) {
      ownTopic = new sns.Topic(this, 'NotificationTopic', { masterKey: this.key, enforceSSL: true });
      for (const email of props.notificationEmails ?? [])
        ownTopic.addSubscription(new subs.EmailSubscription(email));
    }
    this.notificationTopic = props.notificationTopic ?? (ownTopic as sns.Topic);

    const logRetention = props.logRetention ?? logs.RetentionDays.THREE_MONTHS;
    const associations =
      pairs.some((p) => p.applicationCheck) || (props.experiments ?? []).length > 0
        ? new AssociationProvider(
            this,
            'ApplicationCheckAssociations',
            this.serviceName,
            logRetention,
            removalPolicy,
          )
        : undefined;
    // The construct ID (and so every logical ID under it) comes from the group's name, never its position.
    this.shards = groupPairs(pairs).map(
      ({ group, pairs: members }) =>
        new FailoverFunction(this, group === undefined ? 'Failover' : `Failover-${group}`, {
          pairs: members,
          key: this.key,
          notificationTopic: this.notificationTopic,
          alarmTopic: props.alarmTopic,
          deadLetterQueue: deadLetters,
          datapoints: props.alarmDatapoints ?? 1,
          timeout: props.timeout ?? Duration.minutes(5),
          retryAttempts: props.retryAttempts ?? 2,
          reservedConcurrency: props.reservedConcurrency,
          logRetention,
          removalPolicy,
          serviceName: this.serviceName,
          reconcileSchedule: props.reconcileSchedule ?? Duration.minutes(1),
          associations,
          stateTable: this.stateTable,
        }),
    );
    this.functions = this.shards.map((s) => s.function);
    this.rehearsal = new Rehearsal(this, 'Rehearsal', {
      shards: this.shards,
      timeout: props.timeout ?? Duration.minutes(5),
      logRetention,
      removalPolicy,
      deadLetterQueue: deadLetters,
    });
    allowDeadLetters(
      this.deadLetterQueue,
      this.shards.map((s, i) => ({
        alarmTopic: s.alarmTopic,
        rules: [
          ...s.stateChangeRules,
          ...s.rebalanceRules,
          ...(s.reconcileSchedule ? [s.reconcileSchedule] : []),
          // The daily rehearsal's rules serve every function: listed once.
          ...(i === 0 ? this.rehearsal.schedules : []),
        ],
      })),
    );
    this.alarmTopics = props.alarmTopic ? [props.alarmTopic] : this.shards.map((s) => s.alarmTopic);

    this.alarms = serviceAlarms(this, this.serviceName, this.deadLetterQueue, this.notificationTopic);
    const schedule = props.reconcileSchedule ?? Duration.minutes(1);
    this.heartbeats =
      schedule === false
        ? []
        : heartbeatAlarms(
            this,
            this.serviceName,
            this.shards.map((s) => s.pairs),
            schedule,
            this.notificationTopic,
          );
    this.prober = props.probe
      ? new Prober(this, 'Prober', {
          ...props.probe,
          shards: this.shards,
          serviceName: this.serviceName,
          logRetention,
          notificationTopic: this.notificationTopic,
          removalPolicy,
          // Its view across runs, in items of its own (issue 23).
          stateTable: this.stateTable,
        })
      : undefined;
    if (ownTopic) {
      allowAlarmsToPublish(ownTopic, [
        ...this.shards.map((s) => s.errorsAlarm),
        ...this.heartbeats,
        ...Object.values(this.alarms),
        ...(this.prober?.allAlarms() ?? []),
      ]);
    }
    this.dashboard = failoverDashboard(this, this.serviceName, pairs);
    this.experiments = experimentTemplates(
      this,
      pairs.filter((p) => props.experiments?.includes(p.name)),
      this.alarms.automaticRefusals,
      this.serviceName,
      associations,
      props.experimentRestartAfter,
    );
  }

  /**
   * Lets the grantee invoke every failover function: what an operator needs to run drills
   * (`npm run drill`, or `aws lambda invoke` with `{"action":"move","pair":...,"dryRun":true}`).
   */
  grantInvoke(grantee: iam.IGrantable): iam.Grant[] {
    return this.shards.map((s) => s.function.grantInvoke(grantee));
  }

  /**
   * One of the functions' metrics, in this construct's `service` dimension: per pair (`Moved`, `Refused`,
   * `Failed`, `NotifyFailed`, `FailoverDuration`, `Attached`, `Redundant`, `OnStandby`) with `pair`, or for the
   * whole construct (`AutomaticRefusals`, `NotifyFailed`, `NotRedundant`, `Unattached`) without.
   */
  metric(metricName: string, options: EniFailoverMetricOptions = {}): cloudwatch.Metric {
    const { pair, ...rest } = options;
    if (pair !== undefined && !Token.isUnresolved(pair) && !this.pairNames.includes(pair)) {
      throw new ConfigError([
        `${this.node.path}: metric ${metricName} asked for pair ${JSON.stringify(pair)}, which is not a configured pair (${this.pairNames.join(', ')})`,
      ]);
    }
    return new cloudwatch.Metric({
      namespace: METRICS_NAMESPACE,
      metricName,
      dimensionsMap:
        pair === undefined ? { service: this.serviceName } : { service: this.serviceName, Pair: pair },
      statistic: cloudwatch.Stats.SUM,
      period: Duration.minutes(1),
      ...rest,
    });
  }

  /** Moves of the pair's ENI (a sum: one per move). */
  metricMoves(pair: string, options: cloudwatch.MetricOptions = {}): cloudwatch.Metric {
    return this.metric('Moved', { ...options, pair });
  }

  /** Failovers of the pair the function refused, a check failing (a sum). */
  metricRefusals(pair: string, options: cloudwatch.MetricOptions = {}): cloudwatch.Metric {
    return this.metric('Refused', { ...options, pair });
  }

  /** Failovers of the pair that failed part-way (a sum; Lambda retries them). */
  metricFailures(pair: string, options: cloudwatch.MetricOptions = {}): cloudwatch.Metric {
    return this.metric('Failed', { ...options, pair });
  }

  /** How long the pair's moves took, in milliseconds (the maximum, unless `statistic` says otherwise). */
  metricFailoverDuration(pair: string, options: cloudwatch.MetricOptions = {}): cloudwatch.Metric {
    return this.metric('FailoverDuration', { statistic: cloudwatch.Stats.MAXIMUM, ...options, pair });
  }

  /** Automatic failovers refused, over every pair: what the `AutomaticRefusals` alarm watches. */
  metricAutomaticRefusals(options: cloudwatch.MetricOptions = {}): cloudwatch.Metric {
    return this.metric('AutomaticRefusals', options);
  }

  /** Pairs whose ENI is attached to no one (the maximum over a round: 1 = an address is down). */
  metricUnattached(options: cloudwatch.MetricOptions = {}): cloudwatch.Metric {
    return this.metric('Unattached', { statistic: cloudwatch.Stats.MAXIMUM, ...options });
  }

  /** Pairs whose other member could not take the ENI now (the maximum over a round). */
  metricNotRedundant(options: cloudwatch.MetricOptions = {}): cloudwatch.Metric {
    return this.metric('NotRedundant', { statistic: cloudwatch.Stats.MAXIMUM, ...options });
  }
}

/** Options of `EniFailover.metric`: CloudWatch's, plus the pair whose figure it is. */
export interface EniFailoverMetricOptions extends cloudwatch.MetricOptions {
  /**
   * The pair (by name) whose figure it is.
   * @default - the figure for the whole construct (only the metrics published without a Pair dimension)
   */
  readonly pair?: string;
}
