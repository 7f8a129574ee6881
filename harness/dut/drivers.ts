import type { Duplex } from 'node:stream';

/**
 * The narrow driver interfaces a DUT binds, as labgrid separates resources,
 * drivers and strategies. A QEMU board and a physical board differ only in
 * which implementations they bind; the lifecycle sees nothing else.
 */

export type PowerState = 'on' | 'off' | 'unknown';

export interface PowerDriver {
  on(): Promise<void>;
  off(): Promise<void>;
  /** Press reset: the OS gets no say, the board keeps power. */
  reset(): Promise<void>;
  /** Power off, then on: what recovers a board that even reset does not. */
  cycle(): Promise<void>;
  state(): PowerState;
}

export interface ConsoleDriver {
  /**
   * The byte stream to the DUT's console. It lives across power cycles (a
   * USB-serial adapter does not go away when the board does), so the
   * transcript of a run is one continuous record.
   */
  open(): Promise<Duplex>;
  close(): Promise<void>;
}

export interface BootSettings {
  /** OpenSSH authorized_keys line installed through config.json os.sshKeys. */
  sshPublicKey?: string;
  /** Merged into config.json (hostname, developmentMode, ...). */
  config?: Record<string, unknown>;
}

export interface StorageDriver {
  /** Put the image where the DUT boots it, with this run's config.json. */
  prepare(image: string, settings: BootSettings): Promise<void>;
  /** Drop what prepare() made for this run. */
  release(): Promise<void>;
}

export interface NetworkEndpoint {
  host: string;
  port: number;
}

/** Everything a DUT needs from its board, bound to concrete drivers. */
export interface BoundBoard {
  name: string;
  deviceType: string;
  power: PowerDriver;
  console: ConsoleDriver;
  storage: StorageDriver;
  /** Where the DUT's sshd (port 22222) is reachable from here, once powered on. */
  sshEndpoint(): NetworkEndpoint | undefined;
  /**
   * Where a file the board carries as read-only media (a QEMU extra disk, a
   * USB stick on a farm) appears on the DUT, or undefined when it does not
   * carry it: then it has to be copied over a transport.
   */
  mediaPath(hostPath: string): string | undefined;
  /** What a report should say about the board (accelerator, run dir, ...). */
  describe(): Record<string, unknown>;
  /**
   * Rejects when the board dies under us (QEMU exited): every wait on the
   * DUT races it, so a crash is an error at once, not a timeout later.
   */
  whileAlive<T>(work: Promise<T>): Promise<T>;
}
