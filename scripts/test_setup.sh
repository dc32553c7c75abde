#!/usr/bin/env bash
# Installs what the test suite needs and is missing, from Debian's packages (redis-server,
# freetds-bin, chromium, postgresql). The tests start
# (and stop) their own servers on free loopback ports; nothing is left running.
set -euo pipefail

need=()
command -v redis-server >/dev/null 2>&1 || need+=(redis-server)
command -v tsql >/dev/null 2>&1 || need+=(freetds-bin)
# The status page is tested in a real browser: Debian's Chromium, driven by playwright-core.
[ -x /usr/bin/chromium ] || need+=(chromium)
# The Ignition source is tested against a real PostgreSQL server.
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need+=(postgresql)

if [ ${#need[@]} -gt 0 ]; then
  echo "test setup: installing ${need[*]} from Debian's packages" >&2
  if [ "$(id -u)" -eq 0 ]; then sudo=""; elif command -v sudo >/dev/null 2>&1; then sudo="sudo"; else
    echo "test setup: need root (or sudo) to install ${need[*]}" >&2
    exit 1
  fi
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
  # The package's own service is not what the tests use; keep the machine as it was.
  $sudo service redis-server stop >/dev/null 2>&1 || true
  $sudo service postgresql stop >/dev/null 2>&1 || true
fi
