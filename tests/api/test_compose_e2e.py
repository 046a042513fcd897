"""docker_compose applications end to end (README "docker-compose
applications"): the real plane, the real agent, the stack's Podman and nginx.
One stack, deployed once and reused: a web service (the busybox httpd test
image, tests/fixtures/build.sh), a worker and PostgreSQL (both the local
Debian-built postgres image of tests/fixtures/dbimages.sh, written postgres:15
and mapped by the site's image mirror table), web waiting for
the database's healthcheck.  Then a redeploy with a broken service image that
leaves the old stack serving, a second release and a rollback of the whole
stack."""
import time
import urllib.parse

from lib import assert_error, image_mirrors, new_user
from test_agent_e2e import _wait
from test_deploy_e2e import F, World, _deploy, _finished, app_containers, edge_get, engine

PG_PASSWORD = "pg-secret-" + "q7Wz" * 5


def _need_fixtures():
    if not (F.get("FIXTURE_WEB_V1_IMAGE") and F.get("FIXTURE_DB_POSTGRES_IMAGE")):
        raise AssertionError("fixtures missing (FIXTURE_WEB_V1_IMAGE, FIXTURE_DB_POSTGRES_IMAGE): "
                             "run through tests/run.sh")


def _stack(web_image, worker_image=None):
    pg = "postgres:15"      # the site's image mirror table maps it to the local image
    return """\
services:
  web:
    image: %s
    ports: ["8080"]
    environment:
      APP_MESSAGE: "${GREETING} from compose"
    depends_on:
      db:
        condition: service_healthy
  worker:
    image: %s
    entrypoint: ["/bin/sh", "-c"]
    command: ["trap 'exit 0' TERM; until pg_isready -q -h db -p 5432; do sleep 0.3; done; echo reached db; while :; do sleep 1; done"]
    depends_on: [db]
  db:
    image: %s
    environment:
      POSTGRES_PASSWORD: "${DB_PASSWORD}"
    volumes: ["pgdata:/var/lib/postgresql/data"]
    healthcheck:
      test: ["CMD-SHELL", "pg_isready -q -h 127.0.0.1 -p 5432"]
      interval: 1s
      timeout: 3s
      retries: 100
volumes:
  pgdata:
""" % (web_image, worker_image or pg, pg)


class Stack:
    """The one compose application of this module, deployed once."""
    _s = None

    @classmethod
    def get(cls):
        if cls._s is None:
            try:
                cls._s = cls()
            except Exception as e:      # once: the other tests fail with the same reason
                cls._s = e
        if isinstance(cls._s, Exception):
            raise AssertionError("the stack did not come up: %s" % cls._s)
        return cls._s

    def __init__(self):
        _need_fixtures()
        self.w = w = World.get()
        image_mirrors({"postgres:15": F["FIXTURE_DB_POSTGRES_IMAGE"]})
        for k, v in (("DB_PASSWORD", PG_PASSWORD), ("GREETING", "hello")):
            r = w.c.post("/env-vars", {"project_id": w.project["id"], "key": k, "value": v})
            assert r.status == 201, r
        r = w.c.post("/applications", {"name": "shop", "project_id": w.project["id"],
                                       "source_type": "docker_compose",
                                       "compose": _stack(F["FIXTURE_WEB_V1_IMAGE"]),
                                       "healthcheck_path": "/health", "healthcheck_timeout_seconds": 60})
        assert r.status == 201, r
        self.app = r.data
        t0 = time.time()
        self.dep = _deploy(w, self.app)
        print("compose stack of 3 services deployed in %.1f s" % (time.time() - t0))
        timeline(w, self.dep)


def timeline(w, dep):
    """Prints when the deployment's milestones came, from its first log line."""
    logs = w.c.get("/applications/%s/build-logs?deploymentId=%s" % (dep["application_id"], dep["id"])).data
    marks = ("runs in", "is healthy", "health check passed", "switching traffic", "is live", "stopping")
    t0 = None
    for x in logs:
        t = time.mktime(time.strptime(x["timestamp"][:19], "%Y-%m-%dT%H:%M:%S")) + float("0." + (
            x["timestamp"][20:].rstrip("Z") or "0"))
        t0 = t0 or t
        if any(m in x["message"] for m in marks):
            print("  +%5.1f s %s" % (t - t0, x["message"][:100]))


def test_compose_stack_deploys_web_answers_and_worker_reaches_the_database():
    s = Stack.get()
    w, a, d = s.w, s.app, s.dep
    host = a["hostname"]
    assert edge_get(host) == (200, "v1\n")
    assert edge_get(host, "/cgi-bin/message") == (200, "hello from compose\n")
    logs = [x["message"] for x in w.c.get("/deployments/%s/logs" % d["id"]).data]
    assert any("service db is healthy" in m for m in logs), logs
    # db started first, web only once db was healthy.
    order = [m for m in logs if m.startswith("service ") and " runs in " in m]
    assert [m.split()[1] for m in order] == ["db", "web", "worker"], logs
    assert not any(PG_PASSWORD in m for m in logs), logs
    # One container per service, labelled with it, on the project network under its name.
    cs = {c["Labels"]["launcher.service"]: c for c in app_containers(a["id"], all_=False)}
    assert set(cs) == {"web", "worker", "db"}, cs
    for name, c in cs.items():
        assert c["Labels"]["launcher.deployment"] == d["id"] and "-%s-" % name in c["Names"][0], c
        st, doc = engine("GET", "/containers/%s/json" % c["Id"])
        nets = doc["NetworkSettings"]["Networks"]
        assert list(nets) == ["lnchr-net-" + w.project["id"]], nets
        assert name in (nets["lnchr-net-" + w.project["id"]].get("Aliases") or []), nets
        published = [b for bs in (doc["HostConfig"].get("PortBindings") or {}).values() for b in bs or []]
        assert (name == "web") == bool(published), (name, published)     # only web is published
    # The named volume is an engine volume with the plane's labels.
    st, doc = engine("GET", "/containers/%s/json" % cs["db"]["Id"])
    mounts = [m for m in doc["Mounts"] if m["Destination"] == "/var/lib/postgresql/data"]
    assert mounts and mounts[0]["Name"].startswith("lnchr-vol-"), doc["Mounts"]
    st, vol = engine("GET", "/volumes/" + mounts[0]["Name"])
    assert vol["Labels"]["launcher.managed"] == "1" and vol["Labels"]["launcher.tenant"] == w.c.tid, vol
    # Instances: every service; runtime logs: the worker's line, by its instance.
    _wait("3 instances", lambda: len(w.c.get("/applications/%s/instances" % a["id"]).data) == 3, 20)
    names = sorted(i["name"] for i in w.c.get("/applications/%s/instances" % a["id"]).data)
    assert [n.split("-")[3] for n in names] == ["db", "web", "worker"], names

    def reached():
        r = w.c.get("/applications/%s/runtime-logs?q=%s" % (a["id"], urllib.parse.quote("reached db")))
        return [x for x in r.data if x["instance"]] if r.status == 200 else None
    line = _wait("the worker's runtime log to show it reached the database", reached, 30)[0]
    assert "-worker-" in line["instance"] and line["container_id"].startswith(cs["worker"]["Id"][:12]), line
    app = w.c.get("/applications/" + a["id"]).data
    assert app["status"] == "running" and app["exposed_port"] == 8080, app


def test_privileged_is_refused_for_a_non_superadmin_and_accepted_for_the_superadmin():
    s = Stack.get()
    w = s.w
    text = "services:\n  tool:\n    image: %s\n    privileged: true\n" % F["FIXTURE_WEB_V1_IMAGE"]
    body = {"name": "priv", "project_id": w.project["id"], "source_type": "docker_compose",
            "app_type": "worker", "compose": text}
    admin = new_user(w.c, role="admin")
    r = admin.post("/applications", body)
    assert_error(r, 400, "BAD_REQUEST", "compose.services.tool.privileged")
    r = w.c.post("/applications", body)
    assert r.status == 201, r
    assert w.c.delete("/applications/" + r.data["id"]).status == 204


def test_broken_service_image_fails_the_redeploy_and_the_old_stack_serves_then_rollback():
    s = Stack.get()
    w, a, first = s.w, s.app, s.dep
    host = a["hostname"]
    broken = _stack(F["FIXTURE_WEB_V1_IMAGE"], worker_image="localhost/launcher-test/nope:missing")
    assert w.c.put("/applications/" + a["id"], {"compose": broken}).status == 200
    d = _deploy(w, a, want="failed")
    assert "worker" in d["error"], d
    assert edge_get(host) == (200, "v1\n")
    live = app_containers(a["id"], all_=False)
    assert len(live) == 3 and {c["Labels"]["launcher.deployment"] for c in live} == {first["id"]}, live
    assert not [c for c in app_containers(a["id"]) if c["Labels"]["launcher.deployment"] == d["id"]]
    # A second release (web v2), then the rollback re-applies the first stack whole.
    assert w.c.put("/applications/" + a["id"], {"compose": _stack(F["FIXTURE_WEB_V2_IMAGE"])}).status == 200
    t0 = time.time()
    second = _deploy(w, a)
    print("redeploy (recreate: the db mounts a volume) in %.1f s" % (time.time() - t0))
    timeline(w, second)
    _wait("v2", lambda: edge_get(host) == (200, "v2\n"), 20)
    assert second["strategy"] == "recreate", second
    r = w.c.post("/applications/%s/rollback" % a["id"], {})
    assert r.status == 201 and r.data["rollback_of"] == first["id"], r
    back = _finished(w, r.data["id"])
    assert back["status"] == "succeeded", (back, w.c.get("/deployments/%s/logs" % back["id"]).data[-20:])
    _wait("v1 again", lambda: edge_get(host) == (200, "v1\n"), 20)
    live = app_containers(a["id"], all_=False)
    assert {c["Labels"]["launcher.service"] for c in live} == {"web", "worker", "db"}, live
    assert {c["Labels"]["launcher.deployment"] for c in live} == {back["id"]}, live
    logs = [x["message"] for x in w.c.get("/deployments/%s/logs" % back["id"]).data]
    assert not any(" pull" in m.lower() for m in logs), logs     # the release's image ids, no pull


def test_waiting_for_a_healthy_service_is_bounded_by_the_healthcheck_timeout():
    s = Stack.get()
    w = s.w
    text = ("services:\n  gate:\n    image: %s\n    healthcheck: {test: [CMD, 'false'], interval: 1s,"
            " retries: 100}\n  after:\n    image: %s\n    depends_on: {gate: {condition: service_healthy}}\n"
            % (F["FIXTURE_WEB_V1_IMAGE"], F["FIXTURE_WEB_V1_IMAGE"]))
    r = w.c.post("/applications", {"name": "gate", "project_id": w.project["id"], "source_type": "docker_compose",
                                   "app_type": "worker", "compose": text, "healthcheck_timeout_seconds": 5})
    assert r.status == 201, r
    t0 = time.time()
    d = _deploy(w, r.data, want="failed")
    assert "gate was not healthy within 5 s" in d["error"], d
    assert time.time() - t0 < 60, "the wait ended at the application's healthcheck timeout"
    assert w.c.delete("/applications/" + r.data["id"]).status == 204
