/**
 * The SSH transport against a real OpenSSH server on loopback (a private
 * sshd per test, see testing/sshd.ts): exec, big outputs, timeouts, SFTP and
 * exec-stream transfers, dialling until a deadline, dropped and hung
 * connections, reconnecting to a server with a new host key.
 */
import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import test, { type ExecutionContext } from 'ava';
import { DutError } from '../errors.ts';
import { freePort } from '../qemu/ports.ts';
import { generateRunKey } from './ssh-keys.ts';
import { SshTransport, type SshConnectOptions } from './ssh.ts';
import { descendants, SSHD, TestSshd } from './testing/sshd.ts';
import { TransferError } from './types.ts';

const KEY = generateRunKey();
const haveSshd = (() => {
  try {
    statSync(SSHD);
    return true;
  } catch {
    return false;
  }
})();
// Without openssh-server (scripts/install-deps.sh installs it) these tests cannot run.
const sshTest = haveSshd ? test.serial : test.serial.skip;

async function server(t: ExecutionContext, options: { sftp?: boolean } = {}): Promise<TestSshd> {
  const sshd = await TestSshd.create({ publicKey: KEY.publicKey, ...options });
  t.teardown(() => sshd.dispose());
  await sshd.start();
  return sshd;
}

async function connect(t: ExecutionContext, port: number, extra: Partial<SshConnectOptions> = {}): Promise<SshTransport> {
  const notes: string[] = [];
  const transport = await SshTransport.connect({
    host: '127.0.0.1',
    port,
    privateKey: KEY.privateKey,
    dut: 'ssh-1',
    deadlineMs: 10_000,
    note: (text) => notes.push(text),
    ...extra,
  });
  t.teardown(async () => {
    await transport.close();
    if (!t.passed) t.log(notes.join('\n'));
  });
  return transport;
}

function scratch(t: ExecutionContext): string {
  const dir = mkdtempSync(join(tmpdir(), 'dutlab-ssh-test-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

const sha256 = (path: string): string => createHash('sha256').update(readFileSync(path)).digest('hex');

sshTest('generateRunKey makes an ed25519 authorized_keys line whose fingerprint ssh-keygen agrees with', (t) => {
  const key = generateRunKey('dutlab-test');
  t.regex(key.publicKey, /^ssh-ed25519 AAAA[0-9A-Za-z+/=]+ dutlab-test$/);
  t.regex(key.privateKey, /^-----BEGIN OPENSSH PRIVATE KEY-----/);
  const dir = scratch(t);
  writeFileSync(join(dir, 'key.pub'), `${key.publicKey}\n`);
  t.is(execFileSync('ssh-keygen', ['-l', '-f', join(dir, 'key.pub')], { encoding: 'utf8' }).split(' ')[1], key.fingerprint);
});

sshTest('exec: stdout and stderr apart, exit codes 0, 1 and 42, a signal as 128+n', async (t) => {
  const sshd = await server(t);
  const ssh = await connect(t, sshd.port);
  t.is(ssh.kind, 'ssh');
  t.like(await ssh.exec('echo out; echo err >&2'), { stdout: 'out\n', stderr: 'err\n', exitCode: 0 });
  t.like(await ssh.exec('false'), { stdout: '', stderr: '', exitCode: 1 });
  t.like(await ssh.exec('printf partial; exit 42'), { stdout: 'partial', exitCode: 42 });
  t.like(await ssh.exec('no-such-command-dutlab'), { exitCode: 127 });
  t.like(await ssh.exec("sh -c 'kill -9 $$'"), { exitCode: 137 });
  t.like(await ssh.exec('kill -TERM $$'), { exitCode: 143, signal: 'SIGTERM' });
  const timed = await ssh.exec('sleep 0.2');
  t.true(timed.durationMs >= 200 && timed.durationMs < 5000, String(timed.durationMs));
  // The recorded host key is the one the server has.
  t.is(ssh.hostKey?.fingerprint, sshd.hostFingerprint());
  t.is(ssh.hostKey?.type, 'ssh-ed25519');
});

sshTest('exec: the transcript gets each command when it starts and its end (a timeout too), numbered, concurrent ones told apart', async (t) => {
  const sshd = await server(t);
  const notes: string[] = [];
  const ssh = await connect(t, sshd.port, { note: (text) => notes.push(text) });
  await Promise.all([ssh.exec('sleep 0.3; exit 3'), ssh.exec('true')]);
  await ssh.exec('kill -TERM $$');
  const lines = notes.filter((note) => /^ssh #\d/.test(note));
  t.deepEqual(lines.slice(0, 2).sort(), ['ssh #1: sleep 0.3; exit 3', 'ssh #2: true']);
  t.regex(lines[2] ?? '', /^ssh #2 exited 0 after \d+ ms$/);
  t.regex(lines[3] ?? '', /^ssh #1 exited 3 after \d+ ms$/);
  t.deepEqual(lines.slice(4, 5), ['ssh #3: kill -TERM $$']);
  t.regex(lines[5] ?? '', /^ssh #3 killed by SIGTERM after \d+ ms$/);
  await t.throwsAsync(ssh.exec('sleep 30', { timeoutMs: 300 }), { instanceOf: DutError });
  t.deepEqual(notes.filter((note) => note.startsWith('ssh #4')).map((note) => note.replace(/after \d+ ms/, 'after N ms').replace(/: .*/s, ':')), ['ssh #4:', 'ssh #4 ended without an exit code after N ms:']);
});

sshTest('exec: 1 MB of stdout and 1 MB of stderr at once', async (t) => {
  const sshd = await server(t);
  const ssh = await connect(t, sshd.port);
  const result = await ssh.exec("head -c 1048576 /dev/zero | tr '\\0' o; head -c 1048576 /dev/zero | tr '\\0' e >&2", { timeoutMs: 30_000 });
  t.is(result.exitCode, 0);
  t.is(result.stdout.length, 1 << 20);
  t.is(result.stderr.length, 1 << 20);
  t.true(/^o+$/.test(result.stdout) && /^e+$/.test(result.stderr));
});

sshTest('exec: a timeout is a typed error, kills the command, and the connection carries on', async (t) => {
  const sshd = await server(t);
  const ssh = await connect(t, sshd.port);
  const started = Date.now();
  const error = await t.throwsAsync(ssh.exec('echo started; sleep 31.7; echo never', { timeoutMs: 500, step: 'slow' }), { instanceOf: DutError });
  t.is(error.kind, 'timeout');
  t.is(error.dut, 'ssh-1');
  t.is(error.step, 'slow');
  t.regex(error.excerpt ?? '', /started/);
  // The shell and its sleep, both of the command's process group.
  t.regex(error.message, /channel was closed and its process group killed/);
  t.true(Date.now() - started < 5000);
  t.true(ssh.connected);
  t.like(await ssh.exec('echo alive'), { stdout: 'alive\n' });
  t.like(await ssh.exec("pgrep -fx 'sleep 31.7'"), { stdout: '', exitCode: 1 });
  // A daemon that left the session on purpose is not touched.
  await ssh.exec('setsid sleep 31.8 >/dev/null 2>&1 < /dev/null & sleep 31.9', { timeoutMs: 500 }).catch(() => undefined);
  t.like(await ssh.exec("pgrep -fx 'sleep 31.9'"), { exitCode: 1 });
  t.like(await ssh.exec("pkill -fx 'sleep 31.8'"), { exitCode: 0 });
});

sshTest('put/get over SFTP: a 5 MB random file arrives with the same sha256 and the mode asked for', async (t) => {
  const sshd = await server(t);
  const ssh = await connect(t, sshd.port);
  const dir = scratch(t);
  const local = join(dir, 'random.bin');
  writeFileSync(local, randomBytes(5 << 20));
  const remote = join(dir, 'remote dir');
  await ssh.exec(`mkdir '${remote}'`);
  await ssh.put(local, `${remote}/random.bin`, { mode: 0o751 });
  t.like(await ssh.exec(`stat -c %a '${remote}/random.bin'; sha256sum < '${remote}/random.bin'`), {
    stdout: `751\n${sha256(local)}  -\n`,
  });
  // No temporary file is left beside it.
  t.like(await ssh.exec(`ls -A '${remote}'`), { stdout: 'random.bin\n' });
  const back = join(dir, 'back.bin');
  await ssh.get(`${remote}/random.bin`, back);
  t.is(sha256(back), sha256(local));
  t.deepEqual(
    ssh.transfers.map((stats) => [stats.direction, stats.bytes, stats.method]),
    [
      ['put', 5 << 20, 'sftp'],
      ['get', 5 << 20, 'sftp'],
    ],
  );
  t.log(ssh.transfers.map((stats) => `${stats.direction}: ${(stats.bytesPerSecond / (1 << 20)).toFixed(1)} MiB/s`).join(', '));
  // A put replaces an existing file; the mode follows the option.
  await ssh.put(local, `${remote}/random.bin`, { mode: 0o600 });
  t.like(await ssh.exec(`stat -c %a '${remote}/random.bin'`), { stdout: '600\n' });
});

sshTest('put/get failures are typed: a missing remote file, a missing directory, a missing local file', async (t) => {
  const sshd = await server(t);
  const ssh = await connect(t, sshd.port);
  const dir = scratch(t);
  writeFileSync(join(dir, 'small'), 'x');
  const missing = await t.throwsAsync(ssh.get(join(dir, 'nope'), join(dir, 'nope.local')), { instanceOf: TransferError });
  t.is(missing.failure, 'remote');
  t.is(missing.dut, 'ssh-1');
  t.throws(() => statSync(join(dir, 'nope.local')));
  t.like(await t.throwsAsync(ssh.put(join(dir, 'small'), join(dir, 'no-dir', 'small')), { instanceOf: TransferError }), { failure: 'remote' });
  t.like(await t.throwsAsync(ssh.put(join(dir, 'absent'), join(dir, 'x')), { instanceOf: TransferError }), { failure: 'local' });
  t.like(await ssh.exec('echo still fine'), { stdout: 'still fine\n' });
});

sshTest('without an SFTP subsystem, files go over exec streams, still whole and with their mode', async (t) => {
  const sshd = await server(t, { sftp: false });
  const ssh = await connect(t, sshd.port);
  const dir = scratch(t);
  const local = join(dir, 'random.bin');
  writeFileSync(local, randomBytes(1 << 20));
  await ssh.put(local, join(dir, 'remote.bin'), { mode: 0o640 });
  t.is(sha256(join(dir, 'remote.bin')), sha256(local));
  t.is(statSync(join(dir, 'remote.bin')).mode & 0o777, 0o640);
  await ssh.get(join(dir, 'remote.bin'), join(dir, 'back.bin'));
  t.is(sha256(join(dir, 'back.bin')), sha256(local));
  t.deepEqual(
    ssh.transfers.map((stats) => stats.method),
    ['exec-stream', 'exec-stream'],
  );
  t.like(await t.throwsAsync(ssh.get(join(dir, 'nope'), join(dir, 'nope.local')), { instanceOf: TransferError }), { failure: 'remote' });
});

sshTest('connect keeps dialling until sshd appears (2 s late)', async (t) => {
  const sshd = await TestSshd.create({ publicKey: KEY.publicKey });
  t.teardown(() => sshd.dispose());
  const started = Date.now();
  setTimeout(() => void sshd.start(), 2000);
  const ssh = await connect(t, sshd.port, { deadlineMs: 20_000 });
  const waited = Date.now() - started;
  t.true(waited >= 2000 && waited < 6000, `${waited} ms`);
  t.like(await ssh.exec('echo up'), { stdout: 'up\n' });
});

sshTest('connect gives up at the deadline with a typed error naming the last failure', async (t) => {
  const port = await freePort();
  const started = Date.now();
  const error = await t.throwsAsync(
    SshTransport.connect({ host: '127.0.0.1', port, privateKey: KEY.privateKey, dut: 'ssh-1', deadlineMs: 1500 }),
    { instanceOf: DutError },
  );
  const waited = Date.now() - started;
  t.is(error.kind, 'timeout');
  t.is(error.dut, 'ssh-1');
  t.is(error.step, 'ssh connect');
  t.regex(error.message, new RegExp(`127\\.0\\.0\\.1:${port} within 1500 ms \\(\\d+ attempts\\); last error: .*ECONNREFUSED`));
  t.true(waited >= 1500 && waited < 3000, `${waited} ms`);
});

sshTest('a key that cannot be parsed is a config error, at once', async (t) => {
  const error = await t.throwsAsync(SshTransport.connect({ host: '127.0.0.1', port: 1, privateKey: 'not a key', dut: 'ssh-1' }), { instanceOf: DutError });
  t.is(error.kind, 'config');
});

sshTest('sshd killed mid-command: console-lost, not re-run; reconnect() reaches the restarted sshd and its new host key', async (t) => {
  const sshd = await server(t);
  const ssh = await connect(t, sshd.port);
  const dir = scratch(t);
  const firstKey = ssh.hostKey?.fingerprint;
  const running = ssh.exec(`echo ran >> '${dir}/runs'; sleep 20`, { timeoutMs: 30_000, step: 'long' });
  await sleep(500);
  await sshd.stop();
  const error = await t.throwsAsync(running, { instanceOf: DutError });
  t.is(error.kind, 'console-lost');
  t.is(error.step, 'long');
  t.regex(error.message, /not re-run/);
  t.false(ssh.connected);

  // The "DUT" comes back after an update: new host key, same port.
  sshd.newHostKey();
  setTimeout(() => void sshd.start(), 1000);
  await ssh.reconnect({ deadlineMs: 10_000 });
  t.true(ssh.connected);
  t.like(await ssh.exec('echo back'), { stdout: 'back\n' });
  t.is(readFileSync(join(dir, 'runs'), 'utf8'), 'ran\n');
  t.deepEqual(
    ssh.hostKeys.map((key) => key.fingerprint),
    [firstKey, sshd.hostFingerprint()],
  );
  t.not(firstKey, sshd.hostFingerprint());
});

sshTest('an operation on a connection lost between calls reconnects first; an idempotent exec is re-run once', async (t) => {
  const sshd = await server(t);
  const ssh = await connect(t, sshd.port);
  const dir = scratch(t);
  writeFileSync(join(dir, 'file'), 'payload');
  await sshd.stop();
  await sleep(200);
  t.false(ssh.connected);
  setTimeout(() => void sshd.start(), 500);
  await ssh.put(join(dir, 'file'), join(dir, 'copy'));
  t.is(readFileSync(join(dir, 'copy'), 'utf8'), 'payload');

  const idempotent = ssh.exec(`echo ran >> '${dir}/runs'; sleep 1; echo done`, { idempotent: true, timeoutMs: 10_000 });
  await sleep(300);
  await sshd.stop();
  setTimeout(() => void sshd.start(), 500);
  t.like(await idempotent, { stdout: 'done\n', exitCode: 0 });
  t.is(readFileSync(join(dir, 'runs'), 'utf8'), 'ran\nran\n');
});

sshTest('a hung DUT (sshd stopped with SIGSTOP) is noticed by keep-alives', async (t) => {
  const sshd = await server(t);
  const ssh = await connect(t, sshd.port, { keepaliveIntervalMs: 200, keepaliveCountMax: 2 });
  const running = ssh.exec('sleep 20', { timeoutMs: 30_000 });
  await sleep(300);
  const tree = [sshd.pid ?? 0, ...descendants(sshd.pid ?? 0)];
  for (const pid of tree) process.kill(pid, 'SIGSTOP');
  t.teardown(() => {
    for (const pid of tree) {
      try {
        process.kill(pid, 'SIGCONT');
      } catch {
        // gone
      }
    }
  });
  const started = Date.now();
  const error = await t.throwsAsync(running, { instanceOf: DutError });
  t.is(error.kind, 'console-lost');
  t.regex(error.message, /keep-alives/);
  t.true(Date.now() - started < 3000, `${Date.now() - started} ms`);
});

sshTest('no test sshd is left running', (t) => {
  const stray = execFileSync('sh', ['-c', "pgrep -af 'dutlab-sshd-' | grep -v pgrep || true"], { encoding: 'utf8' });
  t.is(stray.trim(), '');
});
