import { Duration, type RemovalPolicy, Stack, Token } from 'aws-cdk-lib';
import type * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as logs from 'aws-cdk-lib/aws-logs';
import type * as sns from 'aws-cdk-lib/aws-sns';
import { Construct } from 'constructs';
import { ENV, type Pair, probeSettings } from '../lambda/config.ts';
import { DEFAULT_RUN_MS, PROBE_ENV } from '../lambda/probe/config.ts';

import { PREBUILT_HANDLER, prebuiltCode } from './bundling.ts';
import type { FailoverFunction } from './failover-function.ts';
import { logsAndRole } from './function-role.ts';
import { codeFileConfig, VALUES_ENV_BUDGET, valuesBytes, withoutGroup } from './grouping.ts';
import { acknowledge } from './nag.ts';
import { addressAlarm, METRICS_NAMESPACE, type ProberAlarms, proberAlarms } from './self-monitoring.ts';

/** The prober's targets file in its code (PROBE_TARGETS_FILE). */
export const PROBE_TARGETS_FILE = 'probe-targets.json';

/** Where the prober runs: the pairs' VPC (construct prop `probe`). */
export interface ProbeProps {
  /** The VPC of the pairs' instances: the prober reaches them on their own primary addresses. */
  readonly vpc: ec2.IVpc;
  /**
   * Subnets for the prober's network interfaces: private subnets with a route to the Lambda API (a NAT
   * gateway, or `lambdaEndpoint`) and to DynamoDB for its view across runs (the NAT gateway, or a DynamoDB gateway
   * endpoint).
   * @default - the VPC's private subnets with egress; with `lambdaEndpoint`, its isolated ones (a VPC without NAT has
   * no subnets with egress)
   */
  readonly subnets?: ec2.SubnetSelection;
  /**
   * The prober's security group. The instances' security groups must let it in on the probe ports.
   * @default - one of the construct's own: out only to the VPC's CIDR on the probe ports and to 443
   */
  readonly securityGroup?: ec2.ISecurityGroup;
  /**
   * Create an interface endpoint for the Lambda API in `subnets`, for a VPC without a NAT gateway.
   * About 7.30 USD a month per Availability Zone, plus 0.01 USD per GB (docs/deploying.md, "Monthly cost").
   * @default false
   */
  readonly lambdaEndpoint?: boolean;
  /**
   * The prober's memory in MB, which sets its share of a CPU (Lambda gives one vCPU at 1,769 MB). Synth refuses
   * more probed pairs than this memory keeps on time (docs/deploying.md, "The prober": scale).
   * @default - the least multiple of 64 MB, 128 or more, that keeps the probed pairs on time (`proberMemoryFor`)
   */
  readonly memorySize?: number;
}

/**
 * CPU one probe costs, in ms of one core, the loop included: measured by test/bench/probe-scale.ts (`npm run bench`;
 * docs/deploying.md, "The prober": scale). HTTPS resumes TLS sessions (lambda/probe/check.ts); each still costs a key exchange.
 */
export const PROBE_CPU_MS = { tcp: 0.6, http: 1.1, https: 2.5 } as const;
/** Lambda Developer Guide, "Configure Lambda function memory": at 1,769 MB a function has the equivalent of one vCPU. */
const ONE_VCPU_MB = 1_769;
/**
 * The share of its CPU the probes may use: half, so that a burst (evidence, a metrics flush, garbage collection,
 * retries of failed probes) still leaves every probe its timeout, and for a Lambda core slower than the bench's.
 * The loop is one thread: above 1,769 MB more memory adds no CPU it can use.
 */
const CPU_BUDGET = 0.5;

/** CPU ms a second the probed pairs need: each slot probes three addresses (both members and the service address). */
export function probeCpuMsPerSecond(pairs: readonly Pair[]): number {
  return pairs.reduce((sum, pair) => {
    const s = probeSettings(pair);
    return s ? sum + (3 * PROBE_CPU_MS[s.protocol] * 1_000) / s.intervalMs : sum;
  }, 0);
}

/** The CPU ms a second a prober of `memoryMb` gives its probes. */
const budgetOf = (memoryMb: number) => (CPU_BUDGET * 1_000 * Math.min(memoryMb, ONE_VCPU_MB)) / ONE_VCPU_MB;

/** The default memory: the least multiple of 64 MB, 128 or more, whose CPU share keeps the pairs on time. */
export function proberMemoryFor(pairs: readonly Pair[]): number {
  const needed = (probeCpuMsPerSecond(pairs) / (CPU_BUDGET * 1_000)) * ONE_VCPU_MB;
  return Math.max(128, Math.ceil(needed / 64) * 64);
}

/** The EventBridge schedule: one run a minute; each run probes DEFAULT_RUN_MS, so runs overlap (see config.ts). */
const EVERY = Duration.minutes(1);

/**
 * The prober (issue 17): a function in the pairs' VPC that probes both members of each probed pair
 * every interval and hands the evidence to the pair's failover function. It may only invoke those
 * functions: the members' addresses come from their status, and they alone read and change EC2.
 */
export class Prober extends Construct {
  readonly function: lambda.Function;
  /** One alarm a probed pair: its service address does not answer while its holder is attached and passes (issue 23). */
  readonly addressAlarms: cloudwatch.Alarm[];
  readonly securityGroup: ec2.ISecurityGroup;
  readonly schedule: events.Rule;
  readonly alarms: ProberAlarms;
  /** The Lambda API's interface endpoint, when `lambdaEndpoint` asked for one. */
  readonly endpoint: ec2.InterfaceVpcEndpoint | undefined;

  constructor(
    scope: Construct,
    id: string,
    props: ProbeProps & {
      readonly shards: readonly FailoverFunction[];
      readonly serviceName: string;
      readonly logRetention: logs.RetentionDays;
      readonly notificationTopic: sns.ITopic;
      readonly removalPolicy?: RemovalPolicy;
      /** The pair-state table: the prober keeps its view across runs in items of its own (`prober#<pair>`). */
      readonly stateTable?: dynamodb.ITable;
    },
  ) {
    super(scope, id);
    const stack = Stack.of(this);
    const probed = props.shards
      .map((s) => ({ shard: s, pairs: s.pairs.filter((p) => p.probe) }))
      .filter((t) => t.pairs.length > 0);
    const ports = [
      ...new Set(probed.flatMap((t) => t.pairs.map((p) => (p.probe as NonNullable<Pair['probe']>).port))),
    ];

    const own = props.securityGroup
      ? undefined
      : new ec2.SecurityGroup(this, 'SecurityGroup', {
          vpc: props.vpc,
          description: 'eni-failover prober: out to the members on the probe ports, and to the Lambda API',
          allowAllOutbound: false,
        });
    if (own) {
      for (const port of ports)
        own.addEgressRule(ec2.Peer.ipv4(props.vpc.vpcCidrBlock), ec2.Port.tcp(port), `probe port ${port}`);
      // The Lambda API: through a NAT gateway (its public endpoint) or the interface endpoint.
      own.addEgressRule(ec2.Peer.anyIpv4(), ec2.Port.tcp(443), 'the Lambda API (Invoke)');
    }
    this.securityGroup = props.securityGroup ?? (own as ec2.SecurityGroup);

    // The endpoint is for a VPC without a NAT gateway, which has no PRIVATE_WITH_EGRESS subnets to select.
    const subnets = props.subnets ?? {
      subnetType: props.lambdaEndpoint ? ec2.SubnetType.PRIVATE_ISOLATED : ec2.SubnetType.PRIVATE_WITH_EGRESS,
    };
    this.endpoint = props.lambdaEndpoint
      ? new ec2.InterfaceVpcEndpoint(this, 'LambdaEndpoint', {
          vpc: props.vpc,
          service: ec2.InterfaceVpcEndpointAwsService.LAMBDA,
          subnets,
          privateDnsEnabled: true,
          open: false,
        })
      : undefined;
    this.endpoint?.connections.allowFrom(this.securityGroup, ec2.Port.tcp(443), 'the eni-failover prober');

    const { logGroup, role } = logsAndRole(this, props.logRetention, props.removalPolicy);
    // Lambda Developer Guide, "Giving Lambda functions access to resources in an Amazon VPC": the execution
    // role manages the function's network interfaces in the VPC (what AWSLambdaVPCAccessExecutionRole grants).
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: 'VpcNetworkInterfaces',
        actions: [
          'ec2:CreateNetworkInterface',
          'ec2:DescribeNetworkInterfaces',
          'ec2:DescribeSubnets',
          'ec2:DeleteNetworkInterface',
          'ec2:AssignPrivateIpAddresses',
          'ec2:UnassignPrivateIpAddresses',
        ],
        resources: ['*'],
      }),
    );
    acknowledge(
      role,
      'AwsSolutions-IAM5[Resource::*]',
      "A VPC function's execution role manages its network interfaces, which Lambda names only when it creates them (Lambda Developer Guide, VPC access); the prober's only other action, lambda:InvokeFunction, is scoped to the failover functions",
    );

    // The targets go in a file beside the code, as the failover functions' pairs do (lib/failover-function.ts):
    // Lambda's 4 KB environment holds few pairs in full. The function names and any IDs made in the same app are
    // tokens, which only FAILOVER_VALUES can carry.
    const config = codeFileConfig(
      probed.map((t) => ({ functionName: t.shard.function.functionName, pairs: withoutGroup(t.pairs) })),
    );
    this.node.addValidation({
      validate: () => {
        const bytes = valuesBytes(config.values.length);
        return bytes <= VALUES_ENV_BUDGET
          ? []
          : [
              `prober ${this.node.path}: ${config.values.length} values CloudFormation resolves at deploy (the failover functions' names, IDs made in the same app) make up to ${bytes} bytes of ${ENV.values}, over the ${VALUES_ENV_BUDGET} its 4 KB Lambda environment leaves for them: give the probed pairs' IDs as literals, or probe fewer pairs in this construct`,
            ];
      },
    });
    const probedPairs = probed.flatMap((t) => t.pairs);
    const memorySize = props.memorySize ?? proberMemoryFor(probedPairs);
    this.node.addValidation({
      validate: () => {
        if (Token.isUnresolved(memorySize)) return [];
        const needed = probeCpuMsPerSecond(probedPairs);
        const problems: string[] = [];
        if (!Number.isInteger(memorySize) || memorySize < 128 || memorySize > 10_240)
          problems.push(
            `prober ${this.node.path}: memorySize must be a whole number of MB from 128 to 10240, got ${memorySize}`,
          );
        else if (needed > budgetOf(memorySize))
          problems.push(
            `prober ${this.node.path}: ${probedPairs.length} probed pairs need about ${needed.toFixed(0)} ms of CPU a second, over the ${budgetOf(memorySize).toFixed(0)} ms one run keeps on time at ${memorySize} MB${needed > budgetOf(ONE_VCPU_MB) ? ` (and over the ${budgetOf(ONE_VCPU_MB).toFixed(0)} ms of a whole vCPU, which its one thread cannot exceed)` : ''}: ${needed > budgetOf(ONE_VCPU_MB) ? 'probe fewer pairs in this construct (split the pairs across constructs), or lengthen their intervalMs' : `give memorySize ${proberMemoryFor(probedPairs)} or more, or leave it out`} (docs/deploying.md, "The prober": scale)`,
          );
        return problems;
      },
    });
    this.function = new lambda.Function(this, 'Function', {
      code: prebuiltCode('prober', { [PROBE_TARGETS_FILE]: config.file }),
      handler: PREBUILT_HANDLER,
      runtime: lambda.Runtime.NODEJS_24_X,
      architecture: lambda.Architecture.ARM_64,
      // Memory is the CPU's share: it follows the probed pairs (proberMemoryFor), checked below.
      memorySize,
      // The run, the status call before it, the last sends and the metrics' flush after it.
      timeout: Duration.millis(DEFAULT_RUN_MS).plus(Duration.seconds(15)),
      role,
      logGroup,
      vpc: props.vpc,
      vpcSubnets: subnets,
      securityGroups: [this.securityGroup],
      // A run that failed is not retried: the next minute's run replaces it; nor is a throttled one kept
      // (Lambda would retry it for up to 6 hours): after 60 s, the least Lambda allows, the next run has begun.
      // Overlapping runs are two at most; three leaves room for one that hangs until its timeout.
      retryAttempts: 0,
      maxEventAge: Duration.seconds(60),
      reservedConcurrentExecutions: 3,
      environment: {
        [PROBE_ENV.targetsFile]: PROBE_TARGETS_FILE,
        ...(config.values.length > 0 ? { [ENV.values]: stack.toJsonString(config.values) } : {}),
        POWERTOOLS_SERVICE_NAME: props.serviceName,
        POWERTOOLS_METRICS_NAMESPACE: METRICS_NAMESPACE,
      },
    });
    if (this.endpoint) this.function.node.addDependency(this.endpoint);
    (this.function.node.defaultChild as lambda.CfnFunction).addMetadata('cfn-lint', {
      config: { ignore_checks: ['W3005'] },
    });
    // The functions themselves, not their versions and aliases (grantInvoke adds `:*`): the prober
    // invokes the unqualified function, as the drills do (docs/operations.md).
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: 'InvokeFailover',
        actions: ['lambda:InvokeFunction'],
        resources: probed.map((t) => t.shard.function.functionArn),
      }),
    );

    this.schedule = new events.Rule(this, 'Schedule', {
      description: `eni-failover prober: a run every minute, each probing for ${DEFAULT_RUN_MS / 1000} s, so that runs overlap`,
      schedule: events.Schedule.rate(EVERY),
      targets: [
        new targets.LambdaFunction(this.function, { retryAttempts: 0, maxEventAge: Duration.minutes(1) }),
      ],
    });
    this.alarms = proberAlarms(this, props.serviceName, this.function, props.notificationTopic);
    this.addressAlarms = probedPairs.map((p) =>
      addressAlarm(this, props.serviceName, p.name, props.notificationTopic),
    );
    if (props.stateTable) this.useStateTable(props.stateTable);
  }

  /**
   * Keeps the prober's view across runs in the pair-state table (lambda/probe/store.ts): its name in the
   * environment, and reads and updates of the prober's own items only (`prober#…`, by dynamodb:LeadingKeys), never
   * the failover functions' (`<pair>`), which decide moves.
   */
  useStateTable(table: dynamodb.ITable): void {
    this.function.addEnvironment(ENV.stateTable, table.tableName);
    this.function.addToRolePolicy(
      new iam.PolicyStatement({
        sid: 'ProberView',
        actions: ['dynamodb:GetItem', 'dynamodb:UpdateItem'],
        resources: [table.tableArn],
        conditions: { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': ['prober#*'] } },
      }),
    );
    // A table with a customer managed key: the prober decrypts and encrypts its own items with it.
    table.encryptionKey?.grantEncryptDecrypt(this.function);
  }

  /** The alarms, for the construct's topic policy. */
  allAlarms(): cloudwatch.Alarm[] {
    return [...Object.values(this.alarms), ...this.addressAlarms];
  }
}
