/**
 * Watchers look at every line the target prints, whoever is waiting for what,
 * for the events LAVA treats as verdicts on their own: kernel traces (panic,
 * Oops, BUG, WARNING) and a boot banner nobody asked for (the board reset).
 *
 * Two guards against false alarms:
 * - kernel markers must start a line or follow a printk timestamp, so
 *   `echo "BUG: x"` typed at a prompt does not match, nor does a program's
 *   own "WARNING:" (the kernel's is `WARNING: CPU: n PID: n`);
 * - a line that ends with a line the harness just sent is the terminal's echo
 *   of it and is skipped.
 * Lines are judged once complete: a GRUB menu drawn with cursor moves and no
 * newline is judged when the next line ends, or when the stream does.
 * What a detection means (fail now, later, or not at all) is the console's call.
 */
import { PRINTK_HEAD } from './kmsg.ts';

export interface Detection {
  kind: 'panic' | 'reset';
  message: string;
  /** The marker line with the lines before it and, for traces, after it. */
  excerpt: string;
}

export interface WatcherConfig {
  /** Lines that start a kernel trace; the trace is captured, then reported as kind `panic`. */
  traces?: readonly RegExp[];
  /** Lines that mean the DUT is booting: firmware, bootloader, kernel banners. */
  banners?: readonly RegExp[];
  /** The line that closes a trace. */
  traceEnd?: RegExp;
  /** A trace is reported at its end line, after this many lines, or after `traceMs`, whichever is first. */
  traceLines?: number;
  traceMs?: number;
  /** Lines before the marker kept in the excerpt. */
  contextLines?: number;
}

const KERNEL = `(?:^|${PRINTK_HEAD})`;

export const KERNEL_TRACES: readonly RegExp[] = [
  /Kernel panic - not syncing/,
  new RegExp(`${KERNEL}(?:Internal error: )?Oops(?::| -) `),
  new RegExp(`${KERNEL}BUG: `),
  new RegExp(`${KERNEL}WARNING: (?:CPU: \\d+ PID: \\d+|at )`),
  new RegExp(`${KERNEL}UBSAN: `),
];

export const BOOT_BANNERS: readonly RegExp[] = [
  new RegExp(`${KERNEL}Linux version \\d+\\.\\d+`),
  // The kernel's last words before it resets the machine: under load the
  // firmware's banner may come many seconds later, after an SSH link has
  // already timed out, so these are the reset's first sign.
  new RegExp(`${KERNEL}reboot: (?:Restarting system|machine restart)`),
  new RegExp(`${KERNEL}sysrq: (?:SysRq : )?Resetting`),
  /^BdsDxe: (?:loading|starting) Boot/, // OVMF / EDK II
  /GNU GRUB {1,2}version \d/,
  /^Welcome to GRUB!/,
  /^U-Boot (?:SPL )?\d{4}\.\d{2}/,
  /^SeaBIOS \(version /,
];

const TRACE_END = /---\[ end (?:trace|Kernel panic)/;
const MAX_ECHOES = 64;

interface Capture {
  title: string;
  lines: string[];
  linesAfter: number;
  timer: NodeJS.Timeout;
}

export class Watchers {
  /** Off while a wait has declared it expects kernel traces in its output. */
  tracesArmed = true;
  private readonly traces: readonly RegExp[];
  private readonly banners: readonly RegExp[];
  private readonly traceEnd: RegExp;
  private readonly traceLines: number;
  private readonly traceMs: number;
  private readonly contextLines: number;
  private partial = '';
  private context: string[] = [];
  private echoes: string[] = [];
  private capture: Capture | undefined;

  constructor(
    config: WatcherConfig,
    private readonly onDetect: (detection: Detection) => void,
  ) {
    this.traces = config.traces ?? KERNEL_TRACES;
    this.banners = config.banners ?? BOOT_BANNERS;
    this.traceEnd = config.traceEnd ?? TRACE_END;
    this.traceLines = config.traceLines ?? 30;
    this.traceMs = config.traceMs ?? 1000;
    this.contextLines = config.contextLines ?? 8;
  }

  /** True while a trace is being collected: its verdict is pending. */
  get capturing(): boolean {
    return this.capture !== undefined;
  }

  /** Remembers lines the harness sent, to recognise their echo. */
  sent(text: string): void {
    for (const line of text.split('\n')) {
      const trimmed = line.trim();
      if (trimmed.length >= 2) this.echoes.push(trimmed);
    }
    this.echoes = this.echoes.slice(-MAX_ECHOES);
  }

  /** Takes cleaned target text (no escape codes, no `\r`). */
  feed(text: string): void {
    const lines = (this.partial + text).split('\n');
    this.partial = lines.pop() ?? '';
    for (const line of lines) this.line(line);
  }

  /** The stream ended: judge the unterminated last line and report a trace being captured. */
  flush(): void {
    const last = this.partial;
    this.partial = '';
    if (last !== '') this.line(last);
    this.finishCapture();
  }

  private line(line: string): void {
    if (this.capture) {
      this.capture.lines.push(line);
      this.capture.linesAfter += 1;
      if (this.traceEnd.test(line) || this.capture.linesAfter >= this.traceLines) {
        this.finishCapture();
      }
      return;
    }
    if (this.isEcho(line)) return;
    if (this.tracesArmed && this.traces.some((pattern) => pattern.test(line))) {
      const lines = [...this.context, line];
      this.context = [];
      const timer = setTimeout(() => this.finishCapture(), this.traceMs);
      this.capture = { title: line, lines, linesAfter: 0, timer };
      return;
    }
    if (this.banners.some((pattern) => pattern.test(line))) {
      const excerpt = [...this.context, line].join('\n');
      this.context = [];
      this.onDetect({ kind: 'reset', message: `boot banner: ${line.trim()}`, excerpt });
      return;
    }
    this.context = [...this.context, line].slice(-this.contextLines);
  }

  private finishCapture(): void {
    const capture = this.capture;
    if (!capture) return;
    clearTimeout(capture.timer);
    this.capture = undefined;
    this.onDetect({ kind: 'panic', message: `kernel trace: ${capture.title.trim()}`, excerpt: capture.lines.join('\n') });
  }

  // Echoes come back in the order they were sent: a match also retires every
  // older entry, whose echo was lost or suppressed (stty -echo).
  private isEcho(line: string): boolean {
    const trimmed = line.trimEnd();
    const index = this.echoes.findIndex((sent) => trimmed.endsWith(sent));
    if (index < 0) return false;
    this.echoes.splice(0, index + 1);
    return true;
  }
}
