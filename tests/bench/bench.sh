#!/usr/bin/env bash
# tests/bench/bench.sh - make bench: wrk through nginx against a throwaway
# stack (2 pool workers), 32 connections, 10 s per case:
#   a) /_bench/select1   one unprepared SELECT 1: the ceiling of this stack
#                        as ARCHITECTURE.md defines it
#   p) /_bench/select1-prepared   the same, prepared: a stricter reference
#   b) GET /auth/me      with a service key (x-lnchr-key)
#   c) GET /auth/me      with a JWT (Authorization: Bearer)
#   d) GET /projects?limit=50   50 projects, with a service key
# The machine is shared and noisy, so the cases are interleaved over
# BENCH_ROUNDS rounds (default 7: a p b c d a p b c d ...) and each figure is
# the median of its rounds; ratios are of those medians, all from one run.
# Prints req/s, p50, p99 per case and the ratios b/a, c/a, d/a (and the same
# against p); then the CPU
# time per request of nginx, the pool and PostgreSQL (tests/bench/cpu.py)
# and the same ratios by CPU time; last, the env case (tests/bench/env_deploy.py:
# how much later a deploy with 500 variables is claimed than one with none).  Plain HTTP on loopback: TLS would cost
# every case the same and measure nginx, not us.
# BENCH_SECONDS, BENCH_ROUNDS and BENCH_CONNECTIONS override the defaults.
set -euo pipefail
cd "$(dirname "$0")/../.."
REPO=$(pwd -P)
PY=/usr/bin/python3
SECS=${BENCH_SECONDS:-10}
CONNS=${BENCH_CONNECTIONS:-32}
ROUNDS=${BENCH_ROUNDS:-7}
command -v wrk > /dev/null || { echo "wrk is missing (make install-deps)"; exit 1; }

# shellcheck source=tests/lib/throwaway_stack.sh
. tests/lib/throwaway_stack.sh
throwaway_stack bench
export LAUNCHER_BENCH=true LAUNCHER_WORKERS=${LAUNCHER_WORKERS:-2} LAUNCHER_LOG_LEVEL=warn
export LAUNCHER_LOCAL_AGENT=0
export LAUNCHER_RATE_IP=100000r/s LAUNCHER_BURST_IP=100000
export LAUNCHER_RATE_KEY=100000r/s LAUNCHER_BURST_KEY=100000
export LAUNCHER_RATE_AUTH=100000r/s LAUNCHER_BURST_AUTH=100000
cleanup() {
	bash conf/stack/launcher-stack.sh stop > /dev/null 2>&1 || true
	throwaway_unmount
	rm -rf "$LAUNCHER_STATE_DIR"
}
trap cleanup EXIT
bash conf/stack/launcher-stack.sh start > "$LAUNCHER_STATE_DIR/start.out" 2>&1 ||
	{ cat "$LAUNCHER_STATE_DIR/start.out"; exit 1; }

BASE="http://127.0.0.1:$LAUNCHER_HTTP_PORT"
T=/default/api/v1
json() { $PY -c "import json,sys; print(json.load(sys.stdin)$1)"; }
TOKEN=$(curl -fsS -X POST "$BASE$T/auth/register" -H 'Content-Type: application/json' \
	-d '{"email":"bench@example.com","password":"bench-Passw0rd","first_name":"B","last_name":"M"}' |
	json "['data']['token']")
KEY=$(curl -fsS -X POST "$BASE$T/settings/service-keys" -H "Authorization: Bearer $TOKEN" \
	-H 'Content-Type: application/json' -d '{"name":"bench"}' | json "['data']['key']")

for i in $(seq 1 50); do
	curl -fsS -o /dev/null -X POST "$BASE$T/projects" -H "x-lnchr-key: $KEY" \
		-H 'Content-Type: application/json' -d "{\"name\":\"bench-$i\"}"
done

RESULTS="$LAUNCHER_STATE_DIR/bench.tsv"
: > "$RESULTS"
to_ms() {   # wrk latency like 812.00us / 1.23ms / 1.02s -> ms
	$PY -c "
v='$1'
for suf, f in (('us', 0.001), ('ms', 1.0), ('s', 1000.0)):
    if v.endswith(suf):
        print('%.2f' % (float(v[:-len(suf)]) * f)); break"
}
cpu() { $PY tests/bench/cpu.py "$LAUNCHER_STATE_DIR"; }
run() {   # run CASE PATH [wrk args]: one measurement, appended to RESULTS
	local name=$1 path=$2 out cpu0 cpu1
	shift 2
	cpu0=$(cpu)
	out=$(wrk -t2 -c"$CONNS" -d"${SECS}s" --latency "$@" "$BASE$path")
	cpu1=$(cpu)
	if echo "$out" | grep -q "Non-2xx"; then
		echo "$out"
		echo "bench $name: non-2xx answers; the figures would be wrong" >&2
		exit 1
	fi
	# req/s, p50, p99, then the CPU microseconds per request of nginx, the
	# pool and PostgreSQL (clock ticks over the run / requests)
	printf '%s\t%s\t%s\t%s\t%s\n' "$name" "$(echo "$out" | awk '/Requests\/sec/ {print $2}')" \
		"$(to_ms "$(echo "$out" | awk '$1 == "50%" {print $2}')")" \
		"$(to_ms "$(echo "$out" | awk '$1 == "99%" {print $2}')")" \
		"$($PY -c "
a, b, n, hz = '$cpu0'.split(), '$cpu1'.split(), $(echo "$out" | awk '/requests in/ {print $1}'), $(getconf CLK_TCK)
print('\t'.join('%.1f' % ((int(y) - int(x)) * 1e6 / hz / n) for x, y in zip(a, b)))")" >> "$RESULTS"
}

echo "wrk: 2 threads, $CONNS connections, ${SECS}s per case, $ROUNDS interleaved rounds (medians);" \
	"pool: $LAUNCHER_WORKERS workers, worker_cpu_affinity ${LAUNCHER_WORKER_CPU_AFFINITY:-auto}; $(nproc) cores"
# Warm every worker's connection and prepared statements first.
for p in /_bench/select1 /_bench/select1-prepared "$T/auth/me" "$T/projects?limit=50"; do
	wrk -t2 -c"$CONNS" -d2s -H "x-lnchr-key: $KEY" "$BASE$p" > /dev/null
	wrk -t2 -c"$CONNS" -d2s -H "Authorization: Bearer $TOKEN" "$BASE$p" > /dev/null
done
for ((i = 1; i <= ROUNDS; i++)); do
	run a /_bench/select1
	run p /_bench/select1-prepared
	run b "$T/auth/me" -H "x-lnchr-key: $KEY"
	run c "$T/auth/me" -H "Authorization: Bearer $TOKEN"
	run d "$T/projects?limit=50" -H "x-lnchr-key: $KEY"
done
$PY - "$RESULTS" <<'PYEOF'
import statistics, sys
rows = [l.split("\t") for l in open(sys.argv[1]).read().splitlines()]
names = {"a": "a) select1 (ceiling)", "p": "p) select1, prepared",
         "b": "b) /auth/me, service key", "c": "c) /auth/me, JWT", "d": "d) /projects?limit=50, key"}
med = {}
for k in "apbcd":
    r = [row for row in rows if row[0] == k]
    med[k] = [statistics.median(float(x[i]) for x in r) for i in (1, 2, 3, 4, 5, 6)]
    print("%-26s %9.0f req/s   p50 %6.2f ms   p99 %6.2f ms   (rounds: %s)" % (
        names[k], med[k][0], med[k][1], med[k][2], ", ".join("%.0f" % float(x[1]) for x in r)))
print("ratios: b/a = %.2f   c/a = %.2f   d/a = %.2f" % (med["b"][0] / med["a"][0],
      med["c"][0] / med["a"][0], med["d"][0] / med["a"][0]))
print("against the prepared reference: b/p = %.2f   c/p = %.2f   d/p = %.2f" % (
      med["b"][0] / med["p"][0], med["c"][0] / med["p"][0], med["d"][0] / med["p"][0]))
# The same comparison by CPU time per request: steadier than req/s on a
# shared machine (what other tenants take shows up in req/s, not here).
print("CPU per request (medians, microseconds: nginx + pool + PostgreSQL = total):")
tot = {k: sum(med[k][3:]) for k in "apbcd"}
for k in "apbcd":
    print("  %s  %6.1f + %6.1f + %6.1f = %6.1f" % (k, med[k][3], med[k][4], med[k][5], tot[k]))
print("ratios by CPU: b/a = %.2f   c/a = %.2f   d/a = %.2f" % (tot["a"] / tot["b"],
      tot["a"] / tot["c"], tot["a"] / tot["d"]))
PYEOF
# The env case: a deploy with 500 variables against one with none, from the
# deploy request to the job's claim (tests/bench/env_deploy.py).
BENCH_KEY=$KEY $PY tests/bench/env_deploy.py
