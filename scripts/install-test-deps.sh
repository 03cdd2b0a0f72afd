#!/usr/bin/env bash
# Install the Debian packages the test suite runs for real, only those missing.
set -euo pipefail
need=()
have() { command -v "$1" >/dev/null 2>&1 || [ -x "$1" ]; }
have influxd || need+=(influxdb)
have prometheus || need+=(prometheus)
have promtool || need+=(prometheus)
have prometheus-alertmanager || need+=(prometheus-alertmanager)
have prometheus-node-exporter || need+=(prometheus-node-exporter)
have /usr/bin/chromium || need+=(chromium)
have /usr/bin/chromedriver || need+=(chromium-driver)
have pg_ctlcluster || need+=(postgresql)
have redis-server || need+=(redis-server)
# The agent installer test installs into a venv of the system Python, as on a clean server.
have /usr/bin/python3 || need+=(python3)
# The web UI's type checker and linter (tests/web, from the npm registry) run on Node.js.
have node || need+=(nodejs)
have npm || need+=(npm)
[ ${#need[@]} -eq 0 ] && exit 0
mapfile -t need < <(printf '%s\n' "${need[@]}" | sort -u)
echo "installing test servers: ${need[*]}" >&2
if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; else SUDO=; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
