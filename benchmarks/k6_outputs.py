"""What each k6 output (and a few script and flag choices) costs in throughput, next to raw k6.

Every run: the same loopback target (nginx, or the demo target with 2 workers when nginx is absent),
N VUs (default 20), think time 0, k6 CPU-bound. The rate compared is the steady-state rate of requests
the target answered (nginx's stub_status counter sampled every 0.2 s, first 1.5 s and last 0.5 s of load
left out; k6's own http_reqs rate with the demo target), next to k6's CPU time per request. Raw k6 (a
hand-written ``http.get`` script, ``k6 run -q`` and no ``--out``) is run before the first variant and again after
every few variants; each variant is compared with the median of all raw runs, and the spread of the
raw runs is printed as the noise floor.

Variants (``--list`` prints them):

- flags and script: ``--no-summary``; ``systemTags`` reduced to crossload's set; ``exec.vu.metrics.tags.name``
  set on every iteration, or once per VU; crossload's request params; crossload's ramping-vus executor;
  crossload's rendered script itself (no output);
- outputs: ``--out json=file``, ``json`` with reduced tags or the per-iteration name tag, ``json=file.gz``,
  ``csv=file``, ``experimental-prometheus-rw`` (to a local sink that accepts and discards the remote-write
  POSTs; 1 s push, trends as native histograms), ``experimental-opentelemetry`` (OTLP over HTTP to the same
  kind of sink; 1 s flush and export), ``web-dashboard`` (aggregation inside k6, 1 s period, served on a
  loopback port, no export);
- crossload's rendered script with the output flags ``K6Tool.launch`` uses today, and with the outputs that
  could replace the JSON stream.

    python benchmarks/k6_outputs.py [--duration 4] [--vus 20] [--repeat 1] [--all | --only NAME,NAME] [--list]

The default set takes about 100 s; ``--all`` adds the finer splits (marked in ``--list``);
``--all --duration 8 --repeat 2`` is the run reported in benchmarks/RESULTS.md (about 9 minutes).
Without nginx, the ``--no-summary`` variants are skipped (their rate needs the target's counter).

Exit code 0 when every variant ran (the numbers are findings, not pass/fail targets), 1 when one failed.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _harness import (
    LOOPBACK,
    Measured,
    Target,
    fast_target,
    free_port,
    machine_line,
    median,
    primary_rps,
    run_k6,
    table,
    wait_quiet,
)

from crossload.profiles import build_schedule
from crossload.render import render_k6
from crossload.scenario import parse_scenario
from crossload.tools import get_tool

CROSSLOAD_SYSTEM_TAGS = "['status', 'method', 'name', 'expected_response', 'error_code']"

RAW_SCRIPT = """\
import http from 'k6/http';
{imports}
export const options = {{ {load}{options} }};
{setup}
export default function () {{
{body}  {call};{check}
}}
"""

# crossload's status check as its rendered script writes it for a request without other checks
CHECK = "\n  check(res, {\n    'status is 2xx or 3xx': (r) => r.status >= 200 && r.status < 400,\n  });"


PARAMS = {
    # crossload's request parameters for a request without body checks (k6/crossload.js prepare)
    "all": "{ headers: {}, tags: { name: 'get' }, timeout: '30000ms', redirects: 0, responseType: 'none' }",
    "tags": "{ tags: { name: 'get' } }",
    "notags": "{ headers: {}, timeout: '30000ms', redirects: 0, responseType: 'none' }",
}


def raw_script(url: str, vus: int, duration: float, system_tags: bool = False, vu_tag: str = "",
               params: str = "", ramping: bool = False, check: bool = False) -> str:
    """The hand-written baseline script, optionally with one of the things crossload's script does.

    vu_tag: "" (none), "every" (set ``exec.vu.metrics.tags.name`` on every iteration, as crossload does) or
    "once" (on the VU's first iteration only). params: a key of PARAMS, passed to ``http.request``. check: the
    response's status judged with ``check()``, as crossload's script does.
    """
    if ramping:  # crossload's executor: ramping-vus, all VUs at once, no graceful stop
        load = (f"scenarios: {{ s: {{ executor: 'ramping-vus', startVUs: 0, stages: [{{ duration: '0s', "
                f"target: {vus} }}, {{ duration: '{duration:g}s', target: {vus} }}], gracefulRampDown: '0s', "
                "gracefulStop: '0s' } }")
    else:
        load = f"vus: {vus}, duration: '{duration:g}s'"
    body = ""
    if vu_tag == "every":
        body = "  exec.vu.metrics.tags.name = 'get';\n"
    elif vu_tag == "once":
        body = "  if (exec.vu.iterationInScenario === 0) {\n    exec.vu.metrics.tags.name = 'get';\n  }\n"
    call = f"http.request('GET', '{url}', null, PARAMS)" if params else f"http.get('{url}')"
    imports = "import exec from 'k6/execution';\n" if vu_tag else ""
    if check:
        imports += "import { check } from 'k6';\n"
        call = f"const res = {call}"
    return RAW_SCRIPT.format(
        imports=imports,
        load=load,
        options=f", systemTags: {CROSSLOAD_SYSTEM_TAGS}" if system_tags else "",
        setup=f"\nconst PARAMS = {PARAMS[params]};\n" if params else "",
        body=body,
        call=call,
        check=CHECK if check else "",
    )


# ---------------------------------------------------------------------------------------------------------
# A sink for the push outputs: accepts POSTs, counts them, discards the bodies.


class _SinkHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Sink

    def do_POST(self) -> None:
        n = int(self.headers.get("Content-Length") or 0)
        if n:
            self.rfile.read(n)
        else:  # chunked bodies are not used by either exporter; read what is there
            self.rfile.read1(1 << 20)
        with self.server.lock:
            self.server.posts += 1
            self.server.bytes += n
            self.server.paths.add(self.path)
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *_args: object) -> None:
        pass


class _Sink(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: object, client_address: object) -> None:
        pass  # an exporter closing its connection at exit is not an error worth a traceback

    def __init__(self) -> None:
        super().__init__((LOOPBACK, 0), _SinkHandler)
        self.lock = threading.Lock()
        self.posts = 0
        self.bytes = 0
        self.paths: set[str] = set()

    def reset(self) -> None:
        with self.lock:
            self.posts, self.bytes, self.paths = 0, 0, set()


@contextlib.contextmanager
def sink() -> Iterator[_Sink]:
    server = _Sink()
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.2}, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


# ---------------------------------------------------------------------------------------------------------


@dataclass
class Variant:
    name: str
    script: str  # key of the scripts dict
    what: str
    args: Callable[[Path], list[str]] = lambda _d: []
    env: Callable[[], dict[str, str]] = dict
    uses_sink: bool = False
    core: bool = True  # in the default set; the others run with --all or --only
    notes: list[str] = field(default_factory=list)


def _launch_flags() -> list[str]:
    """The output flags of the command line crossload starts k6 with (K6Tool.launch), whatever they are now."""
    argv = list(get_tool("k6").launch(Path("script.js"), Path("out")).argv)
    flags = []
    for i, a in enumerate(argv):
        if a in ("--out", "-o", "--summary-export") and i + 1 < len(argv):
            flags += [a, argv[i + 1]]
        elif a == "--no-summary":
            flags.append(a)
    return flags


LAUNCH_FLAGS = _launch_flags()


def launch_flags(d: Path) -> list[str]:
    """LAUNCH_FLAGS with the files placed in ``d`` (named ``out...`` so their size is reported)."""
    out = []
    for i, a in enumerate(LAUNCH_FLAGS):
        prev = LAUNCH_FLAGS[i - 1] if i else ""
        if prev in ("--out", "-o") and "=" in a:
            kind, name = a.split("=", 1)
            out.append(f"{kind}={d / ('out-' + name)}")
        elif prev == "--summary-export":
            out.append(str(d / a))
        else:
            out.append(a)
    return out


def variants(sink_url: Callable[[], str]) -> list[Variant]:
    def json_out(d: Path) -> list[str]:
        return ["--out", f"json={d / 'out.json'}"]

    prw_env = {
        "K6_PROMETHEUS_RW_PUSH_INTERVAL": "1s",
        "K6_PROMETHEUS_RW_TREND_AS_NATIVE_HISTOGRAM": "true",
    }

    def prw() -> dict[str, str]:
        return {**prw_env, "K6_PROMETHEUS_RW_SERVER_URL": sink_url() + "/api/v1/write"}

    def otel() -> dict[str, str]:
        return {
            "K6_OTEL_EXPORTER_TYPE": "http",
            "K6_OTEL_HTTP_EXPORTER_ENDPOINT": sink_url().removeprefix("http://"),
            "K6_OTEL_HTTP_EXPORTER_INSECURE": "true",
            "K6_OTEL_HTTP_EXPORTER_URL_PATH": "/v1/metrics",
            "K6_OTEL_FLUSH_INTERVAL": "1s",
            "K6_OTEL_EXPORT_INTERVAL": "1s",
        }

    def dashboard() -> dict[str, str]:
        return {
            "K6_WEB_DASHBOARD_HOST": LOOPBACK,
            "K6_WEB_DASHBOARD_PORT": str(free_port()),
            "K6_WEB_DASHBOARD_PERIOD": "1s",
            "K6_WEB_DASHBOARD_OPEN": "false",
            "K6_WEB_DASHBOARD_EXPORT": "",
        }

    return [
        Variant("no-summary", "raw", "raw script, --no-summary", lambda _d: ["--no-summary"]),
        Variant("systemtags", "raw_tags", "raw script + systemTags reduced to crossload's 5"),
        Variant("vu-name-tag", "raw_vutag", "raw script + exec.vu.metrics.tags.name set every iteration"),
        Variant("tags+vu-tag", "raw_both", "raw script + reduced systemTags + per-iteration name tag", core=False),
        Variant("vu-tag-once", "raw_vutag_once", "raw script + the same name tag set on a VU's first "
                "iteration only"),
        Variant("params", "raw_params", "raw script + crossload's request params (name tag, timeout, "
                "redirects 0, responseType none)"),
        Variant("params-tags", "raw_params_tags", "raw script + only the request's name tag in params",
                core=False),
        Variant("params-no-tags", "raw_params_notags", "raw script + crossload's params without the name tag",
                core=False),
        Variant("check", "raw_check", "raw script + crossload's status check()", core=False),
        Variant("params+check", "raw_params_check", "raw script + crossload's request params + status check()",
                core=False),
        Variant("ramping-vus", "raw_ramping", "raw script under crossload's ramping-vus executor", core=False),
        Variant("crossload-script", "rendered", "crossload's rendered script.js, no output"),
        Variant("json", "raw", "raw script, --out json=file", json_out),
        Variant("json+systemtags", "raw_tags", "raw script + reduced systemTags, --out json=file", json_out,
                core=False),
        Variant("json+vu-name-tag", "raw_vutag", "raw script + per-iteration name tag, --out json=file",
                json_out, core=False),
        Variant("json+no-summary", "raw", "raw script, --out json=file --no-summary",
                lambda d: [*json_out(d), "--no-summary"], core=False),
        Variant("json.gz", "raw", "raw script, --out json=file.gz",
                lambda d: ["--out", f"json={d / 'out.json.gz'}"]),
        Variant("csv", "raw", "raw script, --out csv=file", lambda d: ["--out", f"csv={d / 'out.csv'}"]),
        Variant("prometheus-rw", "raw", "raw script, --out experimental-prometheus-rw (1 s, native histograms)",
                lambda _d: ["--out", "experimental-prometheus-rw"], prw, uses_sink=True),
        Variant("opentelemetry", "raw", "raw script, --out experimental-opentelemetry (OTLP/HTTP, 1 s)",
                lambda _d: ["--out", "experimental-opentelemetry"], otel, uses_sink=True),
        Variant("web-dashboard", "raw", "raw script, --out web-dashboard (1 s period, loopback port, no export)",
                lambda _d: ["--out", "web-dashboard"], dashboard),
        Variant("crossload-launch", "rendered",
                f"crossload's script with K6Tool.launch's flags ({' '.join(LAUNCH_FLAGS)}), no reader",
                launch_flags),
        Variant("crossload-prw", "rendered", "crossload's script, --out experimental-prometheus-rw",
                lambda _d: ["--out", "experimental-prometheus-rw"], prw, uses_sink=True),
        Variant("crossload-otel", "rendered", "crossload's script, --out experimental-opentelemetry",
                lambda _d: ["--out", "experimental-opentelemetry"], otel, uses_sink=True, core=False),
        Variant("crossload-dashboard", "rendered", "crossload's script, --out web-dashboard",
                lambda _d: ["--out", "web-dashboard"], dashboard),
    ]


def write_scripts(work: Path, target: Target, vus: int, duration: float) -> dict[str, Path]:
    url = target.url + target.path
    texts = {
        "raw": raw_script(url, vus, duration),
        "raw_tags": raw_script(url, vus, duration, system_tags=True),
        "raw_vutag": raw_script(url, vus, duration, vu_tag="every"),
        "raw_vutag_once": raw_script(url, vus, duration, vu_tag="once"),
        "raw_both": raw_script(url, vus, duration, system_tags=True, vu_tag="every"),
        "raw_params": raw_script(url, vus, duration, params="all"),
        "raw_params_tags": raw_script(url, vus, duration, params="tags"),
        "raw_params_notags": raw_script(url, vus, duration, params="notags"),
        "raw_ramping": raw_script(url, vus, duration, ramping=True),
        "raw_check": raw_script(url, vus, duration, check=True),
        "raw_params_check": raw_script(url, vus, duration, params="all", check=True),
    }
    paths = {}
    for key, text in texts.items():
        p = work / f"{key}.js"
        p.write_text(text, encoding="utf-8")
        paths[key] = p
    # crossload's own rendering of a one-request scenario, all VUs from the start, no think time.
    yaml_text = (f"version: 1\nname: k6-outputs\ntarget: {target.url}\nrequests:\n  - name: get\n"
                 f"    path: {target.path}\nprofiles:\n  smoke:\n    stages:\n"
                 f"      - {{duration: 0s, users: {vus}}}\n      - {{duration: {duration:g}s, users: {vus}}}\n")
    scenario = parse_scenario(yaml_text, str(work / "scenario.yaml"))
    schedule = build_schedule("smoke", scenario)
    paths["rendered"] = render_k6(scenario, schedule, target.url).write(work / "rendered")
    return paths


def _f(value: object) -> float:
    return float(value) if isinstance(value, int | float) else float("nan")


def _us(m: Measured) -> float:
    """k6's CPU microseconds per request."""
    return 1e6 * m.child_cpu_s / m.requests if m.requests else float("nan")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=4.0, help="seconds per run (default 4)")
    parser.add_argument("--vus", type=int, default=20)
    parser.add_argument("--repeat", type=int, default=1, help="runs per variant (default 1)")
    parser.add_argument("--raw-every", type=int, default=5, help="a raw baseline run after every N variants")
    parser.add_argument("--only", default="", help="comma-separated variant names")
    parser.add_argument("--all", action="store_true", help="every variant, not only the default set")
    parser.add_argument("--list", action="store_true", help="list the variants and exit")
    parser.add_argument("--server", choices=("nginx", "demo"), default="nginx")
    args = parser.parse_args()

    sink_holder: dict[str, _Sink] = {}
    all_variants = variants(lambda: f"http://{LOOPBACK}:{sink_holder['sink'].server_address[1]}")
    if args.list:
        for v in all_variants:
            print(f"{v.name:20s} {'' if v.core else '(--all) '}{v.what}")
        return 0
    if args.only:
        chosen = [v for v in all_variants if v.name in args.only.split(",")]
    else:
        chosen = [v for v in all_variants if v.core or args.all]
    if not chosen:
        parser.error("--only matched no variant (see --list)")

    print(machine_line())
    failed: list[str] = []
    raw_runs: list[Measured] = []
    results: dict[str, list[Measured]] = {v.name: [] for v in chosen}
    with tempfile.TemporaryDirectory(prefix="crossload-k6out-") as tmp, fast_target(args.server) as target, \
            sink() as sink_server:
        sink_holder["sink"] = sink_server
        work = Path(tmp)
        scripts = write_scripts(work, target, args.vus, args.duration)
        print(f"target: {target.kind}, GET {target.path}; {args.vus} VUs, {args.duration:g} s per run, "
              f"{args.repeat} run(s) per variant")
        warm = work / "warm.js"
        warm.write_text(raw_script(target.url + target.path, args.vus, 2), encoding="utf-8")
        run_k6("warm-up", warm)

        def raw_baseline() -> None:
            speed = wait_quiet()
            m = run_k6("raw", scripts["raw"], counter=target.counter, duration_s=args.duration,
                       target_cpu=target.cpu)
            m.extra["speed"] = speed
            raw_runs.append(m)
            print(f"  {'raw':20s} {primary_rps(m):>9,.0f} req/s  {_us(m):>5.1f} us CPU/request  "
                  f"other load {m.extra['other']:.2f} cores  speed {speed:.2f}  (baseline)", flush=True)

        raw_baseline()
        queue = [v for _ in range(args.repeat) for v in chosen]
        for i, v in enumerate(queue, 1):
            out_dir = work / f"out-{i}"
            out_dir.mkdir()
            sink_server.reset()
            if "--no-summary" in v.args(out_dir) and target.counter is None:
                print(f"  {v.name:20s} skipped: without k6's summary the rate comes from nginx's counter", flush=True)
                continue
            speed = wait_quiet()
            try:
                m = run_k6(v.name, scripts[v.script], v.args(out_dir), v.env(), counter=target.counter,
                           duration_s=args.duration, target_cpu=target.cpu)
            except RuntimeError as e:
                print(f"  {v.name:20s} FAILED: {e}", flush=True)
                failed.append(v.name)
                continue
            notes = []
            if v.uses_sink:
                notes.append(f"sink got {sink_server.posts} POSTs, {sink_server.bytes / 1e3:,.0f} kB")
                if sink_server.posts == 0:
                    notes.append("NO DATA ARRIVED")
                    failed.append(v.name)
            files = [p for p in out_dir.iterdir() if p.name.startswith("out")]  # output files, not the export
            if files:
                size = sum(p.stat().st_size for p in files)
                notes.append(f"file {size / 1e6:.0f} MB = {size / max(m.requests, 1):,.0f} B/request")
            problems = [ln for ln in str(m.extra.get("stderr", "")).splitlines() if "level=error" in ln
                        or "level=warn" in ln]
            if any("6565" in ln and "address already in use" in ln for ln in problems):
                notes.append("another k6 was running on this machine (its API port was taken)")
                problems = [ln for ln in problems if "6565" not in ln]
            if problems:
                notes.append(f"{len(problems)} k6 warning/error lines, e.g. {problems[0][-140:]}")
            m.extra["notes"] = "; ".join(notes)
            m.extra["speed"] = speed
            results[v.name].append(m)
            for p in files:
                p.unlink()
            print(f"  {v.name:20s} {primary_rps(m):>9,.0f} req/s  {_us(m):>5.1f} us CPU/request  "
                  f"other load {m.extra['other']:.2f} cores  speed {speed:.2f}  {m.extra['notes']}", flush=True)
            if i % args.raw_every == 0 or i == len(queue):
                raw_baseline()
            time.sleep(0.2)

    raw_med = median([primary_rps(m) for m in raw_runs])
    raw_us = median([_us(m) for m in raw_runs])
    spread = (min(primary_rps(m) for m in raw_runs) / raw_med, max(primary_rps(m) for m in raw_runs) / raw_med)
    measure = ("steady-state req/s answered by the target (nginx stub_status, first 1.5 s and last 0.5 s "
               "of load left out)" if target.counter else "k6's own http_reqs rate")
    print(f"\nreq/s: {measure}")
    print(f"raw k6 (k6 run -q, no --out): median {raw_med:,.0f} req/s over {len(raw_runs)} runs; "
          f"spread {spread[0]:.3f}..{spread[1]:.3f} of the median (the noise floor of the req/s column); "
          f"{raw_us:.1f} us of k6 CPU per request")
    rows = [["raw", "hand-written http.get script, k6 run -q, no --out", f"{raw_med:,.0f}", "1.000",
             f"{raw_us:.1f}", "1.000", f"{max(_f(m.extra['other']) for m in raw_runs):.2f}",
             f"{min(_f(m.extra['speed']) for m in raw_runs):.2f}", ""]]
    for v in chosen:
        ms = results[v.name]
        if not ms:
            state = "failed" if v.name in failed else "skipped"
            rows.append([v.name, v.what, state, "-", "-", "-", "-", "-", ""])
            continue
        rps = median([primary_rps(m) for m in ms])
        us = median([_us(m) for m in ms])
        rows.append([v.name, v.what, f"{rps:,.0f}", f"{rps / raw_med:.3f}", f"{us:.1f}", f"{raw_us / us:.3f}",
                     f"{max(_f(m.extra['other']) for m in ms):.2f}",
                     f"{min(_f(m.extra['speed']) for m in ms):.2f}", str(ms[-1].extra.get("notes", ""))])
    print()
    print(table(["variant", "what", "req/s", "vs raw", "k6 CPU us/req", "raw/variant CPU", "other load",
                 "min speed", "notes"], rows, "llrrrrrrl"))
    print("\nvs raw: req/s ratio against the median raw run. raw/variant CPU: k6's CPU time per request "
          "(user+sys) of raw divided by the variant's; it estimates the req/s ratio when k6 is CPU-bound and "
          "is much less sensitive to other load on the machine. other load: the most CPU (cores) that "
          "work outside the benchmark used during any of the variant's runs (the machine has 2). min speed: the "
          "machine's speed (a fixed CPU loop, 1.00 = its best) before the slowest of the variant's runs; each run "
          "waits up to 30 s for 0.88 or more.")
    if failed:
        print(f"\nfailed variants: {', '.join(sorted(set(failed)))}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
