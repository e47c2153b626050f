import { beforeEach, describe, expect, it } from 'vitest';
import { buildPairs, failAtOnce, type ManyPairs, peakOverlap, whereAll } from '../helpers/pairs.ts';
import { useFaultyMoto } from '../helpers/reliability.ts';
import { runMotoTests } from '../helpers/tools.ts';

// A correlated failure (a host, an AZ): the primaries of many pairs stop at once. With no reserved
// concurrency, Lambda runs each event in its own container; EC2's conditional operations are the lock.
// (The wall time of 20 pairs against one is measured by `npm run bench`, not here.)
describe.runIf(runMotoTests)('pairs fail at once and move in parallel', () => {
  const env = useFaultyMoto();
  const SEPARATE = 20;
  const BATCHED = 4;
  let m: ManyPairs;
  beforeEach(async () => {
    await env.moto().reset();
    m = await buildPairs(SEPARATE + BATCHED);
  }, 60_000);

  it('20 containers with one state change each, and one SNS batch of 4 alarms: every ENI ends on its standby, once, and the moves overlap', async () => {
    // Act
    const outbreak = await failAtOnce(m, env.proxy(), SEPARATE);

    // Assess: every pair moved, to its standby, and no instance lists an ENI twice
    const results = outbreak.results.flat();
    expect(results.map((r) => `${r.pair}: ${r.outcome}`)).toEqual(m.pairs.map((p) => `${p.name}: moved`));
    const where = await whereAll(m);
    expect(where).toEqual(m.pairs.map((p) => ({ pair: p.name, holder: p.standbyInstanceId, listedBy: 1 })));
    const attaches = env
      .proxy()
      .forwarded()
      .filter((a) => a === 'AttachNetworkInterface');
    expect(attaches).toHaveLength(m.pairs.length);

    // ... and the moves were in flight together, not one after another: across containers, and
    // within the batch's one invocation (the records of one event are handled in parallel).
    expect(outbreak.moves.size).toBe(m.pairs.length);
    expect(peakOverlap(outbreak.moves.values())).toBeGreaterThanOrEqual(SEPARATE / 2);
    const batch = m.pairs.slice(SEPARATE).map((p) => outbreak.moves.get(p.networkInterfaceId));
    // (Handled one after another, the batch's peak would be 1; all four together make it 4. Above 1
    // keeps the check from depending on how a loaded machine orders moto's answers.)
    expect(peakOverlap(batch.filter((x) => x !== undefined))).toBeGreaterThan(1);
  }, 120_000);
});
