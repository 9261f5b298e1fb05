"""Threshold verdicts, computed by crossload on the normalized numbers, identically for both tools.

Besides the scenario's thresholds, every run has guards, so a broken target is never a pass:

- a tool that made no request at all fails (``count > 0``);
- a tool whose every request failed fails (``error_rate < 100%``), whatever else is configured;
- unless the scenario sets an overall ``error_rate`` threshold of its own, a default error-rate guard
  applies: ``error_rate < 10%``, changed with ``CROSSLOAD_ERROR_GUARD`` (e.g. ``25%``, or ``off``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from crossload.errors import InputError, Location
from crossload.scenario import Threshold
from crossload.summary import ToolSummary, VerdictSummary
from crossload.units import format_bytes, parse_percent

_FIELD = {
    "avg": "mean_ms", "p50": "p50_ms", "p90": "p90_ms", "p95": "p95_ms", "p99": "p99_ms", "max": "max_ms",
    "error_rate": "error_rate", "rps": "rps", "count": "count",
}
# Judged on the target's resources while each tool's load ran (ToolSummary.target, crossload.monitor).
_TARGET_FIELD = {"target_rss_growth": "rss_growth_bytes", "target_rss_max": "rss_max_bytes",
                 "target_cpu_mean": "cpu_mean_pct"}
_UNIT = {"error_rate": "%", "rps": "req/s", "count": "requests", "target_rss_growth": "bytes",
         "target_rss_max": "bytes", "target_cpu_mean": "% of one core"}
DEFAULT_ERROR_GUARD = "10%"
GUARD_VARIABLE = "CROSSLOAD_ERROR_GUARD"
GUARD_LOCATION = Location(f"default guard ({GUARD_VARIABLE})")


@dataclass(frozen=True)
class Verdict:
    threshold: Threshold
    tool: str
    measured: float | None
    passed: bool
    guard: bool = False

    @property
    def unit(self) -> str:
        return unit_of(self.threshold.metric)

    def describe(self) -> str:
        scope = f"request {self.threshold.request!r}" if self.threshold.request else "all requests"
        if self.threshold.metric in _TARGET_FIELD:
            scope = "the target"
            nothing = "the target's resources were not measured (not a local process)"
        else:
            nothing = "no requests measured"
        got = nothing if self.measured is None else f"measured {self._shown()}"
        kind = " (guard)" if self.guard else ""
        return f"{self.tool}: {self.threshold.text}{kind} ({scope}): {got}"

    def _shown(self) -> str:
        assert self.measured is not None
        if self.unit == "bytes":
            return format_bytes(self.measured)
        return f"{self.measured:g} {self.unit}"

    def to_model(self) -> VerdictSummary:
        return VerdictSummary(
            threshold=self.threshold.text, request=self.threshold.request, metric=self.threshold.metric,
            op=self.threshold.op, limit=self.threshold.value, unit=self.unit, tool=self.tool,
            measured=self.measured, passed=self.passed, location=str(self.threshold.location), guard=self.guard,
        )


def _guard(metric: str, op: str, value: float, text: str) -> Threshold:
    return Threshold(metric=metric, op=op, value=value, text=text, request=None, location=GUARD_LOCATION)


def guards(thresholds: tuple[Threshold, ...], env: Mapping[str, str]) -> tuple[Threshold, ...]:
    """The guards that apply next to the scenario's ``thresholds`` (see the module docstring)."""
    raw = (env.get(GUARD_VARIABLE) or DEFAULT_ERROR_GUARD).strip()
    out = [_guard("count", ">", 0, "requests > 0")]
    own = any(t.metric == "error_rate" and t.request is None for t in thresholds)
    limit = 100.0
    if raw.lower() not in ("off", "none", "0") and not own:
        try:
            limit = parse_percent(raw)
        except ValueError as e:
            raise InputError(f"{GUARD_VARIABLE}: {e} (write e.g. 10% or off)") from None
        if not 0 < limit <= 100:
            raise InputError(f"{GUARD_VARIABLE}: must be above 0% and at most 100%, got {raw!r}")
    out.append(_guard("error_rate", "<", limit, f"error_rate < {limit:g}%"))
    return tuple(out)


def unit_of(metric: str) -> str:
    return _UNIT.get(metric, "ms")


def metric_value(th: Threshold, summary: ToolSummary) -> float | None:
    """What a (request or overall) threshold judges in one tool's summary; None when its scope saw nothing."""
    stats = summary.overall if th.request is None else summary.requests.get(th.request)
    if stats is not None and (stats.count or th.metric == "count"):
        return stats.metric(_FIELD[th.metric])
    return None


def evaluate(thresholds: tuple[Threshold, ...], tools: Mapping[str, ToolSummary],
             guard: tuple[Threshold, ...] = ()) -> list[Verdict]:
    """A threshold with nothing measured fails; guards are judged the same way."""
    out: list[Verdict] = []
    for tool, summary in tools.items():
        for th, is_guard in [*((t, False) for t in thresholds), *((g, True) for g in guard)]:
            measured = None
            if th.metric in _TARGET_FIELD:
                if summary.target is not None and summary.target.samples:
                    measured = summary.target.metric(_TARGET_FIELD[th.metric])
                out.append(Verdict(threshold=th, tool=tool, measured=measured,
                                   passed=measured is not None and th.holds(measured), guard=is_guard))
                continue
            measured = metric_value(th, summary)
            passed = measured is not None and th.holds(measured)
            out.append(Verdict(threshold=th, tool=tool, measured=measured, passed=passed, guard=is_guard))
    return out
