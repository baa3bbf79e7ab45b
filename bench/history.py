#!/usr/bin/env python3
"""History budget: query speed and memory with 24 h of 1 s history, side by
side with a real Prometheus holding the same data.

It fills a data directory with DURATION of this machine's series at 1 s
(`trainwatch fill-history`, the agent's own store), copies it twice, starts
`trainwatch serve` on one copy and the Debian `prometheus` on the other, lets
both settle, then runs the same range queries (24 h at 15 s step) against
both, alternating, and reports the median wall time of each, the ratio, and
both processes' resident memory (steady, and peak after the queries).

Standard library only. Usage:
  bench/history.py [--duration 24h] [--runs 5] [--keep DIR] [--out bench/results]
"""

import argparse
import datetime
import json
import os
import platform
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request

QUERIES = [
    ("all host series, raw", '{job="trainwatch", __name__=~"node_.+"}'),
    ("CPU rate per core and mode", 'rate(node_cpu_seconds_total[1m])'),
    ("CPU by mode", 'sum by (mode) (rate(node_cpu_seconds_total[1m]))'),
    ("memory available, 5m average", 'avg_over_time(node_memory_MemAvailable_bytes[5m])'),
    ("network receive rate per device", 'rate(node_network_receive_bytes_total[5m])'),
]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_ready(url, timeout=600):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            with urllib.request.urlopen(url + "/-/ready", timeout=5) as r:
                if r.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.5)
    sys.exit("not ready: " + url)


def mem(pid):
    """VmRSS and VmHWM of a process, in MiB."""
    out = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            k, _, v = line.partition(":")
            if k in ("VmRSS", "VmHWM", "RssAnon", "RssFile"):
                out[k] = int(v.split()[0]) / 1024
    return out


def query_range(base, expr, start, end, step):
    data = urllib.parse.urlencode({"query": expr, "start": start, "end": end, "step": step}).encode()
    t0 = time.perf_counter()
    try:
        with urllib.request.urlopen(base + "/api/v1/query_range", data=data, timeout=600) as r:
            body = r.read()
    except urllib.error.HTTPError as e:
        err = json.loads(e.read()).get("error", str(e))
        return time.perf_counter() - t0, 0, f"HTTP {e.code}: {err}", 0
    dt = time.perf_counter() - t0
    doc = json.loads(body)
    if doc.get("status") != "success":
        sys.exit(f"{base}: {expr}: {doc}")
    series = doc["data"]["result"]
    points = sum(len(s.get("values", [])) for s in series)
    return dt, len(body), len(series), points


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--trainwatch", default=None, help="trainwatch binary (default: build it)")
    ap.add_argument("--prometheus", default="/usr/bin/prometheus")
    ap.add_argument("--duration", default="24h")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--settle", type=int, default=60, help="seconds both run before measuring")
    ap.add_argument("--keep", default=None, help="reuse/keep the filled data directory here")
    ap.add_argument("--out", default="bench/results")
    args = ap.parse_args()

    work = tempfile.mkdtemp(prefix="tw-history-")
    tw = args.trainwatch
    if tw is None:
        tw = os.path.join(work, "trainwatch")
        subprocess.run(["go", "build", "-o", tw, "./cmd/trainwatch"], check=True)
    filled = args.keep or os.path.join(work, "filled")
    if not os.path.isdir(os.path.join(filled, "wal")):
        subprocess.run([tw, "fill-history", "--data-dir", filled, "--duration", args.duration,
                        "--log.level", "warn"], check=True)
    agent_dir, prom_dir = os.path.join(work, "agent"), os.path.join(work, "prom")
    shutil.copytree(filled, agent_dir)
    shutil.copytree(filled, prom_dir)
    for d in (agent_dir, prom_dir):
        lock = os.path.join(d, "lock")
        if os.path.exists(lock):
            os.remove(lock)

    ap_port, pp_port = free_port(), free_port()
    cfg = os.path.join(work, "prometheus.yml")
    with open(cfg, "w") as f:
        f.write("global: {}\n")
    # The agent continues the filled series (instance HOSTNAME:9835, as
    # fill-history labels them), as it would after a day of running.
    tw_cfg = os.path.join(work, "trainwatch.yml")
    with open(tw_cfg, "w") as f:
        f.write(f"storage: {{instance: {json.dumps(socket.gethostname() + ':9835')}}}\n")
    logs = open(os.path.join(work, "logs.txt"), "w")
    agent = subprocess.Popen([tw, "serve", "--config", tw_cfg, "--data-dir", agent_dir, "--listen", f"127.0.0.1:{ap_port}",
                              "--interval", "1s", "--log.level", "warn"], stdout=logs, stderr=logs)
    prom = subprocess.Popen([args.prometheus, "--config.file", cfg, "--storage.tsdb.path", prom_dir,
                             "--web.listen-address", f"127.0.0.1:{pp_port}", "--log.level", "warn"],
                            stdout=logs, stderr=logs)
    a_url, p_url = f"http://127.0.0.1:{ap_port}", f"http://127.0.0.1:{pp_port}"
    try:
        wait_ready(a_url)
        wait_ready(p_url)
        time.sleep(args.settle)
        steady = {"trainwatch": mem(agent.pid), "prometheus": mem(prom.pid)}
        end = int(time.time()) - 60
        start = end - 24 * 3600
        rows = []
        for name, expr in QUERIES:
            times = {"trainwatch": [], "prometheus": []}
            shape = {}
            for _ in range(args.runs):
                for who, url in (("trainwatch", a_url), ("prometheus", p_url)):
                    dt, size, nseries, npoints = query_range(url, expr, start, end, 15)
                    times[who].append(dt)
                    shape[who] = (nseries, npoints, size)
            ta, tp = statistics.median(times["trainwatch"]), statistics.median(times["prometheus"])
            rows.append((name, expr, shape["trainwatch"], shape["prometheus"], ta, tp))
        peak = {"trainwatch": mem(agent.pid), "prometheus": mem(prom.pid)}
        time.sleep(30)
        after = {"trainwatch": mem(agent.pid), "prometheus": mem(prom.pid)}
    finally:
        for p in (agent, prom):
            p.terminate()
        for p in (agent, prom):
            try:
                p.wait(timeout=60)
            except subprocess.TimeoutExpired:
                p.kill()
        logs.close()

    prom_version = subprocess.run([args.prometheus, "--version"], capture_output=True, text=True).stdout.splitlines()[0]
    now = datetime.datetime.now(datetime.timezone.utc)
    lines = [
        f"# History budget: {args.duration} of 1 s history, 24 h range queries at 15 s step",
        "",
        f"Measured {now:%Y-%m-%d %H:%M} UTC on {platform.node()} ({os.cpu_count()} CPUs, {platform.platform()}),",
        f"median of {args.runs} alternating runs; peer: {prom_version} on a copy of the same data directory.",
        f"Command: `python3 bench/history.py --duration {args.duration} --runs {args.runs}`",
        "",
        "| query | series | points | trainwatch | prometheus | ratio (tw/prom) |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for name, expr, sa, sp, ta, tp in rows:
        same = "" if sa[:2] == sp[:2] else f" (prometheus: {sp[0]} series, {sp[1]} points)"
        lines.append(f"| {name}: `{expr}` | {sa[0]}{same} | {sa[1]} | {ta*1000:.0f} ms | {tp*1000:.0f} ms | {ta/tp:.2f} |")
    lines += [
        "",
        "| memory (MiB) | trainwatch | prometheus |",
        "|---|---:|---:|",
        f"| RSS, steady, after {args.settle} s | {steady['trainwatch']['VmRSS']:.0f} | {steady['prometheus']['VmRSS']:.0f} |",
        f"| of which anonymous / file-backed | {steady['trainwatch']['RssAnon']:.0f} / {steady['trainwatch']['RssFile']:.0f} | {steady['prometheus']['RssAnon']:.0f} / {steady['prometheus']['RssFile']:.0f} |",
        f"| RSS after the queries | {peak['trainwatch']['VmRSS']:.0f} | {peak['prometheus']['VmRSS']:.0f} |",
        f"| RSS 30 s after the queries | {after['trainwatch']['VmRSS']:.0f} | {after['prometheus']['VmRSS']:.0f} |",
        f"| of which anonymous (heap) / file-backed (mmapped blocks, reclaimable) | {after['trainwatch']['RssAnon']:.0f} / {after['trainwatch']['RssFile']:.0f} | {after['prometheus']['RssAnon']:.0f} / {after['prometheus']['RssFile']:.0f} |",
        f"| peak RSS (VmHWM) | {peak['trainwatch']['VmHWM']:.0f} | {peak['prometheus']['VmHWM']:.0f} |",
        "",
        "trainwatch also collects every second while measured; Prometheus scrapes nothing.",
    ]
    text = "\n".join(lines) + "\n"
    print(text)
    os.makedirs(args.out, exist_ok=True)
    path = os.path.join(args.out, f"history-{now:%Y-%m-%d}-{platform.node()}.md")
    with open(path, "w") as f:
        f.write(text)
    print("saved", path)
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
