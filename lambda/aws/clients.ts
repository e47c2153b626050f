import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { EC2Client } from '@aws-sdk/client-ec2';
import { SNSClient } from '@aws-sdk/client-sns';
import { isServerError, isThrottlingError, isTransientError } from '@smithy/core/retry';

/**
 * The SDK sets no timeouts by default: a connection that hangs would hold the failover until Lambda
 * kills it. With these, a hung call becomes a TimeoutError, which the standard retry mode retries.
 */
export const HTTP = { connectionTimeout: 3_000, requestTimeout: 10_000, throwOnRequestTimeout: true };
/**
 * The state table answers in milliseconds; one that does not within a few seconds is unreachable, and a move
 * off a dead holder must not wait on it (docs/contract.md, "Pair state": STATE_BOUND_MS in lambda/state.ts).
 */
export const STATE_HTTP = { connectionTimeout: 1_000, requestTimeout: 2_000, throwOnRequestTimeout: true };

/**
 * Where SDK clients are built (and SsmAdapter.client(), kept beside its adapter so that only the
 * entry with the OS check bundles it). Default endpoint resolution, so AWS_ENDPOINT_URL(_EC2)
 * points them at an emulator; the SDK's standard retry mode handles throttling (AWS_MAX_ATTEMPTS
 * and AWS_RETRY_MODE tune it without code).
 */
export function createClients(http: typeof HTTP = HTTP): {
  ec2: EC2Client;
  sns: SNSClient;
  dynamodb: DynamoDBClient;
} {
  return {
    ec2: new EC2Client({ requestHandler: http }),
    sns: new SNSClient({ requestHandler: http }),
    dynamodb: new DynamoDBClient({ requestHandler: STATE_HTTP }),
  };
}

/** Throttling, a 5xx, a timeout, a dropped connection: worth asking again until the deadline (not our own abort). */
export function isTransient(error: unknown): boolean {
  const e = error as Parameters<typeof isTransientError>[0];
  if (e?.name === 'AbortError') return false;
  return isThrottlingError(e) || isTransientError(e) || isServerError(e);
}
