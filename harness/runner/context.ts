import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Dut } from '../dut/dut.ts';
import { abortReason, CommandError, DutError, tail } from '../errors.ts';
import { untilAborted } from '../proc/abort.ts';
import { startDnsServer } from '../services/dns-server.ts';
import { HttpServer } from '../services/http-server.ts';
import { startNtpServer } from '../services/ntp-server.ts';
import type { Feature, HostPeer, RunImages, TestContext, TestDut, WaitOptions } from './types.ts';

export interface ContextOptions {
  dut: Dut;
  images: RunImages;
  features: ReadonlySet<Feature>;
  artifacts: string;
  /**
   * The signal of the phase the test is in (its body, then its teardown):
   * every DUT call of the context carries it, so a test that timed out or
   * was failed by a fault stops talking to the DUT.
   */
  signal: () => AbortSignal;
  log(message: string): void;
}

/** A TestContext plus the runner's side of it: the teardown stack to unwind. */
export interface OwnedContext extends TestContext {
  runTeardowns(run: (fn: () => unknown) => Promise<unknown>): Promise<unknown[]>;
}

/** Thrown by `t.skip()`: the runner reports the test as skipped with the reason. */
export class TestSkipped extends Error {
  constructor(readonly reason: string) {
    super(`skipped: ${reason}`);
    this.name = 'TestSkipped';
  }
}

export function createContext(options: ContextOptions): OwnedContext {
  const { dut, signal } = options;
  const teardowns: (() => unknown)[] = [];
  let artifactsMade: Promise<unknown> | undefined;
  const testDut = scopedDut(dut, signal);

  const sh: TestContext['sh'] = async (command, opts = {}) => {
    const result = await testDut.exec(command, opts);
    if (result.exitCode !== 0) {
      throw new CommandError(command, result.exitCode, `${result.stdout}${result.stderr}`, { dut: dut.name, step: `${result.transport} exec` });
    }
    return result.stdout.replace(/\n$/, '');
  };

  return {
    dut: testDut,
    host: hostPeer(dut, (fn) => teardowns.push(fn)),
    images: options.images,
    board: { name: dut.board.name, deviceType: dut.board.deviceType, features: options.features },
    get artifacts() {
      artifactsMade ??= mkdir(options.artifacts, { recursive: true });
      return options.artifacts;
    },
    get signal() {
      return signal();
    },
    sh,
    async stage(hostPath) {
      const media = dut.board.media?.path(hostPath);
      if (media) return media;
      const remote = `/mnt/data/dutlab-${path.basename(hostPath)}`;
      await testDut.put(hostPath, remote, { timeoutMs: 30 * 60_000 });
      teardowns.push(() => testDut.exec(`rm -f ${remote}`));
      return remote;
    },
    exec: (command, opts = {}) => testDut.exec(command, opts),
    waitUntil: (async (check: string | (() => unknown), { timeoutMs, intervalMs = 2000, what }: WaitOptions) => {
      const deadline = Date.now() + timeoutMs;
      let last = '';
      for (;;) {
        if (typeof check === 'string') {
          const result = await testDut.exec(check, { timeoutMs: Math.max(5000, Math.min(60_000, deadline - Date.now())) });
          if (result.exitCode === 0) return result.stdout.replace(/\n$/, '');
          last = `last exit ${result.exitCode}\n${tail(`${result.stdout}${result.stderr}`, 20)}`;
        } else {
          const value = await check();
          if (value) return value;
          last = `last value ${JSON.stringify(value)}`;
        }
        if (Date.now() >= deadline) break;
        await sleep(Math.min(intervalMs, Math.max(0, deadline - Date.now())), undefined, { signal: signal() }).catch(() => {
          throw abortReason(signal(), dut.name, 'wait until');
        });
      }
      const name = what ?? (typeof check === 'string' ? `\`${check}\`` : 'the condition');
      const [summary, ...output] = last.split('\n');
      throw new DutError('not-ready', `${name} not true within ${timeoutMs / 1000} s (${summary})`, {
        dut: dut.name,
        step: 'wait until',
        excerpt: output.join('\n'),
      });
    }) as TestContext['waitUntil'],
    teardown(fn) {
      teardowns.push(fn);
    },
    skip(reason): never {
      throw new TestSkipped(reason);
    },
    log: options.log,
    async runTeardowns(run) {
      const errors: unknown[] = [];
      while (teardowns.length > 0) {
        const fn = teardowns.pop();
        if (!fn) continue;
        try {
          await run(fn);
        } catch (error) {
          errors.push(error instanceof DutError ? error : new Error(`teardown failed: ${String(error)}`));
        }
      }
      return errors;
    },
  };
}

/**
 * The harness host as the test's DUT reaches it. The servers started for a
 * test stop with its teardown; without a known host address the test is
 * skipped (it should have declared the host-network feature).
 */
function hostPeer(dut: Dut, teardown: (fn: () => unknown) => void): HostPeer {
  const address = (): string => dut.board.network?.hostAddress ?? skip();
  const skip = (): never => {
    throw new TestSkipped(`board ${dut.board.name} declares no address at which the DUT reaches this host (network.hostAddress)`);
  };
  return {
    get address() {
      return address();
    },
    async http() {
      const host = address();
      const server = await HttpServer.start();
      teardown(() => server.stop());
      return { url: `http://${host}:${server.port}/${server.token}`, body: server.body, hits: () => server.hits() };
    },
    async ntp() {
      address();
      const server = await startNtpServer();
      teardown(() => server.stop());
    },
    async dns(records) {
      address();
      const server = await startDnsServer(records);
      teardown(() => server.stop());
      return { queries: () => [...server.output(10_000).matchAll(/query\[\w+\] (\S+) from /g)].map((m) => m[1] ?? '') };
    },
  };
}

/** The DUT as a test sees it: every call carries the phase's signal. */
function scopedDut(dut: Dut, signal: () => AbortSignal): TestDut {
  return {
    get name() {
      return dut.name;
    },
    get board() {
      return dut.board;
    },
    get state() {
      return dut.state;
    },
    get defaultTransport() {
      return dut.defaultTransport;
    },
    exec: (command, options = {}) => dut.exec(command, { ...options, signal: signal() }),
    put: (local, remote, options = {}) => dut.put(local, remote, { ...options, signal: signal() }),
    get: (remote, local, options = {}) => dut.get(remote, local, { ...options, signal: signal() }),
    // A reboot cannot be taken back half-way: the caller stops waiting, the lifecycle finishes it.
    reboot: (options) => untilAborted(dut.reboot(options), signal()),
    hardReset: () => untilAborted(dut.hardReset(), signal()),
    relogin: (options = {}) => dut.relogin({ ...options, signal: signal() }),
    toleratingTraces: (work) => dut.toleratingTraces(work),
    reach: (port, options = {}) => dut.reach(port, { ...options, signal: signal() }),
  };
}
