#!/usr/bin/env bash
# tests/bench/db_time.sh - make bench-db: how long POST /databases takes
# until the database is running, per type, against the floor.
#
# A throwaway stack with its own local agent (as make run has it), the
# database images of tests/fixtures/dbimages.sh read from their image store
# (/var/tmp/launcher-dbimages/store, LAUNCHER_IMAGE_STORES; a cold cache
# first builds them, see the README, "Database images"), and per type of conf/database-images.conf
# whose image is present (postgres, mysql, redis; mongodb only when the
# engine has its image), BENCH_DB_ROUNDS rounds (default 5):
#   api:   POST /databases -> GET /databases/:id says "running" (probed
#          every 20 ms); then DELETE ?delete_data=true
#   floor: `podman run -d` (the remote client on the same engine) of the same
#          image with the same credentials env and a fresh named volume on
#          the data path, then the table's readiness argv by hand through the
#          Engine API's exec, in the agent's loop (100 ms naps, doubling after
#          2 s up to 1 s), until it exits 0
# Both start from an empty data dir (the engine's first start: initdb ...).
# Prints the medians and the ratio api/floor per type (goal: <= 1.3).
set -euo pipefail
cd "$(dirname "$0")/../.."
PY=/usr/bin/python3
# shellcheck source=tests/lib/throwaway_stack.sh
. tests/lib/throwaway_stack.sh
throwaway_stack dbbench
export LAUNCHER_ENGINE=podman LAUNCHER_LOCAL_AGENT=1 LAUNCHER_LOG_LEVEL=${BENCH_LOG_LEVEL:-warn}
export LAUNCHER_RATE_IP=100000r/s LAUNCHER_BURST_IP=100000
export LAUNCHER_RATE_KEY=100000r/s LAUNCHER_BURST_KEY=100000
trap throwaway_bench_end EXIT
throwaway_db_images
bash conf/stack/launcher-stack.sh start > "$LAUNCHER_STATE_DIR/start.out" 2>&1 ||
	{ cat "$LAUNCHER_STATE_DIR/start.out"; exit 1; }
eval "$(grep '^export LAUNCHER_ENGINE_SOCKET=' "$LAUNCHER_STATE_DIR/run/stack.env")"
$PY tests/bench/db_time.py
