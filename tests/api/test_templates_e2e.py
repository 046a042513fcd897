"""Templates end to end (API.md §13): every template of the built-in gallery
(conf/templates/, the lnchr-templates fixtures) deploys through
POST /templates/<slug>/deploy into its own project, with the real plane, the
real launcher-agent, the stack's Podman, the database images of
tests/fixtures/dbimages.sh and stand-ins of the applications' images
(tests/fixtures/template_apps.sh: small busybox images serving HTTP on each
template's port and health path), to which the run's image mirror table
maps every image name the templates write (lib.image_mirrors).

Every resource of the plan (POST /templates/validate) exists and reaches
running, every web application answers through the edge (the stack's nginx,
Host header of its hostname) with its env references resolved, and keeps its
image as written.  A template's buckets (minio) are made in the server's
object store, the suite's radosgw.  (A template whose image cannot
be pulled, rolled back entirely: test_template_deploy_e2e.py.)  The deploys
are posted at once; the agent runs one job at a time,
the plane orders each template's jobs (an application waits for what it
depends on)."""
import glob
import json
import os
import shlex
import subprocess
import threading
import time
import urllib.parse

from lib import REPO, image_mirrors, new_project, psql, stack_env
from test_agent_e2e import _wait
from test_databases_e2e import IMAGES as DB_IMAGES
from test_deploy_e2e import F, EdgeAgent, edge_get, engine
from test_deploy_e2e import World as DeployWorld

TEMPLATES = os.path.join(REPO, "conf", "templates")
DEPLOY_TIMEOUT = 600
# Types the templates use, and where the database tests take their images.
NEEDED_DB = dict(DB_IMAGES, clickhouse="FIXTURE_DB_CLICKHOUSE_IMAGE")


class World(DeployWorld):
    """The deploy tests' world; the stand-in images built and mapped once."""
    _w = None
    agent_class = EdgeAgent

    def __init__(self):
        super().__init__()
        missing = [v for v in NEEDED_DB.values() if not F.get(v)]
        if missing:
            raise AssertionError("database images missing (%s): run through tests/run.sh" % ", ".join(missing))
        out = subprocess.run(["bash", os.path.join(REPO, "tests", "fixtures", "template_apps.sh"),
                              "--engine-socket", stack_env()["LAUNCHER_ENGINE_SOCKET"],
                              "--registry", F["LAUNCHER_TEST_REGISTRY"]],
                             capture_output=True, text=True, timeout=900)
        assert out.returncode == 0, out.stderr[-3000:]
        env = dict(line[len("export "):].split("=", 1) for line in out.stdout.splitlines()
                   if line.startswith("export "))
        self.images = json.loads(shlex.split(env["FIXTURE_TPL_IMAGES"])[0])
        self.ports = json.loads(shlex.split(env["FIXTURE_TPL_PORTS"])[0])
        image_mirrors(self.images)
        # Template buckets (minio's) go into the suite's radosgw, the server's store.
        if not F.get("S3_TEST_ENDPOINT"):
            raise AssertionError("S3_TEST_ENDPOINT missing (radosgw): run through tests/run.sh")
        r = self.c.put("/servers/%s/object-store" % self.server["id"], {
            "driver": "rgw", "endpoint": F["S3_TEST_ENDPOINT"], "admin_access_key":
            F["S3_TEST_ACCESS_KEY"], "admin_secret_key": F["S3_TEST_SECRET_KEY"]})
        assert r.status == 200, r


def _gallery():
    """{slug: yaml text} of every built-in template (conf/templates/<category>/<slug>/)."""
    files = sorted(glob.glob(os.path.join(TEMPLATES, "*", "*", "template.yaml")))
    assert files, "no template in %s" % TEMPLATES
    out = {}
    for f in files:
        with open(f) as fh:
            out[os.path.basename(os.path.dirname(f))] = fh.read()
    return out


def _owner(sql):
    return psql(sql, user="launcher_owner")


def _plan(w, text):
    r = w.c.post("/templates/validate", {"yaml": text})
    assert r.status == 200, r
    plan = r.data.get("plan", r.data)
    assert isinstance(plan.get("resources"), list), plan
    return plan


def _deploy(w, ref, project):
    return w.c.post("/templates/%s/deploy" % ref, {"project_id": project["id"], "server_id": w.server["id"]})


def _settled(w, td_id, timeout=DEPLOY_TIMEOUT):
    def done():
        r = w.c.get("/template-deploys/" + td_id)
        assert r.status == 200, r
        return r.data if r.data["status"] in ("succeeded", "failed") else None
    return _wait("template deploy %s to finish" % td_id, done, timeout)


def _path(kind):
    return {"application": "applications", "database": "databases", "volume": "volumes",
            "bucket": "buckets"}[kind]


def _jobs_of_project(pid):
    return _owner("SELECT kind || ' ' || status || ' ' || coalesce(left(error, 300), '') FROM jobs"
                  " WHERE project_id = '%s' ORDER BY created_at, id" % pid)


def _check_template(w, slug, plan, project, td):
    """Every planned resource exists in the project and runs; web apps answer at the edge."""
    made = {(x["kind"], x["name"]): x for x in td["resources"]}
    want = {(x["kind"], x["name"]) for x in plan["resources"]}
    assert set(made) == want, (slug, sorted(made), sorted(want))
    for res in plan["resources"]:
        got = made[(res["kind"], res["name"])]
        r = w.c.get("/%s/%s" % (_path(res["kind"]), got["id"]))
        assert r.status == 200 and r.data["project_id"] == project["id"], (slug, res, r)
        obj = r.data
        if res["kind"] in ("database", "application"):
            assert obj["status"] == "running", (slug, res["name"], obj["status"], _jobs_of_project(project["id"])[-10:])
        if res["kind"] == "bucket":
            _wait("bucket %s to be made" % obj["name"], lambda: w.c.get("/buckets/" + obj["id"]).data[
                "status"] != "provisioning", 60)
            b = w.c.get("/buckets/" + obj["id"]).data
            assert b["status"] == "ready" and b["public"] == res["spec"]["public"], (slug, b)
        if res["kind"] == "database":
            assert obj["type"] == res["spec"]["type"], (slug, obj)
        if res["kind"] != "application":
            continue
        spec = res["spec"]
        assert obj["image_url"] == spec["image_url"], ("the app keeps its image as written", obj)
        st, out = engine("GET", "/containers/json?filters=" + urllib.parse.quote(
            json.dumps({"label": ["launcher.app=" + obj["id"]], "status": ["running"]})))
        assert st == 200 and len(out) == spec.get("replicas", 1), (slug, res["name"], out)
        # What ran is the stand-in (the deployment records what the agent pulled).
        dep = w.c.get("/deployments/" + obj["current_deployment_id"]).data
        assert dep["image"] == w.images[spec["image_url"]], (slug, dep)
        if spec.get("app_type") == "worker":
            continue
        host = obj["hostname"]
        assert obj["default_url"] == "http://" + host, obj
        slug_of = w.images[spec["image_url"]].rsplit("/tpl-", 1)[1].split(":")[0]
        assert edge_get(host, "/", timeout=10) == (200, "tpl-%s\n" % slug_of), (slug, host)
        if spec.get("healthcheck_path"):
            assert edge_get(host, spec["healthcheck_path"], timeout=10) == (200, "ok\n"), (slug, host)
        st, env = edge_get(host, "/cgi-bin/env", timeout=10)
        assert st == 200 and "${" not in env, (slug, env)
        for k, v in spec.get("env", {}).items():
            if "${" not in v:
                assert "%s=%s\n" % (k, v) in env, (slug, k, env)
        databases = [x for x in plan["resources"] if x["kind"] == "database" and x["name"] in
                     res.get("depends_on", [])]
        for d in databases:
            host_of = w.c.get("/databases/" + made[("database", d["name"])]["id"]).data["internal_host"]
            assert host_of in env, ("a reference to %s resolved" % d["name"], env)


def test_every_gallery_template_deploys_and_answers():
    w = World.get()
    gallery = _gallery()
    t0 = time.time()
    plans = {slug: _plan(w, text) for slug, text in gallery.items()}
    # Every image a template deploys has its stand-in.
    for slug, plan in plans.items():
        for res in plan["resources"]:
            if res["kind"] == "application":
                img = res["spec"]["image_url"]
                assert img in w.images, "%s: no stand-in for %s (tests/fixtures/template_apps.sh)" % (slug, img)
                if res["spec"].get("exposed_port"):
                    assert w.ports[img] == res["spec"]["exposed_port"], (slug, img)
    projects = {slug: new_project(w.c) for slug in gallery}
    answers = {}

    def go(slug):
        answers[slug] = _deploy(w, slug, projects[slug])

    threads = [threading.Thread(target=go, args=(s,)) for s in gallery]
    [t.start() for t in threads]
    [t.join() for t in threads]
    started = {}
    for slug, r in answers.items():
        assert r.status == 201, (slug, r)
        td = r.data["template_deploy"]
        assert td["status"] in ("deploying", "succeeded"), (slug, td)
        assert len(r.data["resources"]) == len(plans[slug]["resources"]), (slug, r.data)
        started[slug] = td["id"]
    for slug, td_id in started.items():
        td = _settled(w, td_id)
        assert td["status"] == "succeeded", (slug, td, _jobs_of_project(projects[slug]["id"])[-15:])
        _check_template(w, slug, plans[slug], projects[slug], td)
    print("templates e2e: %d templates deployed and checked in %.0f s" % (len(started), time.time() - t0))
