import { EC2Client } from '@aws-sdk/client-ec2';
import { NotFoundException, PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import { mockClient } from 'aws-sdk-client-mock';
import type { FakeEc2 } from './fake-ec2.ts';

/**
 * The embedded emulator: every EC2Client and SNSClient in this process, whoever built it (the
 * function builds its own, in lambda/aws/clients.ts), answers in-process: EC2 from the in-memory EC2
 * (ops/fake-ec2.ts), SNS from a one-topic stand-in that keeps what is published for the on-call phone.
 *
 * Client-level interception (aws-sdk-client-mock replaces `send` on the client classes), not an HTTP
 * endpoint: it is how the tests already drive the fake, so the demo runs the very model they check,
 * and nothing needs a port or an EC2 Query/XML serializer of our own, which would be a second emulator
 * with bugs of its own. The price: the SDK's middleware (serialization, retries, endpoints) does not
 * run here. moto, over HTTP, is the mode that shows it.
 */
export interface Embedded {
  readonly topicArn: string;
  /** Subjects published to the topic since the last call. */
  subjects(): string[];
  /** Gives the classes their own `send` back, and the environment its endpoint. */
  stop(): void;
}

export function startEmbedded(fake: FakeEc2, topicName: string): Embedded {
  const topicArn = `arn:aws:sns:eu-west-1:123456789012:${topicName}`;
  // If any call escaped the interception, it would find this closed port, never a real AWS account.
  const saved = { endpoint: process.env.AWS_ENDPOINT_URL };
  process.env.AWS_ENDPOINT_URL = 'http://127.0.0.1:9';
  process.env.AWS_ACCESS_KEY_ID = 'testing';
  process.env.AWS_SECRET_ACCESS_KEY = 'testing';
  process.env.AWS_REGION = 'eu-west-1';

  // The fake answers on its own client (an instance-level stub, which the class-level one does not
  // shadow): every other EC2Client hands its commands there. The call's options (an abort signal)
  // stay behind: the fake answers at once, as aws-sdk-client-mock's stubs do.
  const ec2 = mockClient(EC2Client);
  ec2.send.callsFake((command) => fake.client.send(command));

  const published: string[] = [];
  const sns = mockClient(SNSClient);
  sns.on(PublishCommand).callsFake(async (input) => {
    // SNS API Reference, Publish: a topic that does not exist answers NotFound.
    if (input.TopicArn !== topicArn)
      throw new NotFoundException({ message: 'Topic does not exist', $metadata: { httpStatusCode: 404 } });
    published.push(input.Subject ?? '');
    return { MessageId: `embedded-${published.length}` };
  });

  return {
    topicArn,
    subjects: () => published.splice(0),
    stop: () => {
      ec2.restore();
      sns.restore();
      if (saved.endpoint === undefined) delete process.env.AWS_ENDPOINT_URL;
      else process.env.AWS_ENDPOINT_URL = saved.endpoint;
    },
  };
}
