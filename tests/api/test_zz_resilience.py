"""The pool under failure: a worker killed under load, a graceful reload
under load, PostgreSQL stopped and started again.  Runs last (it disturbs
the shared stack, and leaves it as it found it)."""
import os
import signal
import subprocess
import threading
import time

from lib import STATE, Client, make_key, registered, request

PG_CTL = "/usr/lib/postgresql/15/bin/pg_ctl"
PGDATA = os.path.join(STATE, "pg", "data")


def _master():
    with open(os.path.join(STATE, "run", "fcgi.pid")) as f:
        return int(f.read().split()[0])


def _workers():
    pid = _master()
    with open("/proc/%d/task/%d/children" % (pid, pid)) as f:
        return sorted(int(x) for x in f.read().split())


def _load(client, seconds, results):
    """Sends authenticated requests back to back until the time is up."""
    end = time.time() + seconds
    while time.time() < end:
        try:
            results.append(client.get("/auth/me").status)
        except Exception as e:  # a dropped connection counts as a failure
            results.append(repr(e))


def _under_load(action, seconds=4.0, threads=6):
    c, _ = registered()
    kc = Client(c.tenant, key=make_key(c)["key"])
    results = []
    ts = [threading.Thread(target=_load, args=(kc, seconds, results)) for _ in range(threads)]
    [t.start() for t in ts]
    # requests are flowing (two answers a thread) before the action, however slow the machine
    deadline = time.time() + 10
    while len(results) < 2 * threads and time.time() < deadline:
        time.sleep(0.05)
    action()
    [t.join() for t in ts]
    return results


def _wait_workers(n, exclude=(), timeout=10):
    deadline = time.time() + timeout
    while time.time() < deadline:
        w = [p for p in _workers() if p not in exclude]
        if len(w) >= n:
            return w
        time.sleep(0.1)
    raise AssertionError("pool did not come back to %d workers: %s" % (n, _workers()))


def test_sigkill_of_a_worker_under_load_fails_at_most_its_request():
    before = _workers()
    assert len(before) >= 2, before
    victim = before[0]
    results = _under_load(lambda: os.kill(victim, signal.SIGKILL))
    failures = [r for r in results if r != 200]
    assert len(results) > 50, len(results)
    assert len(failures) <= 1, (len(results), failures[:5])
    after = _wait_workers(len(before), exclude=[victim])
    assert victim not in after and len(after) == len(before), (before, after)


def test_sighup_reload_replaces_workers_without_a_failed_request():
    before = _workers()
    master = _master()
    results = _under_load(lambda: os.kill(master, signal.SIGHUP))
    failures = [r for r in results if r != 200]
    assert len(results) > 50 and failures == [], (len(results), failures[:5])
    deadline = time.time() + 10
    while time.time() < deadline and set(_workers()) & set(before):
        time.sleep(0.1)
    after = _workers()
    assert not set(after) & set(before) and len(after) == len(before), (before, after)
    assert _master() == master


def _pg(*args):
    subprocess.run(["runuser", "-u", "postgres", "--", PG_CTL, "-D", PGDATA] + list(args),
                   check=True, capture_output=True, cwd="/")


def test_database_down_gives_503_then_recovers_by_itself():
    c, _ = registered()
    kc = Client(c.tenant, key=make_key(c)["key"])
    master, workers = _master(), _workers()
    _pg("-m", "fast", "-w", "stop")
    try:
        time.sleep(0.5)
        for _ in range(4):
            r = kc.get("/auth/me")
            assert r.status == 503 and r.error["code"] == "SERVICE_UNAVAILABLE", r
            assert b"libpq" not in r.raw and b"connection" not in r.raw.lower(), r
        h = request("GET", "/healthz")
        assert h.status == 503 and h.error["code"] == "SERVICE_UNAVAILABLE", h
    finally:
        _pg("-l", os.path.join(STATE, "log", "postgres.log"), "-w", "start")
        with open(os.path.join(PGDATA, "postmaster.pid")) as f:
            pm = f.readline().strip()
        with open(os.path.join(STATE, "run", "postgres.pid"), "w") as f:
            f.write(pm + "\n")
    deadline = time.time() + 15
    ok = 0
    while time.time() < deadline and ok < 4:
        ok = ok + 1 if kc.get("/auth/me").status == 200 else 0
        time.sleep(0.2)
    assert ok >= 4, "no recovery after PostgreSQL came back"
    assert request("GET", "/healthz").status == 200
    assert _master() == master and _workers() == workers, "something was restarted"
