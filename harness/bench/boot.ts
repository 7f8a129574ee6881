import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { QemuBoard } from '../boards/types.ts';
import { createDut } from '../dut/create.ts';
import type { GoldenCache } from '../dut/golden-cache.ts';
import { buildQemuArgs, findUefiFirmware, resolveAccel } from '../qemu/index.ts';
import { createOverlay, createVarsCopy } from '../qemu/disks.ts';
import { freePort } from '../qemu/ports.ts';
import { spawnSupervised } from '../proc/supervise.ts';
import { provisionMedium } from '../storage/provision.ts';
import { generateRunKey } from '../transports/ssh-keys.ts';

const LOGIN_PROMPT = / login: *$/m;
const RAW_BOOT_LIMIT_MS = 10 * 60_000;

/**
 * The physical limit of a boot: QEMU started with the arguments dutlab would
 * give it (built by the same function, running rather than paused), on a disk
 * provisioned the same way, timed until the login prompt is in its serial log.
 * Nothing reads the console; QEMU logs it whether or not anyone does.
 */
export async function rawQemuToLoginPrompt(board: QemuBoard, image: string): Promise<number> {
  const dir = await mkdtemp(path.join(tmpdir(), 'dutlab-bench-raw-'));
  try {
    const disk = path.join(dir, 'disk.qcow2');
    await createOverlay(image, 'raw', disk);
    await provisionMedium(image, { path: disk, format: 'qcow2' }, { sshPublicKey: generateRunKey().publicKey });
    const firmware = board.qemu.firmware === 'uefi' ? findUefiFirmware() : undefined;
    const vars = path.join(dir, 'efivars.qcow2');
    if (firmware) await createVarsCopy(firmware.varsTemplate, vars);
    const serialLog = path.join(dir, 'serial.log');
    const argv = buildQemuArgs({
      settings: board.qemu,
      accel: (await resolveAccel(board.qemu.accel)).accel,
      overlay: disk,
      ...(firmware ? { firmwareCode: firmware.code, firmwareVars: vars } : {}),
      serialLog,
      qmpSocket: path.join(dir, 'qmp.sock'),
      pidfile: path.join(dir, 'qemu.pid'),
      ...(board.qemu.network === 'user' ? { sshHostPort: await freePort() } : {}),
      startPaused: false,
      name: 'dutlab-bench-raw',
    });
    const started = performance.now();
    const qemu = spawnSupervised('qemu-system-x86_64', argv, { name: 'bench raw qemu' });
    try {
      for (;;) {
        const log = await readFile(serialLog, 'utf8').catch(() => '');
        if (LOGIN_PROMPT.test(log)) return performance.now() - started;
        if (qemu.exitInfo()) throw new Error(`raw QEMU exited before a login prompt: ${qemu.outputTail(10)}`);
        if (performance.now() - started > RAW_BOOT_LIMIT_MS) throw new Error(`raw QEMU showed no login prompt within ${RAW_BOOT_LIMIT_MS / 1000} s`);
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    } finally {
      await qemu.terminate({ termMs: 2000, killMs: 5000 });
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

export interface DutlabBoot {
  /** `dut.boot()` from the call to ready: what a run waits for, writing the medium and provisioning included. */
  total: number;
  /** From QEMU's start (the timeline's powering-on, or restoring) to ready: what the raw QEMU figure is measured against. */
  fromQemuStart: number;
  path: 'cold' | 'restored';
}

/** One `dut.boot()`: cold, or resumed when `golden` has the state. */
export async function dutlabBootToReady(board: QemuBoard, image: string, golden?: GoldenCache): Promise<DutlabBoot> {
  const dut = await createDut({ board, image, ...(golden ? { golden } : {}) });
  try {
    const started = Date.now();
    await dut.boot();
    const ready = Date.now();
    const launched = dut.timeline.entries.find((entry) => entry.state === 'powering-on' || entry.state === 'restoring')?.at ?? started;
    return { total: ready - started, fromQemuStart: ready - launched, path: dut.timeline.entries.some((entry) => entry.state === 'restoring') ? 'restored' : 'cold' };
  } finally {
    await dut.close();
  }
}
