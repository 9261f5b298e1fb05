"""Rendering a scenario and a schedule into a Locust file and a k6 script.

One Jinja2 environment (StrictUndefined, no autoescape, no trimming surprises) and one view-model shared
by both tools. The templates hold no logic: every value they print goes through a filter that writes a
literal of the target language (``py`` or ``js``), so a user's string can never become code, whatever
quotes, backslashes, ``${...}``, ``{{ }}``, ``</script>`` or line breaks it holds. Output is deterministic:
the same input gives the same bytes, which the golden tests compare.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2

from crossload import __version__
from crossload.paths import resource_dir
from crossload.profiles import StageSchedule
from crossload.scenario import Request, Scenario

LOCUST_TEMPLATE = "locustfile.py.jinja"
K6_TEMPLATE = "script.js.jinja"
LOCUST_SUPPORT = ("crossload_locust.py", "crossload_recorder.py")
K6_SUPPORT = "crossload.js"


@dataclass(frozen=True)
class RenderedFile:
    """A generated file and the support files that must sit next to it."""

    filename: str
    text: str
    support: tuple[Path, ...]

    def write(self, directory: Path) -> Path:
        directory.mkdir(parents=True, exist_ok=True)
        out = directory / self.filename
        out.write_text(self.text, encoding="utf-8")
        for src in self.support:
            (directory / src.name).write_text(src.read_text(encoding="utf-8"), encoding="utf-8")
        return out


def py_literal(value: Any, indent: int = 0) -> str:
    """A Python literal for JSON-like data: ASCII only, deterministic, multi-line for containers."""
    pad = "    " * (indent + 1)
    end = "    " * indent
    if value is None or isinstance(value, bool):
        return repr(value)
    if isinstance(value, int):
        return repr(value)
    if isinstance(value, float):
        if math.isnan(value) or math.isinf(value):
            raise ValueError("NaN and infinity have no literal")
        return repr(value)
    if isinstance(value, str):
        return ascii(value)
    if isinstance(value, list | tuple):
        if not value:
            return "[]"
        if all(not isinstance(v, dict | list | tuple) for v in value):
            return "[" + ", ".join(py_literal(v) for v in value) + "]"
        return "[\n" + "".join(f"{pad}{py_literal(v, indent + 1)},\n" for v in value) + end + "]"
    if isinstance(value, dict):
        if not value:
            return "{}"
        items = "".join(f"{pad}{str(k)!a}: {py_literal(v, indent + 1)},\n" for k, v in value.items())
        return "{\n" + items + end + "}"
    raise TypeError(f"no Python literal for {type(value).__name__}")


def js_literal(value: Any, indent: int = 0) -> str:
    """A JavaScript literal: JSON with every non-ASCII character escaped and ``</`` broken up.

    Containers of containers go one item per line; lists of scalars stay on one line, so the rendered
    script reads like hand-written code.
    """
    pad = "  " * (indent + 1)
    end = "  " * indent
    if isinstance(value, dict):
        if not value:
            return "{}"
        items = "".join(f"{pad}{_js_scalar(str(k))}: {js_literal(v, indent + 1)},\n" for k, v in value.items())
        return "{\n" + items + end + "}"
    if isinstance(value, list | tuple):
        if not value:
            return "[]"
        if all(not isinstance(v, dict | list | tuple) for v in value):
            return "[" + ", ".join(_js_scalar(v) for v in value) + "]"
        return "[\n" + "".join(f"{pad}{js_literal(v, indent + 1)},\n" for v in value) + end + "]"
    return _js_scalar(value)


def _js_scalar(value: Any) -> str:
    return json.dumps(value, ensure_ascii=True, allow_nan=False).replace("</", "<\\/")


def comment_text(value: Any) -> str:
    """Text safe inside a one-line comment of either language."""
    return ascii(str(value))[1:-1].replace("*/", "*\\/").replace("</", "<\\/")


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(resource_dir("templates"))),
        undefined=jinja2.StrictUndefined,
        autoescape=False,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["py"] = py_literal
    env.filters["js"] = js_literal
    env.filters["comment"] = comment_text
    return env


_ENV: jinja2.Environment | None = None


def environment() -> jinja2.Environment:
    global _ENV
    if _ENV is None:
        _ENV = _environment()
    return _ENV


def _request_view(r: Request) -> dict[str, Any]:
    view: dict[str, Any] = {
        "name": r.name,
        "method": r.method,
        "path": r.path,
        "query": [list(kv) for kv in r.query],
        "headers": [list(kv) for kv in r.headers],
        "weight": r.weight,
        "checks": {
            "status": list(r.checks.status),
            "body_contains": list(r.checks.body_contains),
            "json": [
                {"path": c.path, "steps": list(c.steps), "exists": c.exists, "has_equals": c.has_equals,
                 "equals": c.equals}
                for c in r.checks.json
            ],
            "reads_body": r.checks.reads_body,
        },
        "think_s": [r.think_time.min_s, r.think_time.max_s] if r.think_time else None,
    }
    if r.has_json_body:
        view["json"] = r.json_body
    elif r.raw_body is not None:
        view["body"] = r.raw_body
    return view


def view_model(scenario: Scenario, schedule: StageSchedule, target: str) -> dict[str, Any]:
    """Everything both templates need, as plain JSON-like data."""
    d = scenario.defaults
    spec = {
        "scenario": scenario.name,
        "target": target,
        "defaults": {
            "headers": [list(kv) for kv in d.headers],
            "timeout_ms": round(d.timeout_s * 1000),
            "think_s": [d.think_time.min_s, d.think_time.max_s],
        },
        "requests": [_request_view(r) for r in scenario.requests],
    }
    return {
        "version": __version__,
        "scenario_name": scenario.name,
        "profile": schedule.profile,
        "spec": spec,
        "stages": [[s.duration_s, s.users] for s in schedule.stages],
        "k6_stages": [{"duration": f"{round(s.duration_s * 1000)}ms", "target": s.users}
                      for s in schedule.stages],
        "spawn_rate": float(math.ceil(schedule.max_ramp_rate)),
        "timeout_s": d.timeout_s,
        "total_s": schedule.total_s,
    }


def render_locust(scenario: Scenario, schedule: StageSchedule, target: str) -> RenderedFile:
    text = environment().get_template(LOCUST_TEMPLATE).render(**view_model(scenario, schedule, target))
    return RenderedFile("locustfile.py", text, tuple(resource_dir("locust") / name for name in LOCUST_SUPPORT))


def render_k6(scenario: Scenario, schedule: StageSchedule, target: str) -> RenderedFile:
    text = environment().get_template(K6_TEMPLATE).render(**view_model(scenario, schedule, target))
    return RenderedFile("script.js", text, (resource_dir("k6") / K6_SUPPORT,))
