"""Point-in-time recovery (API.md §12, sql/037_pitr.sql, fcgi/api/pitr.c)
without an engine: the database field pitr_destination_id (the tenant's
only destination by default, else 400 naming it; postgres only), the
window stored from job results and read without waiting, the jobs that
pitr_tick queues, targets outside the window (400 with the window), the
clone (a new database provisioned with the restore), the switch (names
and aliases swapped in one transaction), bad bodies, permissions and
tenant isolation.  The engine side is tests/api/test_pitr_e2e.py."""
import json
import uuid

from lib import Client, assert_error, make_key, new_project, new_user, psql, registered
from test_databases import _claim, _complete, _db, _jobs, _owner, _world
from test_servers import Agent
from test_launcher_backup import run as launcher_backup_run


def _dest(c, name="local"):
    """A local backup destination of c's tenant (inserted: the destinations API is bkapi's)."""
    return _owner("INSERT INTO backup_destinations (tenant_id, name, provider)"
                  " VALUES ('%s', '%s', 'local') RETURNING id" % (c.tid, name))[0]


def _window(earliest, latest):
    return {"earliest": earliest, "latest": latest}


def _pitr_db(c, srv, p, earliest="2026-12-06T01:00:00Z", latest="2026-12-06T02:00:00Z", **body):
    """A running pitr database whose provision stored the window."""
    d = _db(c, p, pitr_enabled=True, **body)
    ag = Agent(c.tenant, srv["agent_token"])
    job = _claim(ag, "db.provision")
    assert job["payload"]["pitr"]["repo_path"] == "launcher/pitr/" + d["id"], job["payload"]
    # No backup_at: the plane takes the result's time (now), so the base
    # backup is fresh whatever day the suite runs (a fixed date here made a
    # differential backup due from the next day on).
    _complete(ag, job, "succeeded", {"status": "running", "container_id": "ab" * 32,
                                     "public_port": None,
                                     "pitr": dict(_window(earliest, latest), backup_type="full")})
    return ag, c.get("/databases/" + d["id"]).data


def test_destination_defaults_to_the_only_one_and_is_required_otherwise():
    c, srv, p = _world("pitr")
    assert_error(c.post("/databases", {"project_id": p["id"], "name": "a", "type": "postgres",
                                       "pitr_enabled": True}), 400, "BAD_REQUEST", "pitr_destination_id")
    dest = _dest(c)
    d = _db(c, p, name="b", pitr_enabled=True)
    assert d["pitr_destination_id"] == dest, d
    job = _owner("SELECT payload FROM jobs WHERE kind = 'db.provision' AND payload->>'database_id' = '%s'"
                 % d["id"])
    pl = json.loads(job[0])
    assert pl["pitr"]["destination"]["provider"] == "local" and pl["pitr"]["stanza"] == "db", pl
    assert pl["pitr"]["archive_timeout"] >= 1, pl
    second = _dest(c, "second")
    assert_error(c.post("/databases", {"project_id": p["id"], "name": "c", "type": "postgres",
                                       "pitr_enabled": True}), 400, "BAD_REQUEST", "pitr_destination_id")
    d2 = _db(c, p, name="c", pitr_enabled=True, pitr_destination_id=second)
    assert d2["pitr_destination_id"] == second
    # Not postgres; a destination of another tenant (the key's 400); no pitr: no "pitr" payload.
    assert_error(c.post("/databases", {"project_id": p["id"], "name": "r", "type": "redis",
                                       "pitr_enabled": True, "pitr_destination_id": dest}),
                 400, "BAD_REQUEST", "pitr_enabled")
    o, _, _ = _world("pitro")
    theirs = _dest(o)
    assert_error(c.post("/databases", {"project_id": p["id"], "name": "x", "type": "postgres",
                                       "pitr_enabled": True, "pitr_destination_id": theirs}),
                 400, "BAD_REQUEST", "pitr_destination_id")
    plain = _db(c, p, name="plain")
    assert plain["pitr_destination_id"] is None
    pl = json.loads(_owner("SELECT payload FROM jobs WHERE kind = 'db.provision' AND"
                           " payload->>'database_id' = '%s'" % plain["id"])[0])
    assert "pitr" not in pl, pl
    # PUT: enabling picks the destination by the same rule (two now: 400).
    assert_error(c.put("/databases/" + plain["id"], {"pitr_enabled": True}), 400, "BAD_REQUEST",
                 "pitr_destination_id")
    r = c.put("/databases/" + plain["id"], {"pitr_enabled": True, "pitr_destination_id": dest})
    assert r.status == 200 and r.data["pitr_destination_id"] == dest, r


def test_window_is_stored_from_results_and_read_without_waiting():
    c, srv, p = _world("pitrw")
    _dest(c)
    ag, d = _pitr_db(c, srv, p)
    r = c.get("/databases/%s/recovery-window" % d["id"])
    assert r.status == 200, r
    assert (r.data["earliest"], r.data["latest"]) == ("2026-12-06T01:00:00Z", "2026-12-06T02:00:00Z"), r
    assert r.data["checked_at"], r
    # pitr_tick: nothing due right after the provision's full backup and window...
    assert int(psql("SELECT pitr_tick()", user="launcher_owner")[0]) >= 0
    assert _jobs(d["id"], "db.pitr_info") == [] and _jobs(d["id"], "db.pitr_backup") == []
    # ...a stale window: db.pitr_info (queued by launcher-backup's run); its result moves the window.
    _owner("UPDATE databases SET pitr_checked_at = now() - interval '2 minutes' WHERE id = '%s'" % d["id"])
    out = launcher_backup_run()
    assert "point-in-time recovery jobs queued" in out.stderr, out.stderr
    assert _jobs(d["id"], "db.pitr_info") == ["db.pitr_info queued"]
    job = _claim(ag, "db.pitr_info")
    _complete(ag, job, "succeeded", {"pitr": _window("2026-12-06T01:00:00Z", "2026-12-06T03:00:00Z")})
    assert c.get("/databases/%s/recovery-window" % d["id"]).data["latest"] == "2026-12-06T03:00:00Z"
    # A base backup a day old: a differential one; a week: a full one.
    _owner("UPDATE databases SET pitr_backup_at = now() - interval '25 hours' WHERE id = '%s'" % d["id"])
    psql("SELECT pitr_tick()", user="launcher_owner")
    job = _claim(ag, "db.pitr_backup")
    assert job["payload"]["backup_type"] == "diff", job
    _complete(ag, job, "succeeded", {"pitr": dict(_window("2026-12-06T01:00:00Z", "2026-12-06T04:00:00Z"),
                                                  backup_type="diff")})
    _owner("UPDATE databases SET pitr_full_at = now() - interval '8 days' WHERE id = '%s'" % d["id"])
    psql("SELECT pitr_tick()", user="launcher_owner")
    job = _claim(ag, "db.pitr_backup")
    assert job["payload"]["backup_type"] == "full", job
    _complete(ag, job, "failed", error="pgbackrest failed")
    # The maintenance role runs it (launcher-backup); the API role cannot.
    try:
        psql("SELECT launcher.pitr_tick()")
        raise AssertionError("launcher_api ran pitr_tick")
    except RuntimeError as e:
        assert "permission denied" in str(e), e


def test_targets_outside_the_window_are_400_with_the_window():
    c, srv, p = _world("pitrt")
    _dest(c)
    ag, d = _pitr_db(c, srv, p)
    for path, body in (("pitr", {}), ("pitr-clone", {"new_name": "copy"})):
        r = c.post("/databases/%s/%s" % (d["id"], path), dict(body, target_time="2026-12-06T00:59:59Z"))
        assert_error(r, 400, "BAD_REQUEST", "target_time")
        det = [x for x in r.error["details"] if x["field"] == "target_time"][0]
        for msg in (r.error["message"], det["message"]):
            assert "2026-12-06T01:00:00Z" in msg and "2026-12-06T02:00:00Z" in msg, r
        assert_error(c.post("/databases/%s/%s" % (d["id"], path),
                            dict(body, target_time="2026-12-06T02:00:01Z")), 400, "BAD_REQUEST", "target_time")
        assert_error(c.post("/databases/%s/%s" % (d["id"], path), dict(body, target_time="yesterday")),
                     400, "BAD_REQUEST", "target_time")
        assert_error(c.post("/databases/%s/%s" % (d["id"], path), body), 400, "BAD_REQUEST", "target_time")
    assert_error(c.post("/databases/%s/pitr-clone" % d["id"], {"target_time": "2026-12-06T01:30:00Z",
                                                              "new_name": "Bad Name"}),
                 400, "BAD_REQUEST", "new_name")
    assert _jobs(d["id"]) == ["db.provision succeeded"]
    # Without PITR: 409.
    plain = _db(c, p, name="plain")
    _claim_ok = _claim(ag, "db.provision")
    _complete(ag, _claim_ok, "succeeded", {"status": "running", "container_id": "cd" * 32})
    assert_error(c.post("/databases/%s/pitr" % plain["id"], {"target_time": "2026-12-06T01:30:00Z"}),
                 409, "CONFLICT")


def test_in_place_clone_and_switch_queue_their_jobs():
    c, srv, p = _world("pitrj")
    _dest(c)
    ag, d = _pitr_db(c, srv, p, name="main")
    r = c.post("/databases/%s/pitr" % d["id"], {"target_time": "2026-12-06T01:30:00Z"})
    assert r.status == 202 and r.data["job"]["kind"] == "db.pitr_restore", r
    assert c.get("/databases/" + d["id"]).data["status"] == "restoring"
    assert_error(c.post("/databases/%s/pitr" % d["id"], {"target_time": "2026-12-06T01:30:00Z"}),
                 409, "CONFLICT")
    job = _claim(ag, "db.pitr_restore")
    assert job["payload"]["pitr_restore"]["source"]["repo_path"] == "launcher/pitr/" + d["id"], job
    assert job["payload"]["password"], "the claim carries the password"
    _complete(ag, job, "succeeded", {"status": "running", "container_id": "ef" * 32,
                                     "pitr": _window("2026-12-06T01:00:00Z", "2026-12-06T02:30:00Z")})
    got = c.get("/databases/" + d["id"]).data
    assert got["status"] == "running", got
    # Clone: a new database, same credentials, provisioned with the restore.
    r = c.post("/databases/%s/pitr-clone" % d["id"], {"target_time": "2026-12-06T01:30:00Z",
                                                     "new_name": "main-copy"})
    assert r.status == 201, r
    clone = r.data
    assert (clone["name"], clone["status"], clone["pitr_enabled"], clone["restored_from_id"]) == \
        ("main-copy", "provisioning", False, d["id"]), clone
    assert_error(c.post("/databases/%s/pitr-clone" % d["id"], {"target_time": "2026-12-06T01:30:00Z",
                                                              "new_name": "main-copy"}), 409, "CONFLICT")
    job = _claim(ag, "db.provision")
    assert job["payload"]["database_id"] == clone["id"], job
    assert job["payload"]["pitr_restore"]["target_time"] == "2026-12-06 01:30:00.000000+00", job
    assert job["payload"]["pitr_restore"]["source"]["repo_path"] == "launcher/pitr/" + d["id"], job
    assert "pitr" not in job["payload"], job
    pw = c.get("/databases/%s/connection" % d["id"]).data["password"]
    assert job["payload"]["password"] == pw, "the clone keeps the source's credentials"
    assert (job["payload"]["db_user"], job["payload"]["db_name"]) == ("app", "main"), job
    assert c.get("/databases/%s/connection" % clone["id"]).data["name"] == "main"
    assert_error(c.post("/databases/%s/switch" % d["id"], {"restored_database_id": clone["id"]}),
                 409, "CONFLICT")
    _complete(ag, job, "succeeded", {"status": "running", "container_id": "12" * 32})
    # Switch: only a clone of this database; names and aliases swapped.
    assert_error(c.post("/databases/%s/switch" % d["id"], {"restored_database_id": d["id"]}),
                 400, "BAD_REQUEST", "restored_database_id")
    assert_error(c.post("/databases/%s/switch" % d["id"], {"restored_database_id": str(uuid.uuid4())}),
                 400, "BAD_REQUEST", "restored_database_id")
    assert_error(c.post("/databases/%s/switch" % d["id"], {"restored_database_id": "nope"}),
                 400, "BAD_REQUEST", "restored_database_id")
    before = {x["id"]: x for x in (c.get("/databases/" + d["id"]).data, c.get("/databases/" + clone["id"]).data)}
    r = c.post("/databases/%s/switch" % d["id"], {"restored_database_id": clone["id"]})
    assert r.status == 202 and r.data["job"]["kind"] == "db.restart", r
    a, b = c.get("/databases/" + d["id"]).data, c.get("/databases/" + clone["id"]).data
    assert (b["name"], b["internal_host"]) == ("main", before[d["id"]]["internal_host"]), b
    assert (a["name"], a["internal_host"]) == ("main-copy", before[clone["id"]]["internal_host"]), a
    assert b["pitr_enabled"] and b["pitr_destination_id"] == d["pitr_destination_id"], b
    stop = _claim(ag, "db.stop")
    assert stop["payload"]["database_id"] == d["id"] and stop["payload"]["remove_container"] is True, stop
    _complete(ag, stop, "succeeded", {"status": "stopped", "container_id": "ef" * 32})
    assert c.get("/databases/" + d["id"]).data["status"] == "stopped"


def test_permissions_and_isolation():
    c, srv, p = _world("pitrp")
    _dest(c)
    ag, d = _pitr_db(c, srv, p)
    users = {}
    for role in ("viewer", "member", "admin"):
        u = new_user(c)
        assert c.post("/projects/%s/members" % p["id"], {"user_id": u.user_id, "role": role}).status == 201
        users[role] = u
    bad = {"target_time": "2000-01-01T00:00:00Z", "new_name": "x", "restored_database_id": d["id"]}
    for role, u in users.items():
        assert u.get("/databases/%s/recovery-window" % d["id"]).status == 200, role
        for path in ("pitr", "pitr-clone", "switch"):
            r = u.post("/databases/%s/%s" % (d["id"], path), bad)
            assert r.status == (400 if role == "admin" else 403), (role, path, r)
    read = Client(c.tenant, key=make_key(c, scopes=["read"])["key"])
    assert read.get("/databases/%s/recovery-window" % d["id"]).status == 200
    assert_error(read.post("/databases/%s/pitr" % d["id"], bad), 403, "FORBIDDEN")
    outsider = new_user(c)
    o, _ = registered("pitrx")
    for who in (outsider, o):
        assert_error(who.get("/databases/%s/recovery-window" % d["id"]), 404, "NOT_FOUND")
        for path in ("pitr", "pitr-clone", "switch"):
            assert_error(who.post("/databases/%s/%s" % (d["id"], path), bad), 404, "NOT_FOUND")
    assert_error(c.get("/databases/%s/recovery-window" % uuid.uuid4()), 404, "NOT_FOUND")
    assert_error(c.get("/databases/nope/recovery-window"), 404, "NOT_FOUND")


def test_an_s3_repository_gets_its_keys_in_the_claim_only():
    c, srv, p = _world("pitrs")
    r = c.post("/settings/backup-destinations", {
        "name": "s3", "provider": "minio", "endpoint": "https://s3.example.test", "bucket": "pitr-bucket",
        "region": "us-east-1", "access_key": "AKIAPITRTEST0001", "secret_key": "pitr-secret-key-0001"})
    assert r.status == 201, r
    d = _db(c, p, pitr_enabled=True, pitr_destination_id=r.data["id"])
    stored = _owner("SELECT payload::text FROM jobs WHERE kind = 'db.provision' AND"
                    " payload->>'database_id' = '%s'" % d["id"])[0]
    assert "pitr-secret-key-0001" not in stored and "AKIAPITRTEST0001" not in stored, stored
    job = _claim(Agent(c.tenant, srv["agent_token"]), "db.provision")
    dest = job["payload"]["pitr"]["destination"]
    assert (dest["provider"], dest["bucket"], dest["access_key"], dest["secret_key"]) == \
        ("minio", "pitr-bucket", "AKIAPITRTEST0001", "pitr-secret-key-0001"), dest
