"""The measuring half of tests/bench/db_time.sh (see there)."""
import os
import resource
import secrets
import shlex
import statistics
import string
import subprocess
import sys
import time
import uuid

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "api"))
from lib import Client, request  # noqa: E402
from test_deploy_e2e import engine  # noqa: E402

ROUNDS = int(os.environ.get("BENCH_DB_ROUNDS", "5"))
PROBE = 0.02
SOCK = os.environ["LAUNCHER_ENGINE_SOCKET"]
TABLE = os.environ["FIXTURE_DB_TABLE"]


def table():
    """{type: row} of the first row of each type (its default version):
    the columns of conf/database-images.conf (fcgi/core/dbimages.h)."""
    rows = {}
    with open(TABLE) as f:
        for line in f:
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            lex = shlex.shlex(line, posix=True, punctuation_chars="|")
            lex.whitespace_split = True
            lex.commenters = ""
            cols, cur = [], []
            for tok in lex:
                if tok == "|":
                    cols.append(cur)
                    cur = []
                else:
                    cur.append(tok)
            cols.append(cur)
            t = cols[0][0]
            if t not in rows:
                rows[t] = {"version": cols[1][0], "image": cols[2][0], "port": int(cols[3][0]),
                           "data_path": cols[4][0],
                           "env": [None if c[0] == "-" else c[0] for c in cols[5:8]],
                           "readiness": cols[8]}
    return rows


def until(fn, timeout=180, what="condition"):
    t0 = time.time()
    while time.time() - t0 < timeout:
        if fn():
            return
        time.sleep(PROBE)
    raise SystemExit("timed out waiting for " + what)


def agent_loop(fn, timeout=180, what="condition"):
    """The agent's readiness loop (fcgi/agent/db.c): a probe, then 100 ms
    naps, doubling after 2 s up to 1 s."""
    t0, nap = time.time(), 0.1
    while time.time() - t0 < timeout:
        if fn():
            return
        time.sleep(nap)
        if time.time() - t0 > 2:
            nap = min(nap * 2, 1.0)
    raise SystemExit("timed out waiting for " + what)


def ulimits():
    """What the agent gives containers: at most the current hard limit."""
    out = []
    for name, which, cap in (("nofile", resource.RLIMIT_NOFILE, 65536),
                             ("nproc", resource.RLIMIT_NPROC, 4096)):
        hard = resource.getrlimit(which)[1]
        v = cap if hard == resource.RLIM_INFINITY else min(hard, cap)
        out += ["--ulimit", "%s=%d:%d" % (name, v, v)]
    return out


def exec_ok(ctr, argv, env):
    """The readiness argv once, through the Engine API's exec: exit 0?"""
    st, ex = engine("POST", "/containers/%s/exec" % ctr,
                    {"Cmd": argv, "Env": env, "AttachStdout": True, "AttachStderr": True})
    if st != 201:
        return False
    engine("POST", "/exec/%s/start" % ex["Id"], {"Detach": False, "Tty": False})
    st, info = engine("GET", "/exec/%s/json" % ex["Id"])
    return st == 200 and not info.get("Running") and info.get("ExitCode") == 0


def creds_env(row, user, password, db):
    env = []
    for name, value in zip(row["env"], (user, password, db)):
        if name:
            env.append("%s=%s" % (name, value))
    return env


def main():
    rows = table()
    r = request("POST", "/default/api/v1/auth/register", {
        "email": "db-bench@example.com", "password": "bench-Passw0rd", "first_name": "B", "last_name": "D"})
    assert r.status in (200, 201), r
    c = Client("default", token=r.data["token"])
    p = c.post("/projects", {"name": "dbbench"}).data

    def api(dbtype, row):
        name = "b%s%s" % (dbtype[:2], uuid.uuid4().hex[:6])
        t0 = time.time()
        r = c.post("/databases", {"project_id": p["id"], "name": name, "type": dbtype,
                                  "version": row["version"]})
        assert r.status in (201, 202), r
        db = r.data

        def running():
            d = c.get("/databases/" + db["id"]).data
            if d["status"] in ("failed", "crashed"):
                raise SystemExit("%s %s: %s: %s" % (dbtype, name, d["status"], d.get("status_reason")))
            return d["status"] == "running"
        until(running, what="%s running" % name)
        took = time.time() - t0
        r = c.delete("/databases/%s?delete_data=true" % db["id"])
        assert r.status in (200, 202, 204), r
        until(lambda: c.get("/databases/" + db["id"]).status == 404, what="%s deleted" % name)
        return took

    def floor(dbtype, row):
        tag = uuid.uuid4().hex[:8]
        pw = "".join(secrets.choice(string.ascii_letters + string.digits) for _ in range(32))
        env = creds_env(row, "bench", pw, "bench")
        t0 = time.time()
        out = subprocess.run(["podman", "--url", "unix://" + SOCK, "run", "-d", "--name", "dbfloor-" + tag,
                              "-v", "dbfloor-%s:%s" % (tag, row["data_path"])] + ulimits()
                             + sum((["-e", e] for e in env), []) + [row["image"]],
                             capture_output=True, text=True)
        assert out.returncode == 0, out.stderr
        ctr = out.stdout.strip()
        agent_loop(lambda: exec_ok(ctr, row["readiness"], env), what="%s floor ready" % dbtype)
        took = time.time() - t0
        engine("DELETE", "/containers/%s?force=1&v=1" % ctr)
        engine("DELETE", "/volumes/dbfloor-%s?force=1" % tag)
        return took

    results = []
    for dbtype in ("postgres", "mysql", "redis", "mongodb"):
        row = rows.get(dbtype)
        if row is None:
            continue
        st, _ = engine("GET", "/images/%s/json" % row["image"])
        if st != 200:
            print("%-8s skipped: the engine has no image %s" % (dbtype, row["image"]))
            continue
        api(dbtype, row)      # warm-up: the project's network, first use of the image
        floor(dbtype, row)
        a, f = [], []
        for _ in range(ROUNDS):
            a.append(api(dbtype, row))
            f.append(floor(dbtype, row))
        ma, mf = statistics.median(a), statistics.median(f)
        results.append((dbtype, ma, mf))
        print("%-8s POST /databases -> running  median %.2f s  (rounds: %s)"
              % (dbtype, ma, ", ".join("%.2f" % x for x in a)))
        print("%-8s podman run + readiness      median %.2f s  (rounds: %s)"
              % (dbtype, mf, ", ".join("%.2f" % x for x in f)))
    for dbtype, ma, mf in results:
        print("%-8s ratio api/floor = %.2f%s" % (dbtype, ma / mf, "" if ma / mf <= 1.3 else "  (goal <= 1.3)"))


main()
