#!/usr/bin/env bash
# tests/ops/test_scale_out.sh [BUILD] - two pools on one database behind one
# nginx upstream (README "Scale-out and PostgreSQL high availability"): a
# throwaway stack, a second launcher-fcgi master (its own socket and state
# file, the same launcher.conf otherwise) added to the upstream launcher_api
# through nginx/api-upstream.d/ and an nginx reload; under a load of
# concurrent clients (tests/ops/lib/load.py) the second pool is restarted,
# then the first pool's master and workers are killed (SIGKILL, all at once).  Checks:
#   two-pools   both pools serve the load (their workers read requests)
#   rolling     the second pool stopped (SIGTERM) and started again (ROLLS
#               times, 4), as an upgrade restarts pools one at a time, until
#               nginx sends it requests again: no request failed
#   kill        no request failed but those in flight at the kill (a
#               request that got no connection goes to the other pool:
#               fastcgi_next_upstream error timeout); the count printed
#   after       the requests after the kill all succeeded, served by the
#               second pool alone
# Last line: "test_scale_out: N passed, M failed".
set -u
cd "$(dirname "$0")/../.." || exit 1
# shellcheck source=tests/ops/lib/opstack.sh
. tests/ops/lib/opstack.sh "$@"
ops_stack scaleout || ops_abort stack "the throwaway stack did not start"
st=$LAUNCHER_STATE_DIR
sock2=$st/run/fcgi2.sock

# The second pool: the same config but for its socket and state file.
sed -e "s#^listen = .*#listen = \"$sock2\"#" \
	-e "s#^fcgi_state_file = .*#fcgi_state_file = \"$st/run/fcgi2.state\"#" \
	"$LAUNCHER_CONF" > "$st/launcher2.conf"
start_pool2() {
	local deadline=$((SECONDS + 30))
	setsid "$LAUNCHER_BIN_DIR/launcher-fcgi" -c "$st/launcher2.conf" >> "$LAUNCHER_LOG_DIR/fcgi2.log" 2>&1 < /dev/null &
	pool2=$!
	disown "$pool2"	# ended by the test's end, no job notice
	until [ -S "$sock2" ] || [ "$SECONDS" -ge "$deadline" ]; do sleep 0.1; done
}
start_pool2
printf 'server unix:%s max_fails=0;\n' "$sock2" > "$st/nginx/api-upstream.d/pool2.conf"
kill -HUP "$(cat "$st/run/nginx.pid")"
sleep 2	# the reload's new nginx workers take over
pool1=$(cat "$st/run/fcgi.pid")

# pool_reads MASTER: the bytes its workers have read so far (requests).
pool_reads() {
	local pid total=0 r
	for pid in $(pgrep -P "$1"); do
		r=$(awk '/^rchar:/ { print $2 }' "/proc/$pid/io" 2> /dev/null)
		total=$((total + ${r:-0}))
	done
	echo "$total"
}

tenants=$(ops_tenants 4)
load=$st/load.jsonl
r1=$(pool_reads "$pool1")
r2=$(pool_reads "$pool2")
ops_load_start "$load" "$tenants"
if ! ops_load_wait "$load" 300; then
	bad "load" "the load did not get going: $(tail -n 3 "$load" "$load.out" 2> /dev/null)"
fi
d1=$(($(pool_reads "$pool1") - r1))
d2=$(($(pool_reads "$pool2") - r2))
if [ -S "$sock2" ] && [ "$d1" -gt 100000 ] && [ "$d2" -gt 100000 ]; then
	ok "two-pools: both pools serve the load (their workers read $d1 and $d2 bytes)"
else
	bad "two-pools" "pool 1 read $d1 bytes, pool 2 $d2 (socket 2: $([ -S "$sock2" ] && echo yes || echo no); upstream: $(grep -c 'api-upstream.d' "$st/nginx/nginx.conf" 2> /dev/null) include(s) in nginx.conf)"
fi

# A rolling restart (an upgrade's last step), ROLLS times: the second pool
# stopped gracefully (SIGTERM: it unlinks its socket, serves what nginx
# already queued on it and what is in flight) and started again while the
# first one serves; not one request may fail, a POST included (nginx retries
# a request it could not send on the other server, never one it sent).
ROLLS=${ROLLS:-4}
mark=$(wc -l < "$load")
for _ in $(seq "$ROLLS"); do
	kill -TERM "$pool2"
	deadline=$((SECONDS + 60))
	while ops_alive "$pool2" && [ "$SECONDS" -lt "$deadline" ]; do sleep 0.1; done
	start_pool2
	# Back in the rotation: its workers read requests again.
	r2=$(pool_reads "$pool2")
	deadline=$((SECONDS + 60))
	until [ "$(($(pool_reads "$pool2") - r2))" -gt 50000 ] || [ "$SECONDS" -ge "$deadline" ]; do sleep 0.2; done
done
rsum=$(tail -n +"$((mark + 1))" "$load" | $OPS_PY tests/ops/lib/summary.py /dev/stdin)
if [ "$(ops_field "$rsum" failed)" = 0 ] && [ "$(ops_field "$rsum" total)" -gt 300 ] && [ -S "$sock2" ]; then
	ok "rolling: pool 2 stopped (SIGTERM) and started again $ROLLS times, back in nginx's rotation each time, under load: $(ops_field "$rsum" total) requests, none failed"
else
	bad "rolling" "$(ops_field "$rsum" failed) of $(ops_field "$rsum" total) requests failed around the restart (statuses $(ops_field "$rsum" statuses)): $(ops_field "$rsum" samples | cut -c1-300)"
fi

# The first pool dies at once: master and workers.
victims="$pool1 $(pgrep -P "$pool1" | tr '\n' ' ')"
t_a=$(date +%s.%N)
# shellcheck disable=SC2086 # one pid a word
kill -KILL $victims
t_b=$(date +%s.%N)
# 800 more requests, whatever their answers (at most 120 s).
n=$(wc -l < "$load")
deadline=$((SECONDS + 120))
until [ "$(wc -l < "$load")" -ge $((n + 800)) ] || [ "$SECONDS" -ge "$deadline" ]; do sleep 0.2; done
ops_load_stop
sum=$($OPS_PY tests/ops/lib/summary.py "$load" --inflight "$t_a" "$t_b")
echo "     load: $sum" | cut -c1-600
if [ "$(ops_field "$sum" bad)" = 0 ] && [ "$(ops_field "$sum" total)" -gt 0 ]; then
	ok "kill: $(ops_field "$sum" total) requests, $(ops_field "$sum" failed) failed (in flight at the kill; statuses $(ops_field "$sum" statuses)); nginx logged $(grep -c -F "unix:$st/run/fcgi.sock" "$st/nginx/logs/error.log") error(s) of the dead pool"
else
	bad "kill" "$(ops_field "$sum" bad) requests failed that were not in flight at the kill: $(ops_field "$sum" samples | cut -c1-400)"
fi
after=$(ops_field "$sum" after)
if [ "$after" -gt 0 ] && [ "$after" = "$(ops_field "$sum" after_ok)" ] && ! ops_alive "$pool1"; then
	ok "after: $after requests after the kill, all served by the second pool"
else
	bad "after" "$(ops_field "$sum" after_ok) of $after requests after the kill succeeded"
fi
ops_finish
