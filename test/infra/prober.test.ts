// Issue 17, step 3: the prober as the construct deploys it. Template assertions on the VPC function, its
// schedule, security group, permissions, endpoint, alarms and dashboard; cdk-nag as bin/ runs it; the
// prober -> function hop (and what it must not do) through the IAM evaluator.
import { Stack, Validations } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import { AwsSolutionsChecks } from 'cdk-nag';
import { describe, expect, it } from 'vitest';
import type { Pair } from '../../lambda/config.ts';
import { EniFailover } from '../../lib/index.ts';
import type { ProbeProps } from '../../lib/prober.ts';
import {
  ACCOUNT,
  type CfnTemplate,
  evaluate,
  hopsOf,
  identityPoliciesOf,
  proberTargets,
  REGION,
  resolver,
} from '../helpers/policy-engine.ts';
import { assemblyOf, newApp, pairs } from '../helpers/synth.ts';

const ENV = { account: ACCOUNT, region: REGION };

function synth(options: { probe?: Partial<ProbeProps>; pairs?: Pair[]; isolated?: boolean } = {}) {
  const app = newApp({ context: { 'aws:cdk:bundling-stacks': [] } });
  const stack = new Stack(app, 'Shop', { env: ENV });
  const vpc = new ec2.Vpc(stack, 'Vpc', {
    maxAzs: 2,
    natGateways: options.isolated ? 0 : 1,
    subnetConfiguration: [
      { name: 'public', subnetType: ec2.SubnetType.PUBLIC },
      {
        name: 'app',
        subnetType: options.isolated ? ec2.SubnetType.PRIVATE_ISOLATED : ec2.SubnetType.PRIVATE_WITH_EGRESS,
      },
    ],
  });
  // The user's VPC, as cdk-nag wants it: with a flow log.
  vpc.addFlowLog('FlowLog');
  const [web, db, plain] = pairs(3) as [Pair, Pair, Pair];
  const failover = new EniFailover(stack, 'EniFailover', {
    pairs: options.pairs ?? [
      { ...web, probe: { protocol: 'http', port: 8080, path: '/health' } },
      { ...db, group: 'db', probe: { protocol: 'tcp', port: 5432 } },
      plain,
    ],
    probe: {
      vpc,
      ...(options.isolated ? { subnets: { subnetType: ec2.SubnetType.PRIVATE_ISOLATED } } : {}),
      ...options.probe,
    },
  });
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  return { stack, failover, template: Template.fromStack(stack) };
}

const proberFunction = (t: Template) =>
  Object.values(
    t.findResources('AWS::Lambda::Function', {
      Properties: { Environment: { Variables: { PROBE_TARGETS_FILE: Match.anyValue() } } },
    }),
  );

describe("the prober in the pairs' VPC", () => {
  const { template, failover, stack } = synth();

  it("one function in the VPC's private subnets, probing ~75 s a run, arm64, 128 MB, no retries, no run kept past a minute", () => {
    const [fn] = proberFunction(template);
    expect(proberFunction(template)).toHaveLength(1);
    expect(fn?.Properties).toMatchObject({
      Runtime: 'nodejs24.x',
      Architectures: ['arm64'],
      MemorySize: 128,
      Timeout: 90,
      ReservedConcurrentExecutions: 3,
      // The private subnets (Vpc 'app'), not the public ones; the prober's own security group.
      VpcConfig: {
        SubnetIds: [{ Ref: expect.stringMatching(/^Vpcapp/) }, { Ref: expect.stringMatching(/^Vpcapp/) }],
        SecurityGroupIds: [{ 'Fn::GetAtt': [expect.stringMatching(/Prober/), 'GroupId'] }],
      },
    });
    template.hasResourceProperties('AWS::Lambda::EventInvokeConfig', {
      FunctionName: { Ref: stack.getLogicalId(failover.prober?.function.node.defaultChild as never) },
      MaximumRetryAttempts: 0,
      // A throttled run is dropped after a minute, not retried for hours.
      MaximumEventAgeInSeconds: 60,
    });
  });

  it("its targets file names each probed pair's own function, with the pairs in full, and no unprobed pair", () => {
    // Read as the prober reads it: the file in its staged code, FAILOVER_VALUES (the functions' names) filled.
    const json = template.toJSON() as CfnTemplate;
    const logicalId = (c: { node: { defaultChild?: unknown } }) =>
      stack.getLogicalId(c.node.defaultChild as never);
    const id = logicalId(failover.prober?.function as never);
    const targets = proberTargets(json, assemblyOf(stack), id);
    const name = (shard: number) =>
      resolver(json)({ Ref: logicalId(failover.shards[shard]?.function as never) });
    expect(targets.map((t) => [t.functionName, t.pairs.map((p) => p.name)])).toEqual([
      [name(0), ['svc0']],
      [name(1), ['svc1']],
    ]);
    expect(JSON.stringify(targets)).not.toContain('"group');
    expect(targets[1]?.pairs[0]?.probe).toMatchObject({ protocol: 'tcp', port: 5432 });
    // Nothing of the pairs in the environment: Lambda's 4 KB would hold few of them.
    expect(Object.keys(proberFunction(template)[0]?.Properties.Environment.Variables).sort()).toEqual([
      // The state table's name (issue 23: the prober's view across runs).
      'FAILOVER_STATE_TABLE',
      'FAILOVER_VALUES',
      'POWERTOOLS_METRICS_NAMESPACE',
      'POWERTOOLS_SERVICE_NAME',
      'PROBE_TARGETS_FILE',
    ]);
  });

  it('a schedule every minute starts the next run before the last ends, without retries', () => {
    template.hasResourceProperties('AWS::Events::Rule', {
      ScheduleExpression: 'rate(1 minute)',
      Targets: [Match.objectLike({ RetryPolicy: { MaximumRetryAttempts: 0, MaximumEventAgeInSeconds: 60 } })],
    });
  });

  it('its security group: out only to the VPC on the probe ports and to 443 (the Lambda API); nothing in', () => {
    const groups = template.findResources('AWS::EC2::SecurityGroup', {
      Properties: { GroupDescription: Match.stringLikeRegexp('prober') },
    });
    const [group] = Object.values(groups);
    expect(group?.Properties.SecurityGroupIngress).toBeUndefined();
    const egress = (
      (group?.Properties.SecurityGroupEgress ?? []) as { FromPort: number; CidrIp: unknown }[]
    ).map((e) => [e.FromPort, typeof e.CidrIp === 'string' ? e.CidrIp : 'vpc']);
    expect(egress.sort()).toEqual([
      [443, '0.0.0.0/0'],
      [5432, 'vpc'],
      [8080, 'vpc'],
    ]);
  });

  it('three alarms on the on-call path: errors, cannot reach either member, no run', () => {
    const alarms = template.findResources('AWS::CloudWatch::Alarm', {
      Properties: { AlarmDescription: Match.stringLikeRegexp('prober:|prober cannot') },
    });
    expect(Object.keys(alarms)).toHaveLength(3);
    for (const a of Object.values(alarms))
      expect(a.Properties.AlarmActions).toEqual(
        [{ Ref: Match.stringLikeRegexp('NotificationTopic') }].map(() => expect.anything()),
      );
    const descriptions = Object.values(alarms).map((a) => a.Properties.AlarmDescription as string);
    expect(descriptions.some((d) => /cannot reach either member/.test(d))).toBe(true);
    expect(descriptions.some((d) => /no run started/.test(d))).toBe(true);
  });

  it('issue 23: one alarm a probed pair, on the on-call path: its service address has not answered for 3 minutes while its holder passes', () => {
    const alarms = template.findResources('AWS::CloudWatch::Alarm', {
      Properties: { MetricName: 'AddressDownHolderUp' },
    });
    expect(Object.values(alarms).map((a) => a.Properties.Dimensions)).toEqual([
      expect.arrayContaining([{ Name: 'Pair', Value: 'svc0' }]),
      expect.arrayContaining([{ Name: 'Pair', Value: 'svc1' }]),
    ]);
    for (const a of Object.values(alarms)) {
      // Every probe of 3 whole minutes failed while the holder passed: a move's own outage is shorter.
      expect(a.Properties).toMatchObject({
        Statistic: 'Minimum',
        Period: 60,
        EvaluationPeriods: 3,
        Threshold: 1,
        ComparisonOperator: 'GreaterThanOrEqualToThreshold',
        TreatMissingData: 'notBreaching',
        AlarmActions: [expect.anything()],
      });
      expect(a.Properties.AlarmDescription).toMatch(
        /service address has not answered .* check the interface is up in the guest/,
      );
    }
  });

  it("the dashboard shows each probed pair's probe latency and failures per member", () => {
    const body = JSON.stringify(
      stack.resolve(
        Object.values(template.findResources('AWS::CloudWatch::Dashboard'))[0]?.Properties.DashboardBody,
      ),
    );
    expect(body).toContain('svc0: probe latency per member');
    expect(body).toContain('svc1: failed probes per member');
    expect(body).not.toContain('svc2: probe');
    expect(body).toContain('ProbeLatency');
    // Issue 23: the service address beside the pair's members.
    expect(body).toContain('svc0: service address');
    expect(body).toContain('AddressDowntime');
  });

  it("the IAM evaluator: the prober may invoke the probed pairs' functions and nothing else", async () => {
    const hops = hopsOf(template.toJSON() as CfnTemplate, assemblyOf(stack)).filter(
      (h) => h.name.startsWith('prober') || /-> function .*Prober/.test(h.name),
    );
    const results = await evaluate(hops);
    const allowed = results
      .filter((r) => r.got === 'Allowed')
      .map((r) => r.name.replace(/^prober \S+: /, ''));
    expect(
      results
        .filter((r) => (r.expect === 'Allowed') !== (r.got === 'Allowed'))
        .map((r) => `${r.name}: ${r.got}`),
    ).toEqual([]);
    expect(allowed.filter((n) => n.startsWith('invoke'))).toHaveLength(2);
    expect(results.some((r) => r.action === 'ec2:DetachNetworkInterface' && /Denied$/.test(r.got))).toBe(
      true,
    );
    expect(results.some((r) => r.action === 'sns:Publish' && /Denied$/.test(r.got))).toBe(true);
    expect(results.some((r) => /rule .* -> function .*Prober/.test(r.name) && r.got === 'Allowed')).toBe(
      true,
    );
  });
});

describe("issue 23: the prober's view across runs in the pair-state table", () => {
  // The construct's own pair-state table (lib/eni-failover.ts), the failover functions' items beside the prober's.
  const { template, stack } = synth();
  const cfn = template.toJSON() as CfnTemplate;
  const roleId = Object.keys(template.findResources('AWS::IAM::Role')).find((id) =>
    /ProberRole/.test(id),
  ) as string;
  const tableArn = `arn:aws:dynamodb:${REGION}:${ACCOUNT}:table/Shop-State`;

  it("the table's name in the prober's environment", () => {
    const [fn] = proberFunction(template);
    expect(fn?.Properties.Environment.Variables.FAILOVER_STATE_TABLE).toEqual({
      Ref: expect.stringMatching(/StateTable/),
    });
    expect(stack.resolve(fn?.Properties.Environment.Variables.FAILOVER_STATE_TABLE)).toBeDefined();
  });

  it.each([
    ['reads its own item', 'dynamodb:GetItem', 'prober#svc0', 'Allowed'],
    ['updates its own item', 'dynamodb:UpdateItem', 'prober#svc0', 'Allowed'],
    ["reads a pair's own item (the function's)", 'dynamodb:GetItem', 'svc0', 'Denied'],
    ["updates a pair's own item (the lease, damping)", 'dynamodb:UpdateItem', 'svc0', 'Denied'],
    ['deletes its own item', 'dynamodb:DeleteItem', 'prober#svc0', 'Denied'],
    ['scans the table', 'dynamodb:Scan', 'prober#svc0', 'Denied'],
  ])('the IAM evaluator: the prober %s: %s', async (_, action, key, expected) => {
    const policies = identityPoliciesOf(cfn, roleId);
    const [result] = await evaluate([
      {
        name: action,
        expect: expected as 'Allowed' | 'Denied',
        principal: `arn:aws:iam::${ACCOUNT}:role/prober`,
        action,
        // The table's ARN as the resolver makes it: the policy names it by Fn::GetAtt.
        resource: (JSON.stringify(policies).match(/arn:aws:dynamodb:[^"]+/)?.[0] ?? tableArn).replace(
          /\/index.*/,
          '',
        ),
        context: { 'dynamodb:LeadingKeys': [key] },
        identityPolicies: policies,
      },
    ]);
    expect(result?.got ?? '').toMatch(expected === 'Allowed' ? /^Allowed$/ : /Denied$/);
  });
});

describe('issue 23: the memory follows the probed pairs, and synth refuses more than one run keeps on time', () => {
  const https = (n: number) =>
    pairs(n).map((p) => ({ ...p, probe: { protocol: 'https' as const, port: 443 } }));
  const memory = (t: Template) => proberFunction(t)[0]?.Properties.MemorySize;

  it('a few pairs: 128 MB; 20 HTTPS pairs at 1 s: more, in steps of 64 MB', () => {
    expect(memory(synth().template)).toBe(128);
    const big = memory(synth({ pairs: https(20) }).template);
    expect(big % 64).toBe(0);
    expect(big).toBeGreaterThan(256);
  });

  it('a memorySize too small for its pairs, or more pairs than one vCPU keeps: refused, saying what to do', () => {
    expect(() => synth({ pairs: https(20), probe: { memorySize: 128 } })).toThrow(
      /20 probed pairs need about \d+ ms of CPU a second, over the \d+ ms one run keeps on time at 128 MB: give memorySize \d+ or more/,
    );
    expect(() => synth({ pairs: https(100) })).toThrow(/probe fewer pairs in this construct/);
  });
});

describe('the Lambda API through an interface endpoint, for a VPC without a NAT gateway', () => {
  it("an endpoint for lambda with private DNS, open to the prober's security group on 443 only", () => {
    const { template } = synth({ isolated: true, probe: { lambdaEndpoint: true } });
    template.hasResourceProperties('AWS::EC2::VPCEndpoint', {
      ServiceName: 'com.amazonaws.eu-west-1.lambda',
      VpcEndpointType: 'Interface',
      PrivateDnsEnabled: true,
    });
    template.hasResourceProperties('AWS::EC2::SecurityGroupIngress', {
      IpProtocol: 'tcp',
      FromPort: 443,
      ToPort: 443,
      SourceSecurityGroupId: Match.anyValue(),
    });
  });

  it('with the endpoint and no subnets given, the isolated subnets: a VPC without NAT has no others', () => {
    // `subnets: undefined` overrides the isolated selection the helper passes: the construct's default is tested.
    const { template } = synth({ isolated: true, probe: { lambdaEndpoint: true, subnets: undefined } });
    const [fn] = proberFunction(template);
    expect(fn?.Properties.VpcConfig.SubnetIds).toEqual([
      { Ref: expect.stringMatching(/^Vpcapp/) },
      { Ref: expect.stringMatching(/^Vpcapp/) },
    ]);
    template.hasResourceProperties('AWS::EC2::VPCEndpoint', {
      SubnetIds: [{ Ref: Match.stringLikeRegexp('^Vpcapp') }, { Ref: Match.stringLikeRegexp('^Vpcapp') }],
    });
  });

  it('no endpoint unless asked', () => {
    const { template } = synth();
    template.resourceCountIs('AWS::EC2::VPCEndpoint', 0);
  });
});

describe('probe props are checked together with the pairs', () => {
  it('pairs with probe but no prober, or a prober with no probed pair: one error each, naming them', () => {
    const app = newApp({ context: { 'aws:cdk:bundling-stacks': [] } });
    const stack = new Stack(app, 'Shop', { env: ENV });
    const vpc = new ec2.Vpc(stack, 'Vpc');
    const [a] = pairs(1) as [Pair];
    expect(
      () => new EniFailover(stack, 'A', { pairs: [{ ...a, probe: { protocol: 'tcp', port: 1 } }] }),
    ).toThrow(/pairs svc0 set probe, but the construct has no probe prop/);
    expect(() => new EniFailover(stack, 'B', { pairs: [a], probe: { vpc } })).toThrow(
      /probe is given, but no pair sets a probe option/,
    );
  });
});

describe('cdk-nag (AwsSolutions, as bin/ runs it: a finding fails the synth)', () => {
  it.each([
    ['through a NAT gateway', {}],
    ['through the interface endpoint', { isolated: true, probe: { lambdaEndpoint: true } }],
  ])('%s: no unacknowledged finding', (_, options) => {
    expect(() => synth(options)).not.toThrow();
  });
});
