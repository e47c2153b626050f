// npm run bench [-- --detach-ms 2500 --attach-ms 3500 --runs 3 --samples 21]: every target, PASS or FAIL.
// Needs moto (the pairs-in-parallel figure runs against it). The prober's figures alone: test/bench/probe-run.ts.
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { benchColdImport } from './cold-import.ts';
import { benchFailover } from './failover.ts';
import { benchParallel } from './parallel.ts';
import { reportProbe } from './probe.ts';
import { benchSynth } from './synth.ts';

// The figures are the report: keep EMF lines and the SDK's Node 20 notice out of it.
process.env.POWERTOOLS_METRICS_DISABLED = 'true';
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';

const { values } = parseArgs({
  options: {
    'detach-ms': { type: 'string', default: '2500' },
    'attach-ms': { type: 'string', default: '3500' },
    runs: { type: 'string', default: '3' },
    samples: { type: 'string', default: '21' },
  },
});
const num = (name: keyof typeof values) => {
  const n = Number(values[name]);
  if (!Number.isFinite(n) || n < 0)
    throw new Error(`--${name} must be a number of 0 or more, got ${values[name]}`);
  return n;
};

// The mutations of one failover from a stopped holder on EC2: detach, attach, modify, the breadcrumb tag (the
// lease and the records are the state table's).
const MUTATING: Record<string, number> = {
  DetachNetworkInterface: 1,
  AttachNetworkInterface: 1,
  ModifyNetworkInterfaceAttribute: 1,
  CreateTags: 1,
};
// What the contract's checks need: the ENI, both instances, their status checks, their type's limit.
const OBSERVE = [
  'DescribeNetworkInterfaces',
  'DescribeInstances',
  'DescribeInstanceStatus',
  'DescribeInstanceTypes',
];

const verdicts: { target: string; ok: boolean }[] = [];
const verdict = (target: string, ok: boolean) => {
  verdicts.push({ target, ok });
  return ok ? 'PASS' : 'FAIL';
};

const f = await benchFailover(num('detach-ms'), num('attach-ms'), num('runs'));
const ec2Ms = f.detachMs + f.attachMs;
const worst = Math.max(...f.runs.map((r) => r.wallMs));
const limit = 1.1 * ec2Ms + 100;
console.log(`\n== Failover (EC2 settles a detach in ${f.detachMs} ms and an attach in ${f.attachMs} ms)`);
for (const [i, r] of f.runs.entries()) {
  console.log(
    `run ${i + 1}: wall ${r.wallMs.toFixed(0)} ms = ${(r.wallMs / ec2Ms).toFixed(3)} x EC2's ${ec2Ms} ms   [${r.steps.map((s) => `${s.name} ${s.ms}`).join(', ')}]`,
  );
}
console.log(
  `worst wall ${worst.toFixed(0)} ms; target <= 1.1 x ${ec2Ms} + 100 = ${limit.toFixed(0)} ms: ${verdict('wall time', worst <= limit)}`,
);
const stepMs = (runs: typeof f.runs, name: string) =>
  [...runs.flatMap((r) => r.steps.filter((st) => st.name === name).map((st) => st.ms))].sort((a, b) => a - b);
const mid = (xs: number[]) => xs[Math.floor(xs.length / 2)] ?? Number.NaN;
// The outage: from the first look to the ENI attached (what follows, the keep, the breadcrumb and the record,
// comes after the address is back).
const outage = (r: (typeof f.runs)[number]) => {
  let ms = 0;
  for (const st of r.steps) {
    ms += st.ms;
    if (st.name === 'wait-attached') return ms;
  }
  return Number.NaN;
};
console.log(
  `the lease: median ${mid(stepMs(f.runs, 'lease'))} ms (one conditional write to the table, before the detach); the move's record after the attach: median ${mid(stepMs(f.runs, 'record-move'))} ms, off the outage`,
);
const lagged = await benchFailover(num('detach-ms'), num('attach-ms'), num('runs'), 3_000);
const plainOutage = mid(f.runs.map(outage).sort((a, b) => a - b));
const laggedOutage = mid(lagged.runs.map(outage).sort((a, b) => a - b));
console.log(
  `EC2 tag reads lagging 3 s: outage (first look to attached) median ${laggedOutage.toFixed(0)} ms against ${plainOutage.toFixed(0)} ms without the lag; target: the lag adds < 500 ms: ${verdict('tag lag', laggedOutage - plainOutage < 500)}`,
);

console.log('\n== API calls in one failover');
for (const [name, n] of Object.entries(f.calls)) console.log(`${String(n).padStart(3)}  ${name}`);
// Besides the observation's, every DescribeNetworkInterfaces is a settle poll.
const polls = (f.calls.DescribeNetworkInterfaces ?? 0) - 1;
const unexpected = Object.keys(f.calls).filter((c) => !(c in MUTATING) && !OBSERVE.includes(c));
const mutating = Object.entries(MUTATING).map(([c, n]) => ({ c, n, made: f.calls[c] ?? 0 }));
console.log(
  `observe: ${OBSERVE.length} calls; settle polls: ${polls}; mutating: ${mutating.reduce((a, m) => a + m.made, 0)} (${mutating.map((m) => `${m.made} ${m.c}`).join(', ')})`,
);
console.log(
  `no call beyond the checks, the settle polls and the mutations listed: ${verdict('API calls', unexpected.length === 0 && mutating.every((m) => m.made === m.n))}`,
);

const PAIRS = 20;
const settle = { detachMs: num('detach-ms'), attachMs: num('attach-ms') };
console.log(
  `\n== Pairs in parallel against moto: 1 pair, then ${PAIRS} pairs failing at once, each event in its own function instance`,
);
// Taken in turn, three of each, so that a burst of load on the machine does not fall on one side only.
const par = await benchParallel([1, PAIRS, 1, PAIRS, 1, PAIRS], settle);
const fast = await benchParallel([1, PAIRS], { detachMs: 0, attachMs: 0 });
const show = (label: string, runs: typeof par) => {
  for (const r of runs)
    console.log(
      `${label}: ${String(r.pairs).padStart(2)} pair(s): wall ${r.wallMs.toFixed(0)} ms, ${r.moved} moved, at most ${r.peak} moves in flight at once`,
    );
};
show(`EC2 settles in ${settle.detachMs} + ${settle.attachMs} ms`, par);
show("moto's own speed", fast);
const leaseMs = [...par, ...fast].flatMap((r) => r.leaseMs);
console.log(
  `the lease's write, the one call it adds before the detach, against moto's DynamoDB: median ${[...leaseMs].sort((a, b) => a - b)[Math.floor(leaseMs.length / 2)] ?? '?'} ms, max ${Math.max(...leaseMs)} ms over ${leaseMs.length} moves (the earlier intent tag's write: median 227 ms against moto's EC2)`,
);
const walls = (runs: typeof par, n: number) => runs.filter((r) => r.pairs === n).map((r) => r.wallMs);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;
const parRatio = median(walls(par, PAIRS)) / median(walls(par, 1));
const parWorst = Math.max(...walls(par, PAIRS)) / Math.min(...walls(par, 1));
const fastRatio = median(walls(fast, PAIRS)) / median(walls(fast, 1));
console.log(
  `at moto's own speed ${PAIRS} pairs take ${fastRatio.toFixed(2)} x one (this machine's 2 cores run every container and moto)`,
);
console.log(
  `${PAIRS} pairs against 1 pair, EC2 settling: median ${parRatio.toFixed(2)} x (slowest against fastest ${parWorst.toFixed(2)} x); target <= 1.5 and all moved: ${verdict('pairs in parallel', parRatio <= 1.5 && par.every((r) => r.moved === r.pairs))}`,
);

const c = await benchColdImport(join(import.meta.dirname, '..', '..', 'bench-out'), num('samples'));
const ratio = c.handler.ms.median / c.bare.ms.median;
console.log(`\n== Bundle and cold import (${num('samples')} fresh node processes each, taken in turn)`);
const line = (label: string, b: typeof c.bare) =>
  console.log(
    `${label.padEnd(34)} ${(b.bytes / 1024).toFixed(0).padStart(5)} KiB   import median ${b.ms.median.toFixed(1)} ms (p25 ${b.ms.p25.toFixed(1)}, p75 ${b.ms.p75.toFixed(1)}) = ${(b.ms.median / c.bare.ms.median).toFixed(2)} x`,
  );
line('handler, as deployed', c.handler);
line('handler with the OS check (SSM)', c.osCheck);
line('EC2Client only', c.bare);
console.log(
  `as deployed: ${ratio.toFixed(2)} x the EC2Client-only bundle; target <= 1.25: ${verdict('cold import', ratio <= 1.25)}`,
);

console.log(
  '\n== CDK synth, 1 pair against 100 (in-process, cdk-nag included, the functions prebuilt; median of 3 after a warm-up)',
);
benchSynth(1);
const synth = (n: number) => {
  const runs = [benchSynth(n), benchSynth(n), benchSynth(n)].sort((a, b) => a.ms - b.ms);
  return runs[1] as ReturnType<typeof benchSynth>;
};
const one = synth(1);
const hundred = synth(100);
for (const r of [one, hundred]) {
  console.log(
    `${String(r.pairs).padStart(3)} pair(s): ${r.ms.toFixed(0)} ms, ${r.resources} resources, ${(r.templateBytes / 1024).toFixed(0)} KiB template, ${r.functions} function(s)`,
  );
}
console.log(
  `100 pairs: ${hundred.resources} resources (<= 500): ${verdict('resources', hundred.resources <= 500)}`,
);
console.log(
  `100 pairs: template ${hundred.templateBytes} bytes (<= 1 MB): ${verdict('template size', hundred.templateBytes <= 1_000_000)}`,
);
// The most one stack holds (README, "Many pairs"): every pair without a group in one function, 500 resources.
const edge = benchSynth(213);
console.log(
  `213 pairs (the stack's edge): ${edge.ms.toFixed(0)} ms, ${edge.resources} resources, ${(edge.templateBytes / 1024).toFixed(0)} KiB template, ${edge.functions} function(s): ${verdict('edge', edge.resources <= 500 && edge.templateBytes <= 1_000_000 && edge.functions === 1)}`,
);
// Synth must scale with the pairs, not faster. The target was "100 pairs <= 2 x 1 pair" while each synth bundled the
// function (a fixed ~0.7 s); with the functions prebuilt that fixed cost is gone, and the ratio mostly measures the
// smaller 1-pair synth. What it guarded, the cost each pair adds, is the target now; the ratio is still shown.
const perPair = (hundred.ms - one.ms) / 99;
console.log(`100 pairs: ${(hundred.ms / one.ms).toFixed(2)} x the 1-pair synth time (shown, not a target)`);
console.log(
  `each pair beyond the first adds ${perPair.toFixed(1)} ms of synth (<= 10 ms): ${verdict('synth time', perPair <= 10)}`,
);

await reportProbe(settle, 20, 120, verdict);

const failed = verdicts.filter((v) => !v.ok);
console.log(
  `\n${verdicts.length - failed.length} passed, ${failed.length} failed${failed.length ? `: ${failed.map((v) => v.target).join(', ')}` : ''}`,
);
process.exitCode = failed.length === 0 ? 0 : 1;
