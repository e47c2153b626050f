// Issue 17: the `probe` trigger through the handler, over the in-memory EC2 (ops/fake-ec2.ts): where the
// ENI ends, Force or not, the outcome and the pages.
import { DetachNetworkInterfaceCommand } from '@aws-sdk/client-ec2';
import { describe, expect, it } from 'vitest';
import type { Pair } from '../../lambda/config.ts';
import type { Result } from '../../lambda/result.ts';
import { harness } from '../helpers/harness.ts';
import { PAIR, PRIMARY, STANDBY } from '../helpers/world.ts';

const PROBED: Pair = { ...PAIR, probe: { protocol: 'http', port: 80 } };
const iso = (ms: number) => new Date(ms).toISOString();

/** Evidence as the prober sends it: `failures` failures of `failing` 1 s apart, ending `agoMs` before now. */
function evidence(now: number, failing = PRIMARY, patch: Record<string, unknown> = {}, agoMs = 100) {
  const last = now - agoMs;
  return {
    source: 'eni-failover.probe',
    pair: 'web',
    instanceId: failing,
    failures: 3,
    firstFailureAt: iso(last - 2000),
    lastFailureAt: iso(last),
    errors: ['ECONNREFUSED', 'ECONNREFUSED', 'ECONNREFUSED'],
    other: { instanceId: failing === PRIMARY ? STANDBY : PRIMARY, passing: true, at: iso(last + 50) },
    ...patch,
  };
}
const checks = (r: Result) => r.reasons.map((x) => /^([a-z-]+): /.exec(x)?.[1]).filter(Boolean);

describe('the probe trigger through the handler', () => {
  it('the holder fails its probes while the standby passes: moved to the standby without Force, MOVED paged', async () => {
    const h = harness({ pairs: [PROBED] });

    const r = (await h.invoke(evidence(h.clock.now()))) as Result;

    expect(r).toMatchObject({ outcome: 'moved', from: PRIMARY, to: STANDBY });
    expect(h.ec2.holder()).toBe(STANDBY);
    const detaches = h.ec2.mock.commandCalls(DetachNetworkInterfaceCommand);
    expect(detaches.map((c) => c.args[0].input.Force)).toEqual([false]);
    expect(h.published().map((p) => p.subject)).toEqual([
      expect.stringMatching(/^eni-failover web: MOVED to /),
    ]);
  });

  it('the standby seen failing too: refused target-probe, nothing detached, the refusal paged', async () => {
    const h = harness({ pairs: [PROBED] });
    const now = h.clock.now();

    const r = (await h.invoke(
      evidence(now, PRIMARY, { other: { instanceId: STANDBY, passing: false, at: iso(now) } }),
    )) as Result;

    expect(r.outcome).toBe('refused');
    expect(checks(r)).toEqual(['target-probe']);
    expect(h.ec2.holder()).toBe(PRIMARY);
    expect(h.ec2.mock.commandCalls(DetachNetworkInterfaceCommand)).toHaveLength(0);
    expect(h.published().map((p) => p.subject)).toEqual(['eni-failover web: REFUSED: target-probe']);
  });

  it('old evidence: unchanged, naming probe-fresh, paged to nobody', async () => {
    const h = harness({ pairs: [PROBED] });

    const r = (await h.invoke(evidence(h.clock.now(), PRIMARY, {}, 45_000))) as Result;

    expect(r.outcome).toBe('unchanged');
    expect(checks(r)).toEqual(['probe-fresh']);
    expect(h.ec2.holder()).toBe(PRIMARY);
    expect(h.published()).toEqual([]);
  });

  it('evidence about the standby while the primary holds: unchanged, nothing moved', async () => {
    const h = harness({ pairs: [PROBED] });

    const r = (await h.invoke(evidence(h.clock.now(), STANDBY))) as Result;

    expect(r).toMatchObject({ outcome: 'unchanged', from: PRIMARY });
    expect(h.ec2.holder()).toBe(PRIMARY);
    expect(h.ec2.mock.commandCalls(DetachNetworkInterfaceCommand)).toHaveLength(0);
  });

  it("the prober's overlapping invocations send the same evidence twice: one move, one MOVED page", async () => {
    const h = harness({ pairs: [PROBED] });
    const e = evidence(h.clock.now());

    const [a, b] = (await Promise.all([h.invoke(e), h.container()(e)])) as Result[];

    expect([a?.outcome, b?.outcome].sort()).toEqual(['moved', 'unchanged']);
    expect(h.ec2.holder()).toBe(STANDBY);
    expect(h.published().filter((p) => p.subject.includes('MOVED'))).toHaveLength(1);
  });

  it('damping by cause: a second probe move within the cool-down is refused; the flap limit counts probe moves', async () => {
    const h = harness({ pairs: [{ ...PROBED, cooldownSeconds: 300 }] });
    expect(((await h.invoke(evidence(h.clock.now()))) as Result).outcome).toBe('moved');
    h.clock.tick(60_000);

    const back = (await h.invoke(evidence(h.clock.now(), STANDBY))) as Result;

    expect(back.outcome).toBe('refused');
    expect(checks(back)).toEqual(['cooldown']);
    expect(h.ec2.holder()).toBe(STANDBY);
  });

  it('a holder whose detach without Force hangs is forced after 20 s (escalation)', async () => {
    const h = harness({ pairs: [PROBED] });
    h.ec2.hungDetach = true;

    const r = (await h.invoke(evidence(h.clock.now()), 120_000)) as Result;

    expect(r).toMatchObject({ outcome: 'moved', to: STANDBY });
    const forces = h.ec2.mock.commandCalls(DetachNetworkInterfaceCommand).map((c) => c.args[0].input.Force);
    expect(forces[0]).toBe(false);
    expect(forces.at(-1)).toBe(true);
  });

  it('a pair without a probe option: unchanged, probe-configured', async () => {
    const h = harness();

    const r = (await h.invoke(evidence(h.clock.now()))) as Result;

    expect(r.outcome).toBe('unchanged');
    expect(checks(r)).toEqual(['probe-configured']);
  });
});

describe('status gives the prober its addresses', () => {
  it("each member's own primary private address (DescribeInstances PrivateIpAddress), null when EC2 gives none; the service address the ENI's", async () => {
    const h = harness({ pairs: [PROBED] });
    h.ec2.set(PRIMARY, { privateIp: '10.0.1.10' });

    const [r] = (await h.invoke({ action: 'status' })) as Result[];

    expect(r?.state?.addresses).toEqual({ primary: '10.0.1.10', standby: null, service: '10.0.1.23' });
  });
});

describe('maintenance (issue 14b) pauses probe moves as every automatic move', () => {
  it('probe evidence during a maintenance window: unchanged, the ENI stays', async () => {
    const h = harness({ pairs: [PROBED] });
    await h.invoke({ action: 'maintenance', pair: 'web', minutes: 30 });

    const r = (await h.invoke(evidence(h.clock.now()))) as Result;

    expect(r.outcome).toBe('unchanged');
    expect(r.reasons[0]).toMatch(/maintenance/);
    expect(h.ec2.holder()).toBe(PRIMARY);
    expect(h.ec2.mock.commandCalls(DetachNetworkInterfaceCommand)).toHaveLength(0);
  });
});

describe('suppression (review fixes) pauses a move on probe evidence alone, as one for the application check alone', () => {
  const OWN = 'asc-0aaaaaaaaaaaaaaa1';
  const checkedProbe: Pair = { ...PROBED, applicationCheckId: OWN };
  const suppressedHolder = (h: ReturnType<typeof harness>) => {
    for (const id of [PRIMARY, STANDBY]) h.ec2.set(id, { appChecks: { [OWN]: { status: 'passed' } } });
    h.ec2.set(PRIMARY, { suppressed: { resumeAt: undefined } });
  };

  it("the holder's reporting suppressed (a deploy) and its probes failing: unchanged, the ENI stays, nothing detached", async () => {
    const h = harness({ pairs: [checkedProbe] });
    suppressedHolder(h);

    const r = (await h.invoke(evidence(h.clock.now()))) as Result;

    expect(r.outcome).toBe('unchanged');
    expect(r.reasons[1]).toMatch(/the prober saw 3 .*not acting while its reporting is suppressed/);
    expect(h.ec2.holder()).toBe(PRIMARY);
    expect(h.ec2.mock.commandCalls(DetachNetworkInterfaceCommand)).toHaveLength(0);
  });

  it('the suppressed holder stopped: moved off at once, with Force, whatever the evidence', async () => {
    const h = harness({ pairs: [checkedProbe] });
    suppressedHolder(h);
    h.ec2.set(PRIMARY, { state: 'stopped' });

    const r = (await h.invoke(evidence(h.clock.now()))) as Result;

    expect(r).toMatchObject({ outcome: 'moved', from: PRIMARY, to: STANDBY });
    expect(h.ec2.holder()).toBe(STANDBY);
    const detaches = h.ec2.mock.commandCalls(DetachNetworkInterfaceCommand);
    expect(detaches.map((c) => c.args[0].input.Force)).toEqual([true]);
  });
});
