// npx tsx test/bench/probe-run.ts [-- --runs 20 --jitter-seconds 120]: the prober's figures alone (npm run bench runs them too).
import { parseArgs } from 'node:util';
import { reportProbe } from './probe.ts';

process.env.POWERTOOLS_METRICS_DISABLED = 'true';
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';
const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '20' },
    'jitter-seconds': { type: 'string', default: '120' },
    'detach-ms': { type: 'string', default: '2500' },
    'attach-ms': { type: 'string', default: '3500' },
  },
});
let failed = false;
await reportProbe(
  { detachMs: Number(values['detach-ms']), attachMs: Number(values['attach-ms']) },
  Number(values.runs),
  Number(values['jitter-seconds']),
  (_, ok) => {
    if (!ok) failed = true;
    return ok ? 'PASS' : 'FAIL';
  },
);
process.exitCode = failed ? 1 : 0;
