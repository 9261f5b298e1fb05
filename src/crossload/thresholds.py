"""Threshold verdicts, computed by crossload on the normalized numbers, identically for both tools."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from crossload.scenario import Threshold

_FIELD = {
    "avg": "mean_ms", "p50": "p50_ms", "p90": "p90_ms", "p95": "p95_ms", "p99": "p99_ms", "max": "max_ms",
    "error_rate": "error_rate", "rps": "rps",
}
_UNIT = {"error_rate": "%", "rps": "req/s"}


@dataclass(frozen=True)
class Verdict:
    threshold: Threshold
    tool: str
    measured: float | None
    passed: bool

    @property
    def unit(self) -> str:
        return _UNIT.get(self.threshold.metric, "ms")

    def describe(self) -> str:
        scope = f"request {self.threshold.request!r}" if self.threshold.request else "all requests"
        got = "no requests measured" if self.measured is None else f"measured {self.measured:g} {self.unit}"
        return f"{self.tool}: {self.threshold.text} ({scope}): {got}"

    def to_json(self) -> dict[str, Any]:
        return {
            "threshold": self.threshold.text,
            "request": self.threshold.request,
            "metric": self.threshold.metric,
            "op": self.threshold.op,
            "limit": self.threshold.value,
            "unit": self.unit,
            "tool": self.tool,
            "measured": self.measured,
            "passed": self.passed,
            "location": str(self.threshold.location),
        }


def evaluate(thresholds: tuple[Threshold, ...], tools: dict[str, dict[str, Any]]) -> list[Verdict]:
    """``tools`` is summary.json's ``tools`` mapping; a threshold with nothing measured fails."""
    out: list[Verdict] = []
    for tool, summary in tools.items():
        for th in thresholds:
            stats = summary["overall"] if th.request is None else summary["requests"].get(th.request)
            measured = None
            if stats is not None and stats.get("count"):
                value = stats.get(_FIELD[th.metric])
                measured = float(value) if value is not None else None
            passed = measured is not None and th.holds(measured)
            out.append(Verdict(threshold=th, tool=tool, measured=measured, passed=passed))
    return out
