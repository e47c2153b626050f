import { CfnOutput, CfnResource, Duration, Fn, Stack, type StackProps } from 'aws-cdk-lib';
import type { Construct } from 'constructs';
import type { StackConfig } from './config-file.ts';
import { EniFailover, type FailoverFunction } from './eni-failover.ts';

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
  new CfnOutput(stack, 'DashboardName', { value: failover.dashboard.dashboardName });
  for (const [name, template] of Object.entries(failover.experiments)) {
    new CfnOutput(stack, `${name}ExperimentCommand`, {
      description: `Stop the member of ${name} that holds its ENI, with AWS FIS, and watch the address move`,
      value: `aws fis start-experiment --experiment-template-id ${template.ref}`,
    });
  }
  new CfnOutput(stack, 'DrillCommand', {
    description: 'A dry-run drill: every check, no change',
    value: `aws lambda invoke --function-name ${first.function.functionName} --cli-binary-format raw-in-base64-out --payload '{"action":"move","pair":"${firstPair}","dryRun":true}' /dev/stdout`,
  });
}

/** CloudFormation's quota of resources in one stack (CloudFormation User Guide, "Understand CloudFormation quotas"). */
export const STACK_RESOURCE_LIMIT = 500;

/** The stack's resources as its template will hold them (at validation, after the CDK has added its own). */
const resourceCount = (stack: Stack): number =>
  stack.node.findAll().filter((c) => CfnResource.isCfnResource(c) && Stack.of(c) === stack).length;

export interface EniFailoverStackProps extends StackProps {
  readonly config: StackConfig;
}

/** The service for the pairs in a configuration file (`cdk deploy -c config=failover.json`). */
export class EniFailoverStack extends Stack {
  readonly failover: EniFailover;

  constructor(scope: Construct, id: string, props: EniFailoverStackProps) {
    // Unindented: a large configuration's template (each pair's dashboard row included) stays far below
    // CloudFormation's 1 MB.
    super(scope, id, { suppressTemplateIndentation: true, ...props });
    const { pairs, notificationEmails, alarmDatapoints, experiments, reconcileScheduleMinutes } =
      props.config;
    this.failover = new EniFailover(this, 'EniFailover', {
      pairs,
      notificationEmails,
      alarmDatapoints,
      experiments,
      reconcileSchedule:
        typeof reconcileScheduleMinutes === 'number'
          ? Duration.minutes(reconcileScheduleMinutes)
          : reconcileScheduleMinutes,
    });
    addOutputs(this, this.failover);
    // Checked at synth, once the CDK has added what it adds (IAM overflow policies, its metadata), and
    // before its own check, which names the limit but not the way out.
    this.node.addValidation({
      validate: () => {
        const count = resourceCount(this);
        const functions = this.failover.shards.length;
        return count <= STACK_RESOURCE_LIMIT
          ? []
          : [
              `${pairs.length} pairs in ${functions} function${functions === 1 ? '' : 's'} make ${count} CloudFormation resources, over CloudFormation's limit of ${STACK_RESOURCE_LIMIT} per stack (each pair takes 2 alarms, and 4 more with an applicationCheck; each function 13, and up to 40 more as its pairs fill its 16 state-change rules and 8 policies, and up to 32 more for the rebalance rules of pairs with moveOnRebalance; the stack 21 (with the state table and the rehearsal), and a heartbeat alarm per ten functions; a prober 11, 15 with its Lambda endpoint): split the pairs across configuration files, one stack each (npx cdk deploy -c config=more.json -c stackName=EniFailover2)`,
            ];
      },
    });
  }
}
