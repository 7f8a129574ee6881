"""labgrid's ShellDriver on the same serial line: `run_check('true')`, as a
labgrid test would call it. Usage: labgrid_round_trip.py PTY ROUNDS; prints
one JSON list of milliseconds. The line is a RawSerialPort (a pty here, a
USB adapter on a farm) under labgrid's SerialDriver."""
import json
import sys
import time

from labgrid import Target
from labgrid.driver import SerialDriver, ShellDriver
from labgrid.resource import RawSerialPort

target = Target("dut")
RawSerialPort(target, name=None, port=sys.argv[1], speed=115200)
SerialDriver(target, name=None)
shell = ShellDriver(target, name=None, prompt=r"dutlab\$ ", login_prompt=" login: ", username="root")
target.activate(shell)
times = []
for _ in range(int(sys.argv[2])):
    started = time.perf_counter()
    shell.run_check("true")
    times.append((time.perf_counter() - started) * 1000)
target.deactivate(shell)
print(json.dumps(times))
