"""Locust against k6 on the same scenario, profile and target: every number side by side, with the
differences the tools' definitions explain told apart from those they do not.

``crossload compare`` (``invoke compare``) runs both tools one after the other (``crossload.run.execute``
with ``tool="both"``) and compares their summaries, per request and overall: count, RPS, error rate, p50,
p90, p95, p99 and max, each with the absolute difference (second tool minus first) and the relative one
(relative to the first tool).

The flag rule (docs/reports.md): a difference is **flagged** when it is larger than the tools' definitional
differences explain:

- latency percentiles (p50, p90, p95, p99): the larger value exceeds the smaller by more than the tolerance
  (25 % for p50/p90, 50 % for p95/p99: the tail is where Locust's connection setup shows) **and** by more
  than ``FLOOR_MS`` (5 ms: a few ms is the client-side overhead of a Python load generator against a Go one,
  and the connect time Locust counts and k6 does not). The first request of every user opens a connection,
  which Locust times and k6 does not, so a percentile is only judged when the tail above it holds at least
  twice as many requests as there are users in each tool (n x (1 - q) >= 2 x peak users, and >= 1);
  ``max`` is a single request and is never flagged.
- error rate: both tools' failures are decided by one rule (crossload's support modules), so a difference
  is the target's: flagged when the two proportions differ significantly (p < 0.01, two-proportion test)
  and by more than 1 percentage point.
- RPS (and count): the load is a closed model in both tools (each user waits for its response, then thinks),
  so a tool's rate follows its own latency; flagged when the rates differ by more than 25 % and significantly
  (p < 0.01, a test of two Poisson rates: a handful of requests never flags). ``count`` is shown, not
  flagged (it is RPS times the same duration).
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from pydantic import BaseModel, ConfigDict, Field

from crossload.report.stats import proportion_test, rate_test
from crossload.summary import RequestSummary, RunSummary

ALL = "ALL"
FLOOR_MS = 5.0
LATENCY_TOLERANCE = {"p50_ms": 0.25, "p90_ms": 0.25, "p95_ms": 0.50, "p99_ms": 0.50}
RPS_TOLERANCE = 0.25
ERROR_FLOOR_PP = 1.0
ALPHA = 0.01
METRICS: tuple[tuple[str, str, str], ...] = (
    ("count", "requests", "requests"), ("rps", "req/s", "req/s"), ("error_rate", "errors %", "%"),
    ("p50_ms", "p50", "ms"), ("p90_ms", "p90", "ms"), ("p95_ms", "p95", "ms"), ("p99_ms", "p99", "ms"),
    ("max_ms", "max", "ms"),
)
LABELS = {key: label for key, label, _unit in METRICS}
NOTES = (
    "Latency: Locust's response_time runs from just before the request is sent until the body is read and "
    "includes connection setup when the request opens a connection (the first request of each user); k6's "
    "http_req_duration (sending + waiting + receiving) excludes DNS, TCP connect and TLS handshake. Both keep "
    "connections alive, so the difference shows in the tail (p99, max) more than in the median.",
    "Failures: both tools judge a response by one rule (crossload's support modules: transport error, status "
    "outside the expected ones, failing body check), so error rates compare directly.",
    "Load model: both tools run the same closed model here (a user waits for its response, then thinks), so "
    "RPS follows each tool's latency and client overhead: a slower tool sends fewer requests.",
    "Client overhead: Locust is Python, k6 is Go; a few milliseconds of client-side time per request are "
    "expected on a busy load generator, which is what the absolute floor absorbs.",
)


class _Model(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)


class ComparisonRule(_Model):
    floor_ms: float = FLOOR_MS
    latency_tolerance_pct: dict[str, float] = Field(
        default_factory=lambda: {k: v * 100 for k, v in LATENCY_TOLERANCE.items()})
    rps_tolerance_pct: float = RPS_TOLERANCE * 100
    error_floor_pp: float = ERROR_FLOOR_PP
    alpha: float = ALPHA
    text: str = ("latency: flagged when max/min - 1 exceeds the metric's tolerance and the difference exceeds "
                 "floor_ms, judged only when n x (1 - q) >= max(1, 2 x peak users) successful responses in each "
                 "tool (max: never); error rate: flagged when a two-proportion test gives p < alpha and the "
                 "difference exceeds error_floor_pp; rps: flagged when max/min - 1 exceeds rps_tolerance_pct and a "
                 "test of two Poisson rates gives p < alpha")


class MetricDiff(_Model):
    metric: str
    unit: str
    values: dict[str, float | None]
    diff: float | None = Field(None, description="second tool minus first")
    rel_diff_pct: float | None = Field(None, description="diff / first tool's value, %")
    flagged: bool = False
    reason: str = ""


class ComparisonRow(_Model):
    request: str
    metrics: list[MetricDiff]

    def metric(self, key: str) -> MetricDiff:
        return next(m for m in self.metrics if m.metric == key)


class Comparison(_Model):
    schema_version: int = Field(1, alias="schema")
    kind: str = "comparison"
    run_id: str
    scenario: str
    profile: str
    tools: list[str]
    rule: ComparisonRule = Field(default_factory=ComparisonRule)
    notes: list[str] = Field(default_factory=lambda: list(NOTES))
    rows: list[ComparisonRow] = Field(default_factory=list)

    @property
    def flagged(self) -> list[tuple[str, MetricDiff]]:
        return [(row.request, m) for row in self.rows for m in row.metrics if m.flagged]

    def row(self, request: str) -> ComparisonRow:
        return next(r for r in self.rows if r.request == request)

    def to_json(self) -> dict[str, object]:
        data = self.model_dump(mode="json", by_alias=True)
        data["flagged"] = [f"{request}: {LABELS[m.metric]}" for request, m in self.flagged]
        return data


def _ok_count(s: RequestSummary) -> int:
    return s.count - s.failures


def _judge(key: str, unit: str, a: RequestSummary | None, b: RequestSummary | None, tools: list[str],
           users: int, duration_s: tuple[float, float]) -> MetricDiff:
    va = None if a is None else a.metric(key)
    vb = None if b is None else b.metric(key)
    d = MetricDiff(metric=key, unit=unit, values={tools[0]: va, tools[1]: vb})
    if va is None or vb is None:
        d.reason = "sent by one tool only" if (a is None) != (b is None) else "nothing measured"
        return d
    d.diff = round(vb - va, 4)
    d.rel_diff_pct = round(100.0 * (vb - va) / va, 2) if va else None
    lo, hi = min(va, vb), max(va, vb)
    ratio = math.inf if lo <= 0 < hi else (hi / lo - 1.0 if lo > 0 else 0.0)
    assert a is not None and b is not None
    if key in LATENCY_TOLERANCE:
        q = float(key[1:3])
        need = math.ceil(max(1, 2 * users) / (1.0 - q / 100.0))
        if min(_ok_count(a), _ok_count(b)) < need:
            d.reason = (f"too few successful responses to judge {LABELS[key]} (needs {need} per tool: the "
                        f"connection each of {users} users opens could be its tail)")
        elif ratio > LATENCY_TOLERANCE[key] and hi - lo > FLOOR_MS:
            d.flagged = True
            d.reason = (f"differs by {hi - lo:.1f} ms ({ratio * 100:.0f} %): beyond the "
                        f"{LATENCY_TOLERANCE[key] * 100:.0f} % and {FLOOR_MS:g} ms the tools' definitions explain")
    elif key == "error_rate":
        p_more, p_less = proportion_test(b.failures, b.count, a.failures, a.count)
        p = min(p_more, p_less)
        if p < ALPHA and hi - lo > ERROR_FLOOR_PP:
            d.flagged = True
            d.reason = (f"error rates differ by {hi - lo:.2f} percentage points (p = {p:.2g}); both tools apply "
                        "the same failure rule, so this is the target's behaviour")
    elif key == "rps" and ratio > RPS_TOLERANCE and min(rate_test(b.count, duration_s[1], a.count,
                                                                   duration_s[0])) < ALPHA:
        d.flagged = True
        d.reason = (f"rates differ by {ratio * 100:.0f} % (more than {RPS_TOLERANCE * 100:.0f} %): in a closed "
                    "model a rate follows latency and client overhead; check the load generator's CPU")
    return d


def compare_tools(summary: RunSummary, tools: list[str] | None = None) -> Comparison:
    """The comparison of two tools of one run (default: the first two, in run order)."""
    chosen = tools or list(summary.tools)[:2]
    if len(chosen) != 2 or any(t not in summary.tools for t in chosen):
        raise ValueError(f"a comparison needs two tools in the run, it has {', '.join(summary.tools) or 'none'}")
    first, second = summary.tools[chosen[0]], summary.tools[chosen[1]]
    names = sorted(set(first.requests) | set(second.requests))
    scopes: list[tuple[str, Mapping[str, RequestSummary | None]]] = [
        (name, {chosen[0]: first.requests.get(name), chosen[1]: second.requests.get(name)}) for name in names
    ]
    scopes.append((ALL, {chosen[0]: first.overall, chosen[1]: second.overall}))
    users = max(first.peak_users, second.peak_users)
    durations = (first.duration_s, second.duration_s)
    rows = [ComparisonRow(request=name, metrics=[_judge(key, unit, stats[chosen[0]], stats[chosen[1]], chosen,
                                                        users, durations)
                                                 for key, _label, unit in METRICS])
            for name, stats in scopes]
    return Comparison(run_id=summary.run_id, scenario=summary.scenario, profile=summary.profile, tools=chosen,
                      rows=rows)


def _fmt(value: float | None, unit: str) -> str:
    if value is None:
        return "-"
    if unit == "requests":
        return f"{value:.0f}"
    return f"{value:.2f}" if unit == "%" else f"{value:.1f}"


def format_diff(m: MetricDiff) -> tuple[str, str]:
    """(absolute, relative) differences as text: ``+1.2`` and ``+15 %``."""
    if m.diff is None:
        return "-", "-"
    absolute = ("+" if m.diff >= 0 else "") + _fmt(m.diff, m.unit)
    relative = "-" if m.rel_diff_pct is None else f"{m.rel_diff_pct:+.0f} %"
    return absolute, relative


def comparison_text(c: Comparison) -> str:
    """What ``crossload compare`` prints: the overall block, then every flagged difference."""
    a, b = c.tools
    head = f"{'ALL':<10} {a:>10} {b:>10} {'diff':>10} {'rel':>8}"
    lines = [f"comparison {a} vs {b} (diff = {b} - {a}; rel = diff / {a})", head, "─" * len(head)]
    for m in c.row(ALL).metrics:
        absolute, relative = format_diff(m)
        lines.append(f"{LABELS[m.metric]:<10} {_fmt(m.values[a], m.unit):>10} {_fmt(m.values[b], m.unit):>10} "
                     f"{absolute:>10} {relative:>8}{'  FLAG' if m.flagged else ''}")
    flagged = c.flagged
    lines.append("")
    if not flagged:
        lines.append("no difference beyond what the tools' definitions explain")
    for request, m in flagged:
        lines.append(f"flag: {request}: {LABELS[m.metric]}: {m.reason}")
    return "\n".join(lines)


__all__ = ["ALL", "Comparison", "ComparisonRow", "ComparisonRule", "MetricDiff", "compare_tools",
           "comparison_text", "format_diff"]
