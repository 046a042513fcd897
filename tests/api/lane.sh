#!/usr/bin/env bash
# tests/api/lane.sh BUILD MODULE... - API modules on a second stack of their
# own (throwaway_stack "lane": its own PostgreSQL, pool, nginx and Podman),
# run by tests/run.sh in the background beside the other modules, which
# skip them (LAUNCHER_API_ELSEWHERE).  For modules whose time is mostly
# waiting (sleeping commands, metric rules over time, WAL archiving,
# restores): the same tests and assertions, on a stack nobody else uses at
# that moment.
# Called with run.sh's environment (the registries, rate limits, scheduler
# interval, image stores and fixtures' exports).  Prints the modules' lines and "api (second stack): N passed, N failed".
set -u
cd "$(dirname "$0")/../.."
PY=/usr/bin/python3
BUILD=${1:-build}
shift
# shellcheck source=tests/lib/throwaway_stack.sh
. tests/lib/throwaway_stack.sh
throwaway_stack lane
export LAUNCHER_BIN_DIR="$PWD/$BUILD/bin" LAUNCHER_LOCAL_AGENT=0
# Custom domains are the first stack's (its dnsmasq and ACME CA).
unset LAUNCHER_PLANE_HOSTNAME LAUNCHER_DNS_SERVER LAUNCHER_ACME_DIRECTORY_URL LAUNCHER_ACME_CA_FILE LAUNCHER_ACME_EMAIL
fail() { echo "api (second stack): $*"; echo "api (second stack): 0 passed, 1 failed"; exit 1; }
end() {
	throwaway_remove_containers
	bash conf/stack/launcher-stack.sh stop > /dev/null 2>&1 || true
	throwaway_unmount
	rm -rf "$LAUNCHER_STATE_DIR"
}
trap end EXIT
bash conf/stack/launcher-stack.sh start > "$LAUNCHER_STATE_DIR/start.out" 2>&1 ||
	{ tail -n 20 "$LAUNCHER_STATE_DIR/start.out"; fail "the stack did not start"; }
# The fixtures are the first stack's, in the tests' registry (deploys pull
# them); nothing is pushed from here (a build of this engine would push
# other image ids under the same tags).  The base image, which tests run
# from the engine directly, is pulled into this engine under its local name.
sock=$(sed -n "s/^export LAUNCHER_ENGINE_SOCKET=//p" "$LAUNCHER_STATE_DIR/run/stack.env" | tr -d "'\"")
if [ -n "${FIXTURE_REGISTRY_BASE:-}" ] && [ -n "${FIXTURE_BASE_IMAGE:-}" ]; then
	{ podman --url "unix://$sock" pull -q --tls-verify=false "$FIXTURE_REGISTRY_BASE" &&
		podman --url "unix://$sock" tag "$FIXTURE_REGISTRY_BASE" "$FIXTURE_BASE_IMAGE"; } \
		> "$LAUNCHER_STATE_DIR/fixtures.log" 2>&1 ||
		{ tail -n 20 "$LAUNCHER_STATE_DIR/fixtures.log"; fail "the base image from the registry"; }
fi
LAUNCHER_API_ELSEWHERE="" $PY tests/api/run.py "$@" 2>&1 | sed 's/^api: /api (second stack): /'
exit "${PIPESTATUS[0]}"
