/**
 * Keys for SSH to a DUT. Each run makes its own ed25519 pair; the public half
 * goes into config.json `os.sshKeys` before boot. Host keys are not pinned: a
 * DUT's host key changes when its root filesystem is updated (HUP), so we
 * accept any and record the fingerprints seen, for the report.
 */
import { createHash, randomBytes } from 'node:crypto';
import ssh2 from 'ssh2';

export interface RunKey {
  /** OpenSSH-format private key, for `SshTransport.connect({ privateKey })`. */
  privateKey: string;
  /** One authorized_keys line: `ssh-ed25519 AAAA... comment`. */
  publicKey: string;
  /** `SHA256:...`, as `ssh-keygen -l` prints it. */
  fingerprint: string;
}

/** A fresh ed25519 key pair for one run. */
export function generateRunKey(comment = `dutlab-run-${randomBytes(4).toString('hex')}`): RunKey {
  const pair = ssh2.utils.generateKeyPairSync('ed25519', { comment });
  const publicKey = pair.public.trim();
  const blob = Buffer.from(publicKey.split(' ')[1] ?? '', 'base64');
  return { privateKey: pair.private, publicKey, fingerprint: fingerprintOf(blob) };
}

/** OpenSSH's SHA256 fingerprint of a key blob (the wire encoding of the public key). */
export function fingerprintOf(blob: Buffer): string {
  return `SHA256:${createHash('sha256').update(blob).digest('base64').replace(/=+$/, '')}`;
}

/** The algorithm named at the start of a key blob (`ssh-ed25519`, `ecdsa-sha2-nistp256`, ...). */
export function keyTypeOf(blob: Buffer): string {
  if (blob.length < 4) return 'unknown';
  const length = blob.readUInt32BE(0);
  return length > 0 && length < 64 && blob.length >= 4 + length ? blob.toString('latin1', 4, 4 + length) : 'unknown';
}

export interface HostKeySeen {
  type: string;
  fingerprint: string;
  /** ISO time of the connection that presented it. */
  seenAt: string;
}

export function hostKeySeen(blob: Buffer): HostKeySeen {
  return { type: keyTypeOf(blob), fingerprint: fingerprintOf(blob), seenAt: new Date().toISOString() };
}
