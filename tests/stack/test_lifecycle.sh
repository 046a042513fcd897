#!/usr/bin/env bash
# tests/stack/test_lifecycle.sh - the local stack's life cycle, on
# throwaway state dirs and free ports (conf/stack/launcher-stack.sh):
#   access    a LAUNCHER_STATE_DIR below a directory the user postgres
#             cannot enter is refused up front, naming that directory and
#             the fix, before anything is created or started
#   run-pipe  `run 2>&1 | tee LOG` in its own process group, SIGINT to the
#             group (tee dies first, as under Ctrl-C): every process of the
#             stack is gone afterwards
#   stop      a container running in the stack's Podman is stopped by
#             `stop`: no container process, no conmon of the state dir left
# Prints one "stack lifecycle: N passed, N failed" line.
set -u
cd "$(dirname "$0")/../.."
PY=/usr/bin/python3
BUILD=${1:-build}
STACK=conf/stack/launcher-stack.sh
# shellcheck source=tests/lib/throwaway_stack.sh
. tests/lib/throwaway_stack.sh
export LAUNCHER_BIN_DIR="$PWD/$BUILD/bin" LAUNCHER_LOCAL_AGENT=0
passed=0
failed=0
dirs=()
group=""
cpid=""

# Whatever a failed case left behind goes too: the stack's stop, then any
# process still naming one of our state dirs, the test container, and the
# storage's mounts.
cleanup() {
	local d pid m
	[ -z "$group" ] || kill -KILL -- "-$group" 2> /dev/null
	for d in "${dirs[@]}"; do
		[ -d "$d/run" ] && LAUNCHER_STATE_DIR=$d bash "$STACK" stop > /dev/null 2>&1
		for pid in $(pgrep -f -- "$d/"); do kill -KILL "$pid" 2> /dev/null; done
		[ -z "$cpid" ] || kill -KILL "$cpid" 2> /dev/null
		for m in $(awk -v d="$d/" 'index($2, d) == 1 { print $2 }' /proc/mounts | sort -r); do
			umount -l "$m" 2> /dev/null
		done
		rm -rf "$d"
	done
}
trap cleanup EXIT
ok() { echo "ok   $1"; passed=$((passed + 1)); }
bad() { echo "FAIL $1: $2"; failed=$((failed + 1)); }

# leftovers DIR: processes whose command line names DIR (the stack's
# daemons, conmons, postgres backends; pids from the pid files are checked
# by the caller).
leftovers() { pgrep -af -- "$1/" | grep -v "pgrep" || true; }

# all_gone DIR PID...: within 60 s, none of the pids runs and no process
# names DIR; else prints what is left.
all_gone() {
	local dir=$1 deadline=$((SECONDS + 60)) pid alive
	shift
	while :; do
		alive=""
		for pid in "$@"; do
			kill -0 "$pid" 2> /dev/null && alive="$alive $pid"
		done
		[ -z "$alive" ] && [ -z "$(leftovers "$dir")" ] && return 0
		if [ "$SECONDS" -ge "$deadline" ]; then
			echo "pids still running:$alive; $(leftovers "$dir" | head -n 5 | cut -c1-200)"
			return 1
		fi
		sleep 0.2
	done
}

recorded_pids() { cat "$1"/run/*.pid 2> /dev/null; }

# ---------------------------------------------------------------- access
throwaway_stack access
dirs+=("$LAUNCHER_STATE_DIR")
closed=$LAUNCHER_STATE_DIR
chmod 0700 "$closed"
out=$(LAUNCHER_STATE_DIR=$closed/state LAUNCHER_ENGINE=none timeout 120 bash "$STACK" start 2>&1)
rc=$?
if [ "$rc" -ne 0 ] && [[ $out == *"postgres cannot enter $closed "* ]] &&
	[[ $out == *"chmod o+x $closed"* ]] && [ ! -e "$closed/state" ]; then
	ok "access: refused up front, naming $closed and the fix"
else
	bad "access" "rc $rc, state dir created: $([ -e "$closed/state" ] && echo yes || echo no); output: $(tail -n 5 <<< "$out")"
fi

# -------------------------------------------------------------- run-pipe
throwaway_stack runpipe
dirs+=("$LAUNCHER_STATE_DIR")
st=$LAUNCHER_STATE_DIR
# setsid: its own process group, as a terminal's foreground job is; with
# SIGINT back to its default (a script's background jobs start with it
# ignored, and an ignored signal stays ignored across exec).
LAUNCHER_ENGINE=none setsid $PY -c 'import os, signal, sys
signal.signal(signal.SIGINT, signal.SIG_DFL)
os.execvp("bash", ["bash", "-c", sys.argv[1]])' "bash $STACK run 2>&1 | tee $st/run.out > /dev/null" &
group=$!
deadline=$((SECONDS + 120))
until grep -q "Ctrl-C stops the stack" "$st/run.out" 2> /dev/null || [ "$SECONDS" -ge "$deadline" ]; do
	sleep 0.2
done
pids=$(recorded_pids "$st")
if ! grep -q "Ctrl-C stops the stack" "$st/run.out" 2> /dev/null || [ -z "$pids" ]; then
	bad "run-pipe" "the stack did not start: $(tail -n 5 "$st/run.out" 2> /dev/null)"
else
	kill -INT -- "-$group"
	# shellcheck disable=SC2086  # a list of pids
	if left=$(all_gone "$st" $pids); then
		ok "run-pipe: SIGINT to 'run | tee' stopped every process of the stack"
	else
		bad "run-pipe" "$left"
	fi
fi
kill -KILL -- "-$group" 2> /dev/null
group=""

# ------------------------------------------------------------------ stop
throwaway_stack stop
dirs+=("$LAUNCHER_STATE_DIR")
st=$LAUNCHER_STATE_DIR
if ! LAUNCHER_ENGINE=podman bash "$STACK" start > "$st/start.out" 2>&1; then
	bad "stop" "the stack did not start: $(tail -n 5 "$st/start.out")"
else
	sock=$st/podman/podman.sock
	# A one-file image (the busybox-static binary) and a container that
	# sleeps and ends on SIGTERM (PID 1 has no default handler).
	mkdir -p "$st/img/bin" && cp /bin/busybox "$st/img/bin/busybox"
	tar -C "$st/img" -cf "$st/img.tar" bin
	api() { curl -sS --max-time 60 --unix-socket "$sock" "$@"; }
	api -X POST -H 'Content-Type: application/x-tar' --data-binary "@$st/img.tar" \
		"http://d/v1.41/images/create?fromSrc=-&repo=localhost/lifecycle:1" > /dev/null
	id=$(api -X POST -H 'Content-Type: application/json' \
		-d '{"Image": "localhost/lifecycle:1", "StopTimeout": 5, "Cmd": ["/bin/busybox", "sh", "-c",
		     "trap \"exit 0\" TERM; /bin/busybox sleep 600 & wait"]}' \
		"http://d/v1.41/containers/create" | $PY -c 'import json, sys; print(json.load(sys.stdin)["Id"])')
	api -X POST "http://d/v1.41/containers/$id/start" > /dev/null
	cpid=$(api "http://d/v1.41/containers/$id/json" | $PY -c 'import json, sys; print(json.load(sys.stdin)["State"]["Pid"])')
	pids=$(recorded_pids "$st")
	if [ -z "$cpid" ] || [ "$cpid" = 0 ] || ! kill -0 "$cpid" 2> /dev/null; then
		bad "stop" "could not run a container in the stack's Podman"
	else
		bash "$STACK" stop > "$st/stop.out" 2>&1
		# shellcheck disable=SC2086  # a list of pids
		if left=$(all_gone "$st" "$cpid" $pids); then
			ok "stop: the container and its conmon stopped with the stack"
		else
			bad "stop" "$left (container pid $cpid)"
		fi
	fi
fi

echo "stack lifecycle: $passed passed, $failed failed"
[ "$failed" = 0 ]
