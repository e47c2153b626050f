import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { Context } from 'aws-lambda';
import { createClients } from './aws/clients.ts';
import { Ec2Adapter } from './aws/ec2.ts';
import { publishResult } from './aws/sns.ts';
import { StateAdapter } from './aws/state.ts';
import { ConfigError, loadConfig } from './config.ts';
import type { OsPort } from './execute.ts';
import { createFailover } from './failover.ts';
import { DynamoViewStore } from './probe/store.ts';

/** Builds the OS check, for the entry that has one (lambda/handler-os-check.ts). */
export type OsCheckFactory = () => OsPort;

/**
 * Everything the entry points share, run at module load: built once per container. A bad
 * configuration throws here, at init, so a bad deploy fails before any event arrives.
 */
export function makeHandler(osCheck?: OsCheckFactory) {
  const config = loadConfig();
  const verifying = config.pairs.filter((p) => p.verifyOs).map((p) => p.name);
  if (verifying.length > 0 && !osCheck) {
    throw new ConfigError([
      `pair(s) ${verifying.join(', ')} set verifyOs, which needs the function built from lambda/handler-os-check.ts (the EniFailover construct chooses it)`,
    ]);
  }
  // The service name is a dimension of every metric: the construct sets it per stack, so that two
  // stacks' metrics (and the alarms on them) do not mix.
  const serviceName = process.env.POWERTOOLS_SERVICE_NAME || 'eni-failover';
  const logger = new Logger({ serviceName });
  const metrics = new Metrics({ namespace: 'EniFailover', serviceName });
  // No X-Ray capture of the SDK clients: the X-Ray SDK it loads costs cold-start time, and the
  // result's steps already time every call. Lambda's active tracing still records the invocation.
  const { ec2, sns, dynamodb } = createClients();
  const { topicArn } = config;
  const failover = createFailover({
    config,
    ec2: new Ec2Adapter(ec2),
    // loadConfig refused a configuration without it.
    state: new StateAdapter(dynamodb, config.stateTable as string),
    notify: topicArn ? (result, signal) => publishResult(sns, topicArn, result, signal) : async () => {},
    logger,
    metrics,
    region: process.env.AWS_REGION,
    os: verifying.length > 0 ? osCheck?.() : undefined,
    // The prober's items in the same table: a probed pair's status shows its service address's last outage.
    proberView: config.pairs.some((p) => p.probe)
      ? new DynamoViewStore(config.stateTable as string, DynamoDBDocumentClient.from(dynamodb))
      : undefined,
  });
  return async (event: unknown, context: Context) => {
    logger.addContext(context);
    return failover(event, context);
  };
}
