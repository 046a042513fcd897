# tests/lib/throwaway_stack.sh - sourced by the test and bench scripts:
# `throwaway_stack NAME` exports a fresh state directory
# (/var/tmp/launcher-NAME.XXXXXX) and free loopback ports for a second,
# independent stack of conf/stack/launcher-stack.sh.
throwaway_port() {   # free loopback ports no leftover firewall rule captures (ports.py)
	/usr/bin/python3 "$(dirname "${BASH_SOURCE[0]}")/ports.py" "${1:-1}"
}

throwaway_stack() {
	export LAUNCHER_STATE_DIR LAUNCHER_HTTP_PORT LAUNCHER_HTTPS_PORT LAUNCHER_SMTP_PORT LAUNCHER_PG_PORT
	# Stacks of a run go side by side (tests/run.sh: the API lane, the
	# real-time cron): each Podman its own pool of subnets, by the stack's
	# name (launcher-stack.sh LAUNCHER_SUBNET_POOL).
	local pool
	case $1 in
		test) pool=10.90.0.0/16 ;;
		lane) pool=10.91.0.0/16 ;;
		cron) pool=10.92.0.0/16 ;;
		local) pool=10.94.0.0/16 ;;
		*) pool=10.93.0.0/16 ;;
	esac
	export LAUNCHER_SUBNET_POOL=$pool
	# The database images are the caller's (tests/run.sh and the benches pass
	# LAUNCHER_IMAGE_STORES when they need them): no build at each start.
	export LAUNCHER_DB_IMAGES=skip
	# A short archive_timeout: the PITR tests wait for WAL to be archived.
	export LAUNCHER_PITR_ARCHIVE_TIMEOUT=${LAUNCHER_PITR_ARCHIVE_TIMEOUT:-5}
	LAUNCHER_STATE_DIR=$(mktemp -d "/var/tmp/launcher-$1.XXXXXX")
	chmod 755 "$LAUNCHER_STATE_DIR"
	# The image mirror table is the run's own: tests map images to their
	# local builds in it (lib.py image_mirrors) and reload the pool.
	export LAUNCHER_IMAGE_MIRRORS=$LAUNCHER_STATE_DIR/image-mirrors.conf
	cp "$(dirname "${BASH_SOURCE[0]}")/../../conf/image-mirrors.conf" "$LAUNCHER_IMAGE_MIRRORS"
	# Four distinct ports in one draw (drawn one by one, two could be the same).
	read -r LAUNCHER_HTTP_PORT LAUNCHER_HTTPS_PORT LAUNCHER_SMTP_PORT LAUNCHER_PG_PORT \
		<<< "$(throwaway_port 4)"
}

# The throwaway stack's own Podman (storage in its state dir) holds only
# the tests' containers: throwaway_remove_containers removes them all, build containers included
# (before the stack stops), so that no test workload outlives the run and
# the storage can be deleted.  Does nothing for any other engine.
throwaway_remove_containers() {
	local sock
	sock=$(sed -n "s/^export LAUNCHER_ENGINE_SOCKET=//p" "$LAUNCHER_STATE_DIR/run/stack.env" 2> /dev/null | tr -d "'\"")
	case $sock in "$LAUNCHER_STATE_DIR"/*) ;; *) return 0 ;; esac
	[ -S "$sock" ] || return 0
	# Podman's own API also lists "external" containers: the build
	# containers of image builds, which Podman 4.3 leaves behind (mounted)
	# when a build is cancelled.
	curl -s --max-time 10 --unix-socket "$sock" "http://d/v4.0.0/libpod/containers/json?all=true&external=true" |
		/usr/bin/python3 -c 'import json, sys; print("\n".join(c["Id"] for c in json.load(sys.stdin)))' 2> /dev/null |
		while read -r id; do
			[ -n "$id" ] && curl -s -o /dev/null --max-time 30 --unix-socket "$sock" \
				-X DELETE "http://d/v4.0.0/libpod/containers/$id?force=true"
		done
	# Podman 4.3 leaves the conmon of an exec session behind when its
	# container is force-removed; they are ours (their bundle is in our
	# state dir) and would outlive the run.
	local pid
	for pid in $(pgrep -f "conmon .* -b $LAUNCHER_STATE_DIR/" 2> /dev/null); do
		kill "$pid" 2> /dev/null || true
	done
	return 0
}

# Unmounts what is still mounted under the state directory, deepest first:
# Podman's overlay driver bind-mounts its own storage directory (a private
# mount) and nothing unmounts it once the service has stopped, so the
# directory could not be removed.  Call it after the stack has stopped.
# First it waits (at most 15 s) for the processes of this stack still
# running (their command line names the state directory): the
# `podman container cleanup` that each removed container's conmon starts
# when it exits initialises the storage again, i.e. bind-mounts it again,
# and would do so after the unmount.
throwaway_unmount() {
	local m i
	for ((i = 0; i < 150; i++)); do
		pgrep -f -- "$LAUNCHER_STATE_DIR/" > /dev/null 2>&1 || break
		sleep 0.1
	done
	awk -v d="$LAUNCHER_STATE_DIR/" 'index($2, d) == 1 { print $2 }' /proc/mounts | sort -r |
		while read -r m; do
			umount "$m" 2> /dev/null || umount -l "$m" 2> /dev/null || true
		done
}

# A bench's end, whatever state it left (every step runs): logs kept in
# $BENCH_KEEP_LOGS when set, the containers removed, the stack stopped, the
# processes that still name the state dir ended (Podman 4.3 keeps a conmon
# per exec session for 5 minutes), the storage unmounted and the dir gone.
throwaway_bench_end() {
	set +e
	[ -z "${BENCH_KEEP_LOGS:-}" ] || cp -r "$LAUNCHER_STATE_DIR/log/." "$BENCH_KEEP_LOGS/" || true
	throwaway_remove_containers
	bash conf/stack/launcher-stack.sh stop > /dev/null 2>&1 || true
	local pids
	pids=$(pgrep -f -- "$LAUNCHER_STATE_DIR/" || true)
	# shellcheck disable=SC2086 # one pid a word
	[ -z "$pids" ] || kill -9 $pids 2> /dev/null || true
	throwaway_unmount
	rm -rf "$LAUNCHER_STATE_DIR"
}

# The database images for a bench (tests/fixtures/dbimages.sh, its arguments
# after --store): their FIXTURE_DB_* exported, their store read by the
# stack's Podman (LAUNCHER_IMAGE_STORES).  Exits with the script's last lines
# when the build fails.
throwaway_db_images() {
	bash tests/fixtures/dbimages.sh --store /var/tmp/launcher-dbimages/store "$@" \
		> "$LAUNCHER_STATE_DIR/dbimages.env" 2> "$LAUNCHER_STATE_DIR/dbimages.log" ||
		{ tail -20 "$LAUNCHER_STATE_DIR/dbimages.log"; exit 1; }
	set -a
	# shellcheck disable=SC1091
	. "$LAUNCHER_STATE_DIR/dbimages.env"
	set +a
	export LAUNCHER_IMAGE_STORES=$FIXTURE_DB_STORE
}
