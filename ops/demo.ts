import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { CreateTopicCommand, SNSClient, SubscribeCommand } from '@aws-sdk/client-sns';
import {
  CreateQueueCommand,
  GetQueueAttributesCommand,
  ReceiveMessageCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';
import type { Context } from 'aws-lambda';
import type { Pair } from '../lambda/config.ts';
import type { Evidence } from '../lambda/evidence.ts';
import { probe } from '../lambda/probe/check.ts';
import { evidenceEvent, runProber } from '../lambda/probe/loop.ts';
import type { Result } from '../lambda/result.ts';
import { type ApplicationStatus, ApplicationStatusProxy } from './app-status-proxy.ts';
import { createStateTable, dynamoClient, startDynalite } from './dynamo.ts';
import { startEmbedded } from './embedded.ts';
import { chooseEmulator, type EmulatorChoice, headline } from './emulator.ts';
import { formatFleet, formatResult, type Names } from './format.ts';
import { type MemberServer, memberPair } from './members.ts';
import { startMoto } from './moto.ts';
import { buildEmbeddedWorld, buildWorld, useEndpoint, type World } from './world.ts';

type Handler = (event: unknown, context: Context) => Promise<Result | Result[]>;

/** What an emulator gives the acts: the world, a way to set application status, and the phone. */
interface Stage {
  world: World;
  /** What the audience must know about this emulator, after the first line. */
  intro: string[];
  setApplicationStatus(instanceId: string, status: ApplicationStatus): void;
  /** How this emulator shows application status, printed under the act that uses it. */
  applicationStatusNote: string;
  topicArn: string;
  /** The pair state table (docs/contract.md, "Pair state"), made on this emulator's DynamoDB. */
  stateTable: string;
  /** The subjects the on-call phone received since the last look. */
  phone(): Promise<string[]>;
  stop(): Promise<void>;
}

/**
 * moto plays EC2 and SNS over HTTP; an SQS queue subscribed to the topic stands in for the phone.
 * moto has no EC2 application status checks: a proxy in front of its EC2 simulates that one signal.
 */
async function motoStage(): Promise<Stage> {
  const moto = await startMoto();
  const stops: (() => Promise<void>)[] = [() => moto.stop()];
  const stop = async () => {
    delete process.env.AWS_ENDPOINT_URL_EC2;
    for (const s of stops.reverse()) await s();
  };
  try {
    useEndpoint(moto.url);
    // EC2 (only) goes through the proxy that simulates application status; SNS and SQS go to moto.
    const appStatus = await ApplicationStatusProxy.start(moto.url);
    stops.push(() => appStatus.stop());
    process.env.AWS_ENDPOINT_URL_EC2 = appStatus.url;
    const world = await buildWorld();
    // moto serves DynamoDB on the same port: the pair state table lives there.
    await createStateTable(new DynamoDBClient({}), STATE_TABLE);
    const sns = new SNSClient({});
    const sqs = new SQSClient({});
    const topicArn = (await sns.send(new CreateTopicCommand({ Name: 'eni-failover-events' })))
      .TopicArn as string;
    const queueUrl = (await sqs.send(new CreateQueueCommand({ QueueName: 'on-call-phone' })))
      .QueueUrl as string;
    const { Attributes } = await sqs.send(
      new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['QueueArn'] }),
    );
    await sns.send(
      new SubscribeCommand({ TopicArn: topicArn, Protocol: 'sqs', Endpoint: Attributes?.QueueArn }),
    );
    return {
      world,
      intro: [
        `moto plays EC2 and SNS at ${moto.url}: VPC ${world.vpcId}, subnets in eu-west-1a and eu-west-1b;`,
        "  it settles an attach or a detach at once and ignores Force, so the timings are the function's own.",
        `  moto's DynamoDB holds the pair state table (${STATE_TABLE}): the lease, damping, windows.`,
      ],
      setApplicationStatus: (id, status) => appStatus.set(id, status),
      applicationStatusNote:
        'SIMULATED: moto has no EC2 application status checks, so a proxy in front of its EC2 reports this one signal\n' +
        '(DescribeInstanceStatus ApplicationStatus: primary impaired, standby ok); the StatusCheckFailed_Application\n' +
        'alarm event, and everything the function does about it, are real.',
      topicArn,
      stateTable: STATE_TABLE,
      phone: async () =>
        (
          (await sqs.send(new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10 })))
            .Messages ?? []
        ).map((m) => String(JSON.parse(m.Body ?? '{}').Subject)),
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}

/**
 * Settle times of the embedded EC2's attach and detach: shortened for the demo (EC2 takes seconds, more
 * under load), long enough that the function is seen to wait for `detaching` and `attaching` to end.
 */
const EMBEDDED_SETTLE = { detachMs: 1_000, attachMs: 1_500 };

/** The demo's pair state table, as the stack would make it (partition key `pk`). */
const STATE_TABLE = 'eni-failover-demo-state';

/** The project's own EC2 (ops/fake-ec2.ts) and an SNS stand-in, in this process (see ops/embedded.ts). */
async function embeddedStage(): Promise<Stage> {
  const { world, fake } = buildEmbeddedWorld(EMBEDDED_SETTLE);
  const embedded = startEmbedded(fake, 'eni-failover-events');
  // The pair state table on dynalite (npm: DynamoDB's API in this process, on loopback), where the function's
  // own DynamoDB client finds it through the SDK's service-specific endpoint variable.
  const dynamo = await startDynalite();
  process.env.AWS_ENDPOINT_URL_DYNAMODB = dynamo.endpoint;
  await createStateTable(dynamoClient(dynamo.endpoint), STATE_TABLE);
  const s = (ms: number) => `${ms / 1000} s`;
  return {
    world,
    intro: [
      "The function's own SDK clients answer in-process (client-level interception): EC2 from the in-memory model,",
      `  where a detach and an attach pass through detaching and attaching (${s(EMBEDDED_SETTLE.detachMs)} and ${s(EMBEDDED_SETTLE.attachMs)} here) and`,
      '  refuse what EC2 refuses; SNS from a stand-in that hands the phone what is published.',
      `VPC ${world.vpcId}, subnets in eu-west-1a and eu-west-1b, built straight into the model.`,
      `The pair state table (${STATE_TABLE}: the lease, damping, windows) is on dynalite, DynamoDB's API in this process.`,
    ],
    setApplicationStatus: (id, status) => fake.set(id, { appStatus: status }),
    applicationStatusNote:
      "MODELLED: the embedded EC2 has EC2 application status checks in its model; this act sets the primary's to\n" +
      "impaired and the standby's to ok there, and DescribeInstanceStatus reports them as EC2 does (ApplicationStatus);\n" +
      'the StatusCheckFailed_Application alarm event, and everything the function does about it, are real.',
    topicArn: embedded.topicArn,
    stateTable: STATE_TABLE,
    phone: async () => embedded.subjects(),
    stop: async () => {
      embedded.stop();
      delete process.env.AWS_ENDPOINT_URL_DYNAMODB;
      await dynamo.close();
    },
  };
}

/** The world the acts play in: the emulator's world, and a second pair whose standby is in the wrong AZ. */
type Scene = World & { api: Pair; stage: Stage; probe: ProbeScene };

/** The web members' service as the prober meets it: HTTP servers on loopback addresses (issue 17). */
interface ProbeScene {
  readonly primary: MemberServer;
  readonly standby: MemberServer;
  /** The prober's evidence, once it has seen the primary fail. */
  evidence?: Evidence;
}

/**
 * One act: what happens, the event the function receives, and what must be true afterwards. Every act
 * is checked the same way on both emulators. A new act is one more entry in ACTS (and one more row in
 * test/helpers/demo.ts); what differs by emulator (a signal one of them lacks) goes through the Stage.
 */
interface Act {
  title: string;
  /** Printed under the title: what the audience must know, such as a simulated signal. */
  note?: (w: Scene) => string;
  /** Sets the stage; what it returns is printed under the note (what was seen, and when). */
  prepare?: (w: Scene) => Promise<unknown>;
  event: (w: Scene) => unknown;
  /** What must be true afterwards, as a sentence and a check. */
  expect: {
    outcome: Result['outcome'];
    holder: (w: Scene) => string;
    eni?: (w: Scene) => string;
    /** More that must be true of the result, such as the check that refused it. */
    proof?: (r: Result) => boolean;
    says: string;
  };
}

/** Force is AWS's last resort for a failed instance: a move off a running one detaches without it. */
const withoutForce = (r: Result) =>
  r.steps.some((s) => s.name === 'detach') && !r.steps.some((s) => s.name === 'force-detach');

/**
 * The real prober loop (lambda/probe/loop.ts) on the web members' loopback servers, until it has the
 * evidence that the primary failed while the standby passed; the primary's service dies a random
 * moment into the probe interval. Returns what the audience sees.
 */
async function proberSees(w: Scene): Promise<string> {
  const stop = new AbortController();
  let killedAt = 0;
  let seenAt = 0;
  const running = runProber(
    [
      {
        pair: w.pair,
        members: [
          { role: 'primary', instanceId: w.primary, address: w.probe.primary.address },
          { role: 'standby', instanceId: w.standby, address: w.probe.standby.address },
        ],
      },
    ],
    {
      probe,
      send: async (_, evidence) => {
        seenAt = performance.now();
        w.probe.evidence = evidence;
        stop.abort();
      },
      blind: () => stop.abort(),
      unreached: () => stop.abort(),
      record: () => {},
      service: () => {},
      outage: () => {},
      vetoed: () => {},
      error: () => {},
      runId: 'demo',
      now: () => Date.now(),
      sleep: (ms) => new Promise((resolve) => setTimeout(resolve, Math.max(0, ms))),
    },
    Date.now() + 15_000,
    stop.signal,
  );
  await new Promise((resolve) => setTimeout(resolve, 1_200 + Math.random() * 1_000));
  killedAt = performance.now();
  await w.probe.primary.set({ kind: 'down' });
  await running;
  const e = w.probe.evidence;
  if (!e) return '  the prober sent no evidence';
  return `  the prober saw ${e.failures} failed probes of the primary (${[...new Set(e.errors)].join(', ')}) while the standby passed: evidence sent ${((seenAt - killedAt) / 1000).toFixed(1)} s after the service died`;
}

/** An alarm on `metric` of `instanceId`, shaped exactly as CloudWatch delivers it through SNS. */
function statusCheckAlarm(instanceId: string, alarmName: string, metric = 'StatusCheckFailed') {
  const message = {
    AlarmName: alarmName,
    AlarmArn: `arn:aws:cloudwatch:eu-west-1:123456789012:alarm:${alarmName}`,
    NewStateValue: 'ALARM',
    OldStateValue: 'OK',
    Region: 'EU (Ireland)',
    Trigger: {
      MetricName: metric,
      Namespace: 'AWS/EC2',
      Dimensions: [{ value: instanceId, name: 'InstanceId' }],
    },
  };
  return {
    Records: [
      {
        EventSource: 'aws:sns',
        EventVersion: '1.0',
        EventSubscriptionArn: 'arn:aws:sns:eu-west-1:123456789012:eni-failover-alarms:demo',
        Sns: {
          Type: 'Notification',
          MessageId: `demo-${Date.now()}`,
          Subject: `ALARM: "${alarmName}"`,
          Message: JSON.stringify(message),
        },
      },
    ],
  };
}

/**
 * An EC2 event as EventBridge delivers it (EC2 User Guide, "Spot Instance interruption notices" and "State
 * change events for Amazon EC2 instances"): the documented envelope, sent now.
 */
function ec2Event(detailType: string, instanceId: string, detail: Record<string, string>) {
  return {
    version: '0',
    id: `demo-${Date.now()}`,
    'detail-type': detailType,
    source: 'aws.ec2',
    account: '123456789012',
    time: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
    region: 'eu-west-1',
    resources: [`arn:aws:ec2:eu-west-1:123456789012:instance/${instanceId}`],
    detail: { 'instance-id': instanceId, ...detail },
  };
}

export const ACTS: readonly Act[] = [
  {
    title: 'The web primary fails: it stops, and its status-check alarm fires',
    prepare: (w) => w.stop(w.primary),
    event: (w) => statusCheckAlarm(w.primary, 'web-primary-status-check'),
    expect: { outcome: 'moved', holder: (w) => w.standby, says: 'the ENI moved to the standby' },
  },
  {
    title: 'The same alarm is delivered again (SNS delivers at least once)',
    event: (w) => statusCheckAlarm(w.primary, 'web-primary-status-check'),
    expect: { outcome: 'unchanged', holder: (w) => w.standby, says: 'nothing moved a second time' },
  },
  {
    title: 'A misconfigured pair: the api standby is in another Availability Zone',
    prepare: async (w) => w.stop(w.api.primaryInstanceId),
    event: (w) => statusCheckAlarm(w.api.primaryInstanceId, 'api-primary-status-check'),
    expect: {
      outcome: 'refused',
      holder: (w) => w.api.primaryInstanceId,
      eni: (w) => w.api.networkInterfaceId,
      says: 'refused before touching anything, with its reasons',
    },
  },
  {
    title: 'The web primary is repaired; fail back with a drill: a dry run, then the move',
    prepare: (w) => w.start(w.primary),
    event: () => ({ action: 'move', pair: 'web', to: 'primary', dryRun: true }),
    expect: { outcome: 'dry-run', holder: (w) => w.standby, says: 'the dry run changed nothing' },
  },
  {
    title: '...and the fail-back itself, off a healthy standby (no Force)',
    event: () => ({ action: 'move', pair: 'web', to: 'primary' }),
    expect: {
      outcome: 'moved',
      holder: (w) => w.primary,
      proof: withoutForce,
      says: 'the ENI is home on the primary, detached without Force',
    },
  },
  {
    title: "The web primary's application fails while the instance keeps running",
    note: (w) => w.stage.applicationStatusNote,
    prepare: async (w) => {
      w.stage.setApplicationStatus(w.primary, 'impaired');
      w.stage.setApplicationStatus(w.standby, 'ok');
    },
    event: (w) =>
      statusCheckAlarm(w.primary, 'web-primary-application-check', 'StatusCheckFailed_Application'),
    expect: {
      outcome: 'moved',
      holder: (w) => w.standby,
      // The instance is fine, only its application is not.
      proof: withoutForce,
      says: 'the ENI moved to the standby, detached without Force (the instance itself is fine)',
    },
  },
  {
    title: "A fail-back while the primary's application is still down",
    event: () => ({ action: 'move', pair: 'web', to: 'primary' }),
    expect: {
      outcome: 'refused',
      holder: (w) => w.standby,
      proof: (r) => r.reasons.some((x) => x.startsWith('target-application: ')),
      says: 'refused by target-application; the ENI stays where the service answers',
    },
  },
  {
    title: "The primary's application answers again; fail back",
    prepare: async (w) => w.stage.setApplicationStatus(w.primary, 'ok'),
    event: () => ({ action: 'move', pair: 'web', to: 'primary' }),
    expect: {
      outcome: 'moved',
      holder: (w) => w.primary,
      proof: withoutForce,
      says: 'the ENI is home on the primary',
    },
  },
  {
    title: "The web primary's service dies on a running instance: the prober sees it in seconds",
    note: () =>
      "SIMULATED: each member's service is an HTTP server on a loopback address (127.0.0.x) standing in for\n" +
      "the instance's primary address; the prober's loop is the real one (1 s interval, 3 failures), run\n" +
      "in-process, and its evidence goes to the function as Lambda's asynchronous Invoke delivers it. EC2\n" +
      'still shows the primary running and healthy: only the prober knows.',
    prepare: proberSees,
    event: (w) => evidenceEvent(w.pair, w.probe.evidence as Evidence),
    expect: {
      outcome: 'moved',
      holder: (w) => w.standby,
      proof: (r) => withoutForce(r) && r.reasons.some((x) => x.includes('the prober saw 3 http probes')),
      says: 'the ENI moved to the standby on the probe evidence, detached without Force',
    },
  },
  {
    title: "The web primary's service answers again; fail back",
    prepare: (w) => w.probe.primary.set({ kind: 'up' }),
    event: () => ({ action: 'move', pair: 'web', to: 'primary' }),
    expect: {
      outcome: 'moved',
      holder: (w) => w.primary,
      proof: withoutForce,
      says: 'the ENI is home on the primary',
    },
  },
  {
    title: 'The web primary is a Spot Instance: EC2 warns that it will be interrupted in two minutes',
    note: () =>
      'REAL SHAPE: the event is EventBridge\'s "EC2 Spot Instance Interruption Warning" as the EC2 User Guide documents it\n' +
      '(detail instance-id, instance-action "terminate"); the demo sends it, since an emulator has no Spot market. The\n' +
      'primary is healthy: the function moves the address now, while the move is cleanest.',
    event: (w) =>
      ec2Event('EC2 Spot Instance Interruption Warning', w.primary, { 'instance-action': 'terminate' }),
    expect: {
      outcome: 'moved',
      holder: (w) => w.standby,
      proof: (r) =>
        withoutForce(r) && r.reasons.some((x) => x.includes('is going away: Spot interruption warning')),
      says: 'the ENI moved to the standby before the primary stops, detached without Force',
    },
  },
  {
    title: 'Two minutes later EC2 interrupts the Spot primary: it stops',
    prepare: (w) => w.stop(w.primary),
    event: (w) => ec2Event('EC2 Instance State-change Notification', w.primary, { state: 'stopped' }),
    expect: {
      outcome: 'unchanged',
      holder: (w) => w.standby,
      says: 'nothing left to move: the address had already left',
    },
  },
];

/**
 * The local demo: an emulator plays EC2 and SNS (moto, or the project's own in-memory EC2); the real
 * function (lambda/handler.ts, configured from its environment as in Lambda, with its own SDK clients)
 * is invoked with real-shaped events. Returns the number of acts that did not end as expected.
 */
export async function runDemo(
  choice: EmulatorChoice = chooseEmulator(),
  log: (line: string) => void = console.log,
): Promise<number> {
  log(headline(choice));
  const stage = choice.name === 'moto' ? await motoStage() : await embeddedStage();
  // The web members' service, as the prober meets it (act 9).
  const members = await memberPair(2);
  try {
    const world = stage.world;
    // A second service, "api", whose standby was put in the wrong AZ by mistake.
    const apiPrimary = await world.launch(world.subnetA);
    const apiEni = await world.createEni(world.subnetA, { instanceId: apiPrimary, deviceIndex: 1 });
    const api: Pair = {
      name: 'api',
      networkInterfaceId: apiEni,
      primaryInstanceId: apiPrimary,
      standbyInstanceId: world.decoy,
      deviceIndex: 1,
    };
    // Demo settings: an application check on web, and no cool-down, so that the acts need not wait
    // the default 300 s between two automatic moves of the same ENI.
    const web: Pair = {
      ...world.pair,
      cooldownSeconds: 0,
      applicationCheck: { protocol: 'http', port: 8080, path: '/health' },
      probe: { protocol: 'http', port: members.port, path: '/health' },
    };
    const w: Scene = {
      ...world,
      pair: web,
      api,
      stage,
      probe: { primary: members.primary, standby: members.standby },
    };
    const names: Names = {
      [w.primary]: 'web primary',
      [w.standby]: 'web standby',
      [apiPrimary]: 'api primary',
      [w.decoy]: 'api standby, eu-west-1b',
    };

    process.env.FAILOVER_PAIRS = JSON.stringify([w.pair, api]);
    process.env.NOTIFICATION_TOPIC_ARN = stage.topicArn;
    process.env.FAILOVER_STATE_TABLE = stage.stateTable;
    const { handler } = (await import('../lambda/handler.ts')) as { handler: Handler };
    const context = {
      getRemainingTimeInMillis: () => 60_000,
      functionName: 'eni-failover-demo',
      awsRequestId: 'demo',
    } as Context;

    for (const line of stage.intro) log(line);
    log(`pair web: ${w.eni} on ${w.primary} (primary), standby ${w.standby}, both eu-west-1a;`);
    log(
      '  application check http :8080/health; cool-down 0 s (300 s by default) so that the acts need not wait;',
    );
    log(`  probed by the prober: http :${members.port}/health every 1 s, 3 failures in a row`);
    log(`pair api: ${apiEni} on ${apiPrimary} (primary), standby ${w.decoy} in eu-west-1b (a mistake)\n`);

    let failures = 0;
    for (const [i, act] of ACTS.entries()) {
      log(`== ${i + 1}. ${act.title}`);
      const note = act.note?.(w);
      if (note) log(note.replace(/^/gm, '   '));
      const seen = await act.prepare?.(w);
      if (typeof seen === 'string') log(seen);
      const answer = await handler(act.event(w), context);
      const result = (Array.isArray(answer) ? answer[0] : answer) as Result;
      log(formatResult(result, names));
      for (const subject of await stage.phone()) log(`  phone: "${subject}"`);
      const holder = (await w.where(act.expect.eni?.(w) ?? w.eni)).holder;
      const ok =
        result.outcome === act.expect.outcome &&
        holder === act.expect.holder(w) &&
        (act.expect.proof?.(result) ?? true);
      if (!ok) failures += 1;
      log(
        ok
          ? `  OK: ${act.expect.says}\n`
          : `  NOT AS EXPECTED: wanted ${act.expect.outcome} with the ENI on ${act.expect.holder(w)} (${act.expect.says}); got ${result.outcome} with it on ${holder}\n`,
      );
    }
    log('== The fleet at a glance, as `npm run drill -- status` prints it');
    const fleet = await handler({ action: 'status' }, context);
    log(formatFleet(Array.isArray(fleet) ? fleet : [fleet], [web, api]));
    log('');
    log(
      failures === 0
        ? `Every act ended as expected (${ACTS.length} of ${ACTS.length}).`
        : `${failures} of ${ACTS.length} acts did not end as expected.`,
    );
    return failures;
  } finally {
    await Promise.all([members.primary.close(), members.standby.close()]);
    await stage.stop();
  }
}
