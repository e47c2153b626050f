import { Token } from 'aws-cdk-lib';
import type { Pair } from '../lambda/config';

/**
 * Lambda allows 4 KB of environment in all; FAILOVER_PAIRS may take this much of it. About 20 pairs
 * fit (a pair with 17-digit IDs and a short name is some 160 bytes of JSON), so larger configurations
 * are split across several functions: see shardPairs.
 */
export const PAIRS_ENV_BUDGET = 3_500;

/** Unresolved tokens (IDs of resources made in the same app) cannot be checked until deploy: stand-ins can. */
export function checkable(pairs: readonly Pair[]): Pair[] {
  let n = 0;
  const standIn = (prefix: string, value: string) =>
    Token.isUnresolved(value) ? `${prefix}-${(n++).toString(16).padStart(17, '0')}` : value;
  return pairs.map((p) => ({
    ...p,
    networkInterfaceId: standIn('eni', p.networkInterfaceId),
    primaryInstanceId: standIn('i', p.primaryInstanceId),
    standbyInstanceId: standIn('i', p.standbyInstanceId),
  }));
}

/**
 * Splits pairs, in order, into groups whose FAILOVER_PAIRS fits PAIRS_ENV_BUDGET: one function each.
 * Token IDs are measured by stand-ins of their deployed length.
 */
export function shardPairs(pairs: readonly Pair[], budget: number = PAIRS_ENV_BUDGET): Pair[][] {
  const sizes = checkable(pairs).map((p) => JSON.stringify(p).length + 1);
  const shards: Pair[][] = [];
  let current: Pair[] = [];
  let used = 1;
  pairs.forEach((pair, i) => {
    const size = sizes[i] as number;
    if (current.length > 0 && used + size > budget) {
      shards.push(current);
      current = [];
      used = 1;
    }
    current.push(pair);
    used += size;
  });
  if (current.length > 0) shards.push(current);
  return shards;
}
