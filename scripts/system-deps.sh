#!/usr/bin/env bash
# Installs the Debian packages Parlor needs when they are missing (as root, or with sudo).
# --browser (what `make test` passes) adds Chromium for the browser tests (never downloaded by Playwright
# itself) and Prometheus for its promtool, which checks and unit-tests deploy/prometheus/alerts.yml.
set -euo pipefail
need=()
command -v python3 >/dev/null || need+=(python3)
python3 -c "import venv, ensurepip" 2>/dev/null || need+=(python3-venv)
command -v node >/dev/null || need+=(nodejs)
command -v npm >/dev/null || need+=(npm)
[[ -x /usr/sbin/pgbouncer ]] || need+=(pgbouncer)  # the tests start their own, in front of PostgreSQL
if [[ "${1:-}" == "--browser" ]]; then
  [[ -x /usr/bin/chromium ]] || need+=(chromium)
  command -v promtool >/dev/null || need+=(prometheus)
fi
[[ ${#need[@]} -eq 0 ]] && exit 0
echo "installing Debian packages: ${need[*]}"
sudo=""; [[ $(id -u) -eq 0 ]] || sudo="sudo"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${need[@]}" >/dev/null
if [[ " ${need[*]} " == *" prometheus "* ]] && command -v systemctl >/dev/null; then
  $sudo systemctl disable --now prometheus >/dev/null 2>&1 || true  # only promtool is wanted, not a server
fi
if [[ " ${need[*]} " == *" pgbouncer "* ]]; then  # only the binary is wanted: tests/helpers/pgbouncer.py runs it
  if command -v systemctl >/dev/null; then $sudo systemctl disable --now pgbouncer >/dev/null 2>&1 || true; fi
  $sudo service pgbouncer stop >/dev/null 2>&1 || true
fi
