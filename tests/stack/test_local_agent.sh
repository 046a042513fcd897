#!/usr/bin/env bash
# tests/stack/test_local_agent.sh - `make start` registers this machine as
# the server "local" of the tenant "default" and starts its agent against
# the stack's engine: the server must come online with the engine's real
# version; and it runs launcher-scheduler (its first tick is logged).  A second, throwaway stack on free ports; prints one
# "stack local-agent: N passed, N failed" line.
set -u
cd "$(dirname "$0")/../.."
PY=/usr/bin/python3
BUILD=${1:-build}
# shellcheck source=tests/lib/throwaway_stack.sh
. tests/lib/throwaway_stack.sh
throwaway_stack local
export LAUNCHER_LOCAL_AGENT=1 LAUNCHER_BIN_DIR="$PWD/$BUILD/bin"
trap 'bash conf/stack/launcher-stack.sh stop > /dev/null 2>&1; rm -rf "$LAUNCHER_STATE_DIR"' EXIT
fail() { echo "local agent: $*"; echo "stack local-agent: 0 passed, 1 failed"; exit 1; }
bash conf/stack/launcher-stack.sh start > "$LAUNCHER_STATE_DIR/start.out" 2>&1 ||
	{ tail -n 20 "$LAUNCHER_STATE_DIR/start.out"; fail "the stack did not start"; }
B="https://localhost:$LAUNCHER_HTTPS_PORT/default/api/v1"
CA="$LAUNCHER_STATE_DIR/tls/cert.pem"
TOKEN=$(curl -fsS --cacert "$CA" -X POST "$B/auth/register" -H 'Content-Type: application/json' \
	-d '{"email":"local@example.com","password":"local-Passw0rd","first_name":"L","last_name":"A"}' |
	$PY -c "import json,sys; print(json.load(sys.stdin)['data']['token'])") || fail "register failed"
want=$(podman --version | awk '{print $NF}')
for _ in $(seq 1 60); do
	got=$(curl -fsS --cacert "$CA" "$B/servers" -H "Authorization: Bearer $TOKEN" | $PY -c "
import json, sys
s = [x for x in json.load(sys.stdin)['data'] if x['name'] == 'local']
print('%s %s %s' % (s[0]['status'], s[0]['engine'], s[0]['engine_version']) if s else 'absent')")
	if [ "$got" = "online podman $want" ]; then
		grep -q "tick:" "$LAUNCHER_STATE_DIR/log/scheduler.log" 2>/dev/null ||
			fail "launcher-scheduler did not tick (log/scheduler.log)"
		echo "stack local-agent: 1 passed, 0 failed"
		exit 0
	fi
	sleep 0.5
done
fail "server local is '$got', want 'online podman $want'"
