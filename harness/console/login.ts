/**
 * From whatever the console shows to a shell ready for commands: answer a
 * getty's login and password prompts, accept a shell that is already logged
 * in, and poke a newline when the line goes quiet (a prompt printed before we
 * attached, or drowned in boot messages, is printed again). One deadline bounds
 * the whole of it, not a count of retries.
 */
import { DutError } from '../errors.ts';
import type { Console } from './console.ts';
import type { ExpectMatch } from './expect.ts';
import { Shell, type ShellOptions } from './shell.ts';

export interface LoginPrompts {
  login: RegExp;
  password: RegExp;
  /** Any shell prompt, ours (`dutlab$ `) included. */
  shell: RegExp;
  rejected: RegExp;
}

export const DEFAULT_PROMPTS: LoginPrompts = {
  // `$`: a prompt is the last thing printed; "Last login: ..." is not a prompt.
  login: /(?<!Last )login: *$/,
  password: /[Pp]assword: *$/,
  shell: /[#$] $/,
  rejected: /Login incorrect|Authentication failure/,
};

export interface LoginOptions {
  user?: string;
  /** Sent when asked; empty by default, as on development images. */
  password?: string;
  /** Deadline for reaching a shell prompt. */
  timeoutMs?: number;
  /** A newline is sent after this long without a prompt and with the line quiet. */
  pokeMs?: number;
  step?: string;
  prompts?: Partial<LoginPrompts>;
  /** Rejected logins tolerated before giving up (a getty restarting can eat one). */
  maxRejections?: number;
  shell?: ShellOptions;
}

/** Logs in on `console` and returns the shell, set up for commands. */
export async function login(console: Console, options: LoginOptions = {}): Promise<Shell> {
  const user = options.user ?? 'root';
  const timeoutMs = options.timeoutMs ?? 120_000;
  const pokeMs = options.pokeMs ?? 3000;
  const step = options.step ?? 'login';
  const maxRejections = options.maxRejections ?? 3;
  const prompts = { ...DEFAULT_PROMPTS, ...options.prompts };
  const deadline = Date.now() + timeoutMs;
  let rejections = 0;

  while (true) {
    const left = deadline - Date.now();
    if (left <= 0) {
      throw new DutError('timeout', `no shell prompt within ${timeoutMs} ms`, { dut: console.name, step, excerpt: console.recentText() });
    }
    let seen: ExpectMatch;
    try {
      seen = await console.expect([prompts.login, prompts.password, prompts.shell, prompts.rejected], {
        timeoutMs: Math.min(pokeMs, left),
        step,
      });
    } catch (error) {
      if (!(error instanceof DutError && error.kind === 'timeout')) throw error;
      // Only poke a quiet line: during boot output a newline would just queue up.
      if (console.idleMs >= Math.min(pokeMs, 1000)) {
        console.note('login: no prompt, poking');
        await console.send('\n');
      }
      continue;
    }
    switch (seen.index) {
      case 0:
        console.note(`login: sending user ${user}`);
        await console.send(`${user}\n`);
        break;
      case 1:
        console.note('login: sending password');
        await console.send(`${options.password ?? ''}\n`);
        break;
      case 2:
        console.note('login: shell prompt');
        console.bootComplete();
        return Shell.attach(console, options.shell);
      default:
        rejections += 1;
        if (rejections >= maxRejections) {
          throw new DutError('config', `login as ${user} rejected ${rejections} times`, {
            dut: console.name,
            step,
            excerpt: console.recentText(),
          });
        }
    }
  }
}
