#!/usr/bin/env bash
# tests/lint.sh - bans dangerous C calls and builds with warnings as errors.
# Prints one line per finding; exits non-zero on any.
set -u
cd "$(dirname "$0")/.."
fail=0
banned='\b(sprintf|vsprintf|strcpy|strcat|strncpy|strtok|atoi|atol|atoll|gets|sscanf|strncat|tmpnam|mktemp)\s*\('
if hits=$(grep -rnE "$banned" fcgi tests/unit --include='*.c' --include='*.h' | grep -vE '\b(v?snprintf)\s*\('); then
	if [ -n "$hits" ]; then
		echo "lint: banned calls (use util_snprintf, util_parse_i64, bounded copies):"
		echo "$hits"
		fail=1
	fi
fi
# Raw snprintf whose result is ignored hides truncation: use util_snprintf.
if hits=$(grep -rnE '^\s*snprintf\s*\(' fcgi --include='*.c'); then
	if [ -n "$hits" ]; then
		echo "lint: unchecked snprintf (use util_snprintf or check the result):"
		echo "$hits"
		fail=1
	fi
fi
# Only the response writer may print a Status line.
if hits=$(grep -rn '"Status:' fcgi --include='*.c' | grep -v 'fcgi/core/http.c'); then
	if [ -n "$hits" ]; then
		echo "lint: Status: printed outside the response writer:"
		echo "$hits"
		fail=1
	fi
fi
# SQL built by string formatting.
if hits=$(grep -rnE '(arena_printf|util_snprintf)\([^;]*"(SELECT|INSERT|UPDATE|DELETE) ' fcgi --include='*.c'); then
	if [ -n "$hits" ]; then
		echo "lint: SQL built with printf:"
		echo "$hits"
		fail=1
	fi
fi
# No pool worker waits for something slow (README "Long calls"): an API
# handler never sleeps or polls, and never calls the database in a loop;
# it answers 202 with a job (GET /jobs/:id) instead.
api_dir=${LINT_API_DIR:-fcgi/api}
if hits=$(grep -rnE '\b(sleep|usleep|nanosleep|clock_nanosleep|poll|ppoll|select|pselect|epoll_wait)\s*\(' "$api_dir" --include='*.c'); then
	if [ -n "$hits" ]; then
		echo "lint: an API handler sleeps or polls (answer 202 with a job instead):"
		echo "$hits"
		fail=1
	fi
fi
hits=$(awk -f tests/lint_waits.awk "$api_dir"/*.c)
if [ -n "$hits" ]; then
	echo "lint: an API handler calls the database in a loop (answer 202 with a job instead):"
	echo "$hits"
	fail=1
fi
# Warnings are errors (the Makefile's -Werror); a fresh object build proves it.
tmp=$(mktemp -d)
if ! make --no-print-directory -s BUILD="$tmp" all >"$tmp/log" 2>&1; then
	echo "lint: the build has warnings or errors:"
	tail -n 40 "$tmp/log"
	fail=1
fi
rm -rf "$tmp"
[ "$fail" = 0 ] && echo "lint: clean"
exit "$fail"
