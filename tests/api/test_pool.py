"""The pool on its own (a second instance on its own socket, spoken to in
FastCGI directly): SIGTERM drains in-flight requests; the config table
rejects bad files with file:line."""
import json
import os
import signal
import subprocess
import time

from fcgi_client import read_response, send_request
from lib import BIN, CONF, STATE, new_tenant


def _conf(path, **override):
    # Each pool its own state file: the stack's belongs to the stack's pool.
    override.setdefault("fcgi_state_file", path + ".state")
    lines = []
    with open(CONF) as f:
        for line in f:
            key = line.split("=", 1)[0].strip()
            if key in override:
                continue
            lines.append(line)
    for k, v in override.items():
        lines.append('%s = "%s"\n' % (k, v))
    with open(path, "w") as f:
        f.writelines(lines)


def _start_pool(tag, workers=1):
    sock = os.path.join(STATE, "run", "pool-%s.sock" % tag)
    conf = os.path.join(STATE, "pool-%s.conf" % tag)
    _conf(conf, listen=sock, workers=str(workers))
    log = open(os.path.join(STATE, "log", "pool-%s.log" % tag), "w")
    p = subprocess.Popen([os.path.join(BIN, "launcher-fcgi"), "-c", conf], stderr=log)
    deadline = time.time() + 10
    while not os.path.exists(sock):
        assert p.poll() is None and time.time() < deadline, "pool did not start"
        time.sleep(0.05)
    time.sleep(0.3)  # workers connected
    return p, sock


def test_sigterm_finishes_in_flight_requests_then_exits():
    slug, _ = new_tenant()
    p, sock = _start_pool("drain", workers=1)
    try:
        status, headers, body = read_response(send_request("/healthz", sock_path=sock))
        assert status == 200 and headers.get("x-plane-version"), (status, headers)
        # A login does an argon2id computation: it is still running when
        # SIGTERM arrives, and must be answered in full.
        body = json.dumps({"email": "nobody@example.com", "password": "x" * 12}).encode()
        s = send_request("/%s/api/v1/auth/login" % slug, method="POST", body=body, sock_path=sock)
        time.sleep(0.02)
        p.send_signal(signal.SIGTERM)
        status, headers, rbody = read_response(s)
        assert status == 401 and json.loads(rbody)["error"]["code"] == "UNAUTHORIZED", (status, rbody)
        assert p.wait(timeout=10) == 0
        assert not os.path.exists(sock), "socket left behind"
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()


def test_workers_drop_privileges_and_keep_the_keys():
    """With user = nobody the workers run unprivileged; the root-only master
    key file was read by the master before it dropped them."""
    from lib import pgpass
    slug, _ = new_tenant()
    env = {}
    with open(CONF) as f:
        for line in f:
            if "=" in line and not line.startswith("#"):
                k, v = line.split("=", 1)
                env[k.strip()] = v.strip().strip('"')
    # The pool's passfile is root's: give this pool its password inline.
    url = env["database_url"].replace("passfile=", "x=").split(" x=")[0] + \
        " password=" + pgpass("launcher_api")
    sock = os.path.join(STATE, "run", "pool-nobody.sock")
    conf = os.path.join(STATE, "pool-nobody.conf")
    _conf(conf, listen=sock, workers="1", user="nobody", database_url=url)
    assert oct(os.stat(env["master_key_file"]).st_mode & 0o777) == "0o600"
    log = open(os.path.join(STATE, "log", "pool-nobody.log"), "w")
    p = subprocess.Popen([os.path.join(BIN, "launcher-fcgi"), "-c", conf], stderr=log)
    try:
        deadline = time.time() + 10
        while not os.path.exists(sock):
            assert p.poll() is None and time.time() < deadline, "pool did not start"
            time.sleep(0.05)
        time.sleep(0.3)
        with open("/proc/%d/task/%d/children" % (p.pid, p.pid)) as f:
            workers = [int(x) for x in f.read().split()]
        assert workers
        for w in workers:
            with open("/proc/%d/status" % w) as f:
                uid = [l.split()[1:] for l in f if l.startswith("Uid:")][0]
            assert uid[0] != "0" and uid[1] != "0", uid
        # Signing a JWT and verifying it both need the derived keys.
        body = json.dumps({"email": "x@example.com", "password": "y" * 10,
                           "first_name": "N", "last_name": "B"}).encode()
        status, _, rbody = read_response(send_request("/%s/api/v1/auth/register" % slug, method="POST",
                                                      body=body, sock_path=sock))
        assert status == 201, (status, rbody)
        token = json.loads(rbody)["data"]["token"]
        status, _, rbody = read_response(send_request("/%s/api/v1/auth/me" % slug, sock_path=sock,
                                                      params={"HTTP_AUTHORIZATION": "Bearer " + token}))
        assert status == 200 and json.loads(rbody)["data"]["email"] == "x@example.com", (status, rbody)
    finally:
        p.send_signal(signal.SIGTERM)
        p.wait(timeout=10)


def _workers_of(pid):
    with open("/proc/%d/task/%d/children" % (pid, pid)) as f:
        return [int(x) for x in f.read().split()]


def _cpus_of(pid):
    return os.sched_getaffinity(pid)


def test_worker_cpu_affinity_spreads_workers_and_a_replacement_takes_the_free_cpu():
    allowed = sorted(os.sched_getaffinity(0))
    assert len(allowed) >= 2, "needs a machine with two CPUs or more"
    n = len(allowed)
    p, sock = _start_pool("affinity", workers=n)
    q = None
    try:
        workers = _workers_of(p.pid)
        assert len(workers) == n, workers
        pinned = [_cpus_of(w) for w in workers]
        assert all(len(c) == 1 for c in pinned), pinned
        assert sorted(min(c) for c in pinned) == allowed, pinned
        assert len(_cpus_of(p.pid)) == n     # the master itself is not pinned
        # A killed worker's replacement takes the CPU it left.
        victim = workers[0]
        freed = _cpus_of(victim)
        os.kill(victim, signal.SIGKILL)
        deadline = time.time() + 10
        while True:
            now = _workers_of(p.pid)
            if victim not in now and len(now) == n:
                break
            assert time.time() < deadline, now
            time.sleep(0.05)
        (new,) = set(now) - set(workers)
        assert _cpus_of(new) == freed, (_cpus_of(new), freed)
        status, _, _ = read_response(send_request("/healthz", sock_path=sock))
        assert status == 200
        # off: the scheduler places them (every allowed CPU).
        sock2 = os.path.join(STATE, "run", "pool-affinity-off.sock")
        conf2 = os.path.join(STATE, "pool-affinity-off.conf")
        _conf(conf2, listen=sock2, workers=str(n), worker_cpu_affinity="off")
        q = subprocess.Popen([os.path.join(BIN, "launcher-fcgi"), "-c", conf2])
        deadline = time.time() + 10
        while not os.path.exists(sock2) or len(_workers_of(q.pid)) < n:
            assert q.poll() is None and time.time() < deadline, "pool did not start"
            time.sleep(0.05)
        assert all(sorted(_cpus_of(w)) == allowed for w in _workers_of(q.pid))
    finally:
        for proc in (p, q):
            if proc is not None and proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                proc.wait(timeout=10)


def test_bad_config_is_refused_with_file_and_line():
    path = os.path.join(STATE, "bad.conf")
    cases = {
        "workers = 2\nlisten = /tmp/x.sock\nmax_body = 5\n": ":3: unknown key 'max_body'",
        "workers = 100\n": ":1: bad value for 'workers'",
        "log_level = info\nlog_level = debug\n": ":2: duplicate key 'log_level'",
    }
    for text, want in cases.items():
        with open(path, "w") as f:
            f.write(text)
        r = subprocess.run([os.path.join(BIN, "launcher-fcgi"), "-c", path, "-t"],
                           capture_output=True, text=True)
        assert r.returncode == 1 and (path + want) in r.stderr, (text, r.stderr)
    r = subprocess.run([os.path.join(BIN, "launcher-fcgi"), "-c", CONF, "-t"],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr


def test_fastcgi_garbage_does_not_kill_the_pool():
    import socket
    p, sock = _start_pool("garbage", workers=1)
    try:
        for junk in (b"\x00" * 64, b"GET / HTTP/1.1\r\n\r\n", b"\x01\x01\x00\x01\xff\xff\x00\x00"):
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.settimeout(5)
            s.connect(sock)
            s.sendall(junk)
            s.close()
        status, _, _ = read_response(send_request("/healthz", sock_path=sock))
        assert status == 200
        long_path = "/" + "a" * 5000
        status, _, body = read_response(send_request(long_path, sock_path=sock))
        assert status == 404 and json.loads(body)["error"]["code"] == "NOT_FOUND"
    finally:
        p.send_signal(signal.SIGTERM)
        p.wait(timeout=10)
