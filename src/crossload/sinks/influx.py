"""InfluxDB sinks: the v2 write API (InfluxDB 2.x/3.x, 1.8+, VictoriaMetrics) and the v1 API (InfluxDB 1.x).

Why two: InfluxDB 1.x before 1.8 has no ``/api/v2/write``, so the official client cannot write to it, and
many load-testing setups still run one. The v2 path uses the official ``influxdb-client`` (synchronous
writes: the caller decides when to retry, from the local store); the v1 path needs nothing beyond
``urllib.request``. Both send gzip bodies of at most ``batch_lines`` lines (5000: well below every server's
body limit; a 413 answer still halves the batch) with ``precision=s``.

Configuration comes from ``CROSSLOAD_INFLUX_*`` variables (``sink_from_env``). Credentials are sent only in
headers, never in URLs, and never appear in a message: every text that leaves this module is scrubbed.
"""

from __future__ import annotations

import base64
import functools
import gzip
import http.client
import json
import math
import socket
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from types import SimpleNamespace
from typing import Any

import urllib3.exceptions

from crossload.errors import InputError
from crossload.sinks.base import Sink, SinkRejected, SinkUnavailable, redact_url, scrub
from crossload.sinks.lineprotocol import Point, to_line

BATCH_LINES = 5000
DEFAULT_TIMEOUT_S = 5.0
_MAX_DETAIL = 300
# The client declares ``write_precision: WritePrecision`` but its constants are plain strings ("s").
_SECONDS: Any = "s"


@functools.cache
def _client_lib() -> SimpleNamespace:
    """influxdb-client, imported when a v2 sink is made: its import takes about 0.3 s (it loads numpy) that a
    run without InfluxDB, or with the v1 API, should not pay at start-up."""
    from influxdb_client.client.influxdb_client import InfluxDBClient
    from influxdb_client.client.write_api import SYNCHRONOUS
    from influxdb_client.rest import ApiException
    from influxdb_client.service.ping_service import PingService
    from influxdb_client.service.write_service import WriteService

    return SimpleNamespace(InfluxDBClient=InfluxDBClient, SYNCHRONOUS=SYNCHRONOUS, ApiException=ApiException,
                           PingService=PingService, WriteService=WriteService)


def _check_url(url: str) -> str:
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InputError(f"CROSSLOAD_INFLUX_URL must look like http://host:8086, got {redact_url(url)!r}")
    if parts.username or parts.password:
        raise InputError("CROSSLOAD_INFLUX_URL must not carry credentials: use CROSSLOAD_INFLUX_TOKEN "
                         "(v2) or CROSSLOAD_INFLUX_USERNAME/CROSSLOAD_INFLUX_PASSWORD (v1)")
    return url.rstrip("/")


def _reason(err: BaseException) -> str:
    """A short, secret-free reason for a network failure."""
    if isinstance(err, urllib.error.URLError) and not isinstance(err, urllib.error.HTTPError):
        err = err.reason if isinstance(err.reason, BaseException) else err
    while isinstance(err, urllib3.exceptions.MaxRetryError) and err.reason is not None:
        err = err.reason
    if isinstance(err, ConnectionRefusedError) or "refused" in str(err).lower():
        return "connection refused"
    if isinstance(err, TimeoutError | socket.timeout | urllib3.exceptions.TimeoutError):
        return "no answer in time"
    if isinstance(err, socket.gaierror) or "name or service not known" in str(err).lower():
        return "unknown host"
    if isinstance(err, ConnectionResetError | http.client.HTTPException | urllib3.exceptions.ProtocolError):
        return "connection closed by the server"
    return type(err).__name__


def _detail(body: bytes | str | None) -> str:
    """The server's own error text (InfluxDB answers ``{"error": ...}`` or ``{"message": ...}``)."""
    if not body:
        return ""
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
    try:
        data = json.loads(text)
    except ValueError:
        data = None
    if isinstance(data, dict):
        text = str(data.get("error") or data.get("message") or text)
    text = " ".join(text.split())
    return text[:_MAX_DETAIL]


def _write_chunks(lines: list[str], max_lines: int, send: Callable[[list[str]], None]) -> None:
    """Send ``lines`` in chunks; a chunk the server finds too large (HTTP 413) is halved."""
    pending = [lines[i:i + max_lines] for i in range(0, len(lines), max_lines)]
    while pending:
        chunk = pending.pop(0)
        try:
            send(chunk)
        except _TooLarge:
            if len(chunk) == 1:
                raise SinkRejected("the server refused a single point as too large (HTTP 413)") from None
            half = len(chunk) // 2
            pending[:0] = [chunk[:half], chunk[half:]]


class _TooLarge(Exception):
    pass


def _status_error(where: str, status: int, detail: str, what: str) -> Exception:
    """Map a write's HTTP failure to the caller's choice: retry later, or give up on this request."""
    suffix = f": {detail}" if detail else ""
    if status == 413:
        return _TooLarge()
    if status in (401, 403):
        return SinkRejected(f"{where} refused the {what} (HTTP {status}){suffix}")
    if status == 429 or status >= 500:
        return SinkUnavailable(f"{where} is overloaded or failing (HTTP {status}){suffix}")
    return SinkRejected(f"{where} rejected the write (HTTP {status}){suffix}")


class InfluxV1Sink:
    """InfluxDB 1.x over its HTTP API: ``/ping``, ``/write?db=&precision=s``, ``/query`` (InfluxQL)."""

    def __init__(self, url: str, db: str, username: str | None = None, password: str | None = None,
                 timeout_s: float = DEFAULT_TIMEOUT_S, batch_lines: int = BATCH_LINES) -> None:
        self.url = _check_url(url)
        if not db:
            raise InputError("CROSSLOAD_INFLUX_DB must name the InfluxDB 1.x database")
        self.db = db
        self.timeout_s = timeout_s
        self.batch_lines = batch_lines
        self._username = username
        self._password = password
        self._headers: dict[str, str] = {}
        if username:
            raw = f"{username}:{password or ''}".encode()
            self._headers["Authorization"] = "Basic " + base64.b64encode(raw).decode("ascii")
        self._opener = urllib.request.build_opener()

    @property
    def description(self) -> str:
        return f"InfluxDB 1.x at {redact_url(self.url)} (database {self.db!r})"

    def _detail(self, body: bytes | str | None) -> str:
        return scrub(_detail(body), [self._password, self._headers.get("Authorization")])

    def _request(self, method: str, path: str, params: Mapping[str, str], body: bytes | None = None,
                 headers: Mapping[str, str] | None = None) -> tuple[int, bytes]:
        """(status, body) for any HTTP answer; ``SinkUnavailable`` when there is no answer in time."""
        query = urllib.parse.urlencode(params)
        req = urllib.request.Request(f"{self.url}{path}{'?' + query if query else ''}", data=body,
                                     method=method, headers={**self._headers, **(headers or {})})
        try:
            with self._opener.open(req, timeout=self.timeout_s) as resp:
                return int(resp.status), resp.read()
        except urllib.error.HTTPError as e:
            with e:
                return int(e.code), e.read()
        except (OSError, http.client.HTTPException) as e:
            raise SinkUnavailable(f"cannot reach {self.description}: {_reason(e)}") from None

    def _create_database(self) -> tuple[int, str]:
        name = self.db.replace("\\", "\\\\").replace('"', '\\"')
        form = urllib.parse.urlencode({"q": f'CREATE DATABASE "{name}"'}).encode()
        status, body = self._request("POST", "/query", {}, form,
                                     {"Content-Type": "application/x-www-form-urlencoded"})
        detail = self._detail(body)
        if status == 200 and '"error"' in body.decode("utf-8", "replace"):
            return 400, detail
        return status, detail

    def check(self) -> None:
        try:
            status, body = self._request("GET", "/ping", {})
            if status not in (200, 204):
                raise InputError(
                    f"{redact_url(self.url)} does not answer /ping like InfluxDB (HTTP {status}); "
                    "check CROSSLOAD_INFLUX_URL (and CROSSLOAD_INFLUX_API=v1 is for InfluxDB 1.x)")
            status, body = self._request("POST", "/write", {"db": self.db, "precision": "s"}, b"")
            if status in (401, 403):
                raise InputError(
                    f"{self.description} refused the credentials (HTTP {status}): check "
                    "CROSSLOAD_INFLUX_USERNAME and CROSSLOAD_INFLUX_PASSWORD")
            if status == 404:
                cstatus, detail = self._create_database()
                if cstatus != 200:
                    raise InputError(
                        f"database {self.db!r} does not exist on {redact_url(self.url)} and could not be "
                        f"created (HTTP {cstatus}: {detail}); create it or set CROSSLOAD_INFLUX_DB")
                return
            if status >= 300:
                raise InputError(
                    f"{self.description} answered HTTP {status} to a test write: {self._detail(body)}")
        except SinkUnavailable as e:
            raise InputError(f"{e}; check CROSSLOAD_INFLUX_URL and that the server is running") from None

    def _send(self, lines: list[str]) -> None:
        body = gzip.compress(("\n".join(lines) + "\n").encode("utf-8"), compresslevel=5)
        headers = {"Content-Encoding": "gzip", "Content-Type": "text/plain; charset=utf-8"}
        params = {"db": self.db, "precision": "s"}
        status, answer = self._request("POST", "/write", params, body, headers)
        if status == 404 and "database not found" in answer.decode("utf-8", "replace"):
            cstatus, detail = self._create_database()
            if cstatus != 200:
                raise SinkRejected(f"database {self.db!r} is missing and could not be created "
                                   f"(HTTP {cstatus}: {detail})")
            status, answer = self._request("POST", "/write", params, body, headers)
        if status >= 300:
            raise _status_error(self.description, status, self._detail(answer), "credentials")

    def write(self, points: Sequence[Point]) -> None:
        if points:
            _write_chunks([to_line(p) for p in points], self.batch_lines, self._send)

    def close(self) -> None:
        """Nothing to release: every request opens and closes its own connection."""


class InfluxV2Sink:
    """The v2 write API through the official client: InfluxDB 2.x/3.x, 1.8+ and compatible servers."""

    def __init__(self, url: str, token: str, org: str, bucket: str, timeout_s: float = DEFAULT_TIMEOUT_S,
                 batch_lines: int = BATCH_LINES) -> None:
        self.url = _check_url(url)
        self.org = org
        self.bucket = bucket
        self.timeout_s = timeout_s
        self.batch_lines = batch_lines
        self._token = token
        self._lib = lib = _client_lib()
        self._client = lib.InfluxDBClient(url=self.url, token=token, org=org,
                                          timeout=max(1, int(timeout_s * 1000)), enable_gzip=True, retries=False)
        self._write_api = self._client.write_api(write_options=lib.SYNCHRONOUS)

    @property
    def description(self) -> str:
        return f"InfluxDB at {redact_url(self.url)} (org {self.org!r}, bucket {self.bucket!r})"

    def _detail(self, body: bytes | str | None) -> str:
        return scrub(_detail(body), [self._token])

    def _call(self, fn: Callable[[], Any]) -> Any:
        """Run one client call; no answer becomes ``SinkUnavailable``, an HTTP error stays ApiException."""
        try:
            return fn()
        except self._lib.ApiException:
            raise
        except (urllib3.exceptions.HTTPError, OSError, http.client.HTTPException) as e:
            raise SinkUnavailable(f"cannot reach {self.description}: {_reason(e)}") from None

    def check(self) -> None:
        try:
            try:
                ping = self._lib.PingService(self._client.api_client)
                self._call(ping.get_ping)
            except self._lib.ApiException as e:
                if e.status not in (401, 403):
                    raise InputError(
                        f"{redact_url(self.url)} does not answer /ping like InfluxDB (HTTP {e.status}); "
                        "check CROSSLOAD_INFLUX_URL (CROSSLOAD_INFLUX_API=v1 is for InfluxDB 1.x)") from None
            try:
                service = self._lib.WriteService(self._client.api_client)
                self._call(lambda: service.post_write(
                    org=self.org, bucket=self.bucket, body="", precision=_SECONDS))
            except self._lib.ApiException as e:
                detail = self._detail(e.body)
                if e.status in (401, 403):
                    raise InputError(f"{self.description} refused the token (HTTP {e.status}): check "
                                     "CROSSLOAD_INFLUX_TOKEN (it needs write access to the bucket)") from None
                if e.status == 404:
                    raise InputError(f"{self.description}: {detail or 'not found'}; check "
                                     "CROSSLOAD_INFLUX_ORG and CROSSLOAD_INFLUX_BUCKET") from None
                if e.status == 400:
                    return  # servers before InfluxDB 2.1 refuse an empty write after authorizing it
                raise InputError(f"{self.description} answered HTTP {e.status} to a test write: "
                                 f"{detail}") from None
        except SinkUnavailable as e:
            raise InputError(f"{e}; check CROSSLOAD_INFLUX_URL and that the server is running") from None

    def _send(self, lines: list[str]) -> None:
        try:
            self._call(lambda: self._write_api.write(bucket=self.bucket, org=self.org, record=lines,
                                                     write_precision=_SECONDS))
        except self._lib.ApiException as e:
            status = int(e.status or 0)
            raise _status_error(self.description, status, self._detail(e.body), "token") from None

    def write(self, points: Sequence[Point]) -> None:
        if points:
            _write_chunks([to_line(p) for p in points], self.batch_lines, self._send)

    def close(self) -> None:
        self._write_api.close()
        self._client.close()


# Documented in .env.example: these apply when the variable is unset or empty.
DEFAULT_API = "v2"
DEFAULT_BUCKET = "crossload"
DEFAULT_DB = "crossload"


def _env(env: Mapping[str, str], name: str, default: str | None = None) -> str:
    value = env.get(name, "").strip() or default
    if not value:
        raise InputError(f"{name} is not set (needed because CROSSLOAD_INFLUX_URL is set)")
    return value


def sink_from_env(env: Mapping[str, str]) -> Sink | None:
    """The sink ``CROSSLOAD_INFLUX_*`` describe, or None when CROSSLOAD_INFLUX_URL is unset or empty.

    Unset variables take the defaults .env.example documents: API v2, bucket and database ``crossload``,
    timeout 5 s, no v1 credentials. The v2 token and organisation have no default.
    """
    url = env.get("CROSSLOAD_INFLUX_URL", "").strip()
    if not url:
        return None
    api = env.get("CROSSLOAD_INFLUX_API", "").strip().lower() or DEFAULT_API
    raw_timeout = env.get("CROSSLOAD_INFLUX_TIMEOUT", "").strip()
    timeout_s = DEFAULT_TIMEOUT_S
    if raw_timeout:
        try:
            timeout_s = float(raw_timeout)
        except ValueError:
            timeout_s = math.nan
        if not math.isfinite(timeout_s) or timeout_s <= 0:
            raise InputError(f"CROSSLOAD_INFLUX_TIMEOUT must be a number of seconds > 0, got {raw_timeout!r}")
    if api == "v2":
        return InfluxV2Sink(url, token=_env(env, "CROSSLOAD_INFLUX_TOKEN"),
                            org=_env(env, "CROSSLOAD_INFLUX_ORG"),
                            bucket=_env(env, "CROSSLOAD_INFLUX_BUCKET", DEFAULT_BUCKET), timeout_s=timeout_s)
    if api == "v1":
        username = env.get("CROSSLOAD_INFLUX_USERNAME", "").strip() or None
        password = env.get("CROSSLOAD_INFLUX_PASSWORD") or None
        if password and not username:
            raise InputError("CROSSLOAD_INFLUX_PASSWORD is set but CROSSLOAD_INFLUX_USERNAME is not")
        return InfluxV1Sink(url, db=_env(env, "CROSSLOAD_INFLUX_DB", DEFAULT_DB), username=username,
                            password=password, timeout_s=timeout_s)
    raise InputError(f"CROSSLOAD_INFLUX_API must be v2 or v1, got {api!r}")
