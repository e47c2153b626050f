// PURE: observed state + trigger -> Plan. No SDK import, no I/O, no clock.
//
// The decision table. Each row is one named function; "why did it refuse?" leads to one of them.
//
//   plan                   status, or the ENI's own checks (checks.ts eniProblems), then the trigger's rules
//   Automatic triggers (alarm, state change, planned-failure warning, reconcile); the first rule that answers decides:
//     leaseBlocks          another invocation holds the pair's lease (lambda/state.ts): it is moving the ENI,
//                          so this one does nothing (an earlier version's live intent tag too)
//     inMaintenance        a pair in maintenance (an operator's window in its state) is left alone: every
//                          automatic move is paused; a holder that failed or is going away pages DOWN once
//     adoptStranded        an ENI attached to no one is attached to a healthy member: the one it was not
//                          detaching from first (a manual move's bounded detach), else the standby first
//     rebalanceNotWanted   a rebalance recommendation moves nothing for a pair without moveOnRebalance
//     warnedAboutOther     a warning about the member that does not hold the ENI: "redundancy ends at", paged once
//     warnedAboutHolder    a warning about the holder, failed or not: a planned move now (not damped)
//     scheduledForHolder   the holder's scheduled stop/retirement/reboot within the lead time: a planned move
//     notAboutHolder       a trigger about an instance that does not hold the ENI moves nothing
//     otherScheduled       the other member's scheduled stop/retirement/reboot: "redundancy ends at", paged once
//     probeUnfit           probe evidence that fails its rule (evidence.ts) moves nothing, unless EC2
//                          itself shows the holder failed
//     holderHealthy        a holder that reads healthy keeps the ENI, unless the probe evidence holds
//     applicationSuppressed a holder whose application reporting is suppressed, failing only its application
//                          check or only the prober's probes, keeps the ENI (a deploy); any other failure of
//                          it is still moved off
//     failOver             a failed holder (failureOf: holderFailure, or probedFailure) is left for the
//                          other member; damped (dampingFor) only while it still runs, so a stopped or
//                          terminated holder is left at once; a move on probe evidence alone needs a
//                          target the prober sees passing (target-probe);
//                          a move for the application check alone needs a ready target (applicationReady)
//   Manual move: leaseBlocks, then
//     manualMove           to the named member (or the other one); never damped
//   Every move (moveTo):   the target's checks (checks.ts targetProblems), then
//     detachFor            the detach first, with Force by need (forceFor), the forced detach recorded
//     escalateFor          an automatic move's detach without Force that hangs is forced after 20 s
//     putBackFor           where the ENI goes back if the attach fails
//     fenceFor             the failed holder to stop after a forced detach
//   After the decision:
//     keepAddress          an attachment that would die with its instance is set to outlive it
//     withoutState         the state table could not be read: only a move off a holder that is not running or
//                          fails its instance or system check (or of an ENI on no one) goes ahead, with EC2's
//                          conditional attach as the lock; any other move is refused (state-unavailable)

import { eniProblems, failed, targetProblems } from './checks.ts';
import {
  DEFAULT_COOLDOWN_SECONDS,
  DEFAULT_MAX_MOVES_PER_HOUR,
  DEFAULT_SCHEDULED_EVENT_LEAD_MINUTES,
  instanceOf,
  type Pair,
  probeSettings,
  type Role,
  roleOf,
} from './config.ts';
import { type AutomaticTrigger, describeTrigger, type Trigger } from './events.ts';
import { evidenceProblems, failureKinds, isTargetProbe } from './evidence.ts';
import { legacyIntents } from './legacy.ts';
import { describeMaintenance, maintenanceOf, windowOf } from './maintenance.ts';
import type { PairRecord } from './state.ts';
import {
  describeEvent,
  type EniView,
  goingAway,
  health,
  holderOf,
  type InstanceView,
  type Observation,
  ownApplication,
  recordOf,
  who,
} from './view.ts';

/** How long an automatic move waits for a detach without Force before it forces it (docs/contract.md). */
export const FORCE_AFTER_MS = 20_000;

export type Plan =
  | {
      readonly kind: 'unchanged';
      readonly holder: string | null;
      readonly reasons: string[];
      /** An attachment to set DeleteOnTermination=false on: a move whose last steps failed left it true. */
      readonly keep?: string;
      /** Page this result once (a member going away: "redundancy ends at"; DOWN during maintenance). */
      readonly once?: Once;
      /**
       * Page nobody, whatever the trigger: another invocation's move is under way (it reports), a notice paged
       * already, a rebalance recommendation the pair ignores.
       */
      readonly quiet?: boolean;
      /** Another invocation holds the pair's lease until then (epoch ms): worth a look once it ends. */
      readonly leasedUntil?: number;
    }
  | {
      readonly kind: 'refused';
      readonly from: string | null;
      readonly to: string | null;
      readonly reasons: string[];
      /** Refused as flapping: paged once an episode. */
      readonly once?: Once;
      /** Page nobody: this flapping episode was paged already. */
      readonly quiet?: boolean;
    }
  | MovePlan;

/**
 * A page made once: the failover writes `mark` at `key` of the pair's record by compare-and-swap and pages
 * only if its write changed it, so that no other invocation, container or round pages the same thing again.
 */
export interface Once {
  /**
   * primary, standby: "redundancy ends" notices about that member; flapping: an episode; down: DOWN in maintenance;
   * probe-refusal: the same refusal of repeated probe evidence.
   */
  readonly key: 'primary' | 'standby' | 'flapping' | 'down' | 'probe-refusal';
  readonly mark: string;
}

export interface MovePlan {
  readonly kind: 'move';
  readonly from: string | null;
  readonly to: string;
  /**
   * The attachment to remove first; undefined when the ENI is attached to no one. `record`: write the
   * forced detach on the ENI (target-forced-detach), for a holder that still runs.
   */
  readonly detach:
    | {
        readonly attachmentId: string;
        /** The instance it is detached from (the holder, or the one a hung detach is leaving). */
        readonly instanceId: string;
        readonly force: boolean;
        readonly record: boolean;
      }
    | undefined;
  /** Wait for the ENI to be `available` before attaching: after a detach, or when seen mid-detach. */
  readonly awaitAvailable: boolean;
  readonly dryRun: boolean;
  /**
   * Attach the ENI back here if the attach to `to` fails: the holder was healthy (a drill, a
   * fail-back), so the address serves again from where it was.
   */
  readonly putBack: string | undefined;
  /** Stop this instance after force-detaching from it: the pair fences, and the failed holder still runs. */
  readonly fence: string | undefined;
  /** After the attach, confirm that the new holder's OS brought this address up (the pair's verifyOs). */
  readonly verifyAddress: string | undefined;
  /** An automatic move away from a failed holder: recorded in the state's automatic moves, which damping counts. */
  readonly automatic: boolean;
  /** Made on probe evidence alone (the holder passes EC2's checks): remembered, so that a round does not undo it. */
  readonly probe: boolean;
  /**
   * It may go ahead without the state table (unreadable, or its lease unreachable): the holder is not running or
   * fails its instance or system check, or no one holds the ENI. EC2's conditional attach is then the lock.
   */
  readonly withoutLease: boolean;
  /** A manual move never forces its detach: one that has not finished within this bound fails, saying where the ENI is. */
  readonly detachWithinMs: number | undefined;
  /**
   * A detach without Force that has not finished after `afterMs` is forced (an automatic move): the
   * holder's OS is not letting go. `record`: write the forced detach, for a holder that still runs.
   */
  readonly escalate:
    | {
        readonly attachmentId: string;
        readonly instanceId: string;
        readonly afterMs: number;
        readonly record: boolean;
        /** Stop this instance after forcing it: the pair fences, and the holder still runs. */
        readonly fence: string | undefined;
      }
    | undefined;
  /** Why the move is right, for the result and the ENI's tag. */
  readonly reasons: string[];
}

/** What the automatic rules look at. */
interface Situation {
  readonly pair: Pair;
  readonly trigger: AutomaticTrigger;
  readonly obs: Observation;
  /** The pair's state as read with the observation. */
  readonly record: PairRecord;
  readonly eni: EniView;
  /** The instance that holds the ENI, or null. */
  readonly holder: string | null;
  /** The trigger as a person reads it. */
  readonly cause: string;
  readonly now: number;
}

/** An automatic rule: a plan when it decides, undefined to let the next rule decide. */
type Rule = (s: Situation) => Plan | undefined;

/** The automatic rules, in order. */
const AUTOMATIC: readonly Rule[] = [
  leaseBlocks,
  inMaintenance,
  adoptStranded,
  rebalanceNotWanted,
  warnedAboutOther,
  warnedAboutHolder,
  scheduledForHolder,
  notAboutHolder,
  probeUnfit,
  otherScheduled,
  holderHealthy,
  applicationSuppressed,
  failOver,
];

/** What the planner decides about: every trigger but those handled elsewhere (ignored, maintenance, rehearse, status). */
export type PlanTrigger = Exclude<Trigger, { kind: 'ignored' | 'maintenance' | 'rehearse' | 'status' }>;

/**
 * Decides what to do about one pair. The goal state is "the ENI is attached, at deviceIndex, to a
 * healthy member of the pair"; the trigger is only a reason to look again.
 */
export function plan(pair: Pair, trigger: PlanTrigger, obs: Observation, now: number): Plan {
  const eni = obs.eni;
  const problems = eniProblems(pair, eni);
  const decision =
    !eni || problems.length > 0
      ? ({ kind: 'refused', from: eni ? holderOf(eni) : null, to: null, reasons: problems } as const)
      : withoutState(pair, obs, keepAddress(eni, decide(pair, trigger, obs, eni, now)));
  const unreadable = unreadableReason(obs);
  return unreadable ? { ...decision, reasons: [...decision.reasons, unreadable] } : decision;
}

/**
 * The state table could not be read: the record the rules saw was empty (no lease, no damping, no window). A move
 * off a holder that is not running or fails its instance or system check, or of an ENI on no one, goes ahead with
 * EC2's conditional attach as the lock, and says so; any other move (drills, planned, application-only, probe) is
 * refused: without the lease and the window it could undo someone else's move (docs/contract.md, "Pair state").
 */
function withoutState(pair: Pair, obs: Observation, decision: Plan): Plan {
  const error = obs.stateUnavailable;
  if (error === undefined) return decision;
  const why = `the state table could not be read (${error})`;
  if (decision.kind !== 'move')
    return {
      ...decision,
      reasons: [...decision.reasons, `${why}: this look saw no lease, window or damping`],
    };
  if (decision.withoutLease && !decision.dryRun)
    return {
      ...decision,
      reasons: [
        ...decision.reasons,
        `${why}: moving without the lease, since the holder is down; EC2's conditional detach and attach are the lock`,
      ],
    };
  return {
    kind: 'refused',
    from: decision.from,
    to: decision.to,
    reasons: [
      failed(
        'state-unavailable',
        `${why}: only a move off a holder that is not running or fails its instance or system check goes ahead without it; ${pair.name}'s ${decision.dryRun ? 'dry run' : 'move'} waits for the table`,
      ),
    ],
  };
}

/**
 * Says once why the members' application checks are unknown (DescribeApplicationStatus answered an error
 * that asking again does not cure): the decision rests on their state and status checks.
 */
export function unreadableReason(obs: Observation): string | undefined {
  const error = Object.values(obs.instances).find((i) => i.application?.unreadable !== undefined)?.application
    ?.unreadable;
  return error === undefined
    ? undefined
    : `application checks could not be read (DescribeApplicationStatus: ${error}): they count as unknown, and state and status checks decide`;
}

function decide(pair: Pair, trigger: PlanTrigger, obs: Observation, eni: EniView, now: number): Plan {
  const record = recordOf(obs);
  if (trigger.kind === 'move')
    return leaseBlocks({ pair, eni, record, now }) ?? manualMove(pair, trigger, obs, eni);
  const situation: Situation = {
    pair,
    trigger,
    obs,
    record,
    eni,
    holder: holderOf(eni),
    cause: describeTrigger(trigger),
    now,
  };
  for (const rule of AUTOMATIC) {
    const decision = rule(situation);
    if (decision) return decision;
  }
  throw new Error('no automatic rule decided: failOver decides whatever is left');
}

// ── Automatic rules ──────────────────────────────────────────────────────────────────────────────

/**
 * One address, many actors: another invocation holds the pair's lease, so it is moving the ENI and will report
 * the move; this one changes nothing and pages nobody. An expired lease blocks no one (its mover died or hangs),
 * and neither does a lease the state could not show. An earlier version's live intent tag is honoured too.
 */
function leaseBlocks({
  pair,
  eni,
  record,
  now,
}: Pick<Situation, 'pair' | 'eni' | 'record' | 'now'>): Plan | undefined {
  const lease = liveLease(record, now);
  const legacy = legacyIntents(eni.tags, now)[0];
  const rival = lease
    ? { id: lease.owner, target: lease.target, until: lease.until }
    : legacy && {
        id: `${legacy.id}, an earlier version's intent`,
        target: legacy.target,
        until: legacy.until,
      };
  if (!rival) return undefined;
  return {
    kind: 'unchanged',
    holder: holderOf(eni),
    quiet: true,
    leasedUntil: rival.until,
    reasons: [
      `a move by another invocation is under way (${rival.id}: to ${who(pair, rival.target)}, until ${new Date(rival.until).toISOString()})`,
    ],
  };
}

/** The pair's lease if someone holds it at `now`. */
export const liveLease = (record: PairRecord, now: number) =>
  record.lease && record.lease.until > now ? record.lease : undefined;

/**
 * An operator's window pauses every automatic move of the pair, a stranded or failed holder's included: an
 * operator said hands off. The answer says what would have been done, so that a person can move the ENI by hand
 * (manual moves still work) or end the window. An address that is down (or about to be: a warning or scheduled
 * event about its holder) needs that person: DOWN is paged once per holder and window. A holder's suppressed
 * application reporting is no such window (applicationSuppressed): it may last until someone disables it.
 */
function inMaintenance({ pair, trigger, obs, record, eni, holder, cause, now }: Situation): Plan | undefined {
  const window = windowOf(record, now);
  if (!window) return undefined;
  const failure = holder === null ? undefined : holderFailure(pair, obs.instances[holder]);
  const leaving =
    holder !== null &&
    ((trigger.kind === 'planned' && trigger.instanceId === holder) ||
      (plannedMoveAt(pair, obs.instances[holder]) ?? Number.POSITIVE_INFINITY) <= now);
  const down =
    holder === null
      ? `${eni.id} is attached to no one: the address is down`
      : failure
        ? `${who(pair, holder)} holds the ENI and has failed (${failure}): the address is down`
        : leaving
          ? `${who(pair, holder)} holds the ENI and is going away (${cause}): the address is about to be down`
          : undefined;
  const paused = `${cause}: ${describeMaintenance(window, now)}; automatic moves are paused (a manual move still works)`;
  if (!down) return { kind: 'unchanged', holder, reasons: [paused] };
  const text = `DOWN: ${down}; not acting while in maintenance: move it by hand or end the window`;
  const mark = `${holder ?? 'no one'} in the window until ${window.until}`;
  if (record.downPaged === mark)
    return { kind: 'unchanged', holder, reasons: [text, paused, 'paged already'], quiet: true };
  return { kind: 'unchanged', holder, reasons: [text, paused], once: { key: 'down', mark } };
}

/**
 * An ENI that no one holds is attached to a healthy member, whatever the trigger was about. One still detaching
 * from a member (a manual move whose detach did not finish) goes to the other one first: that is where the
 * person was moving it, and the member it is leaving may be forced off it by nobody's choice.
 */
function adoptStranded({ pair, obs, eni, holder, cause }: Situation): Plan | undefined {
  if (holder !== null) return undefined;
  return adopt(pair, obs, eni, `triggered by ${cause}`, { unattended: true });
}

/** Rebalance recommendations come early and often: only a pair that asks for it (moveOnRebalance) acts on one. */
function rebalanceNotWanted({ pair, trigger, holder, cause }: Situation): Plan | undefined {
  if (trigger.kind !== 'planned' || trigger.warning !== 'rebalance-recommendation' || pair.moveOnRebalance)
    return undefined;
  return {
    kind: 'unchanged',
    holder,
    reasons: [
      `${cause}: pair ${pair.name} does not move on rebalance recommendations (moveOnRebalance is off)`,
    ],
    quiet: true,
  };
}

/** A warning about the member that does not hold the ENI moves nothing; the pair's redundancy ends, paged once. */
function warnedAboutOther({ pair, trigger, obs, record, holder, cause }: Situation): Plan | undefined {
  if (trigger.kind !== 'planned' || holder === null || holder === trigger.instanceId) return undefined;
  // A holder that has failed is no reason to wait: left to the rules for failures (and the next round).
  if (holderFailure(pair, obs.instances[holder]) !== undefined) return undefined;
  const role = roleOf(pair, trigger.instanceId) as Role;
  const ends = trigger.endsAt ?? 'a time EC2 has not given (a rebalance recommendation)';
  return noticeOnce(
    holder,
    record,
    role,
    // The same warning delivered again (a retry, a duplicate) has the same time: paged once.
    `${trigger.warning} ${trigger.sentAt}`,
    `redundancy ends at ${ends}: ${cause}; ${who(pair, holder)} keeps the ENI, with no member to take over`,
  );
}

/**
 * A warning about the holder: move now, while the move is cleanest (the target checked), exempt from damping
 * (the holder is going away whatever moved last), whatever else has failed on it; Force only by need.
 */
function warnedAboutHolder(s: Situation): Plan | undefined {
  const { trigger, holder, pair, cause } = s;
  if (trigger.kind !== 'planned' || holder !== trigger.instanceId) return undefined;
  return plannedMove(s, `${who(pair, holder)} holds the ENI and is going away: ${cause}`);
}

/**
 * A holder with a scheduled event that takes it away (a stop, retirement or reboot) moves when the event's
 * NotBefore is within the pair's lead time (scheduledEventLeadMinutes), not earlier: EC2 announces them days
 * ahead, and the standby should not carry the address for days before it must. A planned move, whatever
 * else has failed on the holder: not damped.
 */
function scheduledForHolder(s: Situation): Plan | undefined {
  const { pair, obs, holder, now } = s;
  if (holder === null) return undefined;
  const event = goingAway(obs.instances[holder]);
  const at = plannedMoveAt(pair, obs.instances[holder]);
  if (event === undefined || at === undefined || now < at) return undefined;
  return plannedMove(
    s,
    `${who(pair, holder)} holds the ENI and has a scheduled ${describeEvent(event)}, within the pair's ${leadMinutes(pair)} min lead`,
  );
}

/** The other member has a scheduled event that takes it away: the pair's redundancy ends then, paged once. */
function otherScheduled(s: Situation): Plan | undefined {
  const { pair, obs, record, holder, cause } = s;
  // failureOf: a holder failed by probe evidence is left too, not kept for the notice.
  if (holder === null || failureOf(s) !== undefined) return undefined;
  const other = instanceOf(pair, otherRole(roleOf(pair, holder) as Role));
  const event = goingAway(obs.instances[other]);
  if (event?.notBefore === undefined) return undefined;
  const role = roleOf(pair, other) as Role;
  const mark = `${event.code} ${new Date(event.notBefore).toISOString()}`;
  if (record.notices[role] === mark) return undefined;
  return noticeOnce(
    holder,
    record,
    role,
    mark,
    `redundancy ends at ${new Date(event.notBefore).toISOString()}: ${who(pair, other)} has a scheduled ${describeEvent(event)} (seen by ${cause}); ${who(pair, holder)} keeps the ENI`,
  );
}

/** An unchanged result that pages `text` once: not when the record's notice about `role` already holds `mark`. */
function noticeOnce(holder: string, record: PairRecord, role: Role, mark: string, text: string): Plan {
  if (record.notices[role] === mark)
    return { kind: 'unchanged', holder, reasons: [text, 'paged already'], quiet: true };
  return { kind: 'unchanged', holder, reasons: [text], once: { key: role, mark } };
}

/**
 * A planned move off the holder to the other member: the target's checks, and no damping; Force only by need
 * (a holder that answers lets go the ordinary way). The other member going away as soon is no place for the
 * address (target-going-away); for a pair that names its check, the target's own check must read passed.
 */
function plannedMove({ pair, trigger, obs, record, eni, holder, cause, now }: Situation, why: string): Plan {
  const from = holder as string;
  const to = instanceOf(pair, otherRole(roleOf(pair, from) as Role));
  const at = plannedMoveAt(pair, obs.instances[to]);
  const event = goingAway(obs.instances[to]);
  const condemned = condemnedBy(record, to, now);
  const blockers = [
    // The evidence that moved the ENI off it stands: a planned move must not take it back onto a dead service.
    ...(condemned ? [failed('target-probe', `${who(pair, to)} ${condemned}`)] : []),
    ...(at !== undefined && event !== undefined && now >= at
      ? [failed('target-going-away', `${who(pair, to)} has a scheduled ${describeEvent(event)} too`)]
      : []),
    ...(pair.applicationCheckId === undefined
      ? []
      : applicationReady(pair, obs, to, `take the ENI in a planned move off ${who(pair, from)}`)),
  ];
  const failure = holderFailure(pair, obs.instances[from]);
  return moveTo(
    pair,
    obs,
    eni,
    to,
    [
      why,
      ...(failure ? [`${who(pair, from)} has also failed: ${failure}`] : []),
      `${failure ? 'a planned move off a holder that has failed too: no cool-down, Force only if it does not answer' : 'a planned move, made while the holder is healthy: no Force, no cool-down'}${trigger.kind === 'planned' ? '' : ` (triggered by ${cause})`}`,
    ],
    // Not `automatic`: no failure, so nothing for damping to count. Unattended: a detach the going-away
    // holder does not let go of is forced after FORCE_AFTER_MS, as for any move without a person.
    { unattended: true, blockers },
  );
}

/** Probe evidence outlives the invocation that acted on it by this much, unless the prober sees the member pass. */
export const CONDEMNED_FOR_MS = 10 * 60_000;

/**
 * Why probe evidence still condemns `instanceId` at `now` (the prober saw it fail and has not seen it pass since,
 * within CONDEMNED_FOR_MS), or undefined.
 */
export function condemnedBy(record: PairRecord, instanceId: string, now: number): string | undefined {
  const seen = record.probes[instanceId];
  // The move that probe evidence made is kept with the move itself (written until the deadline), so a lost
  // observation cannot forget it.
  const moved = record.lastMove;
  const movedOff = moved?.probe && moved.from === instanceId ? moved.at : undefined;
  const failedAt = Math.max(seen?.failedAt ?? Number.NEGATIVE_INFINITY, movedOff ?? Number.NEGATIVE_INFINITY);
  if (!Number.isFinite(failedAt) || now - failedAt >= CONDEMNED_FOR_MS) return undefined;
  if (seen?.passedAt !== undefined && seen.passedAt > failedAt) return undefined;
  return failedAt === movedOff
    ? `was moved off on probe evidence at ${new Date(failedAt).toISOString()} and the prober has not seen it pass since`
    : `failed ${seen?.failures ?? 'several'} probes in a row at ${new Date(failedAt).toISOString()} and the prober has not seen it pass since`;
}

export const leadMinutes = (pair: Pair) =>
  pair.scheduledEventLeadMinutes ?? DEFAULT_SCHEDULED_EVENT_LEAD_MINUTES;

/**
 * When a member holding the ENI would be moved off for its scheduled event: the lead time before the
 * event's NotBefore (epoch ms); undefined when it has no event that takes it away.
 */
export function plannedMoveAt(pair: Pair, instance: InstanceView | undefined): number | undefined {
  const notBefore = goingAway(instance)?.notBefore;
  return notBefore === undefined ? undefined : notBefore - leadMinutes(pair) * 60_000;
}

/** An alarm or state change about the member that does not hold the ENI moves nothing. */
function notAboutHolder({ pair, trigger, holder, cause }: Situation): Plan | undefined {
  if (trigger.kind === 'reconcile' || holder === null || holder === trigger.instanceId) return undefined;
  return {
    kind: 'unchanged',
    holder,
    reasons: [
      `${cause}, but the ENI is held by ${who(pair, holder)}, not by ${who(pair, trigger.instanceId)}: nothing to move`,
    ],
  };
}

/**
 * Probe evidence that fails its rule moves nothing: it may be the prober's own path, or old news. EC2
 * still has the last word: a holder EC2 shows failed is left whatever the evidence (failOver).
 */
function probeUnfit({ pair, trigger, obs, holder, cause, now }: Situation): Plan | undefined {
  if (trigger.kind !== 'probe' || holder === null) return undefined;
  if (holderFailure(pair, obs.instances[holder]) !== undefined) return undefined;
  const unfit = evidenceProblems(pair, trigger, now).filter((p) => !isTargetProbe(p));
  if (unfit.length === 0) return undefined;
  return {
    kind: 'unchanged',
    holder,
    reasons: [`${cause}, but the evidence does not meet the probe rule: not moving`, ...unfit],
  };
}

/**
 * Why the holder counts as failed: what EC2 shows (holderFailure), or else probe evidence that meets
 * its rule (probedFailure). undefined: it has not failed.
 */
function failureOf(s: Situation): string | undefined {
  return s.holder === null
    ? undefined
    : (holderFailure(s.pair, s.obs.instances[s.holder]) ?? probedFailure(s));
}

/**
 * An application failure only the prober sees: the holder runs and passes EC2's checks, but failed
 * `failures` probes in a row while the other member passed. It is decided as an application-only
 * failure: the holder answers, so no Force first (forceFor), damping applies, and the ENI goes back
 * onto it if the attach fails (putBackFor).
 */
function probedFailure({ pair, trigger, now }: Situation): string | undefined {
  if (trigger.kind !== 'probe') return undefined;
  if (evidenceProblems(pair, trigger, now).some((p) => !isTargetProbe(p))) return undefined;
  const settings = probeSettings(pair);
  const errors = [...new Set(trigger.errors)].join(', ') || 'no errors given';
  // Which kind of failure moved the address (issue 23): refused, timeout, status …
  return `the prober saw ${trigger.failures} ${settings?.protocol ?? ''} probes of port ${settings?.port ?? '?'} fail in a row from ${new Date(trigger.firstFailureAt).toISOString()} to ${new Date(trigger.lastFailureAt).toISOString()} (failed by ${failureKinds(trigger.errors)}: ${errors}) while ${who(pair, trigger.other.instanceId)} passed`;
}

/** A move on probe evidence alone: refused when the prober sees the target failing too (target-probe). */
function probeTargetProblems(s: Situation): string[] {
  if (s.trigger.kind !== 'probe' || s.holder === null) return [];
  if (holderFailure(s.pair, s.obs.instances[s.holder]) !== undefined) return [];
  return evidenceProblems(s.pair, s.trigger, s.now).filter(isTargetProbe);
}

/** A holder that reads healthy at the moment of decision keeps the ENI: the trigger is stale. */
function holderHealthy(s: Situation): Plan | undefined {
  const { pair, trigger, obs, holder, cause } = s;
  if (holder === null || failureOf(s) !== undefined) return undefined;
  const healthy = `${who(pair, holder)} reads healthy now (${health(pair, obs.instances[holder])})`;
  return {
    kind: 'unchanged',
    holder,
    reasons: [trigger.kind === 'reconcile' ? `${cause}: ${healthy}` : `${cause}, but ${healthy}: not moving`],
  };
}

/**
 * The holder's application reporting is suppressed (EnableApplicationStatusCheckSuppression, as deploy tooling
 * does around a deploy): its application check means nothing until EC2 resumes it, so a holder that fails
 * only that check keeps the ENI. Its other checks keep running: a holder that stops or fails its instance,
 * system or EBS check is moved off (failOver), since suppression without a duration lasts until disabled.
 */
function applicationSuppressed(s: Situation): Plan | undefined {
  const { pair, obs, holder, cause, now } = s;
  if (holder === null) return undefined;
  const instance = obs.instances[holder];
  const window = maintenanceOf(pair, obs, now);
  if (window?.source !== 'suppressed') return undefined;
  // Probe evidence alone is an application failure too (probedFailure): the deploy that suppressed the
  // application check is what the prober sees failing.
  const probedOnly = holderFailure(pair, instance) === undefined;
  if (!applicationOnly(pair, instance) && !probedOnly) return undefined;
  return {
    kind: 'unchanged',
    holder,
    reasons: [
      `${cause}: ${describeMaintenance(window, now)}; a move for its application check alone is paused (a manual move still works)`,
      `${who(pair, holder)} holds the ENI and has failed: ${failureOf(s)}: not acting while its reporting is suppressed`,
    ],
  };
}

/** A holder that has failed is left for the other member, unless damping holds the move back. */
function failOver(s: Situation): Plan {
  const { pair, obs, record, eni, holder, cause, now } = s;
  const from = holder as string;
  const instance = obs.instances[from];
  const why = failureOf(s);
  const to = instanceOf(pair, otherRole(roleOf(pair, from) as Role));
  const damping = dampingFor(pair, record, instance, now);
  const decision = moveTo(
    pair,
    obs,
    eni,
    to,
    [`${who(pair, from)} holds the ENI and has failed: ${why}`, `triggered by ${cause}`],
    {
      automatic: true,
      probe: holderFailure(pair, instance) === undefined,
      blockers: [
        ...damping.reasons,
        ...(applicationOnly(pair, instance)
          ? applicationReady(
              pair,
              obs,
              to,
              `take over from a holder that runs and failed only its application check`,
            )
          : []),
        ...probeTargetProblems(s),
      ],
    },
  );
  if (decision.kind !== 'refused') return decision;
  if (damping.flapping)
    return damping.flapping.paged
      ? { ...decision, quiet: true }
      : { ...decision, once: { key: 'flapping', mark: damping.flapping.mark } };
  if (s.trigger.kind !== 'probe') return decision;
  // Probe evidence is sent again every few seconds while the holder fails: the same refusal (the same checks, since
  // the same last automatic move) pages once, not every 5 s of a 300 s cool-down.
  const checks = decision.reasons.map((r) => /^([a-z-]+): /.exec(r)?.[1]).filter(Boolean);
  const mark = `${checks.join(',')} since ${new Date(lastHour(record, now).at(-1) ?? 0).toISOString()}`;
  return record.probeRefusalPaged === mark
    ? { ...decision, quiet: true }
    : { ...decision, once: { key: 'probe-refusal', mark } };
}

/** Why an instance counts as failed, or undefined if it is healthy. */
export function holderFailure(pair: Pair, instance: InstanceView | undefined): string | undefined {
  if (!instance) return 'EC2 does not know it (terminated and gone?)';
  // pending: it is starting (an operator started it while it held the ENI), not failing.
  if (instance.state !== 'running' && instance.state !== 'pending') return `state is ${instance.state}`;
  if (instance.instanceStatus === 'impaired') return 'instance status check is impaired';
  if (instance.systemStatus === 'impaired') return 'system status check is impaired';
  if (instance.ebsStatus === 'impaired') return 'attached EBS status check is impaired';
  // The pair's own check (applicationCheckId), never another team's on the same instance; the
  // instance-level aggregate only where no check is named.
  const app = ownApplication(pair, instance);
  if (app?.status === 'failed') return `its ${app.detail}`;
  if (app?.status === 'impaired') return 'application status check is impaired';
  return undefined;
}

/** The holder runs and answers every status check; only its application check failed. */
function applicationOnly(pair: Pair, instance: InstanceView | undefined): boolean {
  const withoutApplication = { ...pair, applicationCheck: undefined, applicationCheckId: undefined };
  return (
    holderFailure(pair, instance) !== undefined && holderFailure(withoutApplication, instance) === undefined
  );
}

/**
 * The target's application is ready to serve: its own check reads passed (ok for the aggregate). Asked of a
 * move whose only cause is the holder's application check (it trades a running holder for the target's
 * application) and of a planned move for a pair that names its check. Initializing, insufficient-data,
 * not-applicable, no result, a check that could not be read, or suppressed refuse it; failed is
 * targetProblems' refusal.
 */
function applicationReady(pair: Pair, obs: Observation, to: string, task: string): string[] {
  const target = obs.instances[to];
  if (!target) return [];
  const app = ownApplication(pair, target);
  if (!app || app.status === 'failed' || app.status === 'impaired') return [];
  const suppressed = target.application?.suppressed;
  if ((app.status === 'passed' || app.status === 'ok') && !suppressed) return [];
  return [
    failed(
      'target-application',
      `${who(pair, to)} must pass its own application check to ${task}, but its ${app.detail}${suppressed ? ' and its reporting is suppressed' : ''}`,
    ),
  ];
}

/**
 * Damping by cause: the cool-down and the flap limit hold back only a move away from a holder that
 * still runs (a failed check), and count only automatic moves (the record's automaticMoves). A holder that is
 * stopping, stopped, shutting down, terminated or gone is left at once: damping never keeps the
 * address on a dead holder.
 */
function dampingFor(
  pair: Pair,
  record: PairRecord,
  holder: InstanceView | undefined,
  now: number,
): { reasons: string[]; flapping?: { paged: boolean; mark: string } } {
  if (!stillRuns(holder)) return { reasons: [] };
  const moves = lastHour(record, now);
  const reasons: string[] = [];
  const last = moves.at(-1);
  const seconds = pair.cooldownSeconds ?? DEFAULT_COOLDOWN_SECONDS;
  if (last !== undefined && now - last < seconds * 1000) {
    const ago = Math.max(0, Math.round((now - last) / 1000));
    reasons.push(
      failed(
        'cooldown',
        `the last automatic move was ${ago} s ago; a move away from a holder that still runs waits ${seconds} s after it, to damp flapping (a manual move, or a holder that is stopped or gone, is not damped)`,
      ),
    );
  }
  const limit = pair.maxMovesPerHour ?? DEFAULT_MAX_MOVES_PER_HOUR;
  if (last === undefined || moves.length < limit) return { reasons };
  reasons.push(
    failed(
      'flapping',
      `${moves.length} automatic moves in the last hour (the limit is ${limit}); moves away from a holder that still runs wait until the oldest is an hour old, at ${new Date((moves[0] ?? now) + 3_600_000).toISOString()}; a person should look (a manual move still works)`,
    ),
  );
  const mark = new Date(last).toISOString();
  return { reasons, flapping: { paged: record.flappingPaged === mark, mark } };
}

/** The pair's automatic moves of the last hour (epoch ms, oldest first). */
export const lastHour = (record: PairRecord, now: number) =>
  record.automaticMoves.filter((t) => now - t < 3_600_000).sort((a, b) => a - b);

/** Running (or starting): its failure is a check, not its state, so damping and a detach without Force apply. */
const stillRuns = (instance: InstanceView | undefined) =>
  instance?.state === 'running' || instance?.state === 'pending';

// ── Manual rules ─────────────────────────────────────────────────────────────────────────────────

/** A drill or fail-back: to the named member, or the one that does not hold the ENI. */
function manualMove(
  pair: Pair,
  trigger: Extract<Trigger, { kind: 'move' }>,
  obs: Observation,
  eni: EniView,
): Plan {
  const holder = holderOf(eni);
  if (holder === null && trigger.to === undefined)
    return adopt(pair, obs, eni, 'manual move', { dryRun: trigger.dryRun });
  const holderRole = holder === null ? undefined : roleOf(pair, holder);
  const toRole: Role = trigger.to ?? otherRole(holderRole ?? 'primary');
  const to = instanceOf(pair, toRole);
  if (holder === to)
    return { kind: 'unchanged', holder, reasons: [`the ENI is already attached to ${toRole} ${to}`] };
  const why =
    holder === null
      ? `${eni.id} is attached to no one`
      : `${who(pair, holder)} holds the ENI (${health(pair, obs.instances[holder])})`;
  return moveTo(pair, obs, eni, to, [`manual move to ${toRole}${trigger.dryRun ? ' (dry run)' : ''}`, why], {
    dryRun: trigger.dryRun,
  });
}

// ── Every move ───────────────────────────────────────────────────────────────────────────────────

export const otherRole = (role: Role): Role => (role === 'primary' ? 'standby' : 'primary');

/** A move of the ENI to `to`, or a refusal naming every failed check. */
function moveTo(
  pair: Pair,
  obs: Observation,
  eni: EniView,
  to: string,
  why: string[],
  how: {
    dryRun?: boolean;
    /** An automatic move away from a failed holder (counted by damping). */
    automatic?: boolean;
    /** Moves without a person: a hung detach is forced (adopting a stranded ENI, a failed holder). */
    unattended?: boolean;
    /** Made on probe evidence alone: remembered in the state. */
    probe?: boolean;
    /** Reasons to refuse besides the target's checks (damping). */
    blockers?: string[];
  } = {},
): Plan {
  const from = holderOf(eni);
  const holder = eni.attachment?.instanceId;
  // Force's test is the one for "cannot serve": not running, or failing its instance or system check.
  const down = from === null || forceFor(holder === undefined ? undefined : obs.instances[holder]);
  const checked = targetProblems(pair, eni, to, obs.instances[to], recordOf(obs).forcedDetach);
  const { problems: refusals, notes } = forcedDetachOnlyWarns(checked, down);
  const problems = [...(how.blockers ?? []), ...refusals];
  if (problems.length > 0) return { kind: 'refused', from, to, reasons: problems };
  const detach = detachFor(obs, eni);
  return {
    kind: 'move',
    from,
    to,
    detach,
    awaitAvailable: detach !== undefined || eni.status !== 'available',
    dryRun: how.dryRun ?? false,
    putBack: putBackFor(pair, obs, from, detach),
    fence: fenceFor(pair, from, detach?.force === true, obs),
    verifyAddress: pair.verifyOs ? eni.privateIp : undefined,
    automatic: how.automatic ?? false,
    probe: how.probe ?? false,
    withoutLease: down,
    escalate: how.automatic || how.unattended ? escalateFor(pair, obs, eni, detach) : undefined,
    // A person's move: a detach the holder does not let go of is theirs to force, never the function's.
    detachWithinMs: how.automatic || how.unattended ? undefined : FORCE_AFTER_MS,
    reasons: [...why, ...notes],
  };
}

/**
 * After a forced detach, AWS documents that the instance may refuse an interface at that device index until it
 * is stopped and started (target-forced-detach). That refuses a move off a holder that still serves; off one that
 * cannot (or of an ENI on no one), the address is down either way, so the attach is tried, saying so.
 */
function forcedDetachOnlyWarns(problems: string[], down: boolean): { problems: string[]; notes: string[] } {
  const forced = problems.filter((p) => p.startsWith('target-forced-detach:'));
  if (!down || forced.length === 0) return { problems, notes: [] };
  return {
    problems: problems.filter((p) => !forced.includes(p)),
    notes: forced.map(
      (p) => `${p.replace(/^target-forced-detach: /, '')}; trying it all the same, since the address is down`,
    ),
  };
}

/**
 * The detach a move needs first, if any. A detach that hangs in `detaching` from an instance that has
 * failed since (its OS stopped answering) is forced. The forced detach is recorded only off an
 * instance that still runs: a stopped or terminated one must be started again anyway, which is the
 * documented cure.
 */
function detachFor(obs: Observation, eni: EniView): MovePlan['detach'] {
  const a = eni.attachment;
  if (!a?.instanceId || !['attached', 'attaching', 'detaching'].includes(a.status)) return undefined;
  const instance = obs.instances[a.instanceId];
  const force = forceFor(instance);
  if (a.status === 'detaching' && !force) return undefined;
  return {
    attachmentId: a.id,
    instanceId: a.instanceId,
    force,
    record: force && instance?.state === 'running',
  };
}

/**
 * Force by need. Force is AWS's last resort for a failed instance (DetachNetworkInterface, `Force`),
 * and after it the instance may refuse an interface at that index until it is stopped and started:
 * only a holder that is not running, or fails its instance or system reachability check, gets it. A
 * holder that answers (only its attached-EBS or application check failed) lets go the ordinary way;
 * if it does not within FORCE_AFTER_MS, an automatic move escalates (escalateFor).
 */
function forceFor(instance: InstanceView | undefined): boolean {
  if (!stillRuns(instance)) return true;
  return instance?.instanceStatus === 'impaired' || instance?.systemStatus === 'impaired';
}

/** The detach an automatic move forces if it has not finished within FORCE_AFTER_MS. */
function escalateFor(
  pair: Pair,
  obs: Observation,
  eni: EniView,
  detach: MovePlan['detach'],
): MovePlan['escalate'] {
  const a = eni.attachment;
  if (detach?.force || !a?.instanceId) return undefined;
  if (!detach && a.status !== 'detaching') return undefined;
  const instance = obs.instances[a.instanceId];
  const running = instance?.state === 'running';
  return {
    attachmentId: a.id,
    instanceId: a.instanceId,
    afterMs: FORCE_AFTER_MS,
    record: running,
    // Every forced detach off a running holder is fenced, an escalated one too.
    fence: pair.fence && running ? a.instanceId : undefined,
  };
}

/**
 * Back onto the old holder if it is healthy (a drill, a fail-back), or runs and failed only its
 * application check: either serves better than an ENI attached to no one.
 */
function putBackFor(
  pair: Pair,
  obs: Observation,
  from: string | null,
  detach: MovePlan['detach'],
): string | undefined {
  if (from === null || !detach) return undefined;
  const holder = obs.instances[from];
  return holderFailure(pair, holder) === undefined || applicationOnly(pair, holder) ? from : undefined;
}

/** The holder to stop after a forced detach, when the pair fences and the holder is not already going down. */
function fenceFor(pair: Pair, from: string | null, forced: boolean, obs: Observation): string | undefined {
  if (!pair.fence || !forced || from === null) return undefined;
  const state = obs.instances[from]?.state;
  return state === 'running' || state === 'pending' ? from : undefined;
}

/** Attach an ENI that no one holds to a healthy member, the standby first. */
function adopt(
  pair: Pair,
  obs: Observation,
  eni: EniView,
  why: string,
  how: { dryRun?: boolean; unattended?: boolean },
): Plan {
  const leaving =
    eni.attachment?.status === 'detaching' ? roleOf(pair, eni.attachment.instanceId ?? '') : undefined;
  const order = leaving ? ([otherRole(leaving), leaving] as const) : (['standby', 'primary'] as const);
  const forced = recordOf(obs).forcedDetach;
  const candidates = order.map((role) => {
    const id = instanceOf(pair, role);
    return { role, id, problems: targetProblems(pair, eni, id, obs.instances[id], forced) };
  });
  // A member that passes every check first; else one refused only for a forced-detach record (moveTo tries it).
  const chosen =
    candidates.find((c) => c.problems.length === 0) ??
    candidates.find((c) => forcedDetachOnlyWarns(c.problems, true).problems.length === 0);
  if (chosen)
    return moveTo(
      pair,
      obs,
      eni,
      chosen.id,
      [`${eni.id} is attached to no one`, why, `attaching it to ${chosen.role} ${chosen.id}`],
      how,
    );
  const refusals = candidates.flatMap((c) => c.problems);
  return {
    kind: 'refused',
    from: null,
    to: null,
    reasons: [`${eni.id} is attached to no one and no member can take it`, ...refusals],
  };
}

/** The goal includes an address that outlives its holder: finish what a half-done move left. */
function keepAddress(eni: EniView, decision: Plan): Plan {
  const a = eni.attachment;
  if (decision.kind !== 'unchanged' || a?.status !== 'attached' || !a.deleteOnTermination) return decision;
  return {
    ...decision,
    keep: a.id,
    reasons: [
      ...decision.reasons,
      'the attachment would be deleted with its instance (DeleteOnTermination): setting it to false',
    ],
  };
}
