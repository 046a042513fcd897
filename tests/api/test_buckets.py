"""Buckets (API.md §6, sql/053_buckets.sql, fcgi/api/buckets.c), everything
that needs no object store: bodies naming their field (S3's name rules),
the server's object store (PUT /servers/:id/object-store, tenant admins,
its secret write-only), the jobs and what their claims carry (the store's
secret and the bucket's key only to the store's own server), the keys the
completions seal, credentials (write permission, audited), presigned URLs'
shape, rotation, deletes, the objects' cursor, references in the env store,
permissions, tenant isolation.

The agent here is this module speaking the agent API: a contract test of
the job payloads and results.  The store side, with a real
S3 server, is tests/api/test_buckets_e2e.py."""
import json
import re
import threading
import time
import urllib.parse
import uuid

from lib import Client, assert_error, make_key, new_project, new_user, psql, registered
from test_servers import Agent, _server

STORE = {"driver": "rgw", "endpoint": "http://s3.example.test:7480",
         "admin_access_key": "admin-ak", "admin_secret_key": "admin-secret-value-1"}


def _owner(sql):
    return psql(sql, user="launcher_owner")


def _world(prefix="bkt", store=True):
    c, _ = registered(prefix)
    srv = _server(c, name="only")
    p = new_project(c)
    if store:
        r = c.put("/servers/%s/object-store" % srv["id"], STORE)
        assert r.status == 200, r
    return c, srv, p


def _bucket(c, p, **body):
    body.setdefault("project_id", p["id"])
    body.setdefault("name", "b" + uuid.uuid4().hex[:8])
    r = c.post("/buckets", body)
    assert r.status == 201, r
    return r.data


def _claim(agent, kind):
    """Claims jobs until one of kind (others are completed as succeeded)."""
    for _ in range(20):
        job = agent.claim()
        assert job is not None, "no %s job" % kind
        if job["kind"] == kind:
            return job
        _complete(agent, job, "succeeded")
    raise AssertionError("no %s job" % kind)


def _claim_soon(agent, kind, timeout=15):
    """The next job of kind, once a waited call running in a thread queued it."""
    deadline = time.time() + timeout
    while True:
        job = agent.claim()
        if job is not None and job["kind"] == kind:
            return job
        if job is not None:
            _complete(agent, job, "succeeded")
            continue
        assert time.time() < deadline, "no %s job queued" % kind
        time.sleep(0.05)


class Call(threading.Thread):
    """One waited call in the background (launcher-ws holds it until its job
    ends); .result() once it answered."""

    def __init__(self, fn, path):
        super().__init__(daemon=True)
        self.fn, self.path, self.resp, self.exc = fn, path, None, None
        self.start()

    def run(self):
        try:
            self.resp = self.fn(self.path)
        except Exception as e:  # noqa: BLE001 - reported by the test
            self.exc = e

    def result(self, timeout=30):
        self.join(timeout)
        assert not self.is_alive(), "the waited call did not answer in %d s" % timeout
        assert self.exc is None, self.exc
        return self.resp


def _jobs(b, kind):
    return _owner("SELECT count(*) FROM jobs WHERE kind = '%s' AND payload->>'bucket_id' = '%s'"
                  % (kind, b["id"]))


def _complete(agent, job, status, result=None, error=None):
    body = {"status": status, "result": result or {}}
    if error is not None:
        body["error"] = error
    r = agent.call("POST", "/jobs/%s/complete" % job["id"], body)
    assert r.status == 200, r


def _ready(c, srv, b, ak="AK" + uuid.uuid4().hex[:10].upper(), sk=None):
    """Creates b in the store as its agent would; returns (agent, key)."""
    ag = Agent(c.tenant, srv["agent_token"])
    job = _claim(ag, "bucket.create")
    sk = sk or "sk-" + uuid.uuid4().hex
    _complete(ag, job, "succeeded", {"access_key": ak, "secret_key": sk})
    got = c.get("/buckets/" + b["id"]).data
    assert got["status"] == "ready", got
    return ag, (ak, sk), job


def test_round_trip_the_claim_carries_secrets_and_the_completion_seals_the_key():
    c, srv, p = _world()
    b = _bucket(c, p, name="media")
    assert (b["name"], b["status"], b["public"], b["url"]) == ("media", "provisioning", False, None), b
    assert re.match(r"^lnchr-[0-9a-f]{12}-media$", b["bucket_name"]), b
    assert b["bucket_name"][6:18] == b["id"].replace("-", "")[:12], b
    assert b["server_id"] == srv["id"] and b["project_id"] == p["id"], b
    assert_error(c.get("/buckets/%s/credentials" % b["id"]), 409, "CONFLICT")
    # The stored payload holds no secret; the claim opens the store's.
    stored = _owner("SELECT payload::text FROM jobs WHERE kind = 'bucket.create'"
                    " AND payload->>'bucket_id' = '%s'" % b["id"])
    assert len(stored) == 1 and STORE["admin_secret_key"] not in stored[0], stored
    ag, (ak, sk), job = _ready(c, srv, b)
    assert job["payload"]["bucket_name"] == b["bucket_name"], job
    st = job["payload"]["store"]
    assert (st["driver"], st["admin_endpoint"], st["region"], st["admin_access_key"],
            st["admin_secret_key"]) == ("rgw", STORE["endpoint"], "us-east-1", "admin-ak",
                                        STORE["admin_secret_key"]), st
    # The key is sealed in bucket_keys, never in the clear; the job's result too.
    rows = _owner("SELECT access_key || ' ' || state || ' ' || (secret_sealed LIKE '%%%s%%')"
                  " FROM bucket_keys WHERE bucket_id = '%s'" % (sk, b["id"]))
    assert rows == ["%s active false" % ak], rows
    assert _owner("SELECT count(*) FROM jobs WHERE id = '%s' AND result IS NULL"
                  " AND result_sealed IS NOT NULL" % job["id"]) == ["1"]
    cr = c.get("/buckets/%s/credentials" % b["id"])
    assert cr.status == 200, cr
    assert cr.data == {"endpoint": STORE["endpoint"], "access_key": ak, "secret_key": sk,
                       "bucket_name": b["bucket_name"], "region": "us-east-1"}, cr
    got = c.get("/buckets/" + b["id"])
    assert got.data["endpoint"] == STORE["endpoint"] and "secret" not in json.dumps(got.data)
    assert [x["id"] for x in c.get("/buckets?projectId=" + p["id"]).data] == [b["id"]]
    # public: the store's policy follows (bucket.public), the URL appears.
    r = c.put("/buckets/" + b["id"], {"public": True}, headers={"If-Match": got.headers["etag"]})
    assert r.status == 200 and r.data["public"] is True, r
    # The URL: the bucket's hostname on the edge, <bucket>-<project>.<base_domain>.
    host = _owner("SELECT bucket_hostname(b) FROM buckets b WHERE id = '%s'" % b["id"])[0]
    assert host.startswith("media-%s." % p["name"].lower()), host
    assert r.data["url"] == "http://" + host, r
    job = _claim(ag, "bucket.public")
    assert job["payload"]["public"] is True and job["payload"]["hostname"] == host, job
    assert job["payload"]["store"]["endpoint"] == STORE["endpoint"], job
    _complete(ag, job, "succeeded")
    assert_error(c.put("/buckets/" + b["id"], {"public": False}, headers={"If-Match": '"1"'}),
                 412, "PRECONDITION_FAILED")


def test_bad_names_and_bodies_name_the_field_and_change_nothing():
    c, srv, p = _world()
    for name, why in (("MyBucket", "lowercase"), ("ab", "3 to 63"), ("192.168.5.4", "IP address"),
                      ("a..b", "adjacent"), ("-abc", "begin and end"), ("a" * 64, None),
                      ("xn--abc", "reserved"), ("a_b", "only")):
        r = c.post("/buckets", {"project_id": p["id"], "name": name})
        assert_error(r, 400, "BAD_REQUEST", field="name")
        if why:
            assert why in json.dumps(r.error["details"]), (name, r)
    r = c.post("/buckets", {"project_id": "nope", "name": "ok-name", "public": "yes"})
    assert_error(r, 400, "BAD_REQUEST", field="project_id")
    assert_error(r, 400, "BAD_REQUEST", field="public")
    r = c.post("/buckets", {"project_id": p["id"], "name": "fine", "environment_id": str(uuid.uuid4())})
    assert_error(r, 400, "BAD_REQUEST", field="environment_id")
    assert c.get("/buckets").data == []
    b = _bucket(c, p, name="taken")
    r = c.post("/buckets", {"project_id": p["id"], "name": "taken"})
    assert_error(r, 409, "CONFLICT", field="name")
    assert_error(c.put("/buckets/" + b["id"], {"public": 1}), 400, "BAD_REQUEST", field="public")
    _ready(c, srv, b)
    for body, field in (({"method": "GET"}, "key"), ({"key": "k", "method": "DELETE"}, "method"),
                        ({"key": "k", "method": "GET", "expires_in": 604801}, "expires_in"),
                        ({"key": "k", "method": "GET", "expires_in": 0}, "expires_in"),
                        ({"key": "a\nb", "method": "GET"}, "key"),
                        ({"key": "x" * 1025, "method": "PUT"}, "key")):
        assert_error(c.post("/buckets/%s/presign" % b["id"], body), 400, "BAD_REQUEST", field=field)
    for q, field in (("force=maybe", "force"),):
        assert_error(c.delete("/buckets/%s?%s" % (b["id"], q)), 400, "BAD_REQUEST", field=field)
    assert_error(c.post("/buckets/%s/rotate-credentials?immediate=1" % b["id"]), 400, "BAD_REQUEST",
                 field="immediate")
    assert_error(c.get("/buckets/%s/objects?cursor=abc.def" % b["id"]), 400, "BAD_REQUEST",
                 field="cursor")
    assert_error(c.get("/buckets/not-a-uuid"), 404, "NOT_FOUND")


def test_the_object_store_is_tenant_admins_and_its_secret_write_only():
    c, srv, p = _world(store=False)
    assert_error(c.get("/servers/%s/object-store" % srv["id"]), 404, "NOT_FOUND")
    for body, field in (({**STORE, "driver": "s3"}, "driver"),
                        ({**STORE, "endpoint": "ftp://x"}, "endpoint"),
                        ({**STORE, "endpoint": "http://x/path"}, "endpoint"),
                        ({**STORE, "admin_endpoint": "http://u@x"}, "admin_endpoint"),
                        ({**STORE, "region": "US East"}, "region"),
                        ({k: v for k, v in STORE.items() if k != "admin_secret_key"},
                         "admin_secret_key")):
        assert_error(c.put("/servers/%s/object-store" % srv["id"], body), 400, "BAD_REQUEST",
                     field=field)
    u = new_user(c)
    assert_error(u.put("/servers/%s/object-store" % srv["id"], STORE), 403, "FORBIDDEN")
    assert_error(u.get("/servers/%s/object-store" % srv["id"]), 403, "FORBIDDEN")
    r = c.put("/servers/%s/object-store" % srv["id"], dict(STORE, admin_endpoint="http://10.0.0.1:7480",
                                                           region="eu-1"))
    assert r.status == 200, r
    assert (r.data["driver"], r.data["mode"], r.data["status"], r.data["admin_endpoint"],
            r.data["region"]) == ("rgw", "external", "ready", "http://10.0.0.1:7480", "eu-1"), r
    assert STORE["admin_secret_key"] not in json.dumps(c.get("/servers/%s/object-store" % srv["id"]).data)
    assert STORE["admin_secret_key"] not in json.dumps(c.get("/audit-log").data)
    assert _owner("SELECT count(*) FROM object_stores WHERE admin_secret_sealed LIKE '%%%s%%'"
                  % STORE["admin_secret_key"]) == ["0"]
    # Replaced while it holds buckets: 409.
    _bucket(c, p)
    assert_error(c.put("/servers/%s/object-store" % srv["id"], STORE), 409, "CONFLICT")
    other, _ = registered("bko")
    assert_error(other.put("/servers/%s/object-store" % srv["id"], STORE), 404, "NOT_FOUND")
    assert_error(other.get("/servers/%s/object-store" % srv["id"]), 404, "NOT_FOUND")


def test_the_first_bucket_on_a_server_without_a_store_provisions_a_managed_one():
    c, srv, p = _world(store=False)
    b1 = _bucket(c, p, name="one")
    b2 = _bucket(c, p, name="two")
    st = c.get("/servers/%s/object-store" % srv["id"]).data
    assert (st["mode"], st["driver"], st["status"]) == ("managed", "minio", "provisioning"), st
    assert _owner("SELECT count(*) FROM jobs WHERE kind = 'objstore.provision' AND server_id = '%s'"
                  % srv["id"]) == ["1"]
    ag = Agent(c.tenant, srv["agent_token"])
    job = _claim(ag, "objstore.provision")
    pl = job["payload"]
    assert pl["root_user"] and len(pl["root_password"]) == 40 and pl["port"] == 9000, pl
    assert pl["image"] and pl["volume_id"] == st["id"], pl
    assert pl["root_password"] not in json.dumps(
        _owner("SELECT payload::text FROM jobs WHERE id = '%s'" % job["id"]))
    _complete(ag, job, "succeeded", {"endpoint": "http://127.0.0.1:19000"})
    st = c.get("/servers/%s/object-store" % srv["id"]).data
    assert (st["status"], st["endpoint"]) == ("ready", "http://127.0.0.1:19000"), st
    # Both waiting buckets are created now, with the root's secret.
    seen = set()
    for _ in range(2):
        job = _claim(ag, "bucket.create")
        assert job["payload"]["store"]["admin_secret_key"] == pl["root_password"], job
        seen.add(job["payload"]["bucket_id"])
        _complete(ag, job, "succeeded", {"access_key": "K" + job["id"][:8], "secret_key": "s"})
    assert seen == {b1["id"], b2["id"]}
    assert {x["status"] for x in c.get("/buckets").data} == {"ready"}


def test_a_failed_create_fails_the_bucket_and_it_deletes_at_once():
    c, srv, p = _world()
    b = _bucket(c, p)
    ag = Agent(c.tenant, srv["agent_token"])
    _complete(ag, _claim(ag, "bucket.create"), "failed", error="the store said no")
    got = c.get("/buckets/" + b["id"]).data
    assert (got["status"], got["status_reason"]) == ("failed", "the store said no"), got
    assert c.delete("/buckets/" + b["id"]).status == 204
    assert_error(c.get("/buckets/" + b["id"]), 404, "NOT_FOUND")
    # A success without a key fails it too.
    b = _bucket(c, p)
    _complete(ag, _claim(ag, "bucket.create"), "succeeded", {})
    assert c.get("/buckets/" + b["id"]).data["status"] == "failed"


def test_presigned_urls_are_sigv4_query_signed_with_the_bucket_key():
    c, srv, p = _world()
    b = _bucket(c, p, name="files")
    _, (ak, sk), _ = _ready(c, srv, b)
    r = c.post("/buckets/%s/presign" % b["id"], {"key": "dir/a b.txt", "method": "GET",
                                                  "expires_in": 600})
    assert r.status == 200, r
    u = urllib.parse.urlsplit(r.data["url"])
    q = dict(urllib.parse.parse_qsl(u.query))
    assert "%s://%s" % (u.scheme, u.netloc) == STORE["endpoint"], r
    assert u.path == "/%s/dir/a%%20b.txt" % b["bucket_name"], u
    assert q["X-Amz-Algorithm"] == "AWS4-HMAC-SHA256" and q["X-Amz-Expires"] == "600", q
    assert q["X-Amz-Credential"].startswith(ak + "/") and q["X-Amz-Credential"].endswith(
        "/us-east-1/s3/aws4_request"), q
    assert q["X-Amz-SignedHeaders"] == "host", q
    assert re.match(r"^[0-9a-f]{64}$", q["X-Amz-Signature"]), q
    assert sk not in r.data["url"] and r.data["method"] == "GET" and r.data["expires_at"], r
    r = c.post("/buckets/%s/presign" % b["id"], {"key": "up.bin", "method": "PUT"})
    assert r.status == 200 and dict(urllib.parse.parse_qsl(
        urllib.parse.urlsplit(r.data["url"]).query))["X-Amz-Expires"] == "3600", r


def test_rotation_retires_the_old_key_until_the_referencing_apps_deploy():
    c, srv, p = _world()
    b = _bucket(c, p, name="bkt")
    ag, (ak, sk), _ = _ready(c, srv, b)
    # No application references it: the old key is revoked as the new one comes.
    r = c.post("/buckets/%s/rotate-credentials" % b["id"])
    assert r.status == 202 and r.data["job"]["kind"] == "bucket.rotate", r
    job = _claim(ag, "bucket.rotate")
    assert job["payload"]["revoke_after"] == [] and job["payload"]["store"]["admin_secret_key"], job
    _complete(ag, job, "succeeded", {"access_key": "NEWKEY1", "secret_key": "newsecret1"})
    assert c.get("/buckets/%s/credentials" % b["id"]).data["access_key"] == "NEWKEY1"
    job = _claim(ag, "bucket.revoke")
    assert job["payload"]["access_key"] == ak, job
    _complete(ag, job, "succeeded")
    assert _owner("SELECT access_key || ' ' || state FROM bucket_keys WHERE bucket_id = '%s'"
                  " ORDER BY created_at" % b["id"]) == [ak + " revoked", "NEWKEY1 active"]
    # An application whose env references it keeps the old key until its next deploy.
    env = c.get("/projects/%s/environments" % p["id"]).data[0]["id"]
    a = c.post("/applications", {"project_id": p["id"], "environment_id": env, "name": "web",
                                 "source_type": "docker_image", "image_url": "registry.test/w:1",
                                 "env": {"S3_KEY": "${bucket.bkt.access_key}"}})
    assert a.status == 201, a
    assert c.post("/buckets/%s/rotate-credentials" % b["id"]).status == 202
    job = _claim(ag, "bucket.rotate")
    assert job["payload"]["revoke_after"] == [a.data["id"]], job
    _complete(ag, job, "succeeded", {"access_key": "NEWKEY2", "secret_key": "newsecret2"})
    assert _owner("SELECT state FROM bucket_keys WHERE access_key = 'NEWKEY1'") == ["retiring"]
    assert c.get("/buckets/%s/credentials" % b["id"]).data["access_key"] == "NEWKEY2"
    r = c.post("/applications/%s/deploy" % a.data["id"], {})
    assert r.status in (200, 201, 202), r
    assert _owner("SELECT state FROM bucket_keys WHERE access_key = 'NEWKEY1'") == ["retiring"]
    # The deploy's success (the agent's, here its row) revokes it.
    _owner("UPDATE deployments SET status = 'succeeded' WHERE application_id = '%s'" % a.data["id"])
    assert _owner("SELECT state FROM bucket_keys WHERE access_key = 'NEWKEY1'") == ["revoked"]
    assert _owner("SELECT count(*) FROM jobs WHERE kind = 'bucket.revoke'"
                  " AND payload->>'access_key' = 'NEWKEY1'") == ["1"]
    # ?immediate=true does not wait.
    assert c.post("/buckets/%s/rotate-credentials?immediate=true" % b["id"]).status == 202
    job = _claim(ag, "bucket.rotate")
    assert job["payload"]["immediate"] is True, job
    _complete(ag, job, "succeeded", {"access_key": "NEWKEY3", "secret_key": "newsecret3"})
    assert _owner("SELECT state FROM bucket_keys WHERE access_key = 'NEWKEY2'") == ["revoked"]


def test_a_second_rotation_waits_for_the_first():
    """Contract test (plays the agent): while a bucket.rotate of the bucket is
    queued or running, another is 409 naming why and queues nothing."""
    c, srv, p = _world()
    b = _bucket(c, p)
    ag, _, _ = _ready(c, srv, b)
    assert c.post("/buckets/%s/rotate-credentials" % b["id"]).status == 202
    r = c.post("/buckets/%s/rotate-credentials" % b["id"])
    assert_error(r, 409, "CONFLICT")
    assert "rotation" in r.error["message"], r
    job = _claim(ag, "bucket.rotate")
    r = c.post("/buckets/%s/rotate-credentials?immediate=true" % b["id"])
    assert_error(r, 409, "CONFLICT")
    assert _owner("SELECT count(*) FROM jobs WHERE kind = 'bucket.rotate'"
                  " AND payload->>'bucket_id' = '%s'" % b["id"]) == ["1"]
    _complete(ag, job, "succeeded", {"access_key": "NEWKEYX", "secret_key": "newsecretx"})
    assert c.post("/buckets/%s/rotate-credentials" % b["id"]).status == 202


def test_references_resolve_to_the_active_key_in_the_environment():
    c, srv, p = _world()
    envs = {e["name"]: e["id"] for e in c.get("/projects/%s/environments" % p["id"]).data}
    b = _bucket(c, p, name="assets", environment_id=envs["production"])
    env = {"E": "${bucket.assets.endpoint}", "A": "${bucket.assets.access_key}",
           "S": "${bucket.assets.secret_key}", "N": "${bucket.assets.bucket_name}"}
    r = c.post("/env-vars/preview", {"project_id": p["id"], "environment_id": envs["production"],
                                     "env": env})
    assert_error(r, 400, "BAD_REQUEST", field="E")      # no key yet
    _, (ak, sk), _ = _ready(c, srv, b)
    r = c.post("/env-vars/preview", {"project_id": p["id"], "environment_id": envs["production"],
                                     "env": env})
    assert r.status == 200, r
    assert r.data == {"E": STORE["endpoint"], "A": ak, "S": sk, "N": b["bucket_name"]}, r
    r = c.post("/env-vars/preview", {"project_id": p["id"], "environment_id": envs["staging"],
                                     "env": env})
    assert_error(r, 400, "BAD_REQUEST", field="E")
    assert "no bucket named assets in this environment" in json.dumps(r.error["details"]), r


def test_delete_asks_the_store_and_force_is_passed_on():
    c, srv, p = _world()
    b = _bucket(c, p)
    ag, _, _ = _ready(c, srv, b)
    # Bad ?wait=: 400 naming it, nothing changes.
    for bad in ("301", "-1", "x", ""):
        assert_error(c.delete("/buckets/%s?wait=%s" % (b["id"], bad)), 400, "BAD_REQUEST", field="wait")
    assert c.get("/buckets/" + b["id"]).data["status"] == "ready"
    assert _jobs(b, "bucket.delete") == ["0"]
    # The answer waits for the job: the store's "not empty" is the call's own 409.
    call = Call(c.delete, "/buckets/" + b["id"])
    job = _claim_soon(ag, "bucket.delete")
    assert job["payload"]["force"] is False and job["payload"]["store"]["admin_secret_key"], job
    assert c.get("/buckets/" + b["id"]).data["status"] == "deleting"
    assert_error(c.delete("/buckets/%s?wait=0" % b["id"]), 409, "CONFLICT")
    _complete(ag, job, "failed", {"error": {"code": "CONFLICT", "message": "bucket is not empty",
                                            "status": 409}}, error="bucket is not empty")
    r = call.result()
    assert_error(r, 409, "CONFLICT")
    assert r.error["message"] == "bucket is not empty", r
    got = c.get("/buckets/" + b["id"]).data
    assert got["status"] == "ready" and "not empty" in got["status_reason"], got
    # ?wait=0: the 202 with the job, to poll.
    r = c.delete("/buckets/%s?wait=0" % b["id"])
    assert r.status == 202 and r.data["job"]["kind"] == "bucket.delete", r
    job = _claim(ag, "bucket.delete")
    _complete(ag, job, "failed", {"error": {"code": "CONFLICT", "message": "bucket is not empty",
                                            "status": 409}}, error="bucket is not empty")
    assert c.get("/jobs/" + r.data["job"]["id"]).data["status"] == "failed"
    # With force, waited: 200 once the store deleted it.
    call = Call(c.delete, "/buckets/%s?force=true" % b["id"])
    job = _claim_soon(ag, "bucket.delete")
    assert job["payload"]["force"] is True, job
    _complete(ag, job, "succeeded")
    r = call.result()
    assert r.status == 200 and r.data == {}, r
    assert_error(c.get("/buckets/" + b["id"]), 404, "NOT_FOUND")
    assert _owner("SELECT count(*) FROM bucket_keys WHERE bucket_id = '%s'" % b["id"]) == ["0"]
    # A project's delete removes its buckets from the store too.
    b = _bucket(c, p)
    _ready(c, srv, b)
    assert c.delete("/projects/" + p["id"]).status in (202, 204)
    job = _claim(ag, "bucket.delete")
    assert job["payload"]["bucket_id"] == b["id"] and job["payload"]["force"] is True, job


def test_objects_are_listed_by_the_agent_with_the_bucket_key_and_our_cursor():
    c, srv, p = _world()
    b = _bucket(c, p)
    ag, (ak, sk), _ = _ready(c, srv, b)
    for bad in ("301", "1.5", "soon"):
        assert_error(c.get("/buckets/%s/objects?wait=%s" % (b["id"], bad)), 400, "BAD_REQUEST",
                     field="wait")
    assert _jobs(b, "bucket.objects") == ["0"]
    # The answer waits for the job: the page itself, 200.
    call = Call(c.get, "/buckets/%s/objects?prefix=img/&limit=2" % b["id"])
    job = _claim_soon(ag, "bucket.objects")
    pl = job["payload"]
    assert (pl["prefix"], pl["limit"], pl["access_key"], pl["secret_key"]) == ("img/", 2, ak, sk), pl
    assert "start_after" not in pl, pl
    objs = [{"key": "img/a", "size": 1, "etag": "e1", "last_modified": "2026-01-01T00:00:00Z"},
            {"key": "img/b", "size": 2, "etag": "e2", "last_modified": "2026-01-01T00:00:00Z"}]
    _complete(ag, job, "succeeded", {"objects": objs, "truncated": True})
    r = call.result()
    assert r.status == 200, r
    res = r.data
    assert sorted(res) == ["next_cursor", "objects", "truncated"], res
    assert res["objects"] == objs and res["truncated"] is True and res["next_cursor"], res
    assert c.get("/jobs/" + job["id"]).data["result"] == res
    # ?wait=0: the 202 with the job; the cursor carries on after the last key.
    r = c.get("/buckets/%s/objects?prefix=img/&limit=2&cursor=%s&wait=0" % (b["id"], res["next_cursor"]))
    assert r.status == 202 and r.data["job"]["kind"] == "bucket.objects", r
    assert _claim(ag, "bucket.objects")["payload"]["start_after"] == "img/b"
    # The cursor belongs to its prefix and its bucket.
    assert_error(c.get("/buckets/%s/objects?prefix=x&cursor=%s" % (b["id"], res["next_cursor"])),
                 400, "BAD_REQUEST", field="cursor")
    b2 = _bucket(c, p)
    _ready(c, srv, b2)
    assert_error(c.get("/buckets/%s/objects?prefix=img/&cursor=%s" % (b2["id"], res["next_cursor"])),
                 400, "BAD_REQUEST", field="cursor")


def test_permissions_follow_the_project_roles_and_credentials_are_audited():
    c, srv, p = _world()
    b = _bucket(c, p, name="main")
    _ready(c, srv, b)
    users = {}
    for role in ("viewer", "member", "admin"):
        u = new_user(c)
        assert c.post("/projects/%s/members" % p["id"], {"user_id": u.user_id, "role": role}).status == 201
        users[role] = u
    outsider = new_user(c)
    for role, u in users.items():
        write = role == "admin"
        assert u.get("/buckets/" + b["id"]).status == 200
        assert [x["id"] for x in u.get("/buckets").data] == [b["id"]]
        assert u.get("/buckets/%s/credentials" % b["id"]).status == (200 if write else 403), role
        assert u.post("/buckets/%s/presign" % b["id"], {"key": "k", "method": "GET"}).status == 200
        r = u.post("/buckets/%s/presign" % b["id"], {"key": "k", "method": "PUT"})
        assert r.status == (200 if write else 403), (role, r)
        assert u.get("/buckets/%s/objects?wait=0" % b["id"]).status == 202
        r = u.post("/buckets", {"project_id": p["id"], "name": "by-" + role})
        assert r.status == (201 if write else 403), (role, r)
        assert u.put("/buckets/" + b["id"], {"public": False}).status == (200 if write else 403)
        assert u.post("/buckets/%s/rotate-credentials" % b["id"]).status == (202 if write else 403)
    for path in ("", "/credentials", "/objects"):
        assert_error(outsider.get("/buckets/%s%s" % (b["id"], path)), 404, "NOT_FOUND")
    assert outsider.get("/buckets").data == []
    read = Client(c.tenant, key=make_key(c, scopes=["read"])["key"])
    assert read.get("/buckets/" + b["id"]).status == 200
    assert read.post("/buckets/%s/presign" % b["id"], {"key": "k", "method": "GET"}).status == 200
    assert_error(read.get("/buckets/%s/credentials" % b["id"]), 403, "FORBIDDEN")
    k = make_key(c, scopes=["read", "write"])
    sk = Client(c.tenant, key=k["key"]).get("/buckets/%s/credentials" % b["id"]).data["secret_key"]
    log = c.get("/audit-log?action=bucket.reveal").data
    assert len(log) == 2, log      # the admin's and the key's; refusals record nothing
    assert log[-1]["actor_type"] == "service_key" and log[-1]["resource_id"] == b["id"], log
    assert sk not in json.dumps(c.get("/audit-log").data)


def test_tenants_never_see_each_others_buckets():
    a, srv_a, pa = _world("bka")
    b, srv_b, pb = _world("bkb")
    ba = _bucket(a, pa, name="secret")
    _ready(a, srv_a, ba)
    for path in ("", "/credentials", "/objects"):
        assert_error(b.get("/buckets/%s%s" % (ba["id"], path)), 404, "NOT_FOUND")
    assert_error(b.put("/buckets/" + ba["id"], {"public": True}), 404, "NOT_FOUND")
    assert_error(b.delete("/buckets/" + ba["id"]), 404, "NOT_FOUND")
    assert_error(b.post("/buckets/%s/presign" % ba["id"], {"key": "k", "method": "GET"}), 404, "NOT_FOUND")
    assert_error(b.post("/buckets/%s/rotate-credentials" % ba["id"]), 404, "NOT_FOUND")
    assert b.get("/buckets").data == []
    assert_error(b.post("/buckets", {"project_id": pa["id"], "name": "xyz"}), 404, "NOT_FOUND")
    assert_error(b.post("/buckets", {"project_id": pb["id"], "name": "xyz", "server_id": srv_a["id"]}),
                 400, "BAD_REQUEST", field="server_id")
    assert Agent(b.tenant, srv_b["agent_token"]).claim() is None
    env_b = b.get("/projects/%s/environments" % pb["id"]).data[0]
    r = b.post("/env-vars/preview", {"project_id": pb["id"], "environment_id": env_b["id"],
                                     "env": {"X": "${bucket.secret.secret_key}"}})
    assert_error(r, 400, "BAD_REQUEST", field="X")
    assert psql("SELECT count(*) FROM buckets WHERE id = '%s'" % ba["id"], tenant=b.tid) == ["0"]
    assert psql("SELECT count(*) FROM bucket_keys", tenant=b.tid) == ["0"]
