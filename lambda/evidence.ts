// PURE: the probe evidence rule (docs/contract.md event 8), shared by the planner (lambda/plan.ts), which
// decides on it, and the prober (lambda/probe/), which sends evidence only when its side of it holds.
// The rule exists so that the prober's own network can never move the address: a holder counts as
// failed by probe only while the other member passes in the same window.
import { DEFAULT_PROBE, type Pair, type ProbeOption, roleOf } from './config';

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
  /** The pair's other member as the prober last saw it. */
  readonly other: { readonly instanceId: string; readonly passing: boolean; readonly at: number };
}

export type ProbeSettings = Required<ProbeOption>;

/** A pair's probe option with its defaults, or undefined for a pair that is not probed. */
export function probeSettings(pair: Pair): ProbeSettings | undefined {
  const p = pair.probe;
  return p && { ...DEFAULT_PROBE, ...p };
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
  else if (!e.other.passing)
    problems.push(
      `target-probe: the prober sees ${other} failing too (at ${iso(e.other.at)}): both members fail, which may be the prober's own path, and the ENI would move onto a failing member`,
    );
  return problems;
}

/** The evidence rule's verdict as the planner reads it: is the target check the only part that failed? */
export const isTargetProbe = (problem: string) => problem.startsWith('target-probe:');
