// The prober's loop: both members of each probed pair, every interval, for one invocation's run.
// It keeps each member's consecutive failures and sends the failover function the evidence when the
// rule (lambda/evidence.ts) holds from the prober's side; the function decides (event 8).
import type { Pair, Role } from '../config';
import { PROBE_SOURCE } from '../events';
import { type Evidence, evidenceProblems, type ProbeSettings, probeSettings } from '../evidence';
import type { ProbeResult } from './check';

/** A member as the prober reaches it: its own primary address (device index 0). */
export interface Member {
  readonly role: Role;
  readonly instanceId: string;
  readonly address: string;
}

export interface ProbedPair {
  readonly pair: Pair;
  /** The primary, then the standby. */
  readonly members: readonly [Member, Member];
}

/** What the loop uses of the world: each a port, so that tests and the bench give real or fake ones. */
export interface ProberPorts {
  probe(address: string, settings: ProbeSettings): Promise<ProbeResult>;
  /** Hands the evidence to the failover function (Lambda Invoke, InvocationType Event). */
  send(pair: Pair, evidence: Evidence): Promise<void>;
  /** Both members fail: the prober's own path may be the fault. Called once an episode. */
  blind(pair: Pair, errors: Record<Role, string>): void;
  /**
   * A member failed the pair's count of probes without ever having passed one this run: the prober may
   * be kept out (its security group, a listener on another address), so it sends no evidence and pages
   * this instead. Called once a run per member.
   */
  unreached(pair: Pair, member: Member, error: string): void;
  /** Every probe's result, for the metrics. */
  record(pair: Pair, member: Member, result: ProbeResult): void;
  /** A send that failed; the loop sends again on the next failed probe. */
  error(pair: Pair, error: unknown): void;
  /** Epoch ms. */
  now(): number;
  sleep(ms: number): Promise<void>;
}

/** What one run did, per pair: for the logs and the tests. */
export interface RunSummary {
  readonly pair: string;
  readonly probes: number;
  readonly sent: Evidence[];
  readonly blind: number;
  /** Members paged as never reached. */
  readonly unreached: number;
}

interface MemberState {
  failures: number;
  first: number;
  last: number;
  errors: string[];
  /** The last probe: passing or not, and when it started. */
  seen: { passing: boolean; at: number } | undefined;
  /** Evidence sent for this run of failures; cleared by a pass. */
  sent: boolean;
  /** Has it passed a probe this run? Only a member the prober has reached can be failed by it. */
  everPassed: boolean;
  /** "never reached" paged this run. */
  unreachedPaged: boolean;
}

/** The errors kept in one piece of evidence: the newest, enough to show what failed. */
const ERRORS_KEPT = 10;

/** Probes every pair until `until` (epoch ms); pairs run side by side, each at its own interval. */
export async function runProber(
  pairs: readonly ProbedPair[],
  ports: ProberPorts,
  until: number,
  /** Ends the run early, at the next slot. */
  stop?: AbortSignal,
): Promise<RunSummary[]> {
  return Promise.all(pairs.map((p) => probePair(p, ports, until, stop)));
}

async function probePair(
  { pair, members }: ProbedPair,
  ports: ProberPorts,
  until: number,
  stop: AbortSignal | undefined,
): Promise<RunSummary> {
  const settings = probeSettings(pair);
  if (!settings) return { pair: pair.name, probes: 0, sent: [], blind: 0, unreached: 0 };
  const states = members.map(
    (): MemberState => ({
      failures: 0,
      first: 0,
      last: 0,
      errors: [],
      seen: undefined,
      sent: false,
      everPassed: false,
      unreachedPaged: false,
    }),
  );
  const summary = { pair: pair.name, probes: 0, sent: [] as Evidence[], blind: 0, unreached: 0 };
  let blindPaged = false;
  const sends: Promise<void>[] = [];
  let next = ports.now();
  while (next < until) {
    await ports.sleep(next - ports.now());
    // Each probe's time is when it started, never before its slot: failures are then at least an
    // interval apart, which the rule's window asks of them, however late a timer fires.
    const at = Math.max(ports.now(), next);
    if (at >= until || stop?.aborted) break;
    const results = await Promise.all(members.map((m) => ports.probe(m.address, settings)));
    summary.probes++;
    members.forEach((m, i) => {
      const r = results[i] as ProbeResult;
      ports.record(pair, m, r);
      observe(states[i] as MemberState, r, at);
    });
    const [a, b] = states as [MemberState, MemberState];
    if (a.failures >= settings.failures && b.failures >= settings.failures) {
      if (!blindPaged) {
        blindPaged = true;
        summary.blind++;
        ports.blind(pair, { primary: a.errors.at(-1) ?? '?', standby: b.errors.at(-1) ?? '?' });
      }
    } else if (a.failures === 0 || b.failures === 0) blindPaged = false;
    members.forEach((m, i) => {
      const state = states[i] as MemberState;
      const other = states[1 - i] as MemberState;
      // A member never reached may be one the prober is kept out of, not one that is down: its failures
      // would move the address off a healthy primary, so they page instead of being sent.
      if (!state.everPassed) {
        if (state.failures >= settings.failures && !state.unreachedPaged) {
          state.unreachedPaged = true;
          summary.unreached++;
          ports.unreached(pair, m, state.errors.at(-1) ?? '?');
        }
        return;
      }
      const evidence = evidenceOf(m, state, members[1 - i] as Member, other);
      if (!evidence || state.sent || evidenceProblems(pair, evidence, ports.now()).length > 0) return;
      state.sent = true;
      summary.sent.push(evidence);
      // Not awaited here: the next probe keeps its slot while Lambda takes the event.
      sends.push(
        ports.send(pair, evidence).catch((error) => {
          state.sent = false;
          ports.error(pair, error);
        }),
      );
    });
    next = at + settings.intervalMs;
  }
  await Promise.all(sends);
  return summary;
}

function observe(state: MemberState, r: ProbeResult, at: number): void {
  state.seen = { passing: r.ok, at };
  if (r.ok) {
    Object.assign(state, { failures: 0, errors: [], sent: false, everPassed: true });
    return;
  }
  if (state.failures === 0) state.first = at;
  state.failures++;
  state.last = at;
  state.errors = [...state.errors, r.error ?? 'failed'].slice(-ERRORS_KEPT);
}

/** The evidence about `m` (docs/contract.md event 8), or undefined while it has not failed. */
function evidenceOf(m: Member, state: MemberState, o: Member, other: MemberState): Evidence | undefined {
  if (state.failures === 0 || !other.seen) return undefined;
  return {
    instanceId: m.instanceId,
    failures: state.failures,
    firstFailureAt: state.first,
    lastFailureAt: state.last,
    errors: state.errors,
    other: { instanceId: o.instanceId, passing: other.seen.passing, at: other.seen.at },
  };
}

/** The evidence as the event the failover function parses (lambda/events.ts, PROBE_SOURCE). */
export function evidenceEvent(pair: Pair, e: Evidence): Record<string, unknown> {
  const iso = (ms: number) => new Date(ms).toISOString();
  return {
    source: PROBE_SOURCE,
    pair: pair.name,
    instanceId: e.instanceId,
    failures: e.failures,
    firstFailureAt: iso(e.firstFailureAt),
    lastFailureAt: iso(e.lastFailureAt),
    errors: e.errors,
    other: { instanceId: e.other.instanceId, passing: e.other.passing, at: iso(e.other.at) },
  };
}
