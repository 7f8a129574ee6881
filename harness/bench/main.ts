/**
 * `npm run bench`: dutlab side by side with the limits and with its peers,
 * on this machine, with the reference image under real QEMU. Each comparison
 * is measured in one run, turns interleaved, and reported as medians and
 * ratios against the goals, in bench/RESULTS.md and results.json.
 * Asserts nothing: tests assert behaviour, benchmarks print figures.
 *
 *   boot    raw QEMU to its login prompt, dutlab cold boot to ready, dutlab restore to ready
 *   serial  `true` through dutlab's console engine, plain pexpect, labgrid's ShellDriver
 *   ssh     `true` through dutlab's SSH transport, OpenSSH with a control master
 *   flash   the image onto an 8 GiB card file, raw, with its block map, from .xz
 *   suites  whole `dutlab run`s of the same suites: cold and sequential with a
 *           reboot per test (the reference) and with shared reboots, golden
 *           isolated per suite or per test, two DUTs in parallel (hours for
 *           os,hup: only when asked for, with --only suites); each run's
 *           report stays in reports/bench/
 *
 * Options: --only boot,serial,ssh,flash,suites  --reps N (boots per kind, default 3)
 *          --turns N (interleaved turns, default 3)  --rounds N (commands per turn, default 100)
 *          --suites os,hup  --suites-grep RE (the tests every suite mode runs)
 *          --suites-modes reference,shared,suite,test,parallel2 (default all; the reference always runs)
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { loadBoard, type QemuBoard } from '../boards/index.ts';
import { createDut } from '../dut/create.ts';
import { GoldenCache } from '../dut/golden-cache.ts';
import { hostKey, kvmProbe } from '../qemu/kvm-probe.ts';
import { resolveAccel } from '../qemu/index.ts';
import { buildImages } from '../../images/build.ts';
import { dutlabBootToReady, rawQemuToLoginPrompt, type DutlabBoot } from './boot.ts';
import { flashRows } from './flash.ts';
import { describeMachine, newSection, ratio, renderTable, saveResults, type BenchResults, type Section } from './results.ts';
import { serialRoundTrips } from './serial.ts';
import { sshRoundTrips } from './ssh.ts';
import { suiteModes, suiteRuns } from './suites.ts';
import { figure } from './stats.ts';

const SECTIONS = ['boot', 'serial', 'ssh', 'flash', 'suites'] as const;
const { values } = parseArgs({
  options: {
    only: { type: 'string', default: 'boot,serial,ssh,flash' },
    suites: { type: 'string', default: 'os,hup' },
    'suites-grep': { type: 'string' },
    'suites-modes': { type: 'string' },
    reps: { type: 'string', default: '3' },
    turns: { type: 'string', default: '3' },
    rounds: { type: 'string', default: '100' },
  },
});
const only = new Set(values.only.split(','));
for (const name of only) if (!(SECTIONS as readonly string[]).includes(name)) throw new Error(`--only: no section "${name}" (${SECTIONS.join(', ')})`);
// Checked before any slow work, like --only.
const modes = suiteModes(values['suites-modes']);
const [reps, turns, rounds] = [values.reps, values.turns, values.rounds].map((value) => Number.parseInt(value, 10)) as [number, number, number];

const board = await loadBoard('qemu-x86_64');
if (board.kind !== 'qemu') throw new Error('the bench board qemu-x86_64 is not a QEMU board');
const qemuBoard: QemuBoard = board;
const image = (await buildImages()).versions[0]?.image.path;
if (!image) throw new Error('the image build made no image');

const results: BenchResults = { machine: describeMachine((await hostKey()).qemu, (await resolveAccel(board.qemu.accel)).accel), sections: {} };
/** The section being measured, begun now. */
const section = (name: string): Section => (results.sections[name] ??= newSection());
const say = (text: string): void => void process.stderr.write(`bench: ${text}\n`);
// A cache of its own: the restores measured are of a state this run saved, and nothing of the user's is pruned.
const goldenDir = await mkdtemp(path.join(tmpdir(), 'dutlab-bench-golden-'));
const golden = new GoldenCache(goldenDir);

try {
  const probe = await kvmProbe({});
  section('host').notes.push(['KVM probe', `${probe.usable ? 'kvm usable' : 'kvm not usable → tcg'} in ${Math.round(probe.durationMs ?? 0)} ms (${probe.reason})`]);

  if (only.has('boot')) {
    const raw: number[] = [];
    const cold: DutlabBoot[] = [];
    for (let rep = 0; rep < reps; rep++) {
      say(`boot ${rep + 1}/${reps}: raw QEMU`);
      raw.push(await rawQemuToLoginPrompt(qemuBoard, image));
      say(`boot ${rep + 1}/${reps}: dutlab cold`);
      cold.push(await dutlabBootToReady(qemuBoard, image));
    }
    section('boot').figures['boot: raw QEMU start → login prompt'] = figure(raw);
    section('boot').figures['boot: dutlab cold, QEMU start → ready'] = figure(cold.map((boot) => boot.fromQemuStart));
    section('boot').figures['boot: dutlab cold, boot() → ready (medium written and provisioned first)'] = figure(cold.map((boot) => boot.total));
  }
  if (only.has('boot') || only.has('serial') || only.has('ssh')) {
    say('saving the golden state (a cold boot, settled)');
    const primed = await dutlabBootToReady(qemuBoard, image, golden);
    // Only into a section being measured: a section touched is replaced whole in the results.
    if (only.has('boot')) section('boot').notes.push(['first boot with the golden save (boot() → ready, includes waiting for the boot to finish)', `${(primed.total / 1000).toFixed(1)} s`]);
  }
  if (only.has('boot')) {
    const restored: number[] = [];
    for (let rep = 0; rep < reps; rep++) {
      say(`boot ${rep + 1}/${reps}: dutlab restore`);
      const boot = await dutlabBootToReady(qemuBoard, image, golden);
      if (boot.path !== 'restored') throw new Error('the restore benchmark booted cold: the golden state did not resume');
      restored.push(boot.total);
    }
    section('boot').figures['boot: dutlab restore, boot() → ready'] = figure(restored);
    section('boot').ratios.push(
      ...ratio('restore to ready / cold boot to ready (both boot() → ready)', section('boot').figures['boot: dutlab restore, boot() → ready'], section('boot').figures['boot: dutlab cold, boot() → ready (medium written and provisioned first)'], 0.1),
      ...ratio('dutlab cold, QEMU start → ready / raw QEMU start → login prompt', section('boot').figures['boot: dutlab cold, QEMU start → ready'], section('boot').figures['boot: raw QEMU start → login prompt'], 1.05),
    );
  }
  const entry = (await golden.list())[0];
  if (only.has('serial') && entry) {
    say(`serial: ${turns} turns of ${rounds} × true each for dutlab, pexpect, labgrid`);
    const serial = await serialRoundTrips(qemuBoard, entry, turns, rounds);
    section('serial').figures['serial true: dutlab console engine'] = figure(serial.dutlab);
    section('serial').figures['serial true: pexpect (the limit)'] = figure(serial.pexpect);
    section('serial').figures['serial true: labgrid ShellDriver'] = figure(serial.labgrid);
    section('serial').ratios.push(
      ...ratio('serial: dutlab / pexpect', section('serial').figures['serial true: dutlab console engine'], section('serial').figures['serial true: pexpect (the limit)'], 2),
      ...ratio('serial: dutlab / labgrid', section('serial').figures['serial true: dutlab console engine'], section('serial').figures['serial true: labgrid ShellDriver'], 0.1),
    );
  }
  if (only.has('ssh') && entry?.runKey) {
    say(`ssh: ${turns} turns of ${rounds} × true each for dutlab, OpenSSH`);
    const dut = await createDut({ board: qemuBoard, image, golden });
    try {
      await dut.boot();
      const ssh = await sshRoundTrips(dut, entry.runKey, turns, rounds);
      section('ssh').figures['ssh true: dutlab dut.exec'] = figure(ssh.dutlab);
      section('ssh').figures['ssh true: OpenSSH client, control master'] = figure(ssh.openssh);
      section('ssh').figures['serial true: dutlab dut.exec (through the DUT lifecycle)'] = figure(ssh.dutSerial);
      section('ssh').ratios.push(...ratio('ssh: dutlab / OpenSSH with a control master', section('ssh').figures['ssh true: dutlab dut.exec'], section('ssh').figures['ssh true: OpenSSH client, control master'], 1.5));
    } finally {
      await dut.close();
    }
  }
  if (only.has('suites')) {
    const runs = await suiteRuns(values.suites, values['suites-grep'], modes, say);
    const scope = values['suites-grep'] ? `${values.suites} (subset)` : values.suites;
    // One section per scope: the whole suites' figures and a subset's stand side by side.
    const suites = section(`suites ${scope}`);
    if (values['suites-grep']) suites.notes.push(['the subset every mode ran', `\`--suite ${values.suites} --grep '${values['suites-grep']}'\``]);
    for (const run of runs) {
      suites.figures[run.mode] = figure([run.wallMs]);
      suites.notes.push([run.mode, `exit ${run.exitCode}: ${run.counts.passed} passed, ${run.counts.failed} failed, ${run.counts.errors} errors, ${run.counts.skipped} skipped of ${run.counts.total}; report ${path.relative(process.cwd(), run.report)}`]);
    }
    const [reference, ...others] = modes;
    for (const mode of others) suites.ratios.push(...ratio(`${mode.name} / ${reference?.name}`, suites.figures[mode.name], reference && suites.figures[reference.name], 0.4));
  }
  if (only.has('flash')) {
    say('flash');
    section('flash').notes.push(...(await flashRows(image)));
  }
} finally {
  await rm(goldenDir, { recursive: true, force: true });
}
const saved = await saveResults(results);
process.stdout.write(renderTable(saved.results));
say(`saved ${saved.file}`);
