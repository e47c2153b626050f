import { Duration, type RemovalPolicy, Stack } from 'aws-cdk-lib';
import type * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import type * as events from 'aws-cdk-lib/aws-events';
import type * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { SqsDestination } from 'aws-cdk-lib/aws-lambda-destinations';
import type * as logs from 'aws-cdk-lib/aws-logs';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as subs from 'aws-cdk-lib/aws-sns-subscriptions';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { ENV, type Pair } from '../lambda/config.ts';
import {
  type AssociationProvider,
  applicationChecks,
  applicationStatusChecks,
  withApplicationCheckIds,
} from './application-checks.ts';
import { PREBUILT_HANDLER, prebuiltCode } from './bundling.ts';
import { rebalanceRules, reconcileRule, stateChangeRules, statusCheckAlarms } from './detection.ts';
import { allowFailover, logsAndRole } from './function-role.ts';
import { functionConfig, valuesProblems } from './grouping.ts';
import { functionErrorsAlarm, METRICS_NAMESPACE } from './self-monitoring.ts';
import { allowAlarmsToPublish } from './topics.ts';

/** The function's pairs file, in its code (FAILOVER_PAIRS_FILE). */
export const PAIRS_FILE = 'pairs.json';

export interface FailoverFunctionProps {
  readonly pairs: readonly Pair[];
  /** Encrypts the alarm topic when the function makes its own (undefined only when alarmTopic is given). */
  readonly key: kms.IKey | undefined;
  readonly notificationTopic: sns.ITopic;
  /** The alarm topic given to the construct, shared by its functions; undefined: the function makes its own. */
  readonly alarmTopic?: sns.ITopic;
  readonly deadLetterQueue: sqs.IQueue;
  readonly datapoints: number;
  readonly timeout: Duration;
  readonly retryAttempts: number;
  readonly reservedConcurrency: number | undefined;
  /** POWERTOOLS_SERVICE_NAME: the `service` dimension of every metric, one per construct. */
  readonly serviceName: string;
  readonly logRetention: logs.RetentionDays;
  /** What becomes of the log group when the stack goes. */
  readonly removalPolicy: RemovalPolicy;
  /** How often a reconcile round runs; false for none. */
  readonly reconcileSchedule: Duration | false;
  /** Associates application status checks; set when any pair of the construct has one. */
  readonly associations: AssociationProvider | undefined;
  /** The construct's pair-state table (FAILOVER_STATE_TABLE). */
  readonly stateTable: dynamodb.ITable;
}

/**
 * One failover function and its detection, for a group of pairs: its role, logs, alarm topic, the
 * status-check alarms of its instances, the state-change rule for them, its reconcile schedule, and the
 * application status checks (and their alarms) of the pairs that ask for one.
 */
export class FailoverFunction extends Construct {
  readonly function: lambda.Function;
  /** CloudWatch alarms publish here; the function is subscribed. */
  readonly alarmTopic: sns.ITopic;
  readonly pairs: readonly Pair[];
  /** The customer managed policies of the pairs' permissions (one per policy slot): the function depends on each. */
  readonly policies: iam.ManagedPolicy[];
  /** The function's Errors alarm (to the notification topic). */
  readonly errorsAlarm: cloudwatch.Alarm;
  /** The rule that runs a reconcile round on a schedule; undefined when the schedule is off. */
  readonly reconcileSchedule: events.Rule | undefined;
  /** The rules that deliver EC2 state changes to the function: one per rule slot of its pairs (lib/grouping.ts). */
  readonly stateChangeRules: events.Rule[];
  /** The rules that deliver rebalance recommendations, for pairs with moveOnRebalance: one per rule slot that holds one. */
  readonly rebalanceRules: events.Rule[];

  constructor(scope: Construct, id: string, props: FailoverFunctionProps) {
    super(scope, id);
    const stack = Stack.of(this);
    const { pairs, deadLetterQueue } = props;
    this.pairs = pairs;

    // Logs to its own group, then the EC2 calls below.
    const { logGroup, role } = logsAndRole(this, props.logRetention, props.removalPolicy);
    // Before the function: its pairs file names each check the stack makes by its ID (a token, so the ID itself
    // travels in FAILOVER_VALUES).
    const checks = props.associations
      ? applicationStatusChecks(this, pairs, props.associations.serviceName)
      : new Map();
    const given = withApplicationCheckIds(pairs, checks);

    // The pairs go in a file beside the code: Lambda's 4 KB environment holds about 20. A file cannot hold what
    // CloudFormation resolves at deploy (a token), so those values go to the environment, named in the file.
    const config = functionConfig(given);
    // The construct checks its props' pairs at once (EniFailover); this checks what the function is finally given,
    // with the application check IDs the stack added.
    this.node.addValidation({ validate: () => valuesProblems(given, `function ${this.node.path}`) });
    this.function = new lambda.Function(this, 'Function', {
      // Prebuilt with the SDK in it (lib/bundling.ts): the version tested and benchmarked, not the runtime's.
      code: prebuiltCode(pairs.some((p) => p.verifyOs) ? 'handler-os-check' : 'handler', {
        [PAIRS_FILE]: config.file,
      }),
      handler: PREBUILT_HANDLER,
      runtime: lambda.Runtime.NODEJS_24_X,
      architecture: lambda.Architecture.ARM_64,
      memorySize: 512,
      timeout: props.timeout,
      role,
      logGroup,
      tracing: lambda.Tracing.ACTIVE,
      reservedConcurrentExecutions: props.reservedConcurrency,
      retryAttempts: props.retryAttempts,
      maxEventAge: Duration.hours(1),
      onFailure: new SqsDestination(deadLetterQueue),
      environment: {
        [ENV.pairsFile]: PAIRS_FILE,
        ...(config.values.length > 0 ? { [ENV.values]: stack.toJsonString(config.values) } : {}),
        [ENV.topicArn]: props.notificationTopic.topicArn,
        [ENV.stateTable]: props.stateTable.tableName,
        POWERTOOLS_SERVICE_NAME: props.serviceName,
        POWERTOOLS_METRICS_NAMESPACE: METRICS_NAMESPACE,
      },
    });
    props.notificationTopic.grantPublish(this.function);
    // Exactly the item calls lambda/aws/state.ts makes (strongly consistent GetItem, conditional UpdateItem: a
    // condition needs no action of its own), on this table only: no Put, Delete, Scan, Query or BatchWriteItem,
    // and no other table (docs/contract.md, "Pair state").
    props.stateTable.grant(role, 'dynamodb:GetItem', 'dynamodb:UpdateItem');
    // CDK makes the function depend on its role explicitly, though Role's GetAtt already orders them.
    (this.function.node.defaultChild as lambda.CfnFunction).addMetadata('cfn-lint', {
      config: { ignore_checks: ['W3005'] },
    });
    this.policies = allowFailover(this, role, pairs);
    // The function runs only once every policy of its role is in place, on a first create and on every update:
    // CloudFormation creates and updates resources with no dependency between them in parallel (CloudFormation
    // User Guide, "DependsOn attribute"), so a function that waited for its default policy alone could run, or
    // be rehearsed, while a slot's policy was still being made. The role's default and inline policies are its
    // children (CDK's Function depends on the role, so on them); the slot policies are not.
    for (const policy of this.policies) this.function.node.addDependency(policy);

    const ownTopic = props.alarmTopic
      ? undefined
      : new sns.Topic(this, 'AlarmTopic', { masterKey: props.key, enforceSSL: true });
    this.alarmTopic = props.alarmTopic ?? (ownTopic as sns.Topic);
    // On a shared topic the function sees the other functions' alarms too, and ignores them (not its instances).
    this.alarmTopic.addSubscription(new subs.LambdaSubscription(this.function, { deadLetterQueue }));

    const alarms = [
      ...statusCheckAlarms(this, pairs, props.datapoints, this.alarmTopic),
      ...applicationChecks(this, pairs, checks, this.alarmTopic, props.associations),
    ];
    if (ownTopic) allowAlarmsToPublish(ownTopic, alarms);
    this.stateChangeRules = stateChangeRules(this, pairs, this.function, deadLetterQueue);
    this.rebalanceRules = rebalanceRules(this, pairs, this.function, deadLetterQueue);
    this.reconcileSchedule =
      props.reconcileSchedule === false
        ? undefined
        : reconcileRule(this, this.function, deadLetterQueue, props.reconcileSchedule);
    this.errorsAlarm = functionErrorsAlarm(this, this.function, pairs, props.notificationTopic);
  }
}
