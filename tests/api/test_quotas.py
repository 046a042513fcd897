"""Per-tenant quotas (sql/018_quotas.sql): an operator sets a tenant's
limits with launcher-admin; a create beyond one is 403 quota_exceeded,
names the limit and creates nothing, also under concurrent creates."""
import os
import subprocess
import threading
import time

from lib import STATE, admin, assert_error, pgpass, psql, registered, tenant_sql


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


def _psql_session(tid):
    """An open psql session as the API role in tenant tid (stdin is a pipe)."""
    env = dict(os.environ, PGPASSWORD=pgpass("launcher_api"))
    p = subprocess.Popen(["psql", "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1",
                          "-h", os.path.join(STATE, "pg", "sock"), "-p", os.environ.get("LAUNCHER_PG_PORT", "5488"),
                          "-U", "launcher_api", "-d", "launcher"],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    p.stdin.write("SET search_path = launcher; %s\n" % tenant_sql(tid))
    return p


def test_the_last_slot_goes_to_one_transaction_only():
    """Two transactions racing for the last slot, made to overlap: the
    second waits on the tenant's quota lock until the first commits, then
    counts its row and is refused."""
    c, _ = registered()
    admin("quota", "set", c.tenant, "projects", "1")
    a = _psql_session(c.tid)
    a.stdin.write("BEGIN; INSERT INTO projects (name) VALUES ('first');\n\\echo inserted\n")
    a.stdin.flush()
    assert a.stdout.readline().strip() == "inserted"
    b = _psql_session(c.tid)
    b.stdin.write("INSERT INTO projects (name) VALUES ('second');\n")
    b.stdin.close()
    deadline = time.time() + 20
    while time.time() < deadline and b.poll() is None:
        waiting = psql("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted",
                       user="launcher_owner")
        if waiting == ["1"]:
            break
        time.sleep(0.05)
    a.stdin.write("COMMIT;\n")
    a.stdin.close()
    assert a.wait(20) == 0, a.stderr.read()
    assert b.wait(20) != 0, "the second insert was not refused"
    assert "quota_exceeded" in b.stderr.read()
    assert _count("projects", c.tid) == 1
