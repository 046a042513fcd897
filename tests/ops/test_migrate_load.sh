#!/usr/bin/env bash
# tests/ops/test_migrate_load.sh [BUILD] - an upgrade's migration under load
# (README "Upgrades"): the previous build, i.e. the tree of the commit
# before the newest sql/NNN_*.sql was added (git history; built once per
# revision, only what its stack runs, cached under /var/tmp/launcher-oldbuild
# with flock), runs a throwaway stack of its own (its launcher-stack.sh, its
# sql/, its binaries) with a load of concurrent clients
# (tests/ops/lib/load.py); then BUILD's launcher-admin migrate applies the
# pending migration(s) while the old pool serves.  Checks:
#   old-build   the previous build's stack serves the load
#   migrate     the new launcher-admin applied the pending migration(s)
#   lock-probe  a migration that needs a lock held by a long transaction
#               (ALTER TABLE projects behind an open reader) is given up by
#               migrate (lock_timeout, a few tries) while the reader still
#               holds it, instead of queueing the API's requests behind it
#   zero-fail   not one request of the load failed, across both
# Last line: "test_migrate_load: N passed, M failed".
set -u
cd "$(dirname "$0")/../.." || exit 1
# shellcheck source=tests/ops/lib/opstack.sh
. tests/ops/lib/opstack.sh "$@"
trap '[ -z "${holder:-}" ] || kill "$holder" 2> /dev/null; ops_end' EXIT
NEW_ADMIN=$PWD/$BUILD/bin/launcher-admin
CACHE=/var/tmp/launcher-oldbuild
PG_BIN=/usr/lib/postgresql/15/bin

# ------------------------------------------------------- the previous build
newest=$(git log -1 --format=%H --diff-filter=A -- 'sql/[0-9]*.sql' 2> /dev/null)
rev=$(git rev-parse --verify -q "$newest^" 2> /dev/null)
[ -n "$rev" ] || ops_abort old-build "no git history here (the previous build is the commit before the newest migration)"
src=$CACHE/$rev/src
install -d -m 0755 "$CACHE"
(
	flock -w 1200 9 || { echo "$CACHE/$rev.lock is held by another run"; exit 1; }
	[ -e "$CACHE/$rev/.done" ] && exit 0
	rm -rf "${CACHE:?}/$rev" && install -d -m 0755 "$CACHE/$rev" "$src" || exit 1
	git archive "$rev" | tar -x -C "$src" || exit 1
	# Only what its stack runs; the dashboard's vendored code is this tree's
	# (the stack copies it, the API does not use it).
	make -C "$src" -s -j2 build/bin/launcher-fcgi build/bin/launcher-admin \
		build/bin/launcher-scheduler build/bin/launcher-ws > "$CACHE/$rev/build.log" 2>&1 ||
		{ tail -n 20 "$CACHE/$rev/build.log"; exit 1; }
	mkdir -p "$src/build/static" && cp -a build/static/vendor "$src/build/static/" || exit 1
	touch "$CACHE/$rev/.done"
) 9> "$CACHE/$rev.lock" || ops_abort old-build "could not build $rev"
pending=$(comm -13 <(cd "$src/sql" && ls [0-9]*.sql) <(cd sql && ls [0-9]*.sql) | tr '\n' ' ')

export LAUNCHER_BIN_DIR=$src/build/bin
ops_stack migload "$src/conf/stack/launcher-stack.sh" || ops_abort old-build "the previous build's stack did not start"
st=$LAUNCHER_STATE_DIR
tenants=$(ops_tenants 4)
load=$st/load.jsonl
ops_load_start "$load" "$tenants"
if ops_load_wait "$load" 300; then
	ok "old-build: the build of ${rev:0:12} (before ${newest:0:12}) serves a load of 4 clients"
else
	bad "old-build" "the load did not get going: $(tail -n 3 "$load" "$load.out" 2> /dev/null)"
fi

# ---------------------------------------------- the new migrate under load
# The new release's launcher-admin and sql/, the stack's config otherwise.
sed "s#^migrations_dir = .*#migrations_dir = \"$PWD/sql\"#" "$LAUNCHER_CONF" > "$st/new.conf"
out=$("$NEW_ADMIN" -c "$st/new.conf" migrate 2>&1)
rc=$?
applied=$(sed -n 's/^migrations: \([0-9]*\) applied.*/\1/p' <<< "$out")
if [ "$rc" = 0 ] && [ "${applied:-0}" -ge 1 ]; then
	ok "migrate: $applied migration(s) applied under load ($pending)"
else
	bad "migrate" "rc $rc, pending $pending: $(tail -n 5 <<< "$out")"
fi
n=$(ops_load_ok "$load")
ops_load_wait "$load" $((n + 300))
phase1=$(wc -l < "$load")

# ------------------------------------------------------------- lock probe
# A reader holds projects (an open transaction, as a long report would);
# the probe migration's ALTER TABLE needs the table alone.
probe=$st/probe-sql
mkdir -p "$probe" && cp sql/[0-9]*.sql "$probe/"
printf 'ALTER TABLE launcher.projects ADD COLUMN lock_probe integer;\n' > "$probe/999_lock_probe.sql"
sed "s#^migrations_dir = .*#migrations_dir = \"$probe\"#" "$LAUNCHER_CONF" > "$st/probe.conf"
psql_su() { (cd / && runuser -u postgres -- "$PG_BIN/psql" -X -q -At -h "$st/pg/sock" -p "$LAUNCHER_PG_PORT" -d launcher "$@"); }
printf 'BEGIN;\nLOCK TABLE launcher.projects IN ACCESS SHARE MODE;\nSELECT pg_sleep(600);\n' |
	(cd / && PGAPPNAME=lock-holder runuser -u postgres -- "$PG_BIN/psql" -X -q -h "$st/pg/sock" \
		-p "$LAUNCHER_PG_PORT" -d launcher > /dev/null 2>&1) &
holder=$!
deadline=$((SECONDS + 30))
until [ "$(psql_su -c "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'lock-holder' AND query LIKE '%pg_sleep%'")" = 1 ] ||
	[ "$SECONDS" -ge "$deadline" ]; do
	sleep 0.2
done
t0=$(date +%s.%N)
out=$(timeout 120 "$NEW_ADMIN" -c "$st/probe.conf" migrate 2>&1)
rc=$?
secs=$($OPS_PY -c 'import sys, time; print("%.1f" % (time.time() - float(sys.argv[1])))' "$t0")
held=$(psql_su -c "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'lock-holder' AND query LIKE '%pg_sleep%'")
# Whatever happened: nothing waits on a lock any more, the reader ends.
psql_su -c "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE wait_event_type = 'Lock' OR application_name = 'lock-holder'" > /dev/null
column=$(psql_su -c "SELECT count(*) FROM information_schema.columns WHERE table_schema = 'launcher' AND table_name = 'projects' AND column_name = 'lock_probe'")
if [ "$rc" != 0 ] && [ "$rc" != 124 ] && [ "$held" = 1 ] && [ "$column" = 0 ]; then
	ok "lock-probe: migrate gave up the lock after ${secs} s while the reader held it: $(grep -i -m 1 'lock' <<< "$out" | cut -c1-160)"
else
	bad "lock-probe" "migrate rc $rc after ${secs} s (124: still waiting at 120 s), reader still holding: $held, column added: $column; $(tail -n 2 <<< "$out" | cut -c1-200)"
fi
n=$(ops_load_ok "$load")
ops_load_wait "$load" $((n + 200))
ops_load_stop

# ------------------------------------------------------------ the count
head -n "$phase1" "$load" > "$load.1"
tail -n +"$((phase1 + 1))" "$load" > "$load.2"
s1=$($OPS_PY tests/ops/lib/summary.py "$load.1")
s2=$($OPS_PY tests/ops/lib/summary.py "$load.2")
echo "     migrate phase: $s1" | cut -c1-400
echo "     lock phase: $s2" | cut -c1-400
if [ "$(ops_field "$s1" failed)" = 0 ] && [ "$(ops_field "$s2" failed)" = 0 ] &&
	[ "$(ops_field "$s1" total)" -gt 300 ] && [ "$(ops_field "$s2" total)" -gt 0 ]; then
	ok "zero-fail: $(ops_field "$s1" total) requests around the migration (slowest $(ops_field "$s1" max_ms) ms) and $(ops_field "$s2" total) around the lock probe (slowest $(ops_field "$s2" max_ms) ms), none failed"
else
	bad "zero-fail" "failed: $(ops_field "$s1" failed) of $(ops_field "$s1" total) (migration), $(ops_field "$s2" failed) of $(ops_field "$s2" total) (lock probe); $(ops_field "$s1" samples | cut -c1-300) $(ops_field "$s2" samples | cut -c1-300)"
fi
ops_finish
