import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Moto } from '../../ops/moto';
import type { FaultProxy } from '../helpers/fault-proxy';
import { faultyEc2 } from '../helpers/reliability';
import { describeSoak, soak } from '../helpers/soak';
import { runMotoTests, startMoto } from '../helpers/tools';

// The reduced soak: `npm run soak` runs the full 200.
describe.runIf(runMotoTests)('soak (reduced): failovers back and forth with 5% random faults', () => {
  let moto: Moto;
  let proxy: FaultProxy;
  beforeAll(async () => {
    moto = await startMoto();
    proxy = await faultyEc2(moto);
  });
  afterAll(async () => {
    delete process.env.AWS_ENDPOINT_URL_EC2;
    await proxy?.stop();
    await moto?.stop();
  });

  it('30 failovers: none stranded, none doubly attached, every one converged', async () => {
    const f = await soak(moto, proxy, 30, 0.05, 7);
    console.log(`\n${describeSoak(f)}\n`);
    expect(f.stranded).toBe(0);
    expect(f.doubles).toBe(0);
    expect(f.times).toHaveLength(30);
    expect(f.faultsInjected).toBeGreaterThan(0);
  }, 180_000);
});
