"""crossload tasks: `invoke --list` shows them, `invoke --help TASK` explains every flag.

This file only wires arguments to the crossload package; the logic lives in src/crossload/ (tasks_api.py).
Flags arrive as text (no typed defaults here): Invoke turns a bad typed value into a traceback, while
tasks_api checks every value and answers with one line and exit code 2. The `crossload` command offers the
same tasks with the same flags (`crossload --help`).
"""

from __future__ import annotations

from invoke import Collection, Exit, task

from crossload import tasks_api
from crossload.settings import apply_dotenv

apply_dotenv()  # CROSSLOAD_* settings of .env count as exported (variables already set win)

RUN_HELP = {
    "tool": "locust, k6 or both (default both: Locust first, then k6, same profile)",
    "target": "base URL of the system under test (default: the scenario's target, else the built-in demo target)",
    "scenario": "scenario file (default: scenarios/demo.yaml)",
    "users": "peak users / VUs (scales the profile's user curve; an open profile: max_users)",
    "duration": "total duration, e.g. 45s, 5m, 1h (stages scale proportionally)",
    "spawn_rate": "users started (or stopped) per second on ramps; flat stages absorb the difference",
    "runner": "where the tools run: local (processes here) or docker (in their images); default: CROSSLOAD_RUNNER, "
              "else local",
    "docker_network": "docker runner: a Docker network the tool containers join (e.g. a compose project's, to reach "
                      "a target by service name); default: the host's network",
    "workers": "load generators per tool, 0 to 64: Locust as a master and N workers, k6 as N execution segments; "
               "results merged exactly (default 0: one process per tool)",
}
PROFILE_HELP = {
    **RUN_HELP,
    "target_pid": "a local target process to monitor (CPU, memory, threads, connections); the demo target always is",
    "target_container": "or a target container on this machine's Docker engine, by name or id",
}
RUN_REF_HELP = "run id, a unique prefix of it, or 'latest' (the default); may be given without --run"


def _exit(code: int) -> None:
    if code:
        raise Exit(code=code)


def _run(profile: str, tool: str | None, target: str | None, scenario: str | None, users: str | None,
         duration: str | None, spawn_rate: str | None, target_pid: str | None = None,
         target_container: str | None = None, runner: str | None = None, docker_network: str | None = None,
         workers: str | None = None) -> None:
    _exit(tasks_api.run_profile(profile, tool=tool, target=target, scenario=scenario, users=users,
                                duration=duration, spawn_rate=spawn_rate, target_pid=target_pid,
                                target_container=target_container, runner=runner, docker_network=docker_network,
                                workers=workers))


@task(help=PROFILE_HELP)
def smoke(c, tool="both", target=None, scenario=None, users=None, duration=None, spawn_rate=None, target_pid=None,
          target_container=None, runner=None, docker_network=None, workers=None):
    """Smoke test: a few users for a few seconds (default 2 users, 15 s) to prove script and target work."""
    _run("smoke", tool, target, scenario, users, duration, spawn_rate, target_pid, target_container, runner,
         docker_network, workers)


@task(help=PROFILE_HELP)
def load(c, tool="both", target=None, scenario=None, users=None, duration=None, spawn_rate=None, target_pid=None,
         target_container=None, runner=None, docker_network=None, workers=None):
    """Load test: ramp to nominal users, hold, ramp down (default 20 users, 5 min)."""
    _run("load", tool, target, scenario, users, duration, spawn_rate, target_pid, target_container, runner,
         docker_network, workers)


@task(help=PROFILE_HELP)
def stress(c, tool="both", target=None, scenario=None, users=None, duration=None, spawn_rate=None, target_pid=None,
           target_container=None, runner=None, docker_network=None, workers=None):
    """Stress test: steps beyond nominal up to the peak (default 40 users, 10 min)."""
    _run("stress", tool, target, scenario, users, duration, spawn_rate, target_pid, target_container, runner,
         docker_network, workers)


@task(help=PROFILE_HELP)
def spike(c, tool="both", target=None, scenario=None, users=None, duration=None, spawn_rate=None, target_pid=None,
          target_container=None, runner=None, docker_network=None, workers=None):
    """Spike test: a sudden jump from a low baseline to the peak and back (default 100 users, 2 min)."""
    _run("spike", tool, target, scenario, users, duration, spawn_rate, target_pid, target_container, runner,
         docker_network, workers)


@task(help=PROFILE_HELP)
def endurance(c, tool="both", target=None, scenario=None, users=None, duration=None, spawn_rate=None, target_pid=None,
              target_container=None, runner=None, docker_network=None, workers=None):
    """Endurance (soak) test: nominal users for a long time (default 20 users, 1 h)."""
    _run("endurance", tool, target, scenario, users, duration, spawn_rate, target_pid, target_container, runner,
         docker_network, workers)


@task(klass=tasks_api.OptionalPositionalTask, positional=["profile"], help={
    "profile": "profile to run (default smoke); may be given without --profile",
    **{k: v for k, v in RUN_HELP.items() if k != "tool"},
})
def compare(c, profile="smoke", target=None, scenario=None, users=None, duration=None, spawn_rate=None, runner=None,
            docker_network=None, workers=None):
    """Run Locust, then k6, on one profile and compare them side by side (`invoke compare [PROFILE]`).

    Every number per request and overall, with differences beyond the tools' definitions flagged."""
    _exit(tasks_api.compare(profile, target=target, scenario=scenario, users=users, duration=duration,
                            spawn_rate=spawn_rate, runner=runner, docker_network=docker_network, workers=workers))


@task(klass=tasks_api.OptionalPositionalTask, positional=["run"], help={
    "run": RUN_REF_HELP,
    "baseline": "a run id, or last:N: the N newest earlier runs of the same scenario and profile (default last:5)",
    "tolerance": "relative tolerance for p95, p99 and RPS (default 20%)",
    "floor": "latency changes below this never count as a regression (default 5ms)",
})
def report(c, run="latest", baseline=None, tolerance=None, floor=None):
    """Judge a stored run against a baseline: pass, regressed or improved (exit 1 on a regression).

    `invoke report [RUN] --baseline last:5`: p95, p99, error rate and RPS per tool and request."""
    _exit(tasks_api.report(run, baseline, tolerance, floor))


@task(help={"files": "scenario files to check (default: every file under scenarios/)"}, iterable=["files"])
def validate(c, files=None):
    """Validate scenario files without running anything; exit 2 with file:line: field on the first error."""
    _exit(tasks_api.validate(files or []))


@task(help={
    "profile": "profile whose stages are rendered (default smoke)",
    "scenario": "scenario file (default: scenarios/demo.yaml)",
    "target": "base URL written into the files (default: the scenario's target or http://127.0.0.1:8089)",
    "out": "output folder (default: rendered/)",
    "tool": "locust, k6 or both (default both)",
    "users": RUN_HELP["users"],
    "duration": RUN_HELP["duration"],
    "spawn_rate": RUN_HELP["spawn_rate"],
})
def render(c, profile="smoke", scenario=None, target=None, out="rendered", tool="both", users=None, duration=None,
           spawn_rate=None):
    """Render the Locust file and the k6 script for a scenario, without running them."""
    _exit(tasks_api.render(profile, scenario, target, out, users=users, duration=duration, spawn_rate=spawn_rate,
                           tool=tool))


@task(help={
    "host": "address to bind (default 127.0.0.1)",
    "port": "port, 0 to 65535; 0 picks a free one (default 8089)",
    "error_rate": "fraction of /error requests that fail, 0 to 1 (default 0)",
    "workers": "server processes sharing the port, 1 or more (default 1)",
})
def target(c, host=None, port=None, error_rate=None, workers=None):
    """Serve the built-in demo target in the foreground (Ctrl-C stops it)."""
    _exit(tasks_api.serve_target(host, port, error_rate, workers))


@task(help={"check": "compare instead of writing: exit 1 if a golden file differs"})
def golden(c, check=False):
    """Regenerate the golden rendered files under tests/golden/ from scenarios/ (or --check them)."""
    _exit(tasks_api.golden(check))


@task(help={"output": "write the JSON Schema to this file (docs/scenario.schema.json is the committed copy) "
                      "instead of standard output"})
def schema(c, output=None):
    """Print the JSON Schema of scenario files, which editors use to complete and check them."""
    from crossload.model import write_schema

    _exit(write_schema(output))


@task(help={"fast": "unit tests only (no real tools or servers)"})
def test(c, fast=False):
    """Run the test suite (the whole suite needs Locust, k6, InfluxDB and VictoriaMetrics installed)."""
    c.run("python -m pytest tests/unit -q" if fast else "python -m pytest -q", pty=False)


@task(name="list")
def results_list(c):
    """List stored runs under results/: id, status, scenario, tools and request counts."""
    _exit(tasks_api.results_list())


@task(name="show", klass=tasks_api.OptionalPositionalTask, positional=["run"], help={"run": RUN_REF_HELP})
def results_show(c, run="latest"):
    """Show one stored run (`invoke results.show [RUN]`): manifest, the end-of-run table, every verdict."""
    _exit(tasks_api.results_show(run))


@task(name="push", klass=tasks_api.OptionalPositionalTask, positional=["run"], help={"run": RUN_REF_HELP})
def results_push(c, run="latest"):
    """Send a stored run to InfluxDB (`invoke results.push [RUN]`): only what it lacks; again changes nothing."""
    _exit(tasks_api.results_push(run))


@task(name="prune", help={
    "keep": "keep the newest N runs",
    "older_than": "delete runs older than this, e.g. 7d or 12h",
    "dry_run": "only print what would be deleted",
})
def results_prune(c, keep=None, older_than=None, dry_run=False):
    """Delete old runs from results/ (needs --keep and/or --older-than)."""
    _exit(tasks_api.results_prune(keep, older_than, dry_run))


results = Collection("results")
results.add_task(results_list)
results.add_task(results_show)
results.add_task(results_push)
results.add_task(results_prune)


@task(help={"check": "compare instead of writing: exit 1 if a dashboard file differs"})
def dashboards(c, check=False):
    """Regenerate the Grafana dashboards dashboards/*.json from dashboards/generate.py (or --check them)."""
    _exit(tasks_api.dashboards(check))


STACK_PROFILE_HELP = "compose profiles to include, comma-separated (default: COMPOSE_PROFILES, else none)"


@task(name="up", help={"profile": STACK_PROFILE_HELP + "; demo adds the demo target",
                       "timeout": "seconds to wait for every service to be healthy (default 180)",
                       "build": "rebuild the images built from this checkout (the demo target's) first"})
def stack_up(c, profile=None, timeout=None, build=False):
    """Start InfluxDB + Grafana (docker/compose.yml, docker SDK); runs then push to it (settings written to .env)."""
    _exit(tasks_api.stack_up(profile, timeout, build))


@task(name="down", help={"volumes": "also delete the data volumes (InfluxDB's data, Grafana's state)"})
def stack_down(c, volumes=False):
    """Stop and remove the stack's containers and network (data volumes are kept unless --volumes)."""
    _exit(tasks_api.stack_down(volumes))


@task(name="status", help={"profile": STACK_PROFILE_HELP})
def stack_status(c, profile=None):
    """Show each service of the stack: container, health, image, ports; exit 0 only when all are up and healthy."""
    _exit(tasks_api.stack_status(profile))


@task(name="logs", help={"service": "one service (influxdb, grafana; default: all)",
                         "tail": "lines per service (default 100)", "follow": "keep streaming until Ctrl-C"})
def stack_logs(c, service=None, tail=None, follow=False):
    """Show the logs of the stack's containers (docker SDK)."""
    _exit(tasks_api.stack_logs(service, tail, follow))


@task(name="images", help={"offline": "build local stand-ins tagged like the official images (no registry needed)"})
def docker_images(c, offline=False):
    """Pull the pinned k6 and Locust images for --runner docker (or build them here with --offline)."""
    _exit(tasks_api.docker_images(offline))


@task(name="clean", help={"run": "only the containers of this run id (default: every crossload container)"})
def docker_clean(c, run=None):
    """Remove containers left by crashed docker-runner runs (label crossload.run_id)."""
    _exit(tasks_api.docker_clean(run))


# Not named `docker`: a module-level name must never shadow the docker SDK.
docker_tasks = Collection("docker")
docker_tasks.add_task(docker_images)
docker_tasks.add_task(docker_clean)

@task(name="render", help={
    "profile": "profile whose stages are rendered (default smoke)",
    "scenario": "scenario file (default: scenarios/demo.yaml)",
    "target": "base URL the pods send load to (default: the scenario's target or http://127.0.0.1:8089)",
    "out": "output folder (default: rendered/k8s/)",
    "tool": "locust, k6 or both (default both)",
    "users": RUN_HELP["users"],
    "duration": RUN_HELP["duration"],
    "spawn_rate": RUN_HELP["spawn_rate"],
    "workers": "load-generating pods per tool: k6 runners (TestRun parallelism), Locust workers (default 1)",
    "parallelism": "the same as --workers",
})
def k8s_render(c, profile="smoke", scenario=None, target=None, out="rendered/k8s", tool="both", users=None,
               duration=None, spawn_rate=None, workers=None, parallelism=None):
    """Write Kubernetes manifests: a k6-operator TestRun and a Locust master/workers, from one scenario."""
    _exit(tasks_api.k8s_render(profile, scenario, target, out, users=users, duration=duration,
                               spawn_rate=spawn_rate, tool=tool, workers=workers, parallelism=parallelism))


@task(name="openapi", help={"spec": "an OpenAPI 3 description, JSON or YAML",
                             "out": "scenario file to write (default: standard output)"})
def import_openapi(c, spec, out=None):
    """Write a scenario from an OpenAPI 3 description: one request per operation, grouped by tag, example values."""
    from crossload.importers import import_file

    _exit(import_file("openapi", spec, out))


@task(name="har", help={"file": "a browser session saved as HAR (JSON)",
                        "out": "scenario file to write (default: standard output)"})
def import_har(c, file, out=None):
    """Write a scenario from a recorded session: one journey, static assets left out, correlation, think times."""
    from crossload.importers import import_file

    _exit(import_file("har", file, out))


imports = Collection("import")
imports.add_task(import_openapi)
imports.add_task(import_har)

k8s = Collection("k8s")
k8s.add_task(k8s_render)

stack = Collection("stack")
stack.add_task(stack_up)
stack.add_task(stack_down)
stack.add_task(stack_status)
stack.add_task(stack_logs)

ns = Collection(smoke, load, stress, spike, endurance, validate, render, target, golden, dashboards, test, results,
                stack, docker_tasks, k8s, imports)
ns.add_task(compare)
ns.add_task(report)
ns.add_task(schema)
