#!/usr/bin/env bash
# Installs Debian's Chromium for the dashboard's browser test (playwright-core drives /usr/bin/chromium; no browser
# download). Idempotent: does nothing when /usr/bin/chromium already runs.
set -euo pipefail
say() { printf '[chromium] %s\n' "$*"; }
if [ -x /usr/bin/chromium ] && /usr/bin/chromium --version >/dev/null 2>&1; then
  say "already installed: $(/usr/bin/chromium --version)"
  exit 0
fi
if [ "$(id -u)" != 0 ]; then
  echo "[chromium] ERROR: installing Debian's chromium needs root (apt-get)" >&2
  exit 1
fi
say "installing Debian's chromium (apt-get)"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core >/dev/null
say "installed: $(/usr/bin/chromium --version)"
