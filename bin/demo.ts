// npm run demo: a failover you can watch, on an emulated EC2 (moto), with no AWS account.
// Function logs and EMF metrics are quiet unless --verbose: the timeline is the point.
import { parseArgs } from 'node:util';

const { values } = parseArgs({ options: { verbose: { type: 'boolean', default: false } } });
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';
if (!values.verbose) {
  process.env.POWERTOOLS_LOG_LEVEL = 'SILENT';
  process.env.POWERTOOLS_METRICS_DISABLED = 'true';
}
const { runDemo } = await import('../ops/demo');
try {
  process.exitCode = (await runDemo()) === 0 ? 0 : 1;
} catch (error) {
  console.error(`demo failed: ${(error as Error).message}`);
  process.exitCode = 2;
}
