#!/usr/bin/env bash
# tests/bench/agent_rss.sh - the agent's memory over a long run (make
# bench-agent): a throwaway stack, one server with heartbeats every second,
# the real launcher-agent against Podman, a diagnostics run every minute;
# VmRSS sampled every 5 s.  AGENT_SOAK_SECONDS (default 600) sets the length.
set -euo pipefail
cd "$(dirname "$0")/../.."
PY=/usr/bin/python3
SECS=${AGENT_SOAK_SECONDS:-600}
# shellcheck source=tests/lib/throwaway_stack.sh
. tests/lib/throwaway_stack.sh
throwaway_stack soak
export LAUNCHER_LOCAL_AGENT=0
agent=""
cleanup() {
	[ -n "$agent" ] && kill "$agent" 2>/dev/null && wait "$agent" 2>/dev/null || true
	bash conf/stack/launcher-stack.sh stop > /dev/null 2>&1 || true
	throwaway_unmount
	rm -rf "$LAUNCHER_STATE_DIR"
}
trap cleanup EXIT
bash conf/stack/launcher-stack.sh start > "$LAUNCHER_STATE_DIR/start.out" 2>&1 ||
	{ cat "$LAUNCHER_STATE_DIR/start.out"; exit 1; }
eval "$(grep '^export LAUNCHER_ENGINE_SOCKET=' "$LAUNCHER_STATE_DIR/run/stack.env")"
B="https://localhost:$LAUNCHER_HTTPS_PORT/default/api/v1"
CA="$LAUNCHER_STATE_DIR/tls/cert.pem"
json() { $PY -c "import json,sys; print(json.load(sys.stdin)$1)"; }
TOKEN=$(curl -fsS --cacert "$CA" -X POST "$B/auth/register" -H 'Content-Type: application/json' \
	-d '{"email":"soak@example.com","password":"soak-Passw0rd","first_name":"S","last_name":"K"}' |
	json "['data']['token']")
SRV=$(curl -fsS --cacert "$CA" -X POST "$B/servers" -H "Authorization: Bearer $TOKEN" \
	-H 'Content-Type: application/json' -d '{"name":"soak","heartbeat_interval_seconds":1}')
SID=$(echo "$SRV" | json "['data']['id']")
install -d -m 0700 "$LAUNCHER_STATE_DIR/soak"
(umask 077; echo "$SRV" | json "['data']['agent_token']" > "$LAUNCHER_STATE_DIR/soak/token")
build/bin/launcher-agent --plane "https://localhost:$LAUNCHER_HTTPS_PORT" --tenant default \
	--token-file "$LAUNCHER_STATE_DIR/soak/token" --ca "$CA" --engine-socket "$LAUNCHER_ENGINE_SOCKET" \
	--state-dir "$LAUNCHER_STATE_DIR/soak" --heartbeat-interval 1 2> "$LAUNCHER_STATE_DIR/soak/agent.log" &
agent=$!
echo "agent pid $agent, ${SECS}s, heartbeat every 1 s, diagnostics every 60 s"
max=0
first=""
for ((t = 0; t < SECS; t += 5)); do
	sleep 5
	rss=$(awk '/^VmRSS:/ {print $2}' "/proc/$agent/status")
	[ -z "$first" ] && first=$rss
	[ "$rss" -gt "$max" ] && max=$rss
	if (( t % 60 == 0 )); then
		curl -fsS -o /dev/null --cacert "$CA" -X POST "$B/servers/$SID/diagnostics" -H "Authorization: Bearer $TOKEN"
		printf '%4ds  VmRSS %6d kB\n' "$t" "$rss"
	fi
done
beats=$(curl -fsS --cacert "$CA" "$B/servers/$SID/status" -H "Authorization: Bearer $TOKEN" | json "['data']['status']")
echo "agent VmRSS: first sample $first kB, max $max kB over ${SECS}s (server $beats)"
