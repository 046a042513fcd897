"""Backup schedules (API.md §12; fcgi/api/backup_schedules.c): CRUD with
next_run_at from the helper's own cron clock, bad input naming the field
(the cron parser's message, the time zone, buckets), and isolation between
tenants and projects."""
import datetime
import uuid

from lib import assert_error, new_project, new_user, psql, registered
from test_servers import _server


def _owner(sql):
    return psql(sql, user="launcher_owner")


def _dest(c, name=None):
    """A local destination of c's tenant (by SQL: the schedules API needs one)."""
    return _owner("INSERT INTO backup_destinations (tenant_id, name, provider, path)"
                  " VALUES ('%s', '%s', 'local', 'sched') RETURNING id"
                  % (c.tid, name or "d" + uuid.uuid4().hex[:8]))[0]


def _world(prefix="bks"):
    c, _ = registered(prefix)
    srv = _server(c, name="only")
    p = new_project(c)
    r = c.post("/volumes", {"project_id": p["id"], "name": "v" + uuid.uuid4().hex[:8]})
    assert r.status == 201, r
    return c, srv, p, r.data, _dest(c)


def _body(vol, dest, **kw):
    b = {"resource_type": "volume", "resource_id": vol["id"], "destination_id": dest,
         "cron": "0 3 * * *"}
    b.update(kw)
    return b


def _ts(s):
    return datetime.datetime.fromisoformat(s.replace("Z", "+00:00"))


def _count(c):
    return int(_owner("SELECT count(*) FROM backup_schedules WHERE tenant_id = '%s'" % c.tid)[0])


def test_round_trip_with_next_run_in_the_time_zone():
    c, _, p, vol, dest = _world()
    r = c.post("/backup-schedules", _body(vol, dest, timezone="Asia/Tokyo",
                                          retention={"keep_last": 3}))
    assert r.status == 201, r
    s = r.data
    assert s["resource_type"] == "volume" and s["resource_id"] == vol["id"], s
    assert s["project_id"] == p["id"] and s["destination_id"] == dest, s
    assert s["retention"] == {"keep_last": 3, "keep_days": None}, s
    assert s["enabled"] is True and s["last_status"] is None and s["last_run_at"] is None, s
    nxt = _ts(s["next_run_at"])
    now = datetime.datetime.now(datetime.timezone.utc)
    # 03:00 in Tokyo (UTC+9, no DST) is 18:00 UTC, within the next day.
    assert nxt.astimezone(datetime.timezone.utc).hour == 18 and nxt.minute == 0, s
    assert now < nxt <= now + datetime.timedelta(days=1), s

    assert c.get("/backup-schedules/" + s["id"]).data["id"] == s["id"]
    ids = [x["id"] for x in c.get("/backup-schedules?resourceId=" + vol["id"]).data]
    assert ids == [s["id"]], ids
    assert c.get("/backup-schedules?projectId=" + p["id"]).data[0]["id"] == s["id"]

    r = c.put("/backup-schedules/" + s["id"], {"cron": "30 4 * * *", "timezone": "UTC",
                                               "retention": {"keep_days": 7}, "enabled": False})
    assert r.status == 200, r
    u = r.data
    assert u["cron"] == "30 4 * * *" and u["timezone"] == "UTC" and u["enabled"] is False, u
    assert u["retention"] == {"keep_last": 3, "keep_days": 7}, u
    n2 = _ts(u["next_run_at"])
    assert (n2.hour, n2.minute) == (4, 30), u
    r = c.put("/backup-schedules/" + s["id"], {"retention": {"keep_last": None}})
    assert r.status == 200 and r.data["retention"] == {"keep_last": None, "keep_days": 7}, r
    # If-Match: the current ETag writes; a stale one is 412 and changes nothing.
    etag = c.get("/backup-schedules/" + s["id"]).headers["etag"]
    r = c.put("/backup-schedules/" + s["id"], {"enabled": True}, headers={"If-Match": etag})
    assert r.status == 200 and r.data["enabled"] is True, r
    assert_error(c.put("/backup-schedules/" + s["id"], {"enabled": False}, headers={"If-Match": etag}),
                 412, "PRECONDITION_FAILED")
    assert c.get("/backup-schedules/" + s["id"]).data["enabled"] is True
    assert_error(c.delete("/backup-schedules/" + s["id"], headers={"If-Match": etag}),
                 412, "PRECONDITION_FAILED")

    r = c.delete("/backup-schedules/" + s["id"])
    assert r.status == 204, r
    assert_error(c.get("/backup-schedules/" + s["id"]), 404, "NOT_FOUND")


def test_bad_input_names_the_field_and_changes_nothing():
    c, _, _, vol, dest = _world()
    before = _count(c)
    r = c.post("/backup-schedules", _body(vol, dest, cron="0 24 * * *"))
    assert_error(r, 400, "BAD_REQUEST", "cron")
    assert any(d["field"] == "cron" and "hour: 24 is out of range 0-23" in d["message"]
               for d in r.error["details"]), r
    r = c.post("/backup-schedules", _body(vol, dest, cron="0 3 * *"))
    assert_error(r, 400, "BAD_REQUEST", "cron")
    assert "expected 5 fields" in r.error["details"][0]["message"], r
    r = c.post("/backup-schedules", _body(vol, dest, cron="0 0 30 2 *"))
    assert_error(r, 400, "BAD_REQUEST", "cron")
    assert_error(c.post("/backup-schedules", _body(vol, dest, timezone="Mars/Olympus")),
                 400, "BAD_REQUEST", "timezone")
    assert_error(c.post("/backup-schedules", _body(vol, dest, timezone="../../etc/passwd")),
                 400, "BAD_REQUEST", "timezone")
    r = c.post("/backup-schedules", _body(vol, dest, resource_type="bucket"))
    assert_error(r, 400, "BAD_REQUEST", "resource_type")
    assert "not available yet" in r.error["details"][0]["message"], r
    assert_error(c.post("/backup-schedules", _body(vol, dest, resource_type="disk")),
                 400, "BAD_REQUEST", "resource_type")
    assert_error(c.post("/backup-schedules", _body(vol, dest, retention={"keep_last": 0})),
                 400, "BAD_REQUEST", "retention.keep_last")
    b = _body(vol, dest)
    del b["destination_id"]
    assert_error(c.post("/backup-schedules", b), 400, "BAD_REQUEST", "destination_id")
    assert_error(c.post("/backup-schedules", _body(vol, str(uuid.uuid4()))),
                 400, "BAD_REQUEST", "destination_id")
    assert _count(c) == before

    s = c.post("/backup-schedules", _body(vol, dest)).data
    r = c.put("/backup-schedules/" + s["id"], {"cron": "*/0 * * * *"})
    assert_error(r, 400, "BAD_REQUEST", "cron")
    assert_error(c.put("/backup-schedules/" + s["id"], {"timezone": "Nowhere"}),
                 400, "BAD_REQUEST", "timezone")
    assert c.get("/backup-schedules/" + s["id"]).data["cron"] == "0 3 * * *"


def test_tenants_and_projects_are_isolated():
    c, _, p, vol, dest = _world()
    s = c.post("/backup-schedules", _body(vol, dest)).data
    other, _ = registered("bks-o")
    odest = _dest(other)
    # Another tenant: the schedule and the volume do not exist for it.
    assert_error(other.get("/backup-schedules/" + s["id"]), 404, "NOT_FOUND")
    assert_error(other.put("/backup-schedules/" + s["id"], {"enabled": False}), 404, "NOT_FOUND")
    assert_error(other.delete("/backup-schedules/" + s["id"]), 404, "NOT_FOUND")
    assert other.get("/backup-schedules").data == []
    assert_error(other.post("/backup-schedules", _body(vol, odest)), 404, "NOT_FOUND")
    # The other tenant's destination is not ours either.
    assert_error(c.post("/backup-schedules", _body(vol, odest)), 400, "BAD_REQUEST",
                 "destination_id")
    # A member of another project of the same tenant sees nothing of p.
    uc = new_user(c, role="user")
    p2 = new_project(c)
    r = c.post("/projects/%s/members" % p2["id"], {"user_id": uc.user_id, "role": "admin"})
    assert r.status == 201, r
    assert uc.get("/backup-schedules").data == []
    assert_error(uc.get("/backup-schedules/" + s["id"]), 404, "NOT_FOUND")
    assert_error(uc.post("/backup-schedules", _body(vol, dest)), 404, "NOT_FOUND")
    # A viewer of p may read it but not write.
    r = c.post("/projects/%s/members" % p["id"], {"user_id": uc.user_id, "role": "viewer"})
    assert r.status == 201, r
    assert uc.get("/backup-schedules/" + s["id"]).status == 200
    assert_error(uc.put("/backup-schedules/" + s["id"], {"enabled": False}), 403, "FORBIDDEN")
    assert_error(uc.post("/backup-schedules", _body(vol, dest)), 403, "FORBIDDEN")
    assert c.get("/backup-schedules/" + s["id"]).data["enabled"] is True
