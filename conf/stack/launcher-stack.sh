#!/usr/bin/env bash
# launcher-stack.sh — run a complete local Launcher stack:
#   PostgreSQL 15 (unix socket only) + SMTP sink + a container engine (own
#   Podman API service, or the machine's Docker) + launcher-fcgi pool +
#   launcher-scheduler (the job queue's clock) + launcher-ws (WebSockets) + nginx
#   + a local launcher-agent (once built) + launcher-dnscheck (custom domains'
#   DNS checks and certificates, once built)
# with all state under one directory outside the repository.
#
# Usage: conf/stack/launcher-stack.sh {install|start|stop|restart|status|run|env}
#   install  apt-get install the missing Debian packages (root)
#   start    start the stack in the background (root; build first: make)
#   stop     stop exactly the processes recorded in <state>/run/*.pid,
#            and the containers of the stack's Podman
#   restart  stop, then start
#   status   show which processes are running and whether /healthz answers
#   run      install + start, follow the pool's log, stop on Ctrl-C/SIGTERM/SIGHUP
#            (also when its output is piped to a reader that Ctrl-C ends first:
#            make run 2>&1 | tee run.log)
#   env      print "export ..." lines describing the stack's layout:
#                eval "$(conf/stack/launcher-stack.sh env)"
#
# Settings (environment variables, defaults in brackets):
#   LAUNCHER_STATE_DIR    [/var/tmp/launcher-<md5(repo path):8>] all state
#   LAUNCHER_HTTP_PORT    [8080]   nginx, plain HTTP
#   LAUNCHER_HTTPS_PORT   [8443]   nginx, HTTPS (self-signed cert)
#   LAUNCHER_PG_PORT      [5488]   PostgreSQL (socket <state>/pg/sock only)
#   LAUNCHER_SMTP_PORT    [2525]   SMTP sink on 127.0.0.1
#   LAUNCHER_BIND         [127.0.0.1] address nginx listens on (0.0.0.0 = all)
#   LAUNCHER_HSTS_MAX_AGE [0]      Strict-Transport-Security max-age on HTTPS answers;
#                           0 = no header (a browser would remember it for localhost;
#                           the installed layout sends a year: README "The edge")
#   LAUNCHER_WORKERS      [2]      pool workers (1..64)
#   LAUNCHER_INGEST_WORKERS [8]    workers of the ingest pool (1..64): launcher-fcgi --ingest,
#                           under nice -n 10, on <state>/run/ingest.sock (Sentry SDK events;
#                           README "Error tracking: ingest")
#   LAUNCHER_WORKER_CPU_AFFINITY [auto] pool workers pinned to CPUs (auto|off)
#   LAUNCHER_NGINX_WORKERS [auto]  nginx worker_processes
#   LAUNCHER_BENCH        [false]  bench_routes (/_bench/ handlers)
#   LAUNCHER_LOG_LEVEL    [info]   application log_level
#   LAUNCHER_RATE_IP      [20r/s]  LAUNCHER_BURST_IP   [40]
#   LAUNCHER_RATE_KEY     [20r/s]  LAUNCHER_BURST_KEY  [40]
#   LAUNCHER_RATE_AUTH    [2r/s]   LAUNCHER_BURST_AUTH [10]
#   LAUNCHER_MAX_BODY     [1048576] bytes, nginx and application
#   LAUNCHER_IMPORT_MAX_BYTES [1073741824] largest database import (POST
#                           /databases/:id/import): nginx's import location and
#                           import_max_bytes
#   LAUNCHER_WS_CONN_IP   [64]     open WebSockets per client address (nginx limit_conn)
#   LAUNCHER_WS_UPSTREAM  [] host:port of a WebSocket daemon run elsewhere, behind
#                           /<tenant>/ws/; empty = the stack's own launcher-ws on
#                           <state>/run/ws.sock
#   LAUNCHER_BIN_DIR      [<repo>/build/bin] launcher-fcgi, launcher-admin
#   LAUNCHER_PG_BIN       [/usr/lib/postgresql/15/bin]
#   LAUNCHER_SCHEDULER_INTERVAL [60] launcher-scheduler's tick period (ticks fall on its multiples of the wall clock)
#   LAUNCHER_DNSCHECK_INTERVAL [60] seconds between launcher-dnscheck runs (its
#                           --loop; a POST /domains/:id/verify wakes it at once);
#                           0 = not started (tests/run.sh: 0, the tests run
#                           launcher-dnscheck --once themselves)
#   LAUNCHER_BACKUP_INTERVAL [60] seconds between launcher-backup runs (its --loop);
#                           0 = not started (tests/run.sh: 0, the tests run
#                           launcher-backup --once themselves)
#   LAUNCHER_NOTIFY_INTERVAL [60] launcher-notify's --loop interval (it also wakes on
#                           NOTIFY launcher_notify and when a retry falls due); 0 = not started
#   LAUNCHER_ISSUES_INTERVAL [1] launcher-issues' --loop interval (it also wakes on
#                           NOTIFY launcher_issues: an event queued into an empty queue;
#                           the interval bounds the lag of a missed wake); 0 = not started
#   LAUNCHER_ALERT_ALLOWED_HOSTS [] alert_allowed_hosts: loopback/private hosts alert
#                           channels may point at (tests/run.sh: 127.0.0.1)
#   LAUNCHER_ALERT_RETRY_BASE [30] alert_retry_base_seconds (tests/run.sh: 1)
#   LAUNCHER_ALERT_TIMEOUT [10] alert_timeout_seconds (tests/run.sh: 3)
#   LAUNCHER_DNS_SERVER   []       IPv4 address[:port] of the DNS server launcher-dnscheck
#                                  asks (dns_server); empty = /etc/resolv.conf's
#   LAUNCHER_ACME_DIRECTORY_URL [] ACME directory of the custom domains' (and the
#                                  plane's) certificates (acme_directory_url), e.g.
#                                  https://acme-staging-v02.api.letsencrypt.org/directory;
#                                  empty = no certificates: custom domains over plain HTTP
#   LAUNCHER_ACME_EMAIL   []       ACME account e-mail (acme_email)
#   LAUNCHER_ACME_CA_FILE []       PEM file that the ACME server's own TLS is verified
#                                  against (acme_ca_file: a private CA such as the
#                                  tests' pebble); empty = the system's CAs
#   LAUNCHER_PLANE_HOSTNAME []     the plane's public hostname (plane_hostname): once it
#                                  resolves to this machine, launcher-dnscheck gets it a
#                                  certificate from the ACME CA (HTTP-01 on the plain HTTP
#                                  port, files in <state>/acme-plane), writes it to
#                                  <state>/tls/plane-cert.pem + plane-key.pem, which
#                                  nginx serves for that name only (SNI), and reloads
#                                  nginx; localhost keeps the self-signed certificate
#   LAUNCHER_START_TIMEOUT [30]    seconds to wait for /healthz
#   LAUNCHER_KEEP_ON_FAIL [0]      1 = leave processes running when start fails
#   LAUNCHER_ENGINE       [auto]   container engine for the plane's containers:
#                           auto   = the Docker daemon if /var/run/docker.sock
#                                    answers /_ping (nothing started), else podman
#                           podman = always the stack's own Podman API service
#                           docker = /var/run/docker.sock, which must answer
#                           none   = no engine (and no local agent)
#   LAUNCHER_LOCAL_AGENT  [1]      start/run: register this machine as the server
#                                  "local" of the tenant and run <bin>/launcher-agent
#                                  (skipped with a note when it is not built); 0 = off
#                                  (tests/run.sh: 0, the tests run their own agent)
#   LAUNCHER_SUBNET_POOL []        the IPv4 pool (a.b.0.0/16) the stack's Podman cuts
#                                  its networks' /24 subnets from (Podman's default
#                                  10.89.0.0/16 when empty). Stacks running side by
#                                  side on one host need pools of their own: each
#                                  Podman only sees its own networks when it picks a
#                                  subnet, and the address allocation (ipam.db) is
#                                  keyed by network name, so two could hand out the
#                                  same addresses (tests/lib/throwaway_stack.sh).
#   LAUNCHER_IMAGE_STORES []       comma-separated directories the stack's Podman
#                                  reads images from besides its own storage
#                                  (additionalimagestores, read-only), e.g. the
#                                  database images' store of
#                                  tests/fixtures/dbimages.sh --store
#   LAUNCHER_DB_IMAGES    [auto]   the managed databases' engine images for the stack's Podman:
#                           auto = start/run build the image store
#                                  /var/tmp/launcher-dbimages/store with
#                                  tests/fixtures/dbimages.sh --store (PostgreSQL 15,
#                                  MariaDB 10.11, Redis 7 from Debian's packages,
#                                  tagged as conf/database-images.conf's images) when
#                                  it is absent or a recipe changed (cold cache: about
#                                  6.5 minutes on a 2-core machine; warm: seconds), and
#                                  the stack's Podman reads it (as LAUNCHER_IMAGE_STORES).
#                                  Nothing is built when LAUNCHER_IMAGE_STORES is set
#                                  (the operator's own store) or the engine is not
#                                  the stack's Podman (Docker: import once with
#                                  dbimages.sh --engine-socket /var/run/docker.sock)
#                           skip = nothing built: the images come from the operator's
#                                  own engine, registry or mirror (the image column of
#                                  the table). The tests' throwaway stacks use skip
#                                  (tests/run.sh passes the store itself)
#                                  LAUNCHER_DEBIAN_MIRROR [http://deb.debian.org/debian]
#                                  is the Debian mirror the build uses
#   LAUNCHER_IMAGE_MIRRORS [<repo>/conf/image-mirrors.conf]  the image mirror table
#                                  (image_mirrors_file: source-ref | replacement-ref;
#                                  re-read on the pool's SIGHUP). The tests' throwaway
#                                  stacks use <state>/image-mirrors.conf, which the
#                                  template and compose tests write
#   LAUNCHER_INSECURE_REGISTRIES []  comma-separated host:port of registries the
#                                  stack's Podman reaches over plain HTTP (insecure
#                                  = true in its registries.conf), e.g. the tests'
#                                  127.0.0.1:<port> (tests/lib/registry.sh)
# The plane version (x-plane-version on nginx's own error answers) is read
# from <repo>/VERSION, default 0.1.0.
#
# The stack's Podman: `podman system service` on <state>/podman/podman.sock
# (Docker-compatible API: GET /v1.41/_ping, /v1.41/containers/...; log
# log/podman.log), configured only by <state>/podman/containers.conf,
# storage.conf and registries.conf (rewritten on every start;
# /etc/containers/containers.conf, storage.conf and registries.conf are not
# read; drop-ins in /etc/containers/registries.conf.d/ still are). Its HOME
# is <state>/podman/home, so that the TLS registries it trusts besides the
# system's CAs are <state>/podman/home/.config/containers/certs.d/HOST:PORT/ca.crt
# (containers-certs.d(5), read at each pull; LAUNCHER_ENGINE_CERTS_DIR), not
# /etc/containers/certs.d, and no credentials of root's ~/.docker apply. Images
# and containers live in <state>/podman/storage, runtime state in
# <state>/podman/run. Containers are supervised by their own conmon process,
# not by the service: `stop` stops every running container (and ends the
# conmons Podman leaves behind) before it ends the service, so that nothing
# of a stopped stack keeps running (nothing is removed: the local agent
# starts its applications again on the next start). With no container
# running, `stop` also unmounts <state>/podman/storage/overlay, so that the
# state dir can be deleted.
# Outside the state dir, rootful netavark keeps its IP allocations in
# /run/containers/networks, adds iptables rules (NETAVARK* chains) for
# published ports and NAT, and turns on net.ipv4.ip_forward: shared by every
# rootful Podman on the machine.

set -euo pipefail
umask 022

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
REPO=$(cd "$SCRIPT_DIR/../.." && pwd -P)
PROG=${0}

SYS_PYTHON=/usr/bin/python3    # Debian's python3, the one with aiosmtpd
NGINX_BIN=/usr/sbin/nginx
# Debian's libnginx-mod-http-brotli-static (PACKAGES): nginx.conf loads it
# and static.conf turns brotli_static on only when this file exists.
BROTLI_MODULE=/usr/lib/nginx/modules/ngx_http_brotli_static_module.so
BROTLI=0
[ -e "$BROTLI_MODULE" ] && BROTLI=1
TENANT=default
TENANT_NAME=Default

PODMAN_BIN=/usr/bin/podman
DOCKER_SOCK=/var/run/docker.sock

# Rootful Podman on Debian 12 needs, besides podman itself: runc (podman
# depends on "crun | runc"; crun fails on hybrid cgroup v1/v2 hosts),
# netavark (else apt picks the older CNI plugins for podman's network stack)
# and iptables (netavark runs it for published ports and NAT; only a Suggests
# of podman). uidmap, slirp4netns and fuse-overlayfs are for rootless Podman
# only: the stack runs it as root with the kernel's overlay driver.
# aardvark-dns answers the names of containers on a project network (a database's
# internal_host); without it Podman networks have no DNS.
# iproute2 (ip) is not needed by Podman (netavark uses netlink itself); it is
# listed for the agent and for looking at the containers' bridge (podman0).
# libssl-dev: OpenSSL's libcrypto, which the pool (the JWT's HMAC) and the
# agent (its WebSocket handshake) link; named here, not left to arrive as a
# dependency of another -dev package.
# debootstrap: the managed databases' images (LAUNCHER_DB_IMAGES=auto).
# python3-cryptography: the tests' registry token server (tests/lib/token_server.py
# signs the RS256 tokens docker-registry verifies); named, not left to arrive
# with another package.
# lego: the ACME client of the agent and launcher-dnscheck (core/acme.c);
# pebble: the tests' ACME CA (tests/lib/pebble.sh); dnsmasq-base: the tests'
# authoritative DNS server (tests/lib/dnsmasq.py).
# radosgw ceph-mon ceph-osd: the tests' S3 server, a one-node Ceph on loopback
# (tests/lib/radosgw.sh).
# prometheus: only its promtool, which checks the plane's GET /metrics scrape
# (tests/api/test_plane_metrics.py); Debian packages it with the server.
# python3-sentry-sdk: one of the two unmodified Sentry SDKs the error
# tracking tests report with (tests/api/test_issues_sdk.py; the other is
# @sentry/node from npm, tests/tools).
# libyaml-dev: the one YAML reader and writer (fcgi/core/yaml.c: templates,
# compose files, the project export).
# libargon2-1: argon2id with MinIO's four lanes (libsodium has one), loaded by
# the MinIO bucket-store driver to read the admin API's encrypted answers
# (fcgi/core/bucketstore.c).
# nodejs npm: `make` installs the dashboard's third-party browser code with
# npm ci (static/vendor/package-lock.json; nothing runs in Node at run time).
# A nodejs built by NodeSource bundles npm (and conflicts with Debian's npm
# package): cmd_install counts npm as present when the command exists.
# brotli: the .br files of brotli_static (conf/stack/precompress.sh);
# libnginx-mod-http-brotli-static: nginx sends them (loaded when present).
# chromium: the browser the dashboard's tests drive (tests/browser, through
# playwright-core from npm, tests/tools), headless.
# lintian: make deb's package is checked with it (tests/ops/test_deb.sh).
# docker-compose: Debian's (Compose 1.29), which tests/ops/test_docker.sh runs
# against a Podman API service to bring up docker/compose.yaml.
# strace: tests/api/test_agent_install.py traces every execve of the agent's
# install command (no token in any argv).
PACKAGES=(build-essential pkg-config libfcgi-dev libpq-dev libcjson-dev libjwt-dev libssl-dev libyaml-dev
          libsodium-dev libidn2-dev libcurl4-openssl-dev zlib1g-dev libwebsockets-dev nginx-light postgresql-15
          postgresql-client-15 openssl python3 python3-aiosmtpd python3-websockets wrk curl
          podman runc netavark aardvark-dns iptables iproute2 clang libclang-rt-14-dev git busybox-static
          debootstrap python3-cryptography dnsmasq-base lego pebble
          radosgw ceph-mon ceph-osd prometheus python3-sentry-sdk libargon2-1
          nodejs npm brotli libnginx-mod-http-brotli-static chromium lintian strace docker-compose)

# Services in start order; stop goes in reverse. podman, ws, agent,
# dnscheck, backup, notify and issues are optional: they are started (and get a pid file)
# only when in use.
SERVICES=(postgres smtp podman fcgi ingest ws scheduler nginx agent dnscheck backup notify issues)
CORE_SERVICES=(postgres smtp fcgi ingest scheduler nginx)

# ------------------------------------------------------------------ output

# Output never fails the script: under `make run 2>&1 | tee log` the reader
# may be gone (Ctrl-C ends tee first) while the stack is being stopped.
say()  { printf '%s\n' "$*" 2>/dev/null || true; }
err()  { printf 'launcher-stack: %s\n' "$*" >&2 2>/dev/null || true; }
die()  { err "$@"; exit 1; }

# show_log FILE [LINES] — last lines of a log on stderr.
show_log() {
    local file=$1 n=${2:-30}
    if [ -s "$file" ]; then
        printf -- '----- %s (last %s lines) -----\n' "$file" "$n" >&2 2>/dev/null || true
        tail -n "$n" "$file" >&2 2>/dev/null || true
    else
        printf -- '----- %s: empty or missing -----\n' "$file" >&2 2>/dev/null || true
    fi
}

# ------------------------------------------------------------ configuration

default_state_dir() {
    printf '/var/tmp/launcher-%s' "$(printf '%s' "$REPO" | md5sum | cut -c1-8)"
}

is_uint() { [[ $1 =~ ^[0-9]+$ ]]; }

check_port() {
    local name=$1 val=$2
    { is_uint "$val" && [ "$val" -ge 1 ] && [ "$val" -le 65535 ]; } ||
        die "$name must be a TCP port number (got '$val')"
}

load_config() {
    STATE=${LAUNCHER_STATE_DIR:-$(default_state_dir)}
    STATE=${STATE%/}
    HTTP_PORT=${LAUNCHER_HTTP_PORT:-8080}
    HTTPS_PORT=${LAUNCHER_HTTPS_PORT:-8443}
    PG_PORT=${LAUNCHER_PG_PORT:-5488}
    SMTP_PORT=${LAUNCHER_SMTP_PORT:-2525}
    BIND=${LAUNCHER_BIND:-127.0.0.1}
    WORKERS=${LAUNCHER_WORKERS:-2}
    INGEST_WORKERS=${LAUNCHER_INGEST_WORKERS:-8}
    WORKER_CPU_AFFINITY=${LAUNCHER_WORKER_CPU_AFFINITY:-auto}
    NGINX_WORKERS=${LAUNCHER_NGINX_WORKERS:-auto}
    BENCH=${LAUNCHER_BENCH:-false}
    LOG_LEVEL=${LAUNCHER_LOG_LEVEL:-info}
    RATE_IP=${LAUNCHER_RATE_IP:-20r/s}
    BURST_IP=${LAUNCHER_BURST_IP:-40}
    WS_CONN_IP=${LAUNCHER_WS_CONN_IP:-64}
    RATE_KEY=${LAUNCHER_RATE_KEY:-20r/s}
    BURST_KEY=${LAUNCHER_BURST_KEY:-40}
    RATE_AUTH=${LAUNCHER_RATE_AUTH:-2r/s}
    BURST_AUTH=${LAUNCHER_BURST_AUTH:-10}
    MAX_BODY=${LAUNCHER_MAX_BODY:-1048576}
    IMPORT_MAX=${LAUNCHER_IMPORT_MAX_BYTES:-1073741824}
    WS_UPSTREAM=${LAUNCHER_WS_UPSTREAM:-}
    HSTS_MAX_AGE=${LAUNCHER_HSTS_MAX_AGE:-0}
    BIN_DIR=${LAUNCHER_BIN_DIR:-$REPO/build/bin}
    PG_BIN=${LAUNCHER_PG_BIN:-/usr/lib/postgresql/15/bin}
    START_TIMEOUT=${LAUNCHER_START_TIMEOUT:-30}
    ENGINE=${LAUNCHER_ENGINE:-auto}
    LOCAL_AGENT=${LAUNCHER_LOCAL_AGENT:-1}
    INSECURE_REGISTRIES=${LAUNCHER_INSECURE_REGISTRIES:-}
    INSECURE_REGISTRIES=${INSECURE_REGISTRIES// /}
    IMAGE_STORES=${LAUNCHER_IMAGE_STORES:-}
    SUBNET_POOL=${LAUNCHER_SUBNET_POOL:-}
    case $SUBNET_POOL in
        '' | [0-9]*.[0-9]*.0.0/16) ;;
        *) die "LAUNCHER_SUBNET_POOL must be an a.b.0.0/16 pool: $SUBNET_POOL" ;;
    esac
    DB_IMAGES=${LAUNCHER_DB_IMAGES:-auto}
    DB_IMAGES_STORE=/var/tmp/launcher-dbimages/store
    DNSCHECK_INTERVAL=${LAUNCHER_DNSCHECK_INTERVAL:-60}
    BACKUP_INTERVAL=${LAUNCHER_BACKUP_INTERVAL:-60}
    NOTIFY_INTERVAL=${LAUNCHER_NOTIFY_INTERVAL:-60}
    ISSUES_INTERVAL=${LAUNCHER_ISSUES_INTERVAL:-1}
    ALERT_ALLOWED_HOSTS=${LAUNCHER_ALERT_ALLOWED_HOSTS:-}
    ALERT_RETRY_BASE=${LAUNCHER_ALERT_RETRY_BASE:-30}
    ALERT_TIMEOUT=${LAUNCHER_ALERT_TIMEOUT:-10}
    DNS_SERVER=${LAUNCHER_DNS_SERVER:-}
    ACME_DIRECTORY_URL=${LAUNCHER_ACME_DIRECTORY_URL:-}
    ACME_EMAIL=${LAUNCHER_ACME_EMAIL:-}
    ACME_CA_FILE=${LAUNCHER_ACME_CA_FILE:-}
    PLANE_HOSTNAME=${LAUNCHER_PLANE_HOSTNAME:-}

    PLANE_VERSION=0.1.0
    if [ -s "$REPO/VERSION" ]; then
        PLANE_VERSION=$(tr -d ' \t\r\n' < "$REPO/VERSION")
    fi

    # Values end up in the nginx templates (conf/nginx/render.sh) and launcher.conf:
    # keep them to characters that need no quoting anywhere.
    [[ $STATE =~ ^/[A-Za-z0-9._/-]+$ && $STATE != *..* ]] ||
        die "LAUNCHER_STATE_DIR must be an absolute path of [A-Za-z0-9._/-] (got '$STATE')"
    [[ $REPO != *[\"$'\n']* ]] || die "the repository path contains a quote or newline: $REPO"
    check_port LAUNCHER_HTTP_PORT "$HTTP_PORT"
    check_port LAUNCHER_HTTPS_PORT "$HTTPS_PORT"
    check_port LAUNCHER_PG_PORT "$PG_PORT"
    check_port LAUNCHER_SMTP_PORT "$SMTP_PORT"
    [ "$(printf '%s\n' "$HTTP_PORT" "$HTTPS_PORT" "$SMTP_PORT" | sort -u | wc -l)" -eq 3 ] ||
        die "LAUNCHER_HTTP_PORT, LAUNCHER_HTTPS_PORT and LAUNCHER_SMTP_PORT must differ"
    local hostport_re='^[][A-Za-z0-9.:*-]+$'
    [[ $BIND =~ $hostport_re ]] || die "LAUNCHER_BIND looks wrong: '$BIND'"
    is_uint "$HSTS_MAX_AGE" || die "LAUNCHER_HSTS_MAX_AGE must be a number of seconds (got '$HSTS_MAX_AGE')"
    { is_uint "$WORKERS" && [ "$WORKERS" -ge 1 ] && [ "$WORKERS" -le 64 ]; } ||
        die "LAUNCHER_WORKERS must be 1..64 (got '$WORKERS')"
    { is_uint "$INGEST_WORKERS" && [ "$INGEST_WORKERS" -ge 1 ] && [ "$INGEST_WORKERS" -le 64 ]; } ||
        die "LAUNCHER_INGEST_WORKERS must be 1..64 (got '$INGEST_WORKERS')"
    [[ $WORKER_CPU_AFFINITY == auto || $WORKER_CPU_AFFINITY == off ]] ||
        die "LAUNCHER_WORKER_CPU_AFFINITY must be 'auto' or 'off' (got '$WORKER_CPU_AFFINITY')"
    [[ $NGINX_WORKERS == auto ]] || { is_uint "$NGINX_WORKERS" && [ "$NGINX_WORKERS" -ge 1 ]; } ||
        die "LAUNCHER_NGINX_WORKERS must be 'auto' or a positive number (got '$NGINX_WORKERS')"
    case ${BENCH,,} in
        1|true|yes|on) BENCH=true ;;
        0|false|no|off|'') BENCH=false ;;
        *) die "LAUNCHER_BENCH must be true or false (got '$BENCH')" ;;
    esac
    case $LOG_LEVEL in error|warn|info|debug) ;; *)
        die "LAUNCHER_LOG_LEVEL must be error, warn, info or debug (got '$LOG_LEVEL')" ;;
    esac
    local v
    for v in RATE_IP RATE_KEY RATE_AUTH; do
        [[ ${!v} =~ ^[0-9]+r/[sm]$ ]] || die "LAUNCHER_$v must look like 20r/s or 100r/m (got '${!v}')"
    done
    for v in BURST_IP BURST_KEY BURST_AUTH MAX_BODY IMPORT_MAX WS_CONN_IP; do
        is_uint "${!v}" || die "LAUNCHER_$v must be a number (got '${!v}')"
    done
    [ -z "$WS_UPSTREAM" ] || [[ $WS_UPSTREAM =~ $hostport_re && $WS_UPSTREAM != *'*'* ]] ||
        die "LAUNCHER_WS_UPSTREAM must be host:port (got '$WS_UPSTREAM')"
    [[ $PLANE_VERSION =~ ^[A-Za-z0-9._+-]+$ ]] || die "$REPO/VERSION must hold a plain version string"
    is_uint "$START_TIMEOUT" || die "LAUNCHER_START_TIMEOUT must be a number of seconds"
    case $ENGINE in auto|podman|docker|none) ;; *)
        die "LAUNCHER_ENGINE must be auto, podman, docker or none (got '$ENGINE')" ;;
    esac
    case ${LOCAL_AGENT,,} in
        1|true|yes|on) LOCAL_AGENT=1 ;;
        0|false|no|off|'') LOCAL_AGENT=0 ;;
        *) die "LAUNCHER_LOCAL_AGENT must be 1 or 0 (got '$LOCAL_AGENT')" ;;
    esac
    case $DB_IMAGES in auto|skip) ;; *)
        die "LAUNCHER_DB_IMAGES must be auto or skip (got '$DB_IMAGES')" ;;
    esac
    local reg regs
    IFS=, read -r -a regs <<< "$INSECURE_REGISTRIES"
    for reg in "${regs[@]}"; do
        [[ $reg =~ ^([A-Za-z0-9.-]+|\[[0-9A-Fa-f:]+\])(:[0-9]{1,5})?$ ]] ||
            die "LAUNCHER_INSECURE_REGISTRIES must be comma-separated host:port (got '$reg')"
    done
    is_uint "$DNSCHECK_INTERVAL" || die "LAUNCHER_DNSCHECK_INTERVAL must be a number of seconds (0 = off)"
    is_uint "$BACKUP_INTERVAL" || die "LAUNCHER_BACKUP_INTERVAL must be a number of seconds (0 = off)"
    is_uint "$NOTIFY_INTERVAL" || die "LAUNCHER_NOTIFY_INTERVAL must be a number of seconds (0 = off)"
    is_uint "$ISSUES_INTERVAL" || die "LAUNCHER_ISSUES_INTERVAL must be a number of seconds (0 = off)"
    is_uint "$ALERT_RETRY_BASE" || die "LAUNCHER_ALERT_RETRY_BASE must be a number of seconds"
    is_uint "$ALERT_TIMEOUT" || die "LAUNCHER_ALERT_TIMEOUT must be a number of seconds"
    [[ $ALERT_ALLOWED_HOSTS =~ ^[][A-Za-z0-9.:,\ -]*$ ]] ||
        die "LAUNCHER_ALERT_ALLOWED_HOSTS must be a comma list of host or host:port"
    [ -z "$DNS_SERVER" ] || [[ $DNS_SERVER =~ ^[0-9]{1,3}(\.[0-9]{1,3}){3}(:[0-9]{1,5})?$ ]] ||
        die "LAUNCHER_DNS_SERVER must be an IPv4 address[:port] (got '$DNS_SERVER')"
    [ -z "$ACME_DIRECTORY_URL" ] || [[ $ACME_DIRECTORY_URL =~ ^https://[A-Za-z0-9._~:/?=\&%+-]+$ ]] ||
        die "LAUNCHER_ACME_DIRECTORY_URL must be an https:// URL (got '$ACME_DIRECTORY_URL')"
    [ -z "$ACME_EMAIL" ] || [[ $ACME_EMAIL =~ ^[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+$ ]] ||
        die "LAUNCHER_ACME_EMAIL must be an e-mail address (got '$ACME_EMAIL')"
    [ -z "$ACME_CA_FILE" ] || [[ $ACME_CA_FILE =~ ^/[A-Za-z0-9._/-]+$ && -r $ACME_CA_FILE ]] ||
        die "LAUNCHER_ACME_CA_FILE must be a readable absolute path of [A-Za-z0-9._/-] (got '$ACME_CA_FILE')"
    [ -z "$PLANE_HOSTNAME" ] || [[ $PLANE_HOSTNAME =~ ^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?$ ]] ||
        die "LAUNCHER_PLANE_HOSTNAME must be a DNS name (got '$PLANE_HOSTNAME')"
    local stores store
    IFS=, read -r -a stores <<< "$IMAGE_STORES"
    for store in "${stores[@]}"; do
        [[ $store =~ ^/[A-Za-z0-9._/-]+$ && $store != *..* && -d $store ]] ||
            die "LAUNCHER_IMAGE_STORES must be comma-separated existing absolute directories (got '$store')"
    done

    CONF=$STATE/launcher.conf
    PGDATA_DIR=$STATE/pg/data
    PGSOCK_DIR=$STATE/pg/sock
    PGPASS=$STATE/secrets/pgpass
    RUN_DIR=$STATE/run
    LOG_DIR=$STATE/log
    FCGI_SOCK=$RUN_DIR/fcgi.sock
    INGEST_SOCK=$RUN_DIR/ingest.sock
    ADMIN_BIN=$BIN_DIR/launcher-admin
    FCGI_BIN=$BIN_DIR/launcher-fcgi
    SCHEDULER_BIN=$BIN_DIR/launcher-scheduler
    DNSCHECK_BIN=$BIN_DIR/launcher-dnscheck
    BACKUP_BIN=$BIN_DIR/launcher-backup
    NOTIFY_BIN=$BIN_DIR/launcher-notify
    ISSUES_BIN=$BIN_DIR/launcher-issues
    WS_BIN=$BIN_DIR/launcher-ws
    WS_SOCK=$RUN_DIR/ws.sock
    AGENT_BIN=$BIN_DIR/launcher-agent
    # make's agent downloads (build/agent-dist beside build/bin), served by
    # nginx at /agent/ from a copy under the state dir (copy_agent_dist).
    AGENT_DIST_SRC=$(dirname "$BIN_DIR")/agent-dist
    AGENT_ROOT=$STATE/dist
    AGENT_TOKEN=$STATE/secrets/agent.token
    # The agent's own iptables chains isolating the project networks (see the
    # README's "Network isolation"): one name per stack, so that the stacks
    # of one machine (each its own Podman and networks) do not rewrite each
    # other's; removed by stop.
    FIREWALL_CHAIN=LNCHR-$(printf '%s' "$STATE" | cksum | cut -d' ' -f1)
    PODMAN_DIR=$STATE/podman
    PODMAN_SOCK=$PODMAN_DIR/podman.sock
    ENGINE_KIND=""      # podman|docker|none once resolve_engine ran
    ENGINE_SOCKET=""
    SMTP_SINK=$REPO/tests/lib/smtp_sink.py
    BASE_URL=https://localhost:$HTTPS_PORT
    API_URL=$BASE_URL/$TENANT/api/v1
    case $BIND in
        0.0.0.0|'*'|'[::]') LOCAL_HOST=127.0.0.1 ;;
        *) LOCAL_HOST=$BIND ;;
    esac
    DATABASE_URL="host=$PGSOCK_DIR port=$PG_PORT dbname=launcher user=launcher_api passfile=$PGPASS"
    ADMIN_DATABASE_URL="host=$PGSOCK_DIR port=$PG_PORT dbname=launcher user=launcher_owner passfile=$PGPASS"
    MAINT_DATABASE_URL="host=$PGSOCK_DIR port=$PG_PORT dbname=launcher user=launcher_maint passfile=$PGPASS"
}

require_root() {
    [ "$(id -u)" -eq 0 ] || die "'$1' must run as root (it uses runuser and starts nginx/PostgreSQL)"
}

# ------------------------------------------------------------ process table

# Expected text in /proc/<pid>/cmdline, guarding against recycled pids.
service_pattern() {
    case $1 in
        postgres) printf 'postgres' ;;
        smtp)     printf 'smtp_sink.py' ;;
        fcgi)     printf 'launcher-fcgi' ;;
        ingest)   printf 'launcher-fcgi' ;;
        nginx)    printf 'nginx' ;;
        podman)   printf 'podman system service' ;;
        agent)    printf 'launcher-agent' ;;
        scheduler) printf 'launcher-scheduler' ;;
        dnscheck) printf 'launcher-dnscheck' ;;
        backup)   printf 'launcher-backup' ;;
        notify)   printf 'launcher-notify' ;;
        issues)   printf 'launcher-issues' ;;
        ws)       printf 'launcher-ws' ;;
    esac
}

is_core_service() {
    local s
    for s in "${CORE_SERVICES[@]}"; do [ "$s" = "$1" ] && return 0; done
    return 1
}

# proc_running PID — exists and is not a zombie.
proc_running() {
    local pid=$1 stat
    [[ $pid =~ ^[0-9]+$ ]] || return 1
    stat=$(cat "/proc/$pid/stat" 2>/dev/null) || return 1
    stat=${stat##*) }
    [ "${stat%% *}" != Z ]
}

# proc_matches PID PATTERN — running and its command line contains PATTERN.
proc_matches() {
    local pid=$1 pat=$2 cmd
    proc_running "$pid" || return 1
    cmd=$(tr '\0' ' ' < "/proc/$pid/cmdline" 2>/dev/null) || return 1
    [[ $cmd == *"$pat"* ]]
}

pid_file() { printf '%s/%s.pid' "$RUN_DIR" "$1"; }

# service_pid NAME — prints the pid if the recorded process is alive.
service_pid() {
    local f pid
    f=$(pid_file "$1")
    [ -f "$f" ] || return 1
    read -r pid < "$f" || return 1
    proc_matches "$pid" "$(service_pattern "$1")" || return 1
    printf '%s' "$pid"
}

# wait_gone PID SECONDS
wait_gone() {
    local pid=$1 deadline=$((SECONDS + $2))
    while proc_running "$pid"; do
        [ "$SECONDS" -lt "$deadline" ] || return 1
        sleep 0.1
    done
}

as_postgres() { (cd / && runuser -u postgres -- "$@"); }

# PostgreSQL runs as the user postgres and keeps its cluster in <state>/pg:
# every directory above the state dir must let postgres through (search
# permission), or initdb fails half-way with "Permission denied".  Said
# before anything starts, with the directory and the fix.  (The state dir
# itself is made 0755 by prepare_dirs.)
check_state_access() {
    local d=${STATE%/*} dirs=()
    id -u postgres > /dev/null 2>&1 || return 0    # not installed: start_postgres says so
    while [ -n "$d" ]; do dirs=("$d" "${dirs[@]}"); d=${d%/*}; done
    for d in / "${dirs[@]}"; do
        [ -d "$d" ] || break    # created below by prepare_dirs, mode 0755
        as_postgres test -x "$d" && continue
        die "the user postgres cannot enter $d ($(stat -c '%A %U:%G' "$d")), which holds" \
            "LAUNCHER_STATE_DIR=$STATE (PostgreSQL's data lives in it). Let it through" \
            "(chmod o+x $d) or choose a state dir below directories everyone may enter" \
            "(the default: $(default_state_dir))"
    done
}

# ------------------------------------------------------------------ install

deb_installed() {
    [ "$(dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null || true)" = installed ]
}

# pid of the distribution's nginx (default config), if running
system_nginx_pid() {
    local pid
    [ -r /run/nginx.pid ] || return 1
    read -r pid < /run/nginx.pid || return 1
    proc_matches "$pid" nginx || return 1
    printf '%s' "$pid"
}

cmd_install() {
    local p missing=()
    for p in "${PACKAGES[@]}"; do
        [ "$p" = npm ] && command -v npm > /dev/null 2>&1 && continue
        deb_installed "$p" || missing+=("$p")
    done
    [ "${#missing[@]}" -eq 0 ] && return 0

    require_root install
    local nginx_before="" aptlog
    nginx_before=$(system_nginx_pid || true)
    aptlog=$(mktemp /tmp/launcher-apt.XXXXXX)
    say "installing Debian packages: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    if ! apt-get update -qq > "$aptlog" 2>&1; then
        show_log "$aptlog" 20; rm -f "$aptlog"
        die "apt-get update failed"
    fi
    if ! apt-get install -y -qq --no-install-recommends "${missing[@]}" >> "$aptlog" 2>&1; then
        show_log "$aptlog" 30; rm -f "$aptlog"
        die "apt-get install failed"
    fi
    rm -f "$aptlog"
    for p in "${missing[@]}"; do
        deb_installed "$p" || die "package $p is still not installed after apt-get install"
    done

    # Installing nginx starts the distribution's service (port 80) where
    # services can start. We never use it; stop it only if this step started it.
    local nginx_after=""
    nginx_after=$(system_nginx_pid || true)
    if [ -z "$nginx_before" ] && [ -n "$nginx_after" ]; then
        say "stopping the distribution's nginx service that the package install started"
        if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet nginx 2>/dev/null; then
            systemctl stop nginx || true
        else
            kill -QUIT "$nginx_after" 2>/dev/null || true
            wait_gone "$nginx_after" 10 || kill -TERM "$nginx_after" 2>/dev/null || true
        fi
    fi
    say "packages installed"
}

# ------------------------------------------------------------ start: setup

prepare_dirs() {
    if [ -e "$STATE" ] || [ -L "$STATE" ]; then
        [[ ! -L $STATE && -d $STATE ]] || die "$STATE exists but is not a directory (or is a symlink)"
        [ "$(stat -c %u "$STATE")" -eq 0 ] || die "$STATE is not owned by root; refusing to use it"
    fi
    # The state dir must be traversable by postgres and www-data.
    install -d -m 0755 "$STATE"
    chmod 0755 "$STATE"
    install -d -m 0755 "$STATE/log" "$RUN_DIR" "$STATE/mail" "$STATE/tls" \
        "$STATE/nginx" "$STATE/nginx/logs" "$STATE/nginx/tmp" "$STATE/nginx/sites" \
        "$STATE/nginx/ws-upstream.d" "$STATE/nginx/api-upstream.d" "$STATE/pg" "$STATE/acme-plane" "$STATE/acme-webroot"
    # The local agent's certificates of custom domains (keys: nginx's master,
    # root, reads them).
    install -d -m 0700 "$STATE/edge-certs"
    install -d -m 0700 "$STATE/secrets"
    # One generation of old logs (*.log.1), so that log tails shown on a
    # failed start belong to this start.
    local f
    for f in "$LOG_DIR"/*.log "$STATE"/nginx/logs/*.log; do
        if [ -f "$f" ]; then mv -f "$f" "$f.1"; fi
    done
    install -d -m 0700 -o postgres -g postgres "$PGDATA_DIR"
    install -d -m 0755 -o postgres -g postgres "$PGSOCK_DIR"
    # pg_ctl opens its log file as postgres.
    touch "$LOG_DIR/postgres.log"
    chown postgres:postgres "$LOG_DIR/postgres.log"
    chmod 0640 "$LOG_DIR/postgres.log"
}

rand_hex() { od -An -N"$1" -tx1 /dev/urandom | tr -d ' \n'; }

pg_locale_args() {
    local all
    all=$(locale -a 2>/dev/null || true)
    if printf '%s\n' "$all" | grep -qiE '^c\.utf-?8$'; then
        printf '%s\n' --locale=C.UTF-8
    else
        printf '%s\n' --no-locale
    fi
}

start_postgres() {
    [ -x "$PG_BIN/pg_ctl" ] || die "PostgreSQL binaries not found in $PG_BIN (run: $PROG install)"
    if [ ! -s "$PGDATA_DIR/PG_VERSION" ]; then
        if [ -n "$(ls -A "$PGDATA_DIR")" ]; then
            die "$PGDATA_DIR is not empty but holds no cluster; remove it or set LAUNCHER_STATE_DIR"
        fi
        say "postgres: initdb $PGDATA_DIR"
        local locale_arg
        locale_arg=$(pg_locale_args)
        if ! as_postgres "$PG_BIN/initdb" -D "$PGDATA_DIR" -U postgres -E UTF8 "$locale_arg" \
                --auth-local=peer --auth-host=reject > "$LOG_DIR/initdb.log" 2>&1; then
            show_log "$LOG_DIR/initdb.log"
            die "initdb failed"
        fi
        # Our settings live in stack.conf, rewritten on every start.
        printf "\n# launcher-stack.sh\ninclude 'stack.conf'\n" >> "$PGDATA_DIR/postgresql.conf"
    fi

    cat > "$PGDATA_DIR/stack.conf" <<EOF
# Written by launcher-stack.sh on every start; edits are lost.
listen_addresses = ''
port = $PG_PORT
unix_socket_directories = '$PGSOCK_DIR'
unix_socket_permissions = 0777
password_encryption = 'scram-sha-256'
max_connections = 100
log_line_prefix = '%m [%p] %q%u@%d '
log_min_duration_statement = 1000
# A slow statement is logged without its parameters: the preamble's session
# nonce and key hashes are parameters (sql/015_tenant_guard.sql).
log_parameter_max_length = 0
log_parameter_max_length_on_error = 0
EOF
    # Superuser "postgres" by peer auth (only the OS user postgres), every
    # other role by password (SCRAM). No TCP at all.
    cat > "$PGDATA_DIR/pg_hba.conf" <<'EOF'
# Written by launcher-stack.sh on every start; edits are lost.
# TYPE  DATABASE  USER      METHOD
local   all       postgres  peer
local   all       all       scram-sha-256
EOF
    chown postgres:postgres "$PGDATA_DIR/stack.conf" "$PGDATA_DIR/pg_hba.conf"
    chmod 0600 "$PGDATA_DIR/stack.conf" "$PGDATA_DIR/pg_hba.conf"

    if as_postgres "$PG_BIN/pg_ctl" -D "$PGDATA_DIR" status > /dev/null 2>&1; then
        say "postgres: already running on $PGDATA_DIR, adopting it"
    else
        say "postgres: starting (socket $PGSOCK_DIR, port $PG_PORT)"
        if ! as_postgres "$PG_BIN/pg_ctl" -D "$PGDATA_DIR" -l "$LOG_DIR/postgres.log" -w -t 60 -s start \
                > /dev/null 2>&1; then
            show_log "$LOG_DIR/postgres.log"
            die "PostgreSQL did not start (see $LOG_DIR/postgres.log)"
        fi
    fi
    local pid
    pid=$(head -n 1 "$PGDATA_DIR/postmaster.pid")
    proc_matches "$pid" postgres || die "cannot find the postmaster (pid '$pid' from $PGDATA_DIR/postmaster.pid)"
    printf '%s\n' "$pid" > "$(pid_file postgres)"
}

ensure_pgpass() {
    # A state directory from before the maintenance role gets its line.
    if [ -s "$PGPASS" ] && ! grep -q ':launcher_maint:' "$PGPASS"; then
        printf '*:*:*:launcher_maint:%s\n' "$(rand_hex 24)" >> "$PGPASS"
    fi
    [ -s "$PGPASS" ] && return 0
    local tmp="$PGPASS.tmp"
    (
        umask 077
        printf '# host:port:database:user:password (written by launcher-stack.sh)\n' > "$tmp"
        printf '*:*:*:launcher_owner:%s\n' "$(rand_hex 24)" >> "$tmp"
        printf '*:*:*:launcher_api:%s\n' "$(rand_hex 24)" >> "$tmp"
        printf '*:*:*:launcher_maint:%s\n' "$(rand_hex 24)" >> "$tmp"
    )
    mv -f "$tmp" "$PGPASS"
}

pgpass_password() { awk -F: -v u="$1" '$4 == u { print $5; exit }' "$PGPASS"; }

# Roles and database. Idempotent; passwords are (re)applied from pgpass so the
# file and the cluster always agree. SQL goes through stdin, never argv.
ensure_roles() {
    ensure_pgpass
    local owner_pw api_pw maint_pw
    owner_pw=$(pgpass_password launcher_owner)
    api_pw=$(pgpass_password launcher_api)
    maint_pw=$(pgpass_password launcher_maint)
    [[ $owner_pw =~ ^[0-9a-f]+$ && $api_pw =~ ^[0-9a-f]+$ && $maint_pw =~ ^[0-9a-f]+$ ]] ||
        die "$PGPASS is malformed; delete it and start again (passwords are then reset)"
    # The passwords' SCRAM verifiers as psql variables on stdin (computed by
    # launcher-admin, so no password reaches the server or its log), then the
    # one SQL file of the roles (launcher-admin setup runs the same).
    local verifiers
    verifiers=$("$ADMIN_BIN" role-verifiers "$PGPASS") || die "cannot compute the roles' SCRAM verifiers"
    if ! { printf '%s\n' "$verifiers"
            cat "$REPO/sql/setup/roles.sql"
        } | as_postgres "$PG_BIN/psql" -X -q -h "$PGSOCK_DIR" -p "$PG_PORT" -U postgres -d postgres \
            -v ON_ERROR_STOP=1 > "$LOG_DIR/pg-setup.log" 2>&1
    then
        show_log "$LOG_DIR/pg-setup.log"
        die "could not create the PostgreSQL roles/database"
    fi
}

ensure_master_key() {
    local key=$STATE/secrets/master.key
    if [ ! -e "$key" ]; then
        ( umask 077; head -c 32 /dev/urandom > "$key.tmp" )
        mv -f "$key.tmp" "$key"
        say "secrets: new master key $key"
    fi
    # 32 raw bytes (key 0), or the key ring launcher-admin rotate-master-key
    # wrote (launcher-fcgi checks it in detail when it starts).
    [ "$(stat -c %s "$key")" -eq 32 ] || grep -qx 'launcher-keyring 1' "$key" ||
        die "$key must be 32 bytes or a key ring"
    chmod 0600 "$key"
}

ensure_tls() {
    local cert=$STATE/tls/cert.pem key=$STATE/tls/key.pem out
    [ -s "$cert" ] && [ -s "$key" ] && return 0
    say "tls: self-signed certificate for localhost"
    if ! out=$( umask 077; openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
            -days 825 -subj "/CN=localhost" \
            -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" \
            -keyout "$key.tmp" -out "$cert.tmp" 2>&1 ); then
        printf '%s\n' "$out" >&2
        die "openssl could not create the certificate"
    fi
    chmod 0644 "$cert.tmp"
    chmod 0600 "$key.tmp"
    mv -f "$key.tmp" "$key"
    mv -f "$cert.tmp" "$cert"
}

# nginx's workers run as www-data when that user can read the state dir,
# else as root (e.g. a state dir on a path www-data cannot traverse).
choose_nginx_user() {
    local probe=$STATE/static
    [ -e "$STATE/static/openapi.json" ] && probe=$STATE/static/openapi.json
    if id www-data > /dev/null 2>&1 &&
        (cd / && runuser -u www-data -- test -r "$probe" -a -x "$STATE/static" -a -x "$RUN_DIR") 2>/dev/null; then
        NGINX_USER=www-data
    else
        NGINX_USER=root
    fi
    NGINX_GROUP=$(id -gn "$NGINX_USER")
}

# Staged database imports: nginx's workers write the uploads (tmp/) and
# read them back for the agent; the pool renames and removes them.
prepare_imports() {
    install -d -m 0700 -o "$NGINX_USER" -g "$NGINX_GROUP" "$STATE/imports" "$STATE/imports/tmp"
}

write_app_conf() {
    local tmp=$CONF.tmp
    cat > "$tmp" <<EOF
# Written by $REPO/conf/stack/launcher-stack.sh on every start; edits are lost.
# Documentation of every key: $REPO/conf/launcher.conf.example
listen = "$FCGI_SOCK"
socket_mode = 0660
socket_group = $NGINX_GROUP
workers = $WORKERS
worker_cpu_affinity = $WORKER_CPU_AFFINITY
database_url = "$DATABASE_URL"
admin_database_url = "$ADMIN_DATABASE_URL"
maintenance_database_url = "$MAINT_DATABASE_URL"
migrations_dir = "$REPO/sql"
db_reconnect_interval_ms = 500
master_key_file = "$STATE/secrets/master.key"
fcgi_state_file = "$RUN_DIR/fcgi.state"
# The ingest pool (launcher-fcgi --ingest) and the quota both pools count.
ingest_listen = "$INGEST_SOCK"
ingest_workers = $INGEST_WORKERS
eventquota_file = "$RUN_DIR/eventquota"
max_body_bytes = $MAX_BODY
# Database imports: nginx writes each upload under imports_dir/tmp (same
# filesystem), the pool renames it into imports_dir.
imports_dir = "$STATE/imports"
import_max_bytes = $IMPORT_MAX
jwt_lifetime_seconds = 86400
jwt_issuer = launcher
password_hash_cost = interactive
smtp_url = "smtp://127.0.0.1:$SMTP_PORT"
smtp_from = launcher@localhost
public_url = "$BASE_URL"
log_level = $LOG_LEVEL
bench_routes = $BENCH
icons_dir = "$STATE/static/icons"
icons_url = /icons
ws_listen = "$WS_SOCK"
database_images_file = "$REPO/conf/database-images.conf"
image_mirrors_file = "${LAUNCHER_IMAGE_MIRRORS:-$REPO/conf/image-mirrors.conf}"
templates_dir = "$REPO/conf/templates"
# The agent's downloads nginx serves at /agent/ (install.sh: the servers'
# install script, GET /servers/:id/install-script).
agent_dist_dir = "$AGENT_ROOT/agent"
# PostgreSQL point-in-time recovery: archive_timeout of pitr databases.
pitr_archive_timeout_seconds = ${LAUNCHER_PITR_ARCHIVE_TIMEOUT:-60}
# Custom domains (README "Custom domains and TLS"): launcher-dnscheck's DNS
# server (empty: /etc/resolv.conf's) and the ACME CA (empty URL: no certificates).
dns_server = "$DNS_SERVER"
acme_directory_url = "$ACME_DIRECTORY_URL"
acme_email = "$ACME_EMAIL"
acme_ca_file = "$ACME_CA_FILE"
# The plane's own hostname (empty: none): its HTTP-01 files go to the
# directory the plain HTTP server serves /.well-known/acme-challenge/ from,
# its certificate replaces the stack's self-signed one, then nginx reloads.
plane_hostname = "$PLANE_HOSTNAME"
plane_acme_webroot = "$STATE/acme-plane"
plane_acme_dir = "$STATE/secrets/acme-plane"
plane_tls_cert = "$STATE/tls/plane-cert.pem"
plane_tls_key = "$STATE/tls/plane-key.pem"
plane_reload_command = "$(nginx_reload_command)"
# Alerts (launcher-notify): hosts allowed despite being loopback/private,
# retry back-off base, one attempt's timeout.
alert_allowed_hosts = "$ALERT_ALLOWED_HOSTS"
alert_retry_base_seconds = $ALERT_RETRY_BASE
alert_timeout_seconds = $ALERT_TIMEOUT
# launcher-admin doctor: the certificate nginx serves, and nginx's config test.
tls_cert_file = "$STATE/tls/cert.pem"
tls_key_file = "$STATE/tls/key.pem"
nginx_test_command = "$(nginx_test_command)"
EOF
    mv -f "$tmp" "$CONF"
}

run_admin() {
    local log=$LOG_DIR/admin.log
    printf '\n== %s launcher-admin %s\n' "$(date -u +%FT%TZ)" "$*" >> "$log"
    if ! "$ADMIN_BIN" -c "$CONF" "$@" >> "$log" 2>&1 < /dev/null; then
        show_log "$log"
        die "launcher-admin $* failed (see $log)"
    fi
}

# Copy the repository's static/ to the state dir (readable by nginx's user),
# keeping runtime files (project icons) across starts. The dashboard's
# third-party code comes from `make` (build/static/vendor/, precompressed
# there): without it the stack would serve a dashboard that cannot load, so
# that is an error. The npm manifest of static/vendor/ is not served. Every
# served text file then gets its .gz (and .br where brotli exists) for
# nginx's gzip_static/brotli_static (conf/stack/precompress.sh).
copy_static() {
    local new=$STATE/static.new
    rm -rf "$new"
    bash "$REPO/conf/stack/static-tree.sh" "$REPO" "$new" "$STATE/static" || die "cannot build $new"
    if [ -d "$STATE/static/icons" ]; then
        rm -rf "$new/icons"
        mv "$STATE/static/icons" "$new/icons"
    fi
    rm -rf "$STATE/static"
    mv "$new" "$STATE/static"
    install -d -m 0755 "$STATE/static/icons"
    chmod -R u+rwX,go+rX "$STATE/static"
}

# The agent's downloads (README "Agents on more servers"): make's
# build/agent-dist/ (the agent per architecture, install.sh, the unit,
# SHA256SUMS) into <state>/dist/agent/, served by nginx at /agent/ and read
# by the pool (agent_dist_dir: GET /servers/:id/install-script). Replaced
# whole on every start, readable by nginx's user. Without a build there is
# nothing to serve: a note, not a failure (/agent/ answers 404).
copy_agent_dist() {
    local dst=$AGENT_ROOT/agent
    rm -rf "$dst.new"
    if [ -s "$AGENT_DIST_SRC/SHA256SUMS" ]; then
        install -d -m 0755 "$AGENT_ROOT"
        cp -R "$AGENT_DIST_SRC" "$dst.new" || die "cannot copy $AGENT_DIST_SRC"
        chmod -R u+rwX,go+rX,go-w "$dst.new"
        rm -rf "$dst"
        mv "$dst.new" "$dst"
    else
        say "agent downloads: $AGENT_DIST_SRC not built (make agent-dist); /agent/ is empty"
        rm -rf "$dst"
        install -d -m 0755 "$AGENT_ROOT" "$dst"
    fi
}

# The plane hostname's HTTPS server (site.conf.in, PLANE_HOSTNAME) has its
# own certificate files: a copy of the self-signed pair until
# launcher-dnscheck installs the ACME CA's (plane_tls_cert/plane_tls_key).
ensure_plane_tls() {
    local cert=$STATE/tls/plane-cert.pem key=$STATE/tls/plane-key.pem
    [ -n "$PLANE_HOSTNAME" ] || return 0
    [ -s "$cert" ] && [ -s "$key" ] && return 0
    if ! { ( umask 077; cp "$STATE/tls/key.pem" "$key.tmp" ) && mv -f "$key.tmp" "$key" &&
            cp "$STATE/tls/cert.pem" "$cert.tmp" && chmod 0644 "$cert.tmp" && mv -f "$cert.tmp" "$cert"; }; then
        die "cannot write $cert"
    fi
}

# The stack's nginx configuration from the templates of conf/nginx/ (the
# ones `make install` renders too), with the stack's values: its own
# nginx.conf (conf/nginx/nginx.conf.in) includes the shared parts.
render_nginx() {
    local tpl=$REPO/conf/nginx dir=$STATE/nginx
    ensure_plane_tls
    bash "$tpl/render.sh" \
        NGINX_DIR="$dir" NGINX_USER="$NGINX_USER" NGINX_WORKERS="$NGINX_WORKERS" \
        BROTLI="$BROTLI" BROTLI_MODULE="$BROTLI_MODULE" \
        REDIRECT_LISTEN="" HTTP_LISTEN="$BIND:$HTTP_PORT" HTTPS_LISTEN="$BIND:$HTTPS_PORT" \
        HSTS_MAX_AGE="$HSTS_MAX_AGE" WS_IP_HASH=0 PLANE_HOSTNAME="$PLANE_HOSTNAME" \
        PLANE_TLS_CERT="$STATE/tls/plane-cert.pem" PLANE_TLS_KEY="$STATE/tls/plane-key.pem" \
        RATE_IP="$RATE_IP" RATE_KEY="$RATE_KEY" RATE_AUTH="$RATE_AUTH" \
        BURST_IP="$BURST_IP" BURST_KEY="$BURST_KEY" BURST_AUTH="$BURST_AUTH" \
        WS_CONN_IP="$WS_CONN_IP" MAX_BODY="$MAX_BODY" IMPORT_MAX="$IMPORT_MAX" \
        PLANE_VERSION="$PLANE_VERSION" WS_UPSTREAM="${WS_UPSTREAM:-unix:$WS_SOCK}" \
        RUN_DIR="$RUN_DIR" UPSTREAM_DIR="$dir" \
        ACCESS_LOG="$dir/logs/access.log" TRAFFIC_LOG="$dir/logs/traffic.log" \
        ACME_DIR="$STATE/acme-plane" TLS_CERT="$STATE/tls/cert.pem" TLS_KEY="$STATE/tls/key.pem" \
        STATIC_DIR="$STATE/static" ICONS_DIR="$STATE/static/icons" IMPORTS_DIR="$STATE/imports" \
        AGENT_ROOT="$AGENT_ROOT" \
        LOCATIONS_CONF="$dir/locations.conf" STATIC_CONF="$dir/static.conf" \
        TLS_CONF="$dir/tls.conf" FASTCGI_PARAMS="$dir/fastcgi_params" \
        -- "$tpl/nginx.conf.in" "$dir/nginx.conf" "$tpl/launcher.conf.in" "$dir/http.conf" \
        "$tpl/site.conf.in" "$dir/site.conf" "$tpl/locations.conf.in" "$dir/locations.conf" \
        "$tpl/static.conf.in" "$dir/static.conf" "$tpl/tls.conf.in" "$dir/tls.conf" \
        "$tpl/fastcgi_params" "$dir/fastcgi_params" || die "cannot render the nginx configuration"
}

nginx_args() {
    printf '%s\n' -p "$STATE/nginx" -c "$STATE/nginx/nginx.conf" -e "$STATE/nginx/logs/error.log"
}

# ------------------------------------------------------- container engine

# engine_ping SOCKET [PATH] — what GET PATH (default /_ping) answers on a
# unix socket ("OK" from Docker and Podman), empty when nothing answers.
engine_ping() {
    [ -S "$1" ] || return 0
    curl -s --max-time 2 --unix-socket "$1" "http://d${2:-/_ping}" 2>/dev/null || true
}

# Sets ENGINE_KIND and ENGINE_SOCKET from LAUNCHER_ENGINE. The Docker probe
# is the unversioned /_ping: Docker 29 rejects API versions below 1.44.
# With "strict", a forced Docker that does not answer is an error.
resolve_engine() {
    local strict=${1:-}
    case $ENGINE in
        auto)
            if [ "$(engine_ping "$DOCKER_SOCK")" = OK ]; then
                ENGINE_KIND=docker
            else
                ENGINE_KIND=podman
            fi ;;
        docker)
            if [ -n "$strict" ] && [ "$(engine_ping "$DOCKER_SOCK")" != OK ]; then
                die "LAUNCHER_ENGINE=docker but $DOCKER_SOCK does not answer /_ping"
            fi
            ENGINE_KIND=docker ;;
        *) ENGINE_KIND=$ENGINE ;;
    esac
    case $ENGINE_KIND in
        docker) ENGINE_SOCKET=$DOCKER_SOCK ;;
        podman) ENGINE_SOCKET=$PODMAN_SOCK ;;
        *)      ENGINE_SOCKET="" ;;
    esac
}

# ensure_db_images — LAUNCHER_DB_IMAGES=auto: the managed databases' images
# in the image store the stack's Podman reads (IMAGE_STORES). Before
# anything starts: a failed build leaves nothing running. The store is
# shared with the tests (same cache, same lock); dbimages.sh rebuilds only
# the stages whose key changed and imports only images whose label differs.
ensure_db_images() {
    [ "$DB_IMAGES" = auto ] || return 0
    if [ -n "$IMAGE_STORES" ]; then
        say "database images: LAUNCHER_IMAGE_STORES is set ($IMAGE_STORES): nothing built"
        return 0
    fi
    if [ "$ENGINE_KIND" != podman ]; then
        say "database images: not built (the engine is $ENGINE_KIND, not the stack's Podman;" \
            "see tests/fixtures/dbimages.sh --engine-socket)"
        return 0
    fi
    local t0=$SECONDS
    say "database images: checking $DB_IMAGES_STORE (an absent store or a changed recipe is" \
        "built from Debian's packages: about 6.5 minutes cold; LAUNCHER_DB_IMAGES=skip to not)"
    bash "$REPO/tests/fixtures/dbimages.sh" --store "$DB_IMAGES_STORE" \
        --table "$REPO/conf/database-images.conf" --only postgres --only mysql --only redis \
        > /dev/null ||
        die "the database images could not be built (output above); fix it, or start with" \
            "LAUNCHER_DB_IMAGES=skip (managed databases then need their images in the engine)"
    IMAGE_STORES=$DB_IMAGES_STORE
    say "database images: ready in $(( SECONDS - t0 )) s"
}

# min_limit HARD CAP — the smaller of a `ulimit -H` value and CAP.
min_limit() {
    if is_uint "$1" && [ "$1" -lt "$2" ]; then printf '%s' "$1"; else printf '%s' "$2"; fi
}

# The stack's Podman configuration. CONTAINERS_CONF / CONTAINERS_STORAGE_CONF /
# CONTAINERS_REGISTRIES_CONF make Podman read only these files (not
# /etc/containers/*.conf nor /usr/share/containers/containers.conf), for the
# service and the CLI alike:
#   CONTAINERS_CONF=<state>/podman/containers.conf \
#   CONTAINERS_STORAGE_CONF=<state>/podman/storage.conf \
#   CONTAINERS_REGISTRIES_CONF=<state>/podman/registries.conf podman images
# Podman records the storage and run paths in its database on first use and
# refuses to run if they change later.
write_podman_conf() {
    local nofile nproc driver fstype
    # Containers may not get rlimits above the service's hard limits (runc:
    # "error setting rlimits ... operation not permitted"), and Podman's own
    # defaults (nofile 1048576, nproc 4194304) are above them on hosts that
    # do not let us raise them: give containers min(hard limit, cap).
    nofile=$(min_limit "$(ulimit -Hn)" 65536)
    nproc=$(min_limit "$(ulimit -Hu)" 4096)
    # overlay: the kernel's (rootful, no fuse-overlayfs), native diff, works on
    # the dev machines' ext4 /var/tmp. It cannot put its upper layers on another
    # overlayfs (a state dir inside a container) or on NFS/FUSE: vfs (a full
    # copy per layer, slow and big) there. A storage that exists keeps its driver.
    fstype=$(stat -f -c %T "$PODMAN_DIR" 2>/dev/null || echo unknown)
    if [ -d "$PODMAN_DIR/storage/overlay-images" ]; then
        driver=overlay
    elif [ -d "$PODMAN_DIR/storage/vfs-images" ]; then
        driver=vfs
    else
        case $fstype in
            overlayfs|nfs*|fuse*|aufs) driver=vfs ;;
            *) driver=overlay ;;
        esac
    fi
    PODMAN_DRIVER=$driver
    PODMAN_ULIMITS="nofile=$nofile nproc=$nproc"
    cat > "$PODMAN_DIR/storage.conf.tmp" <<EOF
# Written by launcher-stack.sh on every start; edits are lost.
# Storage of the stack's Podman (CONTAINERS_STORAGE_CONF).
[storage]
driver = "$driver"
graphroot = "$PODMAN_DIR/storage"
runroot = "$PODMAN_DIR/run"
EOF
    if [ -n "$IMAGE_STORES" ]; then
        # Read-only stores of prepared images (LAUNCHER_IMAGE_STORES).
        printf '\n[storage.options]\nadditionalimagestores = ["%s"]\n' \
            "${IMAGE_STORES//,/\", \"}" >> "$PODMAN_DIR/storage.conf.tmp"
    fi
    cat > "$PODMAN_DIR/containers.conf.tmp" <<EOF
# Written by launcher-stack.sh on every start; edits are lost.
# Configuration of the stack's Podman (CONTAINERS_CONF): the only file read.
[containers]
# As in Debian's /usr/share/containers/containers.conf, which is not read:
# without these Podman 4.3 also grants NET_RAW, MKNOD and AUDIT_WRITE.
default_capabilities = ["CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "KILL",
  "NET_BIND_SERVICE", "SETFCAP", "SETGID", "SETPCAP", "SETUID", "SYS_CHROOT"]
default_sysctls = ["net.ipv4.ping_group_range=0 0"]
# min(hard limit, 65536 / 4096), computed at start.
default_ulimits = ["nofile=$nofile:$nofile", "nproc=$nproc:$nproc"]
# Container output in a file in the container's directory, read back by
# GET /containers/{id}/logs (journald would be picked on systemd hosts).
log_driver = "k8s-file"

[network]
network_backend = "netavark"
# Networks the plane creates, instead of /etc/containers/networks.
network_config_dir = "$PODMAN_DIR/networks"
EOF
    # The stack's own pool of subnets (LAUNCHER_SUBNET_POOL, above).
    if [ -n "$SUBNET_POOL" ]; then
        printf 'default_subnet_pools = [{"base" = "%s", "size" = 24}]\n' "$SUBNET_POOL" \
            >> "$PODMAN_DIR/containers.conf.tmp"
    fi
    cat >> "$PODMAN_DIR/containers.conf.tmp" <<EOF

[engine]
# Explicitly runc: crun, which Podman may pick where it is installed, fails
# on hybrid cgroup v1/v2 hosts.
runtime = "runc"
# What Podman picks itself when PID 1 is not systemd; also used on systemd
# hosts so that the stack's containers make no systemd scopes and journal
# entries: cgroups under libpod_parent/, events in run/libpod/events/.
cgroup_manager = "cgroupfs"
events_logger = "file"
# Podman's runtime state (alive file, exit codes, events; /run/libpod by default).
tmp_dir = "$PODMAN_DIR/run/libpod"
# Container locks as files in tmp_dir/locks. The default ("shm") is the one
# /dev/shm/libpod_lock of every rootful Podman on the machine, and a Podman
# that starts on a new database (each fresh state dir, e.g. every test run)
# frees all of its locks, under the feet of the other instances.
lock_type = "file"
image_copy_tmp_dir = "$PODMAN_DIR/tmp"
EOF
    # Like Debian's /etc/containers/registries.conf (no search registries:
    # short names are not guessed; the compat API qualifies them as docker.io),
    # plus the plain-HTTP registries of LAUNCHER_INSECURE_REGISTRIES (pull and
    # push honour "insecure" when the request sends no tlsVerify).
    {
        printf '%s\n' '# Written by launcher-stack.sh on every start; edits are lost.' \
            '# Registries of the stack'"'"'s Podman (CONTAINERS_REGISTRIES_CONF).' \
            'unqualified-search-registries = []'
        local reg regs
        IFS=, read -r -a regs <<< "$INSECURE_REGISTRIES"
        for reg in "${regs[@]}"; do
            printf '\n[[registry]]\nlocation = "%s"\ninsecure = true\n' "$reg"
        done
    } > "$PODMAN_DIR/registries.conf.tmp"
    mv -f "$PODMAN_DIR/storage.conf.tmp" "$PODMAN_DIR/storage.conf"
    mv -f "$PODMAN_DIR/containers.conf.tmp" "$PODMAN_DIR/containers.conf"
    mv -f "$PODMAN_DIR/registries.conf.tmp" "$PODMAN_DIR/registries.conf"
}

start_podman() {
    local log=$LOG_DIR/podman.log pid deadline boot old_boot=""
    [ -x "$PODMAN_BIN" ] || die "$PODMAN_BIN not found (run: $PROG install)"
    # sun_path holds 107 bytes and a NUL.
    [ "${#PODMAN_SOCK}" -le 107 ] ||
        die "$PODMAN_SOCK is too long for a unix socket; use a shorter LAUNCHER_STATE_DIR"
    if [ "$(engine_ping "$PODMAN_SOCK")" = OK ]; then
        die "something already serves $PODMAN_SOCK (a Podman service this script did not record?); stop it first"
    fi
    install -d -m 0700 "$PODMAN_DIR" "$PODMAN_DIR/tmp"
    # run/ (runroot and tmp_dir) is meant to be on a tmpfs that a reboot
    # empties; here it is on disk, so it is emptied when the boot id changed.
    # Podman then refreshes its database: containers that were running are
    # "exited". Within one boot it is kept: running containers need it.
    boot=$(cat /proc/sys/kernel/random/boot_id)
    if [ -r "$PODMAN_DIR/boot_id" ]; then old_boot=$(cat "$PODMAN_DIR/boot_id"); fi
    if [ "$old_boot" != "$boot" ]; then
        rm -rf "$PODMAN_DIR/run"
        printf '%s\n' "$boot" > "$PODMAN_DIR/boot_id"
    fi
    install -d -m 0700 "$PODMAN_DIR/run"
    write_podman_conf
    printf '\n== %s podman system service (%s storage, %s)\n' "$(date -u +%FT%TZ)" \
        "$PODMAN_DRIVER" "$PODMAN_ULIMITS" >> "$log"
    # --time=0: no idle timeout. The service does not hold the containers: each
    # has its own conmon (own session), so SIGTERM ends the service within a
    # few seconds even with containers running and event/attach streams open.
    # Its working directory is its own: conmon writes a file "oom" there when
    # a container's cgroup had an OOM kill.
    install -d -m 0700 "$PODMAN_DIR/home" "$PODMAN_DIR/home/.config" \
        "$PODMAN_DIR/home/.config/containers" "$PODMAN_DIR/home/.config/containers/certs.d"
    HOME=$PODMAN_DIR/home \
    CONTAINERS_CONF=$PODMAN_DIR/containers.conf CONTAINERS_STORAGE_CONF=$PODMAN_DIR/storage.conf \
        CONTAINERS_REGISTRIES_CONF=$PODMAN_DIR/registries.conf \
        setsid sh -c 'cd "$1" && shift && exec "$@"' sh "$PODMAN_DIR/home" \
        "$PODMAN_BIN" system service --time=0 "unix://$PODMAN_SOCK" \
        >> "$log" 2>&1 < /dev/null &
    pid=$!
    printf '%s\n' "$pid" > "$(pid_file podman)"
    deadline=$((SECONDS + 30))
    until [ "$(engine_ping "$PODMAN_SOCK" /v1.41/_ping)" = OK ]; do
        if ! proc_running "$pid" || [ "$SECONDS" -ge "$deadline" ]; then
            show_log "$log"
            die "the Podman service did not answer on $PODMAN_SOCK within 30s (see $log)"
        fi
        sleep 0.1
    done
    say "podman: API on $PODMAN_SOCK ($PODMAN_DRIVER storage, $PODMAN_ULIMITS)"
}

# After the service: the overlay driver bind-mounts storage/overlay onto
# itself (private propagation) and the service leaves it mounted on SIGTERM.
# Unmounted only when no container's root file system is mounted below it
# (running containers keep theirs; umount then fails with EBUSY anyway), so
# that the state dir can be removed.
release_podman_storage() {
    local home=$PODMAN_DIR/storage/overlay
    grep -q " $home " /proc/mounts 2>/dev/null || return 0
    if grep -q " $home/" /proc/mounts; then
        [ -n "${QUIET:-}" ] || say "podman: containers still running; $home stays mounted"
        return 0
    fi
    umount "$home" 2>/dev/null || err "could not unmount $home"
}

# (do_start ran resolve_engine strict before starting anything)
start_engine() {
    case $ENGINE_KIND in
        podman) start_podman ;;
        docker) say "engine: Docker at $DOCKER_SOCK (nothing started)" ;;
        none)   say "engine: none (LAUNCHER_ENGINE=none)" ;;
    esac
}

# The stack's nginx configuration test, as the agent runs it (/bin/sh -c;
# every path is [A-Za-z0-9._/-], see load_config).
nginx_test_command() {
    local args
    mapfile -t args < <(nginx_args)
    printf '%s' "$NGINX_BIN ${args[*]} -t -q"
}

# A reload of the stack's nginx (launcher-dnscheck's plane_reload_command,
# run with /bin/sh -c): SIGHUP to the master through its pid file; the
# master keeps its configuration when the new one does not load.
nginx_reload_command() {
    local args
    mapfile -t args < <(nginx_args)
    printf '%s' "$NGINX_BIN ${args[*]} -s reload"
}

nginx_test_command() {
    local args
    mapfile -t args < <(nginx_args)
    printf '%s' "$NGINX_BIN ${args[*]} -t -q"
}

# The agent reloads the stack's nginx itself after writing an app's edge
# site (--edge-nginx-pid): SIGHUP to the master, then SIGQUIT to the old
# workers as soon as the new ones run, instead of nginx's fixed 100 ms
# during which the old workers still answer with the old routes.

# The local agent: registers this machine as the tenant's server "local"
# (fresh token in secrets/agent.token) and runs launcher-agent against the
# plane through nginx. Optional: every obstacle is a note, not a failure.
start_agent() {
    local log=$LOG_DIR/agent.log alog=$LOG_DIR/admin.log pid
    [ "$LOCAL_AGENT" = 1 ] || return 0
    if [ ! -x "$AGENT_BIN" ]; then
        say "agent: $AGENT_BIN not built; no local agent"
        return 0
    fi
    if [ -z "$ENGINE_SOCKET" ]; then
        say "agent: no container engine (LAUNCHER_ENGINE=none); no local agent"
        return 0
    fi
    printf '\n== %s launcher-admin server ensure %s local\n' "$(date -u +%FT%TZ)" "$TENANT" >> "$alog"
    if ! "$ADMIN_BIN" -c "$CONF" server ensure "$TENANT" local --host 127.0.0.1 \
            --base-domain localhost --token-file "$AGENT_TOKEN" >> "$alog" 2>&1 < /dev/null ||
        [ ! -s "$AGENT_TOKEN" ]; then
        err "warning: launcher-admin server ensure failed (see $alog); no local agent"
        return 0
    fi
    install -d -m 0700 "$STATE/agent"
    printf '\n== %s launcher-agent\n' "$(date -u +%FT%TZ)" >> "$log"
    setsid "$AGENT_BIN" --plane "$BASE_URL" --tenant "$TENANT" --token-file "$AGENT_TOKEN" \
        --ca "$STATE/tls/cert.pem" --engine-socket "$ENGINE_SOCKET" --state-dir "$STATE/agent" \
        --nginx-test-command "$(nginx_test_command)" --firewall-chain "$FIREWALL_CHAIN" \
        --edge-sites-dir "$STATE/nginx/sites" --edge-listen "$BIND:$HTTP_PORT" \
        --edge-nginx-pid "$STATE/nginx/nginx.pid" \
        --edge-tls-listen "$BIND:$HTTPS_PORT" --edge-https-port "$HTTPS_PORT" \
        --acme-webroot "$STATE/acme-webroot" --edge-certs-dir "$STATE/edge-certs" \
        --traffic-log "$STATE/nginx/logs/traffic.log" \
        >> "$log" 2>&1 < /dev/null &
    pid=$!
    printf '%s\n' "$pid" > "$(pid_file agent)"
    sleep 0.3
    if ! proc_running "$pid"; then
        show_log "$log" 15
        err "warning: launcher-agent exited at once (see $log); no local agent"
        rm -f "$(pid_file agent)"
        return 0
    fi
    say "agent: launcher-agent (server 'local' of tenant $TENANT) on $ENGINE_SOCKET"
}

# ------------------------------------------------------------ start: daemons

# wait_for_log FILE OFFSET TEXT PID SECONDS — TEXT appears in FILE after
# byte OFFSET while PID lives.
wait_for_log() {
    local file=$1 off=$2 text=$3 pid=$4 deadline=$((SECONDS + $5))
    local content
    while [ "$SECONDS" -lt "$deadline" ]; do
        content=$(tail -c +"$((off + 1))" "$file" 2>/dev/null || true)
        [[ $content == *"$text"* ]] && return 0
        proc_running "$pid" || return 1
        sleep 0.1
    done
    return 1
}

file_size() { stat -c %s "$1" 2>/dev/null || echo 0; }

start_smtp() {
    local log=$LOG_DIR/smtp.log off pid
    [ -r "$SMTP_SINK" ] || die "missing $SMTP_SINK"
    touch "$log"
    off=$(file_size "$log")
    setsid "$SYS_PYTHON" "$SMTP_SINK" --port "$SMTP_PORT" --dir "$STATE/mail" \
        >> "$log" 2>&1 < /dev/null &
    pid=$!
    printf '%s\n' "$pid" > "$(pid_file smtp)"
    if ! wait_for_log "$log" "$off" "smtp_sink listening" "$pid" 10; then
        show_log "$log" 15
        die "the SMTP sink did not start (port $SMTP_PORT busy? see $log)"
    fi
    say "smtp: sink on 127.0.0.1:$SMTP_PORT, mail in $STATE/mail"
}

# The job queue's clock (leases, deadlines, offline servers): a production
# install runs `launcher-scheduler --once` from cron every minute
# (conf/crontab); the local stack runs the same tick in its loop mode.
# LAUNCHER_SCHEDULER_INTERVAL sets the period (default 60 s).
start_scheduler() {
    local log=$LOG_DIR/scheduler.log
    printf '\n== %s launcher-scheduler -c %s\n' "$(date -u +%FT%TZ)" "$CONF" >> "$log"
    setsid "$SCHEDULER_BIN" -c "$CONF" --interval "${LAUNCHER_SCHEDULER_INTERVAL:-60}" \
        >> "$log" 2>&1 < /dev/null &
    printf '%s\n' "$!" > "$(pid_file scheduler)"
    say "scheduler: launcher-scheduler every ${LAUNCHER_SCHEDULER_INTERVAL:-60}s"
}

# Custom domains' DNS checks, routes and certificates (and the plane's own
# hostname's certificate): a production install runs `launcher-dnscheck
# --once` from cron every minute (conf/crontab); the local stack runs it in
# its loop mode, which also wakes up at once on POST /domains/:id/verify
# (NOTIFY launcher_dnscheck).  Started last: its first run may need nginx
# (HTTP-01) and the agent (routes).  LAUNCHER_DNSCHECK_INTERVAL (default 60 s;
# 0 = not started).
start_dnscheck() {
    start_loop_helper dnscheck "$DNSCHECK_BIN" "$DNSCHECK_INTERVAL" LAUNCHER_DNSCHECK_INTERVAL \
        "custom domains are not checked" || return 0
    say "dnscheck: launcher-dnscheck every ${DNSCHECK_INTERVAL}s${DNS_SERVER:+ (DNS $DNS_SERVER)}${ACME_DIRECTORY_URL:+, ACME $ACME_DIRECTORY_URL}"
}

# Backup schedules, retention, stale alerts (and the plane's own database
# when plane_backup_destination_file is set): a production install runs
# `launcher-backup --once` from cron every minute (conf/crontab); the local
# stack runs its loop.  LAUNCHER_BACKUP_INTERVAL (default 60 s; 0 = not
# started: the tests run --once at the moments they choose).
start_backup() {
    start_loop_helper backup "$BACKUP_BIN" "$BACKUP_INTERVAL" LAUNCHER_BACKUP_INTERVAL \
        "backup schedules do not run" || return 0
    say "backup: launcher-backup every ${BACKUP_INTERVAL}s"
}

# The alert outbox (README "Alerts"): launcher-notify's loop, woken by
# NOTIFY launcher_notify.  LAUNCHER_NOTIFY_INTERVAL (default 60 s; 0 = not
# started: alerts stay queued).
start_notify() {
    start_loop_helper notify "$NOTIFY_BIN" "$NOTIFY_INTERVAL" LAUNCHER_NOTIFY_INTERVAL \
        "alerts are not delivered" || return 0
    say "notify: launcher-notify (alert deliveries, retry base ${ALERT_RETRY_BASE}s)"
}

# Error events into issues (README "Error tracking: grouping"):
# launcher-issues' loop, woken by NOTIFY launcher_issues (the ingest route
# and crashes queue events), and every LAUNCHER_ISSUES_INTERVAL seconds
# (default 1: a missed wake-up costs at most that; 0 = not started: events
# stay queued).
start_issues() {
    start_loop_helper issues "$ISSUES_BIN" "$ISSUES_INTERVAL" LAUNCHER_ISSUES_INTERVAL \
        "error events are not grouped into issues" || return 0
    say "issues: launcher-issues (error events grouped into issues)"
}

# A helper binary run as `BIN -c CONF --loop --interval N` with its own log
# and pid file: start_loop_helper NAME BIN INTERVAL VARIABLE WHAT-IS-MISSING.
# Returns 1 (after saying why) when it is off (interval 0) or not built.
start_loop_helper() {
    local name=$1 bin=$2 interval=$3 var=$4 missing=$5 log=$LOG_DIR/$1.log pid
    if [ "$interval" -eq 0 ]; then
        say "$name: not started ($var=0)"
        return 1
    fi
    if [ ! -x "$bin" ]; then
        say "$name: $bin not built; $missing"
        return 1
    fi
    printf '\n== %s %s -c %s --loop --interval %s\n' "$(date -u +%FT%TZ)" "$(basename "$bin")" \
        "$CONF" "$interval" >> "$log"
    setsid "$bin" -c "$CONF" --loop --interval "$interval" >> "$log" 2>&1 < /dev/null &
    pid=$!
    printf '%s\n' "$pid" > "$(pid_file "$name")"
    sleep 0.3
    if ! proc_running "$pid"; then
        show_log "$log" 15
        die "$(basename "$bin") exited at once (see $log)"
    fi
}

# launcher-ws: agents' wake-up channel (and later the API's WebSocket
# streams) on a unix socket that nginx proxies /<tenant>/ws/ to.  Not
# started when LAUNCHER_WS_UPSTREAM names a daemon run elsewhere.
start_ws() {
    [ -z "$WS_UPSTREAM" ] || { say "ws: $WS_UPSTREAM (not started here)"; return 0; }
    start_socket_daemon ws "$WS_BIN" "$WS_SOCK"
    say "ws: launcher-ws on $WS_SOCK"
}

# The ingest pool: the same binary, its own socket and workers, niced so
# that under an ingest flood the API pool keeps the CPU first; API requests
# never queue behind events (README "Error tracking: ingest").
start_pool() {
    start_socket_daemon fcgi "$FCGI_BIN" "$FCGI_SOCK"
    say "pool: launcher-fcgi with $WORKERS workers on $FCGI_SOCK"
    start_socket_daemon ingest "$FCGI_BIN" "$INGEST_SOCK" 10 --ingest
    say "ingest pool: launcher-fcgi --ingest with $INGEST_WORKERS workers on $INGEST_SOCK (nice 10)"
}

# start_socket_daemon NAME BIN SOCKET [NICE ARGS...]: runs BIN -c CONF ARGS
# in the background (log/NAME.log, pid file NAME), at niceness NICE (0),
# and waits up to 15 s for its unix socket.
start_socket_daemon() {
    local name=$1 bin=$2 sock=$3 nice=${4:-0} log=$LOG_DIR/$1.log pid deadline
    shift $(($# < 4 ? $# : 4))
    rm -f "$sock"
    printf '\n== %s %s -c %s %s\n' "$(date -u +%FT%TZ)" "${bin##*/}" "$CONF" "$*" >> "$log"
    setsid nice -n "$nice" "$bin" -c "$CONF" "$@" >> "$log" 2>&1 < /dev/null &
    pid=$!
    printf '%s\n' "$pid" > "$(pid_file "$name")"
    deadline=$((SECONDS + 15))
    until [ -S "$sock" ]; do
        if ! proc_running "$pid" || [ "$SECONDS" -ge "$deadline" ]; then
            show_log "$log"
            die "${bin##*/} did not create $sock (see $log)"
        fi
        sleep 0.1
    done
}

start_nginx() {
    local out pid args
    mapfile -t args < <(nginx_args)
    if ! out=$("$NGINX_BIN" "${args[@]}" -t -q 2>&1); then
        printf '%s\n' "$out" >&2
        die "nginx configuration test failed ($STATE/nginx/nginx.conf)"
    fi
    setsid "$NGINX_BIN" "${args[@]}" -g 'daemon off;' \
        >> "$LOG_DIR/nginx-stderr.log" 2>&1 < /dev/null &
    pid=$!
    printf '%s\n' "$pid" > "$(pid_file nginx)"
    sleep 0.3
    if ! proc_running "$pid"; then
        show_log "$STATE/nginx/logs/error.log" 15
        show_log "$LOG_DIR/nginx-stderr.log" 5
        die "nginx did not start (ports $HTTP_PORT/$HTTPS_PORT busy?)"
    fi
    say "nginx: http://$LOCAL_HOST:$HTTP_PORT and https://$LOCAL_HOST:$HTTPS_PORT (workers as $NGINX_USER)"
}

wait_healthy() {
    local deadline=$((SECONDS + START_TIMEOUT)) s code
    while :; do
        code=$(curl -sk -o /dev/null -w '%{http_code}' --max-time 2 \
                    "https://$LOCAL_HOST:$HTTPS_PORT/healthz" 2>/dev/null || true)
        [ "$code" = 200 ] && return 0
        for s in "${SERVICES[@]}"; do
            [ -f "$(pid_file "$s")" ] || continue    # not started (yet)
            if ! service_pid "$s" > /dev/null; then
                err "$s exited during start-up"
                dump_logs
                exit 1
            fi
        done
        if [ "$SECONDS" -ge "$deadline" ]; then
            err "https://$LOCAL_HOST:$HTTPS_PORT/healthz did not answer 200 within ${START_TIMEOUT}s (last: ${code:-no answer})"
            dump_logs
            exit 1
        fi
        sleep 0.2
    done
}

dump_logs() {
    show_log "$LOG_DIR/fcgi.log"
    show_log "$STATE/nginx/logs/error.log" 15
    show_log "$LOG_DIR/postgres.log" 15
    show_log "$LOG_DIR/smtp.log" 5
    if [ -f "$(pid_file podman)" ]; then show_log "$LOG_DIR/podman.log" 10; fi
    if [ -f "$(pid_file dnscheck)" ]; then show_log "$LOG_DIR/dnscheck.log" 10; fi
    if [ -f "$(pid_file backup)" ]; then show_log "$LOG_DIR/backup.log" 10; fi
    if [ -f "$(pid_file notify)" ]; then show_log "$LOG_DIR/notify.log" 10; fi
    if [ -f "$(pid_file issues)" ]; then show_log "$LOG_DIR/issues.log" 10; fi
}

# Export lines describing the stack; also saved at start in run/stack.env.
# LAUNCHER_ENGINE is the engine in use (podman|docker|none) and
# LAUNCHER_ENGINE_SOCKET its Docker-compatible API socket (empty for none);
# LAUNCHER_ENGINE_CERTS_DIR the certs.d of the stack's Podman (empty otherwise).
env_lines() {
    local n
    for n in REPO:"$REPO" STATE_DIR:"$STATE" CONF:"$CONF" \
             HTTP_PORT:"$HTTP_PORT" HTTPS_PORT:"$HTTPS_PORT" PG_PORT:"$PG_PORT" SMTP_PORT:"$SMTP_PORT" \
             BASE_URL:"$BASE_URL" URL:"$API_URL" HTTP_BASE_URL:"http://$LOCAL_HOST:$HTTP_PORT" \
             HTTPS_BASE_URL:"https://$LOCAL_HOST:$HTTPS_PORT" TENANT:"$TENANT" \
             CACERT:"$STATE/tls/cert.pem" MAIL_DIR:"$STATE/mail" LOG_DIR:"$LOG_DIR" \
             PGHOST:"$PGSOCK_DIR" PGPASSFILE:"$PGPASS" \
             DATABASE_URL:"$DATABASE_URL" ADMIN_DATABASE_URL:"$ADMIN_DATABASE_URL" \
             BIN_DIR:"$BIN_DIR" WORKERS:"$WORKERS" BENCH:"$BENCH" MAX_BODY:"$MAX_BODY" \
             RATE_IP:"$RATE_IP" BURST_IP:"$BURST_IP" RATE_KEY:"$RATE_KEY" BURST_KEY:"$BURST_KEY" \
             RATE_AUTH:"$RATE_AUTH" BURST_AUTH:"$BURST_AUTH" PLANE_VERSION:"$PLANE_VERSION" \
             ENGINE:"$ENGINE_KIND" ENGINE_SOCKET:"$ENGINE_SOCKET" \
             FIREWALL_CHAIN:"$FIREWALL_CHAIN" \
             ENGINE_CERTS_DIR:"$([ "$ENGINE_KIND" = podman ] && printf '%s' "$PODMAN_DIR/home/.config/containers/certs.d")"; do
        printf 'export LAUNCHER_%s=%q\n' "${n%%:*}" "${n#*:}"
    done
}

print_info() {
    cat <<EOF
Launcher is running.
  API:     $API_URL
  tenant:  $TENANT
  state:   $STATE   (logs in log/, mail in mail/)
  engine:  ${ENGINE_KIND}${ENGINE_SOCKET:+ on $ENGINE_SOCKET}${IMAGE_STORES:+ (image stores: $IMAGE_STORES)}
  stop:    make stop   (or Ctrl-C under make run)
Register the first user:
  curl -k -X POST $API_URL/auth/register \\
       -H 'Content-Type: application/json' \\
       -d '{"email":"admin@example.com","password":"change-me-please","first_name":"Ada","last_name":"Lovelace"}'
EOF
}

on_start_exit() {
    local rc=$?
    [ "$rc" -eq 0 ] && return 0
    trap '' INT TERM HUP    # a second Ctrl-C must not cut the clean-up short
    if [ "${LAUNCHER_KEEP_ON_FAIL:-0}" = 1 ]; then
        err "start failed; processes left running (LAUNCHER_KEEP_ON_FAIL=1); '$PROG stop' cleans up"
    else
        err "start failed; stopping what was started (LAUNCHER_KEEP_ON_FAIL=1 keeps it); logs: $LOG_DIR"
        stop_all quiet || true
    fi
    exit "$rc"
}

# Returns 0 when started (or already running).
do_start() {
    require_root start
    load_config
    local s running=() stopped=()
    # podman, agent and dnscheck count only when running: they are optional.
    for s in "${SERVICES[@]}"; do
        if [ -d "$RUN_DIR" ] && service_pid "$s" > /dev/null; then
            running+=("$s")
        elif is_core_service "$s"; then
            stopped+=("$s")
        fi
    done
    if [ "${#stopped[@]}" -eq 0 ]; then
        say "already running (state $STATE)"
        if [ -s "$RUN_DIR/stack.env" ]; then
            ENGINE_KIND=$(sed -n 's/^export LAUNCHER_ENGINE=//p' "$RUN_DIR/stack.env")
            ENGINE_SOCKET=$(sed -n 's/^export LAUNCHER_ENGINE_SOCKET=//p' "$RUN_DIR/stack.env")
            if [ "$ENGINE_SOCKET" = "''" ]; then ENGINE_SOCKET=""; fi    # %q of ""
        fi
        print_info
        return 0
    fi
    if [ "${#running[@]}" -gt 0 ]; then
        die "partially running (${running[*]} up, ${stopped[*]} down); run '$PROG stop' first"
    fi
    [[ -x $ADMIN_BIN && -x $FCGI_BIN ]] ||
        die "missing $ADMIN_BIN or $FCGI_BIN; build first (make)"
    [ -x "$SYS_PYTHON" ] || die "$SYS_PYTHON not found (run: $PROG install)"
    [ -x "$NGINX_BIN" ] || die "$NGINX_BIN not found (run: $PROG install)"
    resolve_engine strict
    check_state_access

    ensure_db_images

    trap on_start_exit EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM
    trap 'exit 129' HUP
    say "starting Launcher stack in $STATE"
    rm -f "$RUN_DIR"/*.pid "$RUN_DIR/stack.env" 2>/dev/null || true
    prepare_dirs
    start_postgres
    ensure_roles
    ensure_master_key
    ensure_tls
    copy_static
    copy_agent_dist
    choose_nginx_user
    prepare_imports
    write_app_conf
    run_admin migrate
    run_admin tenant ensure "$TENANT" "$TENANT_NAME"
    start_smtp
    start_engine
    start_pool
    start_ws
    start_scheduler
    render_nginx
    start_nginx
    wait_healthy
    start_agent
    start_dnscheck
    start_backup
    start_notify
    start_issues
    env_lines > "$RUN_DIR/stack.env"
    trap - EXIT INT TERM HUP
    print_info
}

# ------------------------------------------------------------------- stop

# stop_service NAME SIGNAL SECONDS — signal the recorded pid, wait, escalate.
stop_service() {
    local name=$1 sig=$2 secs=$3 pid
    pid=$(service_pid "$name") || { rm -f "$(pid_file "$name")"; return 0; }
    [ -n "${QUIET:-}" ] || say "stopping $name (pid $pid)"
    kill -"$sig" "$pid" 2>/dev/null || true
    if ! wait_gone "$pid" "$secs"; then
        err "$name (pid $pid) still running after ${secs}s; sending SIGKILL"
        kill -KILL "$pid" 2>/dev/null || true
        wait_gone "$pid" 5 || err "$name (pid $pid) did not die"
    fi
    rm -f "$(pid_file "$name")"
}

stop_postgres() {
    local pid pm=""
    pid=$(service_pid postgres) || { rm -f "$(pid_file postgres)"; return 0; }
    [ -n "${QUIET:-}" ] || say "stopping postgres (pid $pid)"
    [ -r "$PGDATA_DIR/postmaster.pid" ] && pm=$(head -n 1 "$PGDATA_DIR/postmaster.pid")
    if [ "$pm" = "$pid" ]; then
        as_postgres "$PG_BIN/pg_ctl" -D "$PGDATA_DIR" -m fast -w -t 30 -s stop > /dev/null 2>&1 ||
            err "pg_ctl stop -m fast failed; see $LOG_DIR/postgres.log"
    else
        kill -INT "$pid" 2>/dev/null || true   # SIGINT = fast shutdown
    fi
    if ! wait_gone "$pid" 30; then
        err "postgres (pid $pid) still running; immediate shutdown"
        kill -QUIT "$pid" 2>/dev/null || true
        wait_gone "$pid" 10 || err "postgres (pid $pid) did not stop"
    fi
    rm -f "$(pid_file postgres)"
}

# The containers of the stack's Podman (the applications the local agent
# deployed, exec sessions) are not children of the service: each has its
# own conmon, which outlives it.  A stopped stack runs nothing, so they are
# stopped here (after the agent, which would start them again), through
# Podman's CLI on the stack's configuration: it works with the service up
# or already gone, and stops them in parallel, each with its own stop
# timeout (what the agent set) before SIGKILL.
# Then the conmons Podman 4.3 leaves behind for exec sessions (their bundle
# is in the state dir).  Nothing is removed.
stop_containers() {
    local pid
    [ -f "$(pid_file podman)" ] && [ -s "$PODMAN_DIR/storage.conf" ] || return 0
    if [ -n "$(podman_cli ps -q 2>/dev/null)" ]; then
        [ -n "${QUIET:-}" ] || say "stopping the containers of $PODMAN_SOCK"
        podman_cli stop --all > /dev/null 2>&1 ||
            err "podman stop --all failed; see '$PROG status'"
    fi
    for pid in $(pgrep -f "conmon .* -b $STATE/" 2>/dev/null); do
        kill "$pid" 2>/dev/null || true
    done
}

# The agents' isolation chains of this stack (FIREWALL_CHAIN and its -2),
# once its containers are stopped: the jumps from FORWARD, then the chains.
# Nothing when they are absent, or without iptables / root.
release_firewall() {
    local ipt c
    ipt=$(PATH=$PATH:/usr/sbin:/sbin command -v iptables 2>/dev/null) || return 0
    "$ipt" -w 5 -S "$FIREWALL_CHAIN" > /dev/null 2>&1 || return 0
    for _ in 1 2 3 4 5 6 7 8; do
        "$ipt" -w 5 -D FORWARD -j "$FIREWALL_CHAIN" 2> /dev/null || break
    done
    for c in "$FIREWALL_CHAIN" "$FIREWALL_CHAIN-2"; do
        "$ipt" -w 5 -F "$c" 2> /dev/null || true
    done
    for c in "$FIREWALL_CHAIN" "$FIREWALL_CHAIN-2"; do
        "$ipt" -w 5 -X "$c" 2> /dev/null || err "could not remove the iptables chain $c"
    done
}

podman_cli() {
    HOME=$PODMAN_DIR/home CONTAINERS_CONF=$PODMAN_DIR/containers.conf CONTAINERS_STORAGE_CONF=$PODMAN_DIR/storage.conf \
        CONTAINERS_REGISTRIES_CONF=$PODMAN_DIR/registries.conf "$PODMAN_BIN" "$@" < /dev/null
}

stop_all() {
    local QUIET=${1:-}
    [ -d "$RUN_DIR" ] || return 0
    stop_service issues TERM 10    # a batch is one transaction
    stop_service notify TERM 15    # an attempt ends within alert_timeout_seconds
    stop_service backup TERM 10
    stop_service dnscheck TERM 10
    stop_service agent TERM 20     # finishes or releases its job within 10 s
    stop_containers
    release_firewall
    stop_service nginx QUIT 15
    stop_service scheduler TERM 10
    stop_service ws TERM 10
    rm -f "$WS_SOCK"
    stop_service ingest TERM 15
    rm -f "$INGEST_SOCK"
    stop_service fcgi TERM 15
    rm -f "$FCGI_SOCK"
    stop_service podman TERM 15
    if [ -z "$(service_pid podman)" ]; then release_podman_storage; fi
    stop_service smtp TERM 10
    stop_postgres
    rm -f "$RUN_DIR/stack.env"
}

cmd_stop() {
    load_config
    local s any=""
    for s in "${SERVICES[@]}"; do
        [ -f "$(pid_file "$s")" ] && any=1
    done
    if [ -z "$any" ]; then
        say "not running (state $STATE)"
        return 0
    fi
    require_root stop
    stop_all
    say "stopped"
}

# ----------------------------------------------------------- status, env, run

cmd_status() {
    load_config
    local s pid up=0 want=0
    for s in "${SERVICES[@]}"; do
        if pid=$(service_pid "$s"); then
            printf '  %-9s running (pid %s)\n' "$s" "$pid"
            up=$((up + 1))
            want=$((want + 1))
        elif is_core_service "$s" || [ -f "$(pid_file "$s")" ]; then
            printf '  %-9s stopped\n' "$s"
            want=$((want + 1))
        else
            printf '  %-9s not started\n' "$s"
        fi
    done
    if [ "$up" -gt 0 ]; then
        if curl -fsk -o /dev/null --max-time 3 "https://$LOCAL_HOST:$HTTPS_PORT/healthz"; then
            say "  healthz   200 ($API_URL)"
        else
            say "  healthz   not answering (logs: $LOG_DIR)"
        fi
        if service_pid podman > /dev/null; then
            say "  engine    _ping $(engine_ping "$PODMAN_SOCK" /v1.41/_ping) ($PODMAN_SOCK)"
        fi
    fi
    say "state: $STATE"
    [ "$up" -eq "$want" ]
}

cmd_env() {
    load_config
    local s
    # A running stack's recorded settings win over the current environment.
    if [ -s "$RUN_DIR/stack.env" ]; then
        for s in "${SERVICES[@]}"; do
            if service_pid "$s" > /dev/null; then
                cat "$RUN_DIR/stack.env"
                return 0
            fi
        done
    fi
    resolve_engine
    env_lines
}

# Under `make run 2>&1 | tee run.log`, Ctrl-C ends tee as well, and every
# later write of this script meets a closed pipe: SIGPIPE would end it half
# way through stopping, leaving the stack running.  So SIGPIPE is ignored
# for the whole run (say/err shrug off the failed write); INT, TERM and HUP
# stop the stack, and so does the end of the log follower (tail exits on
# the failed write once nobody reads its output).  While stopping, further
# signals are ignored: a second Ctrl-C does not cut the clean-up short.
RUN_TAIL_PID=""
run_stop() {
    trap '' INT TERM HUP PIPE
    set +e
    [ -z "$RUN_TAIL_PID" ] || kill "$RUN_TAIL_PID" 2>/dev/null
    cmd_stop
    exit 0
}

cmd_run() {
    trap '' PIPE
    cmd_install
    do_start
    trap run_stop INT TERM HUP
    say "following $LOG_DIR/fcgi.log; Ctrl-C stops the stack"
    tail -n 5 -F "$LOG_DIR/fcgi.log" &
    RUN_TAIL_PID=$!
    wait "$RUN_TAIL_PID" || true
    run_stop
}

# The header up to the settings list.
usage() {
    sed -n '2,/^# Settings/p' "${BASH_SOURCE[0]}" | sed -e '$d' -e 's/^# \{0,1\}//'
}

main() {
    local cmd=${1:-}
    [ "$#" -gt 0 ] && shift
    case $cmd in
        install) cmd_install ;;
        start)   do_start ;;
        stop)    cmd_stop ;;
        restart) cmd_stop; do_start ;;
        status)  cmd_status ;;
        run)     cmd_run ;;
        env)     cmd_env ;;
        -h|--help|help) usage ;;
        *) usage >&2; exit 2 ;;
    esac
}

main "$@"
