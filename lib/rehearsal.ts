import { createHash } from 'node:crypto';
import { CustomResource, Duration, Lazy, type RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as logs from 'aws-cdk-lib/aws-logs';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { PREBUILT_HANDLER, prebuiltCode } from './bundling.ts';
import type { FailoverFunction } from './failover-function.ts';
import { logsAndRole } from './function-role.ts';

/** EventBridge allows 5 targets per rule (EventBridge User Guide, "Quotas"). */
const TARGETS_PER_RULE = 5;

export interface RehearsalProps {
  readonly shards: readonly FailoverFunction[];
  /** The failover functions' timeout: the rehearsal waits for their answers. */
  readonly timeout: Duration;
  readonly logRetention: logs.RetentionDays;
  readonly removalPolicy: RemovalPolicy;
  readonly deadLetterQueue: sqs.IQueue;
}

/**
 * What the functions' rehearsal depends on: their code (the bundle and the pairs file, by asset hash), their
 * environment and every policy of their roles. Its hash is a property of the deploy-time rehearsal, so that any
 * change to them is an update of the resource, which CloudFormation sends it (an unchanged resource is not called).
 */
function fingerprint(scope: Construct, shards: readonly FailoverFunction[]): string {
  return Lazy.string({
    produce: () => {
      const parts = shards.map((s) => {
        const fn = s.function.node.defaultChild as lambda.CfnFunction;
        const role = s.function.role as iam.Role;
        const inline = role.node.findAll().filter((c): c is iam.Policy => c instanceof iam.Policy);
        return {
          code: fn.code,
          environment: fn.environment,
          policies: [...inline, ...s.policies].map((p) => p.document),
        };
      });
      return createHash('sha256')
        .update(JSON.stringify(Stack.of(scope).resolve(parts)))
        .digest('hex')
        .slice(0, 32);
    },
  });
}

/**
 * The failover proven where it runs (issue 22; docs/contract.md event 9): a custom resource that invokes every
 * failover function with `{"action":"rehearse"}` at each create and update that changes a function, its pairs or
 * a policy of its role, and fails the deploy, naming the pair, the call and EC2's answer, when one is not ready;
 * and a daily schedule that runs the same rehearsal, whose `Ready` (per pair) and `NotReady` figures the
 * `NotReady` alarm watches. The resource waits for every function and every policy of their roles
 * (`CloudFormation User Guide`, "DependsOn attribute"), so what it proves is what the functions will run with.
 */
export class Rehearsal extends Construct {
  /** The deploy-time rehearsal (Custom::Rehearsal). */
  readonly resource: CustomResource;
  /** The daily rehearsal's rules: one per five functions (EventBridge's targets per rule). */
  readonly schedules: events.Rule[];
  readonly function: lambda.Function;

  constructor(scope: Construct, id: string, props: RehearsalProps) {
    super(scope, id);
    const { shards } = props;
    const { logGroup, role } = logsAndRole(this, props.logRetention, props.removalPolicy);
    // Only the failover functions themselves (not their versions or aliases): the rehearsal runs as their roles.
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: 'RehearseTheFailoverFunctions',
        actions: ['lambda:InvokeFunction'],
        resources: shards.map((s) => s.function.functionArn),
      }),
    );
    // Whether the stack is rolling back (lambda/custom/rehearsal.ts): this stack only.
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: 'ReadThisStacksStatus',
        actions: ['cloudformation:DescribeStacks'],
        resources: [Stack.of(this).stackId],
      }),
    );
    // Longer than a failover function may take to answer (its timeout), within Lambda's 15 minutes.
    const timeout = Duration.seconds(Math.min(900, props.timeout.toSeconds() + 60));
    this.function = new lambda.Function(this, 'Function', {
      code: prebuiltCode('rehearsal'),
      handler: PREBUILT_HANDLER,
      runtime: lambda.Runtime.NODEJS_24_X,
      architecture: lambda.Architecture.ARM_64,
      memorySize: 256,
      timeout,
      role,
      logGroup,
    });
    // CDK makes the function depend on its role explicitly, though Role's GetAtt already orders them.
    (this.function.node.defaultChild as lambda.CfnFunction).addMetadata('cfn-lint', {
      config: { ignore_checks: ['W3005'] },
    });
    this.resource = new CustomResource(this, 'Resource', {
      serviceToken: this.function.functionArn,
      resourceType: 'Custom::Rehearsal',
      // The handler answers before its own timeout; this bounds a handler that never does (CloudFormation's
      // default is an hour): Lambda's three attempts of an asynchronous invocation, with their delays.
      serviceTimeout: Duration.seconds(3 * timeout.toSeconds() + 180),
      properties: {
        FunctionNames: shards.map((s) => s.function.functionName),
        Fingerprint: fingerprint(this, shards),
      },
    });
    // Every function (by FunctionNames' Ref) and every policy of its role: the role's default and inline policies are
    // its children; the slot policies are the shard's (FailoverFunction.policies).
    for (const s of shards) {
      if (s.function.role) this.resource.node.addDependency(s.function.role);
      for (const policy of s.policies) this.resource.node.addDependency(policy);
    }
    this.schedules = [];
    for (let i = 0; i < shards.length; i += TARGETS_PER_RULE) {
      this.schedules.push(
        new events.Rule(this, i === 0 ? 'Daily' : `Daily${i / TARGETS_PER_RULE}`, {
          description: 'eni-failover: the daily rehearsal of every pair (EC2 DryRun; nothing changes)',
          schedule: events.Schedule.rate(Duration.days(1)),
          targets: shards.slice(i, i + TARGETS_PER_RULE).map(
            (s) =>
              new targets.LambdaFunction(s.function, {
                event: events.RuleTargetInput.fromObject({ action: 'rehearse' }),
                retryAttempts: 2,
                maxEventAge: Duration.hours(1),
                deadLetterQueue: props.deadLetterQueue,
              }),
          ),
        }),
      );
    }
  }
}
