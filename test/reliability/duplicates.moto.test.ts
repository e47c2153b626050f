import { beforeEach, describe, expect, it } from 'vitest';
import { buildWorld, type MotoWorld } from '../../ops/world.ts';
import { SAMPLE_INSTANCE, sample } from '../helpers/events.ts';
import { failoverFor, locate, useFaultyMoto } from '../helpers/reliability.ts';
import { motoState } from '../helpers/state.ts';
import { runMotoTests } from '../helpers/tools.ts';

describe.runIf(runMotoTests)('duplicate and concurrent deliveries end in one move', () => {
  const env = useFaultyMoto();
  let w: MotoWorld;
  beforeEach(async () => {
    await env.moto().reset();
    w = await buildWorld();
    await w.stop(w.primary);
    env.proxy().clear();
  });

  const attaches = () =>
    env
      .proxy()
      .forwarded()
      .filter((a) => a === 'AttachNetworkInterface').length;

  it('the same event 10 times in a row: one move, then nine unchanged', async () => {
    const run = failoverFor(w.pair);
    const event = sample('eventbridge-state-change', { [SAMPLE_INSTANCE]: w.primary });
    const outcomes: string[] = [];
    for (let i = 0; i < 10; i++) outcomes.push((await run.invoke(event)).outcome);
    expect(outcomes).toEqual(['moved', ...Array(9).fill('unchanged')]);
    expect(attaches()).toBe(1);
    expect(await locate(w)).toEqual({ holder: w.standby, listedBy: 1 });
  });

  it('the same alarm 5 times at once: one move, four unchanged', async () => {
    const run = failoverFor(w.pair);
    const event = sample('sns-alarm', { [SAMPLE_INSTANCE]: w.primary });
    const outcomes = await Promise.all(Array.from({ length: 5 }, () => run.invoke(event)));
    expect(outcomes.map((o) => o.outcome).sort()).toEqual([
      'moved',
      'unchanged',
      'unchanged',
      'unchanged',
      'unchanged',
    ]);
    expect(attaches()).toBe(1);
    expect(await locate(w)).toEqual({ holder: w.standby, listedBy: 1 });
  });

  it('an alarm and a state change for the same failure, at once: one move', async () => {
    const run = failoverFor(w.pair);
    const [a, b] = await Promise.all([
      run.invoke(sample('sns-alarm', { [SAMPLE_INSTANCE]: w.primary })),
      run.invoke(sample('eventbridge-state-change', { [SAMPLE_INSTANCE]: w.primary })),
    ]);
    expect([a?.outcome, b?.outcome].sort()).toEqual(['moved', 'unchanged']);
    expect(attaches()).toBe(1);
  });

  it('the same failure delivered to 5 containers at once: one moved, four unchanged, one page, no intent left', async () => {
    // Five containers: their own clients and in-process queues, so only the intent on the ENI and
    // EC2 itself stand between them.
    const containers = Array.from({ length: 5 }, () => failoverFor(w.pair));
    const events = [
      sample('sns-alarm', { [SAMPLE_INSTANCE]: w.primary }),
      sample('eventbridge-state-change', { [SAMPLE_INSTANCE]: w.primary }),
      { action: 'reconcile' },
      sample('sns-alarm', { [SAMPLE_INSTANCE]: w.primary }),
      sample('eventbridge-state-change', { [SAMPLE_INSTANCE]: w.primary }),
    ];
    const outcomes = await Promise.all(containers.map((run, i) => run.invoke(events[i])));
    expect(outcomes.map((o) => o.outcome).sort()).toEqual([
      'moved',
      'unchanged',
      'unchanged',
      'unchanged',
      'unchanged',
    ]);
    const pages = containers.flatMap((c) => c.published).filter((r) => r.outcome !== 'unchanged');
    expect(pages.map((r) => r.outcome)).toEqual(['moved']);
    expect(attaches()).toBe(1);
    expect(await locate(w)).toEqual({ holder: w.standby, listedBy: 1 });
    // One move recorded in the pair's state on moto's DynamoDB, and the lease released.
    const record = await motoState().read(w.pair.name);
    expect(record.automaticMoves).toHaveLength(1);
    expect(record.lease).toBeUndefined();
  });
});
