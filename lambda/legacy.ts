// PURE: what an earlier version (0.1) kept in the ENI's tags, read once to carry it into the pair's item
// (docs/contract.md, "Pair state"; docs/deploying.md, "Upgrading"). Nothing here is written any more.
import type { PairRecord, RecordChange } from './state.ts';

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
 * The record the earlier version's tags describe, merged into `record` (what this version wrote already wins where
 * both say one thing; moves are a union, the newer forced detach and last move win), or undefined when the ENI
 * carries none of them. Merging, not overwriting, makes it safe to carry again: a mixed fleet mid-deploy, where an
 * earlier version's invocation writes its tags after the first carry, loses nothing. Intents are not carried.
 */
export function legacyRecord(record: PairRecord, tags: Tags, now: number): RecordChange | undefined {
  if (legacyKeys(tags, now).length === 0) return undefined;
  const moves = (tags[OLD.automaticMoves] ?? '')
    .split(' ')
    .map((iso) => ms(iso))
    .filter((t): t is number => t !== undefined && now - t < 3_600_000);
  const forcedAt = ms(tags[OLD.forcedAt]);
  const forcedFrom = tags[OLD.forcedFrom];
  const until = ms(tags[OLD.maintenanceUntil]);
  const movedAt = ms(tags[OLD.movedAt]);
  const to = tags[OLD.to];
  const from = tags[OLD.from];
  const newer = <T extends { at: number }>(a: T | undefined, b: T | undefined) =>
    a === undefined ? b : b === undefined || a.at >= b.at ? a : b;
  const window =
    until !== undefined && until > now
      ? { until, by: tags[OLD.maintenanceBy] ?? 'set by an earlier version' }
      : undefined;
  const move =
    movedAt !== undefined && to
      ? {
          at: movedAt,
          from: from && from !== 'none' ? from : null,
          to,
          reason: tags[OLD.reason] ?? '',
          // The earlier version counted automatic moves only; the last one is automatic when it is among them.
          automatic: moves.includes(movedAt),
          probe: false,
        }
      : undefined;
  return {
    automaticMoves: [...new Set([...record.automaticMoves, ...moves])].sort((a, b) => a - b).slice(-20),
    flappingPaged: record.flappingPaged ?? tags[OLD.flappingPaged],
    notices: {
      ...(tags[OLD.noticePrimary] ? { primary: tags[OLD.noticePrimary] } : {}),
      ...(tags[OLD.noticeStandby] ? { standby: tags[OLD.noticeStandby] } : {}),
      ...record.notices,
    },
    forcedDetach: newer(
      record.forcedDetach,
      forcedFrom && forcedAt !== undefined ? { instanceId: forcedFrom, at: forcedAt } : undefined,
    ),
    maintenance: record.maintenance ?? window,
    lastMove: newer(record.lastMove, move),
    migrated: true,
  };
}

/**
 * The earlier version's keys on the ENI to delete once carried into the item: its records, and intents that have
 * expired (they would take the owner's tag budget for ever; a live one is honoured until it expires).
 */
export function legacyKeys(tags: Tags, now: number): string[] {
  const keys = Object.values(OLD).filter((k) => k !== OLD.intent) as string[];
  const live = new Set(legacyIntents(tags, now).map((i) => `${OLD.intent}${i.id}`));
  return Object.keys(tags).filter((k) => keys.includes(k) || (k.startsWith(OLD.intent) && !live.has(k)));
}
