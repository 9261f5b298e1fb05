"""Kubernetes manifests from a scenario and a profile (``invoke k8s.render``): no cluster is contacted.

Two files, each a multi-document YAML to ``kubectl apply -f``:

- ``k6-testrun.yaml``: a ConfigMap holding the rendered ``script.js`` and ``crossload.js``, and a k6-operator
  ``TestRun`` (``k6.io/v1alpha1``) that runs it with ``parallelism: N``. The operator gives each runner pod
  an equal execution segment, exactly what ``--workers N`` does here, so together they follow the profile.
  With InfluxDB configured, k6 writes its own metrics there: ``--out influxdb=URL/DB`` (k6's built-in
  output, InfluxDB v1 API) or ``--out xk6-influxdb=URL`` (v2 API: a k6 image built with the
  xk6-output-influxdb extension, ``CROSSLOAD_K6_IMAGE``). That is k6's schema (``http_req_duration`` …
  tagged ``run_id``), not crossload's: in a cluster no crossload reads k6's output.
- ``locust.yaml``: a ConfigMap with the rendered locustfile and its support modules, a Service for the
  master, the master as a Job (headless, ``--expect-workers N``: the LoadTestShape runs there) and the
  workers as a Job of N pods. Jobs rather than Deployments: a headless test ends, and a Deployment would
  start a finished master again. Each worker's crossload recorder writes crossload's own
  ``crossload_requests`` and ``crossload_users`` points to InfluxDB (``CROSSLOAD_RECORDER_PUSH``), tagged
  with its pod name as ``worker``.

Credentials never appear in a manifest: they are read from the Kubernetes Secret ``crossload-influx``
(keys ``token``, ``username``, ``password``, each optional), and the scenario's ``${VAR}`` values from the
Secret ``crossload-env`` (optional), both by reference.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2

from crossload.errors import InputError
from crossload.paths import resource_dir
from crossload.profiles import StageSchedule
from crossload.render import RenderedFile
from crossload.results import new_run_id
from crossload.scenario import Scenario
from crossload.tools.base import drain_s
from crossload.versions import tool_image

INFLUX_SECRET = "crossload-influx"
ENV_SECRET = "crossload-env"
MASTER_PORT = 5557
MAX_PARALLELISM = 1000
K6_FILE = "k6-testrun.yaml"
LOCUST_FILE = "locust.yaml"


@dataclass(frozen=True)
class InfluxTarget:
    """Where the pods write, from ``CROSSLOAD_INFLUX_*`` (credentials are left to the Secret)."""

    url: str
    api: str  # v1 or v2
    db: str
    org: str
    bucket: str

    @classmethod
    def from_env(cls, env: dict[str, str]) -> InfluxTarget | None:
        url = env.get("CROSSLOAD_INFLUX_URL", "").strip().rstrip("/")
        if not url:
            return None
        api = env.get("CROSSLOAD_INFLUX_API", "").strip().lower() or "v2"
        if api not in ("v1", "v2"):
            raise InputError(f"CROSSLOAD_INFLUX_API must be v2 or v1, got {api!r}")
        return cls(url=url, api=api, db=env.get("CROSSLOAD_INFLUX_DB", "").strip() or "crossload",
                   org=env.get("CROSSLOAD_INFLUX_ORG", "").strip(),
                   bucket=env.get("CROSSLOAD_INFLUX_BUCKET", "").strip() or "crossload")


def yaml_text(text: str, indent: int) -> str:
    """A file's text as a YAML scalar: a literal block (``|``) indented by ``indent`` spaces, readable in the
    manifest, when the text allows one (printable ASCII, one final newline, no trailing blanks, first line not
    indented); else a double-quoted (JSON) string, which YAML reads the same."""
    block = (text.endswith("\n") and not text.endswith("\n\n") and not text[:1].isspace()
             and re.search(r"[^\n\t\x20-\x7e]|[ \t]\n", text) is None)
    if not block:
        return json.dumps(text, ensure_ascii=True)
    pad = " " * indent
    return "|\n" + "\n".join(pad + line if line else "" for line in text[:-1].split("\n"))


def yaml_scalar(value: object) -> str:
    """A string, number or boolean as a YAML scalar (JSON's spelling, which YAML reads the same)."""
    return json.dumps(value, ensure_ascii=True)


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(resource_dir("templates") / "k8s")),
                             undefined=jinja2.StrictUndefined, autoescape=False, keep_trailing_newline=True,
                             trim_blocks=True, lstrip_blocks=True)
    env.filters["yaml"] = yaml_scalar
    env.filters["block"] = yaml_text
    return env


def dns_name(text: str) -> str:
    """A Kubernetes object name (DNS-1123 label: lower case, digits, '-'; at most 63 characters)."""
    name = re.sub(r"[^a-z0-9-]+", "-", text.lower()).strip("-")
    return name[:63].rstrip("-") or "crossload"


def _files(rendered: RenderedFile) -> dict[str, str]:
    files = {rendered.filename: rendered.text}
    files.update({src.name: src.read_text(encoding="utf-8") for src in rendered.support})
    return files


def k6_arguments(run_id: str, profile: str, influx: InfluxTarget | None) -> str:
    args = ["--no-usage-report", f"--tag run_id={run_id}", f"--tag profile={profile}"]
    if influx is not None:
        args.append(f"--out influxdb={influx.url}/{influx.db}" if influx.api == "v1"
                    else f"--out xk6-influxdb={influx.url}")
    return " ".join(args)


def render_manifests(scenario: Scenario, schedule: StageSchedule, target: str, parallelism: int,
                     env: dict[str, str], tools: list[str], run_id: str | None = None) -> dict[str, str]:
    """The manifests' file names and texts for ``tools`` (``k6``, ``locust``)."""
    from crossload.tools import get_tool

    if not 1 <= parallelism <= MAX_PARALLELISM:
        raise InputError(f"--workers must be from 1 to {MAX_PARALLELISM} for Kubernetes, got {parallelism}")
    run_id = run_id or new_run_id(schedule.profile)
    influx = InfluxTarget.from_env(env)
    view: dict[str, Any] = {
        "run_id": run_id, "base": dns_name(f"crossload-{run_id}"), "scenario": scenario.name,
        "profile": schedule.profile, "parallelism": parallelism, "influx": influx,
        "influx_secret": INFLUX_SECRET, "env_secret": ENV_SECRET, "master_port": MASTER_PORT,
        "stop_timeout": drain_s(scenario), "total_s": schedule.total_s,
        "ca_file": Path(scenario.defaults.ca_file).name if scenario.defaults.ca_file else "",
    }
    out: dict[str, str] = {}
    template = _environment()
    for tool in tools:
        files = _files(get_tool(tool).render(scenario, schedule, target))
        tool_view = {**view, "files": files, "image": tool_image(tool, env)}
        if tool == "k6":
            tool_view["arguments"] = k6_arguments(run_id, schedule.profile, influx)
            out[K6_FILE] = template.get_template("k6-testrun.yaml.jinja").render(**tool_view)
        else:
            out[LOCUST_FILE] = template.get_template("locust.yaml.jinja").render(**tool_view)
    return out


def write_manifests(manifests: dict[str, str], out_dir: Path) -> list[Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, text in manifests.items():
        path = out_dir / name
        path.write_text(text, encoding="utf-8")
        paths.append(path)
    return paths


__all__ = ["ENV_SECRET", "INFLUX_SECRET", "InfluxTarget", "render_manifests", "write_manifests", "yaml_text"]
