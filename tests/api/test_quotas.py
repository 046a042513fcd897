"""Per-tenant quotas (sql/018_quotas.sql): an operator sets a tenant's
limits with launcher-admin; a create beyond one is 403 quota_exceeded,
names the limit and creates nothing, also under concurrent creates."""
import threading

from lib import admin, assert_error, psql, registered


def _count(table, tid):
    return int(psql("SELECT count(*) FROM %s WHERE tenant_id = '%s'" % (table, tid),
                    user="launcher_owner")[0])


def test_project_quota_refuses_the_next_create_and_creates_nothing():
    c, _ = registered()
    assert admin("quota", "set", c.tenant, "projects", "2") == "%s projects 2" % c.tenant
    for name in ("p1", "p2"):
        r = c.post("/projects", {"name": name})
        assert r.status == 201, r
    r = c.post("/projects", {"name": "p3"})
    assert_error(r, 403, "FORBIDDEN")
    assert r.error["message"].startswith("quota_exceeded"), r
    assert "at most 2 projects" in r.error["message"], r
    assert _count("projects", c.tid) == 2
    assert [p["name"] for p in c.get("/projects").data] == ["p1", "p2"]
    # A deleted project frees its slot; an operator's "unlimited" lifts the limit.
    r = c.delete("/projects/" + c.get("/projects").data[0]["id"])
    assert r.status == 204, r
    assert c.post("/projects", {"name": "p3"}).status == 201
    assert c.post("/projects", {"name": "p4"}).status == 403
    admin("quota", "set", c.tenant, "projects", "unlimited")
    assert c.post("/projects", {"name": "p4"}).status == 201


def test_application_quota():
    c, _ = registered()
    admin("quota", "set", c.tid, "applications", "1")
    assert c.post("/servers", {"name": "srv"}).status == 201
    p = c.post("/projects", {"name": "apps"}).data

    def app(name):
        return c.post("/applications", {"project_id": p["id"], "name": name, "source_type": "docker_image",
                                        "image_url": "registry.example.com/web:1", "exposed_port": 8080})

    assert app("one").status == 201
    r = app("two")
    assert_error(r, 403, "FORBIDDEN")
    assert "quota_exceeded" in r.error["message"] and "at most 1 applications" in r.error["message"], r
    assert _count("applications", c.tid) == 1


def test_concurrent_creates_never_pass_the_limit():
    c, _ = registered()
    admin("quota", "set", c.tenant, "projects", "3")
    got = []

    def go(i):
        got.append(c.post("/projects", {"name": "race-%d" % i}).status)

    ts = [threading.Thread(target=go, args=(i,)) for i in range(8)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert sorted(got) == [201] * 3 + [403] * 5, got
    assert _count("projects", c.tid) == 3


def test_limits_are_the_tenants_own():
    a, _ = registered()
    b, _ = registered()
    admin("quota", "set", a.tenant, "projects", "0")
    assert_error(a.post("/projects", {"name": "x"}), 403, "FORBIDDEN")
    assert b.post("/projects", {"name": "x"}).status == 201
    out = admin("quota", "list", a.tenant).splitlines()
    assert out[0].split()[:3] == ["projects", "0", "(tenant)"], out
    # Back to the installation's default (config quota_projects, 100 unless set).
    admin("quota", "set", a.tenant, "projects", "default")
    assert admin("quota", "list", a.tenant).splitlines()[0].split()[:3] == ["projects", "100", "(default)"]
    assert a.post("/projects", {"name": "x"}).status == 201
    # The API role reads its tenant's limits but cannot change them.
    try:
        psql("UPDATE quotas SET max_count = NULL", tenant=a.tid)
        raise AssertionError("the API role changed a quota")
    except RuntimeError as e:
        assert "permission denied" in str(e), e
