#!/usr/bin/env bash
# Runs the example clients (clients/python, clients/node) and the stock
# Connect / gRPC-Web clients (clients/connect) against a real rmw.
#
#   scripts/check-clients.sh [path/to/rmw]     default: target/debug/rmw
#
# Generates the Python stubs from proto/, starts `rmw --dev` (with its private
# redis-server) on a free loopback port, waits until health says SERVING,
# runs the Python tests and then the Node tests against it, and stops it with
# SIGTERM, which must end it with exit status 0. Ends with the line
# `check-clients: N passed, N failed` (test cases of both suites; a suite that
# fails without reporting a failed case, and a bad shutdown, count as one
# failure each) and exits non-zero if anything failed.
#
# Needs what `scripts/setup.sh test` installs: the venv .tools/venv with
# clients/python/requirements.txt, and clients/node/node_modules
# (npm ci --prefix clients/node).
set -euo pipefail

cd "$(dirname "$0")/.."
root=$(pwd)

bin=${1:-target/debug/rmw}
case $bin in /*) ;; *) bin="$root/$bin" ;; esac
py="$root/.tools/venv/bin/python"

READY_WITHIN_S=20 # health must say SERVING within this
STOP_WITHIN_S=30  # SIGTERM to exit (the drain timeout is 20s by default)

die() {
  echo "check-clients: $*" >&2
  echo "check-clients: 0 passed, 2 failed"
  exit 1
}
[ -x "$bin" ] || die "no rmw binary at $bin (build it: cargo build)"
[ -x "$py" ] || die "no $py (run scripts/setup.sh test)"
"$py" -c 'import grpc, grpc_tools, google.rpc.status_pb2, pytest' 2>/dev/null ||
  die "the venv lacks the Python client packages (run scripts/setup.sh test)"
[ -d clients/node/node_modules/@grpc/grpc-js ] ||
  die "no clients/node/node_modules (run scripts/setup.sh test)"
[ -d clients/connect/node_modules/@connectrpc/connect-node ] ||
  die "no clients/connect/node_modules (run scripts/setup.sh test)"
command -v node >/dev/null || die "no node on PATH"

work=$(mktemp -d)
svc_pid=""
passed=0
failed=0

# Stops the service with SIGTERM and waits (bounded) for it; returns its exit
# status. If it does not exit in time it is killed, with its redis-server.
stop_service() {
  [ -n "$svc_pid" ] || return 0
  local pid=$svc_pid status=0 i
  svc_pid=""
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < STOP_WITHIN_S * 10; i++)); do
    # Exited: gone, or a zombie waiting for `wait`.
    if [ ! -e "/proc/$pid" ] || grep -q '^State:[[:space:]]*Z' "/proc/$pid/status" 2>/dev/null; then
      wait "$pid" || status=$?
      return "$status"
    fi
    sleep 0.1
  done
  echo "check-clients: rmw did not exit within ${STOP_WITHIN_S}s of SIGTERM; killing it" >&2
  # shellcheck disable=SC2046 # its children (the dev redis-server), by pid
  kill -KILL "$pid" $(cat /proc/"$pid"/task/*/children 2>/dev/null) 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  return 124
}

on_exit() {
  local status=$?
  stop_service >/dev/null 2>&1 || true
  rm -rf "$work"
  exit "$status"
}
trap on_exit EXIT
trap 'exit 130' INT TERM HUP

# --- Python stubs (clients/python/gen, not committed) ---------------------
echo "== generating Python stubs into clients/python/gen"
rm -rf clients/python/gen
mkdir -p clients/python/gen
"$py" -m grpc_tools.protoc -I proto \
  --python_out=clients/python/gen --pyi_out=clients/python/gen \
  --grpc_python_out=clients/python/gen proto/rmw/v1/*.proto ||
  die "grpc_tools.protoc failed"

# --- Connect stubs (clients/connect/gen, not committed) --------------------
echo "== generating Connect stubs into clients/connect/gen"
rm -rf clients/connect/gen
(cd clients/connect && node_modules/.bin/buf generate ../../proto --template buf.gen.yaml) ||
  die "buf generate (protoc-gen-es) failed"

# --- The service -----------------------------------------------------------

# Polls grpc.health.v1.Health/Check for service "" every 0.1 s until it says
# SERVING (exit 0), the process exits (exit 2) or the time is up (exit 1).
# Raw bytes, so no health stubs are needed: the request (service "") is the
# empty message, and SERVING is field 1 = 1, i.e. 08 01.
wait_serving() {
  "$py" - "$1" "$2" "$READY_WITHIN_S" <<'EOF'
import sys, time
import grpc

addr, pid, within = sys.argv[1], sys.argv[2], float(sys.argv[3])

def exited():
    try:
        with open(f"/proc/{pid}/status") as f:
            return any(l.startswith("State:") and "Z" in l.split()[1] for l in f)
    except FileNotFoundError:
        return True

# Reconnect quickly: the default backoff after a refused connection is 1 s.
options = [("grpc.initial_reconnect_backoff_ms", 50),
           ("grpc.min_reconnect_backoff_ms", 50),
           ("grpc.max_reconnect_backoff_ms", 100)]
with grpc.insecure_channel(addr, options=options) as channel:
    check = channel.unary_unary("/grpc.health.v1.Health/Check")
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if exited():
            sys.exit(2)
        try:
            if check(b"", timeout=0.5) == b"\x08\x01":
                sys.exit(0)
        except grpc.RpcError:
            pass
        time.sleep(0.1)
sys.exit(1)
EOF
}

free_port() {
  "$py" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# The service gets none of the caller's RMW_* settings (an RMW_REDIS_URL would
# point --dev elsewhere); a port taken between probe and bind is retried.
unset_rmw_env=()
for name in $(compgen -e); do
  case $name in RMW_*) unset_rmw_env+=(-u "$name") ;; esac
done
addr=""
for attempt in 1 2 3; do
  port=$(free_port)
  echo "== starting $bin --dev --listen 127.0.0.1:$port"
  env "${unset_rmw_env[@]}" "$bin" --dev --listen "127.0.0.1:$port" >"$work/rmw.log" 2>&1 &
  svc_pid=$!
  ready=0
  wait_serving "127.0.0.1:$port" "$svc_pid" || ready=$?
  if [ "$ready" -eq 0 ]; then
    addr="127.0.0.1:$port"
    break
  fi
  if [ "$ready" -eq 2 ]; then
    wait "$svc_pid" || true
    svc_pid=""
    echo "check-clients: rmw exited before SERVING (attempt $attempt):" >&2
    tail -n 20 "$work/rmw.log" >&2
    continue
  fi
  echo "check-clients: rmw not SERVING within ${READY_WITHIN_S}s:" >&2
  tail -n 20 "$work/rmw.log" >&2
  break
done
[ -n "$addr" ] || die "rmw did not start"
echo "== rmw SERVING on $addr"

# --- The suites ------------------------------------------------------------

# Adds a suite's counts; a suite that failed without a failed case counts one.
count() { # suite-exit-status passed failed
  passed=$((passed + $2))
  failed=$((failed + $3))
  if [ "$1" -ne 0 ] && [ "$3" -eq 0 ]; then failed=$((failed + 1)); fi
}

echo "== Python: pytest clients/python"
py_status=0
RMW_ADDR=$addr PYTHONDONTWRITEBYTECODE=1 "$py" -m pytest clients/python -v \
  --junitxml="$work/python.xml" || py_status=$?
read -r py_passed py_failed < <("$py" - "$work/python.xml" <<'EOF' || echo "0 0"
import sys
import xml.etree.ElementTree as ET

try:
    root = ET.parse(sys.argv[1]).getroot()
except (OSError, ET.ParseError):
    print(0, 0)
    raise SystemExit
suites = [root] if root.tag == "testsuite" else root.findall("testsuite")
total = sum(int(s.get("tests", 0)) for s in suites)
bad = sum(int(s.get("failures", 0)) + int(s.get("errors", 0)) for s in suites)
skipped = sum(int(s.get("skipped", 0)) for s in suites)
print(total - bad - skipped, bad)
EOF
)
count "$py_status" "$py_passed" "$py_failed"

# Runs one Node test file; sets <name>_status, <name>_passed, <name>_failed.
node_suite() { # name file
  # Not `passed`/`failed`: count() adds to those totals.
  local status=0 ok bad
  RMW_ADDR=$addr node --test \
    --test-reporter=spec --test-reporter-destination=stdout \
    --test-reporter=tap --test-reporter-destination="$work/$1.tap" \
    "$2" || status=$?
  ok=$(grep -c '^ok ' "$work/$1.tap" 2>/dev/null || true)
  bad=$(grep -c '^not ok ' "$work/$1.tap" 2>/dev/null || true)
  printf -v "$1_status" '%s' "$status"
  printf -v "$1_passed" '%s' "${ok:-0}"
  printf -v "$1_failed" '%s' "${bad:-0}"
  count "$status" "${ok:-0}" "${bad:-0}"
}

echo "== Node: node --test clients/node"
node_suite node clients/node/example.test.js

echo "== Connect and gRPC-Web: node --test clients/connect"
node_suite connect clients/connect/connect.test.js

# --- Shutdown ----------------------------------------------------------------
echo "== stopping rmw (SIGTERM)"
stop_status=0
stop_service || stop_status=$?
if [ "$stop_status" -ne 0 ]; then
  echo "check-clients: rmw exited with status $stop_status after SIGTERM (want 0):" >&2
  tail -n 20 "$work/rmw.log" >&2
  failed=$((failed + 1))
fi

echo "check-clients: python passed=$py_passed failed=$py_failed exit=$py_status;" \
  "node passed=${node_passed:-0} failed=${node_failed:-0} exit=$node_status;" \
  "connect passed=${connect_passed:-0} failed=${connect_failed:-0} exit=$connect_status;" \
  "rmw exit=$stop_status"
echo "check-clients: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
