#!/usr/bin/env bash
# tests/bench/ws_bench.sh - make bench-ws: launcher-ws under load, on a
# throwaway stack (LAUNCHER_LOCAL_AGENT=0: the bench starts the real
# launcher-agent itself).
#   latency: a container (the busybox base fixture, labelled as an app's)
#            prints a ready line, then 10,000 lines at a steady 1,000
#            lines/s; the real agent ships them (POST /agent/logs); a client
#            of /ws/applications/:id/logs through nginx receives them:
#            receipt time - the line's engine timestamp, p50 and p99 (goal:
#            p99 under 250 ms).  Twice: logs_follow = true (streams), then
#            false (polling every logs_interval, its default 2 s).
#   memory:  the daemon's VmRSS idle, then with 1,000 idle streams open
#            (goal: under 64 MB).  Needs 1,000+ descriptors: the client and
#            the daemon stay within the current `ulimit -n` (never raised).
set -euo pipefail
cd "$(dirname "$0")/../.."
PY=/usr/bin/python3
# shellcheck source=tests/lib/throwaway_stack.sh
. tests/lib/throwaway_stack.sh
throwaway_stack wsbench
export LAUNCHER_LOCAL_AGENT=0 LAUNCHER_LOG_LEVEL=${BENCH_LOG_LEVEL:-warn}
export LAUNCHER_RATE_IP=100000r/s LAUNCHER_BURST_IP=100000
export LAUNCHER_RATE_KEY=100000r/s LAUNCHER_BURST_KEY=100000
export LAUNCHER_WS_CONN_IP=5000
cleanup() {
	bash conf/stack/launcher-stack.sh stop > /dev/null 2>&1 || true
	rm -rf "$LAUNCHER_STATE_DIR"
}
trap cleanup EXIT
if [ ! -f tests/tools/node_modules/ws/package.json ] ||
	[ tests/tools/package-lock.json -nt tests/tools/node_modules/.package-lock.json ]; then
	npm ci --prefix tests/tools --no-audit --no-fund --loglevel=error > /dev/null
fi
bash conf/stack/launcher-stack.sh start > "$LAUNCHER_STATE_DIR/start.out" 2>&1 ||
	{ cat "$LAUNCHER_STATE_DIR/start.out"; exit 1; }
# The base fixture (busybox) in the stack's engine: FIXTURE_BASE_IMAGE.
ENGINE_SOCK=$(sed -n "s/^export LAUNCHER_ENGINE_SOCKET=//p" "$LAUNCHER_STATE_DIR/run/stack.env" | tr -d "'\"")
bash tests/fixtures/build.sh --engine-socket "$ENGINE_SOCK" > "$LAUNCHER_STATE_DIR/fixtures.env" \
	2> "$LAUNCHER_STATE_DIR/fixtures.log" || { tail -n 20 "$LAUNCHER_STATE_DIR/fixtures.log"; exit 1; }
# shellcheck disable=SC1091 # export lines
. "$LAUNCHER_STATE_DIR/fixtures.env"
echo "ulimit -n: soft $(ulimit -Sn), hard $(ulimit -Hn)"
$PY tests/bench/ws_bench.py
