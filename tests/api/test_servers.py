"""API.md §3 servers and the agent API, spoken by a test agent here (the
real launcher-agent is exercised end to end in test_agent_e2e.py), and the
job queue with launcher-scheduler."""
import datetime
import os
import subprocess
import threading
import time
import uuid

from lib import BIN, CONF, Client, assert_error, make_key, new_user, psql, registered, request


def _now():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _server(c, **body):
    body.setdefault("name", "srv-" + uuid.uuid4().hex[:8])
    r = c.post("/servers", body)
    assert r.status == 201, r
    return r.data


class Agent:
    """Speaks the agent API with a token."""

    def __init__(self, tenant, token):
        self.tenant, self.token = tenant, token

    def call(self, method, path, body=None, raw=None, headers=None):
        h = {"x-lnchr-agent-token": self.token}
        h.update(headers or {})
        return request(method, "/%s/api/v1/agent%s" % (self.tenant, path), body, h, raw)

    def heartbeat(self, reachable=True, **host):
        hb = {"agent_version": "test-0", "interval_seconds": 1, "time": _now(),
              "engine": {"type": "podman", "reachable": reachable, "version": "4.3.1", "containers": 2,
                         "containers_running": 1},
              "host": dict({"hostname": "h", "os": "Debian", "cpus": 2, "cpu_percent": 12.5,
                            "memory_total_bytes": 8 << 30, "memory_used_bytes": 2 << 30,
                            "disk_total_bytes": 100 << 30, "disk_used_bytes": 40 << 30,
                            "load1": 0.5, "net_rx_bytes": 10, "net_tx_bytes": 20}, **host)}
        return self.call("POST", "/heartbeat", hb)

    def claim(self):
        r = self.call("POST", "/jobs/claim", {})
        assert r.status == 200, r
        return r.data["job"]


def scheduler():
    out = subprocess.run([os.path.join(BIN, "launcher-scheduler"), "-c", CONF, "--once"],
                         capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    return out.stderr


def _enqueue(server_id, tid, n=1, kind="noop", payload="{}", lease=10, deadline="15 minutes", attempts=2):
    return psql("INSERT INTO jobs (tenant_id, server_id, kind, payload, lease_seconds, max_attempts, deadline_at)"
                " SELECT '%s', '%s', '%s', '%s', %d, %d, now() + interval '%s' FROM generate_series(1, %d)"
                " RETURNING id" % (tid, server_id, kind, payload, lease, attempts, deadline, n),
                user="launcher_owner")


def test_server_crud_token_once_and_install_command():
    c, _ = registered()
    s = _server(c, description="edge box", host="203.0.113.7", base_domain="apps.example.com",
                labels={"zone": "a"}, heartbeat_interval_seconds=5)
    assert s["status"] == "pending" and s["agent_token"].startswith("lnchr_at_"), s
    # The token goes into a file by a shell builtin; the agent comes from the plane.
    assert "printf '%s\\n' '" + s["agent_token"] + "' > /etc/launcher/agent.token" in s["install_command"]
    assert "/agent/install.sh | sh -s -- --plane " in s["install_command"]
    g = c.get("/servers/" + s["id"])
    assert g.status == 200 and "agent_token" not in g.data and "install_command" not in g.data
    assert g.data["labels"] == {"zone": "a"} and g.headers["etag"] == '"1"'
    r = c.put("/servers/" + s["id"], {"description": "renamed box"}, headers={"If-Match": '"1"'})
    assert r.status == 200 and r.data["description"] == "renamed box" and r.data["host"] == "203.0.113.7"
    assert_error(c.put("/servers/" + s["id"], {"description": "x"}, headers={"If-Match": '"1"'}),
                 412, "PRECONDITION_FAILED")
    assert_error(c.post("/servers", {"name": s["name"]}), 409, "CONFLICT")
    r = c.post("/servers", {"name": "Bad_Name", "labels": "x", "heartbeat_interval_seconds": 0, "host": "a b"})
    assert_error(r, 400, "BAD_REQUEST")
    assert sorted(d["field"] for d in r.error["details"]) == ["heartbeat_interval_seconds", "host", "labels", "name"]
    rows = psql("SELECT encode(agent_token_hash, 'hex') FROM servers WHERE id = '%s'" % s["id"], user="launcher_owner")
    assert rows and s["agent_token"] not in rows[0]
    assert [x["id"] for x in c.get("/servers").data] == [s["id"]]
    u = new_user(c)
    assert u.get("/servers/" + s["id"]).status == 200
    assert_error(u.post("/servers", {"name": "mine"}), 403, "FORBIDDEN")
    assert c.delete("/servers/" + s["id"]).status == 204
    assert_error(c.get("/servers/" + s["id"]), 404, "NOT_FOUND")


def test_heartbeat_makes_the_server_online_with_its_facts():
    c, _ = registered()
    s = _server(c)
    a = Agent(c.tenant, s["agent_token"])
    r = a.heartbeat()
    assert r.status == 200 and r.data["status"] == "online" and r.data["server_id"] == s["id"], r
    g = c.get("/servers/" + s["id"]).data
    assert g["status"] == "online" and g["engine"] == "podman" and g["engine_version"] == "4.3.1"
    assert g["cpus"] == 2 and g["memory_bytes"] == 8 << 30 and g["last_seen_at"]
    st = c.get("/servers/%s/status" % s["id"]).data
    assert st["engine_reachable"] is True and st["containers_running"] == 1
    assert st["resources"]["cpu_percent"] == 12.5 and st["seconds_since_heartbeat"] <= 2, st
    assert a.heartbeat(reachable=False).data["status"] == "degraded"
    # Host points come only in metrics batches (POST /agent/metrics), not with heartbeats.
    assert psql("SELECT count(*) FROM server_metrics WHERE server_id = '%s'" % s["id"], user="launcher_owner") == ["0"]
    # Heartbeats do not change the version users edit against.
    assert c.get("/servers/" + s["id"]).headers["etag"] == '"1"'


def test_bad_agent_input_is_4xx_and_changes_nothing():
    c, _ = registered()
    s = _server(c)
    a = Agent(c.tenant, s["agent_token"])
    bad = [
        {"agent_version": "x"},
        {"agent_version": "x", "engine": {"reachable": "yes"}, "host": {}},
        {"agent_version": "x", "engine": {"reachable": True}, "host": {"cpus": -1, "memory_total_bytes": "lots",
                                                                       "memory_used_bytes": 1, "disk_total_bytes": 1,
                                                                       "disk_used_bytes": 1}},
    ]
    for body in bad:
        r = a.call("POST", "/heartbeat", body)
        assert_error(r, 400, "BAD_REQUEST")
    r = a.call("POST", "/heartbeat", bad[2])
    fields = sorted(d["field"] for d in r.error["details"])
    assert fields == ["host.cpus", "host.memory_total_bytes"], r
    assert_error(a.call("POST", "/heartbeat", raw=b"{not json", headers={"Content-Type": "application/json"}),
                 400, "BAD_REQUEST")
    assert c.get("/servers/" + s["id"]).data["status"] == "pending"
    assert_error(a.call("POST", "/jobs/%s/complete" % uuid.uuid4(), {"status": "succeeded"}), 404, "NOT_FOUND")
    assert_error(a.call("POST", "/jobs/not-a-uuid/lease", {}), 404, "NOT_FOUND")
    job = _enqueue(s["id"], c.tid)[0]
    got = a.claim()
    assert got["id"] == job
    assert_error(a.call("POST", "/jobs/%s/complete" % job, {"status": "done"}), 400, "BAD_REQUEST", field="status")
    assert_error(a.call("POST", "/jobs/%s/progress" % job, {"lines": ["x" * 5000]}), 400, "BAD_REQUEST", field="lines")
    assert psql("SELECT status FROM jobs WHERE id = '%s'" % job, user="launcher_owner") == ["running"]


def test_jobs_claim_lease_progress_complete_and_cross_server_refusals():
    c, _ = registered()
    s1, s2 = _server(c), _server(c)
    a1, a2 = Agent(c.tenant, s1["agent_token"]), Agent(c.tenant, s2["agent_token"])
    j1 = _enqueue(s1["id"], c.tid, payload='{"marker": "one"}')[0]
    assert a2.claim() is None, "a server claimed another server's job"
    job = a1.claim()
    assert job["id"] == j1 and job["kind"] == "noop" and job["payload"] == {"marker": "one"} and job["attempt"] == 1
    assert a1.claim() is None
    assert a1.call("POST", "/jobs/%s/lease" % j1, {}).status == 200
    assert a1.call("POST", "/jobs/%s/progress" % j1, {"lines": ["step 1", "step 2"]}).status == 204
    # The other server's agent can touch none of it.
    for path, body in (("/lease", {}), ("/progress", {"lines": ["x"]}), ("/complete", {"status": "succeeded"})):
        assert_error(a2.call("POST", "/jobs/%s%s" % (j1, path), body), 404, "NOT_FOUND")
    r = a1.call("POST", "/jobs/%s/complete" % j1, {"status": "succeeded", "result": {"ok": True}})
    assert r.status == 200, r
    assert_error(a1.call("POST", "/jobs/%s/complete" % j1, {"status": "failed"}), 409, "CONFLICT")
    assert_error(a1.call("POST", "/jobs/%s/lease" % j1, {}), 409, "CONFLICT")
    assert psql("SELECT line FROM job_logs WHERE job_id = '%s' ORDER BY id" % j1, user="launcher_owner") == ["step 1", "step 2"]
    assert psql("SELECT status, result FROM jobs WHERE id = '%s'" % j1, user="launcher_owner") == ['succeeded|{"ok": true}']


def test_rotated_token_is_refused_at_once_and_tokens_stay_in_their_tenant():
    c, _ = registered()
    s = _server(c)
    old = Agent(c.tenant, s["agent_token"])
    assert old.heartbeat().status == 200
    r = c.post("/servers/%s/agent-token" % s["id"])
    assert r.status == 200 and r.data["agent_token"] != s["agent_token"], r
    assert_error(old.heartbeat(), 401, "UNAUTHORIZED")
    assert Agent(c.tenant, r.data["agent_token"]).heartbeat().status == 200
    d, _ = registered()
    assert_error(Agent(d.tenant, r.data["agent_token"]).heartbeat(), 401, "UNAUTHORIZED")
    ds = _server(d)
    _enqueue(ds["id"], d.tid)
    # c's agent at d's URL is nobody; at its own URL it sees none of d's jobs.
    assert_error(Agent(d.tenant, r.data["agent_token"]).call("POST", "/jobs/claim", {}), 401, "UNAUTHORIZED")
    assert Agent(c.tenant, r.data["agent_token"]).claim() is None
    assert_error(Agent(c.tenant, "lnchr_at_" + "x" * 43).heartbeat(), 401, "UNAUTHORIZED")
    # A user's key is not an agent token, nor the reverse.
    assert_error(Agent(c.tenant, make_key(c)["key"]).heartbeat(), 401, "UNAUTHORIZED")
    assert_error(Client(c.tenant, key=r.data["agent_token"]).get("/servers"), 401, "UNAUTHORIZED")


def test_scheduler_marks_silent_servers_offline_and_expires_leases():
    c, _ = registered()
    # Time passes in the database, never by sleeping (a loaded machine may
    # take seconds per call): the rows' timestamps are moved into the past.
    s = _server(c, heartbeat_interval_seconds=60)
    a = Agent(c.tenant, s["agent_token"])
    a.heartbeat()
    job = _enqueue(s["id"], c.tid, lease=5)[0]
    assert a.claim()["id"] == job
    scheduler()
    assert c.get("/servers/" + s["id"]).data["status"] == "online"
    # two missed heartbeats are not yet offline; three are
    psql("UPDATE servers SET last_seen_at = now() - interval '119 seconds' WHERE id = '%s'" % s["id"],
         user="launcher_owner")
    scheduler()
    assert c.get("/servers/" + s["id"]).data["status"] == "online"
    psql("UPDATE servers SET last_seen_at = now() - interval '181 seconds' WHERE id = '%s'" % s["id"],
         user="launcher_owner")
    scheduler()
    assert c.get("/servers/" + s["id"]).data["status"] == "offline"
    assert a.heartbeat().data["status"] == "online"
    # Lease expiry: re-queued once, then failed with a clear error.
    psql("UPDATE jobs SET lease_expires_at = now() - interval '1 second' WHERE id = '%s'" % job, user="launcher_owner")
    scheduler()
    assert psql("SELECT status, attempts FROM jobs WHERE id = '%s'" % job, user="launcher_owner") == ["queued|1"]
    again = a.claim()
    assert again["id"] == job and again["attempt"] == 2
    psql("UPDATE jobs SET lease_expires_at = now() - interval '1 second' WHERE id = '%s'" % job, user="launcher_owner")
    scheduler()
    row = psql("SELECT status, error FROM jobs WHERE id = '%s'" % job, user="launcher_owner")[0]
    assert row.startswith("failed|") and "lease expired on attempt 2 of 2" in row, row
    # A job past its deadline is never handed out and fails.
    late = _enqueue(s["id"], c.tid)[0]
    psql("UPDATE jobs SET deadline_at = now() - interval '1 second' WHERE id = '%s'" % late, user="launcher_owner")
    assert a.claim() is None
    scheduler()
    assert psql("SELECT status FROM jobs WHERE id = '%s'" % late, user="launcher_owner") == ["failed"]


def test_thousand_jobs_on_four_servers_run_exactly_once():
    c, _ = registered()
    servers = [_server(c) for _ in range(4)]
    for s in servers:
        _enqueue(s["id"], c.tid, n=250)
    done = {s["id"]: [] for s in servers}
    lock = threading.Lock()

    def agent(s):
        a = Agent(c.tenant, s["agent_token"])
        while True:
            job = a.claim()
            if job is None:
                return
            r = a.call("POST", "/jobs/%s/complete" % job["id"], {"status": "succeeded"})
            assert r.status == 200, r
            with lock:
                done[s["id"]].append(job["id"])
    # Two agent processes per server token race for the same queue.
    ts = [threading.Thread(target=agent, args=(s,)) for s in servers for _ in range(2)]
    [t.start() for t in ts]
    [t.join() for t in ts]
    total = sum(len(v) for v in done.values())
    assert total == 1000, total
    for s in servers:
        assert len(done[s["id"]]) == len(set(done[s["id"]])) == 250
        own = set(psql("SELECT id FROM jobs WHERE server_id = '%s'" % s["id"], user="launcher_owner"))
        assert set(done[s["id"]]) == own
    assert psql("SELECT count(*) FROM jobs WHERE tenant_id = '%s' AND (status <> 'succeeded' OR attempts <> 1)" % c.tid,
                user="launcher_owner") == ["0"]


def test_delete_refuses_while_jobs_run_unless_forced():
    c, _ = registered()
    s = _server(c)
    _enqueue(s["id"], c.tid)
    assert_error(c.delete("/servers/" + s["id"]), 409, "CONFLICT")
    assert c.delete("/servers/%s?force=true" % s["id"]).status == 204
