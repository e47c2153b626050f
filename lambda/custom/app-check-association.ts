/**
 * CloudFormation custom resource: associates one EC2 application status check with one instance, and
 * disassociates it on delete. A custom resource because the association types
 * (AWS::EC2::ApplicationStatusCheckInstanceAssociation) have no documented properties and no CDK L1 yet.
 * Bundled on its own (lib/application-checks.ts); the failover function never imports it.
 * Every answer is judged by reading the associations back (DescribeApplicationStatusCheckAssociations):
 * EC2 reports an association that already exists, or one already gone, as an unsuccessful result
 * (EC2 User Guide, "Application status checks": associate and disassociate return per-instance results).
 */
import {
  AssociateApplicationStatusCheckCommand,
  DescribeApplicationStatusCheckAssociationsCommand,
  DisassociateApplicationStatusCheckCommand,
  EC2Client,
} from '@aws-sdk/client-ec2';
import { HTTP } from '../aws/clients';

export interface AssociationEvent {
  readonly RequestType: 'Create' | 'Update' | 'Delete';
  readonly ResponseURL: string;
  readonly StackId: string;
  readonly RequestId: string;
  readonly LogicalResourceId: string;
  readonly PhysicalResourceId?: string;
  readonly ResourceProperties: { readonly ApplicationStatusCheckId?: string; readonly InstanceId?: string };
}

const ec2 = new EC2Client({ requestHandler: HTTP });

/** Is the check associated with the instance now? */
export async function isAssociated(client: EC2Client, checkId: string, instanceId: string): Promise<boolean> {
  let NextToken: string | undefined;
  do {
    const page = await client.send(
      new DescribeApplicationStatusCheckAssociationsCommand({
        ApplicationStatusCheckIds: [checkId],
        NextToken,
      }),
    );
    if (page.Associations?.some((a) => a.AssociationType === 'instance-id' && a.Value === instanceId))
      return true;
    NextToken = page.NextToken;
  } while (NextToken);
  return false;
}

/** Makes the association exist (Create, Update) or not exist (Delete); throws naming what EC2 said otherwise. */
export async function apply(client: EC2Client, event: AssociationEvent): Promise<string> {
  const { ApplicationStatusCheckId: checkId, InstanceId: instanceId } = event.ResourceProperties;
  if (!checkId || !instanceId) throw new Error('ApplicationStatusCheckId and InstanceId are required');
  const physicalId = `${checkId}/${instanceId}`;
  if (event.RequestType === 'Delete') {
    let said = '';
    try {
      const out = await client.send(
        new DisassociateApplicationStatusCheckCommand({
          ApplicationStatusCheckId: checkId,
          InstanceIds: [instanceId],
        }),
      );
      if (!out.UnsuccessfulResults?.length) return physicalId;
      said = out.UnsuccessfulResults.map((r) => r.Reason).join('; ');
    } catch (error) {
      said = (error as Error).message;
    }
    // Already gone (or the check itself is gone): nothing to remove, and a delete must not block the stack.
    let still = false;
    try {
      still = await isAssociated(client, checkId, instanceId);
    } catch {
      still = false;
    }
    if (still) throw new Error(`could not disassociate ${checkId} from ${instanceId}: ${said}`);
    return physicalId;
  }
  // Create, and Update: CloudFormation deletes the old association (a different physical ID) afterwards.
  const out = await client.send(
    new AssociateApplicationStatusCheckCommand({
      ApplicationStatusCheckId: checkId,
      InstanceIds: [instanceId],
    }),
  );
  if (out.UnsuccessfulResults?.length && !(await isAssociated(client, checkId, instanceId))) {
    throw new Error(
      `could not associate ${checkId} with ${instanceId}: ${out.UnsuccessfulResults.map((r) => r.Reason).join('; ')}`,
    );
  }
  return physicalId;
}

/** The answer CloudFormation waits for, PUT to the pre-signed URL (CloudFormation User Guide, "Custom resources"). */
export function response(event: AssociationEvent, physicalId: string, failure?: string): string {
  return JSON.stringify({
    Status: failure === undefined ? 'SUCCESS' : 'FAILED',
    Reason: failure ?? 'ok',
    PhysicalResourceId: physicalId,
    StackId: event.StackId,
    RequestId: event.RequestId,
    LogicalResourceId: event.LogicalResourceId,
  });
}

export async function handler(event: AssociationEvent): Promise<void> {
  let physicalId = event.PhysicalResourceId ?? event.LogicalResourceId;
  let failure: string | undefined;
  try {
    physicalId = await apply(ec2, event);
  } catch (error) {
    failure = (error as Error).message.slice(0, 1000);
  }
  // Always answer: a handler that dies silently leaves the stack waiting for an hour.
  const body = response(event, physicalId, failure);
  const put = await fetch(event.ResponseURL, { method: 'PUT', headers: { 'content-type': '' }, body });
  if (!put.ok) throw new Error(`CloudFormation did not take the response: HTTP ${put.status}`);
}
