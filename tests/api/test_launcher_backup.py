"""launcher-backup (sql/036_backup_helper.sql, fcgi/bin/launcher_backup.c):
the real binary run --once at the moments the tests choose (due rows made
due by SQL, or the run's clock moved with --now).  A due schedule queues one
backup.run, also with four helpers started at once (two lock files: two
"machines"); retention queues backup.delete for the right rows and never
the newest success; a schedule that stopped running raises backup.stale
once per episode; a backup.run the agent fails raises backup.failed (the
job trigger of sql/035, end to end through the agent API); the plane's own
database backup to a local directory, and to S3 (the suite's radosgw) through
the object store, restores with pg_restore --list.
"""
import datetime
import glob
import json
import os
import re
import subprocess
import tempfile
import time
import uuid

from lib import BIN, CONF, STATE, Skip, psql
from test_backup_schedules import _body, _owner, _world
from test_servers import Agent

LOCK = os.path.join(STATE, "backup-test.lock")


def run(*flags, lock=LOCK, wait=True, check=True):
    args = [os.path.join(BIN, "launcher-backup"), "-c", CONF, "--once",
            "--backup_lock_file", lock] + list(flags)
    if not wait:
        return subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    out = subprocess.run(args, capture_output=True, text=True, timeout=120)
    if check:
        assert out.returncode == 0, out.stderr
    return out


def _iso(dt):
    return dt.strftime("%Y-%m-%dT%H:%M:%SZ")


def _schedule(c, vol, dest, **kw):
    r = c.post("/backup-schedules", _body(vol, dest, **kw))
    assert r.status == 201, r
    return r.data


def _runs(sid):
    """backup.run jobs of schedule sid's backups."""
    return _owner("SELECT j.id FROM jobs j JOIN backups b ON b.id::text = j.payload->>'backup_id'"
                  " WHERE j.kind = 'backup.run' AND b.schedule_id = '%s'" % sid)


def _due(sid):
    _owner("UPDATE backup_schedules SET next_run_at = now() - interval '1 minute' WHERE id = '%s'" % sid)


def test_a_due_schedule_queues_exactly_one_backup_and_moves_on():
    c, srv, _, vol, dest = _world("bkh")
    s = _schedule(c, vol, dest)
    run()
    assert _runs(s["id"]) == [], "not due yet"
    _due(s["id"])
    run()
    jobs = _runs(s["id"])
    assert len(jobs) == 1, jobs
    payload = _owner("SELECT payload::text FROM jobs WHERE id = '%s'" % jobs[0])[0]
    assert '"volume"' in payload and vol["id"] in payload and "secret" not in payload, payload
    g = c.get("/backup-schedules/" + s["id"]).data
    assert g["last_status"] == "queued", g
    nxt = datetime.datetime.fromisoformat(g["next_run_at"].replace("Z", "+00:00"))
    assert nxt > datetime.datetime.now(datetime.timezone.utc) and (nxt.hour, nxt.minute) == (3, 0), g
    run()
    assert len(_runs(s["id"])) == 1
    # A disabled schedule is never due.
    _owner("UPDATE backup_schedules SET enabled = false WHERE id = '%s'" % s["id"])
    _due(s["id"])
    run()
    assert len(_runs(s["id"])) == 1


def test_helpers_started_at_once_queue_each_due_backup_once():
    c, _, p, vol, dest = _world("bkh2")
    others = []
    for _ in range(3):
        r = c.post("/volumes", {"project_id": p["id"], "name": "v" + uuid.uuid4().hex[:8]})
        assert r.status == 201, r
        others.append(r.data)
    scheds = [_schedule(c, v, dest) for v in [vol] + others]
    for s in scheds:
        _due(s["id"])
    other_lock = os.path.join(STATE, "backup-test-b.lock")
    procs = [run(lock=l, wait=False) for l in (LOCK, LOCK, other_lock, other_lock)]
    for pr in procs:
        _, err = pr.communicate(timeout=120)
        assert pr.returncode == 0, err
    for s in scheds:
        assert len(_runs(s["id"])) == 1, s["id"]


def _backup(c, s, vol, srv, age_days, status="succeeded"):
    return _owner(
        "INSERT INTO backups (tenant_id, project_id, server_id, resource_type, resource_id,"
        " resource_name, format, schedule_id, destination_id, trigger, status, object_key,"
        " size_bytes, sha256, verified_at, created_at)"
        " VALUES ('%s', '%s', '%s', 'volume', '%s', '%s', 'tar', '%s', '%s', 'schedule', '%s',"
        " 'launcher/volume/%s/%s.tar', %s, %s, %s, now() - interval '%s days') RETURNING id"
        % (c.tid, s["project_id"], srv["id"], vol["id"], vol["name"], s["id"], s["destination_id"],
           status, vol["id"], uuid.uuid4().hex, "10" if status == "succeeded" else "NULL",
           "'%s'" % ("a" * 64) if status == "succeeded" else "NULL",
           "now()" if status == "succeeded" else "NULL", age_days))[0]


def _deletes(ids):
    return sorted(_owner("SELECT payload->>'backup_id' FROM jobs WHERE kind = 'backup.delete'"
                         " AND payload->>'backup_id' IN (%s)" % ",".join("'%s'" % i for i in ids)))


def test_retention_queues_deletes_for_the_right_rows_and_never_the_newest_success():
    c, srv, _, vol, dest = _world("bkh3")
    s = _schedule(c, vol, dest, retention={"keep_last": 2})
    # Oldest first: five successes 50..10 days old, and a newer failure.
    ok = [_backup(c, s, vol, srv, d) for d in (50, 40, 30, 20, 10)]
    failed = _backup(c, s, vol, srv, 1, status="failed")
    run()
    assert _deletes(ok + [failed]) == sorted(ok[:3]), "keep the 2 newest successes"
    job = _owner("SELECT payload::text FROM jobs WHERE kind = 'backup.delete'"
                 " AND payload->>'backup_id' = '%s'" % ok[0])[0]
    assert '"object_key"' in job and '"destination"' in job and "secret" not in job, job
    run()
    assert len(_owner("SELECT id FROM jobs WHERE kind = 'backup.delete' AND payload->>'backup_id'"
                      " IN (%s)" % ",".join("'%s'" % i for i in ok))) == 3, "queued once"

    # keep_days alone, every success older: only the newest survives.
    c2, srv2, _, vol2, dest2 = _world("bkh3b")
    s2 = _schedule(c2, vol2, dest2, retention={"keep_days": 3})
    old = [_backup(c2, s2, vol2, srv2, d) for d in (30, 20, 10)]
    run()
    assert _deletes(old) == sorted(old[:2]), "the newest success is never deleted"
    # A delete job's success removes the row (sql/035's trigger).
    ag = Agent(c2.tenant, srv2["agent_token"])
    done = 0
    while True:
        job = ag.claim()
        if job is None:
            break
        r = ag.call("POST", "/jobs/%s/complete" % job["id"], {"status": "succeeded", "result": {}})
        assert r.status == 200, r
        done += job["kind"] == "backup.delete"
    assert done == 2
    left = _owner("SELECT id FROM backups WHERE schedule_id = '%s'" % s2["id"])
    assert left == [old[2]], left


def _events(c, event, resource):
    r = c.get("/alerts/events?event=%s&resourceId=%s" % (event, resource))
    assert r.status == 200, r
    return r.data


def test_a_schedule_whose_runs_stopped_raises_stale_once_per_episode():
    c, srv, _, vol, dest = _world("bkh4")
    s = _schedule(c, vol, dest, cron="0 * * * *")
    # Hourly, created 90 minutes ago: not two intervals yet.
    _owner("UPDATE backup_schedules SET created_at = now() - interval '90 minutes',"
           " next_run_at = now() + interval '1 hour' WHERE id = '%s'" % s["id"])
    run()
    assert _events(c, "backup.stale", vol["id"]) == []
    # The helper "was not run" for three hours: stale, once.
    later = _iso(datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(hours=2))
    run("--now", later)
    ev = _events(c, "backup.stale", vol["id"])
    assert len(ev) == 1, ev
    assert ev[0]["resource_type"] == "volume" and ev[0]["payload"]["schedule_id"] == s["id"], ev
    assert ev[0]["payload"]["interval_seconds"] == 3600, ev
    g = c.get("/backup-schedules/" + s["id"]).data
    assert g["last_status"] == "stale" and g["stale_since"], g
    run("--now", later)
    run()
    assert len(_events(c, "backup.stale", vol["id"])) == 1, "once per episode"
    # A success ends the episode (what sql/035's trigger does); a new
    # silence of two intervals is a new episode.
    _owner("UPDATE backup_schedules SET last_success_at = now(), stale_since = NULL"
           " WHERE id = '%s'" % s["id"])
    run()
    assert len(_events(c, "backup.stale", vol["id"])) == 1
    run("--now", _iso(datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(hours=3)))
    assert len(_events(c, "backup.stale", vol["id"])) == 2
    # Other tenants never see the events.
    other, _ = __import__("lib").registered("bkh4o")
    assert other.get("/alerts/events").data == []
    # Bad filters.
    assert c.get("/alerts/events?resourceId=nope").status == 400


def test_a_failed_backup_run_raises_backup_failed_end_to_end():
    c, srv, _, vol, dest = _world("bkh5")
    s = _schedule(c, vol, dest)
    _due(s["id"])
    run()
    ag = Agent(c.tenant, srv["agent_token"])
    job = ag.claim()
    while job is not None and job["kind"] != "backup.run":
        ag.call("POST", "/jobs/%s/complete" % job["id"], {"status": "succeeded", "result": {}})
        job = ag.claim()
    assert job is not None and job["kind"] == "backup.run", job
    r = ag.call("POST", "/jobs/%s/complete" % job["id"],
                {"status": "failed", "error": "destination refused: AccessDenied", "result": {}})
    assert r.status == 200, r
    b = _owner("SELECT status || ' ' || error FROM backups WHERE schedule_id = '%s'" % s["id"])
    assert b == ["failed destination refused: AccessDenied"], b
    ev = _events(c, "backup.failed", vol["id"])
    assert len(ev) == 1 and "AccessDenied" in ev[0]["message"], ev
    assert ev[0]["payload"]["schedule_id"] == s["id"], ev
    assert c.get("/backup-schedules/" + s["id"]).data["last_status"] == "failed"
    assert c.get("/alerts/events?event=backup.stale&resourceId=" + vol["id"]).data == []


def _conf(key):
    with open(CONF) as f:
        for line in f:
            m = re.match(r'\s*%s\s*=\s*"?([^"]*)"?\s*$' % key, line)
            if m:
                return m.group(1)
    raise AssertionError(key)


def test_the_plane_database_backup_to_a_directory_restores_with_pg_restore():
    d = tempfile.mkdtemp(prefix="plane-bk-", dir=STATE)
    # plane_backup_database_url is empty: the dump connects with admin_database_url.
    flags = ["--plane_backup_destination_file", d, "--plane_backup_keep_last", "1"]
    before = int(psql("SELECT count(*) FROM plane_backups", user="launcher_owner")[0])
    run(*flags)
    rows = psql("SELECT status || ' ' || object_key || ' ' || size_bytes || ' ' || sha256"
                " FROM plane_backups ORDER BY started_at DESC LIMIT 1", user="launcher_owner")
    status, key, size, sha = rows[0].split(" ")
    assert status == "succeeded", rows
    path = os.path.join(d, key)
    assert os.path.getsize(path) == int(size), (path, size)
    out = subprocess.run(["pg_restore", "--list", path], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert "TABLE launcher backup_schedules" in out.stdout, out.stdout[:2000]
    # Not due again until the next cron run; then the older copy goes.
    run(*flags)
    assert int(psql("SELECT count(*) FROM plane_backups", user="launcher_owner")[0]) == before + 1
    tomorrow = _iso(datetime.datetime.now(datetime.timezone.utc).replace(hour=4, minute=0, second=0)
                    + datetime.timedelta(days=1))
    run("--now", tomorrow, *flags)
    files = glob.glob(os.path.join(d, "launcher-plane", "*.pgdump"))
    assert len(files) == 1 and files[0] != path, files
    assert psql("SELECT status FROM plane_backups WHERE object_key = '%s'" % key,
                user="launcher_owner") == ["deleted"]


def _s3(method, path, out=None):
    """One SigV4-signed request to the tests' radosgw (curl); the status."""
    args = ["curl", "-s", "-o", out or "/dev/null", "-w", "%{http_code}", "-X", method,
            "--aws-sigv4", "aws:amz:%s:s3" % os.environ["S3_TEST_REGION"],
            "-u", "%s:%s" % (os.environ["S3_TEST_ACCESS_KEY"], os.environ["S3_TEST_SECRET_KEY"]),
            "-H", "x-amz-content-sha256: e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
            "%s/%s" % (os.environ["S3_TEST_ENDPOINT"], path)]
    return subprocess.run(args, capture_output=True, text=True, timeout=60).stdout


def test_the_plane_database_backup_to_s3_is_read_back_and_restorable():
    if not os.environ.get("S3_TEST_ENDPOINT"):
        raise Skip("no radosgw (S3_TEST_ENDPOINT)")
    bucket = "plane-" + uuid.uuid4().hex[:12]
    assert _s3("PUT", bucket) == "200"
    dest = {"provider": "minio", "endpoint": os.environ["S3_TEST_ENDPOINT"], "bucket": bucket,
            "region": os.environ["S3_TEST_REGION"], "path": "plane",
            "access_key": os.environ["S3_TEST_ACCESS_KEY"], "secret_key": os.environ["S3_TEST_SECRET_KEY"]}
    f = os.path.join(tempfile.mkdtemp(prefix="plane-s3-", dir=STATE), "dest.json")
    with open(f, "w") as fh:
        json.dump(dest, fh)
    os.chmod(f, 0o644)
    flags = ["--plane_backup_destination_file", f, "--plane_backup_keep_last", "0"]
    # Keys readable by others: refused, recorded as a failed attempt.
    week = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(days=7)
    out = run("--now", _iso(week), *flags, check=False)
    assert out.returncode == 1 and "0600" in out.stderr, out.stderr
    assert dest["secret_key"] not in out.stderr
    last = psql("SELECT status || ' ' || error FROM plane_backups ORDER BY started_at DESC LIMIT 1",
                user="launcher_owner")[0]
    assert last.startswith("failed ") and "0600" in last, last
    os.chmod(f, 0o600)
    run("--now", _iso(week + datetime.timedelta(days=1)), *flags)
    status, key, size = psql("SELECT status || ' ' || object_key || ' ' || size_bytes FROM plane_backups"
                             " ORDER BY started_at DESC LIMIT 1", user="launcher_owner")[0].split(" ")
    assert status == "succeeded", status
    local = os.path.join(os.path.dirname(f), "copy.pgdump")
    assert _s3("GET", "%s/plane/%s" % (bucket, key), out=local) == "200"
    assert os.path.getsize(local) == int(size)
    out = subprocess.run(["pg_restore", "--list", local], capture_output=True, text=True)
    assert out.returncode == 0 and "TABLE launcher plane_backups" in out.stdout, out.stderr


def test_the_loop_runs_at_once_when_a_schedule_changes():
    """--loop with an hour's interval: a schedule created or updated through
    the API (NOTIFY launcher_backup) wakes it, and what is due is queued."""
    c, _, p, vol, dest = _world("bkh6")
    s = _schedule(c, vol, dest)
    lock = os.path.join(STATE, "backup-test-loop.lock")
    loop = subprocess.Popen([os.path.join(BIN, "launcher-backup"), "-c", CONF, "--loop",
                             "--interval", "3600", "--backup_lock_file", lock],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.time() + 20
        # Listening (LISTEN comes before the first run) and idle after it.
        while _owner("SELECT count(*) FROM pg_stat_activity WHERE usename = 'launcher_maint'"
                     " AND state = 'idle'") == ["0"]:
            assert time.time() < deadline and loop.poll() is None, "the loop never listened"
            time.sleep(0.2)
        _due(s["id"])
        r = c.put("/backup-schedules/" + s["id"], {"retention": {"keep_last": 5}})
        assert r.status == 200, r
        # The PUT itself moved next_run_at on; make it due again, then wake
        # the loop with a change to another schedule.
        _due(s["id"])
        r = c.post("/volumes", {"project_id": p["id"], "name": "v" + uuid.uuid4().hex[:8]})
        assert r.status == 201, r
        _schedule(c, r.data, dest)
        deadline = time.time() + 20
        while not _runs(s["id"]):
            assert time.time() < deadline, "the NOTIFY did not wake the loop"
            time.sleep(0.2)
        assert len(_runs(s["id"])) == 1
    finally:
        loop.terminate()
        loop.wait(timeout=30)


def test_a_run_that_cannot_be_queued_fails_alone_and_the_others_go_on():
    """A database that is not running (still provisioning) cannot be backed
    up: its scheduled run is recorded failed with backup.failed, moves on,
    and a schedule due after it is queued all the same."""
    c, _, p, vol, dest = _world("bkh7")
    r = c.post("/databases", {"project_id": p["id"], "name": "d" + uuid.uuid4().hex[:8],
                              "type": "postgres"})
    assert r.status == 201, r
    db = r.data
    bad = c.post("/backup-schedules", _body(vol, dest, resource_type="database",
                                            resource_id=db["id"]))
    assert bad.status == 201, bad
    good = _schedule(c, vol, dest)
    _owner("UPDATE backup_schedules SET next_run_at = now() - interval '2 minutes' WHERE id = '%s'"
           % bad.data["id"])
    _due(good["id"])
    run()
    assert _runs(bad.data["id"]) == [] and len(_runs(good["id"])) == 1
    g = c.get("/backup-schedules/" + bad.data["id"]).data
    assert g["last_status"] == "failed", g
    assert datetime.datetime.fromisoformat(g["next_run_at"].replace("Z", "+00:00")) > \
        datetime.datetime.now(datetime.timezone.utc), g
    ev = _events(c, "backup.failed", db["id"])
    assert len(ev) == 1 and "not started" in ev[0]["message"], ev
