#!/bin/sh
# install.sh - installs launcher-agent on a server, from the plane only.
#
# Served by the plane's nginx at <plane>/agent/install.sh, and by
# GET /{tenant}/api/v1/servers/{id}/install-script with the plane's URL,
# the tenant and the server filled in below.  The install_command that
# POST /servers (and the token's rotation) answers runs it:
#
#   install -d -m 0700 /etc/launcher &&
#   (umask 077 && printf '%s\n' 'lnchr_at_...' > /etc/launcher/agent.token) &&
#   curl -fsS --proto =https https://plane.example.com/agent/install.sh |
#       sh -s -- --plane https://plane.example.com --tenant acme
#
# printf is a shell builtin: the token is in no process's argv, and this
# script never reads it (it only checks the file's owner and mode).
#
# What it does, as root: downloads SHA256SUMS, linux-<arch>/launcher-agent
# and launcher-agent.service from the plane (curl or wget; HTTPS only when
# the plane's URL is https), checks their sha256, installs the agent as
# /usr/local/bin/launcher-agent, writes /etc/launcher/agent.conf (an
# existing, different one is kept: the new one goes beside it as
# agent.conf.dist), installs the systemd unit and, when systemd runs,
# enables and (re)starts it; otherwise it prints how to start the agent.
# Nothing is downloaded from anywhere else: the agent's shared libraries are
# Debian's (libcurl4 libcjson1 libsodium23 libssl3); missing ones are named
# with the apt-get line that installs them, or installed by apt-get from
# the server's own package sources with --install-deps.
#
# Options: see usage() below (sh install.sh --help).
set -eu

# Defaults: empty in /agent/install.sh (give --plane and --tenant);
# GET /servers/{id}/install-script fills in these three lines.
plane=''
tenant=''
server=''

ca_file=''
token_file=/etc/launcher/agent.token
engine_socket=''
install_deps=0
start=1
conf_dir=/etc/launcher
bin=/usr/local/bin/launcher-agent
unit=/etc/systemd/system/launcher-agent.service
deps='libcurl4 libcjson1 libsodium23 libssl3'

say() { printf 'launcher-agent install: %s\n' "$*"; }
die() { printf 'launcher-agent install: error: %s\n' "$*" >&2; exit 1; }
usage() {
    cat <<'EOF_USAGE'
usage: install.sh --plane URL --tenant SLUG [options]   (as root)
  --plane URL           the plane's base URL (https://...; http:// only for
                        a plane on a trusted network)
  --tenant SLUG         the tenant the server belongs to (slug or UUID)
  --ca-file FILE        CA bundle (PEM) that signed the plane's certificate,
                        for a plane with a self-signed one: the downloads
                        and the agent (ca_file) verify against it
  --token-file FILE     [/etc/launcher/agent.token] the agent token, owned
                        by root, mode 0600
  --engine-socket PATH  [/var/run/docker.sock, else /run/podman/podman.sock]
  --install-deps        apt-get install the agent's missing libraries
  --no-start            install only; do not enable or start the unit
  --help
There is no option to skip the TLS verification: an agent runs as root,
its binary must come from the plane it trusts (use --ca-file).
EOF_USAGE
}

need_arg() { [ "$#" -ge 2 ] || die "$1 needs a value"; }
while [ "$#" -gt 0 ]; do
    case $1 in
        --plane) need_arg "$@"; plane=$2; shift 2 ;;
        --tenant) need_arg "$@"; tenant=$2; shift 2 ;;
        --ca-file) need_arg "$@"; ca_file=$2; shift 2 ;;
        --token-file) need_arg "$@"; token_file=$2; shift 2 ;;
        --engine-socket) need_arg "$@"; engine_socket=$2; shift 2 ;;
        --install-deps) install_deps=1; shift ;;
        --no-start) start=0; shift ;;
        --help|-h) usage; exit 0 ;;
        *) die "unknown argument: $1 (see --help)" ;;
    esac
done

# ---------------------------------------------------------------- checks
[ "$(id -u)" = 0 ] || die "run as root (it installs $bin and a systemd unit)"
plane=${plane%/}
case $plane in
    https://*) proto=https ;;
    http://*) proto=http ;;
    '') die "no plane URL: give --plane https://plane.example.com" ;;
    *) die "--plane $plane: not an http(s):// URL" ;;
esac
case $plane in
    *[!A-Za-z0-9.:/_~%-]*) die "--plane $plane: unexpected characters in the URL" ;;
esac
case $tenant in
    '') die "no tenant: give --tenant SLUG" ;;
    *[!a-z0-9-]*) die "--tenant $tenant: not a tenant slug or UUID" ;;
esac
if [ -n "$ca_file" ]; then
    case $ca_file in /*) ;; *) die "--ca-file $ca_file: give an absolute path" ;; esac
    if [ ! -f "$ca_file" ] || [ ! -r "$ca_file" ]; then die "--ca-file $ca_file: not a readable file"; fi
fi
case $token_file in /*) ;; *) die "--token-file $token_file: give an absolute path" ;; esac
# The token file: written first (see above), a regular file of root's that
# nobody else may read. It is checked, never read, here.
if [ -L "$token_file" ] || [ ! -f "$token_file" ]; then
    die "no token file $token_file: write the server's agent token into it first, e.g.
  install -d -m 0700 $conf_dir && (umask 077 && printf '%s\\n' 'lnchr_at_...' > $token_file)"
fi
mode=$(stat -c %a "$token_file")
owner=$(stat -c %u "$token_file")
[ "$mode" = 600 ] || die "token file $token_file has mode $mode: it must be 0600 (chmod 600 $token_file)"

case $(uname -m) in
    x86_64|amd64) arch=amd64 ;;
    aarch64|arm64) arch=arm64 ;;
    *) die "no agent build for this machine's architecture ($(uname -m)): amd64 and arm64 only" ;;
esac

if [ -z "$engine_socket" ]; then
    engine_socket=/var/run/docker.sock
    if [ ! -S /var/run/docker.sock ] && [ -S /run/podman/podman.sock ]; then
        engine_socket=/run/podman/podman.sock
    fi
fi
[ -S "$engine_socket" ] || say "warning: no container engine answers on $engine_socket yet" \
    "(Docker, or Podman's service: systemctl enable --now podman.socket); the server stays" \
    "degraded until one does"

# ------------------------------------------------------------- downloads
tmp=$(mktemp -d /tmp/launcher-agent.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
if command -v curl > /dev/null 2>&1; then
    fetch() {
        if [ "$proto" = https ]; then
            set -- --proto =https --tlsv1.2 "$@"
        fi
        if [ -n "$ca_file" ]; then
            set -- --cacert "$ca_file" "$@"
        fi
        curl -fsS --retry 3 "$@"
    }
    get() { fetch -o "$2" "$plane/agent/$1"; }
elif command -v wget > /dev/null 2>&1; then
    fetch() {
        if [ "$proto" = https ]; then
            set -- --https-only "$@"
        fi
        if [ -n "$ca_file" ]; then
            set -- --ca-certificate="$ca_file" "$@"
        fi
        wget -q --tries=3 "$@"
    }
    get() { fetch -O "$2" "$plane/agent/$1"; }
else
    die "neither curl nor wget is installed (apt-get install curl)"
fi

say "downloading the agent for linux-$arch from $plane/agent/"
get SHA256SUMS "$tmp/SHA256SUMS" || die "cannot download $plane/agent/SHA256SUMS"
if ! grep -q "  linux-$arch/launcher-agent\$" "$tmp/SHA256SUMS"; then
    have=$(sed -n 's|^[0-9a-f]*  \(linux-[a-z0-9]*\)/launcher-agent$|\1|p' "$tmp/SHA256SUMS" | tr '\n' ' ')
    die "the plane has no agent for linux-$arch (it has: ${have:-none}); build one there (make agent-dist)"
fi
mkdir "$tmp/linux-$arch"
get "linux-$arch/launcher-agent" "$tmp/linux-$arch/launcher-agent" ||
    die "cannot download $plane/agent/linux-$arch/launcher-agent"
get launcher-agent.service "$tmp/launcher-agent.service" ||
    die "cannot download $plane/agent/launcher-agent.service"
grep -E "  (linux-$arch/launcher-agent|launcher-agent\\.service)\$" "$tmp/SHA256SUMS" > "$tmp/want"
[ "$(wc -l < "$tmp/want")" = 2 ] || die "SHA256SUMS lists no launcher-agent.service"
(cd "$tmp" && sha256sum --quiet --strict -c want) ||
    die "the downloaded files do not match the plane's SHA256SUMS (see above); nothing was installed"
say "sha256 verified: $(cut -c1-16 < "$tmp/want" | head -n 1)... linux-$arch/launcher-agent"

# The unit's user (the served unit may run the agent as a user of its own):
# it must reach the configuration, the token and the engine's socket.
user=$(sed -n 's/^User=\([a-z_][a-z0-9_-]*\)$/\1/p' "$tmp/launcher-agent.service" | head -n 1)
[ "$user" != root ] || user=''
# Root's file, or already the unit user's (a second run).
if [ "$owner" != 0 ] && { [ -z "$user" ] || [ "$owner" != "$(id -u "$user" 2>/dev/null)" ]; }; then
    die "token file $token_file belongs to uid $owner: it must be root's (chown root $token_file)"
fi

# ------------------------------------------------------------- install
install -d -m 0755 "$(dirname "$bin")"
install -m 0755 "$tmp/linux-$arch/launcher-agent" "$bin.new"
if ! "$bin.new" --version > "$tmp/version" 2>&1; then
    missing=$(ldd "$bin.new" 2>/dev/null | sed -n 's/^[[:space:]]*\([^ ]*\) => not found.*/\1/p' | tr '\n' ' ')
    if [ -n "$missing" ] && [ "$install_deps" = 1 ] && command -v apt-get > /dev/null 2>&1; then
        say "installing the agent's libraries: apt-get install $deps"
        # shellcheck disable=SC2086 # one word per package
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q $deps ||
            { rm -f "$bin.new"; die "apt-get install $deps failed"; }
    fi
    if ! "$bin.new" --version > "$tmp/version" 2>&1; then
        rm -f "$bin.new"
        [ -z "$missing" ] || die "the agent needs libraries this server lacks ($missing): apt-get install $deps (or rerun with --install-deps)"
        die "the downloaded agent does not run here: $(head -c 300 "$tmp/version")"
    fi
fi
mv -f "$bin.new" "$bin"
say "installed $bin ($(cat "$tmp/version"))"

if [ -n "$user" ]; then
    if ! id -u "$user" > /dev/null 2>&1; then
        getent group "$user" > /dev/null || groupadd --system "$user" || die "cannot create the group $user"
        useradd --system --gid "$user" --home-dir /var/lib/launcher-agent --no-create-home \
            --shell /usr/sbin/nologin --comment "Launcher agent" "$user" || die "cannot create the user $user"
        say "created the system user $user"
    fi
    group=$(id -gn "$user")
    if [ -S "$engine_socket" ]; then
        egroup=$(stat -c %G "$engine_socket")
        if [ "$egroup" != root ] && [ "$egroup" != UNKNOWN ]; then
            usermod -a -G "$egroup" "$user" || die "cannot add $user to the group $egroup"
        fi
    fi
    install -d -m 0750 -o root -g "$group" "$conf_dir"
    chown "$user" "$token_file"
    install -d -m 0700 -o "$user" -g "$group" /var/lib/launcher-agent
else
    install -d -m 0700 "$conf_dir"
fi

# The edge's site files (edge_sites_dir): the agent writes them and its lock
# there, and the unit names the directory in ReadWritePaths=, which must
# exist (else the unit does not start), so it is made with or without
# nginx. With nginx, its http block includes them: conf.d/*.conf is
# included there by Debian's nginx.conf (an existing file is kept).
sites=/etc/nginx/launcher-sites
if [ -n "$user" ]; then
    install -d -m 0755 -o "$user" -g "$group" "$sites"
else
    install -d -m 0755 "$sites"
fi
if command -v nginx > /dev/null 2>&1 && [ -d /etc/nginx/conf.d ] &&
        [ ! -e /etc/nginx/conf.d/launcher-sites.conf ]; then
    printf '# Written by the Launcher agent'"'"'s install script: the applications'"'"' sites.\ninclude %s/*.conf;\n' \
        "$sites" > /etc/nginx/conf.d/launcher-sites.conf
    say "wrote /etc/nginx/conf.d/launcher-sites.conf (include $sites/*.conf)"
fi

umask 022
{
    printf '# %s/agent.conf - written by the plane'"'"'s install script' "$conf_dir"
    [ -z "$server" ] || printf ' for the server %s' "$server"
    printf '.\n# Every key: launcher-agent --help (unknown keys are refused).\n'
    printf 'plane_url = %s\n' "$plane"
    printf 'tenant = %s\n' "$tenant"
    printf 'token_file = %s\n' "$token_file"
    [ -z "$ca_file" ] || printf 'ca_file = %s\n' "$ca_file"
    printf 'engine_socket = %s\n' "$engine_socket"
    printf 'state_dir = /var/lib/launcher-agent\n'
    if command -v nginx > /dev/null 2>&1; then
        printf '# The edge: this server'"'"'s nginx includes %s/*.conf in its http block\n' "$sites"
        printf '# (/etc/nginx/conf.d/launcher-sites.conf).\n'
        printf 'edge_sites_dir = %s\n' "$sites"
        printf 'nginx_test_command = nginx -t -q\nedge_reload_command = nginx -s reload\n'
    else
        printf '# No nginx here: applications get no edge routing until nginx is\n'
        printf '# installed and edge_sites_dir set (README "Agents on more servers").\n'
    fi
} > "$tmp/agent.conf"
if [ -f "$conf_dir/agent.conf" ] && ! cmp -s "$tmp/agent.conf" "$conf_dir/agent.conf"; then
    install -m 0644 "$tmp/agent.conf" "$conf_dir/agent.conf.dist"
    say "kept your $conf_dir/agent.conf; the new one is $conf_dir/agent.conf.dist"
else
    install -m 0644 "$tmp/agent.conf" "$conf_dir/agent.conf"
    say "wrote $conf_dir/agent.conf"
fi

install -d -m 0755 "$(dirname "$unit")"
sed "s|^ExecStart=[^ ]*launcher-agent |ExecStart=$bin |" "$tmp/launcher-agent.service" > "$tmp/unit"
install -m 0644 "$tmp/unit" "$unit"
say "installed $unit"

if [ "$start" = 0 ]; then
    say "not started (--no-start): systemctl enable --now launcher-agent"
elif [ -d /run/systemd/system ] && command -v systemctl > /dev/null 2>&1; then
    systemctl daemon-reload
    systemctl enable launcher-agent > /dev/null 2>&1 || die "systemctl enable launcher-agent failed"
    systemctl restart launcher-agent || die "systemctl restart launcher-agent failed (journalctl -u launcher-agent)"
    say "started: systemctl status launcher-agent; the server turns online at its first heartbeat"
else
    say "systemd is not running here: start the agent with"
    say "  $(sed -n 's/^ExecStart=//p' "$unit")${user:+  (as the user $user)}"
fi
