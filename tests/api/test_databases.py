"""Managed databases (API.md §5, sql/023_databases.sql, fcgi/api/databases.c),
everything that needs no engine: CRUD and the image table, bodies naming
their field, the 409s (name clash, delete while referenced, busy), the jobs
and what their claims carry (the password only to the database's own
server), statuses moved by job results and instance reports, logs, the
terminal session, references in the env store, permissions (connection
needs write and is audited without the password), tenant isolation.
The engine side is tests/api/test_databases_e2e.py."""
import json
import uuid

from lib import Client, admin, assert_error, make_key, new_project, new_user, psql, registered
from test_servers import Agent, _server

UUID_RE = r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"


def _owner(sql):
    return psql(sql, user="launcher_owner")


def _world(prefix="db"):
    c, _ = registered(prefix)
    srv = _server(c, name="only")
    p = new_project(c)
    return c, srv, p


def _db(c, p, **body):
    body.setdefault("project_id", p["id"])
    body.setdefault("name", "d" + uuid.uuid4().hex[:8])
    body.setdefault("type", "postgres")
    r = c.post("/databases", body)
    assert r.status == 201, r
    return r.data


def _jobs(db_id, kind=None):
    return _owner("SELECT kind || ' ' || status FROM jobs WHERE payload->>'database_id' = '%s'%s"
                  " ORDER BY created_at, id" % (db_id, " AND kind = '%s'" % kind if kind else ""))


def _claim(agent, kind):
    """Claims jobs until one of kind (others are completed as succeeded)."""
    for _ in range(20):
        job = agent.claim()
        assert job is not None, "no %s job" % kind
        if job["kind"] == kind:
            return job
        _complete(agent, job, "succeeded")
    raise AssertionError("no %s job" % kind)


def _complete(agent, job, status, result=None, error=None):
    body = {"status": status, "result": result or {}}
    if error is not None:
        body["error"] = error
    r = agent.call("POST", "/jobs/%s/complete" % job["id"], body)
    assert r.status == 200, r


def _running(c, srv, d, port=None):
    """Provisions d as its agent would: claim, succeed with a container."""
    ag = Agent(c.tenant, srv["agent_token"])
    job = _claim(ag, "db.provision")
    _complete(ag, job, "succeeded", {"status": "running", "container_id": "ab" * 32,
                                     "public_port": port})
    got = c.get("/databases/" + d["id"]).data
    assert got["status"] == "running", got
    return ag, got


def test_round_trip_through_every_endpoint():
    c, srv, p = _world()
    d = _db(c, p, name="main", memory_limit=256 << 20, cpu_limit=0.5)
    assert (d["name"], d["type"], d["version"], d["status"], d["port"], d["public"],
            d["public_port"], d["pitr_enabled"], d["cpu_limit"], d["memory_limit"]) == \
        ("main", "postgres", "15", "provisioning", 5432, False, None, False, 0.5, 256 << 20), d
    assert d["server_id"] == srv["id"] and d["project_id"] == p["id"], d
    assert d["internal_host"] == "db-main-" + d["id"].replace("-", "")[:8], d
    for k in ("password", "password_sealed", "pending_password_sealed", "db_user"):
        assert k not in d, k
    default = [e for e in c.get("/projects/%s/environments" % p["id"]).data if e["is_default"]][0]
    assert d["environment_id"] == default["id"]
    # The data volume is a volume of the project, on the database's server.
    v = c.get("/volumes/" + d["volume_id"]).data
    assert (v["name"], v["server_id"], v["project_id"]) == ("db-main", srv["id"], p["id"]), v
    r = c.get("/databases/" + d["id"])
    assert r.status == 200 and r.data == d, r
    etag = r.headers["etag"]
    assert [x["id"] for x in c.get("/databases?projectId=" + p["id"]).data] == [d["id"]]
    for q in ("environmentId=" + default["id"], "type=postgres", "status=provisioning"):
        assert [x["id"] for x in c.get("/databases?" + q).data] == [d["id"]], q
    for q in ("environmentId=" + str(uuid.uuid4()), "type=redis", "status=running",
              "projectId=" + str(uuid.uuid4())):
        assert c.get("/databases?" + q).data == [], q
    r = c.put("/databases/" + d["id"], {"memory_limit": 512 << 20, "public": True, "version": "15"},
              headers={"If-Match": etag})
    assert r.status == 200 and (r.data["memory_limit"], r.data["public"]) == (512 << 20, True), r
    assert_error(c.put("/databases/" + d["id"], {"public": False}, headers={"If-Match": etag}),
                 412, "PRECONDITION_FAILED")
    r = c.put("/databases/" + d["id"], {"version": "16"})
    assert_error(r, 400, "BAD_REQUEST", field="version")
    assert "upgrade path" in r.error["details"][0]["message"], r
    assert c.get("/databases/" + d["id"]).data["public"] is True
    # The password is stored sealed: the plaintext is nowhere in the row or its job.
    pw = c.get("/databases/%s/connection" % d["id"]).data["password"]
    row = _owner("SELECT row_to_json(d)::text FROM databases d WHERE id = '%s'" % d["id"])[0]
    jobs = _owner("SELECT payload::text FROM jobs WHERE payload->>'database_id' = '%s'" % d["id"])
    assert pw not in row and all(pw not in j for j in jobs), (row, jobs)
    assert c.delete("/databases/" + d["id"]).status == 204
    assert_error(c.get("/databases/" + d["id"]), 404, "NOT_FOUND")
    # The container goes through the agent; the volume stays unless asked.
    assert _jobs(d["id"]) == ["db.provision cancelled", "db.remove queued"], _jobs(d["id"])
    payload = json.loads(_owner("SELECT payload FROM jobs WHERE kind = 'db.remove'"
                                " AND payload->>'database_id' = '%s'" % d["id"])[0])
    assert payload["delete_data"] is False and payload["volume_id"] == d["volume_id"], payload
    assert c.get("/volumes/" + d["volume_id"]).status == 200


def test_delete_data_removes_the_volume_too():
    c, srv, p = _world()
    d = _db(c, p, name="gone")
    assert_error(c.delete("/databases/%s?delete_data=maybe" % d["id"]), 400, "BAD_REQUEST",
                 field="delete_data")
    assert c.delete("/databases/%s?delete_data=true" % d["id"]).status == 204
    assert_error(c.get("/volumes/" + d["volume_id"]), 404, "NOT_FOUND")
    payload = json.loads(_owner("SELECT payload FROM jobs WHERE kind = 'db.remove'"
                                " AND payload->>'database_id' = '%s'" % d["id"])[0])
    assert payload["delete_data"] is True, payload
    # db.remove first, then the volume's own removal.
    kinds = _owner("SELECT kind FROM jobs WHERE kind IN ('db.remove', 'volume.remove')"
                   " AND (payload->>'database_id' = '%s' OR payload->>'volume_id' = '%s')"
                   " ORDER BY created_at, id" % (d["id"], d["volume_id"]))
    assert kinds == ["db.remove", "volume.remove"], kinds


def test_the_image_table_decides_types_and_versions():
    c, srv, p = _world()
    for t, port, user in (("postgres", 5432, "app"), ("mysql", 3306, "app"),
                          ("redis", 6379, "default"), ("mongodb", 27017, "app")):
        d = _db(c, p, type=t, name="x-" + t)
        assert d["port"] == port, d
        assert c.get("/databases/%s/connection" % d["id"]).data["user"] == user
        job = json.loads(_owner("SELECT payload FROM jobs WHERE kind = 'db.provision'"
                                " AND payload->>'database_id' = '%s'" % d["id"])[0])
        assert job["type"] == t and job["image"] and job["readiness"] and job["env_names"], job
        assert job["network"] == "lnchr-net-" + p["id"], job
        assert job["volume"] == "lnchr-vol-" + d["volume_id"], job
        assert job["internal_host"] == d["internal_host"] and "password" not in job, job
    r = c.post("/databases", {"project_id": p["id"], "name": "nov", "type": "postgres",
                              "version": "9.6"})
    assert_error(r, 400, "BAD_REQUEST", field="version")
    assert "9.6" in r.error["details"][0]["message"] and "15" in r.error["details"][0]["message"]
    assert_error(c.post("/databases", {"project_id": p["id"], "name": "not", "type": "oracle"}),
                 400, "BAD_REQUEST", field="type")
    assert [x["name"] for x in c.get("/databases?projectId=%s&type=redis" % p["id"]).data] == ["x-redis"]


def test_bad_bodies_name_the_field_and_change_nothing():
    c, srv, p = _world()
    other = new_project(c)
    other_env = c.get("/projects/%s/environments" % other["id"]).data[0]
    cases = [
        ({"type": "postgres"}, "name"),
        ({"name": "ok"}, "type"),
        ({"name": "Bad_Name", "type": "postgres"}, "name"),
        ({"name": "x" * 49, "type": "postgres"}, "name"),
        ({"name": "ok", "type": "postgres", "cpu_limit": 0}, "cpu_limit"),
        ({"name": "ok", "type": "postgres", "memory_limit": 1024}, "memory_limit"),
        ({"name": "ok", "type": "postgres", "public": "yes"}, "public"),
        ({"name": "ok", "type": "postgres", "environment_id": other_env["id"]}, "environment_id"),
        ({"name": "ok", "type": "postgres", "server_id": str(uuid.uuid4())}, "server_id"),
        ({"name": "ok", "type": "postgres", "project_id": "nope"}, "project_id"),
    ]
    for body, field in cases:
        body = dict(body)
        body.setdefault("project_id", p["id"])
        assert_error(c.post("/databases", body), 400, "BAD_REQUEST", field=field)
    assert c.get("/databases?projectId=" + p["id"]).data == []
    assert _owner("SELECT count(*) FROM volumes WHERE project_id = '%s'" % p["id"]) == ["0"]
    d = _db(c, p, name="main")
    assert_error(c.put("/databases/" + d["id"], {"cpu_limit": -1}), 400, "BAD_REQUEST", field="cpu_limit")
    assert c.get("/databases/" + d["id"]).data == d


def test_a_name_is_unique_in_its_environment_only():
    c, srv, p = _world()
    envs = {e["name"]: e for e in c.get("/projects/%s/environments" % p["id"]).data}
    d = _db(c, p, name="main")
    r = c.post("/databases", {"project_id": p["id"], "name": "main", "type": "redis"})
    assert_error(r, 409, "CONFLICT")
    assert "main" in r.error["message"], r
    assert len(c.get("/databases?projectId=" + p["id"]).data) == 1
    s = _db(c, p, name="main", environment_id=envs["staging"]["id"])
    assert s["internal_host"] != d["internal_host"]
    # Each has its own volume (the second name carries the id).
    vols = sorted(v["name"] for v in c.get("/volumes?projectId=" + p["id"]).data)
    assert vols == sorted(["db-main", "db-main-" + s["id"][:8]]), vols
    # The environment that holds a database cannot be deleted alone.
    assert_error(c.delete("/projects/%s/environments/%s" % (p["id"], envs["staging"]["id"])),
                 409, "CONFLICT")


def test_jobs_move_the_status_and_the_claim_carries_the_password_to_its_own_server_only():
    c, srv, p = _world()
    srv2 = _server(c, name="second")
    d = _db(c, p, name="main", server_id=srv["id"])
    pw = c.get("/databases/%s/connection" % d["id"]).data["password"]
    assert Agent(c.tenant, srv2["agent_token"]).claim() is None
    ag = Agent(c.tenant, srv["agent_token"])
    job = ag.claim()
    assert job["kind"] == "db.provision" and job["payload"]["password"] == pw, job
    assert "new_password" not in job["payload"]
    _complete(ag, job, "failed", error="image localhost/launcher/postgres:15 not found")
    got = c.get("/databases/" + d["id"]).data
    assert (got["status"], got["status_reason"]) == ("failed", "image localhost/launcher/postgres:15 not found")
    # start from failed: the agent provisions again; succeeded with a public port.
    r = c.post("/databases/%s/start" % d["id"])
    assert r.status == 200 and r.data["pending_action"] == "start", r
    assert_error(c.post("/databases/%s/stop" % d["id"]), 409, "CONFLICT")   # busy
    job = ag.claim()
    assert job["kind"] == "db.start" and job["payload"]["password"] == pw, job
    _complete(ag, job, "succeeded", {"status": "running", "container_id": "cd" * 32, "public_port": 40001})
    got = c.get("/databases/" + d["id"]).data
    assert (got["status"], got["status_reason"], got["pending_action"], got["public_port"]) == \
        ("running", None, None, 40001), got
    assert c.post("/databases/%s/stop" % d["id"]).status == 200
    _complete(ag, _claim(ag, "db.stop"), "succeeded")
    got = c.get("/databases/" + d["id"]).data
    assert (got["status"], got["public_port"]) == ("stopped", None), got
    assert c.post("/databases/%s/restart" % d["id"]).status == 200
    _complete(ag, _claim(ag, "db.restart"), "succeeded", {"status": "running", "container_id": "cd" * 32})
    assert c.get("/databases/" + d["id"]).data["status"] == "running"
    # A lost agent: the lease rules fail the job, the database never stays busy.
    assert c.post("/databases/%s/restart" % d["id"]).status == 200
    _owner("UPDATE jobs SET status = 'failed', error = 'the agent stopped reporting', finished_at = now()"
           " WHERE kind = 'db.restart' AND status = 'queued' AND payload->>'database_id' = '%s'" % d["id"])
    got = c.get("/databases/" + d["id"]).data
    assert (got["status"], got["status_reason"], got["pending_action"]) == \
        ("failed", "the agent stopped reporting", None), got


def test_rotate_password_is_applied_by_the_agent_and_moves_on_success_only():
    c, srv, p = _world()
    d = _db(c, p, name="main")
    old = c.get("/databases/%s/connection" % d["id"]).data["password"]
    assert_error(c.post("/databases/%s/rotate-password" % d["id"]), 409, "CONFLICT")  # provisioning
    ag, _ = _running(c, srv, d)
    r = c.post("/databases/%s/rotate-password" % d["id"])
    assert r.status == 200 and r.data["pending_action"] == "rotate_password", r
    assert_error(c.post("/databases/%s/rotate-password" % d["id"]), 409, "CONFLICT")
    job = _claim(ag, "db.rotate_password")
    new = job["payload"]["new_password"]
    assert job["payload"]["password"] == old and new != old and len(new) == 32, job
    # Until the engine took it, the connection is the old password.
    assert c.get("/databases/%s/connection" % d["id"]).data["password"] == old
    _complete(ag, job, "succeeded")
    assert c.get("/databases/%s/connection" % d["id"]).data["password"] == new
    assert c.get("/databases/" + d["id"]).data["pending_action"] is None
    # A failed rotation keeps the password that works.
    assert c.post("/databases/%s/rotate-password" % d["id"]).status == 200
    _complete(ag, _claim(ag, "db.rotate_password"), "failed", error="ALTER USER refused")
    assert c.get("/databases/%s/connection" % d["id"]).data["password"] == new
    got = c.get("/databases/" + d["id"]).data
    assert got["status"] == "running" and "ALTER USER refused" in got["status_reason"], got
    assert _owner("SELECT pending_password_sealed IS NULL FROM databases WHERE id = '%s'" % d["id"]) == ["t"]


def test_instance_reports_crash_a_database_and_bring_it_back():
    c, srv, p = _world()
    d = _db(c, p, name="main")
    ag, _ = _running(c, srv, d)
    item = {"database_id": d["id"], "container_id": "ab" * 32, "name": "lnchr-db-" + d["id"],
            "state": "exited", "exit_code": 137, "restart_count": 0}
    r = ag.call("POST", "/instances", {"instances": [item]})
    assert r.status == 200, r
    got = c.get("/databases/" + d["id"]).data
    assert got["status"] == "crashed" and "exited" in got["status_reason"] and "137" in got["status_reason"], got
    item.update(state="running", exit_code=None)
    assert ag.call("POST", "/instances", {"instances": [item]}).status == 200
    got = c.get("/databases/" + d["id"]).data
    assert (got["status"], got["status_reason"]) == ("running", None), got
    # A restart the engine made by itself is a crash too.
    item.update(restart_count=1)
    assert ag.call("POST", "/instances", {"instances": [item]}).status == 200
    got = c.get("/databases/" + d["id"]).data
    assert got["status"] == "crashed" and "restarted" in got["status_reason"], got
    # Another server's agent speaks for nothing of it.
    srv2 = _server(c, name="second")
    ag2 = Agent(c.tenant, srv2["agent_token"])
    item.update(restart_count=5, state="exited")
    assert ag2.call("POST", "/instances", {"instances": [item]}).status == 200
    assert "restarted" in c.get("/databases/" + d["id"]).data["status_reason"]


def test_instance_reports_carry_stats_shown_as_instances():
    c, srv, p = _world()
    d = _db(c, p, name="main", memory_limit=256 << 20)
    assert c.get("/databases/%s/instances" % d["id"]).data == []  # no container yet
    assert d["stats"] == {"cpu_percent": None, "memory_bytes": None, "restart_count": 0, "at": None}, d
    ag, _ = _running(c, srv, d)
    item = {"database_id": d["id"], "container_id": "ab" * 32, "name": "lnchr-db-" + d["id"],
            "state": "running", "exit_code": None, "restart_count": 0, "cpu_percent": 3.25,
            "memory_bytes": 30 << 20}
    assert ag.call("POST", "/instances", {"instances": [item]}).status == 200
    got = c.get("/databases/" + d["id"])
    st = got.data["stats"]
    assert (st["cpu_percent"], st["memory_bytes"], st["restart_count"]) == (3.25, 30 << 20, 0), st
    assert st["at"].endswith("Z"), st
    etag = got.headers.get("etag")
    assert etag, got.headers
    inst = c.get("/databases/%s/instances" % d["id"]).data
    assert len(inst) == 1 and inst[0]["container_id"] == "ab" * 32 and inst[0]["status"] == "running" \
        and (inst[0]["cpu_percent"], inst[0]["memory_bytes"]) == (3.25, 30 << 20), inst
    app_keys = {"id", "container_id", "name", "server_id", "deployment_id", "status", "health", "host_port",
                "started_at", "restart_count", "exit_code", "cpu_percent", "memory_bytes", "updated_at"}
    assert set(inst[0]) == app_keys, inst
    # Figures are the agent's: the ETag stays.
    item.update(cpu_percent=None, memory_bytes=None)
    assert ag.call("POST", "/instances", {"instances": [item]}).status == 200
    again = c.get("/databases/" + d["id"])
    assert again.data["stats"]["memory_bytes"] is None and again.data["stats"]["cpu_percent"] is None
    assert again.headers.get("etag") == etag
    # Another server's agent writes none of it.
    ag2 = Agent(c.tenant, _server(c, name="second")["agent_token"])
    assert ag2.call("POST", "/instances", {"instances": [dict(item, memory_bytes=1)]}).status == 200
    assert c.get("/databases/" + d["id"]).data["stats"]["memory_bytes"] is None
    assert c.get("/databases/%s/instances" % str(uuid.uuid4())).status == 404


def test_logs_are_runtime_logs_of_the_database_redacted():
    c, srv, p = _world()
    d = _db(c, p, name="main")
    pw = c.get("/databases/%s/connection" % d["id"]).data["password"]
    ag, _ = _running(c, srv, d)
    entries = [{"database_id": d["id"], "container_id": "ab" * 32, "timestamp": "2026-01-01T00:00:0%dZ" % i,
                "stream": "stderr" if i == 2 else "stdout", "message": m}
               for i, m in enumerate(["ready to accept connections", "auth for app with %s" % pw,
                                      "checkpoint complete"])]
    entries.append(dict(entries[0], database_id=str(uuid.uuid4()), message="not ours"))
    assert ag.call("POST", "/logs", {"entries": entries}).status == 204
    r = c.get("/databases/%s/logs" % d["id"])
    assert r.status == 200 and [x["message"] for x in r.data] == \
        ["ready to accept connections", "auth for app with [redacted]", "checkpoint complete"], r
    assert [x["message"] for x in c.get("/databases/%s/logs?stream=stderr" % d["id"]).data] == \
        ["checkpoint complete"]
    assert [x["message"] for x in c.get("/databases/%s/logs?q=ready&limit=1" % d["id"]).data] == \
        ["ready to accept connections"]
    assert [x["message"] for x in c.get("/databases/%s/logs?since=2026-01-01T00:00:01Z"
                                        "&until=2026-01-01T00:00:02Z" % d["id"]).data] == \
        ["auth for app with [redacted]"]
    assert_error(c.get("/databases/%s/logs?since=yesterday" % d["id"]), 400, "BAD_REQUEST", field="since")
    assert_error(c.get("/databases/%s/logs?stream=both" % d["id"]), 400, "BAD_REQUEST", field="stream")
    assert pw not in json.dumps(_owner("SELECT message FROM runtime_logs WHERE database_id = '%s'" % d["id"]))


def test_terminal_makes_a_session_without_credentials():
    c, srv, p = _world()
    d = _db(c, p, name="main")
    assert_error(c.post("/databases/%s/terminal" % d["id"]), 409, "CONFLICT")   # not running yet
    _running(c, srv, d)
    r = c.post("/databases/%s/terminal" % d["id"])
    assert r.status == 201, r
    sid = r.data["sessionId"]
    assert r.data["url"].endswith("/ws/terminal/" + sid) and r.data["expires_at"].endswith("Z"), r
    row = _owner("SELECT database_id FROM terminal_sessions WHERE id = '%s'" % sid)
    assert row == [d["id"]], row
    # The image table's client; it reads the credentials from env at attach time.
    command = json.loads(_owner("SELECT command FROM terminal_sessions WHERE id = '%s'" % sid)[0])
    assert "psql" in " ".join(command) and "POSTGRES_PASSWORD" in " ".join(command), command
    pw = c.get("/databases/%s/connection" % d["id"]).data["password"]
    assert pw not in _owner("SELECT row_to_json(t)::text FROM terminal_sessions t WHERE id = '%s'" % sid)[0]


def _app(c, p, env_id, env):
    r = c.post("/applications", {"project_id": p["id"], "environment_id": env_id,
                                 "name": "a" + uuid.uuid4().hex[:8], "source_type": "docker_image",
                                 "image_url": "registry.test/w:1", "env": env})
    assert r.status == 201, r
    return r.data


def test_references_resolve_in_the_environment_and_block_the_delete():
    c, srv, p = _world()
    envs = {e["name"]: e for e in c.get("/projects/%s/environments" % p["id"]).data}
    prod, staging = envs["production"]["id"], envs["staging"]["id"]
    d = _db(c, p, name="main")
    cn = c.get("/databases/%s/connection" % d["id"]).data
    assert cn["url"] == "postgres://app:%s@%s:5432/main" % (cn["password"], d["internal_host"]), cn
    env = {"DATABASE_URL": "${db.main.url}", "H": "${db.main.host}", "P": "${db.main.port}",
           "U": "${db.main.user}", "W": "${db.main.password}", "N": "${db.main.name}"}
    r = c.post("/env-vars/preview", {"project_id": p["id"], "environment_id": prod, "env": env})
    assert r.status == 200, r
    assert r.data == {"DATABASE_URL": cn["url"], "H": cn["host"], "P": "5432", "U": "app",
                      "W": cn["password"], "N": "main"}, r
    # Only databases of the same environment are seen.
    r = c.post("/env-vars/preview", {"project_id": p["id"], "environment_id": staging, "env": env})
    assert_error(r, 400, "BAD_REQUEST", field="DATABASE_URL")
    assert "no database named main in this environment" in json.dumps(r.error["details"]), r
    r = c.post("/env-vars/preview", {"project_id": p["id"], "environment_id": prod,
                                     "env": {"X": "${db.main.secret}"}})
    assert_error(r, 400, "BAD_REQUEST", field="X")
    rd = _db(c, p, name="cache", type="redis")
    r = c.post("/env-vars/preview", {"project_id": p["id"], "environment_id": prod,
                                     "env": {"R": "${db.cache.url}"}})
    rp = c.get("/databases/%s/connection" % rd["id"]).data["password"]
    assert r.data["R"] == "redis://:%s@%s:6379/0" % (rp, rd["internal_host"]), r
    # An application of the environment that references it (through ${VAR}
    # too) blocks the delete; one of another environment does not.
    a = _app(c, p, prod, {"MY_DB": "${DB}"})
    c.post("/env-vars", {"project_id": p["id"], "scope": "environment", "scope_id": prod,
                         "key": "DB", "value": "${db.main.url}"})
    _app(c, p, staging, {"X": "${db.main.url}"})
    r = c.delete("/databases/" + d["id"])
    assert_error(r, 409, "CONFLICT")
    assert a["name"] in r.error["message"] and a["id"] in r.error["message"], r
    assert c.get("/databases/" + d["id"]).status == 200
    deps = c.get("/applications/%s/dependencies" % a["id"]).data
    assert deps["databases"] == [{"kind": "db", "name": "main"}], deps
    # The reference gone, the delete goes through.
    env_var = [v for v in c.get("/env-vars?projectId=%s&scope=environment" % p["id"]).data
               if v["key"] == "DB"][0]
    assert c.delete("/env-vars/" + env_var["id"]).status == 204
    assert c.delete("/databases/" + d["id"]).status == 204


def test_permissions_follow_the_project_roles_and_the_connection_is_audited():
    c, srv, p = _world()
    d = _db(c, p, name="main")
    _running(c, srv, d)
    users = {}
    for role in ("viewer", "member", "admin"):
        u = new_user(c)
        assert c.post("/projects/%s/members" % p["id"], {"user_id": u.user_id, "role": role}).status == 201
        users[role] = u
    outsider = new_user(c)
    for role, u in users.items():
        write, deploy = role == "admin", role in ("member", "admin")
        assert u.get("/databases/" + d["id"]).status == 200
        assert [x["id"] for x in u.get("/databases").data] == [d["id"]]
        assert u.get("/databases/%s/connection" % d["id"]).status == (200 if write else 403), role
        assert u.get("/databases/%s/logs" % d["id"]).status == (200 if deploy else 403), role
        assert u.post("/databases/%s/terminal" % d["id"]).status == (201 if write else 403), role
        r = u.post("/databases", {"project_id": p["id"], "name": "by-" + role, "type": "redis"})
        assert r.status == (201 if write else 403), (role, r)
        assert u.put("/databases/" + d["id"], {"public": False}).status == (200 if write else 403)
        if role == "viewer":
            assert_error(u.post("/databases/%s/restart" % d["id"]), 403, "FORBIDDEN")
    r = users["member"].post("/databases/%s/restart" % d["id"])
    assert r.status == 200, r
    assert_error(users["member"].delete("/databases/" + d["id"]), 403, "FORBIDDEN")
    assert_error(users["member"].post("/databases/%s/rotate-password" % d["id"]), 403, "FORBIDDEN")
    for path in ("", "/connection", "/logs"):
        assert_error(outsider.get("/databases/%s%s" % (d["id"], path)), 404, "NOT_FOUND")
    assert outsider.get("/databases").data == []
    read = Client(c.tenant, key=make_key(c, scopes=["read"])["key"])
    assert read.get("/databases/" + d["id"]).status == 200
    assert_error(read.get("/databases/%s/connection" % d["id"]), 403, "FORBIDDEN")
    # Each reveal is recorded: who, which database, which fields; never the password.
    k = make_key(c, scopes=["read", "write"])
    pw = Client(c.tenant, key=k["key"]).get("/databases/%s/connection" % d["id"]).data["password"]
    log = c.get("/audit-log?action=database.reveal").data
    assert len(log) == 2, log      # the admin's and the key's; refusals record nothing
    assert log[-1]["actor_type"] == "service_key" and log[-1]["actor_id"] == k["id"], log
    assert log[-1]["resource_id"] == d["id"] and log[-1]["project_id"] == p["id"], log
    assert "password" in log[-1]["detail"]["fields"], log
    assert pw not in json.dumps(c.get("/audit-log").data)
    actions = {x["action"] for x in c.get("/audit-log").data}
    assert {"database.create", "database.update", "database.restart", "database.terminal"} <= actions


def test_tenants_never_see_each_others_databases():
    a, srv_a, pa = _world("dba")
    b, srv_b, pb = _world("dbb")
    da = _db(a, pa, name="secret")
    for path in ("", "/connection", "/logs"):
        assert_error(b.get("/databases/%s%s" % (da["id"], path)), 404, "NOT_FOUND")
    assert_error(b.put("/databases/" + da["id"], {"public": True}), 404, "NOT_FOUND")
    assert_error(b.delete("/databases/" + da["id"]), 404, "NOT_FOUND")
    assert_error(b.post("/databases/%s/start" % da["id"]), 404, "NOT_FOUND")
    assert b.get("/databases").data == []
    assert_error(b.post("/databases", {"project_id": pa["id"], "name": "x", "type": "redis"}), 404, "NOT_FOUND")
    assert_error(b.post("/databases", {"project_id": pb["id"], "name": "x", "type": "redis",
                                       "server_id": srv_a["id"]}), 400, "BAD_REQUEST", field="server_id")
    # Another tenant's agent claims none of its jobs, reports nothing of it.
    assert Agent(b.tenant, srv_b["agent_token"]).claim() is None
    r = Agent(b.tenant, srv_b["agent_token"]).call("POST", "/instances", {"instances": [
        {"database_id": da["id"], "container_id": "ab" * 32, "state": "exited"}]})
    assert r.status == 200
    # A reference from the other tenant's environment does not see it.
    env_b = b.get("/projects/%s/environments" % pb["id"]).data[0]
    r = b.post("/env-vars/preview", {"project_id": pb["id"], "environment_id": env_b["id"],
                                     "env": {"X": "${db.secret.url}"}})
    assert_error(r, 400, "BAD_REQUEST", field="X")
    assert psql("SELECT count(*) FROM databases WHERE id = '%s'" % da["id"], tenant=a.tid) == ["1"]
    assert psql("SELECT count(*) FROM databases WHERE id = '%s'" % da["id"], tenant=b.tid) == ["0"]
    assert a.get("/databases/" + da["id"]).data["status"] == "provisioning"


def test_deleting_the_project_removes_its_databases_through_jobs():
    c, srv, p = _world()
    d = _db(c, p, name="main")
    assert c.delete("/projects/" + p["id"]).status == 204
    assert _owner("SELECT kind FROM jobs WHERE payload->>'database_id' = '%s' AND kind = 'db.remove'"
                  % d["id"]) == ["db.remove"]
    assert _owner("SELECT count(*) FROM jobs WHERE kind = 'volume.remove' AND payload->>'volume_id' = '%s'"
                  % d["volume_id"]) == ["1"]


def test_the_databases_quota_counts_them():
    c, srv, p = _world()
    admin("quota", "set", c.tenant, "databases", "1")
    d = _db(c, p, name="one")
    r = c.post("/databases", {"project_id": p["id"], "name": "two", "type": "redis"})
    assert_error(r, 403, "FORBIDDEN")
    assert "quota" in r.error["message"], r
    assert [x["id"] for x in c.get("/databases").data] == [d["id"]]
    assert _owner("SELECT count(*) FROM volumes WHERE project_id = '%s'" % p["id"]) == ["1"]
    assert c.delete("/databases/" + d["id"]).status == 204
    assert c.post("/databases", {"project_id": p["id"], "name": "two", "type": "redis"}).status == 201


def test_a_release_with_a_database_url_has_its_password_redacted_alone_in_runtime_logs():
    c, srv, p = _world()
    prod = [e for e in c.get("/projects/%s/environments" % p["id"]).data if e["is_default"]][0]["id"]
    d = _db(c, p, name="main")
    pw = c.get("/databases/%s/connection" % d["id"]).data["password"]
    a = _app(c, p, prod, {"DATABASE_URL": "${db.main.url}"})
    r = c.post("/applications/%s/deploy" % a["id"], {})
    assert r.status == 201, r
    ag = Agent(c.tenant, srv["agent_token"])
    lines = ["connecting to %s" % c.get("/databases/%s/connection" % d["id"]).data["url"],
             "password was %s" % pw]
    entries = [{"app_id": a["id"], "deployment_id": r.data["id"], "container_id": "ef" * 32,
                "timestamp": "2026-01-01T00:00:0%dZ" % i, "stream": "stdout", "message": m}
               for i, m in enumerate(lines)]
    assert ag.call("POST", "/logs", {"entries": entries}).status == 204
    got = [x["message"] for x in c.get("/applications/%s/runtime-logs" % a["id"]).data]
    assert len(got) == 2 and all(pw not in m for m in got), got
    assert got[1] == "password was [redacted]", got


def test_a_server_that_holds_a_database_cannot_be_deleted():
    c, srv, p = _world()
    d = _db(c, p, name="main")
    assert_error(c.delete("/servers/" + srv["id"]), 409, "CONFLICT")      # its queued job
    r = c.delete("/servers/%s?force=true" % srv["id"])
    assert_error(r, 409, "CONFLICT")
    assert "databases" in r.error["message"], r
    assert c.get("/servers/" + srv["id"]).status == 200
    assert c.delete("/databases/%s?delete_data=true" % d["id"]).status == 204
