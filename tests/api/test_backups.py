"""Backups through the API (API.md §12, sql/035_backups.sql, fcgi/api/backups.c,
the claim in fcgi/api/agent.c), everything that needs no engine and no object
store: destinations with write-only sealed keys and their checks, permissions
and tenancy, manual backups queued with their payload (keys and
password only in the claim), a backup moved by its job (an agent simulated
through the agent API), restores (into the database, into a new one, by id,
from a path) and the import upload through nginx's own location (a file
staged, served to the importing agent alone, removed when its job ends).
The agent's side, with real engines and radosgw, is bkagent's e2e tests."""
import gzip
import http.client
import json
import os
import uuid

from lib import (HTTPS_PORT, STATE, _ctx, assert_error, new_project, new_user, psql,
                 registered)
from test_databases import _claim, _complete, _db, _running
from test_servers import Agent, _server
from test_volumes import _vol

AK, SK = "AKIA" + uuid.uuid4().hex[:12].upper(), "sk-" + uuid.uuid4().hex
SHA = "ab" * 32


def _owner(sql):
    return psql(sql, user="launcher_owner")


def _dest(c, **body):
    body.setdefault("name", "d-" + uuid.uuid4().hex[:8])
    body.setdefault("provider", "minio")
    if body["provider"] != "local":
        body.setdefault("bucket", "backups")
        body.setdefault("access_key", AK)
        body.setdefault("secret_key", SK)
    if body["provider"] in ("minio", "custom"):
        body.setdefault("endpoint", "http://127.0.0.1:9000")
    r = c.post("/settings/backup-destinations", body)
    assert r.status == 201, r
    return r.data


def _world(prefix="bk"):
    c, _ = registered(prefix)
    srv = _server(c, name="only")
    p = new_project(c)
    return c, srv, p


def _running_db(c, srv, p):
    d = _db(c, p)
    ag, d = _running(c, srv, d)
    return ag, d


# ------------------------------------------------------------ destinations

def test_destination_crud_keys_write_only_and_sealed():
    c, _ = registered("bkdest")
    d = _dest(c, name="main store", path="team/prod")
    assert (d["provider"], d["bucket"], d["endpoint"], d["path"], d["url_style"],
            d["has_credentials"], d["access_key_hint"]) == \
        ("minio", "backups", "http://127.0.0.1:9000", "team/prod", "path", True, AK[-4:]), d
    assert "access_key" not in d and "secret_key" not in d and "credentials_sealed" not in d, d
    sealed = _owner("SELECT credentials_sealed FROM backup_destinations WHERE id = '%s'" % d["id"])[0]
    assert AK not in sealed and SK not in sealed, sealed
    g = c.get("/settings/backup-destinations/" + d["id"])
    assert g.status == 200 and g.data == d and g.headers["etag"], g
    assert [x["id"] for x in c.every("/settings/backup-destinations")] == [d["id"]]
    # PUT: only what is given changes; the keys change together.
    u = c.put("/settings/backup-destinations/" + d["id"], {"name": "renamed"},
              headers={"If-Match": g.headers["etag"]})
    assert u.status == 200 and u.data["name"] == "renamed" and u.data["has_credentials"], u
    assert_error(c.put("/settings/backup-destinations/" + d["id"], {"name": "x"},
                       headers={"If-Match": g.headers["etag"]}), 412, "PRECONDITION_FAILED")
    assert_error(c.put("/settings/backup-destinations/" + d["id"], {"access_key": "AKIAOTHER"}),
                 400, "BAD_REQUEST", field="secret_key")
    u = c.put("/settings/backup-destinations/" + d["id"],
              {"access_key": "AKIANEWKEY42", "secret_key": "new-secret"})
    assert u.status == 200 and u.data["access_key_hint"] == "EY42", u
    loc = _dest(c, provider="local", path="nightly/db")
    assert loc["has_credentials"] is False and loc["bucket"] is None, loc
    assert_error(_post_dest(c, name="renamed", provider="local"), 409, "CONFLICT")
    assert c.delete("/settings/backup-destinations/" + loc["id"]).status == 204
    assert_error(c.get("/settings/backup-destinations/" + loc["id"]), 404, "NOT_FOUND")
    audit = str(c.every("/audit-log"))
    assert SK not in audit and "new-secret" not in audit


def _post_dest(c, **body):
    return c.post("/settings/backup-destinations", body)


def test_bad_destination_bodies_name_their_field_and_change_nothing():
    c, _ = registered("bkbad")
    cases = [
        ({"name": "Bad/Name", "provider": "local"}, "name"),
        ({"name": "a", "provider": "ftp"}, "provider"),
        ({"name": "a", "provider": "local", "path": "../etc"}, "path"),
        ({"name": "a", "provider": "local", "path": "a/../../b"}, "path"),
        ({"name": "a", "provider": "local", "path": "/abs"}, "path"),
        ({"name": "a", "provider": "local", "access_key": "x", "secret_key": "y"}, "access_key"),
        ({"name": "a", "provider": "minio", "bucket": "bkt", "endpoint": "http://h:9000",
          "secret_key": "y"}, "access_key"),
        ({"name": "a", "provider": "s3", "bucket": "bkt", "region": "us-east-1", "access_key": "x"},
         "secret_key"),
        ({"name": "a", "provider": "s3", "bucket": "bkt", "access_key": "x", "secret_key": "y",
          "url_style": "sideways"}, "url_style"),
    ]
    keys = {"access_key": "x", "secret_key": "y"}
    cases += [  # the object store layer's provider rules (objstore_dest_check)
        (dict(keys, name="a", provider="minio", bucket="bkt"), "endpoint"),
        (dict(keys, name="a", provider="r2", bucket="bkt"), "account_id"),
        (dict(keys, name="a", provider="backblaze", bucket="bkt"), "region"),
        (dict(keys, name="a", provider="s3"), "bucket"),
        (dict(keys, name="a", provider="custom", bucket="bkt", endpoint="ftp://h"), "endpoint"),
    ]
    for body, field in cases:
        assert_error(_post_dest(c, **body), 400, "BAD_REQUEST", field=field)
    assert c.every("/settings/backup-destinations") == []
    # An update is checked merged with the stored destination: s3 -> minio needs an endpoint.
    d = _dest(c, provider="s3", region="eu-west-1")
    assert_error(c.put("/settings/backup-destinations/" + d["id"], {"provider": "minio"}),
                 400, "BAD_REQUEST", field="endpoint")
    assert_error(c.put("/settings/backup-destinations/" + d["id"], {"provider": "local"}),
                 400, "BAD_REQUEST", field="access_key")
    assert c.get("/settings/backup-destinations/" + d["id"]).data == d


def test_destination_permissions_and_tenancy():
    c, _ = registered("bkperm")
    d = _dest(c)
    u = new_user(c, role="user")
    assert [x["id"] for x in u.every("/settings/backup-destinations")] == [d["id"]]
    assert_error(u.post("/settings/backup-destinations", {"name": "x", "provider": "local"}),
                 403, "FORBIDDEN")
    assert_error(u.delete("/settings/backup-destinations/" + d["id"]), 403, "FORBIDDEN")
    assert_error(u.post("/settings/backup-destinations/%s/test" % d["id"], {}), 403, "FORBIDDEN")
    other, _ = registered("bkother")
    assert_error(other.get("/settings/backup-destinations/" + d["id"]), 404, "NOT_FOUND")
    assert_error(other.delete("/settings/backup-destinations/" + d["id"]), 404, "NOT_FOUND")
    assert other.every("/settings/backup-destinations") == []


def test_destination_test_is_a_job_whose_claim_alone_holds_the_keys():
    c, srv, _ = _world("bktest")
    d = _dest(c)
    assert_error(c.post("/settings/backup-destinations/%s/test" % d["id"],
                        {"server_id": str(uuid.uuid4())}), 400, "BAD_REQUEST", field="server_id")
    r = c.post("/settings/backup-destinations/%s/test" % d["id"], {"server_id": srv["id"]})
    assert r.status == 202 and r.data["job"]["kind"] == "backup.dest_test", r
    job = r.data["job"]
    stored = _owner("SELECT payload::text FROM jobs WHERE id = '%s'" % job["id"])[0]
    assert AK not in stored and SK not in stored and d["id"] in stored, stored
    ag = Agent(c.tenant, srv["agent_token"])
    got = ag.claim()
    assert got["id"] == job["id"], got
    dest = got["payload"]["destination"]
    assert (dest["access_key"], dest["secret_key"], dest["bucket"], dest["provider"]) == \
        (AK, SK, "backups", "minio"), dest
    steps = [{"step": "write", "ok": False, "ms": 3, "error": "InvalidAccessKeyId: no"}]
    _complete(ag, got, "succeeded", {"ok": False, "steps": steps, "other": 1})
    j = c.get("/jobs/" + job["id"]).data
    assert j["result"] == {"ok": False, "steps": steps}, j


# ------------------------------------------------------------ backups

def test_manual_backup_payload_claim_and_the_trigger_transitions():
    c, srv, p = _world("bkrun")
    ag, d = _running_db(c, srv, p)
    dest = _dest(c)
    r = c.post("/databases/%s/backups" % d["id"], {})
    assert r.status == 202, r
    job, b = r.data["job"], r.data["backup"]
    assert job["kind"] == "backup.run" and b["status"] == "pending", r
    assert (b["resource_type"], b["resource_id"], b["destination_id"], b["trigger"], b["format"],
            b["engine"]) == ("database", d["id"], dest["id"], "manual", "pg_dump", "postgres"), b
    assert b["object_key"].startswith("launcher/database/%s/" % d["id"]) and \
        b["object_key"].endswith("-%s.pgdump" % b["id"]), b
    stored = _owner("SELECT payload::text FROM jobs WHERE id = '%s'" % job["id"])[0]
    assert AK not in stored and SK not in stored and "password" not in json.loads(stored)["database"], \
        stored
    got = _claim(ag, "backup.run")
    pl = got["payload"]
    assert (pl["backup_id"], pl["object_key"], pl["format"], pl["resource_type"]) == \
        (b["id"], b["object_key"], "pg_dump", "database"), pl
    assert (pl["destination"]["access_key"], pl["destination"]["secret_key"]) == (AK, SK), pl
    assert pl["database"]["database_id"] == d["id"] and len(pl["database"]["password"]) == 32, pl
    assert pl["database"]["container"] == "lnchr-db-" + d["id"], pl
    assert c.get("/backups/" + b["id"]).data["status"] == "running"
    assert ag.call("POST", "/jobs/%s/progress" % got["id"], {"phase": "verifying"}).status == 204
    assert c.get("/backups/" + b["id"]).data["status"] == "verifying"
    # Succeeded without a verified checksum: the backup failed, and says why; an alert.
    _complete(ag, got, "succeeded", {"size_bytes": 10})
    f = c.get("/backups/" + b["id"]).data
    assert f["status"] == "failed" and "verified" in f["error"] and f["sha256"] is None, f
    ev = _owner("SELECT event || ' ' || resource_id FROM alert_events WHERE payload->>'backup_id' = '%s'"
                % b["id"])
    assert ev == ["backup.failed " + d["id"]], ev
    # A full result: succeeded.
    b2 = c.post("/databases/%s/backups" % d["id"], {"destination_id": dest["id"]}).data["backup"]
    got = _claim(ag, "backup.run")
    _complete(ag, got, "succeeded", {"size_bytes": 1234, "sha256": SHA,
                                     "verified_at": "2026-12-06T01:00:00Z",
                                     "object_key": b2["object_key"]})
    s = c.get("/backups/" + b2["id"]).data
    assert (s["status"], s["size_bytes"], s["sha256"]) == ("succeeded", 1234, SHA) and \
        s["verified_at"] and s["finished_at"], s
    assert [x["id"] for x in c.every("/databases/%s/backups" % d["id"])] == [b["id"], b2["id"]]
    assert [x["id"] for x in c.every("/backups?status=succeeded")] == [b2["id"]]
    assert [x["id"] for x in c.every("/backups?resourceId=%s&resourceType=database" % d["id"])] == \
        [b["id"], b2["id"]]
    assert_error(c.get("/backups?status=done"), 400, "BAD_REQUEST", field="status")
    # The destination now holds backups: 409 naming them.
    r = c.delete("/settings/backup-destinations/" + dest["id"])
    assert_error(r, 409, "CONFLICT")
    assert b2["id"] in r.error["message"], r


def test_default_destination_refusals_and_volume_backups():
    c, srv, p = _world("bkdef")
    ag, d = _running_db(c, srv, p)
    assert_error(c.post("/databases/%s/backups" % d["id"], {}), 400, "BAD_REQUEST",
                 field="destination_id")
    _dest(c)
    _dest(c)
    assert_error(c.post("/databases/%s/backups" % d["id"], {}), 400, "BAD_REQUEST",
                 field="destination_id")
    assert_error(c.post("/databases/%s/backups" % d["id"], {"destination_id": str(uuid.uuid4())}),
                 400, "BAD_REQUEST", field="destination_id")
    loc = _dest(c, provider="local", path="x")
    stopped = _db(c, p)
    r = c.post("/databases/%s/backups" % stopped["id"], {"destination_id": loc["id"]})
    assert_error(r, 409, "CONFLICT")
    v = _vol(c, p)
    r = c.post("/volumes/%s/backups" % v["id"], {"destination_id": loc["id"]})
    assert r.status == 202, r
    b = r.data["backup"]
    assert (b["format"], b["engine"], b["object_key"][-4:]) == ("tar", None, ".tar"), b
    pl = _owner("SELECT payload::text FROM jobs WHERE id = '%s'" % r.data["job"]["id"])[0]
    assert '"engine_name": "lnchr-vol-%s"' % v["id"] in pl, pl
    assert [x["id"] for x in c.every("/volumes/%s/backups" % v["id"])] == [b["id"]]
    assert_error(c.post("/backups/volume/%s/restore" % b["id"], {}), 409, "CONFLICT")


def test_backup_permissions_and_tenancy():
    c, srv, p = _world("bkten")
    ag, d = _running_db(c, srv, p)
    dest = _dest(c)
    b = c.post("/databases/%s/backups" % d["id"], {}).data["backup"]
    other, _ = registered("bkten2")
    assert_error(other.get("/backups/" + b["id"]), 404, "NOT_FOUND")
    assert other.every("/backups") == []
    assert_error(other.post("/backups/database/%s/restore" % b["id"], {}), 404, "NOT_FOUND")
    op = new_project(other)
    _, od = _running(other, _server(other), _db(other, op))
    assert_error(other.post("/databases/%s/restore" % od["id"], {"backup_id": b["id"]}),
                 404, "NOT_FOUND")
    assert_error(other.post("/databases/%s/backups" % od["id"], {"destination_id": dest["id"]}),
                 400, "BAD_REQUEST", field="destination_id")
    # A tenant user outside the project: 404; a viewer reads but may not back up or restore.
    u = new_user(c, role="user")
    assert_error(u.get("/backups/" + b["id"]), 404, "NOT_FOUND")
    assert u.every("/backups") == []
    m = c.post("/projects/%s/members" % p["id"], {"user_id": u.user_id, "role": "viewer"})
    assert m.status in (200, 201), m
    assert u.get("/backups/" + b["id"]).status == 200
    assert [x["id"] for x in u.every("/backups")] == [b["id"]]
    assert_error(u.post("/databases/%s/backups" % d["id"], {}), 403, "FORBIDDEN")
    assert_error(u.post("/backups/database/%s/restore" % b["id"], {}), 403, "FORBIDDEN")
    # A project admin restores the project's backups, but not an arbitrary
    # path of the tenant-wide destination (another project's dumps are there).
    assert c.put("/projects/%s/members/%s" % (p["id"], m.data["id"]), {"role": "admin"}).status == 200
    assert_error(u.post("/databases/%s/restore-from-path" % d["id"],
                        {"destination_id": dest["id"], "path": "launcher/database/x/y.pgdump"}),
                 403, "FORBIDDEN")
    assert _owner("SELECT count(*) FROM jobs WHERE kind = 'backup.restore' AND payload->>'object_key'"
                  " = 'launcher/database/x/y.pgdump'")[0] == "0"


def _succeeded_backup(c, ag, d):
    b = c.post("/databases/%s/backups" % d["id"], {}).data["backup"]
    got = _claim(ag, "backup.run")
    _complete(ag, got, "succeeded", {"size_bytes": 77, "sha256": SHA,
                                     "verified_at": "2026-12-06T01:00:00Z"})
    return c.get("/backups/" + b["id"]).data


def test_restores_move_the_database_and_name_the_safety_backup():
    c, srv, p = _world("bkrest")
    ag, d = _running_db(c, srv, p)
    _dest(c)
    pending = c.post("/databases/%s/backups" % d["id"], {}).data["backup"]
    assert_error(c.post("/databases/%s/restore" % d["id"], {"backup_id": pending["id"]}),
                 409, "CONFLICT")
    _complete(ag, _claim(ag, "backup.run"), "failed", error="disk full")
    b = _succeeded_backup(c, ag, d)
    assert_error(c.post("/databases/%s/restore" % d["id"], {}), 400, "BAD_REQUEST",
                 field="backup_id")
    other = _db(c, p)
    assert_error(c.post("/databases/%s/restore" % other["id"], {"backup_id": b["id"]}),
                 400, "BAD_REQUEST", field="backup_id")
    r = c.post("/databases/%s/restore" % d["id"], {"backup_id": b["id"]})
    assert r.status == 202 and r.data["job"]["kind"] == "backup.restore", r
    got = _claim(ag, "backup.restore")
    pl = got["payload"]
    assert (pl["backup_id"], pl["expected_size"], pl["expected_sha256"], pl["object_key"]) == \
        (b["id"], 77, SHA, b["object_key"]), pl
    assert pl["destination"]["secret_key"] == SK and len(pl["database"]["password"]) == 32, pl
    safety = pl["safety"]
    assert safety["object_key"].endswith("-%s.pgdump" % safety["backup_id"]), pl
    assert c.get("/databases/" + d["id"]).data["status"] == "restoring"
    _complete(ag, got, "failed", {"safety": {"size_bytes": 5, "sha256": SHA,
                                             "verified_at": "2026-12-06T01:00:00Z"}},
              error="checksum mismatch")
    got_db = c.get("/databases/" + d["id"]).data
    assert got_db["status"] == "failed" and safety["backup_id"] in got_db["status_reason"] and \
        "checksum mismatch" in got_db["status_reason"], got_db
    s = c.get("/backups/" + safety["backup_id"]).data
    assert (s["trigger"], s["status"]) == ("safety", "succeeded"), s
    # The safety backup failing is no alert; restoring a failed database is refused (409).
    assert_error(c.post("/backups/database/%s/restore" % b["id"], {}), 409, "CONFLICT")
    assert_error(c.post("/backups/bucket/%s/restore" % b["id"], {}), 400, "BAD_REQUEST")
    assert_error(c.post("/backups/volume/%s/restore" % b["id"], {}), 404, "NOT_FOUND")
    # Into a new database: 201, its provision carries the restore (keys in the claim only).
    r = c.post("/backups/database/%s/restore" % b["id"], {"new_name": "copy"})
    assert r.status == 201 and r.data["name"] == "copy" and r.data["type"] == "postgres", r
    stored = _owner("SELECT payload::text FROM jobs WHERE kind = 'db.provision' AND"
                    " payload->>'database_id' = '%s'" % r.data["id"])[0]
    assert SK not in stored and b["object_key"] in stored, stored
    got = _claim(ag, "db.provision")
    assert got["payload"]["database_id"] == r.data["id"], got
    assert got["payload"]["restore"]["backup_id"] == b["id"] and \
        got["payload"]["restore"]["destination"]["secret_key"] == SK, got
    assert_error(c.post("/databases/%s/restore" % d["id"], {"backup_id": b["id"],
                                                           "new_name": "copy"}), 409, "CONFLICT")


def test_a_restore_that_never_began_leaves_the_database_running():
    """Cancelled in the queue, or stopped by its safety backup before it
    changed anything (restored = false): the database runs on, with why."""
    c, srv, p = _world("bkrest0")
    ag, d = _running_db(c, srv, p)
    _dest(c)
    b = _succeeded_backup(c, ag, d)
    r = c.post("/databases/%s/restore" % d["id"], {"backup_id": b["id"]})
    assert r.status == 202, r
    assert _owner("SELECT job_cancel('%s', 'cancelled by the test')" % r.data["job"]["id"]) == \
        ["cancelled"]
    got = c.get("/databases/" + d["id"]).data
    assert got["status"] == "running", got
    r = c.post("/databases/%s/restore" % d["id"], {"backup_id": b["id"]})
    assert r.status == 202, r
    got = _claim(ag, "backup.restore")
    assert c.get("/databases/" + d["id"]).data["status"] == "restoring"
    _complete(ag, got, "failed", {"restored": False, "safety": None},
              error="the safety backup failed, nothing was restored: disk full")
    got = c.get("/databases/" + d["id"]).data
    assert got["status"] == "running" and "nothing was changed" in got["status_reason"], got
    # A server that made backups keeps their records: it cannot be deleted
    # under them (the database and its data gone, only the backups hold it).
    assert c.delete("/databases/%s?delete_data=true" % d["id"]).status in (202, 204)
    for _ in range(20):
        job = ag.claim()
        if job is None:
            break
        _complete(ag, job, "succeeded")
    r = c.delete("/servers/" + srv["id"] + "?force=true")
    assert r.status == 409 and "backups" in r.json["error"]["message"], r
    assert c.get("/backups/" + b["id"]).status == 200
    _owner("DELETE FROM backups WHERE server_id = '%s'" % srv["id"])
    r = c.delete("/servers/" + srv["id"] + "?force=true")
    assert r.status == 204, r


def test_restore_from_path_and_its_checks():
    c, srv, p = _world("bkpath")
    ag, d = _running_db(c, srv, p)
    dest = _dest(c)
    for body, field in [({"destination_id": dest["id"], "path": "../x"}, "path"),
                        ({"destination_id": dest["id"], "path": "a", "format": "zip"}, "format"),
                        ({"path": "a"}, "destination_id"),
                        ({"destination_id": str(uuid.uuid4()), "path": "a"}, "destination_id")]:
        assert_error(c.post("/databases/%s/restore-from-path" % d["id"], body), 400,
                     "BAD_REQUEST", field=field)
    assert_error(c.post("/databases/%s/restore-from-path" % d["id"],
                        {"destination_id": dest["id"], "path": "x.sql", "format": "mariadb-dump"}),
                 409, "CONFLICT")
    r = c.post("/databases/%s/restore-from-path" % d["id"],
               {"destination_id": dest["id"], "path": "old/prod.pgdump"})
    assert r.status == 202, r
    pl = _claim(ag, "backup.restore")["payload"]
    assert (pl["backup_id"], pl["object_key"], pl["format"], pl["expected_sha256"]) == \
        (None, "old/prod.pgdump", "pg_dump", None), pl


# ------------------------------------------------------------ import

def _upload(c, db_id, data, ctype="application/sql", length=None):
    conn = http.client.HTTPSConnection("localhost", HTTPS_PORT, context=_ctx, timeout=60)
    try:
        conn.putrequest("POST", "/%s/api/v1/databases/%s/import" % (c.tenant, db_id))
        for k, v in c.headers({"Content-Type": ctype}).items():
            conn.putheader(k, v)
        conn.putheader("Content-Length", str(len(data) if length is None else length))
        conn.endheaders()
        if length is None:
            conn.send(data)
        r = conn.getresponse()
        import json
        raw = r.read()
        return r.status, json.loads(raw) if raw else None
    finally:
        conn.close()


def test_import_stages_the_upload_for_its_agent_alone():
    c, srv, p = _world("bkimp")
    ag, d = _running_db(c, srv, p)
    dump = b"CREATE TABLE t (x int);\nINSERT INTO t VALUES (1);\n" * 2000
    status, body = _upload(c, d["id"], dump)
    assert status == 202 and body["data"]["job"]["kind"] == "db.import", body
    job = body["data"]["job"]
    pl = json.loads(_owner("SELECT payload::text FROM jobs WHERE id = '%s'" % job["id"])[0])
    assert pl["size_bytes"] == len(dump) and pl["format"] == "sql", pl
    staged = os.path.join(STATE, "imports", pl["upload_id"])
    with open(staged, "rb") as f:
        assert f.read() == dump
    assert os.listdir(os.path.join(STATE, "imports", "tmp")) == []
    # Not before its claim, not for another server, nor for a user.
    assert_error(ag.call("GET", "/imports/" + job["id"]), 404, "NOT_FOUND")
    got = _claim(ag, "db.import")
    assert len(got["payload"]["database"]["password"]) == 32, got
    srv2 = _server(c, name="second")
    ag2 = Agent(c.tenant, srv2["agent_token"])
    assert_error(ag2.call("GET", "/imports/" + job["id"]), 404, "NOT_FOUND")
    assert c.get("/agent/imports/" + job["id"]).status in (401, 403)
    r = ag.call("GET", "/imports/" + job["id"])
    assert r.status == 200 and r.raw == dump, (r.status, len(r.raw))
    assert c.get("/.lnchr-imports/" + pl["upload_id"]).status == 404
    # A second import while one runs: 409.
    status, body = _upload(c, d["id"], b"SELECT 1;\n")
    assert status == 409, body
    _complete(ag, got, "succeeded", {})
    assert not os.path.exists(staged)


def test_import_refusals_are_json_envelopes():
    c, srv, p = _world("bkimpno")
    ag, d = _running_db(c, srv, p)
    status, body = _upload(c, d["id"], b"", length=(1 << 30) + 1)
    assert status == 413 and body["success"] is False and \
        body["error"]["code"] == "PAYLOAD_TOO_LARGE", (status, body)
    status, body = _upload(c, d["id"], b"SELECT 1;\n", ctype="image/png")
    assert status == 415 and body["success"] is False, body
    status, body = _upload(c, d["id"], b"")
    assert status == 400, body
    status, body = _upload(c, str(uuid.uuid4()), b"SELECT 1;\n")
    assert status == 404, body
    u = new_user(c, role="user")
    status, body = _upload(u, d["id"], b"SELECT 1;\n")
    assert status == 404, body
    stopped = _db(c, p)
    status, body = _upload(c, stopped["id"], b"SELECT 1;\n")
    assert status == 409, body
    assert _owner("SELECT count(*) FROM jobs WHERE kind = 'db.import' AND tenant_id ="
                  " (SELECT tenant_id FROM databases WHERE id = '%s')" % d["id"]) == ["0"]
    assert os.listdir(os.path.join(STATE, "imports", "tmp")) == []


def test_import_needs_no_read_of_the_upload():
    """nginx writes the upload 0600 for its own user; the pool (another user
    in the installed layout) only stats and renames it: the content check
    (gzip here) is the agent's, before the engine's client sees a byte."""
    c, srv, p = _world("bkimpgz")
    ag, d = _running_db(c, srv, p)
    gz = gzip.compress(b"SELECT 1;\n")
    status, body = _upload(c, d["id"], gz)
    assert status == 202 and body["data"]["job"]["kind"] == "db.import", body
    got = _claim(ag, "db.import")
    r = ag.call("GET", "/imports/" + body["data"]["job"]["id"])
    assert r.status == 200 and r.raw == gz, (r.status, len(r.raw))
    _complete(ag, got, "failed", {})


def test_a_schedules_backup_moves_its_schedule_and_a_delete_job_removes_the_row():
    """backup_queue() as launcher-backup calls it (owner role, no session
    tenant): the schedule shows queued, running, succeeded; a succeeded
    backup.delete removes the backup's row."""
    c, srv, p = _world("bksched")
    ag, d = _running_db(c, srv, p)
    dest = _dest(c)
    sid = _owner("INSERT INTO backup_schedules (tenant_id, project_id, resource_type, database_id,"
                 " destination_id, cron) SELECT tenant_id, project_id, 'database', id, '%s',"
                 " '0 3 * * *' FROM databases WHERE id = '%s' RETURNING id" % (dest["id"], d["id"]))[0]
    bid = _owner("SELECT backup_queue('database', '%s', '%s', '%s', 'schedule', NULL)"
                 % (d["id"], dest["id"], sid))[0]
    state = "SELECT last_status || ' ' || (last_success_at IS NOT NULL) FROM backup_schedules" \
            " WHERE id = '%s'" % sid
    assert _owner(state) == ["queued false"]
    got = _claim(ag, "backup.run")
    assert got["payload"]["backup_id"] == bid and got["payload"]["destination"]["secret_key"] == SK
    assert _owner(state) == ["running false"]
    _complete(ag, got, "succeeded", {"size_bytes": 9, "sha256": SHA,
                                     "verified_at": "2026-12-06T01:00:00Z"})
    assert _owner(state) == ["succeeded true"]
    b = c.get("/backups/" + bid).data
    assert (b["trigger"], b["schedule_id"], b["status"]) == ("schedule", sid, "succeeded"), b
    _owner("SELECT job_enqueue(tenant_id, server_id, project_id, 'backup.delete',"
           " jsonb_build_object('backup_id', id, 'object_key', object_key), NULL)"
           " FROM backups WHERE id = '%s'" % bid)
    got = _claim(ag, "backup.delete")
    _complete(ag, got, "succeeded", {})
    assert_error(c.get("/backups/" + bid), 404, "NOT_FOUND")
    # The schedule's database goes: so does the schedule; the destination is free again.
    assert c.delete("/databases/" + d["id"]).status == 204
    assert _owner("SELECT count(*) FROM backup_schedules WHERE id = '%s'" % sid) == ["0"]
    assert c.delete("/settings/backup-destinations/" + dest["id"]).status == 204
