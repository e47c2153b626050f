import { describe, expect, it } from 'vitest';
import { useFaultyMoto } from '../helpers/reliability.ts';
import { describeSoak, soak } from '../helpers/soak.ts';
import { runMotoTests } from '../helpers/tools.ts';

// The reduced soak: `npm run soak` runs the full 200.
describe.runIf(runMotoTests)('soak (reduced): failovers back and forth with 5% random faults', () => {
  const env = useFaultyMoto();

  it('30 failovers: none stranded, none doubly attached, every one converged', async () => {
    const f = await soak(env.moto(), env.proxy(), 30, 0.05, 7);
    console.log(`\n${describeSoak(f)}\n`);
    expect(f.stranded).toBe(0);
    expect(f.doubles).toBe(0);
    expect(f.times).toHaveLength(30);
    expect(f.faultsInjected).toBeGreaterThan(0);
  }, 180_000);
});
