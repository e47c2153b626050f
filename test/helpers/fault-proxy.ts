import { createServer, request, type Server } from 'node:http';
import type { Socket } from 'node:net';

/**
 * What the proxy can do to a call: answer it with an error instead of forwarding it (throttle, 5xx,
 * permanent), never answer it (timeout), or carry it out and then lose the answer (lost).
 *
 * A lost answer is how EC2 itself can fail: a call may time out or meet a server error after EC2 has
 * carried it out ("Ensuring idempotency in Amazon EC2 API requests"), AttachNetworkInterface and
 * DetachNetworkInterface take no ClientToken (they are not on that page's lists), and the SDK's
 * standard retry mode replays a call that answered 500 InternalError ("Retry behavior", AWS SDKs and
 * Tools Reference Guide). So the replay meets the work already done.
 */
export type Fault = 'throttle' | '5xx' | 'timeout' | 'permanent' | 'lost';
export const FAULTS: Fault[] = ['throttle', '5xx', 'timeout', 'permanent', 'lost'];

// As EC2 answers: the SDK reads the code from this XML and decides whether to retry.
const ANSWERS: Record<Exclude<Fault, 'timeout'>, { status: number; code: string; message: string }> = {
  throttle: { status: 503, code: 'RequestLimitExceeded', message: 'Request limit exceeded.' },
  '5xx': { status: 500, code: 'InternalError', message: 'An internal error has occurred.' },
  lost: { status: 500, code: 'InternalError', message: 'An internal error has occurred.' },
  permanent: {
    status: 403,
    code: 'UnauthorizedOperation',
    message: 'You are not authorized to perform this operation.',
  },
};

/**
 * An HTTP proxy on loopback in front of moto's EC2 that makes named actions fail: throttled, a 5xx,
 * no answer at all (timeout), a permanent error, or carried out with the answer lost; once, a number
 * of times, or every time. It can also fail a random share of all calls. Everything else is
 * forwarded untouched.
 */
export class FaultProxy {
  /**
   * Every call seen: the action, when it arrived (performance.now()), what it names (the ENI, or the
   * attachment a detach names), and the fault it got if any.
   */
  readonly log: { action: string; at: number; target?: string; fault?: Fault }[] = [];
  private readonly rules = new Map<string, { fault: Fault; remaining: number }>();
  private readonly delays = new Map<string, number>();
  private random: { rate: number; faults: Fault[]; next: () => number } | undefined;
  private readonly sockets = new Set<Socket>();

  private constructor(
    private readonly server: Server,
    readonly url: string,
  ) {
    server.on('connection', (s) => {
      this.sockets.add(s);
      s.on('close', () => this.sockets.delete(s));
    });
  }

  static async start(target: string): Promise<FaultProxy> {
    const to = new URL(target);
    let proxy: FaultProxy | undefined;
    const server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const body = Buffer.concat(chunks);
        const params = new URLSearchParams(body.toString());
        const action = params.get('Action') ?? '?';
        const fault = proxy?.pick(action);
        const target =
          params.get('NetworkInterfaceId') ?? params.get('AttachmentId') ?? params.get('ResourceId.1');
        proxy?.log.push({
          action,
          at: performance.now(),
          ...(target ? { target } : {}),
          ...(fault ? { fault } : {}),
        });
        if (fault === 'timeout') return; // never answer: the client's request timeout must end it
        const answerWith = (a: { status: number; code: string; message: string }) => {
          res.writeHead(a.status, { 'content-type': 'text/xml' });
          res.end(
            `<?xml version="1.0" encoding="UTF-8"?><Response><Errors><Error><Code>${a.code}</Code><Message>${a.message}</Message></Error></Errors><RequestID>fault-proxy</RequestID></Response>`,
          );
        };
        if (fault && fault !== 'lost') return answerWith(ANSWERS[fault]);
        const forward = request(
          {
            host: to.hostname,
            port: to.port,
            method: req.method,
            path: req.url,
            headers: { ...req.headers, host: to.host },
          },
          (answer) => {
            if (fault === 'lost') {
              // moto has carried the call out; the client hears only a server error.
              answer.resume();
              answer.on('end', () => answerWith(ANSWERS.lost));
              return;
            }
            const pass = () => {
              res.writeHead(answer.statusCode ?? 502, answer.headers);
              answer.pipe(res);
            };
            // The answer stream waits, paused, until it is piped.
            const late = proxy?.delays.get(action);
            if (late) setTimeout(pass, late);
            else pass();
          },
        );
        forward.on('error', (e) => {
          res.writeHead(502);
          res.end(String(e));
        });
        forward.end(body);
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const address = server.address();
    const port = typeof address === 'object' && address ? address.port : 0;
    proxy = new FaultProxy(server, `http://127.0.0.1:${port}`);
    return proxy;
  }

  /** Fail the next `times` calls of `action` with `fault` (Infinity: every call). */
  inject(action: string, fault: Fault, times: number): void {
    this.rules.set(action, { fault, remaining: times });
  }

  /**
   * Hold the answers of `action` for `ms` after moto has carried the call out: for a benchmark, EC2's
   * time to settle a detach or an attach, spent in the call instead of in the function's polls.
   */
  delay(action: string, ms: number): void {
    this.delays.set(action, ms);
  }

  /** Fail each call with probability `rate`, with a fault drawn from `faults`, using the given random source. */
  randomly(rate: number, faults: Fault[], next: () => number): void {
    this.random = { rate, faults, next };
  }

  clear(): void {
    this.rules.clear();
    this.delays.clear();
    this.random = undefined;
    this.log.length = 0;
  }

  /** Actions that reached moto (were not faulted, or were carried out and their answer lost). */
  forwarded(): string[] {
    return this.log.filter((l) => !l.fault || l.fault === 'lost').map((l) => l.action);
  }

  private pick(action: string): Fault | undefined {
    const rule = this.rules.get(action);
    if (rule && rule.remaining > 0) {
      rule.remaining -= 1;
      return rule.fault;
    }
    const r = this.random;
    if (r && r.next() < r.rate) return r.faults[Math.floor(r.next() * r.faults.length)];
    return undefined;
  }

  async stop(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
