import { createHash, type Hash } from 'node:crypto';

export const MiB = 1024 * 1024;

/**
 * The sha256 of a byte stream that also keeps the digest of every whole-MiB
 * prefix (a copy of the running hash, finalised: 32 bytes per MiB), so two
 * streams whose hashes differ can say in which MiB they first differ
 * without either being kept or read twice.
 */
export class PrefixDigest {
  private readonly hash: Hash = createHash('sha256');
  private readonly prefixes: Buffer[] = [];
  private inMiB = 0;
  bytes = 0;

  update(chunk: Buffer): void {
    let offset = 0;
    while (offset < chunk.length) {
      const take = Math.min(MiB - this.inMiB, chunk.length - offset);
      this.hash.update(chunk.subarray(offset, offset + take));
      offset += take;
      this.inMiB += take;
      if (this.inMiB === MiB) {
        this.prefixes.push(this.hash.copy().digest());
        this.inMiB = 0;
      }
    }
    this.bytes += chunk.length;
  }

  hex(): string {
    return this.hash.copy().digest('hex');
  }

  /** The index of the first MiB in which the two streams differ, or undefined when they are equal. */
  firstDifferingMiB(other: PrefixDigest): number | undefined {
    const whole = Math.min(this.prefixes.length, other.prefixes.length);
    for (let i = 0; i < whole; i++) {
      if (!(this.prefixes[i] as Buffer).equals(other.prefixes[i] as Buffer)) return i;
    }
    return this.bytes === other.bytes && this.hex() === other.hex() ? undefined : whole;
  }
}
