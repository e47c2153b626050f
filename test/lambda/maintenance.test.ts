// Maintenance (docs/contract.md event 6). {"action":"maintenance","pair":"web","minutes":30} records a
// window in the pair's state that pauses its automatic moves in every container; manual moves still work;
// a holder that fails or is going away during it pages DOWN once; a holder whose application status
// reporting is suppressed is in maintenance too. Through the real adapter, planner and executor over the
// in-memory EC2 and the state table on dynalite.
import {
  CreateTagsCommand,
  DetachNetworkInterfaceCommand,
  DisableApplicationStatusCheckSuppressionCommand,
  EnableApplicationStatusCheckSuppressionCommand,
} from '@aws-sdk/client-ec2';
import { describe, expect, it } from 'vitest';
import type { Pair } from '../../lambda/config.ts';
import { sample } from '../helpers/events.ts';
import { harness, outcome } from '../helpers/harness.ts';
import { localState, tableThrottled, tableUnreachable, withFaults } from '../helpers/state.ts';
import { PAIR, PRIMARY, STANDBY } from '../helpers/world.ts';

const UNTIL = '2026-11-22T10:45:00.000Z'; // the harness clock (10:15) plus 30 minutes
const reconcile = { action: 'reconcile' };
const stoppedEvent = sample('eventbridge-state-change');

describe("maintenance: a window in the pair's state pauses automatic moves", () => {
  it('starts: the window and who set it in the state; the answer is the status with the window, paged once', async () => {
    const h = harness();
    const r = await outcome(h.invoke({ ...sample('manual-maintenance'), reason: 'kernel patch, by ana' }));
    expect(r).toMatchObject({ outcome: 'status', pair: 'web', from: PRIMARY });
    expect(r.reasons[0]).toBe(
      `maintenance until ${UNTIL}: automatic moves of pair web are paused; manual moves still work (kernel patch, by ana (set 2026-11-22T10:15:00.000Z))`,
    );
    expect(r.reasons).toContainEqual(
      expect.stringMatching(
        /^in maintenance until 2026-11-22T10:45:00Z \(30 min left\): kernel patch, by ana/,
      ),
    );
    expect(r.state?.maintenance).toEqual({
      until: UNTIL,
      why: 'kernel patch, by ana (set 2026-11-22T10:15:00.000Z)',
    });
    expect((await h.state.read('web')).maintenance).toEqual({
      until: Date.parse(UNTIL),
      by: 'kernel patch, by ana (set 2026-11-22T10:15:00.000Z)',
    });
    // Nothing is written on the ENI: its tags are the owner's.
    expect(h.ec2.mutations).toEqual([]);
    expect(h.published().map((p) => p.subject)).toEqual([`eni-failover web: maintenance until ${UNTIL}`]);
  });

  it('holds in every container: a failed holder is not moved by a state change or a round; DOWN is paged once', async () => {
    const h = harness();
    await h.invoke(sample('manual-maintenance'));
    h.ec2.set(PRIMARY, { state: 'stopped' });
    const other = h.container();
    const event = await outcome(other(stoppedEvent));
    expect(event).toMatchObject({ outcome: 'unchanged', from: PRIMARY });
    expect(event.reasons).toEqual([
      expect.stringMatching(
        /^DOWN: primary i-\w+ holds the ENI and has failed \(state is stopped\): the address is down; not acting while in maintenance: move it by hand or end the window$/,
      ),
      expect.stringMatching(
        /: in maintenance until 2026-11-22T10:45:00Z \(30 min left\): .*; automatic moves are paused \(a manual move still works\)$/,
      ),
    ]);
    expect(h.published().at(-1)?.subject).toBe(`eni-failover web: DOWN (in maintenance), held by ${PRIMARY}`);
    const pagesBefore = h.published().length;
    const round = await outcome(h.container()(reconcile));
    const again = await outcome(h.container()(stoppedEvent));
    expect(round).toMatchObject({ outcome: 'unchanged', from: PRIMARY });
    expect(round.reasons).toContain('paged already');
    expect(again.reasons).toContain('paged already');
    expect(h.published()).toHaveLength(pagesBefore);
    expect(h.ec2.mutations).toEqual([]);
    expect(h.ec2.holder()).toBe(PRIMARY);
  });

  it('a manual move still works during maintenance, and the window stays', async () => {
    const h = harness();
    await h.invoke(sample('manual-maintenance'));
    const r = await outcome(h.invoke({ action: 'move', pair: 'web', to: 'standby' }));
    expect(r).toMatchObject({ outcome: 'moved', to: STANDBY });
    expect(h.ec2.holder()).toBe(STANDBY);
    expect((await h.state.read('web')).maintenance?.until).toBe(Date.parse(UNTIL));
  });

  it('status shows the window; the fleet status too, without paging', async () => {
    const h = harness();
    await h.invoke(sample('manual-maintenance'));
    h.clock.tick(10 * 60_000);
    const one = await outcome(h.invoke({ action: 'status', pair: 'web' }));
    expect(one.reasons).toContainEqual(
      expect.stringMatching(
        /^in maintenance until 2026-11-22T10:45:00Z \(20 min left\): manual maintenance request/,
      ),
    );
    const pages = h.published().length;
    const fleet = await outcome(h.invoke({ action: 'status' }));
    expect(fleet.state?.maintenance?.until).toBe(UNTIL);
    expect(h.published()).toHaveLength(pages);
  });

  it('minutes 0 ends it: the answer says so, pages it, and the next round moves off a failed holder', async () => {
    const h = harness();
    await h.invoke(sample('manual-maintenance'));
    h.ec2.set(PRIMARY, { state: 'stopped' });
    const r = await outcome(h.invoke({ action: 'maintenance', pair: 'web', minutes: 0 }));
    expect(r).toMatchObject({ outcome: 'status' });
    expect(r.reasons[0]).toBe('maintenance ended: automatic moves of pair web resume');
    expect(r.state?.maintenance).toBeNull();
    expect((await h.state.read('web')).maintenance).toBeUndefined();
    expect(h.published().at(-1)?.subject).toBe('eni-failover web: maintenance ended');
    expect(await outcome(h.invoke(reconcile))).toMatchObject({ outcome: 'moved', to: STANDBY });
  });

  it('a window that has passed is ignored: the round moves off a failed holder', async () => {
    const h = harness();
    await h.invoke(sample('manual-maintenance'));
    h.ec2.set(PRIMARY, { state: 'stopped' });
    h.clock.tick(30 * 60_000);
    expect(await outcome(h.invoke(reconcile))).toMatchObject({ outcome: 'moved', to: STANDBY });
  });

  it('a throttled state write is retried: the window is set, once asked', async () => {
    const state = withFaults(localState());
    const h = harness({ state });
    state.fail('change', tableThrottled, 2);
    const r = await outcome(h.invoke(sample('manual-maintenance')));
    expect(r).toMatchObject({ outcome: 'status' });
    expect((await h.state.read('web')).maintenance?.until).toBe(Date.parse(UNTIL));
  });

  it('a table that cannot be reached: the request fails, saying so, and nothing is changed', async () => {
    const state = withFaults(localState());
    const h = harness({ state });
    state.fail('all', tableUnreachable);
    const r = await outcome(h.invoke(sample('manual-maintenance'), 20_000));
    expect(r.outcome).toBe('failed');
    expect(r.reasons[0]).toMatch(/maintenance-start failed: .*ECONNREFUSED/);
    expect(h.ec2.mutations).toEqual([]);
    expect(h.ec2.holder()).toBe(PRIMARY);
  });

  it('an unknown pair is ignored and nothing is written; a missing ENI is refused by name', async () => {
    const h = harness();
    const unknown = await outcome(h.invoke({ action: 'maintenance', pair: 'db', minutes: 30 }));
    expect(unknown).toMatchObject({ outcome: 'ignored' });
    expect(unknown.reasons[0]).toMatch(/unknown pair "db"; configured: web/);
    const gone: Pair = { ...PAIR, networkInterfaceId: 'eni-0ccccccccccccccc3' };
    const missing = await outcome(harness({ pairs: [gone] }).invoke(sample('manual-maintenance')));
    expect(missing).toMatchObject({ outcome: 'refused' });
    expect(missing.reasons).toEqual([expect.stringMatching(/^eni-exists: /)]);
    expect(h.ec2.mock).not.toHaveReceivedCommand(CreateTagsCommand);
  });
});

describe('maintenance: a holder whose application status reporting is suppressed', () => {
  const named: Pair = { ...PAIR, applicationCheckId: 'asc-0aaaaaaaaaaaaaaa1' };

  it('is in maintenance until EC2 resumes it: its failed check moves nothing; after ResumeAt the round moves', async () => {
    const h = harness({ pairs: [named] });
    h.ec2.set(PRIMARY, { appChecks: { 'asc-0aaaaaaaaaaaaaaa1': { status: 'failed' } } });
    h.ec2.set(STANDBY, { appChecks: { 'asc-0aaaaaaaaaaaaaaa1': { status: 'passed' } } });
    // As deploy tooling does around a deploy.
    await h.ec2.client.send(
      new EnableApplicationStatusCheckSuppressionCommand({ InstanceIds: [PRIMARY], DurationSeconds: 1800 }),
    );
    const round = await outcome(h.invoke(reconcile));
    expect(round).toMatchObject({ outcome: 'unchanged', from: PRIMARY });
    expect(round.reasons[0]).toMatch(
      /in maintenance until 2026-11-22T10:45:00Z \(30 min left\): the application status reporting of the holder, primary i-\w+, is suppressed/,
    );
    expect(h.published()).toEqual([]);
    const status = await outcome(h.invoke({ action: 'status', pair: 'web' }));
    expect(status.state?.maintenance).toMatchObject({ until: UNTIL });
    h.clock.tick(30 * 60_000);
    expect(await outcome(h.invoke(reconcile))).toMatchObject({ outcome: 'moved', to: STANDBY });
  });

  it('suppression without a duration does not keep the ENI on a holder that stops or fails its system check', async () => {
    for (const failure of [{ state: 'stopped' }, { systemStatus: 'impaired' }] as const) {
      const h = harness({ pairs: [named] });
      h.ec2.set(PRIMARY, { appChecks: { 'asc-0aaaaaaaaaaaaaaa1': { status: 'failed' } } });
      h.ec2.set(STANDBY, { appChecks: { 'asc-0aaaaaaaaaaaaaaa1': { status: 'passed' } } });
      // Lasts until disabled (EC2 API Reference, EnableApplicationStatusCheckSuppression); checks keep running.
      await h.ec2.client.send(new EnableApplicationStatusCheckSuppressionCommand({ InstanceIds: [PRIMARY] }));
      expect((await outcome(h.invoke(reconcile))).outcome).toBe('unchanged');
      h.ec2.set(PRIMARY, failure);
      const r = await outcome(h.invoke(reconcile));
      expect(r).toMatchObject({ outcome: 'moved', from: PRIMARY, to: STANDBY });
      expect(h.ec2.holder()).toBe(STANDBY);
      // Force by need: neither a stopped holder nor one failing its system check answers.
      expect(h.ec2.mock).toHaveReceivedCommandWith(DetachNetworkInterfaceCommand, { Force: true });
      expect(h.published().map((p) => p.subject)).toEqual([
        expect.stringMatching(/: MOVED \(FORCED\) to i-\w+ in /),
      ]);
    }
  });

  it('ending the window says moves stay paused while the holder is suppressed; disabling suppression resumes them', async () => {
    const h = harness({ pairs: [named] });
    h.ec2.set(PRIMARY, { state: 'running', appChecks: { 'asc-0aaaaaaaaaaaaaaa1': { status: 'failed' } } });
    h.ec2.set(STANDBY, { appChecks: { 'asc-0aaaaaaaaaaaaaaa1': { status: 'passed' } } });
    await h.ec2.client.send(new EnableApplicationStatusCheckSuppressionCommand({ InstanceIds: [PRIMARY] }));
    const r = await outcome(h.invoke({ action: 'maintenance', pair: 'web', minutes: 0 }));
    expect(r.reasons[0]).toMatch(
      /^maintenance ended, but moves of pair web for the holder's application check alone stay paused: in maintenance until it is resumed: /,
    );
    expect((await outcome(h.invoke(reconcile))).outcome).toBe('unchanged');
    await h.ec2.client.send(new DisableApplicationStatusCheckSuppressionCommand({ InstanceIds: [PRIMARY] }));
    expect(await outcome(h.invoke(reconcile))).toMatchObject({ outcome: 'moved', to: STANDBY });
  });
});
