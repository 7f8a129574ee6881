/**
 * Files over one SSH link: SFTP when the DUT's sshd offers it, else plain
 * exec streams (`cat > file`, `cat file`), which any sshd with a POSIX shell
 * behind it can do (dropbear without sftp-server, for one).
 *
 * Either way a file lands under a temporary name first, is checked for size
 * (SSH's MAC already guards the bytes), gets its mode, and is renamed into
 * place: the destination only ever holds a whole file.
 */
import { randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { rename, stat, unlink, writeFile } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import type { SFTPWrapper, Stats } from 'ssh2';
import { DutError } from '../errors.ts';
import { runOnLink } from './ssh-exec.ts';
import type { SshLink } from './ssh-link.ts';
import { posixQuote } from './shell-words.ts';
import { TransferError } from './types.ts';

export interface FileContext {
  link: SshLink;
  dut: string;
  step: string;
  /** Date.now() by which the whole transfer must be done. */
  deadline: number;
  note: (text: string) => void;
}

/** A context bound to the remote file it moves, for error messages. */
interface Transfer extends FileContext {
  remotePath: string;
}

export type FileMethod = 'sftp' | 'exec-stream';

/** Which method this link supports: SFTP if the subsystem opens. */
export async function fileMethod(context: FileContext): Promise<FileMethod> {
  try {
    await context.link.sftp();
    return 'sftp';
  } catch (error) {
    if (!context.link.alive) throw lostError(context, context.link.lostReason ?? (error as Error).message);
    context.note(`ssh: no SFTP subsystem (${(error as Error).message}); files go over exec streams`);
    return 'exec-stream';
  }
}

export function temporaryName(path: string): string {
  return `${path}.dutlab-${randomBytes(4).toString('hex')}`;
}

export async function putFile(context: FileContext, method: FileMethod, localPath: string, remotePath: string, mode: number | undefined): Promise<number> {
  const transfer: Transfer = { ...context, remotePath };
  const size = await localSize(transfer, localPath);
  const part = temporaryName(remotePath);
  try {
    if (method === 'sftp') {
      await sftpCall(transfer, (sftp, done) => sftp.fastPut(localPath, part, mode === undefined ? {} : { mode }, done));
      if (mode !== undefined) await sftpCall(transfer, (sftp, done) => sftp.chmod(part, mode, done));
      const landed = await sftpCall<Stats>(transfer, (sftp, done) => sftp.stat(part, done));
      checkSize(transfer, size, landed.size);
      await sftpCall(transfer, (sftp, done) => {
        try {
          sftp.ext_openssh_rename(part, remotePath, done);
        } catch {
          // No posix-rename extension: plain SFTP rename refuses to replace a file.
          sftp.unlink(remotePath, () => sftp.rename(part, remotePath, done));
        }
      });
    } else {
      const written = await remote(transfer, `cat > ${posixQuote(part)} && wc -c < ${posixQuote(part)}`, createReadStream(localPath));
      checkSize(transfer, size, Number(written.trim()));
      const chmod = mode === undefined ? '' : `chmod ${mode.toString(8)} ${posixQuote(part)} && `;
      await remote(transfer, `${chmod}mv -f ${posixQuote(part)} ${posixQuote(remotePath)}`);
    }
    return size;
  } catch (error) {
    if (context.link.alive) {
      const cleanup = { ...transfer, deadline: Date.now() + 5000 };
      await (method === 'sftp' ? sftpCall(cleanup, (sftp, done) => sftp.unlink(part, done)) : remote(cleanup, `rm -f ${posixQuote(part)}`)).catch(
        () => undefined,
      );
    }
    throw error;
  }
}

export async function getFile(context: FileContext, method: FileMethod, remotePath: string, localPath: string): Promise<number> {
  const transfer: Transfer = { ...context, remotePath };
  const part = temporaryName(localPath);
  try {
    let size: number;
    if (method === 'sftp') {
      size = (await sftpCall<Stats>(transfer, (sftp, done) => sftp.stat(remotePath, done))).size;
      await sftpCall(transfer, (sftp, done) => sftp.fastGet(remotePath, part, done));
    } else {
      size = Number((await remote(transfer, `wc -c < ${posixQuote(remotePath)}`)).trim());
      const body = await runOnLink(transfer.link, `cat ${posixQuote(remotePath)}`, channelRun(transfer));
      if (body.exitCode !== 0) throw remoteError(transfer, `cat exited ${body.exitCode}: ${body.stderr.toString().trim()}`);
      await writeFile(part, body.stdout);
    }
    checkSize(transfer, size, (await stat(part)).size);
    await rename(part, localPath);
    return size;
  } catch (error) {
    await unlink(part).catch(() => undefined);
    if (error instanceof DutError) throw error;
    throw new TransferError('local', remotePath, `writing ${localPath} failed: ${(error as Error).message}`, { dut: context.dut, step: context.step, cause: error });
  }
}

async function localSize(transfer: Transfer, localPath: string): Promise<number> {
  try {
    return (await stat(localPath)).size;
  } catch (error) {
    throw new TransferError('local', transfer.remotePath, `cannot read ${localPath}: ${(error as Error).message}`, {
      dut: transfer.dut,
      step: transfer.step,
      cause: error,
    });
  }
}

function checkSize(transfer: Transfer, expected: number, actual: number): void {
  if (expected !== actual) {
    throw new TransferError('size', transfer.remotePath, `${actual} bytes arrived, ${expected} were sent`, {
      dut: transfer.dut,
      step: transfer.step,
      expected: String(expected),
      actual: String(actual),
    });
  }
}

function lostError(context: FileContext, reason: string): DutError {
  return new DutError('console-lost', `SSH connection lost during a transfer (${reason})`, { dut: context.dut, step: context.step });
}

function timeoutError(transfer: Transfer): DutError {
  return new DutError('timeout', `transfer of ${transfer.remotePath} did not finish in time`, { dut: transfer.dut, step: transfer.step });
}

function remoteError(transfer: Transfer, message: string, cause?: unknown): TransferError {
  return new TransferError('remote', transfer.remotePath, message, { dut: transfer.dut, step: transfer.step, cause });
}

function channelRun(transfer: Transfer, stdin?: Readable): { timeoutMs: number; dut: string; step: string; stdin?: Readable } {
  const timeoutMs = transfer.deadline - Date.now();
  if (timeoutMs <= 0) throw timeoutError(transfer);
  return { timeoutMs, dut: transfer.dut, step: transfer.step, stdin };
}

/** Runs a transfer command; its stdout, or a TransferError with its stderr. */
async function remote(transfer: Transfer, command: string, stdin?: Readable): Promise<string> {
  const result = await runOnLink(transfer.link, command, channelRun(transfer, stdin));
  if (result.exitCode !== 0) throw remoteError(transfer, `\`${command}\` exited ${result.exitCode}: ${result.stderr.toString().trim()}`);
  return result.stdout.toString();
}

/**
 * One SFTP request, bounded by the transfer's deadline (which ends the SFTP
 * session, aborting what it still does) and by the link: a dropped connection
 * is `console-lost`, a refusal from the server a TransferError.
 */
function sftpCall<T = void>(transfer: Transfer, call: (sftp: SFTPWrapper, done: (error: Error | null | undefined, value?: T) => void) => void): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    let settled = false;
    let session: SFTPWrapper | undefined;
    const settle = (error: Error | undefined, value?: T): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      unsubscribe();
      if (error) reject(error);
      else resolve(value as T);
    };
    const unsubscribe = transfer.link.onLost((reason) => settle(lostError(transfer, reason)));
    const timer = setTimeout(
      () => {
        session?.end();
        settle(timeoutError(transfer));
      },
      Math.max(0, transfer.deadline - Date.now()),
    );
    transfer.link.sftp().then(
      (sftp) => {
        session = sftp;
        call(sftp, (error, value) => {
          if (!error) return settle(undefined, value);
          if (!transfer.link.alive) return settle(lostError(transfer, transfer.link.lostReason ?? error.message));
          settle(remoteError(transfer, `SFTP: ${error.message}`, error));
        });
      },
      (error: Error) => settle(transfer.link.alive ? remoteError(transfer, `SFTP: ${error.message}`, error) : lostError(transfer, error.message)),
    );
  });
}
