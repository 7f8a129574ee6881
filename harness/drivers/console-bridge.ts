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
  private readonly forward = (chunk: Buffer): void => {
    this.push(chunk);
  };
  // A line that dies (EIO when QEMU exits) is the board's business, reported by its driver.
  private readonly ignore = (): void => undefined;

  attach(line: Duplex): void {
    this.detach();
    this.line = line;
    line.on('data', this.forward).on('error', this.ignore);
  }

  detach(): void {
    this.line?.off('data', this.forward).off('error', this.ignore);
    this.line = undefined;
  }

  override _read(): void {
    // Data is pushed as the line delivers it.
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    if (!this.line) {
      callback();
      return;
    }
    // A line that fails a write (an adapter being pulled out) drops the bytes, as a dead UART does; the
    // bridge must not be destroyed by it, or the run's console ends with the adapter's hiccup.
    this.line.write(chunk, () => callback());
  }
}
