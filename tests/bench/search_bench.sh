#!/usr/bin/env bash
# tests/bench/search_bench.sh - make bench-search: GET /search through nginx
# under wrk with 100,000 resources in one tenant (tests/bench/search_bench.py
# makes them and prints the figures), against a trivial authenticated route
# (GET /auth/me, same key) measured in the same run, interleaved: the
# machine is shared, so the ratio is the steadier figure.  The issue's
# goal: p99 under 30 ms.  BENCH_SECONDS (default 10), BENCH_ROUNDS (5) and
# BENCH_CONNECTIONS (4) override the defaults.
set -euo pipefail
cd "$(dirname "$0")/../.."
PY=/usr/bin/python3
command -v wrk > /dev/null || { echo "wrk is missing (make install-deps)"; exit 1; }
# shellcheck source=tests/lib/throwaway_stack.sh
. tests/lib/throwaway_stack.sh
throwaway_stack searchbench
export LAUNCHER_WORKERS=${LAUNCHER_WORKERS:-2} LAUNCHER_LOG_LEVEL=warn LAUNCHER_LOCAL_AGENT=0
export LAUNCHER_RATE_IP=100000r/s LAUNCHER_BURST_IP=100000
export LAUNCHER_RATE_KEY=100000r/s LAUNCHER_BURST_KEY=100000
export LAUNCHER_SCHEDULER_INTERVAL=3600
cleanup() {
	bash conf/stack/launcher-stack.sh stop > /dev/null 2>&1 || true
	throwaway_unmount
	rm -rf "$LAUNCHER_STATE_DIR"
}
trap cleanup EXIT
bash conf/stack/launcher-stack.sh start > "$LAUNCHER_STATE_DIR/start.out" 2>&1 ||
	{ cat "$LAUNCHER_STATE_DIR/start.out"; exit 1; }
export LAUNCHER_BIN_DIR=$PWD/build/bin
$PY tests/bench/search_bench.py
