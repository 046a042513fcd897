"""Applications and deployments on the plane (API.md §4, §11): validation,
defaults, env sealing, the deployment queue and its database guarantees,
and the job contract, with this test speaking the agent API itself (the
real agent and real containers are in test_deploy_e2e.py)."""
import threading
import uuid

from lib import Client, assert_error, make_key, new_project, new_user, psql, registered
from test_servers import Agent, _server


def _sql(sql):
    return "\n".join(psql(sql, user="launcher_owner"))


def _setup(**server):
    c, _ = registered("app")
    s = _server(c, base_domain="apps.test", **server)
    p = new_project(c)
    return c, s, p


def _app(c, p, **body):
    body.setdefault("name", "a-" + uuid.uuid4().hex[:8])
    body.setdefault("project_id", p["id"])
    body.setdefault("source_type", "docker_image")
    if body["source_type"] == "docker_image":
        body.setdefault("image_url", "registry.test/web:v1")
    body.setdefault("exposed_port", 8080)
    r = c.post("/applications", body)
    assert r.status == 201, r
    return r.data


def _finish(agent, job, status="succeeded", **result):
    r = agent.call("POST", "/jobs/%s/complete" % job["id"], {"status": status, "result": result,
                                                           **({"error": "boom"} if status == "failed" else {})})
    assert r.status == 200, r


def test_create_applies_defaults_placement_and_hostname():
    c, s, p = _setup()
    a = _app(c, p, name="web", healthcheck_path="/health")
    prod = [e for e in p["environments"] if e["is_default"]][0]
    assert a["server_id"] == s["id"] and a["environment_id"] == prod["id"], a
    assert a["replicas"] == 1 and a["branch"] == "main" and a["dockerfile_path"] == "Dockerfile"
    assert a["build_context"] == "." and a["restart_policy"] == "always" and a["app_type"] == "web"
    assert a["status"] == "created" and a["current_deployment_id"] is None
    assert a["hostname"] == "web-%s.apps.test" % p["name"], a
    assert a["default_url"] == "http://web-%s.apps.test" % p["name"]
    assert "env_sealed" not in a and "webhook_secret" not in a and a["webhook_url"] is None
    g = c.get("/applications/" + a["id"])
    assert g.status == 200 and g.headers.get("etag"), g
    w = _app(c, p, name="jobs", app_type="worker")
    assert w["hostname"] is None and w["default_url"] is None


def test_bad_input_names_the_field_and_changes_nothing():
    c, s, p = _setup()
    before = _sql("SELECT count(*) FROM applications")
    cases = [
        ({"name": "x", "project_id": p["id"], "source_type": "svn"}, "source_type"),
        ({"name": "x", "project_id": p["id"], "source_type": "git"}, "repository_url"),
        ({"name": "x", "project_id": p["id"], "source_type": "docker_image"}, "image_url"),
        ({"name": "Bad Name", "project_id": p["id"], "source_type": "docker_image", "image_url": "a/b"}, "name"),
        ({"name": "x", "project_id": p["id"], "source_type": "docker_image", "image_url": "a b"}, "image_url"),
        ({"name": "x", "project_id": p["id"], "source_type": "docker_image", "image_url": "a/b", "replicas": 51}, "replicas"),
        ({"name": "x", "project_id": p["id"], "source_type": "docker_image", "image_url": "a/b", "replicas": "2"}, "replicas"),
        ({"name": "x", "project_id": p["id"], "source_type": "git", "repository_url": "ftp://h/r"}, "repository_url"),
        ({"name": "x", "project_id": p["id"], "source_type": "git", "repository_url": "https://h/r",
          "dockerfile_path": "../../etc/passwd"}, "dockerfile_path"),
        ({"name": "x", "project_id": p["id"], "source_type": "docker_image", "image_url": "a/b",
          "env": {"1BAD": "v"}}, "env.1BAD"),
        ({"name": "x", "project_id": p["id"], "source_type": "docker_image", "image_url": "a/b",
          "restart_policy": "sometimes"}, "restart_policy"),
        ({"name": "x", "project_id": p["id"], "source_type": "docker_image", "image_url": "a/b",
          "volumes": [{"name": "data"}]}, "volumes[0].mount_path"),
        ({"name": "x", "project_id": p["id"], "source_type": "docker_image", "image_url": "a/b",
          "healthcheck_path": "health"}, "healthcheck_path"),
        ({"name": "x", "project_id": p["id"], "source_type": "docker_image", "image_url": "a/b",
          "environment_id": str(uuid.uuid4())}, "environment_id"),
        ({"name": "x", "project_id": p["id"], "source_type": "docker_compose", "compose": "services: {}"},
         "compose.services"),
    ]
    for body, field in cases:
        assert_error(c.post("/applications", body), 400, "BAD_REQUEST", field)
    assert_error(c.post("/applications", {"name": "x", "project_id": str(uuid.uuid4()),
                                          "source_type": "docker_image", "image_url": "a/b"}), 404, "NOT_FOUND")
    assert_error(c.get("/applications/not-a-uuid"), 404, "NOT_FOUND")
    r = c.get("/applications/" + str(uuid.uuid4()))
    assert_error(r, 404, "NOT_FOUND")
    assert "application" in r.error["message"], r
    assert _sql("SELECT count(*) FROM applications") == before


def test_every_problem_of_a_body_is_named_at_once_nested_fields_included():
    """One field table validates the whole body: enums, arrays of objects,
    arrays of UUIDs, maps and the rules across fields; each problem is
    named by its path, all in one answer."""
    c, s, p = _setup()
    before = _sql("SELECT count(*) FROM applications")
    r = c.post("/applications", {"project_id": p["id"], "source_type": "git", "app_type": "daemon",
                                 "volumes": [{"name": "data", "mount_path": "/data"}, {"name": "x"}, 7],
                                 "depends_on": [str(uuid.uuid4()), "nope"],
                                 "build_args": {"": "x", "OK": 1},
                                 "env": {"GOOD": "v", "bad-key": "v", "N": None}})
    assert_error(r, 400, "BAD_REQUEST")
    fields = sorted(d["field"] for d in r.error["details"])
    assert fields == sorted(["app_type", "volumes[1].mount_path", "volumes[2]", "depends_on",
                             "build_args.", "build_args.OK", "env.bad-key", "env.N"]), r
    msg = {d["field"]: d["message"] for d in r.error["details"]}
    assert msg["app_type"] == "must be one of web, worker or api", msg
    # Only when every field is well-formed do the rules across fields run.
    r = c.post("/applications", {"project_id": p["id"], "source_type": "git"})
    assert sorted(d["field"] for d in r.error["details"]) == ["name", "repository_url"], r
    # PATCH /env names each bad key; null deletes (PATCH) but is refused by PUT.
    a = _app(c, p)
    r = c.put("/applications/%s/env" % a["id"], {"A": "1", "b-c": "2", "D": None, "E": 3})
    assert sorted(d["field"] for d in r.error["details"]) == ["D", "E", "b-c"], r
    r = c.call("PATCH", "/applications/%s/env" % a["id"], {"A": "1", "D": None})
    assert r.status == 200, r
    assert _sql("SELECT count(*) FROM applications") == str(int(before) + 1)


def test_server_is_required_when_ambiguous_and_names_unique_per_environment():
    c, s1, p = _setup()
    _server(c)
    assert_error(c.post("/applications", {"name": "x", "project_id": p["id"], "source_type": "docker_image",
                                          "image_url": "a/b"}), 400, "BAD_REQUEST", "server_id")
    a = _app(c, p, name="same", server_id=s1["id"])
    assert c.get("/applications/check-name?name=same&projectId=" + p["id"]).data == {"available": False}
    assert c.get("/applications/check-name?name=other&projectId=" + p["id"]).data == {"available": True}
    assert_error(c.post("/applications", {"name": "same", "project_id": p["id"], "server_id": s1["id"],
                                          "source_type": "docker_image", "image_url": "a/b"}), 409, "CONFLICT")
    staging = [e for e in p["environments"] if not e["is_default"]][0]
    b = _app(c, p, name="same", server_id=s1["id"], environment_id=staging["id"])
    assert b["id"] != a["id"]
    # An environment with applications cannot be deleted; the project can.
    assert_error(c.delete("/projects/%s/environments/%s" % (p["id"], staging["id"])), 409, "CONFLICT")


def test_update_partial_etag_and_list_filters():
    c, s, p = _setup()
    a = _app(c, p)
    b = _app(c, p, app_type="worker")
    etag = c.get("/applications/" + a["id"]).headers["etag"]
    r = c.put("/applications/" + a["id"], {"replicas": 3, "cpu_limit": 0.5}, headers={"If-Match": etag})
    assert r.status == 200 and r.data["replicas"] == 3 and r.data["cpu_limit"] == 0.5, r
    assert r.data["image_url"] == a["image_url"] and r.data["name"] == a["name"]
    assert_error(c.put("/applications/" + a["id"], {"replicas": 1}, headers={"If-Match": etag}),
                 412, "PRECONDITION_FAILED")
    assert c.get("/applications/" + a["id"]).data["replicas"] == 3
    ids = [x["id"] for x in c.get("/applications?projectId=" + p["id"]).data]
    assert ids == [a["id"], b["id"]], ids
    assert [x["id"] for x in c.get("/applications?status=created&serverId=" + s["id"]).data] == ids
    assert c.get("/applications?status=running").data == []
    assert_error(c.get("/applications?projectId=nope"), 400, "BAD_REQUEST", "projectId")


def test_env_is_sealed_at_rest_masked_for_viewers_and_marks_pending_deploy():
    c, s, p = _setup()
    a = _app(c, p, env={"DATABASE_PASSWORD": "hunter2-very-secret", "MODE": "prod"})
    # Application-scope variables of the env store (sql/020_env_vars.sql).
    raw = _sql("SELECT key || ' ' || value_sealed FROM env_vars WHERE application_id = '%s'" % a["id"])
    assert raw and "hunter2" not in raw and "prod" not in raw.replace("MODE", ""), raw
    assert _sql("SELECT env_sealed IS NULL FROM applications WHERE id = '%s'" % a["id"]) == "t"
    assert c.get("/applications/%s/env" % a["id"]).data == {"DATABASE_PASSWORD": "hunter2-very-secret",
                                                            "MODE": "prod"}
    r = c.call("PATCH", "/applications/%s/env" % a["id"], {"MODE": None, "NEW": "1"})
    assert r.status == 200 and r.data == {"DATABASE_PASSWORD": "hunter2-very-secret", "NEW": "1"}, r
    assert r.json["meta"]["pending_deploy"] is True
    r = c.put("/applications/%s/env" % a["id"], {"ONLY": "x"})
    assert r.data == {"ONLY": "x"}
    assert_error(c.put("/applications/%s/env" % a["id"], {"bad-key": "x"}), 400, "BAD_REQUEST", "bad-key")
    assert_error(c.put("/applications/%s/env" % a["id"], {"K": 1}), 400, "BAD_REQUEST", "K")
    assert c.get("/applications/%s/env" % a["id"]).data == {"ONLY": "x"}
    viewer = new_user(c)
    assert c.post("/projects/%s/members" % p["id"], {"user_id": viewer.user_id, "role": "viewer"}).status == 201
    assert viewer.get("/applications/%s/env" % a["id"]).data == {"ONLY": "********"}
    # Revealing values needs write permission: a read/deploy key sees keys only.
    deployer = Client(c.tenant, key=make_key(c, scopes=["read", "deploy"])["key"])
    assert deployer.get("/applications/%s/env" % a["id"]).data == {"ONLY": "********"}
    writer = Client(c.tenant, key=make_key(c, scopes=["read", "write"])["key"])
    assert writer.get("/applications/%s/env" % a["id"]).data == {"ONLY": "x"}
    assert_error(viewer.put("/applications/%s/env" % a["id"], {"A": "b"}), 403, "FORBIDDEN")
    assert_error(viewer.post("/applications/%s/deploy" % a["id"], {}), 403, "FORBIDDEN")
    # Another tenant sees nothing.
    d, _ = registered("other")
    assert_error(d.get("/applications/" + a["id"]), 404, "NOT_FOUND")
    assert d.get("/applications").data == []


def test_deploy_job_carries_the_release_and_the_decrypted_env_only_in_the_claim():
    c, s, p = _setup()
    a = _app(c, p, env={"SECRET_TOKEN": "tok-123456"}, healthcheck_path="/health", replicas=2)
    r = c.post("/applications/%s/deploy" % a["id"], {})
    assert r.status == 201 and r.data["status"] == "deploying" and r.data["trigger"] == "manual", r
    d = r.data
    assert d["image"] == "registry.test/web:v1" and d["replicas"] == 2 and d["queue_position"] is None
    stored = _sql("SELECT payload::text FROM jobs WHERE kind = 'app.deploy' AND payload->>'deployment_id' = '%s'"
                  % d["id"])
    assert stored and "tok-123456" not in stored, stored
    agent = Agent(c.tenant, s["agent_token"])
    job = agent.claim()
    assert job["kind"] == "app.deploy", job
    pl = job["payload"]
    assert pl["env"] == {"SECRET_TOKEN": "tok-123456"}, pl
    assert pl["source"] == {"type": "docker_image", "image": "registry.test/web:v1"}
    assert pl["app"]["hostname"] == "%s-%s.apps.test" % (a["name"], p["name"])
    assert pl["app"]["replicas"] == 2 and pl["app"]["healthcheck_path"] == "/health"
    assert c.get("/applications/" + a["id"]).data["status"] == "deploying"
    agent.call("POST", "/jobs/%s/progress" % job["id"], {"lines": ["pulling image", "starting container x"]})
    _finish(agent, job, image="registry.test/web:v1", image_id="sha256:" + "a" * 64, strategy="rolling",
            strategy_reason="new before old",
            instances=[{"container_id": "ab" * 32, "name": "lnchr-1", "deployment_id": d["id"],
                        "status": "running", "health": "healthy", "host_port": 40001, "restart_count": 0}])
    g = c.get("/deployments/" + d["id"]).data
    assert g["status"] == "succeeded" and g["image_digest"] == "sha256:" + "a" * 64, g
    assert g["strategy"] == "rolling" and g["duration_ms"] is not None and g["duration_ms"] >= 0
    app = c.get("/applications/" + a["id"]).data
    assert app["status"] == "running" and app["current_deployment_id"] == d["id"], app
    inst = c.get("/applications/%s/instances" % a["id"]).data
    assert [i["host_port"] for i in inst] == [40001] and inst[0]["health"] == "healthy", inst
    logs = c.get("/deployments/%s/logs" % d["id"]).data
    assert [x["message"] for x in logs] == ["pulling image", "starting container x"], logs
    assert c.get("/applications/%s/build-logs" % a["id"]).data == logs


def test_ten_concurrent_deploys_make_one_running_and_at_most_one_queued():
    c, s, p = _setup()
    a = _app(c, p)
    out = []

    def go():
        out.append(c.post("/applications/%s/deploy" % a["id"], {}))

    ts = [threading.Thread(target=go) for _ in range(10)]
    [t.start() for t in ts]
    [t.join() for t in ts]
    assert all(r.status in (200, 201) for r in out), out
    rows = _sql("SELECT status FROM deployments WHERE application_id = '%s' ORDER BY created_at" % a["id"]).split("\n")
    assert rows.count("deploying") == 1 and rows.count("queued") <= 1, rows
    assert set(rows) <= {"deploying", "queued"}, rows
    queued = [r.data for r in out if r.data["status"] == "queued"]
    assert len({q["id"] for q in queued}) <= 1 and all(q["queue_position"] == 1 for q in queued)
    # The database itself refuses a second active deployment.
    try:
        _sql("INSERT INTO deployments (tenant_id, project_id, environment_id, application_id, server_id,"
             " status, source, replicas) SELECT tenant_id, project_id, environment_id, id, server_id,"
             " 'building', '{}', 1 FROM applications WHERE id = '%s'" % a["id"])
        err = ""
    except RuntimeError as e:
        err = str(e)
    assert "deployments_one_active" in err, err


def test_queue_runs_in_order_and_a_new_image_supersedes_the_queued_one():
    c, s, p = _setup()
    a = _app(c, p)
    agent = Agent(c.tenant, s["agent_token"])
    first = c.post("/applications/%s/deploy" % a["id"], {}).data
    q1 = c.post("/applications/%s/deploy" % a["id"], {}).data
    assert q1["status"] == "queued"
    same = c.post("/applications/%s/deploy" % a["id"], {})
    assert same.status == 200 and same.data["id"] == q1["id"], same
    q2 = c.post("/applications/%s/deploy" % a["id"], {"image_url": "registry.test/web:v2"}).data
    assert q2["id"] != q1["id"] and q2["image"] == "registry.test/web:v2"
    assert c.get("/deployments/" + q1["id"]).data["status"] == "superseded"
    job = agent.claim()
    assert job["payload"]["deployment_id"] == first["id"]
    _finish(agent, job, "failed")
    f = c.get("/deployments/" + first["id"]).data
    assert f["status"] == "failed" and f["error"] == "boom", f
    # The queued one starts as soon as the first ends: the app deploys again.
    assert c.get("/applications/" + a["id"]).data["status"] == "deploying"
    job2 = agent.claim()
    assert job2 and job2["payload"]["deployment_id"] == q2["id"], job2
    assert c.get("/deployments/" + q2["id"]).data["status"] == "deploying"


def test_cancel_queued_and_running_and_rollback_reapplies_the_old_release():
    c, s, p = _setup()
    a = _app(c, p, env={"V": "one"})
    agent = Agent(c.tenant, s["agent_token"])
    d1 = c.post("/applications/%s/deploy" % a["id"], {}).data
    job = agent.claim()
    _finish(agent, job, image_id="sha256:" + "1" * 64)
    assert c.put("/applications/%s/env" % a["id"], {"V": "two"}).status == 200
    assert c.get("/applications/" + a["id"]).data["pending_deploy"] is True
    d2 = c.post("/applications/%s/deploy" % a["id"], {"image_url": "registry.test/web:v2"}).data
    d3 = c.post("/applications/%s/deploy" % a["id"], {"image_url": "registry.test/web:v3"}).data
    r = c.post("/deployments/%s/cancel" % d3["id"])
    assert r.status == 200 and r.data["status"] == "cancelled", r
    job2 = agent.claim()
    assert job2["payload"]["env"] == {"V": "two"}
    r = c.post("/deployments/%s/cancel" % d2["id"])
    assert r.status == 200 and r.data["status"] == "cancelled", r
    # The agent learns it at its next call.
    assert agent.call("POST", "/jobs/%s/lease" % job2["id"]).status == 409
    assert_error(c.post("/deployments/%s/cancel" % d2["id"]), 409, "CONFLICT")
    app = c.get("/applications/" + a["id"]).data
    assert app["status"] == "running" and app["current_deployment_id"] == d1["id"], app
    # Rollback with no earlier release.
    assert_error(c.post("/applications/%s/rollback" % a["id"], {}), 409, "CONFLICT")
    d4 = c.post("/applications/%s/deploy" % a["id"], {}).data
    _finish(agent, agent.claim(), image_id="sha256:" + "4" * 64)
    assert c.get("/applications/" + a["id"]).data["current_deployment_id"] == d4["id"]
    rb = c.post("/applications/%s/rollback" % a["id"], {})
    assert rb.status == 201 and rb.data["trigger"] == "rollback" and rb.data["rollback_of"] == d1["id"], rb
    job = agent.claim()
    assert job["payload"]["source"] == {"type": "release", "image_id": "sha256:" + "1" * 64}, job
    assert job["payload"]["env"] == {"V": "one"}, job["payload"]
    assert_error(c.post("/applications/%s/rollback" % a["id"], {"deployment_id": d2["id"]}),
                 400, "BAD_REQUEST", "deployment_id")


def test_actions_scale_and_instances_follow_jobs():
    c, s, p = _setup()
    a = _app(c, p)
    agent = Agent(c.tenant, s["agent_token"])
    assert_error(c.post("/applications/%s/stop" % a["id"]), 409, "CONFLICT")
    r = c.post("/applications/%s/scale" % a["id"], {"replicas": 2})
    assert r.status == 200 and r.data["replicas"] == 2 and r.data["pending_action"] is None
    d = c.post("/applications/%s/deploy" % a["id"], {}).data
    job = agent.claim()
    assert job["payload"]["app"]["replicas"] == 2
    _finish(agent, job, image_id="sha256:" + "b" * 64)
    r = c.post("/applications/%s/stop" % a["id"])
    assert r.status == 200 and r.data["pending_action"] == "stop", r
    job = agent.claim()
    assert job["kind"] == "app.stop" and job["payload"]["source"]["image_id"] == "sha256:" + "b" * 64
    _finish(agent, job)
    assert c.get("/applications/" + a["id"]).data["status"] == "stopped"
    assert_error(c.post("/applications/%s/scale" % a["id"], {"replicas": 51}), 400, "BAD_REQUEST", "replicas")
    r = c.post("/applications/%s/scale" % a["id"], {"replicas": 3})
    job = agent.claim()
    assert job["kind"] == "app.scale" and job["payload"]["replicas"] == 3, job
    inst = [{"container_id": "%02x" % i * 32, "name": "n%d" % i, "deployment_id": d["id"], "status": "running",
             "health": "healthy", "host_port": 41000 + i, "restart_count": 0} for i in range(3)]
    _finish(agent, job, instances=inst)
    app = c.get("/applications/" + a["id"]).data
    assert app["status"] == "running" and app["replicas"] == 3 and app["pending_action"] is None, app
    assert len(c.get("/applications/%s/instances" % a["id"]).data) == 3
    # The agent's complete report replaces the view; all exited = crashed.
    rep = [dict(x, app_id=a["id"], state="exited") for x in inst[:2]]
    r = agent.call("POST", "/instances", {"instances": rep})
    assert r.status == 200, r
    got = c.get("/applications/%s/instances" % a["id"]).data
    assert sorted(i["status"] for i in got) == ["exited", "exited"], got
    assert c.get("/applications/" + a["id"]).data["status"] == "crashed"
    agent.call("POST", "/instances", {"instances": [dict(rep[0], state="running", cpu_percent=12.5,
                                                         memory_bytes=41 << 20)]})
    assert c.get("/applications/" + a["id"]).data["status"] == "running"
    # The report's figures are stored; a job's result (no figures) keeps them.
    got = c.get("/applications/%s/instances" % a["id"]).data
    assert [(i["cpu_percent"], i["memory_bytes"]) for i in got] == [(12.5, 41 << 20)], got
    _finish_report = [dict(inst[0], status="running")]
    c.post("/applications/%s/scale" % a["id"], {"replicas": 1})
    _finish(agent, agent.claim(), instances=_finish_report)
    got = c.get("/applications/%s/instances" % a["id"]).data
    assert [(i["cpu_percent"], i["memory_bytes"]) for i in got] == [(12.5, 41 << 20)], got
    # A report without them (stats failed, or stopped) clears them.
    agent.call("POST", "/instances", {"instances": [dict(rep[0], state="running", cpu_percent=None,
                                                         memory_bytes=None)]})
    got = c.get("/applications/%s/instances" % a["id"]).data
    assert [(i["cpu_percent"], i["memory_bytes"]) for i in got] == [(None, None)], got
    # Containers without our labels (empty ids) are ignored, not an error.
    assert agent.call("POST", "/instances", {"instances": [dict(rep[0], state="running"),
        {"container_id": "9" * 64, "app_id": "", "deployment_id": "", "state": "running"}]}).status == 200
    # A report naming another tenant's application is ignored.
    d2, _ = registered("x")
    s2 = _server(d2)
    assert Agent(d2.tenant, s2["agent_token"]).call("POST", "/instances", {"instances": [
        dict(rep[0], container_id="ff" * 32)]}).status == 200
    assert len(c.get("/applications/%s/instances" % a["id"]).data) == 1


def test_instances_report_for_an_application_on_another_server_is_refused():
    c, s, p = _setup()
    a = _app(c, p)
    agent = Agent(c.tenant, s["agent_token"])
    d = c.post("/applications/%s/deploy" % a["id"], {}).data
    inst = [{"container_id": "ab" * 32, "name": "n0", "deployment_id": d["id"], "status": "running"}]
    _finish(agent, agent.claim(), image_id="sha256:" + "e" * 64, instances=inst)
    # A second server of the same tenant reports a container of a (placed on s).
    s2 = _server(c)
    other = Agent(c.tenant, s2["agent_token"])
    rep = [{"container_id": "cd" * 32, "app_id": "", "deployment_id": "", "state": "running"},
           dict(inst[0], container_id="ef" * 32, app_id=a["id"], state="exited")]
    r = other.call("POST", "/instances", {"instances": rep})
    assert_error(r, 400, "BAD_REQUEST", "instances[1].app_id")
    assert a["id"] in str(r.error), r.error
    got = c.get("/applications/%s/instances" % a["id"]).data
    assert [i["container_id"] for i in got] == ["ab" * 32] and got[0]["status"] == "running", got
    assert c.get("/applications/" + a["id"]).data["status"] == "running"
    # Its own containers (none of a's) are still reported.
    assert other.call("POST", "/instances", {"instances": rep[:1]}).status == 200
    # The server a is placed on reports it as before.
    assert agent.call("POST", "/instances", {"instances": [dict(inst[0], app_id=a["id"],
                                                                 state="running")]}).status == 200


def test_runtime_logs_redact_values_cut_at_line_boundaries():
    c, s, p = _setup()
    secret = "pg-password-4f9a2c7e1b"
    a = _app(c, p, env={"DB_PASSWORD": secret, "PORT": "8080", "SHORT": "true1"})
    agent = Agent(c.tenant, s["agent_token"])
    d = c.post("/applications/%s/deploy" % a["id"], {}).data
    _finish(agent, agent.claim(), image_id="sha256:" + "c" * 64,
            instances=[{"container_id": "ce" * 32, "name": "lnchr-y-1", "deployment_id": d["id"],
                        "status": "running"}])
    base = {"app_id": a["id"], "deployment_id": d["id"], "container_id": "ce" * 32,
            "stream": "stdout"}
    lines = ["connecting with " + secret[:11],            # ends with an 11-byte prefix
             secret[11:] + " as user app",                 # starts with an 11-byte suffix
             "ends with " + secret[:7],                     # 7 bytes: too short to tell
             "listening on 8080, debug=true1"]              # values under 6 bytes stay
    r = agent.call("POST", "/logs", {"entries": [
        dict(base, timestamp="2026-01-01T00:00:0%dZ" % (i + 1), message=m)
        for i, m in enumerate(lines)]})
    assert r.status == 204, r
    logs = [x["message"] for x in c.get("/applications/%s/runtime-logs" % a["id"]).data]
    assert logs == ["connecting with [redacted]", "[redacted] as user app",
                    "ends with " + secret[:7], "listening on 8080, debug=true1"], logs
    raw = _sql("SELECT string_agg(message, '|') FROM runtime_logs")
    assert secret[:11] not in raw and secret[11:] not in raw, raw


def test_runtime_logs_are_redacted_filtered_and_scoped():
    c, s, p = _setup()
    # "A" is a prefix of API_TOKEN's value and comes first in any key order:
    # no tail of the longer secret may survive the shorter one.
    a = _app(c, p, env={"A": "sk_live_abc", "API_TOKEN": "sk_live_abcdef123"})
    agent = Agent(c.tenant, s["agent_token"])
    d = c.post("/applications/%s/deploy" % a["id"], {}).data
    _finish(agent, agent.claim(), image_id="sha256:" + "c" * 64,
            instances=[{"container_id": "cd" * 32, "name": "lnchr-x-1", "deployment_id": d["id"],
                        "status": "running"}])
    base = {"app_id": a["id"], "deployment_id": d["id"], "container_id": "cd" * 32}
    r = agent.call("POST", "/logs", {"entries": [
        dict(base, timestamp="2026-01-01T00:00:01.5Z", stream="stdout", message="GET / 200"),
        dict(base, timestamp="2026-01-01T00:00:02Z", stream="stderr", message="token=sk_live_abcdef123 leaked"),
        dict(base, timestamp="2026-01-01T00:00:03Z", stream="stdout", message="GET /health 200")]})
    assert r.status == 204, r
    raw = _sql("SELECT string_agg(message, '|') FROM runtime_logs")
    assert "sk_live_abc" not in raw and "def123" not in raw, raw
    logs = c.get("/applications/%s/runtime-logs" % a["id"]).data
    assert [x["message"] for x in logs] == ["GET / 200", "token=[redacted] leaked", "GET /health 200"], logs
    assert logs[0]["instance"] == "lnchr-x-1" and logs[0]["instance_id"]
    assert [x["message"] for x in c.get("/applications/%s/runtime-logs?stream=stderr" % a["id"]).data] == \
        ["token=[redacted] leaked"]
    assert len(c.get("/applications/%s/runtime-logs?q=health" % a["id"]).data) == 1
    assert len(c.get("/applications/%s/runtime-logs?since=2026-01-01T00:00:02Z" % a["id"]).data) == 2
    assert len(c.get("/applications/%s/runtime-logs?until=2026-01-01T00:00:02Z&limit=5" % a["id"]).data) == 1
    assert len(c.get("/applications/%s/runtime-logs?limit=1" % a["id"]).data) == 1
    assert_error(c.get("/applications/%s/runtime-logs?since=yesterday" % a["id"]), 400, "BAD_REQUEST", "since")
    bad = agent.call("POST", "/logs", {"entries": [base, dict(base, timestamp="x", stream="o", message="m")]})
    assert_error(bad, 400, "BAD_REQUEST", "entries[1].timestamp")
    assert_error(bad, 400, "BAD_REQUEST", "entries[1].stream")
    assert_error(agent.call("POST", "/logs", {"entries": [dict(base, message="x" * 4097)]}),
                 400, "BAD_REQUEST", "entries[0].message")
    assert_error(agent.call("POST", "/logs", {"entries": "no"}), 400, "BAD_REQUEST", "entries")
    assert_error(agent.call("POST", "/instances", {"instances": [{"name": "x"}]}),
                 400, "BAD_REQUEST", "instances[0].container_id")
    assert_error(agent.call("POST", "/volumes", {"volumes": [{"volume_id": "x", "used_bytes": -1}]}),
                 400, "BAD_REQUEST", "volumes[0].volume_id")


def test_git_autodeploy_gets_a_webhook_secret_once_and_delete_queues_cleanup():
    c, s, p = _setup()
    r = c.post("/applications", {"name": "site", "project_id": p["id"], "source_type": "git",
                                 "repository_url": "https://git.test/site.git", "autodeploy": True,
                                 "build_args": {"NODE_ENV": "production"}})
    assert r.status == 201 and r.data["webhook_secret"].startswith("whsec_"), r
    a = r.data
    assert a["webhook_url"] and a["build_args"] == {"NODE_ENV": "production"}
    assert "webhook_secret" not in c.get("/applications/" + a["id"]).data
    sealed = _sql("SELECT webhook_secret_sealed FROM applications WHERE id = '%s'" % a["id"])
    assert a["webhook_secret"] not in sealed
    r2 = c.post("/applications/%s/webhook-secret" % a["id"], headers={"Idempotency-Key": "rot-1"})
    assert r2.status == 200 and r2.data["webhook_secret"] != a["webhook_secret"]
    # A replay never carries (nor stores) the secret.
    r3 = c.post("/applications/%s/webhook-secret" % a["id"], headers={"Idempotency-Key": "rot-1"})
    assert r3.status == 200 and "webhook_secret" not in r3.data, r3
    assert r2.data["webhook_secret"] not in _sql("SELECT string_agg(response, '') FROM idempotency_keys")
    d = c.post("/applications/%s/deploy" % a["id"], {"branch": "release", "commit_sha": "abc1234"}).data
    assert d["status"] == "building" and d["branch"] == "release" and d["commit_sha"] == "abc1234", d
    assert_error(c.post("/applications/%s/deploy" % a["id"], {"commit_sha": "xyz"}), 400, "BAD_REQUEST",
                 "commit_sha")
    assert c.delete("/applications/" + a["id"]).status == 204
    assert_error(c.get("/applications/" + a["id"]), 404, "NOT_FOUND")
    job = _sql("SELECT kind || ' ' || (project_id IS NULL)::text FROM jobs WHERE kind = 'app.remove'"
               " AND payload->>'app_id' = '%s'" % a["id"])
    assert job == "app.remove true", job
    # Deleting the project queues the removal of every app in it.
    b = _app(c, p)
    assert c.delete("/projects/" + p["id"]).status == 204
    assert _sql("SELECT count(*) FROM jobs WHERE kind = 'app.remove' AND payload->>'app_id' = '%s'" % b["id"]) == "1"


def test_service_key_scopes_on_application_actions():
    c, s, p = _setup()
    a = _app(c, p)
    ro = Client(c.tenant, key=make_key(c, scopes=["read"])["key"])
    dep = Client(c.tenant, key=make_key(c, scopes=["read", "deploy"])["key"])
    other = new_project(c)
    bound = Client(c.tenant, key=make_key(c, scopes=["read", "deploy", "write"], project_id=other["id"])["key"])
    assert ro.get("/applications/" + a["id"]).status == 200
    assert_error(ro.post("/applications/%s/deploy" % a["id"], {}), 403, "FORBIDDEN")
    r = dep.post("/applications/%s/deploy" % a["id"], {})
    assert r.status == 201 and r.data["trigger"] == "api", r
    assert_error(dep.put("/applications/" + a["id"], {"replicas": 2}), 403, "FORBIDDEN")
    assert_error(bound.get("/applications/" + a["id"]), 404, "NOT_FOUND")
    assert bound.get("/applications").data == []
    assert [x["id"] for x in dep.get("/deployments?applicationId=" + a["id"]).data] == [r.data["id"]]
    assert_error(dep.get("/deployments?status=done"), 400, "BAD_REQUEST", "status")
    assert_error(bound.get("/deployments/" + r.data["id"]), 404, "NOT_FOUND")


def test_runtime_logs_past_the_retention_are_pruned_by_the_scheduler():
    from test_servers import scheduler
    c, s, p = _setup()
    a = _app(c, p)
    agent = Agent(c.tenant, s["agent_token"])
    c.post("/applications/%s/deploy" % a["id"], {})
    _finish(agent, agent.claim(), image_id="sha256:" + "e" * 64)
    base = {"app_id": a["id"], "container_id": "ee" * 32, "stream": "stdout"}
    old = "2001-01-01T00:00:00Z"
    assert agent.call("POST", "/logs", {"entries": [dict(base, timestamp=old, message="ancient"),
                                                    dict(base, timestamp="2099-01-01T00:00:00Z",
                                                         message="future")]}).status == 204
    assert len(c.get("/applications/%s/runtime-logs" % a["id"]).data) == 2
    scheduler()
    assert [x["message"] for x in c.get("/applications/%s/runtime-logs" % a["id"]).data] == ["future"]


def test_a_deployment_that_switches_traffic_can_no_longer_be_cancelled():
    c, s, p = _setup()
    a = _app(c, p)
    agent = Agent(c.tenant, s["agent_token"])
    d = c.post("/applications/%s/deploy" % a["id"], {}).data
    job = agent.claim()
    assert agent.call("POST", "/jobs/%s/progress" % job["id"],
                      {"lines": ["switching traffic to deployment %s" % d["id"]]}).status == 204
    assert_error(c.post("/deployments/%s/cancel" % d["id"]), 409, "CONFLICT")
    assert agent.call("POST", "/jobs/%s/lease" % job["id"]).status == 200
    _finish(agent, job, image_id="sha256:" + "f" * 64)
    assert c.get("/deployments/" + d["id"]).data["status"] == "succeeded"
