"""A function's env is the env store's, as an application's (API.md §7, §9,
sql/057_function_env.sql): scope `function` merged project < environment <
function, the create/update body's `env` written to that scope, references
resolved at POST /functions/:id/deploy by the one resolver into what the
fn.deploy claim carries, a bad reference refusing the deploy by name, the
database delete's 409 and the bucket rotation's wait list seeing functions,
a function's deploy and delete releasing a retiring bucket key, runtime
lines redacted of the resolved values, and `launcher-admin migrate` moving
a function's map of the previous version into the store.

The agent here is this module speaking the agent API (contract test of the
claim and completion, as tests/api/test_functions.py and test_buckets.py
do); the resolver, the store and the SQL are the real ones."""
import datetime
import json
import uuid

from lib import assert_error, psql
from test_buckets import _bucket, _claim, _complete, _ready
from test_buckets import _world as _bucket_world
from test_env_deploy import bulk
from test_env_vars import _legacy_seal, _migrate
from test_functions import _fn
from test_servers import Agent


def _owner(sql):
    return psql(sql, user="launcher_owner")


def _world(prefix="fenv"):
    """A tenant with one server that has an object store, a project, its
    production environment's id."""
    c, srv, p = _bucket_world(prefix)
    envs = {e["name"]: e["id"] for e in c.get("/projects/%s/environments" % p["id"]).data}
    return c, srv, p, envs["production"]


def _bulk(c, p, scope, scope_id, variables):
    return bulk(c, p["id"], scope, scope_id, variables).data


def _scope(c, p, fid):
    r = c.get("/env-vars?projectId=%s&scope=function&scopeId=%s&limit=200" % (p["id"], fid))
    assert r.status == 200, r
    return sorted(v["key"] for v in r.data)


def _values(c, p, fid):
    r = c.get("/env-vars/values?projectId=%s&scope=function&scopeId=%s" % (p["id"], fid))
    assert r.status == 200, r
    return r.data


def _deploy_claim(c, srv, fid):
    """POST /functions/:id/deploy, then (agent, the fn.deploy job as the agent claims it)."""
    r = c.post("/functions/%s/deploy" % fid)
    assert r.status == 202, r
    ag = Agent(c.tenant, srv["agent_token"])
    return ag, _claim(ag, "fn.deploy")


def test_the_function_scope_of_the_store_holds_the_bodys_env():
    c, srv, p, prod = _world()
    f = _fn(c, p, env={"A": "1", "B": "2"})
    assert f["env_set"] is True, f
    assert _scope(c, p, f["id"]) == ["A", "B"]
    assert _values(c, p, f["id"]) == {"A": "1", "B": "2"}
    # The function's row keeps no map of its own any more.
    assert _owner("SELECT env_sealed IS NULL FROM functions WHERE id = '%s'" % f["id"]) == ["t"]
    # /env-vars writes the scope like any other: one variable, and in bulk.
    r = c.post("/env-vars", {"project_id": p["id"], "scope": "function", "scope_id": f["id"],
                             "key": "C", "value": "3"})
    assert r.status == 201 and (r.data["scope"], r.data["scope_id"]) == ("function", f["id"]), r
    assert _bulk(c, p, "function", f["id"], {"D": "4"})["created"] == ["D"]
    assert _scope(c, p, f["id"]) == ["A", "B", "C", "D"]
    # Another project's function is not a scope of this project (400 naming scope_id).
    other = c.post("/projects", {"name": "p-" + uuid.uuid4().hex[:10]}).data
    g = _fn(c, other)
    assert_error(c.post("/env-vars", {"project_id": p["id"], "scope": "function", "scope_id": g["id"],
                                      "key": "X", "value": "1"}), 400, "BAD_REQUEST", field="scope_id")
    assert_error(c.post("/env-vars", {"project_id": p["id"], "scope": "function", "key": "X",
                                      "value": "1"}), 400, "BAD_REQUEST", field="scope_id")
    # PUT's env replaces the scope (a new ETag); null empties it.
    etag = c.get("/functions/" + f["id"]).headers["etag"]
    r = c.put("/functions/" + f["id"], {"env": {"A": "one", "E": "5"}}, headers={"If-Match": etag})
    assert r.status == 200 and r.data["env_set"] is True and r.headers["etag"] != etag, r
    assert _values(c, p, f["id"]) == {"A": "one", "E": "5"}
    assert_error(c.put("/functions/" + f["id"], {"timeout_seconds": 7}, headers={"If-Match": etag}),
                 412, "PRECONDITION_FAILED")
    r = c.put("/functions/" + f["id"], {"env": None})
    assert r.status == 200 and r.data["env_set"] is False and _scope(c, p, f["id"]) == [], r
    # Bad keys: 400 naming the key, nothing written.
    assert_error(c.put("/functions/" + f["id"], {"env": {"1BAD": "x"}}), 400, "BAD_REQUEST",
                 field="env.1BAD")
    # A function-scope write marks no application of the project pending.
    a = c.post("/applications", {"project_id": p["id"], "name": "web", "source_type": "docker_image",
                                 "image_url": "registry.example.com/web:1"}).data
    before = _owner("SELECT env_version FROM applications WHERE id = '%s'" % a["id"])
    _bulk(c, p, "function", f["id"], {"F": "6"})
    assert _owner("SELECT env_version FROM applications WHERE id = '%s'" % a["id"]) == before
    # The function's delete takes its scope with it.
    assert c.delete("/functions/" + f["id"]).status == 204
    assert _owner("SELECT count(*) FROM env_vars WHERE function_id = '%s'" % f["id"]) == ["0"]


def test_a_deploy_claim_carries_the_merged_store_resolved():
    c, srv, p, prod = _world()
    b = _bucket(c, p, name="files")
    _, (ak, sk), _ = _ready(c, srv, b, ak="AK" + uuid.uuid4().hex[:12].upper())
    d = c.post("/databases", {"project_id": p["id"], "name": "main", "type": "postgres"})
    assert d.status == 201, d
    pw = c.get("/databases/%s/connection" % d.data["id"]).data["password"]
    f = _fn(c, p, env={"SHARED": "function", "DB_PW": "${db.main.password}",
                       "S3_KEY": "${bucket.files.access_key}", "S3_SECRET": "${bucket.files.secret_key}",
                       "BOTH": "${P}-${E}", "LITERAL": "$${db.main.password}"})
    _bulk(c, p, "project", None, {"P": "p", "SHARED": "project", "ONLY_PROJECT": "x"})
    _bulk(c, p, "environment", prod, {"E": "e", "SHARED": "environment"})
    ag, job = _deploy_claim(c, srv, f["id"])
    assert job["payload"]["function_id"] == f["id"], job
    assert job["payload"]["env"] == {
        "SHARED": "function", "DB_PW": pw, "S3_KEY": ak, "S3_SECRET": sk, "BOTH": "p-e",
        "LITERAL": "${db.main.password}", "P": "p", "E": "e", "ONLY_PROJECT": "x"}, job["payload"]["env"]
    # Sealed at rest: no value in the job's stored payload nor in the row.
    for text in (_owner("SELECT payload::text FROM jobs WHERE id = '%s'" % job["id"])[0],
                 _owner("SELECT row_to_json(f)::text FROM functions f WHERE id = '%s'" % f["id"])[0]):
        assert pw not in text and sk not in text, text
    # The runtime log is redacted of the resolved values.
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    r = ag.call("POST", "/logs", {"entries": [
        {"function_id": f["id"], "container_id": "c" * 64, "timestamp": now, "stream": "stdout",
         "message": "db %s s3 %s" % (pw, sk)}]})
    assert r.status == 204, r
    logs = [x["message"] for x in c.get("/functions/%s/logs" % f["id"]).data]
    assert len(logs) == 1 and pw not in logs[0] and sk not in logs[0] and logs[0].startswith("db "), logs
    _complete(ag, job, "succeeded", {"container_id": "c" * 64})
    assert c.get("/functions/" + f["id"]).data["status"] == "running"


def test_a_bad_reference_refuses_the_deploy_naming_it():
    c, srv, p, prod = _world()
    f = _fn(c, p, env={"URL": "${db.nope.url}", "C1": "${C2}", "C2": "${C1}", "OK": "fine"})
    r = c.post("/functions/%s/deploy" % f["id"])
    assert_error(r, 400, "BAD_REQUEST")
    got = {d["field"]: d["message"] for d in r.error["details"]}
    assert sorted(got) == ["C1", "C2", "URL"], got
    assert got["URL"] == "${db.nope.url}: no database named nope in this environment", got
    assert got["C1"].startswith("${C2}: cycle"), got
    # Nothing queued, nothing moved.
    assert _owner("SELECT count(*) FROM jobs WHERE kind = 'fn.deploy' AND payload->>'function_id' = '%s'"
                  % f["id"]) == ["0"]
    assert c.get("/functions/" + f["id"]).data["status"] == "created"
    # Fixed, it deploys.
    assert c.put("/functions/" + f["id"], {"env": {"OK": "fine"}}).status == 200
    assert c.post("/functions/%s/deploy" % f["id"]).status == 202


def test_a_database_a_function_references_is_not_deleted():
    c, srv, p, prod = _world()
    d = c.post("/databases", {"project_id": p["id"], "name": "main", "type": "postgres"}).data
    f = _fn(c, p, name="worker", env={"MY_DB": "${DB_URL}"})
    # Through a ${VAR} of the project scope, as for an application.
    _bulk(c, p, "project", None, {"DB_URL": "${db.main.url}"})
    r = c.delete("/databases/" + d["id"])
    assert_error(r, 409, "CONFLICT")
    assert "function worker (%s)" % f["id"] in r.error["message"], r
    assert c.get("/databases/" + d["id"]).status == 200
    var = [v["id"] for v in c.get("/env-vars?projectId=%s&scope=project" % p["id"]).data]
    assert len(var) == 1 and c.delete("/env-vars/" + var[0]).status == 204
    assert c.delete("/databases/" + d["id"]).status == 204


def test_a_rotation_waits_for_the_functions_deploy_or_delete():
    c, srv, p, prod = _world()
    b = _bucket(c, p, name="bkt")
    ag, (ak, sk), _ = _ready(c, srv, b, ak="AK" + uuid.uuid4().hex[:12].upper())
    f = _fn(c, p, env={"S3_KEY": "${bucket.bkt.access_key}"})
    new1, new2 = ("NK%d%s" % (i, uuid.uuid4().hex[:10].upper()) for i in (1, 2))
    assert c.post("/buckets/%s/rotate-credentials" % b["id"]).status == 202
    job = _claim(ag, "bucket.rotate")
    assert job["payload"]["revoke_after"] == [f["id"]], job
    _complete(ag, job, "succeeded", {"access_key": new1, "secret_key": "newsecret1"})
    assert _owner("SELECT state FROM bucket_keys WHERE access_key = '%s'" % ak) == ["retiring"]
    # The deploy runs with the new key; the old one waits for its success.
    assert c.post("/functions/%s/deploy" % f["id"]).status == 202
    job = _claim(ag, "fn.deploy")
    assert job["payload"]["env"] == {"S3_KEY": new1}, job["payload"]
    assert _owner("SELECT state FROM bucket_keys WHERE access_key = '%s'" % ak) == ["retiring"]
    _complete(ag, job, "succeeded", {"container_id": "c" * 64})
    assert _owner("SELECT state FROM bucket_keys WHERE access_key = '%s'" % ak) == ["revoked"]
    assert _claim(ag, "bucket.revoke")["payload"]["access_key"] == ak
    # A failed deploy does not release; the function's delete does.
    assert c.post("/buckets/%s/rotate-credentials" % b["id"]).status == 202
    job = _claim(ag, "bucket.rotate")
    assert job["payload"]["revoke_after"] == [f["id"]], job
    _complete(ag, job, "succeeded", {"access_key": new2, "secret_key": "newsecret2"})
    assert c.post("/functions/%s/deploy" % f["id"]).status == 202
    _complete(ag, _claim(ag, "fn.deploy"), "failed", error="build failed")
    assert _owner("SELECT state FROM bucket_keys WHERE access_key = '%s'" % new1) == ["retiring"]
    assert c.delete("/functions/" + f["id"]).status == 204
    assert _owner("SELECT state FROM bucket_keys WHERE access_key = '%s'" % new1) == ["revoked"]
    assert _owner("SELECT count(*) FROM jobs WHERE kind = 'bucket.revoke'"
                  " AND payload->>'access_key' = '%s'" % new1) == ["1"]


def test_a_deploy_queued_before_the_rotation_does_not_release_the_old_key():
    """Its env was resolved with the old key (sql/063): the key keeps waiting
    for a deploy queued after the rotation."""
    c, srv, p, prod = _world()
    b = _bucket(c, p, name="bkq")
    ag, (ak, sk), _ = _ready(c, srv, b, ak="AK" + uuid.uuid4().hex[:12].upper())
    f = _fn(c, p, env={"S3_KEY": "${bucket.bkq.access_key}"})
    assert c.post("/functions/%s/deploy" % f["id"]).status == 202
    early = _claim(ag, "fn.deploy")
    assert early["payload"]["env"] == {"S3_KEY": ak}, early["payload"]
    new = "NQ" + uuid.uuid4().hex[:12].upper()
    assert c.post("/buckets/%s/rotate-credentials" % b["id"]).status == 202
    job = _claim(ag, "bucket.rotate")
    assert job["payload"]["revoke_after"] == [f["id"]], job
    _complete(ag, job, "succeeded", {"access_key": new, "secret_key": "newsecretq"})
    _complete(ag, early, "succeeded", {"container_id": "d" * 64})
    assert _owner("SELECT state FROM bucket_keys WHERE access_key = '%s'" % ak) == ["retiring"]
    assert c.post("/functions/%s/deploy" % f["id"]).status == 202
    job = _claim(ag, "fn.deploy")
    assert job["payload"]["env"] == {"S3_KEY": new}, job["payload"]
    _complete(ag, job, "succeeded", {"container_id": "e" * 64})
    assert _owner("SELECT state FROM bucket_keys WHERE access_key = '%s'" % ak) == ["revoked"]


def test_migrate_moves_a_functions_map_of_the_previous_version():
    c, srv, p, prod = _world()
    f = _fn(c, p)
    # The previous version passed the map as written: "${X}" was literal.
    m = {"TOKEN": "t-" + uuid.uuid4().hex, "EMPTY": "", "LIT": "a${X}b$${Y}"}
    # As a function that deployed before the upgrade: no env of a resolved deploy yet.
    _owner("UPDATE functions SET env_sealed = '%s', release_env_sealed = NULL WHERE id = '%s'"
           % (_legacy_seal(c.tid, "app-env", json.dumps(m).encode()), f["id"]))
    rc, out = _migrate()
    assert "function %s" % f["id"] not in out, out
    # Moved escaped, so that it resolves to what it was.
    assert _values(c, p, f["id"]) == dict(m, LIT="a$${X}b$$${Y}"), out
    assert _owner("SELECT env_sealed IS NULL FROM functions WHERE id = '%s'" % f["id"]) == ["t"]
    assert c.get("/functions/" + f["id"]).data["env_set"] is True
    # Until it deploys again, it runs with that map: its log is redacted of it.
    ag = Agent(c.tenant, srv["agent_token"])
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    r = ag.call("POST", "/logs", {"entries": [
        {"function_id": f["id"], "container_id": "c" * 64, "timestamp": now, "stream": "stdout",
         "message": "token %s" % m["TOKEN"]}]})
    assert r.status == 204, r
    logs = [x["message"] for x in c.get("/functions/%s/logs" % f["id"]).data]
    assert len(logs) == 1 and m["TOKEN"] not in logs[0] and logs[0].startswith("token "), logs
    # Its next deploy carries the literal values.
    ag, job = _deploy_claim(c, srv, f["id"])
    assert job["payload"]["env"] == m, job["payload"]["env"]
    _complete(ag, job, "succeeded", {"container_id": "e" * 64})
