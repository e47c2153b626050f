import { type Pair, roleOf } from '../lambda/config.ts';
import type { PairState, Result } from '../lambda/result.ts';

/** Instance IDs -> a role a person recognises, e.g. "i-0abc (standby)". */
export type Names = Readonly<Record<string, string>>;

const label = (id: string | null, names: Names) =>
  id === null ? 'no one' : names[id] ? `${id} (${names[id]})` : id;

/** A result as the timeline an operator reads: the outcome, each step with its duration, and why. */
export function formatResult(r: Result, names: Names = {}): string {
  const total = r.steps.reduce((sum, s) => sum + s.ms, 0);
  const head = (() => {
    switch (r.outcome) {
      case 'moved':
        return `MOVED      ${r.networkInterfaceId}: ${label(r.from, names)} -> ${label(r.to, names)} at device index ${r.deviceIndex}, in ${(total / 1000).toFixed(1)} s`;
      case 'dry-run':
        return `DRY RUN    would move ${r.networkInterfaceId}: ${label(r.from, names)} -> ${label(r.to, names)}; nothing changed`;
      case 'refused':
        return `REFUSED    ${r.networkInterfaceId} stays with ${label(r.from, names)}; nothing changed`;
      case 'unchanged':
        return `UNCHANGED  ${r.networkInterfaceId} stays with ${label(r.from, names)}`;
      case 'status':
        return `STATUS     ${r.networkInterfaceId} is held by ${label(r.from, names)}`;
      case 'failed':
        return `FAILED     part-way through moving ${r.networkInterfaceId}`;
      case 'ignored':
        return 'IGNORED    the event could not move anything';
      case 'ready':
        return `READY      ${r.networkInterfaceId}: every call of a move allowed (DryRun), every check passed; nothing changed`;
      case 'not-ready':
        return `NOT READY  ${r.networkInterfaceId}: a move would fail; nothing changed`;
    }
  })();
  const lines = [`${r.pair ? `[${r.pair}] ` : ''}${head}`];
  for (const s of r.steps) lines.push(`    ${s.name.padEnd(22)}${String(s.ms).padStart(7)} ms`);
  const mark = r.outcome === 'refused' || r.outcome === 'failed' || r.outcome === 'not-ready' ? 'x' : '-';
  for (const reason of r.reasons) lines.push(`  ${mark} ${reason}`);
  return lines.join('\n');
}

/** Seconds, minutes, hours or days since `at`, as a person says it. */
function ago(at: string, now: number): string {
  const seconds = Math.round((now - Date.parse(at)) / 1000);
  if (Number.isNaN(seconds)) return '';
  if (seconds < 90) return ` (${Math.max(0, seconds)} s ago)`;
  if (seconds < 90 * 60) return ` (${Math.round(seconds / 60)} min ago)`;
  if (seconds < 48 * 3600) return ` (${Math.round(seconds / 3600)} h ago)`;
  return ` (${Math.round(seconds / 86_400)} d ago)`;
}

/** Columns padded to their widest cell; the last one is not padded. */
function table(rows: string[][]): string {
  const widths = rows[0]?.map((_, i) => Math.max(...rows.map((r) => r[i]?.length ?? 0))) ?? [];
  return rows
    .map((r) => r.map((cell, i) => (i === r.length - 1 ? cell : cell.padEnd(widths[i] ?? 0))).join('  '))
    .join('\n');
}

/**
 * Pairs whose address is not protected now. Down: the ENI is attached to no one, or its holder has
 * failed. Without a standby: the holder serves, but the other member could not take the ENI now.
 * Paused: the holder serves, but the pair is in maintenance, so nothing would move it automatically.
 */
export function unprotected(results: readonly Result[]): {
  down: string[];
  notRedundant: string[];
  paused: string[];
} {
  const down: string[] = [];
  const notRedundant: string[] = [];
  const paused: string[] = [];
  for (const r of results) {
    const s = r.state;
    if (!s) continue;
    if (!s.serving) down.push(r.pair ?? '?');
    else if (!s.redundant) notRedundant.push(r.pair ?? '?');
    else if (s.maintenance) paused.push(r.pair ?? '?');
  }
  return { down, notRedundant, paused };
}

/** A maintenance window in a table cell: when it ends and how long is left, or '-'. */
function window(m: NonNullable<PairState['maintenance']> | undefined | null, now: number): string {
  if (!m) return '-';
  if (m.until === null) return 'until resumed';
  const left = Math.max(1, Math.ceil((Date.parse(m.until) - now) / 60_000));
  return `until ${m.until.replace(/\.\d+Z$/, 'Z')} (${left} min left)`;
}

/** When, from now, as a person says it: "in 3 d", "in 14 min", "now". */
function until(at: string, now: number): string {
  const seconds = Math.round((Date.parse(at) - now) / 1000);
  if (Number.isNaN(seconds)) return '';
  if (seconds <= 0) return 'now';
  if (seconds < 90) return `in ${seconds} s`;
  if (seconds < 90 * 60) return `in ${Math.round(seconds / 60)} min`;
  if (seconds < 48 * 3600) return `in ${Math.round(seconds / 3600)} h`;
  return `in ${Math.round(seconds / 86_400)} d`;
}

const short = (iso: string | null) => (iso === null ? '?' : iso.replace(/\.\d+Z$/, 'Z'));

/**
 * Under the table, one line per scheduled event of a member (DescribeInstanceStatus Events), and when the
 * planned move off the holder will happen: "web  primary  instance-retirement 2026-11-25T03:00:00Z to …".
 */
function plannedLines(results: readonly Result[], now: number): string[] {
  const rows: string[][] = [];
  for (const r of results) {
    const s = r.state;
    if (!s) continue;
    for (const role of ['primary', 'standby'] as const) {
      const holds = s.holder === role;
      // The planned move is for the holder's earliest event that takes it away.
      const first = s.events[role]
        .filter((e) => e.takesItAway && e.notBefore)
        .sort((a, b) => Date.parse(a.notBefore ?? '') - Date.parse(b.notBefore ?? ''))[0];
      for (const e of s.events[role]) {
        const window = `${short(e.notBefore)}${e.notAfter ? ` to ${short(e.notAfter)}` : ''}`;
        const when = e.notBefore ? ` (${until(e.notBefore, now)})` : '';
        const move = !e.takesItAway
          ? '; it keeps running'
          : holds && e === first && s.plannedMove
            ? `; the ENI moves off it at ${short(s.plannedMove)} (${until(s.plannedMove, now)})`
            : !holds && s.holder !== null
              ? '; redundancy ends then'
              : '';
        rows.push([r.pair ?? '?', role, `${e.code} ${window}${when}${move}`]);
      }
    }
  }
  return rows.length === 0 ? [] : ['', 'PLANNED EVENTS', table(rows)];
}

/**
 * Status results of a whole fleet as one table: who holds each pair's ENI, each member's health,
 * whether the other member could take the ENI now, the automatic moves of the last hour against the
 * flap limit, what damps a move now (cool-down, flapping) or a move under way (a live intent), the
 * maintenance window (automatic moves paused), and the last move. `pairs` (the functions'
 * configuration) names the members of a last move by role; an instance it does not know shows as its ID.
 */
export function formatFleet(results: readonly Result[], pairs: readonly Pair[], now = Date.now()): string {
  const rows = [
    [
      'PAIR',
      'HOLDER',
      'PRIMARY',
      'STANDBY',
      'REDUNDANT',
      'AUTO MOVES/H',
      'DAMPING',
      'MAINTENANCE',
      'LAST MOVE',
    ],
  ];
  for (const r of results) {
    const s = r.state;
    if (!s) continue;
    const pair = pairs.find((p) => p.name === r.pair);
    const role = (id: string) => (id === 'none' ? 'no one' : ((pair && roleOf(pair, id)) ?? id));
    const last = s.lastMove
      ? `${s.lastMove.at.replace(/\.\d+Z$/, 'Z')}${ago(s.lastMove.at, now)} ${role(s.lastMove.from)} -> ${role(s.lastMove.to)}`
      : 'never';
    rows.push([
      r.pair ?? '?',
      s.holder === null ? 'NO ONE' : s.serving ? s.holder : `${s.holder} (FAILED)`,
      s.primary,
      s.standby,
      s.redundant ? 'yes' : 'NO',
      // A function deployed before the flap limit does not report these.
      s.automaticMoves ? `${s.automaticMoves.lastHour}/${s.automaticMoves.limit}` : '?',
      s.lease
        ? `MOVING to ${role(s.lease.to)} (until ${s.lease.until.replace(/\.\d+Z$/, 'Z')})`
        : (s.damping?.replace(/\.\d+Z$/, 'Z') ?? '-'),
      window(s.maintenance, now),
      last,
    ]);
  }
  const lines = [table(rows), ...plannedLines(results, now)];
  const { down, notRedundant, paused } = unprotected(results);
  const count = rows.length - 1;
  lines.push(
    '',
    `${count} pair${count === 1 ? '' : 's'}: ${count - down.length - notRedundant.length - paused.length} protected` +
      (down.length > 0 ? `; DOWN (attached to no one, or its holder failed): ${down.join(', ')}` : '') +
      (notRedundant.length > 0 ? `; no member could take over now: ${notRedundant.join(', ')}` : '') +
      (paused.length > 0 ? `; in maintenance (automatic moves paused): ${paused.join(', ')}` : ''),
  );
  return lines.join('\n');
}
