import type { Socket } from 'node:net';
import { Duplex } from 'node:stream';
import { DutError } from '../../errors.ts';

/**
 * The client side of telnet with the COM-PORT-OPTION (RFC 854, RFC 2217), as
 * ser2net's `telnet(rfc2217)` accepter speaks it: serial bytes with 0xFF
 * doubled, options negotiated in-band, and the line's settings (baud rate,
 * 8N1) set by the client.
 */

export const IAC = 0xff;
const DONT = 0xfe;
const DO = 0xfd;
const WONT = 0xfc;
const WILL = 0xfb;
const SB = 0xfa;
const SE = 0xf0;

export const BINARY = 0;
export const SUPPRESS_GO_AHEAD = 3;
export const COM_PORT_OPTION = 44;

const SET_BAUDRATE = 1;
const SET_DATASIZE = 2;
const SET_PARITY = 3;
const SET_STOPSIZE = 4;
const PARITY_NONE = 1;
const STOPSIZE_1 = 1;
/** The server answers a client command with its code plus 100. */
const SERVER_REPLY = 100;

/** Options we do, and let the server do: 8-bit data without go-ahead signals. */
const AGREED = new Set([BINARY, SUPPRESS_GO_AHEAD]);

/** How long the server may take to confirm the baud rate. */
const NEGOTIATE_MS = 5_000;
/** A subnegotiation longer than this is line noise; its tail is dropped. */
const MAX_SUBNEGOTIATION = 1024;

export type Verb = 'will' | 'wont' | 'do' | 'dont';

export type TelnetEvent =
  | { type: 'data'; data: Buffer }
  | { type: 'negotiate'; verb: Verb; option: number }
  | { type: 'subnegotiation'; option: number; data: Buffer };

const VERBS: Record<number, Verb> = { [WILL]: 'will', [WONT]: 'wont', [DO]: 'do', [DONT]: 'dont' };
const VERB_CODES: Record<Verb, number> = { will: WILL, wont: WONT, do: DO, dont: DONT };

type State = 'data' | 'iac' | 'option' | 'sb-option' | 'sb' | 'sb-iac';

/** Splits what a telnet server sends into data and commands; a sequence may be cut anywhere by TCP. */
export class TelnetParser {
  private state: State = 'data';
  private verb: Verb = 'will';
  private option = 0;
  private sub: number[] = [];
  private data: number[] = [];
  private events: TelnetEvent[] = [];

  push(chunk: Buffer): TelnetEvent[] {
    for (const byte of chunk) this.step(byte);
    this.flush();
    const events = this.events;
    this.events = [];
    return events;
  }

  private step(byte: number): void {
    switch (this.state) {
      case 'data':
        if (byte === IAC) this.state = 'iac';
        else this.data.push(byte);
        return;
      case 'iac':
        this.state = 'data';
        if (byte === IAC) this.data.push(IAC);
        else if (VERBS[byte]) {
          this.verb = VERBS[byte];
          this.state = 'option';
        } else if (byte === SB) this.state = 'sb-option';
        // Other commands (NOP, GA, AYT, ...) carry nothing a console needs.
        return;
      case 'option':
        this.emit({ type: 'negotiate', verb: this.verb, option: byte });
        this.state = 'data';
        return;
      case 'sb-option':
        this.option = byte;
        this.sub = [];
        this.state = 'sb';
        return;
      case 'sb':
        if (byte === IAC) this.state = 'sb-iac';
        else if (this.sub.length < MAX_SUBNEGOTIATION) this.sub.push(byte);
        return;
      case 'sb-iac':
        if (byte === IAC) {
          if (this.sub.length < MAX_SUBNEGOTIATION) this.sub.push(IAC);
          this.state = 'sb';
          return;
        }
        this.emit({ type: 'subnegotiation', option: this.option, data: Buffer.from(this.sub) });
        this.state = 'data';
        // Anything but SE here is a command whose SE got lost: it is read as one.
        if (byte !== SE) {
          this.state = 'iac';
          this.step(byte);
        }
        return;
    }
  }

  private emit(event: TelnetEvent): void {
    this.flush();
    this.events.push(event);
  }

  private flush(): void {
    if (this.data.length > 0) this.events.push({ type: 'data', data: Buffer.from(this.data) });
    this.data = [];
  }
}

/** Data as telnet carries it: each 0xFF doubled. */
export function escapeIac(data: Buffer): Buffer {
  if (!data.includes(IAC)) return data;
  const out: number[] = [];
  for (const byte of data) {
    out.push(byte);
    if (byte === IAC) out.push(IAC);
  }
  return Buffer.from(out);
}

export function negotiation(verb: Verb, option: number): Buffer {
  return Buffer.from([IAC, VERB_CODES[verb], option]);
}

/** A COM-PORT-OPTION command: IAC SB 44 <code> <value, escaped> IAC SE. */
export function comPortCommand(code: number, value: Buffer): Buffer {
  return Buffer.concat([Buffer.from([IAC, SB, COM_PORT_OPTION, code]), escapeIac(value), Buffer.from([IAC, SE])]);
}

export interface ComPortSettings {
  baud: number;
  /** "host:port", for errors. */
  where: string;
  board: string;
}

/**
 * The serial bytes of a telnet session on `socket`, once the server has
 * agreed to the COM-PORT-OPTION and confirmed the baud rate. A server that
 * refuses the option, or does not answer (a raw TCP accepter), or sets
 * another rate is a board file that does not match its console server.
 */
export async function comPortSession(socket: Socket, settings: ComPortSettings): Promise<Duplex> {
  const session = new ComPortSession(socket, settings);
  await session.negotiated;
  return session;
}

class ComPortSession extends Duplex {
  readonly negotiated: Promise<void>;
  private readonly parser = new TelnetParser();
  /** Options each side does now. */
  private readonly ours = new Set<number>();
  private readonly theirs = new Set<number>();
  private settle: (error?: DutError) => void = () => undefined;

  constructor(
    private readonly socket: Socket,
    private readonly settings: ComPortSettings,
  ) {
    super();
    this.negotiated = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => this.settle(this.mismatch(`did not answer the RFC 2217 negotiation within ${NEGOTIATE_MS / 1000} s: is its accepter raw tcp instead of telnet(rfc2217)?`)),
        NEGOTIATE_MS,
      );
      const closed = (): void => this.settle(new DutError('console-lost', `ser2net at ${settings.where} closed the connection during the RFC 2217 negotiation`, { dut: settings.board, step: 'open console' }));
      socket.once('close', closed);
      this.settle = (error) => {
        clearTimeout(timer);
        socket.off('close', closed);
        this.settle = () => undefined;
        if (error) reject(error);
        else resolve();
      };
    });
    socket.on('data', (chunk: Buffer) => this.received(chunk));
    // Our WILL and the server's DO may cross (ser2net sends DO at once): either order ends with the option on.
    socket.write(negotiation('will', COM_PORT_OPTION));
  }

  override _read(): void {
    // Data is pushed as the server sends it.
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    this.socket.write(escapeIac(chunk), (error) => callback(error ?? null));
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    this.socket.destroy();
    callback(error);
  }

  private received(chunk: Buffer): void {
    for (const event of this.parser.push(chunk)) {
      if (event.type === 'data') this.push(event.data);
      else if (event.type === 'negotiate') this.negotiate(event.verb, event.option);
      else if (event.option === COM_PORT_OPTION) this.comPortReply(event.data);
    }
  }

  // Answers change of state only (RFC 1143's rule against loops): a request
  // for the state an option is already in gets no answer.
  private negotiate(verb: Verb, option: number): void {
    if (verb === 'do' && option === COM_PORT_OPTION) {
      if (!this.ours.has(option)) {
        this.ours.add(option);
        this.sendLineSettings();
      }
    } else if (verb === 'dont' && option === COM_PORT_OPTION) {
      this.settle(this.mismatch('refused the COM-PORT-OPTION: its accepter must be telnet(rfc2217),tcp,<port>'));
    } else if (verb === 'will' || verb === 'wont') {
      this.answer(this.theirs, verb === 'will', option, 'do', 'dont');
    } else {
      this.answer(this.ours, verb === 'do', option, 'will', 'wont');
    }
  }

  private answer(state: Set<number>, asked: boolean, option: number, yes: Verb, no: Verb): void {
    if (asked && AGREED.has(option)) {
      if (state.has(option)) return;
      state.add(option);
      this.socket.write(negotiation(yes, option));
    } else if (asked || state.delete(option)) {
      this.socket.write(negotiation(no, option));
    }
  }

  private sendLineSettings(): void {
    const baud = Buffer.alloc(4);
    baud.writeUInt32BE(this.settings.baud);
    this.socket.write(
      Buffer.concat([
        comPortCommand(SET_BAUDRATE, baud),
        comPortCommand(SET_DATASIZE, Buffer.from([8])),
        comPortCommand(SET_PARITY, Buffer.from([PARITY_NONE])),
        comPortCommand(SET_STOPSIZE, Buffer.from([STOPSIZE_1])),
      ]),
    );
  }

  private comPortReply(data: Buffer): void {
    if (data[0] !== SERVER_REPLY + SET_BAUDRATE || data.length < 5) return;
    const set = data.readUInt32BE(1);
    this.settle(set === this.settings.baud ? undefined : this.mismatch(`set the line to ${set} baud, not the board file's ${this.settings.baud}`));
  }

  private mismatch(what: string): DutError {
    return new DutError('config', `ser2net at ${this.settings.where} ${what}`, { dut: this.settings.board, step: 'open console' });
  }
}
