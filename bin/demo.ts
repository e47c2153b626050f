// npm run demo: a failover you can watch, with no AWS account: on moto when it is on the PATH, else on
// the project's own in-memory EC2 (--emulator moto|embedded chooses). Function logs and EMF metrics
// are quiet unless --verbose: the timeline is the point.
import { parseArgs } from 'node:util';
import { chooseEmulator, type EmulatorChoice, UsageError } from '../ops/emulator.ts';

const USAGE = 'usage: npm run demo -- [--emulator moto|embedded] [--verbose]';

/** A bad command line: what is wrong and the usage, exit 2, before anything is loaded or started. */
function usage(error: unknown): never {
  console.error(`demo: ${(error as Error).message}\n${USAGE}`);
  process.exit(2);
}

let verbose = false;
let choice: EmulatorChoice;
try {
  const { values } = parseArgs({
    options: { verbose: { type: 'boolean', default: false }, emulator: { type: 'string' } },
  });
  verbose = values.verbose;
  choice = chooseEmulator(values.emulator);
} catch (error) {
  if (error instanceof UsageError || (error as { code?: string }).code?.startsWith('ERR_PARSE_ARGS'))
    usage(error);
  throw error;
}
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';
if (!verbose) {
  process.env.POWERTOOLS_LOG_LEVEL = 'SILENT';
  process.env.POWERTOOLS_METRICS_DISABLED = 'true';
}
const { runDemo } = await import('../ops/demo.ts');
try {
  process.exitCode = (await runDemo(choice)) === 0 ? 0 : 1;
} catch (error) {
  console.error(`demo failed: ${(error as Error).message}`);
  process.exitCode = 2;
}
