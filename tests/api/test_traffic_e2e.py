"""Application traffic end to end (issue 18's acceptance) with the real parts:
the real launcher-agent tailing the stack's nginx (the edge) traffic log
(--traffic-log), a test app deployed on the stack's Podman behind that
nginx, and wrk loading it through the edge (tests/fixtures/traffic/wrk.lua).

After wrk's N requests (some 404, some 500 by the test app's design), the
traffic endpoint's totals are N and its status split is wrk's; its p99 is
at most wrk's plus 10 % and at least 75 % of it (wrk also times its own queueing).  Again with the log renamed and nginx told to reopen it
(USR1) in the middle of the load: still exact."""
import http.client
import os
import re
import signal
import subprocess
import time

from lib import HTTP_PORT, REPO, STATE, Skip
from test_agent_e2e import _wait
from test_deploy_e2e import EdgeAgent, World, _app, _deploy, _have_fixtures, app_containers, engine
from test_servers import scheduler

LOG = os.path.join(STATE, "nginx", "logs", "traffic.log")
NGINX_PID = os.path.join(STATE, "nginx", "nginx.pid")
WRK_LUA = os.path.join(REPO, "tests", "fixtures", "traffic", "wrk.lua")
THREADS, QUOTA = 4, 60

# The test app: the fixture web image's busybox httpd on a document root
# with two CGI programs: /cgi-bin/slow (~20 ms, 200) and /cgi-bin/fail
# (Status: 500); any other path is 404.  busybox httpd closes every
# connection, so each request costs nginx a new upstream connection too.
START = r"""set -e
mkdir -p /tmp/w/cgi-bin
echo ok > /tmp/w/health
printf '#!/bin/sh\nusleep 20000 2>/dev/null || sleep 0.02\nprintf "Content-Type: text/plain\\r\\n\\r\\nslow\\n"\n' > /tmp/w/cgi-bin/slow
printf '#!/bin/sh\nprintf "Status: 500 Internal Server Error\\r\\nContent-Type: text/plain\\r\\n\\r\\nboom\\n"\n' > /tmp/w/cgi-bin/fail
chmod 755 /tmp/w/cgi-bin/slow /tmp/w/cgi-bin/fail
trap 'kill -TERM $pid 2>/dev/null; exit 0' TERM INT
httpd -f -p ${PORT:-8080} -h /tmp/w &
pid=$!
wait $pid"""


class TrafficAgent(EdgeAgent):
    def __init__(self, tenant, token, name):
        super().__init__(tenant, token, name)
        self.args += ["--traffic-log", LOG]


class TrafficWorld(World):
    agent_class = TrafficAgent


def _served_app():
    """A deployed test app: the edge routes to it once the deployment
    succeeded (no probe through the edge: it would count)."""
    if not _have_fixtures():
        raise AssertionError("fixtures missing (FIXTURE_REGISTRY_WEB_V1): run through tests/run.sh")
    w = TrafficWorld.get()
    a = _app(w, start_command=START, healthcheck_path="/health")
    _deploy(w, a)
    return w, a


def _wrk(host):
    return subprocess.Popen(["wrk", "-t%d" % THREADS, "-c%d" % THREADS, "-d25s", "--latency",
                             "-H", "Host: " + host, "-s", WRK_LUA,
                             "http://127.0.0.1:%d/" % HTTP_PORT, "--", str(QUOTA)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def _result(p):
    out, _ = p.communicate(timeout=120)
    m = re.search(r"RESULT n=(\d+) s2=(\d+) s3=(\d+) s4=(\d+) s5=(\d+) requests=(\d+) p99us=(\d+)", out)
    assert p.returncode == 0 and m, out
    n, s2, s3, s4, s5, requests, p99us = map(int, m.groups())
    assert n == requests == THREADS * QUOTA and s4 > 0 and s5 > 0, out
    return {"requests": n, "status_2xx": s2, "status_3xx": s3, "status_4xx": s4, "status_5xx": s5,
            "p99_ms": p99us / 1000.0}


def _totals(w, a, since):
    r = w.c.get("/monitoring/applications/%s/traffic?from=%s&step=10" % (a["id"], since))
    assert r.status == 200, r
    keys = ("requests", "status_2xx", "status_3xx", "status_4xx", "status_5xx")
    return {k: sum(x[k] for x in r.data) for k in keys}


def _check(w, a, got, since, p99=True):
    want = {k: got[k] for k in ("requests", "status_2xx", "status_3xx", "status_4xx", "status_5xx")}
    # Buckets close 3 s after their end and are sent at once: a few seconds.
    _wait("the traffic points of %d requests" % want["requests"],
          lambda: _totals(w, a, since)["requests"] >= want["requests"], 40)
    time.sleep(2)  # nothing more may come
    assert _totals(w, a, since) == want, (_totals(w, a, since), want)
    # p99 of the whole run, from the summed histogram (hour rollups, one
    # bucket of a day), against wrk's own.
    scheduler()
    r = w.c.get("/monitoring/applications/%s/traffic?from=%s&step=86400" % (a["id"], since))
    assert r.status == 200 and len(r.data) >= 1, r
    day = max(r.data, key=lambda x: x["requests"])
    if p99:
        if day["requests"] != want["requests"] and sum(x["requests"] for x in r.data) == want["requests"]:
            raise Skip("the run crossed midnight UTC: its requests are in two day buckets")
        assert day["requests"] == want["requests"], (r.data, want)
        # wrk times each request from its own side, nginx ($request_time)
        # from the edge's: on a loaded machine wrk's figure also holds the
        # client's own queueing (a 2-core full run measured 41 ms at the
        # edge against wrk's 46), never less.  So the plane's p99 is at
        # most wrk's plus the histogram's 10 %, and not far below it.
        assert 0.75 * got["p99_ms"] <= day["latency_p99_ms"] <= 1.10 * got["p99_ms"], (day, got)
    return day


def _since():
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 600))


def test_wrk_totals_and_status_split_are_exact_and_p99_matches():
    since = _since()
    w, a = _served_app()
    got = _result(_wrk(a["hostname"]))
    day = _check(w, a, got, since)
    assert day["latency_p99_ms"] > 0


def test_a_rotation_during_the_load_loses_and_doubles_nothing():
    """The log renamed and nginx told to reopen it while wrk's requests are
    in flight; a second wrk run started right after the reopen makes sure
    both files hold lines of the test, however fast the first run went."""
    since = _since()
    w, a = _served_app()
    size = os.path.getsize(LOG) if os.path.exists(LOG) else 0
    first = _wrk(a["hostname"])
    _wait("wrk's first lines in the traffic log",
          lambda: os.path.exists(LOG) and os.path.getsize(LOG) > size, 20)
    os.rename(LOG, LOG + ".1")
    with open(NGINX_PID) as f:
        os.kill(int(f.read().strip()), signal.SIGUSR1)  # nginx -s reopen
    _wait("nginx to reopen its traffic log", lambda: os.path.exists(LOG), 10)
    second = _wrk(a["hostname"])
    got = [_result(first), _result(second)]
    assert os.path.getsize(LOG + ".1") > 0 and os.path.getsize(LOG) > 0
    both = {k: got[0][k] + got[1][k] for k in got[0] if k != "p99_ms"}
    _check(w, a, both, since, p99=False)


def test_the_503s_of_an_outage_are_counted():
    """Its instance killed, the application's requests end in 502 (its own
    site) or, on a host route, error_page 502 =503 @lnchr_unavailable: still
    its traffic ($lnchr_app is set in each proxied location the agent writes;
    $proxy_host is gone in the named location)."""
    since = _since()
    w, a = _served_app()
    for c in app_containers(a["id"], all_=False):
        engine("POST", "/containers/%s/kill" % c["Id"])
    codes = []
    for _ in range(20):
        conn = http.client.HTTPConnection("127.0.0.1", HTTP_PORT, timeout=10)
        conn.request("GET", "/health", headers={"Host": a["hostname"]})
        codes.append(conn.getresponse().status)
        conn.close()
    assert all(x >= 500 for x in codes), codes
    want = {"requests": len(codes), "status_2xx": sum(200 <= x < 300 for x in codes), "status_3xx": 0,
            "status_4xx": sum(400 <= x < 500 for x in codes), "status_5xx": sum(x >= 500 for x in codes)}
    _wait("the traffic points of the outage", lambda: _totals(w, a, since)["requests"] >= len(codes), 40)
    time.sleep(2)  # nothing more may come
    assert _totals(w, a, since) == want, (_totals(w, a, since), want)
