// One probe of one member on its own primary address: a TCP connect, or an HTTP(S) request whose
// status must match. Node's own net/http only: the prober's bundle carries no client library.
import * as http from 'node:http';
import * as https from 'node:https';
import * as net from 'node:net';
import type { ProbeSettings } from '../evidence';

export interface ProbeResult {
  readonly ok: boolean;
  /** From the probe's start to its answer (or to the timeout). */
  readonly ms: number;
  /** Why it failed: ECONNREFUSED, `timeout after 500 ms`, `status 503` …; undefined when ok. */
  readonly error?: string;
}

type Settings = Pick<ProbeSettings, 'protocol' | 'port' | 'path' | 'expectStatus' | 'timeoutMs'>;

/**
 * Probes `address`. An answer within `timeoutMs`, however slow, is a pass; nothing within it is a
 * failure (`timeout after N ms`), and the connection is dropped so that no probe outlives its slot.
 */
export function probe(address: string, s: Settings): Promise<ProbeResult> {
  const start = performance.now();
  const elapsed = () => Math.round(performance.now() - start);
  return new Promise((resolve) => {
    let settled = false;
    const done = (error?: string) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      cleanup();
      resolve(error === undefined ? { ok: true, ms: elapsed() } : { ok: false, ms: elapsed(), error });
    };
    const timer = setTimeout(() => done(`timeout after ${s.timeoutMs} ms`), s.timeoutMs);
    const failure = (e: NodeJS.ErrnoException) => done(e.code ?? e.message);
    let cleanup = () => {};
    if (s.protocol === 'tcp') {
      const socket = net.connect({ host: address, port: s.port });
      cleanup = () => socket.destroy();
      socket.once('connect', () => done());
      socket.once('error', failure);
      return;
    }
    const client = s.protocol === 'https' ? https : http;
    // A fresh connection each time (agent: false): a kept-alive socket would pass a member whose
    // listener died but whose old connection lingers. Certificates are not checked: the address is
    // an instance's private IP, which no certificate names; the probe asks "does it answer", not "who".
    const request = client.get(
      { host: address, port: s.port, path: s.path, agent: false, rejectUnauthorized: false },
      (response) => {
        response.resume();
        const status = response.statusCode ?? 0;
        done(status === s.expectStatus ? undefined : `status ${status}`);
      },
    );
    cleanup = () => request.destroy();
    request.once('error', failure);
  });
}
