#!/usr/bin/env bash
# tests/bench/domain_ttfb.sh - make bench-domains: the time from a custom
# domain's DNS records existing to its first HTTPS answer, with
# launcher-dnscheck run every minute (README "Custom domains and TLS").
#
# A throwaway stack as make run has it: its own local agent (edge routes and
# TLS on the stack's nginx) and its own launcher-dnscheck --loop --interval 60
# (LAUNCHER_DNSCHECK_INTERVAL, default 60 here), pointed at dnsmasq
# (tests/lib/dnsmasq.py, the authoritative server of the zone bench.test)
# and pebble (tests/lib/pebble.sh, the ACME CA, validating on the stack's HTTP
# port); the tests' registry with the fixture images; one image application.
# BENCH_DOMAINS rounds (default 3): a domain is added, then at t0 its TXT and A
# records are written into dnsmasq, and curl --cacert <pebble's root>
# https://<host>/ is probed every 0.5 s until the application answers.  The
# helper's own phase is not chosen: each round starts at a random point of
# its minute.  Prints each round (verified, active, certificate issued, first
# HTTPS answer, seconds after t0) and the median.  BENCH_KEEP_LOGS=DIR: the
# stack's logs and nginx sites are copied there.
set -euo pipefail
cd "$(dirname "$0")/../.."
PY=/usr/bin/python3
# shellcheck source=tests/lib/throwaway_stack.sh
. tests/lib/throwaway_stack.sh
# shellcheck source=tests/lib/registry.sh
. tests/lib/registry.sh
# shellcheck source=tests/lib/pebble.sh
. tests/lib/pebble.sh
throwaway_stack domainbench
export LAUNCHER_LOCAL_AGENT=1 LAUNCHER_LOG_LEVEL=${BENCH_LOG_LEVEL:-warn}
export LAUNCHER_DNSCHECK_INTERVAL=${LAUNCHER_DNSCHECK_INTERVAL:-60}
BENCH_DNS_PORT=$(throwaway_port)
export BENCH_DNS_PORT BENCH_DNS_DIR=$LAUNCHER_STATE_DIR/dnsmasq
cleanup() {
	if [ -n "${BENCH_KEEP_LOGS:-}" ]; then
		cp -r "$LAUNCHER_STATE_DIR/log/." "$BENCH_KEEP_LOGS/" || true
		cp -r "$LAUNCHER_STATE_DIR/nginx/sites" "$LAUNCHER_STATE_DIR/nginx/logs" "$BENCH_KEEP_LOGS/" || true
	fi
	throwaway_remove_containers
	bash conf/stack/launcher-stack.sh stop > /dev/null 2>&1 || true
	pebble_stop "$LAUNCHER_STATE_DIR/pebble" || true
	$PY tests/lib/dnsmasq.py stop "$BENCH_DNS_DIR" > /dev/null 2>&1 || true
	registry_stop
	throwaway_unmount
	rm -rf "$LAUNCHER_STATE_DIR"
}
trap cleanup EXIT
registry_start "$LAUNCHER_STATE_DIR/registry" > /dev/null
export LAUNCHER_INSECURE_REGISTRIES=$LAUNCHER_TEST_REGISTRY
# pebble resolves names with the bench's dnsmasq (started by the measuring
# half on BENCH_DNS_PORT, which owns its records).
pebble_start "$LAUNCHER_STATE_DIR/pebble" "$LAUNCHER_HTTP_PORT" "127.0.0.1:$BENCH_DNS_PORT" > /dev/null
export LAUNCHER_DNS_SERVER=127.0.0.1:$BENCH_DNS_PORT
export LAUNCHER_ACME_DIRECTORY_URL=$PEBBLE_DIRECTORY_URL LAUNCHER_ACME_CA_FILE=$PEBBLE_CA_FILE
export LAUNCHER_ACME_EMAIL=bench@example.com
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
$PY tests/bench/domain_ttfb.py
