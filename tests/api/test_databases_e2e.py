"""Managed databases end to end: the real plane, the real launcher-agent, the
stack's Podman and the database images of tests/fixtures/dbimages.sh
(FIXTURE_DB_*_IMAGE; the dbclient app FIXTURE_REGISTRY_DBCLIENT answers
GET /cgi-bin/db[?put=VALUE] through $DATABASE_URL).  For PostgreSQL, MySQL
(MariaDB) and Redis: create -> running; an app deployed with
DATABASE_URL=${db.<name>.url} writes and reads back; stop + start and
restart keep the data; a password rotation: the old one is refused, the new
one works, the app's next deploy gets it.  Then: two projects' databases
cannot reach each other, even after the engine lost its own isolation
rules (the agent's chains, README "Network isolation"); a non-public
database publishes no host port, a public one does; a missing image fails
cleanly; an agent killed during a provision leaves the job to the lease
rules.  MongoDB runs only when the engine has its image (reported skipped
otherwise).  ClickHouse (its own test): queried over its HTTP port."""
import hashlib
import json
import re
import socket
import subprocess
import uuid

from lib import Skip, assert_error, new_project, psql, stack_env
from test_agent_e2e import _wait
from test_deploy_e2e import F, EdgeAgent, _app, _deploy, app_containers, edge_get, engine, wait_removal_job
from test_deploy_e2e import World as DeployWorld

DB_TIMEOUT = 300
IMAGES = {"postgres": "FIXTURE_DB_POSTGRES_IMAGE", "mysql": "FIXTURE_DB_MYSQL_IMAGE",
          "redis": "FIXTURE_DB_REDIS_IMAGE"}


def _have_fixtures():
    return bool(F.get("FIXTURE_REGISTRY_DBCLIENT")) and all(F.get(v) for v in IMAGES.values())


def _need_fixtures():
    if not _have_fixtures():
        raise AssertionError("fixtures missing (FIXTURE_DB_*_IMAGE, FIXTURE_REGISTRY_DBCLIENT): "
                             "run through tests/run.sh")


class World(DeployWorld):
    """The deploy tests' world (a tenant, a server run by the real agent, a project)."""
    _w = None
    agent_class = EdgeAgent


def _owner(sql):
    return psql(sql, user="launcher_owner")


def _db(w, project=None, **body):
    body.setdefault("project_id", (project or w.project)["id"])
    body.setdefault("name", body.get("type", "postgres")[:2] + uuid.uuid4().hex[:6])
    r = w.c.post("/databases", body)
    assert r.status == 201, r
    assert r.data["status"] == "provisioning", r
    return r.data


def _jobs(db_id):
    return _owner("SELECT kind || ' ' || status || ' ' || coalesce(error, '') FROM jobs"
                  " WHERE payload->>'database_id' = '%s' ORDER BY created_at, id" % db_id)


def _settled(w, db_id, want="running", timeout=DB_TIMEOUT):
    """Waits until the database has no pending action and a final status; checks it is want."""
    def done():
        d = w.c.get("/databases/" + db_id).data
        if d.get("pending_action") is None and d["status"] not in ("provisioning",):
            return d
        return None
    d = _wait("database %s to settle" % db_id, done, timeout)
    assert d["status"] == want, (d, _jobs(db_id))
    return d


def _action(w, db_id, what, want="running"):
    r = w.c.post("/databases/%s/%s" % (db_id, what))
    assert r.status == 200, r
    return _settled(w, db_id, want)


def _ctr(db_id):
    """The engine's inspect of the database's container, or None."""
    st, doc = engine("GET", "/containers/lnchr-db-%s/json" % db_id)
    return doc if st == 200 else None


def _volume_exists(volume_id):
    st, _ = engine("GET", "/volumes/lnchr-vol-" + volume_id)
    return st == 200


def _host_ports(doc):
    return [b.get("HostPort") for binds in (doc["NetworkSettings"].get("Ports") or {}).values()
            for b in (binds or []) if b.get("HostPort")]


def _client(w, env_value, project=None):
    """The dbclient deployed with DATABASE_URL=env_value; returns the app."""
    body = {"image_url": F["FIXTURE_REGISTRY_DBCLIENT"], "exposed_port": 8080,
            "healthcheck_path": "/health", "env": {"DATABASE_URL": env_value}}
    if project is not None:
        body["project_id"] = project["id"]
    a = _app(w, **body)
    _deploy(w, a)
    return a


def _ask(app, put=None):
    """GET /cgi-bin/db[?put=VALUE] of the app through the edge: (status, values or error)."""
    st, body = edge_get(app["hostname"], "/cgi-bin/db" + ("?put=" + put if put else ""), timeout=30)
    # Values are [A-Za-z0-9._-]: a client's notice (psql's NOTICE: ...) is not one.
    return st, ([v for v in body.split("\n")[:-1] if ":" not in v] if st == 200 else body)


def _stored(app, want):
    st, got = _ask(app)
    assert (st, got) == (200, want), (st, got)


def _no_secret_in(doc, pw):
    text = json.dumps({k: doc.get(k) for k in ("Path", "Args")}) + json.dumps(doc["Config"].get("Cmd")) \
        + json.dumps(doc["Config"].get("Labels")) + json.dumps(doc["Config"].get("Entrypoint"))
    assert pw not in text, text


def _round_trip(kind):
    _need_fixtures()
    w = World.get()
    d = _db(w, type=kind)
    d = _settled(w, d["id"])
    cn = w.c.get("/databases/%s/connection" % d["id"]).data
    doc = _ctr(d["id"])
    assert doc is not None and doc["State"]["Running"], doc
    labels = doc["Config"]["Labels"]
    assert labels["launcher.database"] == d["id"] and labels["launcher.managed"] == "1", labels
    _no_secret_in(doc, cn["password"])
    # Not public: nothing published on the host (what `podman port` reads).
    assert d["public"] is False and d["public_port"] is None, d
    assert _host_ports(doc) == [], doc["NetworkSettings"].get("Ports")
    net = "lnchr-net-" + w.project["id"]
    assert net in doc["NetworkSettings"]["Networks"], doc["NetworkSettings"]["Networks"]
    # An application of the project reaches it by its internal_host.
    a = _client(w, "${db.%s.url}" % d["name"])
    st, got = _ask(a, "one")
    assert (st, got) == (200, ["one"]), (st, got)
    # stop + start, then restart (re-created from the payload): the data stays.
    _action(w, d["id"], "stop", "stopped")
    st, got = _ask(a)
    assert st == 500 and "error" in got, (st, got)
    _action(w, d["id"], "start")
    _stored(a, ["one"])
    _action(w, d["id"], "restart")
    st, got = _ask(a, "two")
    assert (st, got) == (200, ["one", "two"]), (st, got)
    # Rotation inside the running engine: no restart, the old password refused.
    started = _ctr(d["id"])["State"]["StartedAt"]
    r = w.c.post("/databases/%s/rotate-password" % d["id"])
    assert r.status == 200, r
    _settled(w, d["id"])
    after = _ctr(d["id"])
    assert after["State"]["StartedAt"] == started and after["State"]["Running"], after["State"]
    cn2 = w.c.get("/databases/%s/connection" % d["id"]).data
    assert cn2["password"] != cn["password"], cn2
    _no_secret_in(after, cn2["password"])
    # The running app still has the old password: the engine refuses it.
    st, got = _ask(a)
    assert st == 500 and "error" in got, (st, got)
    # Its next deploy resolves the new one.
    _deploy(w, a)
    _stored(a, ["one", "two"])
    # The password is in no job record of the database.
    for row in _owner("SELECT coalesce(error, '') || coalesce(result::text, '') FROM jobs"
                      " WHERE payload->>'database_id' = '%s'" % d["id"]):
        assert cn["password"] not in row and cn2["password"] not in row, row
    for row in _owner("SELECT l.line FROM job_logs l JOIN jobs j ON j.id = l.job_id"
                      " WHERE j.payload->>'database_id' = '%s'" % d["id"]):
        assert cn["password"] not in row and cn2["password"] not in row, row
    # Cleaned up: the app, then the database with its data.
    assert w.c.delete("/applications/" + a["id"]).status == 204
    _wait("the app's removal", lambda: w.c.delete("/databases/%s?delete_data=true" % d["id"]).status == 204, 60)
    _wait("the container to go", lambda: _ctr(d["id"]) is None, 60)
    _wait("the volume to go", lambda: not _volume_exists(d["volume_id"]), 90)


def test_postgres_end_to_end():
    _round_trip("postgres")


def test_mysql_end_to_end():
    _round_trip("mysql")


def test_redis_end_to_end():
    _round_trip("redis")


def _forward_rules():
    """FORWARD's rules as `iptables -S FORWARD` prints them (the tests run as root)."""
    return subprocess.run(["iptables", "-w", "5", "-S", "FORWARD"], check=True, capture_output=True,
                          text=True).stdout.splitlines()


def _jump_first(chain):
    """The agent's jump is in FORWARD, and only other agents' jumps (`-j X` with a
    chain X-2: the stacks beside this one) come before it."""
    rules = subprocess.run(["iptables", "-w", "5", "-S"], check=True, capture_output=True,
                           text=True).stdout.splitlines()
    chains = {r[3:] for r in rules if r.startswith("-N ")}
    for r in (r for r in rules if r.startswith("-A FORWARD ")):
        if r == "-A FORWARD -j " + chain:
            return True
        m = re.fullmatch(r"-A FORWARD -j (\S+)", r)
        if not m or m.group(1) + "-2" not in chains:
            return False
    return False


def _dropped(chain, subnet):
    """Packets the agent's chain has dropped towards subnet (its counter)."""
    out = subprocess.run(["iptables", "-w", "5", "-S", chain + "-2", "-v"], check=True,
                         capture_output=True, text=True).stdout
    m = re.search(r"^-A %s-2 -d %s -c (\d+) \d+ -j DROP$" % (re.escape(chain), re.escape(subnet)),
                  out, re.M)
    assert m, (subnet, out)
    return int(m.group(1))


def _removed(w, app):
    """Deletes the app and waits until its containers are gone (their networks torn down)
    and its removal job has ended (wait_removal_job): a request that waits on a connect
    the edge reload dropped (the client's 10 s timeout) must not be in flight then."""
    assert w.c.delete("/applications/" + app["id"]).status == 204
    _wait("the containers of %s to go" % app["id"], lambda: app_containers(app["id"]) == [], 90)
    wait_removal_job(app["id"])


def _bridge(project_id):
    """The project network's Linux bridge: the agent's name for it (ctr_bridge_name:
    lnchr + SHA-256 of the engine socket's path and the project id, so that the
    stacks side by side in a test run, each with its own Podman, never pick one
    name), up on the host with the network's gateway on it."""
    st, net = engine("GET", "/libpod/networks/lnchr-net-%s/json" % project_id, api="/v4.0.0")
    assert st == 200, net
    seed = "%s\n%s" % (stack_env()["LAUNCHER_ENGINE_SOCKET"], project_id)
    want = "lnchr" + hashlib.sha256(seed.encode()).hexdigest()[:10]
    assert net["network_interface"] == want, (net, want)
    gw = net["subnets"][0]["gateway"]
    out = subprocess.run(["ip", "-j", "-4", "addr", "show", "dev", want], capture_output=True,
                         text=True, check=True).stdout
    assert gw in [a["local"] for i in json.loads(out) for a in i["addr_info"]], (gw, out)
    return want


def test_two_projects_databases_cannot_reach_each_other():
    """Isolation holds whatever the engine's firewall bookkeeping did:
    netavark 1.4 deletes its one FORWARD jump to NETAVARK_ISOLATION_1 when
    an isolated network's last container leaves (every other project
    network is then open to the others); the agent's own chains
    (LAUNCHER_FIREWALL_CHAIN) keep them apart, and a jump removed behind
    its back is back by its next report cycle."""
    _need_fixtures()
    w = World.get()
    chain = stack_env()["LAUNCHER_FIREWALL_CHAIN"]
    other, third = new_project(w.c), new_project(w.c)
    d = _settled(w, _db(w, type="postgres")["id"])
    cn = w.c.get("/databases/%s/connection" % d["id"]).data
    ip = _ctr(d["id"])["NetworkSettings"]["Networks"]["lnchr-net-" + w.project["id"]]["IPAddress"]
    by_ip = cn["url"].replace("@%s:" % cn["host"], "@%s:" % ip)
    # Control: from its own project, by name and by address.
    mine = _client(w, by_ip)
    st, got = _ask(mine, "x")
    assert (st, got) == (200, ["x"]), (st, got)
    # The other project's network emptied (its only app gone), then brought back.
    _removed(w, _client(w, by_ip, project=other))
    theirs = [_client(w, url, project=other) for url in (cn["url"], by_ip)]
    # Each project network on a bridge of its own, named by the agent.
    assert _bridge(w.project["id"]) != _bridge(other["id"])
    # A third project's network loses its last container while both run: the
    # engine's own isolation jump goes with it (unless another container on
    # this machine started meanwhile, which puts it back).
    _removed(w, _client(w, by_ip, project=third))
    print("FORWARD after the third network emptied: %s" % _forward_rules())

    st, net = engine("GET", "/networks/lnchr-net-" + w.project["id"])
    subnet = net["IPAM"]["Config"][0]["Subnet"]

    def refused():
        """Neither the name resolves nor the address answers, and the agent's
        own rule is what dropped the attempt (it comes before the engine's)."""
        before = _dropped(chain, subnet)
        for url, app in zip((cn["url"], by_ip), theirs):
            st, got = _ask(app)
            assert st == 500 and "error" in got, (url.replace(cn["password"], "***"), st, got)
        assert _dropped(chain, subnet) > before, "the agent's chain dropped nothing"
    refused()
    # The agent's jump comes first in FORWARD, before the engine's ACCEPTs (an
    # engine that inserts its own jump first meanwhile is overtaken again);
    # other stacks' agents' jumps may come before it (netfw.c peer_jump).
    _wait("the agent's jump first in FORWARD", lambda: _jump_first(chain), 30)
    # Its jump deleted behind its back: the next report cycle puts it back.
    subprocess.run(["iptables", "-w", "5", "-D", "FORWARD", "-j", chain], check=True)
    _wait("the agent to restore its isolation jump",
          lambda: ("-A FORWARD -j " + chain) in _forward_rules(), 30)
    refused()
    # Its own project still reaches it.
    _stored(mine, ["x"])
    for app in theirs + [mine]:
        assert w.c.delete("/applications/" + app["id"]).status == 204
    _wait("the apps' removal", lambda: w.c.delete("/databases/%s?delete_data=true" % d["id"]).status == 204, 60)
    _wait("the container to go", lambda: _ctr(d["id"]) is None, 60)


def test_public_database_publishes_a_host_port_and_a_private_one_none():
    _need_fixtures()
    w = World.get()
    d = _settled(w, _db(w, type="redis", public=True)["id"])
    assert isinstance(d["public_port"], int) and d["public_port"] > 0, d
    doc = _ctr(d["id"])
    assert _host_ports(doc) == [str(d["public_port"])], doc["NetworkSettings"]["Ports"]
    s = socket.create_connection(("127.0.0.1", d["public_port"]), timeout=5)
    s.sendall(b"PING\r\n")
    assert s.recv(64).startswith((b"-NOAUTH", b"+PONG")), "redis answers on the public port"
    s.close()
    # Made private: re-created without a host port, the data kept.
    r = w.c.put("/databases/" + d["id"], {"public": False})
    assert r.status == 200, r
    d = _settled(w, d["id"])
    assert d["public_port"] is None and _host_ports(_ctr(d["id"])) == [], d
    assert w.c.delete("/databases/%s?delete_data=true" % d["id"]).status == 204
    _wait("the container to go", lambda: _ctr(d["id"]) is None, 60)


def test_missing_image_fails_cleanly():
    """The agent's payload names an image the server does not have and no
    registry serves: failed with the engine's message, no container, no
    volume, no row left provisioning.  (The image comes from the plane's
    table; the job's payload is edited while no agent runs.)"""
    _need_fixtures()
    w = World.get()
    w.agent.kill()
    try:
        d = _db(w, type="postgres")
        _owner("UPDATE jobs SET payload = jsonb_set(payload, '{image}',"
               " '\"localhost/launcher-test/no-such-db:1\"') WHERE kind = 'db.provision'"
               " AND payload->>'database_id' = '%s'" % d["id"])
    finally:
        w.agent.start()
    d = _settled(w, d["id"], "failed")
    assert "no-such-db" in d["status_reason"] and "pulling image" in d["status_reason"], d
    assert _ctr(d["id"]) is None
    assert not _volume_exists(d["volume_id"])


def test_agent_killed_during_provision_leaves_the_job_to_the_lease_rules():
    _need_fixtures()
    w = World.get()
    d = _db(w, type="postgres")

    def job():
        rows = _owner("SELECT id || ' ' || status || ' ' || attempts FROM jobs WHERE"
                      " kind = 'db.provision' AND payload->>'database_id' = '%s'" % d["id"])
        return rows[0].split(" ") if rows else None

    def readiness_started():
        j = job()
        if j is None or j[1] != "running":
            return False
        return _owner("SELECT count(*) FROM job_logs WHERE job_id = '%s' AND line LIKE"
                      " 'waiting for %%'" % j[0])[0] != "0"

    for attempt in (1, 2):
        _wait("provision attempt %d to wait for readiness" % attempt, readiness_started, 120)
        w.agent.kill()
        j = job()
        assert j[1] == "running" and j[2] == str(attempt), j
        assert w.c.get("/databases/" + d["id"]).data["status"] == "provisioning"
        # The lease runs out (made so now rather than waited for); the scheduler's tick.
        _owner("UPDATE jobs SET lease_expires_at = now() - interval '1 second' WHERE id = '%s'" % j[0])
        _owner("SELECT * FROM scheduler_tick()")
        j = job()
        if attempt == 1:
            assert j[1] == "queued", j   # retried
            w.agent.start()
    # Out of attempts: failed, never provisioning for ever.
    assert job()[1] == "failed", job()
    got = w.c.get("/databases/" + d["id"]).data
    assert got["status"] == "failed", got
    w.agent.start()
    _wait("the agent online", lambda: w.c.get("/servers/" + w.server["id"]).data["status"] == "online", 30)
    # Deleting it removes what the killed attempts left.
    assert w.c.delete("/databases/%s?delete_data=true" % d["id"]).status == 204
    _wait("the container to go", lambda: _ctr(d["id"]) is None, 90)


def test_mongodb_end_to_end_when_its_image_is_present():
    st, _ = engine("GET", "/images/docker.io/library/mongo:7/json")
    if st != 200:
        raise Skip("no mongo image in the engine (docker.io/library/mongo:7 has no Debian package "
                   "and no registry is reachable here); its container spec is unit-tested "
                   "(tests/unit/test_agent_db.c)")
    w = World.get()
    d = _settled(w, _db(w, type="mongodb")["id"])
    cn = w.c.get("/databases/%s/connection" % d["id"]).data
    _no_secret_in(_ctr(d["id"]), cn["password"])
    r = w.c.post("/databases/%s/rotate-password" % d["id"])
    assert r.status == 200, r
    _settled(w, d["id"])
    _action(w, d["id"], "restart")
    assert w.c.delete("/databases/%s?delete_data=true" % d["id"]).status == 204


def _ch(port, sql=None, auth=None, db=None, post=False):
    """ClickHouse's HTTP interface on the host port (GET /ping without sql; a GET
    is read-only, post=True for DDL and writes): (status, body)."""
    import base64
    import http.client
    import urllib.parse
    h = {"Authorization": "Basic " + base64.b64encode(("app:%s" % auth).encode()).decode()} if auth else {}
    path = "/ping" if sql is None else "/?" + urllib.parse.urlencode(
        dict({"query": sql}, **({"database": db} if db else {})))
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=15)
    try:
        conn.request("POST" if post else "GET", path, headers=h)
        r = conn.getresponse()
        return r.status, r.read().decode(errors="replace")
    finally:
        conn.close()


def test_clickhouse_end_to_end():
    """ClickHouse 18.16 (Debian's clickhouse-server, FIXTURE_DB_CLICKHOUSE_IMAGE):
    provisioned with readiness on /ping (no credential), ${db.<name>.port} is the
    HTTP port and its url an http:// one; the user and its database answer
    queries through the published port, anonymous access is refused; a rotation
    refuses the old password; backups are refused with 400 naming type."""
    _need_fixtures()
    if not F.get("FIXTURE_DB_CLICKHOUSE_IMAGE"):
        raise AssertionError("FIXTURE_DB_CLICKHOUSE_IMAGE missing: run through tests/run.sh")
    w = World.get()
    d = _db(w, type="clickhouse", name="ch-" + uuid.uuid4().hex[:6], public=True)
    d = _settled(w, d["id"])
    assert d["port"] == 8123 and d["version"] == "18.16", d
    cn = w.c.get("/databases/%s/connection" % d["id"]).data
    dbname = d["name"].replace("-", "_")
    assert cn["name"] == dbname and cn["user"] == "app" and cn["port"] == 8123, cn
    assert cn["url"] == "http://app:%s@%s:8123/%s" % (cn["password"], d["internal_host"], dbname), cn
    _no_secret_in(_ctr(d["id"]), cn["password"])
    port = d["public_port"]
    pw = cn["password"]
    assert isinstance(port, int) and port > 0, d
    try:
        assert _ch(port) == (200, "Ok.\n")
    except OSError as e:
        doc = _ctr(d["id"])
        raise AssertionError("port %s: %s; engine ports %s; logs %s" % (
            port, e, doc["NetworkSettings"].get("Ports"),
            [x.get("message") for x in w.c.get("/databases/%s/logs" % d["id"]).data][-30:]))
    assert _ch(port, "SELECT 1")[0] != 200, "no anonymous (default) user"
    assert _ch(port, "SELECT currentDatabase()", pw, dbname) == (200, dbname + "\n")
    st, body = _ch(port, "CREATE TABLE t (v String) ENGINE = TinyLog", pw, dbname, post=True)
    assert st == 200, body
    st, body = _ch(port, "INSERT INTO t VALUES ('one')", pw, dbname, post=True)
    assert st == 200, body
    assert _ch(port, "SELECT v FROM t", pw, dbname) == (200, "one\n")
    # Backups: not supported for clickhouse, named.
    dest = w.c.post("/settings/backup-destinations", {"name": "ch-" + uuid.uuid4().hex[:6],
                                                       "provider": "local"})
    assert dest.status == 201, dest
    r = w.c.post("/databases/%s/backups" % d["id"], {"destination_id": dest.data["id"]})
    assert_error(r, 400, "BAD_REQUEST", field="type")
    assert _owner("SELECT count(*) FROM backups WHERE resource_id = '%s'" % d["id"]) == ["0"]
    # Rotation (the users file rewritten, no restart): old refused, new works, data kept.
    started = _ctr(d["id"])["State"]["StartedAt"]
    r = w.c.post("/databases/%s/rotate-password" % d["id"])
    assert r.status == 200, r
    _settled(w, d["id"])
    assert _ctr(d["id"])["State"]["StartedAt"] == started
    cn2 = w.c.get("/databases/%s/connection" % d["id"]).data
    assert cn2["password"] != cn["password"]
    assert _ch(port, "SELECT v FROM t", pw, dbname)[0] != 200, "the old password is refused"
    assert _ch(port, "SELECT v FROM t", cn2["password"], dbname) == (200, "one\n")
    # Restart (re-created from the payload): the users file and the data stay on the volume.
    _action(w, d["id"], "restart")
    port = w.c.get("/databases/" + d["id"]).data["public_port"]
    assert _ch(port, "SELECT v FROM t", cn2["password"], dbname) == (200, "one\n")
    assert w.c.delete("/databases/%s?delete_data=true" % d["id"]).status == 204
    _wait("the container to go", lambda: _ctr(d["id"]) is None, 60)
    w.c.delete("/settings/backup-destinations/" + dest.data["id"])


def test_a_database_container_that_stops_by_itself_is_reported_crashed():
    """The agent's instance report covers database containers: one stopped
    behind the plane's back makes the database crashed, with the reason;
    a start brings it back with its data."""
    _need_fixtures()
    w = World.get()
    d = _settled(w, _db(w, type="redis")["id"])
    st, _ = engine("POST", "/containers/lnchr-db-%s/stop?t=5" % d["id"])
    assert st in (204, 304), st

    def crashed():
        got = w.c.get("/databases/" + d["id"]).data
        return got if got["status"] == "crashed" else None
    got = _wait("the database to be reported crashed", crashed, 30)
    # The first report after the stop began may see the engine's "stopping"
    # (the container on its way down), a later one "exited": either names it.
    reason = got.get("status_reason") or ""
    assert "exited" in reason or "stopping" in reason, got
    _action(w, d["id"], "start")
    assert _ctr(d["id"])["State"]["Running"]
    assert w.c.delete("/databases/%s?delete_data=true" % d["id"]).status == 204


def test_database_limits_reach_the_engine_and_stats_come_back():
    """cpu_limit and memory_limit are the container's NanoCpus and Memory;
    the agent's report reads the engine's stats of the running container
    into the database's `stats` and its instance (memory within the limit;
    the CPU figure from the second report on, Podman giving no precpu)."""
    _need_fixtures()
    w = World.get()
    limit = 64 << 20
    d = _settled(w, _db(w, type="redis", memory_limit=limit, cpu_limit=0.5)["id"])
    hc = _ctr(d["id"])["HostConfig"]
    assert (hc.get("NanoCpus"), hc.get("Memory")) == (500000000, limit), hc
    st, raw = engine("GET", "/containers/lnchr-db-%s/stats?stream=false&one-shot=true" % d["id"])
    if isinstance(raw, dict):
        print("engine stats answer: HTTP %s read=%s preread=%s cpu_stats=%s precpu_stats=%s memory_stats=%s"
              % (st, raw.get("read"), raw.get("preread"), json.dumps(raw.get("cpu_stats")),
                 json.dumps(raw.get("precpu_stats")), json.dumps(raw.get("memory_stats"))))
    assert st == 200 and isinstance(raw, dict) and raw.get("memory_stats", {}).get("usage", 0) > 0, (st, raw)

    def reported():
        got = w.c.get("/databases/" + d["id"]).data
        return got if (got["stats"]["memory_bytes"] or 0) > 0 and got["stats"]["cpu_percent"] is not None \
            else None
    got = _wait("the agent to report the database's stats", reported, 60)
    s = got["stats"]
    assert 0 < s["memory_bytes"] <= limit and s["at"] and s["restart_count"] == 0, s
    assert 0 <= s["cpu_percent"] <= 100, s  # at most the 0.5 CPU it may use, in docker's scale
    inst = w.c.get("/databases/%s/instances" % d["id"]).data
    assert len(inst) == 1 and inst[0]["status"] == "running" and inst[0]["memory_bytes"] > 0, inst
    assert w.c.delete("/databases/%s?delete_data=true" % d["id"]).status == 204
