import { EventEmitter, once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface PlugEmulatorOptions {
  /** Relay outputs, numbered from 1 as Tasmota does (Shelly's switch id is output - 1). Default 1. */
  outputs?: number;
  onSwitch?: (output: number, on: boolean) => void;
}

type Reply = { status: number; body: unknown };

/** Power payloads that switch, as Tasmota's GetStateNumber reads them; any other payload shows the state. */
const TASMOTA_ACTIONS = new Map<string, (now: boolean) => boolean>([
  ...['0', 'off', 'false'].map((word) => [word, () => false] as const),
  ...['1', 'on', 'true'].map((word) => [word, () => true] as const),
  ...['2', 'toggle'].map((word) => [word, (now: boolean) => !now] as const),
]);

/**
 * A smart plug on 127.0.0.1 that speaks both local APIs the power drivers
 * use: Tasmota's `/cm?cmnd=Power<n> <payload>` and Shelly gen2's
 * `/rpc/Switch.Set|Toggle|GetStatus`. Both reach the same outputs, so a
 * test or a rig picks whichever model it wants to be.
 *
 * Events: `switch(output, on)` for every command that switches an output.
 */
export class PlugEmulator extends EventEmitter<{ switch: [output: number, on: boolean] }> {
  /** Fault: the plug accepts connections and never answers (a hung ESP). */
  silent = false;
  private readonly states: boolean[];

  private constructor(
    private readonly server: Server,
    outputs: number,
  ) {
    super();
    this.states = Array.from({ length: outputs }, () => false);
    server.on('request', (request: IncomingMessage, response: ServerResponse) => this.handle(request, response));
  }

  static async start(options: PlugEmulatorOptions = {}): Promise<PlugEmulator> {
    const server = createServer();
    const plug = new PlugEmulator(server, options.outputs ?? 1);
    if (options.onSwitch) plug.on('switch', options.onSwitch);
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    return plug;
  }

  get url(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  /** Whether `output` (from 1) is on. */
  state(output: number): boolean {
    return this.states[output - 1] ?? false;
  }

  async stop(): Promise<void> {
    const closed = once(this.server, 'close');
    this.server.close();
    // Keep-alive connections and the requests a silent plug left hanging would hold close() forever.
    this.server.closeAllConnections();
    await closed;
  }

  private handle(request: IncomingMessage, response: ServerResponse): void {
    if (this.silent) return;
    const reply = this.route(new URL(request.url ?? '/', 'http://plug'));
    const text = typeof reply.body === 'string' ? reply.body : undefined;
    response.writeHead(reply.status, { 'Content-Type': text === undefined ? 'application/json' : 'text/plain' });
    response.end(text ?? JSON.stringify(reply.body));
  }

  private route(url: URL): Reply {
    if (url.pathname === '/cm') return this.tasmota(url.searchParams.get('cmnd') ?? '');
    if (url.pathname.startsWith('/rpc/')) return this.shelly(url.pathname.slice('/rpc/'.length), url.searchParams);
    return { status: 404, body: 'Not Found' };
  }

  private switchTo(output: number, on: boolean): void {
    this.states[output - 1] = on;
    this.emit('switch', output, on);
  }

  /**
   * Tasmota's Power command: `Power<n>` (no index: 1; 0: every output) with
   * 0/off/false, 1/on/true, 2/toggle, and anything else (nothing, `Status`)
   * showing the state. The answer names each output `POWER<n>`, or `POWER`
   * on a single-output device.
   */
  private tasmota(cmnd: string): Reply {
    const [word = '', ...rest] = cmnd.trim().split(/\s+/);
    const payload = rest.join(' ').toLowerCase();
    const match = /^power(\d*)$/i.exec(word);
    const index = match ? Number(match[1] || 1) : -1;
    if (index < 0 || index > this.states.length) return { status: 200, body: { Command: 'Unknown' } };
    const outputs = index === 0 ? this.states.map((_, i) => i + 1) : [index];
    const action = TASMOTA_ACTIONS.get(payload);
    const body: Record<string, string> = {};
    for (const output of outputs) {
      if (action) this.switchTo(output, action(this.state(output)));
      body[this.states.length === 1 ? 'POWER' : `POWER${output}`] = this.state(output) ? 'ON' : 'OFF';
    }
    return { status: 200, body };
  }

  /** Shelly gen2 Switch RPCs over HTTP GET; errors as the device sends them, `{"code":..,"message":..}`. */
  private shelly(method: string, params: URLSearchParams): Reply {
    const handlers: Record<string, (output: number) => Reply> = {
      'Switch.Set': (output) => {
        const on = params.get('on');
        if (on === null) return shellyError(-103, "Missing required argument 'on'!");
        if (on !== 'true' && on !== 'false') return shellyError(-103, "Invalid argument 'on'!");
        const wasOn = this.state(output);
        this.switchTo(output, on === 'true');
        return { status: 200, body: { was_on: wasOn } };
      },
      'Switch.Toggle': (output) => {
        const wasOn = this.state(output);
        this.switchTo(output, !wasOn);
        return { status: 200, body: { was_on: wasOn } };
      },
      'Switch.GetStatus': (output) => ({
        status: 200,
        body: { id: output - 1, source: 'http', output: this.state(output), apower: 0, voltage: 230.0, current: 0, aenergy: { total: 0 }, temperature: { tC: 40.0, tF: 104.0 } },
      }),
    };
    const handler = handlers[method];
    if (!handler) return { status: 404, body: { code: 404, message: `No handler for ${method}` } };
    const id = params.get('id');
    if (id === null) return shellyError(-103, "Missing required argument 'id'!");
    const output = Number(id) + 1;
    if (!/^\d+$/.test(id) || output > this.states.length) return shellyError(-105, `Argument 'id', value ${id} not found!`);
    return handler(output);
  }
}

function shellyError(code: number, message: string): Reply {
  return { status: 500, body: { code, message } };
}
