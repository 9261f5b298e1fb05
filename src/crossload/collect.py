"""Streaming readers of both tools' raw output, turned into interval aggregates while the run goes on.

- k6 writes its JSON-lines stream (``--out json=``): one line per metric sample. Only the lines the model
  needs are decoded (http_req_duration, vus, crossload_check_failed); every other line is skipped by a
  prefix test before any JSON parsing. k6 tags bytes per iteration, not per request, so k6's bytes are
  taken from its own end-of-test summary (tool level only).
- The Locust listener (locust/crossload_locust.py) already writes per-interval aggregates; they are read
  and re-labelled with the tool.

``FileTail`` follows a growing file and hands out complete lines only, so a reader never sees half a line.
"""

from __future__ import annotations

import calendar
import codecs
import json
import time
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Protocol

from crossload.results import IntervalAggregate, UsersSample, item_from_json

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


_DURATION = '{"metric":"http_req_duration","type":"Point"'
_VUS = '{"metric":"vus","type":"Point"'
_CHECK = '{"metric":"crossload_check_failed","type":"Point"'


class K6JsonParser:
    """Turns k6's JSON output into interval aggregates.

    A request is failed when k6 marks it unexpected (``expected_response`` false: a transport error or a
    status outside the expected ones) or when crossload's body checks failed for it. Intervals are closed
    once the stream has moved ``lag`` seconds past them, since k6 flushes samples in batches.
    """

    tool = "k6"

    def __init__(self, lag: int = 3) -> None:
        self.lag = lag
        self.open: dict[tuple[int, str, str], IntervalAggregate] = {}
        self.users: list[UsersSample] = []
        self.latest = 0

    def _agg(self, t: int, name: str, method: str) -> IntervalAggregate:
        key = (t, name, method)
        agg = self.open.get(key)
        if agg is None:
            agg = self.open[key] = IntervalAggregate(tool="k6", t=t, name=name, method=method)
        return agg

    def feed(self, line: str) -> None:
        if line.startswith(_DURATION):
            d = json.loads(line)["data"]
            tags = d["tags"]
            t = _epoch_second(d["time"])
            status = tags.get("status", "0")
            failed = tags.get("expected_response") == "false"
            cls = f"{status[0]}xx" if status and status != "0" else "error"
            self._agg(t, tags.get("name", ""), tags.get("method", "")).add(float(d["value"]), failed, cls)
            if t > self.latest:
                self.latest = t
        elif line.startswith(_VUS):
            d = json.loads(line)["data"]
            self.users.append(UsersSample("k6", _epoch_second(d["time"]), int(d["value"])))
        elif line.startswith(_CHECK):
            d = json.loads(line)["data"]
            tags = d["tags"]
            t = _epoch_second(d["time"])
            found = self.open.get((t, tags.get("name", ""), tags.get("method", "")))
            if found is None:
                found = self.open.get((t - 1, tags.get("name", ""), tags.get("method", "")))
            if found is not None and found.failures < found.count:
                found.failures += 1
                found.status["check_failed"] = found.status.get("check_failed", 0) + 1

    def drain(self, final: bool) -> list[Item]:
        cutoff = self.latest - self.lag
        done = [k for k in self.open if final or k[0] < cutoff]
        out: list[Item] = [self.open.pop(k) for k in sorted(done)]
        if self.users:
            out.extend(self.users)
            self.users = []
        return out


class LocustRecordParser:
    """Reads the Locust listener's per-interval aggregates (already normalized)."""

    tool = "locust"

    def __init__(self) -> None:
        self.items: list[Item] = []

    def feed(self, line: str) -> None:
        if not line:
            return
        self.items.append(item_from_json("locust", json.loads(line)))

    def drain(self, final: bool) -> list[Item]:
        out, self.items = self.items, []
        return out


def parser_for(tool: str) -> StreamParser:
    if tool == "k6":
        return K6JsonParser()
    if tool == "locust":
        return LocustRecordParser()
    raise ValueError(f"no parser for {tool!r}")
