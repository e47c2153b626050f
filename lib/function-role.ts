import { Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import type { Pair } from '../lambda/config.ts';
import { ec2Arn, membersOf } from './arns.ts';
import { acknowledge } from './nag.ts';

/**
 * What the failover function's role may do to EC2 (and SSM): move, keep and tag (and untag) only its pairs' ENIs
 * between their instances, stop only the instances of pairs that fence, ask the OS only of pairs that
 * verify it. Logging, the notification topic and its key are granted by their owners.
 */
export function allowFailover(role: iam.Role, pairs: readonly Pair[]): void {
  const stack = Stack.of(role);
  const arn = (type: 'instance' | 'network-interface', id: string) => ec2Arn(role, type, id);
  const eniArns = pairs.map((p) => arn('network-interface', p.networkInterfaceId));
  const instanceArns = membersOf(pairs).map((i) => arn('instance', i));
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
      // DeleteTags: a move deletes its intent tag when it ends (lambda/execute.ts releaseIntent), and a
      // maintenance window is ended early (lambda/maintenance.ts).
      actions: ['ec2:ModifyNetworkInterfaceAttribute', 'ec2:CreateTags', 'ec2:DeleteTags'],
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
}
