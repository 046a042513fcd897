#!/usr/bin/env bash
# tests/bench/deploy_time.sh - make bench-deploy: how long a deploy takes
# until the new version answers through nginx, against the physical floor.
#
# A throwaway stack with its own local agent (as make run has it: edge
# routing through the stack's nginx, the plane's agent_poll_interval_ms),
# the tests' registry with the fixture images, and one image application
# with a /health check.  BENCH_DEPLOYS rounds (default 7), alternating v1
# and v2 so that every round starts new containers:
#   deploy: POST /applications/:id/deploy -> first 200 with the new version
#           through nginx by Host header (new connection per probe)
#   floor:  `podman run -d` of the same image on the same engine, then the
#           health check by hand (first 200 from /health on the container)
#   strict floor: the Engine API by hand, create + start + the same check
#           (no CLI start-up: the least any deploy could cost)
# Probes every 20 ms on both sides.  Prints the medians and the ratio.
# BENCH_LOG_LEVEL (default warn), BENCH_KEEP_LOGS=DIR (the stack's log/ is
# copied there) and BENCH_TRACE=1 (each round's POST, answer and first 200,
# UTC, to lay beside the agent's log) are for finding where the time goes.
set -euo pipefail
cd "$(dirname "$0")/../.."
PY=/usr/bin/python3
# shellcheck source=tests/lib/throwaway_stack.sh
. tests/lib/throwaway_stack.sh
# shellcheck source=tests/lib/registry.sh
. tests/lib/registry.sh
throwaway_stack deploybench
export LAUNCHER_LOCAL_AGENT=1 LAUNCHER_LOG_LEVEL=${BENCH_LOG_LEVEL:-warn}
export LAUNCHER_RATE_IP=100000r/s LAUNCHER_BURST_IP=100000
export LAUNCHER_RATE_KEY=100000r/s LAUNCHER_BURST_KEY=100000
cleanup() {
	[ -z "${BENCH_KEEP_LOGS:-}" ] || cp -r "$LAUNCHER_STATE_DIR/log/." "$BENCH_KEEP_LOGS/" || true
	throwaway_remove_containers
	bash conf/stack/launcher-stack.sh stop > /dev/null 2>&1 || true
	registry_stop
	throwaway_unmount
	rm -rf "$LAUNCHER_STATE_DIR"
}
trap cleanup EXIT
registry_start "$LAUNCHER_STATE_DIR/registry" > /dev/null
export LAUNCHER_INSECURE_REGISTRIES=$LAUNCHER_TEST_REGISTRY
bash conf/stack/launcher-stack.sh start > "$LAUNCHER_STATE_DIR/start.out" 2>&1 ||
	{ cat "$LAUNCHER_STATE_DIR/start.out"; exit 1; }
eval "$(grep '^export LAUNCHER_ENGINE_SOCKET=' "$LAUNCHER_STATE_DIR/run/stack.env")"
bash tests/fixtures/build.sh --engine-socket "$LAUNCHER_ENGINE_SOCKET" \
	--registry "$LAUNCHER_TEST_REGISTRY" > "$LAUNCHER_STATE_DIR/fixtures.env" 2> "$LAUNCHER_STATE_DIR/fixtures.log" ||
	{ tail -20 "$LAUNCHER_STATE_DIR/fixtures.log"; exit 1; }
set -a
# shellcheck disable=SC1091
. "$LAUNCHER_STATE_DIR/fixtures.env"
set +a
$PY tests/bench/deploy_time.py
