import { PublishCommand, type SNSClient } from '@aws-sdk/client-sns';
import { type Result, subjectOf } from '../result.ts';

/** Publishes a result: a subject for a phone, the result JSON as the body, attributes to filter on. */
export async function publishResult(
  client: SNSClient,
  topicArn: string,
  result: Result,
  signal?: AbortSignal,
): Promise<void> {
  await client.send(
    new PublishCommand({
      TopicArn: topicArn,
      Subject: subjectOf(result),
      Message: JSON.stringify(result, null, 2),
      MessageAttributes: {
        outcome: { DataType: 'String', StringValue: result.outcome },
        pair: { DataType: 'String', StringValue: result.pair ?? '-' },
      },
    }),
    { abortSignal: signal },
  );
}
