#!/usr/bin/env bash
# tests/ops/test_docker.sh [BUILD] — README "Containers (docker/)": the
# plane image and the compose stack, built and run here with Podman and
# Debian's docker-compose (no image registry: the base comes from debootstrap).
#
#   1. the base: the cached Debian 12 minbase rootfs (tests/fixtures/rootfs.sh
#      ensure_base, the tar of tests/fixtures/dbimages.sh's cache, taken under
#      its lock) without the package lists and .debs (as the official image),
#      imported as docker.io/library/debian:12, the Dockerfiles' FROM, into a
#      private Podman store (/var/tmp/launcher-docker, under an
#      flock of its .lock; the store keeps the layer cache between runs).
#   2. make vendor (nothing when make made it), then podman build of
#      docker/postgres/Dockerfile and docker/Dockerfile (the repository's
#      root as the context, .dockerignore applied); the plane
#      image's size is printed ("# image size ...").
#   3. a Podman API service on a private socket; docker-compose (DOCKER_HOST)
#      up -d of docker/compose.yaml with its own project name, loopback ports
#      and a fresh postgres_password secret file; waits for /healthz through
#      the plane's nginx (HTTPS).
#   4. checks: the smoke test through nginx over HTTPS (register on the first
#      tenant, create a project, GET /auth/me); the plane's FastCGI processes
#      run as launcher and nothing of the plane but nginx's master as root;
#      plain HTTP redirects to HTTPS; launcher-admin doctor passes;
#      the etc volume's master key and pgpass are 0600 launcher; no layer of
#      the image (podman save, each layer's tar) holds a .git, a test file,
#      a source, a key, pgpass or password file, or a private key PEM; the
#      history's commands name no secret.
#      After `docker-compose restart plane` (setup runs again) the same
#      session token still answers GET /auth/me.
#   5. docker-compose down -v, the service stopped, the work directory
#      removed (also on failure or interrupt); the images stay (the cache).
#
# One "ok <what>" / "FAIL <what>: why" line per check, last
# "test_docker: N passed, M failed"; exit 1 on any failure.  Progress (with
# the time of each step) goes to stderr as "# ..." lines.
# Env: DOCKER_TEST_KEEP=1 leaves the compose stack and the service running
# (their names are printed) to look at after a failure.

set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1
REPO=$PWD
NAME=test_docker
TENANT=default

# shellcheck source=tests/ops/report.sh
. tests/ops/report.sh

# ------------------------------------------------------------ the store
LOG_PREFIX=$NAME
LABEL=launcher.docker
SUITE=bookworm
MIRROR=${LAUNCHER_DEBIAN_MIRROR:-http://deb.debian.org/debian}
PATH_ENV=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
CACHE=/var/tmp/launcher-docker
STORE=$CACHE/store
DB_CACHE=/var/tmp/launcher-dbimages
PLANE_IMAGE=localhost/launcher/plane:latest
PG_IMAGE=localhost/launcher/postgres:15-compose
sha() { sha256sum | cut -d' ' -f1; }
# shellcheck source=tests/fixtures/engine.sh
. tests/fixtures/engine.sh
# shellcheck source=tests/fixtures/rootfs.sh
. tests/fixtures/rootfs.sh
# (engine.sh's die ends the script: here a failure is a FAIL line first)
die() { bad setup "$*"; finish; }

for pkg in docker-compose podman runc netavark aardvark-dns; do ensure_pkg "$pkg"; done

install -d -m 0755 "$CACHE" "$CACHE/base" "$DB_CACHE"
cache_lock
PROJECT=launcher-test-$$
SOCK=$WORK/podman.sock
SVC_PID=""
COMPOSE_UP=0
export DOCKER_HOST=unix://$SOCK COMPOSE_PROJECT_NAME=$PROJECT

compose() { docker-compose -f "$REPO/docker/compose.yaml" "$@"; }

cleanup() {
    if [ "${DOCKER_TEST_KEEP:-0}" = 1 ]; then
        note "kept: DOCKER_HOST=$DOCKER_HOST COMPOSE_PROJECT_NAME=$PROJECT (service pid $SVC_PID, work $WORK)"
        return
    fi
    if [ "$COMPOSE_UP" = 1 ]; then
        compose down -v --remove-orphans > "$WORK/down.log" 2>&1 || cat "$WORK/down.log" >&2
    fi
    if [ -n "$SVC_PID" ]; then
        kill "$SVC_PID" 2> /dev/null
        wait "$SVC_PID" 2> /dev/null
    fi
    unmount_under "$WORK" && rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

store_init
# Containers get rlimits no higher than this machine's hard limits (runc
# cannot raise them), their output in files (no journald), and a subnet
# pool of their own (other Podmans of the machine cut theirs from others).
cat >> "$CACHE/store-conf/containers.conf" <<EOF

[containers]
default_ulimits = ["nofile=$(ulimit -Hn):$(ulimit -Hn)", "nproc=4096:4096"]
log_driver = "k8s-file"
EOF
sed -i '/^network_config_dir/a default_subnet_pools = [{"base" = "10.96.0.0/16", "size" = 24}]' \
    "$CACHE/store-conf/containers.conf"

# The base: dbimages.sh's rootfs tar (made by ensure_base under its lock
# when it has none of this key), linked into our cache, then imported when
# the store's debian:12 is not of its key.
note "base"
(
    CACHE=$DB_CACHE
    die() { log "error: $*"; exit 1; }
    flock -w 1800 8 || die "$DB_CACHE/.lock is held by another run"
    ensure_base "$DB_CACHE/base"
    rm -f "$WORK/base.tar"
    ln "$DB_CACHE/base/rootfs.tar" "$WORK/base.tar" 2> /dev/null || cp "$DB_CACHE/base/rootfs.tar" "$WORK/base.tar"
    printf '%s\n' "$BASE_KEY" > "$WORK/base.key"
) 8>> "$DB_CACHE/.lock" || die "no base rootfs"
# Trimmed as the official image is: no package lists, no downloaded .debs
# (apt-get update in a build fetches the lists again).  Made once per base.
SLIM_KEY="$(cat "$WORK/base.key") slim 1"
if [ "$(cat "$CACHE/base/key" 2> /dev/null)" != "$SLIM_KEY" ] || [ ! -s "$CACHE/base/rootfs.tar" ]; then
    tar -tf "$WORK/base.tar" | grep -E '^\./var/(lib/apt/lists|cache/apt)/.*[^/]$' > "$WORK/trim" || true
    cp "$WORK/base.tar" "$WORK/slim.tar" && tar --delete -f "$WORK/slim.tar" -T "$WORK/trim" ||
        die "cannot trim the base tar"
    mv -f "$WORK/slim.tar" "$CACHE/base/rootfs.tar"
    printf '%s\n' "$SLIM_KEY" > "$CACHE/base/key"
fi
store_import base docker.io/library/debian:12 "LABEL launcher.base=$(printf '%s' "$SLIM_KEY" | sha)" \
    'CMD ["bash"]'

# ------------------------------------------------------------ the images
# The dashboard's vendored code is the context's (a no-op when make made it).
make -s vendor > "$WORK/vendor.log" 2>&1 || die "make vendor: $(first_lines "$(cat "$WORK/vendor.log")")"
note "build $PG_IMAGE"
if ! store_podman build --runtime runc --format docker --layers -f docker/postgres/Dockerfile \
        -t "$PG_IMAGE" . > "$WORK/build-pg.log" 2>&1; then
    die "podman build of docker/postgres/Dockerfile: $(first_lines "$(cat "$WORK/build-pg.log")")"
fi
note "build $PLANE_IMAGE"
if ! store_podman build --runtime runc --format docker --layers --jobs 2 -f docker/Dockerfile \
        -t "$PLANE_IMAGE" . > "$WORK/build.log" 2>&1; then
    die "podman build of docker/Dockerfile: $(first_lines "$(cat "$WORK/build.log")")"
fi
ok "the images build (docker/Dockerfile, docker/postgres/Dockerfile)"
# What .dockerignore let into the build stage (its /src: the context as the
# build used it; from the layer cache, no work).  The tag stays: removing it
# would remove the build stage's layers, the next build's cache.
if store_podman build --runtime runc --format docker --layers --target build -f docker/Dockerfile \
        -t localhost/launcher/plane-build:latest . > "$WORK/build-check.log" 2>&1 &&
    ctx=$(store_podman run --rm --network none --entrypoint sh localhost/launcher/plane-build:latest -c \
        'cd /src && find . -path ./build -prune -o -print' 2>&1); then
    hits=$(printf '%s\n' "$ctx" | grep -E '(^|/)(\.git|tests|node_modules|secrets)(/|$)|\.(key|pem|crt)$|pgpass|password' | head -n 3)
    if [ -z "$hits" ] && printf '%s\n' "$ctx" | grep -qx './fcgi/bin/launcher_fcgi.c'; then
        ok "the build context (.dockerignore) holds no .git, tests/, node_modules, key or password file"
    else
        bad "the build context" "$(printf '%s ' $hits)"
    fi
else
    bad "the build context" "$(first_lines "$(cat "$WORK/build-check.log")") $ctx"
fi
size=$(store_podman image inspect --format '{{.Size}}' "$PLANE_IMAGE")
note "image size: $PLANE_IMAGE $((size / 1000000)) MB ($size bytes)"

# ------------------------------------------------------------ the stack
note "podman system service on $SOCK"
# (podman itself in the background, not a shell running it: $! is its pid)
CONTAINERS_CONF=$CACHE/store-conf/containers.conf CONTAINERS_STORAGE_CONF=$CACHE/store-conf/storage.conf \
    CONTAINERS_REGISTRIES_CONF=$CACHE/store-conf/registries.conf \
    podman system service --time 0 "unix://$SOCK" > "$WORK/service.log" 2>&1 &
SVC_PID=$!
for _ in $(seq 100); do
    [ "$(curl -s --unix-socket "$SOCK" http://d/_ping 2> /dev/null)" = OK ] && break
    kill -0 "$SVC_PID" 2> /dev/null || die "the Podman service ended: $(first_lines "$(cat "$WORK/service.log")")"
    sleep 0.1
done

read -r HTTPS_PORT HTTP_PORT <<< "$(/usr/bin/python3 tests/lib/ports.py 2)"
SECRET=$WORK/postgres_password
( umask 077; od -An -N24 -tx1 /dev/urandom | tr -d ' \n' > "$SECRET" )
export LAUNCHER_BIND=127.0.0.1 LAUNCHER_HTTPS_PORT=$HTTPS_PORT LAUNCHER_HTTP_PORT=$HTTP_PORT
export LAUNCHER_PUBLIC_URL=https://localhost:$HTTPS_PORT LAUNCHER_POSTGRES_PASSWORD_FILE=$SECRET
note "docker-compose up -d ($PROJECT, https://127.0.0.1:$HTTPS_PORT)"
COMPOSE_UP=1
if ! compose up -d --no-build > "$WORK/up.log" 2>&1; then
    die "docker-compose up: $(first_lines "$(cat "$WORK/up.log")")"
fi
BASE=https://127.0.0.1:$HTTPS_PORT
# wait_healthy — the status of GET /healthz through nginx: 200 as soon as it
# answers so, else the last one after 180 tries a second apart.
wait_healthy() {
    local code=000
    for _ in $(seq 180); do
        code=$(curl -sk -o /dev/null -w '%{http_code}' --max-time 2 "$BASE/healthz" 2> /dev/null)
        [ "$code" = 200 ] && break
        sleep 1
    done
    printf '%s' "$code"
}
code=$(wait_healthy)
if [ "$code" = 200 ]; then
    ok "the compose stack answers GET /healthz through nginx (HTTPS)"
else
    compose logs --no-color > "$WORK/logs.txt" 2>&1
    bad "GET /healthz" "HTTP $code after 180 s: $(first_lines "$(cat "$WORK/logs.txt")")"
fi
note "stack up"

# ------------------------------------------------------------ smoke test
# api METHOD PATH [BODY] [TOKEN] — "<status> <body>" of a call over HTTPS.
api_call() {
    local method=$1 path=$2 body=${3:-} token=${4:-}
    local -a args=(-sk -o "$WORK/resp" -w '%{http_code}' --max-time 20 -X "$method")
    [ -n "$body" ] && args+=(-H 'Content-Type: application/json' --data "$body")
    [ -n "$token" ] && args+=(-H @"$WORK/auth.h")
    curl "${args[@]}" "$BASE/$TENANT/api/v1$path" 2> /dev/null || true
}
json_get() { /usr/bin/python3 -c 'import json, sys; d = json.load(open(sys.argv[1])); print(eval("d" + sys.argv[2]))' "$@" 2> /dev/null; }

EMAIL=smoke-$$@example.com
code=$(api_call POST /auth/register \
    "{\"email\": \"$EMAIL\", \"password\": \"s3cret-Passw0rd!\", \"first_name\": \"Ada\", \"last_name\": \"Lovelace\"}")
token=$(json_get "$WORK/resp" '["data"]["token"]')
if [ "$code" = 201 ] && [ -n "$token" ]; then
    ok "register the first user (POST /$TENANT/api/v1/auth/register: 201)"
else
    bad "register" "HTTP $code: $(head -c 300 "$WORK/resp" 2> /dev/null)"
fi
printf 'Authorization: Bearer %s\n' "$token" > "$WORK/auth.h"
code=$(api_call POST /projects '{"name": "smoke", "display_name": "Smoke"}' yes)
if [ "$code" = 201 ] && [ "$(json_get "$WORK/resp" '["data"]["name"]')" = smoke ]; then
    ok "create a project (POST /projects: 201)"
else
    bad "create a project" "HTTP $code: $(head -c 300 "$WORK/resp" 2> /dev/null)"
fi
code=$(api_call GET /auth/me "" yes)
if [ "$code" = 200 ] && grep -q "\"$EMAIL\"" "$WORK/resp"; then
    ok "GET /auth/me answers the registered user"
else
    bad "GET /auth/me" "HTTP $code: $(head -c 300 "$WORK/resp" 2> /dev/null)"
fi

code=$(curl -s -o /dev/null -w '%{http_code} %{redirect_url}' --max-time 10 \
    "http://127.0.0.1:$HTTP_PORT/$TENANT/api/v1/auth/me" 2> /dev/null)
case $code in
    "301 https://127.0.0.1/$TENANT/api/v1/auth/me") ok "plain HTTP answers 301 to HTTPS" ;;
    *) bad "HTTP redirect" "got '$code'" ;;
esac
out=$(compose exec -T plane launcher-admin doctor 2>&1)
if printf '%s\n' "$out" | grep -qx 'doctor: no problem'; then
    ok "launcher-admin doctor passes in the plane container"
else
    bad "doctor" "$(printf '%s\n' "$out" | grep -v '^ok:' | tr '\n' ' ' | cut -c1-400)"
fi

# ------------------------------------------------------------ processes, volume
# "<user> <comm>" of every process in the plane container.
procs=$(compose exec -T plane sh -c 'for p in /proc/[0-9]*; do
    printf "%s %s\n" "$(stat -c %U "$p")" "$(cat "$p/comm")"; done' 2>&1)
fcgi_users=$(printf '%s\n' "$procs" | awk '$2 == "launcher-fcgi" { print $1 }' | sort -u | tr '\n' ' ')
root_procs=$(printf '%s\n' "$procs" | awk '$1 == "root" { print $2 }' | sort -u | tr '\n' ' ')
if [ "$fcgi_users" = "launcher " ]; then
    ok "the FastCGI pools run as launcher"
else
    bad "pool user" "launcher-fcgi processes run as: '$fcgi_users'"
fi
# As root: nginx's master, the supervisor (launcher-contai...), and the exec'd sh/stat/cat.
extra=$(printf '%s' "$root_procs" | tr ' ' '\n' | grep -vxE '(nginx|launcher-conta.*|sh|stat|cat)?' | tr '\n' ' ')
if [ -z "$extra" ] && printf '%s\n' "$procs" | grep -qx 'www-data nginx'; then
    ok "nothing of the plane runs as root but nginx's master and the supervisor (workers as www-data)"
else
    bad "root processes" "as root: $root_procs; all: $(printf '%s' "$procs" | sort -u | tr '\n' ',')"
fi
modes=$(compose exec -T plane stat -c '%n %a %U' /etc/launcher/master.key /etc/launcher/pgpass 2>&1)
if [ "$(printf '%s\n' "$modes" | awk '$2 == "600" && $3 == "launcher"' | wc -l)" = 2 ]; then
    ok "master.key and pgpass are made at the first start in the etc volume, 0600 launcher"
else
    bad "key files" "$(first_lines "$modes")"
fi

# A restart keeps everything: setup runs again (idempotent) on the same etc
# volume, so the token signed before still opens the session.
note "restart the plane"
compose restart plane > "$WORK/restart.log" 2>&1
code=$(wait_healthy)
code2=$(api_call GET /auth/me "" yes)
if [ "$code" = 200 ] && [ "$code2" = 200 ] && grep -q "\"$EMAIL\"" "$WORK/resp"; then
    ok "after a restart of the plane (setup again) the same session answers GET /auth/me"
else
    compose logs --no-color --tail 20 plane > "$WORK/logs.txt" 2>&1
    bad "restart" "healthz $code, /auth/me $code2: $(first_lines "$(cat "$WORK/logs.txt")")"
fi

# ------------------------------------------------------------ the image's content
# Layer by layer (podman save: one tar per layer), so that a file a later
# layer deletes is still seen: every path any layer holds, and any private
# key PEM in any layer's files; then the history's commands.
note "image content"
store_podman save --format docker-archive -o "$WORK/image.tar" "$PLANE_IMAGE" 2> "$WORK/save.err"
mkdir -p "$WORK/layers"
if [ -s "$WORK/image.tar" ] && tar -C "$WORK/layers" -xf "$WORK/image.tar" &&
    layers=$(/usr/bin/python3 -c 'import json, sys; print("\n".join(json.load(open(sys.argv[1]))[0]["Layers"]))' \
        "$WORK/layers/manifest.json") && [ -n "$layers" ]; then
    : > "$WORK/paths"
    pk=""
    nl=0
    while read -r layer; do
        nl=$((nl + 1))
        tar -tf "$WORK/layers/$layer" >> "$WORK/paths" || bad "layer $layer" "not a tar"
        # A PEM block (the header, then base64) in a file that is not a
        # program or library (libgnutls carries its self-test keys).
        rm -rf "$WORK/l" && mkdir "$WORK/l" && tar -C "$WORK/l" -xf "$WORK/layers/$layer" 2> /dev/null
        while IFS= read -r f; do
            [ "$(head -c 4 "$f" | od -An -tx1 | tr -d ' ')" = 7f454c46 ] && continue
            if grep -a -A1 -E -e '-----BEGIN [A-Z ]*PRIVATE KEY-----$' "$f" | grep -aqE '^[A-Za-z0-9+/=]{60,}$'; then
                pk="$pk ${f#"$WORK/l/"}"
            fi
        done < <(grep -rlaE -e '-----BEGIN [A-Z ]*PRIVATE KEY-----' "$WORK/l")
    done <<< "$layers"
    note "$nl layers, $(wc -l < "$WORK/paths") paths"
    hits=$(grep -E '(^|/)\.git(/|$)' "$WORK/paths" | head -n 3)
    if [ -z "$hits" ]; then ok "no .git in any layer"; else bad "no .git" "$(printf '%s ' $hits)"; fi
    hits=$(grep -E '(^|/)(tests|test_[a-z_]+\.(py|sh|c)|test_[a-z_]+)/?$|^(\./)?src(/|$)|/fcgi/(core|api|bin)/' \
        "$WORK/paths" | head -n 3)
    if [ -z "$hits" ]; then ok "no test files and no sources in any layer"; else bad "no test files" "$(printf '%s ' $hits)"; fi
    hits=$(grep -E '(^|/)([^/]*\.key|\.?pgpass|key\.pem|postgres_password)$' "$WORK/paths" | head -n 3)
    if [ -z "$hits$pk" ]; then
        ok "no key in any layer (no *.key, master key, pgpass, TLS key, password secret; no private key PEM)"
    else
        bad "no key" "paths: $(printf '%s ' $hits) PEM in:$pk"
    fi
else
    bad "image content" "podman save / its manifest: $(cat "$WORK/save.err")"
fi
hist=$(store_podman history --no-trunc --format '{{.CreatedBy}}' "$PLANE_IMAGE" 2>&1)
hits=$(printf '%s\n' "$hist" | grep -iE 'password|secret|passwd|PGPASS|master\.key|BEGIN .*PRIVATE' | head -n 2)
if [ -n "$hist" ] && [ -z "$hits" ]; then
    ok "no secret in the image's history (its build commands)"
else
    bad "history" "$(first_lines "$hits$hist")"
fi
rm -rf "$WORK/image.tar" "$WORK/layers"
note "image checks done"
finish
