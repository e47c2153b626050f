// PURE: observed state + trigger -> Plan. No SDK import, no I/O, no clock.
import { DEFAULT_COOLDOWN_SECONDS, instanceOf, type Pair, type Role, roleOf } from './config';
import { describeTrigger, type Trigger } from './events';
import type { PairState } from './result';

export interface EniView {
  readonly id: string;
  /** EC2's ENI status: available | in-use | attaching | detaching | associated … */
  readonly status: string;
  readonly availabilityZone: string;
  readonly vpcId: string;
  /** The service address. */
  readonly privateIp: string | undefined;
  readonly interfaceType: string;
  readonly requesterManaged: boolean;
  /**
   * Addresses the ENI carries, as an instance type's per-interface limits count them: each IPv4 or
   * IPv6 prefix counts as one address (EC2 User Guide, "Prefix delegation", considerations).
   */
  readonly addresses: { readonly ipv4: number; readonly ipv6: number };
  readonly attachment?: {
    readonly id: string;
    readonly instanceId: string | undefined;
    readonly deviceIndex: number;
    /** attaching | attached | detaching | detached */
    readonly status: string;
    readonly deleteOnTermination: boolean;
  };
  readonly tags: Readonly<Record<string, string>>;
}

export interface InstanceView {
  readonly id: string;
  /** pending | running | stopping | stopped | shutting-down | terminated */
  readonly state: string;
  readonly availabilityZone: string;
  readonly vpcId: string | undefined;
  readonly instanceType: string;
  /** ok | impaired | initializing | insufficient-data | not-applicable | unknown */
  readonly instanceStatus: string;
  readonly systemStatus: string;
  /** The status of its attached EBS volumes (DescribeInstanceStatus AttachedEbsStatus). */
  readonly ebsStatus: string;
  /** Its EC2 application status checks, taken together (DescribeInstanceStatus ApplicationStatus). */
  readonly applicationStatus: string;
  /** When it was last started (epoch ms): a stop and start renews it. */
  readonly launchTime: number | undefined;
  /**
   * Interfaces network card 0 allows (DescribeInstanceTypes NetworkCards[0]); undefined when EC2 did
   * not say. Device indexes and interface limits count per card, and the function attaches to card 0.
   */
  readonly maxInterfaces: number | undefined;
  /** Addresses one interface of its type may carry (DescribeInstanceTypes NetworkInfo); undefined when EC2 did not say. */
  readonly perInterface:
    | { readonly ipv4: number; readonly ipv6: number; readonly ipv6Supported: boolean }
    | undefined;
  readonly interfaces: readonly {
    readonly id: string;
    readonly deviceIndex: number;
    readonly networkCardIndex: number;
  }[];
}

export interface Observation {
  /** undefined: EC2 knows no such ENI. */
  readonly eni: EniView | undefined;
  /** The pair's instances that EC2 knows, by ID. */
  readonly instances: Readonly<Record<string, InstanceView>>;
}

export type Plan =
  | { readonly kind: 'status'; readonly holder: string | null; readonly reasons: string[] }
  | {
      readonly kind: 'unchanged';
      readonly holder: string | null;
      readonly reasons: string[];
      /** An attachment to set DeleteOnTermination=false on: a move whose last steps failed left it true. */
      readonly keep?: string;
    }
  | {
      readonly kind: 'refused';
      readonly from: string | null;
      readonly to: string | null;
      readonly reasons: string[];
    }
  | MovePlan;

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
  /** Why the move is right, for the result and the ENI's tag. */
  readonly reasons: string[];
}

/** Tags written on the ENI after every move; the cool-down reads MOVED_AT back. */
export const TAG = {
  movedAt: 'eni-failover:moved-at',
  from: 'eni-failover:moved-from',
  to: 'eni-failover:moved-to',
  reason: 'eni-failover:move-reason',
  /** The last instance the ENI was force-detached from, and when: see targetProblems, target-forced-detach. */
  forcedFrom: 'eni-failover:forced-detach-from',
  forcedAt: 'eni-failover:forced-detach-at',
} as const;

/** A check that failed, named so that operators and tests can match on it: "target-az: …". */
const failed = (check: string, detail: string) => `${check}: ${detail}`;

/** An instance as a person reads it: "standby i-…" for a member, the bare ID for anyone else. */
export const who = (pair: Pair, instanceId: string) => {
  const role = roleOf(pair, instanceId);
  return role ? `${role} ${instanceId}` : instanceId;
};

/** Why an instance counts as failed, or undefined if it is healthy. */
export function failure(pair: Pair, instance: InstanceView | undefined): string | undefined {
  if (!instance) return 'EC2 does not know it (terminated and gone?)';
  // pending: it is starting (an operator started it while it held the ENI), not failing.
  if (instance.state !== 'running' && instance.state !== 'pending') return `state is ${instance.state}`;
  if (instance.instanceStatus === 'impaired') return 'instance status check is impaired';
  if (instance.systemStatus === 'impaired') return 'system status check is impaired';
  if (instance.ebsStatus === 'impaired') return 'attached EBS status check is impaired';
  if (pair.applicationCheck && instance.applicationStatus === 'impaired')
    return 'application status check is impaired';
  return undefined;
}

/** An instance's health as a person reads it. */
export function health(pair: Pair, instance: InstanceView | undefined): string {
  if (!instance) return 'not found';
  const app = pair.applicationCheck ? `, application ${instance.applicationStatus}` : '';
  return `${instance.state}, status ${instance.instanceStatus}/${instance.systemStatus}/EBS ${instance.ebsStatus}${app}, ${instance.availabilityZone}`;
}

/** The ENI is attached (or attaching) to this instance; detaching or detached count as no one. */
export function holderOf(eni: EniView): string | null {
  const a = eni.attachment;
  if (!a?.instanceId) return null;
  return a.status === 'attached' || a.status === 'attaching' ? a.instanceId : null;
}

/** Checks on the ENI itself; empty when it may be moved. */
export function eniProblems(pair: Pair, eni: EniView | undefined): string[] {
  if (!eni) return [failed('eni-exists', `${pair.networkInterfaceId} does not exist`)];
  const problems: string[] = [];
  if (eni.requesterManaged) {
    problems.push(
      failed('eni-requester-managed', `${eni.id} is managed by an AWS service and must not be moved`),
    );
  }
  if (eni.interfaceType !== 'interface') {
    problems.push(
      failed('eni-type', `${eni.id} is of type ${eni.interfaceType}, only a plain interface can move`),
    );
  }
  const holder = holderOf(eni);
  if (holder !== null && eni.attachment?.deviceIndex === 0) {
    problems.push(failed('eni-primary', `${eni.id} is the primary interface (device index 0) of ${holder}`));
  }
  if (holder !== null && !roleOf(pair, holder)) {
    problems.push(
      failed('eni-holder', `${eni.id} is attached to ${holder}, which is not a member of pair ${pair.name}`),
    );
  }
  return problems;
}

/** Checks on the instance that would receive the ENI; empty when the attach is safe. */
export function targetProblems(
  pair: Pair,
  eni: EniView,
  instanceId: string,
  target: InstanceView | undefined,
): string[] {
  const name = who(pair, instanceId);
  if (!target) return [failed('target-exists', `${name} does not exist`)];
  const problems: string[] = [];
  if (target.state !== 'running')
    problems.push(failed('target-running', `${name} is ${target.state}, not running`));
  if ([target.instanceStatus, target.systemStatus, target.ebsStatus].includes('impaired')) {
    problems.push(
      failed(
        'target-healthy',
        `${name} status checks are impaired (instance ${target.instanceStatus}, system ${target.systemStatus}, attached EBS ${target.ebsStatus})`,
      ),
    );
  }
  if (pair.applicationCheck && target.applicationStatus === 'impaired') {
    problems.push(failed('target-application', `${name} reports its application status check impaired`));
  }
  if (target.availabilityZone !== eni.availabilityZone) {
    problems.push(
      failed(
        'target-az',
        `${name} is in ${target.availabilityZone}, but the ENI is in ${eni.availabilityZone}`,
      ),
    );
  }
  if (target.vpcId !== eni.vpcId) {
    problems.push(
      failed('target-vpc', `${name} is in ${target.vpcId ?? 'no VPC'}, but the ENI is in ${eni.vpcId}`),
    );
  }
  // Device indexes count per network card (an EFA layout puts an interface at index 1 on every card):
  // only card 0, where the ENI goes, matters.
  const onCard0 = target.interfaces.filter((i) => i.networkCardIndex === 0 && i.id !== eni.id);
  const occupant = onCard0.find((i) => i.deviceIndex === pair.deviceIndex);
  if (occupant) {
    problems.push(
      failed(
        'target-device-index',
        `${name} already has ${occupant.id} at device index ${pair.deviceIndex} of network card 0`,
      ),
    );
  }
  if (target.maxInterfaces === undefined) {
    problems.push(
      failed(
        'target-interface-limit',
        `EC2 did not say how many interfaces ${target.instanceType} allows on network card 0`,
      ),
    );
  } else if (onCard0.length >= target.maxInterfaces) {
    problems.push(
      failed(
        'target-interface-limit',
        `${name} has ${onCard0.length} of the ${target.maxInterfaces} interfaces ${target.instanceType} allows on network card 0`,
      ),
    );
  }
  problems.push(...addressProblems(name, eni, target));
  const forced = forcedDetachProblem(name, eni, instanceId, target);
  if (forced) problems.push(forced);
  return problems;
}

/** An ENI carrying more addresses than the target's type allows per interface fails the attach, after the detach. */
function addressProblems(name: string, eni: EniView, target: InstanceView): string[] {
  const limit = target.perInterface;
  const { ipv4, ipv6 } = eni.addresses;
  if (!limit) {
    return [
      failed(
        'target-address-limit',
        `EC2 did not say how many addresses ${target.instanceType} allows per interface`,
      ),
    ];
  }
  const problems: string[] = [];
  if (ipv4 > limit.ipv4) {
    problems.push(
      failed(
        'target-address-limit',
        `the ENI carries ${ipv4} IPv4 addresses and prefixes; ${target.instanceType} (${name}) allows ${limit.ipv4} per interface`,
      ),
    );
  }
  if (ipv6 > 0 && !limit.ipv6Supported) {
    problems.push(
      failed(
        'target-address-limit',
        `the ENI carries ${ipv6} IPv6 addresses and prefixes; ${target.instanceType} (${name}) does not support IPv6`,
      ),
    );
  } else if (ipv6 > limit.ipv6) {
    problems.push(
      failed(
        'target-address-limit',
        `the ENI carries ${ipv6} IPv6 addresses and prefixes; ${target.instanceType} (${name}) allows ${limit.ipv6} per interface`,
      ),
    );
  }
  return problems;
}

/**
 * AWS documents that after a forced detach the instance may not accept another interface at the same
 * device index until it is stopped and started: refuse it until its LaunchTime is later than the record.
 */
function forcedDetachProblem(
  name: string,
  eni: EniView,
  instanceId: string,
  target: InstanceView,
): string | undefined {
  if (eni.tags[TAG.forcedFrom] !== instanceId) return undefined;
  const at = Date.parse(eni.tags[TAG.forcedAt] ?? '');
  if (Number.isNaN(at) || (target.launchTime !== undefined && target.launchTime > at)) return undefined;
  return failed(
    'target-forced-detach',
    `the ENI was force-detached from ${name} at ${eni.tags[TAG.forcedAt]}, and it has not been stopped and started since; AWS documents that it may refuse an interface at that device index until then`,
  );
}

const otherRole = (role: Role): Role => (role === 'primary' ? 'standby' : 'primary');

/** A move of the ENI to `to`, or a refusal naming every failed check. */
function moveTo(
  pair: Pair,
  obs: Observation,
  eni: EniView,
  to: string,
  why: string[],
  dryRun: boolean,
  /** Reasons to refuse besides the target's checks (the cool-down). */
  blockers: string[] = [],
): Plan {
  const from = holderOf(eni);
  const problems = [...blockers, ...targetProblems(pair, eni, to, obs.instances[to])];
  if (problems.length > 0) return { kind: 'refused', from, to, reasons: problems };
  const detach = detachFor(pair, obs, eni);
  return {
    kind: 'move',
    from,
    to,
    detach,
    awaitAvailable: detach !== undefined || eni.status !== 'available',
    dryRun,
    // Back onto the old holder only if it is healthy (a drill, a fail-back), so that it serves again.
    putBack: from !== null && detach && failure(pair, obs.instances[from]) === undefined ? from : undefined,
    fence: fenceable(pair, from, detach?.force === true, obs),
    verifyAddress: pair.verifyOs ? eni.privateIp : undefined,
    reasons: why,
  };
}

/**
 * The detach a move needs first, if any. Force is AWS's last resort for a failed instance
 * (DetachNetworkInterface, `Force`): a holder whose only failure is its application lets go the
 * ordinary way. A detach that hangs in `detaching` from an instance that has failed since (its OS
 * stopped answering) is forced. The forced detach is recorded only off an instance that still runs:
 * a stopped or terminated one must be started again anyway, which is the documented cure.
 */
function detachFor(pair: Pair, obs: Observation, eni: EniView): MovePlan['detach'] {
  const a = eni.attachment;
  if (!a?.instanceId || !['attached', 'attaching', 'detaching'].includes(a.status)) return undefined;
  const instance = obs.instances[a.instanceId];
  const force = failure({ ...pair, applicationCheck: undefined }, instance) !== undefined;
  if (a.status === 'detaching' && !force) return undefined;
  return {
    attachmentId: a.id,
    instanceId: a.instanceId,
    force,
    record: force && instance?.state === 'running',
  };
}

/** The holder to stop after a forced detach, when the pair fences and the holder is not already going down. */
function fenceable(pair: Pair, from: string | null, forced: boolean, obs: Observation): string | undefined {
  if (!pair.fence || !forced || from === null) return undefined;
  const state = obs.instances[from]?.state;
  return state === 'running' || state === 'pending' ? from : undefined;
}

/** Attach an ENI that no one holds to a healthy member, the standby first. */
function adopt(pair: Pair, obs: Observation, eni: EniView, why: string, dryRun: boolean): Plan {
  const refusals: string[] = [];
  for (const role of ['standby', 'primary'] as const) {
    const id = instanceOf(pair, role);
    const problems = targetProblems(pair, eni, id, obs.instances[id]);
    if (problems.length === 0) {
      return moveTo(
        pair,
        obs,
        eni,
        id,
        [`${eni.id} is attached to no one`, why, `attaching it to ${role} ${id}`],
        dryRun,
      );
    }
    refusals.push(...problems);
  }
  return {
    kind: 'refused',
    from: null,
    to: null,
    reasons: [`${eni.id} is attached to no one and no member can take it`, ...refusals],
  };
}

/** Flap damping: an automatic move this soon after the ENI's last move is refused. */
function cooldown(pair: Pair, eni: EniView, now: number): string[] {
  const movedAt = Date.parse(eni.tags[TAG.movedAt] ?? '');
  const seconds = pair.cooldownSeconds ?? DEFAULT_COOLDOWN_SECONDS;
  if (Number.isNaN(movedAt) || now - movedAt >= seconds * 1000) return [];
  const ago = Math.max(0, Math.round((now - movedAt) / 1000));
  const last = `${eni.tags[TAG.from] ?? '?'} -> ${eni.tags[TAG.to] ?? '?'}`;
  return [
    failed(
      'cooldown',
      `the ENI last moved ${ago} s ago (${last}); automatic moves wait ${seconds} s between moves to damp flapping (a manual move is not damped)`,
    ),
  ];
}

function planAutomatic(
  pair: Pair,
  trigger: Extract<Trigger, { kind: 'alarm' | 'state-change' | 'reconcile' }>,
  obs: Observation,
  eni: EniView,
  now: number,
): Plan {
  const holder = holderOf(eni);
  const cause = describeTrigger(trigger);
  if (holder === null) return adopt(pair, obs, eni, `triggered by ${cause}`, false);
  if (trigger.kind !== 'reconcile' && holder !== trigger.instanceId) {
    return {
      kind: 'unchanged',
      holder,
      reasons: [
        `${cause}, but the ENI is held by ${who(pair, holder)}, not by ${who(pair, trigger.instanceId)}: nothing to move`,
      ],
    };
  }
  const why = failure(pair, obs.instances[holder]);
  if (why === undefined) {
    const healthy = `${who(pair, holder)} reads healthy now (${health(pair, obs.instances[holder])})`;
    return {
      kind: 'unchanged',
      holder,
      reasons: [
        trigger.kind === 'reconcile' ? `${cause}: ${healthy}` : `${cause}, but ${healthy}: not moving`,
      ],
    };
  }
  const role = roleOf(pair, holder) as Role;
  const to = instanceOf(pair, otherRole(role));
  return moveTo(
    pair,
    obs,
    eni,
    to,
    [`${who(pair, holder)} holds the ENI and has failed: ${why}`, `triggered by ${cause}`],
    false,
    cooldown(pair, eni, now),
  );
}

function planManualMove(
  pair: Pair,
  trigger: Extract<Trigger, { kind: 'move' }>,
  obs: Observation,
  eni: EniView,
): Plan {
  const holder = holderOf(eni);
  if (holder === null && trigger.to === undefined)
    return adopt(pair, obs, eni, 'manual move', trigger.dryRun);
  const holderRole = holder === null ? undefined : roleOf(pair, holder);
  const toRole: Role = trigger.to ?? otherRole(holderRole ?? 'primary');
  const to = instanceOf(pair, toRole);
  if (holder === to)
    return { kind: 'unchanged', holder, reasons: [`the ENI is already attached to ${toRole} ${to}`] };
  const why =
    holder === null
      ? `${eni.id} is attached to no one`
      : `${who(pair, holder)} holds the ENI (${health(pair, obs.instances[holder])})`;
  return moveTo(
    pair,
    obs,
    eni,
    to,
    [`manual move to ${toRole}${trigger.dryRun ? ' (dry run)' : ''}`, why],
    trigger.dryRun,
  );
}

function planStatus(pair: Pair, obs: Observation, eni: EniView): Plan {
  const holder = holderOf(eni);
  const reasons = [
    holder === null
      ? `${eni.id} is attached to no one (status ${eni.status})`
      : `${eni.id} is attached to ${who(pair, holder)} at device index ${eni.attachment?.deviceIndex}`,
    `primary ${pair.primaryInstanceId}: ${health(pair, obs.instances[pair.primaryInstanceId])}`,
    `standby ${pair.standbyInstanceId}: ${health(pair, obs.instances[pair.standbyInstanceId])}`,
  ];
  const problems = eniProblems(pair, eni);
  if (problems.length > 0) return { kind: 'status', holder, reasons: [...reasons, ...problems] };
  const holderRole = holder === null ? undefined : roleOf(pair, holder);
  const toRole = otherRole(holderRole ?? 'primary');
  const to = instanceOf(pair, toRole);
  const blockers = targetProblems(pair, eni, to, obs.instances[to]);
  reasons.push(
    blockers.length === 0
      ? `a move to ${toRole} ${to} would pass every check`
      : `a move to ${toRole} would be refused`,
    ...blockers,
  );
  return { kind: 'status', holder, reasons };
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
    redundant: targetProblems(pair, eni, other, obs.instances[other]).length === 0,
  };
}

/** The pair at a glance, for status results (lambda/result.ts PairState). */
export function pairState(pair: Pair, obs: Observation): PairState {
  const holder = obs.eni ? holderOf(obs.eni) : null;
  const { attached, redundant } = redundancy(pair, obs, holder);
  const tags = obs.eni?.tags ?? {};
  const at = tags[TAG.movedAt];
  return {
    holder: holder === null ? null : (roleOf(pair, holder) ?? null),
    primary: health(pair, obs.instances[pair.primaryInstanceId]),
    standby: health(pair, obs.instances[pair.standbyInstanceId]),
    attached,
    serving: attached && holder !== null && failure(pair, obs.instances[holder]) === undefined,
    redundant,
    lastMove: at ? { at, from: tags[TAG.from] ?? '?', to: tags[TAG.to] ?? '?' } : null,
    members: { primary: pair.primaryInstanceId, standby: pair.standbyInstanceId },
  };
}

/**
 * Decides what to do about one pair. The goal state is "the ENI is attached, at deviceIndex, to a
 * healthy member of the pair"; the trigger is only a reason to look again.
 */
export function plan(
  pair: Pair,
  trigger: Exclude<Trigger, { kind: 'ignored' }>,
  obs: Observation,
  now: number,
): Plan {
  const eni = obs.eni;
  const problems = eniProblems(pair, eni);
  if (trigger.kind === 'status')
    return eni ? planStatus(pair, obs, eni) : { kind: 'status', holder: null, reasons: problems };
  if (!eni || problems.length > 0)
    return { kind: 'refused', from: eni ? holderOf(eni) : null, to: null, reasons: problems };
  const decision = decide(pair, trigger, obs, eni, now);
  const a = eni.attachment;
  // The goal includes an address that outlives its holder: finish what a half-done move left.
  if (decision.kind === 'unchanged' && a?.status === 'attached' && a.deleteOnTermination) {
    return {
      ...decision,
      keep: a.id,
      reasons: [
        ...decision.reasons,
        'the attachment would be deleted with its instance (DeleteOnTermination): setting it to false',
      ],
    };
  }
  return decision;
}

function decide(
  pair: Pair,
  trigger: Extract<Trigger, { kind: 'alarm' | 'state-change' | 'reconcile' | 'move' }>,
  obs: Observation,
  eni: EniView,
  now: number,
): Plan {
  switch (trigger.kind) {
    case 'move':
      return planManualMove(pair, trigger, obs, eni);
    case 'alarm':
    case 'state-change':
    case 'reconcile':
      return planAutomatic(pair, trigger, obs, eni, now);
  }
}
