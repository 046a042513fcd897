#!/bin/bash
# The PostgreSQL image's entrypoint (docker/postgres/Dockerfile).  As root:
# the data dir owned by postgres (mode 0700), then again as postgres.  First
# start (no PG_VERSION): initdb with the superuser POSTGRES_USER and the
# password read from POSTGRES_PASSWORD_FILE (a file: never argv nor env).
# Then the server is PID 1 (SIGINT: fast shutdown).
set -euo pipefail
: "${PGDATA:=/var/lib/postgresql/data}"
export PGDATA
# (a secret file is often readable by root only: initdb reads a copy that
# postgres owns, removed once the cluster exists)
PWCOPY=/run/postgresql/initdb-password
if [ "$(id -u)" = 0 ]; then
    install -d -m 0700 -o postgres -g postgres "$PGDATA"
    chown postgres:postgres "$PGDATA"
    chmod 0700 "$PGDATA"
    if [ ! -s "$PGDATA/PG_VERSION" ]; then
        pwfile=${POSTGRES_PASSWORD_FILE:-}
        if [ -z "$pwfile" ] || [ ! -s "$pwfile" ]; then
            echo "launcher-postgres: POSTGRES_PASSWORD_FILE must name a non-empty file (a compose secret) on first start" >&2
            exit 1
        fi
        install -m 0600 -o postgres -g postgres "$pwfile" "$PWCOPY"
    fi
    exec setpriv --reuid=postgres --regid=postgres --init-groups "$0" "$@"
fi
if [ ! -s "$PGDATA/PG_VERSION" ]; then
    [ -s "$PWCOPY" ] || { echo "launcher-postgres: start the container as root on the first start" >&2; exit 1; }
    rc=0
    initdb -D "$PGDATA" -U "${POSTGRES_USER:-postgres}" -E UTF8 --locale=C.UTF-8 \
        --auth-local=peer --auth-host=scram-sha-256 --pwfile="$PWCOPY" > /dev/null || rc=$?
    rm -f "$PWCOPY"
    [ "$rc" = 0 ] || exit "$rc"
    cat >> "$PGDATA/postgresql.conf" <<'EOC'

# launcher-postgres (docker/postgres/entrypoint.sh)
listen_addresses = '*'
password_encryption = 'scram-sha-256'
EOC
    cat > "$PGDATA/pg_hba.conf" <<'EOC'
# TYPE  DATABASE  USER  ADDRESS  METHOD   (launcher-postgres)
local   all       all            peer
host    all       all   all      scram-sha-256
EOC
    echo "launcher-postgres: initialised $PGDATA"
fi
if [ "${1:-}" = postgres ]; then
    shift
    exec postgres -D "$PGDATA" "$@"
fi
exec "$@"
