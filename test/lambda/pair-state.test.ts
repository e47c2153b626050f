// Pair state on a real lock (docs/contract.md, "Pair state"): the review's cases, each over several handler
// copies (Lambda containers) sharing one in-memory EC2 and one state table on dynalite (DynamoDB's API, in
// process): never a mock of the lease. What an operator sees: where the ENI ends, the outcomes, the pages.

import { type AddressInfo, createServer, type Socket } from 'node:net';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DetachNetworkInterfaceCommand, StopInstancesCommand } from '@aws-sdk/client-ec2';
import { describe, expect, it } from 'vitest';
import { STATE_HTTP } from '../../lambda/aws/clients.ts';
import { StateAdapter } from '../../lambda/aws/state.ts';
import type { Pair } from '../../lambda/config.ts';
import type { Result } from '../../lambda/result.ts';
import { BREADCRUMB } from '../../lambda/view.ts';
import { ec2Error } from '../../ops/fake-ec2.ts';
import { sample } from '../helpers/events.ts';
import { type Harness, harness, results } from '../helpers/harness.ts';
import { localState, tableThrottled, tableUnreachable, withFaults } from '../helpers/state.ts';
import { PAIR, PRIMARY, STANDBY } from '../helpers/world.ts';

const stateChange = (id: string, state = 'stopped') => ({
  ...sample('eventbridge-state-change'),
  detail: { 'instance-id': id, state },
});
const alarmOn = (id: string) => sample('sns-alarm', { [PRIMARY]: id });
const spotWarning = (id: string) => sample('eventbridge-spot-interruption', { 'i-0123456789abcdef0': id });
const reconcile = { action: 'reconcile' };
const one = async (promise: Promise<unknown>) => (await results(promise))[0] as Result;
const checks = (r: Result) => r.reasons.map((x) => /^([a-z-]+): /.exec(x)?.[1]).filter(Boolean);
const subjects = (h: Harness) => h.published().map((p) => p.subject);
const record = (h: Harness) => h.state.read('web');
const ownerTags = (n: number) =>
  Object.fromEntries(Array.from({ length: n }, (_, i) => [`team:tag-${i}`, 'x']));

describe("the ENI's tags are the owner's", () => {
  it.each([45, 48])(
    'with %i owner tags: the failover moves, reports moved, and its record damps the next move (no move back)',
    async (n) => {
      const h = harness();
      Object.assign(h.ec2.tags, ownerTags(n));
      h.ec2.set(PRIMARY, { systemStatus: 'impaired' });

      const moved = await one(h.invoke(alarmOn(PRIMARY)));

      expect(moved).toMatchObject({ outcome: 'moved', to: STANDBY });
      expect(h.ec2.holder()).toBe(STANDBY);
      // One breadcrumb of ours beside the owner's tags, which are untouched.
      expect(Object.keys(h.ec2.tags).filter((k) => !k.startsWith('team:'))).toEqual([BREADCRUMB]);
      expect(Object.keys(h.ec2.tags).filter((k) => k.startsWith('team:'))).toHaveLength(n);
      // A minute later the standby, still running, fails its system check: the cool-down holds (the move is recorded).
      h.ec2.set(PRIMARY, { systemStatus: 'ok', launchTime: new Date(h.clock.now()) });
      h.clock.tick(60_000);
      h.ec2.set(STANDBY, { systemStatus: 'impaired' });
      const damped = await one(h.container()(reconcile));
      expect(damped.outcome).toBe('refused');
      expect(checks(damped)).toEqual(['cooldown']);
      expect(h.ec2.holder()).toBe(STANDBY);
      expect(subjects(h).filter((s) => s.includes('FAILED'))).toEqual([]);
    },
  );

  it('with 50 owner tags (a full budget): the move stands and says the breadcrumb was not left', async () => {
    const h = harness();
    Object.assign(h.ec2.tags, ownerTags(50));
    h.ec2.set(PRIMARY, { state: 'stopped' });
    const r = await one(h.invoke(stateChange(PRIMARY)));
    expect(r.outcome).toBe('moved');
    expect(h.ec2.holder()).toBe(STANDBY);
    expect(r.reasons).toContainEqual(expect.stringMatching(/breadcrumb .*TagLimitExceeded.*the move stands/));
    expect((await record(h)).lastMove).toMatchObject({ from: PRIMARY, to: STANDBY });
  });
});

describe('rules that see each other', () => {
  const PROBED: Pair = { ...PAIR, probe: { protocol: 'http', port: 80 } };
  const iso = (ms: number) => new Date(ms).toISOString();
  const evidence = (now: number) => ({
    source: 'eni-failover.probe',
    pair: 'web',
    instanceId: PRIMARY,
    failures: 3,
    firstFailureAt: iso(now - 2_100),
    lastFailureAt: iso(now - 100),
    errors: ['ECONNREFUSED', 'ECONNREFUSED', 'ECONNREFUSED'],
    other: { instanceId: STANDBY, passing: true, at: iso(now - 50) },
  });

  it("probe evidence moves the ENI; rounds with the standby's retirement 10 min ahead never take it back onto the dead service", async () => {
    const h = harness({ pairs: [PROBED] });
    const moved = await one(h.invoke(evidence(h.clock.now())));
    expect(moved).toMatchObject({ outcome: 'moved', to: STANDBY });
    const at = h.clock.now() + 10 * 60_000;
    h.ec2.set(STANDBY, {
      events: [{ code: 'instance-retirement', notBefore: new Date(at), description: 'degraded hardware' }],
    });

    const rounds: Result[] = [];
    for (let i = 0; i < 5; i++) {
      h.clock.tick(60_000);
      rounds.push(await one(h.container()(reconcile)));
    }

    expect(h.ec2.holder()).toBe(STANDBY);
    expect(rounds.map((r) => r.outcome)).toEqual(['refused', 'refused', 'refused', 'refused', 'refused']);
    expect(checks(rounds[0] as Result)).toEqual(['target-probe']);
    expect((rounds[0] as Result).reasons[0]).toMatch(
      /was moved off on probe evidence at .* and the prober has not seen it pass since/,
    );
    // The status says which member the evidence condemns.
    expect((await one(h.invoke({ action: 'status', pair: 'web' }))).state?.condemned).toEqual([PRIMARY]);
  });

  it("the prober's observation lost (the table throttled it): the move it made is remembered all the same", async () => {
    const state = withFaults(localState());
    const h = harness({ pairs: [PROBED], state });
    state.fail('observe', tableThrottled);
    expect(await one(h.invoke(evidence(h.clock.now())))).toMatchObject({ outcome: 'moved', to: STANDBY });
    const at = h.clock.now() + 10 * 60_000;
    h.ec2.set(STANDBY, {
      events: [{ code: 'instance-retirement', notBefore: new Date(at), description: 'degraded hardware' }],
    });
    h.clock.tick(60_000);
    const round = await one(h.container()(reconcile));
    expect(round.outcome).toBe('refused');
    expect(checks(round)).toEqual(['target-probe']);
    expect(h.ec2.holder()).toBe(STANDBY);
  });

  it('repeated evidence refused for the same reason pages once; a flapping episode still pages its own', async () => {
    const h = harness({ pairs: [PROBED] });
    const now = h.clock.now();
    // One automatic move 60 s ago: the cool-down (300 s) holds a move off a holder that still runs.
    await h.state.change('web', () => ({ automaticMoves: [now - 60_000] }));
    for (let i = 0; i < 3; i++) {
      h.clock.tick(5_000);
      expect((await one(h.container()(evidence(h.clock.now())))).outcome).toBe('refused');
    }
    expect(subjects(h)).toEqual(['eni-failover web: REFUSED: cooldown']);
    // Three automatic moves in the hour: the flap limit's refusal is an episode of its own, paged once.
    await h.state.change('web', () => ({ automaticMoves: [now - 3_000_000, now - 2_000_000, now - 60_000] }));
    await one(h.container()(evidence(h.clock.now())));
    await one(h.container()(evidence(h.clock.now())));
    expect(subjects(h)).toEqual([
      'eni-failover web: REFUSED: cooldown',
      'eni-failover web: REFUSED: cooldown, flapping',
    ]);
  });

  it('the prober seeing the primary pass again lifts it: the planned move off the retiring standby goes ahead', async () => {
    const h = harness({ pairs: [PROBED] });
    await h.invoke(evidence(h.clock.now()));
    const at = h.clock.now() + 10 * 60_000;
    h.ec2.set(STANDBY, {
      events: [{ code: 'instance-retirement', notBefore: new Date(at), description: 'degraded hardware' }],
    });
    // Evidence about the standby names the primary as the other member, passing.
    h.clock.tick(30_000);
    const now = h.clock.now();
    await h.invoke({
      ...evidence(now),
      instanceId: STANDBY,
      failures: 1,
      other: { instanceId: PRIMARY, passing: true, at: iso(now) },
    });
    expect(await one(h.invoke(reconcile))).toMatchObject({ outcome: 'moved', to: PRIMARY });
  });

  it('a fail-back whose detach hangs: failed after 20 s without Force, saying where the ENI is; the next round puts it on the primary; the primary stops later: moved to the standby', async () => {
    const h = harness();
    h.ec2.place(STANDBY);
    h.ec2.hungDetach = true;

    const failBack = await one(h.invoke({ action: 'move', pair: 'web', to: 'primary' }));

    expect(failBack.outcome).toBe('failed');
    expect(failBack.reasons[0]).toMatch(
      /wait-detached failed: .*had not finished after 20 s; a manual move never forces it/,
    );
    expect(failBack.reasons[1]).toMatch(/still detaching from standby/);
    expect(h.ec2.mock.commandCalls(DetachNetworkInterfaceCommand).map((c) => c.args[0].input.Force)).toEqual([
      false,
    ]);

    const round = await one(h.container()(reconcile));
    expect(round).toMatchObject({ outcome: 'moved', from: null, to: PRIMARY });
    expect(h.ec2.holder()).toBe(PRIMARY);

    h.ec2.hungDetach = false;
    h.clock.tick(10 * 60_000);
    h.ec2.set(PRIMARY, { state: 'stopped' });
    const failover = await one(h.container()(stateChange(PRIMARY)));
    expect(failover).toMatchObject({ outcome: 'moved', to: STANDBY });
    expect(h.ec2.holder()).toBe(STANDBY);
  });

  it('a late actor: B looks before A moves and acts after A released the lease: one moved, one page, one recorded move', async () => {
    const h = harness();
    h.ec2.set(PRIMARY, { state: 'stopped' });
    const a = h.container();
    let first: Result | undefined;
    // B has looked (the ENI on the primary); before it takes the lease, A makes the whole move and releases it.
    const b = h.container({
      ...h.state,
      takeLease: async (pair, lease, seen) => {
        first ??= await one(a(stateChange(PRIMARY)));
        return h.state.takeLease(pair, lease, seen);
      },
    });

    const late = await one(b(alarmOn(PRIMARY)));

    expect(first).toMatchObject({ outcome: 'moved', to: STANDBY });
    expect(late.outcome).toBe('unchanged');
    expect(h.ec2.holder()).toBe(STANDBY);
    expect(h.ec2.attaches).toHaveLength(1);
    expect(subjects(h).filter((s) => s.includes('MOVED'))).toHaveLength(1);
    expect((await record(h)).automaticMoves).toHaveLength(1);
  });

  it('a late actor with a stranded ENI: B looks at an ENI on no one, A attaches it and releases: B changes nothing, one page', async () => {
    const h = harness();
    h.ec2.unplace();
    const a = h.container();
    let first: Result | undefined;
    const b = h.container({
      ...h.state,
      takeLease: async (pair, lease, seen) => {
        first ??= await one(a(reconcile));
        return h.state.takeLease(pair, lease, seen);
      },
    });

    const late = await one(b(reconcile));

    expect(first).toMatchObject({ outcome: 'moved', from: null, to: STANDBY });
    expect(late.outcome).toBe('unchanged');
    expect(h.ec2.attaches).toHaveLength(1);
    expect(subjects(h).filter((s) => s.includes('MOVED'))).toHaveLength(1);
  });

  it('fence after an escalated detach: the holder that would not let go is stopped, and the page says FORCED', async () => {
    const h = harness({ pairs: [{ ...PAIR, fence: true }] });
    h.ec2.hungDetach = true;
    h.ec2.set(PRIMARY, { ebsStatus: 'impaired' });

    const r = await one(h.invoke(alarmOn(PRIMARY)));

    expect(r).toMatchObject({ outcome: 'moved', to: STANDBY });
    expect(h.ec2.mock.commandCalls(DetachNetworkInterfaceCommand).map((c) => c.args[0].input.Force)).toEqual([
      false,
      true,
    ]);
    expect(h.ec2.mock).toHaveReceivedCommandWith(StopInstancesCommand, { InstanceIds: [PRIMARY] });
    expect(r.reasons).toContain(`fence: stopped ${PRIMARY}, so that it cannot answer on a stale address`);
    expect(subjects(h)).toEqual([expect.stringMatching(/^eni-failover web: MOVED \(FORCED\) to /)]);
  });

  it('a Spot warning, then the stop of the holder, during maintenance: DOWN paged once, nothing moved', async () => {
    const h = harness();
    await h.invoke(sample('manual-maintenance'));
    const warned = await one(h.container()(spotWarning(PRIMARY)));
    h.ec2.set(PRIMARY, { state: 'stopped' });
    const stopped = await one(h.container()(stateChange(PRIMARY)));
    const round = await one(h.container()(reconcile));

    expect([warned, stopped, round].map((r) => r.outcome)).toEqual(['unchanged', 'unchanged', 'unchanged']);
    expect(warned.reasons[0]).toMatch(/^DOWN: primary .* is going away .*: the address is about to be down/);
    expect(h.ec2.holder()).toBe(PRIMARY);
    expect(subjects(h).filter((s) => s.includes('DOWN'))).toEqual([
      `eni-failover web: DOWN (in maintenance), held by ${PRIMARY}`,
    ]);
  });
});

describe('the lease', () => {
  it('a mover that hangs after its detach holds the lease for its term: the next trigger waits it out and takes over (within 90 s)', async () => {
    const h = harness();
    h.ec2.set(PRIMARY, { state: 'stopped' });
    const start = h.clock.now();
    // The container freezes right after EC2 carried out its detach (killed, or hung on the network).
    let frozen: () => void = () => {};
    const detached = new Promise<void>((resolve) => {
      frozen = resolve;
    });
    h.ec2.when('DetachNetworkInterface', 'after', () => {
      frozen();
      return new Promise<void>(() => {});
    });
    void h.container()(stateChange(PRIMARY));
    await detached;
    expect(h.ec2.holder()).toBeUndefined();

    // The next delivery (Lambda's own duplicate, 30 s later) meets the lease, waits for its term, and heals.
    h.clock.tick(30_000);
    const round = await one(h.container()(reconcile, 300_000));

    expect(round).toMatchObject({ outcome: 'moved', from: null, to: STANDBY });
    expect(h.clock.now() - start).toBeLessThanOrEqual(90_000);
    expect(h.ec2.holder()).toBe(STANDBY);
    expect(subjects(h).filter((s) => s.includes('MOVED'))).toHaveLength(1);
  });

  it('a manual move meeting the lease stands aside at once (a person can ask again)', async () => {
    const h = harness();
    const now = h.clock.now();
    await h.state.takeLease(
      'web',
      { owner: 'b0b0b0b0', target: STANDBY, takenAt: now, until: now + 60_000 },
      0,
    );
    const start = h.clock.now();
    const r = await one(h.invoke({ action: 'move', pair: 'web', to: 'standby' }));
    expect(r.outcome).toBe('unchanged');
    expect(r.reasons[0]).toMatch(/^a move by another invocation is under way \(b0b0b0b0/);
    expect(h.clock.now() - start).toBeLessThan(5_000);
    expect(h.ec2.mutations).toEqual([]);
  });

  it('a mover that lost its lease (it expired while a throttled attach kept failing, and another took it) stops before its next send', async () => {
    const h = harness();
    h.ec2.set(PRIMARY, { state: 'stopped' });
    // The attach is throttled for a while; meanwhile another invocation takes the lease over (as after a 60 s hang).
    h.ec2.fail(
      'AttachNetworkInterface',
      ec2Error('RequestLimitExceeded', 'Request limit exceeded.', 'server'),
      200,
    );
    h.ec2.when('DetachNetworkInterface', 'after', async () => {
      await h.state.change('web', () => ({
        lease: { owner: 'thief001', target: STANDBY, takenAt: h.clock.now(), until: h.clock.now() + 600_000 },
      }));
    });

    const r = await one(h.invoke(stateChange(PRIMARY), 300_000));

    expect(r.outcome).toBe('unchanged');
    expect(r.reasons[0]).toMatch(
      /lease on pair web expired and another invocation took it over: stopped before the attach/,
    );
    expect(h.ec2.attaches).toEqual([]);
    expect(subjects(h).filter((s) => s.includes('MOVED'))).toEqual([]);
  });

  it.each([
    ['all at once', [0, 0, 0, 0, 0]],
    ['a few milliseconds apart', [0, 3, 6, 9, 12]],
    ['the last first', [12, 9, 6, 3, 0]],
    ['two waves', [0, 0, 25, 25, 25]],
  ])(
    '5 concurrent deliveries in 5 containers, %s: one moved, one page, one recorded move',
    async (_pattern, delays) => {
      const h = harness();
      h.ec2.withLatency(1, 8, delays.length);
      h.ec2.set(PRIMARY, { state: 'stopped' });
      const events = [
        alarmOn(PRIMARY),
        stateChange(PRIMARY),
        reconcile,
        stateChange(PRIMARY, 'stopping'),
        reconcile,
      ];

      const r = await Promise.all(
        events.map(async (e, i) => {
          await new Promise((resolve) => setTimeout(resolve, delays[i]));
          return one(h.container()(e));
        }),
      );

      expect(r.map((x) => x.outcome).sort()).toEqual([
        'moved',
        'unchanged',
        'unchanged',
        'unchanged',
        'unchanged',
      ]);
      expect(h.ec2.holder()).toBe(STANDBY);
      expect(h.ec2.attaches).toHaveLength(1);
      expect(subjects(h).filter((s) => s.includes('MOVED'))).toHaveLength(1);
      const state = await record(h);
      expect(state.automaticMoves).toHaveLength(1);
      expect(state.lease).toBeUndefined();
    },
  );
});

describe('the table never keeps the address on a dead holder', () => {
  it('throttled for a while: read through, the move made under the lease', async () => {
    const state = withFaults(localState());
    const h = harness({ state });
    state.fail('read', tableThrottled, 3);
    h.ec2.set(PRIMARY, { state: 'stopped' });
    const r = await one(h.invoke(stateChange(PRIMARY)));
    expect(r).toMatchObject({ outcome: 'moved', to: STANDBY });
    expect(r.reasons.join('\n')).not.toMatch(/without the lease/);
  });

  it('unreachable: a stopped holder is still left, without the lease, and the result says so', async () => {
    const state = withFaults(localState());
    const h = harness({ state });
    state.fail('all', tableUnreachable);
    h.ec2.set(PRIMARY, { state: 'stopped' });
    const r = await one(h.invoke(stateChange(PRIMARY)));
    expect(r).toMatchObject({ outcome: 'moved', to: STANDBY });
    expect(h.ec2.holder()).toBe(STANDBY);
    expect(r.reasons).toContainEqual(
      expect.stringMatching(/state table could not be read .*moving without the lease/),
    );
    expect(r.reasons).toContainEqual(expect.stringMatching(/could not record the move/));
  });

  it('unreachable, two deliveries in two containers: one attach, one moved, one MOVED page (EC2 is the lock)', async () => {
    const state = withFaults(localState());
    const h = harness({ state });
    state.fail('all', tableUnreachable);
    h.ec2.withLatency(1, 10, 3);
    h.ec2.set(PRIMARY, { state: 'stopped' });

    const r = await Promise.all([
      one(h.container()(stateChange(PRIMARY))),
      one(h.container()(alarmOn(PRIMARY))),
    ]);

    expect(r.map((x) => x.outcome).sort()).toEqual(['moved', 'unchanged']);
    expect(h.ec2.holder()).toBe(STANDBY);
    expect(h.ec2.attaches).toHaveLength(1);
    expect(subjects(h).filter((s) => s.includes('MOVED'))).toHaveLength(1);
  });

  it('a table behind a connection that never answers (the real SDK client, its own timeouts): a stopped holder is still left', async () => {
    // A loopback server that accepts and never answers: the SDK's request timeout and retries, not a mocked error.
    const sockets: Socket[] = [];
    const blackhole = createServer((socket) => sockets.push(socket));
    await new Promise<void>((resolve) => blackhole.listen(0, '127.0.0.1', resolve));
    const { port } = blackhole.address() as AddressInfo;
    try {
      const client = new DynamoDBClient({
        endpoint: `http://127.0.0.1:${port}`,
        region: 'eu-west-1',
        credentials: { accessKeyId: 'x', secretAccessKey: 'x' },
        requestHandler: STATE_HTTP,
      });
      const h = harness({ state: new StateAdapter(client, 'eni-failover-state') });
      h.ec2.set(PRIMARY, { state: 'stopped' });
      const r = await one(h.invoke(stateChange(PRIMARY)));
      expect(r).toMatchObject({ outcome: 'moved', to: STANDBY });
      expect(r.reasons).toContainEqual(
        expect.stringMatching(/state table could not be read .*no answer within 5000 ms/),
      );
    } finally {
      for (const s of sockets) s.destroy();
      blackhole.close();
    }
  });

  it('unreachable only for the lease: a stopped holder is still left; a drill is refused state-unavailable', async () => {
    const state = withFaults(localState());
    const h = harness({ state });
    state.fail('takeLease', tableUnreachable);
    h.ec2.set(STANDBY, { state: 'running' });
    const drill = await one(h.invoke({ action: 'move', pair: 'web', to: 'standby' }));
    expect(drill.outcome).toBe('refused');
    expect(checks(drill)).toEqual(['state-unavailable']);
    expect(h.ec2.mutations).toEqual([]);
    h.ec2.set(PRIMARY, { state: 'stopped' });
    const r = await one(h.invoke(stateChange(PRIMARY)));
    expect(r).toMatchObject({ outcome: 'moved', to: STANDBY });
    expect(r.reasons).toContainEqual(
      expect.stringMatching(/could not be reached for the lease .*moving without it/),
    );
  });

  it('unreachable: a drill, an EBS-only failure are refused state-unavailable, nothing touched', async () => {
    const state = withFaults(localState());
    const h = harness({ state });
    state.fail('all', tableUnreachable);
    const drill = await one(h.invoke({ action: 'move', pair: 'web', to: 'standby' }));
    h.ec2.set(PRIMARY, { ebsStatus: 'impaired' });
    const ebs = await one(h.invoke(alarmOn(PRIMARY)));
    for (const r of [drill, ebs]) {
      expect(r.outcome).toBe('refused');
      expect(checks(r)).toEqual(['state-unavailable']);
    }
    expect(h.ec2.mutations).toEqual([]);
    expect(h.ec2.holder()).toBe(PRIMARY);
    expect(subjects(h)).toEqual([
      'eni-failover web: REFUSED: state-unavailable',
      'eni-failover web: REFUSED: state-unavailable',
    ]);
  });
});

describe("upgrade in place: an earlier version's tags", () => {
  it("are carried into the pair's item once (damping, forced-detach record, window, notices), then deleted", async () => {
    const h = harness();
    const now = h.clock.now();
    const iso = (ms: number) => new Date(ms).toISOString();
    Object.assign(h.ec2.tags, {
      'eni-failover:automatic-moves': `${iso(now - 120_000)} ${iso(now - 60_000)}`,
      'eni-failover:moved-at': iso(now - 60_000),
      'eni-failover:moved-from': STANDBY,
      'eni-failover:moved-to': PRIMARY,
      'eni-failover:move-reason': 'standby failed',
      'eni-failover:forced-detach-from': STANDBY,
      'eni-failover:forced-detach-at': iso(now - 60_000),
      'eni-failover:maintenance-until': iso(now + 30 * 60_000),
      'eni-failover:maintenance-by': 'kernel patch',
      'eni-failover:notice-standby': 'instance-retirement 2026-11-25T03:00:00.000Z',
      'team:owner': 'payments',
    });

    const status = await one(h.invoke({ action: 'status', pair: 'web' }));

    expect(status.state).toMatchObject({
      automaticMoves: { lastHour: 2 },
      damping: `cooldown until ${iso(now + 240_000)}`,
      maintenance: { until: iso(now + 30 * 60_000), why: 'kernel patch' },
      forcedDetach: { from: STANDBY, at: iso(now - 60_000) },
      lastMove: { at: iso(now - 60_000), from: STANDBY, to: PRIMARY },
    });
    expect(await record(h)).toMatchObject({
      migrated: true,
      notices: { standby: 'instance-retirement 2026-11-25T03:00:00.000Z' },
    });
    // Only the owner's tag is left on the ENI.
    expect(h.ec2.tags).toEqual({ 'team:owner': 'payments' });
    // The window holds: a stopped primary is not moved (DOWN is paged instead).
    h.ec2.set(PRIMARY, { state: 'stopped' });
    expect(await one(h.container()(stateChange(PRIMARY)))).toMatchObject({ outcome: 'unchanged' });
  });

  it('a mixed fleet mid-deploy: tags an earlier version writes after the first carry are merged in, nothing lost', async () => {
    const h = harness();
    const now = h.clock.now();
    const iso = (ms: number) => new Date(ms).toISOString();
    h.ec2.tags['eni-failover:automatic-moves'] = iso(now - 600_000);
    await h.invoke({ action: 'status', pair: 'web' });
    h.ec2.tags['eni-failover:automatic-moves'] = iso(now - 300_000);
    await h.container()({ action: 'status', pair: 'web' });
    expect((await record(h)).automaticMoves).toEqual([now - 600_000, now - 300_000]);
    expect(h.ec2.tags).toEqual({});
  });

  it('the tags cannot be deleted (DeleteTags refused): the carried window decides all the same', async () => {
    const h = harness();
    const now = h.clock.now();
    h.ec2.fail('DeleteTags', ec2Error('UnauthorizedOperation', 'not allowed'), Number.POSITIVE_INFINITY);
    h.ec2.tags['eni-failover:maintenance-until'] = new Date(now + 30 * 60_000).toISOString();
    h.ec2.set(PRIMARY, { state: 'stopped' });
    const r = await one(h.invoke(stateChange(PRIMARY)));
    expect(r.outcome).toBe('unchanged');
    expect(r.reasons[0]).toMatch(/^DOWN: /);
    expect(h.ec2.holder()).toBe(PRIMARY);
  });

  it("an earlier version's live intent is honoured until it expires", async () => {
    const h = harness();
    const now = h.clock.now();
    const iso = (ms: number) => new Date(ms).toISOString();
    h.ec2.tags['eni-failover:intent:0ld1nv0c'] = `${STANDBY} ${iso(now + 30_000)} ${iso(now - 1_000)}`;
    h.ec2.set(PRIMARY, { state: 'stopped' });
    const waiting = await one(h.invoke(stateChange(PRIMARY)));
    expect(waiting.outcome).toBe('unchanged');
    expect(waiting.reasons[0]).toMatch(/an earlier version's intent/);
    h.clock.tick(31_000);
    expect(await one(h.invoke(stateChange(PRIMARY)))).toMatchObject({ outcome: 'moved', to: STANDBY });
  });
});
