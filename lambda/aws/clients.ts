import { EC2Client } from '@aws-sdk/client-ec2';
import { SNSClient } from '@aws-sdk/client-sns';

/**
 * The SDK sets no timeouts by default: a connection that hangs would hold the failover until Lambda
 * kills it. With these, a hung call becomes a TimeoutError, which the standard retry mode retries.
 */
export const HTTP = { connectionTimeout: 3_000, requestTimeout: 10_000, throwOnRequestTimeout: true };

/**
 * Where SDK clients are built (and SsmAdapter.client(), kept beside its adapter so that only the
 * entry with the OS check bundles it). Default endpoint resolution, so AWS_ENDPOINT_URL(_EC2)
 * points them at an emulator; the SDK's standard retry mode handles throttling (AWS_MAX_ATTEMPTS
 * and AWS_RETRY_MODE tune it without code).
 */
export function createClients(http: typeof HTTP = HTTP): { ec2: EC2Client; sns: SNSClient } {
  return { ec2: new EC2Client({ requestHandler: http }), sns: new SNSClient({ requestHandler: http }) };
}
