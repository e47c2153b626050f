// The status view: how a pair stands, for `status` results, the drill CLI's fleet table and the metrics. It reads
// the planner's rules (lambda/plan.ts) and the pair's state, and decides nothing.
import { eniProblems, targetProblems } from './checks.ts';
import {
  DEFAULT_COOLDOWN_SECONDS,
  DEFAULT_MAX_MOVES_PER_HOUR,
  instanceOf,
  type Pair,
  type Role,
  roleOf,
} from './config.ts';
import { describeMaintenance, maintenanceOf } from './maintenance.ts';
import {
  condemnedBy,
  holderFailure,
  lastHour,
  leadMinutes,
  liveLease,
  otherRole,
  plannedMoveAt,
  unreadableReason,
} from './plan.ts';
import type { PairState, PlannedEvent } from './result.ts';
import {
  describeEvent,
  goingAway,
  health,
  holderOf,
  type InstanceView,
  type Observation,
  recordOf,
  takesItAway,
  who,
} from './view.ts';

/** A pair's status: its holder, and the reasons a person reads. */
export interface StatusView {
  readonly holder: string | null;
  readonly reasons: string[];
}

/** What each kind of maintenance pauses, as a person reads it. */
const PAUSED = {
  window: 'automatic moves are paused',
  suppressed: 'moves for its application check alone are paused',
} as const;

/** How the pair stands, as `status` answers it: who holds the ENI, both members, and whether a move would pass. */
export function statusOf(pair: Pair, obs: Observation, now: number): StatusView {
  const eni = obs.eni;
  const unreadable = unreadableReason(obs);
  if (!eni) return { holder: null, reasons: eniProblems(pair, eni) };
  const holder = holderOf(eni);
  const window = maintenanceOf(pair, obs, now);
  const reasons = [
    holder === null
      ? `${eni.id} is attached to no one (status ${eni.status})`
      : `${eni.id} is attached to ${who(pair, holder)} at device index ${eni.attachment?.deviceIndex}`,
    `primary ${pair.primaryInstanceId}: ${health(pair, obs.instances[pair.primaryInstanceId])}`,
    `standby ${pair.standbyInstanceId}: ${health(pair, obs.instances[pair.standbyInstanceId])}`,
    ...(window
      ? [`${describeMaintenance(window, now)}; ${PAUSED[window.source]} (a manual move still works)`]
      : []),
    ...scheduledReasons(pair, obs, holder),
  ];
  const problems = eniProblems(pair, eni);
  if (problems.length > 0) return { holder, reasons: [...reasons, ...problems] };
  const holderRole = holder === null ? undefined : roleOf(pair, holder);
  const toRole = otherRole(holderRole ?? 'primary');
  const to = instanceOf(pair, toRole);
  const blockers = targetProblems(pair, eni, to, obs.instances[to], recordOf(obs).forcedDetach);
  reasons.push(
    blockers.length === 0
      ? `a move to ${toRole} ${to} would pass every check`
      : `a move to ${toRole} would be refused`,
    ...blockers,
    ...(unreadable ? [unreadable] : []),
  );
  return { holder, reasons };
}

/** Each member's scheduled events, and when the planned move off the holder will happen. */
function scheduledReasons(pair: Pair, obs: Observation, holder: string | null): string[] {
  return [pair.primaryInstanceId, pair.standbyInstanceId].flatMap((id) => {
    const instance = obs.instances[id];
    const first = goingAway(instance);
    const at = id === holder ? plannedMoveAt(pair, instance) : undefined;
    return (instance?.scheduledEvents ?? []).map(
      (e) =>
        `${who(pair, id)} has a scheduled ${describeEvent(e)}` +
        (!takesItAway(e)
          ? ': it keeps running'
          : e === first && at !== undefined
            ? `: the ENI moves off it at ${new Date(at).toISOString()} (${leadMinutes(pair)} min before)`
            : id !== holder && holder !== null
              ? ': redundancy ends then'
              : ''),
    );
  });
}

/**
 * Is the address protected right now? Attached: a member holds the ENI. Redundant: the member that
 * does not hold it could take it now (every target check passes). `holder` may differ from the
 * observed one: after a move the caller asks about the new holder, with the observation from before.
 */
export function redundancy(
  pair: Pair,
  obs: Observation,
  holder: string | null,
): { attached: boolean; redundant: boolean } {
  const eni = obs.eni;
  if (!eni || holder === null || !roleOf(pair, holder)) return { attached: false, redundant: false };
  const other = instanceOf(pair, otherRole(roleOf(pair, holder) as Role));
  return {
    attached: true,
    redundant:
      targetProblems(pair, eni, other, obs.instances[other], recordOf(obs).forcedDetach).length === 0,
  };
}

const isoOrNull = (ms: number | undefined) => (ms === undefined ? null : new Date(ms).toISOString());

/** A member's scheduled events, for status results. */
function plannedEvents(instance: InstanceView | undefined): PlannedEvent[] {
  return (instance?.scheduledEvents ?? []).map((e) => ({
    code: e.code,
    notBefore: isoOrNull(e.notBefore),
    notAfter: isoOrNull(e.notAfter),
    description: e.description,
    takesItAway: takesItAway(e),
  }));
}

/** The pair at a glance, for status results (lambda/result.ts PairState). */
export function pairState(pair: Pair, obs: Observation, now: number): PairState {
  const holder = obs.eni ? holderOf(obs.eni) : null;
  const { attached, redundant } = redundancy(pair, obs, holder);
  const record = recordOf(obs);
  const planned = holder === null ? undefined : plannedMoveAt(pair, obs.instances[holder]);
  const moves = lastHour(record, now);
  const limit = pair.maxMovesPerHour ?? DEFAULT_MAX_MOVES_PER_HOUR;
  const iso = (ms: number) => new Date(ms).toISOString();
  const last = moves.at(-1);
  const cooldownEnds =
    last === undefined ? 0 : last + (pair.cooldownSeconds ?? DEFAULT_COOLDOWN_SECONDS) * 1000;
  const damping =
    moves.length >= limit && moves[0] !== undefined
      ? `flapping until ${iso(moves[0] + 3_600_000)}`
      : cooldownEnds > now
        ? `cooldown until ${iso(cooldownEnds)}`
        : null;
  const lease = liveLease(record, now);
  const window = maintenanceOf(pair, obs, now);
  return {
    holder: holder === null ? null : (roleOf(pair, holder) ?? null),
    primary: health(pair, obs.instances[pair.primaryInstanceId]),
    standby: health(pair, obs.instances[pair.standbyInstanceId]),
    addresses: {
      primary: obs.instances[pair.primaryInstanceId]?.privateIp ?? null,
      standby: obs.instances[pair.standbyInstanceId]?.privateIp ?? null,
      // The service address (the ENI's primary private IP), which the prober probes too (issue 23).
      service: obs.eni?.privateIp ?? null,
    },
    attached,
    serving: attached && holder !== null && holderFailure(pair, obs.instances[holder]) === undefined,
    redundant,
    lastMove: record.lastMove
      ? { at: iso(record.lastMove.at), from: record.lastMove.from ?? 'none', to: record.lastMove.to }
      : null,
    members: { primary: pair.primaryInstanceId, standby: pair.standbyInstanceId },
    events: {
      primary: plannedEvents(obs.instances[pair.primaryInstanceId]),
      standby: plannedEvents(obs.instances[pair.standbyInstanceId]),
    },
    plannedMove: planned === undefined ? null : new Date(planned).toISOString(),
    automaticMoves: { lastHour: moves.length, limit },
    damping,
    lease: lease ? { owner: lease.owner, to: lease.target, until: iso(lease.until) } : null,
    maintenance: window ? { until: window.until, why: window.why } : null,
    forcedDetach: record.forcedDetach
      ? { from: record.forcedDetach.instanceId, at: iso(record.forcedDetach.at) }
      : null,
    condemned: [pair.primaryInstanceId, pair.standbyInstanceId].filter(
      (id) => condemnedBy(record, id, now) !== undefined,
    ),
    state: obs.stateUnavailable === undefined ? 'ok' : `unavailable: ${obs.stateUnavailable}`,
  };
}
