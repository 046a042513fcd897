"""Deployments end to end: the real plane, the real launcher-agent, the
stack's Podman, the tests' registry (docker-registry), a git daemon and the
stack's nginx as the edge.  Fixtures: tests/fixtures/build.sh (FIXTURE_*)."""
import atexit
import http.client
import json
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.parse
import uuid

from lib import HTTP_PORT, STATE, assert_error, at_module_end, new_project, psql, registered, stack_env
from test_agent_e2e import RealAgent, _wait
from test_servers import _server

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from ports import free_port  # noqa: E402

F = os.environ
DEPLOY_TIMEOUT = 120


def _have_fixtures():
    return bool(F.get("FIXTURE_REGISTRY_WEB_V1")) and bool(F.get("FIXTURE_GIT_DIR"))


class UnixConn(http.client.HTTPConnection):
    def __init__(self, path, timeout=60):
        super().__init__("localhost", timeout=timeout)
        self.path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(self.path)


def engine(method, path, body=None, timeout=60, api="/v1.41"):
    """(status, JSON or bytes) of one call of the stack's engine (api: Podman's
    own endpoints are under /v4.0.0/libpod)."""
    conn = UnixConn(stack_env()["LAUNCHER_ENGINE_SOCKET"], timeout=timeout)
    try:
        data = json.dumps(body).encode() if body is not None else None
        conn.request(method, api + path, data, {"Content-Type": "application/json"} if data else {})
        r = conn.getresponse()
        raw = r.read()
        return r.status, (json.loads(raw) if raw[:1] in (b"{", b"[") else raw)
    finally:
        conn.close()


def app_containers(app_id, all_=True):
    flt = json.dumps({"label": ["launcher.app=" + app_id]})
    st, out = engine("GET", "/containers/json?all=%d&filters=%s" % (1 if all_ else 0,
                                                                    urllib_quote(flt)))
    assert st == 200, out
    return out


def wait_removal_job(app_id):
    """Waits until the app's removal job has ended.  Its last step reloads the
    edge nginx, which is the stack's: the old workers close their idle
    keep-alive connections (a POST sent on one just then fails: HTTP/1.1
    lets no client resend it) and get worker_shutdown_timeout (10 s) for the
    rest."""
    _wait("the removal job of %s to end" % app_id, lambda: psql(
        "SELECT count(*) FROM jobs WHERE kind = 'app.remove' AND payload->>'app_id' = '%s'"
        " AND status IN ('queued', 'running')" % app_id, user="launcher_owner") == ["0"], 90)


def urllib_quote(s):
    import urllib.parse
    return urllib.parse.quote(s)


def edge_get(host, path="/", timeout=5):
    """One request through the stack's nginx by Host header, on a new connection."""
    conn = http.client.HTTPConnection("127.0.0.1", HTTP_PORT, timeout=timeout)
    try:
        conn.request("GET", path, headers={"Host": host, "Connection": "close"})
        r = conn.getresponse()
        return r.status, r.read().decode(errors="replace")
    finally:
        conn.close()


class EdgeAgent(RealAgent):
    """The real agent with edge routing into the stack's nginx."""

    def __init__(self, tenant, token, name):
        super().__init__(tenant, token, name)
        # Reloads by signals, as the stack's own agent does: SIGHUP, then
        # the old workers retired as soon as the new ones run (the
        # zero-downtime test below holds it to "no failed request").
        self.args += ["--edge-sites-dir", os.path.join(STATE, "nginx", "sites"),
                      "--edge-listen", "127.0.0.1:%d" % HTTP_PORT,
                      "--edge-nginx-pid", os.path.join(STATE, "nginx", "nginx.pid"),
                      "--edge-drain-ms", "1000",
                      "--instances-interval", "1", "--logs-interval", "1"]


class World:
    """One tenant with a server run by a real agent, and a project."""
    _w = None
    agent_class = EdgeAgent

    @classmethod
    def get(cls):
        if cls._w is None or cls._w.agent.proc.poll() is not None:
            cls._w = cls()
        return cls._w

    def __init__(self):
        self.c, _ = registered("dep")
        self.server = _server(self.c, base_domain="localhost")
        self.project = new_project(self.c)
        self.agent = self.agent_class(self.c.tenant, self.server["agent_token"], self.server["name"]).start()
        # The agent of the moment (a test may kill and start it again).
        atexit.register(lambda: self.agent.proc.kill())
        at_module_end(self.end)
        _wait("the agent online", lambda: self.c.get("/servers/" + self.server["id"]).data["status"] == "online",
              30)

    def end(self):
        """At the end of the module that made it: the agent stopped, and the
        tenant's containers and volumes removed from the engine (a later
        module's World.get() makes a new world).  Otherwise every module's
        agent polls on, every database it made keeps running and each
        /system/df of a later volume report reads all their volumes."""
        tenant_end(self.agent, self.c.tid)


def tenant_end(agent, tenant_id):
    """The agent killed, then the engine's containers and volumes labelled
    with the tenant removed (forced: nothing of theirs is asserted any more)."""
    agent.end()
    labels = json.dumps({"label": ["launcher.tenant=" + tenant_id]})
    st, cs = engine("GET", "/containers/json?all=true&filters=" + urllib.parse.quote(labels))
    assert st == 200, (st, cs)
    for c in cs:
        st, out = engine("DELETE", "/containers/%s?force=true&v=true" % c["Id"], timeout=120)
        assert st in (204, 404), (st, out)
    st, vs = engine("GET", "/volumes?filters=" + urllib.parse.quote(labels))
    assert st == 200, (st, vs)
    for v in vs.get("Volumes") or []:
        st, out = engine("DELETE", "/volumes/%s?force=true" % v["Name"], timeout=120)
        assert st in (204, 404), (st, out)


def _app(w, **body):
    body.setdefault("name", "a" + uuid.uuid4().hex[:8])
    body.setdefault("project_id", w.project["id"])
    body.setdefault("source_type", "docker_image")
    if body["source_type"] == "docker_image":
        body.setdefault("image_url", F["FIXTURE_REGISTRY_WEB_V1"])
    body.setdefault("exposed_port", 8080)
    body.setdefault("healthcheck_path", "/health")
    body.setdefault("healthcheck_timeout_seconds", 20)
    r = w.c.post("/applications", body)
    assert r.status == 201, r
    return r.data


def _finished(w, dep_id, timeout=DEPLOY_TIMEOUT):
    def done():
        d = w.c.get("/deployments/" + dep_id).data
        return d if d["status"] in ("succeeded", "failed", "cancelled", "superseded") else None
    return _wait("deployment %s to finish" % dep_id, done, timeout)


def _deploy(w, app, body=None, want="succeeded"):
    r = w.c.post("/applications/%s/deploy" % app["id"], body or {})
    assert r.status == 201, r
    d = _finished(w, r.data["id"])
    if want:
        assert d["status"] == want, (d, w.c.get("/deployments/%s/logs" % d["id"]).data[-30:])
    return d


def exec_job(c, app_id, command, **body):
    """POST exec: 202 with the job to poll (Location = its URL)."""
    r = c.post("/applications/%s/exec" % app_id, dict(body, command=command))
    assert r.status == 202, r
    job = r.data["job"]
    assert r.headers["location"] == job["url"] == "/%s/api/v1/jobs/%s" % (c.tenant, job["id"]), r
    assert job["kind"] == "app.exec" and job["status"] in ("queued", "running"), job
    return job


def job_done(c, job_id, timeout=DEPLOY_TIMEOUT):
    """Polls GET /jobs/:id until its status is terminal; returns the job."""
    def done():
        j = c.get("/jobs/" + job_id)
        assert j.status == 200, j
        return j.data if j.data["status"] in ("succeeded", "failed", "cancelled") else None
    return _wait("job %s to finish" % job_id, done, timeout)


def exec_result(c, app_id, command, **body):
    """The CI sequence (README "Long calls"): POST exec, poll the job, read its result."""
    j = job_done(c, exec_job(c, app_id, command, **body)["id"])
    assert j["status"] == "succeeded", j
    return j["result"]


def _serves(host, text, timeout=20):
    return _wait("%s to serve %r" % (host, text), lambda: edge_get(host) == (200, text + "\n"), timeout)


def test_image_app_deploys_and_answers_at_its_hostname_with_logs():
    if not _have_fixtures():
        raise AssertionError("fixtures missing (FIXTURE_REGISTRY_WEB_V1): run through make test")
    w = World.get()
    a = _app(w, env={"APP_MESSAGE": "hello from env"})
    host = a["hostname"]
    t0 = time.time()
    r = w.c.post("/applications/%s/deploy" % a["id"], {})
    assert r.status == 201, r
    first = None
    while time.time() - t0 < DEPLOY_TIMEOUT:
        try:
            if edge_get(host, timeout=2) == (200, "v1\n"):
                first = time.time() - t0
                break
        except OSError:
            pass
        time.sleep(0.05)
    assert first is not None, w.c.get("/deployments/%s/logs" % r.data["id"]).data
    print("deploy->first 200 through nginx: %.2f s" % first)
    d = _finished(w, r.data["id"])
    assert d["status"] == "succeeded" and d["image_digest"], d
    assert edge_get(host, "/cgi-bin/message") == (200, "hello from env\n")
    app = w.c.get("/applications/" + a["id"]).data
    assert app["status"] == "running" and app["current_deployment_id"] == d["id"], app
    logs = [x["message"] for x in w.c.get("/deployments/%s/logs" % d["id"]).data]
    assert any("pull" in m.lower() for m in logs), logs
    assert not any("hello from env" in m for m in logs), logs
    # Instances are the engine's containers, with our labels.
    cs = app_containers(a["id"])
    assert len(cs) == 1 and cs[0]["Labels"]["launcher.deployment"] == d["id"], cs
    inst = w.c.get("/applications/%s/instances" % a["id"]).data
    assert [i["container_id"] for i in inst] == [cs[0]["Id"]], (inst, cs)
    # Runtime logs show the requests (shipped by the agent every second).
    _wait("runtime logs of the requests", lambda: any(
        "/cgi-bin/message" in x["message"] for x in
        w.c.get("/applications/%s/runtime-logs?q=message" % a["id"]).data), 30)


def test_zero_downtime_over_five_redeploys_and_a_failed_health_check_keeps_serving():
    w = World.get()
    a = _app(w)
    host = a["hostname"]
    _deploy(w, a)
    _serves(host, "v1")
    seen, failures, stop = {}, [], threading.Event()

    def client():
        while not stop.is_set():
            try:
                st, body = edge_get(host, timeout=10)
                if st == 200:
                    seen[body.strip()] = seen.get(body.strip(), 0) + 1
                else:
                    failures.append((st, body[:100]))
            except OSError as e:
                failures.append(("error", str(e)))

    t = threading.Thread(target=client)
    t.start()
    try:
        images = [F["FIXTURE_REGISTRY_WEB_V2"], F["FIXTURE_REGISTRY_WEB_V1"]] * 3
        for img in images[:5]:
            _deploy(w, a, {"image_url": img})
            time.sleep(0.5)
        # A release that never becomes healthy: the old one keeps serving.
        bad = _deploy(w, a, {"image_url": F["FIXTURE_REGISTRY_WEB_BROKEN"]}, want="failed")
        time.sleep(1)
    finally:
        stop.set()
        t.join()
    assert not failures, failures[:10]
    assert seen.get("v1", 0) > 0 and seen.get("v2", 0) > 0, seen
    assert "health" in bad["error"].lower() and "web broken" in bad["error"], bad["error"]
    assert edge_get(host) == (200, "v2\n")
    app = w.c.get("/applications/" + a["id"]).data
    assert app["status"] == "running" and app["current_deployment_id"] != bad["id"]
    # Only the current release's containers remain.
    cs = app_containers(a["id"])
    assert {c["Labels"]["launcher.deployment"] for c in cs} == {app["current_deployment_id"]}, cs


def test_an_edge_nginx_that_refuses_the_new_configuration_fails_the_deploy_and_keeps_serving():
    """Reloading by the master's pid, the reload is the check: nginx keeps
    its old configuration when the new one does not load (no new workers
    start), the agent reports nginx's own reason, puts the previous site
    file back, and the old release goes on serving."""
    w = World.get()
    a = _app(w)
    host = a["hostname"]
    _deploy(w, a)
    _serves(host, "v1")
    site = os.path.join(STATE, "nginx", "sites", "app-%s.conf" % a["id"])
    before = open(site).read()
    bad = os.path.join(STATE, "nginx", "sites", "zz-broken-%s.conf" % uuid.uuid4().hex[:6])
    with open(bad, "w") as f:
        f.write("server { this_is_not_a_directive; }\n")
    try:
        d = _deploy(w, a, {"image_url": F["FIXTURE_REGISTRY_WEB_V2"]}, want="failed")
        assert "this_is_not_a_directive" in d["error"], d["error"]
        assert open(site).read() == before
        assert edge_get(host) == (200, "v1\n")
    finally:
        os.unlink(bad)
    _deploy(w, a, {"image_url": F["FIXTURE_REGISTRY_WEB_V2"]})
    _serves(host, "v2")


def test_rollback_serves_the_previous_release_without_a_build():
    w = World.get()
    a = _app(w)
    d1 = _deploy(w, a)
    d2 = _deploy(w, a, {"image_url": F["FIXTURE_REGISTRY_WEB_V2"]})
    _serves(a["hostname"], "v2")
    r = w.c.post("/applications/%s/rollback" % a["id"], {})
    assert r.status == 201 and r.data["rollback_of"] == d1["id"], r
    d3 = _finished(w, r.data["id"])
    assert d3["status"] == "succeeded" and d3["image_digest"] == d1["image_digest"] != d2["image_digest"], d3
    _serves(a["hostname"], "v1")
    logs = [x["message"].lower() for x in w.c.get("/deployments/%s/logs" % d3["id"]).data]
    assert logs and not any("pull" in m or "build" in m or "step" in m for m in logs), logs


def _git_daemon(base=None, repo=None):
    """git daemon on loopback serving base (default: the fixture's); (process, url of repo)."""
    base = base or os.path.dirname(F["FIXTURE_GIT_DIR"])
    repo = repo or os.path.basename(F["FIXTURE_GIT_DIR"])
    port = free_port()
    p = subprocess.Popen(["/usr/lib/git-core/git-daemon", "--reuseaddr", "--export-all", "--base-path=" + base,
                          "--listen=127.0.0.1", "--port=%d" % port, base],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    def up():
        try:
            socket.create_connection(("127.0.0.1", port), 1).close()
            return True
        except OSError:
            return False
    try:
        _wait("git daemon", up, 10)
    except AssertionError:
        p.kill()
        p.wait()
        raise
    return p, "git://127.0.0.1:%d/%s" % (port, repo)


def test_git_app_builds_serves_and_bad_sources_fail_with_the_cause():
    w = World.get()
    daemon, url = _git_daemon()
    try:
        a = _app(w, source_type="git", repository_url=url, branch="main")
        d = _deploy(w, a, {"commit_sha": F["FIXTURE_GIT_SHA_V1"]})
        assert d["commit_sha"] == F["FIXTURE_GIT_SHA_V1"] and d["commit_message"], d
        _serves(a["hostname"], "v1")
        logs = "\n".join(x["message"] for x in w.c.get("/applications/%s/build-logs" % a["id"]).data)
        assert "COPY" in logs or "copy" in logs.lower(), logs
        # A Dockerfile that fails: failed with the build's message; v1 keeps serving.
        bad = _deploy(w, a, {"branch": F.get("FIXTURE_GIT_BROKEN_BRANCH", "broken")}, want="failed")
        assert bad["error"], bad
        assert edge_get(a["hostname"]) == (200, "v1\n")
        # An unreachable repository.
        b = _app(w, source_type="git", repository_url="git://127.0.0.1:1/nothing.git")
        nb = _deploy(w, b, want="failed")
        assert "clone" in nb["error"].lower() or "git" in nb["error"].lower(), nb
        assert w.c.get("/applications/" + b["id"]).data["status"] == "failed"
        # Cancel a running build (the "slow" branch sleeps 60 s in a RUN step;
        # NONCE defeats the layer cache): cancelled, v1 keeps serving, no
        # container of that deployment is left.
        assert w.c.put("/applications/" + a["id"], {"build_args": {"NONCE": uuid.uuid4().hex}},
                       headers={"If-Match": w.c.get("/applications/" + a["id"]).headers["etag"]}).status == 200
        r = w.c.post("/applications/%s/deploy" % a["id"], {"branch": F.get("FIXTURE_GIT_SLOW_BRANCH", "slow")})
        assert r.status == 201, r
        _wait("the slow build to run", lambda: any(
            "slow build" in x["message"] for x in w.c.get("/deployments/%s/logs" % r.data["id"]).data), 60)
        t0 = time.time()
        c = w.c.post("/deployments/%s/cancel" % r.data["id"])
        assert c.status == 200 and c.data["status"] == "cancelled", c
        _wait("the agent to give up the build", lambda: not any(
            x["Labels"].get("launcher.deployment") == r.data["id"] for x in app_containers(a["id"])) and
            w.c.get("/servers/" + w.server["id"]).data["status"] == "online", 30)
        assert edge_get(a["hostname"]) == (200, "v1\n")
        assert {x["Labels"]["launcher.deployment"] for x in app_containers(a["id"])} == {d["id"]}
        # The next deploy runs at once: nothing is stuck behind the cancelled one.
        d2 = _deploy(w, a, {"commit_sha": F["FIXTURE_GIT_SHA_V2"]})
        assert d2["status"] == "succeeded" and time.time() - t0 < 90
        _serves(a["hostname"], "v2")
    finally:
        daemon.terminate()
        daemon.wait()


def test_scale_matches_the_engine_and_leaves_foreign_containers_and_volumes_alone():
    w = World.get()
    # Something that is not ours: a container without labels and a volume.
    vol = "lnchr-test-keep-" + uuid.uuid4().hex[:6]
    assert engine("POST", "/volumes/create", {"Name": vol})[0] == 201
    st, foreign = engine("POST", "/containers/create?name=foreign-" + uuid.uuid4().hex[:6],
                         {"Image": F["FIXTURE_WEB_V1_IMAGE"], "StopTimeout": 1})
    assert st == 201, foreign
    try:
        a = _app(w)
        _deploy(w, a)
        for n in (3, 0, 2):
            r = w.c.post("/applications/%s/scale" % a["id"], {"replicas": n})
            assert r.status == 200 and r.data["pending_action"] == "scale", r
            _wait("scale to %d" % n, lambda: w.c.get("/applications/" + a["id"]).data["pending_action"] is None, 90)
            running = [c for c in app_containers(a["id"], all_=False)]
            assert len(running) == n, (n, running)
            inst = [i for i in w.c.get("/applications/%s/instances" % a["id"]).data if i["status"] == "running"]
            assert sorted(i["container_id"] for i in inst) == sorted(c["Id"] for c in running), (inst, running)
            if n:
                _serves(a["hostname"], "v1")
            else:
                assert edge_get(a["hostname"])[0] in (502, 503)
        assert engine("GET", "/containers/%s/json" % foreign["Id"])[0] == 200
        assert engine("GET", "/volumes/" + vol)[0] == 200
    finally:
        engine("DELETE", "/containers/%s?force=1" % foreign["Id"])
        engine("DELETE", "/volumes/" + vol)


def test_bad_image_stop_start_exec_and_delete():
    w = World.get()
    a = _app(w, image_url=F["FIXTURE_REGISTRY"] + "/launcher-test/does-not-exist:v9")
    d = _deploy(w, a, want="failed")
    assert "does-not-exist" in d["error"] and "pull" in d["error"].lower(), d
    assert w.c.get("/applications/" + a["id"]).data["status"] == "failed"
    # SPLIT_SECRET is printed in two lines (12 + 11 bytes) at start and by exec:
    # each piece is redacted (a value cut at a line boundary).
    split = "split-secret-0123456789"
    halves = 'echo "${SPLIT_SECRET%???????????}"; echo "${SPLIT_SECRET#????????????}"'
    b = _app(w, env={"APP_MESSAGE": "exec-visible", "SPLIT_SECRET": split}, cpu_limit=0.5,
             memory_limit=64 << 20, restart_policy="on-failure",
             start_command="echo started-by-start-command; %s; exec /start.sh" % halves)
    _deploy(w, b)
    # Limits, restart policy and start command reach the engine.
    cs = app_containers(b["id"])
    st, info = engine("GET", "/containers/%s/json" % cs[0]["Id"])
    hc = info["HostConfig"]
    assert hc["NanoCpus"] == 500000000 and hc["Memory"] == 64 << 20, hc
    assert hc["RestartPolicy"]["Name"] == "on-failure", hc["RestartPolicy"]
    assert info["Config"]["Cmd"][-1].startswith("echo started-by-start-command"), info["Config"]["Cmd"]
    _wait("the start command's output in the runtime logs", lambda: any(
        "started-by-start-command" in x["message"]
        for x in w.c.get("/applications/%s/runtime-logs" % b["id"]).data), 30)
    _wait("the halves of SPLIT_SECRET in the runtime logs", lambda: sum(
        x["message"] == "[redacted]"
        for x in w.c.get("/applications/%s/runtime-logs" % b["id"]).data) >= 2, 30)
    logs = "|".join(x["message"] for x in w.c.get("/applications/%s/runtime-logs" % b["id"]).data)
    assert split[:12] not in logs and split[12:] not in logs, logs
    r = exec_result(w.c, b["id"], ["sh", "-c", "echo sum=$((1+2)); echo $APP_MESSAGE; %s; exit 3" % halves])
    assert r["exit_code"] == 3 and "sum=3" in r["output"], r
    # The output is redacted of the release's env values, like every log.
    assert "exec-visible" not in r["output"] and "[redacted]" in r["output"], r
    assert split[:12] not in r["output"] and split[12:] not in r["output"] and \
        r["output"].count("[redacted]") == 3, r
    assert_error(w.c.post("/applications/%s/exec" % b["id"], {"command": []}), 400, "BAD_REQUEST", "command")
    assert w.c.post("/applications/%s/stop" % b["id"]).status == 200
    _wait("stopped", lambda: w.c.get("/applications/" + b["id"]).data["status"] == "stopped", 60)
    assert app_containers(b["id"], all_=False) == []
    assert w.c.post("/applications/%s/start" % b["id"]).status == 200
    _wait("running", lambda: w.c.get("/applications/" + b["id"]).data["status"] == "running", 60)
    _serves(b["hostname"], "v1")
    site = os.path.join(STATE, "nginx", "sites", "app-%s.conf" % b["id"])
    assert os.path.exists(site)
    assert w.c.delete("/applications/" + b["id"]).status == 204
    _wait("containers removed", lambda: app_containers(b["id"]) == [], 60)
    _wait("site removed", lambda: not os.path.exists(site), 30)


def test_a_container_that_dies_makes_the_app_crashed_until_restarted():
    w = World.get()
    a = _app(w, restart_policy="no")
    _deploy(w, a)
    cs = app_containers(a["id"], all_=False)
    assert len(cs) == 1
    assert engine("POST", "/containers/%s/kill?signal=KILL" % cs[0]["Id"])[0] == 204
    _wait("crashed", lambda: w.c.get("/applications/" + a["id"]).data["status"] == "crashed", 30)
    inst = w.c.get("/applications/%s/instances" % a["id"]).data
    assert [i["status"] for i in inst] == ["exited"], inst
    assert w.c.post("/applications/%s/restart" % a["id"]).status == 200
    _wait("running again", lambda: w.c.get("/applications/" + a["id"]).data["status"] == "running", 60)
    _serves(a["hostname"], "v1")


def test_git_credentials_in_the_url_are_sealed_and_never_shown():
    """A private repository behind Basic auth (git's own http-backend): the
    token given in repository_url clones, and appears in no answer, job row,
    deployment, log line or error."""
    w = World.get()
    token = "ghp_" + uuid.uuid4().hex
    base = os.path.dirname(F["FIXTURE_GIT_DIR"])
    srv = subprocess.Popen(["/usr/bin/python3", os.path.join(os.path.dirname(__file__), "..", "lib", "git_http.py"),
                            base, "deployer", token], stdout=subprocess.PIPE, text=True)
    try:
        port = int(srv.stdout.readline())
        url = "http://127.0.0.1:%d/%s" % (port, os.path.basename(F["FIXTURE_GIT_DIR"]))
        a = _app(w, source_type="git", repository_url=url.replace("://", "://deployer:%s@" % token))
        assert a["repository_url"] == url and a["repository_credentials_set"] is True, a
        d = _deploy(w, a, {"commit_sha": F["FIXTURE_GIT_SHA_V1"]})
        _serves(a["hostname"], "v1")
        # A wrong token: the clone fails with a clear cause, still without the token.
        bad = "ghp_wrong" + uuid.uuid4().hex
        etag = w.c.get("/applications/" + a["id"]).headers["etag"]
        r = w.c.put("/applications/" + a["id"], {"repository_url": url.replace("://", "://deployer:%s@" % bad)},
                    headers={"If-Match": etag})
        assert r.status == 200 and r.data["repository_url"] == url, r
        f = _deploy(w, a, want="failed")
        assert "clone" in f["error"].lower() or "git" in f["error"].lower(), f
        assert edge_get(a["hostname"]) == (200, "v1\n")
        seen = "\n".join([
            json.dumps(w.c.get("/applications/" + a["id"]).data),
            json.dumps(w.c.get("/deployments?applicationId=" + a["id"]).data),
            json.dumps(w.c.get("/applications/%s/build-logs?deploymentId=%s" % (a["id"], d["id"])).data),
            json.dumps(w.c.get("/applications/%s/build-logs?deploymentId=%s" % (a["id"], f["id"])).data),
            "\n".join(psql("SELECT payload::text || coalesce(error, '') || coalesce(result::text, '') FROM jobs"
                           " WHERE payload->>'app_id' = '%s'" % a["id"], user="launcher_owner")),
            "\n".join(psql("SELECT source::text || coalesce(error, '') FROM deployments"
                           " WHERE application_id = '%s'" % a["id"], user="launcher_owner")),
            "\n".join(psql("SELECT line FROM job_logs", user="launcher_owner")),
            open(w.agent.log).read()])
        assert token not in seen and bad not in seen
        raw = "\n".join(psql("SELECT repository_url || ' ' || repository_credential_sealed FROM applications"
                             " WHERE id = '%s'" % a["id"], user="launcher_owner"))
        assert token not in raw and bad not in raw and "deployer" not in raw, raw
    finally:
        srv.terminate()
        srv.wait()


def test_a_port_that_keeps_refusing_is_replaced_once_then_the_release_fails():
    """The app listens elsewhere than exposed_port: the health check replaces
    the container once (the remedy for a lost port forwarding), then fails
    the release with the cause; nothing of it is left."""
    w = World.get()
    a = _app(w, start_command="PORT=9999 exec /start.sh", healthcheck_timeout_seconds=12)
    d = _deploy(w, a, want="failed")
    assert "health check failed" in d["error"] and "listening on :9999" in d["error"], d["error"]
    logs = [x["message"] for x in w.c.get("/deployments/%s/logs" % d["id"]).data]
    assert sum("replacing it once" in m for m in logs) == 1, logs
    assert app_containers(a["id"]) == []
