"""The Locust recorder's per-second aggregates equal a plain recomputation from the same requests.

The recorder runs inside Locust (which monkey-patches the process with gevent), so it is driven in a child
process: requests are fired through a real Locust request event at chosen clock seconds, the recorder writes
its JSON lines, and every field is checked here against crossload's own buckets and status classes.
"""

from __future__ import annotations

import json
import math
import random
import subprocess
import sys
from pathlib import Path
from typing import Any

from crossload.histogram import bucket_us
from crossload.paths import resource_dir

_PROBE = """
import json, sys
sys.path.insert(0, sys.argv[1])
import crossload_recorder as rec
from locust.event import Events

class Env:
    runner = None
    events = Events()

class Resp:
    def __init__(self, code):
        self.status_code = code

clock = [0.0]
rec._now = lambda: clock[0]
recorder = rec.IntervalRecorder(Env(), sys.argv[3])
kinds = {"refused": ConnectionRefusedError, "text": Exception, "other": ValueError}
for t, name, method, ms, length, code, exc in json.load(open(sys.argv[2])):
    clock[0] = t
    error = None if exc is None else kinds[exc[0]](*exc[1:])
    Env.events.request.fire(request_type=method, name=name, response_time=ms, response_length=length,
                            exception=error, response=None if code is None else Resp(code), context={},
                            start_time=t, url="/")
    if t == 3.5:
        recorder.flush(final=False)  # seconds 1-2 written while the run goes on
clock[0] = 9.0
recorder.stop()
"""


def _cases(seed: int) -> list[list[Any]]:
    rnd = random.Random(seed)
    out: list[list[Any]] = []
    for i in range(3000):
        t = 1.0 + i * 0.002 + rnd.random() * 0.01
        ms = rnd.choice([0.0, 0.0004, 0.7, 1.2345, 9.9996, 10.0004, 57.3, 123.456, 4567.8, 12_345.6]) \
            * rnd.uniform(0.5, 1.5)
        kind = rnd.randrange(8)
        if kind == 0:
            out.append([t, "b", "POST", ms, 0, None, ["refused"]])
        elif kind == 1:
            out.append([t, "a", "GET", ms, 5, 503, ["text", "HTTP 503"]])
        elif kind == 2:
            out.append([t, "a", "GET", ms, 7, 200, ["text", "check failed: has id"]])
        elif kind == 3:
            out.append([t, "g", "GROUP", ms, 0, None, None if rnd.random() < 0.7 else ["text", "step failed"]])
        elif kind == 4:
            out.append([t, "a", "GET", ms, 0, rnd.choice([0, 500]), ["other", "boom"]])
        else:
            out.append([t, "a", "GET", ms, rnd.randrange(100), rnd.choice([200, 204, 302, 404]), None])
    out.append([3.5, "a", "GET", 1.0, 1, 200, None])
    out.append([1.2, "a", "GET", 2.0, 1, 200, None])  # late for an already written second: an extra line
    return out


_CAUSES = {"refused": lambda code: "connection refused", "text": lambda code, text: text,
           "other": lambda code, text: f"HTTP {code}" if code else "exception: ValueError"}


def _expected(cases: list[list[Any]]) -> dict[tuple[int, str, str], dict[str, Any]]:
    out: dict[tuple[int, str, str], dict[str, Any]] = {}
    for t, name, method, ms, length, code, exc in cases:
        agg = out.setdefault((int(t), name, method), {
            "count": 0, "failures": 0, "bytes": 0, "sum_ms": 0.0, "min_ms": math.inf, "max_ms": 0.0, "hist": {},
            "status": {}, "fail_sum_ms": 0.0, "fail_hist": {}, "errors": {}})
        b = str(bucket_us(int(ms * 1000.0 + 0.5)))
        cls = f"{code // 100}xx" if code else ("group" if method == "GROUP" else "error")
        agg["count"] += 1
        agg["bytes"] += length
        agg["sum_ms"] += ms
        agg["min_ms"] = min(agg["min_ms"], ms)
        agg["max_ms"] = max(agg["max_ms"], ms)
        agg["hist"][b] = agg["hist"].get(b, 0) + 1
        agg["status"][cls] = agg["status"].get(cls, 0) + 1
        if exc is not None:
            cause = _CAUSES[exc[0]](code, *exc[1:])
            agg["failures"] += 1
            agg["fail_sum_ms"] += ms
            agg["fail_hist"][b] = agg["fail_hist"].get(b, 0) + 1
            agg["errors"][cause] = agg["errors"].get(cause, 0) + 1
    return out


def _merge(lines: list[dict[str, Any]]) -> dict[tuple[int, str, str], dict[str, Any]]:
    """The recorded lines added up per identity, as crossload's reader does with late lines."""
    out: dict[tuple[int, str, str], dict[str, Any]] = {}
    for rec in lines:
        if rec["kind"] != "req":
            continue
        key = (rec["t"], rec["name"], rec["method"])
        agg = out.setdefault(key, {"count": 0, "failures": 0, "bytes": 0, "sum_ms": 0.0, "min_ms": math.inf,
                                   "max_ms": 0.0, "hist": {}, "status": {}, "fail_sum_ms": 0.0, "fail_hist": {},
                                   "errors": {}})
        for field in ("count", "failures", "bytes", "sum_ms", "fail_sum_ms"):
            agg[field] += rec.get(field, 0)
        agg["min_ms"] = min(agg["min_ms"], rec["min_ms"])
        agg["max_ms"] = max(agg["max_ms"], rec["max_ms"])
        for field in ("hist", "status", "fail_hist", "errors"):
            for k, v in rec.get(field, {}).items():
                agg[field][k] = agg[field].get(k, 0) + v
    return out


def test_recorded_seconds_equal_a_recomputation(tmp_path: Path) -> None:
    cases = _cases(11)
    (tmp_path / "cases.json").write_text(json.dumps(cases), encoding="utf-8")
    out = tmp_path / "intervals.jsonl"
    proc = subprocess.run([sys.executable, "-c", _PROBE, str(resource_dir("locust")), str(tmp_path / "cases.json"),
                           str(out)], capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
    lines = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    seconds = [r["t"] for r in lines]
    cut = seconds.index(3)  # the flush at 3.5 s wrote seconds 1 and 2, the final one the rest
    assert seconds[:cut] == sorted(seconds[:cut]) and set(seconds[:cut]) == {1, 2}
    assert [(r["t"], r["name"], r["count"]) for r in lines[cut:] if r["t"] < 3] == [(1, "a", 1)], \
        "the late request of second 1 is an extra line of its own"
    got, want = _merge(lines), _expected(cases)
    assert got.keys() == want.keys()
    for key, agg in want.items():
        rec = got[key]
        for field in ("count", "failures", "bytes", "hist", "status", "fail_hist", "errors"):
            assert rec[field] == agg[field], (key, field)
        for field in ("sum_ms", "min_ms", "max_ms", "fail_sum_ms"):
            assert math.isclose(rec[field], agg[field], abs_tol=0.0021), (key, field, rec[field], agg[field])
