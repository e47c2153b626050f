// Members as the prober meets them: an HTTP or TCP server on a loopback address of its own (127.0.0.x:
// Linux routes all of 127.0.0.0/8 to the loopback interface), one port for both, as a pair's instances
// listen on one port each on their own primary address. Used by the prober's tests, the bench and the demo.
import * as http from 'node:http';
import * as net from 'node:net';

/** How a member answers: up, down (connection refused), slow (ms), a status code, or silent (accepts, never answers). */
export type Behaviour =
  | { kind: 'up' }
  | { kind: 'down' }
  | { kind: 'slow'; ms: number | (() => number) }
  | { kind: 'status'; code: number }
  | { kind: 'silent' }
  /**
   * A lossy path: each connection, by chance `share`, is never answered, as a lost SYN looks to a probe whose
   * timeout is shorter than TCP's 1 s retransmission (RFC 6298's initial RTO) (HTTP members only).
   */
  | { kind: 'lossy'; share: number };

export interface MemberServer {
  readonly address: string;
  readonly port: number;
  /** Changes how it answers; `down` closes the listener (and every open connection), `up` opens it again. */
  set(behaviour: Behaviour): Promise<void>;
  close(): Promise<void>;
}

/** A member on `address`:`port` speaking HTTP (200 on every path) or plain TCP (accepts). */
export async function memberServer(
  address: string,
  port: number,
  protocol: 'http' | 'tcp' = 'http',
): Promise<MemberServer> {
  let behaviour: Behaviour = { kind: 'up' };
  const server =
    protocol === 'http'
      ? http.createServer((_req, res) => {
          const b = behaviour;
          if (b.kind === 'silent') return;
          if (b.kind === 'lossy' && Math.random() < b.share) return;
          const answer = () => {
            res.statusCode = b.kind === 'status' ? b.code : 200;
            res.end('ok');
          };
          if (b.kind === 'slow') setTimeout(answer, typeof b.ms === 'number' ? b.ms : b.ms());
          else answer();
        })
      : net.createServer((socket) => {
          socket.on('error', () => {});
          if (behaviour.kind !== 'silent') socket.end();
        });
  const sockets = new Set<net.Socket>();
  server.on('connection', (s: net.Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  const listen = () =>
    new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, address, () => {
        server.off('error', reject);
        resolve();
      });
    });
  const stop = () =>
    new Promise<void>((resolve) => {
      if (!server.listening) return resolve();
      server.close(() => resolve());
      for (const s of sockets) s.destroy();
    });
  await listen();
  return {
    address,
    port,
    async set(b) {
      behaviour = b;
      if (b.kind === 'down') await stop();
      else if (!server.listening) await listen();
    },
    close: stop,
  };
}

/** Two members (primary on 127.0.0.<base>, standby on <base + 1>) on one free port. */
export async function memberPair(
  base: number,
  protocol: 'http' | 'tcp' = 'http',
): Promise<{ primary: MemberServer; standby: MemberServer; port: number }> {
  for (let attempt = 0; ; attempt++) {
    const port = 20_000 + Math.floor(Math.random() * 30_000);
    const made: MemberServer[] = [];
    try {
      made.push(await memberServer(`127.0.0.${base}`, port, protocol));
      made.push(await memberServer(`127.0.0.${base + 1}`, port, protocol));
      return { primary: made[0] as MemberServer, standby: made[1] as MemberServer, port };
    } catch (error) {
      await Promise.all(made.map((m) => m.close()));
      if (attempt >= 10) throw error;
    }
  }
}

/**
 * A pair's service address (the ENI's private IP) on a loopback address of its own: it forwards each HTTP request
 * to the member `holder()` names (the one the ENI is attached to) and relays its status; with no holder, or a holder
 * that does not answer, the connection is dropped. `silent` is a guest that did not bring the interface up.
 */
export async function serviceAddress(
  address: string,
  port: number,
  holder: () => string | undefined,
): Promise<MemberServer> {
  let up = true;
  const server = http.createServer((req, res) => {
    const to = holder();
    if (!up) return;
    if (!to) return void req.socket.destroy();
    const forward = http.get({ host: to, port, path: req.url, agent: false }, (answer) => {
      answer.resume();
      res.statusCode = answer.statusCode ?? 502;
      res.end('ok');
    });
    forward.once('error', () => req.socket.destroy());
  });
  const sockets = new Set<net.Socket>();
  server.on('connection', (s: net.Socket) => {
    sockets.add(s);
    s.on('error', () => {});
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, address, () => resolve());
  });
  return {
    address,
    port,
    async set(b) {
      up = b.kind !== 'silent';
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const s of sockets) s.destroy();
      }),
  };
}
