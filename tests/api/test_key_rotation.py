"""Master-key rotation (README "Security"): launcher-admin rotate-master-key
re-encrypts every sealed column (sql/022_sealed_columns.sql) under a new
key of the ring, in batches.  Over 10,000 environment variables and values
in every other sealed column: killed at a random batch and run again, it
resumes with the same key; every value still opens through the API (env
variables, app env, deployments' snapshots through the agent's claim,
repository credentials, exec results; webhook secrets through
check-sealed), in the middle (old and new key) and after; none was
re-encrypted twice, the ring gained exactly one key, and sessions, service
keys and agent tokens issued before keep working (they hang off key 0,
which a rotation never changes)."""
import os
import random
import re
import signal
import subprocess
import uuid

from lib import BIN, CONF, Client, make_key, new_project, psql, registered, request
from test_servers import Agent, _server

ADMIN = [os.path.join(BIN, "launcher-admin"), "-c", CONF]
PROGRESS = re.compile(r"^rotate-master-key: (\w+)\.(\w+) (\d+)/(\d+)$")
N_APPS = 12
# The case: 10,000 variables, 1,000 per scope (the most a scope may
# hold): a project, its two environments and seven applications.
N_VARS = 10000
PER_SCOPE = 1000


def _sql(sql):
    return psql(sql, user="launcher_owner")


def _conf(key):
    with open(CONF) as f:
        for line in f:
            k, _, v = line.partition("=")
            if k.strip() == key:
                return v.strip().strip('"')
    raise AssertionError("no %s in %s" % (key, CONF))


def _ring_ids():
    """The key ids of the ring file ([0] for the original 32-byte file)."""
    with open(_conf("master_key_file"), "rb") as f:
        raw = f.read()
    if len(raw) == 32:
        return [0]
    text = raw.decode()
    assert "launcher-keyring 1" in text, text[:40]
    return [int(l.split()[1]) for l in text.splitlines() if l.startswith("key ")]


def _sealed():
    """{(table, column, id): sealed text} of every sealed column."""
    out = {}
    for row in _sql("SELECT table_name, id_column, column_name FROM sealed_columns"
                    " WHERE to_regclass('launcher.' || table_name) IS NOT NULL"):
        t, idc, col = row.split("|")
        for r in _sql("SELECT %s::text, %s FROM %s WHERE %s IS NOT NULL" % (idc, col, t, col)):
            i, v = r.split("|", 1)
            out[(t, col, i)] = v
    return out


def _key_of(sealed):
    m = re.match(r"^\$(\d+)\$", sealed)
    return int(m.group(1)) if m else 0


def _rotate(*args, kill_at=None):
    """Runs rotate-master-key; with kill_at=n, SIGKILLs it as soon as it has
    reported its n-th batch.  Returns (exit status, stderr lines)."""
    p = subprocess.Popen(ADMIN + ["rotate-master-key"] + list(args), stderr=subprocess.PIPE,
                         stdout=subprocess.DEVNULL, text=True)
    lines, batches = [], 0
    try:
        for line in p.stderr:
            lines.append(line.rstrip("\n"))
            m = PROGRESS.match(lines[-1])
            if m and kill_at is not None and int(m.group(3)) > 0:
                batches += 1
                if batches == kill_at:
                    p.send_signal(signal.SIGKILL)
                    break
        return p.wait(timeout=300), lines
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()


def _check_sealed():
    """launcher-admin check-sealed: every value opens; its lines."""
    out = subprocess.run(ADMIN + ["check-sealed"], capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr
    return out.stdout.splitlines()


class World:
    """A tenant with apps whose every sealed column holds values."""

    def __init__(self):
        self.c, _ = registered("rot")
        self.key = make_key(self.c)["key"]
        s = _server(self.c, base_domain="rot.test")
        self.agent = Agent(self.c.tenant, s["agent_token"])
        assert self.agent.heartbeat().status == 200
        p = new_project(self.c)
        self.apps = []
        for i in range(N_APPS):
            cred = "u%d:tok-%s" % (i, uuid.uuid4().hex)
            env1 = {"K%d_%d" % (i, j): "one-%d-%d-%s" % (i, j, uuid.uuid4().hex) for j in range(3)}
            r = self.c.post("/applications", {
                "name": "a%d-%s" % (i, uuid.uuid4().hex[:6]), "project_id": p["id"], "source_type": "git",
                "repository_url": "https://%s@git.test/r%d.git" % (cred, i), "autodeploy": True,
                "exposed_port": 8080, "env": env1})
            assert r.status == 201, r
            a = r.data
            d1, snap1 = self._deploy(a["id"], cred)
            env2 = dict(env1, LATER="two-%d-%s" % (i, uuid.uuid4().hex))
            assert self.c.put("/applications/%s/env" % a["id"], env2).status == 200
            _, snap2 = self._deploy(a["id"], cred)
            self.apps.append({"id": a["id"], "cred": cred, "env2": env2, "d1": d1["id"],
                              "snap1": snap1, "snap2": snap2})
        self._env_vars()
        # An exec's output, stored sealed (jobs.result_sealed).
        a = self.apps[0]
        r = self.c.post("/applications/%s/exec" % a["id"], {"command": ["env"]})
        assert r.status == 202, r
        self.exec_job = r.data["job"]["id"]
        self.exec_out = "exec-output-%s" % uuid.uuid4().hex
        job = self.agent.claim()
        assert job["kind"] == "app.exec", job
        self._finish(job, exit_code=0, output=self.exec_out)

    def _env_vars(self):
        """N_VARS variables through POST /env-vars/bulk, in a project of
        their own (its applications are never deployed here)."""
        p = new_project(self.c)
        envs = self.c.get("/projects/%s/environments" % p["id"]).data
        scopes = [("project", p["id"])] + [("environment", e["id"]) for e in envs]
        while len(scopes) < N_VARS // PER_SCOPE:
            r = self.c.post("/applications", {
                "name": "v-%s" % uuid.uuid4().hex[:8], "project_id": p["id"], "source_type": "docker_image",
                "image_url": "registry.test/web:v1", "exposed_port": 8080})
            assert r.status == 201, r
            scopes.append(("application", r.data["id"]))
        self.env_project, self.env_scopes = p["id"], []
        for scope, sid in scopes:
            variables = {"VAR_%04d" % j: "%s-%d-%s" % (scope, j, uuid.uuid4().hex) for j in range(PER_SCOPE)}
            r = self.c.post("/env-vars/bulk", {"project_id": p["id"], "scope": scope, "scope_id": sid,
                                               "variables": variables})
            assert r.status in (200, 201), r
            self.env_scopes.append((scope, sid, variables))
        n = _sql("SELECT count(*) FROM env_vars WHERE project_id = '%s'" % p["id"])
        assert n == [str(N_VARS)], n

    def _finish(self, job, **result):
        r = self.agent.call("POST", "/jobs/%s/complete" % job["id"], {"status": "succeeded", "result": result})
        assert r.status == 200, r

    def _deploy(self, app_id, cred):
        """A deploy claimed by the agent: the credential opens into the
        source; returns the deployment and its env snapshot as claimed."""
        d = self.c.post("/applications/%s/deploy" % app_id, {})
        assert d.status == 201, d
        job = self.agent.claim()
        assert cred in job["payload"]["source"]["repository_url"], job["payload"]["source"]
        self._finish(job, image_id="sha256:" + uuid.uuid4().hex * 2)
        return d.data, job["payload"]["env"]

    def check(self):
        """Every value opens through the API and equals the original."""
        for scope, sid, variables in self.env_scopes:
            r = self.c.get("/env-vars/values?projectId=%s&scope=%s&scopeId=%s" % (self.env_project, scope, sid))
            assert r.status == 200 and r.data == variables, (scope, r.status, len(r.data or {}))
        for a in self.apps:
            assert self.c.get("/applications/%s/env" % a["id"]).data == a["env2"]
        r = self.c.get("/jobs/" + self.exec_job)
        assert r.status == 200 and r.data["result"]["output"] == self.exec_out, r
        # The deployments' snapshots and the credentials open where the
        # agent gets them: a rollback to the first release (its snapshot),
        # then a new deploy (the credential), for two apps.
        for a in random.sample(self.apps, 2):
            rb = self.c.post("/applications/%s/rollback" % a["id"], {"deployment_id": a["d1"]})
            assert rb.status == 201, rb
            job = self.agent.claim()
            assert job["payload"]["env"] == a["snap1"], job["payload"]
            self._finish(job, image_id="sha256:" + uuid.uuid4().hex * 2)
            assert self._deploy(a["id"], a["cred"])[1] == a["snap2"]
        # Sessions, service keys and agent tokens issued before: key 0's.
        assert self.c.get("/auth/me").status == 200
        assert Client(self.c.tenant, key=self.key).get("/projects").status == 200
        assert self.agent.heartbeat().status == 200


def test_every_sealed_column_is_listed():
    """A column that holds sealed values and is missing from sealed_columns
    would keep its old key after a rotation: the suffix _sealed says it."""
    cols = set(_sql("SELECT table_name || '.' || column_name FROM information_schema.columns"
                    " WHERE table_schema = 'launcher' AND column_name LIKE '%\\_sealed'"))
    listed = set(_sql("SELECT table_name || '.' || column_name FROM sealed_columns"))
    assert cols and cols <= listed, cols - listed


def test_rotation_killed_at_a_random_batch_resumes_and_every_value_still_opens():
    w = World()
    before_ring = _ring_ids()
    before = _sealed()
    # A re-encryption is not an edit: no ETag (row_version) changes and no
    # application becomes pending_deploy (env_version).
    versions = "SELECT string_agg(id || ':' || %s, ',' ORDER BY id) FROM %s"
    edits = (_sql(versions % ("env_version", "applications")), _sql(versions % ("row_version", "env_vars")),
             _sql(versions % ("row_version", "applications")))
    newest = before_ring[-1]
    columns = {(t, col) for t, col, _ in before}
    assert {("env_vars", "value_sealed"), ("applications", "repository_credential_sealed"),
            ("applications", "webhook_secret_sealed"), ("jobs", "result_sealed")} <= columns, columns
    assert sum(1 for k in before if k[0] == "env_vars") >= N_VARS
    assert all(_key_of(v) == newest for v in before.values()), "start from a finished rotation"
    batch = 250
    est = sum((n + batch - 1) // batch for n in
              [sum(1 for k in before if k[:2] == col) for col in {k[:2] for k in before}])
    kill_at = random.randint(1, max(1, est - 2))
    rc, lines = _rotate("--batch", str(batch), kill_at=kill_at)
    assert rc == -signal.SIGKILL, (rc, lines)
    ring = _ring_ids()
    assert ring == before_ring + [newest + 1], ring
    assert any("key %d added" % (newest + 1) in l for l in lines), lines
    # The pool was told before anything was sealed with the new key.
    with open(_conf("fcgi_state_file")) as f:
        assert f.read().split("\n")[1] == "ring %d" % len(ring)
    mid = _sealed()
    done = {k: v for k, v in mid.items() if _key_of(v) == newest + 1}
    assert done and len(done) < len(mid), (len(done), len(mid))
    assert all(_key_of(v) == newest for k, v in mid.items() if k not in done)
    # Old and new key both open while the rotation is unfinished: through
    # the API, and every value of every column (webhook secrets too).
    w.check()
    out = _check_sealed()
    assert any(", key %d: " % newest in l for l in out) and any(", key %d: " % (newest + 1) in l for l in out)

    rc, lines = _rotate("--batch", str(batch))
    assert rc == 0, lines
    assert any(l.startswith("rotate-master-key: resuming") for l in lines), lines
    assert _ring_ids() == ring, "a resumed rotation adds no key"
    after = _sealed()
    assert all(_key_of(v) == newest + 1 for v in after.values())
    # What the killed run had finished was not re-encrypted again (values
    # written by the checks above are new rows, sealed by the pool).
    assert all(after[k] == v for k, v in done.items() if k in after)
    assert set(before) <= set(after)
    assert (_sql(versions % ("env_version", "applications")), _sql(versions % ("row_version", "env_vars")),
            _sql(versions % ("row_version", "applications"))) == edits
    w.check()
    out = _check_sealed()
    assert not any(", key %d: " % newest in l for l in out), out

    # Nothing left: --resume changes no row and adds no key.
    snap = _sealed()
    rc, lines = _rotate("--resume")
    assert rc == 0 and any("nothing to resume" in l for l in lines), lines
    assert _sealed() == snap and _ring_ids() == ring


def test_a_value_that_does_not_open_stops_the_rotation_and_its_batch_changes_nothing():
    c, _ = registered("rotbad")
    _server(c, base_domain="rotbad.test")
    p = new_project(c)
    r = c.post("/applications", {"name": "hook", "project_id": p["id"], "source_type": "git",
                                 "repository_url": "https://git.test/hook.git", "autodeploy": True,
                                 "exposed_port": 8080})
    assert r.status == 201, r
    app = r.data["id"]
    good = _sql("SELECT webhook_secret_sealed FROM applications WHERE id = '%s'" % app)[0]
    i = len(good) // 2
    bad = good[:i] + ("A" if good[i] != "A" else "B") + good[i + 1:]
    _sql("UPDATE applications SET webhook_secret_sealed = '%s' WHERE id = '%s'" % (bad, app))
    ring = _ring_ids()
    try:
        before = {k: v for k, v in _sealed().items() if k[:2] == ("applications", "webhook_secret_sealed")}
        rc, lines = _rotate("--batch", "1000")
        assert rc == 1, lines
        assert any("applications.webhook_secret_sealed of row %s does not open" % app in l for l in lines), lines
        after = {k: v for k, v in _sealed().items() if k[:2] == ("applications", "webhook_secret_sealed")}
        assert after == before, "the batch with the damaged value was rolled back"
        assert _ring_ids() == ring + [ring[-1] + 1]
    finally:
        _sql("UPDATE applications SET webhook_secret_sealed = '%s' WHERE id = '%s'" % (good, app))
    # Repaired: the same rotation resumes (no other key) and finishes.
    rc, lines = _rotate("--batch", "1000")
    assert rc == 0 and any(l.startswith("rotate-master-key: resuming") for l in lines), lines
    assert _ring_ids() == ring + [ring[-1] + 1]
    _check_sealed()


def test_values_written_while_the_rotation_runs_end_under_the_new_key():
    """A writer keeps changing an application's env during the rotation:
    nothing is lost, every value ends under the newest key and opens."""
    import threading
    c, _ = registered("rotw")
    _server(c, base_domain="rotw.test")
    p = new_project(c)
    a = c.post("/applications", {"name": "w", "project_id": p["id"], "source_type": "docker_image",
                                 "image_url": "registry.test/web:v1", "exposed_port": 8080}).data
    stop, written, errors = threading.Event(), [], []

    def writer():
        while not stop.is_set():
            env = {"N": "value-%d-%s" % (len(written), uuid.uuid4().hex)}
            r = c.put("/applications/%s/env" % a["id"], env)
            if r.status != 200:
                errors.append(r)
                return
            written.append(env)

    t = threading.Thread(target=writer)
    t.start()
    try:
        rc, lines = _rotate("--batch", "50")
    finally:
        stop.set()
        t.join()
    assert rc == 0 and not errors, (lines, errors)
    assert len(written) > 1
    assert c.get("/applications/%s/env" % a["id"]).data == written[-1]
    newest = _ring_ids()[-1]
    assert all(_key_of(v) == newest for v in _sealed().values())
    _check_sealed()


def test_without_a_running_pool_behind_the_state_file_it_refuses_unless_told_the_pool_is_stopped():
    """The state file names no live pool (a stopped one, or one that does
    not write it): nothing is done unless --pool-stopped says it is safe."""
    from test_pool import _conf
    from lib import STATE
    conf = os.path.join(STATE, "rotate-%s.conf" % uuid.uuid4().hex[:6])
    _conf(conf, fcgi_state_file=os.path.join(STATE, "run", "no-such-pool.state"))
    ring, snap = _ring_ids(), _sealed()
    try:
        out = subprocess.run([os.path.join(BIN, "launcher-admin"), "-c", conf, "rotate-master-key"],
                             capture_output=True, text=True)
        assert out.returncode == 1 and "names no running launcher-fcgi" in out.stderr, out.stderr
        assert "--pool-stopped" in out.stderr
        assert _ring_ids() == ring and _sealed() == snap, "nothing changed"
    finally:
        os.unlink(conf)


def test_a_key_file_older_than_the_database_is_refused_before_anything_changes():
    """Values under a key the ring lacks (a key file restored from an old
    backup): a new key would take that id, so nothing is done."""
    if len(_ring_ids()) < 2:
        assert _rotate()[0] == 0
    path = _conf("master_key_file")
    with open(path) as f:
        current = f.read()
    newest = _ring_ids()[-1]
    older = "".join(l for l in current.splitlines(True) if not l.startswith("key %d " % newest))
    snap = _sealed()
    assert any(_key_of(v) == newest for v in snap.values())
    fd = os.open(path + ".old", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.write(fd, older.encode())
    os.close(fd)
    os.rename(path + ".old", path)
    try:
        rc, lines = _rotate()
        assert rc == 1 and any("the key file is older than the database" in l for l in lines), lines
        with open(path) as f:
            assert f.read() == older, "the ring was not touched"
        assert _sealed() == snap
    finally:
        fd = os.open(path + ".new", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.write(fd, current.encode())
        os.close(fd)
        os.rename(path + ".new", path)
    _check_sealed()


def test_a_second_run_at_once_is_refused():
    """Two runs cannot interleave (an advisory lock), so no value is
    re-encrypted by both."""
    env = dict(os.environ, PGPASSWORD=__import__("lib").pgpass("launcher_owner"))
    port = os.environ.get("LAUNCHER_PG_PORT", "5488")
    from lib import STATE
    holder = subprocess.Popen(["psql", "-X", "-q", "-h", os.path.join(STATE, "pg", "sock"), "-p", port,
                               "-U", "launcher_owner", "-d", "launcher", "-c",
                               "SELECT pg_advisory_lock(727275), pg_sleep(30)"], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(100):
            if _sql("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND objid = 727275") == ["1"]:
                break
            __import__("time").sleep(0.05)
        ring = _ring_ids()
        rc, lines = _rotate()
        assert rc == 1 and any("another rotate-master-key is running" in l for l in lines), lines
        assert _ring_ids() == ring
    finally:
        holder.kill()
        holder.wait()


def test_the_pool_rereads_the_root_only_ring_on_sighup_and_refuses_a_bad_one():
    """The master keeps its privileges to read the ring again (workers run
    as nobody); it reports the ring once every worker holds it, and a ring
    it cannot read is refused as a whole: the old workers keep serving."""
    import base64
    import json
    import time
    from fcgi_client import read_response, send_request
    from lib import STATE, pgpass
    from test_pool import _conf
    env = {}
    with open(CONF) as f:
        for line in f:
            if "=" in line and not line.startswith("#"):
                k, v = line.split("=", 1)
                env[k.strip()] = v.strip().strip('"')
    url = env["database_url"].replace("passfile=", "x=").split(" x=")[0] + \
        " password=" + pgpass("launcher_api")
    tag = uuid.uuid4().hex[:6]
    keyfile = os.path.join(STATE, "secrets", "ring-%s.key" % tag)
    with open(env["master_key_file"], "rb") as f:
        raw = f.read()
    text = raw.decode() if len(raw) != 32 else \
        "launcher-keyring 1\nkey 0 %s\n" % base64.b64encode(raw).decode()
    nkeys = text.count("\nkey ")

    def write(t):
        fd = os.open(keyfile + ".w", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.write(fd, t.encode())
        os.close(fd)
        os.rename(keyfile + ".w", keyfile)

    write(text)
    sock = os.path.join(STATE, "run", "pool-ring-%s.sock" % tag)
    conf = os.path.join(STATE, "pool-ring-%s.conf" % tag)
    state = conf + ".state"
    _conf(conf, listen=sock, workers="2", user="nobody", database_url=url, master_key_file=keyfile,
          fcgi_state_file=state)
    log_path = os.path.join(STATE, "log", "pool-ring-%s.log" % tag)
    p = subprocess.Popen([os.path.join(BIN, "launcher-fcgi"), "-c", conf], stderr=open(log_path, "w"))

    def ring_of_state(want, timeout=15):
        deadline = time.time() + timeout
        while time.time() < deadline:
            try:
                with open(state) as f:
                    pid, ring = f.read().split("\n")[:2]
                if ring == "ring %d" % want:
                    assert int(pid) == p.pid
                    return
            except (OSError, ValueError):
                pass
            time.sleep(0.05)
        raise AssertionError("state never said ring %d" % want)

    def healthy():
        status, _, _ = read_response(send_request("/healthz", sock_path=sock))
        return status == 200

    try:
        ring_of_state(nkeys)
        assert healthy()
        # One more key: the root master reads the 0600 file again.
        write(text + "key %d %s\n" % (nkeys, base64.b64encode(os.urandom(32)).decode()))
        p.send_signal(signal.SIGHUP)
        ring_of_state(nkeys + 1)
        with open("/proc/%d/task/%d/children" % (p.pid, p.pid)) as f:
            for w in f.read().split():
                with open("/proc/%s/status" % w) as s:
                    uid = [l.split()[1] for l in s if l.startswith("Uid:")][0]
                assert uid != "0"
        assert healthy()
        # A broken ring: refused, the running workers and their ring stay.
        write("launcher-keyring 1\nkey 0 not-base64\n")
        p.send_signal(signal.SIGHUP)
        deadline = time.time() + 10
        while "reload refused" not in open(log_path).read():
            assert time.time() < deadline, open(log_path).read()
            time.sleep(0.05)
        assert "key 0 is not the base64 of 32 bytes" in open(log_path).read()
        ring_of_state(nkeys + 1, timeout=1)
        assert healthy()
    finally:
        p.send_signal(signal.SIGTERM)
        p.wait(timeout=10)
        for f in (keyfile, conf):
            if os.path.exists(f):
                os.unlink(f)
    assert not os.path.exists(state), "the state file is removed at stop"
