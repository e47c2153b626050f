import { createHash } from 'node:crypto';
import { Token } from 'aws-cdk-lib';
import { type Pair, valuePlaceholder } from '../lambda/config.ts';

/**
 * Lambda allows 4 KB of environment in all. The pairs themselves go to a file in the function's code (no
 * limit that matters); only the values CloudFormation resolves at deploy (tokens: IDs of resources made in the
 * same app, the stack's application check IDs) go to FAILOVER_VALUES, which may take this much of it.
 */
export const VALUES_ENV_BUDGET = 3_500;
/** What a token's deployed value is measured as: longer than any EC2 ID (eni- and 17 hex digits is 21). */
const TOKEN_VALUE_LENGTH = 32;

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
 * Pairs by their `group` (those without one first), each group in configuration order. Every pair without a
 * group shares one function, however many there are; `group` is for blast radius (a function, role and alarm
 * topic of their own), not for size.
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

/**
 * A function's pair-dependent resources that have a size limit (its state-change rules, its permissions) are
 * split into slots, and a pair's slot is a hash of its name into a number of slots that never changes: adding
 * or removing a pair changes only its own slot's rule and policy, never another pair's, and moves no one.
 * 16 state-change rules (EventBridge's event pattern holds 2,048 characters by default: about 40 pairs) and
 * 8 managed policies (a role takes 10; 6,144 characters each), slot k's policy serving rule slots k and k + 8.
 */
export const RULE_SLOTS = 16;
export const POLICY_SLOTS = 8;

/** The pair's rule slot, 0 to RULE_SLOTS - 1: the first 4 bytes of the SHA-256 of its name. */
export const slotOf = (pair: Pair): number =>
  createHash('sha256').update(pair.name).digest().readUInt32BE(0) % RULE_SLOTS;

/** The pair's policy slot, 0 to POLICY_SLOTS - 1 (its rule slot's, folded). */
export const policySlotOf = (pair: Pair): number => slotOf(pair) % POLICY_SLOTS;

/** Pairs by slot, in slot order, only the slots that hold a pair; each in configuration order. */
export function bySlot(pairs: readonly Pair[], slot: (p: Pair) => number): [number, Pair[]][] {
  const slots = new Map<number, Pair[]>();
  for (const pair of pairs) slots.set(slot(pair), [...(slots.get(slot(pair)) ?? []), pair]);
  return [...slots].sort(([a], [b]) => a - b);
}

/** The function's configuration: its pairs file, with each token replaced by a placeholder, and those tokens. */
export interface FunctionConfig {
  /** The JSON text of FAILOVER_PAIRS_FILE. */
  readonly file: string;
  /** FAILOVER_VALUES, in placeholder order: CloudFormation resolves them. */
  readonly values: readonly (string | number)[];
}

/** Splits the pairs into what a file can hold (literals) and what only CloudFormation can resolve (tokens). */
export function functionConfig(pairs: readonly Pair[]): FunctionConfig {
  const values: (string | number)[] = [];
  const file = JSON.stringify(withoutGroup(pairs), (_key, value: unknown) => {
    if ((typeof value !== 'string' && typeof value !== 'number') || !Token.isUnresolved(value)) return value;
    values.push(value);
    return valuePlaceholder(values.length - 1);
  });
  return { file, values };
}

/**
 * The values FAILOVER_VALUES will hold: the pairs' tokens, and the ID of each check the stack will make for a pair
 * with `applicationCheck` that does not name one yet (lib/application-checks.ts withApplicationCheckIds).
 */
const valueCount = (pairs: readonly Pair[]): number =>
  functionConfig(pairs).values.length +
  pairs.filter((p) => p.applicationCheck !== undefined && p.applicationCheckId === undefined).length;

/** The bytes FAILOVER_VALUES will take once deployed, each token measured at TOKEN_VALUE_LENGTH. */
export const valuesEnvBytes = (pairs: readonly Pair[]): number =>
  Buffer.byteLength(
    JSON.stringify(Array.from({ length: valueCount(pairs) }, () => 'x'.repeat(TOKEN_VALUE_LENGTH))),
  );

/** The problem when these pairs' FAILOVER_VALUES would not fit the budget, named (`which`), with what to do. */
export function valuesProblems(
  pairs: readonly Pair[],
  which: string,
  budget: number = VALUES_ENV_BUDGET,
): string[] {
  const bytes = valuesEnvBytes(pairs);
  if (bytes <= budget) return [];
  const tokens = valueCount(pairs);
  return [
    `${which}: ${tokens} values CloudFormation resolves at deploy (IDs of resources made in the same app, application check IDs) make up to ${bytes.toLocaleString('en')} bytes of FAILOVER_VALUES, over the ${budget.toLocaleString('en')} a function's 4 KB Lambda environment leaves for them (about ${Math.floor(budget / (TOKEN_VALUE_LENGTH + 3))}): give some of these pairs another "group" (pairs of one group share a function), or give their IDs as literals`,
  ];
}

/** Every group whose FAILOVER_VALUES would not fit the budget, named, with what to do. */
export function groupProblems(pairs: readonly Pair[], budget: number = VALUES_ENV_BUDGET): string[] {
  return groupPairs(pairs).flatMap(({ group, pairs: members }) =>
    valuesProblems(
      members,
      group === undefined ? 'the pairs without a "group"' : `group ${JSON.stringify(group)}`,
      budget,
    ),
  );
}
