"""docker_compose applications on the plane (API.md §4; README "docker-compose
applications"): the compose file checked at create and update (every bad key
named with its line, the host-escape keys a superadmin's only), normalised
into the stack the deploy job carries, the services' env resolved and sealed
per service, and a rollback that re-applies the whole stack.  This test
speaks the agent API itself; the real agent and containers are in
test_compose_e2e.py."""
import uuid

from lib import Client, assert_error, make_key, new_user, psql
from test_applications import _finish, _setup
from test_servers import Agent

WEB_DB = """\
version: "3.8"
name: shop
x-common: &common
  restart: always
services:
  web:
    <<: *common
    image: registry.test/web:v1
    ports: ["8080:80"]
    environment:
      GREETING: hello
      DATABASE_HOST: db
    depends_on:
      db:
        condition: service_healthy
    volumes: [data:/srv/data]
  worker:
    image: registry.test/worker:1
    command: sh -c 'echo "working hard"; sleep 1000'
    environment: ["MODE=batch", "SHARED"]
    depends_on: [db]
  db:
    image: postgres:15
    environment: {POSTGRES_PASSWORD: "${DB_PASSWORD}"}
    healthcheck:
      test: ["CMD", "pg_isready", "-q"]
      interval: 1s
      timeout: 2s
      retries: 30
      start_period: 1m
volumes:
  data:
"""


def _sql(sql):
    return "\n".join(psql(sql, user="launcher_owner"))


def _compose(c, p, text, **body):
    body.setdefault("name", "c-" + uuid.uuid4().hex[:8])
    body.setdefault("project_id", p["id"])
    body["source_type"] = "docker_compose"
    body["compose"] = text
    return c.post("/applications", body)


def _fields(r):
    """field -> "line L: message": a compose detail has the templates' shape
    {field, message, line, column} (yaml_detail)."""
    for d in r.error["details"]:
        if d["field"].startswith("compose."):
            assert set(d) == {"field", "message", "line", "column"} and "line " not in d["message"], d
    return {d["field"]: "line %s: %s" % (d.get("line"), d["message"]) for d in r.error["details"]}


def test_compose_app_is_created_normalised_and_its_web_port_exposed():
    c, s, p = _setup()
    r = _compose(c, p, WEB_DB)
    assert r.status == 201, r
    a = r.data
    assert a["source_type"] == "docker_compose" and a["compose"] == WEB_DB, a
    # The one service with ports is the web service: its container port is the app's.
    assert a["exposed_port"] == 80 and a["replicas"] == 1, a
    spec = _sql("SELECT compose_spec::text FROM applications WHERE id = '%s'" % a["id"])
    import json
    spec = json.loads(spec)
    assert spec["web_service"] == "web" and spec["port"] == 80 and spec["volumes"] == ["data"], spec
    # Start order: db before web and worker; YAML order otherwise.
    assert [x["name"] for x in spec["services"]] == ["db", "web", "worker"], spec
    web = spec["services"][1]
    assert web["restart"] == "always" and web["port"] == 80, web    # the merge key applied
    assert web["depends_on"] == [{"service": "db", "condition": "service_healthy"}], web
    assert web["volumes"] == [{"name": "data", "mount_path": "/srv/data", "read_only": False}], web
    worker = spec["services"][2]
    assert worker["command"] == ["sh", "-c", 'echo "working hard"; sleep 1000'], worker
    assert worker["environment"] == {"MODE": "batch"}, worker     # SHARED: the env store's
    db = spec["services"][0]
    assert db["healthcheck"] == {"test": ["pg_isready", "-q"], "interval_ms": 1000, "timeout_ms": 2000,
                                 "start_period_ms": 60000, "retries": 30}, db
    # An exposed_port that is not the web service's is refused.
    assert_error(_compose(c, p, WEB_DB, exposed_port=8080), 400, "BAD_REQUEST", "exposed_port")
    assert_error(_compose(c, p, WEB_DB, replicas=2), 400, "BAD_REQUEST", "replicas")
    assert_error(c.post("/applications", {"name": "nocompose", "project_id": p["id"],
                                          "source_type": "docker_compose"}), 400, "BAD_REQUEST", "compose")


def test_bad_compose_files_are_400_naming_every_key_with_its_line():
    c, s, p = _setup()
    before = _sql("SELECT count(*) FROM applications")
    cases = [
        ("services:\n  web:\n    image: a/b\n    build: .\n", "compose.services.web.build", "line 4"),
        ("services:\n  web:\n    image: a/b\n    env_file: .env\n", "compose.services.web.env_file", "line 4"),
        ("services:\n  web:\n    image: a/b\n    tty: true\n", "compose.services.web.tty", "line 4"),
        ("services:\n  web:\n    image: a/b\n    depends_on: [nope]\n", "compose.services.web.depends_on",
         "nope is not a service"),
        ("services:\n  a:\n    image: x/a\n    depends_on: [b]\n  b:\n    image: x/b\n    depends_on: [a]\n",
         "compose.services.a.depends_on", "cycle"),
        ("services:\n  web:\n    image: a/b\n    volumes: [data:/d]\n", "compose.services.web.volumes",
         "declared under the top-level volumes"),
        ("services:\n  web:\n    image: a/b\n    ports: [80]\n  api:\n    image: a/c\n    ports: [81]\n",
         "compose.services.api.ports", "only one service"),
        ("services:\n  web:\n    image: a/b\n    depends_on:\n      db: {condition: service_healthy}\n"
         "  db:\n    image: x/db\n", "compose.services.web.depends_on", "needs a healthcheck"),
        ("networks: {front: {}}\nservices:\n  web:\n    image: a/b\n", "compose.networks", "line 1"),
        ("services:\n  web: {image: a/b, ports: [80]\n", "compose", "not valid YAML"),
        ("services:\n  Web:\n    image: a/b\n", "compose.services.Web", "service names"),
        ("services:\n  web:\n    ports: [80]\n", "compose.services.web.image", "is required"),
        ("services:\n  web:\n    image: a/b\n    environment: {1BAD: x}\n",
         "compose.services.web.environment.1BAD", "variable name"),
        ("services:\n  web:\n    image: a/b\n    environment: ['%s=x']\n" % ("K" * 300),
         "compose.services.web.environment", "at most 255"),
    ]
    for text, field, words in cases:
        r = _compose(c, p, text, app_type="worker")
        assert_error(r, 400, "BAD_REQUEST", field)
        assert words in _fields(r)[field], (text, r.error)
    # A key of 256 bytes is no variable name (the one check of the env store).
    r = _compose(c, p, "services:\n  web:\n    image: a/b\n    environment: {%s: x}\n" % ("K" * 256),
                 app_type="worker")
    assert r.status == 400 and any(f.startswith("compose.services.web.environment.KKK") and "at most 255" in m
                                   for f, m in _fields(r).items()), r.error
    # Every problem of one file at once.
    r = _compose(c, p, "services:\n  web:\n    image: a/b\n    build: .\n    privileged: true\n"
                       "    foo: 1\n", app_type="worker")
    assert {"compose.services.web.build", "compose.services.web.foo"} <= set(_fields(r)), r.error
    # web needs a web service, worker none.
    assert_error(_compose(c, p, "services:\n  w:\n    image: a/b\n"), 400, "BAD_REQUEST", "compose")
    assert_error(_compose(c, p, "services:\n  w:\n    image: a/b\n    ports: [80]\n", app_type="worker"),
                 400, "BAD_REQUEST", "compose")
    assert _sql("SELECT count(*) FROM applications") == before


ESCAPES = [
    ("privileged: true", "privileged"),
    ("network_mode: host", "network_mode"),
    ("cap_add: [NET_ADMIN]", "cap_add"),
    ("devices: ['/dev/kmsg:/dev/kmsg']", "devices"),
    ("pid: host", "pid"),
    ("ipc: host", "ipc"),
    ("userns_mode: host", "userns_mode"),
    ("security_opt: ['seccomp=unconfined']", "security_opt"),
    ("sysctls: {net.core.somaxconn: '1024'}", "sysctls"),
    ("volumes: ['/etc:/host-etc:ro']", "volumes"),
]


def test_host_escape_keys_are_refused_unless_superadmin():
    c, s, p = _setup()
    admin = new_user(c, role="admin")       # every project's owner, but not superadmin
    for line, key in ESCAPES:
        text = "services:\n  web:\n    image: a/b\n    %s\n" % line
        r = _compose(admin, p, text, app_type="worker")
        field = "compose.services.web.%s" % key
        assert_error(r, 400, "BAD_REQUEST", field)
        assert "line 4" in _fields(r)[field] and ("sandbox" in _fields(r)[field]), r.error
        # The superadmin may: the key reaches the engine as HostConfig.
        r = _compose(c, p, text, app_type="worker")
        assert r.status == 201, (line, r)
    host = _sql("SELECT compose_spec->'services'->0->'host' FROM applications WHERE id = '%s'" % r.data["id"])
    assert '"Binds": ["/etc:/host-etc:ro"]' in host, host
    # extra_hosts is not a way out (a decision): anyone.
    r = _compose(admin, p, "services:\n  web:\n    image: a/b\n    extra_hosts: ['db.example:10.0.0.5']\n",
                 app_type="worker")
    assert r.status == 201, r
    # An update is checked the same way, with the caller's role.
    r = admin.put("/applications/" + r.data["id"], {"compose": "services:\n  web:\n    image: a/b\n"
                                                               "    privileged: true\n"})
    assert_error(r, 400, "BAD_REQUEST", "compose.services.web.privileged")


def test_update_replaces_the_stack_and_only_compose_apps_take_compose():
    c, s, p = _setup()
    a = _compose(c, p, WEB_DB).data
    r = c.put("/applications/" + a["id"], {"compose": "services:\n  site:\n    image: a/b\n    ports: ['9000']\n"})
    assert r.status == 200, r
    assert r.data["exposed_port"] == 9000, r.data
    assert _sql("SELECT compose_spec->>'web_service' FROM applications WHERE id = '%s'" % a["id"]) == "site"
    assert_error(c.put("/applications/" + a["id"], {"compose": None}), 400, "BAD_REQUEST", "compose")
    # app_type is checked against the stack it keeps: a worker publishes nothing.
    assert_error(c.put("/applications/" + a["id"], {"app_type": "worker"}), 400, "BAD_REQUEST", "compose")
    img = c.post("/applications", {"name": "img", "project_id": p["id"], "source_type": "docker_image",
                                   "image_url": "a/b", "exposed_port": 80}).data
    assert_error(c.put("/applications/" + img["id"], {"compose": WEB_DB}), 400, "BAD_REQUEST", "compose")
    assert_error(c.post("/applications/%s/scale" % a["id"], {"replicas": 2}), 409, "CONFLICT")


def test_deploy_job_carries_the_stack_env_per_service_and_rollback_reapplies_it():
    c, s, p = _setup()
    agent = Agent(c.tenant, s["agent_token"])
    assert c.post("/env-vars", {"project_id": p["id"], "key": "DB_PASSWORD",
                                "value": "pw-" + "x" * 20}).status == 201
    assert c.post("/env-vars", {"project_id": p["id"], "key": "SHARED", "value": "everyone"}).status == 201
    a = _compose(c, p, WEB_DB).data
    r = c.post("/applications/%s/deploy" % a["id"], {})
    assert r.status == 201, r
    dep1 = r.data
    assert dep1["image"] == "registry.test/web:v1", dep1
    job = agent.claim()
    src = job["payload"]["source"]
    assert src["type"] == "compose" and src["web_service"] == "web", src
    assert [x["name"] for x in src["services"]] == ["db", "web", "worker"], src
    vol = src["services"][1]["volumes"][0]
    assert vol["name"] == "data" and len(vol["volume_id"]) == 36, vol
    env = job["payload"]["env"]
    # The store applies to every service; a service's own entries win; references resolve.
    assert env["db.POSTGRES_PASSWORD"] == "pw-" + "x" * 20, env
    assert env["worker.SHARED"] == env["web.SHARED"] == env["db.SHARED"] == "everyone", env
    assert env["web.GREETING"] == "hello" and env["worker.MODE"] == "batch" and "db.GREETING" not in env, env
    # Nothing of the env is stored in the job's payload.
    assert "x" * 20 not in _sql("SELECT payload::text FROM jobs WHERE id = '%s'" % job["id"])
    images = {"db": "sha256:" + "1" * 64, "web": "sha256:" + "2" * 64, "worker": "sha256:" + "3" * 64}
    _finish(agent, job, image="registry.test/web:v1", image_id=images["web"], images=images,
            strategy="recreate", instances=[])
    assert c.get("/deployments/" + dep1["id"]).data["status"] == "succeeded"
    # A second release with another stack, then the rollback brings the first back whole.
    assert c.put("/applications/" + a["id"], {"compose": "services:\n  web:\n    image: a/b:2\n"
                                                          "    ports: [80]\n"}).status == 200
    r = c.post("/applications/%s/deploy" % a["id"], {})
    assert r.status == 201, r
    job2 = agent.claim()
    assert [x["name"] for x in job2["payload"]["source"]["services"]] == ["web"], job2
    _finish(agent, job2, image="a/b:2", image_id="sha256:" + "4" * 64, images={"web": "sha256:" + "4" * 64},
            instances=[])
    r = c.post("/applications/%s/rollback" % a["id"], {})
    assert r.status == 201 and r.data["rollback_of"] == dep1["id"], r
    job3 = agent.claim()
    src3 = job3["payload"]["source"]
    assert src3["type"] == "compose" and src3["images"] == images, src3
    assert [x["name"] for x in src3["services"]] == ["db", "web", "worker"], src3
    assert job3["payload"]["env"]["db.POSTGRES_PASSWORD"] == "pw-" + "x" * 20
    # A bad reference in a service's environment: 400 naming it, nothing queued.
    _finish(agent, job3, image_id=images["web"], images=images, instances=[])
    b = _compose(c, p, "services:\n  w:\n    image: a/b\n    environment: {U: '${db.nope.url}'}\n",
                 app_type="worker").data
    r = c.post("/applications/%s/deploy" % b["id"], {})
    assert_error(r, 400, "BAD_REQUEST", "compose.services.w.environment.U")


PRIVILEGED = "services:\n  web:\n    image: a/b\n    privileged: true\n"


def test_host_escape_needs_a_superadmin_session_or_unbound_admin_key():
    c, s, p = _setup()
    bound = Client(c.tenant, key=make_key(c, scopes=["read", "write", "admin"], project_id=p["id"])["key"])
    nonadmin = Client(c.tenant, key=make_key(c, scopes=["read", "write"])["key"])
    for k in (bound, nonadmin):
        assert_error(_compose(k, p, PRIVILEGED, app_type="worker"), 400, "BAD_REQUEST",
                     "compose.services.web.privileged")
    unbound = Client(c.tenant, key=make_key(c, scopes=["read", "write", "admin"])["key"])
    assert _compose(unbound, p, PRIVILEGED, app_type="worker").status == 201


def test_no_shell_command_or_rollback_into_a_privileged_stack_without_the_right():
    c, s, p = _setup()
    agent = Agent(c.tenant, s["agent_token"])
    member = new_user(c)
    assert c.post("/projects/%s/members" % p["id"], {"user_id": member.user_id, "role": "admin"}).status == 201
    bound = Client(c.tenant, key=make_key(c, scopes=["read", "write", "admin"], project_id=p["id"])["key"])
    a = _compose(c, p, PRIVILEGED, app_type="worker").data
    r = c.post("/applications/%s/deploy" % a["id"], {})
    assert r.status == 201, r
    dep1 = r.data
    _finish(agent, agent.claim(), image="a/b", image_id="sha256:" + "1" * 64, images={"web": "sha256:" + "1" * 64},
            instances=[])
    for who in (member, bound):
        assert_error(who.post("/applications/%s/exec" % a["id"], {"command": ["id"]}), 403, "FORBIDDEN")
        assert_error(who.post("/applications/%s/terminal" % a["id"]), 403, "FORBIDDEN")
    assert c.post("/applications/%s/exec" % a["id"], {"command": ["id"]}).status == 202
    agent.claim()
    # The stack without host settings: the member may deploy and exec, not bring the old one back.
    assert c.put("/applications/" + a["id"], {"compose": "services:\n  web:\n    image: a/b:2\n"}).status == 200
    r = member.post("/applications/%s/deploy" % a["id"], {})
    assert r.status == 201, r
    _finish(agent, agent.claim(), image="a/b:2", image_id="sha256:" + "2" * 64,
            images={"web": "sha256:" + "2" * 64}, instances=[])
    assert member.post("/applications/%s/exec" % a["id"], {"command": ["id"]}).status == 202
    agent.claim()
    for body in ({}, {"deployment_id": dep1["id"]}):
        assert_error(member.post("/applications/%s/rollback" % a["id"], body), 403, "FORBIDDEN")
    r = c.post("/applications/%s/rollback" % a["id"], {})
    assert r.status == 201 and r.data["rollback_of"] == dep1["id"], r


def test_the_compose_file_shows_only_to_writers_and_no_environment_is_stored_in_the_clear():
    c, s, p = _setup()
    agent = Agent(c.tenant, s["agent_token"])
    viewer = new_user(c)
    assert c.post("/projects/%s/members" % p["id"], {"user_id": viewer.user_id, "role": "viewer"}).status == 201
    reader = Client(c.tenant, key=make_key(c, scopes=["read"])["key"])
    a = _compose(c, p, WEB_DB).data
    assert a["compose"] == WEB_DB
    assert c.get("/applications/" + a["id"]).data["compose"] == WEB_DB
    assert [x["compose"] for x in c.get("/applications?projectId=" + p["id"]).data] == [WEB_DB]
    for who in (viewer, reader):
        assert who.get("/applications/" + a["id"]).data["compose"] is None
        assert [x["compose"] for x in who.get("/applications?projectId=" + p["id"]).data] == [None]
    assert c.post("/env-vars", {"project_id": p["id"], "key": "DB_PASSWORD", "value": "pw"}).status == 201
    assert c.post("/applications/%s/deploy" % a["id"], {}).status == 201
    job = agent.claim()
    assert all("environment" not in x for x in job["payload"]["source"]["services"]), job
    assert job["payload"]["env"]["web.GREETING"] == "hello"
    stored = _sql("SELECT d.source::text || j.payload::text FROM deployments d JOIN jobs j ON j.id = '%s'"
                  " WHERE d.application_id = '%s'" % (job["id"], a["id"]))
    assert "hello" not in stored and "GREETING" not in stored, stored


def test_bind_mounts_in_every_form_and_reserved_names_are_refused_and_compose_deploys_take_no_image_url():
    c, s, p = _setup()
    admin = new_user(c, role="admin")
    for vol in ("{type: bind, source: /srv, target: /x}", "'./x:/y'", "'~/x:/y'", "'/etc:/y'"):
        r = _compose(admin, p, "services:\n  web:\n    image: a/b\n    volumes: [%s]\n" % vol, app_type="worker")
        assert_error(r, 400, "BAD_REQUEST", "compose.services.web.volumes")
    for name in ("db-main-0123abcd", "lnchr-web"):
        assert_error(_compose(c, p, "services:\n  %s:\n    image: a/b\n" % name, app_type="worker"),
                     400, "BAD_REQUEST", "compose.services." + name)
    a = _compose(c, p, "services:\n  web:\n    image: a/b\n", app_type="worker").data
    r = c.post("/applications/%s/deploy" % a["id"], {"image_url": "evil/image:1"})
    assert_error(r, 400, "BAD_REQUEST", "image_url")
    assert _sql("SELECT count(*) FROM deployments WHERE application_id = '%s'" % a["id"]) == "0"


def test_put_of_exposed_port_or_replicas_keeps_a_stack_consistent():
    c, s, p = _setup()
    a = _compose(c, p, WEB_DB).data
    assert a["exposed_port"] == 80 and a["replicas"] == 1, a
    assert_error(c.put("/applications/" + a["id"], {"exposed_port": 1234}), 400, "BAD_REQUEST", "exposed_port")
    assert_error(c.put("/applications/" + a["id"], {"replicas": 3}), 400, "BAD_REQUEST", "replicas")
    assert_error(c.put("/applications/" + a["id"], {"replicas": 0}), 400, "BAD_REQUEST", "replicas")
    r = c.put("/applications/" + a["id"], {"exposed_port": 80, "replicas": 1})
    assert r.status == 200 and r.data["exposed_port"] == 80 and r.data["replicas"] == 1, r
    # Other source types are not concerned.
    img = c.post("/applications", {"name": "img", "project_id": p["id"], "source_type": "docker_image",
                                   "image_url": "a/b", "exposed_port": 80}).data
    r = c.put("/applications/" + img["id"], {"exposed_port": 81, "replicas": 2})
    assert r.status == 200 and r.data["exposed_port"] == 81, r
