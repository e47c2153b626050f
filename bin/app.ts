// The CDK app: `cdk deploy -c config=failover.json` or `cdk deploy -c demo=true`.
import { App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { ConfigError } from '../lambda/config.ts';
import { loadStackConfig } from '../lib/config-file.ts';
import { EniFailoverDemoStack } from '../lib/demo-stack.ts';
import { EniFailoverStack } from '../lib/stack.ts';
import { ensureFunctions } from '../scripts/build-functions.ts';

// The repository deploys the prebuilt functions the package ships: rebuilt here if lambda/ changed since.
await ensureFunctions();

const app = new App();
const configPath = app.node.tryGetContext('config') as string | undefined;
const demo = String(app.node.tryGetContext('demo')) === 'true';
const env = { account: process.env.CDK_DEFAULT_ACCOUNT, region: process.env.CDK_DEFAULT_REGION };

if (configPath && demo) {
  throw new Error('Give either -c config=FILE or -c demo=true, not both.');
} else if (configPath) {
  try {
    new EniFailoverStack(app, (app.node.tryGetContext('stackName') as string | undefined) ?? 'EniFailover', {
      env,
      config: loadStackConfig(configPath),
    });
  } catch (error) {
    if (error instanceof ConfigError) {
      console.error(error.message);
      process.exit(1);
    }
    throw error;
  }
} else if (demo) {
  // Environment-agnostic, so that the demo VPC takes the region's real AZs at deploy time.
  // -c stackName= as for a configuration (npm run smoke -- --stack-name uses it).
  new EniFailoverDemoStack(
    app,
    (app.node.tryGetContext('stackName') as string | undefined) ?? 'EniFailoverDemo',
  );
} else {
  throw new Error(
    [
      'Nothing to deploy: say which service to protect.',
      '  -c config=FILE   the pairs in a JSON file, e.g. npx cdk deploy -c config=failover.example.json',
      '  -c demo=true     a self-contained demo: a VPC, two t4g.nano instances and an ENI to fail over',
    ].join('\n'),
  );
}
// Every synth is checked: an unacknowledged finding fails it (cdk.out/validation-report.json).
Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
try {
  app.synth();
} catch (error) {
  // A check that fails at synth (a stack over CloudFormation's limits) says what to do: no stack trace.
  if (error instanceof Error && /^Validation failed/.test(error.message)) {
    console.error(error.message);
    process.exit(1);
  }
  throw error;
}
