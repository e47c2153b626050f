// Issue 17, step 1: the probe evidence rule (lambda/evidence.ts) as a table, its strict parsing
// (lambda/events.ts), the pair option (lambda/config.ts), and the planner's rows for it.
import { describe, expect, it } from 'vitest';
import { type ConfigError, type Pair, parsePairs } from '../../lambda/config.ts';
import { parseEvent, type Trigger } from '../../lambda/events.ts';
import {
  type Evidence,
  evidenceProblems,
  failureKind,
  failureKinds,
  reached,
} from '../../lambda/evidence.ts';
import { plan } from '../../lambda/plan.ts';
import { sample } from '../helpers/events.ts';
import { PAIR, PRIMARY, STANDBY, world } from '../helpers/world.ts';

const PROBED: Pair = { ...PAIR, probe: { protocol: 'http', port: 80 } };
const T0 = Date.UTC(2026, 10, 22, 10, 15);
/** Three failures of the primary at 1 s intervals, the standby passing just after: the rule holds. */
const evidence = (patch: Partial<Evidence> = {}): Evidence => ({
  instanceId: PRIMARY,
  failures: 3,
  firstFailureAt: T0,
  lastFailureAt: T0 + 2000,
  errors: ['ECONNREFUSED', 'ECONNREFUSED', 'timeout after 500 ms'],
  other: { instanceId: STANDBY, passing: true, at: T0 + 2050 },
  ...patch,
});
const NOW = T0 + 2100;
const parts = (problems: string[]) => problems.map((p) => /^([a-z-]+): /.exec(p)?.[1]);

describe('the probe evidence rule: a holder fails by probe only while the other member passes', () => {
  it.each<[string, Pair, Evidence, number, (string | undefined)[]]>([
    ['3 failures over 2 s, standby passing after the first: holds', PROBED, evidence(), NOW, []],
    [
      'the standby failing, the primary passing: holds the other way round',
      PROBED,
      evidence({ instanceId: STANDBY, other: { instanceId: PRIMARY, passing: true, at: T0 + 2050 } }),
      NOW,
      [],
    ],
    [
      '2 failures where the pair needs 3',
      PROBED,
      evidence({ failures: 2, lastFailureAt: T0 + 1000 }),
      NOW,
      ['probe-failures'],
    ],
    [
      '2 failures where the pair needs 2',
      { ...PAIR, probe: { protocol: 'tcp', port: 5432, failures: 2 } },
      evidence({ failures: 2, lastFailureAt: T0 + 1000 }),
      NOW,
      [],
    ],
    [
      '3 failures within 1.5 s at a 1 s interval: not consecutive probes',
      PROBED,
      evidence({ lastFailureAt: T0 + 1500 }),
      NOW,
      ['probe-window'],
    ],
    [
      'exactly (failures - 1) x interval: holds',
      PROBED,
      evidence({ lastFailureAt: T0 + 2000 }),
      T0 + 2000,
      [],
    ],
    [
      '5 failures must span 4 s',
      PROBED,
      evidence({ failures: 5, lastFailureAt: T0 + 3000 }),
      NOW,
      ['probe-window'],
    ],
    [
      'a 2 s interval: 3 failures must span 4 s',
      { ...PAIR, probe: { protocol: 'http', port: 80, intervalMs: 2000 } },
      evidence(),
      NOW,
      ['probe-window'],
    ],
    ['ended 30 s ago: still counts', PROBED, evidence(), T0 + 2000 + 30_000, []],
    ['ended 30.001 s ago: old news', PROBED, evidence(), T0 + 2000 + 30_001, ['probe-fresh']],
    ['dated 6 s in the future: a clock not to trust', PROBED, evidence(), T0 + 2000 - 6000, ['probe-fresh']],
    [
      'the other member named is an outsider',
      PROBED,
      evidence({ other: { instanceId: 'i-0bbbbbbbbbbbbbbb2', passing: true, at: T0 + 2050 } }),
      NOW,
      ['probe-other'],
    ],
    [
      'the other member named is the failing one itself',
      PROBED,
      evidence({ other: { instanceId: PRIMARY, passing: true, at: T0 + 2050 } }),
      NOW,
      ['probe-other'],
    ],
    [
      "the standby was last seen before the first failure: the prober's path may be the fault",
      PROBED,
      evidence({ other: { instanceId: STANDBY, passing: true, at: T0 - 1 } }),
      NOW,
      ['probe-other'],
    ],
    [
      'the standby seen exactly at the first failure: holds',
      PROBED,
      evidence({ other: { instanceId: STANDBY, passing: true, at: T0 } }),
      NOW,
      [],
    ],
    [
      'the standby fails too: the target check',
      PROBED,
      evidence({ other: { instanceId: STANDBY, passing: false, at: T0 + 2050 } }),
      NOW,
      ['target-probe'],
    ],
    [
      'the failing instance is not a member',
      PROBED,
      evidence({ instanceId: 'i-0bbbbbbbbbbbbbbb2' }),
      NOW,
      ['probe-member', 'probe-other'],
    ],
    [
      "issue 23: the other member's probes across the window all passed: holds",
      PROBED,
      evidence({ other: { instanceId: STANDBY, passing: true, at: T0 + 2000, passes: 3, failures: 0 } }),
      NOW,
      [],
    ],
    [
      'issue 23: the other member passing now but failing one probe of the window: the target check',
      PROBED,
      evidence({ other: { instanceId: STANDBY, passing: true, at: T0 + 2000, passes: 2, failures: 1 } }),
      NOW,
      ['target-probe'],
    ],
    [
      'issue 23: the other member probed fewer times than the failures: not beside each one',
      PROBED,
      evidence({ other: { instanceId: STANDBY, passing: true, at: T0 + 2000, passes: 2, failures: 0 } }),
      NOW,
      ['probe-other'],
    ],
    ['a pair without a probe option', PAIR, evidence(), NOW, ['probe-configured']],
    [
      'everything wrong at once: every part named',
      PROBED,
      evidence({ failures: 1, lastFailureAt: T0, other: { instanceId: STANDBY, passing: true, at: T0 - 5 } }),
      T0 + 60_000,
      ['probe-failures', 'probe-fresh', 'probe-other'],
    ],
  ])('%s', (_, pair, e, now, expected) => {
    expect(parts(evidenceProblems(pair, e, now))).toEqual(expected);
  });
});

describe('probe evidence as an event: parsed strictly', () => {
  it('the contract sample becomes a probe trigger with epoch times', () => {
    const [t] = parseEvent(sample('probe-evidence')).triggers;
    expect(t).toEqual({
      kind: 'probe',
      pair: 'web',
      instanceId: PRIMARY,
      failures: 3,
      firstFailureAt: Date.parse('2026-11-22T10:15:00.000Z'),
      lastFailureAt: Date.parse('2026-11-22T10:15:02.000Z'),
      errors: ['ECONNREFUSED', 'ECONNREFUSED', 'timeout after 500 ms'],
      other: { instanceId: STANDBY, passing: true, at: Date.parse('2026-11-22T10:15:02.050Z') },
    });
  });

  it("issue 23: the other member's passes and failures across the window are read; without them it still parses", () => {
    const base = sample('probe-evidence') as { other: Record<string, unknown> };
    const [t] = parseEvent({ ...base, other: { ...base.other, passes: 3, failures: 0 } }).triggers;
    expect(t).toMatchObject({ kind: 'probe', other: { instanceId: STANDBY, passes: 3, failures: 0 } });
    expect(parseEvent(base).triggers[0]?.kind).toBe('probe');
  });

  it.each<[string, Record<string, unknown>, RegExp]>([
    ['an unknown field', { failure: 3 }, /unknown field\(s\) failure/],
    ['a missing pair', { pair: undefined }, /pair/],
    ['a bad instance ID', { instanceId: 'web-1' }, /instanceId: must be an instance ID/],
    ['failures as a string', { failures: '3' }, /failures: must be a whole number/],
    ['a time that is not ISO', { firstFailureAt: 'yesterday' }, /firstFailureAt: must be an ISO 8601/],
    [
      'other without passing',
      { other: { instanceId: STANDBY, at: '2026-11-22T10:15:02.050Z' } },
      /other\.passing/,
    ],
    [
      'the last failure before the first',
      { lastFailureAt: '2026-11-22T10:14:59.000Z' },
      /lastFailureAt .* is before firstFailureAt/,
    ],
  ])('%s is ignored, saying what is wrong', (_, patch, reason) => {
    const [t] = parseEvent({ ...sample('probe-evidence'), ...patch }).triggers;
    expect(t?.kind).toBe('ignored');
    expect((t as { reason: string }).reason).toMatch(reason);
  });
});

describe('the pair option probe', () => {
  const pairWith = (probe: unknown) => [{ ...PAIR, probe }];
  const problems = (probe: unknown) => {
    try {
      parsePairs(pairWith(probe));
      return [];
    } catch (error) {
      return (error as ConfigError).problems;
    }
  };

  it('accepts the documented fields and defaults', () => {
    expect(problems({ protocol: 'https', port: 443, path: '/health', expectStatus: 204 })).toEqual([]);
    expect(problems({ protocol: 'tcp', port: 5432, intervalMs: 2000, timeoutMs: 1500, failures: 4 })).toEqual(
      [],
    );
  });

  it.each<[string, unknown, RegExp]>([
    [
      'an unknown protocol',
      { protocol: 'icmp', port: 1 },
      /probe\.protocol must be "tcp", "http" or "https", got "icmp"/,
    ],
    ['no port', { protocol: 'tcp' }, /probe\.port is required/],
    ['port 0', { protocol: 'tcp', port: 0 }, /probe\.port must be from 1 to 65535, got 0/],
    ['a path without /', { protocol: 'http', port: 80, path: 'health' }, /probe\.path must start with '\/'/],
    [
      'a status of 600',
      { protocol: 'http', port: 80, expectStatus: 600 },
      /probe\.expectStatus must be from 100 to 599/,
    ],
    [
      'an interval of 100 ms',
      { protocol: 'tcp', port: 1, intervalMs: 100 },
      /probe\.intervalMs must be from 500 to 10000/,
    ],
    ['one failure', { protocol: 'tcp', port: 1, failures: 1 }, /probe\.failures must be from 2 to 20, got 1/],
    [
      'a timeout as long as the interval',
      { protocol: 'tcp', port: 1, timeoutMs: 1000 },
      /probe\.timeoutMs must be less than intervalMs \(1000\), got 1000/,
    ],
    [
      'a path on a tcp probe',
      { protocol: 'tcp', port: 1, path: '/' },
      /probe\.path applies only to http and https probes/,
    ],
    ['an unknown field', { protocol: 'tcp', port: 1, retries: 2 }, /probe has unknown field\(s\) retries/],
  ])('refuses %s, naming it', (_, probe, message) => {
    expect(problems(probe).join('\n')).toMatch(message);
  });
});

describe('plan: probe evidence decides as an application-only failure', () => {
  const probe = (patch: Partial<Evidence> = {}): Extract<Trigger, { kind: 'probe' }> => ({
    kind: 'probe',
    pair: 'web',
    ...evidence(patch),
  });
  const checksOf = (reasons: string[]) => reasons.map((r) => /^([a-z-]+): /.exec(r)?.[1]).filter(Boolean);

  it('evidence that holds, on a holder EC2 shows running and ok: moved without Force, escalated, put back on failure', () => {
    const p = plan(PROBED, probe(), world(), NOW);
    expect(p).toMatchObject({ kind: 'move', from: PRIMARY, to: STANDBY, automatic: true, putBack: PRIMARY });
    if (p.kind !== 'move') return;
    expect(p.detach?.force).toBe(false);
    expect(p.escalate).toMatchObject({ instanceId: PRIMARY, afterMs: 20_000 });
    expect(p.reasons[0]).toMatch(/the prober saw 3 http probes of port 80 fail in a row .* while standby/);
  });

  it.each<[string, Partial<Evidence>, number, string]>([
    ['too few failures', { failures: 2, lastFailureAt: T0 + 1000 }, NOW, 'probe-failures'],
    ['old evidence', {}, T0 + 60_000, 'probe-fresh'],
    [
      'the standby not seen since the failures began',
      { other: { instanceId: STANDBY, passing: true, at: T0 - 1 } },
      NOW,
      'probe-other',
    ],
  ])('%s: unchanged, naming the part of the rule', (_, patch, now, part) => {
    const p = plan(PROBED, probe(patch), world(), now);
    expect(p.kind).toBe('unchanged');
    expect(checksOf(p.reasons)).toEqual([part]);
  });

  it('a standby the prober sees failing: refused target-probe', () => {
    const p = plan(
      PROBED,
      probe({ other: { instanceId: STANDBY, passing: false, at: T0 + 2050 } }),
      world(),
      NOW,
    );
    expect(p).toMatchObject({ kind: 'refused', from: PRIMARY, to: STANDBY });
    expect(checksOf(p.reasons)).toEqual(['target-probe']);
  });

  it('the target EC2 shows stopped: refused by the target checks, as any move', () => {
    const p = plan(PROBED, probe(), world({ standby: { state: 'stopped' } }), NOW);
    expect(p.kind).toBe('refused');
    expect(checksOf(p.reasons)).toEqual(['target-running']);
  });

  it('evidence about the member that does not hold the ENI: unchanged', () => {
    const p = plan(
      PROBED,
      probe({ instanceId: STANDBY, other: { instanceId: PRIMARY, passing: true, at: T0 + 2050 } }),
      world(),
      NOW,
    );
    expect(p).toMatchObject({ kind: 'unchanged', holder: PRIMARY });
  });

  it('EC2 shows the holder stopped: moved at once with Force, even on old evidence', () => {
    const p = plan(PROBED, probe(), world({ primary: { state: 'stopped' } }), T0 + 60_000);
    expect(p).toMatchObject({ kind: 'move', to: STANDBY });
    expect(p.kind === 'move' && p.detach?.force).toBe(true);
  });

  it('damping applies: a probe move 60 s after an automatic one is refused cooldown', () => {
    const p = plan(PROBED, probe(), world({ record: { automaticMoves: [NOW - 60_000] } }), NOW);
    expect(p.kind).toBe('refused');
    expect(checksOf(p.reasons)).toEqual(['cooldown']);
  });
});

describe('issue 23: why each probe failed, and whether it reached the member', () => {
  it.each<[string, string, boolean]>([
    ['ECONNREFUSED', 'refused', true],
    ['ECONNRESET', 'reset', true],
    ['status 503', 'status', true],
    ['timeout after 500 ms', 'timeout', false],
    ['EHOSTUNREACH', 'unreachable', false],
    ['EAI_AGAIN', 'other', false],
  ])('%s is %s; reached: %s (a security group drops silently, it never refuses)', (error, kind, answered) => {
    expect(failureKind(error)).toBe(kind);
    expect(reached(failureKind(error))).toBe(answered);
  });

  it('the kinds of a window, most frequent first, as the move names them', () => {
    expect(failureKinds(['timeout after 500 ms', 'ECONNREFUSED', 'ECONNREFUSED'])).toBe(
      'refused x2, timeout x1',
    );
  });
});
