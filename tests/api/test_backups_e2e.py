"""Backups end to end: the real plane, the real launcher-agent, the stack's
Podman, the database images of tests/fixtures/dbimages.sh, a local
destination (a temp directory: the agent's backup_local_root) and radosgw
(tests/lib/radosgw.sh; tests/run.sh starts it for this module and exports
S3_TEST_*, else the module starts its own).  For PostgreSQL, MySQL
(MariaDB), Redis and a volume: known data is written, backed up (manually,
then by a schedule that launcher-backup --once queues, each to the other
kind of destination), destroyed, restored and read back; the object in the destination (the file itself, or
a signed GET against radosgw) has the backup's size_bytes and sha256.  A
backup whose object is corrupted between its upload and its read-back
(the agent's backup_verify_delay_ms) ends failed, never succeeded; a
destination with wrong credentials fails the backup with the store's error
and raises backup.failed; a restore into a new database; a volume mounted
by a running container is not restored; an import streams an uploaded
dump into the engine."""
import atexit
import gzip
import hashlib
import json
import os
import struct
import subprocess
import tempfile
import time
import uuid

from lib import BIN, CONF, REPO, STATE, Skip, psql
from test_agent_e2e import _wait
from test_databases_e2e import _db, _need_fixtures, _settled
from test_deploy_e2e import EdgeAgent, engine
from test_deploy_e2e import World as DeployWorld

LOCAL_ROOT = os.path.join(STATE, "backups-e2e")
VERIFY_DELAY_MS = 1500      # the window in which the corruption test rewrites the object
JOB_TIMEOUT = 300
BUCKET = "launcher-e2e-" + uuid.uuid4().hex[:8]


class BackupAgent(EdgeAgent):
    """The deploy tests' agent, with a local backup root and a read-back delay."""

    def __init__(self, tenant, token, name):
        super().__init__(tenant, token, name)
        os.makedirs(LOCAL_ROOT, exist_ok=True)
        self.args += ["--backup-local-root", LOCAL_ROOT,
                      "--backup-verify-delay-ms", str(VERIFY_DELAY_MS)]


class World(DeployWorld):
    _w = None
    agent_class = BackupAgent


# ------------------------------------------------------------------ S3

_s3 = {}


def s3():
    """The radosgw of the suite (tests/run.sh), else one of our own; the bucket made once."""
    if not _s3:
        env = {k: v for k, v in os.environ.items() if k.startswith("S3_TEST_")}
        if not env.get("S3_TEST_ENDPOINT"):
            d = tempfile.mkdtemp(prefix="rgw-", dir=STATE)
            out = subprocess.run(["bash", os.path.join(REPO, "tests/lib/radosgw.sh"), "start", d],
                                 capture_output=True, text=True, timeout=120)
            if out.returncode != 0:
                raise Skip("radosgw did not start: " + out.stderr[-300:])
            atexit.register(lambda: subprocess.run(
                ["bash", os.path.join(REPO, "tests/lib/radosgw.sh"), "stop", d], timeout=60))
            for line in out.stdout.splitlines():
                for part in line.replace("export ", "").split():
                    if "=" in part:
                        k, v = part.split("=", 1)
                        env[k] = v
        _s3.update(env)
        st, body = s3_call("PUT", "")
        assert st in (200, 409), (st, body)
    return _s3


def s3_call(method, key, user=None, secret=None, out=None):
    """A signed request to the bucket (curl's own SigV4): (status, body bytes)."""
    e = _s3
    url = "%s/%s/%s" % (e["S3_TEST_ENDPOINT"], BUCKET, key)
    cmd = ["curl", "-s", "-o", out or "-", "-w", "\n%{http_code}", "-X", method,
           "--aws-sigv4", "aws:amz:%s:s3" % e.get("S3_TEST_REGION", "us-east-1"),
           "--user", "%s:%s" % (user or e["S3_TEST_ACCESS_KEY"], secret or e["S3_TEST_SECRET_KEY"]),
           "-H", "x-amz-content-sha256: UNSIGNED-PAYLOAD", url]
    r = subprocess.run(cmd, capture_output=True, timeout=120)
    body, _, code = r.stdout.rpartition(b"\n")
    return int(code or 0), body


def s3_object(key):
    """The object's size and sha256, read with a signed GET (streamed to a file)."""
    fd, path = tempfile.mkstemp(dir=STATE)
    os.close(fd)
    try:
        st, _ = s3_call("GET", key, out=path)
        assert st == 200, (st, key)
        return os.path.getsize(path), _sha_file(path)
    finally:
        os.unlink(path)


def _sha_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


# --------------------------------------------------------- destinations

def _tenant_id(w):
    return psql("SELECT id FROM tenants WHERE slug = '%s'" % w.c.tenant, user="launcher_owner")[0]


def _local_dest(w):
    if not getattr(w, "local_dest", None):
        r = w.c.post("/settings/backup-destinations",
                     {"name": "local-" + uuid.uuid4().hex[:6], "provider": "local",
                      "path": "e2e/" + uuid.uuid4().hex[:6]})
        assert r.status == 201, r
        w.local_dest = r.data
    return w.local_dest


def _s3_dest(w, secret=None):
    e = s3()
    r = w.c.post("/settings/backup-destinations",
                 {"name": "rgw-" + uuid.uuid4().hex[:6], "provider": "custom",
                  "endpoint": e["S3_TEST_ENDPOINT"], "region": e.get("S3_TEST_REGION", "us-east-1"),
                  "bucket": BUCKET, "path": "e2e", "url_style": "path",
                  "access_key": e["S3_TEST_ACCESS_KEY"],
                  "secret_key": secret or e["S3_TEST_SECRET_KEY"]})
    assert r.status == 201, r
    return r.data


def _local_file(w, dest, key):
    return os.path.join(LOCAL_ROOT, _tenant_id(w), dest["path"], key)


def _object(w, dest, b):
    """(size, sha256) of backup b's object, read independently of the plane and the agent."""
    if dest["provider"] == "local":
        p = _local_file(w, dest, b["object_key"])
        return os.path.getsize(p), _sha_file(p)
    return s3_object("%s/%s" % (dest["path"], b["object_key"]))


# --------------------------------------------------------------- engine

def _exec(container, cmd, env=None, stdin=None, timeout=60):
    """Runs cmd in container through the engine's exec API: (exit code, stdout+stderr text);
    timeout: seconds the command may take."""
    st, ex = engine("POST", "/containers/%s/exec" % container,
                    {"Cmd": cmd, "Env": env or [], "AttachStdout": True, "AttachStderr": True})
    assert st == 201, ex
    st, raw = engine("POST", "/exec/%s/start" % ex["Id"], {"Detach": False, "Tty": False},
                     timeout=timeout)
    assert st == 200, (st, raw)
    out, i = b"", 0
    raw = raw if isinstance(raw, bytes) else json.dumps(raw).encode()
    while i + 8 <= len(raw):
        n = struct.unpack(">I", raw[i + 4:i + 8])[0]
        out += raw[i + 8:i + 8 + n]
        i += 8 + n
    for _ in range(100):
        st, doc = engine("GET", "/exec/%s/json" % ex["Id"])
        if not doc.get("Running"):
            return doc.get("ExitCode"), out.decode(errors="replace")
        time.sleep(0.05)
    raise AssertionError("exec still running")


def _connection(w, db):
    r = w.c.get("/databases/%s/connection" % db["id"])
    assert r.status == 200, r
    return r.data


def _password(w, db):
    return _connection(w, db)["password"]


class Engine:
    """Known data in each database type, written and read inside its container."""

    def __init__(self, w, db):
        conn = _connection(w, db)
        self.db, self.pw = db, conn["password"]
        self.ctr = "lnchr-db-" + db["id"]
        self.user, self.name = conn["user"], conn["name"]

    def sql(self, q, missing_ok=False):
        t = self.db["type"]
        if t == "postgres":
            code, out = _exec(self.ctr, ["psql", "-X", "-q", "-t", "-A", "-v", "ON_ERROR_STOP=1",
                                         "-U", self.user, "-d", self.name, "-c", q])
        elif t == "mysql":
            code, out = _exec(self.ctr, ["mariadb", "-N", "-B", "-u", self.user, self.name, "-e", q],
                              env=["MYSQL_PWD=" + self.pw])
        else:
            code, out = _exec(self.ctr, ["redis-cli", "--no-auth-warning"] + q.split(),
                              env=["REDISCLI_AUTH=" + self.pw])
        if missing_ok and code != 0 and ("does not exist" in out or "doesn't exist" in out):
            return ""
        assert code == 0, (code, out)
        return out

    def write(self, values):
        if self.db["type"] == "redis":
            self.sql("DEL kv")
            self.sql("RPUSH kv " + " ".join(values))
        else:
            self.sql("CREATE TABLE kv (v varchar(64))")
            self.sql("INSERT INTO kv VALUES " + ",".join("('%s')" % v for v in values))

    def destroy(self):
        if self.db["type"] == "redis":
            self.sql("FLUSHALL")
            self.sql("SET junk 1")
        else:
            self.sql("DROP TABLE kv")

    def read(self):
        if self.db["type"] == "redis":
            return self.sql("LRANGE kv 0 -1").split()
        return self.sql("SELECT v FROM kv ORDER BY v", missing_ok=True).split()


# ---------------------------------------------------------------- flows

def _backup(w, path, dest, want="succeeded"):
    """POST <path>/backups for dest; waits for the backup to end; returns it."""
    r = w.c.post(path + "/backups", {"destination_id": dest["id"]})
    assert r.status == 202 and r.data["backup"]["id"], r
    b = _until(w, r.data["backup"]["id"], ("succeeded", "failed"))
    assert b["status"] == want, b
    return b


def _until(w, bid, states):
    """The backup once its status is one of states."""
    return _wait("backup %s: %s" % (bid, "|".join(states)),
                 lambda: (lambda x: x if x["status"] in states else None)(w.c.get("/backups/" + bid).data),
                 JOB_TIMEOUT)


def _job_done(w, job_id):
    return _wait("job %s" % job_id, lambda: (lambda j: j if j["status"] in ("succeeded", "failed", "cancelled")
                                             else None)(w.c.get("/jobs/" + job_id).data), JOB_TIMEOUT)


def _result(job_id):
    """The job's result as GET /jobs/:id shows it (the agent's result, the kind's fields)."""
    r = World.get().c.get("/jobs/" + job_id)
    assert r.status == 200, r
    return r.data["result"]


def _restore(w, path, body):
    r = w.c.post(path, body)
    assert r.status in (201, 202), r
    return r


def _running(kind):
    """The world and a new running database of that type."""
    _need_fixtures()
    w = World.get()
    db = _db(w, type=kind)
    _settled(w, db["id"])
    return w, db


def _scheduled(w, rtype, rid, dest):
    """A schedule of the resource made due, launcher-backup --once run: its backup, ended."""
    r = w.c.post("/backup-schedules", {"resource_type": rtype, "resource_id": rid,
                                       "destination_id": dest["id"], "cron": "0 3 * * *"})
    assert r.status == 201, r
    sid = r.data["id"]
    psql("UPDATE backup_schedules SET next_run_at = now() - interval '1 minute' WHERE id = '%s'"
         % sid, user="launcher_owner")
    out = subprocess.run([os.path.join(BIN, "launcher-backup"), "-c", CONF, "--once",
                          "--backup_lock_file", os.path.join(STATE, "backups-e2e.lock")],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr

    def ended():
        rows = [b for b in w.c.get("/backups?resourceId=" + rid).data if b.get("schedule_id") == sid]
        return rows[0] if rows and rows[0]["status"] in ("succeeded", "failed") else None
    b = _wait("the scheduled backup of %s" % rid, ended, JOB_TIMEOUT)
    assert b["status"] == "succeeded" and b["trigger"] == "schedule", b
    w.c.delete("/backup-schedules/" + sid)
    return b


def _restore_read_back(w, e, b, known, via):
    """Destroys the data, restores backup b (via its /backups/... or /databases/... route), reads it."""
    e.destroy()
    assert e.read() == [], "the data is gone"
    if via == "database":
        r = _restore(w, "/databases/%s/restore" % e.db["id"], {"backup_id": b["id"]})
    else:
        r = _restore(w, "/backups/database/%s/restore" % b["id"], {})
    job = _job_done(w, r.data["job"]["id"])
    assert job["status"] == "succeeded", job
    res = _result(job["id"])
    assert res["sha256"] == b["sha256"], res
    assert sorted(e.read()) == sorted(known), "every value is back"
    assert _settled(w, e.db["id"])["status"] == "running"
    return res


def _round_trip(kind, dest_of, other_of):
    """Manual backup to dest_of, restored; then a scheduled one to other_of, restored."""
    w, db = _running(kind)
    dest = dest_of(w)
    e = Engine(w, db)
    known = ["v%03d-%s" % (i, uuid.uuid4().hex[:8]) for i in range(50)]
    e.write(known)
    b = _backup(w, "/databases/" + db["id"], dest)
    assert b["verified_at"] and b["size_bytes"] > 0 and len(b["sha256"]) == 64, b
    assert _object(w, dest, b) == (b["size_bytes"], b["sha256"]), "the object is what the row says"
    res = _restore_read_back(w, e, b, known, "database")
    safety = res["safety"]
    assert safety and safety["backup_id"], res
    s = w.c.get("/backups/" + safety["backup_id"]).data
    assert s["status"] == "succeeded" and s["trigger"] == "safety", s
    # By schedule (launcher-backup), to the other kind of destination.
    other = other_of(w)
    sb = _scheduled(w, "database", db["id"], other)
    assert _object(w, other, sb) == (sb["size_bytes"], sb["sha256"])
    _restore_read_back(w, e, sb, known, "backup")
    return w, db, e, b


def test_postgres_backup_to_local_and_by_schedule_to_radosgw_destroy_restore_read_back():
    _round_trip("postgres", _local_dest, _s3_dest)


def test_mysql_backup_to_radosgw_and_by_schedule_to_local_destroy_restore_read_back():
    _round_trip("mysql", _s3_dest, _local_dest)


def test_redis_backup_to_local_and_by_schedule_to_radosgw_destroy_restore_read_back():
    _round_trip("redis", _local_dest, _s3_dest)


def test_postgres_multipart_backup_to_radosgw_and_restore_into_a_new_database():
    """About 20 MB of dump: a multipart upload; then a restore into a new database."""
    w, db = _running("postgres")
    dest = _s3_dest(w)
    e = Engine(w, db)
    e.sql("CREATE TABLE big AS SELECT i, (SELECT string_agg(md5(random()::text || i || s), '') "
          "FROM generate_series(1, 20) s) AS pad FROM generate_series(1, 30000) i")
    e.write(["a1", "b2", "c3"])
    b = _backup(w, "/databases/" + db["id"], dest)
    assert b["size_bytes"] > 8 << 20, "more than one part: %d bytes" % b["size_bytes"]
    assert _object(w, dest, b) == (b["size_bytes"], b["sha256"])
    name = "pg" + uuid.uuid4().hex[:6]
    r = _restore(w, "/databases/%s/restore" % db["id"], {"backup_id": b["id"], "new_name": name})
    assert r.status == 201, r
    new = r.data if "id" in r.data else r.data["database"]
    _settled(w, new["id"])
    n = Engine(w, new)
    assert n.read() == ["a1", "b2", "c3"], "the new database holds the backup"
    assert n.sql("SELECT count(*) FROM big").strip() == "30000"


def test_a_corrupted_object_fails_the_read_back_never_succeeds():
    w, db = _running("postgres")
    dest = _local_dest(w)
    Engine(w, db).write(["x1", "x2"])
    r = w.c.post("/databases/%s/backups" % db["id"], {"destination_id": dest["id"]})
    assert r.status == 202, r
    bid = r.data["backup"]["id"]
    # The agent waits VERIFY_DELAY_MS between upload and read-back: the
    # object is rewritten (same size, other bytes) as soon as the row says so.
    b = _until(w, bid, ("verifying", "succeeded", "failed"))
    assert b["status"] == "verifying", b
    p = _local_file(w, dest, b["object_key"])
    size = os.path.getsize(p)
    with open(p, "r+b") as f:
        f.write(b"\0" * min(size, 64))
    b = _until(w, bid, ("succeeded", "failed"))
    assert b["status"] == "failed", b
    assert "read-back" in b["error"] and b["verified_at"] is None, b


def test_wrong_credentials_fail_the_backup_clearly_and_raise_backup_failed():
    w, db = _running("redis")
    dest = _s3_dest(w, secret="wrong" + uuid.uuid4().hex)
    b = _backup(w, "/databases/" + db["id"], dest, want="failed")
    assert "SignatureDoesNotMatch" in b["error"] or "AccessDenied" in b["error"], b
    assert _s3["S3_TEST_SECRET_KEY"] not in b["error"]
    ev = w.c.get("/alerts/events?event=backup.failed&resourceId=" + db["id"])
    assert ev.status == 200, ev
    rows = [x["message"] for x in ev.data]
    assert len(rows) == 1 and b["error"][:40] in rows[0], rows


def test_destination_test_through_the_agent_reports_each_step_and_a_refused_key():
    """POST .../test is a job the real agent runs against radosgw: a good
    destination passes write, read and delete; a wrong secret stops at the
    write with the store's code and no key in the result."""
    w = World.get()
    for dest, ok in ((_s3_dest(w), True), (_s3_dest(w, secret="wrong" + uuid.uuid4().hex), False),
                     (_local_dest(w), True)):
        r = w.c.post("/settings/backup-destinations/%s/test" % dest["id"],
                     {"server_id": w.server["id"]})
        assert r.status == 202, r
        j = _job_done(w, r.data["job"]["id"])
        assert j["status"] == "succeeded", j
        res = j["result"]
        assert res["ok"] is ok, res
        steps = [x["step"] for x in res["steps"]]
        if ok:
            assert steps == ["write", "read", "delete"] and all(x["ok"] for x in res["steps"]), res
        else:
            assert steps == ["write"] and res["steps"][0]["ok"] is False, res
            assert "SignatureDoesNotMatch" in res["steps"][0]["error"], res
            assert _s3["S3_TEST_SECRET_KEY"] not in json.dumps(res), res


# --------------------------------------------------------------- volumes

def _volume(w):
    r = w.c.post("/volumes", {"project_id": w.project["id"], "name": "v" + uuid.uuid4().hex[:8]})
    assert r.status == 201, r
    v = r.data
    # The engine volume as the agent makes it (an app mounting it would too).
    st, out = engine("POST", "/volumes/create", {
        "Name": "lnchr-vol-" + v["id"], "Driver": "local",
        "Labels": {"launcher.managed": "1", "launcher.tenant": _tenant_id(w),
                   "launcher.project": w.project["id"], "launcher.volume": v["id"]}})
    assert st in (200, 201), out
    return v


def _in_volume(v, script, keep=False):
    """Runs sh -c script in a throwaway container mounting the volume on /v."""
    name = "e2e-vol-" + uuid.uuid4().hex[:8]
    image = os.environ.get("FIXTURE_DB_REDIS_IMAGE")
    st, out = engine("POST", "/containers/create?name=" + name, {
        "Image": image, "Entrypoint": ["sh", "-c"], "Cmd": [script],
        "HostConfig": {"Mounts": [{"Type": "volume", "Source": "lnchr-vol-" + v["id"], "Target": "/v"}]}})
    assert st == 201, out
    engine("POST", "/containers/%s/start" % name)
    if keep:
        return name
    _wait("container " + name, lambda: engine("GET", "/containers/%s/json" % name)[1]["State"]["Status"]
          == "exited", 60)
    st, logs = engine("GET", "/containers/%s/logs?stdout=1&stderr=1" % name)
    engine("DELETE", "/containers/%s?force=1" % name)
    raw, i, text = logs if isinstance(logs, bytes) else b"", 0, b""
    while i + 8 <= len(raw):
        n = struct.unpack(">I", raw[i + 4:i + 8])[0]
        text += raw[i + 8:i + 8 + n]
        i += 8 + n
    return text.decode()


def test_volume_backup_destroy_restore_read_back_and_refused_while_mounted():
    _need_fixtures()
    w = World.get()
    dest = _local_dest(w)
    v = _volume(w)
    _in_volume(v, "mkdir -p /v/a/b && echo hello > /v/a/b/f.txt && echo top > /v/.hidden && "
                  "ln -s a/b/f.txt /v/link && chmod 600 /v/.hidden")
    listing = "find /v | sort; cat /v/link /v/.hidden; stat -c '%a %n' /v/.hidden"
    before = _in_volume(v, listing)
    b = _backup(w, "/volumes/" + v["id"], dest)
    assert _object(w, dest, b) == (b["size_bytes"], b["sha256"])
    _in_volume(v, "rm -rf /v/a /v/.hidden && echo junk > /v/junk")
    assert _in_volume(v, listing) != before
    # A running container mounting it: refused, nothing changed.
    user = _in_volume(v, "sleep 300", keep=True)
    try:
        r = w.c.post("/backups/volume/%s/restore" % b["id"], {})
        if r.status == 202:
            job = _job_done(w, r.data["job"]["id"])
            assert job["status"] == "failed" and "running containers" in job["error"], job
        else:
            assert r.status == 409, r
        assert "junk" in _in_volume(v, "ls /v")
    finally:
        engine("DELETE", "/containers/%s?force=1" % user)
    r = w.c.post("/backups/volume/%s/restore" % b["id"], {})
    assert r.status == 202, r
    job = _job_done(w, r.data["job"]["id"])
    assert job["status"] == "succeeded", job
    assert _in_volume(v, listing) == before, "the volume is as it was backed up"
    # By schedule, to radosgw; destroyed and restored again.
    other = _s3_dest(w)
    sb = _scheduled(w, "volume", v["id"], other)
    assert _object(w, other, sb) == (sb["size_bytes"], sb["sha256"])
    _in_volume(v, "rm -rf /v/* /v/.hidden")
    r = w.c.post("/backups/volume/%s/restore" % sb["id"], {})
    assert r.status == 202, r
    assert _job_done(w, r.data["job"]["id"])["status"] == "succeeded"
    assert _in_volume(v, listing) == before, "the volume is as the scheduled backup has it"


# ---------------------------------------------------------------- import

def test_import_streams_an_uploaded_dump_into_postgres():
    w, db = _running("postgres")
    dump = "CREATE TABLE kv (v text);\n" + "".join(
        "INSERT INTO kv VALUES ('i%05d');\n" % i for i in range(2000))
    r = w.c.call("POST", "/databases/%s/import" % db["id"], raw=dump.encode(),
                    headers={"Content-Type": "application/sql"})
    assert r.status == 202, r
    job = _job_done(w, r.data["job"]["id"])
    assert job["status"] == "succeeded", job
    assert _result(job["id"])["imported_bytes"] == len(dump), job
    assert Engine(w, db).sql("SELECT count(*) FROM kv").strip() == "2000"
    # A compressed dump: accepted by the pool (which never reads an upload),
    # refused by the agent before psql sees a byte; the table is as it was.
    r = w.c.call("POST", "/databases/%s/import" % db["id"],
                 raw=gzip.compress(b"DROP TABLE kv;\n"),
                 headers={"Content-Type": "application/sql"})
    assert r.status == 202, r
    job = _job_done(w, r.data["job"]["id"])
    assert job["status"] == "failed" and "gzip-compressed" in json.dumps(job), job
    assert Engine(w, db).sql("SELECT count(*) FROM kv").strip() == "2000"


def test_no_engine_or_store_secret_reaches_argv_or_errors():
    """The claim's secrets travel in exec env only: a backup's engine execs carry none in Cmd."""
    w, db = _running("mysql")
    dest = _local_dest(w)
    pw = _password(w, db)
    b = _backup(w, "/databases/" + db["id"], dest)
    st, ctr = engine("GET", "/containers/lnchr-db-%s/json" % db["id"])
    for eid in ctr.get("ExecIDs") or []:
        st, ex = engine("GET", "/exec/%s/json" % eid)
        if st == 200:
            pc = ex.get("ProcessConfig") or {}
            assert pw not in json.dumps([pc.get("entrypoint"), pc.get("arguments")]), ex
    assert b["status"] == "succeeded"
