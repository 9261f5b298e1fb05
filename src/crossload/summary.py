"""The typed run summary (``summary.json``): what reporters, the table, thresholds and stored runs read.

One model for both tools. Latency figures at the top level of a ``RequestSummary`` are those of
**successful responses** (what users compare, and what thresholds judge); ``all_requests`` holds the same
figures over every request, failed ones included (a refused connection is timed as ~0 ms by k6 and by
seconds of connect time by Locust, so those numbers say little about the server). ``errors`` counts failed
requests by cause (see ``crossload.causes``), largest first. docs/schema.md documents every field.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from crossload.units import format_bytes

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


class TargetSummary(_Model):
    """The target's process tree while one tool's load ran (crossload.monitor; cpu in percent of one core)."""

    samples: int = Field(0, description="one per second")
    cpu_mean_pct: float = 0.0
    cpu_max_pct: float = 0.0
    rss_start_bytes: int = 0
    rss_end_bytes: int = 0
    rss_max_bytes: int = 0
    rss_growth_bytes: int = Field(0, description="rss_end_bytes - rss_start_bytes (negative: it shrank)")
    threads_max: int = 0
    connections_max: int = 0

    def metric(self, key: str) -> float | None:
        return float(getattr(self, key))


class GeneratorSummary(_Model):
    """The load generator's own processes while it ran (cpu in percent of one core)."""

    samples: int = 0
    cores: int = Field(1, description="cores of the machine")
    processes_max: int = 0
    cpu_mean_pct: float = 0.0
    cpu_max_pct: float = 0.0
    rss_max_bytes: int = 0
    saturation_limit_pct: float = Field(0.0, description="k6: 80 % of the cores; Locust: 90 % of one core per process")
    saturated_s: int = Field(0, description="seconds above the limit")
    saturated: bool = Field(False, description="above the limit for 3 s or more: latencies include the generator's "
                                               "own queueing")


class ToolSummary(_Model):
    duration_s: float = 0.0
    peak_users: int = 0
    overall: RequestSummary = Field(default_factory=RequestSummary)
    requests: dict[str, RequestSummary] = Field(default_factory=dict)
    target: TargetSummary | None = Field(None, description="the target's resources while this tool ran "
                                                           "(None: not a local process)")
    generator: GeneratorSummary | None = Field(None, description="this tool's own processes (None: not measured)")


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

    @property
    def scope(self) -> str:
        if self.metric.startswith("target_"):
            return "the target"
        return self.request or "all requests"

    def shown(self) -> str:
        """The measured value with its unit, for people."""
        if self.measured is None:
            return "nothing measured"
        if self.unit == "bytes":
            return format_bytes(self.measured)
        return f"{self.measured:g} {self.unit}".strip()


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
    aborted: dict[str, Any] | None = Field(None, description="the abort criterion that stopped the run early: "
                                                             "threshold, request, tool, at_s, measured, window_s")
    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    def to_json(self) -> dict[str, object]:
        return self.model_dump(mode="json", by_alias=True)


__all__ = ["PERCENTILES", "SCHEMA_VERSION", "GeneratorSummary", "LatencySummary", "RequestSummary", "RunSummary",
           "TargetSummary", "ToolSummary", "VerdictSummary"]
