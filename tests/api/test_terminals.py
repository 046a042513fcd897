"""Terminal sessions on the plane (API.md §22, README "Terminals"): POST
/applications|servers/:id/terminal (databases' in test_databases.py), the
instance chosen, who may open which, the per-tenant limit (429 with
Retry-After, nothing stored), the terminal.open job and what its claim
hands the agent (a database's password only in env, only to its own
server).  The sockets themselves are tests/api/test_terminals_e2e.py."""
import json
import uuid

from lib import Client, assert_error, make_key, new_project, new_user, psql, registered
from test_databases import _db, _owner, _running
from test_servers import Agent, _server

LIMIT = 10      # terminal_sessions_max's default (the test stack keeps it)


def _world(prefix="term"):
    c, _ = registered(prefix)
    srv = _server(c, name="only")
    p = new_project(c)
    return c, srv, p


def _app(c, p, instances=("lnchr-a-1",)):
    """An application with running instances (as an agent's report leaves them)."""
    r = c.post("/applications", {"project_id": p["id"], "name": "a" + uuid.uuid4().hex[:8],
                                 "source_type": "docker_image", "image_url": "registry.test/w:1",
                                 "exposed_port": 8080})
    assert r.status == 201, r
    a = r.data
    for i, name in enumerate(instances):
        _owner("INSERT INTO instances (tenant_id, server_id, application_id, container_id, name,"
               " status, created_at) SELECT tenant_id, server_id, id, '%s', '%s', 'running',"
               " now() + make_interval(secs => %d) FROM applications WHERE id = '%s'"
               % (("%x" % (i + 10)) * 64, name, i, a["id"]))
    return a


def _session(sid):
    return json.loads(_owner("SELECT row_to_json(t)::text FROM terminal_sessions t WHERE id = '%s'"
                             % sid)[0])


def _jobs(sid):
    return _owner("SELECT kind || ' ' || status FROM jobs WHERE payload->>'session_id' = '%s'" % sid)


def test_an_application_terminal_picks_a_running_instance_and_queues_its_job():
    c, srv, p = _world()
    a = _app(c, p, instances=("lnchr-x-1", "lnchr-x-2"))
    r = c.post("/applications/%s/terminal" % a["id"])
    assert r.status == 201, r
    sid = r.data["sessionId"]
    assert r.data["url"] == "/%s/ws/terminal/%s" % (c.tenant, sid), r
    assert r.data["expires_at"].endswith("Z"), r
    s = _session(sid)
    assert (s["target"], s["application_id"], s["server_id"], s["project_id"]) == \
        ("application", a["id"], srv["id"], p["id"]), s
    assert s["container_id"] == "a" * 64 and s["instance_name"] == "lnchr-x-1", s    # the first
    assert s["command"] == ["/bin/sh"] and s["attached_at"] is None and s["ended_at"] is None, s
    assert _jobs(sid) == ["terminal.open queued"], _jobs(sid)
    # ?instance= by name, by id, by container id prefix.
    inst = c.get("/applications/%s/instances" % a["id"]).data
    for ref in ("lnchr-x-2", inst[1]["id"], "b" * 16):
        r = c.post("/applications/%s/terminal?instance=%s" % (a["id"], ref))
        assert r.status == 201, (ref, r)
        assert _session(r.data["sessionId"])["container_id"] == "b" * 64, ref
    assert_error(c.post("/applications/%s/terminal?instance=nope" % a["id"]), 400, "BAD_REQUEST",
                 field="instance")
    # Audited at creation (and again when a client attaches, by launcher-ws).
    assert "application.terminal" in {x["action"] for x in c.every("/audit-log")}


def test_the_claim_hands_the_agent_what_to_run_and_nothing_else_stored():
    c, srv, p = _world()
    a = _app(c, p)
    sid = c.post("/applications/%s/terminal" % a["id"]).data["sessionId"]
    stored = json.loads(_owner("SELECT payload::text FROM jobs WHERE payload->>'session_id' = '%s'"
                               % sid)[0])
    assert stored == {"session_id": sid}, stored
    job = Agent(c.tenant, srv["agent_token"]).claim()
    assert job["kind"] == "terminal.open", job
    pl = job["payload"]
    assert (pl["session_id"], pl["target"], pl["container_id"], pl["command"]) == \
        (sid, "application", "a" * 64, ["/bin/sh"]), pl
    assert "env" not in pl and pl.get("password_env") is None, pl


def test_a_database_terminal_gets_the_current_password_in_env_only_on_its_server():
    c, srv, p = _world()
    d = _db(c, p, name="main")
    ag, _ = _running(c, srv, d)
    pw = c.get("/databases/%s/connection" % d["id"]).data["password"]
    r = c.post("/databases/%s/terminal" % d["id"])
    assert r.status == 201, r
    sid = r.data["sessionId"]
    s = _session(sid)
    assert (s["target"], s["database_id"], s["container_id"], s["password_env"]) == \
        ("database", d["id"], "ab" * 32, "POSTGRES_PASSWORD"), s
    assert pw not in json.dumps(s)
    # Another server's agent never sees the job.
    other = _server(c, name="other")
    assert Agent(c.tenant, other["agent_token"]).claim() is None
    job = ag.claim()
    assert job["kind"] == "terminal.open", job
    pl = job["payload"]
    assert pl["env"] == ["POSTGRES_PASSWORD=" + pw], pl
    assert "password" not in pl and pw not in json.dumps(pl["command"]), pl
    for row in _owner("SELECT payload::text || coalesce(result::text, '') FROM jobs"
                      " WHERE payload->>'session_id' = '%s'" % sid):
        assert pw not in row, row


def test_who_may_open_which_terminal():
    c, srv, p = _world()
    a = _app(c, p)
    users = {}
    for role in ("viewer", "member", "admin"):
        u = new_user(c)
        assert c.post("/projects/%s/members" % p["id"], {"user_id": u.user_id, "role": role}).status == 201
        users[role] = u
    # Write on the project, as exec (a shell reads the env).
    for role, u in users.items():
        r = u.post("/applications/%s/terminal" % a["id"])
        assert r.status == (201 if role == "admin" else 403), (role, r)
    outsider = new_user(c)
    assert_error(outsider.post("/applications/%s/terminal" % a["id"]), 404, "NOT_FOUND")
    deploy = Client(c.tenant, key=make_key(c, scopes=["read", "deploy"])["key"])
    assert_error(deploy.post("/applications/%s/terminal" % a["id"]), 403, "FORBIDDEN")
    # The host's shell: superadmins only, and keys with the admin scope.
    r = c.post("/servers/%s/terminal" % srv["id"])
    assert r.status == 201, r
    s = _session(r.data["sessionId"])
    assert (s["target"], s["server_id"], s["project_id"], s["command"]) == \
        ("server", srv["id"], None, ["/bin/sh", "-l"]), s
    tenant_admin = new_user(c, role="admin")
    assert_error(tenant_admin.post("/servers/%s/terminal" % srv["id"]), 403, "FORBIDDEN")
    assert_error(users["admin"].post("/servers/%s/terminal" % srv["id"]), 403, "FORBIDDEN")
    write = Client(c.tenant, key=make_key(c, scopes=["read", "write"])["key"])
    assert_error(write.post("/servers/%s/terminal" % srv["id"]), 403, "FORBIDDEN")
    admin_key = Client(c.tenant, key=make_key(c, scopes=["read", "write", "admin"])["key"])
    assert admin_key.post("/servers/%s/terminal" % srv["id"]).status == 201
    assert_error(c.post("/servers/%s/terminal" % uuid.uuid4()), 404, "NOT_FOUND")
    # Another tenant sees none of them.
    other, _ = registered("term-other")
    assert_error(other.post("/applications/%s/terminal" % a["id"]), 404, "NOT_FOUND")
    assert_error(other.post("/servers/%s/terminal" % srv["id"]), 404, "NOT_FOUND")


def test_no_running_instance_is_409():
    c, srv, p = _world()
    a = _app(c, p, instances=())
    assert_error(c.post("/applications/%s/terminal" % a["id"]), 409, "CONFLICT")
    assert _owner("SELECT count(*) FROM terminal_sessions WHERE application_id = '%s'" % a["id"]) == ["0"]


def test_the_tenant_limit_counts_open_and_pending_sessions():
    c, srv, p = _world()
    a = _app(c, p)
    sids = []
    for _ in range(LIMIT):
        r = c.post("/applications/%s/terminal" % a["id"])
        assert r.status == 201, r
        sids.append(r.data["sessionId"])
    r = c.post("/applications/%s/terminal" % a["id"])
    assert_error(r, 429, "TOO_MANY_REQUESTS")
    assert r.headers.get("retry-after") == "60", r.headers
    assert "terminal_sessions_max" in r.error["message"], r
    assert _owner("SELECT count(*) FROM terminal_sessions WHERE application_id = '%s'" % a["id"]) \
        == [str(LIMIT)]
    assert _owner("SELECT count(*) FROM jobs WHERE kind = 'terminal.open' AND server_id = '%s'"
                  % srv["id"]) == [str(LIMIT)]
    # Another tenant has its own count.
    c2, srv2, p2 = _world("term-b")
    assert c2.post("/applications/%s/terminal" % _app(c2, p2)["id"]).status == 201
    # An expired, never attached one frees its slot; so does one that ended;
    # an attached one counts while launcher-ws sees it, not after.
    _owner("UPDATE terminal_sessions SET expires_at = now() - interval '1 second'"
           " WHERE id = '%s'" % sids[0])
    assert c.post("/applications/%s/terminal" % a["id"]).status == 201
    assert_error(c.post("/applications/%s/terminal" % a["id"]), 429, "TOO_MANY_REQUESTS")
    _owner("UPDATE terminal_sessions SET attached_at = now(), ended_at = now() WHERE id = '%s'"
           % sids[1])
    assert c.post("/applications/%s/terminal" % a["id"]).status == 201
    _owner("UPDATE terminal_sessions SET attached_at = now() - interval '10 minutes',"
           " seen_at = now() - interval '4 minutes', expires_at = now() - interval '9 minutes'"
           " WHERE id = '%s'" % sids[2])
    assert c.post("/applications/%s/terminal" % a["id"]).status == 201
    _owner("UPDATE terminal_sessions SET attached_at = now() - interval '10 minutes',"
           " seen_at = now() - interval '1 minute', expires_at = now() - interval '9 minutes'"
           " WHERE id = '%s'" % sids[3])
    assert_error(c.post("/applications/%s/terminal" % a["id"]), 429, "TOO_MANY_REQUESTS")


def test_the_end_is_recorded_once_with_its_duration_and_audited():
    """What launcher-ws calls (sql/031), as the API role with no tenant set."""
    c, srv, p = _world()
    a = _app(c, p)
    sid = c.post("/applications/%s/terminal" % a["id"]).data["sessionId"]
    tid = c.tid
    me = c.get("/auth/me").data["id"]
    assert psql("SELECT ws_terminal_attach('%s', '%s', 'user', '%s', '%s', '203.0.113.9')"
                  % (tid, sid, me, me)) == ["t"]
    # Single use: a second attach is refused.
    assert psql("SELECT ws_terminal_attach('%s', '%s', 'user', '%s', '%s', NULL)"
                  % (tid, sid, me, me)) == ["f"]
    # Only the session's own server's agent.
    other = _server(c, name="other")
    assert psql("SELECT ws_terminal_agent('%s', '%s', '%s')" % (tid, sid, other["id"])) == ["f"]
    assert psql("SELECT ws_terminal_agent('%s', '%s', '%s')" % (tid, sid, srv["id"])) == ["t"]
    assert psql("SELECT ws_terminal_agent('%s', '%s', '%s')" % (tid, sid, srv["id"])) == ["f"]
    psql("SELECT ws_terminal_end('%s', '%s', 3)" % (tid, sid))
    psql("SELECT ws_terminal_end('%s', '%s', 0)" % (tid, sid))
    s = _session(sid)
    assert s["exit_code"] == 3 and s["ended_at"] and s["started_at"] and s["duration_ms"] >= 0, s
    log = sorted((x for x in c.every("/audit-log") if x["resource_id"] == sid),
                 key=lambda x: x["created_at"])
    assert [x["action"] for x in log] == ["terminal.attach", "terminal.end"], log
    assert all(x["actor_id"] == me and x["project_id"] == p["id"] for x in log), log
    assert log[0]["ip"] == "203.0.113.9", log
