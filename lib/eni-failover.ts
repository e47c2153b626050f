import { Duration, Stack, Token, Validations } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as cwActions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as fis from 'aws-cdk-lib/aws-fis';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { SqsDestination } from 'aws-cdk-lib/aws-lambda-destinations';
import * as nodejs from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as subs from 'aws-cdk-lib/aws-sns-subscriptions';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { ENV, type Pair, parsePairs } from '../lambda/config';
import { BUNDLING, HANDLER_ENTRY, OS_CHECK_ENTRY } from './bundling';

export interface EniFailoverProps {
  /** The pairs to protect: each a secondary ENI and the two instances that may hold it. IDs may be tokens. */
  readonly pairs: readonly Pair[];
  /**
   * Consecutive 1-minute StatusCheckFailed datapoints that put an instance's alarm in ALARM.
   * @default 1 - as fast as the 1-minute metric allows; the function confirms the failure before moving.
   */
  readonly alarmDatapoints?: number;
  /**
   * Email addresses subscribed to the notification topic (each must confirm its subscription).
   * @default - none
   */
  readonly notificationEmails?: readonly string[];
  /**
   * The function's timeout: it must cover the slowest detach plus the slowest attach.
   * @default Duration.minutes(5)
   */
  readonly timeout?: Duration;
  /**
   * How long the function's logs are kept.
   * @default logs.RetentionDays.THREE_MONTHS
   */
  readonly logRetention?: logs.RetentionDays;
  /**
   * Lambda's retries of an asynchronous invocation that failed (0-2).
   * @default 2
   */
  readonly retryAttempts?: number;
  /**
   * Pairs (by name) that get an AWS Fault Injection Service experiment template: it stops the pair's
   * primary (aws:ec2:stop-instances) and starts it again after `experimentRestartAfter`.
   * @default - none
   */
  readonly experiments?: readonly string[];
  /**
   * How long an experiment keeps the primary stopped before FIS starts it again.
   * @default Duration.minutes(5)
   */
  readonly experimentRestartAfter?: Duration;
}

/**
 * Lambda allows 4 KB of environment in all; FAILOVER_PAIRS may take this much of it. About 20 pairs
 * fit (a pair with 17-digit IDs and a short name is some 160 bytes of JSON), so larger configurations
 * are split across several functions: see shardPairs.
 */
export const PAIRS_ENV_BUDGET = 3_500;
/** The instances of some pairs, each once. */
const membersOf = (pairs: readonly Pair[]) => [
  ...new Set(pairs.flatMap((p) => [p.primaryInstanceId, p.standbyInstanceId])),
];

/** An EC2 resource's ARN in the scope's partition, region and account. */
const ec2Arn = (scope: Construct, type: 'instance' | 'network-interface', id: string) => {
  const stack = Stack.of(scope);
  return `arn:${stack.partition}:ec2:${stack.region}:${stack.account}:${type}/${id}`;
};

const FAILED_STATES = ['stopping', 'stopped', 'shutting-down', 'terminated'];
const EMAIL = /^[^@\s]+@[^@\s]+\.[^@\s]+$/;

/** Unresolved tokens (IDs of resources made in the same app) cannot be checked until deploy: stand-ins can. */
function checkable(pairs: readonly Pair[]): Pair[] {
  let n = 0;
  const standIn = (prefix: string, value: string) =>
    Token.isUnresolved(value) ? `${prefix}-${(n++).toString(16).padStart(17, '0')}` : value;
  return pairs.map((p) => ({
    ...p,
    networkInterfaceId: standIn('eni', p.networkInterfaceId),
    primaryInstanceId: standIn('i', p.primaryInstanceId),
    standbyInstanceId: standIn('i', p.standbyInstanceId),
  }));
}

/**
 * Splits pairs, in order, into groups whose FAILOVER_PAIRS fits PAIRS_ENV_BUDGET: one function each.
 * Token IDs are measured by stand-ins of their deployed length.
 */
export function shardPairs(pairs: readonly Pair[], budget: number = PAIRS_ENV_BUDGET): Pair[][] {
  const sizes = checkable(pairs).map((p) => JSON.stringify(p).length + 1);
  const shards: Pair[][] = [];
  let current: Pair[] = [];
  let used = 1;
  pairs.forEach((pair, i) => {
    const size = sizes[i] as number;
    if (current.length > 0 && used + size > budget) {
      shards.push(current);
      current = [];
      used = 1;
    }
    current.push(pair);
    used += size;
  });
  if (current.length > 0) shards.push(current);
  return shards;
}

interface FailoverFunctionProps {
  readonly pairs: readonly Pair[];
  readonly key: kms.IKey;
  readonly notificationTopic: sns.ITopic;
  readonly deadLetterQueue: sqs.IQueue;
  readonly datapoints: number;
  readonly timeout: Duration;
  readonly retryAttempts: number;
  readonly logRetention: logs.RetentionDays;
}

/**
 * One failover function and its detection, for a group of pairs: its role, logs, alarm topic, the
 * status-check alarms of its instances and the state-change rule for them.
 */
export class FailoverFunction extends Construct {
  readonly function: nodejs.NodejsFunction;
  /** CloudWatch alarms publish here; the function is subscribed. */
  readonly alarmTopic: sns.Topic;
  readonly pairs: readonly Pair[];

  constructor(scope: Construct, id: string, props: FailoverFunctionProps) {
    super(scope, id);
    const stack = Stack.of(this);
    const { pairs, deadLetterQueue } = props;
    this.pairs = pairs;
    const instanceIds = membersOf(pairs);

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
      // One failover at a time per stack: a second event waits in Lambda's queue and then sees the move made.
      reservedConcurrentExecutions: 1,
      retryAttempts: props.retryAttempts,
      maxEventAge: Duration.hours(1),
      onFailure: new SqsDestination(deadLetterQueue),
      environment: {
        [ENV.pairs]: stack.toJsonString(pairs),
        [ENV.topicArn]: props.notificationTopic.topicArn,
        POWERTOOLS_SERVICE_NAME: 'eni-failover',
        POWERTOOLS_METRICS_NAMESPACE: 'EniFailover',
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

    const arn = (type: 'instance' | 'network-interface', id: string) => ec2Arn(this, type, id);
    const eniArns = pairs.map((p) => arn('network-interface', p.networkInterfaceId));
    const instanceArns = instanceIds.map((i) => arn('instance', i));
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: 'MoveTheConfiguredEnisBetweenTheirInstances',
        // Attach and detach are authorized against both the instance and the network interface.
        actions: ['ec2:AttachNetworkInterface', 'ec2:DetachNetworkInterface'],
        resources: [...eniArns, ...instanceArns],
      }),
    );
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: 'KeepAndTagTheConfiguredEnis',
        actions: ['ec2:ModifyNetworkInterfaceAttribute', 'ec2:CreateTags'],
        resources: eniArns,
      }),
    );
    const verified = membersOf(pairs.filter((p) => p.verifyOs));
    if (verified.length > 0) {
      role.addToPrincipalPolicy(
        new iam.PolicyStatement({
          sid: 'AskTheOsOfVerifiedPairs',
          actions: ['ssm:SendCommand'],
          resources: [
            `arn:${stack.partition}:ssm:${stack.region}::document/AWS-RunShellScript`,
            ...verified.map((i) => arn('instance', i)),
          ],
        }),
      );
      role.addToPrincipalPolicy(
        new iam.PolicyStatement({
          sid: 'ReadTheOsAnswer',
          actions: ['ssm:GetCommandInvocation'],
          resources: ['*'],
        }),
      );
    }
    const fenced = membersOf(pairs.filter((p) => p.fence));
    if (fenced.length > 0) {
      role.addToPrincipalPolicy(
        new iam.PolicyStatement({
          sid: 'FenceFailedHoldersOfFencedPairs',
          actions: ['ec2:StopInstances'],
          resources: fenced.map((i) => arn('instance', i)),
        }),
      );
    }
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: 'ObserveEc2',
        actions: [
          'ec2:DescribeNetworkInterfaces',
          'ec2:DescribeInstances',
          'ec2:DescribeInstanceStatus',
          'ec2:DescribeInstanceTypes',
        ],
        resources: ['*'],
      }),
    );
    Validations.of(role).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason:
        'EC2 Describe* and SSM GetCommandInvocation support no resource-level permissions, and X-Ray trace segments (active tracing) have no ARN; every mutating action is scoped to the configured ENIs and instances',
    });
    Validations.of(role).acknowledge({
      id: 'AwsSolutions-IAM5[Action::kms:GenerateDataKey*]',
      reason: 'Granted by topic.grantPublish on the one key that encrypts the notification topic',
    });

    this.alarmTopic = new sns.Topic(this, 'AlarmTopic', { masterKey: props.key, enforceSSL: true });
    this.alarmTopic.addSubscription(new subs.LambdaSubscription(this.function, { deadLetterQueue }));

    // Detection 1: status checks, for both members of every pair (their roles swap after a failover).
    for (const pair of pairs) {
      for (const [role, instanceId] of [
        ['Primary', pair.primaryInstanceId],
        ['Standby', pair.standbyInstanceId],
      ] as const) {
        const alarm = new cloudwatch.Alarm(this, `${pair.name}${role}StatusCheck`, {
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
          evaluationPeriods: props.datapoints,
          datapointsToAlarm: props.datapoints,
          // A stopped instance sends no datapoints: the state-change rule below catches it instead.
          treatMissingData: cloudwatch.TreatMissingData.MISSING,
        });
        alarm.addAlarmAction(new cwActions.SnsAction(this.alarmTopic));
      }
    }

    // Detection 2: stops and terminations, within seconds, straight to the function.
    // A group's instance IDs keep the pattern far below EventBridge's 4096-character limit.
    new events.Rule(this, 'StateChangeRule', {
      description: 'eni-failover: a protected instance is stopping or terminating',
      eventPattern: {
        source: ['aws.ec2'],
        detailType: ['EC2 Instance State-change Notification'],
        detail: { state: FAILED_STATES, 'instance-id': instanceIds },
      },
      targets: [
        new targets.LambdaFunction(this.function, {
          retryAttempts: 4,
          maxEventAge: Duration.hours(1),
          deadLetterQueue,
        }),
      ],
    });

    new cloudwatch.Alarm(this, 'Errors', {
      alarmDescription: `eni-failover: the function for ${pairs.map((p) => p.name).join(', ')} failed (a failover stopped part-way; Lambda retries it)`,
      metric: this.function.metricErrors({ period: Duration.minutes(1), statistic: cloudwatch.Stats.SUM }),
      threshold: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      evaluationPeriods: 1,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    }).addAlarmAction(new cwActions.SnsAction(props.notificationTopic));
  }
}

/**
 * Keeps each pair's service address alive: status-check alarms and EC2 state-change events trigger a
 * function that moves the pair's secondary ENI to the healthy member, with every check first.
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
  readonly experiments: Record<string, fis.CfnExperimentTemplate> = {};

  constructor(scope: Construct, id: string, props: EniFailoverProps) {
    super(scope, id);
    const problems: string[] = [];
    try {
      parsePairs(checkable(props.pairs), 'pairs');
    } catch (error) {
      problems.push(...((error as { problems?: string[] }).problems ?? [(error as Error).message]));
    }
    const datapoints = props.alarmDatapoints ?? 1;
    if (!Number.isInteger(datapoints) || datapoints < 1 || datapoints > 60) {
      problems.push(`alarmDatapoints must be a whole number from 1 to 60, got ${datapoints}`);
    }
    const retryAttempts = props.retryAttempts ?? 2;
    if (!Number.isInteger(retryAttempts) || retryAttempts < 0 || retryAttempts > 2) {
      problems.push(`retryAttempts must be 0, 1 or 2, got ${retryAttempts}`);
    }
    for (const email of props.notificationEmails ?? []) {
      if (!Token.isUnresolved(email) && !EMAIL.test(email))
        problems.push(`notificationEmails has ${JSON.stringify(email)}, not an email address`);
    }
    const timeout = props.timeout ?? Duration.minutes(5);
    if (!timeout.isUnresolved() && (timeout.toSeconds() < 60 || timeout.toSeconds() > 900)) {
      problems.push(`timeout must be from 1 to 15 minutes, got ${timeout.toHumanString()}`);
    }
    for (const name of props.experiments ?? []) {
      if (!props.pairs.some((p) => p.name === name)) {
        problems.push(`experiments names ${JSON.stringify(name)}, which is not a configured pair`);
      }
    }
    if (problems.length > 0)
      throw new Error(`EniFailover ${this.node.path}: invalid props:\n  - ${problems.join('\n  - ')}`);

    const stack = Stack.of(this);
    const pairs = props.pairs;

    // One key for both topics. CloudWatch must be allowed to use it, or alarm notifications are
    // dropped silently: the AWS-managed alias/aws/sns key cannot grant that.
    this.key = new kms.Key(this, 'TopicKey', {
      description: 'eni-failover: encrypts the alarm and notification topics',
      enableKeyRotation: true,
    });
    this.key.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'AllowCloudWatchAlarmsToPublish',
        principals: [new iam.ServicePrincipal('cloudwatch.amazonaws.com')],
        actions: ['kms:Decrypt', 'kms:GenerateDataKey*'],
        resources: ['*'],
        conditions: { StringEquals: { 'aws:SourceAccount': stack.account } },
      }),
    );

    this.deadLetterQueue = new sqs.Queue(this, 'DeadLetterQueue', {
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
    });
    Validations.of(this.deadLetterQueue).acknowledge({
      id: 'AwsSolutions-SQS3',
      reason:
        'This queue is the dead-letter queue (of the SNS subscription, the EventBridge targets and the function)',
    });

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
          datapoints,
          timeout,
          retryAttempts,
          logRetention: props.logRetention ?? logs.RetentionDays.THREE_MONTHS,
        }),
    );

    const experimentPairs = pairs.filter((p) => props.experiments?.includes(p.name));
    if (experimentPairs.length > 0) {
      const instanceArn = (id: string) => ec2Arn(this, 'instance', id);
      const fisRole = new iam.Role(this, 'ExperimentRole', {
        assumedBy: new iam.ServicePrincipal('fis.amazonaws.com'),
      });
      fisRole.addToPrincipalPolicy(
        new iam.PolicyStatement({
          actions: ['ec2:StopInstances', 'ec2:StartInstances'],
          resources: experimentPairs.map((p) => instanceArn(p.primaryInstanceId)),
        }),
      );
      const restartAfter = props.experimentRestartAfter ?? Duration.minutes(5);
      for (const pair of experimentPairs) {
        this.experiments[pair.name] = new fis.CfnExperimentTemplate(this, `${pair.name}Experiment`, {
          description: `eni-failover ${pair.name}: stop the primary; the service address should move to the standby within a minute`,
          roleArn: fisRole.roleArn,
          stopConditions: [{ source: 'none' }],
          targets: {
            primary: {
              resourceType: 'aws:ec2:instance',
              resourceArns: [instanceArn(pair.primaryInstanceId)],
              selectionMode: 'ALL',
            },
          },
          actions: {
            stopPrimary: {
              actionId: 'aws:ec2:stop-instances',
              parameters: { startInstancesAfterDuration: `PT${restartAfter.toSeconds()}S` },
              targets: { Instances: 'primary' },
            },
          },
          tags: { Name: `eni-failover-${pair.name}` },
        });
      }
    }

    // Alarms on the service itself, to the notification topic.
    const notify = new cwActions.SnsAction(this.notificationTopic);
    const selfAlarm = (id: string, description: string, metric: cloudwatch.IMetric) =>
      new cloudwatch.Alarm(this, id, {
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
      this.deadLetterQueue.metricApproximateNumberOfMessagesVisible({
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
}
