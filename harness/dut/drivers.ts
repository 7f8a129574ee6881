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
  /** Off, at least the board's minimum off time, on: what recovers a board that nothing else does. */
  cycle(): Promise<void>;
  /** What the driver last set or read. */
  state(): PowerState;
  /**
   * Resolves when the board switches itself off (its OS powered down: an
   * installer that finished); rejects if it went away otherwise. Only a
   * driver that can see that binds it: a relay cannot tell.
   */
  waitOff?(): Promise<void>;
}

/** A reset that keeps power (QMP system_reset, a reset line). A relay board has none, and binds none. */
export interface ResetDriver {
  reset(): Promise<void>;
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

/** The medium the board boots, as the host reaches it while the storage switch points at the host. */
export interface Medium {
  /** A block device, an image file, or (QEMU) a qcow2 overlay over the image. */
  path: string;
  format: 'raw' | 'qcow2';
  /** How the write went, for the transcript: "bmap: 588 MiB in 0.9 s (650 MiB/s), verified in 0.5 s". */
  summary?: string;
}

/** Each phase starts with `done` 0, so a printer knows a phase began before its first byte. */
export interface WriteProgress {
  phase: 'write' | 'verify';
  done: number;
  total: number;
}

export interface WriteOptions {
  signal?: AbortSignal;
  /**
   * The image is an installer (a flasher): the board boots it from a
   * removable medium and it writes the OS to the board's internal storage. A
   * board with both (QEMU: a USB stick and an internal disk) sets them up so.
   */
  installer?: boolean;
  progress?: (progress: WriteProgress) => void;
}

export interface StorageDriver {
  /**
   * Puts the image on the medium the board boots and returns the medium as
   * the host now sees it. Called with the board powered off. Provisioning
   * (config.json) is not the driver's business: it happens on the returned
   * medium, before handOver.
   */
  write(image: string, options?: WriteOptions): Promise<Medium>;
  /** Gives the medium to the DUT for the next power-on (an SD mux switched to the DUT). */
  handOver(): Promise<void>;
  /** Drops what write() made for this run. */
  release(): Promise<void>;
}

export interface NetworkEndpoint {
  host: string;
  port: number;
}

export interface NetworkDriver {
  /**
   * Where the DUT's sshd is reachable now. It may be known only after boot
   * (DHCP): a driver may read a leases file or ask the DUT over its console
   * with `ask` (runs a shell command, resolves with its stdout).
   */
  endpoint(ask: (command: string) => Promise<string>, signal?: AbortSignal): Promise<NetworkEndpoint>;
  /** endpoint() asks the DUT over its console: no use for a DUT reached over SSH alone. */
  readonly asksConsole: boolean;
  /** The harness host's address as the DUT reaches it, where the board knows one. */
  readonly hostAddress?: string;
  /** Where this host reaches the DUT's TCP `port` (setting up a forward where the board needs one). */
  reach(port: number, ask: (command: string) => Promise<string>, signal?: AbortSignal): Promise<NetworkEndpoint>;
}

/** Files the board carries as read-only media (a QEMU extra disk, a USB stick on a farm). */
export interface MediaDriver {
  /** Where `hostPath` appears on the DUT, or undefined when it is not carried: then it is copied over a transport. */
  path(hostPath: string): string | undefined;
}

/**
 * A board that can save its whole running state (memory, devices, disks)
 * and start from it again instead of booting: QEMU's savevm and -loadvm. A
 * farm board binds none, and always boots.
 */
export interface SnapshotDriver {
  /** What a saved state is only good for: the machine's profile, emulator, firmware and media, as a saved state's key holds them. */
  profile(): Promise<Record<string, unknown>>;
  /** Saves the running board's state into the folder `dir` (the board is paused meanwhile). */
  save(dir: string): Promise<void>;
  /**
   * In place of storage.write: the medium becomes a copy of the state saved
   * in `dir`, and the next power-on resumes from it. Later power-ons boot.
   */
  resumeFrom(dir: string, image: string): Promise<Medium>;
  /**
   * Takes the running board back to the state saved on its own medium (the
   * one it resumed from, or saved itself): memory, disks and NVRAM, as if
   * nothing since had happened. The board stays powered.
   */
  rewind(): Promise<void>;
}

/**
 * Everything a DUT needs from its board, bound to concrete drivers. Optional
 * members are capabilities a board may lack; code asks for the capability,
 * never for the board's kind.
 */
export interface BoundBoard {
  name: string;
  deviceType: string;
  power: PowerDriver;
  console: ConsoleDriver;
  storage: StorageDriver;
  reset?: ResetDriver;
  network?: NetworkDriver;
  media?: MediaDriver;
  snapshot?: SnapshotDriver;
  /** What a report should say about the board: its kind, drivers, devices, accelerator, run dir. */
  describe(): Record<string, unknown>;
  /**
   * Rejects when the board dies under us (QEMU exited): every wait on the
   * DUT races it, so a crash is an error at once, not a timeout later.
   */
  whileAlive<T>(work: Promise<T>): Promise<T>;
  /** Releases the board's own resources (relay ports, a rig's emulators) after power off. */
  close(): Promise<void>;
}
