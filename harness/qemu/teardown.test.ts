/**
 * No QEMU may outlive its harness: a child process plays the harness
 * (fixtures/launch-child.ts launches a VM through the real launcher) and is
 * then SIGKILLed or SIGTERMed; we check /proc for the pid from the pidfile.
 */
import test from 'ava';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa, type ResultPromise } from 'execa';
import { isRunning, processCmdline, signalPid, waitUntilGone } from '../proc/pids.ts';
import { reapStaleRuns } from './reaper.ts';
import { readPidfile } from './run-dir.ts';

const FIXTURE = join(import.meta.dirname, 'fixtures', 'launch-child.ts');

interface ChildReport {
  pid: number;
  runDir: string;
  pidfile: string;
  pdeath: boolean;
}

let root: string;
test.before(async () => {
  root = await mkdtemp(join(tmpdir(), 'dutlab-teardown-'));
});
test.after.always(async () => {
  await rm(root, { recursive: true, force: true });
});

async function startHarness(extra: string[] = []): Promise<{ child: ResultPromise; report: ChildReport }> {
  const child = execa(process.execPath, ['--import', 'tsx', FIXTURE, join(root, 'runs'), ...extra], {
    reject: false,
    stdin: 'ignore',
    cwd: join(import.meta.dirname, '..', '..'),
  });
  const report = await new Promise<ChildReport>((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`child printed nothing in 20 s: ${out}`)), 20_000);
    child.stdout?.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      const line = out.split('\n')[0];
      if (out.includes('\n') && line) {
        clearTimeout(timer);
        resolve(JSON.parse(line) as ChildReport);
      }
    });
    void child.then((r) => {
      clearTimeout(timer);
      reject(new Error(`child exited early: ${String(r.stderr)}`));
    });
  });
  return { child, report };
}

/** Kill a QEMU a failed test might leave behind, so one failure does not leak. */
function killIfRunning(pid: number): void {
  if (isRunning(pid)) signalPid(pid, 'SIGKILL');
}

test.serial('SIGKILL of the harness: the kernel kills its QEMU (PR_SET_PDEATHSIG)', async (t) => {
  const { child, report } = await startHarness();
  try {
    t.true(report.pdeath);
    t.is(await readPidfile(report.pidfile), report.pid);
    t.true(isRunning(report.pid), 'QEMU runs while the harness lives');
    const killedAt = Date.now();
    child.kill('SIGKILL');
    await child;
    t.true(await waitUntilGone(report.pid, 5_000), 'QEMU gone within 5 s');
    t.log(`QEMU gone ${Date.now() - killedAt} ms after the harness was SIGKILLed`);
  } finally {
    killIfRunning(report.pid);
  }
});

test.serial('SIGTERM to the harness: its signal handler stops QEMU and the harness exits 2', async (t) => {
  const { child, report } = await startHarness();
  try {
    child.kill('SIGTERM');
    const result = await child;
    t.is(result.exitCode, 2);
    t.true(await waitUntilGone(report.pid, 5_000));
    // The orderly path first: QEMU saw a QMP quit.
    const log = await readFile(join(report.runDir, 'qemu.log'), 'utf8').catch(() => '');
    t.notRegex(log, /terminating on signal/, 'QEMU was quit over QMP, not signalled');
  } finally {
    killIfRunning(report.pid);
  }
});

test.serial('an uncaught exception in the harness: the exit handler kills QEMU (no pdeathsig needed)', async (t) => {
  const { child, report } = await startHarness(['--no-pdeathsig', '--throw']);
  try {
    const result = await child;
    t.is(result.exitCode, 1);
    t.regex(String(result.stderr), /simulated harness bug/);
    t.true(await waitUntilGone(report.pid, 5_000));
  } finally {
    killIfRunning(report.pid);
  }
});

test.serial('the reaper kills QEMUs left by dead harnesses, and only those', async (t) => {
  // Without PR_SET_PDEATHSIG the QEMU survives its SIGKILLed harness...
  const { child, report } = await startHarness(['--no-pdeathsig']);
  try {
    t.false(report.pdeath);
    child.kill('SIGKILL');
    await child;
    await new Promise((r) => setTimeout(r, 300));
    t.true(isRunning(report.pid), 'orphaned QEMU still runs');
    t.true(processCmdline(report.pid)?.some((a) => a.includes(report.runDir)) ?? false);

    // ...and the next start-up's reaper finds and kills it.
    const reaped = await reapStaleRuns(join(root, 'runs'));
    t.deepEqual(
      reaped.map((r) => [r.dir, r.qemuPid, r.gone]),
      [[report.runDir, report.pid, true]],
    );
    t.false(isRunning(report.pid));
    const again = await reapStaleRuns(join(root, 'runs'));
    t.deepEqual(again, [], 'nothing left to reap');
  } finally {
    killIfRunning(report.pid);
  }
});
