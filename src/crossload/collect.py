"""Streaming readers of both tools' raw output, turned into interval aggregates while the run goes on.

- k6 writes its JSON-lines stream (``--out json=``): one line per metric sample. Only the lines the model
  needs are decoded (http_req_duration, vus, crossload_check_failed); every other line is skipped by a
  prefix test before any JSON parsing.
- The Locust recorder (locust/crossload_recorder.py) already writes per-interval aggregates; they are read
  and re-labelled with the tool.

Which parser reads which tool is the tool's business (``crossload.tools``), not this module's.

``FileTail`` follows a growing file and hands out complete lines only, so a reader never sees half a line.
"""

from __future__ import annotations

import calendar
import codecs
import time
import zlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import IO, Protocol

import orjson

from crossload.causes import CHECK_PREFIX, http_status, k6_error_code
from crossload.exact import ExactValues, take_figures
from crossload.results import GROUP_METHOD, AggregateWriter, IntervalAggregate, ToolStats, UsersSample, item_from_json

Item = IntervalAggregate | UsersSample


class StreamParser(Protocol):
    tool: str

    def feed(self, line: str) -> None: ...

    def drain(self, final: bool) -> list[Item]: ...


class FileTail:
    """Reads the complete lines appended to a file since the last call."""

    def __init__(self, path: Path, chunk: int = 1 << 20) -> None:
        self.path = path
        self.chunk = chunk
        self._file: IO[bytes] | None = None
        self._decode = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._partial = ""

    def _text(self, raw: bytes) -> str:
        return self._decode.decode(raw)

    def lines(self) -> Iterator[str]:
        if self._file is None:
            if not self.path.exists():
                return
            self._file = self.path.open("rb")
        while True:
            raw = self._file.read(self.chunk)
            if not raw:
                return
            parts = (self._partial + self._text(raw)).split("\n")
            self._partial = parts.pop()
            yield from parts

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


class GzipFileTail(FileTail):
    """``FileTail`` for a gzip file still being written (k6 ``--out json=raw.json.gz``).

    k6 writes compressed blocks as it goes; the appended bytes are inflated incrementally, and only complete
    lines are handed out, so the stream is read live while the file on disk stays about ten times smaller.
    """

    def __init__(self, path: Path, chunk: int = 1 << 20) -> None:
        super().__init__(path, chunk)
        self._inflate = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)

    def _text(self, raw: bytes) -> str:
        data = self._inflate.decompress(raw)
        while self._inflate.eof and self._inflate.unused_data:
            # A new gzip member follows the previous one (concatenated streams are valid gzip).
            rest = self._inflate.unused_data
            self._inflate = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
            data += self._inflate.decompress(rest)
        return self._decode.decode(data)


def tail_for(path: Path) -> FileTail:
    return GzipFileTail(path) if path.suffix == ".gz" else FileTail(path)


_SECOND_CACHE: dict[str, int] = {}


def _epoch_second(stamp: str) -> int:
    """``2026-11-21T22:36:31.556453573Z`` -> epoch seconds, cached per second (k6 writes UTC)."""
    key = stamp[:19]
    sec = _SECOND_CACHE.get(key)
    if sec is None:
        if len(_SECOND_CACHE) > 4096:
            _SECOND_CACHE.clear()
        sec = calendar.timegm(time.strptime(key, "%Y-%m-%dT%H:%M:%S"))
        offset = stamp[19:].lstrip("0123456789.")
        if offset and offset != "Z":
            sign = 1 if offset[0] == "+" else -1
            hh, mm = offset[1:].split(":")
            sec -= sign * (int(hh) * 3600 + int(mm) * 60)
        _SECOND_CACHE[key] = sec
    return sec


@dataclass
class _KeptAggregate(IntervalAggregate):
    """An interval whose every duration is also given to the run's exact values (crossload.exact)."""

    values: ExactValues | None = field(default=None, repr=False, compare=False)

    def add(self, ms: float, failed: bool, status_class: str, nbytes: int = 0, cause: str | None = None) -> None:
        super().add(ms, failed, status_class, nbytes, cause)
        if self.values is not None:
            self.values.add(self.name, ms)

    def add_failure(self, ms: float, cause: str) -> None:
        super().add_failure(ms, cause)
        if self.values is not None:
            self.values.add_failed(self.name, ms)


_DURATION = '{"metric":"http_req_duration","type":"Point"'
_VUS = '{"metric":"vus","type":"Point"'
_CHECK = '{"metric":"crossload_check_failed","type":"Point"'


class K6JsonParser:
    """Turns k6's JSON output (``--out json=``) into interval aggregates while k6 writes it.

    A request fails when k6 marks it unexpected (``expected_response`` false: no response, or a status
    outside the expected ones; the cause is the status, or k6's ``error_code`` for no response), or when
    the script reports a failed body check: a ``crossload_check_failed`` sample whose value is the
    request's duration and whose ``check`` tag names the check. That sample follows its request within
    microseconds; it is counted into the request's open interval, or, when that interval was already
    written, into a correction line for it (count 0, failures 1), so no failure is ever dropped.

    An interval is written once the wall clock is ``grace_s`` past its end (k6 flushes its JSON output
    about every 100-200 ms): the live lag stays under two seconds. A sample arriving after its interval was
    written opens a new line for the same identity; readers add lines of one identity up.
    """

    tool = "k6"

    def __init__(self, grace_s: float = 0.35, clock: Callable[[], float] = time.time) -> None:
        self.grace_s = grace_s
        self.clock = clock
        self.open: dict[tuple[int, str, str], IntervalAggregate] = {}
        self.users: list[UsersSample] = []
        self.values: ExactValues | None = None  # every duration, for the exact whole-run figures

    def _agg(self, t: int, name: str, method: str) -> IntervalAggregate:
        key = (t, name, method)
        agg = self.open.get(key)
        if agg is None:
            if self.values is None:
                agg = IntervalAggregate(tool="k6", t=t, name=name, method=method)
            else:
                agg = _KeptAggregate(tool="k6", t=t, name=name, method=method, values=self.values)
                if method == GROUP_METHOD:
                    self.values.groups.add(name)
            self.open[key] = agg
        return agg

    def feed(self, line: str) -> None:
        if line.startswith(_DURATION):
            d = orjson.loads(line)["data"]
            tags = d["tags"]
            t = _epoch_second(d["time"])
            status = tags.get("status", "0")
            failed = tags.get("expected_response") == "false"
            has_status = bool(status) and status != "0"
            cls = f"{status[0]}xx" if has_status else "error"
            cause = None
            if failed:
                cause = http_status(int(status)) if has_status else k6_error_code(tags.get("error_code", ""))
            self._agg(t, tags.get("name", ""), tags.get("method", "")).add(float(d["value"]), failed, cls,
                                                                            cause=cause)
        elif line.startswith(_VUS):
            d = orjson.loads(line)["data"]
            self.users.append(UsersSample("k6", _epoch_second(d["time"]), int(d["value"])))
        elif line.startswith(_CHECK):
            d = orjson.loads(line)["data"]
            tags = d["tags"]
            t = _epoch_second(d["time"])
            name, method = tags.get("name", ""), tags.get("method", "")
            cause = CHECK_PREFIX + tags.get("check", "?")
            target = None
            for key in ((t, name, method), (t - 1, name, method)):
                found = self.open.get(key)
                if found is not None and found.failures < found.count:
                    target = found
                    break
            if target is None:
                target = self._agg(t, name, method)  # a correction line: the request's line was written
            target.add_failure(float(d["value"]), cause)

    def drain(self, final: bool) -> list[Item]:
        cutoff = self.clock() - self.grace_s - 1.0  # an interval [t, t+1) is done when t < cutoff
        done = [k for k in self.open if final or k[0] <= cutoff]
        out: list[Item] = [self.open.pop(k) for k in sorted(done)]
        if self.users:
            out.extend(self.users)
            self.users = []
        return out


class LocustRecordParser:
    """Reads the Locust recorder's per-interval aggregates (already normalized)."""

    tool = "locust"

    def __init__(self) -> None:
        self.items: list[Item] = []

    def feed(self, line: str) -> None:
        if not line:
            return
        self.items.append(item_from_json("locust", orjson.loads(line)))

    def drain(self, final: bool) -> list[Item]:
        out, self.items = self.items, []
        return out


@dataclass(frozen=True)
class Source:
    """One raw output of a tool and its reader: a single process's (``worker`` "0"), or one of the load
    generators of a distributed run (a Locust worker's recorder file, a k6 segment's JSON), "1" … "N"."""

    worker: str
    parser: StreamParser
    raw_output: Path


class ToolCollector:
    """One tool's live collection: its raw outputs, read as they grow, into the local store and the stats.

    ``pump()`` reads what each source appended since the last call, tags what it finished with the source's
    worker, appends it to ``<tool>/aggregates.jsonl`` (the store InfluxDB is pushed from) and merges it into
    ``stats``: counts add up, histograms merge, users are summed per second over the workers.
    ``on_second`` sees each completed second (all request names and workers merged) once collected.
    """

    def __init__(self, tool: str, sources: Sequence[Source], store: Path,
                 on_second: Callable[[IntervalAggregate], None] | None = None) -> None:
        self.tool = tool
        self.sources = list(sources)
        self.tails = [tail_for(source.raw_output) for source in self.sources]
        self.writer = AggregateWriter(store)
        self.stats = ToolStats(tool=tool)
        self.on_second = on_second
        self.last: IntervalAggregate | None = None
        self.users: int | None = None
        # k6 keeps every value for its end-of-test figures: so does crossload, for the same exact figures.
        self.exact: ExactValues | None = None
        if any(isinstance(source.parser, K6JsonParser) for source in self.sources):
            self.exact = ExactValues(store.parent / "exact")
            for source in self.sources:
                if isinstance(source.parser, K6JsonParser):
                    source.parser.values = self.exact

    def _drain(self, final: bool) -> list[Item]:
        items: list[Item] = []
        for source, tail in zip(self.sources, self.tails, strict=True):
            for line in tail.lines():
                source.parser.feed(line)
            drained = source.parser.drain(final)
            if source.worker != "0":
                for i, item in enumerate(drained):
                    if isinstance(item, UsersSample):
                        drained[i] = replace(item, source=source.worker)
                    else:
                        item.worker = source.worker
            items.extend(drained)
        return items

    def pump(self, final: bool = False) -> int:
        items = self._drain(final)
        self.writer.write(items)
        seconds: dict[int, IntervalAggregate] = {}
        for item in items:
            self.stats.add(item)
            if isinstance(item, UsersSample):
                self.users = self.stats.users_at(item.t)
                continue
            if item.method == GROUP_METHOD:
                continue  # a group's wall time is no request of the second
            second = seconds.get(item.t)
            if second is None:
                second = seconds[item.t] = IntervalAggregate(tool=self.tool, t=item.t, name="", method="")
            second.merge(item)
        # The parsers hand out finished seconds only (a late line for a written second has count 0).
        for t in sorted(seconds):
            done = seconds[t]
            if done.count and (self.last is None or t >= self.last.t):
                self.last = done
            if self.on_second is not None:
                self.on_second(done)
        return len(items)

    def close(self) -> None:
        try:
            self.pump(final=True)
            if self.exact is not None:
                take_figures(self.stats, self.exact)
        finally:
            for tail in self.tails:
                tail.close()
            self.writer.close()
            if self.exact is not None:
                self.exact.close()
