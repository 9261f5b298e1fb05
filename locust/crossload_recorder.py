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

Where no crossload collects the file (a Locust worker in a Kubernetes cluster, ``invoke k8s.render``),
``$CROSSLOAD_RECORDER_PUSH=1`` makes the recorder write each finished second to InfluxDB itself, as
``crossload_requests`` and ``crossload_users`` points of crossload's schema (``InfluxPush``).
"""

from __future__ import annotations

import base64
import json
import math
import os
import re
import socket
import ssl
import time
import urllib.parse
import urllib.request
from typing import Any

import gevent

from locust import events

HTTP_STATUS_PREFIX = "HTTP "
CHECK_PREFIX = "check failed: "
WS_CLOSED = "ws closed"  # the server closed a WebSocket before the message an expect waited for
GROUP_METHOD = "GROUP"  # the request type of a journey group's wall time (crossload_locust.GroupTimer)
GROUP_FAILED = "step failed"  # the cause of a group one of whose steps failed
GROUP_STATUS = "group"  # the status class of a group's row: it has no response of its own


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
_now = time.time


def status_classes(codes: dict[int, int], request_type: str) -> dict[str, int]:
    """Counts by status code as counts by class (``2xx``...): no response is ``error``, a group ``group``."""
    out: dict[str, int] = {}
    for code, n in codes.items():
        cls = _CLASSES.get(code // 100, "error") if code else GROUP_STATUS if request_type == GROUP_METHOD else "error"
        out[cls] = out.get(cls, 0) + n
    return out
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
    if text.startswith(CHECK_PREFIX) or (text.startswith(HTTP_STATUS_PREFIX) and text[5:].isdigit()) \
            or text in (WS_CLOSED, GROUP_FAILED):
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
        self.push = InfluxPush.from_env(os.environ)
        environment.events.request.add_listener(self.on_request)
        environment.events.test_start.add_listener(self.on_start)
        environment.events.quitting.add_listener(self.on_quit)

    def on_request(self, request_type: str, name: str, response_time: float, response_length: int,
                   exception: Any = None, response: Any = None, context: Any = None, start_time: Any = None,
                   url: Any = None, **_kw: Any) -> None:
        # Runs in the user's greenlet for every request, so it is kept to the least work that stays exact:
        # one clock read, one dict lookup, integer and float arithmetic on a list; status codes are counted
        # as they come and turned into classes, failures into causes, only when a second is written.
        key = (int(_now()), name, request_type)
        agg = self.open.get(key)
        if agg is None:
            # count, failures, bytes, sum_ms, min_ms, max_ms, {bucket: n}, {status code: n},
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
        us = int(ms * 1000.0 + 0.5)
        # bucket_us, its common cases written out
        b = (us if us < 1000 else us - us % 10) if 0 <= us < 10_000 else bucket_us(us)
        hist = agg[6]
        hist[b] = hist.get(b, 0) + 1
        code = getattr(response, "status_code", 0) or 0
        status = agg[7]
        status[code] = status.get(code, 0) + 1
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
                "max_ms": round(hi, 3), "status": status_classes(status, key[2]),
                "hist": {str(k): v for k, v in sorted(hist.items())},
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
            if self.push is not None:
                self.push.send(lines, final)

    def on_quit(self, **_kw: Any) -> None:
        self.stop()

    def stop(self) -> None:
        if self.greenlet is not None:
            self.greenlet.kill(block=False)
            self.greenlet = None
        if not self.file.closed:
            self.flush(final=True)
            self.file.close()


_TAG_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def _tag(value: str) -> str:
    """A tag value as crossload.sinks.lineprotocol writes it (sanitized, escaped)."""
    text = _TAG_CONTROL.sub(" ", value).replace("\\", "/") or "-"
    for ch in ",= ":
        text = text.replace(ch, "\\" + ch)
    return text


def _field(value: Any) -> str:
    return f"{value}i" if isinstance(value, int) else repr(float(value))


def percentile_ms(hist: dict[str, int], count: int, q: float) -> float:
    """crossload.histogram.Histogram.percentile_ms over a recorded ``hist``: the bucket midpoint."""
    rank = max(1, math.ceil(q / 100.0 * count))
    seen = 0
    keys = sorted(int(k) for k in hist)
    for key in keys:
        seen += hist[str(key)]
        if seen >= rank:
            return (key + 10 ** (len(str(key)) - 3) / 2.0) / 1000.0 if key >= 1000 else key / 1000.0
    return keys[-1] / 1000.0


def line_protocol(record: dict[str, Any], tags: dict[str, str]) -> str:
    """One recorded line as line protocol, the way crossload.sinks.lineprotocol writes it (a unit test holds
    the two equal): ``crossload_requests`` for a request line, ``crossload_users`` for a users line."""
    t = record["t"]
    if record["kind"] == "users":
        head = ",".join(f"{k}={_tag(v)}" for k, v in sorted(tags.items()))
        return f"crossload_users,{head} users={record['users']}i {t}"
    all_tags = {**tags, "name": record["name"], "method": record["method"]}
    head = ",".join(f"{k}={_tag(v)}" for k, v in sorted(all_tags.items()))
    count, failures = record["count"], record["failures"]
    fields: list[tuple[str, Any]] = [
        ("count", count), ("failures", failures), ("bytes", record["bytes"]),
        ("error_rate", round(100.0 * failures / count, 4) if count else 0.0), ("sum_ms", round(record["sum_ms"], 3)),
    ]
    if count:
        fields += [("mean_ms", round(record["sum_ms"] / count, 3)), ("min_ms", round(record["min_ms"], 3)),
                   ("max_ms", round(record["max_ms"], 3))]
        hist = record["hist"]
        n = sum(hist.values())
        if n:
            fields += [(f"p{q}_ms", round(percentile_ms(hist, n, q), 3)) for q in (50, 90, 95, 99)]
    body = ",".join(f"{k}={_field(v)}" for k, v in fields)
    return f"crossload_requests,{head} {body} {t}"


class InfluxPush:
    """Writes recorded seconds to InfluxDB (v2 write API, or v1 with ``CROSSLOAD_INFLUX_API=v1``).

    Configured like crossload (``CROSSLOAD_INFLUX_URL``, ``_API``, ``_ORG``, ``_BUCKET``, ``_TOKEN``, ``_DB``,
    ``_USERNAME``, ``_PASSWORD``); the points carry ``CROSSLOAD_RUN_ID``, ``CROSSLOAD_SCENARIO``,
    ``CROSSLOAD_PROFILE`` and ``CROSSLOAD_WORKER`` as tags. Lines InfluxDB did not take are kept (up to
    ``limit``) and sent with the next second; a point's identity makes sending twice harmless.
    """

    def __init__(self, url: str, params: dict[str, str], headers: dict[str, str], tags: dict[str, str],
                 limit: int = 100_000) -> None:
        self.url = url.rstrip("/")
        self.params = params
        self.headers = headers
        self.tags = tags
        self.limit = limit
        self.pending: list[str] = []

    @classmethod
    def from_env(cls, env: Any) -> InfluxPush | None:
        if env.get("CROSSLOAD_RECORDER_PUSH") != "1" or not env.get("CROSSLOAD_INFLUX_URL"):
            return None
        tags = {"tool": "locust", "run_id": env.get("CROSSLOAD_RUN_ID", ""),
                "scenario": env.get("CROSSLOAD_SCENARIO", ""), "profile": env.get("CROSSLOAD_PROFILE", ""),
                "worker": env.get("CROSSLOAD_WORKER") or socket.gethostname()}
        url = env["CROSSLOAD_INFLUX_URL"]
        if (env.get("CROSSLOAD_INFLUX_API") or "v2").lower() == "v1":
            headers = {}
            if env.get("CROSSLOAD_INFLUX_USERNAME"):
                user = f"{env['CROSSLOAD_INFLUX_USERNAME']}:{env.get('CROSSLOAD_INFLUX_PASSWORD', '')}"
                headers["Authorization"] = "Basic " + base64.b64encode(user.encode()).decode()
            return cls(url + "/write", {"db": env.get("CROSSLOAD_INFLUX_DB") or "crossload", "precision": "s"},
                       headers, tags)
        params = {"org": env.get("CROSSLOAD_INFLUX_ORG", ""),
                  "bucket": env.get("CROSSLOAD_INFLUX_BUCKET") or "crossload", "precision": "s"}
        token = env.get("CROSSLOAD_INFLUX_TOKEN", "")
        return cls(url + "/api/v2/write", params, {"Authorization": f"Token {token}"}, tags)

    def send(self, records: list[str], final: bool) -> None:
        self.pending.extend(line_protocol(json.loads(r), self.tags) for r in records)
        del self.pending[:-self.limit]
        body = ("\n".join(self.pending) + "\n").encode()
        request = urllib.request.Request(f"{self.url}?{urllib.parse.urlencode(self.params)}", data=body,
                                         method="POST", headers={**self.headers, "Content-Type": "text/plain"})
        try:
            with urllib.request.urlopen(request, timeout=5.0 if final else 2.0) as response:
                response.read()
        except (OSError, ValueError):
            return  # kept for the next second (and lost only past ``limit`` lines or at the very end)
        self.pending = []


def install_recorder() -> None:
    """Record to $CROSSLOAD_LOCUST_OUT when set (the toolkit sets it); a plain `locust -f` run skips it."""
    path = os.environ.get("CROSSLOAD_LOCUST_OUT")
    if not path:
        return

    @events.init.add_listener
    def _on_init(environment: Any, **_kw: Any) -> None:
        environment.crossload_recorder = IntervalRecorder(environment, path)
