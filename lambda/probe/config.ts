// The prober's configuration: the one place it is read. The construct writes PROBE_TARGETS_FILE, a file in the
// prober's code (as the failover functions' pairs, lambda/config.ts readCodeFile): for each failover function, its
// name and its probed pairs (in full, so that the same parsePairs validates them). PROBE_TARGETS (inline JSON) is
// for tests and hand-made deployments.
import { ConfigError, type Pair, parsePairs, readCodeFile } from '../config.ts';

export const PROBE_ENV = {
  targets: 'PROBE_TARGETS',
  targetsFile: 'PROBE_TARGETS_FILE',
  /** How long one invocation probes, ms; the schedule starts the next one every minute. */
  runMs: 'PROBE_RUN_MS',
} as const;

/** One failover function and the pairs of it that the prober probes. */
export interface ProbeTarget {
  readonly functionName: string;
  readonly pairs: readonly Pair[];
}

export interface ProbeConfig {
  readonly targets: readonly ProbeTarget[];
  readonly runMs: number;
}

/**
 * 75 s: the schedule fires every minute, EventBridge may deliver a scheduled event some seconds late,
 * and a new invocation needs a second or two (its status call) before its first probe; the 15 s of
 * overlap cover both, so there is no gap in which nobody probes.
 */
export const DEFAULT_RUN_MS = 75_000;

/** Reads and validates the prober's environment; throws one ConfigError naming every problem. */
export function loadProbeConfig(
  env: Readonly<Record<string, string | undefined>> = process.env,
): ProbeConfig {
  const problems: string[] = [];
  const targets: ProbeTarget[] = [];
  const raw = env[PROBE_ENV.targets];
  const file = env[PROBE_ENV.targetsFile]?.trim() || undefined;
  let parsed: unknown;
  if (raw !== undefined && file !== undefined)
    problems.push(`${PROBE_ENV.targets} and ${PROBE_ENV.targetsFile} are both set: set one`);
  else if (file !== undefined) parsed = readCodeFile(env, file, PROBE_ENV.targetsFile, problems);
  else
    try {
      parsed = JSON.parse(raw ?? '');
    } catch {
      problems.push(
        `${PROBE_ENV.targets} must be a JSON array of {"functionName", "pairs"} (or ${PROBE_ENV.targetsFile} a file of them), got ${JSON.stringify(raw)}`,
      );
    }
  if (parsed !== undefined && (!Array.isArray(parsed) || parsed.length === 0))
    problems.push(`${file ?? PROBE_ENV.targets} must be a non-empty JSON array of {"functionName", "pairs"}`);
  if (Array.isArray(parsed)) {
    parsed.forEach((entry: { functionName?: unknown; pairs?: unknown }, i) => {
      const at = `${file ?? PROBE_ENV.targets}[${i}]`;
      if (typeof entry?.functionName !== 'string' || entry.functionName === '')
        problems.push(`${at}.functionName must name the failover function`);
      try {
        const pairs = parsePairs(entry?.pairs, `${at}.pairs`);
        for (const p of pairs) if (!p.probe) problems.push(`${at}.pairs: pair ${p.name} has no probe option`);
        targets.push({ functionName: String(entry.functionName), pairs });
      } catch (error) {
        if (error instanceof ConfigError) problems.push(...error.problems);
        else throw error;
      }
    });
  }
  const runMs = Number(env[PROBE_ENV.runMs] ?? DEFAULT_RUN_MS);
  if (!Number.isInteger(runMs) || runMs < 1_000)
    problems.push(
      `${PROBE_ENV.runMs} must be a whole number of milliseconds, 1000 or more, got ${env[PROBE_ENV.runMs]}`,
    );
  if (problems.length > 0) throw new ConfigError(problems);
  return { targets, runMs };
}
