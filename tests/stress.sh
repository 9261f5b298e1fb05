#!/usr/bin/env bash
# Run the integration tests N times in a row while another process keeps one CPU core busy, and stop at the
# first red run. A test that passes only on an idle machine is a flaky test: this is how to find one.
#
#   bash tests/stress.sh 5                                   # every integration test (-m integration), 5 times
#   bash tests/stress.sh 10 tests/integration/test_run.py    # these pytest arguments instead of -m integration
#
# Prints one line per run, then `N runs: all green` (exit 0), or which run and which tests failed (exit 1)
# with the path of that run's full pytest output. Installs nothing (tests/run.sh does that) and leaves no
# process behind: the busy loop, pytest and whatever pytest started are stopped on every way out (the end,
# a red run, Ctrl-C, SIGTERM).
set -uo pipefail
cd "$(dirname "$0")/.."

usage() {
  echo "usage: bash tests/stress.sh N [pytest args]   (N >= 1; default pytest args: -m integration)" >&2
  exit 2
}
[[ $# -ge 1 && $1 =~ ^[1-9][0-9]*$ ]] || usage
runs=$1
shift
if [[ $# -gt 0 ]]; then
  args=("$@")
else
  args=(-m integration)
fi

# Job control: each background job gets its own process group and does not start with SIGINT ignored, so
# SIGINT can go to pytest alone, which then tears its fixtures (InfluxDB, VictoriaMetrics, targets) down.
set -m

logs=$(mktemp -d "${TMPDIR:-/tmp}/crossload-stress.XXXXXX")
busy_pid=""
test_pid=""

proc_stat() {  # proc_stat PID: "ppid start-time" of a live process, from /proc; nothing for a gone one
  local stat rest
  local -a f
  read -r stat 2>/dev/null <"/proc/$1/stat" || return 0
  rest=${stat##*) }  # the fields after "pid (comm)"; comm itself may hold spaces and parentheses
  read -r -a f <<<"$rest"
  [[ ${f[0]} == Z ]] && return 0  # a zombie has exited already
  echo "${f[1]} ${f[19]}"
}

tree() {  # tree PID: "pid/start-time" of every live descendant of PID (servers, tools and their children)
  local -a queue=("$1") table=()
  local dir pid ppid start info p
  for dir in /proc/[0-9]*; do
    pid=${dir#/proc/}
    info=$(proc_stat "$pid")
    [[ -n $info ]] && table+=("$pid $info")
  done
  while ((${#queue[@]})); do
    p=${queue[0]}
    queue=("${queue[@]:1}")
    for info in "${table[@]}"; do
      read -r pid ppid start <<<"$info"
      if [[ $ppid == "$p" ]]; then
        echo "$pid/$start"
        queue+=("$pid")
      fi
    done
  done
}

still_there() {  # still_there pid/start...: the ones still running as the recorded process (no reused pid)
  local entry now
  for entry in "$@"; do
    now=$(proc_stat "${entry%%/*}")
    [[ -n $now && ${now#* } == "${entry#*/}" ]] && echo "${entry%%/*}"
  done
  return 0
}

stop_pytest() {  # stop_pytest PID: SIGINT (pytest stops its servers), then SIGTERM and SIGKILL to what is left
  local pid=$1 i
  local -a procs left
  mapfile -t procs < <(tree "$pid")
  kill -INT "$pid" 2>/dev/null
  for ((i = 0; i < 600; i++)); do  # up to 60 s: a test may be in the middle of a run of both tools
    [[ -n $(proc_stat "$pid") ]] || break
    sleep 0.1
  done
  mapfile -t -O "${#procs[@]}" procs < <(tree "$pid")
  for sig in TERM KILL; do
    mapfile -t left < <(still_there "${procs[@]}")
    [[ -n $(proc_stat "$pid") ]] && left+=("$pid")
    ((${#left[@]})) || break
    kill "-$sig" "${left[@]}" 2>/dev/null
    for ((i = 0; i < 50; i++)); do  # up to 5 s for the signal to work
      [[ -z $(still_there "${procs[@]}") && -z $(proc_stat "$pid") ]] && break
      sleep 0.1
    done
  done
  wait "$pid" 2>/dev/null
}

cleanup() {
  trap - EXIT INT TERM HUP
  if [[ -n $busy_pid ]]; then
    kill -KILL "$busy_pid" 2>/dev/null
    wait "$busy_pid" 2>/dev/null
  fi
  if [[ -n $test_pid ]]; then
    echo "stress: stopping pytest (pid $test_pid) and everything it started" >&2
    stop_pytest "$test_pid"
  fi
}
trap cleanup EXIT
trap 'echo "stress: interrupted" >&2; exit 130' INT
trap 'echo "stress: terminated" >&2; exit 143' TERM HUP

python3 -c 'while True: pass' &
busy_pid=$!
echo "stress: $runs run(s) of: python3 -m pytest ${args[*]}  (busy loop: pid $busy_pid; logs: $logs)"

for ((run = 1; run <= runs; run++)); do
  log="$logs/run-$run.log"
  started=$SECONDS
  python3 -m pytest "${args[@]}" >"$log" 2>&1 &
  test_pid=$!
  wait "$test_pid"
  code=$?
  test_pid=""
  elapsed=$((SECONDS - started))
  # pytest's last line, e.g. "== 3 passed, 1 deselected in 12.34s ==", without the padding.
  result=$(grep -E '^=+ .*([0-9]+ (passed|failed|errors?|skipped|deselected|xfailed|xpassed)|no tests ran).* =+$' \
    "$log" | tail -n 1 | sed -E 's/^=+ //; s/ =+$//')
  if [[ $code -eq 0 ]]; then
    printf 'run %d/%d: green  %s  (%ds)\n' "$run" "$runs" "${result:-?}" "$elapsed"
    continue
  fi
  why="pytest exit $code"
  [[ $code -eq 5 ]] && why="no tests collected"
  printf 'run %d/%d: RED (%s)  %s  (%ds)\n' "$run" "$runs" "$why" "${result:-?}" "$elapsed"
  failed=$(grep -E '^(FAILED|ERROR) ' "$log" | sed -E 's/ - .*//')
  if [[ -n $failed ]]; then
    printf '%s\n' "$failed" | sed 's/^/  /'
  else
    tail -n 15 "$log" | sed 's/^/  | /'
  fi
  echo "run $run of $runs failed; full output: $log"
  exit 1
done
echo "$runs runs: all green"
