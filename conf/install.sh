#!/usr/bin/env bash
# install.sh {install|uninstall} - `make install` / `make uninstall`: the
# installed layout of Launcher (README "Install"). Run by the Makefile with
# its variables in the environment:
#   DESTDIR         staging root (packages, images): nothing outside it is
#                   touched, no user is created, nothing is chown'ed
#   PREFIX          [/usr/local] binaries in PREFIX/bin, data in PREFIX/share/launcher
#   SYSCONFDIR      [/etc] launcher/launcher.conf, nginx/, logrotate.d/
#   LOCALSTATEDIR   [/var] lib/launcher (state), log/launcher
#   SYSTEMDUNITDIR  [PREFIX/lib/systemd/system] the units and timers
#   BUILD           [build] where `make` put bin/
#   RUNDIR          [/run/launcher] the sockets (systemd's RuntimeDirectory)
# and the edge's knobs (README "The edge: HTTPS, HSTS, listeners"):
#   HSTS_MAX_AGE    [31536000] Strict-Transport-Security max-age; 0 = no header
#   REDIRECT_LISTEN [80] plain HTTP that answers 301 to HTTPS (empty: none)
#   HTTP_LISTEN     [127.0.0.1:8080] plain HTTP serving the API (empty: none)
#   HTTPS_LISTEN    [443]
#   PUBLIC_URL      [https://localhost] public_url of a new launcher.conf
#   PLANE_HOSTNAME  [] plane_hostname: an HTTPS server of its own (SNI) with
#                   /etc/launcher/tls/plane-cert.pem + plane-key.pem, which
#                   must exist before nginx starts (copy cert.pem/key.pem)
#
# A configuration file an operator edited is never replaced: the new one
# goes beside it as FILE.dist. Edited means: it differs from the new render
# and from the sum install recorded when it wrote it (PREFIX/share/launcher/
# installed.sha256), so an unedited file follows the upgrades. Uninstall
# removes the programs, data and units, and the configuration files only
# where they are unedited; never the state
# (/var/lib/launcher), the secrets in /etc/launcher, the logs or the users.
set -euo pipefail
umask 022

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
REPO=$(cd "$SCRIPT_DIR/.." && pwd -P)

die()  { printf 'install: %s\n' "$*" >&2; exit 1; }
note() { printf 'install: %s\n' "$*"; }

MODE=${1:-install}
D=${DESTDIR:-}
D=${D%/}
PREFIX=${PREFIX:-/usr/local}
SYSCONFDIR=${SYSCONFDIR:-/etc}
LOCALSTATEDIR=${LOCALSTATEDIR:-/var}
SYSTEMDUNITDIR=${SYSTEMDUNITDIR:-$PREFIX/lib/systemd/system}
BUILD=${BUILD:-build}
RUNDIR=${RUNDIR:-/run/launcher}
HSTS_MAX_AGE=${HSTS_MAX_AGE-31536000}
REDIRECT_LISTEN=${REDIRECT_LISTEN-80}
HTTP_LISTEN=${HTTP_LISTEN-127.0.0.1:8080}
HTTPS_LISTEN=${HTTPS_LISTEN-443}
PUBLIC_URL=${PUBLIC_URL:-https://localhost}
PLANE_HOSTNAME=${PLANE_HOSTNAME:-}

for v in PREFIX SYSCONFDIR LOCALSTATEDIR SYSTEMDUNITDIR RUNDIR; do
    [[ ${!v} =~ ^/[A-Za-z0-9._/-]*$ && ${!v} != *..* ]] ||
        die "$v must be an absolute path of [A-Za-z0-9._/-] (got '${!v}')"
done
[[ $HSTS_MAX_AGE =~ ^[0-9]+$ ]] || die "HSTS_MAX_AGE must be a number of seconds (got '$HSTS_MAX_AGE')"
for v in REDIRECT_LISTEN HTTP_LISTEN HTTPS_LISTEN; do
    [[ ${!v} =~ ^[][A-Za-z0-9.:*-]*$ ]] || die "$v looks wrong: '${!v}'"
done
[ -n "$HTTPS_LISTEN" ] || die "HTTPS_LISTEN may not be empty"
[[ $PLANE_HOSTNAME =~ ^[A-Za-z0-9.-]*$ ]] || die "PLANE_HOSTNAME looks wrong: '$PLANE_HOSTNAME'"
[[ $PUBLIC_URL =~ ^https?://[^/[:space:]\"]+$ ]] || die "PUBLIC_URL must be http(s)://host[:port] (got '$PUBLIC_URL')"
case $BUILD in /*) ;; *) BUILD=$REPO/$BUILD ;; esac

SHARE=$PREFIX/share/launcher
# The agent's downloads (make's build/agent-dist: binaries per architecture,
# so under lib/), served by nginx at /agent/ (README "Agents on more servers").
AGENT_ROOT=$PREFIX/lib/launcher
ETC=$SYSCONFDIR/launcher
NGINX=$SYSCONFDIR/nginx
STATE=$LOCALSTATEDIR/lib/launcher
LOGS=$LOCALSTATEDIR/log/launcher
BINS=(launcher-fcgi launcher-admin launcher-scheduler launcher-dnscheck launcher-backup
      launcher-notify launcher-issues launcher-ws launcher-agent)
UNITS=(launcher-fcgi.service launcher-fcgi-ingest.service launcher-ws.service
       launcher-scheduler.service launcher-notify.service launcher-issues.service
       launcher-backup.service launcher-backup.timer launcher-dnscheck.service
       launcher-dnscheck.timer launcher-nginx-reload.path launcher-nginx-reload.service
       launcher-agent.service)
# Debian's libnginx-mod-http-brotli-static: brotli_static only where it is
# installed (Debian's nginx.conf loads it from modules-enabled/).
BROTLI_MODULE=/usr/lib/nginx/modules/ngx_http_brotli_static_module.so
BROTLI=0
[ -e "$BROTLI_MODULE" ] && BROTLI=1

# Running as root on the real system: users, owners, systemd.
LIVE=0
[ -z "$D" ] && [ "$(id -u)" -eq 0 ] && LIVE=1

TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

# ----------------------------------------------------------- rendering

# The nginx files as installed: NAME OUTPUT-PATH (final, without DESTDIR).
NGINX_FILES=(
    "launcher.conf.in:$NGINX/conf.d/launcher.conf"
    "site.conf.in:$NGINX/sites-available/launcher"
    "locations.conf.in:$NGINX/snippets/launcher-locations.conf"
    "static.conf.in:$NGINX/snippets/launcher-static.conf"
    "tls.conf.in:$NGINX/snippets/launcher-tls.conf"
    "fastcgi_params:$NGINX/snippets/launcher-fastcgi-params.conf"
)

plane_version() {
    local v=0.1.0
    [ -s "$REPO/VERSION" ] && v=$(tr -d ' \t\r\n' < "$REPO/VERSION")
    printf '%s' "$v"
}

# render_all DIR: every generated file into DIR/<final path>.
render_all() {
    local out=$1 pairs=() f
    for f in "${NGINX_FILES[@]}"; do
        mkdir -p "$out$(dirname "${f#*:}")"
        pairs+=("$REPO/conf/nginx/${f%%:*}" "$out${f#*:}")
    done
    bash "$REPO/conf/nginx/render.sh" \
        BROTLI="$BROTLI" REDIRECT_LISTEN="$REDIRECT_LISTEN" HTTP_LISTEN="$HTTP_LISTEN" \
        HTTPS_LISTEN="$HTTPS_LISTEN" HSTS_MAX_AGE="$HSTS_MAX_AGE" WS_IP_HASH=1 \
        PLANE_HOSTNAME="$PLANE_HOSTNAME" PLANE_TLS_CERT="$ETC/tls/plane-cert.pem" \
        PLANE_TLS_KEY="$ETC/tls/plane-key.pem" \
        RATE_IP=20r/s RATE_KEY=20r/s RATE_AUTH=2r/s BURST_IP=40 BURST_KEY=40 BURST_AUTH=10 \
        WS_CONN_IP=64 MAX_BODY=1048576 IMPORT_MAX=1073741824 PLANE_VERSION="$(plane_version)" \
        WS_UPSTREAM="unix:$RUNDIR/ws.sock" RUN_DIR="$RUNDIR" UPSTREAM_DIR="$NGINX/launcher" \
        ACCESS_LOG="$LOCALSTATEDIR/log/nginx/launcher-access.log" \
        TRAFFIC_LOG="$LOCALSTATEDIR/log/nginx/launcher-traffic.log" \
        ACME_DIR="$STATE/acme-plane" TLS_CERT="$ETC/tls/cert.pem" TLS_KEY="$ETC/tls/key.pem" \
        STATIC_DIR="$SHARE/static" ICONS_DIR="$STATE/icons" IMPORTS_DIR="$STATE/imports" \
        AGENT_ROOT="$AGENT_ROOT" \
        LOCATIONS_CONF="$NGINX/snippets/launcher-locations.conf" \
        STATIC_CONF="$NGINX/snippets/launcher-static.conf" \
        TLS_CONF="$NGINX/snippets/launcher-tls.conf" \
        FASTCGI_PARAMS="$NGINX/snippets/launcher-fastcgi-params.conf" \
        -- "${pairs[@]}"
    # launcher.conf: the example with the installed layout's values.
    mkdir -p "$out$ETC"
    set_keys "$REPO/conf/launcher.conf.example" "$out$ETC/launcher.conf"
    mkdir -p "$out$SYSCONFDIR/logrotate.d"
    sed "s|/var/log/launcher|$LOGS|" "$REPO/conf/logrotate/launcher" > "$out$SYSCONFDIR/logrotate.d/launcher"
}

# set_keys EXAMPLE OUT: the example with these keys set (a commented
# "#key = ..." line of the example becomes the setting).
set_keys() {
    local kv=(
        "listen=$RUNDIR/fcgi.sock"
        "ingest_listen=$RUNDIR/ingest.sock"
        "ws_listen=$RUNDIR/ws.sock"
        "eventquota_file=$RUNDIR/eventquota"
        "fcgi_state_file=$RUNDIR/fcgi.state"
        "database_url=\"host=localhost port=5432 dbname=launcher user=launcher_api passfile=$ETC/pgpass\""
        "admin_database_url=\"host=localhost port=5432 dbname=launcher user=launcher_owner passfile=$ETC/pgpass\""
        "maintenance_database_url=\"host=localhost port=5432 dbname=launcher user=launcher_maint passfile=$ETC/pgpass\""
        "migrations_dir=$SHARE/sql"
        "master_key_file=$ETC/master.key"
        "database_images_file=$SHARE/database-images.conf"
        "image_mirrors_file=$SHARE/image-mirrors.conf"
        "templates_dir=$SHARE/templates"
        "agent_dist_dir=$AGENT_ROOT/agent"
        "icons_dir=$STATE/icons"
        "imports_dir=$STATE/imports"
        "plane_acme_webroot=$STATE/acme-plane"
        "plane_acme_dir=$STATE/acme"
        "smtp_url=smtp://127.0.0.1:25"
        "public_url=$PUBLIC_URL"
    )
    printf '%s\n' "${kv[@]}" | awk '
        FNR == NR { i = index($0, "="); val[substr($0, 1, i - 1)] = substr($0, i + 1); next }
        FNR == 1 {
            print "# Written by `make install` (conf/install.sh) from conf/launcher.conf.example,"
            print "# with the installed layout'"'"'s paths. Edit freely: `make install` never"
            print "# replaces an edited file (it writes launcher.conf.dist beside it)."
            print "#"
        }
        {
            line = $0
            if (match(line, /^#?[a-z_]+ *=/)) {
                key = line; sub(/^#/, "", key); sub(/ *=.*/, "", key)
                if ((key in val) && !(key in done)) {
                    print key " = " val[key]; done[key] = 1; next
                }
            }
            print line
        }
        END { for (k in val) if (!(k in done)) { print "missing key " k > "/dev/stderr"; exit 1 } }
    ' - "$1" > "$2" || die "cannot write $2 from $1"
}

# The sums of the configuration files install wrote, "SHA256  PATH" (PATH
# without DESTDIR): a file that still has its recorded sum was not edited,
# so an upgrade replaces it and uninstall removes it.
MANIFEST=$SHARE/installed.sha256
: > "$TMP/manifest"
sum_of() { sha256sum < "$1" | cut -d' ' -f1; }
recorded() {   # recorded PATH: the sum install wrote for PATH, or nothing
    [ -f "$D$MANIFEST" ] || return 0
    awk -v p="$1" '$2 == p { s = $1 } END { if (s != "") print s }' "$D$MANIFEST"
}
# unedited PATH: DESTDIR's PATH still has the sum install recorded for it.
unedited() {
    local old
    old=$(recorded "$1")
    [ -n "$old" ] && [ "$(sum_of "$D$1")" = "$old" ]
}

# put SRC DEST [MODE]: a configuration file into DESTDIR. An existing DEST
# is replaced when it is the new one or what install wrote last time (its
# recorded sum); one the operator edited is kept, the new one beside it as
# DEST.dist.
put() {
    local src=$1 dst=$D$2 mode=${3:-0644} old
    mkdir -p "$(dirname "$dst")"
    if [ -e "$dst" ] && ! cmp -s "$src" "$dst" && ! unedited "$2"; then
        install -m "$mode" "$src" "$dst.dist"
        note "$2 was edited (kept): the new one is $2.dist"
        old=$(recorded "$2")
        [ -z "$old" ] || printf '%s  %s\n' "$old" "$2" >> "$TMP/manifest"
    else
        install -m "$mode" "$src" "$dst"
        rm -f "$dst.dist"
        printf '%s  %s\n' "$(sum_of "$src")" "$2" >> "$TMP/manifest"
    fi
}

# ------------------------------------------------------------- install

check_build() {
    local b
    for b in "${BINS[@]}"; do
        [ -x "$BUILD/bin/$b" ] || die "$BUILD/bin/$b is missing: run make first"
    done
    [ -s "$BUILD/agent-dist/SHA256SUMS" ] || die "$BUILD/agent-dist is missing: run make first"
}

do_install() {
    check_build

    # Programs.
    install -d "$D$PREFIX/bin"
    local b
    for b in "${BINS[@]}"; do install -m 0755 "$BUILD/bin/$b" "$D$PREFIX/bin/$b"; done

    # Data (replaced whole: none of it is edited in place).
    rm -rf "$D$SHARE/sql" "$D$SHARE/static" "$D$SHARE/templates" "$D$SHARE/nginx"
    install -d "$D$SHARE" "$D$SHARE/nginx"
    cp -R "$REPO/sql" "$D$SHARE/sql"
    cp -R "$REPO/conf/templates" "$D$SHARE/templates"
    bash "$REPO/conf/stack/static-tree.sh" "$REPO" "$TMP/static"
    cp -R "$TMP/static" "$D$SHARE/static"
    install -m 0644 "$REPO/conf/database-images.conf" "$REPO/conf/image-mirrors.conf" \
        "$REPO/conf/crontab" "$REPO/conf/agent.conf.example" "$REPO/conf/launcher.conf.example" "$D$SHARE/"
    install -m 0644 "$REPO"/conf/nginx/*.in "$REPO/conf/nginx/fastcgi_params" "$D$SHARE/nginx/"
    install -m 0755 "$REPO/conf/nginx/render.sh" "$D$SHARE/nginx/"
    install -m 0755 "$REPO/conf/install-system.sh" "$D$SHARE/"
    chmod -R u+rwX,go+rX "$D$SHARE"
    rm -rf "$D$AGENT_ROOT/agent"
    install -d "$D$AGENT_ROOT"
    cp -R "$BUILD/agent-dist" "$D$AGENT_ROOT/agent"
    chmod -R u+rwX,go+rX,go-w "$D$AGENT_ROOT"

    # Units, with this layout's paths.
    install -d "$D$SYSTEMDUNITDIR"
    local u
    for u in "${UNITS[@]}"; do
        bash "$REPO/conf/nginx/render.sh" PREFIX="$PREFIX" SYSCONFDIR="$SYSCONFDIR" \
            LOCALSTATEDIR="$LOCALSTATEDIR" -- "$REPO/conf/systemd/$u" "$TMP/$u"
        install -m 0644 "$TMP/$u" "$D$SYSTEMDUNITDIR/$u"
    done

    # Configuration: launcher.conf, nginx's files, logrotate.
    render_all "$TMP/etc"
    install -d -m 0755 "$D$ETC"
    put "$TMP/etc$ETC/launcher.conf" "$ETC/launcher.conf"
    local f
    for f in "${NGINX_FILES[@]}"; do put "$TMP/etc${f#*:}" "${f#*:}"; done
    put "$TMP/etc$SYSCONFDIR/logrotate.d/launcher" "$SYSCONFDIR/logrotate.d/launcher"
    install -m 0644 "$TMP/manifest" "$D$MANIFEST"
    # Drop-in directories of the upstreams (more pools, more ws daemons).
    install -d "$D$NGINX/launcher/api-upstream.d" "$D$NGINX/launcher/ws-upstream.d"

    # TLS, state and logs: made here (a staging root gets them without owners),
    # owned, with the users and the site's link, by install-system.sh on a
    # live install (the package's postinst runs the same script).
    local d
    for d in "$ETC/tls" "$STATE" "$STATE/icons" "$STATE/acme-plane" "$STATE/acme" "$STATE/imports" \
        "$STATE/imports/tmp" "$LOGS"; do
        install -d "$D$d"
    done
    if [ "$LIVE" = 1 ]; then
        bash "$REPO/conf/install-system.sh" "$ETC" "$STATE" "$LOGS" "$NGINX" "$REDIRECT_LISTEN"
    else
        note "DESTDIR or not root: no user created, nothing chown'ed, no sites-enabled link (the package's postinst runs install-system.sh)"
    fi
    if [ "$LIVE" = 1 ] && [ -d /run/systemd/system ]; then systemctl daemon-reload || true; fi
    note "installed under ${D:-/} (PREFIX=$PREFIX); next: launcher-admin setup (README \"Install\")"
}

# ----------------------------------------------------------- uninstall

# unput GEN DEST: remove a configuration file if it is what install wrote
# (its recorded sum, or the same as GEN, today's render).
unput() {
    local gen=$1 dst=$D$2
    rm -f "$dst.dist"
    [ -e "$dst" ] || return 0
    if cmp -s "$gen" "$dst" || unedited "$2"; then
        rm -f "$dst"
    else
        note "$2 was edited: kept"
    fi
}

do_uninstall() {
    local b u f
    if [ "$LIVE" = 1 ] && [ -d /run/systemd/system ]; then
        for u in "${UNITS[@]}"; do systemctl disable --now "$u" 2> /dev/null || true; done
    fi
    for b in "${BINS[@]}"; do rm -f "$D$PREFIX/bin/$b"; done
    for u in "${UNITS[@]}"; do rm -f "$D$SYSTEMDUNITDIR/$u"; done
    render_all "$TMP/etc"
    unput "$TMP/etc$ETC/launcher.conf" "$ETC/launcher.conf"
    for f in "${NGINX_FILES[@]}"; do unput "$TMP/etc${f#*:}" "${f#*:}"; done
    unput "$TMP/etc$SYSCONFDIR/logrotate.d/launcher" "$SYSCONFDIR/logrotate.d/launcher"
    rm -rf "$D$SHARE" "$D$AGENT_ROOT"
    if [ -L "$D$NGINX/sites-enabled/launcher" ] && [ ! -e "$D$NGINX/sites-available/launcher" ]; then
        rm -f "$D$NGINX/sites-enabled/launcher"
    fi
    rmdir "$D$NGINX/launcher/api-upstream.d" "$D$NGINX/launcher/ws-upstream.d" "$D$NGINX/launcher" 2> /dev/null || true
    if [ "$LIVE" = 1 ] && [ -d /run/systemd/system ]; then systemctl daemon-reload || true; fi
    note "uninstalled; kept: $STATE, $LOGS, the secrets in $ETC, the users launcher and launcher-agent"
}

case $MODE in
    install) do_install ;;
    uninstall) do_uninstall ;;
    *) die "usage: install.sh {install|uninstall}" ;;
esac
