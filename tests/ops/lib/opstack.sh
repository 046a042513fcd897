# shellcheck shell=bash
# tests/ops/lib/opstack.sh [BUILD] - sourced by the upgrade and scale-out tests
# (test_migrate_load, test_scale_out, test_failover): their checks' lines,
# throwaway stacks of conf/stack/launcher-stack.sh with no container engine
# (the API, PostgreSQL, nginx only), fresh tenants and the API load of
# tests/ops/lib/load.py, and an end that leaves nothing behind.
# shellcheck source=tests/lib/throwaway_stack.sh
. tests/lib/throwaway_stack.sh
OPS_PY=/usr/bin/python3
# The test's name (its last line), the build under test and its binaries
# (the stacks' LAUNCHER_BIN_DIR unless the test sets another).
OPS_NAME=$(basename "$0" .sh)
BUILD=${1:-build}
export LAUNCHER_BIN_DIR="$PWD/$BUILD/bin"
passed=0
failed=0
ops_dirs=()		# state dirs to stop and remove: "dir|stack script"
ops_load_pid=""

ok() { echo "ok   $1"; passed=$((passed + 1)); }
bad() { echo "FAIL $1: $2"; failed=$((failed + 1)); }

# The last line and the exit status.
ops_finish() {
	echo "$OPS_NAME: $passed passed, $failed failed"
	[ "$failed" = 0 ]
}

# ops_abort CHECK WHY: a failed check that ends the test (its last line).
ops_abort() {
	bad "$1" "$2"
	ops_finish
	exit 1
}

# The end (ops_end below) runs on any exit.
trap ops_end EXIT

# ops_stack NAME [STACK_SCRIPT]: a throwaway stack started (its env lines
# exported: LAUNCHER_CONF, LAUNCHER_CACERT, LAUNCHER_HTTPS_BASE_URL...), with
# STACK_SCRIPT (default conf/stack/launcher-stack.sh; another tree's for an
# older build) and LAUNCHER_BIN_DIR as the caller set it.  The limits of
# nginx high enough for a load from one address.  Returns non-zero (the
# start's tail printed) when it did not start.
ops_stack() {
	local script=${2:-conf/stack/launcher-stack.sh}
	throwaway_stack "$1"
	ops_dirs+=("$LAUNCHER_STATE_DIR|$script")
	export LAUNCHER_ENGINE=none LAUNCHER_LOCAL_AGENT=0 LAUNCHER_WORKERS=2 LAUNCHER_INGEST_WORKERS=1
	export LAUNCHER_DNSCHECK_INTERVAL=0 LAUNCHER_BACKUP_INTERVAL=0 LAUNCHER_NOTIFY_INTERVAL=0
	export LAUNCHER_ISSUES_INTERVAL=0 LAUNCHER_START_TIMEOUT=60
	export LAUNCHER_RATE_IP=100000r/s LAUNCHER_BURST_IP=100000
	export LAUNCHER_RATE_KEY=100000r/s LAUNCHER_BURST_KEY=100000
	export LAUNCHER_RATE_AUTH=100r/s LAUNCHER_BURST_AUTH=100
	unset LAUNCHER_PLANE_HOSTNAME LAUNCHER_DNS_SERVER LAUNCHER_ACME_DIRECTORY_URL LAUNCHER_ACME_CA_FILE LAUNCHER_ACME_EMAIL
	if ! bash "$script" start > "$LAUNCHER_STATE_DIR/start.out" 2>&1; then
		tail -n 20 "$LAUNCHER_STATE_DIR/start.out"
		return 1
	fi
	set -a
	# shellcheck disable=SC1091 # export lines
	. "$LAUNCHER_STATE_DIR/run/stack.env"
	set +a
}

# ops_tenants N: N fresh tenants of the current stack (launcher-admin),
# printed comma-separated.
ops_tenants() {
	local i slug list=""
	for ((i = 0; i < $1; i++)); do
		slug=load-$i-$(od -An -N4 -tx1 /dev/urandom | tr -d ' \n')
		"$LAUNCHER_BIN_DIR/launcher-admin" -c "$LAUNCHER_CONF" tenant create "$slug" "Load $i" > /dev/null || return 1
		list+=${list:+,}$slug
	done
	printf '%s\n' "$list"
}

# ops_load_start LOG TENANTS: load.py in the background against the
# current stack's HTTPS port; ops_load_stop ends it (its last requests
# complete) and waits for it.
ops_load_start() {
	rm -f "$1.stop"
	$OPS_PY tests/ops/lib/load.py "$LAUNCHER_HTTPS_BASE_URL" "$2" "$LAUNCHER_CACERT" "$1" "$1.stop" \
		> "$1.out" 2>&1 &
	ops_load_pid=$!
	ops_load_log=$1
}
ops_load_stop() {
	[ -n "$ops_load_pid" ] || return 0
	touch "$ops_load_log.stop"
	wait "$ops_load_pid"
	ops_load_pid=""
}

# ops_load_ok LOG: the number of successful requests in LOG so far.
ops_load_ok() { local n; n=$(grep -c '"ok": true' "$1" 2> /dev/null); echo "${n:-0}"; }

# ops_load_wait LOG N: waits (at most 120 s) until LOG holds N successful
# requests.
ops_load_wait() {
	local deadline=$((SECONDS + 120))
	until [ "$(ops_load_ok "$1")" -ge "$2" ]; do
		[ "$SECONDS" -lt "$deadline" ] || return 1
		sleep 0.2
	done
}

# ops_alive PID: the process runs (a zombie does not: a stack's pool and
# launcher-ws are children of PID 1 once their starter exits, and PID 1 may
# reap a killed one late, while kill -0 still finds it).
ops_alive() { local s; s=$(ps -o stat= -p "$1" 2> /dev/null); [ -n "$s" ] && [[ $s != Z* ]]; }

# ops_field JSON KEY: one field of summary.py's object.
ops_field() { $OPS_PY -c 'import json, sys; print(json.loads(sys.argv[1]).get(sys.argv[2]))' "$1" "$2"; }

# The end, whatever state the test left: the load stopped, each stack
# stopped by its own script, any process still naming a state dir ended,
# mounts released, the dirs removed.
ops_end() {
	local e d script pids
	set +e
	[ -z "$ops_load_pid" ] || kill "$ops_load_pid" 2> /dev/null
	for e in "${ops_dirs[@]}"; do
		d=${e%%|*}
		script=${e#*|}
		[ -d "$d/run" ] && LAUNCHER_STATE_DIR=$d bash "$script" stop > /dev/null 2>&1
		pids=$(pgrep -f -- "$d/")
		# shellcheck disable=SC2086 # one pid a word
		[ -z "$pids" ] || kill -9 $pids 2> /dev/null
		LAUNCHER_STATE_DIR=$d throwaway_unmount
		if [ -n "${OPS_KEEP:-}" ]; then echo "state kept in $d"; else rm -rf "$d"; fi
	done
}
