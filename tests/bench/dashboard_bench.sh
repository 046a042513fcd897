#!/usr/bin/env bash
# tests/bench/dashboard_bench.sh - make bench-dashboard: the dashboard in
# Debian's chromium (playwright-core, tests/tools) against a throwaway stack
# (tests/bench/dashboard_bench.mjs prints the figures): first-load bytes of
# JavaScript and CSS as transferred (compressed), by file, and first-load
# time of the sign-in page and of the projects page after signing in
# (median of BENCH_LOADS cold loads, default 5); then a project of
# BENCH_APPS applications (default 500, made through the API): time to the
# first page of the list, to every row, and the longest task. A
# measurement for the README ("The dashboard"), not a test: it asserts
# nothing about the numbers.
set -euo pipefail
cd "$(dirname "$0")/../.."
[ -x "${LAUNCHER_CHROMIUM:-/usr/bin/chromium}" ] || { echo "chromium is missing (apt-get install chromium)"; exit 1; }
if [ ! -f tests/tools/node_modules/playwright-core/package.json ] ||
	[ tests/tools/package-lock.json -nt tests/tools/node_modules/.package-lock.json ]; then
	npm ci --prefix tests/tools --no-audit --no-fund --loglevel=error > /dev/null ||
		{ echo "npm ci in tests/tools failed (playwright-core)"; exit 1; }
fi
# shellcheck source=tests/lib/throwaway_stack.sh
. tests/lib/throwaway_stack.sh
throwaway_stack dashbench
export LAUNCHER_LOG_LEVEL=warn LAUNCHER_LOCAL_AGENT=0
# 500 creations and repeated sign-ins: the limits out of reach.
export LAUNCHER_RATE_IP=100000r/s LAUNCHER_BURST_IP=100000
export LAUNCHER_RATE_KEY=100000r/s LAUNCHER_BURST_KEY=100000
export LAUNCHER_RATE_AUTH=100000r/s LAUNCHER_BURST_AUTH=100000
export LAUNCHER_SCHEDULER_INTERVAL=3600
tmp=$(mktemp -d /tmp/launcher-dashbench.XXXXXX)
node_pid=
cleanup() {
	if [ -n "$node_pid" ]; then kill -TERM "$node_pid" 2> /dev/null || true; wait "$node_pid" 2> /dev/null || true; fi
	bash conf/stack/launcher-stack.sh stop > /dev/null 2>&1 || true
	throwaway_unmount
	rm -rf "$LAUNCHER_STATE_DIR" "$tmp"
}
trap cleanup EXIT
trap 'exit 143' TERM INT
bash conf/stack/launcher-stack.sh start > "$LAUNCHER_STATE_DIR/start.out" 2>&1 ||
	{ cat "$LAUNCHER_STATE_DIR/start.out"; exit 1; }
TMPDIR=$tmp node tests/bench/dashboard_bench.mjs < /dev/null &
node_pid=$!
wait "$node_pid"
