// npm run soak [-- --failovers 200 --rate 0.05 --seed 42]: the full soak, with its figures.
import { parseArgs } from 'node:util';
import { startMoto } from '../../ops/moto.ts';
import { faultyEc2 } from '../helpers/reliability.ts';
import { describeSoak, soak } from '../helpers/soak.ts';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';
process.env.POWERTOOLS_METRICS_DISABLED = 'true';
const { values } = parseArgs({
  options: {
    failovers: { type: 'string', default: '200' },
    rate: { type: 'string', default: '0.05' },
    seed: { type: 'string', default: '42' },
  },
});
const moto = await startMoto();
const proxy = await faultyEc2(moto);
try {
  const f = await soak(moto, proxy, Number(values.failovers), Number(values.rate), Number(values.seed));
  console.log(describeSoak(f));
  process.exitCode = f.stranded === 0 && f.doubles === 0 && f.times.length === f.failovers ? 0 : 1;
} finally {
  await proxy.stop();
  await moto.stop();
}
