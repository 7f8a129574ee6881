import test from 'ava';
import { touchesShellState } from './shell-state.ts';

const STATELESS = [
  'true',
  'cat /etc/os-release',
  'balena-engine ps -a --format "{{.Names}}"',
  'systemctl set-property --runtime foo.service CPUQuota=5%',
  'grep -q root /etc/passwd && echo yes || echo no',
  'journalctl -b 2>&1 | tail -n 5',
  'test "$a" = b',
  'if [ -e /x ]; then echo y; fi',
  'ls --color=never /tmp',
  "cat <<'EOF'\nx\nEOF",
  'echo out; echo err >&2; false',
];

const STATEFUL = [
  'exit 3', 'true; exit', 'cd /tmp', 'export A=1', 'A=1', 'A=1 env', 'a[1]=x', 'x+=y',
  'set -e; false', 'set -o pipefail', 'unset PATH', 'trap "" INT', '. /etc/profile', 'source x',
  'exec >/dev/null', 'read line', 'while read l; do :; done < f', 'for i in 1 2; do :; done',
  'sleep 5 &', 'f() { :; }', 'echo ${x:=1}', 'echo ${x?unset}', 'echo $((i++))', '((i = 1))',
  'printf -v v %s x', 'function f { :; }', 'ulimit -n 10', 'umask 077', 'alias ls=x', 'shift', 'return 1', '\\exit 1',
  "docker exec c sh -c 'exit 1'", 'echo "waiting for it"',
];

test('commands that cannot change the shell are told apart from those that could', (t) => {
  for (const command of STATELESS) t.false(touchesShellState(command), command);
  for (const command of STATEFUL) t.true(touchesShellState(command), command);
});
