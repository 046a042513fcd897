"""Environment variables as one encrypted store (API.md section 9,
sql/020_env_vars.sql, fcgi/api/env_vars.c): every endpoint, values never
at rest in the clear and bound to their row, limits, permissions, audited
reveals, bulk writes under concurrency, pending_deploy per scope, the
application env view of §4, and the move of the previous version's
per-application maps (launcher-admin migrate)."""
import base64
import ctypes
import ctypes.util
import hashlib
import json
import os
import subprocess
import threading
import uuid

from lib import BIN, CONF, STATE, Client, assert_error, make_key, new_user, psql, registered
from test_servers import Agent

SEALED = "not-a-real-ciphertext"
MASK = "********"


def _owner(sql):
    return psql(sql, user="launcher_owner")


def _setup(prefix="env"):
    c, _ = registered(prefix)
    r = c.post("/servers", {"name": "srv"})
    assert r.status == 201, r
    c.server = r.data
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


def _var(c, p, key, value, **body):
    r = c.post("/env-vars", dict({"project_id": p["id"], "key": key, "value": value}, **body))
    assert r.status == 201, r
    return r.data


def _versions(c):
    rows = _sql(c, "SELECT name, env_version FROM applications ORDER BY name")
    return {n: int(v) for n, v in (r.split("|") for r in rows)}


def _state(c):
    """Everything of the tenant's store that an answer could change."""
    return _owner("SELECT coalesce(string_agg(id || key || value_sealed || row_version || is_secret"
                  " || coalesce(description, ''), ',' ORDER BY id), '')"
                  " FROM env_vars WHERE tenant_id = '%s'" % c.tid)


def _drop_fakes(c):
    # Rows with made-up ciphertexts would stop a master-key rotation (it
    # refuses a value that does not open): none is left behind.
    _owner("DELETE FROM env_vars WHERE tenant_id = '%s'" % c.tid)


# ---------------------------------------------------------------- schema

def _insert(c, p, scope, sid, key):
    col = {"project": "", "environment": ", environment_id", "application": ", application_id"}[scope]
    val = {"project": "", "environment": ", '%s'" % sid, "application": ", '%s'" % sid}[scope]
    return _sql(c, "INSERT INTO env_vars (project_id, scope, key, value_sealed, value_length%s)"
                   " VALUES ('%s', '%s', '%s', '%s', 1%s)" % (col, p["id"], scope, key, SEALED, val))


def test_schema_scopes_limits_and_pending_deploy():
    c, p, default, other, apps = _setup()
    v0 = _versions(c)
    # Each scope bumps exactly the applications it covers, once per statement.
    _insert(c, p, "project", None, "P1")
    v1 = _versions(c)
    assert {k: v1[k] - v0[k] for k in v0} == {"a1": 1, "a2": 1, "b1": 1}
    _insert(c, p, "environment", default["id"], "E1")
    v2 = _versions(c)
    assert {k: v2[k] - v1[k] for k in v1} == {"a1": 1, "a2": 1, "b1": 0}
    _insert(c, p, "application", apps["b1"]["id"], "A1")
    v3 = _versions(c)
    assert {k: v3[k] - v2[k] for k in v2} == {"a1": 0, "a2": 0, "b1": 1}
    # A re-encryption (value_sealed alone, row_version kept) marks nothing;
    # a change with a new row_version does; a description alone does not.
    _sql(c, "UPDATE env_vars SET value_sealed = 'x' || value_sealed WHERE key = 'E1'")
    assert _versions(c) == v3
    _sql(c, "UPDATE env_vars SET description = 'd', row_version = row_version + 1 WHERE key = 'E1'")
    assert _versions(c) == v3
    _sql(c, "UPDATE env_vars SET value_sealed = 'y', row_version = row_version + 1 WHERE key = 'E1'")
    v4 = _versions(c)
    assert {k: v4[k] - v3[k] for k in v3} == {"a1": 1, "a2": 1, "b1": 0}
    _sql(c, "DELETE FROM env_vars WHERE key = 'A1'")
    v5 = _versions(c)
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
    # Moving an application to another environment changes its env too.
    before = _versions(c)["a1"]
    _owner("UPDATE applications SET environment_id = '%s' WHERE id = '%s'" % (other["id"], apps["a1"]["id"]))
    assert _versions(c)["a1"] == before + 1
    _drop_fakes(c)


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
    _drop_fakes(c)


# ---------------------------------------------------------------- endpoints

def test_round_trip_through_every_endpoint():
    c, p, default, other, apps = _setup()
    a1 = apps["a1"]["id"]
    pv = _var(c, p, "DB_HOST", "db.internal", description="where the database is")
    assert pv["scope"] == "project" and pv["scope_id"] == p["id"] and pv["key"] == "DB_HOST", pv
    assert pv["is_secret"] is False and pv["description"] == "where the database is"
    for obj in (pv,):
        assert "value" not in obj and "value_sealed" not in obj, obj
    ev = _var(c, p, "MODE", "production", scope="environment", scope_id=default["id"])
    av = _var(c, p, "MODE", "app-${DB_HOST}", scope="application", scope_id=a1)
    sv = _var(c, p, "API_TOKEN", "tok-round-trip-123", is_secret=True)
    # list: no values; filters by scope and scope id; the cursor machinery.
    r = c.get("/env-vars?projectId=" + p["id"])
    assert r.status == 200 and [x["key"] for x in r.data] == ["DB_HOST", "MODE", "MODE", "API_TOKEN"], r
    assert all("value" not in x and "value_sealed" not in x for x in r.data), r
    assert r.json["meta"]["next_cursor"] is None
    assert [x["id"] for x in c.get("/env-vars?projectId=%s&scope=environment" % p["id"]).data] == [ev["id"]]
    assert [x["id"] for x in c.get("/env-vars?projectId=%s&scopeId=%s" % (p["id"], a1)).data] == [av["id"]]
    page = c.get("/env-vars?projectId=%s&limit=2" % p["id"])
    assert len(page.data) == 2 and page.json["meta"]["next_cursor"], page
    rest = c.get("/env-vars?projectId=%s&limit=2&cursor=%s" % (p["id"], page.json["meta"]["next_cursor"]))
    assert [x["id"] for x in page.data + rest.data] == [x["id"] for x in r.data]
    # get with its ETag; PUT with If-Match.
    g = c.get("/env-vars/" + pv["id"])
    assert g.status == 200 and g.data == pv and g.headers.get("etag"), g
    assert_error(c.put("/env-vars/" + pv["id"], {"value": "x"}, headers={"If-Match": '"999"'}),
                 412, "PRECONDITION_FAILED")
    u = c.put("/env-vars/" + pv["id"], {"value": "db2.internal", "description": None},
              headers={"If-Match": g.headers["etag"]})
    assert u.status == 200 and u.data["description"] is None and u.headers["etag"] != g.headers["etag"], u
    # value (one), values (a scope)
    r = c.get("/env-vars/%s/value" % pv["id"])
    assert r.status == 200 and r.data == {"id": pv["id"], "key": "DB_HOST", "value": "db2.internal"}, r
    assert_error(c.get("/env-vars/%s/value" % sv["id"]), 403, "FORBIDDEN")
    r = c.get("/env-vars/values?projectId=" + p["id"])
    assert r.data == {"DB_HOST": "db2.internal"}, r
    assert r.json["meta"]["write_only"] == ["API_TOKEN"], r.json
    r = c.get("/env-vars/values?projectId=%s&scope=application&scopeId=%s" % (p["id"], a1))
    assert r.data == {"MODE": "app-${DB_HOST}"}, r
    # rename keeps the value (sealed again under the new key)
    r = c.put("/env-vars/" + pv["id"], {"key": "DATABASE_HOST"})
    assert r.status == 200 and r.data["key"] == "DATABASE_HOST", r
    assert c.get("/env-vars/%s/value" % pv["id"]).data["value"] == "db2.internal"
    c.put("/env-vars/" + pv["id"], {"key": "DB_HOST"})
    # bulk: upsert by key, unchanged values untouched, prune
    r = c.post("/env-vars/bulk", {"project_id": p["id"], "variables": {"DB_HOST": "db2.internal",
                                                                        "NEW_ONE": "1", "API_TOKEN": "t2"}})
    assert r.status == 200, r
    assert (r.data["created"], r.data["updated"], r.data["unchanged"], r.data["deleted"]) == \
        (["NEW_ONE"], ["API_TOKEN"], ["DB_HOST"], []), r.data
    assert c.get("/env-vars/" + sv["id"]).data["is_secret"] is True     # kept by the upsert
    # preview: the environment's merged map, the given env on top, resolved
    r = c.post("/env-vars/preview", {"project_id": p["id"], "environment_id": default["id"],
                                     "env": {"URL": "http://${DB_HOST}:5432", "LIT": "$${HOME}"}})
    assert r.status == 200, r
    assert r.data == {"API_TOKEN": MASK, "DB_HOST": "db2.internal", "MODE": "production", "NEW_ONE": "1",
                      "URL": "http://db2.internal:5432", "LIT": "${HOME}"}, r.data
    r = c.post("/env-vars/preview", {"project_id": p["id"], "environment_id": default["id"],
                                     "env": {"DB_URL": "${db.nope.url}", "X": "${MISSING}", "OK": "y"}})
    assert_error(r, 400, "BAD_REQUEST")
    fields = sorted(d["field"] for d in r.error["details"])
    assert fields == ["DB_URL", "X"], r.error
    msg = [d["message"] for d in r.error["details"] if d["field"] == "DB_URL"][0]
    assert msg == "${db.nope.url}: no database named nope in this environment", msg
    r = c.post("/env-vars/preview", {"project_id": p["id"], "environment_id": a1, "env": {}})
    assert_error(r, 400, "BAD_REQUEST", "environment_id")
    # prune: the scope holds exactly what was given
    r = c.post("/env-vars/bulk", {"project_id": p["id"], "prune": True, "variables": {"NEW_ONE": "2"}})
    assert sorted(r.data["deleted"]) == ["API_TOKEN", "DB_HOST"] and r.data["updated"] == ["NEW_ONE"], r.data
    assert [x["key"] for x in c.get("/env-vars?projectId=%s&scope=project" % p["id"]).data] == ["NEW_ONE"]
    # delete with If-Match
    etag = c.get("/env-vars/" + ev["id"]).headers["etag"]
    assert_error(c.delete("/env-vars/" + ev["id"], headers={"If-Match": '"77"'}), 412, "PRECONDITION_FAILED")
    assert c.delete("/env-vars/" + ev["id"], headers={"If-Match": etag}).status == 204
    assert_error(c.get("/env-vars/" + ev["id"]), 404, "NOT_FOUND")
    assert_error(c.get("/env-vars/not-a-uuid"), 404, "NOT_FOUND")
    # The application's env is its scope of the store.
    assert c.get("/applications/%s/env" % a1).data == {"MODE": "app-${DB_HOST}"}
    r = c.call("PATCH", "/applications/%s/env" % a1, {"MODE": None, "EXTRA": "e"})
    assert r.status == 200 and r.data == {"EXTRA": "e"} and r.json["meta"]["pending_deploy"] is True, r
    assert [x["key"] for x in c.get("/env-vars?projectId=%s&scopeId=%s" % (p["id"], a1)).data] == ["EXTRA"]
    # Deleting the application takes its variables along.
    assert c.delete("/applications/" + a1).status == 204
    assert c.get("/env-vars?projectId=%s&scopeId=%s" % (p["id"], a1)).data == []


def test_no_value_is_stored_in_the_clear_anywhere():
    c, p, default, _, apps = _setup()
    vals = ["plain-%02d-%s" % (i, uuid.uuid4().hex) for i in range(50)]
    for i in range(10):
        _var(c, p, "V%d" % i, vals[i], is_secret=i % 2 == 0, scope="environment", scope_id=default["id"])
    bulk = {"B%d" % i: vals[i] for i in range(10, 25)}
    assert c.post("/env-vars/bulk", {"project_id": p["id"], "variables": bulk}).status == 200
    assert c.put("/applications/%s/env" % apps["a1"]["id"], {"A%d" % i: vals[i] for i in range(25, 35)}).status == 200
    r = c.post("/applications", {"project_id": p["id"], "name": "withenv", "source_type": "docker_image",
                                 "image_url": "registry.example.com/w:1", "exposed_port": 8080,
                                 "env": {"C%d" % i: vals[i] for i in range(35, 45)}})
    assert r.status == 201, r
    v = _var(c, p, "RENAMED", vals[45])
    c.put("/env-vars/" + v["id"], {"key": "RENAMED2", "value": vals[46]})
    for i in range(47, 50):
        _var(c, p, "S%d" % i, vals[i], scope="application", scope_id=apps["b1"]["id"])
    # Reveals and a preview happened too (their answers carry values).
    c.get("/env-vars/values?projectId=" + p["id"])
    c.post("/env-vars/preview", {"project_id": p["id"], "environment_id": default["id"], "env": {"Q": vals[0]}})
    # A positive control: a description is stored as given, and the scan finds it.
    marker = "control-%s" % uuid.uuid4().hex
    _var(c, p, "CONTROL", "c", description=marker)
    # Every column of every table, as text.
    tables = _owner("SELECT quote_ident(table_schema) || '.' || quote_ident(table_name)"
                    " FROM information_schema.tables WHERE table_type = 'BASE TABLE'"
                    " AND table_schema NOT IN ('pg_catalog', 'information_schema')")
    assert "launcher.env_vars" in tables and len(tables) > 15, tables
    found = []
    for t in tables:
        cond = " OR ".join("strpos(x::text, '%s') > 0" % s for s in vals + [marker])
        n = _owner("SELECT count(*) FROM %s x WHERE %s" % (t, cond))[0]
        if n != "0":
            found.append(t)
    assert found == ["launcher.env_vars"], found
    assert _owner("SELECT count(*) FROM env_vars x WHERE %s" % " OR ".join(
        "strpos(x::text, '%s') > 0" % s for s in vals)) == ["0"]
    # The values are there (the scan looks at the right rows).
    n = int(_owner("SELECT count(*) FROM env_vars WHERE tenant_id = '%s'" % c.tid)[0])
    assert n == 50, n      # V0..9, B10..24, A25..34, C35..44, RENAMED2, S47..49, CONTROL
    assert c.get("/env-vars/values?projectId=%s&scope=application&scopeId=%s"
                 % (p["id"], apps["a1"]["id"])).data == {"A%d" % i: vals[i] for i in range(25, 35)}


def test_a_ciphertext_copied_to_another_row_does_not_open():
    c, p, default, _, apps = _setup()
    src = _var(c, p, "SOURCE", "the-source-value-xyz")
    same_scope = _var(c, p, "OTHER_KEY", "o")
    other_scope = _var(c, p, "SOURCE", "e", scope="environment", scope_id=default["id"])
    app_scope = _var(c, p, "SOURCE", "a", scope="application", scope_id=apps["a1"]["id"])
    d, _, _, _, _ = _setup("envx")
    dp = d.get("/projects").data[0]
    other_tenant = _var(d, dp, "SOURCE", "t")
    sealed = _owner("SELECT value_sealed FROM env_vars WHERE id = '%s'" % src["id"])[0]
    for victim, client in ((same_scope, c), (other_scope, c), (app_scope, c), (other_tenant, d)):
        _owner("UPDATE env_vars SET value_sealed = '%s' WHERE id = '%s'" % (sealed, victim["id"]))
        r = client.get("/env-vars/%s/value" % victim["id"])
        # Never the value, never garbage: 409 naming the key, to be set again.
        assert_error(r, 409, "CONFLICT")
        assert victim["key"] in r.error["message"] and "set a new value" in r.error["message"], r
        assert "the-source-value-xyz" not in r.raw.decode()
    r = c.get("/env-vars/values?projectId=%s&scope=environment&scopeId=%s" % (p["id"], default["id"]))
    assert_error(r, 409, "CONFLICT")
    assert_error(c.get("/applications/%s/env" % apps["a1"]["id"]), 409, "CONFLICT")
    r = c.post("/env-vars/preview", {"project_id": p["id"], "environment_id": default["id"], "env": {}})
    assert_error(r, 409, "CONFLICT")
    # A viewer of the app env sees masks; a rename needs the old value: 409.
    assert_error(c.put("/env-vars/" + same_scope["id"], {"key": "RENAMED"}), 409, "CONFLICT")
    # The original still opens; a new value repairs each copy.
    assert c.get("/env-vars/%s/value" % src["id"]).data["value"] == "the-source-value-xyz"
    for victim, client in ((same_scope, c), (other_scope, c), (app_scope, c), (other_tenant, d)):
        assert client.put("/env-vars/" + victim["id"], {"value": "fixed"}).status == 200
        assert client.get("/env-vars/%s/value" % victim["id"]).data["value"] == "fixed"
    # A bulk replaces a value that does not open (the repair path), too.
    _owner("UPDATE env_vars SET value_sealed = '%s' WHERE id = '%s'" % (sealed, same_scope["id"]))
    r = c.post("/env-vars/bulk", {"project_id": p["id"], "variables": {"OTHER_KEY": "fixed"}})
    assert r.status == 200 and r.data["updated"] == ["OTHER_KEY"], r
    assert c.get("/env-vars/%s/value" % same_scope["id"]).data["value"] == "fixed"


def test_bad_bodies_name_the_field_and_change_nothing():
    c, p, default, other, apps = _setup()
    v = _var(c, p, "KEEP", "k")
    q = c.post("/projects", {"name": "otherp"}).data
    before = _state(c)
    big = "x" * 65537
    cases = [
        ({"key": "K", "value": "v"}, "project_id"),
        ({"project_id": p["id"], "value": "v"}, "key"),
        ({"project_id": p["id"], "key": "1BAD", "value": "v"}, "key"),
        ({"project_id": p["id"], "key": "BAD-KEY", "value": "v"}, "key"),
        ({"project_id": p["id"], "key": "K" * 256, "value": "v"}, "key"),
        ({"project_id": p["id"], "key": "K"}, "value"),
        ({"project_id": p["id"], "key": "K", "value": 5}, "value"),
        ({"project_id": p["id"], "key": "K", "value": big}, "value"),
        ({"project_id": p["id"], "key": "K", "value": "v", "scope": "galaxy"}, "scope"),
        ({"project_id": p["id"], "key": "K", "value": "v", "scope": "environment"}, "scope_id"),
        ({"project_id": p["id"], "key": "K", "value": "v", "scope": "environment", "scope_id": apps["a1"]["id"]},
         "scope_id"),
        ({"project_id": p["id"], "key": "K", "value": "v", "scope": "application", "scope_id": default["id"]},
         "scope_id"),
        ({"project_id": q["id"], "key": "K", "value": "v", "scope": "environment", "scope_id": default["id"]},
         "scope_id"),
        ({"project_id": p["id"], "key": "K", "value": "v", "scope": "project", "scope_id": q["id"]}, "scope_id"),
        ({"project_id": p["id"], "key": "K", "value": "v", "is_secret": "yes"}, "is_secret"),
        ({"project_id": p["id"], "key": "K", "value": "v", "description": "d" * 1001}, "description"),
    ]
    for body, field in cases:
        assert_error(c.post("/env-vars", body), 400, "BAD_REQUEST", field)
    r = c.post("/env-vars", {"project_id": p["id"], "key": "KEEP", "value": "again"})
    assert_error(r, 409, "CONFLICT")
    assert "KEEP" in r.error["message"], r
    bulk_cases = [
        ({"project_id": p["id"]}, "variables"),
        ({"project_id": p["id"], "variables": {"OK": "1", "bad-key": "2"}}, "variables.bad-key"),
        ({"project_id": p["id"], "variables": {"OK": "1", "N": None}}, "variables.N"),
        ({"project_id": p["id"], "variables": {"OK": "1", "BIG": big}}, "variables.BIG"),
        ({"project_id": p["id"], "variables": {"OK": "1"}, "scope": "application"}, "scope_id"),
        ({"project_id": p["id"], "variables": {"OK": "1"}, "prune": "yes"}, "prune"),
    ]
    for body, field in bulk_cases:
        assert_error(c.post("/env-vars/bulk", body), 400, "BAD_REQUEST", field)
    for body, field in (({"key": "bad key"}, "key"), ({"value": 1}, "value"), ({"is_secret": 1}, "is_secret")):
        assert_error(c.put("/env-vars/" + v["id"], body), 400, "BAD_REQUEST", field)
    for body, field in (({"environment_id": default["id"]}, "project_id"),
                        ({"project_id": p["id"]}, "environment_id"),
                        ({"project_id": p["id"], "environment_id": default["id"], "env": {"a-b": "x"}}, "env.a-b")):
        assert_error(c.post("/env-vars/preview", body), 400, "BAD_REQUEST", field)
    assert_error(c.get("/env-vars"), 400, "BAD_REQUEST", "projectId")
    assert_error(c.get("/env-vars?projectId=x"), 400, "BAD_REQUEST", "projectId")
    assert_error(c.get("/env-vars?projectId=%s&scope=galaxy" % p["id"]), 400, "BAD_REQUEST", "scope")
    assert_error(c.get("/env-vars/values?projectId=%s&scope=environment" % p["id"]), 400, "BAD_REQUEST",
                 "scope_id")
    assert_error(c.put("/applications/%s/env" % apps["a1"]["id"], {"A": "1", "b-c": "2"}), 400, "BAD_REQUEST",
                 "b-c")
    assert _state(c) == before


def test_limits_of_a_scope_key_and_value():
    c, p, default, _, apps = _setup()
    # 64 KiB is a value; a byte more is not (the field table; the database agrees).
    _var(c, p, "BIG", "v" * 65536)
    assert c.get("/env-vars/values?projectId=" + p["id"]).data["BIG"] == "v" * 65536
    _var(c, p, "K" * 255, "v")
    # 1000 variables per scope: bulk beyond is 400 naming variables, creates nothing.
    base = {"P%04d" % i: "v" for i in range(998)}
    r = c.post("/env-vars/bulk", {"project_id": p["id"], "variables": base})
    assert r.status == 200 and len(r.data["created"]) == 998, r
    r = c.post("/env-vars/bulk", {"project_id": p["id"], "variables": {"X1": "1", "X2": "2"}})
    assert_error(r, 400, "BAD_REQUEST", "variables")
    assert "at most 1000" in r.error["details"][0]["message"], r.error
    r = c.post("/env-vars", {"project_id": p["id"], "key": "ONE_TOO_MANY", "value": "v"})
    assert_error(r, 400, "BAD_REQUEST", "key")
    assert "at most 1000" in r.error["details"][0]["message"], r.error
    n = int(_owner("SELECT count(*) FROM env_vars WHERE project_id = '%s' AND scope = 'project'" % p["id"])[0])
    assert n == 1000, n
    # A bulk of more than 1000 keys is refused by the field table; replacing
    # with prune stays within the limit and passes.
    r = c.post("/env-vars/bulk", {"project_id": p["id"], "variables": {"Z%04d" % i: "v" for i in range(1001)}})
    assert_error(r, 400, "BAD_REQUEST", "variables")
    r = c.post("/env-vars/bulk", {"project_id": p["id"], "prune": True,
                                  "variables": {"Z%04d" % i: "v" for i in range(1000)}})
    assert r.status == 200 and len(r.data["deleted"]) == 1000 and len(r.data["created"]) == 1000, r
    # Another scope has its own 1000.
    _var(c, p, "ONE_TOO_MANY", "v", scope="environment", scope_id=default["id"])
    # The application env view has the same limit, naming the body.
    r = c.put("/applications/%s/env" % apps["a1"]["id"], {"E%04d" % i: "v" for i in range(1001)})
    assert_error(r, 400, "BAD_REQUEST", "env")


def test_permissions_of_roles_and_key_scopes():
    c, p, default, _, apps = _setup()
    v = _var(c, p, "K", "value-k")
    users = {}
    for role in ("viewer", "member", "admin"):
        u = new_user(c)
        assert c.post("/projects/%s/members" % p["id"], {"user_id": u.user_id, "role": role}).status == 201
        users[role] = u
    users["outsider"] = new_user(c)
    for name, sc in (("key:read", ["read"]), ("key:deploy", ["read", "deploy"]), ("key:write", ["read", "write"])):
        users[name] = Client(c.tenant, key=make_key(c, scopes=sc)["key"])
    d, _ = registered("envo")
    users["other-tenant"] = d
    app = apps["a1"]["id"]
    calls = [  # (method, path, body, reader may?)
        ("GET", "/env-vars?projectId=" + p["id"], None, True),
        ("GET", "/env-vars/" + v["id"], None, True),
        ("GET", "/applications/%s/env" % app, None, True),
        ("GET", "/env-vars/values?projectId=" + p["id"], None, False),
        ("GET", "/env-vars/%s/value" % v["id"], None, False),
        ("POST", "/env-vars", {"project_id": p["id"], "key": "NEW", "value": "v"}, False),
        ("POST", "/env-vars/bulk", {"project_id": p["id"], "variables": {"K": "value-k"}}, False),
        ("POST", "/env-vars/preview", {"project_id": p["id"], "environment_id": default["id"]}, False),
        ("PUT", "/env-vars/" + v["id"], {"description": "d"}, False),
        ("PATCH", "/applications/%s/env" % app, {"X": "1"}, False),
    ]
    writers = {"admin", "key:write"}
    readers = {"viewer", "member", "key:read", "key:deploy"}
    wrong = []
    for who, client in users.items():
        for method, path, body, reader_may in calls:
            r = client.call(method, path, body)
            if who in ("outsider", "other-tenant"):
                ok = r.status == 404
            elif who in writers or reader_may:
                ok = r.status in (200, 201)
            else:
                ok = r.status == 403
            if not ok:
                wrong.append((who, method, path, r.status))
            if r.status in (200, 201) and method == "POST" and path == "/env-vars":
                c.delete("/env-vars/" + r.data["id"])
            if who in readers and r.status == 200:
                assert "value-k" not in r.raw.decode(), (who, path, r)
    assert wrong == [], wrong
    # Readers see masks in the application env; writers the values; secret ones are masks for all.
    c.put("/applications/%s/env" % app, {"PUB": "p-value"})
    s = c.get("/env-vars?projectId=%s&scopeId=%s" % (p["id"], app)).data[0]
    c.post("/env-vars", {"project_id": p["id"], "key": "HIDDEN", "value": "h-value", "is_secret": True,
                         "scope": "application", "scope_id": app})
    assert users["viewer"].get("/applications/%s/env" % app).data == {"HIDDEN": MASK, "PUB": MASK}
    assert users["admin"].get("/applications/%s/env" % app).data == {"HIDDEN": MASK, "PUB": "p-value"}
    # A secret becomes readable only with a new value.
    h = [x for x in c.get("/env-vars?projectId=%s&scopeId=%s" % (p["id"], app)).data if x["key"] == "HIDDEN"][0]
    assert_error(c.put("/env-vars/" + h["id"], {"is_secret": False}), 400, "BAD_REQUEST", "is_secret")
    assert c.put("/env-vars/" + h["id"], {"is_secret": False, "value": "new"}).status == 200
    assert c.get("/env-vars/%s/value" % h["id"]).data["value"] == "new"
    assert s["key"] == "PUB"
    # The DELETE route: viewers and read keys are refused, writers pass.
    assert_error(users["viewer"].delete("/env-vars/" + h["id"]), 403, "FORBIDDEN")
    assert_error(users["key:read"].delete("/env-vars/" + h["id"]), 403, "FORBIDDEN")
    assert users["key:write"].delete("/env-vars/" + h["id"]).status == 204


def test_reveals_are_audited_with_who_and_which_keys_never_the_value():
    c, p, default, _, _ = _setup()
    a = _var(c, p, "ALPHA", "alpha-secret-value-1")
    _var(c, p, "BETA", "beta-secret-value-2")
    _var(c, p, "GAMMA", "gamma-secret-value-3", is_secret=True)
    k = make_key(c, scopes=["read", "write"])
    kc = Client(c.tenant, key=k["key"])
    assert kc.get("/env-vars/values?projectId=" + p["id"]).status == 200
    assert c.get("/env-vars/%s/value" % a["id"]).status == 200
    log = c.get("/audit-log?action=env_var.reveal").data
    assert len(log) == 2, log
    first, second = log
    assert first["actor_type"] == "service_key" and first["actor_id"] == k["id"], first
    assert first["detail"] == {"scope": "project", "scope_id": p["id"], "keys": ["ALPHA", "BETA"]}, first
    assert first["project_id"] == p["id"]
    assert second["actor_type"] == "user" and second["resource_id"] == a["id"], second
    assert second["detail"]["keys"] == ["ALPHA"], second
    text = json.dumps(c.get("/audit-log").data)
    assert "secret-value" not in text, text
    # A refused reveal (secret) is not a reveal: nothing recorded.
    g = [x for x in c.get("/env-vars?projectId=" + p["id"]).data if x["key"] == "GAMMA"][0]
    assert c.get("/env-vars/%s/value" % g["id"]).status == 403
    assert len(c.get("/audit-log?action=env_var.reveal").data) == 2
    # Writes are audited by the mutation wrapper.
    actions = {x["action"] for x in c.get("/audit-log").data}
    assert "env_var.create" in actions, actions


def test_concurrent_bulk_writes_of_one_scope_apply_whole():
    c, p, default, _, _ = _setup()
    sets = [{"K%d_%d" % (i, j): "v%d" % i for j in range(40)} for i in range(6)]
    for s in sets:
        s["SHARED"] = "from-%d" % sets.index(s)
    out = []

    def go(i):
        out.append(c.post("/env-vars/bulk", {"project_id": p["id"], "scope": "environment",
                                             "scope_id": default["id"], "prune": True, "variables": sets[i]}))

    ts = [threading.Thread(target=go, args=(i,)) for i in range(len(sets))]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert sorted(r.status for r in out) == [200] * len(sets), [r for r in out if r.status != 200]
    final = c.get("/env-vars/values?projectId=%s&scope=environment&scopeId=%s" % (p["id"], default["id"])).data
    assert final in sets, sorted(final)[:5]


def test_pending_deploy_follows_each_scope_for_exactly_its_applications():
    c, p, default, other, apps = _setup()

    def in_sync():
        # Each application runs a release built from its current env.
        for a in apps.values():
            _owner("WITH d AS (INSERT INTO deployments (tenant_id, project_id, environment_id, application_id,"
                   " server_id, status, source, replicas, env_version) SELECT tenant_id, project_id,"
                   " environment_id, id, server_id, 'succeeded', '{}', 1, env_version FROM applications"
                   " WHERE id = '%s' RETURNING id)"
                   " UPDATE applications SET current_deployment_id = (SELECT id FROM d) WHERE id = '%s'"
                   % (a["id"], a["id"]))

    def pending():
        return {n: c.get("/applications/" + a["id"]).data["pending_deploy"] for n, a in apps.items()}

    in_sync()
    assert pending() == {"a1": False, "a2": False, "b1": False}
    v = _var(c, p, "P", "1")
    assert pending() == {"a1": True, "a2": True, "b1": True}
    in_sync()
    e = _var(c, p, "E", "1", scope="environment", scope_id=other["id"])
    assert pending() == {"a1": False, "a2": False, "b1": True}
    in_sync()
    c.call("PATCH", "/applications/%s/env" % apps["a2"]["id"], {"A": "1"})
    assert pending() == {"a1": False, "a2": True, "b1": False}
    assert c.get("/applications/%s/env" % apps["a2"]["id"]).json["meta"]["pending_deploy"] is True
    assert c.get("/applications/%s/env" % apps["a1"]["id"]).json["meta"]["pending_deploy"] is False
    in_sync()
    # Same values again, a description, or the same value by PUT: nothing to deploy.
    c.post("/env-vars/bulk", {"project_id": p["id"], "variables": {"P": "1"}})
    c.put("/env-vars/" + v["id"], {"description": "only words", "value": "1"})
    c.put("/applications/%s/env" % apps["a2"]["id"], {"A": "1"})
    assert pending() == {"a1": False, "a2": False, "b1": False}
    # An update and a delete in the environment scope.
    c.put("/env-vars/" + e["id"], {"value": "2"})
    assert pending() == {"a1": False, "a2": False, "b1": True}
    in_sync()
    c.delete("/env-vars/" + e["id"])
    assert pending() == {"a1": False, "a2": False, "b1": True}


# ---------------------------------------------------------------- migration

def _legacy_seal(tenant_id, purpose, plain):
    """A value as the previous version's crypto_seal wrote it (fcgi/core/
    crypto.c: XChaCha20-Poly1305 under the tenant's key, the purpose as
    associated data, base64 of nonce || ciphertext)."""
    with open(os.path.join(STATE, "secrets", "master.key"), "rb") as f:
        master = f.read()
    sub = hashlib.blake2b(b"", digest_size=32, key=master, salt=(3).to_bytes(8, "little") + bytes(8),
                          person=b"lnchrenc" + bytes(8)).digest()
    key = hashlib.blake2b(tenant_id.encode(), digest_size=32, key=sub).digest()
    so = ctypes.CDLL(ctypes.util.find_library("sodium"))
    assert so.sodium_init() >= 0
    nonce = os.urandom(24)
    out = ctypes.create_string_buffer(len(plain) + 16)
    outlen = ctypes.c_ulonglong(0)
    assert so.crypto_aead_xchacha20poly1305_ietf_encrypt(
        out, ctypes.byref(outlen), plain, ctypes.c_ulonglong(len(plain)), purpose.encode(),
        ctypes.c_ulonglong(len(purpose)), None, nonce, key) == 0
    return base64.b64encode(nonce + out.raw[:outlen.value]).decode()


def _migrate():
    out = subprocess.run([os.path.join(BIN, "launcher-admin"), "-c", CONF, "migrate"],
                         capture_output=True, text=True)
    return out.returncode, out.stdout + out.stderr


def test_migrate_moves_the_previous_versions_maps_into_the_store():
    c, p, default, other, apps = _setup()
    a1, a2, b1 = apps["a1"]["id"], apps["a2"]["id"], apps["b1"]["id"]
    m1 = {"DATABASE_URL": "postgres://u:pw-%s@db/x" % uuid.uuid4().hex, "EMPTY": "", "UNI": "h\u00e9llo \u2603",
          "JSONISH": "{\"a\": [1, 2]}\n\"quoted\"", "LONG": "L" * 65536}
    m2 = {"ONLY": "one"}
    bad = _legacy_seal(c.tid, "app-env", b"{}")[:-8] + "AAAAAAA="
    # The previous version's state: maps in applications.env_sealed (the
    # control: the plane opens such a map as a deployment's snapshot), a1 in
    # sync with its running release, a2 pending, b1 with a map that does not open.
    sealed1 = _legacy_seal(c.tid, "app-env", json.dumps(m1).encode())
    sealed2 = _legacy_seal(c.tid, "app-env", json.dumps(m2).encode())
    # Control: the plane reads such a map as it reads a release's snapshot
    # (purpose app-env, the same format and tenant binding): the claim of a
    # deploy job whose deployment holds it carries the map.
    dep = c.post("/applications/%s/deploy" % b1, {})
    assert dep.status == 201, dep
    _owner("UPDATE deployments SET env_sealed = '%s' WHERE id = '%s'" % (sealed1, dep.data["id"]))
    agent = Agent(c.tenant, c.server["agent_token"])
    job = agent.claim()
    assert job["payload"]["deployment_id"] == dep.data["id"] and job["payload"]["env"] == m1, job["payload"]
    r = agent.call("POST", "/jobs/%s/complete" % job["id"], {"status": "failed", "error": "test", "result": {}})
    assert r.status == 200, r
    for app, sealed, synced in ((a1, sealed1, True), (a2, sealed2, False), (b1, bad, True)):
        _owner("UPDATE applications SET env_sealed = '%s', env_version = 7 WHERE id = '%s'" % (sealed, app))
        _owner("WITH d AS (INSERT INTO deployments (tenant_id, project_id, environment_id, application_id,"
               " server_id, status, source, replicas, env_version) SELECT tenant_id, project_id,"
               " environment_id, id, server_id, 'succeeded', '{}', 1, %d FROM applications"
               " WHERE id = '%s' RETURNING id)"
               " UPDATE applications SET current_deployment_id = (SELECT id FROM d) WHERE id = '%s'"
               % (7 if synced else 6, app, app))
    assert c.get("/applications/%s/env" % a1).data == {}
    rc, out = _migrate()
    assert rc == 1 and "application %s" % b1 in out and "does not open" in out, out
    assert "2 application and function maps moved" in out and "1 left" in out, out
    assert c.get("/applications/%s/env" % a1).data == m1
    assert c.get("/applications/%s/env" % a2).data == m2
    assert c.get("/env-vars/values?projectId=%s&scope=application&scopeId=%s" % (p["id"], a1)).data == m1
    # Pending state as before: a1 in sync, a2 pending; env_sealed no longer used.
    assert c.get("/applications/" + a1).data["pending_deploy"] is False
    assert c.get("/applications/" + a2).data["pending_deploy"] is True
    rows = _owner("SELECT id, env_sealed IS NULL, env_version FROM applications WHERE id IN ('%s', '%s', '%s')"
                  " ORDER BY name" % (a1, a2, b1))
    assert rows == ["%s|t|7" % a1, "%s|t|7" % a2, "%s|f|7" % b1], rows
    # Nothing in the clear; each value bound to its row.
    assert m1["DATABASE_URL"] not in "".join(_owner("SELECT x::text FROM env_vars x"))
    # Restartable and idempotent: a second run moves nothing and changes nothing.
    snap = _state(c)
    rc, out = _migrate()
    assert rc == 1 and "0 application and function maps moved" in out, out
    assert _state(c) == snap
    # Repaired (the operator restored the right key or cleared it): a clean run.
    _owner("UPDATE applications SET env_sealed = NULL WHERE id = '%s'" % b1)
    rc, out = _migrate()
    assert rc == 0, out
    # A key written through the API after the upgrade wins over the old map's.
    c.put("/applications/%s/env" % a2, {"ONLY": "new"})
    _owner("UPDATE applications SET env_sealed = '%s' WHERE id = '%s'" % (sealed2, a2))
    rc, out = _migrate()
    assert rc == 0 and "1 application and function maps moved" in out, out
    assert c.get("/applications/%s/env" % a2).data == {"ONLY": "new"}
