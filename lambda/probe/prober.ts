// The prober as Lambda runs it, from its dependencies: learn the members' addresses from each failover
// function's status, probe until the run ends, hand evidence over with an asynchronous Invoke.
import type { Logger } from '@aws-lambda-powertools/logger';
import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import { InvokeCommand, type LambdaClient } from '@aws-sdk/client-lambda';
import type { Pair } from '../config.ts';
import type { Result } from '../result.ts';
import { probe } from './check.ts';
import type { ProbeConfig, ProbeTarget } from './config.ts';
import { evidenceEvent, type Member, type ProbedPair, type ProberPorts, runProber } from './loop.ts';
import type { ViewStore } from './store.ts';

/** Kept back from Lambda's remaining time: the last sends and the metrics' flush. */
const RESERVE_MS = 5_000;
/** Per-member metrics are flushed this often: one EMF line per member every 10 s, not one per probe. */
const FLUSH_MS = 10_000;

export interface ProberDeps {
  readonly config: ProbeConfig;
  readonly lambda: LambdaClient;
  readonly logger: Logger;
  /** The construct's service name: the `service` dimension of the metrics. */
  readonly serviceName: string;
  readonly namespace: string;
  /** The view across runs (the pair-state table); without it each run starts afresh. */
  readonly view?: ViewStore;
}

const decode = (payload: Uint8Array | undefined) =>
  JSON.parse(new TextDecoder().decode(payload ?? new Uint8Array()));

/**
 * The members' own primary addresses, from the failover function's status (the function is the one
 * part that reads EC2; the prober may only invoke it). A pair whose addresses EC2 did not give is
 * not probed this run, and counted as an error.
 */
export async function membersOf(
  target: ProbeTarget,
  lambda: LambdaClient,
  failed: (pair: Pair | undefined, error: unknown) => void,
): Promise<ProbedPair[]> {
  let results: Result[];
  try {
    const answer = await lambda.send(
      new InvokeCommand({ FunctionName: target.functionName, Payload: JSON.stringify({ action: 'status' }) }),
    );
    if (answer.FunctionError)
      throw new Error(`status of ${target.functionName} failed: ${JSON.stringify(decode(answer.Payload))}`);
    const body = decode(answer.Payload);
    results = Array.isArray(body) ? body : [body];
  } catch (error) {
    failed(undefined, error);
    return [];
  }
  return target.pairs.flatMap((pair): ProbedPair[] => {
    const addresses = results.find((r) => r.pair === pair.name)?.state?.addresses;
    if (!addresses?.primary || !addresses.standby) {
      failed(
        pair,
        new Error(
          `the status of pair ${pair.name} gives no address for ${addresses?.primary ? 'the standby' : 'the primary'}`,
        ),
      );
      return [];
    }
    const members: [Member, Member] = [
      { role: 'primary', instanceId: pair.primaryInstanceId, address: addresses.primary },
      { role: 'standby', instanceId: pair.standbyInstanceId, address: addresses.standby },
    ];
    const state = results.find((r) => r.pair === pair.name)?.state;
    // The ENI counts as held only while attached: an attaching or detaching one has no holder to judge it by.
    const holder = state?.attached ? state.holder : null;
    return [{ pair, members, service: addresses.service ?? undefined, holder }];
  });
}

/** Builds the prober's Lambda entry from its dependencies; lambda/probe/handler.ts supplies the real ones. */
export function createProber(deps: ProberDeps) {
  const { config, lambda, logger } = deps;
  const functionOf = new Map(config.targets.flatMap((t) => t.pairs.map((p) => [p.name, t.functionName])));
  const service = new Metrics({ namespace: deps.namespace, serviceName: deps.serviceName });
  const perMember = new Map<string, Metrics>();
  const memberMetrics = (pair: Pair, m: Member) => {
    const key = `${pair.name}/${m.role}`;
    let metrics = perMember.get(key);
    if (!metrics) {
      metrics = new Metrics({
        namespace: deps.namespace,
        serviceName: deps.serviceName,
        defaultDimensions: { Pair: pair.name, Member: m.role },
      });
      perMember.set(key, metrics);
    }
    return metrics;
  };
  // The service address's metrics by Pair alone: its alarm is one a pair (lib/self-monitoring.ts addressAlarm).
  const addressMetrics = (pair: Pair) => {
    const key = `${pair.name}/address`;
    let metrics = perMember.get(key);
    if (!metrics) {
      metrics = new Metrics({
        namespace: deps.namespace,
        serviceName: deps.serviceName,
        defaultDimensions: { Pair: pair.name },
      });
      perMember.set(key, metrics);
    }
    return metrics;
  };
  const flush = () => {
    for (const m of perMember.values()) m.publishStoredMetrics();
  };
  const failed = (pair: Pair | undefined, error: unknown) => {
    logger.error('prober error', { pair: pair?.name, error });
    service.singleMetric().addMetric('ProbeErrors', MetricUnit.Count, 1);
  };
  const ports: Omit<ProberPorts, 'runId'> = {
    probe,
    view: deps.view,
    send: async (pair, evidence) => {
      const event = evidenceEvent(pair, evidence);
      logger.warn('probe evidence sent', { event });
      await lambda.send(
        new InvokeCommand({
          FunctionName: functionOf.get(pair.name),
          InvocationType: 'Event',
          Payload: JSON.stringify(event),
        }),
      );
    },
    blind: (pair, errors) => {
      logger.error('prober cannot reach either member', { pair: pair.name, errors });
      service.singleMetric().addMetric('ProbeBlind', MetricUnit.Count, 1);
    },
    // The same path as "cannot reach either member": the blind alarm pages on ProbeBlind.
    unreached: (pair, m, error) => {
      logger.error(
        `prober has never reached ${m.instanceId} (${m.role}, ${m.address}): check that its security group lets the prober in on the probed port and that the service listens on its primary address`,
        { pair: pair.name, instanceId: m.instanceId, error },
      );
      service.singleMetric().addMetric('ProbeBlind', MetricUnit.Count, 1);
    },
    record: (pair, m, r) => {
      const metrics = memberMetrics(pair, m);
      metrics.addMetric('ProbeLatency', MetricUnit.Milliseconds, r.ms);
      metrics.addMetric('ProbeFailed', MetricUnit.Count, r.ok ? 0 : 1);
    },
    service: (pair, r, holderUp) => {
      const metrics = addressMetrics(pair);
      metrics.addMetric('AddressFailed', MetricUnit.Count, r.ok ? 0 : 1);
      // The alarm's metric: 1 while the address fails although its holder is attached and passes.
      metrics.addMetric('AddressDownHolderUp', MetricUnit.Count, !r.ok && holderUp ? 1 : 0);
    },
    outage: (pair, o) => {
      logger.warn('service address answered again', {
        pair: pair.name,
        from: new Date(o.from).toISOString(),
        to: new Date(o.to).toISOString(),
        ms: o.ms,
      });
      addressMetrics(pair).addMetric('AddressDowntime', MetricUnit.Milliseconds, o.ms);
    },
    vetoed: (pair, evidence, run) =>
      logger.warn('probe evidence held back: another run saw the member pass within its window', {
        pair: pair.name,
        instanceId: evidence.instanceId,
        run,
      }),
    error: failed,
    now: () => Date.now(),
    sleep: (ms) => new Promise((resolve) => setTimeout(resolve, Math.max(0, ms))),
  };
  return async (_event: unknown, context: { getRemainingTimeInMillis(): number; awsRequestId?: string }) => {
    const until = Date.now() + Math.min(config.runMs, context.getRemainingTimeInMillis() - RESERVE_MS);
    const probed = (await Promise.all(config.targets.map((t) => membersOf(t, lambda, failed)))).flat();
    const timer = setInterval(flush, FLUSH_MS);
    try {
      const runId = context.awsRequestId ?? crypto.randomUUID();
      const summaries = await runProber(probed, { ...ports, runId }, until);
      const answer = summaries.map((s) => ({
        pair: s.pair,
        probes: s.probes,
        sent: s.sent.length,
        blind: s.blind,
        unreached: s.unreached,
        vetoed: s.vetoed,
        outages: s.outages.length,
      }));
      logger.info('probe run ended', { summaries: answer });
      return answer;
    } finally {
      clearInterval(timer);
      flush();
    }
  };
}
