import { type RemovalPolicy, Stack, Token } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as logs from 'aws-cdk-lib/aws-logs';
import type { Construct } from 'constructs';
import type { Pair } from '../lambda/config.ts';
import { membersOf } from './arns.ts';
import { bySlot, checkable, policySlotOf } from './grouping.ts';
import { acknowledge } from './nag.ts';

/**
 * A function's own log group and a role of its own that may write to that group and nothing else yet (no managed
 * policy): where every function the construct deploys starts.
 */
export function logsAndRole(
  scope: Construct,
  retention?: logs.RetentionDays,
  removalPolicy?: RemovalPolicy,
): { logGroup: logs.LogGroup; role: iam.Role } {
  const logGroup = new logs.LogGroup(scope, 'LogGroup', { retention, removalPolicy });
  const role = new iam.Role(scope, 'Role', { assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com') });
  logGroup.grantWrite(role);
  return { logGroup, role };
}

/** The parts of an ARN that depend on where the stack is deployed. */
export interface ArnParts {
  readonly partition: string;
  readonly region: string;
  readonly account: string;
}

/** The longest partition and region: where the policies are longest, so where their size is measured. */
export const LONGEST_ARNS: ArnParts = {
  partition: 'aws-us-gov',
  region: 'us-gov-west-1',
  account: '123456789012',
};

/** IAM's quota for one customer managed policy, in characters without whitespace ("IAM and AWS STS quotas"). */
export const MANAGED_POLICY_CHARS = 6_144;

const ec2 = (at: ArnParts, type: string) => `arn:${at.partition}:ec2:${at.region}:${at.account}:${type}`;

/**
 * What a function may do to the ENIs and instances of some pairs: move, keep and tag (and untag) only their ENIs between
 * their instances, stop only the instances of pairs that fence, ask the OS only of pairs that verify it.
 *
 * The ENIs and instances are named by ID in a condition (`ec2:NetworkInterfaceID`, `ec2:InstanceID`, which EC2
 * sets on these actions for these resource types: Service Authorization Reference, "Actions, resources, and
 * condition keys for Amazon EC2"), each ID once, rather than by ARN (three times as long, and listed once per
 * action group): so that the pairs of a stack's worth fit one role's IAM quotas. Attach and detach are authorized
 * against both the instance and the network interface, so each needs both statements. SSM's SendCommand has no
 * instance-ID condition key: its instances stay ARNs.
 */
export function pairStatements(pairs: readonly Pair[], at: ArnParts): iam.PolicyStatement[] {
  const statements = [
    new iam.PolicyStatement({
      sid: 'MoveKeepAndTagTheConfiguredEnis',
      actions: [
        'ec2:AttachNetworkInterface',
        'ec2:DetachNetworkInterface',
        'ec2:ModifyNetworkInterfaceAttribute',
        'ec2:CreateTags',
        // Not DeleteTags: EC2 sets no ec2:NetworkInterfaceID on it (the Service Authorization Reference lists
        // only tag keys), so this condition would never match it; see untagStatement.
      ],
      resources: [ec2(at, 'network-interface/*')],
      conditions: { StringEquals: { 'ec2:NetworkInterfaceID': pairs.map((p) => p.networkInterfaceId) } },
    }),
    new iam.PolicyStatement({
      sid: 'BetweenTheirInstances',
      actions: ['ec2:AttachNetworkInterface', 'ec2:DetachNetworkInterface'],
      resources: [ec2(at, 'instance/*')],
      conditions: { StringEquals: { 'ec2:InstanceID': membersOf(pairs) } },
    }),
  ];
  const fenced = membersOf(pairs.filter((p) => p.fence));
  if (fenced.length > 0)
    statements.push(
      new iam.PolicyStatement({
        sid: 'FenceFailedHoldersOfFencedPairs',
        actions: ['ec2:StopInstances'],
        resources: [ec2(at, 'instance/*')],
        conditions: { StringEquals: { 'ec2:InstanceID': fenced } },
      }),
    );
  const verified = membersOf(pairs.filter((p) => p.verifyOs));
  if (verified.length > 0)
    statements.push(
      new iam.PolicyStatement({
        sid: 'AskTheOsOfVerifiedPairs',
        actions: ['ssm:SendCommand'],
        resources: [
          `arn:${at.partition}:ssm:${at.region}::document/AWS-RunShellScript`,
          ...verified.map((i) => ec2(at, `instance/${i}`)),
        ],
      }),
    );
  return statements;
}

/**
 * The first look at a pair whose ENI an earlier version tagged carries those records into the pair's state, then
 * deletes the tags (lambda/failover.ts carryLegacy; docs/contract.md, "Pair state"): DeleteTags on the ENI. The Service Authorization Reference lists no
 * ec2:NetworkInterfaceID for DeleteTags (a condition on a key absent from the request never matches: an implicit
 * deny), only aws:TagKeys: so any network interface, only eni-failover: keys, and the keys must be named (a
 * DeleteTags naming none deletes every tag). One statement for the whole role, not per pair: naming each ENI by
 * ARN would cost a third of a policy slot's pairs.
 */
export const untagStatement = (at: ArnParts) =>
  new iam.PolicyStatement({
    sid: 'UntagOnlyEniFailoverKeys',
    actions: ['ec2:DeleteTags'],
    resources: [ec2(at, 'network-interface/*')],
    conditions: {
      'ForAllValues:StringLike': { 'aws:TagKeys': ['eni-failover:*'] },
      Null: { 'aws:TagKeys': 'false' },
    },
  });

/** The characters IAM counts for a policy of these statements (no whitespace), in the longest partition. */
export const policyChars = (pairs: readonly Pair[]): number =>
  JSON.stringify(
    new iam.PolicyDocument({ statements: pairStatements(checkable(pairs), LONGEST_ARNS) }).toJSON(),
  ).length;

/** Every policy slot of a function whose pairs would not fit one managed policy, named, with what to do. */
export function policyProblems(pairs: readonly Pair[], which: string): string[] {
  return bySlot(pairs, policySlotOf).flatMap(([slot, members]) => {
    const chars = policyChars(members);
    return chars <= MANAGED_POLICY_CHARS
      ? []
      : [
          `${which}: the permissions of ${members.length} pairs (${members.map((p) => p.name).join(', ')}), which share policy slot ${slot} by a hash of their names, make ${chars.toLocaleString('en')} characters, over IAM's ${MANAGED_POLICY_CHARS.toLocaleString('en')} per managed policy (verifyOs costs most: SendCommand takes instance ARNs): give some of these pairs a "group" (a function and role of their own)`,
        ];
  });
}

/**
 * The function role's permissions: observing EC2 inline, and its pairs' permissions in one customer managed
 * policy per policy slot (lib/grouping.ts), so that a pair added or removed changes only its own slot's policy
 * and no other pair's permission is rewritten during the update. Logging, the notification topic and its key are
 * granted by their owners. Returns the slot policies, which the function must depend on.
 */
export function allowFailover(scope: Construct, role: iam.Role, pairs: readonly Pair[]): iam.ManagedPolicy[] {
  const stack = Stack.of(role);
  const policies: iam.ManagedPolicy[] = [];
  const here: ArnParts = { partition: stack.partition, region: stack.region, account: stack.account };
  const shown = (value: string, pseudo: string) => (Token.isUnresolved(value) ? `<${pseudo}>` : value);
  for (const [slot, members] of bySlot(pairs, policySlotOf)) {
    const policy = new iam.ManagedPolicy(scope, `PairPermissions${slot}`, {
      // Constant: a managed policy's Description cannot be updated (CloudFormation replaces the policy), so one
      // naming the slot's pairs would replace the slot's policy at every pair change, and several replacements at
      // once could take the role past IAM's 10 managed policies mid-deploy.
      description: `eni-failover: move the ENIs of the pairs in policy slot ${slot}`,
      statements: pairStatements(members, here),
      roles: [role],
    });
    policies.push(policy);
    // cdk-nag names a wildcard by its rendered ARN; the IDs are in the statement's condition.
    for (const type of ['network-interface', 'instance'])
      acknowledge(
        policy,
        `AwsSolutions-IAM5[Resource::arn:${shown(stack.partition, 'AWS::Partition')}:ec2:${shown(stack.region, 'AWS::Region')}:${shown(stack.account, 'AWS::AccountId')}:${type}/*]`,
        `Scoped by ID in the statement's condition (ec2:NetworkInterfaceID, ec2:InstanceID) to the configured pairs: a third of an ARN's length, so that a stack's worth of pairs fits IAM's quotas`,
      );
  }
  if (pairs.some((p) => p.verifyOs)) {
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: 'ReadTheOsAnswer',
        actions: ['ssm:GetCommandInvocation'],
        resources: ['*'],
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
  role.addToPrincipalPolicy(untagStatement(here));
  acknowledge(
    role,
    `AwsSolutions-IAM5[Resource::arn:${shown(stack.partition, 'AWS::Partition')}:ec2:${shown(stack.region, 'AWS::Region')}:${shown(stack.account, 'AWS::AccountId')}:network-interface/*]`,
    'DeleteTags takes no network-interface ID condition (Service Authorization Reference): only eni-failover: tag keys (aws:TagKeys), named',
  );
  if (pairs.some((p) => p.applicationCheck || p.applicationCheckId !== undefined)) {
    // Each named check's own result and the members' suppression (lambda/aws/ec2.ts), only for functions
    // whose pairs have an application check. A Describe (List) action: `*`, like the others. A policy of its
    // own, so that cfn-lint 1.51, which predates the action (W3037), is told so on it alone and still checks
    // every other action of the role.
    const observe = new iam.Policy(role, 'ObserveApplicationStatus', {
      statements: [
        new iam.PolicyStatement({
          sid: 'ObserveApplicationStatus',
          actions: ['ec2:DescribeApplicationStatus'],
          resources: ['*'],
        }),
      ],
    });
    role.attachInlinePolicy(observe);
    (observe.node.defaultChild as iam.CfnPolicy).addMetadata('cfn-lint', {
      config: { ignore_checks: ['W3037'] },
    });
  }
  acknowledge(
    role,
    'AwsSolutions-IAM5[Resource::*]',
    'EC2 Describe* and SSM GetCommandInvocation support no resource-level permissions, and X-Ray trace segments (active tracing) have no ARN; every mutating action is scoped to the configured ENIs and instances',
  );
  acknowledge(
    role,
    'AwsSolutions-IAM5[Action::kms:GenerateDataKey*]',
    'Granted by topic.grantPublish on the one key that encrypts the notification topic',
  );
  return policies;
}
