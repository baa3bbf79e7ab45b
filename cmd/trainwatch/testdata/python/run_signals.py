"""Child of the `trainwatch run` signal tests: counts how many times it
receives one signal (argv[1], default SIGINT), reports the count a second
after the first, then dies of that signal (so the exit status says it).

It prints "tty" or "pipe" for its stdout first, then "ready".
"""
import os
import signal
import sys
import time

name = sys.argv[1] if len(sys.argv) > 1 else "SIGINT"
sig = getattr(signal, name)
count = 0


def on_signal(signum, frame):
    global count
    count += 1


signal.signal(sig, on_signal)
print("tty" if sys.stdout.isatty() else "pipe", flush=True)
print("ready", flush=True)
deadline = time.monotonic() + 30
while count == 0 and time.monotonic() < deadline:
    time.sleep(0.02)
time.sleep(1.0)  # a second delivery would arrive in this time
print("%s x%d" % (name, count), flush=True)
signal.signal(sig, signal.SIG_DFL)
os.kill(os.getpid(), sig)
time.sleep(5)
sys.exit(99)
