import type { Result } from '../lambda/result';

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
    }
  })();
  const lines = [`${r.pair ? `[${r.pair}] ` : ''}${head}`];
  for (const s of r.steps) lines.push(`    ${s.name.padEnd(22)}${String(s.ms).padStart(7)} ms`);
  const mark = r.outcome === 'refused' || r.outcome === 'failed' ? 'x' : '-';
  for (const reason of r.reasons) lines.push(`  ${mark} ${reason}`);
  return lines.join('\n');
}
