import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** One request the server saw: what a test checks to know the DUT really came. */
export interface SeenRequest {
  path: string;
  /** The peer as this host saw it (QEMU user networking: 127.0.0.1). */
  from: string;
  userAgent: string;
  at: number;
}

/**
 * An HTTP server on this host for one test: GET /<token> answers with a
 * body made for this server (so a cached or foreign answer cannot pass for
 * it), any other path 404; every request is recorded.
 */
export class HttpServer {
  readonly seen: SeenRequest[] = [];
  readonly token = randomBytes(8).toString('hex');
  readonly body = `dutlab ${this.token}\n`;
  private readonly server: Server = createServer((request, response) => {
    this.seen.push({ path: request.url ?? '', from: request.socket.remoteAddress ?? '', userAgent: request.headers['user-agent'] ?? '', at: Date.now() });
    if (request.url === `/${this.token}`) response.writeHead(200, { 'content-type': 'text/plain' }).end(this.body);
    else response.writeHead(404).end();
  });

  private constructor() {}

  static async start(): Promise<HttpServer> {
    const http = new HttpServer();
    // All interfaces: a QEMU guest comes through loopback, a farm board through the lab network.
    await new Promise<void>((resolve, reject) => http.server.once('error', reject).listen(0, resolve));
    return http;
  }

  get port(): number {
    return (this.server.address() as AddressInfo).port;
  }

  /** The requests for the token path. */
  hits(): SeenRequest[] {
    return this.seen.filter((r) => r.path === `/${this.token}`);
  }

  stop(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}
