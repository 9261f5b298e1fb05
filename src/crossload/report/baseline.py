"""A run against a baseline: did it regress, improve, or stay the same? (``crossload report RUN``)

The baseline is one stored run (``--baseline RUN``) or the N newest earlier runs of the same scenario and
profile (``--baseline last:N``, the default ``last:5``: same scenario name, profile, peak users and duration,
a run that completed). Several baseline runs are pooled (their histograms and counts add up exactly), and
the spread of their per-run values is the noise the tolerance learns.

Per tool, per request and overall, four checks, each with a verdict ``pass``, ``regressed`` or ``improved``:

- **p95, p99** (successful responses): regressed when all three hold, improved in the mirror case:
  1. the latency distributions differ in that direction: one-sided two-sample Kolmogorov-Smirnov on the
     binned histograms, p below the per-check level;
  2. that percentile moved: the distribution-free 99 % confidence intervals of the percentile (order
     statistics: the binomial distribution of its rank) of run and baseline do not overlap, so a tail of a
     handful of requests never decides anything;
  3. the move is material: |delta| > tolerance = max(floor (5 ms), relative tolerance (20 %) x baseline,
     3 x the standard deviation of the percentile across the baseline runs when there are two or more).
  The first request of every user may carry a connection's setup (Locust counts it, see docs/schema.md) or a
  cold start: up to peak-users values per run are treated as suspect. The KS statistic is reduced by the most
  they can move it, and each confidence interval starts that many ranks lower.
- **error rate**: failures out of requests, Fisher's exact test (small counts) or the two-proportion z-test,
  p below the per-check level, and |delta| > max(1 percentage point, 3 x the baseline runs' standard deviation).
- **RPS**: requests over load time, an exact conditional (binomial) test of two Poisson rates, p below the
  per-check level, and |delta| > max(20 % of the baseline, 3 x the baseline runs' standard deviation). Lower is
  a regression. In a closed model RPS follows latency, so it usually moves with it.

The significance level alpha (0.01) is for the whole report: a report makes many checks (four per tool and
request), so each test is held to alpha / m, m the number of checks (Bonferroni), and a scenario with many
requests does not find a regression by chance.

The overall verdict is ``regressed`` when any check regressed, else ``improved`` when any improved, else
``pass``; ``crossload report`` exits 1 on ``regressed``.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from crossload.errors import InputError
from crossload.histogram import Histogram
from crossload.report.rundata import ALL, RunData, load_run, success_hist
from crossload.report.stats import ks_one_sided, proportion_test, quantile_ci, rate_test, stdev, z_for
from crossload.results import RequestStats
from crossload.runs import StoredRun, find_run, stored_runs

DEFAULT_BASELINE = "last:5"
COMPLETED = ("passed", "thresholds_failed")
PASS, REGRESSED, IMPROVED = "pass", "regressed", "improved"
_LAST = re.compile(r"^last:(\d+)$")


class _Model(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)


class RegressionSettings(_Model):
    alpha: float = Field(0.01, description="significance level of the whole report; each of its m checks is "
                                           "tested at alpha / m (Bonferroni); the percentiles' intervals are 99 %")
    tolerance_pct: float = Field(20.0, description="relative tolerance for p95, p99 and RPS (% of the baseline)")
    floor_ms: float = Field(5.0, description="a latency change smaller than this is never a regression")
    error_floor_pp: float = Field(1.0, description="an error-rate change smaller than this (percentage points) "
                                                   "is never a regression")
    k_sigma: float = Field(3.0, description="learned tolerance: this many standard deviations of the metric "
                                            "across the baseline runs (two or more)")


class RegressionCheck(_Model):
    tool: str
    request: str
    metric: str
    unit: str
    run: float | None = None
    baseline: float | None = None
    delta: float | None = None
    rel_delta_pct: float | None = None
    tolerance: float | None = None
    tolerance_from: str = ""
    test: str = ""
    p_value: float | None = None
    verdict: str = PASS
    note: str = ""
    baseline_values: list[float] = Field(default_factory=list, description="the metric in each baseline run")


class RegressionReport(_Model):
    schema_version: int = Field(1, alias="schema")
    kind: str = "regression"
    run_id: str
    scenario: str
    profile: str
    baseline_spec: str
    baselines: list[str]
    settings: RegressionSettings = Field(default_factory=RegressionSettings)
    verdict: str = PASS
    alpha_per_check: float | None = Field(None, description="alpha / number of checks (Bonferroni)")
    checks: list[RegressionCheck] = Field(default_factory=list)

    def counts(self) -> dict[str, int]:
        out = {PASS: 0, REGRESSED: 0, IMPROVED: 0}
        for c in self.checks:
            out[c.verdict] = out.get(c.verdict, 0) + 1
        return out

    def to_json(self) -> dict[str, object]:
        return self.model_dump(mode="json", by_alias=True)


# --- which runs are the baseline -----------------------------------------------------------------------------

def _shape(run: StoredRun) -> tuple[str, str, object, object]:
    m = run.manifest
    profile = m.get("profile") or {}
    return (str((m.get("scenario") or {}).get("name")), str(profile.get("profile")), profile.get("peak_users"),
            profile.get("total_s"))


def select_baselines(run: StoredRun, spec: str | None, root: Path | None = None) -> list[StoredRun]:
    """The runs ``spec`` names (``RUN``, ``last:N``; default ``last:5``) as the baseline of ``run``."""
    spec = (spec or "").strip() or DEFAULT_BASELINE
    match = _LAST.match(spec)
    if match is None:
        if spec.startswith("last"):
            raise InputError(f"--baseline: expected a run id or last:N (N >= 1), got {spec!r}")
        base = find_run(spec, root)
        if base.run_id == run.run_id:
            raise InputError(f"--baseline: {spec!r} is the run itself; name an earlier run")
        if base.summary is None:
            raise InputError(f"--baseline: run {base.run_id} has no summary.json ({base.status})")
        return [base]
    n = int(match.group(1))
    if n < 1:
        raise InputError(f"--baseline: last:N needs N >= 1, got {spec!r}")
    shape = _shape(run)
    earlier = [r for r in stored_runs(root) if r.run_id < run.run_id and r.status in COMPLETED
               and r.summary is not None and _shape(r) == shape]
    if not earlier:
        scenario, profile, users, total = shape
        raise InputError(f"no earlier completed run of scenario {scenario!r} with profile {profile} ({users} users, "
                         f"{total} s) before {run.run_id}: run one first, or name a baseline with --baseline RUN")
    return earlier[-n:]


# --- the checks ------------------------------------------------------------------------------------------------

@dataclass
class _Pool:
    """One scope (a tool's request, or ALL) over the baseline runs: pooled, and per run."""

    stats: list[RequestStats] = field(default_factory=list)
    durations: list[float] = field(default_factory=list)
    users: list[int] = field(default_factory=list)  # peak users of each baseline run

    @property
    def hist(self) -> Histogram:
        h = Histogram()
        for s in self.stats:
            h.merge(success_hist(s))
        return h

    @property
    def count(self) -> int:
        return sum(s.count for s in self.stats)

    @property
    def failures(self) -> int:
        return sum(s.failures for s in self.stats)


def _rel(delta: float, ref: float) -> float | None:
    return round(100.0 * delta / ref, 2) if ref else None


def _tolerance(parts: dict[str, float]) -> tuple[float, str]:
    source = max(parts, key=lambda k: parts[k])
    return parts[source], source


def _latency_check(tool: str, request: str, q: int, run: RequestStats, pool: _Pool, users: int,
                   settings: RegressionSettings, alpha: float) -> RegressionCheck:
    check = RegressionCheck(tool=tool, request=request, metric=f"p{q}_ms", unit="ms",
                            test="one-sided two-sample Kolmogorov-Smirnov on the histograms + 99 % CI of the "
                                 "percentile (order statistics)")
    run_h, base_h = success_hist(run), pool.hist
    per_run = [success_hist(s) for s in pool.stats]
    check.baseline_values = [round(h.percentile_ms(q), 3) for h in per_run if h.count]
    if run_h.count == 0 or base_h.count == 0:
        check.note = "no successful responses to compare"
        return check
    cur, ref = run_h.percentile_ms(q), base_h.percentile_ms(q)
    delta = cur - ref
    check.run, check.baseline = round(cur, 3), round(ref, 3)
    check.delta, check.rel_delta_pct = round(delta, 3), _rel(delta, ref)
    parts = {"floor": settings.floor_ms, "relative": settings.tolerance_pct / 100.0 * ref}
    if len(check.baseline_values) >= 2:
        parts["baseline variance"] = settings.k_sigma * stdev(check.baseline_values)
    tol, source = _tolerance(parts)
    check.tolerance, check.tolerance_from = round(tol, 3), source
    suspect_base = sum(pool.users)
    ks = ks_one_sided(run_h, base_h, users, suspect_base)
    z = z_for(0.99)
    ci_run, ci_base = quantile_ci(run_h, q, z, users), quantile_ci(base_h, q, z, suspect_base)
    assert ci_run is not None and ci_base is not None
    slower = delta > 0
    check.p_value = float(f"{ks.p_slower if slower else ks.p_faster:.3g}")
    significant = (ks.p_slower if slower else ks.p_faster) < alpha
    moved = ci_run.low_ms > ci_base.high_ms if slower else ci_run.high_ms < ci_base.low_ms
    material = abs(delta) > tol
    ci_text = (f"99 % CI of p{q}: run {ci_run.low_ms:.1f}-{ci_run.high_ms:.1f} ms, baseline "
               f"{ci_base.low_ms:.1f}-{ci_base.high_ms:.1f} ms")
    if significant and moved and material:
        check.verdict = REGRESSED if slower else IMPROVED
        check.note = f"{'slower' if slower else 'faster'} by {abs(delta):.1f} ms (> {tol:.1f} ms, {source}); {ci_text}"
    elif not (ci_run.bounded and ci_base.bounded) and not moved:
        check.note = f"too few requests to place p{q} precisely; {ci_text}"
    else:
        why = [w for w, ok in (("the distributions do not differ significantly", significant),
                               ("the percentile's confidence intervals overlap", moved),
                               (f"the change is within the tolerance ({tol:.1f} ms, {source})", material)) if not ok]
        check.note = "; ".join(why) if why else ""
    return check


def _error_check(tool: str, request: str, run: RequestStats, pool: _Pool,
                 settings: RegressionSettings, alpha: float) -> RegressionCheck:
    check = RegressionCheck(tool=tool, request=request, metric="error_rate", unit="%")
    check.baseline_values = [round(100.0 * s.failures / s.count, 4) for s in pool.stats if s.count]
    n1, n2 = run.count, pool.count
    if n1 == 0 or n2 == 0:
        check.note = "no requests to compare"
        return check
    r1, r2 = 100.0 * run.failures / n1, 100.0 * pool.failures / n2
    delta = r1 - r2
    check.run, check.baseline = round(r1, 4), round(r2, 4)
    check.delta, check.rel_delta_pct = round(delta, 4), _rel(delta, r2)
    parts = {"floor": settings.error_floor_pp}
    if len(check.baseline_values) >= 2:
        parts["baseline variance"] = settings.k_sigma * stdev(check.baseline_values)
    tol, source = _tolerance(parts)
    check.tolerance, check.tolerance_from = round(tol, 4), source
    pooled = (run.failures + pool.failures) / (n1 + n2)
    expected = min(n1 * pooled, n1 * (1 - pooled), n2 * pooled, n2 * (1 - pooled))
    check.test = "Fisher's exact test" if expected < 5 else "two-proportion z-test"
    p_more, p_less = proportion_test(run.failures, n1, pool.failures, n2)
    p = p_more if delta > 0 else p_less
    check.p_value = float(f"{p:.3g}")
    if p < alpha and abs(delta) > tol:
        check.verdict = REGRESSED if delta > 0 else IMPROVED
        check.note = f"{abs(delta):.2f} percentage points {'more' if delta > 0 else 'fewer'} errors (> {tol:.2f})"
    elif delta:
        check.note = ("the difference is not significant" if p >= alpha
                      else f"the change is within the tolerance ({tol:.2f} percentage points, {source})")
    return check


def _rps_check(tool: str, request: str, run: RequestStats, duration_s: float, pool: _Pool,
               settings: RegressionSettings, alpha: float) -> RegressionCheck:
    check = RegressionCheck(tool=tool, request=request, metric="rps", unit="req/s",
                            test="conditional binomial test of two Poisson rates")
    check.baseline_values = [round(s.count / d, 3) for s, d in zip(pool.stats, pool.durations, strict=True) if d > 0]
    t2 = sum(pool.durations)
    if duration_s <= 0 or t2 <= 0:
        check.note = "no load time to compare"
        return check
    r1, r2 = run.count / duration_s, pool.count / t2
    delta = r1 - r2
    check.run, check.baseline = round(r1, 3), round(r2, 3)
    check.delta, check.rel_delta_pct = round(delta, 3), _rel(delta, r2)
    parts = {"relative": settings.tolerance_pct / 100.0 * r2}
    if len(check.baseline_values) >= 2:
        parts["baseline variance"] = settings.k_sigma * stdev(check.baseline_values)
    tol, source = _tolerance(parts)
    check.tolerance, check.tolerance_from = round(tol, 3), source
    p_more, p_less = rate_test(run.count, duration_s, pool.count, t2)
    p = p_more if delta > 0 else p_less
    check.p_value = float(f"{p:.3g}")
    if p < alpha and abs(delta) > tol:
        check.verdict = IMPROVED if delta > 0 else REGRESSED
        check.note = f"{abs(delta):.1f} requests/s {'more' if delta > 0 else 'fewer'} (> {tol:.1f}, {source})"
    elif delta:
        check.note = ("the difference is not significant" if p >= alpha
                      else f"the change is within the tolerance ({tol:.1f} req/s, {source})")
    return check


def regression_report(run: RunData, baselines: list[RunData], spec: str,
                      settings: RegressionSettings | None = None) -> RegressionReport:
    settings = settings or RegressionSettings()
    report = RegressionReport(run_id=run.run_id, scenario=run.scenario, profile=run.summary.profile,
                              baseline_spec=spec, baselines=[b.run_id for b in baselines], settings=settings)
    judged: list[tuple[str, str, RequestStats, _Pool]] = []
    for tool, data in run.tools.items():
        bases = [b for b in baselines if tool in b.tools]
        if not bases:
            continue
        for request in [*sorted(data.stats.requests), ALL]:
            current = data.scope(request)
            if current is None:
                continue
            pool = _Pool()
            for b in bases:
                stats = b.tools[tool].scope(request)
                if stats is not None:
                    pool.stats.append(stats)
                    pool.durations.append(b.tools[tool].stats.duration_s)
                    pool.users.append(b.tools[tool].stats.peak_users)
            if pool.stats:
                judged.append((tool, request, current, pool))
            else:
                report.checks.append(RegressionCheck(tool=tool, request=request, metric="p95_ms", unit="ms",
                                                     note="not in the baseline: nothing to compare"))
    alpha = settings.alpha / max(1, 4 * len(judged))  # Bonferroni over every check of the report
    report.alpha_per_check = float(f"{alpha:.3g}")
    for tool, request, current, pool in judged:
        stats_of_tool = run.tools[tool].stats
        for q in (95, 99):
            report.checks.append(_latency_check(tool, request, q, current, pool, stats_of_tool.peak_users, settings,
                                                alpha))
        report.checks.append(_error_check(tool, request, current, pool, settings, alpha))
        report.checks.append(_rps_check(tool, request, current, stats_of_tool.duration_s, pool, settings, alpha))
    verdicts = {c.verdict for c in report.checks}
    report.verdict = REGRESSED if REGRESSED in verdicts else IMPROVED if IMPROVED in verdicts else PASS
    return report


def build(run_ref: str | None, spec: str | None, root: Path | None = None,
          settings: RegressionSettings | None = None) -> tuple[RegressionReport, RunData, list[RunData]]:
    """Find the run and its baseline, read their stores, and judge every check."""
    run = find_run(run_ref, root)
    if run.summary is None:
        raise InputError(f"run {run.run_id} has no summary.json yet ({run.status}): nothing to report")
    bases = select_baselines(run, spec, root)
    current = load_run(run.path)
    base_data = [load_run(b.path) for b in bases]
    if not any(t in b.tools for b in base_data for t in current.tools):
        raise InputError(f"the baseline ran {', '.join(sorted({t for b in base_data for t in b.tools}))}, the run "
                         f"{', '.join(current.tools)}: no tool in common")
    return (regression_report(current, base_data, (spec or "").strip() or DEFAULT_BASELINE, settings), current,
            base_data)


def verdict_text(report: RegressionReport) -> str:
    """What ``crossload report`` prints: one line per check that did not pass, then the verdict."""
    lines = [f"report {report.run_id} against {len(report.baselines)} baseline run(s) "
             f"({report.baseline_spec}: {', '.join(report.baselines)})"]
    for c in report.checks:
        if c.verdict == PASS:
            continue
        lines.append(f"  {c.verdict.upper()}  {c.tool} {c.request}: {_label(c.metric)} {_num(c.baseline)} -> "
                     f"{_num(c.run)} {c.unit} ({c.note}; p = {c.p_value:.2g})")
    counts = report.counts()
    lines.append(f"verdict: {report.verdict} ({counts[REGRESSED]} regressed, {counts[IMPROVED]} improved, "
                 f"{counts[PASS]} pass)")
    return "\n".join(lines)


def _label(metric: str) -> str:
    return {"p95_ms": "p95", "p99_ms": "p99", "error_rate": "error rate", "rps": "RPS"}.get(metric, metric)


def _num(v: float | None) -> str:
    if v is None:
        return "-"
    return f"{v:.4g}" if not math.isinf(v) else "inf"


__all__ = ["DEFAULT_BASELINE", "IMPROVED", "PASS", "REGRESSED", "RegressionCheck", "RegressionReport",
           "RegressionSettings", "build", "regression_report", "select_baselines", "verdict_text"]
