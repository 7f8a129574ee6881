/**
 * One SSH connection to a DUT, and the bounded dialling that makes one.
 *
 * Dialling retries with backoff until a deadline, not a count: a DUT that is
 * rebooting refuses, resets or ignores connections for a while, and every
 * kind of failure (refused, handshake timeout, authentication before the keys
 * are installed) is retried until the deadline, whose error names the last.
 *
 * A link that drops (socket closed, keep-alive unanswered) latches `lost` and
 * tells whoever is waiting on it; it is never revived, a new link replaces it.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import ssh2, { type Client, type SFTPWrapper } from 'ssh2';
import { DutError } from '../errors.ts';
import { hostKeySeen, type HostKeySeen } from './ssh-keys.ts';

export interface DialOptions {
  host: string;
  port: number;
  username: string;
  privateKey: string | Buffer;
  /** Bound on one attempt's TCP connect and handshake. */
  attemptTimeoutMs: number;
  /** A keep-alive every this often; after `keepaliveCountMax` unanswered ones the link is lost. */
  keepaliveIntervalMs: number;
  keepaliveCountMax: number;
}

export class SshLink {
  /** Why the link went away; undefined while it is up. */
  lostReason: string | undefined;
  private readonly watchers = new Set<(reason: string) => void>();
  private sftpSession: Promise<SFTPWrapper> | undefined;

  constructor(
    readonly client: Client,
    readonly hostKey: HostKeySeen,
    private readonly keepalive: string,
  ) {
    client.on('error', (error: Error & { level?: string }) => {
      this.drop(error.message === 'Keepalive timeout' ? `no answer to keep-alives (${this.keepalive}): the DUT hung or its network went away` : error.message);
    });
    client.on('close', () => this.drop('the connection closed'));
  }

  get alive(): boolean {
    return this.lostReason === undefined;
  }

  /** Calls `watcher` once when the link is lost (at once if it already is); returns the unsubscribe. */
  onLost(watcher: (reason: string) => void): () => void {
    if (this.lostReason !== undefined) {
      const reason = this.lostReason;
      queueMicrotask(() => watcher(reason));
      return () => undefined;
    }
    this.watchers.add(watcher);
    return () => this.watchers.delete(watcher);
  }

  /** The connection's SFTP session, opened on first use. */
  sftp(): Promise<SFTPWrapper> {
    if (!this.sftpSession) {
      const session = new Promise<SFTPWrapper>((resolve, reject) => {
        this.client.sftp((error, sftp) => (error ? reject(error) : resolve(sftp)));
      });
      this.sftpSession = session;
      // A refused subsystem is remembered (every call fails alike); a session that ends is reopened.
      session.then(
        (sftp) => sftp.once('close', () => {
          if (this.sftpSession === session) this.sftpSession = undefined;
        }),
        () => undefined,
      );
    }
    return this.sftpSession;
  }

  /** Closes the connection on purpose. */
  end(reason = 'closed by the harness'): void {
    this.drop(reason);
    this.client.end();
    // end() waits for the server's goodbye; a dead peer never sends one.
    setTimeout(() => this.client.destroy(), 1000).unref();
  }

  private drop(reason: string): void {
    if (this.lostReason !== undefined) return;
    this.lostReason = reason;
    for (const watcher of [...this.watchers]) watcher(reason);
    this.watchers.clear();
  }
}

/** One connection attempt, bounded by `timeoutMs`. */
export function dialOnce(options: DialOptions, timeoutMs: number): Promise<SshLink> {
  return new Promise((resolve, reject) => {
    const client = new ssh2.Client();
    let hostKey: HostKeySeen | undefined;
    let settled = false;
    const fail = (error: Error): void => {
      if (settled) return;
      settled = true;
      client.off('ready', onReady);
      client.destroy();
      reject(error);
    };
    const onError = (error: Error): void => fail(error);
    const onClose = (): void => fail(new Error('the server closed the connection during the handshake'));
    const onReady = (): void => {
      if (settled) return;
      settled = true;
      client.off('error', onError).off('close', onClose);
      // Small request/answer packets: without this, Nagle and delayed ACKs add ~40 ms steps to every exec.
      client.setNoDelay(true);
      const keepalive = `${options.keepaliveCountMax} × ${options.keepaliveIntervalMs} ms`;
      resolve(new SshLink(client, hostKey ?? { type: 'unknown', fingerprint: 'unknown', seenAt: new Date().toISOString() }, keepalive));
    };
    client.on('ready', onReady).on('error', onError).on('close', onClose);
    try {
      client.connect({
        host: options.host,
        port: options.port,
        username: options.username,
        privateKey: options.privateKey,
        readyTimeout: Math.max(1, Math.round(timeoutMs)),
        keepaliveInterval: options.keepaliveIntervalMs,
        keepaliveCountMax: options.keepaliveCountMax,
        // Not pinned, recorded: an updated root brings a new host key.
        hostVerifier: (key: Buffer): boolean => {
          hostKey = hostKeySeen(key);
          return true;
        },
      });
    } catch (error) {
      fail(error as Error);
    }
  });
}

export interface DialUntilOptions {
  deadlineMs: number;
  dut: string;
  step: string;
  note: (text: string) => void;
}

const FIRST_BACKOFF_MS = 250;
const MAX_BACKOFF_MS = 2000;

/** Dials until a connection is up or `deadlineMs` has passed; the timeout error names the last failure. */
export async function dialUntil(options: DialOptions, bound: DialUntilOptions): Promise<SshLink> {
  const started = Date.now();
  const deadline = started + bound.deadlineMs;
  const where = `${options.username}@${options.host}:${options.port}`;
  let attempts = 0;
  let last: Error | undefined;
  let backoff = FIRST_BACKOFF_MS;
  while (true) {
    const left = deadline - Date.now();
    if (left <= 0) {
      throw new DutError(
        'timeout',
        `no SSH session with ${where} within ${bound.deadlineMs} ms (${attempts} attempts); last error: ${last?.message ?? 'none'}`,
        { dut: bound.dut, step: bound.step, cause: last },
      );
    }
    attempts++;
    try {
      const link = await dialOnce(options, Math.min(options.attemptTimeoutMs, left));
      bound.note(`ssh ${where} up after ${Date.now() - started} ms, attempt ${attempts}; host key ${link.hostKey.type} ${link.hostKey.fingerprint}`);
      return link;
    } catch (error) {
      if (last?.message !== (error as Error).message) bound.note(`ssh ${where} attempt ${attempts}: ${(error as Error).message}`);
      last = error as Error;
    }
    const pause = Math.min(backoff, deadline - Date.now());
    if (pause > 0) await sleep(pause);
    backoff = Math.min(backoff * 2, MAX_BACKOFF_MS);
  }
}
