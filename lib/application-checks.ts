import { CustomResource, Duration, type RemovalPolicy, Stack, Token } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as cwActions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as logs from 'aws-cdk-lib/aws-logs';
import type * as sns from 'aws-cdk-lib/aws-sns';
import { Construct } from 'constructs';
import type { Pair } from '../lambda/config.ts';
import { ec2Arn } from './arns.ts';
import { PREBUILT_HANDLER, prebuiltCode } from './bundling.ts';
import { logsAndRole } from './function-role.ts';
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
 * The tag that marks an application status check as this construct's (value: the service name). The association
 * role's permission follows the tag, not the checks' IDs, so that it outlives the template that made them:
 * CloudFormation puts the role's new policy in place before it runs the resource's update or the clean-up delete
 * of an old check's resource (the function depends on its policy), and those disassociate what the old template
 * listed. The Service Authorization Reference gives Associate/DisassociateApplicationStatusCheck the resource type
 * application-status-check (required), whose condition keys include aws:ResourceTag/${TagKey}.
 */
export const CHECK_SERVICE_TAG = 'eni-failover:service';

/**
 * The custom resources' function: one per construct, whatever the number of checks and experiments (it also
 * writes the tag the experiments select their target by). Its role may associate and disassociate only checks
 * tagged with the construct's service name; associate them only with the pairs' current members, disassociate
 * them from any instance (an old member the update or clean-up drops is no longer in the template; the check
 * is required, so no other check is touched). DescribeApplicationStatusCheckAssociations takes no resource
 * type, so `*`.
 */
export class AssociationProvider extends Construct {
  readonly serviceToken: string;
  /** The statements for the checks, added with the first check; the members named as the checks are made. */
  private readonly checkStatements: iam.PolicyStatement[];
  private readonly associateMembers: iam.PolicyStatement;
  /** The statement that names each experiment member, once there is one. */
  private tagging: iam.PolicyStatement | undefined;
  private readonly role: iam.Role;

  constructor(
    scope: Construct,
    id: string,
    readonly serviceName: string,
    logRetention: logs.RetentionDays,
    removalPolicy?: RemovalPolicy,
  ) {
    super(scope, id);
    const { logGroup, role } = logsAndRole(this, logRetention, removalPolicy);
    this.role = role;
    // One statement per resource type: a request names both the check and the instances, and each ARN must be
    // allowed on its own (IAM User Guide, "Policy evaluation logic"), each with only the conditions its type has.
    this.associateMembers = new iam.PolicyStatement({
      sid: 'AssociateOnlyCurrentMembers',
      actions: ['ec2:AssociateApplicationStatusCheck'],
    });
    this.checkStatements = [
      new iam.PolicyStatement({
        sid: 'OnlyTheConstructsChecks',
        actions: ['ec2:AssociateApplicationStatusCheck', 'ec2:DisassociateApplicationStatusCheck'],
        resources: [ec2Arn(this, 'application-status-check', '*')],
        conditions: { StringEquals: { [`aws:ResourceTag/${CHECK_SERVICE_TAG}`]: serviceName } },
      }),
      this.associateMembers,
      new iam.PolicyStatement({
        sid: 'DisassociateFromAnyInstance',
        actions: ['ec2:DisassociateApplicationStatusCheck'],
        resources: [ec2Arn(this, 'instance', '*')],
      }),
    ];
    // The check statements join the policy with the first check: a provider made only for experiments associates nothing.
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
      "DescribeApplicationStatusCheckAssociations supports no resource-level permissions (Service Authorization Reference); (dis)associate only checks tagged with the construct's service name, associate only with the pairs' instances; disassociate and untag eni-failover: keys on any instance, so that an update or clean-up can release an old member the new template no longer lists",
    );
    // cdk-nag names the resource as the template has it: a pseudo parameter where the stack's partition, region or
    // account is known only at deploy.
    const stack = Stack.of(this);
    const shown = (value: string, pseudo: string) => (Token.isUnresolved(value) ? `<AWS::${pseudo}>` : value);
    const ec2Prefix = `arn:${shown(stack.partition, 'Partition')}:ec2:${shown(stack.region, 'Region')}:${shown(stack.account, 'AccountId')}`;
    acknowledge(
      role,
      `AwsSolutions-IAM5[Resource::${ec2Prefix}:application-status-check/*]`,
      `Only checks tagged ${CHECK_SERVICE_TAG} = the construct's service name (aws:ResourceTag): a check an old template listed stays reachable for its clean-up`,
    );
    acknowledge(
      role,
      `AwsSolutions-IAM5[Resource::${ec2Prefix}:instance/*]`,
      "Disassociate only from the construct's checks (the check is required), and remove only eni-failover: tags: an update or clean-up releases old members the new template no longer lists",
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
   * selects the ENI's holder by (lib/experiments.ts; lambda/custom/experiment-targets.ts). The role may write
   * only eni-failover: tags, only on these instances; it may remove eni-failover: tags from any instance, since
   * the update that drops a member, or the clean-up of a removed pair, runs under the new template's policy.
   */
  tagExperimentTargets(
    scope: Construct,
    id: string,
    key: string,
    value: string,
    instanceIds: string[],
  ): CustomResource {
    if (this.tagging === undefined) {
      const onlyOurKeys = {
        'ForAllValues:StringLike': { 'aws:TagKeys': ['eni-failover:*'] },
        // A DeleteTags without tags deletes them all: require the keys.
        Null: { 'aws:TagKeys': 'false' },
      };
      this.tagging = new iam.PolicyStatement({
        sid: 'TagExperimentMembers',
        actions: ['ec2:CreateTags'],
        conditions: onlyOurKeys,
      });
      this.role.addToPrincipalPolicy(this.tagging);
      this.role.addToPrincipalPolicy(
        new iam.PolicyStatement({
          sid: 'UntagOldExperimentMembers',
          actions: ['ec2:DeleteTags'],
          resources: [ec2Arn(this, 'instance', '*')],
          conditions: onlyOurKeys,
        }),
      );
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
    if (!this.associateMembers.hasResource)
      for (const s of this.checkStatements) this.role.addToPrincipalPolicy(s);
    this.associateMembers.addResources(...instanceIds.map((i) => ec2Arn(scope, 'instance', i)));
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
  serviceName: string,
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
      tags: [
        { key: 'Name', value: `eni-failover-${pair.name}` },
        // What the association role's permission follows (AssociationProvider).
        { key: CHECK_SERVICE_TAG, value: serviceName },
      ],
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
