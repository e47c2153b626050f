// The paging policy, in one place: which results reach the on-call phone (the notification topic), which are
// paged once, and which page nobody.
import type { Logger } from '@aws-lambda-powertools/logger';
import type { Trigger } from './events.ts';
import type { Once } from './plan.ts';
import type { Outcome } from './result.ts';
import { bounded, type Clock } from './retry.ts';
import { type PairRecord, type RecordChange, STATE_BOUND_MS, type StatePort } from './state.ts';

/**
 * What is paged when the decision has no word of its own. A schedule must not page anyone every minute: rounds and
 * fleet-wide looks page only what moved or failed; alarms, state changes and manual requests page every outcome.
 * Probe evidence that moves nothing (old news, not the holder, a repeat of the prober's) is logged, not paged; its
 * refusals page, as every automatic one does.
 */
export function pagedByDefault(trigger: Trigger, fleetWide: boolean, outcome: Outcome): boolean {
  if ((trigger.kind === 'reconcile' || fleetWide) && outcome !== 'moved' && outcome !== 'failed')
    return false;
  return !(trigger.kind === 'probe' && outcome === 'unchanged');
}

/** The decision's word wins (true: page; false: page nobody); else the default. */
export const paged = (decision: boolean | undefined, byDefault: boolean) => decision ?? byDefault;

/** The change that marks `once` paged in the pair's record, or undefined when it is marked already. */
function mark(once: Once, record: PairRecord): RecordChange | undefined {
  switch (once.key) {
    case 'primary':
    case 'standby':
      return record.notices[once.key] === once.mark
        ? undefined
        : { notices: { ...record.notices, [once.key]: once.mark } };
    case 'flapping':
      return record.flappingPaged === once.mark ? undefined : { flappingPaged: once.mark };
    case 'probe-refusal':
      return record.probeRefusalPaged === once.mark ? undefined : { probeRefusalPaged: once.mark };
    case 'down':
      return record.downPaged === once.mark ? undefined : { downPaged: once.mark };
  }
}

/**
 * A page made once (a "redundancy ends" notice, a flapping episode, DOWN in maintenance): the mark is written by
 * compare-and-swap first, and only the invocation whose write changed it pages; one that finds it written (another
 * container, a retry, the next round) pages nobody. A table that cannot be written pages (twice beats never).
 */
export async function pageOnce(
  deps: { readonly state: StatePort; readonly clock: Clock; readonly logger: Logger },
  pair: string,
  once: Once,
): Promise<boolean> {
  const { state, clock, logger } = deps;
  try {
    const written = await bounded(clock, clock.now() + STATE_BOUND_MS, state, `pair ${pair}'s state`, () =>
      state.change(pair, (record) => mark(once, record)),
    );
    return written !== undefined;
  } catch (error) {
    logger.warn('could not record the page in the state; the next look pages it again', { error });
    return true;
  }
}
