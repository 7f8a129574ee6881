/** The console engine: transcript, expect, watchers, login and shell over any duplex byte stream. */
export { Console, type ConsoleOptions, type Reader, type ReadResult, type WaitOptions } from './console.ts';
export type { ExpectMatch, Pattern } from './expect.ts';
export { DEFAULT_PROMPTS, login, type LoginOptions, type LoginPrompts } from './login.ts';
export { Shell, type RunOptions, type RunResult, type ShellOptions } from './shell.ts';
export { textOf, Transcript, type TranscriptEntry, type TranscriptOptions, type TranscriptStream } from './transcript.ts';
export { BOOT_BANNERS, KERNEL_TRACES, type WatcherConfig } from './watchers.ts';
