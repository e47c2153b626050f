/**
 * CloudFormation custom resource: one per experiment pair, writing one tag (`eni-failover:<pair>` = the
 * construct's service name) on both members. The FIS experiment selects its target by that tag and by the pair's
 * ENI (lib/experiments.ts): the member that holds the ENI when the experiment starts. The tag is static (both
 * members carry it, whoever holds the ENI), so no writer has to follow the moves.
 * Its physical ID is `key=value`: a change of members updates it in place (the removed member untagged here);
 * a renamed pair is a new resource with a new key, and the old one's clean-up removes only its own key.
 */
import { CreateTagsCommand, DeleteTagsCommand, type EC2Client } from '@aws-sdk/client-ec2';

export interface TagProperties {
  readonly TagKey?: string;
  readonly TagValue?: string;
  readonly InstanceIds?: readonly string[];
}

export interface TagEvent {
  readonly RequestType: 'Create' | 'Update' | 'Delete';
  readonly PhysicalResourceId?: string;
  readonly LogicalResourceId: string;
  readonly ResourceProperties: TagProperties;
  readonly OldResourceProperties?: TagProperties;
}

function parse(props: TagProperties | undefined): { key: string; value: string; instanceIds: string[] } {
  const { TagKey: key, TagValue: value, InstanceIds: ids } = props ?? {};
  if (typeof key !== 'string' || key === '' || typeof value !== 'string')
    throw new Error(`TagKey and TagValue are required, got ${JSON.stringify({ key, value })}`);
  if (!Array.isArray(ids) || ids.length === 0 || !ids.every((i) => typeof i === 'string' && i !== ''))
    throw new Error(`InstanceIds must list one or more instance IDs, got ${JSON.stringify(ids)}`);
  return { key, value, instanceIds: [...new Set(ids)] };
}

/**
 * Removes the tag from these instances if it still has this value (DeleteTags with a value deletes only a match:
 * EC2 API Reference, DeleteTags). An instance gone (terminated, then forgotten) has no tags left to remove.
 */
async function untag(client: EC2Client, key: string, value: string, instanceIds: readonly string[]) {
  for (const id of instanceIds) {
    try {
      await client.send(new DeleteTagsCommand({ Resources: [id], Tags: [{ Key: key, Value: value }] }));
    } catch (error) {
      if ((error as Error).name !== 'InvalidInstanceID.NotFound') throw error;
    }
  }
}

/** Create and Update tag the instances (and untag those no longer listed); Delete untags them. */
export async function applyTags(client: EC2Client, event: TagEvent): Promise<string> {
  if (event.RequestType === 'Delete') {
    let target: ReturnType<typeof parse>;
    try {
      target = parse(event.ResourceProperties);
    } catch {
      return event.PhysicalResourceId ?? event.LogicalResourceId; // a create refused for its properties made nothing
    }
    await untag(client, target.key, target.value, target.instanceIds);
    return `${target.key}=${target.value}`;
  }
  const { key, value, instanceIds } = parse(event.ResourceProperties);
  await client.send(new CreateTagsCommand({ Resources: instanceIds, Tags: [{ Key: key, Value: value }] }));
  if (event.RequestType === 'Update') {
    let old: ReturnType<typeof parse> | undefined;
    try {
      old = parse(event.OldResourceProperties);
    } catch {
      // Old properties that never tagged anything: nothing to untag.
    }
    // Same tag: the members dropped lose it here (no Delete follows an update in place). A refusal fails the
    // update, loudly: a member left tagged would stay an experiment's target.
    if (old && old.key === key && old.value === value)
      await untag(
        client,
        key,
        value,
        old.instanceIds.filter((i) => !instanceIds.includes(i)),
      );
  }
  return `${key}=${value}`;
}
