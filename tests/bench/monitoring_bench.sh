#!/usr/bin/env bash
# tests/bench/monitoring_bench.sh - make bench-monitoring: what ingesting the
# monitoring of 1,000 applications on 10 simulated agents costs the plane.
# On a throwaway stack (no local agent, the scheduler idle): 10 servers with
# 100 applications each; every 10 s each simulated agent sends what the real
# one sends (tests/bench/monitoring_bench.py): POST /agent/metrics with its
# host point and one container point per application, and POST
# /agent/traffic with one 10 s point per application.  The CPU time of the
# pool and of PostgreSQL (tests/bench/cpu.py, /proc) over BENCH_SECONDS
# (default 120) is printed as a share of one core.  The issue's goal: under 5 %.
set -euo pipefail
cd "$(dirname "$0")/../.."
PY=/usr/bin/python3
# shellcheck source=tests/lib/throwaway_stack.sh
. tests/lib/throwaway_stack.sh
throwaway_stack monbench
export LAUNCHER_LOCAL_AGENT=0 LAUNCHER_LOG_LEVEL=${BENCH_LOG_LEVEL:-warn}
export LAUNCHER_SCHEDULER_INTERVAL=3600
# The setup creates 1,000 applications in a row; the ingestion itself (2
# requests a second) is far below the default limits.
export LAUNCHER_RATE_IP=100000r/s LAUNCHER_BURST_IP=100000
export LAUNCHER_RATE_KEY=100000r/s LAUNCHER_BURST_KEY=100000
cleanup() {
	bash conf/stack/launcher-stack.sh stop > /dev/null 2>&1 || true
	rm -rf "$LAUNCHER_STATE_DIR"
}
trap cleanup EXIT
bash conf/stack/launcher-stack.sh start > "$LAUNCHER_STATE_DIR/start.out" 2>&1 ||
	{ cat "$LAUNCHER_STATE_DIR/start.out"; exit 1; }
export LAUNCHER_BIN_DIR=$PWD/build/bin
$PY tests/bench/monitoring_bench.py
