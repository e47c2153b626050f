import { createServer, request, type Server } from 'node:http';
import type { Socket } from 'node:net';

/** DescribeInstanceStatus ApplicationStatus.Status values (EC2 API Reference, ApplicationStatusSummary). */
export type ApplicationStatus =
  | 'ok'
  | 'impaired'
  | 'initializing'
  | 'insufficient-data'
  | 'not-applicable'
  | 'suppressed';

/**
 * moto (5.2.1) knows nothing of EC2 application status checks, so the demo SIMULATES that one signal:
 * an HTTP proxy on loopback in front of moto's EC2 that adds an `applicationStatus` element to the
 * DescribeInstanceStatus answer for the instances it is told about, exactly where EC2 puts it (EC2
 * API Reference, InstanceStatus: `applicationStatus` {`status`, `impairedSince`}, read as
 * ApplicationStatus by the SDK's deserializer). Every other call and answer passes untouched.
 */
export class ApplicationStatusProxy {
  private readonly statuses = new Map<string, { status: ApplicationStatus; since: string }>();
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

  /** A proxy for `target` (moto's URL) on a free loopback port. */
  static async start(target: string): Promise<ApplicationStatusProxy> {
    const to = new URL(target);
    let proxy: ApplicationStatusProxy | undefined;
    const server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const body = Buffer.concat(chunks);
        const action = new URLSearchParams(body.toString()).get('Action');
        const headers = { ...req.headers, host: to.host };
        // Plain text back, so that the answer can be edited.
        delete headers['accept-encoding'];
        const forward = request(
          { host: to.hostname, port: to.port, method: req.method, path: req.url, headers },
          (answer) => {
            if (action !== 'DescribeInstanceStatus' || answer.statusCode !== 200 || !proxy) {
              res.writeHead(answer.statusCode ?? 502, answer.headers);
              answer.pipe(res);
              return;
            }
            const parts: Buffer[] = [];
            answer.on('data', (c: Buffer) => parts.push(c));
            answer.on('end', () => {
              const xml = proxy?.addApplicationStatus(Buffer.concat(parts).toString('utf8')) ?? '';
              const out = { ...answer.headers, 'content-length': String(Buffer.byteLength(xml)) };
              delete out['transfer-encoding'];
              res.writeHead(200, out);
              res.end(xml);
            });
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
    proxy = new ApplicationStatusProxy(server, `http://127.0.0.1:${port}`);
    return proxy;
  }

  /** From now on, DescribeInstanceStatus reports this application status for the instance. */
  set(instanceId: string, status: ApplicationStatus): void {
    if (this.statuses.get(instanceId)?.status === status) return;
    this.statuses.set(instanceId, { status, since: new Date().toISOString() });
  }

  /** Each status item names its instance once, in `instanceId`; the element goes right after it. */
  private addApplicationStatus(xml: string): string {
    return xml.replace(/<instanceId>(i-[0-9a-f]+)<\/instanceId>/g, (whole, id: string) => {
      const s = this.statuses.get(id);
      if (!s) return whole;
      const since = s.status === 'impaired' ? `<impairedSince>${s.since}</impairedSince>` : '';
      return `${whole}<applicationStatus><status>${s.status}</status>${since}</applicationStatus>`;
    });
  }

  async stop(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
