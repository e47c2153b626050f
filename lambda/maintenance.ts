// A pair's maintenance window: what it is, as its state and its holder's application status show it (pure), and
// how a request sets one. The window is kept in the pair's record (lambda/state.ts), so that every invocation in
// every Lambda container sees the same one, and it outlives the invocation that set it.
import type { Pair } from './config.ts';
import { bounded, type Clock } from './retry.ts';
import type { PairRecord, RecordChange, StatePort } from './state.ts';
import { holderOf, type Observation, recordOf, who } from './view.ts';

/** Who set a window and why, kept short enough to read in a page. */
const WHY_MAX = 256;

export interface Maintenance {
  /** When it ends (ISO); null: until someone ends it (suppression without a duration). */
  readonly until: string | null;
  /** Who set it and why, or what EC2 shows. */
  readonly why: string;
  readonly source: 'window' | 'suppressed';
}

/**
 * The pair's maintenance at `now`: the window on its ENI, else its holder's suppressed application status
 * reporting (for a pair that names its check, whose members' suppression the observation carries).
 */
export function maintenanceOf(pair: Pair, obs: Observation, now: number): Maintenance | undefined {
  if (!obs.eni) return undefined;
  const holder = holderOf(obs.eni);
  return (
    windowOf(recordOf(obs), now) ??
    (holder === null
      ? undefined
      : suppressedMaintenance(who(pair, holder), obs.instances[holder]?.application?.suppressed, now))
  );
}

/** The operator's window the record holds, if it holds at `now`; an expired one is none. */
export function windowOf(record: PairRecord, now: number): Maintenance | undefined {
  const m = record.maintenance;
  if (!m || m.until <= now) return undefined;
  return { until: new Date(m.until).toISOString(), why: m.by, source: 'window' };
}

/**
 * The holder's application status reporting is suppressed (EnableApplicationStatusCheckSuppression, as deploy
 * tooling does around a deploy): its application health means nothing until EC2 resumes it, so moves for its
 * application check alone are paused until then (plan.ts applicationSuppressed); its other checks keep running,
 * and a holder that fails them is still moved off. `resumeAt` is EC2's ResumeAt (undefined: until someone resumes it).
 */
export function suppressedMaintenance(
  holder: string,
  suppressed: { readonly resumeAt: string | undefined } | undefined,
  now: number,
): Maintenance | undefined {
  if (!suppressed) return undefined;
  const resumeAt = suppressed.resumeAt;
  if (resumeAt !== undefined && Date.parse(resumeAt) <= now) return undefined;
  return {
    until: resumeAt ?? null,
    why: `the application status reporting of the holder, ${holder}, is suppressed (EnableApplicationStatusCheckSuppression)`,
    source: 'suppressed',
  };
}

/** The change that opens a window of `minutes` from `now`, or ends it (0 minutes). */
export function maintenanceChange(minutes: number, reason: string | undefined, now: number): RecordChange {
  if (minutes <= 0) return { maintenance: null, downPaged: null };
  const by = `${reason ?? 'manual maintenance request'} (set ${new Date(now).toISOString()})`;
  // A new window's DOWN page is its own: the one an earlier window paged does not silence it.
  return { maintenance: { until: now + minutes * 60_000, by: by.slice(0, WHY_MAX) }, downPaged: null };
}

/** A window as a person reads it, in a result's reasons and the fleet table. */
export function describeMaintenance(m: Maintenance, now: number): string {
  const left =
    m.until === null
      ? 'until it is resumed'
      : `until ${m.until.replace(/\.\d+Z$/, 'Z')} (${Math.max(1, Math.ceil((Date.parse(m.until) - now) / 60_000))} min left)`;
  return `in maintenance ${left}: ${m.why}`;
}

/**
 * A maintenance request written: the window opened (or ended), by compare-and-swap. A table that does not answer by
 * `until` fails the request, saying so, and nothing is changed (docs/contract.md event 6).
 */
export function setWindow(
  deps: { readonly state: StatePort; readonly clock: Clock },
  pair: string,
  request: { readonly minutes: number; readonly reason?: string },
  until: number,
): Promise<PairRecord | undefined> {
  const { state, clock } = deps;
  const wanted = maintenanceChange(request.minutes, request.reason, clock.now());
  return bounded(clock, until, state, `pair ${pair}'s state (writing its maintenance window)`, () =>
    state.change(pair, () => wanted),
  );
}

/** What a maintenance request changed, as the first reason of its answer (and its page's subject). */
export function describeChange(
  pair: Pair,
  written: PairRecord | undefined,
  still: Maintenance | undefined,
  now: number,
): string {
  const window = written?.maintenance;
  if (window)
    return `maintenance until ${new Date(window.until).toISOString()}: automatic moves of pair ${pair.name} are paused; manual moves still work (${window.by})`;
  return still
    ? `maintenance ended, but moves of pair ${pair.name} for the holder's application check alone stay paused: ${describeMaintenance(still, now)}`
    : `maintenance ended: automatic moves of pair ${pair.name} resume`;
}
