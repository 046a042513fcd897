"""Idempotency-Key on POST: replay within 24 h, 409 on a different body,
concurrent duplicates create one resource."""
import threading
import uuid

from lib import Client, assert_error, make_key, psql, registered


def test_twenty_concurrent_posts_create_one_project_and_get_one_body():
    c, _ = registered()
    key = str(uuid.uuid4())
    name = "idem-" + uuid.uuid4().hex[:8]
    results = []

    def go():
        results.append(c.post("/projects", {"name": name}, headers={"Idempotency-Key": key}))
    ts = [threading.Thread(target=go) for _ in range(20)]
    [t.start() for t in ts]
    [t.join() for t in ts]
    assert [r.status for r in results] == [201] * 20, [r.status for r in results]
    assert len({r.raw for r in results}) == 1, "bodies differ"
    assert sum(1 for r in results if r.headers.get("idempotent-replayed") == "true") == 19
    assert psql("SELECT count(*) FROM projects WHERE name = '%s'" % name, tenant=c.tid) == ["1"]


def test_same_key_other_body_is_409_and_other_principal_is_independent():
    c, _ = registered()
    key = "retry-" + uuid.uuid4().hex
    r1 = c.post("/projects", {"name": "first-one"}, headers={"Idempotency-Key": key})
    assert r1.status == 201
    r2 = c.post("/projects", {"name": "first-one"}, headers={"Idempotency-Key": key})
    assert r2.status == 201 and r2.raw == r1.raw and r2.headers.get("idempotent-replayed") == "true"
    assert_error(c.post("/projects", {"name": "second-one"}, headers={"Idempotency-Key": key}),
                 409, "CONFLICT")
    assert [p["name"] for p in c.get("/projects").data] == ["first-one"]
    # Another principal (a service key) with the same key runs its own request.
    kc = Client(c.tenant, key=make_key(c)["key"])
    r3 = kc.post("/projects", {"name": "second-one"}, headers={"Idempotency-Key": key})
    assert r3.status == 201 and r3.headers.get("idempotent-replayed") is None, r3
    assert_error(c.post("/projects", {"name": "x"}, headers={"Idempotency-Key": "k" * 300}),
                 400, "BAD_REQUEST")
    assert_error(c.post("/projects", {"name": "x"}, headers={"Idempotency-Key": "has space"}),
                 400, "BAD_REQUEST")


def test_errors_are_not_replayed_and_keys_expire_after_a_day():
    c, _ = registered()
    key = "err-" + uuid.uuid4().hex
    assert c.post("/projects", {"name": "BAD"}, headers={"Idempotency-Key": key}).status == 400
    r = c.post("/projects", {"name": "BAD"}, headers={"Idempotency-Key": key})
    assert r.status == 400 and r.headers.get("idempotent-replayed") is None
    key2 = "old-" + uuid.uuid4().hex
    assert c.post("/projects", {"name": "aged"}, headers={"Idempotency-Key": key2}).status == 201
    psql("UPDATE idempotency_keys SET created_at = now() - interval '25 hours' WHERE key = '%s'" % key2,
         user="launcher_owner")
    r = c.post("/projects", {"name": "aged"}, headers={"Idempotency-Key": key2})
    assert_error(r, 409, "CONFLICT")  # ran again: the name now exists
