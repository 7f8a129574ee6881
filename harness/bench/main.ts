/**
 * `npm run bench`: the figures the harness is judged by, measured on this
 * machine with the reference image under real QEMU. Prints a table; asserts
 * nothing (tests assert behaviour, benchmarks print figures).
 *
 *   boot: QEMU start → login prompt on the console, → shell ready (harness), → engine answering
 *   serial exec round trip: median and p90 of 100 `true`
 *   ssh exec round trip: median and p90 of 100 `true`
 *   KVM probe: verdict and duration
 *   flash: the image onto an 8 GiB card file, raw, with its block map, and from .xz (flash.ts)
 */
import { loadBoard } from '../boards/index.ts';
import { createDut } from '../dut/create.ts';
import { runKvmProbe } from '../qemu/index.ts';
import { buildImages } from '../../images/build.ts';
import { flashRows } from './flash.ts';

const ROUNDS = 100;

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
}

async function timeRounds(run: () => Promise<unknown>): Promise<{ median: number; p90: number }> {
  const times: number[] = [];
  for (let i = 0; i < ROUNDS; i++) {
    const started = performance.now();
    await run();
    times.push(performance.now() - started);
  }
  return { median: percentile(times, 50), p90: percentile(times, 90) };
}

const rows: [string, string][] = [];
const probe = await runKvmProbe({});
rows.push(['KVM probe', `${probe.usable ? 'kvm usable' : 'kvm not usable → tcg'} in ${Math.round(probe.durationMs ?? 0)} ms (${probe.reason})`]);

const image = (await buildImages()).versions[0]?.image.path;
if (!image) throw new Error('no image');
rows.push(...(await flashRows(image)));
const dut = await createDut({ board: await loadBoard('qemu-x86_64'), image });
try {
  await dut.boot();
  // Power-on launches QEMU: from there to the first login prompt the console
  // recorded (every byte is timestamped as it arrives), and to a usable shell.
  const launched = dut.timeline.entries.find((e) => e.state === 'powering-on')?.at ?? 0;
  const ready = dut.timeline.entries.find((e) => e.state === 'ready')?.at ?? 0;
  const prompt = dut.transcript.entries.find((e) => e.stream === 'target' && /login: *$/m.test(e.data));
  rows.push(['QEMU start → login prompt (console)', prompt ? `${((prompt.t - launched) / 1000).toFixed(1)} s` : 'not seen']);
  rows.push(['QEMU start → shell ready (harness)', `${((ready - launched) / 1000).toFixed(1)} s`]);
  while ((await dut.exec('balena-engine info >/dev/null 2>&1', { transport: 'serial' })).exitCode !== 0) await new Promise((r) => setTimeout(r, 250));
  rows.push(['QEMU start → engine answering', `${((Date.now() - launched) / 1000).toFixed(1)} s`]);
  const serial = await timeRounds(() => dut.exec('true', { transport: 'serial' }));
  rows.push([`serial exec round trip (${ROUNDS}× true)`, `median ${serial.median.toFixed(1)} ms, p90 ${serial.p90.toFixed(1)} ms`]);
  const sshTimes = await timeRounds(() => dut.exec('true', { transport: 'ssh' }));
  rows.push([`ssh exec round trip (${ROUNDS}× true)`, `median ${sshTimes.median.toFixed(1)} ms, p90 ${sshTimes.p90.toFixed(1)} ms`]);
} finally {
  await dut.close();
}
const width = Math.max(...rows.map(([k]) => k.length));
for (const [k, v] of rows) process.stdout.write(`${k.padEnd(width)}  ${v}\n`);
