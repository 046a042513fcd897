#!/usr/bin/env bash
# tests/browser/run.sh [FILTER ...] - the browser tests (tests/browser/test_*.mjs,
# or those whose name contains a FILTER) against the running stack in the
# environment (tests/run.sh exports it: LAUNCHER_STATE_DIR, LAUNCHER_HTTPS_PORT,
# FIXTURE_*), one file after another, each with its own headless chromium
# and its own tenant(s).  Prints "ok/skip/FAIL file::test" lines and
# "browser: N passed, M failed" last; exit 1 on any failure.
# Screenshots: build/test-artefacts/browser (LAUNCHER_BROWSER_ARTEFACTS).
# Run it through tests/run.sh: `bash tests/run.sh browser` (every file on a
# throwaway stack) or `bash tests/run.sh test_shell.mjs` (one).
set -u
cd "$(dirname "$0")/../.." || exit 1
export LAUNCHER_BROWSER_ARTEFACTS=${LAUNCHER_BROWSER_ARTEFACTS:-$PWD/build/test-artefacts/browser}

files=()
for f in tests/browser/test_*.mjs; do
	[ -e "$f" ] || continue
	if [ "$#" -eq 0 ]; then
		files+=("$f")
		continue
	fi
	for a in "$@"; do
		case $(basename "$f") in *"$a"*)
			files+=("$f")
			break
			;;
		esac
	done
done
if [ "${#files[@]}" -eq 0 ]; then
	echo "FAIL no browser test file matches: $*"
	echo "browser: 0 passed, 1 failed"
	exit 1
fi
if [ ! -x "${LAUNCHER_CHROMIUM:-/usr/bin/chromium}" ] || [ ! -f tests/tools/node_modules/playwright-core/package.json ]; then
	echo "FAIL no chromium (Debian's chromium package) or no playwright-core (npm ci --prefix tests/tools)"
	echo "browser: 0 passed, 1 failed"
	exit 1
fi
# The whole set starts with no screenshot of an earlier run.
[ "$#" -ne 0 ] || rm -rf "$LAUNCHER_BROWSER_ARTEFACTS"
mkdir -p "$LAUNCHER_BROWSER_ARTEFACTS"
echo "# browser: ${#files[@]} file(s); screenshots in $LAUNCHER_BROWSER_ARTEFACTS"

# Playwright starts each chromium in a session of its own (not in this
# process group) with its profile in TMPDIR: a TMPDIR of this run finds,
# by their command lines, the browsers left behind by a test file that was
# killed, and only those; they end with the step.
tmp=$(mktemp -d /tmp/launcher-browser.XXXXXX)
node_pid=
fwd_pid=
netns=
end_browsers() {
	local pids
	if [ -n "$node_pid" ] && kill -TERM "$node_pid" 2> /dev/null; then wait "$node_pid" 2> /dev/null; fi
	pids=$(pgrep -f -- "--user-data-dir=$tmp/" 2> /dev/null || true)
	# shellcheck disable=SC2086 # one pid a word
	[ -z "$pids" ] || kill -9 $pids 2> /dev/null || true
	if [ -n "$fwd_pid" ]; then kill "$fwd_pid" 2> /dev/null && wait "$fwd_pid" 2> /dev/null; fi
	[ -z "$netns" ] || ip netns delete "$netns" 2> /dev/null || true
	rm -rf "$tmp"
}
trap end_browsers EXIT
trap 'exit 143' TERM INT

# Chromium in a network namespace of its own (only a loopback), the stack's
# HTTPS and HTTP ports forwarded into it (tests/browser/netns.py): chromium
# aborts every request in flight when the host's interfaces change
# (net::ERR_NETWORK_CHANGED), and the tests' Podman networks change them all
# the time.  LAUNCHER_BROWSER_NETNS=0: chromium on the host's network.
if [ "${LAUNCHER_BROWSER_NETNS:-1}" = 1 ]; then
	netns=lnchr-browser-$$
	if ip netns add "$netns" && ip -n "$netns" link set lo up; then
		/usr/bin/python3 tests/browser/netns.py "$netns" "$LAUNCHER_HTTPS_PORT" ${LAUNCHER_HTTP_PORT:+"$LAUNCHER_HTTP_PORT"} \
			> "$tmp/netns.log" 2>&1 &
		fwd_pid=$!
		for _ in $(seq 100); do
			grep -q forwarding "$tmp/netns.log" 2> /dev/null && break
			kill -0 "$fwd_pid" 2> /dev/null || break
			sleep 0.1
		done
		if ! grep -q forwarding "$tmp/netns.log"; then
			cat "$tmp/netns.log"
			echo "FAIL the browser's network namespace: the forwarder did not start"
			echo "browser: 0 passed, 1 failed"
			exit 1
		fi
		printf '#!/bin/sh\nexec ip netns exec %s %s "$@"\n' "$netns" "${LAUNCHER_CHROMIUM:-/usr/bin/chromium}" > "$tmp/chromium"
		chmod +x "$tmp/chromium"
		export LAUNCHER_CHROMIUM=$tmp/chromium
	else
		echo "FAIL ip netns add $netns (root is needed)"
		echo "browser: 0 passed, 1 failed"
		netns=
		exit 1
	fi
fi

# One file at a time (2 cores).  node's --test-timeout bounds each file as
# a whole too (not only each test in it): 30 minutes (Playwright's own
# waits end a hung test long before).  In the background and waited for: a TERM (the
# step's timeout) reaches the trap above at once, which ends node (its
# playwright closes the browsers) and then whatever is left.
# BROWSER_TEST_NAME=regexp: only the tests whose names match (node's --test-name-pattern).
name_pattern=()
[ -z "${BROWSER_TEST_NAME:-}" ] || name_pattern=(--test-name-pattern="$BROWSER_TEST_NAME")
TMPDIR=$tmp node --test --test-concurrency=1 "${name_pattern[@]}" --test-timeout="${BROWSER_TEST_TIMEOUT_MS:-1800000}" \
	--test-reporter=./tests/browser/reporter.mjs --test-reporter-destination=stdout "${files[@]}" < /dev/null &
node_pid=$!
wait "$node_pid"
rc=$?
node_pid=
exit "$rc"
