"""The measuring half of tests/bench/ws_bench.sh (see there)."""
import os
import resource
import statistics
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "api"))
from lib import STATE, new_project, registered  # noqa: E402
from test_applications import _app  # noqa: E402
from test_agent_e2e import RealAgent, _wait  # noqa: E402
from test_deploy_e2e import engine  # noqa: E402
from test_servers import _server  # noqa: E402
from test_ws_streams import SOCK, WS, _daemon_pid, _rss_kb  # noqa: E402
import datetime  # noqa: E402
import uuid  # noqa: E402

LINES = int(os.environ.get("BENCH_WS_LINES", "10000"))
RATE = 1000		# lines printed per second: 10 every 10 ms
IDLE = int(os.environ.get("BENCH_WS_IDLE", "1000"))


def parse(ts):
    """The line's engine timestamp as the client gets it (the plane keeps
    microseconds: PostgreSQL's timestamptz; the engine's nanoseconds beyond
    them are cut, < 1 us)."""
    return datetime.datetime.strptime(ts.replace("+00:00", "Z").rstrip("Z")[:26], "%Y-%m-%dT%H:%M:%S.%f") \
        .replace(tzinfo=datetime.timezone.utc).timestamp()


def latency(follow):
    """A labelled container prints LINES lines through the real agent."""
    c, _ = registered("wsbench")
    s = _server(c)
    a = _app(c, new_project(c))
    agent = RealAgent(c.tenant, s["agent_token"], s["name"])
    agent.args += ["--logs-follow", "true" if follow else "false"]
    agent.start()
    name = "lnchr-wsbench-" + uuid.uuid4().hex[:8]
    try:
        _wait("the agent online", lambda: c.get("/servers/" + s["id"]).data["status"] == "online", 30)
        # A ready line first (the poller's cursor starts on it, not on
        # tail=200 of a burst), then the lines after a pause.
        script = ('echo ready; sleep 3; i=0; while [ $i -lt %d ]; do echo "line $i"; i=$((i+1)); '
                  'if [ $((i %% 10)) -eq 0 ]; then usleep 10000; fi; done; sleep 3600' % LINES)
        st, ctr = engine("POST", "/containers/create?name=" + name,
                         {"Image": os.environ["FIXTURE_BASE_IMAGE"], "Cmd": ["/bin/sh", "-c", script],
                          "StopTimeout": 1, "Labels": {"launcher.managed": "1", "launcher.app": a["id"],
                                                       "launcher.deployment": ""}})
        assert st == 201, ctr
        w = WS(c.tenant, "/ws/applications/%s/logs" % a["id"], token=c.token, count=LINES + 1,
               stamp=True, timeout=LINES / RATE + 90)
        assert w.opened()["event"] == "open"
        assert engine("POST", "/containers/%s/start" % ctr["Id"])[0] in (204, 304)
        msgs = [m for m in w.results(LINES / RATE + 120)[0]["messages"]
                if m["type"] == "log" and m["message"].startswith("line ")]
    finally:
        engine("DELETE", "/containers/%s?force=1" % name)
        agent.kill()
    assert [m["message"] for m in msgs] == ["line %d" % i for i in range(LINES)], len(msgs)
    lat = sorted((m["at"] / 1000.0 - parse(m["timestamp"])) * 1000 for m in msgs)
    p99 = lat[int(len(lat) * 0.99) - 1]
    print("latency engine timestamp -> client over %d lines, logs_follow = %s%s: p50 %.1f ms, p99 %.1f ms, "
          "max %.1f ms" % (LINES, "true" if follow else "false", "" if follow else " (logs_interval 2 s)",
                           statistics.median(lat), p99, lat[-1]))
    return p99, c, a


def main():
    pid = _daemon_pid()
    idle_rss = _rss_kb(pid)

    # --- latency: follow (the default), then polling for comparison
    p99, c, a = latency(True)
    if os.environ.get("BENCH_WS_POLL", "1") == "1":
        latency(False)

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
