import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { Tracer } from '@aws-lambda-powertools/tracer';
import type { Context } from 'aws-lambda';
import { createClients } from './aws/clients';
import { Ec2Adapter } from './aws/ec2';
import { publishResult } from './aws/sns';
import { SsmAdapter } from './aws/ssm';
import { loadConfig } from './config';
import { systemClock } from './execute';
import { createFailover } from './failover';

// Module scope: built once per container. A bad configuration throws here, at init, so a bad deploy
// fails loudly before any event arrives rather than in the middle of a failover.
const config = loadConfig();
const logger = new Logger({ serviceName: 'eni-failover' });
const metrics = new Metrics({ namespace: 'EniFailover', serviceName: 'eni-failover' });
const tracer = new Tracer({ serviceName: 'eni-failover' });
const clients = createClients();
const ec2 = tracer.captureAWSv3Client(clients.ec2);
const sns = tracer.captureAWSv3Client(clients.sns);
const { topicArn } = config;

const failover = createFailover({
  config,
  ec2: new Ec2Adapter(ec2),
  notify: topicArn ? (result) => publishResult(sns, topicArn, result) : async () => {},
  logger,
  metrics,
  region: process.env.AWS_REGION,
  os: config.pairs.some((p) => p.verifyOs)
    ? new SsmAdapter(tracer.captureAWSv3Client(clients.ssm()), systemClock)
    : undefined,
});

export const handler = async (event: unknown, context: Context) => {
  logger.addContext(context);
  return failover(event, context);
};
