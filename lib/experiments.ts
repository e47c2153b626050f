import { Duration } from 'aws-cdk-lib';
import type * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as fis from 'aws-cdk-lib/aws-fis';
import * as iam from 'aws-cdk-lib/aws-iam';
import type { Construct } from 'constructs';
import type { Pair } from '../lambda/config.ts';
import { ec2Arn } from './arns.ts';

/**
 * An AWS FIS experiment template per pair that stops the pair's primary and starts it again after
 * `restartAfter`, with one role that may stop and start only those primaries; `stopWhen` going to ALARM
 * stops it. Returned by pair name.
 */
export function experimentTemplates(
  scope: Construct,
  experimentPairs: readonly Pair[],
  stopWhen: cloudwatch.IAlarm,
  restartAfter: Duration = Duration.minutes(5),
): Record<string, fis.CfnExperimentTemplate> {
  const templates: Record<string, fis.CfnExperimentTemplate> = {};
  if (experimentPairs.length === 0) return templates;
  const instanceArn = (id: string) => ec2Arn(scope, 'instance', id);
  const fisRole = new iam.Role(scope, 'ExperimentRole', {
    assumedBy: new iam.ServicePrincipal('fis.amazonaws.com'),
  });
  fisRole.addToPrincipalPolicy(
    new iam.PolicyStatement({
      actions: ['ec2:StopInstances', 'ec2:StartInstances'],
      resources: experimentPairs.map((p) => instanceArn(p.primaryInstanceId)),
    }),
  );
  for (const pair of experimentPairs) {
    templates[pair.name] = new fis.CfnExperimentTemplate(scope, `${pair.name}Experiment`, {
      description: `eni-failover ${pair.name}: stop the primary; the service address should move to the standby within a minute`,
      roleArn: fisRole.roleArn,
      // This alarm in ALARM stops the experiment; its post action (starting the primary) still runs
      // (FIS User Guide, "Stop an experiment").
      stopConditions: [{ source: 'aws:cloudwatch:alarm', value: stopWhen.alarmArn }],
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
  return templates;
}
