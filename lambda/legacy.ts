// PURE: what an earlier version (0.1) kept in the ENI's tags, read once to carry it into the pair's item
// (docs/contract.md, "Pair state"; README, "Upgrading"). Nothing here is written any more.
import type { RecordChange } from './state';

const OLD = {
  movedAt: 'eni-failover:moved-at',
  from: 'eni-failover:moved-from',
  to: 'eni-failover:moved-to',
  reason: 'eni-failover:move-reason',
  forcedFrom: 'eni-failover:forced-detach-from',
  forcedAt: 'eni-failover:forced-detach-at',
  maintenanceUntil: 'eni-failover:maintenance-until',
  maintenanceBy: 'eni-failover:maintenance-by',
  automaticMoves: 'eni-failover:automatic-moves',
  flappingPaged: 'eni-failover:flapping-paged',
  noticePrimary: 'eni-failover:notice-primary',
  noticeStandby: 'eni-failover:notice-standby',
  /** One invocation's intent: `eni-failover:intent:<id>` = `<target> <until ISO> <written-at ISO>`. */
  intent: 'eni-failover:intent:',
} as const;

type Tags = Readonly<Record<string, string>>;

const ms = (iso: string | undefined) => {
  const t = Date.parse(iso ?? '');
  return Number.isNaN(t) ? undefined : t;
};

/** An earlier version's live intent: that version's invocation is moving the ENI until `until`. */
export interface LegacyIntent {
  readonly id: string;
  readonly target: string;
  readonly until: number;
}

/** The earlier version's intents on the ENI that have not expired at `now`: honoured until they do. */
export function legacyIntents(tags: Tags, now: number): LegacyIntent[] {
  return Object.entries(tags)
    .filter(([key]) => key.startsWith(OLD.intent))
    .map(([key, value]) => {
      const [target = '', until = ''] = value.split(' ');
      return { id: key.slice(OLD.intent.length), target, until: ms(until) ?? 0 };
    })
    .filter((i) => i.until > now);
}

/**
 * The record the earlier version's tags describe, or undefined when the ENI carries none of them. Intents are
 * not carried (they expire on their own) and are left for their invocations to delete.
 */
export function legacyRecord(tags: Tags, now: number): RecordChange | undefined {
  if (legacyKeys(tags).length === 0) return undefined;
  const moves = (tags[OLD.automaticMoves] ?? '')
    .split(' ')
    .map((iso) => ms(iso))
    .filter((t): t is number => t !== undefined && now - t < 3_600_000)
    .sort((a, b) => a - b);
  const forcedAt = ms(tags[OLD.forcedAt]);
  const forcedFrom = tags[OLD.forcedFrom];
  const until = ms(tags[OLD.maintenanceUntil]);
  const movedAt = ms(tags[OLD.movedAt]);
  const to = tags[OLD.to];
  const from = tags[OLD.from];
  return {
    automaticMoves: moves,
    ...(tags[OLD.flappingPaged] ? { flappingPaged: tags[OLD.flappingPaged] } : {}),
    notices: {
      ...(tags[OLD.noticePrimary] ? { primary: tags[OLD.noticePrimary] } : {}),
      ...(tags[OLD.noticeStandby] ? { standby: tags[OLD.noticeStandby] } : {}),
    },
    ...(forcedFrom && forcedAt !== undefined
      ? { forcedDetach: { instanceId: forcedFrom, at: forcedAt } }
      : {}),
    ...(until !== undefined && until > now
      ? { maintenance: { until, by: tags[OLD.maintenanceBy] ?? 'set by an earlier version' } }
      : {}),
    ...(movedAt !== undefined && to
      ? {
          lastMove: {
            at: movedAt,
            from: from && from !== 'none' ? from : null,
            to,
            reason: tags[OLD.reason] ?? '',
            // The earlier version counted automatic moves only; the last one is automatic when it is among them.
            automatic: moves.includes(movedAt),
            probe: false,
          },
        }
      : {}),
    migrated: true,
  };
}

/** The earlier version's record keys on the ENI (intents excepted): deleted once carried into the item. */
export function legacyKeys(tags: Tags): string[] {
  const keys = Object.values(OLD).filter((k) => k !== OLD.intent) as string[];
  return Object.keys(tags).filter((k) => keys.includes(k));
}
