import type { Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import type { Pair } from '../../lambda/config.ts';
import { EniFailoverDemoStack } from '../../lib/demo-stack.ts';
import { policyProblems } from '../../lib/function-role.ts';
import { EniFailoverStack } from '../../lib/stack.ts';
import {
  ACCOUNT,
  brokenHops,
  type CfnTemplate,
  evaluate,
  type HopResult,
  hopsOf,
  REGION,
  releaseHops,
  resolver,
} from '../helpers/policy-engine.ts';
import { assemblyOf, newApp, pairs } from '../helpers/synth.ts';

/** Synthesizes without bundling the function: the policies do not depend on its code. */
const app = () => newApp({ context: { 'aws:cdk:bundling-stacks': [] } });
const env = { account: ACCOUNT, region: REGION };
const [a, b] = pairs(2) as [Pair, Pair];
/** A template, and its cloud assembly: the functions' pairs files are assets there. */
interface Synthesized {
  readonly template: CfnTemplate;
  readonly assembly: string;
}
const synthesized = (stack: Stack): Synthesized => ({
  template: Template.fromStack(stack).toJSON() as CfnTemplate,
  assembly: assemblyOf(stack),
});
const small = () =>
  synthesized(
    new EniFailoverStack(app(), 'Small', {
      env,
      config: {
        pairs: [
          { ...a, fence: true, moveOnRebalance: true },
          { ...b, verifyOs: true, applicationCheck: { protocol: 'http', port: 8080, path: '/health' } },
        ],
        experiments: [a.name],
        notificationEmails: ['oncall@example.com'],
      },
    }),
  );
const TEMPLATES: [string, () => Synthesized][] = [
  ['the demo', () => synthesized(new EniFailoverDemoStack(app(), 'EniFailoverDemo'))],
  [
    'a small config (a fenced pair, a verified pair with an application check, an experiment, an e-mail)',
    small,
  ],
  [
    '60 pairs with no group (one function), and 5 more in a group of their own',
    () =>
      synthesized(
        new EniFailoverStack(app(), 'Sixty', {
          env,
          config: { pairs: pairs(65).map((p, i) => (i < 60 ? p : { ...p, group: 'apart' })) },
        }),
      ),
  ],
];
const isBroken = (r: HopResult) => (r.expect === 'Allowed' ? r.got !== 'Allowed' : !/Denied$/.test(r.got));
const count = (results: HopResult[], pattern: RegExp) => results.filter((r) => pattern.test(r.name)).length;

describe.each(TEMPLATES)('every hop of %s, as AWS authorizes it', (_name, make) => {
  let template: CfnTemplate;
  let results: HopResult[];
  beforeAll(async () => {
    const made = make();
    template = made.template;
    results = await evaluate(hopsOf(template, made.assembly));
    // 65 pairs make some 1,500 evaluations: 20-40 s alone, minutes when the whole suite shares two cores.
  }, 300_000);
  const ofType = (type: string) => Object.values(template.Resources).filter((r) => r.Type === type);

  it('allows every hop the failover needs and refuses what it must not do', () => {
    expect(results.filter(isBroken).map((r) => `${r.name}: expected ${r.expect}, got ${r.got}`)).toEqual([]);
  });

  it('covers every alarm, subscription, rule and function of the template', () => {
    const alarms = ofType('AWS::CloudWatch::Alarm').length;
    expect(alarms).toBeGreaterThan(0);
    // Each alarm: the topic, then the topic's key for GenerateDataKey and Decrypt.
    expect(count(results, /^alarm .* -> topic /)).toBe(alarms);
    expect(count(results, /^alarm .* -> kms:GenerateDataKey on /)).toBe(alarms);
    expect(count(results, /^alarm .* -> kms:Decrypt on /)).toBe(alarms);
    // The failover functions (the demo also has CDK's custom resource handler for its VPC, and a config with an
    // application check the association function; neither has triggers of its own).
    const functions = ofType('AWS::Lambda::Function').filter((f) =>
      JSON.stringify(f).includes('FAILOVER_PAIRS'),
    ).length;
    expect(functions).toBeGreaterThan(0);
    expect(count(results, /^topic .* -> function /)).toBe(functions);
    // Each function: a state-change (and Spot warning) rule per slot its pairs fill, and the reconcile schedule;
    // a rebalance rule per slot that holds a pair asking for it (the small config's fenced pair does).
    const stateChangeRules = ofType('AWS::Events::Rule').filter((r) =>
      JSON.stringify(r).includes('EC2 Instance State-change Notification'),
    ).length;
    expect(stateChangeRules).toBeGreaterThanOrEqual(functions);
    expect(count(results, /^rule .*StateChangeRule.* -> function /)).toBe(stateChangeRules);
    const rebalanceRules = ofType('AWS::Events::Rule').filter((r) =>
      JSON.stringify(r).includes('EC2 Instance Rebalance Recommendation'),
    ).length;
    expect(count(results, /^rule .*RebalanceRule.* -> function /)).toBe(rebalanceRules);
    expect(count(results, /^rule .*RebalanceRule.* -> dead-letter queue/)).toBe(rebalanceRules);
    expect(count(results, /^rule .*ReconcileSchedule.* -> function /)).toBe(functions);
    expect(count(results, /^subscription .* -> dead-letter queue/)).toBe(functions);
    expect(count(results, /^rule .*StateChangeRule.* -> dead-letter queue/)).toBe(stateChangeRules);
    expect(count(results, /^rule .*ReconcileSchedule.* -> dead-letter queue/)).toBe(functions);
    expect(count(results, /: failed invocation -> dead-letter queue$/)).toBe(functions);
    expect(count(results, /: publish a result$/)).toBe(functions);
    expect(count(results, /ec2:AttachNetworkInterface on its ENI/)).toBeGreaterThan(0);
    expect(count(results, /: dynamodb:UpdateItem on its state table$/)).toBe(functions);
    // The deploy-time rehearsal: its role invokes each failover function, and may read its own stack.
    expect(count(results, /^rehearsal .*: invoke .*Function[0-9A-F]{8}$/)).toBe(functions);
    expect(count(results, /^rehearsal .*: read its stack$/)).toBe(1);
    expect(count(results, /: dynamodb:UpdateItem on another table \(refused\)$/)).toBe(functions);
    expect(count(results, /TerminateInstances/)).toBeGreaterThan(0);
    // Each association resource and each experiment's tags: their role's calls; each experiment: its role's trust.
    expect(count(results, /^associations .* on another check \(refused\)$/)).toBe(
      2 * ofType('Custom::ApplicationStatusCheckAssociations').length,
    );
    expect(count(results, /^experiment tags .*naming no tag/)).toBe(
      2 * ofType('Custom::ExperimentTargetTags').length,
    );
    expect(count(results, /^FIS .* -> assume /)).toBe(2 * ofType('AWS::FIS::ExperimentTemplate').length);
  });
});

describe("the old template's custom resources, under the new template's policy (CloudFormation updates the role's policy first)", () => {
  const checked = (p: Pair): Pair => ({ ...p, applicationCheck: { protocol: 'http', port: 8080 } });
  const [web, api, spare] = pairs(3).map(checked) as [Pair, Pair, Pair];
  const stack = (config: Pair[]) =>
    Template.fromStack(
      new EniFailoverStack(app(), 'Life', {
        env,
        config: { pairs: config, experiments: config.map((p) => p.name) },
      }),
    ).toJSON() as CfnTemplate;
  let start: CfnTemplate;
  beforeAll(() => {
    start = stack([web, api]);
  });

  it.each([
    ['change a member', () => [{ ...web, standbyInstanceId: spare.primaryInstanceId }, api]],
    ['remove a pair', () => [web]],
    ['rename a pair', () => [{ ...web, name: 'www' }, api]],
  ] as const)('%s: every disassociate and untag of the old resources is allowed', async (_name, next) => {
    const hops = releaseHops(start, stack(next()));
    // Both association resources (their check and two members) and both tag resources (two members).
    expect(hops).toHaveLength(2 * 3 + 2 * 2);
    expect((await evaluate(hops)).filter(isBroken).map((r) => `${r.name}: got ${r.got}`)).toEqual([]);
  });

  it("a check of another service stays out of reach, and the finding names the old template's call", async () => {
    const next = stack([web]);
    const retagged = JSON.parse(JSON.stringify(start)) as CfnTemplate;
    for (const r of Object.values(retagged.Resources))
      if (r.Type === 'AWS::EC2::ApplicationStatusCheck')
        for (const t of (r.Properties?.Tags ?? []) as { Key: string; Value: unknown }[])
          if (t.Key === 'eni-failover:service') t.Value = 'someone-else';
    const broken = (await evaluate(releaseHops(retagged, next))).filter(isBroken).map((r) => r.name);
    expect(broken).toHaveLength(2);
    for (const name of broken)
      expect(name).toMatch(
        /^old associations .*: ec2:DisassociateApplicationStatusCheck on its old check, under the new policy$/,
      );
  });
});

describe('the application status check alarms, as AWS authorizes them', () => {
  it("each member's StatusCheckFailed_Application alarm may publish to its alarm topic and use the topic's key", async () => {
    const { template, assembly } = small();
    const results = await evaluate(hopsOf(template, assembly));
    const hops = results.filter((r) => /^alarm \S*(Primary|Standby)ApplicationCheck\S* -> /.test(r.name));
    // Two alarms (primary, standby), each: the topic, then the key for GenerateDataKey and Decrypt.
    expect(hops).toHaveLength(6);
    expect(hops.filter(isBroken).map((r) => `${r.name}: got ${r.got}`)).toEqual([]);
  });
});

describe('the evaluation fails when a hop is broken (mutations of the small config)', () => {
  let template: CfnTemplate;
  let assembly: string;
  beforeAll(() => {
    ({ template, assembly } = small());
  });
  /** A copy of the template with one change. */
  const mutate = (change: (t: CfnTemplate) => void) => {
    const copy = structuredClone(template);
    change(copy);
    return copy;
  };
  const statementsOf = (t: CfnTemplate, type: string, field = 'PolicyDocument') =>
    Object.values(t.Resources)
      .filter((r) => r.Type === type)
      .map(
        (r) =>
          (r.Properties?.[field] as { Statement: Record<string, unknown>[] } | undefined)?.Statement ?? [],
      );
  const dropSid = (t: CfnTemplate, type: string, sid: string, field?: string) => {
    let dropped = 0;
    for (const statements of statementsOf(t, type, field)) {
      const i = statements.findIndex((s) => s.Sid === sid);
      if (i >= 0) {
        statements.splice(i, 1);
        dropped++;
      }
    }
    expect(dropped, `no ${sid} in ${type}`).toBeGreaterThan(0);
  };

  it.each([
    [
      "the alarm topic's allow for CloudWatch is dropped",
      (t: CfnTemplate) => {
        const policies = Object.values(t.Resources).filter(
          (r) => r.Type === 'AWS::SNS::TopicPolicy' && JSON.stringify(r).includes('AlarmTopic'),
        );
        for (const p of policies) {
          const doc = p.Properties?.PolicyDocument as { Statement: { Sid?: string }[] };
          doc.Statement = doc.Statement.filter((s) => s.Sid !== 'AllowTheseAlarmsToPublish');
        }
      },
      /^alarm .*StatusCheck.* -> topic .*AlarmTopic.*: expected Allowed, got ImplicitlyDenied$/,
    ],
    [
      "the alarm topic's policy forgets the application-check alarms",
      (t: CfnTemplate) => {
        for (const r of Object.values(t.Resources)) {
          if (r.Type !== 'AWS::SNS::TopicPolicy') continue;
          const doc = r.Properties?.PolicyDocument as {
            Statement: { Condition?: { ArnLike?: Record<string, unknown[]> } }[];
          };
          for (const st of doc.Statement) {
            const arns = st.Condition?.ArnLike?.['aws:SourceArn'];
            if (Array.isArray(arns) && st.Condition?.ArnLike)
              st.Condition.ArnLike['aws:SourceArn'] = arns.filter(
                (a) => !JSON.stringify(a).includes('ApplicationCheck'),
              );
          }
        }
      },
      /^alarm \S*ApplicationCheck\S* -> topic .*: expected Allowed, got ImplicitlyDenied$/,
    ],
    [
      "the key's allow for CloudWatch is dropped",
      (t: CfnTemplate) => dropSid(t, 'AWS::KMS::Key', 'AllowCloudWatchAlarmsToPublish', 'KeyPolicy'),
      /^alarm .* -> kms:GenerateDataKey on .*: expected Allowed/,
    ],
    [
      "the function role's ENI statement loses its condition (the IDs that scope it)",
      (t: CfnTemplate) => {
        for (const statements of statementsOf(t, 'AWS::IAM::ManagedPolicy'))
          for (const s of statements) if (s.Sid === 'MoveKeepAndTagTheConfiguredEnis') delete s.Condition;
      },
      /ec2:AttachNetworkInterface on another ENI eni-0badbadbadbadbad0: expected Denied, got Allowed/,
    ],
    [
      "the function role's instance statement is dropped",
      (t: CfnTemplate) => dropSid(t, 'AWS::IAM::ManagedPolicy', 'BetweenTheirInstances'),
      /ec2:AttachNetworkInterface on its instance i-.*: expected Allowed, got ImplicitlyDenied/,
    ],
    [
      "the function's permission for SNS is removed",
      (t: CfnTemplate) => {
        for (const [id, r] of Object.entries(t.Resources))
          if (r.Type === 'AWS::Lambda::Permission' && r.Properties?.Principal === 'sns.amazonaws.com')
            delete t.Resources[id];
      },
      /^topic .* -> function .*: expected Allowed, got ImplicitlyDenied$/,
    ],
    [
      "the dead-letter queue's allow for SNS is removed",
      (t: CfnTemplate) => {
        for (const statements of statementsOf(t, 'AWS::SQS::QueuePolicy')) {
          const i = statements.findIndex((s) => JSON.stringify(s.Principal).includes('sns.amazonaws.com'));
          statements.splice(i, 1);
        }
      },
      /^subscription .* -> dead-letter queue .*: expected Allowed/,
    ],
    [
      "the FIS role's resources are widened to *",
      (t: CfnTemplate) => {
        for (const statements of statementsOf(t, 'AWS::IAM::Policy'))
          for (const s of statements)
            if (JSON.stringify(s.Action).includes('ec2:StartInstances')) s.Resource = '*';
      },
      /^experiment .*: ec2:StopInstances on i-.*: expected Denied, got Allowed/,
    ],
    [
      "the FIS role's trust forgets aws:SourceAccount and aws:SourceArn",
      (t: CfnTemplate) => {
        for (const r of Object.values(t.Resources)) {
          const trust = r.Properties?.AssumeRolePolicyDocument as
            | { Statement: Record<string, unknown>[] }
            | undefined;
          if (r.Type === 'AWS::IAM::Role' && JSON.stringify(trust).includes('fis.amazonaws.com'))
            for (const st of trust?.Statement ?? []) delete st.Condition;
        }
      },
      /^FIS for another account's experiment \(refused\) -> assume .*: expected Denied, got Allowed$/,
    ],
    [
      "the FIS role's kms:CreateGrant loses its conditions",
      (t: CfnTemplate) => {
        for (const statements of statementsOf(t, 'AWS::IAM::Policy'))
          for (const st of statements)
            if (st.Sid === 'StartInstancesWithEncryptedVolumes') delete st.Condition;
      },
      /kms:CreateGrant not for an AWS resource \(refused\): expected Denied, got Allowed$/,
    ],
    [
      "the association role's check statement loses its tag condition",
      (t: CfnTemplate) => {
        for (const statements of statementsOf(t, 'AWS::IAM::Policy'))
          for (const st of statements) if (st.Sid === 'OnlyTheConstructsChecks') delete st.Condition;
      },
      /^associations .*: ec2:DisassociateApplicationStatusCheck on another service's check \(refused\): expected Denied, got Allowed$/,
    ],
    [
      "the association role's associate statement is widened to every instance",
      (t: CfnTemplate) => {
        for (const statements of statementsOf(t, 'AWS::IAM::Policy'))
          for (const st of statements)
            if (st.Sid === 'AssociateOnlyCurrentMembers')
              st.Resource = `arn:aws:ec2:${REGION}:${ACCOUNT}:instance/*`;
      },
      /^associations .*: ec2:AssociateApplicationStatusCheck on another instance \(refused\): expected Denied, got Allowed$/,
    ],
    [
      'the experiment tagging may write any tag',
      (t: CfnTemplate) => {
        for (const statements of statementsOf(t, 'AWS::IAM::Policy'))
          for (const st of statements)
            if (st.Sid === 'TagExperimentMembers')
              delete (st.Condition as Record<string, unknown>)['ForAllValues:StringLike'];
      },
      /^experiment tags .*: ec2:CreateTags Name on .* \(refused\): expected Denied, got Allowed$/,
    ],
    [
      'the experiment tagging may name no tag',
      (t: CfnTemplate) => {
        for (const statements of statementsOf(t, 'AWS::IAM::Policy'))
          for (const st of statements)
            if (st.Sid === 'TagExperimentMembers' || st.Sid === 'UntagOldExperimentMembers')
              delete (st.Condition as Record<string, unknown>).Null;
      },
      /^experiment tags .*: ec2:DeleteTags naming no tag \(refused\): expected Denied, got Allowed$/,
    ],
    [
      "the function role's untag loses its tag-key condition",
      (t: CfnTemplate) => {
        for (const statements of statementsOf(t, 'AWS::IAM::Policy'))
          for (const st of statements)
            if (st.Sid === 'UntagOnlyEniFailoverKeys')
              delete (st.Condition as Record<string, unknown>)['ForAllValues:StringLike'];
      },
      /^function .*: ec2:DeleteTags Name on its ENI .* \(refused\): expected Denied, got Allowed$/,
    ],
    [
      // The policy before the fix: DeleteTags beside Attach/Detach/Modify/CreateTags, under their ENI-ID condition.
      "the function role's untag back under the ENI-ID condition, which EC2 never sets for DeleteTags",
      (t: CfnTemplate) => {
        dropSid(t, 'AWS::IAM::Policy', 'UntagOnlyEniFailoverKeys');
        for (const statements of statementsOf(t, 'AWS::IAM::ManagedPolicy'))
          for (const st of statements)
            if (st.Sid === 'MoveKeepAndTagTheConfiguredEnis')
              st.Action = [st.Action as string[], 'ec2:DeleteTags'].flat();
      },
      /^function .*: ec2:DeleteTags on its ENI .*: expected Allowed, got ImplicitlyDenied$/,
    ],
    [
      'the function role may terminate instances',
      (t: CfnTemplate) => {
        statementsOf(t, 'AWS::IAM::Policy')[0]?.push({
          Effect: 'Allow',
          Action: 'ec2:TerminateInstances',
          Resource: '*',
        });
      },
      /: ec2:TerminateInstances on i-.*: expected Denied, got Allowed/,
    ],
    [
      "the state table's grant is dropped",
      (t: CfnTemplate) => {
        for (const statements of statementsOf(t, 'AWS::IAM::Policy')) {
          const i = statements.findIndex((s) => JSON.stringify(s.Action).includes('dynamodb:UpdateItem'));
          if (i >= 0) statements.splice(i, 1);
        }
      },
      /^function .*: dynamodb:UpdateItem on its state table: expected Allowed, got ImplicitlyDenied$/,
    ],
    [
      'the state table is granted on every table',
      (t: CfnTemplate) => {
        for (const statements of statementsOf(t, 'AWS::IAM::Policy'))
          for (const s of statements)
            if (JSON.stringify(s.Action).includes('dynamodb:UpdateItem')) s.Resource = '*';
      },
      /^function .*: dynamodb:UpdateItem on another table \(refused\): expected Denied, got Allowed$/,
    ],
    [
      "the rehearsal's role may invoke any function",
      (t: CfnTemplate) => {
        for (const statements of statementsOf(t, 'AWS::IAM::Policy'))
          for (const s of statements) if (s.Sid === 'RehearseTheFailoverFunctions') s.Resource = '*';
      },
      /^rehearsal .*: invoke another function: expected Denied, got Allowed$/,
    ],
  ] as const)('%s', async (_name, change, finding) => {
    expect(await brokenHops(template, assembly)).toEqual([]);
    const broken = await brokenHops(mutate(change), assembly);
    expect(
      broken.some((line) => finding.test(line)),
      broken.join('\n'),
    ).toBe(true);
  });
});

describe("IAM's size quotas, on the resolved policies of the fullest function", () => {
  /** IAM counts policy characters without whitespace (IAM User Guide, "IAM and AWS STS quotas"). */
  const INLINE_PER_ROLE = 10_240;
  const MANAGED_POLICY = 6_144;
  const MANAGED_PER_ROLE = 10;
  /** The longest partition and region: ARNs are longest there. */
  const GOV = { account: ACCOUNT, region: 'us-gov-west-1', partition: 'aws-us-gov' };

  /**
   * As many pairs with no group as the policy slots take, each with the most statements (fence, verifyOs) and
   * the longest IDs: the synth refuses the next one (by its slot, naming its pairs).
   */
  function fullestFunction(): Pair[] {
    const make = (n: number): Pair[] => pairs(n).map((p) => ({ ...p, fence: true, verifyOs: true }));
    let n = 1;
    while (policyProblems(make(n + 1), 'f').length === 0) n++;
    return make(n);
  }

  it.each([
    // The stack's region is known: CDK writes its partition and region as literals.
    ['a stack for us-gov-west-1', { account: ACCOUNT, region: GOV.region }, fullestFunction],
    // The region is known only at deploy: resolved here as the longest one.
    ['an environment-agnostic stack, deployed to us-gov-west-1', undefined, fullestFunction],
    // The stack's edge (lib/stack.ts): plain pairs, as many as CloudFormation's 500 resources take.
    [
      '213 plain pairs (the most one stack holds) in us-gov-west-1',
      { account: ACCOUNT, region: GOV.region },
      () => pairs(213),
    ],
  ])(
    '%s: every role within 10,240 characters inline, 6,144 per managed policy, 10 managed policies',
    (_name, stackEnv, configured) => {
      const all = configured();
      expect(all.length).toBeGreaterThanOrEqual(60);
      const template = Template.fromStack(
        new EniFailoverStack(app(), 'Full', { env: stackEnv, config: { pairs: all } }),
      ).toJSON() as CfnTemplate;
      const resolve = resolver(template, GOV);
      const size = (doc: unknown) => JSON.stringify(resolve(doc)).length;
      const resources = Object.entries(template.Resources);
      const attachedTo = (roleId: string, type: string) =>
        resources.filter(
          ([, r]) => r.Type === type && JSON.stringify(r.Properties?.Roles).includes(`"Ref":"${roleId}"`),
        );
      const roles = resources.filter(([, r]) => r.Type === 'AWS::IAM::Role');
      expect(roles.length).toBeGreaterThan(0);
      for (const [roleId] of roles) {
        const inline = attachedTo(roleId, 'AWS::IAM::Policy').reduce(
          (sum, [, p]) => sum + size(p.Properties?.PolicyDocument),
          0,
        );
        expect(inline, `${roleId} inline`).toBeLessThanOrEqual(INLINE_PER_ROLE);
        const managed = attachedTo(roleId, 'AWS::IAM::ManagedPolicy');
        expect(managed.length, `${roleId} managed policies`).toBeLessThanOrEqual(MANAGED_PER_ROLE);
        for (const [id, p] of managed)
          expect(size(p.Properties?.PolicyDocument), id).toBeLessThanOrEqual(MANAGED_POLICY);
      }
      // Every pair is still within reach: split across the slots' policies, not truncated.
      const policies = JSON.stringify(resources.filter(([, r]) => r.Type === 'AWS::IAM::ManagedPolicy'));
      for (const p of all) expect(policies).toContain(p.networkInterfaceId);
    },
  );

  it('one pair more than the slots take is refused at synth, naming its slot, its pairs and the way out', () => {
    const full = fullestFunction();
    const more = [...full, { ...(pairs(full.length + 1).at(-1) as Pair), fence: true, verifyOs: true }];
    expect(() =>
      Template.fromStack(new EniFailoverStack(app(), 'Over', { env, config: { pairs: more } })),
    ).toThrow(
      /the pairs without a "group": the permissions of \d+ pairs \(.*\), which share policy slot \d by a hash of their names, make [\d,]+ characters, over IAM's 6,144 per managed policy .* give some of these pairs a "group"/,
    );
  });
});
