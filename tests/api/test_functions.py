"""Functions (API.md §7, sql/054_functions.sql): CRUD, bodies (400 naming the
field), permissions, tenant isolation, the jobs deploy and invoke queue,
the invocation record from the shim's log lines, the `fn` reference, and
cron: launcher-scheduler fires one invocation per (function, minute), and a
window missed while the plane was down runs once (replayed ticks with
`launcher-scheduler --at`).  No agent here: the jobs stay queued;
test_functions_e2e.py runs them."""
import datetime
import os
import subprocess
import uuid

from lib import BIN, CONF, Client, assert_error, make_key, new_project, new_user, psql, registered
from test_servers import Agent, _server

CODE = "exports.handler = async (event) => ({status: 200, body: 'hi'});\n"


def _world(prefix="fn"):
    c, _ = registered(prefix)
    srv = _server(c, name="only")
    p = new_project(c)
    return c, srv, p


def _fn(c, p, **body):
    body.setdefault("project_id", p["id"])
    body.setdefault("name", "f" + uuid.uuid4().hex[:8])
    body.setdefault("runtime", "node20")
    body.setdefault("source", {"code": CODE})
    r = c.post("/functions", body)
    assert r.status == 201, r
    return r.data


def _jobs(fid, kind):
    return psql("SELECT payload::text FROM jobs WHERE kind = '%s' AND payload->>'function_id' = '%s'"
                " ORDER BY created_at" % (kind, fid), user="launcher_owner")


def _tick(at=None):
    args = [os.path.join(BIN, "launcher-scheduler"), "-c", CONF]
    args += ["--at", at] if at else ["--once"]
    out = subprocess.run(args, capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    return out.stderr


def test_round_trip_through_every_endpoint():
    c, srv, p = _world()
    f = _fn(c, p, name="hello", handler="index.handler", env={"GREETING": "hi"},
            triggers=[{"type": "http", "methods": ["GET", "POST"]}])
    assert f["server_id"] == srv["id"]
    assert (f["name"], f["runtime"], f["handler"], f["timeout_seconds"], f["memory_limit"],
            f["status"], f["env_set"], f["idle_timeout_seconds"]) == \
        ("hello", "node20", "index.handler", 30, 128 << 20, "created", True, None), f
    assert f["url"] == "http://hello-%s.localhost" % p["name"].lower(), f
    assert "GREETING" not in str(f) and "env_sealed" not in f, f
    r = c.get("/functions/" + f["id"])
    assert r.status == 200 and r.data == f, r
    etag = r.headers["etag"]
    lst = c.get("/functions?projectId=" + p["id"])
    assert [x["id"] for x in lst.data] == [f["id"]] and lst.json["meta"]["next_cursor"] is None, lst
    r = c.put("/functions/" + f["id"], {"timeout_seconds": 5, "env": None, "triggers": []},
              headers={"If-Match": etag})
    assert r.status == 200 and (r.data["timeout_seconds"], r.data["env_set"], r.data["url"]) == \
        (5, False, None), r
    assert_error(c.put("/functions/" + f["id"], {"timeout_seconds": 6}, headers={"If-Match": etag}),
                 412, "PRECONDITION_FAILED")
    # invoke before any deploy: 409, nothing queued.
    assert_error(c.post("/functions/%s/invoke" % f["id"], {"payload": {}}), 409, "CONFLICT")
    r = c.post("/functions/%s/deploy" % f["id"])
    assert r.status == 202 and r.data["job"]["kind"] == "fn.deploy", r
    assert c.get("/functions/" + f["id"]).data["status"] == "deploying"
    # The job carries the code and the limits, never the env.
    job = _jobs(f["id"], "fn.deploy")
    assert len(job) == 1 and "exports.handler" in job[0] and '"timeout_seconds": 5' in job[0], job
    assert_error(c.post("/functions/%s/invoke?wait=x" % f["id"], {}), 400, "BAD_REQUEST", field="wait")
    # The cap is JOB_WAIT_MAX_SECONDS (960) and the message says so.
    r = c.post("/functions/%s/invoke?wait=961" % f["id"], {})
    assert_error(r, 400, "BAD_REQUEST", field="wait")
    assert "0 to 960" in str(r.error["details"]), r
    # No agent runs here: ?wait=0 answers 202 with the job at once.
    r = c.post("/functions/%s/invoke?wait=0" % f["id"], {"payload": {"x": 1}})
    assert r.status == 202 and r.data["job"]["kind"] == "fn.invoke", r
    inv = c.get("/functions/%s/invocations" % f["id"])
    assert [(i["trigger"], i["status"]) for i in inv.data] == [("invoke", "queued")], inv
    assert '"payload": {"x": 1}' in _jobs(f["id"], "fn.invoke")[0]
    assert c.get("/functions/%s/logs" % f["id"]).data == []
    assert c.delete("/functions/" + f["id"]).status == 204
    assert_error(c.get("/functions/" + f["id"]), 404, "NOT_FOUND")
    assert len(_jobs(f["id"], "fn.remove")) == 1
    # The queued invoke was cancelled with it.
    assert psql("SELECT status FROM jobs WHERE kind = 'fn.invoke' AND payload->>'function_id' = '%s'"
                % f["id"], user="launcher_owner") == ["cancelled"]


def test_bad_bodies_name_the_field_and_change_nothing():
    c, srv, p = _world()
    _fn(c, p, name="taken")
    ok = {"project_id": p["id"], "name": "ok", "runtime": "node20", "source": {"code": CODE}}
    cases = [
        ({"runtime": "ruby"}, "runtime"),
        ({"runtime": None}, "runtime"),
        ({"name": "Bad_Name"}, "name"),
        ({"handler": "index"}, "handler"),
        ({"handler": "../x.handler"}, "handler"),
        ({"handler": "index.1x"}, "handler"),
        ({"source": {}}, "source"),
        ({"source": {"code": CODE, "files": {"a.js": "x"}}}, "source"),
        ({"source": {"files": {"../a.js": "x"}}}, "source.files.../a.js"),
        ({"source": {"type": "git"}}, "source.repository_url"),
        ({"source": {"type": "git", "repository_url": "file:///etc"}}, "source.repository_url"),
        ({"triggers": [{"type": "queue"}]}, "triggers[0].type"),
        ({"triggers": [{"type": "cron"}]}, "triggers[0].schedule"),
        ({"triggers": [{"type": "cron", "schedule": "* * *"}]}, "triggers[0].schedule"),
        ({"triggers": [{"type": "cron", "schedule": "61 * * * *"}]}, "triggers[0].schedule"),
        ({"triggers": [{"type": "cron", "schedule": "* * * * *", "timezone": "Mars/Base"}]},
         "triggers[0].timezone"),
        ({"triggers": [{"type": "http", "methods": ["FETCH"]}]}, "triggers[0].methods"),
        ({"triggers": [{"type": "http"}, {"type": "http"}]}, "triggers[1]"),
        ({"timeout_seconds": 0}, "timeout_seconds"),
        ({"timeout_seconds": 901}, "timeout_seconds"),
        ({"memory_limit": 1024}, "memory_limit"),
        ({"env": {"1BAD": "x"}}, "env.1BAD"),
        ({"environment_id": str(uuid.uuid4())}, "environment_id"),
    ]
    for patch, field in cases:
        body = dict(ok, **patch)
        assert_error(c.post("/functions", body), 400, "BAD_REQUEST", field=field)
    for missing in ("name", "runtime", "source"):
        body = dict(ok)
        del body[missing]
        assert_error(c.post("/functions", body), 400, "BAD_REQUEST", field=missing)
    assert_error(c.post("/functions", dict(ok, name="taken")), 409, "CONFLICT")
    assert [x["name"] for x in c.get("/functions").data] == ["taken"]
    f = c.get("/functions").data[0]
    assert_error(c.put("/functions/" + f["id"], {"triggers": [{"type": "cron", "schedule": "x"}]}),
                 400, "BAD_REQUEST", field="triggers[0].schedule")
    assert c.get("/functions/" + f["id"]).data["triggers"] == []
    # A good cron trigger with its zone is kept as given.
    t = [{"type": "cron", "schedule": "*/5 * * * *", "timezone": "Europe/Paris"}]
    assert c.put("/functions/" + f["id"], {"triggers": t}).data["triggers"] == t


def test_permissions_follow_the_project_roles_and_key_scopes():
    c, srv, p = _world()
    f = _fn(c, p)
    users = {}
    for role in ("viewer", "member", "admin"):
        u = new_user(c)
        assert c.post("/projects/%s/members" % p["id"], {"user_id": u.user_id, "role": role}).status == 201
        users[role] = u
    for role, u in users.items():
        can_write = role == "admin"
        assert u.get("/functions/" + f["id"]).status == 200
        assert u.get("/functions/%s/invocations" % f["id"]).status == 200
        r = u.post("/functions", {"project_id": p["id"], "name": "by-" + role, "runtime": "python3",
                                  "source": {"code": "def handler(e):\n    return 1\n"}})
        assert r.status == (201 if can_write else 403), (role, r)
        r = u.put("/functions/" + f["id"], {"timeout_seconds": 9})
        assert r.status == (200 if can_write else 403), (role, r)
        r = u.post("/functions/%s/deploy" % f["id"])
        assert r.status == (403 if role == "viewer" else 202), (role, r)
    outsider = new_user(c)
    assert_error(outsider.get("/functions/" + f["id"]), 404, "NOT_FOUND")
    assert outsider.get("/functions").data == []
    assert_error(outsider.post("/functions/%s/invoke" % f["id"], {}), 404, "NOT_FOUND")
    read = Client(c.tenant, key=make_key(c, scopes=["read"])["key"])
    assert read.get("/functions/" + f["id"]).status == 200
    assert_error(read.post("/functions/%s/deploy" % f["id"]), 403, "FORBIDDEN")
    assert_error(read.delete("/functions/" + f["id"]), 403, "FORBIDDEN")
    other = new_project(c)
    bound = Client(c.tenant, key=make_key(c, scopes=["read", "write"], project_id=other["id"])["key"])
    assert_error(bound.get("/functions/" + f["id"]), 404, "NOT_FOUND")
    assert bound.get("/functions").data == []


def test_tenants_never_see_each_others_functions():
    a, srv_a, pa = _world("fna")
    b, srv_b, pb = _world("fnb")
    fa = _fn(a, pa, name="secret")
    for method, path in (("GET", ""), ("PUT", ""), ("DELETE", ""), ("POST", "/deploy"),
                         ("POST", "/invoke"), ("GET", "/invocations"), ("GET", "/logs")):
        r = b.call(method, "/functions/" + fa["id"] + path, {} if method != "GET" else None)
        assert_error(r, 404, "NOT_FOUND")
    assert b.get("/functions").data == []
    assert_error(b.post("/functions", {"project_id": pa["id"], "name": "x", "runtime": "node20",
                                       "source": {"code": CODE}}), 404, "NOT_FOUND")
    assert psql("SELECT count(*) FROM functions WHERE id = '%s'" % fa["id"], tenant=a.tid) == ["1"]
    assert psql("SELECT count(*) FROM functions WHERE id = '%s'" % fa["id"], tenant=b.tid) == ["0"]
    assert psql("SELECT count(*) FROM function_invocations", tenant=b.tid) == ["0"]


def test_the_shims_log_lines_record_http_invocations():
    """The agent ships a function container's lines like an application's;
    each `LAUNCHER-INVOCATION {json}` line is one invocation (contract test:
    the lines are the shim's format, posted as the agent does)."""
    c, srv, p = _world()
    f = _fn(c, p, triggers=[{"type": "http"}])
    ag = Agent(c.tenant, srv["agent_token"])
    iid = str(uuid.uuid4())
    line = ('LAUNCHER-INVOCATION {"id": "%s", "trigger": "http", "status": "timeout", "http_status": 504,'
            ' "duration_ms": 1003, "started_at": "2026-01-02T03:04:05Z", "error": "timed out after 1 s"}' % iid)
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    lines = [{"function_id": f["id"], "container_id": "c" * 64, "timestamp": now, "stream": "stdout",
              "message": m} for m in ("hello from the handler", line, line, "LAUNCHER-INVOCATION {bad")]
    r = ag.call("POST", "/logs", {"entries": lines})
    assert r.status == 204, r
    inv = c.get("/functions/%s/invocations" % f["id"]).data
    assert [(i["id"], i["trigger"], i["status"], i["http_status"], i["duration_ms"], i["error"])
            for i in inv] == [(iid, "http", "timeout", 504, 1003, "timed out after 1 s")], inv
    logs = c.get("/functions/%s/logs" % f["id"]).data
    assert [x["message"] for x in logs][:1] == ["hello from the handler"] and len(logs) == 4, logs


SECRET = "s3cr3t-" + uuid.uuid4().hex


def test_runtime_lines_are_redacted_of_the_functions_env():
    """Contract test (plays the agent): a function's lines carry its fn.deploy
    job id, no release; the values of the env its deploy resolved are
    redacted all the same."""
    c, srv, p = _world()
    f = _fn(c, p, env={"TOKEN": SECRET})
    assert c.post("/functions/%s/deploy" % f["id"]).status == 202
    ag = Agent(c.tenant, srv["agent_token"])
    job = str(uuid.uuid4())
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    lines = [{"app_id": f["id"], "deployment_id": job, "container_id": "c" * 64, "timestamp": now,
              "stream": "stdout", "message": "token is " + SECRET}]
    r = ag.call("POST", "/logs", {"entries": lines})
    assert r.status == 204, r
    logs = [x["message"] for x in c.get("/functions/%s/logs" % f["id"]).data]
    assert len(logs) == 1 and SECRET not in logs[0] and logs[0].startswith("token is "), logs
    assert psql("SELECT count(*) FROM runtime_logs WHERE message LIKE '%%%s%%'" % SECRET,
                user="launcher_owner") == ["0"]


def test_only_a_deploy_claim_carries_the_env():
    """Contract test (plays the agent): fn.deploy's claim opens the env,
    fn.invoke's does not."""
    c, srv, p = _world()
    f = _fn(c, p, env={"TOKEN": SECRET})
    ag = Agent(c.tenant, srv["agent_token"])
    assert c.post("/functions/%s/deploy" % f["id"]).status == 202
    job = ag.claim()
    assert job["kind"] == "fn.deploy" and job["payload"]["env"] == {"TOKEN": SECRET}, job
    assert job["payload"].get("base_image"), job
    r = ag.call("POST", "/jobs/%s/complete" % job["id"], {"status": "succeeded", "result": {}})
    assert r.status == 200, r
    assert c.post("/functions/%s/invoke?wait=0" % f["id"], {"payload": {}}).status == 202
    job = ag.claim()
    assert job["kind"] == "fn.invoke" and "env" not in job["payload"], job
    assert SECRET not in str(job), job


def test_fn_reference_resolves_to_the_function_url():
    c, srv, p = _world()
    envs = {e["name"]: e["id"] for e in c.get("/projects/%s/environments" % p["id"]).data}
    _fn(c, p, name="api", triggers=[{"type": "http"}])
    r = c.post("/env-vars/preview", {"project_id": p["id"], "environment_id": envs["production"],
                                     "env": {"FN": "${fn.api.url}/x"}})
    assert r.status == 200 and r.data == {"FN": "http://api-%s.localhost/x" % p["name"].lower()}, r
    r = c.post("/env-vars/preview", {"project_id": p["id"], "environment_id": envs["production"],
                                     "env": {"NONE": "${fn.nope.url}"}})
    assert_error(r, 400, "BAD_REQUEST", field="NONE")
    assert "no function named nope in this environment" in str(r.error["details"]), r
    # Only functions of the same environment are seen.
    r = c.post("/env-vars/preview", {"project_id": p["id"], "environment_id": envs["staging"],
                                     "env": {"FN": "${fn.api.url}"}})
    assert_error(r, 400, "BAD_REQUEST", field="FN")


def _minute(t):
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def test_cron_fires_once_per_minute_and_a_missed_window_once():
    """Five simulated minutes, replayed with `launcher-scheduler --at`: ticks
    at minutes 1, 2, 3 (each twice: still one run), none at 4 (the plane is
    down), one at 5 (the missed window runs once, at its latest minute), then
    one real tick at real now."""
    c, srv, p = _world()
    f = _fn(c, p, triggers=[{"type": "cron", "schedule": "* * * * *", "timezone": "Europe/Paris"}])
    idle = _fn(c, p, triggers=[{"type": "cron", "schedule": "* * * * *"}])  # never deployed
    assert c.post("/functions/%s/deploy" % f["id"]).status == 202
    now = datetime.datetime.now(datetime.timezone.utc).replace(second=0, microsecond=0)
    base = now - datetime.timedelta(minutes=20)
    mins = [base + datetime.timedelta(minutes=k) for k in range(6)]
    for k in (1, 2, 3):
        for _ in range(2):
            _tick(_minute(mins[k] + datetime.timedelta(seconds=7)))
    _tick(_minute(mins[5] + datetime.timedelta(seconds=30)))
    rows = psql("SELECT to_char(scheduled_for AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"
                " FROM function_invocations WHERE function_id = '%s' ORDER BY scheduled_for" % f["id"],
                user="launcher_owner")
    assert rows == [_minute(mins[k]) for k in (1, 2, 3, 5)], rows
    _tick()
    rows = psql("SELECT scheduled_for >= date_trunc('minute', now()) - interval '1 minute'"
                " FROM function_invocations WHERE function_id = '%s' ORDER BY scheduled_for" % f["id"],
                user="launcher_owner")
    assert rows == ["f", "f", "f", "f", "t"], rows
    inv = c.get("/functions/%s/invocations" % f["id"]).data
    assert {(i["trigger"], i["status"]) for i in inv} == {("cron", "queued")} and len(inv) == 5, inv
    assert len(_jobs(f["id"], "fn.invoke")) == 5
    # A function never deployed has no cron runs.
    assert _jobs(idle["id"], "fn.invoke") == []
