/**
 * Whether a command could change the state of the shell that runs it, judged
 * from its text alone, erring towards yes.
 *
 * Why: a command run in a subshell cannot end the login shell on a serial
 * console (`exit`, `exec`, a `set -e` that trips) nor leave anything behind
 * for the next command (`cd`, variables, traps, background jobs), which keeps
 * serial runs as independent as SSH's. But under TCG the subshell's fork is
 * most of a serial round trip (~5 ms of ~8 for `true`) and a second fork for
 * every external program. A command that names no state-changing builtin,
 * assigns nothing, defines nothing and starts no background job runs in the
 * login shell itself, with the same output, exit code and stdin. Anything
 * else, or anything this cannot tell, still gets the subshell: a false "yes"
 * costs milliseconds, a false "no" would cost the session.
 */

// Builtins and keywords that change the shell (or leave it), in bash, dash
// and busybox ash. Matched as words anywhere, quoted or not: `echo exit` is
// judged as if it could exit.
const STATEFUL_WORDS = [
  'exit', 'logout', 'exec', 'return', 'break', 'continue',
  'set', 'shopt', 'cd', 'pushd', 'popd',
  'export', 'unset', 'readonly', 'declare', 'typeset', 'local', 'let',
  'alias', 'unalias', 'source', 'eval', 'trap', 'ulimit', 'umask',
  'read', 'readarray', 'mapfile', 'getopts', 'shift', 'for', 'select', 'coproc',
  'hash', 'enable', 'builtin', 'command', 'bind', 'complete', 'compopt', 'history', 'fc', 'function',
  'wait', 'jobs', 'fg', 'bg', 'disown', 'suspend', 'kill',
];

const STATEFUL: readonly RegExp[] = [
  new RegExp(`(?<![\\w.-])(?:${STATEFUL_WORDS.join('|')})(?![\\w.-])`),
  // `.` as a command (source).
  /(?:^|[\s;&|(`])\.(?:\s|$)/,
  // An assignment where a command starts, standalone or as a prefix; an
  // argument such as `CPUQuota=5%` is not one (`printf -v` assigns too).
  /(?:^|[;&|({\n!`]|(?<![\w.-])(?:then|do|else|elif|if|while|until|time))\s*[A-Za-z_]\w*(?:\[[^\]]*\])?\+?=/,
  /\bprintf\s+-v/,
  // Parameter expansions (`${x:=y}` assigns; `${x?}` or a bad substitution
  // makes an interactive shell drop the rest of the line, end marker included)
  // and arithmetic (`$((i++))`, `((i=1))`, division by zero).
  /\$\{/,
  /\(\(|\$\[/,
  // A function definition.
  /\(\s*\)/,
  // A background job (a lone `&`, not `&&`, `>&`, `&>`, `<&`, `|&`).
  /(?<![&>|<])&(?![&>])/,
];

export function touchesShellState(command: string): boolean {
  return STATEFUL.some((pattern) => pattern.test(command));
}
