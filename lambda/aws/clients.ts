import { EC2Client } from '@aws-sdk/client-ec2';
import { SNSClient } from '@aws-sdk/client-sns';
import { SSMClient } from '@aws-sdk/client-ssm';

/**
 * The one place SDK clients are built. Default endpoint resolution, so AWS_ENDPOINT_URL(_EC2)
 * points them at an emulator; the SDK's standard retry mode handles throttling (AWS_MAX_ATTEMPTS
 * and AWS_RETRY_MODE tune it without code).
 */
export function createClients(): { ec2: EC2Client; sns: SNSClient; ssm: () => SSMClient } {
  // SSM only for pairs that verify the OS: no client, no credentials lookup, for the others.
  return { ec2: new EC2Client({}), sns: new SNSClient({}), ssm: () => new SSMClient({}) };
}
