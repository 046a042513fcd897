"""Monitoring (API.md §16): the real agent's host and container points
(POST /agent/metrics) at a shortened interval, their survival across a
plane outage (no gap, no duplicate), the resolution picked from
from/to/step, bad input, tenant isolation, and launcher-scheduler's
rollups of synthetic points."""
import calendar
import json
import os
import signal
import socket
import subprocess
import threading
import time
import uuid

from lib import BIN, CONF, HTTPS_PORT, STATE, Skip, assert_error, new_project, psql, registered
from test_applications import _app
from test_servers import Agent, _server

INTERVAL = 2  # the agents' metrics_interval in these tests (seconds)
OUTAGE = 5 * INTERVAL  # how long each outage lasts: five samples sent late


def _ts(t):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


def _epoch(s):
    return calendar.timegm(time.strptime(s[:19], "%Y-%m-%dT%H:%M:%S"))


def _wait(what, fn, timeout=30):
    deadline = time.time() + timeout
    while time.time() < deadline:
        v = fn()
        if v:
            return v
        time.sleep(0.5)
    raise AssertionError("timed out waiting for " + what)


def _world(prefix):
    c, _ = registered(prefix)
    s = _server(c)
    p = new_project(c, default_server_id=s["id"])
    a = _app(c, p)
    return c, s, p, a


class Proxy:
    """A TCP forwarder to the plane's nginx that can go down: while down
    its port refuses connections and open ones are cut."""

    def __init__(self):
        self.port = None
        self.lsock = None
        self.conns = []
        self.lock = threading.Lock()
        self.up()

    def up(self):
        self.lsock = socket.socket()
        self.lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.lsock.bind(("127.0.0.1", self.port or 0))
        self.port = self.lsock.getsockname()[1]
        self.lsock.listen(64)
        threading.Thread(target=self._accept, args=(self.lsock,), daemon=True).start()

    def down(self):
        self.lsock.close()
        with self.lock:
            for s in self.conns:
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                s.close()
            self.conns = []

    def _accept(self, ls):
        while True:
            try:
                cs, _ = ls.accept()
            except OSError:
                return
            try:
                up = socket.create_connection(("127.0.0.1", HTTPS_PORT))
            except OSError:
                cs.close()
                continue
            with self.lock:
                self.conns += [cs, up]
            for a, b in ((cs, up), (up, cs)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(a, b):
        try:
            while True:
                d = a.recv(65536)
                if not d:
                    break
                b.sendall(d)
        except OSError:
            pass
        for s in (a, b):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


def _agent(c, s, name, port=None):
    from test_agent_e2e import RealAgent
    agent = RealAgent(c.tenant, s["agent_token"], name)
    agent.args += ["--metrics-interval", str(INTERVAL)]
    if port is not None:
        i = agent.args.index("--plane")
        agent.args[i + 1] = "https://localhost:%d" % port
    return agent.start()


def _container(app_id):
    from test_deploy_e2e import engine
    image = os.environ.get("FIXTURE_BASE_IMAGE")
    if not image:
        raise Skip("FIXTURE_BASE_IMAGE (tests/fixtures/build.sh) is needed")
    name = "lnchr-met-" + uuid.uuid4().hex[:8]
    st, ctr = engine("POST", "/containers/create?name=" + name,
                     {"Image": image, "Cmd": ["/bin/sh", "-c", "while true; do sleep 1; done"],
                      "StopTimeout": 1, "Labels": {"launcher.managed": "1", "launcher.app": app_id,
                                                   "launcher.deployment": ""}})
    assert st == 201, ctr
    assert engine("POST", "/containers/%s/start" % ctr["Id"])[0] in (204, 304)
    return name


def _drop(name):
    from test_deploy_e2e import engine
    engine("DELETE", "/containers/%s?force=1" % name)


def _series(c, path, since):
    """The stored points of path's server or application since the epoch
    since (the agent's 2 s slots: the API's buckets are at least 10 s, the
    one window rule), after reading the API over the same range."""
    kind, oid = path.split("/")[2], path.split("/")[3]
    if kind == "servers":
        table, key, order = "server_metrics", "server_id", "ts"
        cols = ("cpu_percent, memory_used_bytes, memory_total_bytes, disk_used_bytes,"
                " disk_total_bytes, load1, net_rx_bytes, net_tx_bytes")
    else:
        table, key, order = "app_metrics", "application_id", "ts, instance_id"
        cols = "instance_id, cpu_percent, memory_bytes, restarts"
    raw = json.loads("".join(psql(
        "SELECT coalesce(json_agg(x), '[]') FROM (SELECT to_char(ts AT TIME ZONE 'UTC',"
        " 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') AS ts, %s FROM %s WHERE %s = '%s'"
        " AND ts >= to_timestamp(%d) ORDER BY %s) x" % (cols, table, key, oid, since, order),
        user="launcher_owner")))
    r = c.get("%s?from=%s&step=10" % (path, _ts(since)))
    assert r.status == 200, r
    assert r.data or not raw, (r.data, raw)
    return raw


def _assert_no_gap(points, what):
    ts = [_epoch(p["ts"]) for p in points]
    assert len(ts) == len(set(ts)), "%s: duplicates %r" % (what, ts)
    gaps = [(a, b) for a, b in zip(ts, ts[1:]) if b - a != INTERVAL]
    assert not gaps, "%s: gaps %r in %r" % (what, gaps, ts)


# ----------------------------------------------------------- real agent

def test_the_agent_sends_host_and_container_points_every_interval():
    c, s, p, a = _world("mon")
    assert c.get("/applications/" + a["id"]).data["server_id"] == s["id"]
    start = int(time.time())
    agent = _agent(c, s, "mon-" + s["id"][:8])
    name = None
    try:
        name = _container(a["id"])
        path = "/monitoring/servers/%s/metrics" % s["id"]
        pts = _wait("6 host points", lambda: (lambda d: d if len(d) >= 6 else None)(
            _series(c, path, start)), 40)
        _assert_no_gap(pts, "host")
        last = pts[-1]
        assert 0 <= last["cpu_percent"] <= 100, last
        assert 0 < last["memory_used_bytes"] <= last["memory_total_bytes"], last
        assert 0 < last["disk_used_bytes"] <= last["disk_total_bytes"], last
        assert last["load1"] >= 0 and last["net_rx_bytes"] >= 0 and last["net_tx_bytes"] >= 0, last
        apath = "/monitoring/applications/%s/metrics" % a["id"]

        def ctr_points():
            d = [x for x in _series(c, apath, start) if x["instance_id"] == name]
            return d if len(d) >= 4 and d[-1]["cpu_percent"] is not None else None
        got = _wait("4 container points", ctr_points, 40)
        _assert_no_gap(got, "container")
        assert got[-1]["memory_bytes"] > 0 and got[-1]["restarts"] == 0, got[-1]
        assert got[-1]["cpu_percent"] >= 0, got[-1]
        # The overview: the project's app, its server online, the container's latest point.
        ov = [x for x in c.get("/monitoring/overview").data if x["project_id"] == p["id"]]
        assert len(ov) == 1 and ov[0]["applications"] == 1 and ov[0]["databases"] == 0, ov
        assert ov[0]["servers_online"] == 1 and ov[0]["memory_bytes"] > 0, ov
    except AssertionError as e:
        raise AssertionError("%s; agent log: %s" % (e, open(agent.log).read()[-3000:]))
    finally:
        if name:
            _drop(name)
        agent.kill()


def test_agent_batches_survive_a_plane_outage_without_gap_or_duplicate():
    c, s, p, a = _world("monout")
    proxy = Proxy()
    start = int(time.time())
    agent = _agent(c, s, "monout-" + s["id"][:8], proxy.port)
    path = "/monitoring/servers/%s/metrics" % s["id"]
    try:
        _wait("points before the outage", lambda: len(_series(c, path, start)) >= 3, 30)
        proxy.down()
        down_at = time.time()
        time.sleep(OUTAGE)
        during = _series(c, path, start)
        proxy.up()
        up_at = time.time()
        # The points sampled while the plane was unreachable arrive late.
        assert not [x for x in during if _epoch(x["ts"]) > down_at + INTERVAL], during

        def caught_up():
            d = _series(c, path, start)
            return d if d and _epoch(d[-1]["ts"]) >= up_at + INTERVAL else None
        pts = _wait("the backlog", caught_up, 60)
        _assert_no_gap(pts, "across the outage")
        assert _epoch(pts[0]["ts"]) < down_at - INTERVAL, pts[:2]
        n = psql("SELECT count(*), count(DISTINCT ts) FROM server_metrics WHERE server_id = '%s'"
                 % s["id"], user="launcher_owner")
        assert n[0].split("|")[0] == n[0].split("|")[1], n
        log = open(agent.log).read()
        assert "dropped" not in log, log[-2000:]
    except AssertionError as e:
        raise AssertionError("%s; agent log: %s" % (e, open(agent.log).read()[-3000:]))
    finally:
        agent.kill()
        proxy.down()


def _survives(prefix, outage):
    """The agent's series across outage() (which takes the plane down and
    brings it back): whole, with the points sampled meanwhile sent late."""
    c, s, p, a = _world(prefix)
    start = int(time.time())
    agent = _agent(c, s, prefix + "-" + s["id"][:8])
    path = "/monitoring/servers/%s/metrics" % s["id"]
    try:
        _wait("points before the outage", lambda: len(_series(c, path, start)) >= 3, 30)
        down_at = time.time()
        outage()
        up_at = time.time()

        def caught_up():
            try:
                d = _series(c, path, start)
            except AssertionError:
                return None  # the pool reconnecting
            return d if d and _epoch(d[-1]["ts"]) >= up_at + INTERVAL else None
        pts = _wait("the backlog", caught_up, 60)
        _assert_no_gap(pts, "across the outage")
        assert _epoch(pts[0]["ts"]) < down_at - INTERVAL, pts[:2]
    except AssertionError as e:
        raise AssertionError("%s; agent log: %s" % (e, open(agent.log).read()[-3000:]))
    finally:
        agent.kill()


def test_agent_batches_survive_the_planes_database_down_without_gap():
    """The plane's PostgreSQL stopped for OUTAGE (10 s) (503s), as test_zz_resilience
    does."""
    from test_zz_resilience import PGDATA, _pg

    def outage():
        _pg("-m", "fast", "-w", "stop")
        try:
            time.sleep(OUTAGE)
        finally:
            _pg("-l", os.path.join(STATE, "log", "postgres.log"), "-w", "start")
            with open(os.path.join(PGDATA, "postmaster.pid")) as f:
                pm = f.readline().strip()
            with open(os.path.join(STATE, "run", "postgres.pid"), "w") as f:
                f.write(pm + "\n")
    _survives("monpg", outage)


def test_agent_batches_survive_a_restart_of_the_planes_pool_without_gap():
    """The FastCGI pool stopped (SIGTERM to its master: nginx answers 502
    meanwhile) and started again after OUTAGE (10 s), as the stack starts it."""
    pidfile = os.path.join(STATE, "run", "fcgi.pid")
    sock = os.path.join(STATE, "run", "fcgi.sock")
    if not os.path.exists(pidfile):
        raise Skip("the stack's pool pid file is not at %s" % pidfile)

    def outage():
        with open(pidfile) as f:
            pid = int(f.read().strip())
        os.kill(pid, signal.SIGTERM)
        deadline = time.time() + 30
        while time.time() < deadline and os.path.exists("/proc/%d" % pid):
            time.sleep(0.1)
        assert not os.path.exists("/proc/%d" % pid), "the pool did not stop"
        time.sleep(OUTAGE)
        if os.path.exists(sock):
            os.unlink(sock)
        with open(os.path.join(STATE, "log", "fcgi.log"), "ab") as log:
            p = subprocess.Popen([os.path.join(BIN, "launcher-fcgi"), "-c", CONF], stdout=log,
                                 stderr=log, stdin=subprocess.DEVNULL, start_new_session=True)
        with open(pidfile, "w") as f:
            f.write("%d\n" % p.pid)
        _wait("the pool's socket", lambda: os.path.exists(sock), 15)
    _survives("monpool", outage)


# ----------------------------------------------------------- the API

def test_a_resent_batch_is_accepted_once():
    c, s, p, a = _world("monre")
    ag = Agent(c.tenant, s["agent_token"])
    t = int(time.time()) // 10 * 10 - 100
    body = {"host": [{"ts": _ts(t + 10 * i), "cpu_percent": 5.0 * i, "memory_used_bytes": 1,
                      "memory_total_bytes": 2, "net_rx_bytes": i} for i in range(3)],
            "containers": [{"ts": _ts(t), "app_id": a["id"], "instance_id": "web-1",
                            "cpu_percent": 150.0, "memory_bytes": 4096, "restarts": 1},
                           # An application not on this server: dropped, not an error.
                           {"ts": _ts(t), "app_id": str(uuid.uuid4()), "instance_id": "x",
                            "cpu_percent": 1.0}]}
    r = ag.call("POST", "/metrics", body)
    assert r.status == 200 and r.data == {"host_inserted": 3, "containers_inserted": 1}, r
    r = ag.call("POST", "/metrics", body)
    assert r.status == 200 and r.data == {"host_inserted": 0, "containers_inserted": 0}, r
    pts = c.get("/monitoring/servers/%s/metrics?from=%s&to=%s&step=10" % (s["id"], _ts(t), _ts(t + 30))).data
    assert [x["cpu_percent"] for x in pts] == [0.0, 5.0, 10.0], pts
    assert pts[0]["ts"] == _ts(t) and pts[0]["memory_total_bytes"] == 2, pts
    app = c.get("/monitoring/applications/%s/metrics?from=%s&to=%s" % (a["id"], _ts(t - 60), _ts(t + 60))).data
    assert app == [{"ts": _ts(t), "instance_id": "web-1", "cpu_percent": 150.0, "memory_bytes": 4096,
                    "restarts": 1}], app
    # A bad point: 400 naming it, nothing stored.
    r = ag.call("POST", "/metrics", {"host": [{"ts": "yesterday"}]})
    assert_error(r, 400, "BAD_REQUEST", "host[0].ts")
    r = ag.call("POST", "/metrics", {"containers": [{"ts": _ts(t), "app_id": a["id"]}]})
    assert_error(r, 400, "BAD_REQUEST", "containers[0].instance_id")
    # Not a calendar date: 400 naming it (not PostgreSQL's 22008).
    r = ag.call("POST", "/metrics", {"host": [{"ts": _ts(t)}, {"ts": "2026-02-30T00:00:00Z"}]})
    assert_error(r, 400, "BAD_REQUEST", "host[1].ts")
    # Only within [now - 25 h, now + 5 min]: a row in the future never expires.
    r = ag.call("POST", "/metrics", {"host": [{"ts": _ts(time.time() + 3600)}]})
    assert_error(r, 400, "BAD_REQUEST", "host[0].ts")
    r = ag.call("POST", "/metrics", {"containers": [{"ts": _ts(time.time() - 26 * 3600), "app_id": a["id"],
                                                     "instance_id": "web-1"}]})
    assert_error(r, 400, "BAD_REQUEST", "containers[0].ts")
    # One instant twice in a batch (offsets apart): stored once, not a 500.
    iso = time.strftime("%Y-%m-%dT%H:%M:%S+01:00", time.gmtime(t + 3600 + 50))
    r = ag.call("POST", "/metrics", {"host": [{"ts": _ts(t + 50)}, {"ts": iso}]})
    assert r.status == 200 and r.data["host_inserted"] == 1, r


def test_bad_from_to_step_are_400_naming_the_field():
    c, s, p, a = _world("monbad")
    now = int(time.time())
    for base in ("/monitoring/servers/%s/metrics" % s["id"],
                 "/monitoring/applications/%s/metrics" % a["id"]):
        for q, field in (("from=yesterday", "from"), ("to=2026-13-01", "to"),
                         ("to=2026-02-30T00:00:00Z", "to"),
                         ("from=%s&to=%s" % (_ts(now), _ts(now - 60)), "from"),
                         ("from=%s" % _ts(now - 100 * 86400), "from"),
                         ("step=0", "step"), ("step=abc", "step"), ("step=86401", "step"),
                         # 1 min rollups over ~7 days: over 10,000 buckets.
                         ("from=%s&step=60" % _ts(now - 7 * 86400 + 60), "step")):
            r = c.get(base + "?" + q)
            assert_error(r, 400, "BAD_REQUEST", field)
        assert c.get(base).status == 200


def test_another_tenants_server_and_application_are_404():
    c, s, p, a = _world("moniso")
    other, _ = registered("moniso2")
    for path in ("/monitoring/servers/%s/metrics" % s["id"],
                 "/monitoring/applications/%s/metrics" % a["id"]):
        assert c.get(path).status == 200
        assert_error(other.get(path), 404, "NOT_FOUND")
    assert_error(c.get("/monitoring/servers/%s/metrics" % uuid.uuid4()), 404, "NOT_FOUND")
    assert [x for x in other.get("/monitoring/overview").data if x["project_id"] == p["id"]] == []


# ----------------------------------------------------------- rollups

def _tick():
    out = subprocess.run([os.path.join(BIN, "launcher-scheduler"), "-c", CONF, "--once"],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr


def test_rollups_average_and_keep_the_maximum_idempotently():
    c, s, p, a = _world("monroll")
    tenant = psql("SELECT tenant_id FROM servers WHERE id = '%s'" % s["id"], user="launcher_owner")[0]
    # Six 10 s points in one minute two hours ago, one in the next minute.
    psql("INSERT INTO server_metrics (tenant_id, server_id, ts, cpu_percent, memory_used_bytes,"
         " memory_total_bytes, net_rx_bytes)"
         " SELECT '%s', '%s', date_trunc('hour', now()) - interval '2 hours' + make_interval(secs => i * 10),"
         " i * 10 + 10, 1000 * (i + 1), 8000, 100 * (i + 1) FROM generate_series(0, 6) i"
         % (tenant, s["id"]), user="launcher_owner")
    psql("INSERT INTO app_metrics (tenant_id, application_id, server_id, instance_id, ts, cpu_percent,"
         " memory_bytes, restarts)"
         " SELECT '%s', '%s', '%s', 'web-1', date_trunc('hour', now()) - interval '2 hours'"
         " + make_interval(secs => i * 10), i * 20, 100, i / 3 FROM generate_series(0, 5) i"
         % (tenant, a["id"], s["id"]), user="launcher_owner")
    q1m = ("SELECT samples, cpu_percent, cpu_percent_max, memory_used_bytes, memory_total_bytes,"
           " net_rx_bytes FROM server_metrics_1m WHERE server_id = '%s' ORDER BY ts" % s["id"])
    q1h = ("SELECT samples, round(cpu_percent::numeric, 6), cpu_percent_max, net_rx_bytes"
           " FROM server_metrics_1h WHERE server_id = '%s'" % s["id"])
    qa = ("SELECT samples, cpu_percent, cpu_percent_max, memory_bytes, restarts FROM app_metrics_1m"
          " WHERE application_id = '%s' UNION ALL SELECT samples, cpu_percent, cpu_percent_max,"
          " memory_bytes, restarts FROM app_metrics_1h WHERE application_id = '%s'" % (a["id"], a["id"]))
    _tick()
    # Minute 1: cpu 10..60 (avg 35, max 60), memory 1000..6000 (avg 3500), rx max 600; minute 2: one point.
    assert psql(q1m, user="launcher_owner") == ["6|35|60|3500|8000|600", "1|70|70|7000|8000|700"]
    # The hour: weighted by samples, (35*6 + 70) / 7 = 40.
    assert psql(q1h, user="launcher_owner") == ["7|40.000000|70|700"]
    assert psql(qa, user="launcher_owner") == ["6|50|100|100|1", "6|50|100|100|1"]
    # Again (and a late point of minute 1): the same rows, the late point counted once.
    psql("INSERT INTO server_metrics (tenant_id, server_id, ts, cpu_percent, memory_total_bytes)"
         " VALUES ('%s', '%s', date_trunc('hour', now()) - interval '2 hours' + interval '55 seconds', 35, 8000)"
         % (tenant, s["id"]), user="launcher_owner")
    _tick()
    _tick()
    rows = psql(q1m, user="launcher_owner")
    assert rows[0].startswith("7|35|60|"), rows
    assert rows[1] == "1|70|70|7000|8000|700", rows
    # The API reads the minute series for a 1 min step, the hour series for
    # an hour, once from is past the 10 s points' 24 h: the rollups moved 2
    # days back (the 10 s points stay where they are).
    for t in ("server_metrics_1m", "server_metrics_1h", "app_metrics_1m", "app_metrics_1h"):
        psql("UPDATE %s SET ts = ts - interval '2 days' WHERE %s = '%s'"
             % (t, "server_id" if t.startswith("server") else "application_id",
                s["id"] if t.startswith("server") else a["id"]), user="launcher_owner")
    base = int(time.time()) // 3600 * 3600 - 7200 - 2 * 86400
    pts = c.get("/monitoring/servers/%s/metrics?from=%s&to=%s&step=60"
                % (s["id"], _ts(base), _ts(base + 120))).data
    assert [(x["ts"], x["cpu_percent"]) for x in pts] == [(_ts(base), 35), (_ts(base + 60), 70)], pts
    pts = c.get("/monitoring/applications/%s/metrics?from=%s&to=%s&step=3600"
                % (a["id"], _ts(base), _ts(base + 3600))).data
    assert [(x["instance_id"], x["cpu_percent"], x["restarts"]) for x in pts] == [("web-1", 50, 1)], pts
