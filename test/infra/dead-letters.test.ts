import { describe, expect, it } from 'vitest';
import { pairs, synthConfigured } from '../helpers/synth.ts';

type Statement = {
  Sid?: string;
  Principal?: { Service?: string };
  Condition?: Record<string, Record<string, unknown>>;
};

/** The dead-letter queue's policy statements in a stack of `n` pairs (a tenth of them in a group of their own), and its rule and topic counts. */
function queuePolicy(n: number): { statements: Statement[]; rules: number; topics: number } {
  const { template } = synthConfigured({
    pairs: pairs(n).map((p, i) => (i % 10 === 9 ? { ...p, group: 'apart' } : p)),
  });
  const policies = Object.values(template.findResources('AWS::SQS::QueuePolicy')) as {
    Properties: { PolicyDocument: { Statement: Statement[] } };
  }[];
  expect(policies).toHaveLength(1);
  return {
    statements: policies[0]?.Properties.PolicyDocument.Statement ?? [],
    rules: Object.keys(template.findResources('AWS::Events::Rule')).length,
    topics: Object.keys(template.findResources('AWS::SNS::Topic')).length - 1,
  };
}

describe('the dead-letter queue policy stays within SQS policy quotas however many groups', () => {
  // SQS Developer Guide, "Amazon SQS policy quotas": 20 statements and 10 conditions a policy.
  it.each([1, 100, 180])(
    '%s pairs: three statements (TLS-only, SNS, EventBridge), each source listed once',
    (n) => {
      const { statements, rules, topics } = queuePolicy(n);
      expect(statements).toHaveLength(3);
      const conditions = statements.reduce((sum, s) => sum + Object.keys(s.Condition ?? {}).length, 0);
      expect(conditions).toBeLessThanOrEqual(10);
      const sources = (service: string) =>
        statements.find((s) => s.Principal?.Service === service)?.Condition?.ArnEquals?.['aws:SourceArn'];
      // One alarm topic per function (two from 10 pairs on); every state-change (and Spot warning) rule
      // and reconcile schedule.
      expect(topics).toBe(n < 10 ? 1 : 2);
      expect([sources('sns.amazonaws.com')].flat()).toHaveLength(topics);
      expect(rules).toBeGreaterThan(n < 10 ? 1 : 20);
      expect([sources('events.amazonaws.com')].flat()).toHaveLength(rules);
      // 8,192 bytes at most: each reference resolves to an ARN of at most ~140 characters
      // (a rule's name is up to 64 characters; a topic's up to 256, but CloudFormation's are ~80).
      const resolved = JSON.stringify(statements).replace(
        /\{"Fn::GetAtt":\[[^\]]*\]\}|\{"Ref":"[^"]*"\}/g,
        'x'.repeat(140),
      );
      expect(resolved.length).toBeLessThanOrEqual(8_192);
    },
    120_000,
  );
});
