#!/usr/bin/env bash
# The whole test suite on a fresh machine: installs what it needs, runs every test, exits with pytest's code.
#
#   bash tests/run.sh            # everything (unit + integration: real Locust, k6, InfluxDB, VictoriaMetrics)
#   bash tests/run.sh -k golden  # extra arguments go to pytest
#
# Installs: the package with its dev extras (pip), Debian's influxdb, victoria-metrics, docker.io,
# busybox-static, debootstrap and chromium (apt, as root).
# The tests start the servers they need on free loopback ports and stop them; nothing keeps running after.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '[tests/run.sh] %s\n' "$*"; }

need_apt=()
command -v influxd >/dev/null 2>&1 || need_apt+=(influxdb)
command -v victoria-metrics >/dev/null 2>&1 || need_apt+=(victoria-metrics)
# The stack tests: a real Docker engine (dockerd, started by the tests on a private socket) and busybox for
# the stand-in image they build (no image can be pulled).
command -v dockerd >/dev/null 2>&1 || need_apt+=(docker.io)
command -v busybox >/dev/null 2>&1 || need_apt+=(busybox-static)
# The docker runner's tests build the Locust image offline from a Debian root filesystem (debootstrap, in
# /usr/sbin), as `invoke docker.images --offline` does.
command -v debootstrap >/dev/null 2>&1 || [[ -x /usr/sbin/debootstrap ]] || need_apt+=(debootstrap)
# The HTML reports are opened in a real browser, headless, by tests/integration/test_compare_report.py.
command -v chromium >/dev/null 2>&1 || need_apt+=(chromium fonts-dejavu-core)
if ((${#need_apt[@]})); then
  if [[ $(id -u) -ne 0 ]]; then
    log "need root to install: ${need_apt[*]} (or install them yourself)"
    exit 2
  fi
  log "installing Debian packages: ${need_apt[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  # --no-install-recommends: the servers only; policy-rc.d keeps apt from starting them as services.
  printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
  chmod +x /usr/sbin/policy-rc.d
  trap 'rm -f /usr/sbin/policy-rc.d' EXIT
  apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
  rm -f /usr/sbin/policy-rc.d
  trap - EXIT
fi

log "installing the package and its test dependencies"
python3 -m pip install -q --disable-pip-version-check -e ".[dev]"

log "running the test suite"
set +e
python3 -m pytest "$@"
code=$?
set -e
if [[ $code -eq 5 ]]; then
  log "pytest collected no tests"
  exit 1
fi
exit $code
