import { EC2Client } from '@aws-sdk/client-ec2';
import { SNSClient } from '@aws-sdk/client-sns';

/**
 * Where SDK clients are built (and SsmAdapter.client(), kept beside its adapter so that only the
 * entry with the OS check bundles it). Default endpoint resolution, so AWS_ENDPOINT_URL(_EC2)
 * points them at an emulator; the SDK's standard retry mode handles throttling (AWS_MAX_ATTEMPTS
 * and AWS_RETRY_MODE tune it without code).
 */
export function createClients(): { ec2: EC2Client; sns: SNSClient } {
  return { ec2: new EC2Client({}), sns: new SNSClient({}) };
}
