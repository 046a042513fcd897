#!/usr/bin/env bash
# tests/ops/test_install.sh [BUILD] — README "Install": on a fresh Debian 12
# container (tests/fixtures/installroot.sh: a debootstrap minbase rootfs with
# the build and runtime packages, PostgreSQL and nginx; nothing of Launcher),
# `make install && launcher-admin setup` gives a working plane behind nginx
# over HTTPS, with the pool not running as root, and `launcher-admin doctor`
# sees what an operator breaks.
#
#   1. the working tree (git ls-files: tracked and untracked, not ignored) is
#      copied into the container, with the dashboard's vendored code already
#      built (build/static/vendor, build/npm-vendor: no npm, no network); not
#      build/bin: the container compiles. `make -j2 install` as root.
#   2. PostgreSQL's cluster is made and started (pg_createcluster, as the
#      package's postinst does on a machine), then `launcher-admin setup`
#      (and once more: it is idempotent).
#   3. no systemd in the container: each installed unit of the plane
#      (launcher-*.service but the agent) is started the way systemd would,
#      from its own lines (start_unit, tests/ops/container.sh: User=,
#      RuntimeDirectory=, ExecStartPre=, ExecStart= ...); a Type=oneshot
#      unit (a timer's) runs once and must exit 0. Then nginx with Debian's
#      /etc/nginx/nginx.conf.
#   4. checks: HTTPS on 443 with the setup's self-signed certificate (curl
#      --cacert, the name from its subjectAltName): GET /healthz, register the
#      first user, GET /auth/me with its token; HTTP on 80 redirects to HTTPS;
#      every launcher-fcgi process (master and workers) runs as `launcher`;
#      no process of the plane runs as root but nginx's master; the key
#      file is 0600 launcher; `launcher-admin doctor` exits 0; after chmod
#      0644 of the master key it exits 1 naming the key file; with the
#      site's nginx config broken too it exits 1 listing both; with both put
#      back it exits 0 again.
#
# The container runs with --network none (nothing is downloaded at run time)
# in the fixture's private Podman store, and is removed at the end (also on
# failure or interrupt). One "ok <what>" / "FAIL <what>: why" line per
# check, last "test_install: N passed, M failed"; exit 1 on any failure.
# Progress (with the time of each step) goes to stderr as "# ..." lines.
#
# BUILD (tests/ops/run.sh passes it) is not used: the container compiles.
# Env: INSTALL_TEST_KEEP=1 keeps the container (its name is printed) to
# look at after a failure: remove it with the podman command printed.

set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1
NAME=test_install
UNITDIR=/usr/local/lib/systemd/system
CONF=/etc/launcher/launcher.conf
KEY=/etc/launcher/master.key
TENANT=default

# shellcheck source=tests/ops/report.sh
. tests/ops/report.sh

[ "$(id -u)" = 0 ] || { bad "setup of the test" "run as root (podman, the fixture's chroot)"; finish; }

# ------------------------------------------------------------- the fixture

note "fixture: tests/fixtures/installroot.sh"
if ! fixture=$(bash tests/fixtures/installroot.sh); then
    bad "fixture" "tests/fixtures/installroot.sh failed (see above)"
    finish
fi
eval "$fixture"
: "${FIXTURE_INSTALLROOT_IMAGE:?}" "${FIXTURE_INSTALLROOT_CONF:?}"
# shellcheck source=tests/ops/container.sh
. tests/ops/container.sh

container_work test-install

# sh_c SCRIPT — a bash script in the container, its output on stdout.
sh_c() { in_c bash -c "$1"; }

CONTAINER=launcher-test-install-$$
if ! out=$(container_run); then
    bad "container" "podman run of $FIXTURE_INSTALLROOT_IMAGE failed: $(first_lines "$out")"
    finish
fi
note "container $CONTAINER of $FIXTURE_INSTALLROOT_IMAGE (--network none)"

# ------------------------------------------------------- make install

out=$(copy_tree /src) || { bad "source" "$out"; finish; }
note "tree copied"

if out=$(sh_c 'cd /src && make -j2 install' 2>&1); then
    ok "make -j2 install in a fresh Debian 12 container"
else
    printf '%s\n' "$out" | tail -n 20 >&2
    bad "make -j2 install in a fresh Debian 12 container" "$(first_lines "$(printf '%s\n' "$out" | grep -iE 'error|\*\*\*' | tail -n 5)")"
    finish
fi
note "make install done"

# ------------------------------------------------------------- setup

if ! out=$(sh_c 'pg_createcluster 15 main --start' 2>&1); then
    bad "PostgreSQL" "pg_createcluster 15 main --start: $(first_lines "$out")"
    finish
fi
if out=$(in_c launcher-admin setup 2>&1); then
    ok "launcher-admin setup"
    printf '%s\n' "$out" | tail -n 14 | sed 's/^/#   /' >&2
else
    bad "launcher-admin setup" "exit $?: $(first_lines "$out")"
    finish
fi
if out=$(in_c launcher-admin setup 2>&1); then
    ok "launcher-admin setup again (idempotent)"
else
    bad "launcher-admin setup again (idempotent)" "exit $?: $(first_lines "$out")"
fi
got=$(in_c stat -c '%a %U' "$KEY" 2>&1)
if [ "$got" = "600 launcher" ]; then
    ok "$KEY is 0600 launcher"
else
    bad "$KEY is 0600 launcher" "$got"
fi
note "setup done"

# ------------------------------------------------------------ the units

declare -A PIDS=()
while read -r kind n res; do
    case $kind in
        started) PIDS[$n]=$res ;;
        oneshot)
            if [ "$res" = 0 ]; then
                ok "unit $n (oneshot) exits 0"
            else
                bad "unit $n (oneshot) exits 0" "exit $res: $(first_lines "$(in_c tail -n 5 "/var/log/unit-$n.log")")"
            fi ;;
        *) bad "unit ${n%:} starts" "$(first_lines "$res")" ;;
    esac
done < <(start_units "$UNITDIR" '^launcher-(agent|nginx-reload)$')
[ "${#PIDS[@]}" -gt 0 ] || { bad "units" "no launcher-*.service started from $UNITDIR"; finish; }
note "units started: ${!PIDS[*]}"

# The sockets of nginx's upstreams (the pools and ws listen on them when
# ready), 60 s at most.
# shellcheck disable=SC2016 # (expanded in the container)
missing=$(in_c bash -c 'socks=$(sed "s/#.*//" /etc/nginx/conf.d/launcher.conf /etc/nginx/sites-enabled/* 2> /dev/null |
        grep -oE "unix:[^ ;]+" | sed "s/^unix://; s/:\$//" | sort -u)
    for _ in $(seq 1 60); do
        m=""
        for s in $socks; do [ -S "$s" ] || m="$m $s"; done
        [ -n "$m" ] || break
        sleep 1
    done
    echo $m')
for n in "${!PIDS[@]}"; do
    if in_c kill -0 "${PIDS[$n]}" 2> /dev/null; then
        ok "unit $n runs (its ExecStart)"
    else
        bad "unit $n runs (its ExecStart)" "exited: $(first_lines "$(in_c tail -n 5 "/var/log/unit-$n.log")")"
    fi
done
[ -z "$missing" ] || bad "sockets of nginx's upstreams" "missing after 60 s:$missing"

# ---------------------------------------------------------------- nginx

if out=$(in_c nginx -t 2>&1) && out=$(in_c nginx 2>&1); then
    ok "nginx starts with Debian's nginx.conf and the installed site"
else
    bad "nginx starts with Debian's nginx.conf and the installed site" "$(first_lines "$out")"
fi
note "nginx started"

# The name of the setup's self-signed certificate (its subjectAltName).
CERT=$(in_c sh -c "sed -n 's/^[[:space:]]*tls_cert_file[[:space:]]*=[[:space:]]*//p' $CONF" | tail -n 1)
CERT=${CERT:-/etc/launcher/tls/cert.pem}
in_c cat "$CERT" > "$WORK/cert.pem" 2> /dev/null
HOST=$(openssl x509 -in "$WORK/cert.pem" -noout -ext subjectAltName 2> /dev/null |
    grep -oE 'DNS:[^, ]+' | head -n 1 | sed 's/^DNS://')
[ -n "$HOST" ] || HOST=$(openssl x509 -in "$WORK/cert.pem" -noout -subject -nameopt multiline 2> /dev/null |
    sed -n 's/^ *commonName *= *//p')
if [ -z "$HOST" ]; then
    bad "the setup's TLS certificate" "no certificate (or no name in it) at $CERT"
    HOST=localhost
fi
in_c install -m 0644 "$CERT" /tmp/plane-ca.pem < /dev/null

# curl_c ARGS... — curl in the container to https://$HOST (127.0.0.1),
# trusting only the setup's certificate; prints the body then "\n<status>".
curl_c() {
    in_c curl -sS --max-time 30 --cacert /tmp/plane-ca.pem \
        --resolve "$HOST:443:127.0.0.1" --resolve "$HOST:80:127.0.0.1" \
        -w '\n%{http_code}' "$@" 2>&1
}
status_of() { printf '%s' "$1" | tail -n 1; }
body_of() { printf '%s' "$1" | sed '$d'; }

r=$(curl_c "https://$HOST/healthz")
if [ "$(status_of "$r")" = 200 ]; then
    ok "GET https://$HOST/healthz through nginx (the setup's certificate) 200"
else
    bad "GET https://$HOST/healthz through nginx (the setup's certificate) 200" "$(first_lines "$r")"
fi

pw="install test $$ $RANDOM$RANDOM"
email=ops-$$@example.com
body=$(EMAIL=$email PW=$pw python3 -c 'import json, os; print(json.dumps({"email": os.environ["EMAIL"], "password": os.environ["PW"], "first_name": "Ops", "last_name": "Test"}))')
r=$(printf '%s' "$body" | curl_c -X POST -H 'Content-Type: application/json' --data-binary @- \
    "https://$HOST/$TENANT/api/v1/auth/register")
token=$(body_of "$r" | python3 -c 'import json, sys; print(json.load(sys.stdin)["data"]["token"])' 2> /dev/null)
if [ "$(status_of "$r")" = 201 ] && [ -n "$token" ]; then
    ok "POST /$TENANT/api/v1/auth/register over HTTPS (the first user) 201 with a token"
else
    bad "POST /$TENANT/api/v1/auth/register over HTTPS (the first user) 201 with a token" "$(first_lines "$r")"
fi
r=$(printf 'header = "Authorization: Bearer %s"\n' "$token" |
    curl_c -K - "https://$HOST/$TENANT/api/v1/auth/me")
if [ "$(status_of "$r")" = 200 ] && body_of "$r" | grep -qF "\"$email\""; then
    ok "GET /$TENANT/api/v1/auth/me with the token 200, the user"
else
    bad "GET /$TENANT/api/v1/auth/me with the token 200, the user" "$(first_lines "$r")"
fi

r=$(in_c curl -sS --max-time 30 --resolve "$HOST:80:127.0.0.1" -o /dev/null \
    -w '%{http_code} %{redirect_url}' "http://$HOST/$TENANT/api/v1/auth/me" 2>&1)
case $r in
    30[1278]\ https://"$HOST"/*) ok "HTTP on 80 redirects to HTTPS ($r)" ;;
    *) bad "HTTP on 80 redirects to HTTPS" "got: $(first_lines "$r")" ;;
esac

# ------------------------------------------------------------ processes

in_c ps -eo user:20=,pid=,ppid=,comm=,args= > "$WORK/ps" 2>&1
pool=$(awk '$4 == "launcher-fcgi"' "$WORK/ps")
n_pool=$(printf '%s\n' "$pool" | grep -c . || true)
not_l=$(printf '%s\n' "$pool" | awk 'NF && $1 != "launcher"')
if [ "$n_pool" -ge 2 ] && [ -z "$not_l" ]; then
    ok "the pools' $n_pool launcher-fcgi processes (masters and workers) run as launcher"
else
    bad "the pools' launcher-fcgi processes (masters and workers) run as launcher" \
        "$n_pool processes; not launcher: $(first_lines "$not_l")"
fi
# Root processes: none but PID 1 (the container's sleep), the ps that
# lists them, and nginx's master.
root_plane=$(awk '$1 == "root" && $2 != 1 && $4 != "ps" && !($4 == "nginx" && $0 ~ /master process/)' "$WORK/ps")
if [ -z "$root_plane" ]; then
    ok "no process of the plane runs as root but nginx's master"
else
    bad "no process of the plane runs as root but nginx's master" "$(first_lines "$root_plane")"
fi

# --------------------------------------------------------------- doctor

# problems OUT — the lines of doctor's output that are not "ok: ...".
problems() { printf '%s\n' "$1" | grep -v '^ok'; }

out=$(in_c launcher-admin doctor 2>&1); st=$?
if [ "$st" = 0 ]; then
    ok "launcher-admin doctor exits 0 on the fresh install"
else
    bad "launcher-admin doctor exits 0 on the fresh install" "exit $st: $(first_lines "$(problems "$out")")"
fi

in_c chmod 0644 "$KEY"
out=$(in_c launcher-admin doctor 2>&1); st=$?
if [ "$st" = 1 ] && problems "$out" | grep -qF "$KEY"; then
    ok "doctor exits 1 naming $KEY after chmod 0644"
else
    bad "doctor exits 1 naming $KEY after chmod 0644" "exit $st: $(first_lines "$(problems "$out")")"
fi

# The site's config broken too: both in the list.
site=$(in_c sh -c 'readlink -f /etc/nginx/sites-enabled/launcher 2> /dev/null || echo /etc/nginx/sites-available/launcher')
in_c cp -p "$site" /tmp/site.orig
in_c sh -c "printf 'this is not nginx;\n' >> '$site'"
out=$(in_c launcher-admin doctor 2>&1); st=$?
if [ "$st" = 1 ] && problems "$out" | grep -qi 'nginx' && problems "$out" | grep -qF "$KEY"; then
    ok "doctor exits 1 listing nginx and $KEY after the site's config is broken too"
else
    bad "doctor exits 1 listing nginx and $KEY after the site's config is broken too" \
        "exit $st: $(first_lines "$(problems "$out")")"
fi
problems "$out" | sed 's/^/#   /' >&2

in_c cp -p /tmp/site.orig "$site"
in_c chmod 0600 "$KEY"
out=$(in_c launcher-admin doctor 2>&1); st=$?
if [ "$st" = 0 ]; then
    ok "doctor exits 0 again once both are put back"
else
    bad "doctor exits 0 again once both are put back" "exit $st: $(first_lines "$(problems "$out")")"
fi
note "done"

finish
