/** Public surface of the QEMU driver. */
export { buildQemuArgs, escapeOpt, type ExtraDrive, type QemuArgsInput } from './args.ts';
export { findUefiFirmware, type UefiFirmware } from './firmware.ts';
export {
  decideAccel,
  kvmProbe,
  resolveAccel,
  runKvmProbe,
  type AccelDecision,
  type CachedProbeOptions,
  type KvmProbeResult,
} from './kvm-probe.ts';
export { launchBoard, launchQemu, type LaunchOptions, type QemuExit, type QemuInstance } from './launcher.ts';
export { QmpClient, QmpError, type QmpEvent, type QmpStatus } from './qmp.ts';
export { reapStaleRuns, type ReapedRun } from './reaper.ts';
export { createRunDir, defaultRunsRoot, type RunPaths } from './run-dir.ts';
