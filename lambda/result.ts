import type { Pair } from './config';

export type Outcome = 'moved' | 'unchanged' | 'refused' | 'dry-run' | 'ignored' | 'status' | 'failed';

export interface Step {
  readonly name: string;
  readonly ms: number;
}

/** A pair at a glance, for `status` results: what the drill CLI's fleet table shows. */
export interface PairState {
  /** The member that holds the ENI, or null. */
  readonly holder: 'primary' | 'standby' | null;
  /** Each member's health as a person reads it. */
  readonly primary: string;
  readonly standby: string;
  readonly attached: boolean;
  /** A member holds the ENI and has not failed: the address answers. */
  readonly serving: boolean;
  /** The member that does not hold the ENI could take it now. */
  readonly redundant: boolean;
  /** From the ENI's move tags. */
  readonly lastMove: { readonly at: string; readonly from: string; readonly to: string } | null;
  /** The pair's instances by role: what the drill CLI names a move's members by (the pairs are not in the environment). */
  readonly members: { readonly primary: string; readonly standby: string };
}

/** The one answer per event (CONTRACT.md "What it answers"); `failed` is published, then thrown. */
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
}

export function result(
  outcome: Outcome,
  pair: Pair | undefined,
  fields: { from?: string | null; to?: string | null; reasons: string[]; steps?: Step[]; state?: PairState },
): Result {
  return {
    ...(fields.state ? { state: fields.state } : {}),
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
      case 'moved':
        return r.reasons.some((x) => x.startsWith('os-check: FAILED'))
          ? `MOVED to ${r.to} in ${seconds}, but its OS has NOT brought the address up`
          : `MOVED to ${r.to} in ${seconds}`;
      case 'failed':
        return `FAILED mid-failover: ${r.reasons[0] ?? 'see message'}`;
      case 'refused':
        return `REFUSED: ${checks.length > 0 ? checks.join(', ') : (r.reasons[0] ?? 'see message')}`;
      case 'dry-run':
        return `dry run OK: would move to ${r.to}`;
      case 'unchanged':
        return `unchanged, held by ${r.from ?? 'no one'}`;
      case 'status':
        return `status: held by ${r.from ?? 'no one'}`;
      case 'ignored':
        return `ignored: ${r.reasons[0] ?? 'unrecognised event'}`;
    }
  })();
  const subject = `eni-failover ${r.pair ?? ''}: ${text}`.replace(/\s+/g, ' ').replace(/[^\x20-\x7e]/g, '?');
  return subject.length <= SUBJECT_MAX ? subject : `${subject.slice(0, SUBJECT_MAX - 3)}...`;
}
