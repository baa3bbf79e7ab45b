#!/usr/bin/env python3
"""Writes the Lightning CSVLogger fixtures metrics-1.csv, metrics-2.csv and
metrics-3.csv (standard library only; Lightning itself is not installable
here).

It replays the write pattern of Lightning's _ExperimentWriter
(src/lightning/fabric/loggers/csv_logs.py, Lightning >= 2.1): rows are
buffered and flushed by save(); the header is the sorted union of every key
seen; when a flush brings a new key and the file exists, the whole file is
read back with csv.DictReader and written again ("w") under the new header
(_rewrite_with_new_header), then the new rows are appended ("a"). Python's
csv module ends rows with "\\r\\n" and writes floats with str(), so NaN and
infinity appear as "nan" and "inf".

Each snapshot is the file as it stands after one save():
  metrics-1.csv  epoch 0 training rows and lr-Adam rows (first save)
  metrics-2.csv  after epoch 0's validation: val_loss, val_acc and
                 train_loss_epoch are new keys, so the file was rewritten with
                 a wider header, then the new rows appended
  metrics-3.csv  epoch 1 rows appended, no new key (one train_loss_step is
                 nan, one val_acc inf)

Usage: gen_csv.py [OUTDIR]   (default: the directory of this script)
"""
import csv
import os
import shutil
import sys


class ExperimentWriter:
    """The save() logic of Lightning's _ExperimentWriter, nothing else."""

    def __init__(self, path):
        self.path = path
        self.metrics = []
        self.metrics_keys = []

    def log_metrics(self, metrics, step):
        m = dict(metrics)
        m["step"] = step
        self.metrics.append(m)

    def save(self):
        if not self.metrics:
            return
        new_keys = self._record_new_keys()
        file_exists = os.path.isfile(self.path)
        if new_keys and file_exists:
            self._rewrite_with_new_header(self.metrics_keys)
        with open(self.path, "a" if file_exists else "w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=self.metrics_keys)
            if not file_exists:
                writer.writeheader()
            writer.writerows(self.metrics)
        self.metrics = []

    def _record_new_keys(self):
        current = set().union(*self.metrics)
        new = current - set(self.metrics_keys)
        self.metrics_keys.extend(new)
        self.metrics_keys.sort()
        return new

    def _rewrite_with_new_header(self, fieldnames):
        with open(self.path, "r", newline="") as f:
            rows = list(csv.DictReader(f))
        with open(self.path, "w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=fieldnames)
            writer.writeheader()
            writer.writerows(rows)


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.dirname(os.path.abspath(__file__))
    work = os.path.join(out, "metrics.csv")
    if os.path.exists(work):
        os.remove(work)
    w = ExperimentWriter(work)
    steps_per_epoch = 50

    def train_epoch(epoch, nan_at=None):
        for step in range(epoch * steps_per_epoch + 9, (epoch + 1) * steps_per_epoch, 10):
            loss = 2.5 / (1 + step / 25.0)
            if step == nan_at:
                loss = float("nan")
            # LearningRateMonitor logs on its own: only the key and step.
            w.log_metrics({"lr-Adam": 0.001 * (0.98 ** step)}, step)
            # The trainer's logger connector adds "epoch" to its rows.
            w.log_metrics({"train_loss_step": round(loss, 6), "epoch": epoch}, step)

    def end_epoch(epoch):
        last = (epoch + 1) * steps_per_epoch - 1
        m = {"val_loss": round(2.0 / (2 + epoch), 6), "val_acc": round(0.5 + 0.1 * epoch, 4), "epoch": epoch}
        w.log_metrics(m, last)
        w.log_metrics({"train_loss_epoch": round(2.2 / (1 + epoch), 6), "epoch": epoch}, last)

    train_epoch(0)
    w.save()
    shutil.copyfile(work, os.path.join(out, "metrics-1.csv"))

    end_epoch(0)
    w.save()
    shutil.copyfile(work, os.path.join(out, "metrics-2.csv"))

    # No new key in epoch 1, so metrics-3 is metrics-2 plus appended rows.
    train_epoch(1, nan_at=79)
    end_epoch(1)
    w.metrics[-2]["val_acc"] = float("inf")
    w.save()
    shutil.copyfile(work, os.path.join(out, "metrics-3.csv"))
    os.remove(work)


if __name__ == "__main__":
    main()
