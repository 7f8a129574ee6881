import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import type { Dut } from '../dut/dut.ts';
import { CommandError, DutError } from '../errors.ts';
import type { Feature, RunImages, TestContext } from './types.ts';

export interface ContextOptions {
  dut: Dut;
  images: RunImages;
  features: ReadonlySet<Feature>;
  artifacts: string;
  log(message: string): void;
}

/** A TestContext plus the runner's side of it: the teardown stack to unwind. */
export interface OwnedContext extends TestContext {
  runTeardowns(): Promise<unknown[]>;
}

export function createContext(options: ContextOptions): OwnedContext {
  const { dut } = options;
  const teardowns: (() => unknown)[] = [];
  let artifactsMade: Promise<unknown> | undefined;

  const sh: TestContext['sh'] = async (command, opts = {}) => {
    const result = await dut.exec(command, opts);
    if (result.exitCode !== 0) {
      throw new CommandError(command, result.exitCode, `${result.stdout}${result.stderr}`, { dut: dut.name, step: `${result.transport} exec` });
    }
    return result.stdout.replace(/\n$/, '');
  };

  return {
    dut,
    images: options.images,
    board: { name: dut.board.name, deviceType: dut.board.deviceType, features: options.features },
    get artifacts() {
      artifactsMade ??= mkdir(options.artifacts, { recursive: true });
      return options.artifacts;
    },
    sh,
    async stage(hostPath) {
      const media = dut.board.mediaPath(hostPath);
      if (media) return media;
      const remote = `/mnt/data/dutlab-${path.basename(hostPath)}`;
      await dut.put(hostPath, remote, { timeoutMs: 30 * 60_000 });
      teardowns.push(() => dut.exec(`rm -f ${remote}`).catch(() => undefined));
      return remote;
    },
    async waitUntil(command, { timeoutMs, intervalMs = 2000, what }) {
      const deadline = Date.now() + timeoutMs;
      let last = { stdout: '', stderr: '', exitCode: -1 };
      while (Date.now() < deadline) {
        last = await dut.exec(command, { timeoutMs: Math.max(5000, Math.min(60_000, deadline - Date.now())) });
        if (last.exitCode === 0) return last.stdout.replace(/\n$/, '');
        await new Promise((resolve) => setTimeout(resolve, intervalMs));
      }
      throw new CommandError(command, last.exitCode, `${what ?? command} not true within ${timeoutMs / 1000} s\n${last.stdout}${last.stderr}`, {
        dut: dut.name,
        step: 'wait until',
      });
    },
    teardown(fn) {
      teardowns.push(fn);
    },
    log: options.log,
    async runTeardowns() {
      const errors: unknown[] = [];
      while (teardowns.length > 0) {
        const fn = teardowns.pop();
        try {
          await fn?.();
        } catch (error) {
          errors.push(error instanceof DutError ? error : new Error(`teardown failed: ${String(error)}`));
        }
      }
      return errors;
    },
  };
}
