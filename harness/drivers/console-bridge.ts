import { Duplex } from 'node:stream';

/**
 * A console stream that outlives the line behind it. A QEMU board's serial
 * pty disappears with each QEMU process, but a run's console must not: like a
 * USB-serial adapter on a farm, it stays open across power cycles, so the
 * console engine and its transcript see one continuous stream.
 * Bytes written while no line is attached are dropped, as a UART would.
 */
export class ConsoleBridge extends Duplex {
  private line: Duplex | undefined;
  /** A write waiting for a line to come back (see `holdWhileDetached`). */
  private held: { chunk: Buffer; callback: (error?: Error | null) => void } | undefined;

  /**
   * `holdWhileDetached`: writes made while no line is attached wait for one
   * instead of being dropped. For a console adapter that went away and is
   * expected back, the host knows its bytes would be lost; for a board that
   * is off (QEMU between power cycles), dropping is what a UART does.
   */
  constructor(private readonly options: { holdWhileDetached?: boolean } = {}) {
    super();
  }

  private readonly forward = (chunk: Buffer): void => {
    this.push(chunk);
  };
  // A line that dies (EIO when QEMU exits) is the board's business, reported by its driver.
  private readonly ignore = (): void => undefined;

  attach(line: Duplex): void {
    this.detach();
    this.line = line;
    line.on('data', this.forward).on('error', this.ignore);
    const held = this.held;
    this.held = undefined;
    if (held) this.send(held.chunk, held.callback);
  }

  detach(): void {
    this.line?.off('data', this.forward).off('error', this.ignore);
    this.line = undefined;
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    this.held?.callback(error ?? new Error('console closed'));
    this.held = undefined;
    callback(error);
  }

  override _read(): void {
    // Data is pushed as the line delivers it.
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    this.send(chunk, callback);
  }

  private send(chunk: Buffer, callback: (error?: Error | null) => void): void {
    if (!this.line) {
      // Later writes queue behind this one in the stream's own buffer.
      if (this.options.holdWhileDetached) this.held = { chunk, callback };
      else callback();
      return;
    }
    // A line that fails a write (an adapter being pulled out) drops the bytes, as a dead UART does; the
    // bridge must not be destroyed by it, or the run's console ends with the adapter's hiccup.
    this.line.write(chunk, () => callback());
  }
}
