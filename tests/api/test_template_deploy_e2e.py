"""A template deploy's rollback end to end (sql/048_template_deploys.sql):
the real plane, the real launcher-agent and the stack's Podman.  A
template with a PostgreSQL database (tests/fixtures/dbimages.sh), a
volume and two applications, one of whose image does not exist: the
database runs, the applications' deployments start only then, the broken
one fails, and afterwards nothing of the deploy is left: no row, no
container and no engine volume with the plane's labels of the project."""
import json
import urllib.parse

from lib import psql
from test_agent_e2e import _wait
from test_databases_e2e import World, _need_fixtures
from test_deploy_e2e import F, engine

TIMEOUT = 300


def _labelled(what, project_id):
    flt = urllib.parse.quote(json.dumps({"label": ["launcher.project=" + project_id]}))
    st, out = engine("GET", ("/containers/json?all=1&filters=" if what == "containers" else
                             "/volumes?filters=") + flt)
    assert st == 200, out
    return out if what == "containers" else (out.get("Volumes") or [])


def test_a_broken_image_rolls_the_whole_deploy_back():
    _need_fixtures()
    w = World.get()
    c, p = w.c, w.project
    text = """version: "1.0"
metadata:
  name: broken-shop
databases:
  store:
    type: postgres
volumes:
  files:
    size_limit: 104857600
applications:
  web:
    app_type: web
    source_type: docker_image
    image_url: %s
    exposed_ports: [8080]
    healthcheck_path: /health
    depends_on: [store]
    volumes:
      - name: files
        mount_path: /files
    env:
      STORE_HOST: ${store.host}
  broken:
    app_type: worker
    source_type: docker_image
    image_url: %s/launcher-test/does-not-exist:v9
    env:
      STORE_URL: postgres://${store.user}:${store.password}@${store.host}:${store.port}/${store.database}
""" % (F["FIXTURE_REGISTRY_WEB_V1"], F["FIXTURE_REGISTRY"])
    ref = c.post("/templates", {"yaml": text})
    assert ref.status == 201, ref
    r = c.post("/templates/%s/deploy" % ref.data["id"], {"project_id": p["id"]})
    assert r.status == 201, r
    tid = r.data["template_deploy"]["id"]
    db_id = [o["id"] for o in r.data["resources"] if o["kind"] == "database"][0]

    def finished():
        d = c.get("/template-deploys/" + tid).data
        return d if d["status"] != "deploying" else None
    d = _wait("the template deploy to finish", finished, TIMEOUT)
    assert d["status"] == "failed" and "broken" in d["error"], d
    assert "does-not-exist" in d["error"], d
    # The database had run before any deployment started (event-driven hold).
    started = psql("SELECT count(*) FROM jobs WHERE kind = 'db.provision' AND status = 'succeeded'"
                   " AND payload->>'database_id' = '%s'" % db_id, user="launcher_owner")
    assert started == ["1"], started
    # No row of the deploy is left.
    for path in ("/applications", "/databases", "/volumes"):
        assert c.get("%s?projectId=%s" % (path, p["id"])).data == [], path
    assert {x["status"] for x in d["resources"]} == {"removed"}, d

    # The removal jobs run: no container, no engine volume of the project.
    def removals():
        return psql("SELECT kind || ' ' || status || ' ' || coalesce(error, '') FROM jobs"
                    " WHERE kind IN ('app.remove', 'db.remove', 'volume.remove')"
                    " AND payload->>'project_id' = '%s' AND status <> 'succeeded'" % p["id"],
                    user="launcher_owner")

    def clean():
        return not _labelled("containers", p["id"]) and not _labelled("volumes", p["id"]) and \
            all(" queued " not in j and " running " not in j for j in removals())
    _wait("the project's containers and volumes to be removed", clean, TIMEOUT)
    assert removals() == [], removals()
