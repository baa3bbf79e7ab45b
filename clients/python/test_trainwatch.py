"""Tests of the trainwatch Python client (unittest, standard library only).

Run: python3 -m unittest discover -s clients/python -v

A small HTTP server (``FakeAgent``) stands in for the agent: it implements the run
API minimally (register, log, finish, list) plus ``/api/v1/snapshot``, and records
what it receives. The end-to-end test against the real agent lives on the Go side.
"""

import argparse
import fractions
import http.server
import json
import logging
import math
import os
import pathlib
import socket
import subprocess
import sys
import textwrap
import threading
import time
import types
import unittest
import urllib.parse
from unittest import mock

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import trainwatch  # noqa: E402

FIXTURE = os.path.join(HERE, "testdata", "snapshot.json")
SCHEMA = os.path.join(HERE, "..", "..", "docs", "schema", "summary.schema.json")


# ------------------------------------------------------------------ helpers


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        pass  # a client that gave up (timeout) is expected in these tests


class FakeAgent:
    """A minimal agent: the run API of the contract plus /api/v1/snapshot.

    Like the agent, it refuses a whole log request for one bad line: a step that
    is not a whole number >= 0, an epoch that is not a finite number >= 0.

    Attributes a test may set: ``snapshot`` (dict served, else 503), ``runs``
    (id → run object), ``runs_status`` (status of GET /api/v1/runs), ``runs_wrapped``
    (answer ``{"runs": [...]}`` as the agent does, else a bare list), ``reject_key``
    (a log batch with a line holding this key gets 400), ``reject_tags`` (a
    registration with "tags" gets 400), ``gate`` (cleared: log requests wait until it
    is set again).
    """

    def __init__(self, port=0):
        self.lock = threading.Lock()
        self.registrations = []  # parsed bodies of POST /api/v1/runs
        self.runs = {}           # id -> run object
        self.batches = []        # (run id, raw body, content type) of accepted log POSTs
        self.lines = []          # (run id, parsed line)
        self.finishes = []       # (run id, parsed body)
        self.snapshot = None
        self.runs_status = 200
        self.runs_wrapped = True
        self.reject_key = None
        self.reject_tags = False
        self.gate = threading.Event()
        self.gate.set()
        self.server = _Server(("127.0.0.1", port), self._handler_class())
        self.port = self.server.server_address[1]
        self.url = "http://127.0.0.1:%d" % self.port
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self):
        self.gate.set()
        self.server.shutdown()
        self.server.server_close()

    def steps(self, run_id=None):
        with self.lock:
            return [line["step"] for rid, line in self.lines if run_id in (None, rid)]

    # The contract, minimally.

    def register(self, body):
        doc = json.loads(body)
        if self.reject_tags and "tags" in doc:
            return 400, {"error": 'json: unknown field "tags"'}
        with self.lock:
            self.registrations.append(doc)
            run_id = doc.get("id") or "srv-%d" % len(self.registrations)
            existing = run_id in self.runs
            run = self.runs.setdefault(run_id, {"id": run_id, "step": 0, "metrics": {}})
            run.update(name=doc.get("name"), config=doc.get("config"), status="running")
            return (200 if existing else 201), dict(run)

    def log(self, run_id, body, content_type):
        self.gate.wait(60)
        text = body.decode("utf-8")
        lines = [json.loads(line) for line in text.splitlines() if line.strip()]
        if self.reject_key and any(self.reject_key in line for line in lines):
            return 400, {"error": "line 1: bad value for %s" % self.reject_key}
        for n, line in enumerate(lines, 1):
            step, epoch = line.get("step", 0), line.get("epoch", 0)
            if not (isinstance(step, int) and step >= 0):
                return 400, {"error": "line %d: key \"step\": %r is not a step number" % (n, step)}
            if not (isinstance(epoch, (int, float)) and 0 <= epoch < math.inf):
                return 400, {"error": "line %d: key \"epoch\": %r is not an epoch" % (n, epoch)}
        with self.lock:
            run = self.runs.setdefault(run_id, {"id": run_id, "name": run_id, "status": "running",
                                                "metrics": {}})
            self.batches.append((run_id, text, content_type))
            for line in lines:
                self.lines.append((run_id, line))
                run["step"] = line.get("step")
            return 200, {"accepted": len(lines)}

    def finish(self, run_id, body):
        doc = json.loads(body)
        with self.lock:
            self.finishes.append((run_id, doc))
            run = self.runs.setdefault(run_id, {"id": run_id})
            run["status"] = doc["status"]
            return 200, dict(run)

    def _handler_class(agent):
        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def reply(self, code, doc):
                data = json.dumps(doc).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def parts(self):
                path = urllib.parse.urlsplit(self.path).path
                return [urllib.parse.unquote(p) for p in path.strip("/").split("/")]

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                parts = self.parts()
                if parts[:3] != ["api", "v1", "runs"]:
                    return self.reply(404, {"error": "not found"})
                if len(parts) == 3:
                    return self.reply(*agent.register(body))
                if len(parts) == 5 and parts[4] == "log":
                    return self.reply(*agent.log(parts[3], body, self.headers.get("Content-Type")))
                if len(parts) == 5 and parts[4] == "finish":
                    return self.reply(*agent.finish(parts[3], body))
                return self.reply(404, {"error": "not found"})

            def do_GET(self):
                parts = self.parts()
                if parts == ["api", "v1", "snapshot"]:
                    if agent.snapshot is None:
                        return self.reply(503, {"status": "error", "errorType": "unavailable",
                                                "error": "no snapshot yet: the first collection "
                                                         "has not finished"})
                    return self.reply(200, agent.snapshot)
                if parts == ["api", "v1", "runs"]:
                    if agent.runs_status != 200:
                        return self.reply(agent.runs_status, {"error": "404 page not found"})
                    with agent.lock:
                        runs = list(agent.runs.values())
                    return self.reply(200, {"runs": runs} if agent.runs_wrapped else runs)
                if len(parts) == 4 and parts[:3] == ["api", "v1", "runs"]:
                    with agent.lock:
                        run = agent.runs.get(parts[3])
                    return self.reply(200, run) if run else self.reply(404, {"error": "no run"})
                return self.reply(404, {"error": "not found"})

        return Handler


def free_port():
    """A port nothing listens on (bound once, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(condition, timeout=10.0, interval=0.02):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(interval)
    return condition()


def run_script(source, *args, timeout=30):
    """Runs ``source`` in a fresh interpreter that imports this trainwatch; returns
    (completed process, seconds)."""
    env = dict(os.environ, PYTHONPATH=HERE + os.pathsep + os.environ.get("PYTHONPATH", ""))
    start = time.monotonic()
    proc = subprocess.run([sys.executable, "-c", textwrap.dedent(source)] + list(args),
                          capture_output=True, text=True, env=env, timeout=timeout)
    return proc, time.monotonic() - start


def exit_seconds(proc):
    """How long the interpreter took to exit (the exit handlers), from the
    ``EXITING <time.time()>`` line the script printed last; the start-up time of a
    loaded machine is not counted."""
    stamp = float(proc.stdout.split("EXITING ")[1].split()[0])
    return time.time() - stamp


def per_call_us(run, n=10_000, metrics=None):
    """Seconds per run.log() call, in microseconds, over a tight loop of n calls."""
    metrics = metrics or {"loss": 0.25, "lr": 3e-4, "grad_norm": 1.5}
    start = time.perf_counter()
    for _ in range(n):
        run.log(metrics)
    return (time.perf_counter() - start) / n * 1e6


def warnings_with(records, text):
    return [r for r in records if r.levelno >= logging.WARNING and text in r.getMessage()]


def validate(instance, schema, root, path="$"):
    """The errors of ``instance`` against the JSON Schema subset the agent's schema
    uses ($ref, type, required, properties, additionalProperties, items, enum,
    minimum, maximum)."""
    if "$ref" in schema:
        node = root
        for part in schema["$ref"].lstrip("#/").split("/"):
            node = node[part]
        return validate(instance, node, root, path)
    kind = schema.get("type")
    is_number = isinstance(instance, (int, float)) and not isinstance(instance, bool)
    ok = {"object": isinstance(instance, dict), "array": isinstance(instance, list),
          "string": isinstance(instance, str), "boolean": isinstance(instance, bool),
          "number": is_number, "integer": is_number and isinstance(instance, int),
          None: True}[kind]
    if not ok:
        return ["%s: %r is not %s" % (path, instance, kind)]
    errors = []
    if "enum" in schema and instance not in schema["enum"]:
        errors.append("%s: %r not in %r" % (path, instance, schema["enum"]))
    if is_number and instance < schema.get("minimum", -math.inf):
        errors.append("%s: %r < minimum" % (path, instance))
    if is_number and instance > schema.get("maximum", math.inf):
        errors.append("%s: %r > maximum" % (path, instance))
    if isinstance(instance, dict):
        errors += ["%s: missing %s" % (path, k) for k in schema.get("required", [])
                   if k not in instance]
        props, extra = schema.get("properties", {}), schema.get("additionalProperties", True)
        for key, value in instance.items():
            if key in props:
                errors += validate(value, props[key], root, "%s.%s" % (path, key))
            elif extra is False:
                errors.append("%s: unexpected %s" % (path, key))
            elif isinstance(extra, dict):
                errors += validate(value, extra, root, "%s.%s" % (path, key))
    if isinstance(instance, list) and "items" in schema:
        for i, value in enumerate(instance):
            errors += validate(value, schema["items"], root, "%s[%d]" % (path, i))
    return errors


class FloatLike:
    """A number-like object (a 0-d tensor, a numpy scalar): only __float__."""

    def __init__(self, value):
        self.value = value

    def __float__(self):
        return self.value


_null_handler = logging.NullHandler()


def setUpModule():
    # Keep the client's warnings out of the test output (assertLogs still sees them).
    logging.getLogger("trainwatch").addHandler(_null_handler)


def tearDownModule():
    logging.getLogger("trainwatch").removeHandler(_null_handler)


class AgentTestCase(unittest.TestCase):
    """A fake agent per test, and every run started in the test finished after it."""

    def setUp(self):
        self.agent = FakeAgent()
        self.addCleanup(self.agent.stop)

    def init(self, **kwargs):
        kwargs.setdefault("url", self.agent.url)
        run = trainwatch.init(**kwargs)
        self.addCleanup(run.finish, timeout=1)
        return run


# -------------------------------------------------------------------- tests


class LogTest(AgentTestCase):

    def test_lines_arrive_with_step_time_and_values(self):
        run = self.init(name="lines")
        before = time.time()
        run.log({"loss": 0.5, "lr": 3e-4})
        run.log({"loss": float("nan"), "a": float("inf"), "b": -math.inf})
        run.log({"flag": True, "off": False, "name": "resnet", "none": None, "list": [1, 2],
                 "frac": fractions.Fraction(1, 4), "tensor": FloatLike(2.5), 7: 1}, epoch=1)
        run.log({"loss": 0.1}, step=10)
        run.log({"loss": 0.2})
        run.log({"step": 99, "time": 0, "loss": 0.3, "epoch": 2})
        after = time.time()
        # No flush(): the background thread delivers within about half a second.
        self.assertTrue(wait_for(lambda: len(self.agent.lines) == 6, timeout=5),
                        self.agent.lines)

        lines = [line for _, line in self.agent.lines]
        self.assertEqual([line["step"] for line in lines], [0, 1, 2, 10, 11, 12])
        for line in lines:
            self.assertGreaterEqual(line["time"], before)
            self.assertLessEqual(line["time"], after)
            self.assertIsInstance(line["time"], float)
        self.assertEqual(lines[0], {"step": 0, "time": lines[0]["time"], "loss": 0.5, "lr": 3e-4})
        self.assertTrue(math.isnan(lines[1]["loss"]))
        self.assertEqual((lines[1]["a"], lines[1]["b"]), (math.inf, -math.inf))
        self.assertEqual({k: v for k, v in lines[2].items() if k != "time"},
                         {"step": 2, "epoch": 1, "flag": 1, "off": 0, "frac": 0.25,
                          "tensor": 2.5, "7": 1})
        self.assertEqual(lines[5]["epoch"], 2)  # a metric named epoch is sent as such
        self.assertNotEqual(lines[5]["time"], 0)  # "time" and "step" are reserved

        raw = "".join(text for _, text, _ in self.agent.batches)
        self.assertIn('"loss":NaN', raw)  # bare, as json.dumps writes them
        self.assertIn('"a":Infinity', raw)
        self.assertIn('"b":-Infinity', raw)
        for _, text, content_type in self.agent.batches:
            self.assertEqual(content_type, "application/x-ndjson")
            self.assertTrue(text.endswith("\n"))
        self.assertTrue(wait_for(lambda: run.stats["sent"] == 6, timeout=5))
        self.assertEqual(run.stats, {"logged": 6, "sent": 6, "rejected": 0, "dropped": 0,
                                     "pending": 0})

    def test_registration(self):
        config = {"lr": 3e-4, "path": pathlib.PurePosixPath("/data/x"), "dropout": float("nan"),
                  "args": argparse.Namespace(batch_size=32), "layers": (1, 2), "tags": {"a"}}
        run = self.init(name="reg test", config=config, total_steps=1000, total_epochs=2.5,
                        tags=["baseline"])
        self.assertEqual(len(self.agent.registrations), 1)
        body = self.agent.registrations[0]
        self.assertEqual(body["name"], "reg test")
        self.assertEqual(body["id"], run.id)
        self.assertTrue(run.id.startswith("reg-test-"), run.id)
        self.assertEqual(body["config"], {"lr": 3e-4, "path": "/data/x", "dropout": "nan",
                                          "args": {"batch_size": 32}, "layers": [1, 2],
                                          "tags": ["a"]})
        self.assertEqual(body["host"], socket.gethostname())
        self.assertTrue(body["command"])
        self.assertEqual((body["total_steps"], body["total_epochs"]), (1000, 2.5))
        self.assertEqual(body["tags"], ["baseline"])
        self.assertEqual(run.info["status"], "running")

    def test_invalid_step_and_epoch_are_left_out(self):
        # The agent would refuse the whole batch for one of these.
        run = self.init(name="invalid")
        run.log({"loss": 1.0}, step=-1)
        run.log({"loss": 2.0}, step=1.5)
        run.log({"loss": 3.0}, step=4.0, epoch=float("nan"))
        run.log({"loss": 4.0, "epoch": -1})
        run.log({"loss": 5.0}, epoch=math.inf)
        run.log({"loss": 6.0, "epoch": "one", "global_step": 3, "timestamp": 1, "_time": 2},
                step=7, epoch=0.5)
        self.assertTrue(run.flush())
        lines = [line for _, line in self.agent.lines]
        self.assertEqual([line.get("step") for line in lines], [None, None, 4, 5, 6, 7])
        self.assertEqual([line.get("epoch") for line in lines], [None] * 5 + [0.5])
        self.assertEqual(sorted(lines[5]), ["epoch", "loss", "step", "time"])
        self.assertEqual(run.stats["rejected"], 0)

    def test_generated_ids_are_valid_agent_ids(self):
        agent_rule = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$"
        for name in ["train", "_private", "my run/v2", "..", "日本語", "x" * 300, "-a-"]:
            self.assertRegex(trainwatch._new_id(name), agent_rule)
        self.assertTrue(trainwatch._new_id("_private").startswith("private-"))
        self.assertTrue(trainwatch._new_id("日本語").startswith("run-"))

    def test_given_id_attaches(self):
        run = self.init(name="resume", id="my-run-1")
        self.assertEqual(run.id, "my-run-1")
        run.log({"loss": 1})
        self.assertTrue(run.flush())
        self.assertEqual(self.agent.lines[0][0], "my-run-1")

    def test_agent_without_tags_field(self):
        self.agent.reject_tags = True
        run = self.init(name="tagged", tags=["x"])
        self.assertEqual(len(self.agent.registrations), 1)
        self.assertNotIn("tags", self.agent.registrations[0])
        self.assertEqual(run.info["name"], "tagged")

    def test_finish_sends_status(self):
        run = self.init(name="fin")
        run.log({"loss": 1.0})
        run.finish("failed", exit_code=3)
        run.finish()  # a second call does nothing
        self.assertEqual(self.agent.finishes, [(run.id, {"status": "failed", "exit_code": 3})])
        self.assertEqual(len(self.agent.lines), 1)  # delivered before the finish
        self.assertTrue(run.finished)
        with self.assertRaises(ValueError):
            self.init(name="x").finish("done")

    def test_log_after_finish_is_ignored(self):
        run = self.init(name="late")
        run.finish()
        with self.assertLogs("trainwatch", "WARNING") as logs:
            run.log({"loss": 1})
            run.log({"loss": 2})
        self.assertEqual(len(warnings_with(logs.records, "log() calls are ignored")), 1)
        self.assertEqual(self.agent.lines, [])

    def test_context_manager(self):
        with self.init(name="ok") as run:
            run.log({"loss": 1})
        with self.assertRaises(ZeroDivisionError):
            with self.init(name="boom") as failing:
                failing.log({"loss": 1})
                1 / 0
        self.assertEqual(self.agent.finishes, [(run.id, {"status": "finished"}),
                                               (failing.id, {"status": "failed"})])

    def test_rejected_batch_logged_once_and_loop_continues(self):
        self.agent.reject_key = "bad"
        run = self.init(name="reject")
        with self.assertLogs("trainwatch", "WARNING") as logs:
            for i in range(3):
                run.log({"bad": 1.0})
                self.assertTrue(run.flush())
                run.log({"loss": float(i)})
                self.assertTrue(run.flush())
        rejected = warnings_with(logs.records, "rejected")
        self.assertEqual(len(rejected), 1, [r.getMessage() for r in logs.records])
        self.assertIn("HTTP 400: line 1: bad value for bad", rejected[0].getMessage())
        self.assertEqual([line["loss"] for _, line in self.agent.lines], [0.0, 1.0, 2.0])
        self.assertEqual(run.stats["rejected"], 3)
        self.assertEqual(run.stats["sent"], 3)

    def test_large_backlog_goes_in_batches(self):
        run = self.init(name="batches")
        for i in range(2500):
            run.log({"loss": i})
        self.assertTrue(run.flush())
        self.assertEqual(self.agent.steps(), list(range(2500)))
        self.assertGreaterEqual(len(self.agent.batches), 3)
        self.assertTrue(all(text.count("\n") <= trainwatch.MAX_BATCH_LINES
                            for _, text, _ in self.agent.batches))

    def test_update_config_registers_again(self):
        run = self.init(name="cfg", config={"a": 1})
        run.update_config({"b": 2})
        self.assertTrue(wait_for(lambda: len(self.agent.registrations) == 2, timeout=5))
        self.assertEqual(self.agent.registrations[1]["config"], {"a": 1, "b": 2})
        self.assertEqual(self.agent.registrations[1]["id"], run.id)


class NonBlockingTest(AgentTestCase):

    def test_log_does_not_wait_for_a_slow_agent(self):
        run = self.init(name="paused")
        self.agent.gate.clear()  # every log request now hangs in the agent
        run.log({"loss": 0.0})
        run._wake.set()
        time.sleep(0.2)  # the flusher is now blocked in a POST
        cost = per_call_us(run)
        print("\n    log() with the agent stalled: %.2f us per call (10,000 calls)" % cost,
              file=sys.stderr)
        self.assertLess(cost, 50.0)
        self.assertEqual(run.stats["dropped"], 0)
        self.agent.gate.set()
        self.assertTrue(run.flush(timeout=10))
        self.assertGreaterEqual(len(self.agent.lines), 10_001)  # may hold a resent batch


class AgentDownTest(unittest.TestCase):

    def test_init_returns_quickly_and_drops_are_counted_once(self):
        url = "http://127.0.0.1:%d" % free_port()
        with self.assertLogs("trainwatch", "WARNING") as logs:
            start = time.perf_counter()
            run = trainwatch.init(name="down", url=url, max_buffer=1000)
            took = time.perf_counter() - start
            self.assertLess(took, 0.5)
            costs = []
            for _ in range(5):  # 50,000 calls in five loops, the flusher running between
                costs.append(per_call_us(run))
                time.sleep(0.1)
            print("\n    init with the agent down: %.1f ms; log(): %s us per call" % (
                took * 1000, ", ".join("%.2f" % c for c in costs)), file=sys.stderr)
            self.assertLess(max(costs), 50.0)
            start = time.perf_counter()
            run.finish()
            self.assertLess(time.perf_counter() - start, 1.5)
        messages = [r.getMessage() for r in logs.records]
        self.assertEqual(len(warnings_with(logs.records, "dropped so far")), 1, messages)
        self.assertEqual(len(warnings_with(logs.records, "unreachable (")), 1, messages)
        summary = warnings_with(logs.records, "0 of 50000 log entries delivered")
        self.assertEqual(len(summary), 1, messages)
        self.assertIn("49000 dropped (buffer full), 1000 not delivered", summary[0].getMessage())
        self.assertIn("the agent was not told the run finished", summary[0].getMessage())
        self.assertEqual(run.stats, {"logged": 50000, "sent": 0, "rejected": 0,
                                     "dropped": 49000, "pending": 1000})

    def test_exit_does_not_hang_when_agent_is_down(self):
        proc, took = run_script("""
            import sys, time, trainwatch
            run = trainwatch.init(name="exit-down", url=sys.argv[1])
            for i in range(10000):
                run.log({"loss": 1.0 / (i + 1)})
            print("EXITING", time.time())
        """, "http://127.0.0.1:%d" % free_port())
        self.assertEqual(proc.returncode, 0, proc.stderr)
        exiting = exit_seconds(proc)
        print("\n    script with the agent down: exit took %.2f s (%.2f s in all)" % (
            exiting, took), file=sys.stderr)
        self.assertLess(exiting, 1.5)
        self.assertLess(took, 15.0)
        self.assertIn("unreachable (Connection refused)", proc.stderr)
        self.assertIn("0 of 10000 log entries delivered", proc.stderr)
        self.assertNotIn("Traceback", proc.stderr)

    def test_exit_does_not_hang_when_agent_hangs(self):
        # Accepts connections (the kernel's backlog) but never answers.
        with socket.socket() as hung:
            hung.bind(("127.0.0.1", 0))
            hung.listen(64)
            proc, took = run_script("""
                import sys, time, trainwatch
                run = trainwatch.init(name="exit-hung", url=sys.argv[1])
                for i in range(1000):
                    run.log({"loss": 1.0})
                time.sleep(1)  # the flusher is now waiting for an answer
                print("EXITING", time.time())
            """, "http://127.0.0.1:%d" % hung.getsockname()[1])
        self.assertEqual(proc.returncode, 0, proc.stderr)
        exiting = exit_seconds(proc)
        print("\n    script with the agent hung: exit took %.2f s (%.2f s in all)" % (
            exiting, took), file=sys.stderr)
        # At most EXIT_TIMEOUT at exit (plus the interpreter's own teardown).
        self.assertLess(exiting, trainwatch.EXIT_TIMEOUT + 1.0)
        self.assertLess(took, 15.0)
        self.assertIn("timed out", proc.stderr)
        self.assertNotIn("Traceback", proc.stderr)


class ExitTest(AgentTestCase):

    def test_exit_delivers_and_marks_finished(self):
        proc, _ = run_script("""
            import sys, trainwatch
            run = trainwatch.init(name="exit-ok", url=sys.argv[1], id="exit-ok-1")
            for i in range(10000):
                run.log({"loss": 1.0})
        """, self.agent.url)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertEqual(self.agent.steps("exit-ok-1"), list(range(10000)))
        self.assertEqual(self.agent.finishes, [("exit-ok-1", {"status": "finished"})])
        self.assertEqual(proc.stderr, "")

    def test_uncaught_exception_marks_failed(self):
        proc, _ = run_script("""
            import sys, trainwatch
            run = trainwatch.init(name="exit-fail", url=sys.argv[1], id="exit-fail-1")
            run.log({"loss": 1.0})
            raise RuntimeError("boom")
        """, self.agent.url)
        self.assertEqual(proc.returncode, 1)
        self.assertIn("RuntimeError: boom", proc.stderr)
        self.assertEqual(self.agent.finishes, [("exit-fail-1", {"status": "failed",
                                                                "exit_code": 1})])
        self.assertEqual(self.agent.steps("exit-fail-1"), [0])


class RestartTest(AgentTestCase):

    def test_buffered_entries_are_delivered_after_a_restart(self):
        run = self.init(name="restart")
        for i in range(100):
            run.log({"loss": float(i)})
        self.assertTrue(run.flush())
        first = self.agent
        first.stop()

        for i in range(100, 600):
            run.log({"loss": float(i)})
        self.assertFalse(run.flush(timeout=1))  # down: fails at once
        time.sleep(1.0)  # a few background retries fail too

        second = FakeAgent(port=first.port)
        self.addCleanup(second.stop)
        self.assertTrue(wait_for(lambda: len(second.lines) >= 500, timeout=15))
        time.sleep(0.6)  # anything more would be a duplicate
        self.assertEqual(first.steps(), list(range(100)))
        self.assertEqual(second.steps(run.id), list(range(100, 600)))
        self.assertEqual([line["loss"] for _, line in second.lines],
                         [float(i) for i in range(100, 600)])
        # The restarted agent learnt the run again before its logs.
        self.assertEqual(second.registrations[0]["id"], run.id)
        self.assertEqual(second.registrations[0]["name"], "restart")
        self.assertEqual(run.stats["dropped"], 0)


def fixture_runs():
    return [
        {"id": "llama-ft-20260301-070000-a1b2c3", "name": "llama-ft", "host": "trainer-01",
         "start": "2026-03-01T07:00:00Z", "end": None, "status": "running", "step": 1500,
         "epoch": 0, "total_steps": 10000, "total_epochs": 3, "progress": 0.15,
         "steps_per_second": 2.25, "samples_per_second": 72, "tokens_per_second": 147456,
         "eta_seconds": 3778, "command": "python train.py", "config": {"lr": 0.0003},
         "last_step_time": "2026-03-01T12:00:09Z",
         "metrics": {"training_loss": 0.42131, "validation_loss": 0.5, "learning_rate": 0.0003}},
        {"id": "<b>odd</b>", "name": "<b>odd</b>", "status": "stalled", "step": 7,
         "metrics": {"training_loss": "NaN"}},
        {"id": "old", "name": "old", "status": "finished", "step": 100, "metrics": {}},
    ]


GOLDEN_TEXT = """\
trainwatch: trainer-01 (6.8.0-45-generic, x86_64) at 2026-03-01 12:00:10 UTC, up 3d 04h
agent AGENT_URL

GPUS
  GPU  MODEL                   UTIL  MEM USED     TOTAL   MEM%  TEMP      POWER
  0    NVIDIA H100 80GB HBM3  97.0%  70.3 GiB  79.6 GiB  88.3%  71°C  612/700 W
  1    NVIDIA H100 80GB HBM3   3.0%   1.0 GiB  79.6 GiB   1.3%  38°C      118 W
  2    NVIDIA H100 80GB HBM3   LOST         -         -      -     -          -

HOST
  CPU     55.0% busy of 2 CPUs, load 3.50 2.25 1.12
  MEMORY  48.0 GiB / 64.0 GiB used (75.0%), swap 2.0 GiB / 8.0 GiB (25.0%)

FILESYSTEMS
  MOUNT          DEVICE          TYPE      USED       SIZE   USE%
  /              /dev/nvme0n1p2  ext4  95.0 GiB  100.0 GiB  95.0%
  /data          /dev/sda1       xfs    3.0 TiB    4.0 TiB  75.0%  read-only
  /mnt/datasets  nas:/datasets   nfs4         -          -      -  error: mountpoint timeout

RUNS (2 active, 1 ended)
  NAME        ID                               STATUS         STEP  PROGRESS    LOSS  VAL LOSS      LR  STEPS/S     ETA
  llama-ft    llama-ft-20260301-070000-a1b2c3  running  1500/10000     15.0%  0.4213       0.5  0.0003   2.25/s  1h 02m
  <b>odd</b>  <b>odd</b>                       stalled           7         -     NaN         -       -        -       -"""


class SummaryTest(AgentTestCase):

    def setUp(self):
        super().setUp()
        with open(FIXTURE) as f:
            self.agent.snapshot = json.load(f)
        self.agent.runs = {r["id"]: r for r in fixture_runs()}

    @unittest.skipUnless(os.path.exists(SCHEMA), "docs/schema is not next to the client")
    def test_fixture_follows_the_schema(self):
        with open(SCHEMA) as f:
            schema = json.load(f)
        self.assertEqual(validate(self.agent.snapshot, schema, schema), [])
        broken = dict(self.agent.snapshot, surprise=1)
        del broken["cpu"]
        self.assertEqual(validate(broken, schema, schema),
                         ["$: missing cpu", "$: unexpected surprise"])

    def test_text(self):
        s = trainwatch.summary(url=self.agent.url)
        text = str(s)
        self.assertTrue(s.ok)
        self.assertEqual(repr(s), text)
        self.assertEqual(text, GOLDEN_TEXT.replace("AGENT_URL", self.agent.url))

    def test_html(self):
        page = trainwatch.summary(url=self.agent.url)._repr_html_()
        self.assertTrue(page.startswith('<div class="trainwatch-summary"'))
        self.assertEqual(page.count("<table"), 3)  # GPUs, filesystems, runs
        self.assertIn("NVIDIA H100 80GB HBM3", page)
        self.assertIn(">612/700 W</td>", page)
        self.assertIn("&lt;b&gt;odd&lt;/b&gt;", page)
        self.assertNotIn("<b>odd</b>", page)

    def test_runs_as_a_bare_list(self):
        self.agent.runs_wrapped = False
        self.assertEqual(len(trainwatch.summary(url=self.agent.url).active_runs), 2)

    def test_agent_without_runs_api(self):
        self.agent.runs_status = 404
        text = str(trainwatch.summary(url=self.agent.url))
        self.assertIn("NVIDIA H100", text)
        self.assertIn("RUNS\n  not available: HTTP 404: 404 page not found", text)

    def test_no_snapshot_yet(self):
        self.agent.snapshot = None
        s = trainwatch.summary(url=self.agent.url)
        self.assertFalse(s.ok)
        self.assertEqual(str(s), "trainwatch: agent at %s HTTP 503: no snapshot yet: the first "
                                 "collection has not finished" % self.agent.url)

    def test_no_gpu(self):
        self.agent.snapshot["gpus"] = []
        self.assertIn("GPUS\n  none detected", str(trainwatch.summary(url=self.agent.url)))

    def test_agent_down(self):
        url = "http://127.0.0.1:%d" % free_port()
        s = trainwatch.summary(url=url)
        self.assertFalse(s.ok)
        self.assertEqual(str(s), "trainwatch: agent at %s unreachable (Connection refused); "
                                 "is it running? (trainwatch serve)" % url)
        self.assertNotIn("\n", str(s))
        self.assertIn("unreachable", s._repr_html_())
        proc, _ = run_script("import sys, trainwatch; print(trainwatch.summary(url=sys.argv[1]))",
                             url)
        self.assertEqual(proc.returncode, 0)
        self.assertEqual(proc.stdout.strip(), str(s))
        self.assertEqual(proc.stderr, "")


class UrlTest(unittest.TestCase):

    def test_base_url(self):
        with mock.patch.dict(os.environ, {"TRAINWATCH_URL": "gpu-box:9835/"}):
            self.assertEqual(trainwatch._base_url(None), "http://gpu-box:9835")
            self.assertEqual(trainwatch._base_url("https://x/tw/"), "https://x/tw")
        with mock.patch.dict(os.environ, clear=True):
            self.assertEqual(trainwatch._base_url(None), "http://127.0.0.1:9835")

    def test_invalid_url_is_unreachable_not_an_exception(self):
        with self.assertLogs("trainwatch", "WARNING") as logs:
            run = trainwatch.init(name="bad-url", url="http://localhost:notaport")
            run.log({"loss": 1})
            run.finish()
        self.assertIn("invalid agent URL", logs.records[0].getMessage())


# Stub packages standing in for installed libraries.

def lightning_stub():
    import abc

    class Logger(abc.ABC):
        @property
        @abc.abstractmethod
        def name(self):
            ...

        @property
        @abc.abstractmethod
        def version(self):
            ...

        @abc.abstractmethod
        def log_metrics(self, metrics, step=None):
            ...

        @abc.abstractmethod
        def log_hyperparams(self, params, *args, **kwargs):
            ...

    loggers = types.ModuleType("lightning.pytorch.loggers")
    loggers.Logger = Logger
    return Logger, {"lightning": types.ModuleType("lightning"),
                    "lightning.pytorch": types.ModuleType("lightning.pytorch"),
                    "lightning.pytorch.loggers": loggers}


NO_LIBRARIES = {name: None for name in (
    "lightning", "lightning.pytorch", "lightning.pytorch.loggers", "pytorch_lightning",
    "pytorch_lightning.loggers", "transformers")}


class IntegrationTest(AgentTestCase):

    def test_module_imports_without_the_libraries(self):
        proc, _ = run_script("""
            import sys
            for name in ("lightning", "pytorch_lightning", "transformers", "torch"):
                sys.modules[name] = None  # importing them raises ImportError
            import trainwatch
            assert trainwatch.TrainwatchLogger.__mro__[1:] == (
                trainwatch._LightningLoggerImpl, object), trainwatch.TrainwatchLogger.__mro__
            assert trainwatch.TrainwatchCallback.__mro__[1:] == (
                trainwatch._HFCallbackImpl, object), trainwatch.TrainwatchCallback.__mro__
            from trainwatch import TrainwatchLogger, TrainwatchCallback
            assert "TrainwatchLogger" in dir(trainwatch)
            print("ok")
        """)
        self.assertEqual(proc.stdout.strip(), "ok", proc.stderr)

    def test_lightning_logger_without_lightning(self):
        with mock.patch.dict(sys.modules, NO_LIBRARIES):
            cls = trainwatch._make_lightning_logger()
        self.assertEqual(cls.__mro__[1:], (trainwatch._LightningLoggerImpl, object))
        logger = cls(name="lit", config={"model": "resnet"}, url=self.agent.url, total_steps=50)
        self.assertEqual(logger.name, "lit")
        version = logger.version
        self.assertTrue(version.startswith("lit-"))
        self.assertIsNone(logger.save_dir)
        self.assertEqual(self.agent.registrations, [])  # nothing sent before the first log

        logger.log_hyperparams(argparse.Namespace(lr=0.1, batch_size=32))
        logger.log_metrics({"train_loss": 1.5, "epoch": 0}, step=5)
        run = logger.experiment
        self.addCleanup(run.finish, timeout=1)
        self.assertIsInstance(run, trainwatch.Run)
        self.assertEqual(run.id, version)
        logger.log_hyperparams({"warmup": 10})  # after the start: a config update
        logger.save()
        logger.finalize("success")

        self.assertEqual(self.agent.registrations[0]["config"],
                         {"model": "resnet", "lr": 0.1, "batch_size": 32})
        self.assertEqual(self.agent.registrations[0]["total_steps"], 50)
        self.assertEqual(self.agent.registrations[-1]["config"]["warmup"], 10)
        line = self.agent.lines[0][1]
        self.assertEqual((line["step"], line["epoch"], line["train_loss"]), (5, 0, 1.5))
        self.assertEqual(self.agent.finishes, [(version, {"status": "finished"})])

        # trainer.test() after fit: logs attach to the same run again.
        logger.log_metrics({"test_loss": 0.7}, step=6)
        self.addCleanup(logger.experiment.finish, timeout=1)
        logger.finalize("failed")
        self.assertEqual(self.agent.registrations[-1]["id"], version)
        self.assertEqual(self.agent.lines[-1], (version, self.agent.lines[-1][1]))
        self.assertEqual(self.agent.finishes[-1], (version, {"status": "failed"}))

    def test_lightning_logger_on_other_ranks_does_nothing(self):
        with mock.patch.dict(os.environ, {"RANK": "1"}):
            logger = trainwatch.TrainwatchLogger(name="r1", url=self.agent.url)
            logger.log_hyperparams({"a": 1})
            logger.log_metrics({"loss": 1.0}, step=1)
            self.assertFalse(logger.experiment)
            logger.experiment.log({"loss": 1.0})  # does nothing
            logger.finalize("success")
        self.assertEqual(self.agent.registrations, [])

    def test_lightning_logger_subclasses_lightning(self):
        base, modules = lightning_stub()
        with mock.patch.dict(sys.modules, modules):
            cls = trainwatch._make_lightning_logger()
        self.assertTrue(issubclass(cls, base))
        logger = cls(name="abc", url=self.agent.url)  # the abstract methods are implemented
        self.assertIsInstance(logger, base)
        self.assertEqual(cls.__name__, "TrainwatchLogger")
        self.assertEqual(cls.__module__, "trainwatch")

    def hf_objects(self, **state):
        args = types.SimpleNamespace(
            to_dict=lambda: {"learning_rate": 5e-5, "per_device_train_batch_size": 8,
                             "output_dir": "out"},
            run_name="bert-ft", num_train_epochs=3.0)
        state = types.SimpleNamespace(**dict(dict(max_steps=300, global_step=0, epoch=0.0,
                                                  num_train_epochs=3,
                                                  is_world_process_zero=True), **state))
        return args, state, types.SimpleNamespace(should_stop=False)

    def test_hf_callback_without_transformers(self):
        with mock.patch.dict(sys.modules, NO_LIBRARIES):
            cls = trainwatch._make_hf_callback()
        self.assertEqual(cls.__mro__[1:], (trainwatch._HFCallbackImpl, object))
        callback = cls(config={"dataset": "glue"}, url=self.agent.url)
        args, state, control = self.hf_objects()
        callback.on_train_begin(args, state, control, model=None)
        self.addCleanup(callback.run.finish, timeout=1)
        state.global_step, state.epoch = 10, 0.1
        callback.on_log(args, state, control, logs={"loss": 0.5, "learning_rate": 4.9e-5,
                                                    "grad_norm": 1.2, "epoch": 0.1})
        callback.on_log(args, state, control, logs=None)
        state.global_step, state.epoch = 300, 3.0
        callback.on_log(args, state, control, logs={"eval_loss": 0.4, "epoch": 3.0})
        callback.on_train_end(args, state, control)

        reg = self.agent.registrations[0]
        self.assertEqual(reg["name"], "bert-ft")
        self.assertEqual((reg["total_steps"], reg["total_epochs"]), (300, 3))
        self.assertEqual(reg["config"], {"learning_rate": 5e-5, "per_device_train_batch_size": 8,
                                         "output_dir": "out", "dataset": "glue"})
        lines = [line for _, line in self.agent.lines]
        self.assertEqual([(l["step"], l["epoch"]) for l in lines], [(10, 0.1), (300, 3.0)])
        self.assertEqual(lines[0]["loss"], 0.5)
        self.assertEqual(lines[1]["eval_loss"], 0.4)
        self.assertEqual(self.agent.finishes, [(callback.run.id, {"status": "finished"})])

    def test_hf_callback_on_other_processes_does_nothing(self):
        callback = trainwatch.TrainwatchCallback(url=self.agent.url)
        args, state, control = self.hf_objects(is_world_process_zero=False)
        callback.on_train_begin(args, state, control)
        callback.on_log(args, state, control, logs={"loss": 1.0})
        callback.on_train_end(args, state, control)
        self.assertIsNone(callback.run)
        self.assertEqual(self.agent.registrations, [])

    def test_hf_callback_subclasses_trainer_callback(self):
        class TrainerCallback:
            def on_step_end(self, args, state, control, **kwargs):
                return None

        transformers = types.ModuleType("transformers")
        transformers.TrainerCallback = TrainerCallback
        with mock.patch.dict(sys.modules, {"transformers": transformers}):
            cls = trainwatch._make_hf_callback()
        self.assertTrue(issubclass(cls, TrainerCallback))
        callback = cls(name="x", url=self.agent.url)
        self.assertIsNone(callback.on_step_end(None, None, None))  # inherited events work


if __name__ == "__main__":
    unittest.main()
