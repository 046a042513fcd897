"""Registries (API.md §14, sql/029_registries.sql, fcgi/api/registries.c,
fcgi/agent/registry.c): CRUD with a write-only sealed password, the url
defaults and checks, permissions and tenancy, the 409 of a delete while
applications use a registry, POST /registries/:id/test as a job whose
credentials exist only in its claim; then, with the real agent and real
registries (Debian's docker-registry, tests/lib/registry.sh): the v2 login
over Basic, over TLS with the stack's certificate and through the Bearer
token flow (tests/lib/token_server.py issuing tokens the registry itself
verifies), the refusals (unauthorized, unreachable, TLS), a private pull
through the engine with X-Registry-Auth (and its clear failure without
credentials, with a watcher over /proc/*/cmdline and a scan of every log),
and the push of a built image to the application's registry."""
import base64
import http.client
import http.server
import json
import os
import shutil
import ssl
import subprocess
import sys
import tempfile
import threading
import urllib.parse
import uuid

from lib import (STATE, Skip, assert_error, new_project, new_user, psql, registered,
                 stack_env)
from test_deploy_e2e import (EdgeAgent, UnixConn, World, _app, _deploy, _finished, _git_daemon,
                             _serves, job_done)
from test_servers import Agent, _server

LIB = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib")
sys.path.insert(0, LIB)
from ports import free_port  # noqa: E402

F = os.environ
STACK_CERT = os.path.join(STATE, "tls", "cert.pem")
STACK_KEY = os.path.join(STATE, "tls", "key.pem")


def _reg(c, **body):
    body.setdefault("name", "r-" + uuid.uuid4().hex[:8])
    body.setdefault("type", "custom")
    if body["type"] == "custom":
        body.setdefault("url", "https://registry.example.com")
    r = c.post("/registries", body)
    assert r.status == 201, r
    return r.data


def _sealed(reg_id):
    return psql("SELECT 's:' || coalesce(password_sealed, '') FROM registries WHERE id = '%s'" % reg_id,
                user="launcher_owner")[0][2:]


# ------------------------------------------------------------------ CRUD

def test_round_trip_url_defaults_and_the_password_stays_write_only():
    c, _ = registered("reg")
    pw = "pw-" + uuid.uuid4().hex
    defaults = {"docker_hub": "https://registry-1.docker.io", "ghcr": "https://ghcr.io",
                "gitlab": "https://registry.gitlab.com"}
    for typ, url in defaults.items():
        r = _reg(c, type=typ, username="octo", password=pw)
        assert (r["type"], r["url"], r["username"], r["password_set"]) == (typ, url, "octo", True), r
        assert "password" not in r and "password_sealed" not in r, r
    r = _reg(c, name="mine", url="HTTPS://Registry.Example.com:5000/team/", username="u")
    assert r["url"] == "https://registry.example.com:5000/team" and r["password_set"] is False, r
    bare = _reg(c, url="registry.example.org")
    assert bare["url"] == "https://registry.example.org", bare
    g = c.get("/registries/" + r["id"])
    assert g.status == 200 and g.data == r and g.headers["etag"], g
    lst = c.get("/registries")
    assert len(lst.data) == 5 and lst.json["meta"]["next_cursor"] is None, lst
    # PUT: only what is given changes; a password is set (sealed), then cleared.
    u = c.put("/registries/" + r["id"], {"password": pw, "name": "mine2"},
              headers={"If-Match": g.headers["etag"]})
    assert u.status == 200 and (u.data["name"], u.data["password_set"], u.data["url"]) == \
        ("mine2", True, r["url"]), u
    sealed = _sealed(r["id"])
    assert sealed and pw not in sealed, sealed
    assert_error(c.put("/registries/" + r["id"], {"name": "x"}, headers={"If-Match": g.headers["etag"]}),
                 412, "PRECONDITION_FAILED")
    # A type with an address of its own and no url: that address.
    u = c.put("/registries/" + r["id"], {"type": "ghcr"})
    assert (u.data["type"], u.data["url"]) == ("ghcr", "https://ghcr.io"), u
    u = c.put("/registries/" + r["id"], {"password": None})
    assert u.data["password_set"] is False and _sealed(r["id"]) == "", u
    # The password is in no answer, list, audit entry or log of the plane.
    seen = json.dumps([c.get("/registries").data, c.every("/audit-log")])
    assert pw not in seen
    assert {"registry.create", "registry.update"} <= {x["action"] for x in c.every("/audit-log")}
    assert c.delete("/registries/" + r["id"]).status == 204
    assert_error(c.get("/registries/" + r["id"]), 404, "NOT_FOUND")
    assert_error(c.delete("/registries/" + r["id"]), 404, "NOT_FOUND")


def test_bad_bodies_name_the_field_and_change_nothing():
    c, _ = registered("regbad")
    _reg(c, name="taken")
    cases = [
        ({"type": "ghcr"}, "name"),
        ({"name": "a"}, "type"),
        ({"name": "a", "type": "quay"}, "type"),
        ({"name": "a", "type": "custom"}, "url"),
        ({"name": "a", "type": "custom", "url": "ftp://r.example.com"}, "url"),
        ({"name": "a", "type": "custom", "url": "https://user:pw@r.example.com"}, "url"),
        ({"name": "a", "type": "custom", "url": "https://r.example.com/?q=1"}, "url"),
        ({"name": "a", "type": "custom", "url": "https://r.example.com/#x"}, "url"),
        ({"name": "a", "type": "custom", "url": "https://"}, "url"),
        ({"name": "a", "type": "custom", "url": "https://bad host"}, "url"),
        ({"name": "a", "type": "custom", "url": 5}, "url"),
        ({"name": "a", "type": "ghcr", "password": "p"}, "username"),
        ({"name": "a", "type": "ghcr", "username": 7}, "username"),
        ({"name": "", "type": "ghcr"}, "name"),
        ({"name": "x" * 101, "type": "ghcr"}, "name"),
    ]
    for body, field in cases:
        assert_error(c.post("/registries", body), 400, "BAD_REQUEST", field=field)
    assert_error(c.post("/registries", {"name": "taken", "type": "ghcr"}), 409, "CONFLICT")
    reg = _reg(c, name="keep")
    assert_error(c.put("/registries/" + reg["id"], {"url": None}), 400, "BAD_REQUEST", field="url")
    assert_error(c.put("/registries/" + reg["id"], {"url": "gopher://x"}), 400, "BAD_REQUEST", field="url")
    assert_error(c.put("/registries/" + reg["id"], {"type": "nope"}), 400, "BAD_REQUEST", field="type")
    assert [x["name"] for x in c.get("/registries").data] == ["taken", "keep"]
    assert c.get("/registries/" + reg["id"]).data == reg


def test_users_read_admins_write_and_other_tenants_see_nothing():
    c, _ = registered("regperm")
    reg = _reg(c, type="ghcr", username="u", password="p-" + uuid.uuid4().hex)
    user = new_user(c, role="user")
    assert [x["id"] for x in user.get("/registries").data] == [reg["id"]]
    assert user.get("/registries/" + reg["id"]).status == 200
    assert_error(user.post("/registries", {"name": "x", "type": "ghcr"}), 403, "FORBIDDEN")
    assert_error(user.put("/registries/" + reg["id"], {"name": "x"}), 403, "FORBIDDEN")
    assert_error(user.delete("/registries/" + reg["id"]), 403, "FORBIDDEN")
    assert_error(user.post("/registries/%s/test" % reg["id"], {}), 403, "FORBIDDEN")
    other, _ = registered("regperm2")
    assert other.get("/registries").data == []
    for call in (other.get("/registries/" + reg["id"]),
                 other.put("/registries/" + reg["id"], {"name": "x"}),
                 other.delete("/registries/" + reg["id"]),
                 other.post("/registries/%s/test" % reg["id"], {})):
        assert_error(call, 404, "NOT_FOUND")
    assert c.get("/registries/" + reg["id"]).data == reg


def test_delete_is_409_while_applications_use_it_and_names_them():
    c, _ = registered("regdel")
    _server(c)
    p = new_project(c)
    reg = _reg(c, type="ghcr")
    apps = []
    for name in ("web", "api"):
        r = c.post("/applications", {"project_id": p["id"], "name": name, "source_type": "docker_image",
                                     "image_url": "ghcr.io/org/%s:1" % name, "registry_id": reg["id"]})
        assert r.status == 201 and r.data["registry_id"] == reg["id"], r
        apps.append(r.data)
    r = c.delete("/registries/" + reg["id"])
    assert_error(r, 409, "CONFLICT")
    assert "web (%s)" % apps[0]["id"] in r.error["message"] and "api (%s)" % apps[1]["id"] in r.error["message"], r
    assert c.get("/registries/" + reg["id"]).status == 200
    for a in apps[:1]:
        assert c.put("/applications/" + a["id"], {"registry_id": None}).status == 200
    assert c.delete("/applications/" + apps[1]["id"]).status == 204
    assert c.delete("/registries/" + reg["id"]).status == 204


def test_the_test_is_a_job_on_the_check_server_and_only_its_claim_holds_the_password():
    c, _ = registered("regjob")
    pw = "pw-" + uuid.uuid4().hex
    reg = _reg(c, url="http://127.0.0.1:1", username="deployer", password=pw)
    # No agent online: 409 (check_server()); an unknown server_id: 400 naming it.
    r = c.post("/registries/%s/test" % reg["id"], {})
    assert_error(r, 409, "CONFLICT", field="server_id")
    assert "connect an agent" in r.error["message"], r
    srv = _server(c)
    assert_error(c.post("/registries/%s/test" % reg["id"], {"server_id": str(uuid.uuid4())}),
                 400, "BAD_REQUEST", field="server_id")
    ag = Agent(c.tenant, srv["agent_token"])
    assert ag.heartbeat().status == 200
    r = c.post("/registries/%s/test" % reg["id"])
    assert r.status == 202, r
    job = r.data["job"]
    assert job["kind"] == "registry.test" and job["status"] == "queued" and job["result"] is None, job
    assert r.headers["location"] == job["url"], r
    stored = psql("SELECT payload::text FROM jobs WHERE id = '%s'" % job["id"], user="launcher_owner")[0]
    assert pw not in stored and reg["id"] in stored, stored
    claimed = ag.claim()
    assert claimed["id"] == job["id"] and claimed["payload"]["registry"] == {
        "type": "custom", "url": "http://127.0.0.1:1", "username": "deployer", "password": pw}, claimed
    done = ag.call("POST", "/jobs/%s/complete" % job["id"], {
        "status": "failed", "error": "cannot reach http://127.0.0.1:1: refused",
        "result": {"ok": False, "reason": "unreachable", "message": "cannot reach", "auth": "none",
                   "http_status": None, "url": "http://127.0.0.1:1", "extra": "not shown"}})
    assert done.status in (200, 204), done
    j = c.get("/jobs/" + job["id"]).data
    assert j["status"] == "failed" and j["result"] == {
        "ok": False, "reason": "unreachable", "message": "cannot reach", "auth": "none",
        "http_status": None, "url": "http://127.0.0.1:1"}, j
    # The job is the tenant's: a plain user does not see it.
    assert_error(new_user(c).get("/jobs/" + job["id"]), 404, "NOT_FOUND")
    assert pw not in json.dumps(c.every("/audit-log"))


# ----------------------------------------------------- the real agent

class RegAgent(EdgeAgent):
    """The real agent, trusting the stack's certificate for registries too."""

    def __init__(self, tenant, token, name):
        super().__init__(tenant, token, name)
        self.args += ["--registry-ca", STACK_CERT]


class RegWorld(World):
    _w = None
    agent_class = RegAgent


def _have_registries():
    if not (F.get("LAUNCHER_TEST_REGISTRY_AUTH") and F.get("FIXTURE_WEB_V1_IMAGE")):
        raise Skip("needs the tests' registries and fixtures (tests/run.sh)")


def _check(w, reg, want_ok):
    r = w.c.post("/registries/%s/test" % reg["id"], {"server_id": w.server["id"]})
    assert r.status == 202, r
    j = job_done(w.c, r.data["job"]["id"], 60)
    assert j["status"] == ("succeeded" if want_ok else "failed"), j
    assert j["result"] and j["result"]["ok"] is want_ok, j
    return j


def _engine_stream(method, path, headers=None):
    conn = UnixConn(stack_env()["LAUNCHER_ENGINE_SOCKET"], timeout=300)
    try:
        conn.request(method, "/v1.41" + path, b"", dict({"Content-Type": "application/json"}, **(headers or {})))
        r = conn.getresponse()
        return r.status, r.read().decode(errors="replace")
    finally:
        conn.close()


def _auth_header(user, password, server):
    return base64.urlsafe_b64encode(json.dumps(
        {"username": user, "password": password, "serveraddress": server}).encode()).decode()


def _push(src, dest, user, password):
    """src (in the stack's engine) tagged dest and pushed there with X-Registry-Auth."""
    repo, tag = dest.rsplit(":", 1)
    q = urllib.parse.quote
    st, out = _engine_stream("POST", "/images/%s/tag?repo=%s&tag=%s" % (q(src, ""), q(repo, ""), tag))
    assert st in (200, 201), (st, out)
    st, out = _engine_stream("POST", "/images/%s/push?tag=%s" % (q(repo, ""), tag),
                             {"X-Registry-Auth": _auth_header(user, password, repo.split("/")[0])})
    assert st == 200 and '"error' not in out, (st, out)
    # Gone from the engine: the deploy below must fetch it from the registry.
    _engine_stream("DELETE", "/images/%s" % q(dest, ""))


def test_basic_login_refusals_and_an_unreachable_registry():
    _have_registries()
    w = RegWorld.get()
    addr, user, pw = F["LAUNCHER_TEST_REGISTRY_AUTH"], F["LAUNCHER_TEST_REGISTRY_AUTH_USER"], \
        F["LAUNCHER_TEST_REGISTRY_AUTH_PASSWORD"]
    good = _reg(w.c, url="http://" + addr, username=user, password=pw)
    j = _check(w, good, True)
    assert (j["result"]["reason"], j["result"]["auth"], j["result"]["http_status"]) == ("ok", "basic", 200), j
    bad = _reg(w.c, url="http://" + addr, username=user, password="wrong-" + uuid.uuid4().hex)
    j = _check(w, bad, False)
    assert (j["result"]["reason"], j["result"]["auth"], j["result"]["http_status"]) == \
        ("unauthorized", "basic", 401), j
    assert "refused the credentials" in j["error"], j
    none = _reg(w.c, url="http://" + addr)
    j = _check(w, none, False)
    assert j["result"]["reason"] == "unauthorized" and "none are set" in j["result"]["message"], j
    down = _reg(w.c, url="http://127.0.0.1:%d" % free_port(), username=user, password=pw)
    j = _check(w, down, False)
    assert j["result"]["reason"] == "unreachable" and j["error"].startswith("cannot reach"), j
    # Not a registry at all (the plane's nginx answers /v2/ with 404).
    nginx = _reg(w.c, url="https://localhost:%s" % F["LAUNCHER_HTTPS_PORT"], username=user, password=pw)
    j = _check(w, nginx, False)
    assert j["result"]["reason"] == "error" and j["result"]["http_status"] == 404, j
    agent_log = open(w.agent.log).read()
    assert pw not in agent_log and pw not in json.dumps(w.c.every("/audit-log"))


class _TLSServer:
    """An HTTPS endpoint with a certificate nobody trusts (made here)."""

    def __init__(self, d):
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                        "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1", "-addext",
                        "subjectAltName=IP:127.0.0.1", "-keyout", os.path.join(d, "k.pem"),
                        "-out", os.path.join(d, "c.pem")], check=True, capture_output=True)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(os.path.join(d, "c.pem"), os.path.join(d, "k.pem"))
        self.srv = http.server.HTTPServer(("127.0.0.1", 0), http.server.BaseHTTPRequestHandler)
        self.srv.socket = ctx.wrap_socket(self.srv.socket, server_side=True)
        self.port = self.srv.server_address[1]
        threading.Thread(target=self.srv.serve_forever, daemon=True).start()

    def close(self):
        self.srv.shutdown()
        self.srv.server_close()


class TokenRegistry:
    """docker-registry over TLS (the stack's certificate) with token auth,
    and tests/lib/token_server.py issuing the tokens: the Bearer flow of
    registry v2, both sides real."""

    def __init__(self, user, password):
        self.dir = tempfile.mkdtemp(prefix="tokreg-", dir=STATE)
        self.ts = subprocess.Popen(["/usr/bin/python3", os.path.join(LIB, "token_server.py"), self.dir],
                                   stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        self.ts.stdin.write(json.dumps({"user": user, "password": password, "issuer": "launcher-test-issuer",
                                        "service": "launcher-test-registry"}) + "\n")
        self.ts.stdin.close()
        self.token_port = int(self.ts.stdout.readline())
        env = dict(os.environ, REGISTRY_PREFIX="LAUNCHER_TEST_REGISTRY_TOKEN",
                   REGISTRY_TLS_CERT=STACK_CERT, REGISTRY_TLS_KEY=STACK_KEY,
                   REGISTRY_TOKEN_REALM="http://127.0.0.1:%d/token" % self.token_port,
                   REGISTRY_TOKEN_SERVICE="launcher-test-registry", REGISTRY_TOKEN_ISSUER="launcher-test-issuer",
                   REGISTRY_TOKEN_ROOTCERTBUNDLE=os.path.join(self.dir, "token-cert.pem"))
        out = subprocess.run(["bash", os.path.join(LIB, "registry.sh"), "start", os.path.join(self.dir, "reg")],
                             env=env, capture_output=True, text=True, timeout=60)
        if out.returncode != 0:
            self.ts.kill()
            raise AssertionError("the token registry did not start: " + out.stderr)
        ex = dict(line[len("export "):].split("=", 1) for line in out.stdout.splitlines()
                  if line.startswith("export "))
        self.addr, self.pid = ex["LAUNCHER_TEST_REGISTRY_TOKEN"], int(ex["LAUNCHER_TEST_REGISTRY_TOKEN_PID"])
        # The stack's Podman trusts it: certs.d under its own HOME (launcher-stack.sh).
        self.certs = os.path.join(stack_env()["LAUNCHER_ENGINE_CERTS_DIR"], self.addr)
        os.makedirs(self.certs, exist_ok=True)
        shutil.copy(STACK_CERT, os.path.join(self.certs, "ca.crt"))

    def token_log(self):
        return open(os.path.join(self.dir, "token.log")).read()

    def close(self):
        try:
            os.kill(self.pid, 15)
        except ProcessLookupError:
            pass
        self.ts.kill()
        self.ts.wait()
        shutil.rmtree(self.certs, ignore_errors=True)


def test_tls_and_the_bearer_token_flow_and_a_tls_error():
    _have_registries()
    w = RegWorld.get()
    user, pw = "tok-user", "tok-" + uuid.uuid4().hex
    tr = TokenRegistry(user, pw)
    d = tempfile.mkdtemp(prefix="untrusted-", dir=STATE)
    tls = _TLSServer(d)
    try:
        ok = _reg(w.c, url="https://" + tr.addr, username=user, password=pw)
        j = _check(w, ok, True)
        assert (j["result"]["auth"], j["result"]["reason"]) == ("bearer", "ok"), j
        assert "bearer token from http://127.0.0.1:%d/token" % tr.token_port in j["result"]["message"], j
        assert "/token service=launcher-test-registry scope= -> 200" in tr.token_log(), tr.token_log()
        bad = _reg(w.c, url="https://" + tr.addr, username=user, password="nope")
        j = _check(w, bad, False)
        assert (j["result"]["auth"], j["result"]["reason"], j["result"]["http_status"]) == \
            ("bearer", "unauthorized", 401), j
        assert "token service" in j["error"], j
        untrusted = _reg(w.c, url="https://127.0.0.1:%d" % tls.port, username=user, password=pw)
        j = _check(w, untrusted, False)
        assert j["result"]["reason"] == "tls_error" and j["error"].startswith("TLS error with"), j
        # A Bearer-protected private image pulled by the engine (Podman does
        # the token flow itself with the X-Registry-Auth credentials, and
        # trusts the registry's certificate through its certs.d).
        ref = "%s/launcher-test/tok-web:v1" % tr.addr
        _push(F["FIXTURE_WEB_V1_IMAGE"], ref, user, pw)
        a = _app(w, image_url=ref, registry_id=ok["id"])
        _deploy(w, a)
        _serves(a["hostname"], "v1")
        assert "repository:launcher-test/tok-web:pull" in tr.token_log(), tr.token_log()
        assert pw not in open(w.agent.log).read() and pw not in tr.token_log()
    finally:
        tls.close()
        tr.close()
        shutil.rmtree(d, ignore_errors=True)


class CmdlineWatcher(threading.Thread):
    """Scans every process's argv while running; remembers any that holds a secret."""

    def __init__(self, secrets):
        super().__init__(daemon=True)
        self.secrets = [s.encode() for s in secrets]
        self.hits, self.scans = [], 0
        self.stop = threading.Event()

    def run(self):
        while not self.stop.is_set():
            for pid in os.listdir("/proc"):
                if not pid.isdigit():
                    continue
                try:
                    with open("/proc/%s/cmdline" % pid, "rb") as f:
                        argv = f.read()
                except OSError:
                    continue
                for s in self.secrets:
                    if s in argv:
                        self.hits.append((pid, argv.replace(b"\0", b" ")[:200]))
            self.scans += 1

    def finish(self):
        self.stop.set()
        self.join(10)
        return self.hits


def _every_log():
    out = []
    for root, _, files in os.walk(STATE):
        if "/podman/storage" in root or "/registry" in root or "tokreg-" in root or "/data" in root:
            continue
        for f in files:
            if f.endswith(".log") or f.endswith(".out"):
                try:
                    out.append(open(os.path.join(root, f), errors="replace").read())
                except OSError:
                    pass
    return "\n".join(out)


def test_private_pull_with_credentials_and_a_clear_failure_without_them_leaking_nothing():
    _have_registries()
    w = RegWorld.get()
    addr, user, pw = F["LAUNCHER_TEST_REGISTRY_AUTH"], F["LAUNCHER_TEST_REGISTRY_AUTH_USER"], \
        F["LAUNCHER_TEST_REGISTRY_AUTH_PASSWORD"]
    ref = "%s/launcher-test/private-web:v1" % addr
    _push(F["FIXTURE_WEB_V1_IMAGE"], ref, user, pw)
    reg = _reg(w.c, url="http://" + addr, username=user, password=pw)
    watcher = CmdlineWatcher([pw])
    watcher.start()
    try:
        a = _app(w, image_url=ref, registry_id=reg["id"])
        d = _deploy(w, a)
        _serves(a["hostname"], "v1")
        # Without the registry: the engine's own refusal, in the deployment's error.
        b = _app(w, image_url=ref)
        f = _deploy(w, b, want="failed")
        assert "pulling image %s failed" % ref in f["error"], f
        assert "unauthorized" in f["error"].lower() or "authentication required" in f["error"].lower(), f
        # An image of another registry is never sent these credentials.
        e = _app(w, image_url=F["FIXTURE_REGISTRY_WEB_V1"], registry_id=reg["id"])
        g = _deploy(w, e, want="failed")
        assert "is not on the application's registry" in g["error"], g
    finally:
        hits = watcher.finish()
    assert watcher.scans > 0 and hits == [], hits
    seen = "\n".join([
        json.dumps([w.c.get("/applications/" + x["id"]).data for x in (a, b, e)]),
        json.dumps(w.c.get("/registries").data),
        json.dumps(w.c.get("/deployments?applicationId=" + a["id"]).data),
        json.dumps(w.c.get("/applications/%s/build-logs?deploymentId=%s" % (a["id"], d["id"])).data),
        json.dumps(w.c.get("/applications/%s/build-logs?deploymentId=%s" % (b["id"], f["id"])).data),
        json.dumps(w.c.every("/audit-log")),
        "\n".join(psql("SELECT payload::text || coalesce(error, '') || coalesce(result::text, '') FROM jobs",
                       user="launcher_owner")),
        "\n".join(psql("SELECT line FROM job_logs", user="launcher_owner")),
        "\n".join(psql("SELECT message FROM runtime_logs", user="launcher_owner")),
        "\n".join(psql("SELECT coalesce(error, '') || source::text FROM deployments", user="launcher_owner")),
        open(w.agent.log).read(),
        _every_log()])
    assert pw not in seen
    assert "pulling image %s (with the registry's credentials)" % ref in seen


def test_a_built_image_is_pushed_to_the_applications_registry():
    _have_registries()
    if not F.get("FIXTURE_GIT_DIR"):
        raise Skip("needs the git fixture")
    w = RegWorld.get()
    addr, user, pw = F["LAUNCHER_TEST_REGISTRY_AUTH"], F["LAUNCHER_TEST_REGISTRY_AUTH_USER"], \
        F["LAUNCHER_TEST_REGISTRY_AUTH_PASSWORD"]
    reg = _reg(w.c, url="http://" + addr, username=user, password=pw)
    daemon, url = _git_daemon()
    try:
        name = "b" + uuid.uuid4().hex[:8]
        a = _app(w, name=name, source_type="git", repository_url=url, branch="main", registry_id=reg["id"])
        d = _deploy(w, a, {"commit_sha": F["FIXTURE_GIT_SHA_V1"]})
        _serves(a["hostname"], "v1")
        want = "%s/%s/%s:%s" % (addr, user.lower(), name, d["id"])
        assert d["image"] == want, d
        # The registry has it (its own API, with its credentials).
        conn = http.client.HTTPConnection(addr, timeout=10)
        conn.request("GET", "/v2/%s/%s/tags/list" % (user.lower(), name), headers={
            "Authorization": "Basic " + base64.b64encode(("%s:%s" % (user, pw)).encode()).decode()})
        r = conn.getresponse()
        tags = json.loads(r.read())
        assert r.status == 200 and d["id"] in tags["tags"], tags
        logs = "\n".join(x["message"] for x in w.c.get("/applications/%s/build-logs" % a["id"]).data)
        assert "pushed image " + want in logs and pw not in logs, logs
        # Another server's view: the release's image gone from this engine.
        # A rollback to it pulls it from the registry by the pushed reference
        # (the very image: its id is checked), instead of failing.
        d2 = _deploy(w, a, {"commit_sha": F["FIXTURE_GIT_SHA_V2"]})
        _serves(a["hostname"], "v2")
        st, out = _engine_stream("DELETE", "/images/%s?force=true" % d["image_digest"])
        assert st == 200, (st, out)
        r = w.c.post("/applications/%s/rollback" % a["id"], {})
        assert r.status == 201 and r.data["rollback_of"] == d["id"], r
        d3 = _finished(w, r.data["id"])
        assert d3["status"] == "succeeded" and d3["image_digest"] == d["image_digest"] != d2["image_digest"], d3
        _serves(a["hostname"], "v1")
        logs = [x["message"] for x in w.c.get("/deployments/%s/logs" % d3["id"]).data]
        assert any("is not on this server: pulling " + want in m for m in logs), logs
    finally:
        daemon.kill()
        daemon.wait()


def _git_repo_from(base_ref):
    """A bare repository (under the state dir) whose Dockerfile is FROM base_ref,
    served by git daemon; returns (process, url, dir)."""
    d = tempfile.mkdtemp(prefix="fromrepo-", dir=STATE)
    work, bare = os.path.join(d, "work"), os.path.join(d, "from.git")
    env = dict(os.environ, GIT_CONFIG_NOSYSTEM="1", GIT_CONFIG_GLOBAL="/dev/null",
               GIT_AUTHOR_NAME="t", GIT_AUTHOR_EMAIL="t@launcher.invalid",
               GIT_COMMITTER_NAME="t", GIT_COMMITTER_EMAIL="t@launcher.invalid")
    os.makedirs(work)
    with open(os.path.join(work, "Dockerfile"), "w") as f:
        f.write("FROM %s\n" % base_ref)
    for argv in (["git", "init", "-q", "-b", "main", work], ["git", "-C", work, "add", "Dockerfile"],
                 ["git", "-C", work, "commit", "-q", "-m", "from a private base"],
                 ["git", "clone", "-q", "--bare", work, bare]):
        subprocess.run(argv, env=env, check=True, capture_output=True)
    p, url = _git_daemon(d, "from.git")
    return p, url, d


def test_a_build_from_a_private_base_image_gets_the_registrys_credentials():
    """The Dockerfile's FROM image is on the application's registry: the
    build sends X-Registry-Config; without a registry the build is refused."""
    _have_registries()
    w = RegWorld.get()
    addr, user, pw = F["LAUNCHER_TEST_REGISTRY_AUTH"], F["LAUNCHER_TEST_REGISTRY_AUTH_USER"], \
        F["LAUNCHER_TEST_REGISTRY_AUTH_PASSWORD"]
    base = "%s/launcher-test/private-base:v1" % addr
    _push(F["FIXTURE_WEB_V1_IMAGE"], base, user, pw)
    reg = _reg(w.c, url="http://" + addr, username=user, password=pw)
    daemon, url, d = _git_repo_from(base)
    try:
        no = _app(w, source_type="git", repository_url=url, branch="main")
        f = _deploy(w, no, want="failed")
        assert "building the image failed" in f["error"], f
        a = _app(w, source_type="git", repository_url=url, branch="main", registry_id=reg["id"])
        _deploy(w, a)
        _serves(a["hostname"], "v1")
        logs = "\n".join(x["message"] for x in w.c.get("/applications/%s/build-logs" % a["id"]).data)
        assert "the registry's credentials for FROM images" in logs and pw not in logs, logs
    finally:
        daemon.kill()
        daemon.wait()
        shutil.rmtree(d, ignore_errors=True)
