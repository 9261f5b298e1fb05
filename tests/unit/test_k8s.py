"""`invoke k8s.render`: the manifests are valid YAML of the right kinds, embed the rendered files and set the
parallelism; built-in kinds pass Kubernetes' own schemas; credentials are only referenced; the Locust
recorder's in-cluster InfluxDB lines are crossload's own points."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from crossload import tasks_api
from crossload.histogram import Histogram
from crossload.k8s import ENV_SECRET, INFLUX_SECRET, render_manifests, yaml_text
from crossload.paths import resource_dir
from crossload.results import IntervalAggregate, UsersSample
from crossload.run import RunRequest, prepare
from crossload.sinks.lineprotocol import RunTags, interval_points, to_line
from crossload.tools import get_tool

K8S_VERSION = "1.30.0"
TARGET = "http://shop.default.svc:8080"


def _render(workers: int, env: dict[str, str] | None = None, profile: str = "load") -> dict[str, list[dict[str, Any]]]:
    prep = prepare(RunRequest(profile=profile), need_env=False)
    texts = render_manifests(prep.scenario, prep.schedule, TARGET, workers, env or {}, ["locust", "k6"],
                             run_id="20261121T223959Z-load-89d6")
    return {name: list(yaml.safe_load_all(text)) for name, text in texts.items()}


def _kind(docs: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [d for d in docs if d["kind"] == kind]


def _rendered(tool: str) -> dict[str, str]:
    prep = prepare(RunRequest(profile="load"), need_env=False)
    rendered = get_tool(tool).render(prep.scenario, prep.schedule, TARGET)
    files = {rendered.filename: rendered.text}
    files.update({p.name: p.read_text(encoding="utf-8") for p in rendered.support})
    return files


def _env(container: dict[str, Any]) -> dict[str, Any]:
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in container.get("env", [])}


def test_k6_testrun_embeds_the_script_and_sets_parallelism() -> None:
    docs = _render(4)["k6-testrun.yaml"]
    assert [d["kind"] for d in docs] == ["ConfigMap", "TestRun"]
    config, run = docs
    assert config["apiVersion"] == "v1" and run["apiVersion"] == "k6.io/v1alpha1"
    assert config["data"] == _rendered("k6")  # byte for byte: script.js and crossload.js
    spec = run["spec"]
    assert spec["parallelism"] == 4
    assert spec["script"] == {"configMap": {"name": config["metadata"]["name"], "file": "script.js"}}
    assert spec["runner"]["image"] == "grafana/k6:1.1.0"
    assert "--out" not in spec["arguments"]  # no InfluxDB configured
    assert spec["runner"]["envFrom"] == [{"secretRef": {"name": ENV_SECRET, "optional": True}}]
    kubernetes_validate.validate(config, K8S_VERSION, strict=True)


def test_locust_master_and_workers_embed_the_locustfile_and_set_parallelism() -> None:
    docs = _render(3)["locust.yaml"]
    assert [d["kind"] for d in docs] == ["ConfigMap", "Service", "Job", "Job"]
    for doc in docs:
        kubernetes_validate.validate(doc, K8S_VERSION, strict=True)
    config, service, master, workers = docs
    assert config["data"] == _rendered("locust")
    m_pod, w_pod = master["spec"]["template"], workers["spec"]["template"]
    margs = m_pod["spec"]["containers"][0]["args"]
    assert margs[margs.index("--expect-workers") + 1] == "3" and "--master" in margs and "--headless" in margs
    assert workers["spec"]["parallelism"] == 3 and workers["spec"]["completions"] == 3
    wargs = w_pod["spec"]["containers"][0]["args"]
    assert wargs[wargs.index("--master-host") + 1] == service["metadata"]["name"]
    assert wargs[wargs.index("--master-port") + 1] == str(service["spec"]["ports"][0]["port"])
    # The Service reaches the master's pod, not the workers'.
    selector = service["spec"]["selector"]
    assert selector.items() <= m_pod["metadata"]["labels"].items()
    assert not selector.items() <= w_pod["metadata"]["labels"].items()
    for pod in (m_pod, w_pod):
        assert pod["spec"]["volumes"][0]["configMap"]["name"] == config["metadata"]["name"]
        assert pod["spec"]["containers"][0]["args"][:2] == ["-f", "/mnt/locust/locustfile.py"]
    assert "CROSSLOAD_RECORDER_PUSH" not in _env(w_pod["spec"]["containers"][0])


@pytest.mark.parametrize("api", ["v1", "v2"])
def test_influxdb_is_configured_and_credentials_are_referenced_never_inline(api: str) -> None:
    env = {"CROSSLOAD_INFLUX_URL": "http://influx.monitoring:8086", "CROSSLOAD_INFLUX_API": api,
           "CROSSLOAD_INFLUX_ORG": "perf", "CROSSLOAD_INFLUX_BUCKET": "loadtests", "CROSSLOAD_INFLUX_DB": "loadtests",
           "CROSSLOAD_INFLUX_TOKEN": "s3cret-token", "CROSSLOAD_INFLUX_USERNAME": "writer",
           "CROSSLOAD_INFLUX_PASSWORD": "s3cret-password"}
    out = _render(2, env)
    text = json.dumps(out)
    assert "s3cret" not in text and "writer" not in text
    run = out["k6-testrun.yaml"][1]["spec"]
    k6_env = _env(run["runner"])
    worker = _env(out["locust.yaml"][3]["spec"]["template"]["spec"]["containers"][0])
    assert worker["CROSSLOAD_RECORDER_PUSH"] == "1" and worker["CROSSLOAD_INFLUX_URL"] == env["CROSSLOAD_INFLUX_URL"]
    assert worker["CROSSLOAD_RUN_ID"] == "20261121T223959Z-load-89d6"
    assert worker["CROSSLOAD_WORKER"] == {"fieldRef": {"fieldPath": "metadata.name"}}
    if api == "v1":
        assert "--out influxdb=http://influx.monitoring:8086/loadtests" in run["arguments"]
        assert k6_env["K6_INFLUXDB_PASSWORD"]["secretKeyRef"]["name"] == INFLUX_SECRET
        assert worker["CROSSLOAD_INFLUX_PASSWORD"]["secretKeyRef"] == {"name": INFLUX_SECRET, "key": "password",
                                                                     "optional": True}
    else:
        assert "--out xk6-influxdb=http://influx.monitoring:8086" in run["arguments"]
        assert k6_env["K6_INFLUXDB_ORGANIZATION"] == "perf" and k6_env["K6_INFLUXDB_BUCKET"] == "loadtests"
        assert k6_env["K6_INFLUXDB_TOKEN"] == {"secretKeyRef": {"name": INFLUX_SECRET, "key": "token"}}
        assert worker["CROSSLOAD_INFLUX_TOKEN"] == {"secretKeyRef": {"name": INFLUX_SECRET, "key": "token"}}
    for doc in out["locust.yaml"]:
        kubernetes_validate.validate(doc, K8S_VERSION, strict=True)


@pytest.mark.parametrize("text", ["a\n", "x = 1\n\n  y\n", "tab\there\n", "no newline", "two\n\n", "trail \n",
                                  " lead\n", "é\n", "a\r\nb\n", "# c\n---\n...\n"])
def test_yaml_text_reads_back_unchanged(text: str) -> None:
    assert yaml.safe_load("k: " + yaml_text(text, 2) + "\n") == {"k": text}


def test_task_writes_both_files_and_checks_workers(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert tasks_api.k8s_render("smoke", out=str(tmp_path), workers="2") == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["k6-testrun.yaml", "locust.yaml"]
    assert tasks_api.k8s_render("smoke", out=str(tmp_path), parallelism="0") == 2
    assert tasks_api.k8s_render("smoke", out=str(tmp_path), workers="many") == 2
    assert tasks_api.k8s_render("smoke", out=str(tmp_path), workers="2", parallelism="3") == 2
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 3 and "Traceback" not in "".join(err)


# The recorder imports locust, which monkey-patches the process with gevent: evaluate it in a child.
_RECORDER_PROBE = """
import json, sys
sys.path.insert(0, sys.argv[1])
import crossload_recorder as rec
cases = json.loads(sys.stdin.read())
out = [rec.line_protocol(c["record"], c["tags"]) for c in cases]
out += [rec.percentile_ms(c["record"]["hist"], c["count"], q) for c in cases if "count" in c for q in (50, 90, 95, 99)]
print(json.dumps(out))
"""


def test_recorder_lines_are_crossloads_points() -> None:
    agg = IntervalAggregate(tool="locust", t=1795300591, name="item, detail=1", method="GET")
    for ms, failed in ((0.5213, False), (3.5, True), (12.34, False), (250.7, False), (1234.5, False)):
        agg.add(ms, failed, "5xx" if failed else "2xx", nbytes=10, cause="HTTP 503" if failed else None)
    record = agg.to_json()
    tags = RunTags(run_id="20261121T223959Z-load-89d6", scenario="demo api", profile="load", worker="pod-1")
    env = {"tool": "locust", "run_id": tags.run_id, "scenario": tags.scenario, "profile": tags.profile,
           "worker": tags.worker}
    hist = Histogram.from_json(record["hist"])
    cases = [{"record": record, "tags": env, "count": hist.count},
             {"record": {"kind": "users", "t": 1795300591, "users": 7}, "tags": env}]
    proc = subprocess.run([sys.executable, "-c", _RECORDER_PROBE, str(resource_dir("locust"))],
                          input=json.dumps(cases), capture_output=True, text=True, timeout=60, check=True)
    req_line, users_line, *percentiles = json.loads(proc.stdout)
    assert req_line == to_line(interval_points([IntervalAggregate.from_json("locust", record)], tags)[0])
    assert users_line == to_line(interval_points([UsersSample("locust", 1795300591, 7)], tags)[0])
    assert percentiles == [hist.percentile_ms(q) for q in (50, 90, 95, 99)]


def test_a_scenarios_ca_travels_in_the_configmaps_and_k6_is_told_where(tmp_path: Path) -> None:
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj",
                    "/CN=crossload k8s CA", "-keyout", str(tmp_path / "ca.key"), "-out", str(tmp_path / "corp-ca.pem")],
                   check=True, capture_output=True, timeout=60)
    scenario = tmp_path / "tls.yaml"
    scenario.write_text("version: 1\nname: tls\ndefaults:\n  tls: {ca: corp-ca.pem}\n"
                        "requests:\n  - name: home\n    path: /\n", encoding="utf-8")
    prep = prepare(RunRequest(profile="load", scenario=str(scenario)), need_env=False)
    texts = render_manifests(prep.scenario, prep.schedule, "https://shop.default.svc", 2, {}, ["locust", "k6"],
                             run_id="20261121T223959Z-load-89d6")
    pem = (tmp_path / "corp-ca.pem").read_text(encoding="utf-8")
    config, run = yaml.safe_load_all(texts["k6-testrun.yaml"])
    assert config["data"]["corp-ca.pem"] == pem
    assert _env(run["spec"]["runner"])["SSL_CERT_FILE"] == "/test/corp-ca.pem"  # the operator's mount
    locust_config = _kind(list(yaml.safe_load_all(texts["locust.yaml"])), "ConfigMap")[0]
    assert locust_config["data"]["corp-ca.pem"] == pem
    assert "TrustedCa('corp-ca.pem')" in locust_config["data"]["locustfile.py"]
    # Without a CA the runner has no such variable.
    assert "SSL_CERT_FILE" not in _env(_render(2)["k6-testrun.yaml"][1]["spec"]["runner"])
