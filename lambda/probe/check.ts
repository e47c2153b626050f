// One probe of one address: a TCP connect, or an HTTP(S) request whose status must match. Node's own
// net/http only: the prober's bundle carries no client library.
import * as http from 'node:http';
import * as https from 'node:https';
import * as net from 'node:net';
import type { ProbeSettings } from '../config.ts';
import { type FailureKind, failureKind } from '../evidence.ts';

export interface ProbeResult {
  readonly ok: boolean;
  /** From the probe's start to its answer (or to the timeout). */
  readonly ms: number;
  /** Why it failed: ECONNREFUSED, `timeout after 500 ms`, `status 503` …; undefined when ok. */
  readonly error?: string;
  /** The error's kind (lambda/evidence.ts failureKind); undefined when ok. */
  readonly kind?: FailureKind;
}

type Settings = Pick<ProbeSettings, 'protocol' | 'port' | 'path' | 'expectStatus' | 'timeoutMs'>;

/**
 * HTTPS probes resume TLS sessions through this agent's session cache (Node's https.Agent keeps
 * `maxCachedSessions` sessions by host and port, keepAlive or not): a resumed handshake skips the
 * certificate and key exchange, the larger part of an HTTPS probe's CPU. keepAlive stays off, so every
 * probe is still a fresh TCP connection: a kept-alive socket would pass a member whose listener died but
 * whose old connection lingers.
 */
const tls = new https.Agent({ keepAlive: false, maxCachedSessions: 1_000 });

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
      resolve(
        error === undefined
          ? { ok: true, ms: elapsed() }
          : { ok: false, ms: elapsed(), error, kind: failureKind(error) },
      );
    };
    // The timeout is decided after the event loop's I/O phase (setImmediate runs after poll): an answer that
    // came within the timeout but that a busy loop had not read yet is a pass, not a failure of the member.
    // Node's timers run before I/O callbacks in each turn, so without this a loop lagging past the timeout would
    // fail every probe in flight, the prober's own lag counted against the members.
    const timer = setTimeout(() => setImmediate(() => done(`timeout after ${s.timeoutMs} ms`)), s.timeoutMs);
    const failure = (e: NodeJS.ErrnoException) => done(e.code ?? e.message);
    let cleanup = () => {};
    if (s.protocol === 'tcp') {
      const socket = net.connect({ host: address, port: s.port });
      cleanup = () => socket.destroy();
      socket.once('connect', () => done());
      socket.once('error', failure);
      return;
    }
    // Certificates are not checked: the address is an instance's private IP, which no certificate
    // names; the probe asks "does it answer", not "who". HTTP: a fresh connection each time (agent: false).
    const request =
      s.protocol === 'https'
        ? https.get({ host: address, port: s.port, path: s.path, agent: tls, rejectUnauthorized: false })
        : http.get({ host: address, port: s.port, path: s.path, agent: false });
    request.once('response', (response) => {
      response.resume();
      const status = response.statusCode ?? 0;
      done(status === s.expectStatus ? undefined : `status ${status}`);
    });
    cleanup = () => request.destroy();
    request.once('error', failure);
  });
}
