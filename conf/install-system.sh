#!/usr/bin/env bash
# install-system.sh ETC STATE LOGS NGINX REDIRECT_LISTEN [--no-site] — what
# a live install of Launcher needs beyond its files (README "Install"): the
# system users, the TLS, state and log directories with their owners, and
# the nginx site's link. Run as root by conf/install.sh (`make install` without
# DESTDIR) and by the Debian package's postinst (installed as
# PREFIX/share/launcher/install-system.sh; README "The Debian package").
# Idempotent: what exists is left as it is (owners and modes are set again).
#   ETC              /etc/launcher
#   STATE            /var/lib/launcher
#   LOGS             /var/log/launcher
#   NGINX            /etc/nginx
#   REDIRECT_LISTEN  install.sh's (80 by default; empty: no port-80 server)
#   --no-site        leave sites-enabled alone (the package's upgrades: an
#                    operator who removed the link keeps it removed)
set -euo pipefail

[ $# -ge 5 ] || { echo "usage: install-system.sh ETC STATE LOGS NGINX REDIRECT_LISTEN [--no-site]" >&2; exit 2; }
ETC=$1 STATE=$2 LOGS=$3 NGINX=$4 REDIRECT_LISTEN=$5 SITE=1
# The plane's backups (plane_backup_destination_file's suggested directory;
# launcher-backup.service's ReadWritePaths=): LOCALSTATEDIR/backups/launcher.
BACKUPS=/var/backups/launcher
case $STATE in */lib/launcher) BACKUPS=${STATE%/lib/launcher}/backups/launcher ;; esac
[ "${6:-}" != --no-site ] || SITE=0
note() { printf 'install: %s\n' "$*"; }

ensure_users() {
    # launcher: the plane (home = its state dir, no login), in www-data so
    # that its sockets can be group www-data (nginx's workers).
    if ! getent group launcher > /dev/null; then groupadd --system launcher; fi
    if ! getent passwd launcher > /dev/null; then
        useradd --system --gid launcher --home-dir "$STATE" --no-create-home \
            --shell /usr/sbin/nologin --comment "Launcher control plane" launcher
        note "created the system user launcher"
    fi
    if getent group www-data > /dev/null; then usermod -a -G www-data launcher; fi
    # launcher-agent: the agent, in the container engine's group.
    if ! getent group launcher-agent > /dev/null; then groupadd --system launcher-agent; fi
    if ! getent passwd launcher-agent > /dev/null; then
        useradd --system --gid launcher-agent --home-dir /var/lib/launcher-agent --no-create-home \
            --shell /usr/sbin/nologin --comment "Launcher agent" launcher-agent
        note "created the system user launcher-agent"
    fi
    if getent group docker > /dev/null; then usermod -a -G docker launcher-agent; fi
}

# dir PATH MODE OWNER GROUP
dir() {
    install -d -m "$2" "$1"
    chown "$3:$4" "$1"
}

state_dirs() {
    # The TLS pair of setup (key 0600 launcher's).
    dir "$ETC/tls" 0750 launcher launcher
    # /var/lib/launcher: group www-data may traverse it (nginx serves
    # icons/ and acme-plane/, writes imports/tmp/).
    dir "$STATE" 0750 launcher www-data
    dir "$STATE/icons" 0755 launcher launcher
    dir "$STATE/acme-plane" 0755 launcher launcher
    dir "$STATE/acme" 0700 launcher launcher
    # Uploads: nginx's workers write imports/tmp, the pool renames into imports/.
    dir "$STATE/imports" 2770 launcher www-data
    dir "$STATE/imports/tmp" 2770 launcher www-data
    dir "$LOGS" 0750 launcher adm
    # The agent's edge sites (edge_sites_dir): its unit's ReadWritePaths=
    # names the directory, which must exist for the unit to start.
    dir "$NGINX/launcher-sites" 0755 launcher-agent launcher-agent
    # Dumps of the plane's database (sealed secrets, users): launcher's only.
    install -d -m 0755 "$(dirname "$BACKUPS")"
    dir "$BACKUPS" 0700 launcher launcher
}

# sites-enabled/launcher, unless the operator has one; and Debian's stock
# default site off when it claims port 80 as default_server like ours.
enable_site() {
    local en=$NGINX/sites-enabled
    [ -d "$en" ] || return 0
    if [ ! -e "$en/launcher" ] && [ ! -L "$en/launcher" ]; then
        ln -s "$NGINX/sites-available/launcher" "$en/launcher"
        note "enabled $en/launcher"
    fi
    if [ -n "$REDIRECT_LISTEN" ] && [ -L "$en/default" ] &&
        [ "$(readlink "$en/default")" = "$NGINX/sites-available/default" ]; then
        rm -f "$en/default"
        note "disabled Debian's default site ($en/default; its file in sites-available is kept): Launcher's site is port 80's default server"
    fi
}

ensure_users
state_dirs
if [ "$SITE" = 1 ]; then enable_site; fi
