"""The measuring half of tests/bench/ws_bench.sh (see there)."""
import os
import resource
import statistics
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "api"))
from lib import STATE, new_project, registered  # noqa: E402
from test_applications import _app  # noqa: E402
from test_servers import Agent, _server  # noqa: E402
from test_ws_streams import SOCK, WS, _daemon_pid, _rss_kb  # noqa: E402
import datetime  # noqa: E402

LINES = int(os.environ.get("BENCH_WS_LINES", "10000"))
RATE = 2000.0		# lines "printed" per second
SHIP = int(os.environ.get("BENCH_WS_SHIP_MS", "200")) / 1000.0  # between two shipments
IDLE = int(os.environ.get("BENCH_WS_IDLE", "1000"))


def stamp(t):
    return datetime.datetime.fromtimestamp(t, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse(ts):
    return datetime.datetime.strptime(ts.replace("+00:00", "Z").rstrip("Z")[:26], "%Y-%m-%dT%H:%M:%S.%f") \
        .replace(tzinfo=datetime.timezone.utc).timestamp()


def main():
    c, _ = registered("wsbench")
    s = _server(c)
    a = _app(c, new_project(c))
    agent = Agent(c.tenant, s["agent_token"])
    pid = _daemon_pid()
    idle_rss = _rss_kb(pid)

    # --- latency
    w = WS(c.tenant, "/ws/applications/%s/logs?since=0" % a["id"], token=c.token, count=LINES,
           stamp=True, timeout=LINES / RATE + 60)
    assert w.opened()["event"] == "open"
    start = time.time()
    sent = 0
    shipped = {}
    while sent < LINES:
        time.sleep(SHIP)
        due = min(LINES, int((time.time() - start) * RATE))
        batch = []
        for i in range(sent, due):
            batch.append({"app_id": a["id"], "container_id": "ab" * 32,
                          "timestamp": stamp(start + i / RATE), "stream": "stdout",
                          "message": "line %06d" % i})
        for k in range(0, len(batch), 500):
            t0 = time.time()
            r = agent.call("POST", "/logs", {"entries": batch[k:k + 500]})
            assert r.status == 204, r
            for i in range(sent + k, sent + k + len(batch[k:k + 500])):
                shipped[i] = (t0, time.time())
        sent = due
    msgs = [m for m in w.results(120)[0]["messages"] if m["type"] == "log"]
    assert len(msgs) == LINES, len(msgs)
    assert [m["message"] for m in msgs] == ["line %06d" % i for i in range(LINES)]
    lat = sorted((m["at"] / 1000.0 - parse(m["timestamp"])) * 1000 for m in msgs)
    p50 = statistics.median(lat)
    p99 = lat[int(len(lat) * 0.99) - 1]
    print("latency print -> client over %d lines (ship every %d ms): p50 %.1f ms, p99 %.1f ms, max %.1f ms"
          % (LINES, SHIP * 1000, p50, p99, lat[-1]))
    # The plane's part: the agent's POST answered (committed) -> client.
    plane = sorted((m["at"] / 1000.0 - shipped[i][1]) * 1000 for i, m in enumerate(msgs))
    post = sorted((v[1] - v[0]) * 1000 for v in set(shipped.values()))
    print("  of which POST /agent/logs answered -> client: p50 %.1f ms, p99 %.1f ms; the POST itself:"
          " p50 %.1f ms, max %.1f ms" % (statistics.median(plane), plane[int(len(plane) * 0.99) - 1],
                                          statistics.median(post), post[-1]))

    # --- memory with IDLE idle streams (straight on the daemon's socket)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if IDLE == 0:
        return
    if soft < IDLE + 100:
        print("memory: skipped, ulimit -n %d is below %d" % (soft, IDLE + 100))
        return
    before = _rss_kb(pid)
    many = WS(c.tenant, "/ws/applications/%s/logs?tail=0" % a["id"], token=c.token, clients=IDLE,
              direct=SOCK, summary=True, timeout=600)
    ev = many.opened(120)
    assert ev == {"event": "open", "n": IDLE}, ev
    time.sleep(2)
    held = _rss_kb(pid)
    many.send("end")
    many.results(60)
    print("daemon RSS: at start %.1f MB, before %.1f MB, with %d idle streams %.1f MB (+%.1f MB, %.1f KB each)"
          % (idle_rss / 1024, before / 1024, IDLE, held / 1024, (held - before) / 1024,
             (held - before) / IDLE))
    ok = p99 < 250 and held < 64 * 1024
    print("bench-ws: goals %s (p99 < 250 ms: %.1f; RSS < 64 MB: %.1f)" %
          ("met" if ok else "NOT met", p99, held / 1024))


if __name__ == "__main__":
    main()
