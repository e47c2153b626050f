// The prober's loop: both members of each probed pair and the pair's service address, every interval, for one
// invocation's run. It keeps each member's recent probes and sends the failover function evidence while the
// rule (lambda/evidence.ts, docs/contract.md event 8) holds from the prober's side; the function decides.
// Issue 23: it keeps sending while a member keeps failing (the function answers a repeat `unchanged`), a
// failed probe is tried again at once before it counts, evidence needs the other member passing every probe
// of its window, and a run that saw the member pass vetoes it (the view across runs, lambda/probe/store.ts).
import type { Pair, Role } from '../config.ts';
import { type ProbeSettings, probeSettings } from '../config.ts';
import { PROBE_SOURCE } from '../events.ts';
import { type Evidence, evidenceProblems, reached } from '../evidence.ts';
import { bounded } from '../retry.ts';
import type { ProbeResult } from './check.ts';
import { EMPTY_VIEW, type Outage, type ProberView, type RunView, type ViewStore } from './store.ts';

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
  /** The service address (the ENI's primary private IP); undefined: not probed. */
  readonly service?: string;
  /** The member the ENI was attached to when the run read the status; null: no one; undefined: unknown. */
  readonly holder?: Role | null;
}

/** What the loop uses of the world: each a port, so that tests and the bench give real or fake ones. */
export interface ProberPorts {
  probe(address: string, settings: ProbeSettings): Promise<ProbeResult>;
  /** Hands the evidence to the failover function (Lambda Invoke, InvocationType Event). */
  send(pair: Pair, evidence: Evidence): Promise<void>;
  /** Both members fail: the prober's own path may be the fault. Called once an episode. */
  blind(pair: Pair, errors: Record<Role, string>): void;
  /**
   * A member failed the pair's count of probes and no probe has ever reached it (every one timed out): the
   * prober may be kept out (its security group drops silently, a listener on another address), so it sends no
   * evidence and pages this instead. Called once an episode.
   */
  unreached(pair: Pair, member: Member, error: string): void;
  /** Every member probe's result (after its retry), for the metrics. */
  record(pair: Pair, member: Member, result: ProbeResult): void;
  /**
   * Every probe of the service address: `holderUp` when the ENI was attached to a member (at the run's status)
   * that passes its own probe in the same slot. The address failing while its holder is up is the alarm's case.
   */
  service(pair: Pair, result: ProbeResult, holderUp: boolean): void;
  /** An outage of the service address ended (its first failed probe to the first passing one). */
  outage(pair: Pair, outage: Outage): void;
  /** Evidence held back: another run saw the member pass within its window. */
  vetoed(pair: Pair, evidence: Evidence, run: string): void;
  /** A send, a view read or write that failed; the loop keeps probing. */
  error(pair: Pair, error: unknown): void;
  /** The view across runs; without it, each run starts afresh and no run vetoes another. */
  readonly view?: ViewStore;
  /** This run's ID in the view (the invocation's request ID). */
  readonly runId: string;
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
  readonly vetoed: number;
  readonly outages: Outage[];
}

interface Slot {
  readonly at: number;
  readonly ok: boolean;
  readonly error?: string;
}

interface MemberState {
  /** The newest probes, one a slot (the same slots for both members). */
  history: Slot[];
  /** A probe has answered it: this run, or an earlier one (the view). */
  reached: boolean;
  /** When this run last saw it pass. */
  passedAt?: number;
  /** When evidence about the current failures was last sent: repeats are RESEND_MS apart. */
  sentAt?: number;
}

/** Slots kept per member: the longest window (MAX_PROBE_WINDOW_MS at 500 ms) and then some. */
const HISTORY = 80;
/** The errors kept in one piece of evidence: the newest, enough to show what failed. */
const ERRORS_KEPT = 10;
/**
 * Evidence is sent again every this many intervals while the member keeps failing (5 s at the default 1 s): a
 * refusal for the cool-down, a lost or throttled event, one Lambda retried too late (stale) are followed by
 * another a few seconds later. While the service address answers, every 60 (a minute): the failing member is
 * not the one serving it (a dead standby, or the old holder after a move), its evidence moves nothing, and it
 * would otherwise invoke the function 12 times a minute for as long as it stays dead. The address says who
 * serves better than the run's status, which a move during the run makes stale.
 */
export const RESEND_INTERVALS = 5;
export const RESEND_NOT_HOLDER_INTERVALS = 60;
/** A run's view is forgotten this long after the run ended. */
const RUN_KEPT_MS = 5 * 60_000;
/**
 * How long a read of the view may hold up what waits for it (the run's first probe, an evidence's send): a table
 * that is slow or out of reach (a VPC without a route to DynamoDB) delays detection by this much at most.
 */
export const VIEW_BOUND_MS = 1_000;

/**
 * A call to the view, given up on after VIEW_BOUND_MS (lambda/retry.ts `bounded`: it rejects then, even mid-call).
 * Only the SDK's own retries: the view is worth no more of the run's time.
 */
function viewCall<T>(ports: ProberPorts, what: string, call: () => Promise<T>): Promise<T> {
  const clock = { now: () => ports.now(), sleep: (ms: number) => ports.sleep(ms) };
  return bounded(clock, ports.now() + VIEW_BOUND_MS, { isTransient: () => false }, what, call);
}

/**
 * Probes every pair until `until` (epoch ms); pairs run side by side, each at its own interval, their first
 * probes spread across it so that a burst of them does not overrun a timeout.
 */
export async function runProber(
  pairs: readonly ProbedPair[],
  ports: ProberPorts,
  until: number,
  /** Ends the run early, at the next slot. */
  stop?: AbortSignal,
): Promise<RunSummary[]> {
  return Promise.all(pairs.map((p, i) => probePair(p, ports, until, stop, i / pairs.length)));
}

async function probePair(
  p: ProbedPair,
  ports: ProberPorts,
  until: number,
  stop: AbortSignal | undefined,
  phase: number,
): Promise<RunSummary> {
  const { pair, members } = p;
  const summary = {
    pair: pair.name,
    probes: 0,
    sent: [] as Evidence[],
    blind: 0,
    unreached: 0,
    vetoed: 0,
    outages: [] as Outage[],
  };
  const settings = probeSettings(pair);
  if (!settings) return summary;
  const start = ports.now();
  let next = start + Math.round(phase * settings.intervalMs);
  const view = await load(p, ports);
  const states = members.map(
    (m): MemberState => ({ history: [], reached: view.reachedAt[m.instanceId] !== undefined }),
  ) as [MemberState, MemberState];
  // Writes to the view, one at a time in order: each run's entry is its own, so no write races another run's.
  let writes = Promise.resolve();
  const write = (change: Parameters<ViewStore['write']>[1]) => {
    const store = ports.view;
    if (!store) return;
    writes = writes.then(() =>
      viewCall(ports, `a write of the prober's view of pair ${pair.name}`, () =>
        store.write(pair.name, change),
      ).catch((error) => ports.error(pair, error)),
    );
  };
  const ended = Object.entries(view.runs)
    .filter(([, r]) => r.until < start - RUN_KEPT_MS)
    .map(([id]) => id);
  const reachedNow: Record<string, number> = {};
  const runView = (end = until): RunView => ({
    until: end,
    members: Object.fromEntries(
      members.map((m, i) => {
        const s = states[i] as MemberState;
        const last = s.history.at(-1);
        // Passing (or failing) since its first probe after the last one that went the other way.
        const since = last?.ok
          ? (s.history[s.history.findLastIndex((x) => !x.ok) + 1]?.at ?? start)
          : (streak(s).at(0)?.at ?? start);
        return [
          m.instanceId,
          { passing: last?.ok ?? false, since, ...(s.passedAt ? { passedAt: s.passedAt } : {}) },
        ];
      }),
    ),
  });
  // Evidence sent and pages claimed: awaited at the run's end, never by the loop.
  const sends: Promise<void>[] = [];
  const paged = new Set(Object.keys(view.paged));
  // A page is claimed in the view first, so that overlapping and later runs page an episode once; not awaited
  // here: the next probe keeps its slot. A view that does not answer pages (twice beats never).
  const page = (key: string, at: number, act: () => void) => {
    if (paged.has(key)) return;
    paged.add(key);
    const store = ports.view;
    const claim = store
      ? viewCall(ports, `the page ${key} of pair ${pair.name}`, () => store.claimPage(pair.name, key, at))
      : Promise.resolve(true);
    sends.push(
      claim
        .catch((e) => {
          ports.error(pair, e);
          return true;
        })
        .then((claimed) => {
          if (claimed) act();
        }),
    );
  };
  const endPage = (key: string) => {
    if (!paged.delete(key)) return;
    write({ clearPages: [key] });
  };
  let serviceDown: number | undefined;
  let serviceAnswers = false;
  /** The last slot the service address answered in: whoever holds the ENI then serves it. */
  let servicePassedAt: number | undefined;
  let first = true;

  while (next < until) {
    await ports.sleep(next - ports.now());
    // Each probe's time is when it started, never before its slot: failures are then at least an
    // interval apart, which the rule's window asks of them, however late a timer fires.
    const at = Math.max(ports.now(), next);
    if (at >= until || stop?.aborted) break;
    const [a, b, s] = await Promise.all([
      probeTwice(ports, members[0].address, settings),
      probeTwice(ports, members[1].address, settings),
      p.service === undefined ? undefined : probeTwice(ports, p.service, settings),
    ]);
    summary.probes++;
    next = at + settings.intervalMs;
    let changed = first;
    first = false;
    members.forEach((m, i) => {
      const r = (i === 0 ? a : b) as ProbeResult;
      const state = states[i] as MemberState;
      ports.record(pair, m, r);
      const before = state.history.at(-1)?.ok;
      state.history = [...state.history, { at, ok: r.ok, error: r.error }].slice(-HISTORY);
      if (r.ok) {
        state.passedAt = at;
        state.sentAt = undefined;
        endPage(`unreached#${m.instanceId}`);
      }
      if ((r.ok || reached(r.kind)) && reachedNow[m.instanceId] === undefined) {
        reachedNow[m.instanceId] = at;
        state.reached = true;
        changed = true;
      }
      if (before !== r.ok) changed = true;
    });

    if (s) {
      const holderIndex = p.holder === 'primary' ? 0 : p.holder === 'standby' ? 1 : undefined;
      const holderUp = holderIndex !== undefined && (holderIndex === 0 ? a : b)?.ok === true;
      ports.service(pair, s, holderUp);
      serviceAnswers = s.ok;
      if (s.ok) servicePassedAt = at;
      if (!s.ok) serviceDown ??= at;
      else if (serviceDown !== undefined) {
        const outage = { from: serviceDown, to: at, ms: at - serviceDown };
        serviceDown = undefined;
        summary.outages.push(outage);
        ports.outage(pair, outage);
        write({ outage });
      }
    }
    if (changed)
      write({
        run: { id: ports.runId, view: runView() },
        reached: { ...reachedNow },
        dropRuns: ended.splice(0),
      });

    const [sa, sb] = states;
    const failing = (x: MemberState) => streak(x).length >= settings.failures;
    if (failing(sa) && failing(sb)) {
      page('blind', at, () => {
        summary.blind++;
        ports.blind(pair, { primary: lastError(sa), standby: lastError(sb) });
      });
      continue;
    }
    if (sa.history.at(-1)?.ok || sb.history.at(-1)?.ok) endPage('blind');

    for (const [i, m] of members.entries()) {
      const state = states[i] as MemberState;
      if (!failing(state)) continue;
      // A member no probe has ever reached may be one the prober is kept out of, not one that is down: its
      // failures would move the address off a healthy primary, so they page instead of being sent.
      if (!state.reached) {
        page(`unreached#${m.instanceId}`, at, () => {
          summary.unreached++;
          ports.unreached(pair, m, lastError(state));
        });
        continue;
      }
      const resend = !serviceAnswers;
      const due =
        state.sentAt === undefined ||
        at - state.sentAt >= settings.intervalMs * (resend ? RESEND_INTERVALS : RESEND_NOT_HOLDER_INTERVALS);
      if (!due) continue;
      const o = members[1 - i] as Member;
      const other = states[1 - i] as MemberState;
      const holds = (e: Evidence | undefined) => e && evidenceProblems(pair, e, ports.now()).length === 0;
      const whole = evidenceOf(m, state, o, other, settings);
      if (!whole || !holds(whole)) continue;
      // The service address answered within the window while this member held the ENI: the holder served then, and
      // its own address failing was the prober's path to it (loss, a conntrack limit, a security group), not the
      // service. Only the failures since the address's last answer count, if enough of them do.
      const holdsEni = (p.holder === 'primary' ? 0 : p.holder === 'standby' ? 1 : undefined) === i;
      const served = holdsEni && servicePassedAt !== undefined && servicePassedAt >= whole.firstFailureAt;
      const evidence = served ? evidenceOf(m, state, o, other, settings, servicePassedAt) : whole;
      if (!evidence || !holds(evidence)) {
        summary.vetoed++;
        ports.vetoed(pair, whole, 'the service address answered');
        continue;
      }
      state.sentAt = at;
      // Not awaited here: the next probe keeps its slot while the view is read and Lambda takes the event.
      sends.push(
        (async () => {
          const seen = await othersSaw(p, ports, evidence);
          // Another run's pass within the window: only the failures after it count, if enough of them do.
          const since =
            seen?.passedAt !== undefined && seen.passedAt >= evidence.firstFailureAt
              ? seen.passedAt
              : undefined;
          const counted = since === undefined ? evidence : evidenceOf(m, state, o, other, settings, since);
          if (seen?.passing || !counted || !holds(counted)) {
            summary.vetoed++;
            ports.vetoed(pair, evidence, seen?.run ?? '?');
            return;
          }
          summary.sent.push(counted);
          await ports.send(pair, counted);
        })().catch((error) => {
          state.sentAt = undefined;
          ports.error(pair, error);
        }),
      );
    }
  }
  // The run's last word: it probed until its last slot, not until `until`; a later run is not vetoed by it.
  const last = states[0].history.at(-1)?.at;
  if (last !== undefined) write({ run: { id: ports.runId, view: runView(last) } });
  await Promise.all(sends);
  // The view's last writes, for as long as one write may take: a table out of reach does not hold the run.
  await viewCall(ports, `the last writes of the prober's view of pair ${pair.name}`, () => writes).catch(
    () => undefined,
  );
  return summary;
}

/** A failed probe is tried again at once on a fresh connection: one lost packet is not a failure. */
async function probeTwice(ports: ProberPorts, address: string, s: ProbeSettings): Promise<ProbeResult> {
  const r = await ports.probe(address, s);
  return r.ok ? r : ports.probe(address, s);
}

async function load(p: ProbedPair, ports: ProberPorts): Promise<ProberView> {
  if (!ports.view) return EMPTY_VIEW;
  try {
    const store = ports.view;
    return await viewCall(ports, `the prober's view of pair ${p.pair.name}`, () => store.load(p.pair.name));
  } catch (error) {
    // Without its view a run is more careful, not less: a member it has not reached itself pages, not moves.
    ports.error(p.pair, error);
    return EMPTY_VIEW;
  }
}

/** The member's failed probes in a row, newest last. */
function streak(state: MemberState): Slot[] {
  const i = state.history.findLastIndex((x) => x.ok);
  return state.history.slice(i + 1);
}

const lastError = (state: MemberState) => state.history.at(-1)?.error ?? '?';

/**
 * The evidence about `m` (docs/contract.md event 8): its newest failures in a row during which the other
 * member passed every probe (the same slots), only those after `since` (another run's pass), or undefined
 * while there are too few of them.
 */
function evidenceOf(
  m: Member,
  state: MemberState,
  o: Member,
  other: MemberState,
  settings: ProbeSettings,
  since = Number.NEGATIVE_INFINITY,
): Evidence | undefined {
  const failures = streak(state).filter((x) => x.at > since);
  const otherAt = new Map(other.history.map((x) => [x.at, x.ok]));
  let k = 0;
  while (k < failures.length && otherAt.get((failures[failures.length - 1 - k] as Slot).at) === true) k++;
  if (k < settings.failures) return undefined;
  const window = failures.slice(-k);
  const seen = other.history.at(-1) as Slot;
  return {
    instanceId: m.instanceId,
    failures: k,
    firstFailureAt: (window[0] as Slot).at,
    lastFailureAt: (window.at(-1) as Slot).at,
    errors: window.map((x) => x.error ?? 'failed').slice(-ERRORS_KEPT),
    other: { instanceId: o.instanceId, passing: seen.ok, at: seen.at, passes: k, failures: 0 },
  };
}

/**
 * What the other runs saw of the member (two runs overlap for about 15 s, possibly in different subnets): one still
 * probing that sees it passing vetoes the evidence; otherwise the latest pass any of them saw (during the window),
 * after which alone failures count. Undefined when no other run saw it pass. A view that cannot be read vetoes
 * nothing: the other checks of the rule still hold, and a dead holder must not keep the address because the table
 * is away. A vetoed member still failing is tried again a few seconds later.
 */
async function othersSaw(
  p: ProbedPair,
  ports: ProberPorts,
  e: Evidence,
): Promise<{ run: string; passing: boolean; passedAt?: number } | undefined> {
  if (!ports.view) return undefined;
  let view: ProberView;
  try {
    const store = ports.view;
    view = await viewCall(ports, `the prober's view of pair ${p.pair.name}`, () => store.load(p.pair.name));
  } catch (error) {
    ports.error(p.pair, error);
    return undefined;
  }
  let latest: { run: string; passing: boolean; passedAt?: number } | undefined;
  for (const [id, run] of Object.entries(view.runs)) {
    if (id === ports.runId || run.until < e.firstFailureAt) continue;
    const seen = run.members[e.instanceId];
    if (!seen) continue;
    // A run still probing that sees it pass vetoes; one that ended passing saw its last pass at its end.
    if (seen.passing && run.until >= ports.now()) return { run: id, passing: true };
    const passedAt = seen.passing ? run.until : seen.passedAt;
    if (passedAt !== undefined && passedAt > (latest?.passedAt ?? Number.NEGATIVE_INFINITY))
      latest = { run: id, passing: false, passedAt };
  }
  return latest;
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
    other: {
      instanceId: e.other.instanceId,
      passing: e.other.passing,
      at: iso(e.other.at),
      ...(e.other.passes === undefined ? {} : { passes: e.other.passes, failures: e.other.failures ?? 0 }),
    },
  };
}
