// PURE: the probe evidence rule (docs/contract.md event 8), shared by the planner (lambda/plan.ts), which
// decides on it, and the prober (lambda/probe/), which sends evidence only when its side of it holds.
// The rule exists so that the prober's own network can never move the address: a holder counts as
// failed by probe only while the other member passes in the same window.
import { type Pair, probeSettings, roleOf } from './config.ts';

/** Evidence older than this moves nothing: the holder may have recovered since. */
export const EVIDENCE_MAX_AGE_MS = 30_000;
/** Evidence from further in the future than this is from a clock that cannot be trusted. */
export const EVIDENCE_MAX_SKEW_MS = 5_000;

/** The prober's findings about one member (the `probe` trigger, lambda/events.ts). Times are epoch ms. */
export interface Evidence {
  readonly instanceId: string;
  /** Consecutive failed probes. */
  readonly failures: number;
  /** When the first and the last of them started. */
  readonly firstFailureAt: number;
  readonly lastFailureAt: number;
  readonly errors: readonly string[];
  /**
   * The pair's other member as the prober last saw it; `passes` and `failures`: its probes in the
   * evidence's window (from the first failure to the last), which the rule needs all passing. Optional, so
   * that an earlier prober's evidence still parses; without them only `passing` and `at` are checked.
   */
  readonly other: {
    readonly instanceId: string;
    readonly passing: boolean;
    readonly at: number;
    readonly passes?: number;
    readonly failures?: number;
  };
}

/**
 * Why a probe failed, by its error: `refused` (ECONNREFUSED: the host answered, nothing listens), `reset`
 * (the connection was dropped by the member), `status` (an HTTP answer with the wrong status), `timeout`
 * (no answer: a dead host, a security group that drops, or a lost packet), `unreachable` (no route, no
 * host), `other`. The first three come from the member itself: it was reached.
 */
export type FailureKind = 'refused' | 'reset' | 'status' | 'timeout' | 'unreachable' | 'other';

export function failureKind(error: string): FailureKind {
  if (error === 'ECONNREFUSED') return 'refused';
  if (error === 'ECONNRESET' || error === 'EPIPE') return 'reset';
  if (error.startsWith('status ')) return 'status';
  if (error.startsWith('timeout') || error === 'ETIMEDOUT') return 'timeout';
  if (['EHOSTUNREACH', 'ENETUNREACH', 'EHOSTDOWN', 'ENETDOWN'].includes(error)) return 'unreachable';
  return 'other';
}

/** A failure that proves the member answered: a security group drops silently, so it never refuses. */
export const reached = (kind: FailureKind | undefined) =>
  kind === 'refused' || kind === 'reset' || kind === 'status';

/** The kinds of failure in the evidence, most frequent first, with counts: `refused x3, timeout x1`. */
export function failureKinds(errors: readonly string[]): string {
  const counts = new Map<FailureKind, number>();
  for (const e of errors) counts.set(failureKind(e), (counts.get(failureKind(e)) ?? 0) + 1);
  return (
    [...counts]
      .sort((a, b) => b[1] - a[1])
      .map(([k, n]) => `${k} x${n}`)
      .join(', ') || 'no errors given'
  );
}

const iso = (ms: number) => new Date(ms).toISOString();

/**
 * Every part of the rule the evidence fails, each named (`probe-…: detail`); empty when it holds.
 * The one part about the other member's health is `target-probe`: the member the ENI would move to
 * is failing too, so the planner refuses the move rather than ignoring the evidence.
 */
export function evidenceProblems(pair: Pair, e: Evidence, now: number): string[] {
  const settings = probeSettings(pair);
  if (!settings)
    return [`probe-configured: pair ${pair.name} has no probe option, so no probe evidence counts`];
  const problems: string[] = [];
  const other = roleOf(pair, e.instanceId) === 'primary' ? pair.standbyInstanceId : pair.primaryInstanceId;
  if (!roleOf(pair, e.instanceId))
    problems.push(`probe-member: ${e.instanceId} is not a member of pair ${pair.name}`);
  if (e.failures < settings.failures)
    problems.push(
      `probe-failures: ${e.failures} failed probes, the pair needs ${settings.failures} in a row`,
    );
  const needed = (e.failures - 1) * settings.intervalMs;
  const span = e.lastFailureAt - e.firstFailureAt;
  if (span < needed)
    problems.push(
      `probe-window: ${e.failures} failures span ${span} ms, less than ${needed} ms (${e.failures - 1} x ${settings.intervalMs} ms): not consecutive probes at the pair's interval`,
    );
  if (now - e.lastFailureAt > EVIDENCE_MAX_AGE_MS)
    problems.push(
      `probe-fresh: the last failure was at ${iso(e.lastFailureAt)}, ${Math.round((now - e.lastFailureAt) / 1000)} s ago; evidence counts for ${EVIDENCE_MAX_AGE_MS / 1000} s`,
    );
  else if (e.lastFailureAt - now > EVIDENCE_MAX_SKEW_MS)
    problems.push(`probe-fresh: the last failure is dated ${iso(e.lastFailureAt)}, in the future`);
  if (e.other.instanceId !== other)
    problems.push(
      `probe-other: the evidence names ${e.other.instanceId} as the other member; pair ${pair.name}'s is ${other}`,
    );
  else if (e.other.at < e.firstFailureAt)
    problems.push(
      `probe-other: the other member was last seen at ${iso(e.other.at)}, before the first failure at ${iso(e.firstFailureAt)}: the prober's own path may be the fault`,
    );
  else if ((e.other.failures ?? 0) > 0)
    problems.push(
      `target-probe: ${other} failed ${e.other.failures} of its ${(e.other.failures ?? 0) + (e.other.passes ?? 0)} probes in the window (${iso(e.firstFailureAt)} to ${iso(e.lastFailureAt)}): the prober's own path may be the fault, and the ENI would move onto a member that failed`,
    );
  else if (e.other.passes !== undefined && e.other.passes < e.failures)
    problems.push(
      `probe-other: ${other} passed ${e.other.passes} probes in the window, fewer than the ${e.failures} of the member that failed: it was not probed beside each failure`,
    );
  else if (!e.other.passing)
    problems.push(
      `target-probe: the prober sees ${other} failing too (at ${iso(e.other.at)}): both members fail, which may be the prober's own path, and the ENI would move onto a failing member`,
    );
  return problems;
}

/** The evidence rule's verdict as the planner reads it: is the target check the only part that failed? */
export const isTargetProbe = (problem: string) => problem.startsWith('target-probe:');
