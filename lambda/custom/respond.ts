/**
 * The answer every custom resource of the construct owes CloudFormation: one PUT to the request's pre-signed
 * ResponseURL (CloudFormation User Guide, "Custom resources": request and response objects).
 */

/** What of a custom resource's request its answer needs. */
export interface CustomResourceRequest {
  readonly RequestType: 'Create' | 'Update' | 'Delete';
  readonly ResponseURL: string;
  readonly StackId: string;
  readonly RequestId: string;
  readonly LogicalResourceId: string;
  readonly PhysicalResourceId?: string;
}

/** CloudFormation shows a failed resource's reason in its events; the whole response may be 4 KB. */
const REASON_MAX = 3_000;

/** The response's body: SUCCESS with `success` as its reason, or FAILED with the failure. */
export function response(
  event: CustomResourceRequest,
  physicalId: string,
  failure: string | undefined,
  success = 'ok',
): string {
  return JSON.stringify({
    Status: failure === undefined ? 'SUCCESS' : 'FAILED',
    Reason: failure === undefined ? success : failure.slice(0, REASON_MAX),
    PhysicalResourceId: physicalId,
    StackId: event.StackId,
    RequestId: event.RequestId,
    LogicalResourceId: event.LogicalResourceId,
  });
}

/**
 * Sends the answer. Every handler calls it whatever happened: one that dies silently leaves the stack waiting
 * until the resource's ServiceTimeout.
 */
export async function respond(
  event: CustomResourceRequest,
  physicalId: string,
  failure: string | undefined,
  success?: string,
): Promise<void> {
  const body = response(event, physicalId, failure, success);
  const put = await fetch(event.ResponseURL, { method: 'PUT', headers: { 'content-type': '' }, body });
  if (!put.ok) throw new Error(`CloudFormation did not take the response: HTTP ${put.status}`);
}
