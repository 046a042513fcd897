"""Point-in-time recovery end to end: the real plane, the real
launcher-agent, the stack's Podman and the PostgreSQL image of
tests/fixtures/dbimages.sh with pgBackRest, a local backup destination
(the agent's <state_dir>/backups/<tenant>/...).  Rows inserted at t1, t2,
t3 (seconds apart; the WAL switched after t3); once recovery-window covers
t3 (pitr_tick queues db.pitr_info, as launcher-backup does), it brackets
them; pitr-clone to a time between t2 and t3 holds exactly the t1 and t2
rows; pitr in place does the same; switch gives the clone the original's
name and network alias, the original stopped and its container gone; a
target outside the window is 400 with the window."""
import calendar
import json
import math
import os
import time

from lib import assert_error, psql
from test_agent_e2e import _wait
from test_databases_e2e import IMAGES, F, World, _ctr, _db, _jobs, _owner, _settled
from test_deploy_e2e import engine

WINDOW_TIMEOUT = 180


def _need_image():
    if not F.get(IMAGES["postgres"]):
        raise AssertionError("fixture missing (FIXTURE_DB_POSTGRES_IMAGE): run through tests/run.sh")


def _frames(raw):
    """stdout+stderr of an engine exec's multiplexed stream."""
    out, i = b"", 0
    while i + 8 <= len(raw):
        n = int.from_bytes(raw[i + 4:i + 8], "big")
        out += raw[i + 8:i + 8 + n]
        i += 8 + n
    return out.decode(errors="replace")


def _sql(db, sql):
    """Runs sql with psql inside the database's container (local socket: trust); rows."""
    st, ex = engine("POST", "/containers/lnchr-db-%s/exec" % db["id"], {
        "Cmd": ["psql", "-h", "/run/postgresql", "-U", "app", "-d", db["name"].replace("-", "_"),
                "-XAtq", "-v", "ON_ERROR_STOP=1", "-c", sql],
        "AttachStdout": True, "AttachStderr": True})
    assert st == 201, ex
    st, raw = engine("POST", "/exec/%s/start" % ex["Id"], {"Detach": False, "Tty": False})
    assert st == 200, raw
    text = _frames(raw if isinstance(raw, bytes) else json.dumps(raw).encode())
    st, info = engine("GET", "/exec/%s/json" % ex["Id"])
    assert info.get("ExitCode") == 0, (sql, text)
    return [l for l in text.split("\n") if l]


def _rfc(t):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


def _epoch(s):
    return calendar.timegm(time.strptime(s, "%Y-%m-%dT%H:%M:%SZ"))


def _window_covers(w, db, t):
    """Refreshes the stored window (pitr_tick, as launcher-backup) until it reaches t."""
    def covered():
        if not any(" queued" in j or " running" in j for j in _jobs(db["id"])):
            _owner("UPDATE databases SET pitr_checked_at = NULL WHERE id = '%s'" % db["id"])
            psql("SELECT pitr_tick()", user="launcher_owner")
        r = w.c.get("/databases/%s/recovery-window" % db["id"]).data
        return r if r["latest"] and _epoch(r["latest"]) >= t else None
    try:
        return _wait("the recovery window to reach %s" % _rfc(t), covered, WINDOW_TIMEOUT)
    except AssertionError as e:
        raise AssertionError("%s; window %r; jobs %r" % (
            e, w.c.get("/databases/%s/recovery-window" % db["id"]).data, _jobs(db["id"])))


def _values(db):
    return _sql(db, "SELECT v FROM launcher_pitr ORDER BY v")


def test_pitr_clone_in_place_window_and_switch():
    _need_image()
    w = World.get()
    _owner("INSERT INTO backup_destinations (tenant_id, name, provider) VALUES ('%s', 'here', 'local')"
           % w.c.tid)
    d = _db(w, type="postgres", pitr_enabled=True, name="pg-pitr")
    d = _settled(w, d["id"])
    repo = os.path.join(w.agent.dir, "backups", w.c.tid, "launcher", "pitr", d["id"])
    assert os.path.isdir(os.path.join(repo, "backup", "db")), repo
    w0 = w.c.get("/databases/%s/recovery-window" % d["id"]).data
    assert w0["earliest"] and w0["latest"], w0
    doc = _ctr(d["id"])
    env = "\n".join(doc["Config"]["Env"])
    assert "LNCHR_PITR=1" in env and "PGBACKREST_REPO1_PATH=/var/lib/pgbackrest" in env, env
    archive = _sql(d, "SHOW archive_command") + _sql(d, "SHOW archive_timeout")
    assert archive == ["pgbackrest archive-push %p", "5s"], archive

    _sql(d, "CREATE TABLE launcher_pitr (v text PRIMARY KEY, at timestamptz DEFAULT clock_timestamp())")
    stamps = {}
    for v in ("t1", "t2", "t3"):
        stamps[v] = float(_sql(d, "INSERT INTO launcher_pitr (v) VALUES ('%s')"
                                  " RETURNING extract(epoch FROM at)" % v)[0])
        if v != "t3":
            time.sleep(2.5)
    _sql(d, "SELECT pg_switch_wal()")
    target = math.ceil(stamps["t2"] + 0.5)
    assert target < stamps["t3"] - 0.5, stamps
    win = _window_covers(w, d, stamps["t3"])
    assert _epoch(win["earliest"]) <= stamps["t1"] <= stamps["t3"] <= _epoch(win["latest"]), (win, stamps)

    # Outside the window: 400 naming target_time, the window in the answer.
    r = w.c.post("/databases/%s/pitr-clone" % d["id"], {"target_time": _rfc(_epoch(win["earliest"]) - 60),
                                                       "new_name": "pg-early"})
    assert_error(r, 400, "BAD_REQUEST", "target_time")
    assert win["earliest"] in r.error["message"], r

    # The clone: exactly t1 and t2, the source's credentials.
    r = w.c.post("/databases/%s/pitr-clone" % d["id"], {"target_time": _rfc(target), "new_name": "pg-copy"})
    assert r.status == 201, r
    clone = _settled(w, r.data["id"])
    # The restored cluster's database is the source's (the connection says so).
    assert w.c.get("/databases/%s/connection" % clone["id"]).data["name"] == "pg_pitr"
    assert _values(dict(clone, name="pg-pitr")) == ["t1", "t2"], _jobs(clone["id"])
    assert w.c.get("/databases/%s/connection" % clone["id"]).data["password"] == \
        w.c.get("/databases/%s/connection" % d["id"]).data["password"]
    assert _values(d) == ["t1", "t2", "t3"]

    # In place: the same.
    r = w.c.post("/databases/%s/pitr" % d["id"], {"target_time": _rfc(target)})
    assert r.status == 202 and r.data["job"]["kind"] == "db.pitr_restore", r
    _wait("the restore in place", lambda: w.c.get("/databases/" + d["id"]).data["status"] != "restoring",
          600)
    assert w.c.get("/databases/" + d["id"]).data["status"] == "running", _jobs(d["id"])
    assert _values(d) == ["t1", "t2"], _jobs(d["id"])
    # Archiving goes on after the restore (a new timeline).
    _sql(d, "INSERT INTO launcher_pitr (v) VALUES ('t4')")
    _sql(d, "SELECT pg_switch_wal()")
    _window_covers(w, d, time.time() - 1)

    # Switch: the clone gets the name and the alias; the original stopped, container gone.
    before = w.c.get("/databases/" + d["id"]).data
    r = w.c.post("/databases/%s/switch" % d["id"], {"restored_database_id": clone["id"]})
    assert r.status == 202, r
    new = _settled(w, clone["id"])
    old = _settled(w, d["id"], want="stopped")
    assert (new["name"], new["internal_host"]) == ("pg-pitr", before["internal_host"]), new
    assert (old["name"], old["internal_host"]) == ("pg-copy", clone["internal_host"]), old
    assert _ctr(d["id"]) is None
    nets = _ctr(clone["id"])["NetworkSettings"]["Networks"]
    aliases = [a for n in nets.values() for a in (n.get("Aliases") or [])]
    assert before["internal_host"] in aliases, nets
    assert _values(new) == ["t1", "t2"]
