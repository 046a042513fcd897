"""Waiting for a job without a pool worker (core/jobs.h job_respond_wait;
README "Waiting for a job"): POST /applications/:id/exec?wait=N through the
real nginx, the real pool and the real launcher-ws.  The pool answers with
X-Accel-Redirect at once, launcher-ws holds the request until the job ends
(woken by NOTIFY, sql/055) or N seconds pass, then the pool writes the
answer.

Contract test: the agent is this test speaking the agent API
(test_servers.Agent, as test_applications.py does), so that each job ends
exactly when and how a test says (a result, result.error, a plain failure,
never); the real agent's exec is in test_exec_jobs.py."""
import http.client
import json
import os
import re
import signal
import socket
import ssl
import subprocess
import threading
import time
import uuid

import asyncio
import base64
import hashlib
import hmac
import struct

from lib import (BIN, CONF, HTTPS_PORT, STATE, Client, assert_error, make_key, new_project, psql, registered,
                 request)
from test_servers import Agent, _enqueue, _server
from test_ws import _messages

WS_SOCK = os.path.join(STATE, "run", "ws.sock")
WS_PID = os.path.join(STATE, "run", "ws.pid")


def _world():
    """A tenant, a server spoken for by the test, an application deployed on it."""
    c, _ = registered("jw")
    s = _server(c, base_domain="apps.test")
    p = new_project(c)
    r = c.post("/applications", {"name": "a-" + uuid.uuid4().hex[:8], "project_id": p["id"],
                                 "source_type": "docker_image", "image_url": "registry.test/web:v1",
                                 "exposed_port": 8080})
    assert r.status == 201, r
    app = r.data
    assert c.post("/applications/%s/deploy" % app["id"], {}).status == 201
    agent = Agent(c.tenant, s["agent_token"])
    job = agent.claim()
    assert job["kind"] == "app.deploy", job
    _complete(agent, job["id"], "succeeded", {"image_id": "sha256:" + "a" * 64, "instances": [
        {"container_id": "ab" * 32, "name": "lnchr-1", "deployment_id": job["payload"]["deployment_id"],
         "status": "running", "health": "healthy", "host_port": 40001, "restart_count": 0}]})
    return c, agent, app


def _complete(agent, job_id, status, result=None, error=None):
    body = {"status": status}
    if result is not None:
        body["result"] = result
    if error is not None:
        body["error"] = error
    r = agent.call("POST", "/jobs/%s/complete" % job_id, body)
    assert r.status == 200, r


class Call(threading.Thread):
    """One exec call in the background; .resp once it answered."""

    def __init__(self, c, app_id, wait, command=("echo", "hi")):
        super().__init__(daemon=True)
        self.c, self.path = c, "/applications/%s/exec?wait=%s" % (app_id, wait)
        self.body, self.resp, self.exc = {"command": list(command)}, None, None
        self.start()

    def run(self):
        try:
            self.resp = self.c.post(self.path, self.body)
        except Exception as e:  # noqa: BLE001 - reported by the test
            self.exc = e

    def result(self, timeout=30):
        self.join(timeout)
        assert not self.is_alive(), "the waited call did not answer in %d s" % timeout
        assert self.exc is None, self.exc
        return self.resp


def _claim(agent, n=1, timeout=15):
    """The next n jobs of the server, as soon as the pool has queued them."""
    got, deadline = [], time.time() + timeout
    while len(got) < n:
        assert time.time() < deadline, "only %d of %d jobs queued" % (len(got), n)
        j = agent.claim()
        if j is None:
            time.sleep(0.05)
            continue
        assert j["kind"] == "app.exec", j
        got.append(j)
    return got


def _api_headers(r):
    assert re.fullmatch(r"[0-9a-f]{32}", r.headers.get("x-request-id", "")), r.headers
    assert r.headers.get("x-plane-version") and r.headers.get("cache-control") == "no-store", r.headers
    assert r.headers.get("content-type", "").startswith("application/json"), r.headers


RESULT = {"exit_code": 0, "output": "hello from the job\n", "instance": "lnchr-1", "truncated": False,
          "timed_out": False}


def test_a_waited_exec_answers_the_command_result_and_a_bad_wait_is_400():
    c, agent, app = _world()
    call = Call(c, app["id"], 20)
    job = _claim(agent)[0]
    assert call.is_alive()              # held until the job ends
    _complete(agent, job["id"], "succeeded", RESULT)
    r = call.result()
    assert r.status == 200 and r.json == {"success": True, "data": RESULT}, r
    _api_headers(r)
    # The result is the job's, as GET /jobs/:id shows it (sealed at rest).
    assert c.get("/jobs/" + job["id"]).data["result"] == RESULT
    # A job that ended before the wait began answers at once as well.
    call = Call(c, app["id"], 20)
    job = _claim(agent)[0]
    _complete(agent, job["id"], "succeeded", dict(RESULT, output="second\n"))
    assert call.result().json["data"]["output"] == "second\n"
    # Bad ?wait=: 400 naming it, nothing queued; wait=0 is the 202 of before.
    for bad in ("61", "-1", "x", "1.5"):
        assert_error(c.post("/applications/%s/exec?wait=%s" % (app["id"], bad), {"command": ["true"]}),
                     400, "BAD_REQUEST", field="wait")
    assert agent.claim() is None
    r = c.post("/applications/%s/exec?wait=0" % app["id"], {"command": ["true"]})
    assert r.status == 202 and r.data["job"]["status"] == "queued", r
    _complete(agent, _claim(agent)[0]["id"], "succeeded", RESULT)


def test_a_failed_job_answers_its_error_envelope_and_status():
    c, agent, app = _world()
    # result.error {code, message, status}: that status and envelope.
    call = Call(c, app["id"], 20)
    job = _claim(agent)[0]
    _complete(agent, job["id"], "failed", {"error": {"code": "CONFLICT", "message": "bucket is not empty",
                                                     "status": 409}}, error="bucket is not empty")
    r = call.result()
    assert r.status == 409 and r.json == {"success": False, "error": {
        "code": "CONFLICT", "message": "bucket is not empty"}}, r
    _api_headers(r)
    # Failed otherwise: 502 JOB_FAILED with the job's error.
    call = Call(c, app["id"], 20)
    job = _claim(agent)[0]
    _complete(agent, job["id"], "failed", error="no running container of deployment x")
    r = call.result()
    assert r.status == 502 and r.json == {"success": False, "error": {
        "code": "JOB_FAILED", "message": "no running container of deployment x"}}, r
    _api_headers(r)


def test_a_wait_that_times_out_answers_202_with_the_job_to_poll():
    c, agent, app = _world()
    call = Call(c, app["id"], 1)
    job = _claim(agent)[0]              # running, and never completed in time
    r = call.result()
    assert r.status == 202 and r.data["job"]["id"] == job["id"], r
    assert r.data["job"]["status"] == "running" and r.data["job"]["result"] is None, r
    assert r.headers["location"] == "/%s/api/v1/jobs/%s" % (c.tenant, job["id"]) == r.data["job"]["url"]
    _api_headers(r)
    _complete(agent, job["id"], "succeeded", RESULT)
    assert c.get("/jobs/" + job["id"]).data["result"] == RESULT


def test_pending_waits_hold_no_pool_worker():
    """Six waits (the tests' pool has 2 workers) are pending while other
    API calls are served; then each gets its own result."""
    c, agent, app = _world()
    n = 6
    calls = [Call(c, app["id"], 30, ("echo", str(i))) for i in range(n)]
    jobs = _claim(agent, n)
    # Every call has been queued by the pool and none has answered: if a
    # wait held a worker, these would queue behind them until the jobs end,
    # which only happens below.
    for _ in range(2 * n):
        assert c.get("/auth/me").status == 200
        assert c.get("/applications/" + app["id"]).status == 200
    assert all(x.is_alive() for x in calls), [x.resp for x in calls]
    by_cmd = {}
    for j in jobs:
        by_cmd[j["payload"]["command"][1]] = j["id"]
        _complete(agent, j["id"], "succeeded", dict(RESULT, output=j["payload"]["command"][1] + "\n"))
    for i, x in enumerate(calls):
        r = x.result()
        assert r.status == 200 and r.data["output"] == "%d\n" % i, r
    assert sorted(by_cmd) == [str(i) for i in range(n)]


def test_a_client_that_leaves_mid_wait_is_forgotten():
    """The connection nginx held to launcher-ws closes with the client's;
    the job's end then wakes nothing (the daemon keeps serving)."""
    c, agent, app = _world()
    with open(WS_PID) as f:
        ws_pid = f.read()
    body = json.dumps({"command": ["true"]}).encode()
    s = ssl.create_default_context(cafile=os.path.join(STATE, "tls", "cert.pem")).wrap_socket(
        socket.create_connection(("localhost", HTTPS_PORT), timeout=10), server_hostname="localhost")
    s.sendall(("POST /%s/api/v1/applications/%s/exec?wait=30 HTTP/1.1\r\nHost: localhost\r\n"
               "Authorization: Bearer %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n"
               % (c.tenant, app["id"], c.token, len(body))).encode() + body)
    job = _claim(agent)[0]
    s.close()
    _complete(agent, job["id"], "succeeded", RESULT)
    call = Call(c, app["id"], 20)
    _complete(agent, _claim(agent)[0]["id"], "succeeded", RESULT)
    assert call.result().json == {"success": True, "data": RESULT}
    with open(WS_PID) as f:
        assert f.read() == ws_pid and not _gone(int(ws_pid)), "launcher-ws died"


def _ws_get(path, timeout=10):
    """A plain GET straight to launcher-ws's socket (what nginx's internal location sends)."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)
    s.connect(WS_SOCK)
    conn = http.client.HTTPConnection("localhost", timeout=timeout)
    conn.sock = s
    try:
        conn.request("GET", path)
        r = conn.getresponse()
        return r.status, dict((k.lower(), v) for k, v in r.getheaders()), r.read()
    finally:
        conn.close()


def test_another_tenants_job_cannot_be_waited_on():
    c, agent, app = _world()
    other, _ = registered("jwo")
    tid = psql("SELECT id FROM tenants WHERE slug = '%s'" % c.tenant, user="launcher_owner")[0]
    oid = psql("SELECT id FROM tenants WHERE slug = '%s'" % other.tenant, user="launcher_owner")[0]
    r = c.post("/applications/%s/exec" % app["id"], {"command": ["true"]})
    job = r.data["job"]["id"]
    # launcher-ws checks the job is the tenant's before it waits: 404 at
    # once (the job is queued: a wait would last the 30 s).
    st, h, body = _ws_get("/.lnchr-wait/%s/%s?t=30&ok=200" % (oid, job))
    assert st == 404 and b'"NOT_FOUND"' in body, (st, body)
    st, h, body = _ws_get("/.lnchr-wait/%s/%s?t=30&ok=200" % (tid, uuid.uuid4()))
    assert st == 404, (st, body)
    # The tenant's own job, when it is over, is handed back to the pool.
    _complete(agent, _claim(agent)[0]["id"], "succeeded", RESULT)
    st, h, body = _ws_get("/.lnchr-wait/%s/%s?t=30&ok=201" % (tid, job))
    assert st == 200 and h["x-accel-redirect"] == "/.lnchr-job/%s/%s?ok=201" % (tid, job), (st, h)
    # From outside, neither internal location nor the outcome route exists.
    for path in ("/.lnchr-wait/%s/%s?t=1" % (tid, job), "/.lnchr-job/%s/%s" % (tid, job)):
        assert_error(request("GET", path, headers=c.headers()), 404, "NOT_FOUND")
    assert_error(c.get("/jobs/%s/outcome" % job), 404, "NOT_FOUND")
    assert_error(other.get("/jobs/%s/outcome" % job), 404, "NOT_FOUND")


def _gone(pid):
    """Exited (a zombie not yet reaped by its adoptive parent counts)."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] == "Z"
    except FileNotFoundError:
        return True


def _ws_restart(sig):
    """launcher-ws ended by sig, then started again as the stack does
    (its pid file updated: the stack's stop ends the new one)."""
    with open(WS_PID) as f:
        pid = int(f.read().strip())
    if not _gone(pid):
        os.kill(pid, sig)
    for _ in range(200):
        if _gone(pid):
            break
        time.sleep(0.05)
    else:
        raise AssertionError("launcher-ws %d did not exit" % pid)
    if os.path.exists(WS_SOCK):
        os.unlink(WS_SOCK)
    log = open(os.path.join(STATE, "log", "ws.log"), "ab")
    p = subprocess.Popen([os.path.join(BIN, "launcher-ws"), "-c", CONF], stdout=log, stderr=log,
                         stdin=subprocess.DEVNULL, start_new_session=True)
    log.close()
    with open(WS_PID, "w") as f:
        f.write("%d\n" % p.pid)
    for _ in range(200):
        if os.path.exists(WS_SOCK):
            return
        assert p.poll() is None, "launcher-ws exited at once"
        time.sleep(0.05)
    raise AssertionError("launcher-ws did not come back")


def test_launcher_ws_restarted_mid_wait_answers_never_hangs():
    c, agent, app = _world()
    for sig in (signal.SIGKILL, signal.SIGTERM):
        call = Call(c, app["id"], 30)
        job = _claim(agent)[0]
        _ws_restart(sig)
        # The client gets the job as it is now (202 to poll), not a hang.
        r = call.result(timeout=20)
        assert r.status == 202 and r.data["job"]["id"] == job["id"], (sig, r)
        _complete(agent, job["id"], "succeeded", RESULT)
    # The new daemon serves waits.
    call = Call(c, app["id"], 20)
    job = _claim(agent)[0]
    _complete(agent, job["id"], "succeeded", RESULT)
    assert call.result().json == {"success": True, "data": RESULT}


def _tid(c):
    return psql("SELECT id FROM tenants WHERE slug = '%s'" % c.tenant, user="launcher_owner")[0]


def _end(where):
    psql("UPDATE jobs SET status = 'succeeded', finished_at = now() WHERE " + where, user="launcher_owner")


def test_a_burst_of_job_ends_nobody_waits_on_wakes_no_agent():
    """2000 jobs of another server end in one statement.  A job's end
    reaches launcher-ws's loop only when a wait waits on it, in a queue of
    its own: it no longer overflows the agents' wake-up queue, which woke
    every agent (and made every held wait read its job, one query each)."""
    c, _ = registered("jwb")
    a, b = _server(c), _server(c)
    tid = _tid(c)
    _enqueue(b["id"], tid, n=2000)
    got = asyncio.run(_messages(c.tenant, a["agent_token"], lambda: _end("server_id = '%s'" % b["id"]), 1.5))
    assert got == [], got
    # The channel still wakes for its own job.
    got = asyncio.run(_messages(c.tenant, a["agent_token"], lambda: _enqueue(a["id"], tid)))
    assert got == ["wake"], got


class _Held:
    """A wait sent straight to launcher-ws's socket, its answer read later."""

    def __init__(self, path):
        self.s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.s.settimeout(30)
        self.s.connect(WS_SOCK)
        self.s.sendall(("GET %s HTTP/1.1\r\nHost: localhost\r\n\r\n" % path).encode())

    def answer(self):
        """(status, x-accel-redirect) of the answer."""
        buf = b""
        while b"\r\n\r\n" not in buf:
            chunk = self.s.recv(4096)
            assert chunk, "launcher-ws closed the wait without an answer"
            buf += chunk
        head = buf.split(b"\r\n\r\n", 1)[0].decode().split("\r\n")
        h = dict((k.strip().lower(), v.strip()) for k, v in (x.split(":", 1) for x in head[1:]))
        return int(head[0].split()[1]), h.get("x-accel-redirect")

    def answered(self):
        self.s.setblocking(False)
        try:
            return self.s.recv(1, socket.MSG_PEEK) != b""
        except BlockingIOError:
            return False
        finally:
            self.s.settimeout(30)

    def close(self):
        self.s.close()


def test_more_waited_jobs_ending_at_once_than_the_queue_holds_are_all_handed_back():
    """400 held waits (more than the 256 ids the loop's queue holds between
    two passes) whose jobs end in one statement: every one is handed back,
    by its id or by the one query that rechecks all held waits on an
    overflow (ws_jobs_pending); a wait whose job goes on stays held."""
    c, _ = registered("jwq")
    s = _server(c)
    tid = _tid(c)
    ids = _enqueue(s["id"], tid, n=400)
    keep = _enqueue(s["id"], tid)[0]
    held = [_Held("/.lnchr-wait/%s/%s?t=60&ok=200" % (tid, j)) for j in ids]
    other = _Held("/.lnchr-wait/%s/%s?t=60&ok=200" % (tid, keep))
    try:
        _end("id = ANY ('{%s}'::uuid[])" % ",".join(ids))
        for j, w in zip(ids, held):
            assert w.answer() == (200, "/.lnchr-job/%s/%s?ok=200" % (tid, j)), j
        assert not other.answered()
        _end("id = '%s'" % keep)
        assert other.answer() == (200, "/.lnchr-job/%s/%s?ok=200" % (tid, keep))
    finally:
        for w in held + [other]:
            w.close()


def test_a_wait_ends_before_the_service_key_that_asked_for_it():
    """The answer's second request (/.lnchr-job/) authenticates with the
    call's credential: a wait is cut 30 s before a service key expires,
    and a key with less left gets the 202 at once (it got a 401 after the
    whole wait, the job's id lost)."""
    c, agent, app = _world()

    def key_left(seconds):
        k = make_key(c, scopes=["read", "write"])
        psql("UPDATE service_keys SET expires_at = now() + interval '%d seconds' WHERE id = '%s'"
             % (seconds, k["id"]), user="launcher_owner")
        return Client(c.tenant, key=k["key"])

    # 20 s left: nothing to wait, the 202 with the job.
    r = key_left(20).post("/applications/%s/exec?wait=60" % app["id"], {"command": ["true"]})
    job = _claim(agent)[0]
    assert r.status == 202 and r.data["job"]["id"] == job["id"], r
    _complete(agent, job["id"], "succeeded", RESULT)
    # 40 s left: a wait of 10 s, not 60, then the 202 while the key is good.
    call = Call(key_left(40), app["id"], 60)
    job = _claim(agent)[0]
    r = call.result(timeout=30)
    assert r.status == 202 and r.data["job"]["id"] == job["id"], r
    _complete(agent, job["id"], "succeeded", RESULT)
    # A key that never expires waits as long as asked.
    call = Call(Client(c.tenant, key=make_key(c, scopes=["read", "write"])["key"]), app["id"], 60)
    job = _claim(agent)[0]
    _complete(agent, job["id"], "succeeded", RESULT)
    assert call.result().json == {"success": True, "data": RESULT}


def _conf(key, default):
    with open(CONF) as f:
        for line in f:
            k, _, v = line.partition("=")
            if k.strip() == key:
                return v.strip().strip('"')
    return default


def _b64(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def _jwt_left(c, seconds):
    """A session JWT of c's user that expires in `seconds`, signed here as
    the pool signs one (core/crypto.c: HS256 with a key derived from the
    stack's 32-byte master key, the session proof of the user's secret)."""
    with open(_conf("master_key_file", ""), "rb") as f:
        master = f.read()
    assert len(master) == 32, "the stack's master key is a single key"
    key = hashlib.blake2b(b"", digest_size=32, key=master, salt=struct.pack("<Q", 1) + bytes(8),
                          person=b"lnchrjwt" + bytes(8)).digest()
    uid, tid, role, secret, gen = psql(
        "SELECT id, tenant_id, role, session_secret, session_gen FROM users WHERE email = '%s'"
        % c.email, user="launcher_owner")[0].split("|")
    jti, now = str(uuid.uuid4()), int(time.time())
    sk = _b64(hashlib.blake2b(jti.encode(), digest_size=16, key=secret.encode()).digest())
    claims = {"iss": _conf("jwt_issuer", "launcher"), "sub": uid, "tid": tid, "jti": jti, "role": role,
              "gen": int(gen), "sk": sk, "iat": now + seconds - 300, "exp": now + seconds}
    signing = _b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode()) + "." + \
        _b64(json.dumps(claims).encode())
    return signing + "." + _b64(hmac.new(key, signing.encode(), hashlib.sha256).digest())


def test_a_wait_ends_before_the_jwt_that_asked_for_it():
    """The same for a session JWT: cut 30 s before its exp; with less left,
    the 202 at once."""
    c, agent, app = _world()
    assert Client(c.tenant, token=_jwt_left(c, 200)).get("/auth/me").status == 200
    r = Client(c.tenant, token=_jwt_left(c, 20)).post("/applications/%s/exec?wait=60" % app["id"],
                                                      {"command": ["true"]})
    job = _claim(agent)[0]
    assert r.status == 202 and r.data["job"]["id"] == job["id"], r
    _complete(agent, job["id"], "succeeded", RESULT)
    call = Call(Client(c.tenant, token=_jwt_left(c, 40)), app["id"], 60)
    job = _claim(agent)[0]
    r = call.result(timeout=30)
    assert r.status == 202 and r.data["job"]["id"] == job["id"], r
    _complete(agent, job["id"], "succeeded", RESULT)
