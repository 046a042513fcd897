#!/usr/bin/env bash
# tests/ops/test_nginx_install.sh BUILD - the installed layout's nginx files
# (README "Install", "The edge: HTTPS, HSTS, listeners") under Debian's own
# /etc/nginx/nginx.conf: `make install DESTDIR=...` renders them, a copy of
# this host's /etc/nginx with the rendered files in place (paths moved under
# a work directory, listeners on free loopback ports) passes `nginx -t` and
# serves: port "80" answers 301 to HTTPS except the ACME challenge, HTTPS
# sends HSTS and no version, the plain-HTTP API listener answers without
# HSTS; an upgrade with HSTS_MAX_AGE=0 replaces the unedited conf.d file
# (its recorded sum) and HTTPS then has no HSTS; an edited file is kept
# (.dist beside it) by a later install and by uninstall; the defaults (no
# listen variable) give the loopback API listener; every path the plane
# writes is writable in its unit; the units verify.
# No pool runs: the API's answer is the 502 envelope, which is enough here.
set -u
cd "$(dirname "$0")/../.." || exit 1
BUILD=${1:-build}
NAME=test_nginx_install
# shellcheck source=tests/ops/report.sh
. tests/ops/report.sh

W=$(mktemp -d /var/tmp/launcher-nginx-install.XXXXXX)
# nginx's workers (www-data) read the static tree and the ACME files in it.
chmod 0755 "$W"
NGINX_PID=""
cleanup() {
    if [ -n "$NGINX_PID" ]; then kill -QUIT "$NGINX_PID" 2> /dev/null; wait "$NGINX_PID" 2> /dev/null; fi
    rm -rf "$W"
}
trap cleanup EXIT

read -r P80 P8080 P443 < <(python3 tests/lib/ports.py 3 | tr '\n' ' ')
D=$W/root
inst() {   # inst DESTDIR [VAR=VALUE...]: make install into DESTDIR
    local dest=$1
    shift
    env "$@" make -s --no-print-directory install BUILD="$BUILD" DESTDIR="$dest" \
        REDIRECT_LISTEN="127.0.0.1:$P80" HTTP_LISTEN="127.0.0.1:$P8080" HTTPS_LISTEN="127.0.0.1:$P443"
}
note "make install DESTDIR=$D"
if out=$(inst "$D" 2>&1); then ok "make install into a DESTDIR"; else bad "make install into a DESTDIR" "$(first_lines "$out")"; finish; fi
for f in etc/nginx/conf.d/launcher.conf etc/nginx/sites-available/launcher \
         etc/nginx/snippets/launcher-locations.conf etc/nginx/snippets/launcher-static.conf \
         etc/nginx/snippets/launcher-tls.conf etc/nginx/snippets/launcher-fastcgi-params.conf \
         etc/launcher/launcher.conf etc/logrotate.d/launcher usr/local/bin/launcher-fcgi \
         usr/local/share/launcher/sql/001_foundation.sql usr/local/share/launcher/static/index.html.gz \
         usr/local/lib/systemd/system/launcher-backup.timer \
         usr/local/lib/systemd/system/launcher-nginx-reload.path; do
    [ -e "$D/$f" ] || bad "installed $f" "missing"
done
ok "the tree has the programs, data, units and configuration"
expect "no placeholder left in the rendered files" \
    "$(grep -rl '@[A-Z][A-Z0-9_]*@' "$D/etc" "$D/usr/local/lib/systemd" | grep -v '\.dist$' || true)" ""
expect "no sites-enabled link and no owner change under a DESTDIR" \
    "$(find "$D" -path '*sites-enabled*' -o ! -user root -print | head -3)" ""
expect "launcher.conf has no user key (units run as launcher)" \
    "$(grep -c '^user *=' "$D/etc/launcher/launcher.conf")" "0"
expect "every plane unit runs as launcher" \
    "$(grep -L '^User=launcher$' "$D"/usr/local/lib/systemd/system/launcher-*.service | grep -v 'agent\|nginx-reload' || true)" ""
expect "no unit pulls in postgresql.service (After= only: the database may be remote)" \
    "$(grep -l '^Wants=.*postgresql' "$D"/usr/local/lib/systemd/system/* || true)" ""
expect "launcher-backup writes /var/backups/launcher, which install-system.sh creates (no optional '-' path)" \
    "$(grep -c '^ReadWritePaths=.* /var/backups/launcher$' "$D/usr/local/lib/systemd/system/launcher-backup.service"),$(grep -c 'BACKUPS" 0700 launcher launcher' conf/install-system.sh)" "1,1"
expect "the plane certificate's reload: the path unit watches plane-cert.pem, the service reloads as root, plane_reload_command is empty" \
    "$(grep -c '^PathChanged=/etc/launcher/tls/plane-cert.pem$' "$D/usr/local/lib/systemd/system/launcher-nginx-reload.path"),$(grep -c '^User=' "$D/usr/local/lib/systemd/system/launcher-nginx-reload.service"),$(grep -c '^ExecStart=.*nginx -t -q && systemctl reload nginx' "$D/usr/local/lib/systemd/system/launcher-nginx-reload.service"),$(grep -c '^plane_reload_command *= *[^ ]' "$D/etc/launcher/launcher.conf")" \
    "1,0,1,0"
# Every path a plane program writes (launcher.conf's value, or the
# commented default shown there) is under its unit's RuntimeDirectory= or
# ReadWritePaths= (ProtectSystem=strict makes the rest read-only).
writable() {   # writable UNIT: the unit's writable roots, one a line
    sed -n 's/^ReadWritePaths=//p; s|^RuntimeDirectory=|/run/|p' \
        "$D/usr/local/lib/systemd/system/launcher-$1.service" | tr ' ' '\n' | sed 's/^-//; /^$/d'
}
confval() {    # confval KEY: its value in the installed launcher.conf
    sed -n "s/^#\{0,1\}$1 *= *\"\{0,1\}\([^\"]*\)\"\{0,1\} *$/\1/p" "$D/etc/launcher/launcher.conf" | head -n1
}
miss=""
for kw in listen:fcgi,fcgi-ingest ingest_listen:fcgi-ingest ws_listen:ws eventquota_file:fcgi,fcgi-ingest \
          fcgi_state_file:fcgi icons_dir:fcgi imports_dir:fcgi,fcgi-ingest,backup \
          plane_acme_webroot:dnscheck plane_acme_dir:dnscheck plane_tls_cert:dnscheck plane_tls_key:dnscheck \
          dnscheck_lock_file:dnscheck backup_lock_file:backup notify_lock_file:notify issues_lock_file:issues \
          plane_backup_destination_file:backup; do
    key=${kw%%:*} path=$(confval "${kw%%:*}")
    [ -n "$path" ] || { miss="$miss $key(no value)"; continue; }
    IFS=, read -r -a units <<< "${kw#*:}"
    for u in "${units[@]}"; do
        under=0
        while read -r w; do
            case $path in "$w" | "$w"/*) under=1 ;; esac
        done < <(writable "$u")
        [ "$under" = 1 ] || miss="$miss $key=$path($u)"
    done
done
expect "every path the plane writes is under its unit's RuntimeDirectory or ReadWritePaths" "$miss" ""
expect "every API fastcgi_pass goes through upstream launcher_api" \
    "$(grep -h 'fastcgi_pass ' "$D/etc/nginx/snippets/launcher-locations.conf" | grep -v 'launcher_api\|ingest.sock' || true)" ""

# A copy of Debian's /etc/nginx with the rendered files, every path under $W.
P=$W/prefix
mkdir -p "$P/log" "$P/etc" "$P/lib"
cp -a /etc/nginx "$P/etc/"
cp -a "$D/etc/nginx/." "$P/etc/nginx/"
cp -a "$D/etc/launcher" "$P/etc/"
cp -a "$D/var/lib/launcher" "$P/lib/launcher"
# The owners a live install sets (/var/lib/launcher: launcher:www-data 0750).
chgrp www-data "$P/lib/launcher"
ln -s /usr/lib/nginx/modules "$P/modules"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 -subj /CN=localhost \
    -keyout "$P/etc/launcher/tls/key.pem" -out "$P/etc/launcher/tls/cert.pem" 2> /dev/null
relocate() {   # relocate FILE...: the installed paths moved under $P
    sed -i -e "s|/etc/nginx|$P/etc/nginx|g" -e "s|/etc/launcher|$P/etc/launcher|g" \
        -e "s|/var/log/nginx|$P/log|g" -e "s|/var/lib/launcher|$P/lib/launcher|g" \
        -e "s|/run/nginx.pid|$P/nginx.pid|" -e "s|/usr/local/share|$D/usr/local/share|g" "$@"
}
mapfile -d '' -t files < <(grep -rlZ -e /etc/nginx -e /etc/launcher -e /var/ -e /run/nginx.pid \
    -e /usr/local/share "$P/etc/nginx")
relocate "${files[@]}"
rm -f "$P/etc/nginx/sites-enabled/"*
ln -s "$P/etc/nginx/sites-available/default" "$P/etc/nginx/sites-enabled/default"
sed -i "s|listen 80 default_server|listen 127.0.0.1:$P80 default_server|; s|listen \[::\]:80 default_server;||" \
    "$P/etc/nginx/sites-available/default"
ln -s "$P/etc/nginx/sites-available/launcher" "$P/etc/nginx/sites-enabled/launcher"
NGX=(/usr/sbin/nginx -p "$P" -c "$P/etc/nginx/nginx.conf" -e "$P/log/error.log")
out=$("${NGX[@]}" -t 2>&1)
case $out in
    *"duplicate default server"*) ok "Debian's stock default site conflicts (make install removes its link)" ;;
    *) bad "Debian's stock default site conflicts" "$(first_lines "$out")" ;;
esac
rm -f "$P/etc/nginx/sites-enabled/default"
check "nginx -t with Debian's nginx.conf and the installed files" "${NGX[@]}" -t

"${NGX[@]}" -g 'daemon off;' > "$W/nginx.out" 2>&1 &
NGINX_PID=$!
for _ in $(seq 100); do
    curl -s -o /dev/null "http://127.0.0.1:$P80/" && break
    sleep 0.1
done

hdr() { curl -s -k -o /dev/null -D - "$@" | tr -d '\r'; }
h=$(hdr "http://127.0.0.1:$P80/some/path?x=1")
expect "port 80 answers 301 to HTTPS" "$(printf '%s\n' "$h" | sed -n '1s/^HTTP[^ ]* //p' | cut -c1-3)" "301"
expect "the redirect keeps host, path and query" "$(printf '%s\n' "$h" | sed -n 's/^Location: //Ip')" \
    "https://127.0.0.1/some/path?x=1"
mkdir -p "$P/lib/launcher/acme-plane/.well-known/acme-challenge"
printf 'tok.thumb' > "$P/lib/launcher/acme-plane/.well-known/acme-challenge/tok"
expect "port 80 serves the ACME challenge, not a redirect" \
    "$(curl -s "http://127.0.0.1:$P80/.well-known/acme-challenge/tok")" "tok.thumb"
h=$(hdr "https://127.0.0.1:$P443/healthz")
expect "HTTPS: the API without a pool is the 502 envelope" "$(printf '%s\n' "$h" | sed -n '1s/^HTTP[^ ]* //p' | cut -c1-3)" "502"
expect "HTTPS answers carry HSTS (a year)" "$(printf '%s\n' "$h" | sed -n 's/^Strict-Transport-Security: //Ip')" \
    "max-age=31536000"
expect "no nginx version in Server" "$(printf '%s\n' "$h" | sed -n 's/^Server: //Ip')" "nginx"
h=$(hdr "https://127.0.0.1:$P443/openapi.json")
expect "HTTPS static files (own add_header) carry HSTS too" \
    "$(printf '%s\n' "$h" | sed -n 's/^Strict-Transport-Security: //Ip')" "max-age=31536000"
expect "the dashboard is served from the installed static tree" \
    "$(curl -s -k -o /dev/null -w '%{http_code} %{content_type}' "https://127.0.0.1:$P443/")" "200 text/html; charset=utf-8"
h=$(hdr "http://127.0.0.1:$P8080/healthz")
expect "the plain-HTTP API listener answers on loopback" "$(printf '%s\n' "$h" | sed -n '1s/^HTTP[^ ]* //p' | cut -c1-3)" "502"
expect "the plain-HTTP API listener sends no HSTS" "$(printf '%s\n' "$h" | grep -ci '^Strict-Transport-Security' || true)" "0"

# An upgrade whose render changed (HSTS_MAX_AGE=0 through make install): the
# unedited conf.d/launcher.conf is replaced (its recorded sum), no .dist.
out=$(inst "$D" HSTS_MAX_AGE=0 2>&1) || bad "make install HSTS_MAX_AGE=0" "$(first_lines "$out")"
expect "an upgrade replaces an unedited file whose render changed (no .dist)" \
    "$(grep -c 'max-age=' "$D/etc/nginx/conf.d/launcher.conf"),$([ -e "$D/etc/nginx/conf.d/launcher.conf.dist" ] && echo dist)" "0,"
cp "$D/etc/nginx/conf.d/launcher.conf" "$P/etc/nginx/conf.d/launcher.conf"
relocate "$P/etc/nginx/conf.d/launcher.conf"
if "${NGX[@]}" -t > /dev/null 2>&1 && kill -HUP "$NGINX_PID"; then
    h=""
    for _ in $(seq 100); do   # until the new workers answer
        h=$(hdr "https://127.0.0.1:$P443/healthz")
        printf '%s\n' "$h" | grep -qi '^Strict-Transport-Security' || break
        sleep 0.1
    done
    expect "make install HSTS_MAX_AGE=0: HTTPS answers carry no HSTS" \
        "$(printf '%s\n' "$h" | grep -ci '^Strict-Transport-Security' || true),$(printf '%s\n' "$h" | sed -n '1s/^HTTP[^ ]* //p' | cut -c1-3)" "0,502"
else
    bad "make install HSTS_MAX_AGE=0: nginx reloads" "nginx -t or HUP failed"
fi

# An operator's edit survives a second install and uninstall.
echo "# edited" >> "$D/etc/nginx/sites-available/launcher"
echo "workers = 9" >> "$D/etc/launcher/launcher.conf"
echo "# edited" >> "$D/etc/nginx/conf.d/launcher.conf"
out=$(inst "$D" 2>&1) || bad "a second make install" "$(first_lines "$out")"
expect "an upgrade keeps an edited file whose render changed and writes .dist beside it" \
    "$(tail -n1 "$D/etc/nginx/conf.d/launcher.conf"),$(grep -c 'max-age=31536000' "$D/etc/nginx/conf.d/launcher.conf.dist")" \
    "# edited,1"
expect "a second install keeps the edited site and writes .dist beside it" \
    "$(tail -n1 "$D/etc/nginx/sites-available/launcher"),$([ -s "$D/etc/nginx/sites-available/launcher.dist" ] && echo dist)" \
    "# edited,dist"
expect "and keeps the edited launcher.conf (.dist beside it)" \
    "$(tail -n1 "$D/etc/launcher/launcher.conf"),$([ -s "$D/etc/launcher/launcher.conf.dist" ] && echo dist)" \
    "workers = 9,dist"
# RUNDIR differs from the install's: today's render of the snippets differs,
# their recorded sums still say "unedited".
out=$(make -s --no-print-directory uninstall BUILD="$BUILD" DESTDIR="$D" REDIRECT_LISTEN="127.0.0.1:$P80" \
    HTTP_LISTEN="127.0.0.1:$P8080" HTTPS_LISTEN="127.0.0.1:$P443" RUNDIR=/run/launcher-other 2>&1) ||
    bad "make uninstall" "$(first_lines "$out")"
expect "uninstall removes programs, data, units and unedited files (recorded sums), keeps edited ones and the state" \
    "$(cd "$D" && find . -type f | LC_ALL=C sort | tr '\n' ' ')" \
    "./etc/launcher/launcher.conf ./etc/nginx/conf.d/launcher.conf ./etc/nginx/sites-available/launcher "

# The units, as systemd reads them (paths moved under the DESTDIR).
if command -v systemd-analyze > /dev/null 2>&1; then
    U=$W/units
    # The defaults: no listen variable at all.
    make -s --no-print-directory install BUILD="$BUILD" DESTDIR="$W/root2" > /dev/null 2>&1
    expect "make install's default plain-HTTP API listener is 127.0.0.1:8080 only" \
        "$(grep -c '^ *listen 127\.0\.0\.1:8080 default_server;' "$W/root2/etc/nginx/sites-available/launcher"),$(grep -c '^ *listen .*8080' "$W/root2/etc/nginx/sites-available/launcher")" "1,1"
    mkdir -p "$U"
    for u in "$W/root2"/usr/local/lib/systemd/system/*; do
        sed "s|/usr/local/bin/|$W/root2/usr/local/bin/|g" "$u" > "$U/${u##*/}"
    done
    out=$(cd "$U" && systemd-analyze verify --man=no ./*.service ./*.timer ./*.path 2>&1)
    expect "systemd-analyze verify: the units, timers and launcher-nginx-reload.path" "$out" ""
fi
finish
