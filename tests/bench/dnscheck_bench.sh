#!/usr/bin/env bash
# tests/bench/dnscheck_bench.sh - make bench-dnscheck: the wall time of one
# `launcher-dnscheck --once` with 10,000 domains of which 100 are due,
# against dnsmasq on loopback (tests/lib/dnsmasq.py), on a throwaway stack.
# The 100 have their TXT and A records, so a run verifies them all (and
# queues their edge routes); they are made due and pending again before each
# run.  Prints each run's time and the median of BENCH_RUNS (default 7).
# The issue's goal: under 5 s.
set -euo pipefail
cd "$(dirname "$0")/../.."
PY=/usr/bin/python3
# shellcheck source=tests/lib/throwaway_stack.sh
. tests/lib/throwaway_stack.sh
throwaway_stack dnsbench
export LAUNCHER_LOCAL_AGENT=0 LAUNCHER_LOG_LEVEL=${BENCH_LOG_LEVEL:-warn}
export LAUNCHER_SCHEDULER_INTERVAL=3600
cleanup() {
	$PY tests/lib/dnsmasq.py stop "$LAUNCHER_STATE_DIR/dns" > /dev/null 2>&1 || true
	bash conf/stack/launcher-stack.sh stop > /dev/null 2>&1 || true
	rm -rf "$LAUNCHER_STATE_DIR"
}
trap cleanup EXIT
bash conf/stack/launcher-stack.sh start > "$LAUNCHER_STATE_DIR/start.out" 2>&1 ||
	{ cat "$LAUNCHER_STATE_DIR/start.out"; exit 1; }
export LAUNCHER_BIN_DIR=$PWD/build/bin
$PY tests/bench/dnscheck_bench.py
