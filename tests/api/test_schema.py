"""Schema integrity (sql/016_tenant_keys.sql), for every table of every
migration, read from the catalog:

  - a foreign key between two tenant-owned tables (with tenant_id) carries
    tenant_id on both sides, so that it can only find a row of the same
    tenant (PostgreSQL checks keys without row-level security);
  - each foreign key is named <table>_<column>_fkey, which is how a
    violation names the request's field;
  - each foreign key's columns lead some valid, non-partial index (for a
    composite tenant key its id column alone suffices);
  - every uuid column named *_id or created_by has a foreign key, unless
    NO_KEY below says why not;

and the cross-tenant references the database now refuses, through the API."""
import uuid

from lib import Client, assert_error, make_key, new_project, psql, registered
from test_servers import _server

# Columns that name a row but carry no key, and why.
NO_KEY = {
    ("audit_log", "actor_id"): "the audit log outlives what it names",
    ("audit_log", "user_id"): "the audit log outlives what it names",
    ("audit_log", "resource_id"): "the audit log outlives what it names",
    ("audit_log", "project_id"): "the audit log outlives what it names",
    ("runtime_logs", "deployment_id"): "the release label an agent reported on each line (hot "
                                       "insert path); the lines go with their application",
    ("applications", "git_provider_id"): "no git_providers table yet: CHECK (git_provider_id IS NULL)",
    ("backups", "resource_id"): "a backup outlives its database or volume (restore into a new one)",
    ("backups", "job_id"): "the job that last ran it, a label; jobs expire on their own rules",
    ("alert_events", "resource_id"): "the event log outlives what it names",
    ("alert_rule_state", "resource_id"): "a server or an application (either table); the "
                                         "evaluator removes the state of one that is gone",
    ("alert_deliveries", "resource_id"): "its event's, copied: the history outlives what it names",
    ("alert_deliveries", "project_id"): "its event's, copied (the event's key removes it with "
                                        "its project)",
    ("template_deploy_resources", "resource_id"): "a volume, a database or an application (any "
                                                  "of three tables); the record of a deploy "
                                                  "outlives what a rollback removed",
    ("search_documents", "parent_id"): "an application or an environment (either table), named "
                                       "in a title at query time; the document goes with its "
                                       "own resource's trigger",
}


def _rows(sql):
    return [r.split("|") for r in psql(sql, user="launcher_owner")]


def _arr(s):
    return [x for x in s.strip("{}").split(",") if x]


def _catalog():
    cols = "ARRAY(SELECT coalesce(a.attname, '?') FROM unnest(%s) WITH ORDINALITY k(n, o)" \
           " LEFT JOIN pg_attribute a ON a.attrelid = %s AND a.attnum = k.n ORDER BY k.o)"
    fks = _rows("SELECT c.conname, t.relname, r.relname, %s, %s FROM pg_constraint c"
                " JOIN pg_class t ON t.oid = c.conrelid JOIN pg_class r ON r.oid = c.confrelid"
                " WHERE c.contype = 'f' AND c.connamespace = 'launcher'::regnamespace ORDER BY 1"
                % (cols % ("c.conkey", "c.conrelid"), cols % ("c.confkey", "c.confrelid")))
    fks = [(n, t, r, _arr(k), _arr(rk)) for n, t, r, k, rk in fks]
    idx = _rows("SELECT t.relname, %s FROM pg_index i JOIN pg_class t ON t.oid = i.indrelid"
                " WHERE t.relnamespace = 'launcher'::regnamespace AND i.indisvalid"
                " AND i.indpred IS NULL" % (cols % ("i.indkey::int2[]", "i.indrelid")))
    idx = [(t, _arr(k)) for t, k in idx]
    tenant_owned = {r[0] for r in _rows(
        "SELECT c.relname FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid"
        " AND a.attname = 'tenant_id' WHERE c.relnamespace = 'launcher'::regnamespace"
        " AND c.relkind = 'r'")}
    return fks, idx, tenant_owned


def _indexed(table, keycols, idx):
    want = [set(keycols)]
    if len(keycols) > 1 and "tenant_id" in keycols:
        want.append(set(keycols) - {"tenant_id"})   # ids are unique on their own
    return any(t == table and set(lead[:len(w)]) == w for t, lead in idx for w in want)


def schema_problems():
    """Every breach of the rules above, as readable lines."""
    fks, idx, tenant_owned = _catalog()
    problems = []
    for name, table, ref, keycols, refcols in fks:
        if table in tenant_owned and ref in tenant_owned and (
                "tenant_id" not in keycols or "tenant_id" not in refcols
                or keycols.index("tenant_id") != refcols.index("tenant_id")):
            problems.append("%s: %s(%s) -> %s(%s) does not include tenant_id on both sides"
                            % (name, table, ",".join(keycols), ref, ",".join(refcols)))
        own = [c for c in keycols if c != "tenant_id"] or ["tenant_id"]
        if len(own) != 1 or name != "%s_%s_fkey" % (table, own[0]):
            problems.append("%s: should be named %s_<column>_fkey after the one column it guards"
                            % (name, table))
        if not _indexed(table, keycols, idx):
            problems.append("%s: %s(%s) is not the leading columns of any index"
                            % (name, table, ",".join(keycols)))
    keyed = {(t, c) for _, t, _, k, _ in fks for c in k}
    for table, col in _rows("SELECT c.relname, a.attname FROM pg_attribute a"
                            " JOIN pg_class c ON c.oid = a.attrelid"
                            " WHERE c.relnamespace = 'launcher'::regnamespace AND c.relkind = 'r'"
                            " AND a.attnum > 0 AND NOT a.attisdropped AND a.atttypid = 'uuid'::regtype"
                            " AND (a.attname LIKE '%\\_id' OR a.attname = 'created_by')"):
        if table in tenant_owned and (table, col) not in keyed and (table, col) not in NO_KEY:
            problems.append("%s.%s names a row but has no foreign key" % (table, col))
    return problems


def test_every_reference_carries_its_tenant_and_every_key_is_indexed():
    problems = schema_problems()
    assert problems == [], "\n".join(["%d schema problems:" % len(problems)] + problems)
    # The check sees what it guards: each table it names exists.
    _, _, tenant_owned = _catalog()
    assert {"projects", "service_keys", "applications", "deployments"} <= tenant_owned
    assert {t for t, _ in NO_KEY} <= tenant_owned, NO_KEY


def test_a_service_key_cannot_name_another_tenants_project():
    a, _ = registered("xk-a")
    b, _ = registered("xk-b")
    pb = new_project(b)
    r = a.post("/settings/service-keys", {"name": "k", "project_id": pb["id"]})
    assert_error(r, 400, "BAD_REQUEST", field="project_id")
    assert r.error["details"] == [{"field": "project_id", "message": "not found"}], r
    r = a.post("/settings/service-keys", {"name": "k", "project_id": str(uuid.uuid4())})
    assert_error(r, 400, "BAD_REQUEST", field="project_id")
    assert psql("SELECT count(*) FROM service_keys WHERE project_id = '%s'" % pb["id"],
                user="launcher_owner") == ["0"]
    # A key of b's own project still goes with it (ON DELETE CASCADE kept).
    kb = make_key(b, project_id=pb["id"])
    assert b.delete("/projects/" + pb["id"]).status == 204
    assert_error(Client(b.tenant, key=kb["key"]).get("/auth/me"), 401, "UNAUTHORIZED")


def test_a_projects_default_server_must_be_one_of_its_tenants():
    a, _ = registered("xs-a")
    b, _ = registered("xs-b")
    sb = _server(b)
    r = a.post("/projects", {"name": "p-" + uuid.uuid4().hex[:8], "default_server_id": sb["id"]})
    assert_error(r, 400, "BAD_REQUEST", field="default_server_id")
    p = new_project(a)
    etag = a.get("/projects/" + p["id"]).headers["etag"]
    for sid in (sb["id"], str(uuid.uuid4())):
        assert_error(a.put("/projects/" + p["id"], {"default_server_id": sid}), 400, "BAD_REQUEST",
                     field="default_server_id")
    g = a.get("/projects/" + p["id"])
    assert g.data["default_server_id"] is None and g.headers["etag"] == etag, g
    # Its own server is taken; deleting that server leaves the project
    # without a default (SET NULL of the id column only, tenant kept).
    sa = _server(a)
    r = a.put("/projects/" + p["id"], {"default_server_id": sa["id"]})
    assert r.status == 200 and r.data["default_server_id"] == sa["id"], r
    assert a.delete("/servers/" + sa["id"]).status == 204
    g = a.get("/projects/" + p["id"])
    assert g.status == 200 and g.data["default_server_id"] is None, g
    assert [x["default_server_id"] for x in a.get("/projects").data if x["id"] == p["id"]] == [None]


def test_registry_and_git_provider_ids_name_nothing_yet():
    c, _ = registered("xr")
    _server(c)
    p = new_project(c)
    body = {"project_id": p["id"], "name": "web", "source_type": "docker_image",
            "image_url": "registry.test/web:v1", "exposed_port": 8080}
    for field in ("registry_id",):
        r = c.post("/applications", dict(body, **{field: str(uuid.uuid4())}))
        assert_error(r, 400, "BAD_REQUEST", field=field)
    r = c.post("/applications", body)
    assert r.status == 201 and r.data["registry_id"] is None, r
    for field in ("registry_id",):
        assert_error(c.put("/applications/" + r.data["id"], {field: str(uuid.uuid4())}),
                     400, "BAD_REQUEST", field=field)
    # git_provider_id is a key since sql/028: an unknown id, or another
    # tenant's provider, is 400 naming the field; the tenant's own is kept.
    other, _ = registered("xg")
    theirs = other.post("/git-providers", {"name": "gh", "type": "github", "token": "ghp_x" * 4})
    assert theirs.status == 201, theirs
    for gid in (str(uuid.uuid4()), theirs.data["id"]):
        assert_error(c.put("/applications/" + r.data["id"], {"git_provider_id": gid}),
                     400, "BAD_REQUEST", field="git_provider_id")
    assert c.get("/applications/" + r.data["id"]).data["git_provider_id"] is None
    # registry_id (sql/029): a registry of the tenant, never another tenant's.
    other, _ = registered("xr2")
    foreign = other.post("/registries", {"name": "theirs", "type": "ghcr"})
    mine = c.post("/registries", {"name": "mine", "type": "ghcr"})
    assert foreign.status == 201 and mine.status == 201, (foreign, mine)
    assert_error(c.post("/applications", dict(body, name="web2", registry_id=foreign.data["id"])),
                 400, "BAD_REQUEST", field="registry_id")
    assert_error(c.put("/applications/" + r.data["id"], {"registry_id": foreign.data["id"]}),
                 400, "BAD_REQUEST", field="registry_id")
    u = c.put("/applications/" + r.data["id"], {"registry_id": mine.data["id"]})
    assert u.status == 200 and u.data["registry_id"] == mine.data["id"], u
    mine = c.post("/git-providers", {"name": "gh", "type": "github", "token": "ghp_y" * 4})
    assert mine.status == 201, mine
    etag = c.get("/applications/" + r.data["id"]).headers["etag"]
    up = c.put("/applications/" + r.data["id"], {"git_provider_id": mine.data["id"]},
               headers={"If-Match": etag})
    assert up.status == 200 and up.data["git_provider_id"] == mine.data["id"], up
