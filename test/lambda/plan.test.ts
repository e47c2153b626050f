import { describe, expect, it } from 'vitest';
import type { Pair } from '../../lambda/config.ts';
import { type Plan, type PlanTrigger, plan } from '../../lambda/plan.ts';
import { pairState, redundancy, statusOf } from '../../lambda/status.ts';
import type { Observation } from '../../lambda/view.ts';
import { eni, OUTSIDER, PAIR, PRIMARY, STANDBY, world } from '../helpers/world.ts';

type Planned = PlanTrigger;
const alarm = (instanceId: string): Planned => ({
  kind: 'alarm',
  instanceId,
  alarmName: 'web-primary-status-check',
  region: 'eu-west-1',
});
const stopped = (instanceId: string): Planned => ({
  kind: 'state-change',
  instanceId,
  state: 'stopped',
  region: 'eu-west-1',
});
const move = (to?: 'primary' | 'standby', dryRun = false): Planned => ({
  kind: 'move',
  pair: 'web',
  to,
  dryRun,
});
const NOW = Date.UTC(2026, 10, 22, 10, 15);

const FAILED_PRIMARY = { primary: { state: 'stopped' } };
const checksOf = (p: Plan) => p.reasons.map((r) => /^([a-z-]+): /.exec(r)?.[1]).filter(Boolean);

describe('plan: automatic triggers move only a confirmed-failed holder', () => {
  it.each<
    [string, Planned, Observation, Partial<Record<'kind' | 'from' | 'to', unknown>> & { force?: boolean }]
  >([
    [
      'state change: stopped primary -> force-move to standby',
      stopped(PRIMARY),
      world(FAILED_PRIMARY),
      { kind: 'move', from: PRIMARY, to: STANDBY, force: true },
    ],
    [
      'alarm: stopping primary -> move',
      alarm(PRIMARY),
      world({ primary: { state: 'stopping' } }),
      { kind: 'move', to: STANDBY, force: true },
    ],
    [
      'alarm: terminated primary -> move',
      alarm(PRIMARY),
      world({ primary: { state: 'terminated' } }),
      { kind: 'move', to: STANDBY, force: true },
    ],
    [
      'alarm: primary gone from EC2 -> move',
      alarm(PRIMARY),
      world({ primary: null }),
      { kind: 'move', to: STANDBY, force: true },
    ],
    [
      'alarm: instance status impaired -> move',
      alarm(PRIMARY),
      world({ primary: { instanceStatus: 'impaired' } }),
      { kind: 'move', to: STANDBY, force: true },
    ],
    [
      'alarm: system status impaired -> move',
      alarm(PRIMARY),
      world({ primary: { systemStatus: 'impaired' } }),
      { kind: 'move', to: STANDBY, force: true },
    ],
    [
      'alarm: attached EBS status impaired -> move, without Force (it still answers)',
      alarm(PRIMARY),
      world({ primary: { ebsStatus: 'impaired' } }),
      { kind: 'move', to: STANDBY, force: false },
    ],
    [
      // An EFA layout: an interface at index 1 on card 1 does not occupy card 0's index 1, and
      // counts against card 1's limit, not card 0's (EC2 User Guide, "Network cards").
      'standby has interfaces on network card 1 only: card 0 is free',
      stopped(PRIMARY),
      world({
        ...FAILED_PRIMARY,
        standby: {
          maxInterfaces: 2,
          interfaces: [
            { id: 'eni-x0', deviceIndex: 0, networkCardIndex: 0 },
            { id: 'efa-1', deviceIndex: 1, networkCardIndex: 1 },
            { id: 'efa-2', deviceIndex: 2, networkCardIndex: 1 },
          ],
        },
      }),
      { kind: 'move', to: STANDBY },
    ],
    [
      'the standby was force-detached from, then stopped and started: it may take the ENI again',
      stopped(PRIMARY),
      world({
        ...FAILED_PRIMARY,
        record: { forcedDetach: { instanceId: STANDBY, at: Date.parse('2026-11-20T10:00:00.000Z') } },
        standby: { launchTime: Date.parse('2026-11-20T10:05:00.000Z') },
      }),
      { kind: 'move', to: STANDBY },
    ],
    ['alarm: holder reads healthy again -> unchanged', alarm(PRIMARY), world(), { kind: 'unchanged' }],
    [
      'alarm: holder pending (an operator is starting it) is not a failure -> unchanged',
      alarm(PRIMARY),
      world({ primary: { state: 'pending' } }),
      { kind: 'unchanged' },
    ],
    [
      'alarm: insufficient-data status is not a failure',
      alarm(PRIMARY),
      world({ primary: { instanceStatus: 'insufficient-data' } }),
      { kind: 'unchanged' },
    ],
    [
      'alarm about the standby, which does not hold the ENI -> unchanged',
      alarm(STANDBY),
      world({ standby: { state: 'stopped' } }),
      { kind: 'unchanged' },
    ],
    [
      'duplicate alarm after the move (ENI on standby) -> unchanged',
      alarm(PRIMARY),
      world({ eni: eni({}, STANDBY), ...FAILED_PRIMARY }),
      { kind: 'unchanged' },
    ],
    [
      'fail-back direction: failed standby holder -> move to primary',
      stopped(STANDBY),
      world({ eni: eni({}, STANDBY), standby: { state: 'stopped' } }),
      { kind: 'move', from: STANDBY, to: PRIMARY, force: true },
    ],
    [
      'unattached ENI -> attach to the standby first',
      alarm(PRIMARY),
      world({ eni: eni({}, null), ...FAILED_PRIMARY }),
      { kind: 'move', from: null, to: STANDBY },
    ],
    [
      'unattached ENI, standby stopped -> attach to the healthy primary',
      alarm(PRIMARY),
      world({ eni: eni({}, null), standby: { state: 'stopped' } }),
      { kind: 'move', from: null, to: PRIMARY },
    ],
    [
      'ENI mid-detach counts as unattached',
      alarm(PRIMARY),
      world({
        eni: eni({
          status: 'detaching',
          attachment: {
            id: 'a',
            instanceId: PRIMARY,
            deviceIndex: 1,
            status: 'detaching',
            deleteOnTermination: false,
          },
        }),
        ...FAILED_PRIMARY,
      }),
      { kind: 'move', from: null, to: STANDBY },
    ],
  ])('%s', (_name, trigger, obs, want) => {
    const p = plan(PAIR, trigger, obs, NOW);
    const { force, ...rest } = want;
    expect(p).toMatchObject(rest);
    if (force !== undefined) expect(p.kind === 'move' && p.detach?.force).toBe(force);
  });

  it('a move waits for the detach before attaching; an already available ENI does not wait', () => {
    const moving = plan(PAIR, stopped(PRIMARY), world(FAILED_PRIMARY), NOW);
    expect(moving).toMatchObject({
      kind: 'move',
      awaitAvailable: true,
      detach: { attachmentId: 'eni-attach-1' },
    });
    const adopting = plan(PAIR, alarm(PRIMARY), world({ eni: eni({}, null) }), NOW);
    expect(adopting).toMatchObject({ kind: 'move', awaitAvailable: false, detach: undefined });
  });
});

describe('plan: every failed check is named, and nothing moves', () => {
  it.each<[string, Planned, Observation, string[]]>([
    ['ENI does not exist', stopped(PRIMARY), world({ eni: undefined, ...FAILED_PRIMARY }), ['eni-exists']],
    [
      'ENI is requester-managed',
      stopped(PRIMARY),
      world({ eni: eni({ requesterManaged: true }), ...FAILED_PRIMARY }),
      ['eni-requester-managed'],
    ],
    [
      'ENI is not a plain interface',
      stopped(PRIMARY),
      world({ eni: eni({ interfaceType: 'efa' }), ...FAILED_PRIMARY }),
      ['eni-type'],
    ],
    [
      "ENI is the holder's primary interface",
      stopped(PRIMARY),
      world({
        eni: eni({
          attachment: {
            id: 'a',
            instanceId: PRIMARY,
            deviceIndex: 0,
            status: 'attached',
            deleteOnTermination: false,
          },
        }),
        ...FAILED_PRIMARY,
      }),
      ['eni-primary'],
    ],
    [
      'ENI is held outside the pair',
      stopped(PRIMARY),
      world({ eni: eni({}, OUTSIDER), ...FAILED_PRIMARY }),
      ['eni-holder'],
    ],
    [
      'standby stopped',
      stopped(PRIMARY),
      world({ ...FAILED_PRIMARY, standby: { state: 'stopped' } }),
      ['target-running'],
    ],
    [
      'standby impaired',
      stopped(PRIMARY),
      world({ ...FAILED_PRIMARY, standby: { systemStatus: 'impaired' } }),
      ['target-healthy'],
    ],
    [
      'standby in another AZ',
      stopped(PRIMARY),
      world({ ...FAILED_PRIMARY, standby: { availabilityZone: 'eu-west-1b' } }),
      ['target-az'],
    ],
    [
      'standby in another VPC',
      stopped(PRIMARY),
      world({ ...FAILED_PRIMARY, standby: { vpcId: 'vpc-2' } }),
      ['target-vpc'],
    ],
    [
      'standby has another ENI at the device index',
      stopped(PRIMARY),
      world({
        ...FAILED_PRIMARY,
        standby: {
          maxInterfaces: 3,
          interfaces: [
            { id: 'eni-x0', deviceIndex: 0, networkCardIndex: 0 },
            { id: 'eni-x1', deviceIndex: 1, networkCardIndex: 0 },
          ],
        },
      }),
      ['target-device-index'],
    ],
    [
      'standby is at its interface limit',
      stopped(PRIMARY),
      world({
        ...FAILED_PRIMARY,
        standby: {
          maxInterfaces: 2,
          interfaces: [
            { id: 'eni-x0', deviceIndex: 0, networkCardIndex: 0 },
            { id: 'eni-x2', deviceIndex: 2, networkCardIndex: 0 },
          ],
        },
      }),
      ['target-interface-limit'],
    ],
    [
      'standby has another ENI at the device index of card 0, beside an EFA on card 1',
      stopped(PRIMARY),
      world({
        ...FAILED_PRIMARY,
        standby: {
          maxInterfaces: 4,
          interfaces: [
            { id: 'eni-x0', deviceIndex: 0, networkCardIndex: 0 },
            { id: 'eni-x1', deviceIndex: 1, networkCardIndex: 0 },
            { id: 'efa-1', deviceIndex: 1, networkCardIndex: 1 },
          ],
        },
      }),
      ['target-device-index'],
    ],
    [
      'the ENI carries more IPv4 addresses and prefixes than the standby allows per interface',
      stopped(PRIMARY),
      world({
        ...FAILED_PRIMARY,
        eni: eni({ addresses: { ipv4: 8, ipv6: 0 } }),
        standby: { perInterface: { ipv4: 4, ipv6: 4, ipv6Supported: true } },
      }),
      ['target-address-limit'],
    ],
    [
      'the ENI carries IPv6 addresses and the standby type has no IPv6',
      stopped(PRIMARY),
      world({
        ...FAILED_PRIMARY,
        eni: eni({ addresses: { ipv4: 1, ipv6: 1 } }),
        standby: { perInterface: { ipv4: 4, ipv6: 0, ipv6Supported: false } },
      }),
      ['target-address-limit'],
    ],
    [
      'the ENI carries more IPv6 addresses than the standby allows per interface',
      stopped(PRIMARY),
      world({
        ...FAILED_PRIMARY,
        eni: eni({ addresses: { ipv4: 1, ipv6: 5 } }),
        standby: { perInterface: { ipv4: 4, ipv6: 4, ipv6Supported: true } },
      }),
      ['target-address-limit'],
    ],
    [
      "standby's per-interface address limits unknown",
      stopped(PRIMARY),
      world({ ...FAILED_PRIMARY, standby: { perInterface: undefined } }),
      ['target-address-limit'],
    ],
    [
      'a drill onto a standby force-detached from, not stopped and started since (the holder serves)',
      move('standby'),
      world({
        record: { forcedDetach: { instanceId: STANDBY, at: Date.parse('2026-11-20T10:00:00.000Z') } },
        standby: { launchTime: Date.parse('2026-11-19T08:00:00.000Z') },
      }),
      ['target-forced-detach'],
    ],
    [
      'standby attached EBS status impaired',
      stopped(PRIMARY),
      world({ ...FAILED_PRIMARY, standby: { ebsStatus: 'impaired' } }),
      ['target-healthy'],
    ],
    [
      "standby's interface limit unknown",
      stopped(PRIMARY),
      world({ ...FAILED_PRIMARY, standby: { maxInterfaces: undefined } }),
      ['target-interface-limit'],
    ],
    ['standby missing', stopped(PRIMARY), world({ ...FAILED_PRIMARY, standby: null }), ['target-exists']],
    [
      'several at once: all are named',
      stopped(PRIMARY),
      world({
        ...FAILED_PRIMARY,
        standby: { state: 'stopped', availabilityZone: 'eu-west-1b', vpcId: 'vpc-2' },
      }),
      ['target-running', 'target-az', 'target-vpc'],
    ],
    [
      'unattached and neither member can take it',
      alarm(PRIMARY),
      world({
        eni: eni({}, null),
        primary: { state: 'stopped' },
        standby: { availabilityZone: 'eu-west-1b' },
      }),
      ['target-az', 'target-running'],
    ],
    [
      'manual move to a standby in another AZ',
      move('standby'),
      world({ standby: { availabilityZone: 'eu-west-1c' } }),
      ['target-az'],
    ],
  ])('%s', (_name, trigger, obs, checks) => {
    const p = plan(PAIR, trigger, obs, NOW);
    expect(p.kind).toBe('refused');
    expect(checksOf(p)).toEqual(checks);
  });
});

describe('plan: manual moves (drills and fail-back)', () => {
  it('moves a healthy holder without Force', () => {
    expect(plan(PAIR, move('standby'), world(), NOW)).toMatchObject({
      kind: 'move',
      from: PRIMARY,
      to: STANDBY,
      detach: { force: false },
    });
  });
  it('uses Force when the holder has failed', () => {
    expect(plan(PAIR, move('standby'), world(FAILED_PRIMARY), NOW)).toMatchObject({
      kind: 'move',
      detach: { force: true },
    });
  });
  it('defaults `to` to the member that does not hold the ENI', () => {
    expect(plan(PAIR, move(), world(), NOW)).toMatchObject({ kind: 'move', to: STANDBY });
    expect(plan(PAIR, move(), world({ eni: eni({}, STANDBY) }), NOW)).toMatchObject({
      kind: 'move',
      from: STANDBY,
      to: PRIMARY,
    });
    expect(plan(PAIR, move(), world({ eni: eni({}, null) }), NOW)).toMatchObject({
      kind: 'move',
      from: null,
      to: STANDBY,
    });
  });
  it('records a forced detach only off a holder that still runs (a stopped one is cured by its restart)', () => {
    const impaired = plan(PAIR, alarm(PRIMARY), world({ primary: { systemStatus: 'impaired' } }), NOW);
    expect(impaired).toMatchObject({ kind: 'move', detach: { force: true, record: true } });
    const stoppedHolder = plan(PAIR, stopped(PRIMARY), world(FAILED_PRIMARY), NOW);
    expect(stoppedHolder).toMatchObject({ kind: 'move', detach: { force: true, record: false } });
    expect(plan(PAIR, move('standby'), world(), NOW)).toMatchObject({
      detach: { force: false, record: false },
    });
  });
  it('a drill off a healthy holder puts the ENI back there if the attach fails; a forced move has nowhere to go back', () => {
    expect(plan(PAIR, move('standby'), world(), NOW)).toMatchObject({ kind: 'move', putBack: PRIMARY });
    expect(plan(PAIR, stopped(PRIMARY), world(FAILED_PRIMARY), NOW)).toMatchObject({
      kind: 'move',
      putBack: undefined,
    });
    expect(plan(PAIR, move(), world({ eni: eni({}, null) }), NOW)).toMatchObject({
      kind: 'move',
      putBack: undefined,
    });
  });
  it('a move to the current holder is unchanged', () => {
    expect(plan(PAIR, move('primary'), world(), NOW)).toMatchObject({ kind: 'unchanged', holder: PRIMARY });
  });
  it('a dry run plans the same move and marks it', () => {
    expect(plan(PAIR, move('standby', true), world(), NOW)).toMatchObject({
      kind: 'move',
      to: STANDBY,
      dryRun: true,
    });
  });
  it('refuses to take an ENI held outside the pair, even by hand', () => {
    expect(plan(PAIR, move('standby'), world({ eni: eni({}, OUTSIDER) }), NOW).kind).toBe('refused');
  });
});

describe('plan: redundancy (is the address protected right now?)', () => {
  it.each<[string, Observation, string | null, { attached: boolean; redundant: boolean }]>([
    ['healthy pair', world(), PRIMARY, { attached: true, redundant: true }],
    [
      'the standby is stopped',
      world({ standby: { state: 'stopped' } }),
      PRIMARY,
      { attached: true, redundant: false },
    ],
    [
      "the standby's attached EBS is impaired",
      world({ standby: { ebsStatus: 'impaired' } }),
      PRIMARY,
      { attached: true, redundant: false },
    ],
    ['attached to no one', world({ eni: eni({}, null) }), null, { attached: false, redundant: false }],
    [
      'after a move off a failed primary (asked about the new holder)',
      world(FAILED_PRIMARY),
      STANDBY,
      { attached: true, redundant: false },
    ],
    [
      'held outside the pair',
      world({ eni: eni({}, OUTSIDER) }),
      OUTSIDER,
      { attached: false, redundant: false },
    ],
  ])('%s', (_name, obs, holder, want) => {
    expect(redundancy(PAIR, obs, holder)).toEqual(want);
  });
});

describe('status (lambda/status.ts)', () => {
  it('reports the holder, both members and whether a move would pass', () => {
    const p = statusOf(PAIR, world({ standby: { availabilityZone: 'eu-west-1b' } }), NOW);
    expect(p).toMatchObject({ holder: PRIMARY });
    expect(p.reasons.join('\n')).toMatch(/attached to primary i-0123456789abcdef0 at device index 1/);
    expect(p.reasons.map((r) => /^([a-z-]+): /.exec(r)?.[1]).filter(Boolean)).toEqual(['target-az']);
  });
  it('reports a missing ENI as status, not as a refusal', () => {
    expect(statusOf(PAIR, world({ eni: undefined }), NOW)).toMatchObject({ holder: null });
  });
});

describe("plan: damping by cause (cool-down and flap limit, from the automatic moves in the pair's state)", () => {
  const ago = (...seconds: number[]) => seconds.map((x) => NOW - x * 1000);
  const IMPAIRED_PRIMARY = { primary: { systemStatus: 'impaired' } };
  /** An alarm about a primary that still runs but fails its system check, with these automatic moves behind it. */
  const impairedHolder = (moves: number[], pair: typeof PAIR = PAIR, flappingPaged?: string) =>
    plan(
      pair,
      alarm(PRIMARY),
      world({ record: { automaticMoves: moves, flappingPaged }, ...IMPAIRED_PRIMARY }),
      NOW,
    );

  it('refuses a move away from a holder that still runs within 300 s of the last automatic move, naming the cool-down', () => {
    const p = impairedHolder(ago(60));
    expect(p.kind).toBe('refused');
    expect(checksOf(p)).toEqual(['cooldown']);
    expect(p.reasons[0]).toMatch(/the last automatic move was 60 s ago; .* waits 300 s/);
  });
  it('leaves a holder that is stopped, stopping, shutting down, terminated or gone at once, whatever moved last', () => {
    for (const primary of [
      { state: 'stopped' },
      { state: 'stopping' },
      { state: 'shutting-down' },
      { state: 'terminated' },
      null,
    ]) {
      const p = plan(
        PAIR,
        alarm(PRIMARY),
        world({ record: { automaticMoves: ago(3000, 2000, 60) }, primary }),
        NOW,
      );
      expect(p).toMatchObject({ kind: 'move', to: STANDBY });
    }
  });
  it('moves once the cool-down has passed, or when it is 0', () => {
    expect(impairedHolder(ago(301)).kind).toBe('move');
    expect(impairedHolder(ago(5), { ...PAIR, cooldownSeconds: 0 }).kind).toBe('move');
    expect(impairedHolder(ago(100), { ...PAIR, cooldownSeconds: 60 }).kind).toBe('move');
  });
  it('names the cool-down together with any other failed check', () => {
    const p = plan(
      PAIR,
      alarm(PRIMARY),
      world({
        record: { automaticMoves: ago(10) },
        ...IMPAIRED_PRIMARY,
        standby: { state: 'stopped' },
      }),
      NOW,
    );
    expect(checksOf(p)).toEqual(['cooldown', 'target-running']);
  });
  it('counts only automatic moves: a manual move or an adoption (a last move, no automatic move) arms nothing', () => {
    const manual = {
      lastMove: {
        at: NOW - 10_000,
        from: STANDBY,
        to: PRIMARY,
        reason: 'drill',
        automatic: false,
        probe: false,
      },
    };
    expect(plan(PAIR, alarm(PRIMARY), world({ record: manual, ...IMPAIRED_PRIMARY }), NOW).kind).toBe('move');
    expect(plan(PAIR, move('standby'), world({ record: { automaticMoves: ago(10) } }), NOW).kind).toBe(
      'move',
    );
  });
  it('marks which moves count: away from a failed holder yes; adopting a stranded ENI and manual moves no', () => {
    expect(plan(PAIR, alarm(PRIMARY), world(IMPAIRED_PRIMARY), NOW)).toMatchObject({ automatic: true });
    expect(plan(PAIR, stopped(PRIMARY), world({ eni: eni({}, null) }), NOW)).toMatchObject({
      automatic: false,
    });
    expect(plan(PAIR, move('standby'), world(), NOW)).toMatchObject({ automatic: false });
  });
  it('over the flap limit (3 automatic moves in the last hour): refused as flapping, to be paged once', () => {
    const p = impairedHolder(ago(3000, 2000, 1000));
    expect(checksOf(p)).toEqual(['flapping']);
    expect(p.reasons[0]).toMatch(/3 automatic moves in the last hour \(the limit is 3\)/);
    const mark = new Date(NOW - 1_000_000).toISOString();
    expect(p).toMatchObject({ kind: 'refused', once: { key: 'flapping', mark } });
    const again = impairedHolder(ago(3000, 2000, 1000), PAIR, mark);
    expect(again).toMatchObject({ kind: 'refused', quiet: true });
    expect(again.kind === 'refused' && again.once).toBeFalsy();
  });
  it('the flap limit is the pair option maxMovesPerHour; moves older than an hour do not count', () => {
    expect(impairedHolder(ago(3000, 2000, 1000), { ...PAIR, maxMovesPerHour: 4 }).kind).toBe('move');
    expect(impairedHolder(ago(4000, 2000, 1000)).kind).toBe('move');
  });
  it('an empty record damps nothing', () => {
    expect(impairedHolder([]).kind).toBe('move');
  });
});

describe("plan: one address, many actors (the pair's lease)", () => {
  const lease = (untilMs: number) => ({
    lease: { owner: 'b1', target: STANDBY, takenAt: NOW - 1_000, until: NOW + untilMs },
  });

  it("another invocation's live lease: unchanged, quiet, whatever the trigger (a failed holder, a stranded ENI, a drill)", () => {
    for (const [trigger, obs] of [
      [stopped(PRIMARY), world({ record: lease(30_000), ...FAILED_PRIMARY })],
      [stopped(PRIMARY), world({ eni: eni({}, null), record: lease(30_000) })],
      [move('standby'), world({ record: lease(30_000) })],
    ] as const) {
      const p = plan(PAIR, trigger, obs, NOW);
      expect(p).toMatchObject({ kind: 'unchanged', quiet: true });
      expect(p.reasons[0]).toMatch(/^a move by another invocation is under way \(b1: to standby/);
    }
  });
  it('an expired lease is taken over: its mover died or hangs', () => {
    const obs = world({ record: lease(-1), ...FAILED_PRIMARY });
    expect(plan(PAIR, stopped(PRIMARY), obs, NOW)).toMatchObject({ kind: 'move', to: STANDBY });
  });
  it("an earlier version's live intent tag is honoured until it expires", () => {
    const tags = (ms: number) => ({
      'eni-failover:intent:old1': `${STANDBY} ${new Date(NOW + ms).toISOString()} ${new Date(NOW - 1000).toISOString()}`,
    });
    expect(
      plan(PAIR, stopped(PRIMARY), world({ eni: eni({ tags: tags(30_000) }), ...FAILED_PRIMARY }), NOW),
    ).toMatchObject({
      kind: 'unchanged',
      quiet: true,
    });
    expect(
      plan(PAIR, stopped(PRIMARY), world({ eni: eni({ tags: tags(-1) }), ...FAILED_PRIMARY }), NOW).kind,
    ).toBe('move');
  });
});

describe('plan: a forced-detach record never keeps the address on a dead holder', () => {
  const forced = {
    record: { forcedDetach: { instanceId: STANDBY, at: Date.parse('2026-11-20T10:00:00.000Z') } },
    standby: { launchTime: Date.parse('2026-11-19T08:00:00.000Z') },
  };
  it('a stopped holder is left for that standby all the same, the reasons saying why', () => {
    const p = plan(PAIR, stopped(PRIMARY), world({ ...forced, ...FAILED_PRIMARY }), NOW);
    expect(p).toMatchObject({ kind: 'move', to: STANDBY });
    expect(p.reasons.at(-1)).toMatch(
      /force-detached from standby .*; trying it all the same, since the address is down/,
    );
  });
  it('an ENI on no one goes to the member without a record first, else to the one with it', () => {
    expect(plan(PAIR, stopped(PRIMARY), world({ ...forced, eni: eni({}, null) }), NOW)).toMatchObject({
      kind: 'move',
      to: PRIMARY,
    });
    const both = world({ ...forced, eni: eni({}, null), primary: { state: 'stopped' } });
    expect(plan(PAIR, stopped(PRIMARY), both, NOW)).toMatchObject({ kind: 'move', to: STANDBY });
  });
});

describe('plan: the state table could not be read', () => {
  const down = { stateUnavailable: 'TimeoutError: no answer' };
  it('a holder that is not running, or fails its instance or system check, is still left, without the lease', () => {
    for (const primary of [
      { state: 'stopped' },
      { instanceStatus: 'impaired' },
      { systemStatus: 'impaired' },
    ]) {
      const p = plan(PAIR, alarm(PRIMARY), world({ ...down, primary }), NOW);
      expect(p).toMatchObject({ kind: 'move', to: STANDBY, withoutLease: true });
      expect(p.reasons.at(-1)).toMatch(/state table could not be read .*moving without the lease/);
    }
  });
  it('an ENI attached to no one is still attached', () => {
    expect(plan(PAIR, stopped(PRIMARY), world({ ...down, eni: eni({}, null) }), NOW)).toMatchObject({
      kind: 'move',
      withoutLease: true,
    });
  });
  it('any other move is refused: a drill, a fail-back, an EBS- or application-only failure, a planned move', () => {
    const named: Pair = { ...PAIR, applicationCheck: { protocol: 'http', port: 80 } };
    const ready = { applicationStatus: 'ok' };
    const cases: [Pair, Planned, Observation][] = [
      [PAIR, move('standby'), world(down)],
      [PAIR, alarm(PRIMARY), world({ ...down, primary: { ebsStatus: 'impaired' } })],
      [named, alarm(PRIMARY), world({ ...down, primary: { applicationStatus: 'impaired' }, standby: ready })],
    ];
    for (const [pair, trigger, obs] of cases) {
      const p = plan(pair, trigger, obs, NOW);
      expect(p.kind).toBe('refused');
      expect(checksOf(p)).toEqual(['state-unavailable']);
    }
  });
  it('a dry run is refused too: it rehearses what the move would do, and the move would wait', () => {
    expect(checksOf(plan(PAIR, move('standby', true), world(down), NOW))).toEqual(['state-unavailable']);
  });
});

describe('plan: Force by need', () => {
  it('without Force for a holder that answers (only its attached-EBS check failed), escalated after 20 s', () => {
    const p = plan(PAIR, alarm(PRIMARY), world({ primary: { ebsStatus: 'impaired' } }), NOW);
    expect(p).toMatchObject({
      kind: 'move',
      detach: { force: false, record: false },
      escalate: { attachmentId: 'eni-attach-1', instanceId: PRIMARY, afterMs: 20_000, record: true },
    });
  });
  it('with Force, and no escalation, for a holder that is not running or fails a reachability check', () => {
    for (const primary of [
      { state: 'stopped' },
      { instanceStatus: 'impaired' },
      { systemStatus: 'impaired' },
    ]) {
      const p = plan(PAIR, alarm(PRIMARY), world({ primary }), NOW);
      expect(p).toMatchObject({ kind: 'move', detach: { force: true }, escalate: undefined });
    }
  });
  it('a drill is never escalated: a person is watching', () => {
    expect(plan(PAIR, move('standby'), world(), NOW)).toMatchObject({
      detach: { force: false },
      escalate: undefined,
    });
  });
});

describe('plan: fencing', () => {
  const fencing = { ...PAIR, fence: true };
  it('stops a failed holder that still runs (impaired), after the forced detach', () => {
    const p = plan(fencing, alarm(PRIMARY), world({ primary: { systemStatus: 'impaired' } }), NOW);
    expect(p).toMatchObject({ kind: 'move', detach: { force: true }, fence: PRIMARY });
  });
  it('does not stop what is already stopping or stopped, a healthy holder, or when the pair does not fence', () => {
    expect(plan(fencing, stopped(PRIMARY), world(FAILED_PRIMARY), NOW)).toMatchObject({
      kind: 'move',
      fence: undefined,
    });
    expect(plan(fencing, move('standby'), world(), NOW)).toMatchObject({ kind: 'move', fence: undefined });
    expect(plan(PAIR, alarm(PRIMARY), world({ primary: { systemStatus: 'impaired' } }), NOW)).toMatchObject({
      fence: undefined,
    });
  });
});

describe('plan: application health per check (applicationCheckId) and maintenance, one row each', () => {
  const OWN = 'asc-0aaaaaaaaaaaaaaa1';
  const named = { ...PAIR, applicationCheckId: OWN };
  const app = (own: string | undefined, more: Record<string, string> = {}, suppressed = false) => ({
    application: {
      checks: Object.fromEntries(
        Object.entries({ ...(own === undefined ? {} : { [OWN]: own }), ...more }).map(([id, status]) => [
          id,
          { status, reason: undefined },
        ]),
      ),
      suppressed: suppressed ? { resumeAt: undefined } : undefined,
    },
  });
  const window = (minutesFromNow: number) => ({
    maintenance: { until: NOW + minutesFromNow * 60_000, by: 'kernel patch' },
  });
  const reconcile: Planned = { kind: 'reconcile', pair: undefined };
  const unreadable = {
    application: { checks: {}, suppressed: undefined, unreadable: 'UnauthorizedOperation: not authorized' },
  };

  it.each<[string, Planned, Observation, Record<string, unknown>, string[]?]>([
    [
      "another team's check failed, the aggregate impaired, the pair's own passed: unchanged",
      reconcile,
      world({
        primary: { ...app('passed', { 'asc-0bbbbbbbbbbbbbbb2': 'failed' }), applicationStatus: 'impaired' },
      }),
      { kind: 'unchanged', holder: PRIMARY },
    ],
    [
      "the pair's own check failed on a running holder: move, no Force, put back on it if the attach fails",
      reconcile,
      world({ primary: app('failed'), standby: app('passed') }),
      { kind: 'move', to: STANDBY, detach: { force: false }, putBack: PRIMARY },
    ],
    [
      'own check failed, target initializing: refused',
      reconcile,
      world({ primary: app('failed'), standby: app('initializing') }),
      { kind: 'refused' },
      ['target-application'],
    ],
    [
      'own check failed, target passed but suppressed: refused',
      reconcile,
      world({ primary: app('failed'), standby: app('passed', {}, true) }),
      { kind: 'refused' },
      ['target-application'],
    ],
    [
      'own check failed, target has no result for the check: refused',
      reconcile,
      world({ primary: app('failed'), standby: app(undefined) }),
      { kind: 'refused' },
      ['target-application'],
    ],
    [
      'holder stopped, target initializing: move with Force (the readiness rule is for application-only moves)',
      reconcile,
      world({ primary: { state: 'stopped', ...app('failed') }, standby: app('initializing') }),
      { kind: 'move', to: STANDBY, detach: { force: true } },
    ],
    [
      'target fails its own check: refused for any move',
      reconcile,
      world({ primary: { state: 'stopped' }, standby: app('failed') }),
      { kind: 'refused' },
      ['target-application'],
    ],
    [
      'a window on the ENI: a stopped holder is left alone',
      reconcile,
      world({ record: window(30), ...FAILED_PRIMARY }),
      { kind: 'unchanged', holder: PRIMARY },
    ],
    [
      'a window on the ENI: an ENI attached to no one is left alone',
      reconcile,
      world({ eni: eni({}, null), record: window(30) }),
      { kind: 'unchanged', holder: null },
    ],
    [
      'a window that has ended: the stopped holder is left for the standby',
      stopped(PRIMARY),
      world({ record: window(-1), ...FAILED_PRIMARY }),
      { kind: 'move', to: STANDBY },
    ],
    [
      "the holder's application reporting suppressed: its failed check moves nothing",
      reconcile,
      world({ primary: app('failed', {}, true), standby: app('passed') }),
      { kind: 'unchanged', holder: PRIMARY },
    ],
    [
      "the holder's application reporting suppressed, and it stopped: moved off at once, with Force",
      reconcile,
      world({ primary: { state: 'stopped', ...app('failed', {}, true) }, standby: app('passed') }),
      { kind: 'move', to: STANDBY, detach: { force: true } },
    ],
    [
      "the holder's application reporting suppressed, its EBS check impaired: moved off, without Force",
      reconcile,
      world({ primary: { ebsStatus: 'impaired', ...app('passed', {}, true) }, standby: app('passed') }),
      { kind: 'move', to: STANDBY, detach: { force: false } },
    ],
    [
      'application checks unreadable, holder stopped: moved off on its state, with Force',
      reconcile,
      world({ primary: { state: 'stopped', ...unreadable }, standby: unreadable }),
      { kind: 'move', to: STANDBY, detach: { force: true } },
    ],
    [
      'application checks unreadable, running holder: unchanged (no check reads failed)',
      reconcile,
      world({ primary: unreadable, standby: unreadable }),
      { kind: 'unchanged', holder: PRIMARY },
    ],
    [
      "own check failed, target's cannot be read: refused, naming the error",
      reconcile,
      world({ primary: app('failed'), standby: unreadable }),
      { kind: 'refused' },
      ['target-application'],
    ],
    [
      'a manual move during a window: moved',
      move('standby'),
      world({ record: window(30) }),
      { kind: 'move', to: STANDBY },
    ],
  ])('%s', (_name, trigger, obs, want, checks) => {
    const p = plan(named, trigger, obs, NOW);
    expect(p).toMatchObject(want);
    if (checks) expect(checksOf(p)).toEqual(checks);
  });

  it('unreadable application checks: the reasons say why once, and a refusal names the error', () => {
    const p = plan(named, reconcile, world({ primary: app('failed'), standby: unreadable }), NOW);
    const said = p.reasons.filter((r) => r.includes('UnauthorizedOperation'));
    expect(said).toEqual([
      expect.stringMatching(
        /^target-application: standby i-\w+ must pass .*could not be read \(UnauthorizedOperation/,
      ),
      expect.stringMatching(
        /^application checks could not be read \(DescribeApplicationStatus: UnauthorizedOperation/,
      ),
    ]);
  });

  it('status and the pair state show the window and who set it', () => {
    const obs = world({ record: window(30) });
    expect(statusOf(named, obs, NOW).reasons).toContainEqual(
      expect.stringMatching(/^in maintenance until 2026-11-22T10:45:00Z \(30 min left\): kernel patch;/),
    );
    expect(pairState(named, obs, NOW).maintenance).toEqual({
      until: '2026-11-22T10:45:00.000Z',
      why: 'kernel patch',
    });
    expect(pairState(named, world(), NOW).maintenance).toBeNull();
  });
});

describe('plan: planned moves (Spot warnings, rebalance recommendations, scheduled events)', () => {
  const spot = (instanceId: string, sentAt = '2026-11-22T10:14:00.000Z'): Planned => ({
    kind: 'planned',
    warning: 'spot-interruption',
    instanceId,
    sentAt,
    action: 'terminate',
    endsAt: new Date(Date.parse(sentAt) + 120_000).toISOString(),
    region: 'eu-west-1',
  });
  const rebalance = (instanceId: string): Planned => ({
    kind: 'planned',
    warning: 'rebalance-recommendation',
    instanceId,
    sentAt: '2026-11-22T10:00:00.000Z',
    action: undefined,
    endsAt: undefined,
    region: 'eu-west-1',
  });
  const reconcile: Planned = { kind: 'reconcile', pair: undefined };
  const minutes = (n: number) => NOW + n * 60_000;
  const retirement = (inMinutes: number, code = 'instance-retirement') => ({
    scheduledEvents: [
      {
        code,
        notBefore: minutes(inMinutes),
        notAfter: minutes(inMinutes + 120),
        description: 'The instance is running on degraded hardware',
      },
    ],
  });
  const named = { ...PAIR, applicationCheckId: 'asc-0aaaaaaaaaaaaaaa1' };
  const ownCheck = (status: string) => ({
    application: {
      checks: { 'asc-0aaaaaaaaaaaaaaa1': { status, reason: undefined } },
      suppressed: undefined,
    },
  });
  // Three automatic moves in the last hour, the last 10 s ago: both the cool-down and the flap limit would refuse.
  const recentlyMoved = { automaticMoves: [1_800_000, 600_000, 10_000].map((ago) => NOW - ago) };
  type Expect = Partial<Record<'kind' | 'from' | 'to' | 'automatic', unknown>> & {
    force?: boolean;
    checks?: string[];
    reason?: RegExp;
    once?: { key: string; mark: string } | null;
  };

  it.each<[string, Planned, Observation, Expect, Pair?]>([
    [
      'Spot warning about the healthy holder: moves now, without Force',
      spot(PRIMARY),
      world(),
      {
        kind: 'move',
        from: PRIMARY,
        to: STANDBY,
        force: false,
        reason: /going away: Spot interruption warning/,
      },
    ],
    [
      'Spot warning about the holder 10 s after its third automatic move this hour: not damped (it is going away)',
      spot(PRIMARY),
      world({ record: recentlyMoved }),
      { kind: 'move', to: STANDBY, force: false },
    ],
    [
      'control: the same history damps a failover off a holder that still runs (impaired)',
      alarm(PRIMARY),
      world({ record: recentlyMoved, primary: { systemStatus: 'impaired' } }),
      { kind: 'refused', checks: ['cooldown', 'flapping'] },
    ],
    [
      'Spot warning about a holder that has stopped already: a planned move, with Force (by need)',
      spot(PRIMARY),
      world({ primary: { state: 'stopping' } }),
      { kind: 'move', to: STANDBY, force: true, automatic: false },
    ],
    [
      'Spot warning about a holder whose EBS check failed, 10 s after its third automatic move: planned, not damped, no Force',
      spot(PRIMARY),
      world({ record: recentlyMoved, primary: { ebsStatus: 'impaired' } }),
      { kind: 'move', to: STANDBY, force: false, automatic: false, reason: /going away: Spot/ },
    ],
    [
      'holder retires in 14 min and its own application check failed, recently moved: planned, not damped',
      reconcile,
      world({
        record: recentlyMoved,
        primary: { ...retirement(14), ...ownCheck('failed') },
        standby: ownCheck('passed'),
      }),
      { kind: 'move', to: STANDBY, force: false, automatic: false, reason: /scheduled instance-retirement/ },
      named,
    ],
    [
      "Spot warning about the holder, the standby's own check initializing: refused (target-application)",
      spot(PRIMARY),
      world({ primary: ownCheck('passed'), standby: ownCheck('initializing') }),
      { kind: 'refused', checks: ['target-application'] },
      named,
    ],
    [
      "holder retires in 14 min, the standby's own check passed: moves",
      reconcile,
      world({ primary: { ...retirement(14), ...ownCheck('passed') }, standby: ownCheck('passed') }),
      { kind: 'move', to: STANDBY, force: false },
      named,
    ],
    [
      'Spot warning about the holder, standby stopped: refused, naming the check',
      spot(PRIMARY),
      world({ standby: { state: 'stopped' } }),
      { kind: 'refused', checks: ['target-running'] },
    ],
    [
      'Spot warning about the holder, standby due for its own retirement: refused (target-going-away)',
      spot(PRIMARY),
      world({ standby: retirement(5) }),
      { kind: 'refused', checks: ['target-going-away'] },
    ],
    [
      'Spot warning about the standby: nothing moves; "redundancy ends at" paged once',
      spot(STANDBY),
      world(),
      {
        kind: 'unchanged',
        reason:
          /^redundancy ends at 2026-11-22T10:16:00.000Z: Spot interruption warning for i-0fedcba9876543210/,
        once: { key: 'standby', mark: 'spot-interruption 2026-11-22T10:14:00.000Z' },
      },
    ],
    [
      'the same Spot warning about the standby again (a retry, another container): paged already',
      spot(STANDBY),
      world({ record: { notices: { standby: 'spot-interruption 2026-11-22T10:14:00.000Z' } } }),
      { kind: 'unchanged', once: null, reason: /redundancy ends at/ },
    ],
    [
      'rebalance recommendation, pair without moveOnRebalance: nothing moves',
      rebalance(PRIMARY),
      world(),
      {
        kind: 'unchanged',
        reason: /does not move on rebalance recommendations \(moveOnRebalance is off\)/,
        once: null,
      },
    ],
    [
      'rebalance recommendation about the holder, pair with moveOnRebalance: moves now, without Force',
      rebalance(PRIMARY),
      world(),
      { kind: 'move', to: STANDBY, force: false },
      { ...PAIR, moveOnRebalance: true },
    ],
    [
      'holder retires in 14 min (lead 15): moves now, without Force, not damped',
      reconcile,
      world({ record: recentlyMoved, primary: retirement(14) }),
      {
        kind: 'move',
        from: PRIMARY,
        to: STANDBY,
        force: false,
        reason: /scheduled instance-retirement 2026-11-22T10:29:00Z/,
      },
    ],
    [
      'holder retires in 16 min (lead 15): not yet',
      reconcile,
      world({ primary: retirement(16) }),
      { kind: 'unchanged', once: null },
    ],
    [
      'holder retires in 50 min, lead 60 for this pair: moves',
      reconcile,
      world({ primary: retirement(50) }),
      { kind: 'move', to: STANDBY, force: false },
      { ...PAIR, scheduledEventLeadMinutes: 60 },
    ],
    [
      'holder has a scheduled stop or reboot within the lead: moves',
      reconcile,
      world({ primary: retirement(10, 'system-reboot') }),
      { kind: 'move', to: STANDBY, force: false },
    ],
    [
      'holder has system maintenance within the lead (it keeps running): nothing moves',
      reconcile,
      world({ primary: retirement(10, 'system-maintenance') }),
      { kind: 'unchanged', once: null },
    ],
    [
      'an alarm about the standby still sees the holder due for retirement: moves',
      alarm(STANDBY),
      world({ primary: retirement(5) }),
      { kind: 'move', to: STANDBY, force: false },
    ],
    [
      'standby retires in 3 days: nothing moves; paged once, when first seen, with the window',
      reconcile,
      world({ standby: retirement(3 * 24 * 60) }),
      {
        kind: 'unchanged',
        reason:
          /^redundancy ends at 2026-11-25T10:15:00.000Z: standby i-0fedcba9876543210 has a scheduled instance-retirement 2026-11-25T10:15:00Z to 2026-11-25T12:15:00Z/,
        once: { key: 'standby', mark: 'instance-retirement 2026-11-25T10:15:00.000Z' },
      },
    ],
    [
      "standby's retirement seen again by the next round: paged already, quiet",
      reconcile,
      world({
        record: { notices: { standby: 'instance-retirement 2026-11-25T10:15:00.000Z' } },
        standby: retirement(3 * 24 * 60),
      }),
      { kind: 'unchanged', once: null, reason: /reads healthy now/ },
    ],
  ])('%s', (_name, trigger, obs, want, pair = PAIR) => {
    const p = plan(pair, trigger, obs, NOW);
    const { force, checks, reason, once, ...fields } = want;
    expect(p).toMatchObject(fields);
    if (force !== undefined) expect(p.kind === 'move' && p.detach?.force).toBe(force);
    if (checks) expect(checksOf(p)).toEqual(checks);
    if (reason) expect(p.reasons.join('\n')).toMatch(reason);
    if (once !== undefined) expect(p.kind === 'unchanged' ? (p.once ?? null) : 'not unchanged').toEqual(once);
  });
});
