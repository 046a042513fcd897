"""Template deploys (API.md §13, sql/048_template_deploys.sql,
fcgi/api/template_deploy.c): the first deployments wait for their
databases (event-driven, no worker waits), a failure rolls back every
resource the deploy created, success once all run; the project export and
its round trip through a deploy.  The agent is played through its API
(engine-free); test_template_deploy_e2e.py runs the real agent."""
import json
import uuid

from lib import assert_error, new_project, psql, registered
from test_servers import Agent, _server


def _owner(sql):
    return psql(sql, user="launcher_owner")


def _world(prefix="td"):
    c, _ = registered(prefix)
    srv = _server(c, name="only")
    p = new_project(c)
    return c, srv, p


def _app(c, p, name, **body):
    body.update({"project_id": p["id"], "name": name})
    body.setdefault("source_type", "docker_image")
    body.setdefault("image_url", "registry.test/%s:1" % name)
    r = c.post("/applications", body)
    assert r.status == 201, r
    return r.data


def _record(c, p, resources, metadata=None):
    """A deploy's record as the handler writes it (template_deploy_record),
    as the API role in the tenant."""
    env = c.get("/projects/%s" % p["id"]).data.get("default_environment_id") or _owner(
        "SELECT id FROM environments WHERE project_id = '%s' AND is_default" % p["id"])[0]
    rows = psql("SELECT template_deploy_record('%s', '%s', 'hand', '%s'::jsonb, NULL, '%s'::jsonb)"
                % (p["id"], env, json.dumps(metadata or {"name": "hand"}), json.dumps(resources)),
                tenant=c.tid)
    return rows[-1]


def _jobs(where):
    return _owner("SELECT kind || ' ' || status FROM jobs WHERE %s ORDER BY created_at, id" % where)


def _claim_for(agent, key, value):
    """Claims jobs until the one whose payload[key] is value; others are put
    back by failing nothing: they are completed as succeeded only when they
    are no-ops for this test (noop kinds)."""
    for _ in range(20):
        job = agent.claim()
        assert job is not None, "no job for %s" % value
        if job["payload"].get(key) == value:
            return job
        raise AssertionError("unexpected job %r" % job)
    raise AssertionError("no job for %s" % value)


def _complete(agent, job, status, result=None, error=None):
    body = {"status": status, "result": result or {}}
    if error is not None:
        body["error"] = error
    r = agent.call("POST", "/jobs/%s/complete" % job["id"], body)
    assert r.status == 200, r


def _deploy_state(c, tid):
    r = c.get("/template-deploys/" + tid)
    assert r.status == 200, r
    return r.data


def _three(c, p):
    """A volume, a database, an app that waits for the database (env
    reference and depends_on) and mounts the volume, and a free app."""
    vol = c.post("/volumes", {"project_id": p["id"], "name": "data"}).data
    db = c.post("/databases", {"project_id": p["id"], "name": "main", "type": "postgres"}).data
    web = _app(c, p, "web", env={"DB_HOST": "${db.main.host}"}, depends_on=[db["id"]],
               volumes=[{"name": "data", "mount_path": "/data"}], exposed_port=8080)
    worker = _app(c, p, "worker", app_type="worker")
    tid = _record(c, p, [
        {"kind": "volume", "id": vol["id"], "name": "data"},
        {"kind": "database", "id": db["id"], "name": "main"},
        {"kind": "application", "id": web["id"], "name": "web", "waits_for": [db["id"]]},
        {"kind": "application", "id": worker["id"], "name": "worker"}])
    return vol, db, web, worker, tid


def test_a_deployment_waits_for_its_database_and_success_follows_every_resource():
    c, srv, p = _world()
    vol, db, web, worker, tid = _three(c, p)
    ag = Agent(c.tenant, srv["agent_token"])
    assert _deploy_state(c, tid)["status"] == "deploying"
    # web waits: its deployment is queued with no job; worker starts at once.
    dw = c.post("/applications/%s/deploy" % web["id"], {})
    assert dw.status == 201 and dw.data["status"] == "queued", dw
    assert _jobs("payload->>'app_id' = '%s'" % web["id"]) == []
    dk = c.post("/applications/%s/deploy" % worker["id"], {})
    assert dk.status == 201 and dk.data["status"] == "deploying", dk
    # The agent: db.provision first (oldest), then worker's deploy.
    job = _claim_for(ag, "database_id", db["id"])
    assert job["kind"] == "db.provision"
    _complete(ag, job, "succeeded", {"status": "running", "container_id": "ab" * 32})
    # The database runs: web's deployment starts (its job exists now).
    got = c.get("/deployments/" + dw.data["id"]).data
    assert got["status"] == "deploying", got
    assert _jobs("payload->>'app_id' = '%s'" % web["id"]) == ["app.deploy queued"]
    assert _deploy_state(c, tid)["status"] == "deploying"
    for app in (worker, web):
        job = _claim_for(ag, "app_id", app["id"])
        _complete(ag, job, "succeeded", {"image_id": "sha256:" + "a" * 64})
    st = _deploy_state(c, tid)
    assert st["status"] == "succeeded" and st["finished_at"], st
    assert [(x["kind"], x["name"], x["status"]) for x in st["resources"]] == [
        ("volume", "data", "pending"), ("database", "main", "running"),
        ("application", "web", "running"), ("application", "worker", "running")], st
    # Later failures do not touch a finished deploy.
    c.post("/applications/%s/deploy" % web["id"], {"image_url": "registry.test/web:2"})
    job = _claim_for(ag, "app_id", web["id"])
    _complete(ag, job, "failed", error="pull failed")
    assert c.get("/applications/" + web["id"]).status == 200
    assert _deploy_state(c, tid)["status"] == "succeeded"


def test_a_failed_deployment_removes_every_resource_of_the_deploy():
    c, srv, p = _world()
    vol, db, web, worker, tid = _three(c, p)
    other = c.post("/volumes", {"project_id": p["id"], "name": "mine"}).data  # not the deploy's
    ag = Agent(c.tenant, srv["agent_token"])
    c.post("/applications/%s/deploy" % web["id"], {})
    c.post("/applications/%s/deploy" % worker["id"], {})
    job = _claim_for(ag, "database_id", db["id"])
    _complete(ag, job, "succeeded", {"status": "running", "container_id": "ab" * 32})
    job = _claim_for(ag, "app_id", worker["id"])
    _complete(ag, job, "failed", error="manifest unknown: no such image")
    st = _deploy_state(c, tid)
    assert st["status"] == "failed" and "worker" in st["error"] and "no such image" in st["error"], st
    assert {x["status"] for x in st["resources"]} == {"removed"}, st
    # No row is left but what was there before the deploy.
    assert c.get("/applications?projectId=" + p["id"]).data == []
    assert c.get("/databases?projectId=" + p["id"]).data == []
    assert [v["name"] for v in c.get("/volumes?projectId=" + p["id"]).data] == [other["name"]]
    # web's running deploy was cancelled; the removals are queued, the
    # applications' before the volumes' (their containers hold them).
    kinds = _owner("SELECT kind FROM jobs WHERE server_id = '%s' AND status = 'queued'"
                   " ORDER BY created_at, id" % srv["id"])
    assert sorted(kinds) == sorted(["app.remove", "app.remove", "db.remove", "volume.remove",
                                    "volume.remove"]), kinds
    assert max(i for i, k in enumerate(kinds) if k == "app.remove") < \
        min(i for i, k in enumerate(kinds) if k == "volume.remove"), kinds
    assert _jobs("kind = 'app.deploy' AND payload->>'app_id' = '%s'" % web["id"]) == \
        ["app.deploy cancelled"]


def test_a_failed_database_rolls_back_before_any_deployment_started():
    c, srv, p = _world()
    vol, db, web, worker, tid = _three(c, p)
    ag = Agent(c.tenant, srv["agent_token"])
    c.post("/applications/%s/deploy" % web["id"], {})
    job = _claim_for(ag, "database_id", db["id"])
    _complete(ag, job, "failed", error="initdb: could not create directory")
    st = _deploy_state(c, tid)
    assert st["status"] == "failed" and "database main failed" in st["error"], st
    assert c.get("/applications?projectId=" + p["id"]).data == []
    assert c.get("/databases?projectId=" + p["id"]).data == []
    assert c.get("/volumes?projectId=" + p["id"]).data == []
    # web never got a job.
    assert _jobs("kind = 'app.deploy' AND payload->>'app_id' = '%s'" % web["id"]) == []


def test_template_deploys_are_the_tenants_own_and_need_read():
    c, srv, p = _world()
    _, _, _, _, tid = _three(c, p)
    o, _ = registered("td-other")
    assert_error(o.get("/template-deploys/" + tid), 404, "NOT_FOUND")
    assert_error(c.get("/template-deploys/" + str(uuid.uuid4())), 404, "NOT_FOUND")
    assert_error(c.get("/template-deploys/nope"), 404, "NOT_FOUND")


def _export(c, p, **kw):
    r = c.get("/projects/%s/export" % p["id"], **kw)
    assert r.status == 200, r
    return r


def test_export_writes_the_project_as_a_template_with_secrets_as_generated_variables():
    import yaml
    c, srv, p = _world()
    c.post("/volumes", {"project_id": p["id"], "name": "data", "size_limit": 1 << 30})
    db = c.post("/databases", {"project_id": p["id"], "name": "main", "type": "postgres"}).data
    web = _app(c, p, "web", exposed_port=8080, cpu_limit=0.5, memory_limit=512 << 20,
               healthcheck_path="/healthz", depends_on=[db["id"]],
               volumes=[{"name": "data", "mount_path": "/data"}],
               env={"DB_URL": "postgres://${db.main.user}@${db.main.host}:${db.main.port}/${db.main.name}",
                    "PLAIN": "hello", "LITERAL": "$${not-a-ref}"})
    worker = _app(c, p, "worker", app_type="worker", cpu_limit=1, memory_limit=1 << 30)
    secret = "S3cr3tS3cr3tS3cr3tS3cr3tS3cr3tAB"
    for a, key, value in ((web, "APP_KEY", secret), (worker, "APP_KEY", secret),
                          (worker, "TOKEN", "tok-with-dash")):
        r = c.post("/env-vars", {"project_id": p["id"], "scope": "application", "scope_id": a["id"],
                                 "key": key, "value": value, "is_secret": True})
        assert r.status == 201, r
    # A project-scope variable is part of what each application sees.
    c.post("/env-vars", {"project_id": p["id"], "key": "REGION", "value": "eu"})
    r = _export(c, p)
    assert secret not in r.raw.decode() and "tok-with-dash" not in r.raw.decode()
    doc = yaml.safe_load(r.data["yaml"])
    assert list(doc) == ["version", "metadata", "variables", "databases", "volumes", "applications"], doc
    assert doc["version"] == "1.0" and doc["metadata"]["name"] == p["name"], doc
    assert doc["variables"] == {
        "APP_KEY": {"type": "secret", "generate": True, "length": 32,
                    "description": "generated secret (APP_KEY)"},
        "TOKEN": {"type": "secret", "generate": True, "length": 32,
                  "description": "generated secret (TOKEN)"}}, doc
    assert doc["databases"] == {"main": {"type": "postgres"}}, doc
    assert doc["volumes"] == {"data": {"size_limit": 1 << 30}}, doc
    assert doc["applications"]["web"] == {
        "app_type": "web", "source_type": "docker_image", "image_url": "registry.test/web:1",
        "exposed_ports": [8080], "replicas": 1, "cpu_limit": "0.5", "memory_limit": "512M",
        "healthcheck_path": "/healthz", "depends_on": ["main"],
        "volumes": [{"name": "data", "mount_path": "/data"}],
        "env": {"APP_KEY": "${APP_KEY}",
                "DB_URL": "postgres://${main.user}@${main.host}:${main.port}/${main.database}",
                "LITERAL": "$${not-a-ref}", "PLAIN": "hello", "REGION": "eu"}}, doc
    assert doc["applications"]["worker"] == {
        "app_type": "worker", "source_type": "docker_image", "image_url": "registry.test/worker:1",
        "replicas": 1, "cpu_limit": "1.0", "memory_limit": "1G",
        "env": {"APP_KEY": "${APP_KEY}", "REGION": "eu", "TOKEN": "${TOKEN}"}}, doc
    # The same document as YAML itself, with Accept: text/yaml.
    y = _export(c, p, headers={"Accept": "text/yaml"})
    assert y.headers["content-type"].startswith("text/yaml") and y.raw.decode() == r.data["yaml"], y
    # Audited: the document holds env values.
    assert _owner("SELECT count(*) FROM audit_log WHERE action = 'project.export'"
                  " AND resource_id = '%s'" % p["id"]) == ["2"]


def test_export_needs_write_and_names_only_the_projects_own_environment():
    c, srv, p = _world()
    o, _ = registered("td-x")
    assert_error(o.get("/projects/%s/export" % p["id"]), 404, "NOT_FOUND")
    assert_error(c.get("/projects/%s/export?environmentId=%s" % (p["id"], uuid.uuid4())), 400,
                 "BAD_REQUEST", "environment_id")
    r = _export(c, p)
    import yaml
    assert yaml.safe_load(r.data["yaml"]) == {"version": "1.0", "metadata": {
        "name": p["name"], "display_name": p["name"]}}, r.data["yaml"]


TEMPLATE = """version: "1.0"
metadata:
  name: shop
  display_name: Shop
  description: A shop with its database.
  tags: [demo]
variables:
  APP_SECRET:
    type: secret
    generate: true
    length: 40
    description: Signing key
  GREETING:
    type: string
    default: hello
  ADMIN_EMAIL:
    type: string
    description: Who runs it
databases:
  shop-db:
    type: postgres
volumes:
  uploads:
    size_limit: 1073741824
applications:
  web:
    app_type: web
    source_type: docker_image
    image_url: registry.test/shop:1
    exposed_ports: [8080]
    replicas: 1
    cpu_limit: "0.5"
    memory_limit: 512M
    healthcheck_path: /health
    depends_on: [shop-db]
    volumes:
      - name: uploads
        mount_path: /uploads
    env:
      DATABASE_URL: postgres://${shop-db.USER}:${shop-db.PASSWORD}@${shop-db.HOST}:${shop-db.PORT}/${shop-db.DATABASE}
      APP_SECRET: ${APP_SECRET}
      GREETING: ${GREETING} world
      ADMIN: ${ADMIN_EMAIL}
  worker:
    app_type: worker
    source_type: docker_image
    image_url: registry.test/shop-worker:1
    env:
      APP_SECRET: ${APP_SECRET}
"""


def _store(c, text):
    r = c.post("/templates", {"yaml": text})
    assert r.status == 201, r
    return r.data["id"]


def _env_rows(c, p, app_id):
    return {v["key"]: v["is_secret"] for v in
            c.get("/env-vars?projectId=%s&scope=application&scopeId=%s" % (p["id"], app_id)).data}


def test_deploy_creates_every_resource_in_one_transaction_and_holds_the_web_deployment():
    c, srv, p = _world()
    ref = _store(c, TEMPLATE)
    r = c.post("/templates/%s/deploy" % ref, {"project_id": p["id"],
                                               "variables": {"ADMIN_EMAIL": "ops@example.com"}})
    assert r.status == 201, r
    td, objs = r.data["template_deploy"], r.data["resources"]
    assert td["status"] == "deploying" and td["template_ref"] == ref and td["template_name"] == "shop", td
    assert [(o["kind"], o["name"]) for o in objs] == [
        ("volume", "uploads"), ("database", "shop-db"), ("application", "web"),
        ("application", "worker")], objs
    vol, db, web, worker = objs
    assert vol["size_limit"] == 1 << 30 and db["type"] == "postgres", objs
    assert (web["exposed_port"], web["cpu_limit"], web["memory_limit"], web["healthcheck_path"],
            web["depends_on"]) == (8080, 0.5, 512 << 20, "/health", [db["id"]]), web
    assert [m["name"] for m in web["volumes"]] == ["uploads"], web
    # The env store: application scope, the secret write-only.
    assert _env_rows(c, p, web["id"]) == {"DATABASE_URL": False, "APP_SECRET": True,
                                          "GREETING": False, "ADMIN": False}
    assert _env_rows(c, p, worker["id"]) == {"APP_SECRET": True}
    vals = c.get("/env-vars/values?projectId=%s&scope=application&scopeId=%s"
                 % (p["id"], web["id"])).data
    assert vals["GREETING"] == "hello world" and vals["ADMIN"] == "ops@example.com", vals
    assert vals["DATABASE_URL"] == "postgres://${db.shop-db.user}:${db.shop-db.password}@" \
        "${db.shop-db.host}:${db.shop-db.port}/${db.shop-db.name}", vals
    # The same generated secret in both applications, 40 characters of [A-Za-z0-9].
    secrets = psql("SELECT count(DISTINCT value_length) || ' ' || min(value_length) FROM env_vars"
                   " WHERE key = 'APP_SECRET' AND project_id = '%s'" % p["id"], tenant=c.tid)
    assert secrets[-1] == "1 40", secrets
    # web waits for shop-db: queued, no job; worker starts at once.
    deps = {d["application_id"]: d for d in c.get("/deployments?projectId=" + p["id"]).data}
    assert deps[web["id"]]["status"] == "queued" and deps[web["id"]]["trigger"] == "template", deps
    assert deps[worker["id"]]["status"] == "deploying", deps
    assert _jobs("payload->>'app_id' = '%s'" % web["id"]) == []
    assert _deploy_state(c, td["id"])["status"] == "deploying"


def test_bad_variables_buckets_and_clashes_are_400_and_create_nothing():
    c, srv, p = _world()
    ref = _store(c, TEMPLATE)
    r = c.post("/templates/%s/deploy" % ref, {"project_id": p["id"], "variables": {"NOPE": "x"}})
    assert_error(r, 400, "BAD_REQUEST", "variables.ADMIN_EMAIL")
    assert "variables.NOPE" in [d["field"] for d in r.error["details"]], r
    # A bucket of a template is a bucket (sql/053): a second deploy clashes
    # on its name (400), and nothing else is created.
    q = new_project(c)
    bucket = _store(c, "version: \"1.0\"\nmetadata:\n  name: b\nbuckets:\n  data:\n"
                       "    bucket_name: data\n    public: false\n")
    r = r_first = c.post("/templates/%s/deploy" % bucket, {"project_id": q["id"]})
    assert r.status == 201, r
    assert [(x["kind"], x["name"], x["status"]) for x in r.data["resources"]] == \
        [("bucket", "data", "provisioning")], r
    assert [b["name"] for b in c.get("/buckets?projectId=" + q["id"]).data] == ["data"]
    r = c.post("/templates/%s/deploy" % bucket, {"project_id": q["id"]})
    assert r.status in (400, 409), r
    assert [b["name"] for b in c.get("/buckets?projectId=" + q["id"]).data] == ["data"]
    # The store made (the agent's objstore.provision, then bucket.create): the deploy succeeds.
    td = r_first.data["template_deploy"]
    ag = Agent(c.tenant, srv["agent_token"])
    for kind, result in (("objstore.provision", {"endpoint": "http://127.0.0.1:19000"}),
                         ("bucket.create", {"access_key": "AK1", "secret_key": "sk1"})):
        job = ag.claim()
        while job["kind"] != kind:
            assert ag.call("POST", "/jobs/%s/complete" % job["id"], {"status": "succeeded"}).status == 200
            job = ag.claim()
        assert ag.call("POST", "/jobs/%s/complete" % job["id"],
                       {"status": "succeeded", "result": result}).status == 200
    got = c.get("/template-deploys/" + td["id"]).data
    assert got["status"] == "succeeded" and got["resources"][0]["status"] == "ready", got
    c.post("/databases", {"project_id": p["id"], "name": "shop-db", "type": "postgres"})
    r = c.post("/templates/%s/deploy" % ref, {"project_id": p["id"],
                                               "variables": {"ADMIN_EMAIL": "a@b.c"}})
    assert r.status == 400 and any(d.get("line") for d in r.error["details"]), r
    assert c.get("/applications?projectId=" + p["id"]).data == []
    assert [d["name"] for d in c.get("/databases?projectId=" + p["id"]).data] == ["shop-db"]
    assert c.get("/volumes?projectId=" + p["id"]).data != [] and \
        [v["name"] for v in c.get("/volumes?projectId=" + p["id"]).data] == ["db-shop-db"]
    assert _owner("SELECT count(*) FROM template_deploys WHERE project_id = '%s'" % p["id"]) == ["0"]
    assert_error(c.post("/templates/nope-nope/deploy", {"project_id": p["id"]}), 404, "NOT_FOUND")


def test_export_deploy_export_round_trips():
    import yaml
    c, srv, p = _world()
    ref = _store(c, TEMPLATE)
    r = c.post("/templates/%s/deploy" % ref, {"project_id": p["id"],
                                               "variables": {"ADMIN_EMAIL": "ops@example.com"}})
    assert r.status == 201, r
    first = _export(c, p).data["yaml"]
    doc = yaml.safe_load(first)
    assert doc["metadata"]["name"] == "shop" and doc["variables"]["APP_SECRET"]["length"] == 40, doc
    assert doc["applications"]["web"]["env"]["DATABASE_URL"] == \
        "postgres://${shop-db.user}:${shop-db.password}@${shop-db.host}:${shop-db.port}/${shop-db.database}"
    assert doc["applications"]["worker"]["env"] == {"APP_SECRET": "${APP_SECRET}"}, doc
    # A stored template's name is unique in the tenant: the export (named
    # shop, as what it came from) replaces the first one.
    assert c.delete("/templates/" + ref).status == 204
    q = new_project(c)
    r = c.post("/templates/%s/deploy" % _store(c, first), {"project_id": q["id"]})
    assert r.status == 201, r
    second = _export(c, q).data["yaml"]
    assert second == first, (first, second)


def _one_app(extra, volumes="", name="one"):
    return ("version: \"1.0\"\nmetadata:\n  name: " + name + "\n" + volumes +
            "applications:\n  web:\n    app_type: worker\n" + extra)


def test_a_template_application_passes_the_rest_field_table_and_rule():
    c, srv, p = _world()
    cases = [
        ("    source_type: git\n    repository_url: file:///etc\n",
         "applications.web.repository_url"),
        ("    source_type: docker_image\n    image_url: registry.test/a:1\n    volumes:\n"
         "      - name: v\n        mount_path: /proc/x\n", "applications.web.volumes[0].mount_path"),
        ("    source_type: docker_image\n    image_url: registry.test/a:1\n    volumes:\n"
         "      - name: v\n        mount_path: /a:b\n", "applications.web.volumes[0].mount_path"),
        ("    source_type: docker_image\n    image_url: registry.test/a:1\n    volumes:\n"
         "      - name: v\n        mount_path: /a\n      - name: v\n        mount_path: /a\n",
         "applications.web.volumes[1].mount_path"),
        ("    source_type: git\n    repository_url: https://example.com/r.git\n"
         "    dockerfile_path: ../../etc/passwd\n", "applications.web.dockerfile_path"),
        ("    source_type: git\n    repository_url: https://example.com/r.git\n"
         "    build_context: /etc\n", "applications.web.build_context"),
        ("    source_type: docker_compose\n    replicas: 2\n    compose: |\n      services:\n"
         "        w:\n          image: registry.test/w:1\n", "applications.web.replicas"),
    ]
    for i, (extra, field) in enumerate(cases):
        r = c.post("/templates", {"yaml": _one_app(extra, "volumes:\n  v: {}\n", "one-%d" % i)})
        if r.status == 400:   # the checker itself refuses it: as good
            assert field.split("applications.web.")[1].split("[")[0] in json.dumps(r.error), r
            continue
        r = c.post("/templates/%s/deploy" % r.data["id"], {"project_id": p["id"]})
        assert_error(r, 400, "BAD_REQUEST", field)
        assert c.get("/applications?projectId=" + p["id"]).data == []
        assert c.get("/volumes?projectId=" + p["id"]).data == []
        assert _owner("SELECT count(*) FROM template_deploys WHERE project_id = '%s'"
                      % p["id"]) == ["0"]


def test_depends_on_a_volume_does_not_hold_the_deployment():
    c, srv, p = _world()
    ref = _store(c, _one_app("    source_type: docker_image\n    image_url: registry.test/a:1\n"
                             "    depends_on: [v]\n    volumes:\n      - name: v\n"
                             "        mount_path: /v\n", "volumes:\n  v: {}\n"))
    r = c.post("/templates/%s/deploy" % ref, {"project_id": p["id"]})
    assert r.status == 201, r
    web = r.data["resources"][-1]
    deps = c.get("/deployments?projectId=" + p["id"]).data
    assert [d["status"] for d in deps] == ["deploying"], deps
    assert _jobs("payload->>'app_id' = '%s'" % web["id"]) == ["app.deploy queued"]


def test_a_rollback_keeps_a_volume_a_user_mounted_meanwhile():
    c, srv, p = _world()
    vol, db, web, worker, tid = _three(c, p)
    mine = _app(c, p, "mine", app_type="worker", volumes=[{"name": "data", "mount_path": "/d"}])
    ag = Agent(c.tenant, srv["agent_token"])
    c.post("/applications/%s/deploy" % worker["id"], {})
    job = _claim_for(ag, "database_id", db["id"])
    _complete(ag, job, "succeeded", {"status": "running", "container_id": "ab" * 32})
    job = _claim_for(ag, "app_id", worker["id"])
    _complete(ag, job, "failed", error="no such image")
    st = _deploy_state(c, tid)
    assert st["status"] == "failed" and "volume data" in st["error"] and "mine" in st["error"], st
    assert [a["name"] for a in c.get("/applications?projectId=" + p["id"]).data] == ["mine"]
    assert c.get("/databases?projectId=" + p["id"]).data == []
    assert [v["name"] for v in c.get("/volumes?projectId=" + p["id"]).data] == ["data"]
    assert c.get("/applications/" + mine["id"]).status == 200


def test_deleting_a_resource_while_deploying_fails_the_deploy():
    c, srv, p = _world()
    db = c.post("/databases", {"project_id": p["id"], "name": "main", "type": "postgres"}).data
    worker = _app(c, p, "worker", app_type="worker", depends_on=[db["id"]])
    tid = _record(c, p, [{"kind": "database", "id": db["id"], "name": "main"},
                         {"kind": "application", "id": worker["id"], "name": "worker",
                          "waits_for": [db["id"]]}])
    assert c.delete("/databases/" + db["id"]).status == 204
    st = _deploy_state(c, tid)
    assert st["status"] == "failed" and "database main was deleted" in st["error"], st
    assert c.get("/applications?projectId=" + p["id"]).data == []
    c2, srv2, p2 = _world("td2")
    _, _, web2, _, tid2 = _three(c2, p2)
    assert c2.delete("/applications/" + web2["id"]).status == 204
    st = _deploy_state(c2, tid2)
    assert st["status"] == "failed" and "application web was deleted" in st["error"], st
    assert c2.get("/databases?projectId=" + p2["id"]).data == []
    assert c2.get("/applications?projectId=" + p2["id"]).data == []


def test_a_name_clash_names_the_resource_and_its_line():
    c, srv, p = _world()
    ref = _store(c, TEMPLATE)
    assert c.post("/databases", {"project_id": p["id"], "name": "shop-db",
                                 "type": "postgres"}).status == 201
    r = c.post("/templates/%s/deploy" % ref, {"project_id": p["id"],
                                               "variables": {"ADMIN_EMAIL": "a@b.c"}})
    assert_error(r, 400, "BAD_REQUEST", "databases.shop-db")
    line = TEMPLATE.splitlines().index("  shop-db:") + 1
    assert {d["field"]: d.get("line") for d in r.error["details"]} == {"databases.shop-db": line}, r


def test_who_may_deploy_a_template():
    from lib import Client, make_key, new_user
    c, srv, p = _world()
    ref = _store(c, TEMPLATE)
    body = {"project_id": p["id"], "variables": {"ADMIN_EMAIL": "a@b.c"}}
    ro = Client(c.tenant, key=make_key(c, scopes=["read"])["key"])
    assert_error(ro.post("/templates/%s/deploy" % ref, body), 403, "FORBIDDEN")
    viewer = new_user(c)
    assert c.post("/projects/%s/members" % p["id"], {"user_id": viewer.user_id,
                                                     "role": "viewer"}).status == 201
    assert_error(viewer.post("/templates/%s/deploy" % ref, body), 403, "FORBIDDEN")
    other = new_project(c)
    bound = Client(c.tenant, key=make_key(c, scopes=["read", "write"], project_id=other["id"])["key"])
    r = bound.post("/templates/%s/deploy" % ref, body)
    assert r.status in (403, 404), r
    o, _ = registered("td-stranger")
    q = new_project(o)
    assert_error(o.post("/templates/%s/deploy" % ref, {"project_id": q["id"],
                                                       "variables": {"ADMIN_EMAIL": "a@b.c"}}),
                 404, "NOT_FOUND")
    assert c.get("/applications?projectId=" + p["id"]).data == []
    assert _owner("SELECT count(*) FROM template_deploys WHERE project_id IN ('%s', '%s')"
                  % (p["id"], q["id"])) == ["0"]


COMPOSE = """services:
  web:
    image: registry.test/web:v1
    ports: ["8080:80"]
    environment:
      GREETING: hello
  worker:
    image: registry.test/worker:1
"""


def _round_trip(c, p, rename):
    """export(p) -> stored as `rename` -> deployed into a new project ->
    export: the two documents, metadata aside."""
    import yaml
    first = yaml.safe_load(_export(c, p).data["yaml"])
    first["metadata"]["name"] = rename
    ref = _store(c, yaml.safe_dump(first, sort_keys=False))
    q = new_project(c)
    r = c.post("/templates/%s/deploy" % ref, {"project_id": q["id"]})
    assert r.status == 201, (rename, r)
    second = yaml.safe_load(_export(c, q).data["yaml"])
    return first, second


def test_export_deploy_export_round_trips_every_gallery_template_and_compose_and_git():
    import glob
    import os
    from lib import REPO
    c, srv, p = _world()
    done = 0
    for path in sorted(glob.glob(os.path.join(REPO, "conf", "templates", "*", "*", "template.yaml"))):
        slug = os.path.basename(os.path.dirname(path))
        with open(path) as f:
            text = f.read()
        r = c.post("/templates/validate", {"yaml": text})
        assert r.status == 200, (slug, r)
        plan = r.data["plan"]
        if any(x["kind"] == "bucket" for x in plan["resources"]):
            continue   # an export has no buckets yet
        given = {v["name"]: "ops@example.com" for v in plan["variables"] if v.get("required")}
        g = new_project(c)
        r = c.post("/templates/%s/deploy" % slug, {"project_id": g["id"], "variables": given})
        assert r.status == 201, (slug, r)
        first, second = _round_trip(c, g, "rt-" + slug)
        assert second == first, (slug, first, second)
        done += 1
    assert done >= 7, done
    # A compose application and a git one, with what a template can say.
    h = new_project(c)
    db = c.post("/databases", {"project_id": h["id"], "name": "main", "type": "postgres",
                               "cpu_limit": 0.5, "memory_limit": 256 << 20})
    assert db.status == 201, db
    c.post("/volumes", {"project_id": h["id"], "name": "data"})
    r = c.post("/applications", {"project_id": h["id"], "name": "stack", "source_type":
                                 "docker_compose", "compose": COMPOSE})
    assert r.status == 201, r
    r = c.post("/applications", {"project_id": h["id"], "name": "site", "source_type": "git",
                                 "repository_url": "https://example.com/site.git", "branch": "dev",
                                 "dockerfile_path": "docker/Dockerfile", "build_context": "app",
                                 "start_command": "./run --fast", "restart_policy": "on-failure",
                                 "exposed_port": 3000,
                                 "volumes": [{"name": "data", "mount_path": "/d", "mode": "ro"}]})
    assert r.status == 201, r
    first, second = _round_trip(c, h, "rt-mixed")
    assert second == first, (first, second)
    site, stack = first["applications"]["site"], first["applications"]["stack"]
    assert stack["compose"] == COMPOSE and stack["source_type"] == "docker_compose", stack
    assert (site["dockerfile_path"], site["build_context"], site["start_command"],
            site["restart_policy"], site["volumes"]) == (
        "docker/Dockerfile", "app", "./run --fast", "on-failure",
        [{"name": "data", "mount_path": "/d", "mode": "ro"}]), site
    assert first["databases"]["main"] == {"type": "postgres", "cpu_limit": "0.5",
                                          "memory_limit": "256M"}, first


def test_an_exported_secret_length_is_one_the_checker_takes():
    import yaml
    c, srv, p = _world()
    a = _app(c, p, "web", app_type="worker")
    for key, n in (("LONG", 300), ("OK", 256)):
        r = c.post("/env-vars", {"project_id": p["id"], "scope": "application", "scope_id": a["id"],
                                 "key": key, "value": "a" * n, "is_secret": True})
        assert r.status == 201, r
    text = _export(c, p).data["yaml"]
    doc = yaml.safe_load(text)
    assert doc["variables"]["LONG"]["length"] == 32 and doc["variables"]["OK"]["length"] == 256, doc
    assert c.post("/templates/validate", {"yaml": text}).status == 200
