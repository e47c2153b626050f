// The hops of a construct given its topics (bring your own), as AWS authorizes them: the function publishes to
// the given notification topic and uses its key; the given alarm topic may invoke the function, another may not.
import { Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as sns from 'aws-cdk-lib/aws-sns';
import { beforeAll, describe, expect, it } from 'vitest';
import type { Pair } from '../../lambda/config.ts';
import { EniFailover } from '../../lib/index.ts';
import {
  ACCOUNT,
  type CfnTemplate,
  evaluate,
  type HopResult,
  hopsOf,
  REGION,
} from '../helpers/policy-engine.ts';
import { assemblyOf, newApp, pairs } from '../helpers/synth.ts';

const NOTIFY_ARN = `arn:aws:sns:${REGION}:${ACCOUNT}:ops-alerts`;
const ALARM_ARN = `arn:aws:sns:${REGION}:${ACCOUNT}:ec2-alarms`;
const KEY_ARN = `arn:aws:kms:${REGION}:${ACCOUNT}:key/11111111-2222-3333-4444-555555555555`;
const OTHER_KEY_ARN = `arn:aws:kms:${REGION}:${ACCOUNT}:key/99999999-2222-3333-4444-555555555555`;

describe('a construct given its topics, as AWS authorizes it', () => {
  let results: HopResult[];
  beforeAll(async () => {
    const stack = new Stack(newApp({ context: { 'aws:cdk:bundling-stacks': [] } }), 'Shop', {
      env: { account: ACCOUNT, region: REGION },
    });
    const [a, b] = pairs(2) as [Pair, Pair];
    new EniFailover(stack, 'Web', {
      pairs: [a, { ...b, group: 'db' }],
      notificationTopic: sns.Topic.fromTopicAttributes(stack, 'Ops', {
        topicArn: NOTIFY_ARN,
        keyArn: KEY_ARN,
      }),
      alarmTopic: sns.Topic.fromTopicArn(stack, 'Alarms', ALARM_ARN),
    });
    results = await evaluate(hopsOf(Template.fromStack(stack).toJSON() as CfnTemplate, assemblyOf(stack)));
  });
  const broken = (r: HopResult) => (r.expect === 'Allowed' ? r.got !== 'Allowed' : !/Denied$/.test(r.got));

  it('allows every hop the failover needs and refuses what it must not do', () => {
    expect(results.filter(broken).map((r) => `${r.name}: expected ${r.expect}, got ${r.got}`)).toEqual([]);
  });

  it("each function may publish to the given topic and use the topic's key, and no other key", async () => {
    const publish = results.filter((r) => /: publish a result$/.test(r.name));
    expect(publish.map((r) => [r.resource, r.got])).toEqual([
      [NOTIFY_ARN, 'Allowed'],
      [NOTIFY_ARN, 'Allowed'],
    ]);
    // The same roles, asked for the key: SNS calls GenerateDataKey and Decrypt as the publisher (SNS Developer
    // Guide, "Encryption at rest": the publisher needs both on a customer managed key). The key's owner keeps KMS's
    // default key policy, which lets the account's IAM policies grant use of the key (KMS Developer Guide,
    // "Default key policy"): the README asks for that or an explicit grant.
    const defaultKeyPolicy = {
      Statement: [
        {
          Effect: 'Allow',
          Principal: { AWS: `arn:aws:iam::${ACCOUNT}:root` },
          Action: 'kms:*',
          Resource: '*',
        },
      ],
    };
    const keyHops = publish.flatMap((hop) =>
      ['kms:GenerateDataKey', 'kms:Decrypt'].flatMap((action) => [
        {
          ...hop,
          name: `${hop.name}: ${action}`,
          action,
          resource: KEY_ARN,
          expect: 'Allowed' as const,
          resourcePolicy: defaultKeyPolicy,
        },
        {
          ...hop,
          name: `${hop.name}: ${action} on another key`,
          action,
          resource: OTHER_KEY_ARN,
          expect: 'Denied' as const,
          resourcePolicy: defaultKeyPolicy,
        },
      ]),
    );
    const answers = await evaluate(keyHops);
    expect(answers).toHaveLength(8);
    expect(answers.filter(broken).map((r) => `${r.name}: got ${r.got}`)).toEqual([]);
  });

  it('the given alarm topic may invoke each function; another topic may not', () => {
    const fromTopic = results.filter((r) => r.name.startsWith(`topic ${ALARM_ARN} -> function `));
    expect(fromTopic.map((r) => r.got)).toEqual(['Allowed', 'Allowed']);
    const others = results.filter((r) => /^another topic -> function /.test(r.name));
    expect(others).toHaveLength(2);
    for (const r of others) expect(r.got).toMatch(/Denied$/);
  });
});
