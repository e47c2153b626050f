import {
  DeleteNetworkInterfaceCommand,
  DescribeInstancesCommand,
  DetachNetworkInterfaceCommand,
  StartInstancesCommand,
} from '@aws-sdk/client-ec2';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { Ec2Adapter } from '../../lambda/aws/ec2.ts';
import type { Pair } from '../../lambda/config.ts';
import { execute } from '../../lambda/execute.ts';
import { plan } from '../../lambda/plan.ts';
import { BREADCRUMB } from '../../lambda/view.ts';
import { buildWorld, type MotoWorld, useEndpoint } from '../../ops/world.ts';
import { SAMPLE_INSTANCE, sample } from '../helpers/events.ts';
import { localFailover } from '../helpers/local-failover.ts';
import { motoState } from '../helpers/state.ts';
import { type Moto, runMotoTests, startMoto } from '../helpers/tools.ts';

/** The real function against moto's EC2 (and SSM). */
const failoverFor = (pairs: Pair[]) => localFailover(pairs).invoke;

const checks = (r: { reasons: string[] }) =>
  r.reasons.map((x) => /^([a-z-]+): /.exec(x)?.[1]).filter(Boolean);

describe.runIf(runMotoTests)('failover against moto EC2', () => {
  let moto: Moto;
  let w: MotoWorld;
  const stopped = (id: string) => sample('eventbridge-state-change', { [SAMPLE_INSTANCE]: id });
  const alarm = (id: string) => sample('sns-alarm', { [SAMPLE_INSTANCE]: id });

  beforeAll(async () => {
    moto = await startMoto();
    useEndpoint(moto.url);
  });
  afterAll(async () => moto?.stop());
  beforeEach(async () => {
    await moto.reset();
    w = await buildWorld();
  });

  it("a stopped primary: the ENI ends on the standby at its device index, the move in the pair's state on moto's DynamoDB", async () => {
    await w.stop(w.primary);
    const r = await failoverFor([w.pair])(stopped(w.primary));
    expect(r).toMatchObject({ outcome: 'moved', from: w.primary, to: w.standby });
    const now = await w.where();
    expect(now).toMatchObject({ holder: w.standby, deviceIndex: 1 });
    // One breadcrumb for a person; the record is the table's.
    expect(now.tags[BREADCRUMB]).toMatch(new RegExp(`${w.primary} -> ${w.standby}: .*state is stopped`));
    const record = await motoState().read('web');
    expect(record.lastMove).toMatchObject({ from: w.primary, to: w.standby, automatic: true });
    expect(record.lease).toBeUndefined();
  });

  it('a status-check alarm via SNS moves it; the same alarm again changes nothing', async () => {
    await w.stop(w.primary);
    const failover = failoverFor([w.pair]);
    expect(await failover(alarm(w.primary))).toMatchObject({ outcome: 'moved', to: w.standby });
    expect(await failover(alarm(w.primary))).toMatchObject({ outcome: 'unchanged', from: w.standby });
    expect((await w.where()).holder).toBe(w.standby);
  });

  it('a reconcile round over two pairs: one batched look, the stranded ENI healed, the healthy pair untouched', async () => {
    // A second pair whose ENI a failed move left attached to no one.
    const [p2, s2] = [await w.launch(w.subnetA), await w.launch(w.subnetA)];
    const stranded = await w.createEni(w.subnetA);
    const second: Pair = {
      name: 'api',
      networkInterfaceId: stranded,
      primaryInstanceId: p2,
      standbyInstanceId: s2,
      deviceIndex: 1,
    };
    const round = await localFailover([w.pair, second]).answer({ action: 'reconcile' });
    expect(round).toEqual([
      expect.objectContaining({ pair: 'web', outcome: 'unchanged', from: w.primary }),
      expect.objectContaining({ pair: 'api', outcome: 'moved', from: null, to: s2 }),
    ]);
    expect((await w.where(stranded)).holder).toBe(s2);
    expect((await w.where()).holder).toBe(w.primary);
  });

  it('an alarm on a primary that is running changes nothing', async () => {
    expect(await failoverFor([w.pair])(alarm(w.primary))).toMatchObject({ outcome: 'unchanged' });
    expect((await w.where()).holder).toBe(w.primary);
  });

  // moto itself accepts each of these attaches: only the function's own checks keep the ENI home.
  it('refuses a standby in another AZ (moto would attach it)', async () => {
    await w.stop(w.primary);
    const r = await failoverFor([{ ...w.pair, standbyInstanceId: w.decoy }])(stopped(w.primary));
    expect(r.outcome).toBe('refused');
    expect(checks(r)).toEqual(['target-az']);
    expect((await w.where()).holder).toBe(w.primary);
  });

  it('refuses a standby with another ENI at the device index (moto would replace it)', async () => {
    // m5.large allows 3 interfaces, so the index, not the limit, is what stands in the way.
    const standby = await w.launch(w.subnetA, 'm5.large');
    const occupant = await w.createEni(w.subnetA, { instanceId: standby, deviceIndex: 1 });
    await w.stop(w.primary);
    const r = await failoverFor([{ ...w.pair, standbyInstanceId: standby }])(stopped(w.primary));
    expect(checks(r)).toEqual(['target-device-index']);
    expect(r.reasons.join()).toContain(occupant);
    expect((await w.where()).holder).toBe(w.primary);
    expect((await w.where(occupant)).holder).toBe(standby);
  });

  it("refuses a standby at its instance type's interface limit (t3.micro: 2)", async () => {
    await w.createEni(w.subnetA, { instanceId: w.standby, deviceIndex: 2 });
    await w.stop(w.primary);
    const r = await failoverFor([w.pair])(stopped(w.primary));
    expect(checks(r)).toEqual(['target-interface-limit']);
    expect((await w.where()).holder).toBe(w.primary);
  });

  it('a larger standby (m5.large: 3) has room for the same move', async () => {
    const big = await w.launch(w.subnetA, 'm5.large');
    await w.createEni(w.subnetA, { instanceId: big, deviceIndex: 2 });
    await w.stop(w.primary);
    const r = await failoverFor([{ ...w.pair, standbyInstanceId: big }])(stopped(w.primary));
    expect(r.outcome).toBe('moved');
    expect((await w.where()).holder).toBe(big);
  });

  it('refuses a stopped standby, naming both failed checks when the AZ is wrong too', async () => {
    await w.stop(w.primary);
    await w.stop(w.decoy);
    const r = await failoverFor([{ ...w.pair, standbyInstanceId: w.decoy }])(stopped(w.primary));
    expect(checks(r)).toEqual(['target-running', 'target-az']);
    expect((await w.where()).holder).toBe(w.primary);
  });

  it('never takes an ENI held by an instance outside the pair', async () => {
    const outsider = await w.launch(w.subnetA);
    const held = await w.createEni(w.subnetA, { instanceId: outsider, deviceIndex: 1 });
    const r = await failoverFor([{ ...w.pair, networkInterfaceId: held }])({
      action: 'move',
      pair: 'web',
      to: 'standby',
    });
    expect(checks(r)).toEqual(['eni-holder']);
    expect((await w.where(held)).holder).toBe(outsider);
  });

  it("refuses to move an instance's primary interface (device index 0)", async () => {
    const { Reservations } = await w.ec2.send(new DescribeInstancesCommand({ InstanceIds: [w.primary] }));
    const root = Reservations?.[0]?.Instances?.[0]?.NetworkInterfaces?.find(
      (n) => n.Attachment?.DeviceIndex === 0,
    )?.NetworkInterfaceId as string;
    const r = await failoverFor([{ ...w.pair, networkInterfaceId: root }])({
      action: 'move',
      pair: 'web',
      to: 'standby',
    });
    expect(checks(r)).toEqual(['eni-primary']);
    expect((await w.where(root)).holder).toBe(w.primary);
  });

  it('an ENI that no longer exists is refused by name', async () => {
    const gone = await w.createEni(w.subnetA);
    await w.ec2.send(new DeleteNetworkInterfaceCommand({ NetworkInterfaceId: gone }));
    const r = await failoverFor([{ ...w.pair, networkInterfaceId: gone }])(stopped(w.primary));
    expect(checks(r)).toEqual(['eni-exists']);
  });

  it('an ENI attached to no one (a detach whose attach failed) is attached to the standby', async () => {
    const before = await new Ec2Adapter(w.ec2).describeEni(w.eni);
    await w.ec2.send(new DetachNetworkInterfaceCommand({ AttachmentId: before?.attachment?.id }));
    await w.stop(w.primary);
    const r = await failoverFor([w.pair])(stopped(w.primary));
    expect(r).toMatchObject({ outcome: 'moved', from: null, to: w.standby });
    expect(await w.where()).toMatchObject({ holder: w.standby, deviceIndex: 1 });
  });

  it("flap damping reads the pair's state on moto's DynamoDB: a fresh move damps a holder that still runs, never a stopped one", async () => {
    await w.stop(w.primary);
    const failover = failoverFor([w.pair]);
    expect(await failover(stopped(w.primary))).toMatchObject({ outcome: 'moved', to: w.standby });
    // The automatic move is recorded in the pair's item, and read back from it.
    const adapter = new Ec2Adapter(w.ec2);
    const record = await motoState().read('web');
    expect(record.automaticMoves).toHaveLength(1);
    // Moto cannot make a running instance impaired: the planner judges the observation EC2 gave, the
    // standby's system check read as impaired. The fresh tag damps a move off a holder that still runs.
    await w.ec2.send(new StartInstancesCommand({ InstanceIds: [w.primary] }));
    const running = await adapter.observe(w.pair);
    const standby = running.instances[w.standby];
    if (!standby) throw new Error('moto lost the standby');
    const impaired = {
      ...running,
      record,
      instances: { ...running.instances, [w.standby]: { ...standby, systemStatus: 'impaired' } },
    };
    const damped = plan(w.pair, { kind: 'reconcile', pair: undefined }, impaired, Date.now());
    expect(damped).toMatchObject({ kind: 'refused', from: w.standby, to: w.primary });
    expect(checks(damped)).toEqual(['cooldown']);
    // Damping by cause: the same fresh tag does not keep the address on a stopped holder; it is left at once.
    await w.stop(w.standby);
    const r = await failover(stopped(w.standby));
    expect(r).toMatchObject({ outcome: 'moved', from: w.standby, to: w.primary });
    expect(checks(r)).toEqual([]);
    expect((await w.where()).holder).toBe(w.primary);
    // Each automatic move is recorded in the pair's item, and no lease is left behind.
    const after = await motoState().read('web');
    expect(after.automaticMoves).toHaveLength(2);
    expect(after.lease).toBeUndefined();
  });

  it('fencing stops the old holder through the real EC2 API', async () => {
    const adapter = new Ec2Adapter(w.ec2);
    const eni = await adapter.describeEni(w.eni);
    const { steps, notes } = await execute(
      {
        kind: 'move',
        from: w.primary,
        to: w.standby,
        detach: {
          attachmentId: eni?.attachment?.id as string,
          instanceId: w.primary,
          force: true,
          record: false,
        },
        awaitAvailable: true,
        dryRun: false,
        putBack: undefined,
        fence: w.primary,
        verifyAddress: undefined,
        automatic: false,
        probe: false,
        withoutLease: true,
        detachWithinMs: undefined,
        escalate: undefined,
        reasons: [],
      },
      w.pair,
      adapter,
      { deadline: Date.now() + 30_000, reason: 'fencing test' },
    );
    expect(steps.map((s) => s.name)).toContain('fence');
    expect(notes).toContainEqual(expect.stringMatching(/^fence: stopped/));
    const state = (await adapter.observe(w.pair)).instances[w.primary]?.state;
    expect(['stopping', 'stopped']).toContain(state);
    expect((await w.where()).holder).toBe(w.standby);
  });

  it('verifyOs asks the new holder through SSM Run Command (moto answers for the OS)', async () => {
    await w.stop(w.primary);
    const r = await failoverFor([{ ...w.pair, verifyOs: true }])(stopped(w.primary));
    expect(r.outcome).toBe('moved');
    expect(r.steps.map((s) => s.name).at(-1)).toBe('os-check');
    expect(r.reasons).toContainEqual(
      expect.stringMatching(new RegExp(`^os-check: ${w.standby} brought 10\\.0\\.1\\.\\d+ up`)),
    );
  });

  it('drills: a dry run changes nothing; a move and a fail-back do', async () => {
    const failover = failoverFor([w.pair]);
    expect(await failover({ action: 'move', pair: 'web', dryRun: true })).toMatchObject({
      outcome: 'dry-run',
      to: w.standby,
    });
    expect((await w.where()).holder).toBe(w.primary);
    expect(await failover({ action: 'move', pair: 'web', to: 'standby' })).toMatchObject({
      outcome: 'moved',
    });
    expect((await w.where()).holder).toBe(w.standby);
    expect(await failover({ action: 'move', pair: 'web', to: 'primary' })).toMatchObject({
      outcome: 'moved',
    });
    expect(await w.where()).toMatchObject({ holder: w.primary, deviceIndex: 1 });
    const status = await failover({ action: 'status', pair: 'web' });
    expect(status).toMatchObject({ outcome: 'status', from: w.primary });
  });

  it("maintenance through moto: the window in the pair's item holds a round off a stopped primary; off lets it move", async () => {
    const failover = failoverFor([w.pair]);
    const on = await failover({ action: 'maintenance', pair: 'web', minutes: 30, reason: 'kernel patch' });
    expect(on).toMatchObject({ outcome: 'status', from: w.primary });
    expect((await motoState().read('web')).maintenance?.by).toMatch(/^kernel patch/);
    // The ENI's tags are the owner's: the window is not there.
    expect(Object.keys((await w.where()).tags)).toEqual([]);
    await w.stop(w.primary);
    const paused = await failover({ action: 'reconcile', pair: 'web' });
    expect(paused).toMatchObject({ outcome: 'unchanged', from: w.primary });
    // The stopped holder is DOWN: the person who set the window is told once.
    expect(paused.reasons[0]).toMatch(/^DOWN: primary .* has failed \(state is stopped\)/);
    expect(paused.reasons[1]).toMatch(/in maintenance until .*: kernel patch/);
    expect((await w.where()).holder).toBe(w.primary);
    const off = await failover({ action: 'maintenance', pair: 'web', minutes: 0 });
    expect(off.reasons[0]).toBe('maintenance ended: automatic moves of pair web resume');
    expect((await motoState().read('web')).maintenance).toBeUndefined();
    expect(await failover({ action: 'reconcile', pair: 'web' })).toMatchObject({
      outcome: 'moved',
      to: w.standby,
    });
  });
});
