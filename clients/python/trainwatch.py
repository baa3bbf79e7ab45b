"""trainwatch: send training metrics to the trainwatch agent, and read its view of the host.

One file, standard library only, Python 3.8+. Copy it next to your training script
or put its directory on ``PYTHONPATH``::

    import trainwatch

    run = trainwatch.init(name="llama-ft", config={"lr": 3e-4, "batch_size": 32},
                          total_steps=10_000)
    for step in range(10_000):
        loss = train_step()
        run.log({"loss": loss, "lr": scheduler.get_last_lr()[0]})
    run.finish()

    print(trainwatch.summary())   # GPUs, CPU, memory, filesystems, active runs

The agent (``trainwatch serve``) listens on ``TRAINWATCH_URL`` (default
``http://127.0.0.1:9835``). Training never depends on it: :func:`init` never raises
because the agent is down, :meth:`Run.log` only appends to an in-memory buffer, and a
background thread delivers the buffer, retrying while the agent is unreachable. What
cannot be buffered (more than ``max_buffer`` entries waiting) is dropped and counted,
with one warning on the ``trainwatch`` logger.

Integrations, built on first access so that importing this module never imports them:

- :class:`TrainwatchLogger`, a PyTorch Lightning logger;
- :class:`TrainwatchCallback`, a Hugging Face ``transformers`` ``TrainerCallback``.
"""

from __future__ import annotations

import argparse
import atexit
import collections
import dataclasses
import enum
import html
import http.client
import importlib
import itertools
import json
import logging
import math
import numbers
import os
import re
import secrets
import shlex
import socket
import sys
import threading
import time
import types
import urllib.parse
from typing import Any, Dict, Iterable, List, Mapping, Optional, Tuple

__version__ = "0.1.0"

__all__ = [
    "DEFAULT_URL",
    "Run",
    "Summary",
    "TrainwatchCallback",
    "TrainwatchLogger",
    "init",
    "summary",
]

#: The agent's address when neither ``url=`` nor ``TRAINWATCH_URL`` says otherwise.
DEFAULT_URL = "http://127.0.0.1:9835"

#: How long :func:`init` waits for the agent to register the run (seconds).
REGISTER_TIMEOUT = 0.5
#: Timeout of every other request to the agent (seconds).
REQUEST_TIMEOUT = 2.0
#: The background thread flushes this often (seconds)...
FLUSH_INTERVAL = 0.5
#: ... or as soon as this many entries wait.
FLUSH_AT = 1000
#: Entries kept while the agent is unreachable; older ones are dropped beyond it.
MAX_BUFFER = 100_000
#: Largest log batch sent in one request, in lines and in bytes.
MAX_BATCH_LINES = 1000
MAX_BATCH_BYTES = 1 << 20
#: Retry delays while the agent is unreachable (seconds): doubling from min to max.
BACKOFF_MIN = 0.5
BACKOFF_MAX = 5.0
#: What the exit handler may spend delivering and finishing all open runs (seconds).
EXIT_TIMEOUT = 2.0

_NDJSON = "application/x-ndjson"
_JSON = "application/json"
_USER_AGENT = "trainwatch-python/" + __version__

# Keys the agent reads as the step or the time (the client sets those itself): a
# metric of that name is left out.
_RESERVED = frozenset(("step", "global_step", "time", "timestamp", "_time"))
# Steps are whole numbers from 0 to 2**53 (the agent refuses a batch with another).
_MAX_STEP = 1 << 53

_log = logging.getLogger("trainwatch")
_encode_json = json.JSONEncoder(separators=(",", ":")).encode  # NaN/Infinity allowed
_time = time.time


# --------------------------------------------------------------------------- HTTP


class _AgentError(Exception):
    """A request to the agent failed; ``str()`` says why in a few words."""

    def __init__(self, message: str, status: Optional[int] = None):
        super().__init__(message)
        self.status = status


def _base_url(url: Optional[str]) -> str:
    """The agent's base URL: ``url``, else ``$TRAINWATCH_URL``, else the default."""
    url = (url or os.environ.get("TRAINWATCH_URL") or DEFAULT_URL).strip()
    if "://" not in url:
        url = "http://" + url
    return url.rstrip("/")


def _request(method: str, url: str, body: Optional[bytes] = None,
             content_type: str = _JSON, timeout: float = REQUEST_TIMEOUT) -> Tuple[int, bytes]:
    """Sends one request and returns ``(status, body)``.

    A fresh connection each time (the agent is local and a request every half
    second is cheap), and no proxy: ``http_proxy`` is for the outside world, not
    for an agent on this machine. Raises ``OSError`` or ``http.client.HTTPException``
    when no response came back.
    """
    parts = urllib.parse.urlsplit(url)
    try:
        host, port = parts.hostname or "", parts.port
    except ValueError as exc:  # a port that is not a number
        raise OSError("invalid agent URL %s: %s" % (url, exc)) from None
    if parts.scheme == "https":
        conn: http.client.HTTPConnection = http.client.HTTPSConnection(host, port, timeout=timeout)
    else:
        conn = http.client.HTTPConnection(host, port, timeout=timeout)
    path = (parts.path or "/") + ("?" + parts.query if parts.query else "")
    headers = {"User-Agent": _USER_AGENT, "Accept": _JSON}
    if body is not None:
        headers["Content-Type"] = content_type
    try:
        conn.request(method, path, body=body, headers=headers)
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


def _reason(exc: BaseException) -> str:
    """A short description of a connection error: 'Connection refused', 'timed out'."""
    return getattr(exc, "strerror", None) or str(exc) or type(exc).__name__


def _error_text(status: int, body: bytes) -> str:
    """'HTTP 400: <the agent's error message>' from an error response."""
    text = body.decode("utf-8", "replace").strip()
    try:
        doc = json.loads(text)
        if isinstance(doc, dict) and doc.get("error"):
            text = str(doc["error"])
    except ValueError:
        pass
    text = " ".join(text.split())
    if len(text) > 200:
        text = text[:197] + "..."
    return "HTTP %d: %s" % (status, text) if text else "HTTP %d" % status


def _get_json(url: str, timeout: float) -> Any:
    """GETs a JSON document, raising :class:`_AgentError` on any failure."""
    try:
        status, body = _request("GET", url, timeout=timeout)
    except (OSError, http.client.HTTPException) as exc:
        raise _AgentError("unreachable (%s)" % _reason(exc)) from None
    if status != 200:
        raise _AgentError(_error_text(status, body), status)
    try:
        return json.loads(body)
    except ValueError:
        raise _AgentError("answered with invalid JSON") from None


def _is_transient(status: int) -> bool:
    """Whether a failed request is worth repeating later (server busy or broken)."""
    return status >= 500 or status in (408, 425, 429)


# ------------------------------------------------------------------ conversions


def _number(value: Any) -> Any:
    """``value`` as a JSON number, or ``None`` when it is not numeric.

    Booleans become 0/1; ints and floats (NaN and infinities included) pass; other
    numeric types (numpy scalars, 0-d tensors, Decimal, Fraction) go through
    ``float()``. Strings are not numbers here, even "1.5".
    """
    kind = type(value)
    if kind is float or kind is int:
        return value
    if kind is bool:
        return int(value)
    if isinstance(value, (str, bytes, bytearray)) or value is None:
        return None
    if isinstance(value, (bool, numbers.Integral)):
        return int(value)
    try:
        return float(value)
    except (TypeError, ValueError, OverflowError):
        return None
    except Exception:  # an exotic __float__ (a tensor with many elements, ...)
        return None


def _jsonable(value: Any, depth: int = 0) -> Any:
    """A JSON-encodable copy of a configuration value.

    Mappings, sequences, sets, enums, dataclasses and namespaces are converted;
    non-finite floats become the strings "nan", "inf", "-inf" (strict JSON has no
    NaN); anything else becomes ``str(value)``.
    """
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, enum.Enum):
        return _jsonable(value.value, depth + 1)
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        value = float(value)
        return value if math.isfinite(value) else repr(value)
    if depth > 32:
        return str(value)
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v, depth + 1) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset, collections.deque)):
        return [_jsonable(v, depth + 1) for v in value]
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return _jsonable(dataclasses.asdict(value), depth + 1)
    if isinstance(value, (argparse.Namespace, types.SimpleNamespace)):
        return _jsonable(vars(value), depth + 1)
    tolist = getattr(value, "tolist", None)  # numpy arrays and scalars
    if callable(tolist):
        try:
            return _jsonable(tolist(), depth + 1)
        except Exception:
            pass
    return str(value)


def _as_dict(params: Any) -> Dict[str, Any]:
    """A configuration given as a mapping, a namespace, a dataclass or an object
    with ``to_dict()`` (transformers' TrainingArguments), as a plain dict."""
    if params is None:
        return {}
    if isinstance(params, Mapping):
        return dict(params)
    if dataclasses.is_dataclass(params) and not isinstance(params, type):
        return dataclasses.asdict(params)
    to_dict = getattr(params, "to_dict", None)
    if callable(to_dict):
        return dict(to_dict())
    if hasattr(params, "__dict__"):
        return dict(vars(params))
    raise TypeError("config must be a mapping, a namespace or a dataclass, not %s"
                    % type(params).__name__)


def _default_name() -> str:
    """The run name when none is given: the script's name, or 'notebook'."""
    main = sys.modules.get("__main__")
    path = getattr(main, "__file__", None) or (sys.argv[0] if sys.argv else "")
    base = os.path.splitext(os.path.basename(path or ""))[0]
    if not base or base.startswith("ipykernel") or base in ("-c", "-m"):
        return "notebook" if "ipykernel" in sys.modules else "python"
    return base


def _new_id(name: str) -> str:
    """A run id unique in practice: ``<name>-<YYYYmmdd-HHMMSS>-<6 hex>``, made of
    letters, digits, '.', '_' and '-' and starting with a letter or digit (the
    agent's rule for ids: they are label values and URL path segments)."""
    slug = re.sub(r"[^A-Za-z0-9_.-]+", "-", name)
    slug = re.sub(r"^[^A-Za-z0-9]+", "", slug)[:48].rstrip("-.") or "run"
    return "%s-%s-%s" % (slug, time.strftime("%Y%m%d-%H%M%S"), secrets.token_hex(3))


def _whole(value: float) -> Any:
    """``value`` as an int when it is a whole number (3.0 → 3), else unchanged."""
    return int(value) if value.is_integer() else value


def _command_line() -> str:
    """The command that started this process, shell-quoted."""
    try:
        return shlex.join(sys.argv) if sys.argv else ""
    except Exception:
        return ""


# ------------------------------------------------------------------------- runs

# Runs not finished yet, finished by the exit handler.
_active: List["Run"] = []
_active_lock = threading.Lock()
_hooks_installed = False
_uncaught: Optional[type] = None  # type of the exception that ended the main thread


def _install_hooks() -> None:
    """Registers the exit handler and a ``sys.excepthook`` wrapper that notes an
    uncaught exception (so the exit handler marks open runs failed)."""
    global _hooks_installed
    if _hooks_installed:
        return
    _hooks_installed = True
    previous = sys.excepthook

    def excepthook(exc_type, exc, tb):  # type: ignore[no-untyped-def]
        global _uncaught
        _uncaught = exc_type
        previous(exc_type, exc, tb)

    sys.excepthook = excepthook
    atexit.register(_finish_at_exit)


def _exit_status() -> Tuple[str, Optional[int]]:
    """(status, exit code) for the runs still open when the interpreter exits."""
    exc_type = _uncaught
    if exc_type is None and not hasattr(sys, "ps1") and "IPython" not in sys.modules:
        # A script's uncaught exception also sets sys.last_type (even when someone
        # replaced our excepthook); in interactive sessions it is an old error.
        exc_type = getattr(sys, "last_type", None)
    if exc_type is None:
        return "finished", None
    if issubclass(exc_type, KeyboardInterrupt):
        return "failed", 130
    return "failed", 1


def _finish_at_exit() -> None:
    """Finishes the runs left open, spending at most ``EXIT_TIMEOUT`` in all."""
    with _active_lock:
        runs = [run for run in _active if run._pid == os.getpid()]  # not a fork's
    if not runs:
        return
    status, code = _exit_status()
    deadline = time.monotonic() + EXIT_TIMEOUT
    for run in runs:
        try:
            run.finish(status, code, timeout=max(0.05, deadline - time.monotonic()))
        except Exception:  # never let trainwatch spoil the exit
            _log.debug("trainwatch: finishing %s at exit failed", run.id, exc_info=True)


class Run:
    """One training run: logs metrics to the agent without ever slowing training.

    Create it with :func:`init`. :meth:`log` appends to a bounded in-memory queue;
    a daemon thread registers the run, then every ``flush_interval`` seconds (or
    when ``FLUSH_AT`` entries wait) encodes the queue as NDJSON and POSTs it to
    ``/api/v1/runs/{id}/log``. While the agent is unreachable it keeps up to
    ``max_buffer`` entries and retries with backoff; entries beyond that are
    dropped (the oldest first) and counted.

    Attributes:
        id: the run id (generated here unless given; the agent keeps it).
        name: the run name.
        url: the agent's base URL.
        config: the hyperparameters sent at registration.
        info: the run object the agent last returned (``None`` until registered).
    """

    def __init__(self, name: Optional[str] = None, config: Any = None,
                 id: Optional[str] = None, url: Optional[str] = None,
                 total_steps: Optional[int] = None, total_epochs: Optional[int] = None,
                 tags: Optional[Iterable[str]] = None, *,
                 max_buffer: int = MAX_BUFFER, flush_interval: float = FLUSH_INTERVAL):
        if max_buffer < 1:
            raise ValueError("max_buffer must be at least 1")
        self.url = _base_url(url)
        self.name = str(name) if name else _default_name()
        self.id = str(id) if id else _new_id(self.name)
        self.config: Dict[str, Any] = _as_dict(config)
        self.total_steps = int(total_steps) if total_steps is not None else None
        self.total_epochs = _whole(float(total_epochs)) if total_epochs is not None else None
        self.tags: List[str] = [str(t) for t in tags] if tags else []
        self.info: Optional[Dict[str, Any]] = None

        self._max_buffer = max_buffer
        self._flush_interval = flush_interval
        # log() side: the only state the training thread touches.
        self._queue: collections.deque = collections.deque(maxlen=max_buffer)
        self._wake = threading.Event()
        self._step = 0
        self._logged = 0
        self._closed = False
        # Delivery side, guarded by _lock (held by the flusher or by finish/flush).
        self._lock = threading.Lock()
        self._pending: collections.deque = collections.deque()  # encoded lines
        self._sent = 0
        self._rejected = 0
        self._registered = False   # the agent knows the run (or refused to register it)
        self._reregister = False   # config changed, or the agent went away and came back
        self._send_tags = bool(self.tags)
        self._reachable: Optional[bool] = None
        self._backoff = BACKOFF_MIN
        self._retry_at = 0.0
        self._warned: set = set()
        self._finished = False
        self._pid = os.getpid()
        self._thread: Optional[threading.Thread] = None

    # ---------------------------------------------------------------- public API

    def log(self, metrics: Mapping[str, Any], step: Optional[int] = None,
            epoch: Optional[float] = None) -> None:
        """Records ``metrics`` (name → number) at ``step``; returns at once.

        ``step`` defaults to the previous step + 1 (starting at 0); ``epoch``, when
        given, is sent as the ``epoch`` key (else a metric named ``epoch`` is).
        The time is taken now. Non-numeric values are left out when the entry is
        sent, booleans become 0/1, NaN and infinities are kept; the keys ``step``
        and ``time`` are reserved. Costs about a microsecond: no I/O, no encoding,
        no lock, only an append to a bounded queue.
        """
        if self._closed:
            self._log_after_finish()
            return
        if step is None:
            step = self._step
        self._step = step + 1
        self._logged += 1
        queue = self._queue
        queue.append((step, epoch, _time(), dict(metrics)))
        if len(queue) >= FLUSH_AT and not self._wake.is_set():
            self._wake.set()

    def flush(self, timeout: float = 5.0) -> bool:
        """Delivers what is buffered now, waiting at most ``timeout`` seconds.

        Returns whether everything logged so far reached the agent. Rarely
        needed: the background thread flushes every half second.
        """
        deadline = time.monotonic() + timeout
        if not self._lock.acquire(timeout=max(0.0, timeout)):
            return False
        try:
            self._drain()
            return self._deliver(deadline)
        except Exception:
            _log.debug("trainwatch: flush failed", exc_info=True)
            return False
        finally:
            self._lock.release()

    def finish(self, status: str = "finished", exit_code: Optional[int] = None,
               timeout: float = 5.0) -> None:
        """Delivers the buffer and tells the agent the run ended.

        ``status`` is ``"finished"`` or ``"failed"``. Waits at most ``timeout``
        seconds, and gives up at once when the agent is unreachable. Logs one
        warning when entries were lost (dropped, rejected or undelivered) or the
        agent could not be told. Later calls do nothing.
        """
        if status not in ("finished", "failed"):
            raise ValueError("status must be 'finished' or 'failed', not %r" % (status,))
        with _active_lock:
            if self._finished:
                return
            self._finished = True
        deadline = time.monotonic() + max(0.0, timeout)
        self._closed = True
        self._wake.set()  # the flusher exits at its next turn
        told = False
        if self._lock.acquire(timeout=max(0.0, timeout)):
            try:
                self._drain()
                self._deliver(deadline)
                if self._reachable is not False:
                    told = self._post_finish(status, exit_code, deadline)
            except Exception:
                _log.debug("trainwatch: finishing %s failed", self.id, exc_info=True)
            finally:
                self._lock.release()
        with _active_lock:
            if self in _active:
                _active.remove(self)
        self._report(status, told)

    def update_config(self, params: Any) -> None:
        """Merges ``params`` into the run's config and sends it to the agent again
        (in the background, by registering the same id once more)."""
        self.config.update(_as_dict(params))
        self._reregister = True
        self._wake.set()

    @property
    def stats(self) -> Dict[str, int]:
        """Counts of log entries: ``logged``, ``sent``, ``rejected`` (by the agent,
        with a 4xx), ``dropped`` (buffer full) and ``pending`` (not sent yet).

        Exact once logging has stopped; while the flusher works they may be off by
        the entries it is moving.
        """
        logged = self._logged  # read first, so that dropped is never overestimated
        sent, rejected = self._sent, self._rejected
        pending = len(self._pending) + len(self._queue)
        return {"logged": logged, "sent": sent, "rejected": rejected,
                "dropped": max(0, logged - sent - rejected - pending), "pending": pending}

    @property
    def finished(self) -> bool:
        """Whether :meth:`finish` was called."""
        return self._finished

    def __enter__(self) -> "Run":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:  # type: ignore[no-untyped-def]
        """Finishes the run: failed when the block raised, except for
        ``SystemExit`` with code 0 or None."""
        if exc_type is None:
            self.finish("finished")
        elif issubclass(exc_type, SystemExit):
            code = getattr(exc, "code", None)
            if code is None or code == 0:
                self.finish("finished", 0)
            else:
                self.finish("failed", code if isinstance(code, int) else 1)
        elif issubclass(exc_type, KeyboardInterrupt):
            self.finish("failed", 130)
        else:
            self.finish("failed")

    def __repr__(self) -> str:
        return "<trainwatch.Run %s name=%r url=%s%s>" % (
            self.id, self.name, self.url, " finished" if self._finished else "")

    # ----------------------------------------------------------------- internals

    def _start(self) -> None:
        """Registers the run (briefly) and starts the flusher thread."""
        with self._lock:
            try:
                self._register(REGISTER_TIMEOUT)
            except Exception:
                _log.debug("trainwatch: registering %s failed", self.id, exc_info=True)
        with _active_lock:
            _active.append(self)
        _install_hooks()
        self._thread = threading.Thread(target=self._flusher, name="trainwatch-flush-" + self.id,
                                        daemon=True)
        self._thread.start()

    def _flusher(self) -> None:
        """The background thread: drain, encode and deliver until finished."""
        while not self._closed:
            self._wake.wait(self._flush_interval)
            self._wake.clear()
            with self._lock:
                if self._closed:  # finish() does the last delivery itself
                    return
                try:
                    self._drain()
                    if time.monotonic() >= self._retry_at:
                        self._deliver(None)
                except Exception:  # a bug here must not stop the thread
                    self._warn_once("bug", "trainwatch: unexpected error while sending "
                                    "metrics (training continues)", exc_info=True)
                    self._retry_at = time.monotonic() + BACKOFF_MAX

    def _drain(self) -> None:
        """Moves the queue into the pending lines (encoding each entry), keeps at
        most ``max_buffer`` of them and warns once about drops. Holds ``_lock``."""
        queue, pending, encode = self._queue, self._pending, self._encode
        while True:
            try:
                entry = queue.popleft()
            except IndexError:
                break
            pending.append(encode(entry))
        for _ in range(len(pending) - self._max_buffer):
            pending.popleft()
        dropped = self.stats["dropped"]
        if dropped and "drop" not in self._warned:
            why = ("agent at %s unreachable" % self.url if self._reachable is False
                   else "log buffer full (agent at %s too slow)" % self.url)
            self._warn_once("drop", "trainwatch: %s; %d log entries dropped so far, "
                            "keeping the latest %d (training continues)",
                            why, dropped, self._max_buffer)

    @staticmethod
    def _encode(entry: Tuple[Any, Any, float, Dict[Any, Any]]) -> bytes:
        """One NDJSON line (without the newline) from a queued entry.

        The agent refuses a whole request for one bad line, so a step that is not
        a whole number from 0 to 2**53, or an epoch that is negative, NaN or
        infinite, is left out here rather than sent.
        """
        step, epoch, when, metrics = entry
        line: Dict[str, Any] = {}
        step = _number(step)
        if step is not None and 0 <= step <= _MAX_STEP and step == int(step):
            line["step"] = int(step)
        line["time"] = when
        for key, value in metrics.items():
            key = key if type(key) is str else str(key)
            if not key or key in _RESERVED:
                continue
            number = _number(value)
            if number is not None:
                line[key] = number
        if epoch is not None:
            line["epoch"] = _number(epoch)
        if "epoch" in line:
            number = line["epoch"]
            if number is None or not (0 <= number < math.inf):  # NaN fails both
                del line["epoch"]
        return _encode_json(line).encode("utf-8")

    def _timeout(self, deadline: Optional[float], limit: float = REQUEST_TIMEOUT) -> float:
        """The timeout of the next request: ``limit``, cut to what is left before
        ``deadline``."""
        if deadline is None:
            return limit
        return min(limit, deadline - time.monotonic())

    def _deliver(self, deadline: Optional[float]) -> bool:
        """Registers when needed, then POSTs the pending lines in batches until
        none is left or a request fails. Holds ``_lock``. Returns whether all
        pending lines were delivered (or rejected)."""
        if not self._registered or self._reregister:
            timeout = self._timeout(deadline)
            if timeout <= 0.01 or not self._register(timeout):
                return False
        pending = self._pending
        while pending:
            timeout = self._timeout(deadline)
            if timeout <= 0.01:
                return False
            count, size = 0, 0
            for line in itertools.islice(pending, MAX_BATCH_LINES):
                if count and size + len(line) + 1 > MAX_BATCH_BYTES:
                    break
                count += 1
                size += len(line) + 1
            body = b"\n".join(itertools.islice(pending, count)) + b"\n"
            outcome = self._post_log(body, count, timeout)
            if outcome is None:
                return False
            for _ in range(count):
                pending.popleft()
            if outcome:
                self._sent += count
            else:
                self._rejected += count
        return True

    def _post_log(self, body: bytes, count: int, timeout: float) -> Optional[bool]:
        """POSTs one batch: True when accepted, False when rejected for good (4xx:
        the batch is discarded), None when it should be sent again later."""
        url = "%s/api/v1/runs/%s/log" % (self.url, urllib.parse.quote(self.id, safe=""))
        try:
            status, reply = _request("POST", url, body, _NDJSON, timeout)
        except (OSError, http.client.HTTPException) as exc:
            self._failed("unreachable (%s)" % _reason(exc), connection=True)
            return None
        if 200 <= status < 300:
            self._succeeded()
            return True
        if _is_transient(status):
            self._failed(_error_text(status, reply))
            return None
        self._succeeded()
        self._warn_once("reject", "trainwatch: agent at %s rejected %d log entries of run %s "
                        "(%s); they are discarded, later ones are still sent (training "
                        "continues)", self.url, count, self.id, _error_text(status, reply))
        return False

    def _registration(self) -> Dict[str, Any]:
        """The body of ``POST /api/v1/runs``."""
        body: Dict[str, Any] = {"name": self.name, "id": self.id,
                                "config": _jsonable(self.config),
                                "command": _command_line(), "host": socket.gethostname(),
                                "pid": os.getpid()}
        if self.total_steps is not None:
            body["total_steps"] = self.total_steps
        if self.total_epochs is not None:
            body["total_epochs"] = self.total_epochs
        if self._send_tags:
            body["tags"] = list(self.tags)
        return body

    def _register(self, timeout: float) -> bool:
        """POSTs the run to the agent. Returns whether logs may be sent now: True
        once registered, and also when the agent refused it for good (the agent
        creates an unknown run when its logs arrive)."""
        self._reregister = False
        body = json.dumps(self._registration(), separators=(",", ":"), allow_nan=False)
        try:
            status, reply = _request("POST", self.url + "/api/v1/runs", body.encode("utf-8"),
                                     _JSON, timeout)
        except (OSError, http.client.HTTPException) as exc:
            self._failed("unreachable (%s)" % _reason(exc), connection=True)
            return False
        if status in (200, 201):
            self._succeeded()
            self._registered = True
            try:
                info = json.loads(reply)
            except ValueError:
                info = None
            if isinstance(info, dict):
                self.info = info
                if info.get("id"):
                    self.id = str(info["id"])
            return True
        if _is_transient(status):
            self._reregister = self._registered
            self._failed(_error_text(status, reply))
            return False
        if self._send_tags:  # an agent that does not know "tags": try without them
            self._send_tags = False
            return self._register(timeout)
        self._succeeded()
        self._registered = True
        self._warn_once("register", "trainwatch: agent at %s refused to register run %s (%s); "
                        "sending its metrics anyway", self.url, self.id, _error_text(status, reply))
        return True

    def _post_finish(self, status: str, exit_code: Optional[int], deadline: float) -> bool:
        """POSTs ``/finish``; returns whether the agent accepted it."""
        timeout = self._timeout(deadline)
        if timeout <= 0.01:
            return False
        body: Dict[str, Any] = {"status": status}
        if exit_code is not None:
            body["exit_code"] = int(exit_code)
        url = "%s/api/v1/runs/%s/finish" % (self.url, urllib.parse.quote(self.id, safe=""))
        try:
            code, reply = _request("POST", url, json.dumps(body).encode("utf-8"), _JSON, timeout)
        except (OSError, http.client.HTTPException) as exc:
            self._failed("unreachable (%s)" % _reason(exc), connection=True)
            return False
        if 200 <= code < 300:
            return True
        self._warn_once("finish", "trainwatch: agent at %s did not accept the end of run %s (%s)",
                        self.url, self.id, _error_text(code, reply))
        return False

    def _failed(self, why: str, connection: bool = False) -> None:
        """Notes a failed request: warns once, and backs off before the next try.
        After a connection failure the run is registered again before its next
        logs: a restarted agent may have forgotten it (registering is idempotent)."""
        if connection:
            self._reachable = False
            if self._registered:
                self._reregister = True
        self._warn_once("unreachable", "trainwatch: agent at %s %s; run %s keeps logging to a "
                        "buffer of %d entries and retries in the background (training "
                        "continues)", self.url, why, self.id, self._max_buffer)
        self._retry_at = time.monotonic() + self._backoff
        self._backoff = min(self._backoff * 2, BACKOFF_MAX)

    def _succeeded(self) -> None:
        """Notes a request that got an answer: the agent is back."""
        if self._reachable is False:
            _log.info("trainwatch: agent at %s reachable again; sending run %s's buffer",
                      self.url, self.id)
        self._reachable = True
        self._backoff = BACKOFF_MIN
        self._retry_at = 0.0

    def _warn_once(self, key: str, msg: str, *args: Any, exc_info: bool = False) -> None:
        """Logs ``msg`` as a warning the first time ``key`` is seen, at debug level after."""
        if key in self._warned:
            _log.debug(msg, *args, exc_info=exc_info)
        else:
            self._warned.add(key)
            _log.warning(msg, *args, exc_info=exc_info)

    def _log_after_finish(self) -> None:
        if "after-finish" not in self._warned:
            self._warned.add("after-finish")
            _log.warning("trainwatch: run %s is finished; log() calls are ignored", self.id)

    def _report(self, status: str, told: bool) -> None:
        """The summary at finish: one warning when anything was lost."""
        s = self.stats
        if s["dropped"] or s["rejected"] or s["pending"] or not told:
            losses = []
            if s["dropped"]:
                losses.append("%d dropped (buffer full)" % s["dropped"])
            if s["rejected"]:
                losses.append("%d rejected by the agent" % s["rejected"])
            if s["pending"]:
                losses.append("%d not delivered" % s["pending"])
            if not told:
                losses.append("the agent was not told the run %s" % status)
            _log.warning("trainwatch: run %s %s: %d of %d log entries delivered to %s; %s",
                         self.id, status, s["sent"], s["logged"], self.url, ", ".join(losses))
        else:
            _log.info("trainwatch: run %s %s: %d log entries delivered to %s",
                      self.id, status, s["sent"], self.url)


def init(name: Optional[str] = None, config: Any = None, id: Optional[str] = None,
         url: Optional[str] = None, total_steps: Optional[int] = None,
         total_epochs: Optional[int] = None, tags: Optional[Iterable[str]] = None, *,
         max_buffer: int = MAX_BUFFER, flush_interval: float = FLUSH_INTERVAL) -> Run:
    """Starts a run and registers it with the agent.

    Args:
        name: the run's name; default: the script's name.
        config: hyperparameters (a mapping, namespace or dataclass; any JSON).
        id: attach to (resume) this run id; default: a new id
            ``<name>-<YYYYmmdd-HHMMSS>-<6 hex>``, generated here.
        url: the agent; default ``$TRAINWATCH_URL`` or ``http://127.0.0.1:9835``.
        total_steps, total_epochs: the planned length (for progress and ETA).
        tags: labels for the run.
        max_buffer: log entries kept while the agent is unreachable.
        flush_interval: seconds between deliveries.

    Never raises because the agent is down or slow: it waits at most
    ``REGISTER_TIMEOUT`` (0.5 s) and otherwise keeps working offline, registering in
    the background once the agent answers. The run is finished at interpreter exit
    if :meth:`Run.finish` was not called (failed after an uncaught exception).
    Usable as a context manager: ``with trainwatch.init(...) as run:``.
    """
    run = Run(name=name, config=config, id=id, url=url, total_steps=total_steps,
              total_epochs=total_epochs, tags=tags, max_buffer=max_buffer,
              flush_interval=flush_interval)
    run._start()
    return run


# ---------------------------------------------------------------------- summary


def _num(value: Any) -> Optional[float]:
    """``value`` as a float when it is a finite number, else ``None``."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if math.isfinite(value) else None


def _fmt_bytes(value: Any) -> str:
    """Binary units, as the agent's text view: '512.0 MiB', '139.9 GiB'."""
    n = _num(value)
    if n is None:
        return "-"
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(n) < 1024:
            return "%d B" % n if unit == "B" else "%.1f %s" % (n, unit)
        n /= 1024
    return "%.1f PiB" % n


def _fmt_pct(value: Any) -> str:
    n = _num(value)
    return "-" if n is None else "%.1f%%" % n


def _fmt_value(value: Any) -> str:
    """A metric value: 4 significant digits; NaN and infinities as such."""
    if isinstance(value, bool):
        return str(int(value))
    if isinstance(value, (int, float)):
        return "%.4g" % value
    if value is None:
        return "-"
    return str(value)


def _fmt_rate(value: Any) -> str:
    """Steps per second: '2.25/s', '12.5/s', '1250/s'."""
    n = _num(value)
    if n is None:
        return "-"
    return "%.0f/s" % n if n >= 100 else "%.3g/s" % n


def _fmt_duration(value: Any) -> str:
    """'45s', '12m 05s', '3h 02m', '2d 04h'."""
    n = _num(value)
    if n is None or n < 0:
        return "-"
    s = int(round(n))
    if s < 60:
        return "%ds" % s
    if s < 3600:
        return "%dm %02ds" % divmod(s, 60)
    if s < 86400:
        return "%dh %02dm" % (s // 3600, s % 3600 // 60)
    return "%dd %02dh" % (s // 86400, s % 86400 // 3600)


def _progress(run: Mapping[str, Any]) -> Optional[float]:
    """A run's progress in percent: the agent's ``progress`` (a fraction from 0 to
    1), else step / total_steps; ``None`` when the total is unknown."""
    progress = _num(run.get("progress"))
    if progress is None:
        step, total = _num(run.get("step")), _num(run.get("total_steps"))
        if step is None or not total:
            return None
        progress = step / total
    return max(0.0, min(100.0, 100.0 * progress))


def _runs_list(doc: Any) -> List[Dict[str, Any]]:
    """The run objects of ``GET /api/v1/runs``: a list, or ``{"runs": [...]}``."""
    if isinstance(doc, dict):
        doc = doc.get("runs", doc.get("data", []))
    return [r for r in doc if isinstance(r, dict)] if isinstance(doc, list) else []


_ACTIVE = ("running", "stalled")

# A rendered summary is a list of blocks:
#   ("title", text) | ("line", text) | ("table", headers, rows, right-aligned columns)
_Block = Tuple[Any, ...]


class Summary:
    """What :func:`summary` returns: the agent's host snapshot and runs.

    ``str()``/``repr()`` give a text report (so ``print(trainwatch.summary())`` in a
    script, or just ``trainwatch.summary()`` in a REPL, shows it); Jupyter shows
    ``_repr_html_``. When the agent could not be asked, ``error`` says why and the
    report is that one line.

    Attributes:
        url: the agent's base URL.
        snapshot: the ``/api/v1/snapshot`` document (docs/summary.md), or ``None``.
        runs: the run objects of ``/api/v1/runs`` (empty when unavailable).
        error: why the snapshot could not be fetched, or ``None``.
        runs_error: why the runs could not be fetched, or ``None``.
    """

    def __init__(self, url: str, snapshot: Optional[Dict[str, Any]] = None,
                 runs: Optional[List[Dict[str, Any]]] = None, error: Optional[str] = None,
                 runs_error: Optional[str] = None):
        self.url = url
        self.snapshot = snapshot
        self.runs = runs or []
        self.error = error
        self.runs_error = runs_error

    @property
    def ok(self) -> bool:
        """Whether the snapshot was fetched."""
        return self.error is None and isinstance(self.snapshot, dict)

    @property
    def active_runs(self) -> List[Dict[str, Any]]:
        """The runs not ended: status ``running`` or ``stalled`` (no step for long)."""
        return [r for r in self.runs if r.get("status") in _ACTIVE]

    def _message(self) -> str:
        return "trainwatch: agent at %s %s" % (self.url, self.error or "sent no snapshot")

    def text(self) -> str:
        """The plain-text report."""
        if not self.ok:
            return self._message()
        out: List[str] = []
        for block in self._blocks():
            if block[0] == "title":
                out.extend(["", block[1]])
            elif block[0] == "line":
                out.append(block[1])
            else:
                out.extend(_text_table(block[1], block[2], block[3]))
        return "\n".join(out).strip("\n")

    def _repr_html_(self) -> str:
        """The HTML report, for Jupyter."""
        if not self.ok:
            return '<div class="trainwatch-summary"><b>%s</b></div>' % html.escape(self._message())
        parts = ['<div class="trainwatch-summary" style="font-family:sans-serif">']
        for block in self._blocks():
            if block[0] == "title":
                parts.append('<h4 style="margin:0.8em 0 0.2em 0">%s</h4>' % html.escape(block[1]))
            elif block[0] == "line":
                parts.append("<div>%s</div>" % html.escape(block[1]))
            else:
                parts.append(_html_table(block[1], block[2], block[3]))
        parts.append("</div>")
        return "\n".join(parts)

    def __str__(self) -> str:
        return self.text()

    __repr__ = __str__

    def _blocks(self) -> List[_Block]:
        snap = self.snapshot or {}
        blocks: List[_Block] = []
        head = "trainwatch: %s" % (snap.get("hostname") or "unknown host")
        system = ", ".join(x for x in (snap.get("kernel"), snap.get("machine")) if x)
        if system:
            head += " (%s)" % system
        if snap.get("time"):  # RFC 3339, to the second
            stamp = re.sub(r"\.\d+", "", str(snap["time"]))
            head += " at %s" % stamp.replace("T", " ").replace("Z", " UTC")
        if _num(snap.get("uptime_seconds")):
            head += ", up %s" % _fmt_duration(snap["uptime_seconds"])
        blocks.append(("line", head))
        blocks.append(("line", "agent %s" % self.url))
        if snap.get("demo"):
            blocks.append(("line", "DEMO MODE: GPU data is simulated (%s)"
                           % (snap.get("demo_scenario") or "demo")))
        blocks.extend(self._gpu_blocks(snap.get("gpus") or []))
        blocks.extend(self._host_blocks(snap))
        blocks.extend(self._filesystem_blocks(snap.get("filesystems") or []))
        blocks.extend(self._run_blocks())
        return blocks

    @staticmethod
    def _gpu_blocks(gpus: List[Dict[str, Any]]) -> List[_Block]:
        if not gpus:
            return [("title", "GPUS"), ("line", "  none detected")]
        rows = []
        for gpu in gpus:
            name = gpu.get("model_name") or gpu.get("device") or "-"
            if gpu.get("up") is False:
                rows.append([gpu.get("index", "-"), name, "LOST", "-", "-", "-", "-", "-"])
                continue
            power = _num(gpu.get("power_watts"))
            limit = _num(gpu.get("power_limit_watts"))
            if power is None:
                power_text = "-"
            elif limit:
                power_text = "%.0f/%.0f W" % (power, limit)
            else:
                power_text = "%.0f W" % power
            temp = _num(gpu.get("temperature_celsius"))
            rows.append([
                gpu.get("index", "-"), name, _fmt_pct(gpu.get("utilization_percent")),
                _fmt_bytes(gpu.get("memory_used_bytes")), _fmt_bytes(gpu.get("memory_total_bytes")),
                _fmt_pct(gpu.get("memory_used_percent")),
                "-" if temp is None else "%.0f°C" % temp, power_text,
            ])
        headers = ["GPU", "MODEL", "UTIL", "MEM USED", "TOTAL", "MEM%", "TEMP", "POWER"]
        return [("title", "GPUS"), ("table", headers, rows, {2, 3, 4, 5, 6, 7})]

    @staticmethod
    def _host_blocks(snap: Dict[str, Any]) -> List[_Block]:
        cpu = snap.get("cpu") or {}
        busy = _fmt_pct(cpu.get("busy_percent")) if cpu.get("rates_available") else "-"
        loads = [_num(cpu.get(k)) for k in ("load1", "load5", "load15")]
        cpu_line = "  CPU     %s busy of %s CPUs, load %s" % (
            busy, cpu.get("count", "?"),
            " ".join("-" if x is None else "%.2f" % x for x in loads))
        mem = snap.get("memory") or {}
        mem_line = "  MEMORY  %s / %s used (%s)" % (
            _fmt_bytes(mem.get("used_bytes")), _fmt_bytes(mem.get("total_bytes")),
            _fmt_pct(mem.get("used_percent")))
        if _num(mem.get("swap_total_bytes")):
            mem_line += ", swap %s / %s (%s)" % (
                _fmt_bytes(mem.get("swap_used_bytes")), _fmt_bytes(mem.get("swap_total_bytes")),
                _fmt_pct(mem.get("swap_used_percent")))
        else:
            mem_line += ", no swap"
        return [("title", "HOST"), ("line", cpu_line), ("line", mem_line)]

    @staticmethod
    def _filesystem_blocks(filesystems: List[Dict[str, Any]]) -> List[_Block]:
        if not filesystems:
            return []
        rows = []
        for fs in filesystems:
            if fs.get("error"):
                used, size, pct, note = "-", "-", "-", "error: %s" % fs["error"]
            else:
                used, size = _fmt_bytes(fs.get("used_bytes")), _fmt_bytes(fs.get("size_bytes"))
                pct = _fmt_pct(fs.get("used_percent"))
                note = "read-only" if fs.get("readonly") else ""
            rows.append([fs.get("mountpoint", "-"), fs.get("device", "-"), fs.get("fstype", "-"),
                         used, size, pct, note])
        headers = ["MOUNT", "DEVICE", "TYPE", "USED", "SIZE", "USE%", ""]
        return [("title", "FILESYSTEMS"), ("table", headers, rows, {3, 4, 5})]

    def _run_blocks(self) -> List[_Block]:
        if self.runs_error:
            return [("title", "RUNS"), ("line", "  not available: %s" % self.runs_error)]
        active = self.active_runs
        others = len(self.runs) - len(active)
        title = "RUNS (%d active%s)" % (len(active), ", %d ended" % others if others else "")
        if not active:
            return [("title", title), ("line", "  no active run")]
        rows = []
        for run in active:
            metrics = run.get("metrics") or {}
            step = run.get("step")
            step_text = "-" if step is None else str(step)
            if run.get("total_steps"):
                step_text += "/%s" % run["total_steps"]
            progress = _progress(run)
            speed = _num(run.get("steps_per_second"))
            rows.append([
                run.get("name") or "-", run.get("id") or "-", run.get("status") or "-", step_text,
                "-" if progress is None else "%.1f%%" % progress,
                _fmt_value(metrics.get("training_loss", metrics.get("loss"))),
                _fmt_value(metrics.get("validation_loss", metrics.get("val_loss"))),
                _fmt_value(metrics.get("learning_rate", metrics.get("lr"))),
                _fmt_rate(speed),
                _fmt_duration(run.get("eta_seconds")),
            ])
        headers = ["NAME", "ID", "STATUS", "STEP", "PROGRESS", "LOSS", "VAL LOSS", "LR",
                   "STEPS/S", "ETA"]
        return [("title", title), ("table", headers, rows, {3, 4, 5, 6, 7, 8, 9})]


def _text_table(headers: List[str], rows: List[List[Any]], right: set) -> List[str]:
    """Rows of a text table, indented by two spaces, columns two spaces apart."""
    cells = [[str(c) for c in headers]] + [[str(c) for c in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    lines = []
    for row in cells:
        parts = [c.rjust(w) if i in right else c.ljust(w)
                 for i, (c, w) in enumerate(zip(row, widths))]
        lines.append(("  " + "  ".join(parts)).rstrip())
    return lines


def _html_table(headers: List[str], rows: List[List[Any]], right: set) -> str:
    """An HTML table; numeric columns right-aligned."""
    def cell(tag: str, i: int, value: Any) -> str:
        align = "right" if i in right else "left"
        return '<%s style="text-align:%s;padding:1px 8px">%s</%s>' % (
            tag, align, html.escape(str(value)), tag)

    out = ['<table style="border-collapse:collapse;font-size:90%">',
           "<tr>" + "".join(cell("th", i, h) for i, h in enumerate(headers)) + "</tr>"]
    for row in rows:
        out.append("<tr>" + "".join(cell("td", i, v) for i, v in enumerate(row)) + "</tr>")
    out.append("</table>")
    return "\n".join(out)


def summary(url: Optional[str] = None, timeout: float = REQUEST_TIMEOUT) -> Summary:
    """Asks the agent for its host snapshot and its runs.

    Returns a :class:`Summary`; print it (or display it in Jupyter). Never raises
    because the agent is down: the summary then holds a one-line message.
    """
    base = _base_url(url)
    try:
        snapshot = _get_json(base + "/api/v1/snapshot", timeout)
    except _AgentError as exc:
        message = str(exc)
        if exc.status is None:
            message += "; is it running? (trainwatch serve)"
        return Summary(base, error=message)
    if not isinstance(snapshot, dict):
        return Summary(base, error="sent a snapshot that is not a JSON object")
    try:
        runs, runs_error = _runs_list(_get_json(base + "/api/v1/runs", timeout)), None
    except _AgentError as exc:
        runs, runs_error = [], str(exc)
    return Summary(base, snapshot=snapshot, runs=runs, runs_error=runs_error)


# ----------------------------------------------------------------- integrations


def _global_rank() -> int:
    """This process's rank in distributed training: Lightning's notion when it is
    loaded, else ``RANK``/``SLURM_PROCID``/``LOCAL_RANK``; 0 without any."""
    for module in ("lightning.fabric.utilities.rank_zero", "lightning_fabric.utilities.rank_zero",
                   "pytorch_lightning.utilities.rank_zero"):
        rank = getattr(getattr(sys.modules.get(module), "rank_zero_only", None), "rank", None)
        if isinstance(rank, int):
            return rank
    for var in ("RANK", "SLURM_PROCID", "LOCAL_RANK"):
        try:
            return int(os.environ[var])
        except (KeyError, ValueError):
            continue
    return 0


class _NoopRun:
    """What ``TrainwatchLogger.experiment`` is on ranks other than 0: every method
    call does nothing (as Lightning's own dummy experiment)."""

    def _nop(self, *args: Any, **kwargs: Any) -> None:
        return None

    def __getattr__(self, name: str) -> Any:
        return self._nop

    def __bool__(self) -> bool:
        return False


class _LightningLoggerImpl:
    """A PyTorch Lightning logger that sends metrics to the trainwatch agent.

    ``Trainer(logger=trainwatch.TrainwatchLogger(name="resnet", config={...}))``.
    It subclasses ``lightning.pytorch.loggers.Logger`` (or
    ``pytorch_lightning.loggers.Logger``) when one is installed. Only the global rank
    0 process logs. The run starts at the first ``log_metrics`` (or ``experiment``
    access), so the hyperparameters Lightning passes to ``log_hyperparams`` before
    that are part of its registration; later ones are sent as a config update.
    ``version`` is the run id (no request needed), ``finalize`` finishes the run, and
    logging after that attaches to the same run again (``trainer.test`` after
    ``trainer.fit``).

    Args:
        name, config, id, url: as :func:`trainwatch.init`; ``id`` defaults to a new one.
        **init_kwargs: other :func:`trainwatch.init` arguments (total_steps, tags, ...).
    """

    def __init__(self, name: Optional[str] = None, config: Any = None, id: Optional[str] = None,
                 url: Optional[str] = None, **init_kwargs: Any):
        super().__init__()
        self._tw_name = str(name) if name else _default_name()
        self._tw_config = _as_dict(config)
        self._tw_id = str(id) if id else _new_id(self._tw_name)
        self._tw_url = url
        self._tw_kwargs = init_kwargs
        self._tw_run: Optional[Run] = None

    @property
    def name(self) -> str:
        """The run name (default: the script's name)."""
        return self._tw_name

    @property
    def version(self) -> str:
        """The run id."""
        return self._tw_id

    @property
    def save_dir(self) -> Optional[str]:
        """None: this logger writes no files."""
        return None

    @property
    def experiment(self) -> Any:
        """The :class:`Run` (started on first access); on ranks other than 0 an
        object whose methods do nothing."""
        if _global_rank() != 0:
            return _NoopRun()
        if self._tw_run is None or self._tw_run.finished:
            self._tw_run = init(name=self._tw_name, config=self._tw_config, id=self._tw_id,
                                url=self._tw_url, **self._tw_kwargs)
            self._tw_id = self._tw_run.id
        return self._tw_run

    def log_hyperparams(self, params: Any, *args: Any, **kwargs: Any) -> None:
        """Adds ``params`` (a dict or Namespace) to the run's config."""
        if _global_rank() != 0:
            return
        params = _as_dict(params)
        self._tw_config.update(params)
        if self._tw_run is not None and not self._tw_run.finished:
            self._tw_run.update_config(params)

    def log_metrics(self, metrics: Mapping[str, Any], step: Optional[int] = None) -> None:
        """Logs ``metrics`` at ``step`` (Lightning includes ``epoch`` in them)."""
        if _global_rank() == 0:
            self.experiment.log(metrics, step=step)

    def log_graph(self, model: Any, input_array: Any = None) -> None:
        """Not supported: does nothing."""

    def save(self) -> None:
        """Nothing to save: does nothing."""

    def finalize(self, status: str) -> None:
        """Finishes the run: ``finished`` for Lightning's ``"success"``, else ``failed``."""
        run = self._tw_run
        if run is not None and not run.finished:
            run.finish("finished" if status in ("success", "finished") else "failed")

    def after_save_checkpoint(self, checkpoint_callback: Any) -> None:
        """Does nothing (checkpoints are not uploaded)."""


class _HFCallbackImpl:
    """A Hugging Face ``transformers`` ``TrainerCallback`` that sends the Trainer's logs
    to the trainwatch agent.

    ``Trainer(..., callbacks=[trainwatch.TrainwatchCallback(name="bert-ft")])``.
    It subclasses ``transformers.TrainerCallback`` when transformers is installed.
    ``on_train_begin`` starts a run with ``args.to_dict()`` (plus ``config``) as its
    config and ``state.max_steps`` as its total; ``on_log`` logs the Trainer's logs at
    ``state.global_step`` and ``state.epoch``; ``on_train_end`` finishes it. Only the
    world's main process logs.

    Args:
        name, config, id, url: as :func:`trainwatch.init`; ``name`` defaults to
            ``args.run_name``.
        **init_kwargs: other :func:`trainwatch.init` arguments.
    """

    def __init__(self, name: Optional[str] = None, config: Any = None, id: Optional[str] = None,
                 url: Optional[str] = None, **init_kwargs: Any):
        super().__init__()
        self._tw_name = name
        self._tw_config = _as_dict(config)
        self._tw_id = id
        self._tw_url = url
        self._tw_kwargs = init_kwargs
        self.run: Optional[Run] = None

    @staticmethod
    def _main_process(state: Any) -> bool:
        return bool(getattr(state, "is_world_process_zero", True))

    def on_train_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        """Starts the run (once per training)."""
        if not self._main_process(state) or (self.run is not None and not self.run.finished):
            return
        config: Dict[str, Any] = {}
        to_dict = getattr(args, "to_dict", None)
        if callable(to_dict):
            try:
                config.update(to_dict())
            except Exception:
                _log.debug("trainwatch: args.to_dict() failed", exc_info=True)
        config.update(self._tw_config)
        max_steps = getattr(state, "max_steps", None)
        epochs = getattr(state, "num_train_epochs", None) or getattr(args, "num_train_epochs", None)
        kwargs_init = dict(self._tw_kwargs)
        if isinstance(max_steps, int) and max_steps > 0:
            kwargs_init.setdefault("total_steps", max_steps)
        if isinstance(epochs, (int, float)) and epochs > 0:
            kwargs_init.setdefault("total_epochs", epochs)
        self.run = init(name=self._tw_name or getattr(args, "run_name", None) or None,
                        config=config, id=self._tw_id, url=self._tw_url, **kwargs_init)

    def on_log(self, args: Any, state: Any, control: Any, logs: Optional[Mapping[str, Any]] = None,
               **kwargs: Any) -> None:
        """Logs the Trainer's ``logs`` at ``state.global_step``."""
        if self.run is None or not logs or not self._main_process(state):
            return
        self.run.log(logs, step=getattr(state, "global_step", None),
                     epoch=getattr(state, "epoch", None))

    def on_train_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        """Finishes the run."""
        if self.run is not None:
            self.run.finish("finished")


def _import_attr(module: str, attr: str) -> Optional[type]:
    """``module.attr`` when the module imports, else ``None`` (never raises)."""
    try:
        return getattr(importlib.import_module(module), attr)
    except Exception:  # not installed, or broken: fall back to the plain class
        return None


def _build(name: str, impl: type, base: Optional[type]) -> type:
    """The class ``name``: ``impl`` first, then ``base`` when there is one."""
    bases = (impl, base) if base is not None else (impl,)
    cls = types.new_class(name, bases, {}, lambda ns: ns.update(
        {"__module__": __name__, "__doc__": impl.__doc__, "__qualname__": name}))
    return cls


def _make_lightning_logger() -> type:
    """``TrainwatchLogger`` on top of whichever Lightning is in use."""
    modules = ["lightning.pytorch.loggers", "pytorch_lightning.loggers"]
    if "pytorch_lightning" in sys.modules and "lightning" not in sys.modules:
        modules.reverse()
    base = None
    for module in modules:
        base = _import_attr(module, "Logger")
        if base is not None:
            break
    return _build("TrainwatchLogger", _LightningLoggerImpl, base)


def _make_hf_callback() -> type:
    """``TrainwatchCallback`` on top of ``transformers.TrainerCallback`` when installed."""
    return _build("TrainwatchCallback", _HFCallbackImpl,
                  _import_attr("transformers", "TrainerCallback"))


_LAZY = {"TrainwatchLogger": _make_lightning_logger, "TrainwatchCallback": _make_hf_callback}


def __getattr__(name: str) -> Any:
    """Builds the integration classes on first access (PEP 562), so that importing
    trainwatch never imports Lightning or transformers."""
    factory = _LAZY.get(name)
    if factory is None:
        raise AttributeError("module %r has no attribute %r" % (__name__, name))
    cls = factory()
    globals()[name] = cls
    return cls


def __dir__() -> List[str]:
    return sorted(set(globals()) | set(_LAZY))
