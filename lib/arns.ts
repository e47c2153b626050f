import { Stack } from 'aws-cdk-lib';
import type { Construct } from 'constructs';
import type { Pair } from '../lambda/config.ts';

/** The instances of some pairs, each once. */
export const membersOf = (pairs: readonly Pair[]) => [
  ...new Set(pairs.flatMap((p) => [p.primaryInstanceId, p.standbyInstanceId])),
];

/** An EC2 resource's ARN in the scope's partition, region and account. */
export const ec2Arn = (
  scope: Construct,
  type: 'instance' | 'network-interface' | 'application-status-check',
  id: string,
) => {
  const stack = Stack.of(scope);
  return `arn:${stack.partition}:ec2:${stack.region}:${stack.account}:${type}/${id}`;
};
