#!/usr/bin/env bash
# tests/ops/test_deb.sh [BUILD] — README "The Debian package": the package of
# `make deb` installs on a fresh Debian 12 container, upgrades from the
# previous build with the data kept and the new migrations applied, removes
# (keeping /etc/launcher) and purges cleanly, leaving the database unless
# LAUNCHER_PURGE_DATABASE=yes asks for it; lintian finds no error.
#
#   1. two packages from the tree: `make deb DEB_SUFFIX=+test.2` (the next
#      build) and `make deb DEB_SUFFIX=+test.1` without the tree's newest
#      migration (the previous build: it is unpacked, the file and its
#      md5sums line are removed and it is packed with dpkg-deb), so that
#      the upgrade has a migration to apply.
#   2. in a container of tests/fixtures/installroot.sh's image (Debian 12
#      minbase with the runtime libraries, PostgreSQL, nginx; --network
#      none; no systemd: the maintainer scripts' systemd steps are the
#      no-systemd ones): PostgreSQL's cluster, dpkg -i of the previous
#      build (users, directories, the next step printed), `launcher-admin
#      setup`, data (a tenant through launcher-admin, a user and a project
#      rows in it), an operator's edit of launcher.conf.
#   3. dpkg -i of the next build: postinst applies the newest migration
#      (schema_migrations), the rows, the edit and the master key stay.
#   4. dpkg -r: the package's files go, /etc/launcher stays; dpkg -P: no
#      file of the package, no /etc/launcher, /var/lib/launcher,
#      /var/log/launcher, no unit link left; the database and its rows stay.
#   5. dpkg -i then LAUNCHER_PURGE_DATABASE=yes dpkg -P: the database and
#      its roles are dropped.
#   6. lintian on both packages: no error (its warnings go to stderr).
#
# One "ok <what>" / "FAIL <what>: why" line per check, last "test_deb: N
# passed, M failed"; exit 1 on any failure. Progress on stderr ("# ...").
# Env: INSTALL_TEST_KEEP=1 keeps the container (tests/ops/container.sh).

# shellcheck disable=SC2016 # dpkg-query formats and scripts for the container, in single quotes
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1
BUILD=${1:-build}
NAME=test_deb
CONF=/etc/launcher/launcher.conf
KEY=/etc/launcher/master.key

# shellcheck source=tests/ops/report.sh
. tests/ops/report.sh

[ "$(id -u)" = 0 ] || { bad "setup of the test" "run as root (podman, the fixture's chroot)"; finish; }
command -v lintian > /dev/null || { bad "setup of the test" "lintian not installed (make install-deps)"; finish; }

# shellcheck source=tests/ops/container.sh
. tests/ops/container.sh
container_work test-deb

# ------------------------------------------------------------ the packages

note "make deb (the next build, +test.2)"
if ! out=$(make --no-print-directory -s -j2 deb BUILD="$BUILD" DEB_SUFFIX=+test.2 DEB_OUTDIR="$WORK" 2>&1); then
    bad "make deb" "$(first_lines "$(printf '%s\n' "$out" | tail -n 5)")"
    finish
fi
NEXT=$(printf '%s\n' "$out" | tail -n 1)
note "make deb (the previous build, +test.1)"
if ! out=$(make --no-print-directory -s deb BUILD="$BUILD" DEB_SUFFIX=+test.1 DEB_OUTDIR="$WORK" 2>&1); then
    bad "make deb" "$(first_lines "$(printf '%s\n' "$out" | tail -n 5)")"
    finish
fi
PREV=$(printf '%s\n' "$out" | tail -n 1)
if [ -f "$NEXT" ] && [ -f "$PREV" ] && [ "$(dpkg-deb -f "$NEXT" Version)" = "$(cat VERSION)+test.2" ]; then
    ok "make deb builds $(basename "$PREV") and $(basename "$NEXT")"
else
    bad "make deb builds two packages" "got '$PREV' and '$NEXT'"
    finish
fi

# The previous build lacks the tree's newest migration.
NEWEST=$(find sql -maxdepth 1 -name '[0-9][0-9][0-9]_*.sql' -printf '%f\n' | sort | tail -n 1)
NEWEST_V=$((10#${NEWEST%%_*}))
rm -rf "$WORK/prev"
dpkg-deb -R "$PREV" "$WORK/prev"
rm -f "$WORK/prev/usr/share/launcher/sql/$NEWEST"
sed -i "\\|  usr/share/launcher/sql/$NEWEST\$|d" "$WORK/prev/DEBIAN/md5sums"
if dpkg-deb --root-owner-group -b "$WORK/prev" "$PREV" > /dev/null 2>&1; then
    note "previous build: $(basename "$PREV") without $NEWEST"
else
    bad "the previous build" "dpkg-deb -b of $WORK/prev failed"
    finish
fi

# ------------------------------------------------------------ lintian

for deb in "$PREV" "$NEXT"; do
    # --fail-on error: exit 0 only when it ran and found no error.
    # Its own TMPDIR under $WORK: lintian leaves its mldbm-elf-* files behind.
    mkdir -p "$WORK/lintian-tmp"
    lint=$(TMPDIR=$WORK/lintian-tmp lintian --fail-on error "$deb" 2>&1)
    lrc=$?
    errors=$(printf '%s\n' "$lint" | grep '^E:')
    printf '%s\n' "$lint" | grep -E '^[WI]:' | sed 's/^/#   lintian /' >&2
    [ "$lrc" = 0 ] || [ -n "$errors" ] || errors="lintian exited $lrc: $lint"
    if [ "$lrc" = 0 ] && [ -z "$errors" ]; then
        ok "lintian $(basename "$deb"): no error ($(printf '%s\n' "$lint" | grep -c '^W:') warnings)"
    else
        bad "lintian $(basename "$deb"): no error" "$(first_lines "$errors")"
    fi
done

# ------------------------------------------------------------- the container

note "fixture: tests/fixtures/installroot.sh"
if ! fixture=$(bash tests/fixtures/installroot.sh); then
    bad "fixture" "tests/fixtures/installroot.sh failed (see above)"
    finish
fi
eval "$fixture"
: "${FIXTURE_INSTALLROOT_IMAGE:?}" "${FIXTURE_INSTALLROOT_CONF:?}"
sh_c() { in_c bash -c "$1"; }
# sql QUERY — one value (psql -tA) as the superuser postgres, in the
# database launcher.
sql() { in_c runuser -u postgres -- psql -X -q -tA -d launcher -c "$1" 2>&1; }

CONTAINER=launcher-test-deb-$$
if ! out=$(container_run); then
    bad "container" "podman run of $FIXTURE_INSTALLROOT_IMAGE failed: $(first_lines "$out")"
    finish
fi
note "container $CONTAINER of $FIXTURE_INSTALLROOT_IMAGE (--network none)"
tar -C "$WORK" -cf - "$(basename "$PREV")" "$(basename "$NEXT")" | in_c sh -c 'mkdir -p /debs && tar -C /debs -xf -'
PREV_C=/debs/$(basename "$PREV")
NEXT_C=/debs/$(basename "$NEXT")
if ! out=$(sh_c 'pg_createcluster 15 main --start' 2>&1); then
    bad "PostgreSQL" "pg_createcluster 15 main --start: $(first_lines "$out")"
    finish
fi

# ------------------------------------------------------------- install

if out=$(in_c dpkg -i "$PREV_C" 2>&1); then
    ok "dpkg -i $(basename "$PREV") on a fresh Debian 12"
else
    bad "dpkg -i $(basename "$PREV") on a fresh Debian 12" "$(first_lines "$(printf '%s\n' "$out" | tail -n 8)")"
    finish
fi
if printf '%s\n' "$out" | grep -q 'launcher-admin setup'; then
    ok "postinst of a plane not set up prints the next step (launcher-admin setup)"
else
    bad "postinst of a plane not set up prints the next step (launcher-admin setup)" "$(first_lines "$out")"
fi
got=$(sh_c 'id -nG launcher; id -u launcher-agent > /dev/null && echo agent; getent passwd launcher | cut -d: -f6,7;
    stat -c "%U:%G %a" /var/lib/launcher /var/log/launcher' 2>&1)
if printf '%s\n' "$got" | head -n 1 | grep -qw www-data && printf '%s\n' "$got" | grep -qx agent &&
    printf '%s\n' "$got" | grep -qx '/var/lib/launcher:/usr/sbin/nologin' &&
    printf '%s\n' "$got" | grep -qx 'launcher:www-data 750' && printf '%s\n' "$got" | grep -qx 'launcher:adm 750' &&
    in_c test -L /etc/nginx/sites-enabled/launcher; then
    ok "postinst made the users (launcher in www-data, launcher-agent), the state and log directories and the site's link"
else
    bad "postinst made the users and directories" "$(first_lines "$got")"
fi
got=$(in_c dpkg-query -W -f '${Conffiles}\n' launcher 2>&1)
if printf '%s\n' "$got" | grep -q " $CONF "; then
    ok "$CONF is a conffile ($(printf '%s\n' "$got" | grep -c ' /etc/') conffiles)"
else
    bad "$CONF is a conffile" "$(first_lines "$got")"
fi

if out=$(in_c launcher-admin setup 2>&1); then
    ok "launcher-admin setup after the package"
else
    bad "launcher-admin setup after the package" "$(first_lines "$out")"
    finish
fi
before=$(sql "SELECT max(version) FROM launcher.schema_migrations")
if [[ $before =~ ^[0-9]+$ ]] && [ "$before" -lt "$NEWEST_V" ]; then
    ok "the previous build migrated up to $before (not $NEWEST)"
else
    bad "the previous build migrated up to below $NEWEST" "max(version) = $before"
fi

# The data: a tenant through launcher-admin, a user and a project in it.
check "launcher-admin tenant create debtest" in_c launcher-admin tenant create debtest "Deb test"
got=$(sql "WITH u AS (INSERT INTO launcher.users (tenant_id, email, role)
      SELECT id, 'deb@example.com', 'admin' FROM launcher.tenants WHERE slug = 'debtest' RETURNING id, tenant_id)
    INSERT INTO launcher.projects (tenant_id, name, owner_id) SELECT tenant_id, 'kept', id FROM u RETURNING name")
[ "$got" = kept ] || bad "a user and a project in the tenant debtest" "$(first_lines "$got")"
DATA_Q="SELECT t.slug || ' ' || u.email || ' ' || p.name FROM launcher.tenants t
    JOIN launcher.users u ON u.tenant_id = t.id JOIN launcher.projects p ON p.owner_id = u.id WHERE t.slug = 'debtest'"
DATA='debtest deb@example.com kept'
key_sum=$(in_c sha256sum "$KEY" 2>&1)
in_c sh -c "printf '# edited by the operator\n' >> $CONF"

# ------------------------------------------------------------- upgrade

if out=$(in_c dpkg -i "$NEXT_C" 2>&1); then
    ok "dpkg -i $(basename "$NEXT") upgrades $(basename "$PREV")"
else
    bad "dpkg -i $(basename "$NEXT") upgrades $(basename "$PREV")" "$(first_lines "$(printf '%s\n' "$out" | tail -n 8)")"
fi
printf '%s\n' "$out" | sed 's/^/#   /' >&2
expect "the upgrade's postinst applied $NEWEST (schema_migrations)" \
    "$(sql "SELECT version FROM launcher.schema_migrations WHERE version = $NEWEST_V")" "$NEWEST_V"
expect "the tenant, user and project are kept across the upgrade" "$(sql "$DATA_Q")" "$DATA"
if in_c grep -qx '# edited by the operator' "$CONF" && [ "$(in_c sha256sum "$KEY" 2>&1)" = "$key_sum" ]; then
    ok "the operator's edit of launcher.conf and the master key are kept across the upgrade"
else
    bad "the operator's edit of launcher.conf and the master key are kept across the upgrade" "edit or key changed"
fi
got=$(in_c dpkg-query -W -f '${Version} ${Status}' launcher 2>&1)
[ "$got" = "$(cat VERSION)+test.2 install ok installed" ] || bad "dpkg-query after the upgrade" "$got"

# ------------------------------------------------------------- remove, purge

in_c dpkg-query -L launcher > "$WORK/files" 2>&1
if out=$(in_c dpkg -r launcher 2>&1) && ! in_c test -e /usr/bin/launcher-fcgi &&
    in_c test -f "$CONF" && in_c test -f "$KEY"; then
    ok "dpkg -r removes the binaries and keeps /etc/launcher (launcher.conf, the master key)"
else
    bad "dpkg -r removes the binaries and keeps /etc/launcher" "$(first_lines "$out")"
fi
if out=$(in_c dpkg -P launcher 2>&1); then
    ok "dpkg -P launcher"
else
    bad "dpkg -P launcher" "$(first_lines "$out")"
fi
# What the package listed and still exists: only directories that another
# package owns too (/usr/bin, /etc/nginx/conf.d ...) may stay.
left=$(grep -vxE '/|/\.' "$WORK/files" | in_c sh -c 'while read -r f; do
    [ -e "$f" ] || continue
    if [ -d "$f" ] && dpkg-query -S "$f" > /dev/null 2>&1; then continue; fi
    echo "$f"
done')
left="$left$(in_c sh -c 'for d in /etc/launcher /var/lib/launcher /var/log/launcher /etc/nginx/sites-enabled/launcher; do [ -e "$d" ] || [ -L "$d" ] && echo "$d"; done
    find /etc/systemd/system /var/lib/systemd -name "launcher-*" 2> /dev/null; true')"
if [ -z "$left" ] && ! in_c dpkg-query -W launcher > /dev/null 2>&1; then
    ok "after dpkg -P no file of the package, /etc/launcher, state, logs or unit link is left"
else
    bad "after dpkg -P nothing of the package is left" "$(first_lines "$left")"
fi
expect "dpkg -P leaves the database: the tenant, user and project rows are still in PostgreSQL" \
    "$(sql "$DATA_Q")" "$DATA"
# ... and the key that opens its sealed values: moved, not deleted.
kept=$(in_c sh -c 'ls -d /var/backups/launcher-purged-*/ 2> /dev/null | head -n 1')
if [ -n "$kept" ] && [ "$(in_c sha256sum "${kept}master.key" 2>&1 | cut -d' ' -f1)" = "${key_sum%% *}" ] &&
    [ "$(in_c stat -c '%a %U' "$kept" 2>&1)" = "700 root" ] && in_c test -s "${kept}pgpass" &&
    printf '%s\n' "$out" | grep -q "kept in ${kept%/}"; then
    ok "dpkg -P keeps the master key and pgpass in $kept (0700 root) and says so"
else
    bad "dpkg -P keeps the master key and pgpass" "kept dir '${kept}': $(in_c ls -la "$kept" 2>&1 | head -n 3); purge said: $(first_lines "$out")"
fi

# Asked for: LAUNCHER_PURGE_DATABASE=yes drops the database and its roles.
in_c dpkg -i "$NEXT_C" > /dev/null 2>&1 || bad "dpkg -i again" "failed"
out=$(in_c env LAUNCHER_PURGE_DATABASE=yes dpkg -P launcher 2>&1)
got=$(in_c runuser -u postgres -- psql -X -tA -d postgres -c \
    "SELECT count(*) FROM pg_database WHERE datname = 'launcher'
     UNION ALL SELECT count(*) FROM pg_roles WHERE rolname LIKE 'launcher\_%'" 2>&1 | tr '\n' ' ')
[ "$got" = "0 0 " ] || got="databases, roles: $got; $out"
expect "LAUNCHER_PURGE_DATABASE=yes dpkg -P drops the database and its roles" "$got" "0 0 "

note "done"
finish
