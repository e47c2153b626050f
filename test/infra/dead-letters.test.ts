import { describe, expect, it } from 'vitest';
import { pairs, synthConfigured } from '../helpers/synth';

type Statement = {
  Sid?: string;
  Principal?: { Service?: string };
  Condition?: Record<string, Record<string, unknown>>;
};

/** The dead-letter queue's policy statements in a stack of `n` pairs. */
function queuePolicy(n: number): Statement[] {
  const { template } = synthConfigured({ pairs: pairs(n) });
  const policies = Object.values(template.findResources('AWS::SQS::QueuePolicy')) as {
    Properties: { PolicyDocument: { Statement: Statement[] } };
  }[];
  expect(policies).toHaveLength(1);
  return policies[0]?.Properties.PolicyDocument.Statement ?? [];
}

describe('the dead-letter queue policy stays within SQS policy quotas however many groups', () => {
  // SQS Developer Guide, "Amazon SQS policy quotas": 20 statements and 10 conditions a policy.
  it.each([1, 100, 180])(
    '%s pairs: three statements (TLS-only, SNS, EventBridge), each source listed once',
    (n) => {
      const statements = queuePolicy(n);
      expect(statements).toHaveLength(3);
      const conditions = statements.reduce((sum, s) => sum + Object.keys(s.Condition ?? {}).length, 0);
      expect(conditions).toBeLessThanOrEqual(10);
      const sources = (service: string) =>
        statements.find((s) => s.Principal?.Service === service)?.Condition?.ArnEquals?.['aws:SourceArn'];
      const groups = Math.max(1, Math.ceil(n / 20));
      // One alarm topic per group; the state-change (and Spot warning) rule and the reconcile schedule of
      // each group.
      expect([sources('sns.amazonaws.com')].flat()).toHaveLength(groups);
      expect([sources('events.amazonaws.com')].flat()).toHaveLength(2 * groups);
      // 8,192 bytes at most: each reference resolves to an ARN of at most ~140 characters
      // (a rule's name is up to 64 characters; a topic's up to 256, but CloudFormation's are ~80).
      const resolved = JSON.stringify(statements).replace(
        /\{"Fn::GetAtt":\[[^\]]*\]\}|\{"Ref":"[^"]*"\}/g,
        'x'.repeat(140),
      );
      expect(resolved.length).toBeLessThanOrEqual(8_192);
    },
  );
});
