#!/usr/bin/env bash
# tests/ops/test_failover.sh [BUILD] - PostgreSQL high availability as the
# pool sees it (README "Scale-out and PostgreSQL high availability"): a
# throwaway stack whose database_url names two hosts (the same socket
# directory, two ports) with target_session_attrs=read-write, reloaded
# into the pool (SIGHUP); under a load of concurrent clients
# (tests/ops/lib/load.py) PostgreSQL is stopped and started again with the
# same data directory on the URL's second port, as a failover to another
# host looks to a client.  Checks:
#   multihost   the pool serves with the two-host URL before the switch
#   switch      no request failed outside the switch (from the stop until
#               each client's first success after PostgreSQL is back)
#   recovered   every client succeeded again after the switch; the
#               reconnect time (PostgreSQL ready -> the first success) and
#               the failures' statuses are printed
#   me+write    after the switch a fresh GET /auth/me and a POST /projects
#               answer 200 and 201
#   helpers     launcher-ws (started again with the two-host URL) lost its
#               listener's connection and listens again by itself; a
#               launcher-scheduler tick runs on the moved database
#   read-only   a server that answers but is read-only (the old primary
#               come back as a standby: default_transaction_read_only) is
#               skipped for the next host by target_session_attrs, so the
#               pool keeps writing
# Last line: "test_failover: N passed, M failed".
set -u
cd "$(dirname "$0")/../.." || exit 1
# shellcheck source=tests/ops/lib/opstack.sh
. tests/ops/lib/opstack.sh "$@"
PG_BIN=/usr/lib/postgresql/15/bin
ops_stack failover || ops_abort stack "the throwaway stack did not start"
st=$LAUNCHER_STATE_DIR
data=$st/pg/data
sock=$st/pg/sock
port1=$LAUNCHER_PG_PORT
port2=$(throwaway_port 1)
pg() { (cd / && runuser -u postgres -- "$@"); }

# as_user TOKEN METHOD PATH [BODY]: status of one API call.
api() {
	curl -sS -o /dev/null -w '%{http_code}' --max-time 30 --cacert "$LAUNCHER_CACERT" \
		-H "Authorization: Bearer $1" -H 'Content-Type: application/json' -X "$2" \
		${4:+--data "$4"} "$LAUNCHER_HTTPS_BASE_URL/$tenant/api/v1$3"
}

# The three URLs of launcher.conf name both "hosts" (one socket directory,
# two ports: libpq tries them in order) and want a read-write session.
multi="host=$sock,$sock port=$port1,$port2 target_session_attrs=read-write connect_timeout=3"
sed -i -E "s#^(database_url|admin_database_url|maintenance_database_url) = \"host=[^ ]* port=[0-9]* #\1 = \"$multi #" \
	"$LAUNCHER_CONF"
pool=$(cat "$st/run/fcgi.pid")
kill -HUP "$pool"
tenant=$(ops_tenants 1)
token=$(curl -sS --max-time 60 --cacert "$LAUNCHER_CACERT" -H 'Content-Type: application/json' \
	--data '{"email":"ha@example.com","password":"s3cret-Passw0rd!","first_name":"H","last_name":"A"}' \
	"$LAUNCHER_HTTPS_BASE_URL/$tenant/api/v1/auth/register" |
	$OPS_PY -c 'import json, sys; print(json.load(sys.stdin)["data"]["token"])' 2> /dev/null)
# The reload's new workers connected with the two-host URL (the log says so
# once the reload started its new generation).
deadline=$((SECONDS + 30))
until grep -q "reload: generation [0-9]* started" "$LAUNCHER_LOG_DIR/fcgi.log" || [ "$SECONDS" -ge "$deadline" ]; do sleep 0.2; done
if [ -n "$token" ] && grep -q "^database_url = \"$multi " "$LAUNCHER_CONF" &&
	grep -q "reload: generation [0-9]* started" "$LAUNCHER_LOG_DIR/fcgi.log" &&
	[ "$(api "$token" GET /auth/me)" = 200 ]; then
	ok "multihost: the pool serves with database_url \"$multi ...\""
else
	bad "multihost" "no answer with the two-host URL (token: ${token:+yes}; me: $(api "$token" GET /auth/me); pool log: $(grep -E 'reload|generation' "$LAUNCHER_LOG_DIR/fcgi.log" | tail -n 3))"
fi

# launcher-ws reads the config when it starts: started again with it.
ws=$(cat "$st/run/ws.pid")
kill -TERM "$ws"
deadline=$((SECONDS + 30))
while ops_alive "$ws" && [ "$SECONDS" -lt "$deadline" ]; do sleep 0.1; done
rm -f "$st/run/ws.sock"
setsid "$LAUNCHER_BIN_DIR/launcher-ws" -c "$LAUNCHER_CONF" >> "$LAUNCHER_LOG_DIR/ws.log" 2>&1 < /dev/null &
echo "$!" > "$st/run/ws.pid"
disown "$!"
until [ -S "$st/run/ws.sock" ] || [ "$SECONDS" -ge "$deadline" ]; do sleep 0.1; done
ws_mark=$(wc -l < "$LAUNCHER_LOG_DIR/ws.log")

# ------------------------------------------------------------- the switch
tenants=$(ops_tenants 4)
load=$st/load.jsonl
ops_load_start "$load" "$tenants"
if ! ops_load_wait "$load" 200; then
	bad "load" "the load did not get going: $(tail -n 3 "$load" "$load.out" 2> /dev/null)"
fi
t_stop=$(date +%s.%N)
pg "$PG_BIN/pg_ctl" -D "$data" -m fast -w -t 30 -s stop
# The same data directory on the URL's second port.
sed -i "s/^port = $port1\$/port = $port2/" "$data/stack.conf"
sleep 1	# a second of outage under load
pg "$PG_BIN/pg_ctl" -D "$data" -l "$LAUNCHER_LOG_DIR/postgres.log" -w -t 60 -s start
t_up=$(date +%s.%N)
# The stack's stop finds the new postmaster.
head -n 1 "$data/postmaster.pid" > "$st/run/postgres.pid"
# Each client gets 100 more successful requests (or the wait ends).
n=$(ops_load_ok "$load")
ops_load_wait "$load" $((n + 400))
ops_load_stop
sum=$($OPS_PY tests/ops/lib/summary.py "$load" --switch "$t_stop" "$t_up")
echo "     load: $sum" | cut -c1-600
if [ "$(ops_field "$sum" bad)" = 0 ] && [ "$(ops_field "$sum" total)" -gt 0 ]; then
	ok "switch: $(ops_field "$sum" total) requests, $(ops_field "$sum" failed) failed, all during the switch"
else
	bad "switch" "$(ops_field "$sum" bad) requests failed outside the switch: $(ops_field "$sum" samples | cut -c1-400)"
fi
# Per client: its first success after PostgreSQL was back.
rec=$($OPS_PY - "$load" "$t_stop" "$t_up" <<'EOF'
import json, sys
a, b = float(sys.argv[2]), float(sys.argv[3])
first, clients = {}, set()
for line in open(sys.argv[1]):
    r = json.loads(line)
    clients.add(r["c"])
    if r["ok"] and r["t0"] > b:
        first[r["c"]] = min(first.get(r["c"], r["t1"]), r["t1"])
worst = max(first.values()) - b if first else -1
print("%d %d %.0f %.0f" % (len(clients), len(first), worst * 1000, (max(first.values()) - a) * 1000 if first else -1))
EOF
)
read -r nclients nrecovered reconnect_ms outage_ms <<< "$rec"
if [ "$nclients" -gt 0 ] && [ "$nclients" = "$nrecovered" ]; then
	ok "recovered: all $nclients clients served again; the last one ${reconnect_ms} ms after PostgreSQL was ready (${outage_ms} ms after the stop); failures' statuses $(ops_field "$sum" statuses)"
else
	bad "recovered" "$nrecovered of $nclients clients served again after the switch"
fi
me=$(api "$token" GET /auth/me)
write=$(api "$token" POST /projects '{"name":"after-failover"}')
if [ "$me" = 200 ] && [ "$write" = 201 ]; then
	ok "me+write: GET /auth/me 200, POST /projects 201 after the switch"
else
	bad "me+write" "GET /auth/me $me, POST /projects $write"
fi

# The helpers: launcher-ws's listener lost its connection and listens again
# (its back-off is at most 10 s); a scheduler tick connects anew.
ws_back() {
	tail -n +"$((ws_mark + 1))" "$LAUNCHER_LOG_DIR/ws.log" |
		awk '/database connection lost/ { lost = 1 } lost && /listening for job and stream notifications/ { ok = 1 } END { exit !ok }'
}
deadline=$((SECONDS + 40))
until ws_back || [ "$SECONDS" -ge "$deadline" ]; do sleep 0.5; done
tick=$("$LAUNCHER_BIN_DIR/launcher-scheduler" -c "$LAUNCHER_CONF" --once 2>&1)
rc=$?
if ws_back && [ "$rc" = 0 ]; then
	ok "helpers: launcher-ws's listener reconnected by itself, a launcher-scheduler tick ran on the moved database"
else
	bad "helpers" "ws: $(tail -n +"$((ws_mark + 1))" "$LAUNCHER_LOG_DIR/ws.log" | grep -c 'listening for job') listening line(s) since the switch; scheduler rc $rc: $(tail -n 2 <<< "$tick")"
fi

# -------------------------------------------------- a read-only first host
# A second cluster on the first port that refuses writes, as a demoted
# primary does: libpq's read-write check skips it for the second host.
ro=$st/pg/ro
install -d -m 0700 -o postgres -g postgres "$ro"
if pg "$PG_BIN/initdb" -D "$ro" -U postgres --auth-local=trust --auth-host=reject > "$st/ro-initdb.log" 2>&1 &&
	printf "listen_addresses = ''\nport = %s\nunix_socket_directories = '%s'\ndefault_transaction_read_only = on\n" \
		"$port1" "$sock" >> "$ro/postgresql.conf" &&
	install -m 0640 -o postgres -g postgres /dev/null "$LAUNCHER_LOG_DIR/ro.log" &&
	pg "$PG_BIN/pg_ctl" -D "$ro" -l "$LAUNCHER_LOG_DIR/ro.log" -w -t 60 -s start; then
	# The API role exists there too (any password: trust): libpq tries no
	# further host after a failed authentication, only the read-only check
	# may send the pool on.
	pg "$PG_BIN/psql" -X -q -h "$sock" -p "$port1" -U postgres -d postgres \
		-c "SET default_transaction_read_only = off" -c "CREATE ROLE launcher_api LOGIN" \
		-c "CREATE DATABASE launcher" > /dev/null
	# Every worker connects anew: kill its connection on the real server.
	pg "$PG_BIN/psql" -X -q -h "$sock" -p "$port2" -U postgres -d postgres \
		-c "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = 'launcher_api'" > /dev/null
	codes=""
	for i in 1 2 3 4 5 6; do
		codes+="$(api "$token" POST /projects "{\"name\":\"ro-$i\"}") "
	done
	n201=$(grep -o 201 <<< "$codes" | wc -l)
	# The first request of each worker may meet its terminated connection
	# (one retry on a fresh one, db.c); all must end written.
	if [ "$n201" = 6 ]; then
		ok "read-only: with a read-only server on the first host, 6 of 6 writes succeeded (the second host)"
	else
		bad "read-only" "writes answered: $codes"
	fi
	pg "$PG_BIN/pg_ctl" -D "$ro" -m immediate -w -t 30 -s stop
else
	bad "read-only" "could not start the read-only cluster: $(tail -n 3 "$st/ro-initdb.log" "$LAUNCHER_LOG_DIR/ro.log" 2> /dev/null)"
fi
ops_finish
