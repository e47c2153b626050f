/**
 * CloudFormation custom resource (and the entry point of its function, which also serves the experiments' target
 * tags: experiment-targets.ts): one per EC2 application status check, holding the check's whole set of
 * instance associations. Its physical ID is the check's ID, so a change of members (a swap of primary and
 * standby, a member replaced) is an Update in place, which CloudFormation never follows with a Delete; only a
 * new check (a renamed pair, a replaced check) gets a new physical ID, and then the clean-up Delete carries the
 * old check's ID and touches nothing of the new one. (One resource per check and instance, with a physical ID
 * `check/instance`, broke on a swap: the two resources exchanged IDs and the clean-up deletes removed both
 * associations.) A custom resource because the association types have no CDK L1 yet.
 * Bundled on its own (lib/application-checks.ts); the failover function never imports it.
 * Every outcome is judged by reading the associations back (DescribeApplicationStatusCheckAssociations):
 * associate and disassociate answer per instance, and an association already there (or already gone) comes
 * back as an unsuccessful result (EC2 API Reference, AssociateApplicationStatusCheck,
 * DisassociateApplicationStatusCheck: SuccessfulResults / UnsuccessfulResults).
 */
import {
  AssociateApplicationStatusCheckCommand,
  DescribeApplicationStatusCheckAssociationsCommand,
  DisassociateApplicationStatusCheckCommand,
  EC2Client,
  type UnsuccessfulAssociationResponseObject,
} from '@aws-sdk/client-ec2';
import { HTTP } from '../aws/clients.ts';
import { applyTags, type TagProperties } from './experiment-targets.ts';
import { type CustomResourceRequest, respond } from './respond.ts';

/** The other resource type this function serves: the tag that FIS experiments select their target by. */
export const EXPERIMENT_TARGET_TAGS = 'Custom::ExperimentTargetTags';

/** What the resource holds: the check and the instances it must be associated with (and no others). */
export interface AssociationProperties {
  readonly ApplicationStatusCheckId?: string;
  readonly InstanceIds?: readonly string[];
}

export interface AssociationEvent extends CustomResourceRequest {
  readonly ResourceType?: string;
  readonly ResourceProperties: AssociationProperties & TagProperties;
  readonly OldResourceProperties?: AssociationProperties & TagProperties;
}

const ec2 = new EC2Client({ requestHandler: HTTP });

/** The check and its instances, or the problem, named. */
function parse(props: AssociationProperties): { checkId: string; instanceIds: string[] } {
  const checkId = props.ApplicationStatusCheckId;
  const ids = props.InstanceIds;
  if (typeof checkId !== 'string' || checkId === '')
    throw new Error(`ApplicationStatusCheckId is required, got ${JSON.stringify(checkId)}`);
  if (!Array.isArray(ids) || ids.length === 0 || !ids.every((i) => typeof i === 'string' && i !== ''))
    throw new Error(`InstanceIds must list one or more instance IDs, got ${JSON.stringify(ids)}`);
  return { checkId, instanceIds: [...new Set(ids)] };
}

/** EC2's answer for an ID it does not know ends in `.NotFound` (EC2 API Reference, "Error codes"). */
const checkIsGone = (error: unknown) =>
  error instanceof Error && /ApplicationStatusCheck.*\.NotFound$/i.test(error.name);

/** The instances associated with the check now (instance-ID associations only; tag ones are not ours). */
export async function associatedInstances(client: EC2Client, checkId: string): Promise<Set<string>> {
  const found = new Set<string>();
  let NextToken: string | undefined;
  do {
    const page = await client.send(
      new DescribeApplicationStatusCheckAssociationsCommand({
        ApplicationStatusCheckIds: [checkId],
        NextToken,
      }),
    );
    for (const a of page.Associations ?? [])
      if (a.ApplicationStatusCheckId === checkId && a.AssociationType === 'instance-id' && a.Value)
        found.add(a.Value);
    NextToken = page.NextToken;
  } while (NextToken);
  return found;
}

const reasons = (results: readonly UnsuccessfulAssociationResponseObject[] | undefined) =>
  (results ?? []).map((r) => `${r.AssociationValue ?? '?'}: ${r.Reason ?? 'no reason given'}`).join('; ');

/** Makes the check's associations exactly `instanceIds`; throws naming what is still wrong. */
async function converge(client: EC2Client, checkId: string, instanceIds: readonly string[]): Promise<void> {
  const want = new Set(instanceIds);
  const now = await associatedInstances(client, checkId);
  const add = [...want].filter((i) => !now.has(i));
  const remove = [...now].filter((i) => !want.has(i));
  const said: string[] = [];
  if (add.length > 0) {
    const out = await client.send(
      new AssociateApplicationStatusCheckCommand({ ApplicationStatusCheckId: checkId, InstanceIds: add }),
    );
    if (out.UnsuccessfulResults?.length) said.push(`associate: ${reasons(out.UnsuccessfulResults)}`);
  }
  if (remove.length > 0) {
    const out = await client.send(
      new DisassociateApplicationStatusCheckCommand({
        ApplicationStatusCheckId: checkId,
        InstanceIds: remove,
      }),
    );
    if (out.UnsuccessfulResults?.length) said.push(`disassociate: ${reasons(out.UnsuccessfulResults)}`);
  }
  const after = await associatedInstances(client, checkId);
  const missing = [...want].filter((i) => !after.has(i));
  const extra = [...after].filter((i) => !want.has(i));
  if (missing.length > 0 || extra.length > 0) {
    throw new Error(
      `${checkId} is associated with ${[...after].join(', ') || 'no instance'}, not ${[...want].join(', ')}` +
        `${missing.length ? ` (missing ${missing.join(', ')})` : ''}${extra.length ? ` (extra ${extra.join(', ')})` : ''}` +
        `${said.length ? `; EC2 said ${said.join('; ')}` : ''}`,
    );
  }
}

/**
 * Removes the resource's instances from its check, and confirms it by reading back. A check already gone
 * took its associations with it. A read-back that fails is not a confirmation: the delete fails, loudly,
 * rather than tell CloudFormation that associations are gone when nobody knows.
 */
async function release(client: EC2Client, checkId: string, instanceIds: readonly string[]): Promise<void> {
  let said = '';
  try {
    const out = await client.send(
      new DisassociateApplicationStatusCheckCommand({
        ApplicationStatusCheckId: checkId,
        InstanceIds: [...instanceIds],
      }),
    );
    said = reasons(out.UnsuccessfulResults);
  } catch (error) {
    if (checkIsGone(error)) return;
    said = (error as Error).message;
  }
  let after: Set<string>;
  try {
    after = await associatedInstances(client, checkId);
  } catch (error) {
    if (checkIsGone(error)) return;
    throw new Error(
      `could not confirm that ${checkId} is no longer associated with ${instanceIds.join(', ')}: reading the associations back failed (${(error as Error).message})${said ? `; EC2 said ${said}` : ''}`,
    );
  }
  const still = instanceIds.filter((i) => after.has(i));
  if (still.length > 0)
    throw new Error(`could not disassociate ${checkId} from ${still.join(', ')}${said ? `: ${said}` : ''}`);
}

/**
 * Create and Update make the check's associations exactly the resource's instances; Delete removes them.
 * Returns the physical ID: the check's ID.
 */
export async function apply(client: EC2Client, event: AssociationEvent): Promise<string> {
  if (event.RequestType === 'Delete') {
    let target: { checkId: string; instanceIds: string[] };
    try {
      target = parse(event.ResourceProperties);
    } catch {
      // A resource whose create was refused for its properties made nothing: nothing to remove.
      return event.PhysicalResourceId ?? event.LogicalResourceId;
    }
    await release(client, target.checkId, target.instanceIds);
    return target.checkId;
  }
  const { checkId, instanceIds } = parse(event.ResourceProperties);
  await converge(client, checkId, instanceIds);
  return checkId;
}

export async function handler(event: AssociationEvent): Promise<void> {
  let physicalId = event.PhysicalResourceId ?? event.LogicalResourceId;
  let failure: string | undefined;
  try {
    physicalId = await (event.ResourceType === EXPERIMENT_TARGET_TAGS ? applyTags : apply)(ec2, event);
  } catch (error) {
    failure = (error as Error).message;
  }
  await respond(event, physicalId, failure);
}
