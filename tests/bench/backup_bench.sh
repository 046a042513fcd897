#!/usr/bin/env bash
# tests/bench/backup_bench.sh - make bench-backup: a PostgreSQL database of
# BENCH_BACKUP_MB megabytes (default 2048) backed up through the plane and
# the real agent to a local destination and to radosgw (tests/lib/radosgw.sh),
# next to the floor `pg_dump -Fc | cat > /dev/null` on the same data.
#
# A throwaway stack with its own local agent (as make run has it) and the
# database images' store (see db_time.sh).  Prints, per destination: the
# dump's size, the time from POST .../backups to "verifying" (dump and
# upload) and to "succeeded" (with the read-back), MB/s of the dump and
# upload against the floor's, and the agent's memory: VmHWM (peak RSS) of
# the job's process (sampled from /proc every 50 ms while it lives) and of
# the agent's main process.  The goal (issue 17): the agent under 40 MB.
# A small smoke: BENCH_BACKUP_MB=50 make bench-backup.
set -euo pipefail
cd "$(dirname "$0")/../.."
PY=/usr/bin/python3
# shellcheck source=tests/lib/throwaway_stack.sh
. tests/lib/throwaway_stack.sh
throwaway_stack backupbench
export LAUNCHER_ENGINE=podman LAUNCHER_LOCAL_AGENT=1 LAUNCHER_LOG_LEVEL=${BENCH_LOG_LEVEL:-warn}
RGW_DIR=$LAUNCHER_STATE_DIR/rgw
cleanup() {
	bash tests/lib/radosgw.sh stop "$RGW_DIR" > /dev/null 2>&1 || true
	throwaway_bench_end
}
trap cleanup EXIT
throwaway_db_images --only postgres
mkdir -p "$RGW_DIR"
bash tests/lib/radosgw.sh start "$RGW_DIR" > "$LAUNCHER_STATE_DIR/rgw.env" 2> "$LAUNCHER_STATE_DIR/rgw.log" ||
	{ tail -20 "$LAUNCHER_STATE_DIR/rgw.log"; exit 1; }
eval "$(sed 's/^/export /; s/^export export /export /' "$LAUNCHER_STATE_DIR/rgw.env")"
bash conf/stack/launcher-stack.sh start > "$LAUNCHER_STATE_DIR/start.out" 2>&1 ||
	{ cat "$LAUNCHER_STATE_DIR/start.out"; exit 1; }
eval "$(grep '^export LAUNCHER_ENGINE_SOCKET=' "$LAUNCHER_STATE_DIR/run/stack.env")"
export BENCH_AGENT_PID_FILE=$LAUNCHER_STATE_DIR/run/agent.pid
$PY tests/bench/backup_bench.py
