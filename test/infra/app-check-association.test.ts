import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  AssociateApplicationStatusCheckCommand,
  DescribeApplicationStatusCheckAssociationsCommand,
  DisassociateApplicationStatusCheckCommand,
  EC2Client,
} from '@aws-sdk/client-ec2';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, describe, expect, it } from 'vitest';
import { type AssociationEvent, apply, handler } from '../../lambda/custom/app-check-association';

// moto knows no application status checks: the EC2 answers are mocked, shaped as the EC2 API Reference gives
// them (AssociateApplicationStatusCheck and DisassociateApplicationStatusCheck return per-instance results).
const ec2 = mockClient(EC2Client);
afterEach(() => ec2.reset());
const client = new EC2Client({ region: 'eu-west-1' });

const event = (
  RequestType: AssociationEvent['RequestType'],
  ResponseURL = 'http://unused',
): AssociationEvent => ({
  RequestType,
  ResponseURL,
  StackId: 'arn:aws:cloudformation:eu-west-1:123456789012:stack/S/1',
  RequestId: 'r-1',
  LogicalResourceId: 'webPrimaryApplicationCheckAssociation',
  PhysicalResourceId: RequestType === 'Create' ? undefined : 'asc-0123/i-0aaa',
  ResourceProperties: { ApplicationStatusCheckId: 'asc-0123', InstanceId: 'i-0aaa' },
});
const associated = (yes: boolean) =>
  ec2.on(DescribeApplicationStatusCheckAssociationsCommand).resolves({
    Associations: yes
      ? [{ ApplicationStatusCheckId: 'asc-0123', AssociationType: 'instance-id', Value: 'i-0aaa' }]
      : [],
  });

describe('the application status check association (custom resource)', () => {
  it('create associates the check with its one instance; the physical ID names both', async () => {
    ec2
      .on(AssociateApplicationStatusCheckCommand)
      .resolves({ SuccessfulResults: [{ AssociationValue: 'i-0aaa' }] });
    expect(await apply(client, event('Create'))).toBe('asc-0123/i-0aaa');
    expect(ec2.commandCalls(AssociateApplicationStatusCheckCommand)[0]?.args[0].input).toEqual({
      ApplicationStatusCheckId: 'asc-0123',
      InstanceIds: ['i-0aaa'],
    });
  });

  it('an unsuccessful result is judged by reading back: already associated is done, otherwise it fails naming why', async () => {
    ec2
      .on(AssociateApplicationStatusCheckCommand)
      .resolves({ UnsuccessfulResults: [{ AssociationValue: 'i-0aaa', Reason: 'already associated' }] });
    associated(true);
    expect(await apply(client, event('Update'))).toBe('asc-0123/i-0aaa');
    associated(false);
    await expect(apply(client, event('Create'))).rejects.toThrow(
      'could not associate asc-0123 with i-0aaa: already associated',
    );
  });

  it('delete disassociates; an association already gone (or a check deleted) does not block the stack', async () => {
    ec2
      .on(DisassociateApplicationStatusCheckCommand)
      .resolves({ SuccessfulResults: [{ AssociationValue: 'i-0aaa' }] });
    expect(await apply(client, event('Delete'))).toBe('asc-0123/i-0aaa');
    ec2
      .on(DisassociateApplicationStatusCheckCommand)
      .rejects(new Error('InvalidApplicationStatusCheckId.NotFound'));
    ec2
      .on(DescribeApplicationStatusCheckAssociationsCommand)
      .rejects(new Error('InvalidApplicationStatusCheckId.NotFound'));
    expect(await apply(client, event('Delete'))).toBe('asc-0123/i-0aaa');
    ec2
      .on(DisassociateApplicationStatusCheckCommand)
      .resolves({ UnsuccessfulResults: [{ Reason: 'throttled' }] });
    associated(true);
    await expect(apply(client, event('Delete'))).rejects.toThrow(
      'could not disassociate asc-0123 from i-0aaa: throttled',
    );
  });

  it('answers CloudFormation at its URL, with FAILED and the reason when EC2 refused', async () => {
    const bodies: unknown[] = [];
    const server = createServer((req, res) => {
      let data = '';
      req.on('data', (c) => {
        data += c;
      });
      req.on('end', () => {
        bodies.push({ method: req.method, body: JSON.parse(data) });
        res.end();
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/response`;
    try {
      ec2.on(AssociateApplicationStatusCheckCommand).rejects(new Error('UnauthorizedOperation'));
      await handler(event('Create', url));
      expect(bodies).toEqual([
        {
          method: 'PUT',
          body: {
            Status: 'FAILED',
            Reason: 'UnauthorizedOperation',
            PhysicalResourceId: 'webPrimaryApplicationCheckAssociation',
            StackId: 'arn:aws:cloudformation:eu-west-1:123456789012:stack/S/1',
            RequestId: 'r-1',
            LogicalResourceId: 'webPrimaryApplicationCheckAssociation',
          },
        },
      ]);
    } finally {
      server.close();
    }
  });
});
