"""The typed run summary (``summary.json``): what reporters, the table, thresholds and stored runs read.

One model for both tools. Latency figures at the top level of a ``RequestSummary`` are those of
**successful responses** (what users compare, and what thresholds judge); ``all_requests`` holds the same
figures over every request, failed ones included (a refused connection is timed as ~0 ms by k6 and by
seconds of connect time by Locust, so those numbers say little about the server). ``errors`` counts failed
requests by cause (see ``crossload.causes``), largest first. docs/schema.md documents every field.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

SCHEMA_VERSION = 2
PERCENTILES = (50, 90, 95, 99)


class _Model(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=False)


class LatencySummary(_Model):
    """Latency over a set of requests (ms); every value is None when the set is empty."""

    min_ms: float | None = None
    mean_ms: float | None = None
    p50_ms: float | None = None
    p90_ms: float | None = None
    p95_ms: float | None = None
    p99_ms: float | None = None
    max_ms: float | None = None


class _Counts(_Model):
    count: int = 0
    failures: int = 0
    error_rate: float = Field(0.0, description="100 x failures / count (%)")
    rps: float = Field(0.0, description="count / duration_s (requests/s)")
    bytes: int = 0


class RequestSummary(LatencySummary, _Counts):
    """Run-level numbers of one request name (or of a whole tool: ``overall``).

    ``min_ms`` ... ``max_ms``: successful responses; ``all_requests``: every request, failed ones included.
    """

    all_requests: LatencySummary = Field(default_factory=LatencySummary,
                                         description="latency over every request, failed ones included")
    errors: dict[str, int] = Field(default_factory=dict, description="failed requests by cause, largest first")

    def metric(self, key: str) -> float | None:
        """A threshold metric's value: ``p95_ms``, ``error_rate``, ``rps``, ... (None when not measured)."""
        value = getattr(self, key)
        return None if value is None else float(value)


class ToolSummary(_Model):
    duration_s: float = 0.0
    peak_users: int = 0
    overall: RequestSummary = Field(default_factory=RequestSummary)
    requests: dict[str, RequestSummary] = Field(default_factory=dict)


class VerdictSummary(_Model):
    threshold: str
    request: str | None = None
    metric: str
    op: str
    limit: float
    unit: str
    tool: str
    measured: float | None = None
    passed: bool
    location: str
    guard: bool = Field(False, description="crossload's default error-rate guard, not a scenario threshold")


class RunSummary(_Model):
    schema_version: int = Field(SCHEMA_VERSION, alias="schema")
    run_id: str
    scenario: str
    profile: str
    status: str = "running"
    units: dict[str, str] = Field(default_factory=lambda: {
        "latency": "ms", "error_rate": "%", "rps": "requests/s", "bytes": "bytes"})
    latency_of: str = "successful responses (all_requests: every request)"
    tools: dict[str, ToolSummary] = Field(default_factory=dict)
    thresholds: list[VerdictSummary] = Field(default_factory=list)
    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    def to_json(self) -> dict[str, object]:
        return self.model_dump(mode="json", by_alias=True)


__all__ = ["PERCENTILES", "SCHEMA_VERSION", "LatencySummary", "RequestSummary", "RunSummary", "ToolSummary",
           "VerdictSummary"]
