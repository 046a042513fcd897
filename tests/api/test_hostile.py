"""What a hostile probe of the running stack found (issue 11 §6), one case
each through nginx, the pool and PostgreSQL: hostnames that two projects
could share, bodies the pool does not read, nginx's own errors, NUL and
invalid UTF-8 inside JSON strings, unvalidated volume entries."""
import http.client
import json
import re
import socket
import ssl
import threading
import uuid

from lib import HTTPS_PORT, HTTP_PORT, _ctx, assert_error, new_project, psql, registered, request
from test_servers import _server


def _sql(sql):
    return "\n".join(psql(sql, user="launcher_owner"))


def _app(c, p, name, **body):
    body.update(name=name, project_id=p["id"], source_type="docker_image",
                image_url="registry.test/web:v1", exposed_port=8080)
    r = c.post("/applications", body)
    assert r.status == 201, r
    return r.data


# ----------------------------------------------------------- hostnames

def test_two_projects_never_share_a_hostname():
    tag = "cc" + uuid.uuid4().hex[:6]
    domain = "h%s.test" % uuid.uuid4().hex[:6]
    c1, _ = registered("host")
    c2, _ = registered("host")
    _server(c1, base_domain=domain)
    _server(c2, base_domain=domain)
    a1 = _app(c1, new_project(c1, name=tag), "a-b")
    assert a1["hostname"] == "a-b-%s.%s" % (tag, domain), a1
    # Another tenant: app "a" in project "b-<tag>" would make the same name.
    a2 = _app(c2, new_project(c2, name="b-" + tag), "a")
    assert a2["hostname"] != a1["hostname"], a2
    assert re.fullmatch(r"a-b-%s-[0-9a-f]{6}\.%s" % (tag, re.escape(domain)), a2["hostname"]), a2
    assert a2["default_url"] == "http://" + a2["hostname"], a2
    # The same tenant, a third project of the same shape.
    a3 = _app(c1, new_project(c1, name="b-" + tag), "a")
    assert a3["hostname"] not in (a1["hostname"], a2["hostname"]), a3
    # Stable: reading it again, or changing something else, keeps the name.
    r = c2.put("/applications/" + a2["id"], {"replicas": 2})
    assert r.status == 200 and r.data["hostname"] == a2["hostname"], r
    assert c1.get("/applications/" + a1["id"]).data["hostname"] == a1["hostname"]
    # The database refuses a duplicate written by hand, in any tenant.
    assert _sql("SELECT count(*) FROM applications WHERE hostname IN ('%s', '%s', '%s')"
                % (a1["hostname"], a2["hostname"], a3["hostname"])) == "3"
    psql("UPDATE applications SET hostname = '%s' WHERE id = '%s'" % (a1["hostname"], a2["id"]),
         tenant=c2.tid)
    assert c2.get("/applications/" + a2["id"]).data["hostname"] != a1["hostname"]
    assert _sql("SELECT count(*) FROM (SELECT hostname FROM applications WHERE hostname IS NOT NULL"
                " GROUP BY hostname HAVING count(*) > 1) d") == "0"
    # The name the deploy job carries to the agent is the stored one.
    assert _sql("SELECT app_hostname(a) FROM applications a WHERE id = '%s'" % a2["id"]) == a2["hostname"]


def test_a_renamed_project_or_domain_renames_its_hosts_without_collisions():
    tag = "rn" + uuid.uuid4().hex[:6]
    domain = "h%s.test" % uuid.uuid4().hex[:6]
    c, _ = registered("host")
    s = _server(c, base_domain=domain)
    p1 = new_project(c, name=tag)
    a1 = _app(c, p1, "a-b")
    p2 = new_project(c, name="x-" + tag)
    a2 = _app(c, p2, "a")
    # Renaming p2 to "b-<tag>" would give a2 the name a1 holds.
    r = c.put("/projects/" + p2["id"], {"name": "b-" + tag})
    assert r.status == 200, r
    h2 = c.get("/applications/" + a2["id"]).data["hostname"]
    assert h2 != a1["hostname"] and h2.startswith("a-b-%s-" % tag), h2
    r = c.put("/servers/" + s["id"], {"base_domain": "n" + domain})
    assert r.status == 200, r
    assert c.get("/applications/" + a1["id"]).data["hostname"] == "a-b-%s.n%s" % (tag, domain)


def test_concurrent_creations_of_one_name_get_different_hostnames():
    tag = "cx" + uuid.uuid4().hex[:6]
    domain = "h%s.test" % uuid.uuid4().hex[:6]
    clients = []
    for i in range(6):
        c, _ = registered("host")
        _server(c, base_domain=domain)
        clients.append((c, new_project(c, name=tag)))
    got = [None] * len(clients)

    def go(i):
        c, p = clients[i]
        got[i] = c.post("/applications", {"name": "web", "project_id": p["id"], "source_type": "docker_image",
                                          "image_url": "registry.test/web:v1", "exposed_port": 8080})
    ts = [threading.Thread(target=go, args=(i,)) for i in range(len(clients))]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert all(r.status == 201 for r in got), got
    names = [r.data["hostname"] for r in got]
    assert len(set(names)) == len(names), names
    assert "web-%s.%s" % (tag, domain) in names, names
