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
# A number converted without an end pointer cannot tell "12abc" or "" from
# 12 or 0: use util_parse_i64, or pass &end and check it (and errno).
if hits=$(grep -rnE '\bstrto(l|ll|ul|ull|d|f|ld|imax|umax)\s*\(.*,\s*(NULL|0|\(char\s*\*\*\)\s*0)\s*(,\s*[0-9]+\s*)?\)' \
	fcgi tests/unit --include='*.c' --include='*.h'); then
	if [ -n "$hits" ]; then
		echo "lint: number conversions without an end pointer (use util_parse_i64):"
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
# Layers: bin -> api, agent, ws -> core.  Nothing in core includes a header
# above it; nothing but bin includes bin.
hits=$(grep -rnE '^\s*#\s*include\s*"(\.\./)+(agent|api|ws|bin)/' fcgi/core
	grep -rnE '^\s*#\s*include\s*"(\.\./)+bin/' fcgi/api fcgi/agent fcgi/ws)
if [ -n "$hits" ]; then
	echo "lint: an include against the layering (bin -> api, agent, ws -> core):"
	echo "$hits"
	fail=1
fi
# The OpenAPI document through a linter nobody here wrote: Redocly CLI,
# pinned in tests/tools/package-lock.json and installed there (npm ci) when
# missing or stale. Its rules (every example valid against its schema, any
# warning an error) and the reasoned exceptions are in tests/tools/.
# Migrations expand while the previous release's pool serves (README
# "Upgrades"): a migration after 063 (the last one before this rule) that
# drops, renames, sets NOT NULL or changes a column's type is a contract
# step, allowed only with a "-- contract: <why it is safe now>" marker on
# its line or a comment line just before (the release that stopped using the old shape).
hits=$(for f in sql/[0-9][0-9][0-9]_*.sql; do
	n=${f#sql/}
	[ "$((10#${n%%_*}))" -gt 63 ] || continue
	awk -v f="$f" '{ l = tolower($0); sub(/--.*/, "", l) }
		l ~ /drop[[:space:]]+(column|table|view|function)|rename[[:space:]]|set[[:space:]]+not[[:space:]]+null|alter[[:space:]]+column[^;]*[[:space:]]type[[:space:]]/ &&
		$0 !~ /-- contract: [^ ]/ && prev !~ /^[[:space:]]*-- contract: [^ ]/ { print f ":" NR ": " $0 }
		{ prev = $0 }' "$f"
done)
if [ -n "$hits" ]; then
	echo "lint: a migration contracts the schema the previous pool still uses (expand only; a later release's"
	echo "      contract step carries a '-- contract: <why>' marker; README \"Upgrades\"):"
	echo "$hits"
	fail=1
fi
redocly=tests/tools/node_modules/.bin/redocly
if [ ! -x "$redocly" ] || [ tests/tools/package-lock.json -nt tests/tools/node_modules/.package-lock.json ]; then
	if ! command -v npm > /dev/null 2>&1; then
		echo "lint: npm not found: the OpenAPI lint needs Node.js >= 20.19 with npm"
		fail=1
	elif ! npm ci --prefix tests/tools --no-audit --no-fund --loglevel=error > /dev/null; then
		echo "lint: npm ci in tests/tools failed (Redocly CLI for the OpenAPI lint)"
		fail=1
	fi
fi
if [ -x "$redocly" ]; then
	if ! out=$("$redocly" lint --config tests/tools/redocly.yaml --format=stylish static/openapi.json 2>&1); then
		echo "lint: static/openapi.json (Redocly CLI):"
		echo "$out" | grep -vE '^\s*$|[║╔╚]'
		fail=1
	fi
fi
# The dashboard (README "The dashboard"): no HTML sinks, eval or new
# Function in static/app/**/*.js; no inline script, style or on...=
# attribute in its HTML (tests/lint_static.py). The checker proves itself
# on a fixture that breaks every rule once.
if ! out=$(python3 tests/lint_static.py static); then
	echo "lint: the dashboard writes HTML or runs strings (render text with h(); see tests/lint_static.py):"
	echo "$out"
	fail=1
fi
if ! diff <(python3 tests/lint_static.py tests/fixtures/lint-static) tests/fixtures/lint-static/expected.txt > /dev/null; then
	echo "lint: tests/lint_static.py no longer finds what tests/fixtures/lint-static/expected.txt lists"
	fail=1
fi
# Every statement is a DB_STMT, so that each binary checks all of their
# names at start-up (db_conn_check_names).
if hits=$(grep -rnE '\bstruct db_stmt\s+[A-Za-z_][A-Za-z0-9_]*\s*(\[[^]]*\])?\s*=' fcgi --include='*.c' --include='*.h'); then
	if [ -n "$hits" ]; then
		echo "lint: a statement declared without DB_STMT (db_conn.h):"
		echo "$hits"
		fail=1
	fi
fi
# SQL runs through the one SQL layer (fcgi/core/db_conn.c) and nowhere else.
if hits=$(grep -rnE '\bPQ(exec|execParams|execPrepared|prepare|sendQuery[A-Za-z]*|sendPrepare)\s*\(' fcgi \
    --include='*.c' --include='*.h' | grep -v '^fcgi/core/db_conn\.c:'); then
	if [ -n "$hits" ]; then
		echo "lint: raw libpq query calls outside fcgi/core/db_conn.c (use db_conn_* or db_*):"
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
# Warnings are errors (the Makefile's -Werror); a fresh object build proves it,
# on both cores. It goes to a temporary directory, or to LINT_BUILD_DIR when
# that does not exist yet, and stays there: tests/run.sh passes its own build
# directory on a fresh checkout, so that the suite's build is this one and
# not a second full compile.
if [ -n "${LINT_BUILD_DIR:-}" ] && [ ! -e "$LINT_BUILD_DIR" ]; then
	out=$LINT_BUILD_DIR
else
	out=$(mktemp -d)
	trap 'rm -rf "$out"' EXIT
fi
log=$(mktemp)
if ! make --no-print-directory -s -j2 BUILD="$out" all >"$log" 2>&1; then
	echo "lint: the build has warnings or errors:"
	tail -n 40 "$log"
	fail=1
fi
rm -f "$log"
[ "$fail" = 0 ] && echo "lint: clean"
exit "$fail"
