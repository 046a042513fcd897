#!/usr/bin/env python3
"""The body of make bench-ingest (tests/bench/ingest_bench.sh).

    ingest_bench.py INGEST_LOAD_BINARY

One tenant, a service key, 50 projects (GET /projects?limit=50 has a full
page to render) and the DSN of one of them, its quota raised to the
maximum (this measures the path, not the limiter).  Per round:
  idle: GET /projects?limit=50 at 100/s for BENCH_SECONDS, nothing else;
  load: the same probes while BENCH_RATE events/s are sent for BENCH_SECONDS:
        real SDK requests (tests/lib/sentry_replay.py: the six recorded
        event requests of @sentry/node and python3-sentry-sdk in turn, each
        with a fresh event id) through nginx (plain HTTP on loopback, as make
        bench: TLS would cost every route the same), open loop
        (tests/bench/ingest_load.c);
  then every event must be answered 200 and grouped: the project's
  issue_events are counted every 50 ms (one psql session, \\watch) until they
  reach the number sent.  Grouping lag: the k-th answer (by time) against
  the moment the count first reached k (launcher-issues takes the queue in
  id order), at the polling resolution.
Prints per round and the medians over BENCH_ROUNDS: events/s achieved,
ingest p50/p99, API p50/p99 idle and under load and their ratio (latency
from each probe's scheduled moment: queueing counts; the service time
alone beside it), grouping lag p50/p99/max.  Exit 1 if an event was refused or lost (never on timing:
the goals are printed, met or not)."""
import json
import os
import statistics
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "api"))
sys.path.insert(0, os.path.join(HERE, "..", "lib"))
from lib import HTTP_PORT, STATE, make_key, new_project, pgpass, registered  # noqa: E402
from sentry_replay import EVENT_KINDS, Replayer  # noqa: E402

RATE = int(os.environ.get("BENCH_RATE", "2000"))
SECONDS = int(os.environ.get("BENCH_SECONDS", "10"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "3"))
CONNECTIONS = int(os.environ.get("BENCH_CONNECTIONS", "64"))
API_RATE = 100
BASE = "http://127.0.0.1:%d" % HTTP_PORT
GOAL_API_P99_MS = 20.0


def pct(values, p):
    v = sorted(values)
    return v[min(len(v) - 1, int(len(v) * p / 100.0))] if v else float("nan")


def write_requests(path, rep, n):
    with open(path, "wb") as f:
        for i in range(n):
            _m, target, headers, body, _eid = rep.make(EVENT_KINDS[i % len(EVENT_KINDS)])
            line = "\t".join([target] + ["%s: %s" % kv for kv in headers.items()] + [str(len(body))])
            f.write(line.encode() + b"\n" + body)


def run_load(binary, reqfile, rate, api_path, key):
    out = subprocess.run([binary, BASE, reqfile, str(rate), str(CONNECTIONS), api_path,
                          "x-lnchr-key: " + key, str(API_RATE), str(SECONDS)],
                         capture_output=True, text=True, check=True).stdout
    answers, api = [], []
    for line in out.splitlines():
        w = line.split()
        if w[0] == "api":
            api.append((int(w[1]), int(w[2])))
        elif w[0] != "end":
            answers.append((int(w[1]), int(w[2]), int(w[3])))
    return answers, api


class Poller(threading.Thread):
    """The project's occurrences counted every 50 ms by one psql session
    (\\watch; the database's clock, the same host's): [(wall ms, count)]."""

    def __init__(self, project_id):
        super().__init__(daemon=True)
        self.series = []
        sql = ("SELECT extract(epoch FROM clock_timestamp()) * 1000, count(*) FROM launcher.issue_events"
               " WHERE project_id = '%s'\n\\watch 0.05\n" % project_id)
        self.proc = subprocess.Popen(
            ["psql", "-X", "-q", "-A", "-t", "-h", os.path.join(STATE, "pg", "sock"),
             "-p", os.environ.get("LAUNCHER_PG_PORT", "5488"), "-U", "launcher_owner", "-d", "launcher"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
            env=dict(os.environ, PGPASSWORD=pgpass("launcher_owner")))
        self.proc.stdin.write(sql)
        self.proc.stdin.flush()

    def run(self):
        for line in self.proc.stdout:
            t, _, n = line.strip().partition("|")
            if n:
                self.series.append((float(t), int(n)))

    def wait_for(self, count, timeout):
        """Until the count reaches count (or timeout s); the last count."""
        deadline = time.time() + timeout
        while time.time() < deadline and not (self.series and self.series[-1][1] >= count):
            time.sleep(0.05)
        return self.series[-1][1] if self.series else 0

    def stop(self):
        self.proc.kill()
        self.proc.wait()
        self.join()


def main():
    binary = sys.argv[1]
    c, _ = registered("ingbench")
    key = make_key(c)["key"]
    projects = [new_project(c) for _ in range(50)]
    p = projects[0]
    r = c.put("/projects/%s/error-tracking" % p["id"], {"rate_limit_per_minute": 1000000})
    assert r.status == 200, r
    dsn = c.get("/projects/%s/error-tracking" % p["id"]).data["dsn"]
    rep = Replayer(dsn)
    api_path = "/%s/api/v1/projects?limit=50" % c.tenant
    reqfile = os.path.join(os.environ["LAUNCHER_STATE_DIR"], "ingest-requests")
    n = RATE * SECONDS
    print("ingest: %d events/s for %d s (%d events per round), %d connections, open loop; API probe: "
          "GET /projects?limit=50 at %d/s; %d rounds; %d cores" % (RATE, SECONDS, n, CONNECTIONS, API_RATE,
                                                                    ROUNDS, os.cpu_count()), flush=True)
    # Warm the workers' connections and statements, and the grouping path.
    poller = Poller(p["id"])
    poller.start()
    write_requests(reqfile, rep, 200)
    run_load(binary, reqfile, 200, api_path, key)
    expected = 200
    poller.wait_for(expected, 120)
    rows, lost = [], 0
    for rnd in range(1, ROUNDS + 1):
        _none, idle = run_load(binary, reqfile, 0, api_path, key)
        write_requests(reqfile, rep, n)
        base = poller.series[-1][1]
        answers, loaded = run_load(binary, reqfile, RATE, api_path, key)
        expected += n
        poller.wait_for(expected, 300)
        series = list(poller.series)
        ok = sorted(a[1] for a in answers if a[0] == 200)
        refused = {}
        for s, _t, _l in answers:
            if s != 200:
                refused[s] = refused.get(s, 0) + 1
        grouped = series[-1][1] - base
        lost += (n - len(ok)) + max(0, len(ok) - grouped)
        # k-th answer vs the first poll at which the count reached base + k
        lags, j = [], 0
        for k, t_answer in enumerate(ok, 1):
            while j < len(series) and series[j][1] - base < k:
                j += 1
            if j == len(series):
                break
            lags.append(max(0.0, series[j][0] - t_answer))
        first_sched = min(t - l / 1000.0 for _s, t, l in answers)
        row = {"rate": n / ((max(a[1] for a in answers) - first_sched) / 1000.0),
               "ingest_p50": pct([a[2] for a in answers], 50) / 1000.0,
               "ingest_p99": pct([a[2] for a in answers], 99) / 1000.0,
               "idle_p50": pct([x for x, _ in idle if x >= 0], 50) / 1000.0,
               "idle_p99": pct([x for x, _ in idle if x >= 0], 99) / 1000.0,
               "load_p50": pct([x for x, _ in loaded if x >= 0], 50) / 1000.0,
               "load_p99": pct([x for x, _ in loaded if x >= 0], 99) / 1000.0,
               "load_service_p99": pct([y for _, y in loaded if y >= 0], 99) / 1000.0,
               "api_failed": sum(1 for x, _ in idle + loaded if x < 0),
               "lag_p50": pct(lags, 50), "lag_p99": pct(lags, 99), "lag_max": max(lags or [float("nan")]),
               "drain": max(0.0, next((t for t, c in series if c >= base + len(ok)), series[-1][0])
                            - max(ok or [0]))}
        row["ratio"] = row["load_p99"] / row["idle_p99"]
        rows.append(row)
        print("round %d: %d sent, %d answered 200%s, %d grouped; %.0f events/s; ingest p50 %.2f ms p99 %.2f ms; "
              "API p50/p99 idle %.2f/%.2f ms, under load %.2f/%.2f ms (p99 x%.2f; service time p99 %.2f ms)%s; "
              "grouping lag p50 %.0f ms "
              "p99 %.0f ms max %.0f ms (last answer -> all grouped %.0f ms)"
              % (rnd, n, len(ok), (" (refused: %s)" % json.dumps(refused)) if refused else "", grouped,
                 row["rate"], row["ingest_p50"], row["ingest_p99"], row["idle_p50"], row["idle_p99"],
                 row["load_p50"], row["load_p99"], row["ratio"], row["load_service_p99"],
                 (", %d API probes failed" % row["api_failed"]) if row["api_failed"] else "",
                 row["lag_p50"], row["lag_p99"], row["lag_max"], row["drain"]), flush=True)
    poller.stop()
    med = {k: statistics.median(r[k] for r in rows) for k in rows[0]}
    print("median of %d rounds: %.0f events/s; ingest p99 %.2f ms; API p99 idle %.2f ms, under load %.2f ms "
          "(x%.2f; service time p99 %.2f ms); grouping lag p50 %.0f ms, p99 %.0f ms, max %.0f ms"
          % (ROUNDS, med["rate"], med["ingest_p99"], med["idle_p99"], med["load_p99"], med["ratio"],
             med["load_service_p99"], med["lag_p50"], med["lag_p99"], med["lag_max"]))
    print("goal: none lost: %s; API p99 under load < %.0f ms: %s"
          % ("met" if lost == 0 else "NOT met (%d lost or refused)" % lost, GOAL_API_P99_MS,
             "met" if med["load_p99"] < GOAL_API_P99_MS else "NOT met"))
    return 1 if lost else 0


if __name__ == "__main__":
    sys.exit(main())
