"""Retiring bucket keys (sql/053_buckets.sql, sql/056_bucket_keys_release.sql,
sql/062_bucket_keys_mend.sql): a rotated key stays `retiring` until every
application whose env referenced the bucket at the rotation deployed with
the new key.  An application deleted (alone or with its project) no longer
waits; a deployment whose env was resolved before the rotation (queued, or
running, when it happened) does not count when it succeeds after it.  And
the managed object store's container in the agent's instance report: a
crash shows on GET /servers/:id/object-store.

Contract test: the agent here is this module speaking the agent API
(claims, completions and instance reports, as tests/api/test_buckets.py
and test_applications.py), for the store's jobs and the deploy jobs alike."""
import uuid

from lib import new_project, registered
from test_buckets import STORE, _bucket, _claim, _complete, _owner, _ready
from test_servers import Agent, _server


def _key():
    return "AK" + uuid.uuid4().hex[:12].upper()


def _world():
    c, _ = registered("bkk")
    srv = _server(c, name="only")
    p = new_project(c)
    assert c.put("/servers/%s/object-store" % srv["id"], STORE).status == 200
    b = _bucket(c, p, name="bkt")
    ag, (ak, _), _ = _ready(c, srv, b, ak=_key())
    env = c.get("/projects/%s/environments" % p["id"]).data[0]["id"]
    return c, p, b, ag, ak, env, srv


def _app(c, p, env, name):
    r = c.post("/applications", {"project_id": p["id"], "environment_id": env, "name": name,
                                 "source_type": "docker_image", "image_url": "registry.test/w:1",
                                 "env": {"S3_KEY": "${bucket.bkt.access_key}"}})
    assert r.status == 201, r
    return r.data


def _take(ag, kind, held):
    """Claims jobs until one of kind; the others claimed on the way stay
    running (held), to be completed by the test."""
    for _ in range(20):
        job = ag.claim()
        assert job is not None, "no %s job" % kind
        if job["kind"] == kind:
            return job
        held.append(job)
    raise AssertionError("no %s job" % kind)


def _rotate(c, b, ag, held, apps, new_key):
    """A rotation completed by the agent: the old key now waits for apps."""
    assert c.post("/buckets/%s/rotate-credentials" % b["id"]).status == 202
    job = _take(ag, "bucket.rotate", held)
    assert sorted(job["payload"]["revoke_after"]) == sorted(apps), job
    _complete(ag, job, "succeeded", {"access_key": new_key, "secret_key": "s-" + new_key})


def _state(ak):
    return _owner("SELECT state FROM bucket_keys WHERE access_key = '%s'" % ak)


def _revokes(ak):
    return _owner("SELECT count(*) FROM jobs WHERE kind = 'bucket.revoke'"
                  " AND payload->>'access_key' = '%s'" % ak)


def _deploy(c, app):
    r = c.post("/applications/%s/deploy" % app["id"], {})
    assert r.status in (200, 201, 202), r
    return r.data


def _deployed(c, ag, app, held):
    """A deploy of app created now, claimed and succeeded."""
    _deploy(c, app)
    job = _take(ag, "app.deploy", held)
    assert job["payload"]["app_id"] == app["id"], job
    _complete(ag, job, "succeeded", {"image_id": "sha256:" + uuid.uuid4().hex})


def test_a_deleted_application_no_longer_holds_the_old_key():
    c, p, b, ag, ak, env, _ = _world()
    a1, a2 = _app(c, p, env, "web"), _app(c, p, env, "worker")
    held, k1, k2 = [], _key(), _key()
    _rotate(c, b, ag, held, [a1["id"], a2["id"]], k1)
    assert _state(ak) == ["retiring"]
    # One user left: the key still waits for it.
    assert c.delete("/applications/" + a1["id"]).status == 204
    assert _state(ak) == ["retiring"] and _revokes(ak) == ["0"]
    assert _owner("SELECT revoke_after_deploy::text FROM bucket_keys WHERE access_key = '%s'"
                  % ak) == ["{%s}" % a2["id"]]
    # Nobody left: revoked, and the store is told (bucket.revoke, the old key).
    assert c.delete("/applications/" + a2["id"]).status == 204
    assert _state(ak) == ["revoked"] and _revokes(ak) == ["1"]
    job = _take(ag, "bucket.revoke", held)
    assert job["payload"]["access_key"] == ak and job["payload"]["bucket_id"] == b["id"], job
    _complete(ag, job, "succeeded")
    # The new key is untouched and a later rotation without users revokes at once.
    assert c.get("/buckets/%s/credentials" % b["id"]).data["access_key"] == k1
    _rotate(c, b, ag, held, [], k2)
    assert _state(k1) == ["revoked"] and _revokes(k1) == ["1"]


def test_a_project_deleted_with_its_applications_and_buckets():
    c, p, b, ag, ak, env, srv = _world()
    a = _app(c, p, env, "web")
    held, k1, k2 = [], _key(), _key()
    _rotate(c, b, ag, held, [a["id"]], k1)
    assert _state(ak) == ["retiring"]
    # The applications and the buckets go in one delete; nothing is left
    # waiting and the project delete does not trip over the gone bucket.
    assert c.delete("/projects/" + p["id"]).status in (202, 204)
    assert _owner("SELECT count(*) FROM bucket_keys WHERE bucket_id = '%s'" % b["id"]) == ["0"]
    assert _owner("SELECT count(*) FROM jobs WHERE kind = 'bucket.delete'"
                  " AND payload->>'bucket_id' = '%s'" % b["id"]) == ["1"]
    # Another project's application deleted alone (its bucket still there)
    # releases as above.
    p2 = new_project(c)
    b2 = _bucket(c, p2, name="bkt")
    ag2, (ak2, _), _ = _ready(c, srv, b2, ak=_key())
    env2 = c.get("/projects/%s/environments" % p2["id"]).data[0]["id"]
    a2 = _app(c, p2, env2, "web")
    _rotate(c, b2, ag2, held, [a2["id"]], k2)
    assert c.delete("/applications/" + a2["id"]).status == 204
    assert _state(ak2) == ["revoked"] and _revokes(ak2) == ["1"]


def test_a_deployment_resolved_before_the_rotation_does_not_count():
    c, p, b, ag, ak, env, _ = _world()
    a = _app(c, p, env, "web")
    held, k1, k2 = [], _key(), _key()
    # Deployment 1 is created (its env resolved, the old key in it) and the
    # agent takes it; the rotation completes while it runs.
    _deploy(c, a)
    d1 = _take(ag, "app.deploy", held)
    _rotate(c, b, ag, held, [a["id"]], k1)
    assert _state(ak) == ["retiring"]
    # Its success: it runs the old key, which stays.
    _complete(ag, d1, "succeeded", {"image_id": "sha256:" + uuid.uuid4().hex})
    assert _owner("SELECT status FROM deployments WHERE job_id = '%s'" % d1["id"]) == ["succeeded"]
    assert _state(ak) == ["retiring"] and _revokes(ak) == ["0"]
    # A deployment created after the rotation revokes it.
    _deployed(c, ag, a, held)
    assert _state(ak) == ["revoked"] and _revokes(ak) == ["1"]
    # After a second rotation, a rollback to deployment 1 re-applies its
    # env, resolved before both: it does not count either.
    _rotate(c, b, ag, held, [a["id"]], k2)
    assert _state(k1) == ["retiring"]
    first = _owner("SELECT id FROM deployments WHERE job_id = '%s'" % d1["id"])[0]
    r = c.post("/applications/%s/rollback" % a["id"], {"deployment_id": first})
    assert r.status in (200, 201, 202), r
    job = _take(ag, "app.deploy", held)
    _complete(ag, job, "succeeded", {"image_id": "sha256:" + uuid.uuid4().hex})
    assert _state(k1) == ["retiring"] and _revokes(k1) == ["0"]


def test_a_deployment_queued_before_the_rotation_does_not_count():
    c, p, b, ag, ak, env, _ = _world()
    a = _app(c, p, env, "web")
    held, k1 = [], _key()
    # Queued before the rotation, claimed and succeeded after it.
    _deploy(c, a)
    _rotate(c, b, ag, held, [a["id"]], k1)
    [d1] = [j for j in held if j["kind"] == "app.deploy"]
    _complete(ag, d1, "succeeded", {"image_id": "sha256:" + uuid.uuid4().hex})
    assert _state(ak) == ["retiring"] and _revokes(ak) == ["0"]
    # A deployment created after the rotation: revoked, bucket.revoke queued.
    _deployed(c, ag, a, held)
    assert _state(ak) == ["revoked"] and _revokes(ak) == ["1"]
    job = _take(ag, "bucket.revoke", held)
    assert job["payload"]["access_key"] == ak, job


def test_the_managed_stores_container_is_reported_and_a_crash_shows():
    c, _ = registered("bko")
    srv = _server(c, name="only")
    other = _server(c, name="other")
    p = new_project(c)
    _bucket(c, p, name="bkt", server_id=srv["id"])
    ag = Agent(c.tenant, srv["agent_token"])
    job = _claim(ag, "objstore.provision")
    sid, cid = job["payload"]["store_id"], uuid.uuid4().hex + uuid.uuid4().hex
    _complete(ag, job, "succeeded", {"endpoint": "http://127.0.0.1:19000", "container_id": cid})

    def store():
        return c.get("/servers/%s/object-store" % srv["id"]).data

    def report(agent=ag, **item):
        item = dict({"container_id": cid, "objstore_id": sid, "name": "lnchr-objstore-" + sid,
                     "state": "running", "restart_count": 0}, **item)
        r = agent.call("POST", "/instances", {"instances": [item]})
        assert r.status == 200, r

    st = store()
    assert (st["status"], st["container_status"], st["restart_count"]) == ("ready", None, 0), st
    report()
    st = store()
    assert (st["container_status"], st["status_reason"]) == ("running", None), st
    # Its container stopped: crashed, the store still ready (its buckets stay usable).
    report(state="exited", exit_code=1)
    st = store()
    assert (st["status"], st["container_status"]) == ("ready", "crashed"), st
    assert st["status_reason"] == "the container is exited (exit code 1)", st
    report(state="exited", exit_code=1)
    assert store()["container_status"] == "crashed"
    report()
    st = store()
    assert (st["container_status"], st["status_reason"]) == ("running", None), st
    # Restarted by the engine between two reports: a crash too, over once it runs on.
    report(restart_count=2)
    st = store()
    assert (st["container_status"], st["restart_count"]) == ("crashed", 2), st
    assert st["status_reason"] == "the container restarted by itself (2 restarts)", st
    report(restart_count=2)
    assert store()["container_status"] == "running"
    # Another server's agent does not speak for this store.
    report(agent=Agent(c.tenant, other["agent_token"]), state="exited", exit_code=137)
    assert store()["container_status"] == "running"
    # While the store is provisioned again, reports do not count.
    _owner("UPDATE object_stores SET status = 'failed' WHERE id = '%s'" % sid)
    _bucket(c, p, name="bkt2", server_id=srv["id"])
    assert store()["status"] == "provisioning"
    report(state="exited", exit_code=1)
    assert store()["container_status"] == "running"
