import type { Pair } from './config.ts';

export type Outcome =
  | 'moved'
  | 'unchanged'
  | 'refused'
  | 'dry-run'
  | 'ignored'
  | 'status'
  | 'failed'
  /** A rehearsal's (docs/contract.md event 9): every call allowed, every check passed. */
  | 'ready'
  | 'not-ready';

/** What a rehearsal found for one pair (outcome `ready` or `not-ready`); its reasons list both. */
export interface Rehearsal {
  /** The calls EC2 (or DynamoDB) refused: `permission: ec2:DetachNetworkInterface on eni-…: UnauthorizedOperation`. */
  readonly refusedCalls: readonly string[];
  /** The move's checks that failed, in either direction: `target-az: …`. */
  readonly failedChecks: readonly string[];
  /**
   * Whether the deploy-time rehearsal lets the deploy go on: no refused call, and no failed check unless the
   * pair sets `deployUnready`.
   */
  readonly deployable: boolean;
}

export interface Step {
  readonly name: string;
  readonly ms: number;
}

/** A scheduled event, as status reports it (times ISO; null where EC2 gave none). */
export interface PlannedEvent {
  /** instance-stop | instance-retirement | instance-reboot | system-reboot | system-maintenance */
  readonly code: string;
  readonly notBefore: string | null;
  readonly notAfter: string | null;
  readonly description: string;
  /** It stops, retires or reboots the member (system-maintenance does not): a holder is moved off before it. */
  readonly takesItAway: boolean;
}

/** An outage of a pair's service address, as the prober measured it (lambda/probe/store.ts). */
export interface AddressOutage {
  readonly from: string;
  readonly to: string;
  readonly ms: number;
}

/** A pair at a glance, for `status` results: what the drill CLI's fleet table shows. */
export interface PairState {
  /** The member that holds the ENI, or null. */
  readonly holder: 'primary' | 'standby' | null;
  /** Each member's health as a person reads it. */
  readonly primary: string;
  readonly standby: string;
  /**
   * Each member's own primary private IPv4 address (device index 0), and the service address (the ENI's primary
   * private IPv4 address), which the prober probes; null when EC2 did not say. `service` is absent from older answers.
   */
  readonly addresses?: {
    readonly primary: string | null;
    readonly standby: string | null;
    readonly service?: string | null;
  };
  /**
   * The service address's last outage as the prober measured it (issue 23): from its first failed probe to the
   * first passing one, ISO times. Absent when the prober has measured none (or the function does not read it).
   */
  readonly addressOutage?: AddressOutage | null;
  readonly attached: boolean;
  /** A member holds the ENI and has not failed: the address answers. */
  readonly serving: boolean;
  /** The member that does not hold the ENI could take it now. */
  readonly redundant: boolean;
  /** The last move this function made (the pair's state). */
  readonly lastMove: { readonly at: string; readonly from: string; readonly to: string } | null;
  /** The pair's instances by role: what the drill CLI names a move's members by (the pairs are not in the environment). */
  readonly members: { readonly primary: string; readonly standby: string };
  /**
   * Automatic moves are paused: a maintenance window on the ENI, or the holder's application status
   * reporting suppressed. `until` null: until someone ends it. Absent from older functions' answers.
   */
  readonly maintenance?: { readonly until: string | null; readonly why: string } | null;
  /** Each member's scheduled events (DescribeInstanceStatus Events), completed and canceled ones left out. */
  readonly events: { readonly primary: readonly PlannedEvent[]; readonly standby: readonly PlannedEvent[] };
  /**
   * When the holder will be moved off for a scheduled stop, retirement or reboot (ISO: the event's NotBefore
   * less the pair's lead time), or null when none is scheduled.
   */
  readonly plannedMove: string | null;
  /** Automatic moves in the last hour, against the pair's flap limit (maxMovesPerHour). */
  readonly automaticMoves: { readonly lastHour: number; readonly limit: number };
  /**
   * What holds back an automatic move away from a holder that still runs now: `cooldown until <ISO>`,
   * `flapping until <ISO>`, or null. A stopped or terminated holder is left whatever it says.
   */
  readonly damping: string | null;
  /** The pair's live lease: an invocation (`owner`) is moving the ENI to `to` until `until`; null when none. */
  readonly lease: { readonly owner: string; readonly to: string; readonly until: string } | null;
  /** The last forced detach off an instance that still ran: it is no target until stopped and started. */
  readonly forcedDetach?: { readonly from: string; readonly at: string } | null;
  /** Members that recent probe evidence condemns: no target for a planned move. */
  readonly condemned?: readonly string[];
  /** `ok`, or why the pair's state table could not be read. */
  readonly state?: string;
}

/** The one answer per event (docs/contract.md "What it answers"); `failed` is published, then thrown. */
export interface Result {
  readonly outcome: Outcome;
  readonly pair: string | null;
  readonly networkInterfaceId: string | null;
  readonly from: string | null;
  readonly to: string | null;
  readonly deviceIndex: number | null;
  readonly reasons: string[];
  readonly steps: Step[];
  /** `status` results only. */
  readonly state?: PairState;
  /** `ready` and `not-ready` results only. */
  readonly rehearsal?: Rehearsal;
}

export function result(
  outcome: Outcome,
  pair: Pair | undefined,
  fields: {
    from?: string | null;
    to?: string | null;
    reasons: string[];
    steps?: Step[];
    state?: PairState;
    rehearsal?: Rehearsal;
  },
): Result {
  return {
    ...(fields.state ? { state: fields.state } : {}),
    ...(fields.rehearsal ? { rehearsal: fields.rehearsal } : {}),
    outcome,
    pair: pair?.name ?? null,
    networkInterfaceId: pair?.networkInterfaceId ?? null,
    from: fields.from ?? null,
    to: fields.to ?? null,
    deviceIndex: pair?.deviceIndex ?? null,
    reasons: fields.reasons,
    steps: fields.steps ?? [],
  };
}

// SNS: a Subject is ASCII, without line breaks, and under 100 characters.
const SUBJECT_MAX = 99;

/** A subject a person understands on a phone's lock screen. */
export function subjectOf(r: Result): string {
  const total = r.steps.reduce((sum, s) => sum + s.ms, 0);
  const seconds = `${(total / 1000).toFixed(1)} s`;
  const checks = r.reasons.map((reason) => /^([a-z-]+): /.exec(reason)?.[1]).filter((c) => c !== undefined);
  const text = (() => {
    switch (r.outcome) {
      case 'moved': {
        // Every page about a forced move says so: the old holder may refuse that device index until restarted.
        const forced = r.steps.some((s) => s.name.endsWith('force-detach')) ? ' (FORCED)' : '';
        return r.reasons.some((x) => x.startsWith('os-check: FAILED'))
          ? `MOVED${forced} to ${r.to} in ${seconds}; the address is NOT up in its OS`
          : `MOVED${forced} to ${r.to} in ${seconds}`;
      }
      case 'failed':
        return `FAILED mid-failover: ${r.reasons[0] ?? 'see message'}`;
      case 'refused':
        return `REFUSED: ${checks.length > 0 ? checks.join(', ') : (r.reasons[0] ?? 'see message')}`;
      case 'dry-run':
        return `dry run OK: would move to ${r.to}`;
      case 'status': {
        // The answer to a maintenance request says the change (lambda/maintenance.ts reasons).
        const change = r.reasons.find((x) => x.startsWith('maintenance'));
        return change ? change.replace(/: .*$/, '') : `status: held by ${r.from ?? 'no one'}`;
      }
      case 'unchanged': {
        // A member going away (plan.ts warnedAboutOther, otherScheduled): the page is the time.
        const ends = /^redundancy ends at (.+?): /.exec(r.reasons[0] ?? '')?.[1];
        // A holder that failed or is going away during maintenance (plan.ts inMaintenance): a person must act.
        if (r.reasons[0]?.startsWith('DOWN: ')) return `DOWN (in maintenance), held by ${r.from ?? 'no one'}`;
        return ends
          ? `REDUNDANCY ENDS at ${ends}, held by ${r.from ?? 'no one'}`
          : `unchanged, held by ${r.from ?? 'no one'}`;
      }
      case 'ignored':
        return `ignored: ${r.reasons[0] ?? 'unrecognised event'}`;
      case 'ready':
        return 'READY: every call of a move allowed, every check passed';
      case 'not-ready':
        return `NOT READY: ${r.reasons[0] ?? 'see message'}`;
    }
  })();
  const subject = `eni-failover ${r.pair ?? ''}: ${text}`.replace(/\s+/g, ' ').replace(/[^\x20-\x7e]/g, '?');
  return subject.length <= SUBJECT_MAX ? subject : `${subject.slice(0, SUBJECT_MAX - 3)}...`;
}
