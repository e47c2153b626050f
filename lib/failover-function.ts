import { Duration, Stack } from 'aws-cdk-lib';
import type * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import type * as events from 'aws-cdk-lib/aws-events';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { SqsDestination } from 'aws-cdk-lib/aws-lambda-destinations';
import * as nodejs from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as subs from 'aws-cdk-lib/aws-sns-subscriptions';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { ENV, type Pair } from '../lambda/config';
import { type AssociationProvider, applicationChecks } from './application-checks';
import { BUNDLING, HANDLER_ENTRY, OS_CHECK_ENTRY } from './bundling';
import { reconcileRule, stateChangeRule, statusCheckAlarms } from './detection';
import { allowFailover } from './function-role';
import { withoutGroup } from './grouping';
import { functionErrorsAlarm, METRICS_NAMESPACE } from './self-monitoring';
import { allowAlarmsToPublish } from './topics';

export interface FailoverFunctionProps {
  readonly pairs: readonly Pair[];
  readonly key: kms.IKey;
  readonly notificationTopic: sns.ITopic;
  readonly deadLetterQueue: sqs.IQueue;
  readonly datapoints: number;
  readonly timeout: Duration;
  readonly retryAttempts: number;
  readonly reservedConcurrency: number | undefined;
  /** POWERTOOLS_SERVICE_NAME: the `service` dimension of every metric, one per construct. */
  readonly serviceName: string;
  readonly logRetention: logs.RetentionDays;
  /** How often a reconcile round runs; false for none. */
  readonly reconcileSchedule: Duration | false;
  /** Associates application status checks; set when any pair of the construct has one. */
  readonly associations: AssociationProvider | undefined;
}

/**
 * One failover function and its detection, for a group of pairs: its role, logs, alarm topic, the
 * status-check alarms of its instances, the state-change rule for them, its reconcile schedule, and the
 * application status checks (and their alarms) of the pairs that ask for one.
 */
export class FailoverFunction extends Construct {
  readonly function: nodejs.NodejsFunction;
  /** CloudWatch alarms publish here; the function is subscribed. */
  readonly alarmTopic: sns.Topic;
  readonly pairs: readonly Pair[];
  /** The function's Errors alarm (to the notification topic). */
  readonly errorsAlarm: cloudwatch.Alarm;
  /** The rule that runs a reconcile round on a schedule; undefined when the schedule is off. */
  readonly reconcileSchedule: events.Rule | undefined;

  constructor(scope: Construct, id: string, props: FailoverFunctionProps) {
    super(scope, id);
    const stack = Stack.of(this);
    const { pairs, deadLetterQueue } = props;
    this.pairs = pairs;

    const logGroup = new logs.LogGroup(this, 'LogGroup', {
      retention: props.logRetention,
    });
    // A role of our own, so that it holds no managed policy: logs to this group, the EC2 calls below.
    const role = new iam.Role(this, 'Role', { assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com') });
    logGroup.grantWrite(role);

    this.function = new nodejs.NodejsFunction(this, 'Function', {
      entry: pairs.some((p) => p.verifyOs) ? OS_CHECK_ENTRY : HANDLER_ENTRY,
      handler: 'handler',
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
        [ENV.pairs]: stack.toJsonString(withoutGroup(pairs)),
        [ENV.topicArn]: props.notificationTopic.topicArn,
        POWERTOOLS_SERVICE_NAME: props.serviceName,
        POWERTOOLS_METRICS_NAMESPACE: METRICS_NAMESPACE,
      },
      bundling: {
        format: nodejs.OutputFormat.ESM,
        target: BUNDLING.target,
        mainFields: [...BUNDLING.mainFields],
        minify: BUNDLING.minify,
        banner: BUNDLING.banner,
        // The SDK is bundled, not taken from the runtime: its version is the one tested and benchmarked.
        externalModules: [],
        sourceMap: false,
        logLevel: nodejs.LogLevel.ERROR,
      },
    });
    props.notificationTopic.grantPublish(this.function);
    // CDK makes the function depend on its role explicitly, though Role's GetAtt already orders them.
    (this.function.node.defaultChild as lambda.CfnFunction).addMetadata('cfn-lint', {
      config: { ignore_checks: ['W3005'] },
    });
    allowFailover(role, pairs);

    this.alarmTopic = new sns.Topic(this, 'AlarmTopic', { masterKey: props.key, enforceSSL: true });
    this.alarmTopic.addSubscription(new subs.LambdaSubscription(this.function, { deadLetterQueue }));

    allowAlarmsToPublish(this.alarmTopic, [
      ...statusCheckAlarms(this, pairs, props.datapoints, this.alarmTopic),
      ...applicationChecks(this, pairs, this.alarmTopic, props.associations),
    ]);
    stateChangeRule(this, pairs, this.function, deadLetterQueue);
    this.reconcileSchedule =
      props.reconcileSchedule === false
        ? undefined
        : reconcileRule(this, this.function, deadLetterQueue, props.reconcileSchedule);
    this.errorsAlarm = functionErrorsAlarm(this, this.function, pairs, props.notificationTopic);
  }
}
