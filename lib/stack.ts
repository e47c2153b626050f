import { CfnOutput, Fn, Stack, type StackProps } from 'aws-cdk-lib';
import type { Construct } from 'constructs';
import type { StackConfig } from './config-file';
import { EniFailover, type FailoverFunction } from './eni-failover';

/** Outputs every stack shares: what an operator needs to find and drill the function. */
export function addOutputs(stack: Stack, failover: EniFailover): void {
  const first = failover.shards[0] as FailoverFunction;
  const firstPair = first.pairs[0]?.name ?? 'web';
  // Several functions when the pairs outgrow one (EniFailover splits them): the drill CLI asks each which pairs it has.
  new CfnOutput(stack, 'FunctionNames', {
    value: Fn.join(
      ',',
      failover.shards.map((s) => s.function.functionName),
    ),
  });
  new CfnOutput(stack, 'AlarmTopicArns', {
    value: Fn.join(
      ',',
      failover.shards.map((s) => s.alarmTopic.topicArn),
    ),
  });
  new CfnOutput(stack, 'NotificationTopicArn', { value: failover.notificationTopic.topicArn });
  new CfnOutput(stack, 'DeadLetterQueueUrl', { value: failover.deadLetterQueue.queueUrl });
  for (const [name, template] of Object.entries(failover.experiments)) {
    new CfnOutput(stack, `${name}ExperimentCommand`, {
      description: `Stop ${name}'s primary with AWS FIS, and watch the address move`,
      value: `aws fis start-experiment --experiment-template-id ${template.ref}`,
    });
  }
  new CfnOutput(stack, 'DrillCommand', {
    description: 'A dry-run drill: every check, no change',
    value: `aws lambda invoke --function-name ${first.function.functionName} --cli-binary-format raw-in-base64-out --payload '{"action":"move","pair":"${firstPair}","dryRun":true}' /dev/stdout`,
  });
}

export interface EniFailoverStackProps extends StackProps {
  readonly config: StackConfig;
}

/** The service for the pairs in a configuration file (`cdk deploy -c config=failover.json`). */
export class EniFailoverStack extends Stack {
  readonly failover: EniFailover;

  constructor(scope: Construct, id: string, props: EniFailoverStackProps) {
    super(scope, id, props);
    const { pairs, notificationEmails, alarmDatapoints, experiments } = props.config;
    this.failover = new EniFailover(this, 'EniFailover', {
      pairs,
      notificationEmails,
      alarmDatapoints,
      experiments,
    });
    addOutputs(this, this.failover);
  }
}
