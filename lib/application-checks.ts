import { CustomResource, Duration, type RemovalPolicy } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as cwActions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import type * as sns from 'aws-cdk-lib/aws-sns';
import { Construct } from 'constructs';
import type { Pair } from '../lambda/config.ts';
import { ec2Arn } from './arns.ts';
import { PREBUILT_HANDLER, prebuiltCode } from './bundling.ts';
import { acknowledge } from './nag.ts';

/** EC2's quota of application status checks per account (EC2 User Guide, "Application status checks", Quotas). */
export const APPLICATION_CHECK_LIMIT = 50;

/** Too many checks for one account, or a pair that both makes a check and names one: named; empty when fine. */
export function applicationCheckProblems(pairs: readonly Pair[]): string[] {
  const checked = pairs.filter((p) => p.applicationCheck);
  const both = pairs
    .filter((p) => p.applicationCheck && p.applicationCheckId !== undefined)
    .map(
      (p) =>
        `pair ${JSON.stringify(p.name)} sets applicationCheck (the stack makes a check) and applicationCheckId (${p.applicationCheckId}, an existing check): give one of them`,
    );
  return checked.length <= APPLICATION_CHECK_LIMIT
    ? both
    : [
        ...both,
        `${checked.length} pairs set applicationCheck, over EC2's quota of ${APPLICATION_CHECK_LIMIT} application status checks per account (one per pair): leave it off the pairs whose service an instance status check covers, or raise the quota (Service Quotas, "Health checks per account") and split the pairs across stacks`,
      ];
}

/**
 * CloudFormation's wait for one association resource: longer than the function's three attempts (Lambda runs
 * an asynchronous invocation up to three times: 2 minutes each, about 1 and 2 minutes apart), far shorter than
 * CloudFormation's default hour (CloudFormation User Guide, AWS::CloudFormation::CustomResource, ServiceTimeout).
 */
export const ASSOCIATION_SERVICE_TIMEOUT = Duration.minutes(10);

/**
 * The custom resources' function: one per construct, whatever the number of checks and experiments (it also
 * writes the tag the experiments select their target by). Its role may associate and
 * disassociate only the construct's checks, and only with the pairs' members (the Service Authorization
 * Reference gives both calls the resource type application-status-check, required, and instance);
 * DescribeApplicationStatusCheckAssociations takes no resource type, so `*`.
 */
export class AssociationProvider extends Construct {
  readonly serviceToken: string;
  /** The statement that names each check and its instances, as the checks are made. */
  private readonly scoped: iam.PolicyStatement;
  /** The statement that names each experiment member, once there is one. */
  private tagging: iam.PolicyStatement | undefined;
  private readonly role: iam.Role;

  constructor(scope: Construct, id: string, logRetention: logs.RetentionDays, removalPolicy?: RemovalPolicy) {
    super(scope, id);
    const logGroup = new logs.LogGroup(this, 'LogGroup', { retention: logRetention, removalPolicy });
    const role = new iam.Role(this, 'Role', { assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com') });
    this.role = role;
    logGroup.grantWrite(role);
    this.scoped = new iam.PolicyStatement({
      sid: 'AssociateTheConstructsChecksWithTheirMembers',
      actions: ['ec2:AssociateApplicationStatusCheck', 'ec2:DisassociateApplicationStatusCheck'],
    });
    // this.scoped joins the policy with the first check: a provider made only for experiments associates nothing.
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: 'ReadAssociationsBack',
        actions: ['ec2:DescribeApplicationStatusCheckAssociations'],
        resources: ['*'],
      }),
    );
    // cfn-lint 1.51 predates these actions (W3037); IAM knows them (EC2 User Guide, "Application status checks").
    (role.node.findChild('DefaultPolicy').node.defaultChild as iam.CfnPolicy).addMetadata('cfn-lint', {
      config: { ignore_checks: ['W3037'] },
    });
    acknowledge(
      role,
      'AwsSolutions-IAM5[Resource::*]',
      "DescribeApplicationStatusCheckAssociations supports no resource-level permissions (Service Authorization Reference); associate and disassociate are scoped to the construct's checks and the pairs' instances",
    );
    const fn = new lambda.Function(this, 'Function', {
      // Prebuilt with the SDK in our lock, which knows the application status check calls; the runtime's may not.
      code: prebuiltCode('app-check-association'),
      handler: PREBUILT_HANDLER,
      runtime: lambda.Runtime.NODEJS_24_X,
      architecture: lambda.Architecture.ARM_64,
      memorySize: 256,
      timeout: Duration.minutes(2),
      role,
      logGroup,
    });
    (fn.node.defaultChild as lambda.CfnFunction).addMetadata('cfn-lint', {
      config: { ignore_checks: ['W3005'] },
    });
    this.serviceToken = fn.functionArn;
  }

  /**
   * The resource that tags both members of an experiment pair with `key` = `value`, the tag its FIS experiment
   * selects the ENI's holder by (lib/experiments.ts; lambda/custom/experiment-targets.ts). The role may write and
   * remove only eni-failover: tags, only on these instances.
   */
  tagExperimentTargets(
    scope: Construct,
    id: string,
    key: string,
    value: string,
    instanceIds: string[],
  ): CustomResource {
    if (this.tagging === undefined) {
      this.tagging = new iam.PolicyStatement({
        sid: 'TagExperimentMembers',
        actions: ['ec2:CreateTags', 'ec2:DeleteTags'],
        conditions: {
          'ForAllValues:StringLike': { 'aws:TagKeys': ['eni-failover:*'] },
          // A DeleteTags without tags deletes them all: require the keys.
          Null: { 'aws:TagKeys': 'false' },
        },
      });
      this.role.addToPrincipalPolicy(this.tagging);
    }
    this.tagging.addResources(...instanceIds.map((i) => ec2Arn(scope, 'instance', i)));
    return new CustomResource(scope, id, {
      serviceToken: this.serviceToken,
      serviceTimeout: ASSOCIATION_SERVICE_TIMEOUT,
      resourceType: 'Custom::ExperimentTargetTags',
      properties: { TagKey: key, TagValue: value, InstanceIds: [...instanceIds].sort() },
    });
  }

  /**
   * The resource that keeps the check associated with exactly these instances. One per check, its physical ID
   * the check's ID (lambda/custom/app-check-association.ts): a change of members updates it in place.
   */
  associate(
    scope: Construct,
    id: string,
    check: ec2.CfnApplicationStatusCheck,
    instanceIds: string[],
  ): CustomResource {
    if (!this.scoped.hasResource) this.role.addToPrincipalPolicy(this.scoped);
    this.scoped.addResources(
      ec2Arn(scope, 'application-status-check', check.attrApplicationStatusCheckId),
      ...instanceIds.map((i) => ec2Arn(scope, 'instance', i)),
    );
    return new CustomResource(scope, id, {
      serviceToken: this.serviceToken,
      serviceTimeout: ASSOCIATION_SERVICE_TIMEOUT,
      resourceType: 'Custom::ApplicationStatusCheckAssociations',
      // Sorted: swapping primary and standby changes no property, so CloudFormation does not even call it.
      properties: {
        ApplicationStatusCheckId: check.attrApplicationStatusCheckId,
        InstanceIds: [...instanceIds].sort(),
      },
    });
  }
}

/**
 * For each pair with `applicationCheck`: an EC2 application status check with the pair's settings, by pair name.
 * Made before the function, whose FAILOVER_PAIRS names each check by its ID (see withApplicationCheckIds). Associated with both
 * members by one resource per check (applicationChecks).
 */
export function applicationStatusChecks(
  scope: Construct,
  pairs: readonly Pair[],
): Map<string, ec2.CfnApplicationStatusCheck> {
  const checks = new Map<string, ec2.CfnApplicationStatusCheck>();
  for (const pair of pairs) {
    const settings = pair.applicationCheck;
    if (!settings) continue;
    const check = new ec2.CfnApplicationStatusCheck(scope, `${pair.name}ApplicationCheck`, {
      protocol: settings.protocol,
      port: settings.port,
      path: settings.path,
      interval: settings.interval,
      timeout: settings.timeout,
      failureThreshold: settings.failureThreshold,
      successThreshold: settings.successThreshold,
      statusCodeMatcher: settings.statusCodeMatcher,
      initializationGracePeriodSeconds: settings.initializationGracePeriodSeconds,
      ipVersion: settings.ipVersion,
      // The member's own interface, never the service ENI: the check must judge the standby too, which does
      // not hold the ENI (device index 0 is EC2's default; EC2 User Guide, "Application status checks").
      deviceIndex: 0,
      // Included in the instance's application status (DescribeInstanceStatus), which its alarm watches; the
      // function reads the check's own result (DescribeApplicationStatus).
      aggregation: 'included',
      tags: [{ key: 'Name', value: `eni-failover-${pair.name}` }],
    });
    // cfn-lint 1.51 predates this resource type (E3006); CloudFormation knows it.
    check.addMetadata('cfn-lint', { config: { ignore_checks: ['E3006'] } });
    checks.set(pair.name, check);
  }
  return checks;
}

/**
 * The pairs as the function is given them: each pair whose check the stack makes names it by its ID (a token
 * CloudFormation resolves), so that the function judges members by that check's own result, not the
 * instance-level aggregate that other teams' checks on the same instance share.
 */
export function withApplicationCheckIds(
  pairs: readonly Pair[],
  checks: ReadonlyMap<string, ec2.CfnApplicationStatusCheck>,
): Pair[] {
  return pairs.map((p) => {
    const check = checks.get(p.name);
    return check ? { ...p, applicationCheckId: check.attrApplicationStatusCheckId } : p;
  });
}

/**
 * For each check the stack made: its association with both members, and an alarm on each member's
 * StatusCheckFailed_Application to the alarm topic (the fastest AWS-native signal: EC2 increments the metric
 * when the check fails; EC2 User Guide, "Status checks for Amazon EC2 instances"). The alarm is a reason to
 * look; the function then judges the pair's own check. Returns the alarms, so that the topic's policy lets
 * them publish.
 */
export function applicationChecks(
  scope: Construct,
  pairs: readonly Pair[],
  checks: ReadonlyMap<string, ec2.CfnApplicationStatusCheck>,
  alarmTopic: sns.ITopic,
  provider: AssociationProvider | undefined,
): cloudwatch.Alarm[] {
  if (provider === undefined) return [];
  const alarms: cloudwatch.Alarm[] = [];
  for (const pair of pairs) {
    const settings = pair.applicationCheck;
    const check = checks.get(pair.name);
    if (!settings || !check) continue;
    provider.associate(scope, `${pair.name}ApplicationCheckAssociations`, check, [
      pair.primaryInstanceId,
      pair.standbyInstanceId,
    ]);
    for (const [role, instanceId] of [
      ['Primary', pair.primaryInstanceId],
      ['Standby', pair.standbyInstanceId],
    ] as const) {
      const alarm = new cloudwatch.Alarm(scope, `${pair.name}${role}ApplicationCheck`, {
        alarmDescription: `eni-failover ${pair.name}: StatusCheckFailed_Application on the ${role.toLowerCase()} ${instanceId} (${settings.protocol} port ${settings.port}${settings.path ?? '/'})`,
        metric: new cloudwatch.Metric({
          namespace: 'AWS/EC2',
          metricName: 'StatusCheckFailed_Application',
          dimensionsMap: { InstanceId: instanceId },
          statistic: cloudwatch.Stats.MAXIMUM,
          period: Duration.minutes(1),
        }),
        threshold: 1,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        // The check already waits for failureThreshold failures in a row: one datapoint is enough.
        evaluationPeriods: 1,
        // A stopped instance sends no datapoints: the state-change rule catches it instead.
        treatMissingData: cloudwatch.TreatMissingData.MISSING,
      });
      alarm.addAlarmAction(new cwActions.SnsAction(alarmTopic));
      alarms.push(alarm);
    }
  }
  return alarms;
}
