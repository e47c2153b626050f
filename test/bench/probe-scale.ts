// Issue 23: how many probed pairs one prober run keeps on time. The members answer from another process (so
// that their CPU is not counted), HTTP, HTTPS (a throwaway self-signed certificate) and TCP on a loopback
// address; the real loop probes P pairs at the default interval for some seconds; CPU per probe is the process's
// CPU time over the probes made. Lambda gives a function CPU in proportion to its memory, one vCPU at 1,769 MB
// (Lambda Developer Guide, "Configure Lambda function memory"): lib/prober.ts turns the figures into a memory.
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Pair } from '../../lambda/config.ts';
import { probe } from '../../lambda/probe/check.ts';
import { type ProbedPair, type ProberPorts, runProber } from '../../lambda/probe/loop.ts';
import { PAIR, PRIMARY, STANDBY } from '../helpers/world.ts';

type Protocol = 'tcp' | 'http' | 'https';

const SERVERS = `
const http = require('node:http'), https = require('node:https'), net = require('node:net'), fs = require('node:fs');
const answer = (_q, r) => { r.statusCode = 200; r.end('ok'); };
const tls = { key: fs.readFileSync(process.env.KEY), cert: fs.readFileSync(process.env.CERT) };
const servers = [http.createServer(answer), https.createServer(tls, answer), net.createServer((s) => { s.on('error', () => {}); s.end(); })];
Promise.all(servers.map((s) => new Promise((ok) => s.listen(0, '127.0.3.1', ok)))).then(() =>
  console.log(JSON.stringify(servers.map((s) => s.address().port))));
`;

/** Members in a child process: HTTP, HTTPS and TCP ports on 127.0.3.1. */
async function members(): Promise<{ ports: Record<Protocol, number>; close: () => void }> {
  const dir = mkdtempSync(join(tmpdir(), 'probe-scale-'));
  const [key, cert] = [join(dir, 'key.pem'), join(dir, 'cert.pem')];
  execFileSync(
    'openssl',
    [
      ...['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'],
      ...['-subj', '/CN=probe', '-days', '1', '-keyout', key, '-out', cert],
    ],
    { stdio: 'ignore' },
  );
  const child = spawn(process.execPath, ['-e', SERVERS], { env: { ...process.env, KEY: key, CERT: cert } });
  const line = await new Promise<string>((resolve, reject) => {
    child.stdout.once('data', (d) => resolve(String(d)));
    child.once('exit', (code) => reject(new Error(`member servers exited ${code}`)));
  });
  const [http, https, tcp] = JSON.parse(line) as [number, number, number];
  return {
    ports: { http, https, tcp },
    close: () => {
      child.kill();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export interface ScaleFigure {
  protocol: Protocol;
  pairs: number;
  /** CPU per probe (ms of one core), loop included. */
  cpuMsPerProbe: number;
  /** How late slots started, p99 (ms): the loop kept up on this machine's core. */
  lateP99Ms: number;
  failed: number;
}

/** `pairs` pairs of one protocol probed for `seconds` at 1 s (each slot: both members and the service address). */
export async function measureScale(protocol: Protocol, pairs: number, seconds: number): Promise<ScaleFigure> {
  const m = await members();
  try {
    const probed: ProbedPair[] = Array.from({ length: pairs }, (_, i) => {
      const pair: Pair = {
        ...PAIR,
        name: `p${i}`,
        probe: { protocol, port: m.ports[protocol], intervalMs: 1_000, timeoutMs: 500 },
      };
      return {
        pair,
        members: [
          { role: 'primary', instanceId: PRIMARY, address: '127.0.3.1' },
          { role: 'standby', instanceId: STANDBY, address: '127.0.3.1' },
        ],
        service: '127.0.3.1',
      };
    });
    let failed = 0;
    const late: number[] = [];
    let probes = 0;
    const ports: ProberPorts = {
      probe: async (address, s) => {
        probes++;
        const r = await probe(address, s);
        if (!r.ok) failed++;
        return r;
      },
      send: async () => {},
      blind: () => {},
      unreached: () => {},
      record: () => {},
      service: () => {},
      outage: () => {},
      vetoed: () => {},
      error: () => {},
      runId: 'scale',
      now: () => Date.now(),
      sleep: async (ms) => {
        const due = Date.now() + Math.max(0, ms);
        await sleep(Math.max(0, ms));
        late.push(Date.now() - due);
      },
    };
    // A warm-up run: the first HTTPS probe of each pair makes the full handshake; later ones resume the session.
    await runProber(probed, ports, Date.now() + 2_000);
    [probes, failed, late.length] = [0, 0, 0];
    const before = process.cpuUsage();
    await runProber(probed, ports, Date.now() + seconds * 1_000);
    const used = process.cpuUsage(before);
    late.sort((a, b) => a - b);
    return {
      protocol,
      pairs,
      cpuMsPerProbe: (used.user + used.system) / 1_000 / Math.max(1, probes),
      lateP99Ms: late[Math.floor(late.length * 0.99)] ?? 0,
      failed,
    };
  } finally {
    m.close();
  }
}
