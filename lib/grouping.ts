import { Token } from 'aws-cdk-lib';
import type { Pair } from '../lambda/config.ts';

/**
 * Lambda allows 4 KB of environment in all; FAILOVER_PAIRS may take this much of it. About 20 pairs
 * fit (a pair with 17-digit IDs and a short name is some 160 bytes of JSON), so larger configurations
 * give their pairs a `group`: one function each.
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
    ...(p.applicationCheckId === undefined
      ? {}
      : { applicationCheckId: standIn('asc', p.applicationCheckId) }),
  }));
}

/** A group of pairs that one function serves; `group` undefined is the pairs that name none. */
export interface PairGroup {
  readonly group: string | undefined;
  readonly pairs: readonly Pair[];
}

/** What the function is given: the group is a deployment choice it has no use for. */
export const withoutGroup = (pairs: readonly Pair[]): Pair[] => pairs.map(({ group: _, ...pair }) => pair);

/**
 * The bytes of FAILOVER_PAIRS for these pairs; token IDs are measured by stand-ins of their deployed length,
 * and a pair whose check the stack makes carries its ID (lib/application-checks.ts withApplicationCheckIds).
 */
export const pairsEnvBytes = (pairs: readonly Pair[]): number =>
  Buffer.byteLength(
    JSON.stringify(
      withoutGroup(checkable(pairs)).map((p) =>
        p.applicationCheck ? { ...p, applicationCheckId: `asc-${'0'.repeat(17)}` } : p,
      ),
    ),
  );

/**
 * Pairs by their `group` (those without one first), each group in configuration order. A pair's group is
 * written in the configuration, so adding or removing other pairs never moves it to another function
 * (whose alarms CloudFormation would replace).
 */
export function groupPairs(pairs: readonly Pair[]): PairGroup[] {
  const groups = new Map<string | undefined, Pair[]>([[undefined, []]]);
  for (const pair of pairs) {
    const members = groups.get(pair.group) ?? [];
    members.push(pair);
    groups.set(pair.group, members);
  }
  return [...groups]
    .filter(([, members]) => members.length > 0)
    .map(([group, members]) => ({ group, pairs: members }));
}

/** Every group whose FAILOVER_PAIRS would not fit the budget, named, with what to do. */
export function groupProblems(pairs: readonly Pair[], budget: number = PAIRS_ENV_BUDGET): string[] {
  return groupPairs(pairs).flatMap(({ group, pairs: members }) => {
    const bytes = pairsEnvBytes(members);
    if (bytes <= budget) return [];
    const which = group === undefined ? 'the pairs without a "group"' : `group ${JSON.stringify(group)}`;
    return [
      `${which}: ${members.length} pairs make ${bytes.toLocaleString('en')} bytes of FAILOVER_PAIRS, over the ${budget.toLocaleString('en')} a function's 4 KB Lambda environment leaves for them (about 20 pairs): give some of these pairs another "group" (pairs of one group share a function)`,
    ];
  });
}
