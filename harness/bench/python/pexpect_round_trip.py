"""The serial round-trip limit: plain pexpect on a shell prompt, no send delay,
no markers, no exit code. Usage: pexpect_round_trip.py PTY ROUNDS; prints one
JSON list of milliseconds. The shell's prompt is set to its own and put back
to dutlab's (`dutlab$ `) afterwards, so the next client finds the line as it was."""
import json
import os
import sys
import time
import tty

from pexpect import fdpexpect

PROMPT = "PX# "

fd = os.open(sys.argv[1], os.O_RDWR | os.O_NOCTTY)
tty.setraw(fd)
line = fdpexpect.fdspawn(fd, timeout=30)
line.delaybeforesend = None
line.send("\x03\n")
line.send("PS1='PX''# '\n")
line.expect_exact(PROMPT)
# Drain the prompts of the lines sent before PS1 took effect.
time.sleep(0.5)
try:
    line.read_nonblocking(1 << 20, timeout=0.2)
except Exception:
    pass
times = []
for _ in range(int(sys.argv[2])):
    started = time.perf_counter()
    line.send("true\n")
    line.expect_exact(PROMPT)
    times.append((time.perf_counter() - started) * 1000)
line.send("PS1='dutlab$ '\n")
time.sleep(0.3)
print(json.dumps(times))
