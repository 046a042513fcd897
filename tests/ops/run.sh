#!/usr/bin/env bash
# tests/ops/run.sh BUILD [NAME...] - the operator-facing acceptance tests
# (README "Operating Launcher"): each tests/ops/test_*.sh (or only those whose
# names contain a NAME) in turn, each with its own containers, stacks and
# ports, none using the suite's stack.  Each prints "ok ..." / "FAIL ..."
# lines and, last, "<name>: N passed, M failed".  tests/run.sh runs this in
# the background beside the API tests; `bash tests/run.sh test_install.sh`
# runs one of them alone.
set -u
cd "$(dirname "$0")/../.."
build=${1:-build}
shift || true
rc=0
for t in tests/ops/test_*.sh; do
	[ -e "$t" ] || continue
	if [ "$#" -gt 0 ]; then
		want=0
		for a in "$@"; do
			case $t in *"$a"*) want=1 ;; esac
		done
		[ "$want" = 1 ] || continue
	fi
	name=$(basename "$t" .sh)
	echo "== ops $name ($(date -u +%H:%M:%S))"
	# Its own limit: one hung test must not take the others' time.
	timeout --kill-after=30 "${OPS_STEP_LIMIT:-1500}" bash "$t" "$build" < /dev/null
	st=$?
	if [ "$st" != 0 ]; then
		rc=1
		[ "$st" != 124 ] || echo "FAIL $name: timed out; $name: 0 passed, 1 failed"
	fi
done
exit "$rc"
