"""crossload's Locust listener: exact per-second, per-request aggregates written while the run goes on.

It travels next to every rendered locustfile and needs nothing but Locust. ``install_recorder()`` registers
an ``IntervalRecorder`` when ``$CROSSLOAD_LOCUST_OUT`` is set (crossload sets it); a plain ``locust -f`` run
of a rendered file records nothing extra.

The recorder keeps every latency at full resolution in a histogram with three significant digits (the
same buckets as crossload.histogram), counts failures by cause (the same words as crossload.causes) and
appends each finished second to a JSON-lines file from a background greenlet, so a user's greenlet never
waits on I/O. A second is written as soon as the clock has left it; a request that completes later but
belongs to an already written second is written as an extra line for the same second (readers add lines of
one identity up), so nothing is lost at the end of the run.
"""

from __future__ import annotations

import json
import math
import os
import socket
import ssl
import time
from typing import Any

import gevent

from locust import events

HTTP_STATUS_PREFIX = "HTTP "
CHECK_PREFIX = "check failed: "


def bucket_us(us: int) -> int:
    """Same buckets as crossload.histogram.bucket_us (three significant digits), without string work."""
    if us < 1000:
        return us if us > 0 else 0
    if us < 10_000:
        return us - us % 10
    if us < 100_000:
        return us - us % 100
    if us < 1_000_000:
        return us - us % 1000
    scale = 10 ** (len(str(us)) - 3)
    return us - us % scale


_CLASSES = {1: "1xx", 2: "2xx", 3: "3xx", 4: "4xx", 5: "5xx"}
_CAUSE_CACHE: dict[Any, str] = {}


def _transport_cause(exc: BaseException) -> str | None:
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    if isinstance(exc, ConnectionResetError | BrokenPipeError | ConnectionAbortedError):
        return "connection reset"
    if isinstance(exc, TimeoutError | socket.timeout | gevent.Timeout):
        return "timeout"
    if isinstance(exc, ssl.SSLError | ssl.CertificateError):
        return "TLS error"
    if isinstance(exc, socket.gaierror):
        return "DNS error"
    return None


def failure_cause(exception: BaseException, status_code: int) -> str:
    """The cause of a failed request, in crossload.causes' words."""
    text = str(exception)
    if text.startswith(CHECK_PREFIX) or (text.startswith(HTTP_STATUS_PREFIX) and text[5:].isdigit()):
        return text  # written by crossload_locust's checks
    cause = _transport_cause(exception)
    if cause is not None:
        return cause
    if status_code:
        return f"{HTTP_STATUS_PREFIX}{status_code}"
    inner = exception.__cause__ or exception.__context__
    if inner is not None and (cause := _transport_cause(inner)) is not None:
        return cause
    if isinstance(exception, OSError):
        return "connection error"
    return f"exception: {type(exception).__name__}"


class IntervalRecorder:
    """Per-second, per-request aggregates with latency histograms, appended to a JSON-lines file."""

    def __init__(self, environment: Any, path: str, interval: float = 1.0) -> None:
        self.environment = environment
        self.path = path
        self.interval = interval
        self.open: dict[tuple[int, str, str], list[Any]] = {}
        self.users: dict[int, int] = {}
        self.greenlet: Any = None
        self.file = open(path, "a", encoding="utf-8")  # noqa: SIM115 - closed in stop()
        environment.events.request.add_listener(self.on_request)
        environment.events.test_start.add_listener(self.on_start)
        environment.events.quitting.add_listener(self.on_quit)

    def on_request(self, request_type: str, name: str, response_time: float, response_length: int,
                   exception: Any = None, response: Any = None, **_kw: Any) -> None:
        # Runs in the user's greenlet for every request: arithmetic and dict updates only, no I/O.
        key = (int(time.time()), name, request_type)
        agg = self.open.get(key)
        if agg is None:
            # count, failures, bytes, sum_ms, min_ms, max_ms, {bucket: n}, {status class: n},
            # fail_sum_ms, {fail bucket: n}, {cause: n}
            agg = self.open[key] = [0, 0, 0, 0.0, math.inf, 0.0, {}, {}, 0.0, {}, {}]
        ms = response_time or 0.0
        agg[0] += 1
        if response_length:
            agg[2] += response_length
        agg[3] += ms
        if ms < agg[4]:
            agg[4] = ms
        if ms > agg[5]:
            agg[5] = ms
        b = bucket_us(int(ms * 1000.0 + 0.5))
        hist = agg[6]
        hist[b] = hist.get(b, 0) + 1
        code = getattr(response, "status_code", 0) or 0
        cls = _CLASSES.get(code // 100, "error") if code else "error"
        status = agg[7]
        status[cls] = status.get(cls, 0) + 1
        if exception is not None:
            agg[1] += 1
            agg[8] += ms
            fail_hist = agg[9]
            fail_hist[b] = fail_hist.get(b, 0) + 1
            cause = failure_cause(exception, code)
            causes = agg[10]
            causes[cause] = causes.get(cause, 0) + 1

    def on_start(self, **_kw: Any) -> None:
        if self.greenlet is None:
            self.greenlet = gevent.spawn(self._loop)

    def _loop(self) -> None:
        while True:
            gevent.sleep(self.interval - (time.time() % self.interval))
            runner = self.environment.runner
            if runner is not None:
                self.users[int(time.time())] = runner.user_count
            self.flush(final=False)

    def flush(self, final: bool) -> None:
        now = int(time.time())
        done = [k for k in self.open if final or k[0] < now]
        lines = []
        for key in sorted(done):
            count, failures, nbytes, sum_ms, lo, hi, hist, status, fail_sum, fail_hist, causes = self.open.pop(key)
            record: dict[str, Any] = {
                "kind": "req", "t": key[0], "name": key[1], "method": key[2], "count": count,
                "failures": failures, "bytes": nbytes, "sum_ms": round(sum_ms, 3), "min_ms": round(lo, 3),
                "max_ms": round(hi, 3), "status": status, "hist": {str(k): v for k, v in sorted(hist.items())},
            }
            if failures:
                record["errors"] = causes
                record["fail_sum_ms"] = round(fail_sum, 3)
                record["fail_hist"] = {str(k): v for k, v in sorted(fail_hist.items())}
            lines.append(json.dumps(record, separators=(",", ":"), ensure_ascii=False))
        for t in sorted(self.users):
            lines.append(json.dumps({"kind": "users", "t": t, "users": self.users[t]}, separators=(",", ":")))
        self.users.clear()
        if lines:
            self.file.write("\n".join(lines) + "\n")
            self.file.flush()

    def on_quit(self, **_kw: Any) -> None:
        self.stop()

    def stop(self) -> None:
        if self.greenlet is not None:
            self.greenlet.kill(block=False)
            self.greenlet = None
        if not self.file.closed:
            self.flush(final=True)
            self.file.close()


def install_recorder() -> None:
    """Record to $CROSSLOAD_LOCUST_OUT when set (the toolkit sets it); a plain `locust -f` run skips it."""
    path = os.environ.get("CROSSLOAD_LOCUST_OUT")
    if not path:
        return

    @events.init.add_listener
    def _on_init(environment: Any, **_kw: Any) -> None:
        environment.crossload_recorder = IntervalRecorder(environment, path)
