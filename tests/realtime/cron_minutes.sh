#!/usr/bin/env bash
# tests/realtime/cron_minutes.sh [BUILD] - the cron acceptance in real time
# (tests/realtime/test_cron_minutes.py: an every-minute function runs exactly
# once per minute over 5 real minutes) on a stack of its own (throwaway_stack
# "cron": its own PostgreSQL, pool, nginx, Podman and its own launcher-scheduler
# loop at the production interval of 60 s).  tests/run.sh starts it in the
# background as soon as the runtime images are ready and collects its line at
# the end; alone it builds nothing (make first) and gets the runtime images
# from tests/fixtures/fn_runtimes.sh (a warm cache: seconds).  Prints one
# "realtime cron: N passed, N failed" line (and the stack's logs' tails on a
# failure); about 7 minutes.
set -u
cd "$(dirname "$0")/../.."
PY=/usr/bin/python3
BUILD=${1:-build}
# shellcheck source=tests/lib/throwaway_stack.sh
. tests/lib/throwaway_stack.sh
throwaway_stack cron
export LAUNCHER_BIN_DIR="$PWD/$BUILD/bin" LAUNCHER_LOCAL_AGENT=0
# The production interval: the stack's own scheduler is the one under test
# (run.sh's 3600 is for the shared stack, whose tests tick it themselves).
export LAUNCHER_SCHEDULER_INTERVAL=60
export LAUNCHER_DNSCHECK_INTERVAL=0 LAUNCHER_BACKUP_INTERVAL=0
# Custom domains are the suite's first stack's (its dnsmasq and ACME CA).
unset LAUNCHER_PLANE_HOSTNAME LAUNCHER_DNS_SERVER LAUNCHER_ACME_DIRECTORY_URL LAUNCHER_ACME_CA_FILE LAUNCHER_ACME_EMAIL
fail() { echo "realtime cron: $*"; echo "realtime cron: 0 passed, 1 failed"; exit 1; }
end() {
	throwaway_remove_containers
	bash conf/stack/launcher-stack.sh stop > /dev/null 2>&1 || true
	throwaway_unmount
	rm -rf "$LAUNCHER_STATE_DIR"
}
trap end EXIT
if [ -z "${FIXTURE_FN_IMAGE_MIRRORS:-}" ] || [ -z "${FIXTURE_FN_STORE:-}" ]; then
	bash tests/fixtures/fn_runtimes.sh > "$LAUNCHER_STATE_DIR/fnruntimes.env" 2> "$LAUNCHER_STATE_DIR/fnruntimes.log" ||
		{ tail -n 20 "$LAUNCHER_STATE_DIR/fnruntimes.log"; fail "no runtime images (tests/fixtures/fn_runtimes.sh)"; }
	# shellcheck disable=SC1091 # export lines
	. "$LAUNCHER_STATE_DIR/fnruntimes.env"
fi
# Only the runtime images' store: the caller's other stores are not this stack's business.
export LAUNCHER_IMAGE_STORES=$FIXTURE_FN_STORE
bash conf/stack/launcher-stack.sh start > "$LAUNCHER_STATE_DIR/start.out" 2>&1 ||
	{ tail -n 20 "$LAUNCHER_STATE_DIR/start.out"; fail "the stack did not start"; }
out=$($PY tests/realtime/test_cron_minutes.py 2>&1)
rc=$?
printf '%s\n' "$out"
if [ "$rc" != 0 ]; then
	for l in scheduler fcgi; do
		echo "--- log/$l.log (tail)"
		tail -n 15 "$LAUNCHER_STATE_DIR/log/$l.log" 2> /dev/null
	done
	echo "--- agent log (tail)"
	tail -n 15 "$LAUNCHER_STATE_DIR"/agents/*/agent.log 2> /dev/null
fi
exit "$rc"
