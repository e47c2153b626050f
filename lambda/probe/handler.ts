// The prober's entry point (the construct deploys it in the pairs' VPC when `probe` is given).
import { Logger } from '@aws-lambda-powertools/logger';
import { LambdaClient } from '@aws-sdk/client-lambda';
import { HTTP } from '../aws/clients.ts';
import { ENV } from '../config.ts';
import { loadProbeConfig } from './config.ts';
import { createProber } from './prober.ts';
import { DynamoViewStore } from './store.ts';

const serviceName = process.env.POWERTOOLS_SERVICE_NAME || 'eni-failover';

/** Built at load: a bad configuration fails at init, before the first probe. */
export const handler = createProber({
  config: loadProbeConfig(),
  lambda: new LambdaClient({ requestHandler: HTTP }),
  logger: new Logger({ serviceName: `${serviceName}-prober` }),
  serviceName,
  namespace: process.env.POWERTOOLS_METRICS_NAMESPACE || 'EniFailover',
  // The pair-state table, for the prober's own items (lambda/probe/store.ts); the construct always sets it.
  view: process.env[ENV.stateTable] ? new DynamoViewStore(process.env[ENV.stateTable] as string) : undefined,
});
