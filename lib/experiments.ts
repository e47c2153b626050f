import { Duration, Stack, Token } from 'aws-cdk-lib';
import type * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as fis from 'aws-cdk-lib/aws-fis';
import * as iam from 'aws-cdk-lib/aws-iam';
import type { Construct } from 'constructs';
import type { Pair } from '../lambda/config.ts';
import type { AssociationProvider } from './application-checks.ts';
import { ec2Arn, membersOf } from './arns.ts';
import { acknowledge } from './nag.ts';

/** The tag both members of an experiment pair carry (its value: the construct's service name). */
export const experimentTagKey = (pair: Pair) => `eni-failover:${pair.name}`;

/**
 * An AWS FIS experiment template per pair that stops the member holding the pair's ENI when the experiment starts
 * and starts it again after `restartAfter`; `stopWhen` going to ALARM stops the experiment.
 *
 * The target: instances tagged `eni-failover:<pair>` = the service name (both members: the construct writes the
 * tag, lambda/custom/experiment-targets.ts), filtered to the one whose interfaces include the pair's ENI and that
 * is running. FIS resolves targets once, when the experiment starts, from DescribeInstances (FIS User Guide,
 * "Targets": resource filters are paths into DescribeInstances' output, an array path matching any element, as
 * `NetworkInterfaces.Groups.GroupId` does). A target takes resource ARNs or tags, and filters only with tags
 * ("You can't specify both a resource ID and a resource filter"), hence the tag. After a real failover the
 * experiment therefore stops the standby that now serves, not a primary that serves nothing; with the ENI
 * attached to no one it finds no target and fails ("If no targets are found, the experiment fails").
 * Returned by pair name.
 */
export function experimentTemplates(
  scope: Construct,
  experimentPairs: readonly Pair[],
  stopWhen: cloudwatch.IAlarm,
  serviceName: string,
  tagger: AssociationProvider | undefined,
  restartAfter: Duration = Duration.minutes(5),
): Record<string, fis.CfnExperimentTemplate> {
  const templates: Record<string, fis.CfnExperimentTemplate> = {};
  if (experimentPairs.length === 0 || tagger === undefined) return templates;
  const stack = Stack.of(scope);
  const fisRole = new iam.Role(scope, 'ExperimentRole', {
    // Only FIS, for experiments of this account (FIS User Guide, "Prevent cross-service confused deputy").
    assumedBy: new iam.ServicePrincipal('fis.amazonaws.com', {
      conditions: {
        StringEquals: { 'aws:SourceAccount': stack.account },
        ArnLike: {
          'aws:SourceArn': `arn:${stack.partition}:fis:${stack.region}:${stack.account}:experiment/*`,
        },
      },
    }),
  });
  fisRole.addToPrincipalPolicy(
    new iam.PolicyStatement({
      sid: 'StopAndStartTheExperimentPairsMembers',
      // Either member may hold the ENI when an experiment starts.
      actions: ['ec2:StopInstances', 'ec2:StartInstances'],
      resources: membersOf(experimentPairs).map((i) => ec2Arn(scope, 'instance', i)),
    }),
  );
  fisRole.addToPrincipalPolicy(
    new iam.PolicyStatement({
      sid: 'StartInstancesWithEncryptedVolumes',
      // Starting an instance whose EBS volumes use a customer managed key makes EC2 create a grant on the key, in
      // the caller's name: only grants for AWS resources, through EC2 (as AWSFaultInjectionSimulatorEC2Access).
      actions: ['kms:CreateGrant'],
      resources: [`arn:${stack.partition}:kms:${stack.region}:${stack.account}:key/*`],
      conditions: {
        StringEquals: { 'kms:ViaService': `ec2.${stack.region}.amazonaws.com` },
        Bool: { 'kms:GrantIsForAWSResource': 'true' },
      },
    }),
  );
  fisRole.addToPrincipalPolicy(
    new iam.PolicyStatement({
      sid: 'ResolveTargetsByTagAndFilter',
      // FIS finds tagged resources with tag:GetResources and applies filters to DescribeInstances (FIS User Guide,
      // "Targets"); neither takes a resource type.
      actions: ['tag:GetResources', 'ec2:DescribeInstances'],
      resources: ['*'],
    }),
  );
  acknowledge(
    fisRole,
    'AwsSolutions-IAM5[Resource::*]',
    'FIS resolves the targets with tag:GetResources and ec2:DescribeInstances, which take no resource type; stopping and starting is scoped to the experiment pairs',
  );
  // cdk-nag names the resource as the template has it: a pseudo parameter where the stack's partition, region or
  // account is known only at deploy.
  const shown = (value: string, pseudo: string) => (Token.isUnresolved(value) ? `<AWS::${pseudo}>` : value);
  acknowledge(
    fisRole,
    `AwsSolutions-IAM5[Resource::arn:${shown(stack.partition, 'Partition')}:kms:${shown(stack.region, 'Region')}:${shown(stack.account, 'AccountId')}:key/*]`,
    'The volumes may use any key of the account; only grants EC2 makes for an AWS resource (kms:GrantIsForAWSResource, kms:ViaService ec2)',
  );
  for (const pair of experimentPairs) {
    tagger.tagExperimentTargets(scope, `${pair.name}ExperimentTargets`, experimentTagKey(pair), serviceName, [
      pair.primaryInstanceId,
      pair.standbyInstanceId,
    ]);
    const template = new fis.CfnExperimentTemplate(scope, `${pair.name}Experiment`, {
      description: `eni-failover ${pair.name}: stop the member that holds the ENI; the service address should move to the other within a minute`,
      roleArn: fisRole.roleArn,
      // This alarm in ALARM stops the experiment; its post action (starting the instance) still runs
      // (FIS User Guide, "Stop an experiment").
      stopConditions: [{ source: 'aws:cloudwatch:alarm', value: stopWhen.alarmArn }],
      targets: {
        holder: {
          resourceType: 'aws:ec2:instance',
          resourceTags: { [experimentTagKey(pair)]: serviceName },
          filters: [
            { path: 'NetworkInterfaces.NetworkInterfaceId', values: [pair.networkInterfaceId] },
            { path: 'State.Name', values: ['running'] },
          ],
          selectionMode: 'ALL',
        },
      },
      actions: {
        stopHolder: {
          actionId: 'aws:ec2:stop-instances',
          parameters: { startInstancesAfterDuration: `PT${restartAfter.toSeconds()}S` },
          targets: { Instances: 'holder' },
        },
      },
      tags: { Name: `eni-failover-${pair.name}` },
    });
    // No dependency on the tag resource: FIS reads the tags when an experiment starts, not when the template is made.
    templates[pair.name] = template;
  }
  return templates;
}
