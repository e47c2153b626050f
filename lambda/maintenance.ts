// PURE: a pair's maintenance window, as its ENI's tags and its holder's application status show it.
// The window is recorded on the ENI (TAG.maintenanceUntil, TAG.maintenanceBy), so that every
// invocation in every Lambda container sees the same one, and it outlives the invocation that set it.
import type { Pair } from './config';
import { holderOf, type Observation, TAG, who } from './view';

/** EC2 allows tag values of up to 256 characters (EC2 User Guide, "Tag restrictions"). */
const TAG_VALUE_MAX = 256;

export interface Maintenance {
  /** When it ends (ISO); null: until someone ends it (suppression without a duration). */
  readonly until: string | null;
  /** Who set it and why, or what EC2 shows. */
  readonly why: string;
  readonly source: 'tag' | 'suppressed';
}

/**
 * The pair's maintenance at `now`: the window on its ENI, else its holder's suppressed application status
 * reporting (for a pair that names its check, whose members' suppression the observation carries).
 */
export function maintenanceOf(pair: Pair, obs: Observation, now: number): Maintenance | undefined {
  if (!obs.eni) return undefined;
  const holder = holderOf(obs.eni);
  return (
    taggedMaintenance(obs.eni.tags, now) ??
    (holder === null
      ? undefined
      : suppressedMaintenance(who(pair, holder), obs.instances[holder]?.application?.suppressed, now))
  );
}

/** The ENI's tag keys of a window, for ending one (DeleteTags). */
export const MAINTENANCE_TAG_KEYS = [TAG.maintenanceUntil, TAG.maintenanceBy] as const;

/** The window the ENI's tags record, if it holds at `now`; an expired or unreadable one is none. */
export function taggedMaintenance(
  tags: Readonly<Record<string, string>>,
  now: number,
): Maintenance | undefined {
  const until = tags[TAG.maintenanceUntil];
  const at = Date.parse(until ?? '');
  if (until === undefined || Number.isNaN(at) || at <= now) return undefined;
  return { until, why: tags[TAG.maintenanceBy] ?? 'no reason given', source: 'tag' };
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

/** The tags that open a window of `minutes` from `now`. */
export function maintenanceTags(
  minutes: number,
  reason: string | undefined,
  now: number,
): Record<string, string> {
  const by = `${reason ?? 'manual maintenance request'} (set ${new Date(now).toISOString()})`;
  return {
    [TAG.maintenanceUntil]: new Date(now + minutes * 60_000).toISOString(),
    [TAG.maintenanceBy]: by.slice(0, TAG_VALUE_MAX),
  };
}

/** A window as a person reads it, in a result's reasons and the fleet table. */
export function describeMaintenance(m: Maintenance, now: number): string {
  const left =
    m.until === null
      ? 'until it is resumed'
      : `until ${m.until.replace(/\.\d+Z$/, 'Z')} (${Math.max(1, Math.ceil((Date.parse(m.until) - now) / 60_000))} min left)`;
  return `in maintenance ${left}: ${m.why}`;
}
