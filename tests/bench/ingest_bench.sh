#!/usr/bin/env bash
# tests/bench/ingest_bench.sh - make bench-ingest: error tracking ingest
# under load.  On a throwaway stack (no local agent, the scheduler idle,
# launcher-issues grouping as in production): real SDK requests
# (tests/fixtures/sentry/: @sentry/node envelopes and python3-sentry-sdk
# gzip store requests, each with a fresh event id) sent through nginx at
# BENCH_RATE events/s (default 2,000) for BENCH_SECONDS (default 10) by an
# open-loop libcurl multi client (tests/bench/ingest_load.c), while GET
# /projects?limit=50 is timed at 100/s; the same probes alone before each
# loaded run are the idle reference.  Then it waits until every event is
# grouped and measures the grouping lag (ingest answer -> issue_events row).
# BENCH_ROUNDS (default 3) idle/load pairs; medians.  Details and figures:
# tests/bench/ingest_bench.py, README "Error tracking: load".
set -euo pipefail
cd "$(dirname "$0")/../.."
PY=/usr/bin/python3
# shellcheck source=tests/lib/throwaway_stack.sh
. tests/lib/throwaway_stack.sh
throwaway_stack ingestbench
export LAUNCHER_LOCAL_AGENT=0 LAUNCHER_LOG_LEVEL=${BENCH_LOG_LEVEL:-warn}
export LAUNCHER_SCHEDULER_INTERVAL=3600
# The load comes from one address: nginx's per-IP and per-key zones wide
# open (the DSN's own quota is raised by the bench itself).
export LAUNCHER_RATE_IP=100000r/s LAUNCHER_BURST_IP=100000
export LAUNCHER_RATE_KEY=100000r/s LAUNCHER_BURST_KEY=100000
cleanup() {
	bash conf/stack/launcher-stack.sh stop > /dev/null 2>&1 || true
	throwaway_unmount
	rm -rf "$LAUNCHER_STATE_DIR"
}
trap cleanup EXIT
# The load generator: C, libcurl (a -dev package of the stack's PACKAGES).
# shellcheck disable=SC2046 # pkg-config's flags are words
cc -std=c11 -D_DEFAULT_SOURCE -O2 -Wall -Wextra -Wformat=2 -Wvla -Wshadow -Werror \
	-o "$LAUNCHER_STATE_DIR/ingest-load" tests/bench/ingest_load.c $(pkg-config --cflags --libs libcurl)
bash conf/stack/launcher-stack.sh start > "$LAUNCHER_STATE_DIR/start.out" 2>&1 ||
	{ cat "$LAUNCHER_STATE_DIR/start.out"; exit 1; }
export LAUNCHER_BIN_DIR=$PWD/build/bin
$PY tests/bench/ingest_bench.py "$LAUNCHER_STATE_DIR/ingest-load"
