/**
 * Board leases between real processes: children that hold leases as a run
 * does (testing/lease-holder.ts), killed, signalled and raced for one board.
 */
import test, { type ExecutionContext } from 'ava';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { readdir, readFile, stat, utimes, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { DutError } from '../errors.ts';
import { pendingCleanups } from '../proc/cleanup.ts';
import { acquireLease, LeaseError, type LeaseHolder } from './lease.ts';
import { tempDir } from '../testing/temp-dir.ts';

const HOLDER = path.resolve(import.meta.dirname, 'testing/lease-holder.ts');
/** Pids are below pid_max: a lease naming it names a process that cannot exist. */
const NO_SUCH_PID = Number(readFileSync('/proc/sys/kernel/pid_max', 'utf8'));

interface Answer {
  ok?: boolean;
  holder?: LeaseHolder;
  tookOver?: string;
  name?: string;
  message?: string;
}

/** A lease-holder child and its line protocol. */
class Holder {
  private readonly lines: AsyncIterator<string>;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  private constructor(readonly child: ChildProcess) {
    this.lines = createInterface({ input: child.stdout! })[Symbol.asyncIterator]();
    this.exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  }

  static async start(t: { teardown(fn: () => void): void }, dir: string): Promise<Holder> {
    const child = spawn(process.execPath, ['--import', 'tsx', HOLDER, dir], { stdio: ['pipe', 'pipe', 'inherit'] });
    t.teardown(() => child.kill('SIGKILL'));
    const holder = new Holder(child);
    await holder.next();
    return holder;
  }

  get pid(): number {
    return this.child.pid as number;
  }

  send(request: Record<string, unknown>): void {
    this.child.stdin!.write(`${JSON.stringify(request)}\n`);
  }

  async next(): Promise<Answer> {
    const line = await this.lines.next();
    if (line.done) throw new Error(`lease holder ${this.pid} ended without answering`);
    return JSON.parse(line.value) as Answer;
  }

  async request(request: Record<string, unknown>): Promise<Answer> {
    this.send(request);
    return this.next();
  }
}

/** Field 22 of /proc/<pid>/stat, read here independently of the code under test. */
function startTicks(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19]);
}

async function plant(dir: string, board: string, holder: Partial<LeaseHolder>, ageMs = 0): Promise<string> {
  const file = path.join(dir, `${board}.lease`);
  const full: LeaseHolder = { board, pid: NO_SUCH_PID, host: hostname(), startedAt: '2026-12-01T10:00:00.000Z', runId: 'planted', pidStart: null, ...holder };
  await writeFile(file, `${JSON.stringify(full)}\n`);
  if (ageMs) {
    const at = new Date(Date.now() - ageMs);
    await utimes(file, at, at);
  }
  return file;
}

/**
 * Both racers ask for the board in the same instant (they are loaded and
 * waiting on stdin); exactly one may win, and the other's refusal names it.
 */
async function race(t: ExecutionContext, racers: Holder[], round: number): Promise<{ winner: Holder; answer: Answer }> {
  for (const racer of racers) racer.send({ op: 'acquire', board: 'contested', runId: `round-${round}` });
  const answers = await Promise.all(racers.map((r) => r.next()));
  const won = answers.flatMap((answer, i) => (answer.ok ? [{ winner: racers[i] as Holder, answer }] : []));
  const [first] = won;
  if (!first || won.length > 1) throw new Error(`round ${round}: ${won.length} winners: ${JSON.stringify(answers)}`);
  const loser = answers.find((answer) => !answer.ok);
  t.is(loser?.name, 'LeaseError');
  t.true(loser?.message?.includes(`by pid ${first.winner.pid} `), loser?.message);
  return first;
}

test.serial('a lease is a file naming its holder; release removes it, and the board can be taken again', async (t) => {
  const dir = await tempDir(t, 'lease');
  const lease = await acquireLease('rpi4-lab1', { runId: 'run-1', dir });
  const written = JSON.parse(await readFile(path.join(dir, 'rpi4-lab1.lease'), 'utf8')) as LeaseHolder;
  t.deepEqual(written, lease.holder);
  t.like(written, { board: 'rpi4-lab1', pid: process.pid, host: hostname(), runId: 'run-1', pidStart: startTicks(process.pid) });
  t.true(Math.abs(Date.parse(written.startedAt) - Date.now()) < 5_000);
  t.true(pendingCleanups().includes('lease rpi4-lab1'));

  await lease.release();
  t.false(existsSync(lease.file));
  t.false(pendingCleanups().includes('lease rpi4-lab1'));
  await lease.release(); // twice is harmless
  t.deepEqual(await readdir(dir), [], 'no temporary files are left behind');

  const again = await acquireLease('rpi4-lab1', { runId: 'run-2', dir });
  await again.release();
});

test.serial('a board leased by a live process is refused, naming the holder', async (t) => {
  const dir = await tempDir(t, 'lease');
  const child = await Holder.start(t, dir);
  const taken = await child.request({ op: 'acquire', board: 'b1', runId: 'run-child' });
  t.true(taken.ok);

  const error = await t.throwsAsync(acquireLease('b1', { runId: 'run-me', dir }), { instanceOf: LeaseError });
  t.is(error?.kind, 'config');
  t.is(error?.message, `board b1 is leased by pid ${child.pid} on host ${hostname()} since ${taken.holder?.startedAt} (run run-child)`);
  t.is(error?.holder.pid, child.pid);
});

test.serial('two processes racing for a free board: exactly one wins, every time', async (t) => {
  const dir = await tempDir(t, 'lease');
  const racers = await Promise.all([Holder.start(t, dir), Holder.start(t, dir)]);
  for (let round = 0; round < 15; round++) {
    const { winner, answer } = await race(t, racers, round);
    t.is(answer.tookOver, undefined);
    await winner.request({ op: 'release', board: 'contested' });
  }
  t.deepEqual(await readdir(dir), []);
});

test.serial('two processes finding the same stale lease at once: exactly one takes it over, every time', async (t) => {
  const dir = await tempDir(t, 'lease');
  const racers = await Promise.all([Holder.start(t, dir), Holder.start(t, dir)]);
  for (let round = 0; round < 15; round++) {
    await plant(dir, 'contested', { runId: `dead-${round}` });
    const { winner, answer } = await race(t, racers, round);
    t.is(answer.tookOver, `pid ${NO_SUCH_PID} is not running`);
    const onDisk = JSON.parse(await readFile(path.join(dir, 'contested.lease'), 'utf8')) as LeaseHolder;
    t.is(onDisk.pid, winner.pid, 'the file names the winner');
    await winner.request({ op: 'release', board: 'contested' });
    t.deepEqual(await readdir(dir), [], 'no mutex, aside or temporary file is left');
  }
});

test.serial('a lease left by a SIGKILLed run is taken over, with a note naming it', async (t) => {
  const dir = await tempDir(t, 'lease');
  const child = await Holder.start(t, dir);
  t.true((await child.request({ op: 'acquire', board: 'b1', runId: 'run-killed' })).ok);
  child.child.kill('SIGKILL');
  t.is((await child.exited).signal, 'SIGKILL');
  t.true(existsSync(path.join(dir, 'b1.lease')), 'nothing ran to remove it');

  const notes: [LeaseHolder | undefined, string][] = [];
  const lease = await acquireLease('b1', { runId: 'run-next', dir, onTakeover: (previous, why) => notes.push([previous, why]) });
  t.is(notes.length, 1);
  t.like(notes[0]?.[0], { pid: child.pid, runId: 'run-killed' });
  t.is(notes[0]?.[1], `pid ${child.pid} is not running`);
  t.is(lease.holder.pid, process.pid);
  await lease.release();
});

test.serial('a holder pid now used by another process is stale; the same process is not', async (t) => {
  const dir = await tempDir(t, 'lease');
  const other = spawn('sleep', ['60']);
  t.teardown(() => other.kill('SIGKILL'));
  const pid = other.pid as number;
  await plant(dir, 'b1', { pid, pidStart: startTicks(pid) });
  await t.throwsAsync(acquireLease('b1', { runId: 'r', dir }), { instanceOf: LeaseError, message: new RegExp(`by pid ${pid} on host`) });

  await plant(dir, 'b1', { pid, pidStart: startTicks(pid) - 1 });
  let why = '';
  const lease = await acquireLease('b1', { runId: 'r', dir, onTakeover: (_previous, reason) => (why = reason) });
  t.is(why, `pid ${pid} is another process now`);
  await lease.release();
});

test.serial('another host: a fresh lease is respected whatever its pid; one silent for 2 minutes is taken over', async (t) => {
  const dir = await tempDir(t, 'lease');
  await plant(dir, 'b1', { host: 'farm-host-2', runId: 'remote' });
  await t.throwsAsync(acquireLease('b1', { runId: 'r', dir }), {
    instanceOf: LeaseError,
    message: `board b1 is leased by pid ${NO_SUCH_PID} on host farm-host-2 since 2026-12-01T10:00:00.000Z (run remote)`,
  });

  await plant(dir, 'b1', { host: 'farm-host-2', runId: 'remote' }, 120_000);
  let why = '';
  const lease = await acquireLease('b1', { runId: 'r', dir, onTakeover: (_previous, reason) => (why = reason) });
  t.regex(why, /^no heartbeat for 12\d s$/);
  await lease.release();
});

test.serial('an unreadable lease file is taken over', async (t) => {
  const dir = await tempDir(t, 'lease');
  await writeFile(path.join(dir, 'b1.lease'), 'not json');
  let note: [LeaseHolder | undefined, string] | undefined;
  const lease = await acquireLease('b1', { runId: 'r', dir, onTakeover: (previous, why) => (note = [previous, why]) });
  t.deepEqual(note, [undefined, 'the lease file is unreadable']);
  await lease.release();
});

test.serial('a waiter gets the board once its live holder releases it', async (t) => {
  const dir = await tempDir(t, 'lease');
  const child = await Holder.start(t, dir);
  t.true((await child.request({ op: 'acquire', board: 'b1', runId: 'run-first' })).ok);

  const waited: LeaseHolder[] = [];
  let released: Promise<Answer> | undefined;
  const started = Date.now();
  const lease = await acquireLease('b1', {
    runId: 'run-second',
    dir,
    waitMs: 30_000,
    onWait: (holder) => {
      waited.push(holder);
      released = child.request({ op: 'release', board: 'b1' });
    },
  });
  t.deepEqual(await released, { released: true });
  t.is(waited.length, 1);
  t.like(waited[0], { pid: child.pid, runId: 'run-first' });
  t.is(lease.holder.runId, 'run-second');
  t.true(Date.now() - started < 10_000);
  await lease.release();
});

test.serial('a wait that runs out is refused naming the holder and the wait; an abort stops it at once', async (t) => {
  const dir = await tempDir(t, 'lease');
  const child = await Holder.start(t, dir);
  t.true((await child.request({ op: 'acquire', board: 'b1', runId: 'run-first' })).ok);

  const started = Date.now();
  await t.throwsAsync(acquireLease('b1', { runId: 'r', dir, waitMs: 2_000 }), {
    instanceOf: LeaseError,
    message: new RegExp(`^board b1 is leased by pid ${child.pid} .*\\(run run-first\\) \\(waited 2 s\\)$`),
  });
  t.true(Date.now() - started >= 2_000);

  const controller = new AbortController();
  const stop = new DutError('interrupted', 'run interrupted by SIGINT');
  setTimeout(() => controller.abort(stop), 300);
  const aborted = Date.now();
  const error = await t.throwsAsync(acquireLease('b1', { runId: 'r', dir, waitMs: 60_000, signal: controller.signal }));
  t.is(error, stop);
  t.true(Date.now() - aborted < 2_000);
});

test.serial('SIGTERM to the holder: the exit hook removes its lease', async (t) => {
  const dir = await tempDir(t, 'lease');
  const child = await Holder.start(t, dir);
  t.true((await child.request({ op: 'acquire', board: 'b1' })).ok);
  t.true(existsSync(path.join(dir, 'b1.lease')));
  child.child.kill('SIGTERM');
  t.deepEqual(await child.exited, { code: 2, signal: null });
  t.deepEqual(await readdir(dir), []);
});

test.serial('the holder touches its lease every 10 s', async (t) => {
  const dir = await tempDir(t, 'lease');
  const lease = await acquireLease('b1', { runId: 'r', dir });
  const past = new Date(Date.now() - 120_000);
  await utimes(lease.file, past, past);
  await new Promise((resolve) => setTimeout(resolve, 10_500));
  t.true(Date.now() - (await stat(lease.file)).mtimeMs < 2_000);
  await lease.release();
});

test('a board name that would leave the lease directory is refused', async (t) => {
  const dir = await tempDir(t, 'lease');
  await t.throwsAsync(acquireLease('../escape', { runId: 'r', dir }), { message: /"\.\.\/escape" cannot name a state file/ });
  t.deepEqual(await readdir(dir), []);
});
