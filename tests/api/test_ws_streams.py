"""launcher-ws streams (API.md §22) with the npm `ws` client (tests/lib/ws_client.js):
admission as the REST equivalent, a deployment's lines then its status,
runtime logs to 200 clients in order, back-pressure, resume with ?since=
after the daemon was killed, two daemons fed by one database.  Rows are
written the way agents write them: through the agent API."""
import datetime
import json
import os
import queue
import shutil
import signal
import subprocess
import threading
import time
import uuid

from lib import (BIN, CONF, HTTPS_PORT, REPO, STATE, Client, Skip, make_key, new_project,
                 new_user, psql, registered)
from test_applications import _app, _finish
from test_servers import Agent, _server
from test_ws import _status

NODE = shutil.which("node")
CLIENT = os.path.join(REPO, "tests", "lib", "ws_client.js")
CA = os.path.join(STATE, "tls", "cert.pem")
SOCK = os.path.join(STATE, "run", "ws.sock")


class WS:
    """One node process holding `clients` WebSockets on path."""

    def __init__(self, tenant, path, token=None, direct=None, **cfg):
        if NODE is None or not os.path.exists(os.path.join(REPO, "tests", "tools", "node_modules", "ws")):
            raise Skip("node and the npm ws package (tests/tools) are needed")
        url = "/%s%s" % (tenant, path)
        if token:
            url += ("&" if "?" in url else "?") + "token=" + token
        if direct:
            cfg.update(url=url, socketPath=direct)
        else:
            cfg.update(url="wss://localhost:%d%s" % (HTTPS_PORT, url), ca=CA)
        self.p = subprocess.Popen([NODE, CLIENT, json.dumps(cfg)], stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE, text=True)
        self.lines = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.p.stdout:
            self.lines.put(json.loads(line))
        self.lines.put(None)

    def opened(self, timeout=30):
        """The open event, or the refusal."""
        ev = self.lines.get(timeout=timeout)
        assert ev is not None, "client exited"
        return ev

    def send(self, cmd):
        self.p.stdin.write(cmd + "\n")
        self.p.stdin.flush()

    def results(self, timeout=90):
        got = []
        deadline = time.time() + timeout
        while True:
            ev = self.lines.get(timeout=max(0.1, deadline - time.time()))
            if ev is None:
                break
            if ev.get("event") == "done":
                got.append(ev)
        self.p.wait(timeout=10)
        return got


def _now(i=0):
    t = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(microseconds=i)
    return t.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _world(prefix="wss"):
    c, _ = registered(prefix)
    s = _server(c)
    p = new_project(c)
    a = _app(c, p)
    return c, s, p, a, Agent(c.tenant, s["agent_token"])


def _runtime(agent, app_id, lines, batch=100, stream="stdout"):
    """Runtime log lines as the agent reports them (POST /agent/logs)."""
    for i in range(0, len(lines), batch):
        entries = [{"app_id": app_id, "container_id": "ab" * 32, "timestamp": _now(i + k),
                    "stream": stream, "message": m} for k, m in enumerate(lines[i:i + batch])]
        r = agent.call("POST", "/logs", {"entries": entries})
        assert r.status == 204, r


# ------------------------------------------------------------------ admission

def test_streams_are_admitted_as_their_rest_equivalent():
    c, s, p, a, agent = _world("wsadm")
    d = c.post("/applications/%s/deploy" % a["id"], {}).data
    paths = ["/ws/deployments/%s/logs" % d["id"], "/ws/applications/%s/logs" % a["id"],
             "/ws/servers/%s/metrics" % s["id"], "/ws/applications/%s/traffic" % a["id"],
             "/ws/logs?resources=app:%s,deployment:%s" % (a["id"], d["id"])]
    for path in paths:
        # No credentials: 401 in the envelope, before any upgrade.
        st, body = _status(c.tenant, {}, "/%s%s" % (c.tenant, path))
        assert st == 401 and '"code":"UNAUTHORIZED"' in body, (path, st, body)
        # The owner: upgraded (101).
        sep = "&" if "?" in path else "?"
        st, body = _status(c.tenant, {}, "/%s%s%stoken=%s" % (c.tenant, path, sep, c.token))
        assert st == 101, (path, st, body)
    # A tenant user outside the project: 404 (as GET /applications/:id/runtime-logs).
    outsider = new_user(c)
    st, body = _status(c.tenant, {}, "/%s/ws/applications/%s/logs?token=%s" % (c.tenant, a["id"], outsider.token))
    assert st == 404 and '"code":"NOT_FOUND"' in body, (st, body)
    assert outsider.get("/applications/%s/runtime-logs" % a["id"]).status == 404
    # A viewer: the project is visible, the logs need deploy rights: 403, as REST.
    viewer = new_user(c)
    assert c.post("/projects/%s/members" % p["id"], {"user_id": viewer.user_id, "role": "viewer"}).status == 201
    st, body = _status(c.tenant, {}, "/%s/ws/deployments/%s/logs?token=%s" % (c.tenant, d["id"], viewer.token))
    assert st == 403 and '"code":"FORBIDDEN"' in body, (st, body)
    assert viewer.get("/deployments/%s/logs" % d["id"]).status == 403
    # A read-only service key: header x-lnchr-key, refused like REST.
    key = make_key(c, scopes=["read"])["key"]
    st, body = _status(c.tenant, {"x-lnchr-key": key}, "/%s/ws/applications/%s/logs" % (c.tenant, a["id"]))
    assert st == Client(c.tenant, key=key).get("/applications/%s/runtime-logs" % a["id"]).status == 403, (st, body)
    key = make_key(c, scopes=["read", "deploy"])["key"]
    st, body = _status(c.tenant, {"x-lnchr-key": key}, "/%s/ws/applications/%s/logs" % (c.tenant, a["id"]))
    assert st == 101, (st, body)
    # Another tenant's token at this tenant's URL: 401; and its own URL does not show ours.
    other, _ = registered("wsoth")
    st, body = _status(c.tenant, {}, "/%s/ws/applications/%s/logs?token=%s" % (c.tenant, a["id"], other.token))
    assert st == 401, (st, body)
    st, body = _status(other.tenant, {}, "/%s/ws/applications/%s/logs?token=%s" % (other.tenant, a["id"], other.token))
    assert st == 404, (st, body)
    # Not an id; an unknown deployment; bad query parameters name the field.
    st, body = _status(c.tenant, {}, "/%s/ws/deployments/nope/logs?token=%s" % (c.tenant, c.token))
    assert st == 404, (st, body)
    st, body = _status(c.tenant, {}, "/%s/ws/deployments/%s/logs?token=%s" % (c.tenant, uuid.uuid4(), c.token))
    assert st == 404 and "deployment not found" in body, (st, body)
    st, body = _status(c.tenant, {}, "/%s/ws/applications/%s/logs?tail=x&token=%s" % (c.tenant, a["id"], c.token))
    assert st == 400 and '"field":"tail"' in body, (st, body)
    st, body = _status(c.tenant, {}, "/%s/ws/logs?resources=app:zz&token=%s" % (c.tenant, c.token))
    assert st == 400 and '"field":"resources"' in body, (st, body)
    # The ?token= credential is in no log: nginx logs $uri (no query string), the daemon the route.
    time.sleep(1.5)  # nginx flushes its buffered access log every second
    logs = os.path.join(os.environ["LAUNCHER_STATE_DIR"], "log")
    nginx = os.path.join(os.environ["LAUNCHER_STATE_DIR"], "nginx", "logs")
    seen = 0
    for d in (logs, nginx):
        for name in os.listdir(d) if os.path.isdir(d) else []:
            with open(os.path.join(d, name), errors="replace") as f:
                text = f.read()
            seen += "/ws/" in text
            for t in (c.token, viewer.token, outsider.token, other.token):
                assert t not in text, "a token in %s" % name
    assert seen, "no log mentions the streams: the check would prove nothing"
    # The npm client sees the same refusal.
    w = WS(c.tenant, "/ws/applications/%s/logs" % a["id"], token=outsider.token)
    ev = w.opened()
    assert ev["event"] == "refused" and ev["status"] == 404, ev
    w.results()


# ------------------------------------------------------------------ deployment

def test_a_deployment_streams_every_line_in_order_then_its_status():
    c, s, p, a, agent = _world("wsdep")
    d = c.post("/applications/%s/deploy" % a["id"], {}).data
    job = agent.claim()
    before = ["pulling image %d" % i for i in range(30)]
    assert agent.call("POST", "/jobs/%s/progress" % job["id"], {"lines": before}).status in (200, 204)
    w = WS(c.tenant, "/ws/deployments/%s/logs" % d["id"], token=c.token)
    assert w.opened()["event"] == "open"
    for k in range(5):
        lines = ["step %d line %d" % (k, i) for i in range(40)]
        assert agent.call("POST", "/jobs/%s/progress" % job["id"], {"lines": lines}).status in (200, 204)
    _finish(agent, job, image_id="sha256:" + "a" * 64)
    res = w.results()[0]
    assert res["close"] == 1000, res["close"]
    msgs = res["messages"]
    assert msgs[-1] == {"type": "status", "status": "succeeded"}, msgs[-3:]
    logs = [m for m in msgs if m["type"] == "log"]
    rest = c.get("/deployments/%s/logs" % d["id"]).data
    assert [m["message"] for m in logs] == [x["message"] for x in rest], (len(logs), len(rest))
    assert len(logs) == 230
    cursors = [int(m["cursor"]) for m in logs]
    assert cursors == sorted(set(cursors))
    # A finished deployment: the backlog, the status, the close.
    w = WS(c.tenant, "/ws/deployments/%s/logs?since=%d" % (d["id"], cursors[99]), token=c.token)
    res = w.results()[0]
    assert [m["message"] for m in res["messages"] if m["type"] == "log"] == [x["message"] for x in rest][100:]
    assert res["messages"][-1]["status"] == "succeeded" and res["close"] == 1000


# ------------------------------------------------------------------ runtime logs

def test_runtime_logs_reach_200_clients_all_in_order():
    c, s, p, a, agent = _world("wsrt")
    w = WS(c.tenant, "/ws/applications/%s/logs?since=0" % a["id"], token=c.token, clients=200,
           count=300, summary=True, timeout=120)
    assert w.opened(60) == {"event": "open", "n": 200}
    lines = ["line %04d" % i for i in range(300)]
    _runtime(agent, a["id"], lines)
    res = w.results(150)
    assert len(res) == 200
    for r in res:
        assert r["lines"] == lines and r["dropped"] == 0, (r["client"], r["count"], r.get("error"))
    # The fields of a line: every instance's, with instance_id and stream.
    w = WS(c.tenant, "/ws/applications/%s/logs?tail=2" % a["id"], token=c.token, count=3)
    assert w.opened()["event"] == "open"
    _runtime(agent, a["id"], ["on stderr"], stream="stderr")
    msgs = w.results()[0]["messages"]
    assert [m["message"] for m in msgs] == ["line 0298", "line 0299", "on stderr"], msgs
    m = msgs[-1]
    assert m["type"] == "log" and m["stream"] == "stderr" and "instance_id" in m and m["timestamp"], m


def _rss_kb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


PIDFILE = os.path.join(STATE, "run", "ws.pid")


def _daemon_pid():
    """The stack's launcher-ws (its pid file; a restart below rewrites it)."""
    with open(PIDFILE) as f:
        return int(f.read().strip())


def test_a_client_that_stops_reading_gets_dropped_and_the_others_do_not():
    c, s, p, a, agent = _world("wsslow")
    pid = _daemon_pid()
    idle = _rss_kb(pid)
    # Client 0 stops reading (straight on the daemon's socket: no proxy buffers
    # in between); the other clients read through nginx.
    slow = WS(c.tenant, "/ws/applications/%s/logs?since=0" % a["id"], token=c.token, direct=SOCK,
              paused=True, summary=True, prefix=5, timeout=240)
    assert slow.opened()["event"] == "open"
    fast = WS(c.tenant, "/ws/applications/%s/logs?since=0" % a["id"], token=c.token, clients=5,
              count=3000, summary=True, prefix=5, timeout=240)
    assert fast.opened()["event"] == "open"
    big = "x" * 4000
    lines = ["%05d %s" % (i, big) for i in range(3000)]
    _runtime(agent, a["id"], lines, batch=40)
    for r in fast.results(200):
        assert r["count"] == 3000 and r["dropped"] == 0 and r["lines"] == [x[:5] for x in lines], \
            (r["count"], r["dropped"])
    grown = _rss_kb(pid) - idle
    assert grown < 20 * 1024, "daemon RSS grew by %d kB" % grown
    slow.send("resume")
    time.sleep(2)
    slow.send("end")
    r = slow.results()[0]
    assert r["dropped"] > 0 and r["count"] + r["dropped"] == 3000, (r["count"], r["dropped"])
    # What it did get is in order.
    assert r["lines"] == sorted(r["lines"])


# ------------------------------------------------------------------ resume

def _restart_daemon():
    pid = _daemon_pid()
    os.kill(pid, signal.SIGKILL)
    for _ in range(100):
        if not os.path.exists("/proc/%d" % pid):
            break
        time.sleep(0.05)
    with open(os.path.join(STATE, "ws-restarted.log"), "a") as log:
        d = subprocess.Popen([os.path.join(BIN, "launcher-ws"), "-c", CONF], stdout=log, stderr=log,
                             stdin=subprocess.DEVNULL, start_new_session=True)
    # The stack stops it at the end, as it would have stopped the first.
    with open(PIDFILE, "w") as f:
        f.write("%d\n" % d.pid)
    for _ in range(200):
        if os.path.exists(SOCK):
            try:
                if _status("x", {})[0] in (401, 404):
                    return
            except OSError:
                pass
        time.sleep(0.05)


def test_killed_daemon_clients_resume_with_since_without_gap_or_duplicate():
    c, s, p, a, agent = _world("wskill")
    w = WS(c.tenant, "/ws/applications/%s/logs?since=0" % a["id"], token=c.token, timeout=60)
    assert w.opened()["event"] == "open"
    _runtime(agent, a["id"], ["first %03d" % i for i in range(100)])
    time.sleep(1)
    _restart_daemon()
    got = w.results()[0]
    assert got["close"] in (1006, 1001), got["close"]
    # The API answers all along; the agent goes on writing.
    assert c.get("/applications/" + a["id"]).status == 200
    _runtime(agent, a["id"], ["second %03d" % i for i in range(100)])
    first = [m for m in got["messages"] if m["type"] == "log"]
    assert len(first) > 0
    w = WS(c.tenant, "/ws/applications/%s/logs?since=%s" % (a["id"], first[-1]["cursor"]),
           token=c.token, count=200 - len(first))
    assert w.opened()["event"] == "open"
    again = [m for m in w.results()[0]["messages"] if m["type"] == "log"]
    msgs = [m["message"] for m in first + again]
    assert msgs == ["first %03d" % i for i in range(100)] + ["second %03d" % i for i in range(100)]


# ------------------------------------------------------------------ two daemons

UPSTREAM_D = os.path.join(STATE, "nginx", "ws-upstream.d", "test-second-daemon.conf")


def _sockets(pid):
    """How many sockets process pid holds open."""
    n = 0
    for fd in os.listdir("/proc/%d/fd" % pid):
        try:
            n += os.readlink("/proc/%d/fd/%s" % (pid, fd)).startswith("socket:")
        except OSError:
            pass
    return n


def _nginx_reload():
    """SIGHUP to the stack's nginx (it re-reads its configuration and starts
    new workers; the old ones finish their open sockets)."""
    with open(os.path.join(STATE, "nginx", "nginx.pid")) as f:
        os.kill(int(f.read().strip()), signal.SIGHUP)
    time.sleep(1.5)


def test_two_daemons_behind_one_nginx_each_serve_their_own_clients_every_line():
    c, s, p, a, agent = _world("ws2d")
    conf2 = os.path.join(STATE, "ws2.conf")
    sock2 = os.path.join(STATE, "run", "ws2.sock")
    with open(CONF) as f:
        text = f.read()
    with open(conf2, "w") as f:
        f.write(text.replace(SOCK, sock2) + "\nws_ping_seconds = 1\n")
    with open(os.path.join(STATE, "ws2.log"), "a") as log:
        d2 = subprocess.Popen([os.path.join(BIN, "launcher-ws"), "-c", conf2], stdout=log, stderr=log,
                              stdin=subprocess.DEVNULL)
    try:
        for _ in range(100):
            if os.path.exists(sock2):
                break
            time.sleep(0.05)
        # Behind the one nginx: the second daemon joins the upstream (a drop-in
        # file and a reload, as an operator adds one); six clients through nginx
        # land on both daemons, and every one gets every line.
        with open(UPSTREAM_D, "w") as f:
            f.write("server unix:%s;\n" % sock2)
        _nginx_reload()
        d1 = _daemon_pid()
        before = (_sockets(d1), _sockets(d2.pid))
        both = WS(c.tenant, "/ws/applications/%s/logs?since=0" % a["id"], token=c.token, clients=6,
                  count=200, summary=True)
        assert both.opened()["event"] == "open"
        time.sleep(0.5)
        after = (_sockets(d1), _sockets(d2.pid))
        assert after[0] > before[0] and after[1] > before[1], (before, after)
        lines = ["both %03d" % i for i in range(200)]
        _runtime(agent, a["id"], lines, batch=50)
        got = both.results()
        assert len(got) == 6, got
        for r in got:
            assert r["lines"] == lines, (r["client"], r["count"])
        # A client that answers no ping (it reads nothing) is dropped (ws_ping_seconds = 1:
        # after 2.5 s without a pong).
        w = WS(c.tenant, "/ws/applications/%s/logs" % a["id"], token=c.token, direct=sock2,
               paused=True, timeout=30)
        assert w.opened()["event"] == "open"
        time.sleep(5)
        w.send("resume")
        r = w.results()[0]
        assert r["close"] is not None and r["close"] != 1000, (r["close"], r["reason"])
        # One that answers is not: it stays open across several pings.
        w = WS(c.tenant, "/ws/applications/%s/logs" % a["id"], token=c.token, direct=sock2, timeout=6)
        assert w.opened()["event"] == "open"
        r = w.results()[0]
        assert r["close"] is None, (r["close"], r["reason"])
        # SIGTERM: its clients get a close frame with 1001.
        w = WS(c.tenant, "/ws/applications/%s/logs" % a["id"], token=c.token, direct=sock2)
        assert w.opened()["event"] == "open"
        d2.send_signal(signal.SIGTERM)
        assert d2.wait(timeout=10) == 0
        assert w.results()[0]["close"] == 1001
    finally:
        if os.path.exists(UPSTREAM_D):
            os.unlink(UPSTREAM_D)
            _nginx_reload()
        if d2.poll() is None:
            d2.kill()
            d2.wait()
        os.unlink(conf2)


# ------------------------------------------------------------------ metrics, /ws/logs

def _metrics_point(agent, i):
    ts = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(int(time.time()) // 10 * 10 - 600 + 10 * i))
    r = agent.call("POST", "/metrics", {"host": [{"ts": ts, "cpu_percent": 10.0 + i}]})
    assert r.status == 200, r


def test_server_metrics_arrive_with_each_batch():
    c, s, p, a, agent = _world("wsmet")
    assert agent.heartbeat().status == 200
    _metrics_point(agent, 0)
    w = WS(c.tenant, "/ws/servers/%s/metrics" % s["id"], token=c.token, count=3)
    assert w.opened()["event"] == "open"
    for i in range(2):
        _metrics_point(agent, i + 1)
    msgs = w.results()[0]["messages"]
    assert [m["type"] for m in msgs] == ["metrics"] * 3, msgs
    assert all("cpu_percent" in m and m["timestamp"] for m in msgs), msgs
    cursors = [int(m["cursor"]) for m in msgs]
    assert cursors == sorted(set(cursors)), cursors


def test_unified_stream_of_an_app_and_a_deployment_resumes_with_its_cursor():
    c, s, p, a, agent = _world("wsuni")
    d = c.post("/applications/%s/deploy" % a["id"], {}).data
    job = agent.claim()
    path = "/ws/logs?resources=app:%s,deployment:%s" % (a["id"], d["id"])
    w = WS(c.tenant, path + "&since=0.0", token=c.token, count=8)
    assert w.opened()["event"] == "open"
    _runtime(agent, a["id"], ["run %d" % i for i in range(4)])
    assert agent.call("POST", "/jobs/%s/progress" % job["id"], {"lines": ["dep %d" % i for i in range(4)]}).status in (200, 204)
    msgs = [m for m in w.results()[0]["messages"] if m["type"] == "log"]
    by = {}
    for m in msgs:
        by.setdefault(m["resource"], []).append(m["message"])
    assert by == {"app:" + a["id"]: ["run %d" % i for i in range(4)],
                  "deployment:" + d["id"]: ["dep %d" % i for i in range(4)]}, by
    # Resume after the fifth message: exactly the last three, then the status.
    cur = msgs[4]["cursor"]
    assert len(cur.split(".")) == 2
    w = WS(c.tenant, path + "&since=" + cur, token=c.token, timeout=15)
    assert w.opened()["event"] == "open"
    _finish(agent, job, image_id="sha256:" + "b" * 64)
    got = w.results()[0]["messages"]
    assert [m["message"] for m in got if m["type"] == "log"] == [m["message"] for m in msgs[5:]], got
    assert {"type": "status", "resource": "deployment:" + d["id"], "status": "succeeded"} in got, got


# ------------------------------------------------ a real container's lines

def test_a_running_containers_lines_reach_a_client_as_printed_across_a_restart():
    """The real agent follows a labelled container's logs: with logs_interval
    at 60 s only the follower can deliver a line within the test's waits; a
    stop and a start of the container neither lose nor repeat a line."""
    from test_agent_e2e import RealAgent, _wait
    from test_deploy_e2e import engine
    image = os.environ.get("FIXTURE_BASE_IMAGE")
    if not image:
        raise Skip("FIXTURE_BASE_IMAGE (tests/fixtures/build.sh) is needed")
    c, s, p, a, _ = _world("wsfol")
    agent = RealAgent(c.tenant, s["agent_token"], s["name"])
    agent.args += ["--logs-interval", "60", "--logs-follow", "true"]
    agent.start()
    name = "lnchr-follow-" + uuid.uuid4().hex[:8]
    try:
        _wait("the agent online", lambda: c.get("/servers/" + s["id"]).data["status"] == "online", 30)
        time.sleep(1.5)  # past the poller's first tick (were it on): only a follower can ship
        # The counter lives in the container's own filesystem: a restart goes on counting.
        script = ('mkdir -p /tmp; n=$(cat /tmp/n 2>/dev/null || echo 0); while true; do n=$((n+1)); '
                  'echo $n > /tmp/n; echo "tick $n"; sleep 0.2; done')
        st, ctr = engine("POST", "/containers/create?name=" + name,
                         {"Image": image, "Cmd": ["/bin/sh", "-c", script], "StopTimeout": 1,
                          "Labels": {"launcher.managed": "1", "launcher.app": a["id"],
                                     "launcher.deployment": ""}})
        assert st == 201, ctr
        w = WS(c.tenant, "/ws/applications/%s/logs" % a["id"], token=c.token, count=5, timeout=20)
        assert w.opened()["event"] == "open"
        assert engine("POST", "/containers/%s/start" % ctr["Id"])[0] in (204, 304)
        msgs = w.results(30)[0]["messages"]
        got = [m["message"] for m in msgs if m.get("type") == "log"]
        assert got == ["tick %d" % i for i in range(1, 6)], (msgs, open(agent.log).read()[-2000:])
        # Stop, wait a little, start: the counter goes on; every tick once.
        assert engine("POST", "/containers/%s/stop?t=1" % ctr["Id"])[0] in (204, 304)
        time.sleep(1.5)
        assert engine("POST", "/containers/%s/start" % ctr["Id"])[0] in (204, 304)
        time.sleep(2)
        assert engine("POST", "/containers/%s/stop?t=1" % ctr["Id"])[0] in (204, 304)
        st, last = engine("GET", "/containers/%s/logs?stdout=1&tail=1" % ctr["Id"])
        assert st == 200, last
        top = int(last.split(b"tick ")[-1].split()[0])
        assert top > 5, last

        def shipped():
            rows = c.get("/applications/%s/runtime-logs?limit=200" % a["id"]).data
            return [r["message"] for r in rows] if len(rows) >= top else None
        ticks = _wait("every tick shipped", shipped, 20)
        nums = sorted(int(m.split()[1]) for m in ticks)
        assert nums == list(range(1, top + 1)), (nums, top, open(agent.log).read()[-3000:])
    finally:
        engine("DELETE", "/containers/%s?force=1" % name)
        agent.kill()
