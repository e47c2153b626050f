// npm run smoke -- [--profile P] [--region R] [--stack-name S] [--keep] [--yes] [--json]: see ops/smoke.ts.
import { smokeMain } from '../ops/smoke.ts';
import { realSmokeDeps } from '../ops/smoke-aws.ts';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';
process.exitCode = await smokeMain(process.argv.slice(2), realSmokeDeps, {
  out: (line) => console.log(line),
  err: (line) => console.error(line),
});
