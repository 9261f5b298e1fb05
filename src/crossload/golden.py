"""Golden rendered files: every example scenario rendered for both tools, compared byte for byte.

``invoke golden`` rewrites tests/golden/<scenario>/{locustfile.py,script.js}; ``invoke golden --check``
(and the test suite) fails when rendering no longer produces exactly those bytes. Besides the example
scenarios (scenarios/*.yaml), a golden folder may hold its own input, tests/golden/<name>/scenario.yaml: constructs
no example would sensibly show, rendered and compared the same way.
"""

from __future__ import annotations

import sys
from pathlib import Path

from crossload.paths import resource_dir
from crossload.profiles import build_schedule
from crossload.render import render_k6, render_locust
from crossload.scenario import load_scenario

GOLDEN_TARGET = "http://127.0.0.1:8089"
GOLDEN_PROFILE = "smoke"


def golden_inputs(scenarios_dir: Path | None = None, golden_dir: Path | None = None) -> dict[str, Path]:
    """Golden name -> its scenario file: every example scenario, then every golden-only input."""
    inputs = {path.stem: path for path in sorted((scenarios_dir or resource_dir("scenarios")).glob("*.yaml"))}
    for path in sorted((golden_dir or resource_dir("tests") / "golden").glob("*/scenario.yaml")):
        if path.parent.name in inputs:
            raise ValueError(f"{path}: the golden folder {path.parent.name} belongs to scenarios/"
                             f"{path.parent.name}.yaml")
        inputs[path.parent.name] = path
    return inputs


def rendered_examples(scenarios_dir: Path | None = None, golden_dir: Path | None = None) -> dict[str, str]:
    """Relative golden path -> the text rendering produces now."""
    out: dict[str, str] = {}
    for stem, path in golden_inputs(scenarios_dir, golden_dir).items():
        scenario = load_scenario(path)
        # The golden file must not depend on where the checkout lives.
        schedule = build_schedule(GOLDEN_PROFILE, scenario)
        out[f"{stem}/locustfile.py"] = render_locust(scenario, schedule, GOLDEN_TARGET).text
        out[f"{stem}/script.js"] = render_k6(scenario, schedule, GOLDEN_TARGET).text
    return out


def regenerate(check: bool = False, golden_dir: Path | None = None) -> int:
    root = golden_dir or resource_dir("tests") / "golden"
    expected = rendered_examples(golden_dir=root)
    differ = []
    for rel, text in expected.items():
        dest = root / rel
        current = dest.read_bytes() if dest.exists() else None
        if current != text.encode("utf-8"):
            differ.append(rel)
            if not check:
                dest.parent.mkdir(parents=True, exist_ok=True)
                dest.write_bytes(text.encode("utf-8"))
    for rel in differ:
        print(f"{'differs' if check else 'wrote'}: {root / rel}", file=sys.stderr if check else sys.stdout)
    if check and differ:
        return 1
    if not differ:
        print(f"golden files up to date ({len(expected)} files)")
    return 0
