"""Default hostnames (sql/059_hostnames.sql): applications', functions' (with
an http trigger) and public buckets' `<name>-<project>.<base_domain>` come
from one installation-wide choice, so no two owners of any kind share one; a
taken name gets the next candidate (`-` and six hex digits), and the `hostname`
/ `url` fields, `${fn.<name>.url}` and the job payloads (so the edge sites)
carry the stored name.  Renames, a lost http trigger, a private bucket and
deletes free a name.  No agent: the module reads the jobs' payloads (what the
edge sites are written from) and answers the claims itself."""
import re
import uuid

from lib import assert_error, new_project, psql, registered
from test_servers import Agent, _server

CODE = "exports.handler = async () => ({status: 200, body: 'hi'});\n"
STORE = {"driver": "rgw", "endpoint": "http://s3.example.test:7480",
         "admin_access_key": "admin-ak", "admin_secret_key": "admin-secret-value-1"}


def _owner(sql):
    return psql(sql, user="launcher_owner")


def _world(domain, project=None):
    """A tenant, its server on domain (with an object store), a project."""
    c, _ = registered("hn")
    srv = _server(c, base_domain=domain)
    r = c.put("/servers/%s/object-store" % srv["id"], STORE)
    assert r.status == 200, r
    return c, srv, new_project(c, name=project or "p-" + uuid.uuid4().hex[:8])


def _app(c, p, name):
    r = c.post("/applications", {"name": name, "project_id": p["id"], "source_type": "docker_image",
                                 "image_url": "registry.test/web:v1", "exposed_port": 8080})
    assert r.status == 201, r
    return r.data


def _fn(c, p, name, http=True):
    r = c.post("/functions", {"project_id": p["id"], "name": name, "runtime": "node20",
                              "source": {"code": CODE},
                              "triggers": [{"type": "http"}] if http else []})
    assert r.status == 201, r
    return r.data


def _bucket(c, p, name, **body):
    body.update(project_id=p["id"], name=name)
    r = c.post("/buckets", body)
    assert r.status == 201, r
    return r.data


def _suffixed(host, label, domain):
    return re.fullmatch(r"%s-[0-9a-f]{6}\.%s" % (re.escape(label), re.escape(domain)), host)


def _domain():
    return "h%s.test" % uuid.uuid4().hex[:6]


def test_an_application_and_a_function_of_one_name_get_different_hostnames():
    domain = _domain()
    c, srv, p = _world(domain)
    label = "api-" + p["name"]
    a = _app(c, p, "api")
    f = _fn(c, p, "api")
    assert a["hostname"] == "%s.%s" % (label, domain), a
    assert _suffixed(f["hostname"], label, domain), f
    assert f["url"] == "http://" + f["hostname"], f
    # Both shown as they are stored.
    assert c.get("/applications/" + a["id"]).data["hostname"] == a["hostname"]
    got = c.get("/functions/" + f["id"]).data
    assert (got["hostname"], got["url"]) == (f["hostname"], f["url"]), got
    assert [x["hostname"] for x in c.get("/functions?projectId=" + p["id"]).data] == [f["hostname"]]
    # The deploy job (the edge site's server_name) carries the stored name.
    r = c.post("/functions/%s/deploy" % f["id"])
    assert r.status == 202, r
    payload = Agent(c.tenant, srv["agent_token"]).claim()["payload"]
    assert (payload["function_id"], payload["hostname"]) == (f["id"], f["hostname"]), payload
    # ${fn.api.url} is the function's url, not the application's.
    env = {e["name"]: e["id"] for e in c.get("/projects/%s/environments" % p["id"]).data}
    r = c.post("/env-vars/preview", {"project_id": p["id"], "environment_id": env["production"],
                                     "env": {"FN": "${fn.api.url}/x"}})
    assert r.status == 200 and r.data == {"FN": f["url"] + "/x"}, r
    # The other way round: a function first, then the application.
    f2 = _fn(c, p, "web")
    a2 = _app(c, p, "web")
    assert f2["hostname"] == "web-%s.%s" % (p["name"], domain), f2
    assert _suffixed(a2["hostname"], "web-" + p["name"], domain), a2
    # A function without an http trigger has no hostname and takes no name.
    f3 = _fn(c, p, "jobs", http=False)
    assert (f3["hostname"], f3["url"]) == (None, None), f3
    assert _app(c, p, "jobs")["hostname"] == "jobs-%s.%s" % (p["name"], domain)
    r = c.post("/env-vars/preview", {"project_id": p["id"], "environment_id": env["production"],
                                     "env": {"J": "${fn.jobs.url}"}})
    assert_error(r, 400, "BAD_REQUEST", field="J")
    assert "no http trigger" in str(r.error["details"]), r
    # The chooser sees every tenant: only the triggers run it, not the API role.
    try:
        psql("SELECT hostname_pick(id, name, project_id, server_id) FROM functions", tenant=c.tid)
        raise AssertionError("the API role ran hostname_pick")
    except RuntimeError as e:
        assert "permission denied" in str(e), e


def test_dashes_split_differently_across_projects_and_tenants():
    """fn "a-b" of project "<t>", fn "a" of project "b-<t>" in another tenant,
    app "a" of a project "b-<t>" in a third one, and a project renamed into
    the same shape: one name each."""
    domain, tag = _domain(), "cc" + uuid.uuid4().hex[:6]
    c1, _, p1 = _world(domain, project=tag)
    c2, _, p2 = _world(domain, project="b-" + tag)
    f1 = _fn(c1, p1, "a-b")
    f2 = _fn(c2, p2, "a")
    assert f1["hostname"] == "a-b-%s.%s" % (tag, domain), f1
    assert _suffixed(f2["hostname"], "a-b-" + tag, domain), f2
    c3, _, p3 = _world(domain, project="b-" + tag)
    a3 = _app(c3, p3, "a")
    assert a3["hostname"] not in (f1["hostname"], f2["hostname"]), a3
    assert _suffixed(a3["hostname"], "a-b-" + tag, domain), a3
    # A rename of a project chooses again without a collision: "x-<t>" -> "b-<t>".
    c4, _, p4 = _world(domain, project="x-" + tag)
    f4 = _fn(c4, p4, "a")
    assert f4["hostname"] == "a-x-%s.%s" % (tag, domain), f4
    r = c4.put("/projects/" + p4["id"], {"name": "b-" + tag})
    assert r.status == 200, r
    h4 = c4.get("/functions/" + f4["id"]).data["hostname"]
    assert h4 not in (f1["hostname"], f2["hostname"], a3["hostname"]), h4
    assert _suffixed(h4, "a-b-" + tag, domain), h4
    # The database holds each name once across the three kinds.
    assert _owner("SELECT count(*) FROM (SELECT hostname FROM applications UNION ALL"
                  " SELECT hostname FROM functions UNION ALL SELECT hostname FROM buckets) h"
                  " WHERE hostname IS NOT NULL GROUP BY hostname HAVING count(*) > 1") == []


def test_a_bucket_made_public_gets_a_free_name_and_private_frees_it():
    domain = _domain()
    c, srv, p = _world(domain)
    label = "media-" + p["name"]
    a = _app(c, p, "media")
    b = _bucket(c, p, "media")
    assert b["url"] is None, b
    ag = Agent(c.tenant, srv["agent_token"])
    job = ag.claim()
    assert job["kind"] == "bucket.create", job
    r = ag.call("POST", "/jobs/%s/complete" % job["id"],
                {"status": "succeeded", "result": {"access_key": "AKHN1", "secret_key": "sk-hn-1"}})
    assert r.status == 200, r
    etag = c.get("/buckets/" + b["id"]).headers["etag"]
    r = c.put("/buckets/" + b["id"], {"public": True}, headers={"If-Match": etag})
    assert r.status == 200, r
    host = r.data["url"][len("http://"):]
    assert host != a["hostname"] and _suffixed(host, label, domain), r
    job = ag.claim()
    assert job["kind"] == "bucket.public" and job["payload"]["hostname"] == host, job
    # A bucket public from its creation is given a free name at once.
    b2 = _bucket(c, p, "logs", public=True)
    assert b2["url"] == "http://logs-%s.%s" % (p["name"], domain), b2
    f = _fn(c, p, "logs")
    assert _suffixed(f["hostname"], "logs-" + p["name"], domain), f
    # Private again: the name is free for the next owner.
    r = c.put("/buckets/" + b2["id"], {"public": False},
              headers={"If-Match": c.get("/buckets/" + b2["id"]).headers["etag"]})
    assert r.status == 200 and r.data["url"] is None, r
    assert _owner("SELECT count(*) FROM buckets WHERE id = '%s' AND hostname IS NULL" % b2["id"]) == ["1"]
    assert _app(c, p, "logs")["hostname"] == "logs-%s.%s" % (p["name"], domain)


def test_a_custom_domain_equal_to_a_functions_hostname_is_refused():
    domain = _domain()
    c, _, p = _world(domain)
    a = _app(c, p, "site")
    f = _fn(c, p, "hook")
    assert f["hostname"].endswith("." + domain), f
    r = c.post("/domains", {"application_id": a["id"], "hostname": f["hostname"]})
    assert_error(r, 400, "BAD_REQUEST", field="hostname")
    assert c.get("/domains?projectId=" + p["id"]).data == []


def test_renames_deletes_and_a_lost_http_trigger_free_the_name():
    domain = _domain()
    c, _, p = _world(domain)
    plain = lambda n: "%s-%s.%s" % (n, p["name"], domain)  # noqa: E731
    f = _fn(c, p, "svc")
    assert f["hostname"] == plain("svc"), f
    # A rename frees the old name.
    r = c.put("/functions/" + f["id"], {"name": "svc2"})
    assert r.status == 200 and r.data["hostname"] == plain("svc2"), r
    assert _app(c, p, "svc")["hostname"] == plain("svc")
    # A delete frees it.
    assert c.delete("/functions/" + f["id"]).status == 204
    assert _app(c, p, "svc2")["hostname"] == plain("svc2")
    # Losing the http trigger frees it; getting one back chooses again.
    g = _fn(c, p, "edge")
    r = c.put("/functions/" + g["id"], {"triggers": [{"type": "cron", "schedule": "* * * * *"}]})
    assert r.status == 200 and (r.data["hostname"], r.data["url"]) == (None, None), r
    a = _app(c, p, "edge")
    assert a["hostname"] == plain("edge"), a
    r = c.put("/functions/" + g["id"], {"triggers": [{"type": "http"}]})
    assert r.status == 200 and _suffixed(r.data["hostname"], "edge-" + p["name"], domain), r
    # A function written a taken name by hand gets the chosen one back.
    psql("UPDATE functions SET hostname = '%s' WHERE id = '%s'" % (a["hostname"], g["id"]), tenant=c.tid)
    assert c.get("/functions/" + g["id"]).data["hostname"] != a["hostname"]
    # An application deleted frees its name, here for a public bucket.
    assert c.delete("/applications/" + a["id"]).status == 204
    assert _bucket(c, p, "edge", public=True)["url"] == "http://" + plain("edge")
