import { type Duration, RemovalPolicy, Token } from 'aws-cdk-lib';
import type * as kms from 'aws-cdk-lib/aws-kms';
import type * as logs from 'aws-cdk-lib/aws-logs';
import type * as sns from 'aws-cdk-lib/aws-sns';
import { type Pair, parsePairs } from '../lambda/config.ts';
import { checkable } from './grouping.ts';
import type { ProbeProps } from './prober.ts';

export interface EniFailoverProps {
  /** The pairs to protect: each a secondary ENI and the two instances that may hold it. IDs may be tokens. */
  readonly pairs: readonly Pair[];
  /**
   * Consecutive 1-minute StatusCheckFailed datapoints that put an instance's alarm in ALARM.
   * @default 1 - as fast as the 1-minute metric allows; the function confirms the failure before moving.
   */
  readonly alarmDatapoints?: number;
  /**
   * Where every outcome (moved, refused, failed) and the service's own alarms are published. Bring your own to
   * route them where your team already looks; the construct grants its functions `sns:Publish` on it (and, for
   * a topic imported with `Topic.fromTopicAttributes({ topicArn, keyArn })`, the key's `kms:GenerateDataKey*`
   * and `kms:Decrypt`). The topic's owner must let CloudWatch alarms of this account publish to it, and use its
   * key if it has one (docs/deploying.md, "A topic you give it").
   * @default - a topic of the construct's own, encrypted with `encryptionKey`, that only its alarms and
   * functions may publish to
   */
  readonly notificationTopic?: sns.ITopic;
  /**
   * Where the instances' status-check (and application-check) alarms publish; every failover function is
   * subscribed to it and acts on the alarms of its own pairs only (it ignores other instances). The topic's
   * owner must let CloudWatch alarms of this account publish to it, and use its key if it has one.
   * @default - one topic per failover function, encrypted with `encryptionKey`, that only its alarms may publish to
   */
  readonly alarmTopic?: sns.ITopic;
  /**
   * The key that encrypts the topics the construct makes. The construct adds to its policy the statement that lets
   * CloudWatch alarms of this account use it; a key imported from elsewhere must already allow that (SNS Developer
   * Guide, "Enable compatibility between event sources from AWS services and encrypted topics").
   * @default - a key of the construct's own, with rotation, aliased `alias/eni-failover/<serviceName>` (none when
   * both topics are given)
   */
  readonly encryptionKey?: kms.IKey;
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
   * Reserved concurrency of each failover function. Unset, invocations run in parallel, so that pairs that
   * fail together (a host, an AZ) move together and a drill never waits: the function needs no lock of its
   * own, because every EC2 mutation is conditional on what it observed (detach by the observed attachment
   * ID, attach only an `available` ENI). Set it to cap the EC2 calls a burst can make.
   * @default - none (unreserved: the account's unreserved concurrency)
   */
  readonly reservedConcurrency?: number;
  /**
   * The service name of this construct's functions (POWERTOOLS_SERVICE_NAME): the `service` dimension of
   * their metrics and of the alarms on them, the value of the `eni-failover` tag on every resource, and the
   * name of the key's alias. Two constructs in one account and region need different ones. 1-100 letters,
   * digits, '_' or '-'.
   * @default - the stack name and the construct's path in the stack, joined by '-' (e.g. `EniFailover-EniFailover`)
   */
  readonly serviceName?: string;
  /**
   * How often every failover function runs a reconcile round (`{"action":"reconcile"}`): the backstop that
   * heals what events miss (an alarm still in ALARM, an expired cool-down, failed retries, an attached-EBS
   * failure). Whole minutes, 1 minute or more; `false` turns it off.
   * @default Duration.minutes(1)
   */
  readonly reconcileSchedule?: Duration | false;
  /**
   * Pairs (by name) that get an AWS Fault Injection Service experiment template: it stops the pair's
   * primary (aws:ec2:stop-instances) and starts it again after `experimentRestartAfter`.
   * @default - none
   */
  readonly experiments?: readonly string[];
  /**
   * What `cdk destroy` (or removing the construct) does to what the construct keeps: its topics' key, its log
   * groups and its dead-letter queue. `RemovalPolicy.DESTROY` deletes them with the stack (the key after KMS's
   * 30-day waiting period; a key costs $1 a month until then), for test and demo stacks.
   * @default RemovalPolicy.RETAIN - they outlive the stack: the logs and dead letters of a failover stay readable,
   * and nothing encrypted with the key is lost
   */
  readonly removalPolicy?: RemovalPolicy;
  /**
   * How long an experiment keeps the primary stopped before FIS starts it again.
   * @default Duration.minutes(5)
   */
  readonly experimentRestartAfter?: Duration;
  /**
   * A prober in the pairs' VPC for the pairs with a `probe` option: it probes both members every interval
   * (1 s by default) and hands the failover function its evidence, so that an application that dies on a
   * running instance moves in seconds (docs/contract.md event 8). It reaches the Lambda API through a NAT
   * gateway, or the interface endpoint `lambdaEndpoint` creates.
   * @default - no prober (pairs may not set `probe`)
   */
  readonly probe?: ProbeProps;
}

const EMAIL = /^[^@\s]+@[^@\s]+\.[^@\s]+$/;
/** Fits a CloudWatch dimension value (1,024) and a KMS alias name (256) with room to spare. */
export const SERVICE_NAME = /^[A-Za-z0-9_-]{1,100}$/;

/** Every problem with the props, each naming the prop and the value received; empty when they are valid. */
export function propsProblems(props: EniFailoverProps): string[] {
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
  const reserved = props.reservedConcurrency;
  if (reserved !== undefined && (!Number.isInteger(reserved) || reserved < 1)) {
    problems.push(`reservedConcurrency must be a whole number of 1 or more, got ${reserved}`);
  }
  if (props.notificationEmails?.length && props.notificationTopic) {
    problems.push(
      `notificationEmails (${props.notificationEmails.join(', ')}) subscribe to the construct's own topic, but notificationTopic is given: subscribe them to that topic instead`,
    );
  }
  for (const email of props.notificationEmails ?? []) {
    if (!Token.isUnresolved(email) && !EMAIL.test(email))
      problems.push(`notificationEmails has ${JSON.stringify(email)}, not an email address`);
  }
  const timeout = props.timeout;
  if (timeout && !timeout.isUnresolved() && (timeout.toSeconds() < 60 || timeout.toSeconds() > 900)) {
    problems.push(`timeout must be from 1 to 15 minutes, got ${timeout.toHumanString()}`);
  }
  if (props.serviceName !== undefined && !SERVICE_NAME.test(props.serviceName)) {
    problems.push(
      `serviceName must be 1-100 letters, digits, '_' or '-', got ${JSON.stringify(props.serviceName)}`,
    );
  }
  const every = props.reconcileSchedule;
  if (every !== undefined && every !== false && !every.isUnresolved()) {
    const minutes = every.toSeconds() / 60;
    if (!Number.isInteger(minutes) || minutes < 1)
      problems.push(
        `reconcileSchedule must be whole minutes, 1 minute or more (an EventBridge rate), got ${every.toHumanString()}`,
      );
  }
  const probed = props.pairs.filter((p) => p.probe).map((p) => p.name);
  if (probed.length > 0 && !props.probe)
    problems.push(
      `pairs ${probed.join(', ')} set probe, but the construct has no probe prop ({ vpc }): nothing would probe them`,
    );
  if (props.probe && probed.length === 0)
    problems.push('probe is given, but no pair sets a probe option: the prober would have nothing to probe');
  const removal = props.removalPolicy;
  if (
    removal !== undefined &&
    ![RemovalPolicy.RETAIN, RemovalPolicy.DESTROY, RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE].includes(removal)
  ) {
    problems.push(
      `removalPolicy must be RETAIN, DESTROY or RETAIN_ON_UPDATE_OR_DELETE (a key, log groups and a queue take no snapshot), got ${String(removal)}`,
    );
  }
  for (const name of props.experiments ?? []) {
    if (!props.pairs.some((p) => p.name === name)) {
      problems.push(`experiments names ${JSON.stringify(name)}, which is not a configured pair`);
    }
  }
  return problems;
}
