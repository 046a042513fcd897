"""Environment variables as one encrypted store (API.md section 9,
sql/020_env_vars.sql): the table's own guarantees (scope, limit under
concurrency, pending_deploy for exactly the applications a scope covers)."""
import threading
import uuid

from lib import psql, registered, tenant_sql

SEALED = "not-a-real-ciphertext"


def _setup():
    c, _ = registered("env")
    assert c.post("/servers", {"name": "srv"}).status == 201
    p = c.post("/projects", {"name": "envp"}).data
    envs = c.get("/projects/%s/environments" % p["id"]).data
    default = [e for e in envs if e["is_default"]][0]
    other = [e for e in envs if e["name"] == "staging"][0]
    apps = {}
    for name, env in (("a1", default), ("a2", default), ("b1", other)):
        r = c.post("/applications", {"project_id": p["id"], "environment_id": env["id"], "name": name,
                                     "source_type": "docker_image", "image_url": "registry.example.com/w:1",
                                     "exposed_port": 8080})
        assert r.status == 201, r
        apps[name] = r.data
    return c, p, default, other, apps


def _sql(c, sql):
    return psql(sql, tenant=c.tid)


def _versions(c, apps):
    rows = _sql(c, "SELECT name, env_version FROM applications ORDER BY name")
    return {n: int(v) for n, v in (r.split("|") for r in rows)}


def _insert(c, p, scope, sid, key, extra=""):
    col = {"project": "", "environment": ", environment_id", "application": ", application_id"}[scope]
    val = {"project": "", "environment": ", '%s'" % sid, "application": ", '%s'" % sid}[scope]
    return _sql(c, "INSERT INTO env_vars (project_id, scope, key, value_sealed, value_length%s)"
                   " VALUES ('%s', '%s', '%s', '%s', 1%s) %s"
                % (col, p["id"], scope, key, SEALED, val, extra))


def test_schema_scopes_limits_and_pending_deploy():
    c, p, default, other, apps = _setup()
    v0 = _versions(c, apps)
    # Each scope bumps exactly the applications it covers, once per statement.
    _insert(c, p, "project", None, "P1")
    v1 = _versions(c, apps)
    assert {k: v1[k] - v0[k] for k in v0} == {"a1": 1, "a2": 1, "b1": 1}
    _insert(c, p, "environment", default["id"], "E1")
    v2 = _versions(c, apps)
    assert {k: v2[k] - v1[k] for k in v1} == {"a1": 1, "a2": 1, "b1": 0}
    _insert(c, p, "application", apps["b1"]["id"], "A1")
    v3 = _versions(c, apps)
    assert {k: v3[k] - v2[k] for k in v2} == {"a1": 0, "a2": 0, "b1": 1}
    # A re-encryption (value_sealed alone, row_version kept) marks nothing;
    # a change with a new row_version does; a description alone does not.
    _sql(c, "UPDATE env_vars SET value_sealed = 'x' || value_sealed WHERE key = 'E1'")
    assert _versions(c, apps) == v3
    _sql(c, "UPDATE env_vars SET description = 'd', row_version = row_version + 1 WHERE key = 'E1'")
    assert _versions(c, apps) == v3
    _sql(c, "UPDATE env_vars SET value_sealed = 'y', row_version = row_version + 1 WHERE key = 'E1'")
    v4 = _versions(c, apps)
    assert {k: v4[k] - v3[k] for k in v3} == {"a1": 1, "a2": 1, "b1": 0}
    _sql(c, "DELETE FROM env_vars WHERE key = 'A1'")
    v5 = _versions(c, apps)
    assert {k: v5[k] - v4[k] for k in v4} == {"a1": 0, "a2": 0, "b1": 1}
    # One key per scope; the same key in another scope is another variable.
    try:
        _insert(c, p, "project", None, "P1")
        raise AssertionError("duplicate key accepted")
    except RuntimeError as e:
        assert "env_vars_key_key" in str(e), e
    _insert(c, p, "environment", other["id"], "P1")
    # A scope of another project, or a row moved to another scope: refused.
    q = c.post("/projects", {"name": "other"}).data
    for scope, sid in (("environment", default["id"]), ("application", apps["a1"]["id"])):
        try:
            _sql(c, "INSERT INTO env_vars (project_id, scope, %s_id, key, value_sealed, value_length)"
                    " VALUES ('%s', '%s', '%s', 'K', 's', 1)" % (scope, q["id"], scope, sid))
            raise AssertionError("foreign scope accepted")
        except RuntimeError as e:
            assert "is not an %s of this project" % scope in str(e), e
    try:
        _sql(c, "UPDATE env_vars SET scope = 'environment', environment_id = '%s' WHERE key = 'P1'"
                " AND scope = 'project'" % other["id"])
        raise AssertionError("moved")
    except RuntimeError as e:
        assert "cannot move" in str(e), e


def test_schema_limit_of_a_scope_holds_under_concurrent_inserts():
    c, p, default, _, _ = _setup()
    _sql(c, "INSERT INTO env_vars (project_id, scope, environment_id, key, value_sealed, value_length)"
            " SELECT '%s', 'environment', '%s', 'K' || i, 's', 1 FROM generate_series(1, 990) i"
            % (p["id"], default["id"]))
    errors = []

    def go(i):
        try:
            _sql(c, "INSERT INTO env_vars (project_id, scope, environment_id, key, value_sealed,"
                    " value_length) SELECT '%s', 'environment', '%s', 'T%d_' || i, 's', 1"
                    " FROM generate_series(1, 3) i" % (p["id"], default["id"], i))
        except RuntimeError as e:
            errors.append(str(e))

    ts = [threading.Thread(target=go, args=(i,)) for i in range(8)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    n = int(_sql(c, "SELECT count(*) FROM env_vars WHERE environment_id = '%s'" % default["id"])[0])
    assert n == 999, n          # 990 + 3 x 3; the other five statements refused whole
    assert len(errors) == 5 and all("at most 1000 variables" in e for e in errors), errors
    # The project scope next to it is another scope with its own count.
    _insert(c, p, "project", None, "FREE")
    assert uuid.UUID(p["id"])
