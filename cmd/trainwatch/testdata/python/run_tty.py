"""Child of the `trainwatch run` pseudo-terminal test: says which of its
standard streams are terminals and its terminal's size, echoes a line of
input, reports the size again on SIGWINCH, and exits at "quit".
"""
import os
import signal
import sys


def size():
    try:
        s = os.get_terminal_size(sys.stdout.fileno())
        return "%dx%d" % (s.columns, s.lines)
    except OSError:
        return "none"


def on_winch(signum, frame):
    print("winch " + size(), flush=True)


signal.signal(signal.SIGWINCH, on_winch)
print("isatty %d%d%d size %s" % (sys.stdin.isatty(), sys.stdout.isatty(), sys.stderr.isatty(), size()), flush=True)
print("ready", flush=True)
for line in sys.stdin:
    line = line.strip()
    if line == "quit":
        break
    print("echo " + line, flush=True)
print("bye", flush=True)
