"""Every command line the documentation shows works: README.md and docs/*.md are read, and each line of their
```bash blocks (and each ``$ `` line of their ```console blocks, whose output is compared too) is run.

A new line in the docs is tested without touching this file. What would run long or aim at a host other than
this machine is rewritten by the small, explicit tables below; nothing is ever sent anywhere but 127.0.0.1.
Results land in a temporary CROSSLOAD_RESULTS_DIR; commands run from a temporary directory unless they need
the checkout (Invoke's tasks.py, or a path such as scenarios/...).
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import pytest

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
SHELL_BLOCKS = ("bash", "sh", "shell")

# Lines that are not run, and why.
EXCLUDED = {
    "bash tests/run.sh": "the whole test suite, this test included (and it installs servers as root)",
    # The stack's images (influxdb, grafana) cannot be pulled on these machines and no Docker engine runs
    # here by default; tests/integration/test_stack.py runs up/status/logs/down against a real engine instead.
    "invoke stack.up": "needs the official InfluxDB and Grafana images, which cannot be pulled here",
    "invoke stack.status": "needs a running Docker engine (test_stack.py starts its own)",
    "invoke stack.logs --service grafana --tail 50": "needs the stack running (test_stack.py proves logs)",
    "invoke stack.down": "needs a running Docker engine (test_stack.py starts its own)",
    'influx v1 dbrp create --org perf --bucket-id "$(influx bucket find --org perf --name crossload '
    '--hide-headers | cut -f1)" --db crossload --rp autogen --default':
        "the InfluxDB 2.x CLI against a user's server; the stack's init script runs the same command",
}

# Rewrites, applied in order: (pattern, replacement, why).
SUBSTITUTIONS: list[tuple[str, str, str]] = [
    (r"^python3 -m pip install -e \. && ", "",
     "installing is proven by test_install.py in a throwaway venv; reinstalling the shared environment here "
     "would pull it from under the tests running next to this one"),
    (r"--target https?://\S+", "--target {target}", "never send load to another host: the demo target instead"),
    (r"\bRUN_ID\b", "latest", "a placeholder for a stored run"),
    (r"--duration \S+", "--duration {duration}", "runs last seconds, not minutes or hours"),
    (r"--users \d+", "--users {users}", "a few users are enough to prove the command"),
    (r"^invoke dashboards$", "invoke dashboards --check",
     "regenerating would rewrite the checkout's dashboards under the tests running next to this one; --check "
     "runs the same generator and compares"),
]
DURATION = "2s"
# Enough users that in 2 s every request of the demo scenario is picked (a per-request threshold that saw no
# request fails): with 2 users Locust sends ~10 requests, and 'item detail' (weight 6 of 15) went unpicked in
# about 1 run in 170; with 6 users ~30 requests, 1 run in millions.
USERS = "6"
# scenarios/checkout.yaml has thresholds on requests of weight 1 in 24: they need enough requests to be
# measured at all (a threshold that saw no request fails), so its runs are longer and busier; and its own
# load profile ramps at 2 users/s, which would not fit in 10 s.
BUSY = {"duration": "10s", "users": "40", "spawn_rate": "20"}
PROFILE_RUN = re.compile(r"^(invoke (smoke|load|stress|spike|endurance)|crossload run \w+)\b")
EXPECTED_EXIT: dict[str, int] = {}  # command as written -> exit code the docs imply, when it is not 0


@dataclass(frozen=True)
class DocCommand:
    file: str
    line: int
    written: str
    output: str | None = None  # the output a console block shows

    @property
    def id(self) -> str:
        return f"{self.file}:{self.line}: {self.written}"


def _strip_comment(line: str) -> str:
    return re.sub(r"\s+#\s.*$", "", line).strip()


def doc_commands() -> list[DocCommand]:
    found: list[DocCommand] = []
    for doc in DOCS:
        lines = doc.read_text(encoding="utf-8").splitlines()
        name = str(doc.relative_to(ROOT))
        i = 0
        while i < len(lines):
            fence = re.match(r"^```(\w*)\s*$", lines[i])
            if not fence:
                i += 1
                continue
            kind, start, i = fence.group(1), i + 1, i + 1
            while i < len(lines) and not lines[i].startswith("```"):
                i += 1
            body = lines[start:i]
            i += 1
            if kind in SHELL_BLOCKS:
                pending = ""
                for n, raw in enumerate(body, start=start + 1):
                    text = pending + raw
                    if text.endswith("\\"):
                        pending = text[:-1] + " "
                        continue
                    pending = ""
                    command = _strip_comment(text)
                    if command and not command.startswith("#"):
                        found.append(DocCommand(name, n, command))
            elif kind == "console":
                for n, raw in enumerate(body, start=start + 1):
                    if raw.startswith("$ "):
                        rest = body[n - start:]
                        out = []
                        for following in rest:
                            if following.startswith("$ "):
                                break
                            out.append(following)
                        found.append(DocCommand(name, n, raw[2:].strip(), "\n".join(out).strip("\n")))
    return found


def rewrite(command: str, target: str) -> str:
    busy = "scenarios/checkout.yaml" in command
    values = {"target": target, "duration": BUSY["duration"] if busy else DURATION,
              "users": BUSY["users"] if busy else USERS, "spawn_rate": BUSY["spawn_rate"]}
    for pattern, replacement, _why in SUBSTITUTIONS:
        command = re.sub(pattern, replacement, command)
    if PROFILE_RUN.match(command):
        # The run is the first command of a `a && b` line: what is added goes to it.
        run, sep, rest = command.partition(" && ")
        if "--duration" not in run:
            run += " --duration {duration}"
        if "--users" not in run:
            run += " --users {users}"
        if busy and "--spawn-rate" not in run:
            run += " --spawn-rate {spawn_rate}"
        command = run + sep + rest
    return command.format(**values)


COMMANDS = doc_commands()


def test_the_docs_show_commands_and_the_tables_are_current() -> None:
    written = {c.written for c in COMMANDS}
    assert {"invoke smoke", "invoke results.show latest", "bash tests/run.sh"} <= written
    assert set(EXCLUDED) <= written, "an exclusion for a line the docs no longer show"
    for pattern, _replacement, _why in SUBSTITUTIONS:
        assert any(re.search(pattern, c.written) for c in COMMANDS), f"substitution {pattern!r} matches nothing"
    assert set(EXPECTED_EXIT) <= written


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """A results folder with one stored run in it (so results.show and friends have something to show)."""
    base = tmp_path_factory.mktemp("docs")
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("CROSSLOAD_INFLUX_") and k not in ("CROSSLOAD_HOME", "CROSSLOAD_ERROR_GUARD")}
    env.update(CROSSLOAD_RESULTS_DIR=str(base / "results"), CROSSLOAD_DOTENV=str(base / "no.env"), COLUMNS="120")
    seed = subprocess.run([sys.executable, "-m", "crossload", "run", "smoke", "--tool", "k6", "--duration", "2s"],
                          cwd=base, env=env, capture_output=True, text=True, timeout=120, check=False)
    assert seed.returncode == 0, seed.stdout + seed.stderr
    yield {"base": str(base), **env}


def _hosts(command: str) -> set[str]:
    return {urlsplit(url).hostname or "" for url in re.findall(r"https?://[^\s'\"]+", command)}


@pytest.mark.parametrize("doc", COMMANDS, ids=[c.id for c in COMMANDS])
def test_documented_command_works(doc: DocCommand, workspace: dict[str, str], demo_target: str,
                                  request: pytest.FixtureRequest, tmp_path: Path) -> None:
    if doc.written in EXCLUDED:
        pytest.skip(f"not run: {EXCLUDED[doc.written]}")
    env = {k: v for k, v in workspace.items() if k != "base"}
    command = rewrite(doc.written, demo_target)
    assert _hosts(command) <= {"127.0.0.1"}, f"{command!r} would send traffic off this machine"
    if "results.push" in command or "results push" in command:
        influx = request.getfixturevalue("influxdb_v1")
        # Only the URL and the API: CROSSLOAD_INFLUX_DB is left unset, so its documented default is used.
        env.update(CROSSLOAD_INFLUX_URL=influx.url, CROSSLOAD_INFLUX_API="v1")
    program = shlex.split(command)[0]
    needs_checkout = program == "invoke" or bool(re.search(r"(^|\s)(scenarios|tests|docs|benchmarks)/", command))
    cwd = ROOT if needs_checkout else tmp_path
    # Through bash, as a reader would type it; `invoke` and `crossload` of this interpreter come first on PATH.
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    argv = ["bash", "-c", command]
    proc = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=180, check=False)
    expected = EXPECTED_EXIT.get(doc.written, 0)
    assert proc.returncode == expected, (f"{doc.id}\nran: {command} (in {cwd})\nexit {proc.returncode}\n"
                                         f"{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    assert "Traceback" not in proc.stderr
    if doc.output is not None:
        assert proc.stdout.strip("\n") == doc.output, f"{doc.id}: the output differs from the docs"
