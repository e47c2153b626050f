import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Moto } from '../../ops/moto';
import { FAULTS, type FaultProxy } from '../helpers/fault-proxy';
import { ACTIONS, type Cell, faultyEc2, runCell, table } from '../helpers/reliability';
import { runMotoTests, startMoto } from '../helpers/tools';

// Each EC2 action of the moves (detach, attach, modify, tag) x each fault x once/always, against moto behind a fault proxy.
describe.runIf(runMotoTests)('fault injection: the moves (detach, attach, modify, tag)', () => {
  let moto: Moto;
  let proxy: FaultProxy;
  const cells: Cell[] = [];
  beforeAll(async () => {
    moto = await startMoto();
    proxy = await faultyEc2(moto);
  });
  afterAll(async () => {
    console.log(`\n${table(cells)}\n`);
    delete process.env.AWS_ENDPOINT_URL_EC2;
    await proxy?.stop();
    await moto?.stop();
  });

  it.each(ACTIONS.slice(4))(
    '%s: every fault, once and always, converges or is reported exactly',
    async (action) => {
      for (const fault of FAULTS) {
        for (const times of ['once', 'always'] as const) {
          const cell = await runCell(moto, proxy, action, fault, times);
          cells.push(cell);
          expect(cell.violations, `${action} ${fault} ${times}: ${cell.first}`).toEqual([]);
        }
      }
    },
    240_000,
  );
});
