// What the function sees of a pair: the ENI and its members as EC2 shows them, and the tags the
// function writes on the ENI. Data and how a person reads it; no decisions (lambda/plan.ts).
import { type Pair, type Role, roleOf } from './config';

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
}

/** Tags the function writes on the ENI: the last move (the cool-down reads movedAt back), a forced detach. */
export const TAG = {
  movedAt: 'eni-failover:moved-at',
  from: 'eni-failover:moved-from',
  to: 'eni-failover:moved-to',
  reason: 'eni-failover:move-reason',
  /** The last instance the ENI was force-detached from, and when: see targetProblems, target-forced-detach. */
  forcedFrom: 'eni-failover:forced-detach-from',
  forcedAt: 'eni-failover:forced-detach-at',
  /** A maintenance window (lambda/maintenance.ts): until when (ISO), and who set it and why. */
  maintenanceUntil: 'eni-failover:maintenance-until',
  maintenanceBy: 'eni-failover:maintenance-by',
  /**
   * The times of the pair's automatic moves in the last hour, oldest first (ISO, space-separated): the
   * cool-down and the flap limit count them. Manual moves and adopting a stranded ENI are not in it.
   */
  automaticMoves: 'eni-failover:automatic-moves',
  /** The newest automatic move a `flapping` refusal was paged for: one page a flapping episode. */
  flappingPaged: 'eni-failover:flapping-paged',
  /** One invocation's intent to move the ENI: `eni-failover:intent:<id>` = `<target> <until ISO> <written-at ISO>`. */
  intent: 'eni-failover:intent:',
  /**
   * The last "redundancy ends" notice paged about each member (a Spot warning, a scheduled event): the
   * same notice is paged once, whichever invocation, container or round sees it again.
   */
  noticePrimary: 'eni-failover:notice-primary',
  noticeStandby: 'eni-failover:notice-standby',
} as const;

export const noticeTag = (role: Role) => (role === 'primary' ? TAG.noticePrimary : TAG.noticeStandby);

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

/** An intent to move the ENI, recorded on it by the invocation that moves it (TAG.intent). */
export interface Intent {
  /** The tag key, to delete it with. */
  readonly key: string;
  /** The invocation that moves the ENI. */
  readonly id: string;
  /** Where it moves it. */
  readonly target: string;
  /** Epoch ms after which it is ignored: the invocation has stopped calling EC2 by then. */
  readonly until: number;
  /** Epoch ms when it was written: the earliest live intent wins. */
  readonly writtenAt: number;
}

/** Every intent recorded on the ENI; one that cannot be read counts as expired (until 0). */
export function intentsOf(tags: Readonly<Record<string, string>>): Intent[] {
  return Object.entries(tags)
    .filter(([key]) => key.startsWith(TAG.intent))
    .map(([key, value]) => {
      const [target = '', until = '', writtenAt = ''] = value.split(' ');
      const ms = (iso: string) => (Number.isNaN(Date.parse(iso)) ? 0 : Date.parse(iso));
      return { key, id: key.slice(TAG.intent.length), target, until: ms(until), writtenAt: ms(writtenAt) };
    });
}

/** The tag that records an intent. */
export function intentTag(intent: Omit<Intent, 'key'>): Record<string, string> {
  const iso = (ms: number) => new Date(ms).toISOString();
  return {
    [`${TAG.intent}${intent.id}`]: `${intent.target} ${iso(intent.until)} ${iso(intent.writtenAt)}`,
  };
}

/** Who goes first when two intents are live: the earlier written, then the smaller ID. */
export const precedes = (a: Intent, b: Intent) =>
  a.writtenAt < b.writtenAt || (a.writtenAt === b.writtenAt && a.id < b.id);

const HOUR_MS = 3_600_000;

/** The automatic moves of the last hour (epoch ms, oldest first), from TAG.automaticMoves. */
export function automaticMovesOf(tags: Readonly<Record<string, string>>, now: number): number[] {
  return (tags[TAG.automaticMoves] ?? '')
    .split(' ')
    .map((iso) => Date.parse(iso))
    .filter((t) => !Number.isNaN(t) && now - t < HOUR_MS)
    .sort((a, b) => a - b);
}

/**
 * TAG.automaticMoves after one more automatic move at `at`. At most the last 10 times are kept: a
 * tag value holds 256 characters (EC2 User Guide, "Tag restrictions"), and the flap limit is 10 at most.
 */
export function withAutomaticMove(tags: Readonly<Record<string, string>>, at: number): string {
  return [...automaticMovesOf(tags, at), at]
    .slice(-10)
    .map((t) => new Date(t).toISOString())
    .join(' ');
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
