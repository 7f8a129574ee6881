/**
 * Does KVM actually work here? `/dev/kvm` existing, being openable, and QEMU
 * accepting `-accel kvm` prove nothing: on nested/odd hosts the guest may
 * never run (measured here: KVM reports "emulation failure" on the first x87
 * instruction and QEMU then sits forever with the VM stopped).
 *
 * So we run a tiny guest under KVM, bounded: a 64 KiB "BIOS" whose reset
 * vector executes what every real firmware/kernel executes early — x87
 * `fninit`, enabling and using SSE, `cpuid`, `rdtsc` — then writes to the
 * isa-debug-exit port, which makes QEMU exit with status (0x2a << 1) | 1 = 85.
 * Exit 85 within the bound ⇒ KVM runs guests. Anything else (other exit, a
 * "KVM internal error" on stderr, or no exit in time) ⇒ it does not; the
 * probe process group is SIGKILLed, so the probe itself can never hang.
 * `-accel kvm` alone (no `-accel tcg` fallback) makes QEMU fail outright if
 * KVM cannot be initialised, so a successful exit cannot come from TCG.
 *
 * Verdicts are cached per host, kernel release and QEMU version in
 * ~/.cache/dutlab/kvm-probe.json (XDG_CACHE_HOME honoured).
 */
import { constants } from 'node:fs';
import { access, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { homedir, hostname, release, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { execa } from 'execa';
import { ConfigError, DutError } from '../errors.ts';
import type { Accel } from '../boards/types.ts';
import { spawnSupervised } from '../proc/supervise.ts';

export interface HostKey {
  hostname: string;
  kernel: string;
  qemu: string;
}

export interface KvmProbeResult {
  usable: boolean;
  /** false when decided without running a guest (no /dev/kvm, no access): not cached. */
  ranGuest: boolean;
  /**
   * The guest neither finished nor failed within the bound. On a loaded host
   * that says nothing about KVM, so the verdict holds for this run only.
   */
  timedOut?: boolean;
  /** Why: "guest ran under KVM in 80 ms", "KVM internal error: ...", ... */
  reason: string;
  /** Wall time of the probe itself (0 when nothing had to be run). */
  durationMs: number;
  checkedAt: string;
  host: HostKey;
  /** true when this verdict came from the cache file. */
  cached: boolean;
}

export interface AccelDecision {
  requested: Accel;
  accel: 'kvm' | 'tcg';
  reason: string;
  probe?: KvmProbeResult;
}

export interface ProbeOptions {
  qemuBinary?: string;
  /** Bound on the probe guest. Default 4000 ms. */
  timeoutMs?: number;
  /** Accelerator to probe; 'tcg' exists so tests can prove the payload itself works. */
  accel?: 'kvm' | 'tcg';
  /** Path of the KVM device (tests point it elsewhere). */
  device?: string;
  /** Guest ROM to run instead of probePayload() (tests use one that never exits). */
  payload?: Buffer;
}

export interface CachedProbeOptions extends ProbeOptions {
  /** Default: $XDG_CACHE_HOME/dutlab/kvm-probe.json or ~/.cache/dutlab/kvm-probe.json. */
  cacheFile?: string;
  /** Ignore a cached verdict and probe again. */
  refresh?: boolean;
}

/** Exit status QEMU reports for isa-debug-exit value 0x2a: (0x2a << 1) | 1. */
const PROBE_EXIT_CODE = 85;

/** 64 KiB BIOS image: at the reset vector, a jump to the probe code at offset 0. */
export function probePayload(): Buffer {
  const rom = Buffer.alloc(65536, 0xf4); // hlt everywhere else
  // prettier-ignore
  const code = [
    0x9b, 0xdb, 0xe3,                   // finit          (x87: where KVM failed here)
    0x0f, 0x20, 0xe0,                   // mov eax, cr4
    0x66, 0x0d, 0x00, 0x02, 0x00, 0x00, // or eax, 0x200  (CR4.OSFXSR)
    0x0f, 0x22, 0xe0,                   // mov cr4, eax
    0x0f, 0x57, 0xc0,                   // xorps xmm0, xmm0 (SSE)
    0x66, 0x31, 0xc0,                   // xor eax, eax
    0x0f, 0xa2,                         // cpuid
    0x0f, 0x31,                         // rdtsc
    0xb0, 0x2a,                         // mov al, 0x2a
    0xe6, 0xf4,                         // out 0xf4, al   (isa-debug-exit)
    0xf4,                               // hlt
    0xeb, 0xfd,                         // jmp hlt
  ];
  Buffer.from(code).copy(rom, 0);
  // Reset vector F000:FFF0 (linear 0xFFFFFFF0 = ROM offset 0xFFF0): near jmp
  // to IP 0, i.e. ROM offset 0. rel16 = 0 - (0xFFF0 + 3) mod 2^16 = 0x000D.
  Buffer.from([0xe9, 0x0d, 0x00]).copy(rom, 0xfff0);
  return rom;
}

export async function hostKey(qemuBinary = 'qemu-system-x86_64'): Promise<HostKey> {
  const result = await execa(qemuBinary, ['--version'], { reject: false, timeout: 5_000 });
  const qemu = result.failed ? 'unknown' : (String(result.stdout).split('\n')[0] ?? 'unknown');
  return { hostname: hostname(), kernel: release(), qemu };
}

const FATAL_KVM = /KVM internal error|emulation failure|kvm run failed|failed to initialize kvm/i;

/** Run the probe guest now (no cache). Never hangs: bounded by timeoutMs. */
export async function runKvmProbe(options: ProbeOptions = {}, knownHost?: HostKey): Promise<KvmProbeResult> {
  const qemuBinary = options.qemuBinary ?? 'qemu-system-x86_64';
  const accel = options.accel ?? 'kvm';
  const timeoutMs = options.timeoutMs ?? 4_000;
  const host = knownHost ?? (await hostKey(qemuBinary));
  const verdict = (usable: boolean, reason: string, durationMs?: number, timedOut = false): KvmProbeResult => ({
    usable,
    ranGuest: durationMs !== undefined,
    ...(timedOut ? { timedOut } : {}),
    reason,
    durationMs: durationMs ?? 0,
    checkedAt: new Date().toISOString(),
    host,
    cached: false,
  });

  if (accel === 'kvm') {
    const device = options.device ?? '/dev/kvm';
    try {
      await access(device, constants.R_OK | constants.W_OK);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      return verdict(false, code === 'ENOENT' ? `${device} does not exist` : `${device} is not read-writable by this user (${code}); join the kvm group`);
    }
  }

  const dir = await mkdtemp(join(tmpdir(), 'dutlab-kvm-probe-'));
  const started = Date.now();
  try {
    const bios = join(dir, 'probe.bin');
    await writeFile(bios, options.payload ?? probePayload());
    // The probe is a throwaway guest: no QMP, no disks, just the payload.
    const child = spawnSupervised(
      qemuBinary,
      ['-accel', accel, '-machine', 'q35', '-nodefaults', '-no-user-config', '-display', 'none', '-m', '16',
        '-bios', bios, '-device', 'isa-debug-exit,iobase=0xf4,iosize=0x04'],
      { name: `kvm probe (${accel})` },
    );
    let fatal: string | undefined;
    let timer: NodeJS.Timeout | undefined;
    const outcome = await Promise.race([
      child.exited.then((exit) => ({ kind: 'exit' as const, exit })),
      new Promise<{ kind: 'fatal' }>((resolve) => {
        child.onOutput(() => {
          const match = FATAL_KVM.exec(child.outputTail());
          if (match && !fatal) {
            fatal = match[0];
            resolve({ kind: 'fatal' });
          }
        });
      }),
      new Promise<{ kind: 'timeout' }>((resolve) => {
        timer = setTimeout(() => resolve({ kind: 'timeout' }), timeoutMs);
      }),
    ]);
    clearTimeout(timer);
    const durationMs = Date.now() - started;
    if (outcome.kind === 'exit' && outcome.exit.code === PROBE_EXIT_CODE) {
      return verdict(true, `probe guest ran to completion under ${accel} in ${durationMs} ms`, durationMs);
    }
    // Give QEMU a moment to print its register dump before it is killed.
    if (outcome.kind === 'fatal') await new Promise((r) => setTimeout(r, 100));
    const tail = child.outputTail(3).replace(/\s+/g, ' ').trim();
    await child.terminate({ termMs: 0, killMs: 3_000 }).catch(() => undefined);
    if (outcome.kind === 'fatal') {
      return verdict(false, `QEMU reported "${fatal}" running the probe guest under ${accel} (${durationMs} ms)`, durationMs);
    }
    if (outcome.kind === 'timeout') {
      return verdict(false, `probe guest did not finish under ${accel} within ${timeoutMs} ms (killed)${tail ? `: ${tail}` : ''}`, durationMs, true);
    }
    const how = outcome.exit.code === null ? `signal ${outcome.exit.signal}` : `code ${outcome.exit.code}`;
    return verdict(false, `QEMU exited with ${how} instead of ${PROBE_EXIT_CODE} under ${accel}${tail ? `: ${tail}` : ''}`, durationMs);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

export function defaultCacheFile(): string {
  const base = process.env.XDG_CACHE_HOME || join(homedir(), '.cache');
  return join(base, 'dutlab', 'kvm-probe.json');
}

function keyString(key: HostKey): string {
  return `${key.hostname}|${key.kernel}|${key.qemu}`;
}

/** Probe verdict from the cache if this host/kernel/QEMU has one, else probe and store. */
export async function kvmProbe(options: CachedProbeOptions = {}): Promise<KvmProbeResult> {
  const file = options.cacheFile ?? defaultCacheFile();
  const host = await hostKey(options.qemuBinary);
  const key = keyString(host);
  let cache: Record<string, KvmProbeResult> = {};
  try {
    cache = JSON.parse(await readFile(file, 'utf8')) as Record<string, KvmProbeResult>;
  } catch {
    // no cache yet, or unreadable: probe
  }
  const hit = cache[key];
  if (hit && !options.refresh) return { ...hit, cached: true };
  const result = await runKvmProbe(options, host);
  // Only verdicts a guest run decided are cached: a missing /dev/kvm or a
  // permission problem is cheap to re-check and may be fixed any minute, and
  // a timeout may be the host's load, not KVM.
  if (result.ranGuest && !result.timedOut) {
    cache[key] = result;
    try {
      await mkdir(dirname(file), { recursive: true });
      await writeFile(file, `${JSON.stringify(cache, null, 2)}\n`);
    } catch {
      // A read-only home must not break runs; we just probe again next time.
    }
  }
  return result;
}

/**
 * Pure decision from what the board asked for and what the probe found.
 * `kvm` forced on a host where KVM does not work is a configuration error:
 * silently falling back would make timing-sensitive suites lie.
 */
export function decideAccel(requested: Accel, probe: KvmProbeResult | undefined): AccelDecision {
  if (requested === 'tcg') return { requested, accel: 'tcg', reason: 'board asks for tcg' };
  if (!probe) throw new DutError('process', `accel ${requested} needs a KVM probe result`);
  const probeNote = `${probe.reason}${probe.cached ? ` (cached verdict from ${probe.checkedAt})` : ''}`;
  if (probe.usable) return { requested, accel: 'kvm', reason: `KVM works: ${probeNote}`, probe };
  if (requested === 'kvm') {
    throw new ConfigError(
      'qemu.accel: kvm',
      `KVM is not usable on this host: ${probeNote}. Use accel: auto (falls back to tcg) or accel: tcg`,
    );
  }
  return { requested, accel: 'tcg', reason: `KVM not usable, using TCG: ${probeNote}`, probe };
}

/** decideAccel with the probe run (or read from cache) only when needed. */
export async function resolveAccel(requested: Accel, options: CachedProbeOptions = {}): Promise<AccelDecision> {
  if (requested === 'tcg') return decideAccel(requested, undefined);
  return decideAccel(requested, await kvmProbe(options));
}
