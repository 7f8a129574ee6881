/**
 * `dutlab run` end to end in real QEMU: a representative subset of the os and
 * hup suites, reports validated against the strict JUnit schema; and a run
 * interrupted with SIGINT that still leaves complete reports and no QEMU.
 */
import test from 'ava';
import { execa } from 'execa';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { haveXsd, junitXsd, xmllint } from '../report/testing/fixtures.ts';

const dutlab = path.resolve('bin/dutlab.js');

/**
 * The CI subset: identity and engine checks without reboots, one reboot-backed
 * persistence check, and the update path to the next version (one HUP, one
 * reboot, the commit). The full suites run with `dutlab run` (the main job).
 */
export const CI_SUBSET = '^os/(os-release|the OS files|partitions|uptime|the engine runs|a container from|a named volume)|^hup/HUP to the next';

async function latestRun(reports: string): Promise<string> {
  const runs = (await readdir(reports)).filter((d) => d !== 'latest').sort();
  return path.join(reports, runs.at(-1) ?? '');
}

test.serial('dutlab run executes the suites and writes TAP, schema-valid JUnit, summary and serial log', async (t) => {
  const reports = await mkdtemp(path.join(tmpdir(), 'dutlab-reports-'));
  const result = await execa('node', [dutlab, 'run', '--suite', 'os,hup', '--grep', CI_SUBSET, '--reports', reports], { reject: false, timeout: 40 * 60_000 });
  const dir = await latestRun(reports);
  t.log(result.stdout.split('\n').filter((l) => /^\s*(not )?ok /.test(l)).join('\n'));
  t.is(result.exitCode, 0, `${result.stdout.slice(-3000)}\n${result.stderr.slice(-3000)}`);
  t.regex(result.stdout, /^TAP version 13$/m);
  t.regex(result.stdout, /# Subtest: os/);
  t.regex(result.stdout, /# Subtest: hup/);

  const summary = JSON.parse(await readFile(path.join(dir, 'summary.json'), 'utf8'));
  t.is(summary.counts.failed, 0);
  t.is(summary.counts.errors, 0);
  t.true(summary.counts.passed >= 8);
  t.is(summary.accel, 'tcg');
  t.true(summary.timeline.some((e: { state: string }) => e.state === 'ready'));
  for (const file of ['results.tap', 'junit.xml', 'summary.json', 'serial.log']) t.true(existsSync(path.join(dir, file)), file);
  t.regex(await readFile(path.join(dir, 'serial.log'), 'utf8'), /balenaOS \d/);
  if (haveXsd) {
    const validation = xmllint(path.join(dir, 'junit.xml'), junitXsd);
    t.true(validation.ok, validation.output);
  } else {
    t.log(`${junitXsd} is absent (as on a user's clone): schema validation skipped`);
  }
});

test.serial('a run interrupted with SIGINT writes complete reports, marks the rest as errors, exits 2 and leaves no QEMU', async (t) => {
  const reports = await mkdtemp(path.join(tmpdir(), 'dutlab-reports-'));
  const child = execa('node', [dutlab, 'run', '--suite', 'os', '--reports', reports], { reject: false, buffer: { stdout: true, stderr: true } });
  await new Promise<void>((resolve, reject) => {
    let text = '';
    child.stdout?.on('data', (chunk: Buffer) => {
      text += chunk.toString();
      if (/^ {4}ok 1 /m.test(text)) resolve();
    });
    void child.then(() => reject(new Error('dutlab run ended before its first test')));
  });
  child.kill('SIGINT');
  const result = await child;
  t.is(result.exitCode, 2, result.stderr.slice(-2000));
  const dir = await latestRun(reports);
  const summary = JSON.parse(await readFile(path.join(dir, 'summary.json'), 'utf8'));
  t.true(summary.interrupted);
  t.true(summary.counts.passed >= 1);
  t.true(summary.counts.errors >= 1, 'unfinished tests are errors');
  t.regex(JSON.stringify(summary), /interrupted by SIGINT/);
  if (haveXsd) {
    const validation = xmllint(path.join(dir, 'junit.xml'), junitXsd);
    t.true(validation.ok, validation.output);
  }
  // The run's disk lives under its report folder, so its QEMU names that folder.
  const left = await execa('pgrep', ['-af', `qemu-system.*${dir}`], { reject: false });
  t.is(left.stdout.trim(), '', 'no QEMU of the interrupted run is left');
});
