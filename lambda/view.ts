// What the function sees of a pair: the ENI and its members as EC2 shows them, and the pair's state
// (lambda/state.ts). Data and how a person reads it; no decisions (lambda/plan.ts).
import { type Pair, roleOf } from './config.ts';
import { EMPTY_RECORD, type PairRecord } from './state.ts';

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
  /** Its own primary private IPv4 address (device index 0): what the prober probes. */
  readonly privateIp?: string;
  /**
   * DescribeApplicationStatus, asked only for members of pairs that name a check (applicationCheckId):
   * each check's own result by check ID (passed | failed | initializing | insufficient-data |
   * not-applicable), and whether its reporting is suppressed, until when (ISO; undefined: until resumed).
   * undefined: not asked.
   */
  readonly application?: {
    readonly checks: Readonly<
      Record<string, { readonly status: string; readonly reason: string | undefined }>
    >;
    readonly suppressed: { readonly resumeAt: string | undefined } | undefined;
    /**
     * DescribeApplicationStatus answered an error that asking again does not cure (UnauthorizedOperation,
     * the API absent in the region): what it said. The checks are unknown; state and status checks decide.
     */
    readonly unreadable?: string;
  };
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
  /** The scheduled events EC2 announces for it (DescribeInstanceStatus Events), completed and canceled ones left out. */
  readonly scheduledEvents: readonly ScheduledEvent[];
}

/** A scheduled event (EC2 User Guide, "Scheduled events for your instances"). */
export interface ScheduledEvent {
  /** instance-stop | instance-retirement | instance-reboot | system-reboot | system-maintenance */
  readonly code: string;
  /** The window (epoch ms); EC2 always gives NotBefore, NotAfter not for every event. */
  readonly notBefore: number | undefined;
  readonly notAfter: number | undefined;
  readonly description: string;
}

export interface Observation {
  /** undefined: EC2 knows no such ENI. */
  readonly eni: EniView | undefined;
  /** The pair's instances that EC2 knows, by ID. */
  readonly instances: Readonly<Record<string, InstanceView>>;
  /** The pair's state (lambda/state.ts) as read with the observation; EMPTY_RECORD when absent. */
  readonly record?: PairRecord;
  /** The state table could not be read within STATE_BOUND_MS: what it answered. */
  readonly stateUnavailable?: string;
}

/** The pair's record, or the empty one. */
export const recordOf = (obs: Observation): PairRecord => obs.record ?? EMPTY_RECORD;

/**
 * The one tag the function writes on the ENI: a breadcrumb of the last move, for a person reading the console
 * (best effort, never read by a decision). What decisions remember lives in the pair state (lambda/state.ts).
 */
export const BREADCRUMB = 'eni-failover:last-move';

/**
 * Scheduled events that take the instance away: a stop, a retirement (a stop or termination), a reboot
 * of the instance or its host (EC2 User Guide, "Scheduled events for your instances"). A system-maintenance
 * event is network or power work during which the instance keeps running: it moves nothing.
 */
const GOING_AWAY = ['instance-stop', 'instance-retirement', 'instance-reboot', 'system-reboot'];

export const takesItAway = (e: ScheduledEvent) => GOING_AWAY.includes(e.code);

/** The earliest scheduled event that takes the instance away, or undefined. */
export function goingAway(instance: InstanceView | undefined): ScheduledEvent | undefined {
  return (instance?.scheduledEvents ?? [])
    .filter((e) => takesItAway(e) && e.notBefore !== undefined)
    .sort((a, b) => (a.notBefore as number) - (b.notBefore as number))[0];
}

const isoSeconds = (ms: number) => new Date(ms).toISOString().replace(/\.000Z$/, 'Z');

/** A scheduled event as a person reads it: "instance-retirement 2026-11-25T03:00:00Z to 05:00:00Z (…)". */
export function describeEvent(e: ScheduledEvent): string {
  const from = e.notBefore === undefined ? 'at a time EC2 did not give' : isoSeconds(e.notBefore);
  const to = e.notAfter === undefined ? '' : ` to ${isoSeconds(e.notAfter)}`;
  return `${e.code} ${from}${to}${e.description ? ` (${e.description})` : ''}`;
}

/** An instance as a person reads it: "standby i-…" for a member, the bare ID for anyone else. */
export const who = (pair: Pair, instanceId: string) => {
  const role = roleOf(pair, instanceId);
  return role ? `${role} ${instanceId}` : instanceId;
};

/**
 * The pair's application status on an instance: with a named check (applicationCheckId), that check's
 * own result (`not-associated` when EC2 reports none for it); without one, the instance-level aggregate
 * (ok | impaired | …) for a pair with `applicationCheck`; undefined for a pair without an application check.
 */
export function ownApplication(
  pair: Pair,
  instance: InstanceView,
): { readonly status: string; readonly detail: string } | undefined {
  const id = pair.applicationCheckId;
  if (id !== undefined) {
    const unreadable = instance.application?.unreadable;
    if (unreadable !== undefined)
      return { status: 'unknown', detail: `application check ${id} could not be read (${unreadable})` };
    const check = instance.application?.checks[id];
    if (!check)
      return {
        status: 'not-associated',
        detail: `application check ${id} has no result for it (not associated?)`,
      };
    return {
      status: check.status,
      detail: `application check ${id} ${check.status}${check.reason ? ` (${check.reason})` : ''}`,
    };
  }
  return pair.applicationCheck
    ? { status: instance.applicationStatus, detail: `application ${instance.applicationStatus}` }
    : undefined;
}

/** An instance's health as a person reads it. */
export function health(pair: Pair, instance: InstanceView | undefined): string {
  if (!instance) return 'not found';
  const own = ownApplication(pair, instance);
  const suppressed = instance.application?.suppressed ? ' (suppressed)' : '';
  const app = own ? `, ${own.detail}${suppressed}` : '';
  return `${instance.state}, status ${instance.instanceStatus}/${instance.systemStatus}/EBS ${instance.ebsStatus}${app}, ${instance.availabilityZone}`;
}

/** The ENI is attached (or attaching) to this instance; detaching or detached count as no one. */
export function holderOf(eni: EniView): string | null {
  const a = eni.attachment;
  if (!a?.instanceId) return null;
  return a.status === 'attached' || a.status === 'attaching' ? a.instanceId : null;
}
