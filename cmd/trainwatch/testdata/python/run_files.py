"""Child of the `trainwatch run` metrics-file tests: writes one metrics file
under the directory argv[3] the way its framework does, from the
internal/logtail fixtures in argv[2], while printing a tqdm-like bar.

argv[1]:
  csv  lightning_logs/version_0/metrics.csv: metrics-1.csv, then rewritten
       ("w") with a wider header as metrics-2.csv, then metrics-3.csv
  hf   out/trainer_state.json: first torn (the fixture's truncated copy),
       then whole
  tb   runs/events.out.tfevents.*: the fixture written in two parts, the
       first ending inside a record
Each state stays ~1.3 s, longer than trainwatch's 1 s poll.
"""
import os
import shutil
import sys
import time

style, fixtures, out = sys.argv[1], sys.argv[2], sys.argv[3]
pause = 1.3


def bar(i, n):
    sys.stderr.write("\rtrain: %d/%d [00:01<00:01, 1.00it/s]" % (i, n))
    sys.stderr.flush()


def write(path, data, mode="wb"):
    with open(path, mode) as f:
        f.write(data)
        f.flush()


def read(name):
    with open(os.path.join(fixtures, name), "rb") as f:
        return f.read()


if style == "csv":
    d = os.path.join(out, "lightning_logs", "version_0")
    os.makedirs(d)
    for i, name in enumerate(["metrics-1.csv", "metrics-2.csv", "metrics-3.csv"], 1):
        write(os.path.join(d, "metrics.csv"), read(name))
        bar(i, 3)
        time.sleep(pause)
elif style == "hf":
    d = os.path.join(out, "out")
    os.makedirs(d)
    write(os.path.join(d, "trainer_state.json"), read(os.path.join("hf", "trainer_state-torn.json")))
    bar(1, 2)
    time.sleep(pause)
    write(os.path.join(d, "trainer_state.json"), read(os.path.join("hf", "trainer_state.json")))
    bar(2, 2)
    time.sleep(pause)
elif style == "tb":
    d = os.path.join(out, "runs")
    os.makedirs(d)
    data = read(os.path.join("tb", "events.out.tfevents.1700000000.trainhost.4242.0"))
    path = os.path.join(d, "events.out.tfevents.1800000000.host.1.0")
    half = len(data) // 2 + 7  # inside a record
    write(path, data[:half])
    bar(1, 2)
    time.sleep(pause)
    write(path, data[half:], "ab")
    bar(2, 2)
    time.sleep(pause)
else:
    sys.exit("unknown style " + style)
sys.stderr.write("\n")
