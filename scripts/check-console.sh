#!/usr/bin/env bash
# The console in a real browser: starts `rmw --dev --console` on a free
# loopback port, waits until health says SERVING, and runs
# clients/browser/test_console.py (headless Chromium driven by Selenium)
# against it; then stops rmw with SIGTERM, which must end it with status 0.
# The page's screenshot is kept as target/console.png.
#
#   scripts/check-console.sh [path/to/rmw]     default: target/debug/rmw
#
# Needs what `scripts/setup.sh browser` installs: Debian's chromium and
# chromium-driver, and selenium in .tools/venv.
set -euo pipefail

cd "$(dirname "$0")/.."
root=$(pwd)
bin=${1:-target/debug/rmw}
case $bin in /*) ;; *) bin="$root/$bin" ;; esac
py="$root/.tools/venv/bin/python"

die() {
  echo "check-console: $*" >&2
  exit 1
}
[ -x "$bin" ] || die "no rmw binary at $bin (build it: cargo build)"
[ -x /usr/bin/chromium ] && [ -x /usr/bin/chromedriver ] ||
  die "no chromium / chromedriver (run scripts/setup.sh browser)"
"$py" -c 'import selenium, pytest' 2>/dev/null || die "no selenium in $py (run scripts/setup.sh browser)"

work=$(mktemp -d)
pid=""
cleanup() {
  [ -n "$pid" ] && kill -KILL "$pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

port=$("$py" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
addr="127.0.0.1:$port"
# None of the caller's RMW_* settings (an RMW_REDIS_URL would point --dev elsewhere).
env $(compgen -e | grep '^RMW_' | sed 's/^/-u /') "$bin" --dev --console --listen "$addr" >"$work/rmw.log" 2>&1 &
pid=$!

# Health over the same port's Connect JSON, polled every 0.1 s for 20 s.
for ((i = 0; i < 200; i++)); do
  kill -0 "$pid" 2>/dev/null || { cat "$work/rmw.log" >&2; die "rmw exited before SERVING"; }
  if curl -sf -H 'Content-Type: application/json' -d '{}' \
    "http://$addr/grpc.health.v1.Health/Check" 2>/dev/null | grep -q SERVING; then
    break
  fi
  sleep 0.1
done
[ "$i" -lt 200 ] || { tail -n 20 "$work/rmw.log" >&2; die "rmw not SERVING within 20s"; }
echo "== rmw --console SERVING on $addr"

status=0
RMW_ADDR=$addr RMW_ARTIFACTS="$root/target" PYTHONDONTWRITEBYTECODE=1 \
  "$py" -m pytest clients/browser -v -p no:cacheprovider || status=$?

kill -TERM "$pid"
stop=0
wait "$pid" || stop=$?
pid=""
if [ "$stop" -ne 0 ]; then
  tail -n 20 "$work/rmw.log" >&2
  die "rmw exited with status $stop after SIGTERM (want 0)"
fi
[ "$status" -eq 0 ] || die "the browser test failed"
echo "check-console: passed; screenshot at target/console.png"
