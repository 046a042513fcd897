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
from test_deploy_e2e import UnixConn, engine  # noqa: E402
from test_servers import _server  # noqa: E402
from test_ws_streams import SOCK, WS, _daemon_pid, _rss_kb  # noqa: E402
from lib import stack_env  # noqa: E402
import re  # noqa: E402
import threading  # noqa: E402
import uuid  # noqa: E402

LINES = int(os.environ.get("BENCH_WS_LINES", "10000"))
RATE = 1000		# lines printed per second: 10 every 10 ms
IDLE = int(os.environ.get("BENCH_WS_IDLE", "1000"))
LINE = re.compile(rb"(\d{4}-\d\d-\d\dT[0-9:.]+(?:Z|[+-]\d\d:\d\d)) line (\d+)$")


def watch(cid, seen, stamps):
    """Follows the container's log on the engine itself: the ms (epoch) at
    which each "line N" came out of the engine, and the engine's stamps."""
    conn = UnixConn(stack_env()["LAUNCHER_ENGINE_SOCKET"], timeout=LINES / RATE + 120)
    conn.request("GET", "/v1.41/containers/%s/logs?follow=1&stdout=1&timestamps=1" % cid)
    r = conn.getresponse()
    buf = b""
    try:
        while len(seen) < LINES:
            data = r.read1(65536)
            if not data:
                break
            now = time.time() * 1000
            buf += data
            *done, buf = buf.split(b"\n")
            for ln in done:
                m = LINE.search(ln)
                if m:
                    seen.setdefault(int(m.group(2)), now)
                    if len(stamps) < 2:
                        stamps.append(m.group(1).decode())
    finally:
        conn.close()


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
        # (Within the 3 s before the first line: a follow of a container
        # not yet started ends at once.)
        seen, stamps = {}, []
        threading.Thread(target=watch, args=(ctr["Id"], seen, stamps), daemon=True).start()
        msgs = [m for m in w.results(LINES / RATE + 120)[0]["messages"]
                if m["type"] == "log" and m["message"].startswith("line ")]
    finally:
        engine("DELETE", "/containers/%s?force=1" % name)
        agent.kill()
    if follow:
        assert [m["message"] for m in msgs] == ["line %d" % i for i in range(LINES)], len(msgs)
    elif len(msgs) != LINES or len({m["message"] for m in msgs}) != LINES:
        print("  polling: %d lines received, %d distinct" % (len(msgs), len({m["message"] for m in msgs})))
    # Podman's compat API stamps whole seconds (below): receipt - stamp would
    # be off by up to 1 s, so the print time is when the engine handed the
    # line to a follower of our own (watch), which is within a millisecond
    # of the agent's own follower.
    print("  the engine's timestamps (timestamps=1), e.g. %s; the client's, e.g. %s"
          % (", ".join(stamps[:2]), msgs[len(msgs) // 2]["timestamp"]))
    lat = sorted(m["at"] - seen[int(m["message"].split()[1])] for m in msgs
                 if int(m["message"].split()[1]) in seen)
    p99 = lat[int(len(lat) * 0.99) - 1]
    print("latency engine -> client over %d lines (%d timed), logs_follow = %s%s: p50 %.1f ms, "
          "p99 %.1f ms, max %.1f ms" % (LINES, len(lat), "true" if follow else "false",
                                        "" if follow else " (logs_interval 2 s)",
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
