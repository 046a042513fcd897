#!/usr/bin/env python3
"""test_app_jobs.py - launcher-agent's app.* jobs against a fake plane
(tests/agent/fake_plane.py) and a real engine (the throwaway stack's
Podman): deploy a release, roll to another, a broken release rolled back,
a failed pull, a git build, scale, exec, stop/start, cancel, remove; the
edge site files through a private nginx; the instances and logs reports;
objstore.provision (the managed object store's container).

    python3 tests/agent/test_app_jobs.py [BUILD_DIR] [-k NAME]

Needs $AGENT_ENGINE_SOCKET answering /_ping, and the fixtures
(tests/fixtures/build.sh runs against that engine).  Without an engine
every case is skipped and reported as one failure ("no engine").
Last line: "agent app-jobs: N passed, N failed".
"""
import http.client
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import traceback
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fake_plane import Plane  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = next((a for a in sys.argv[1:] if not a.startswith("-") and
              sys.argv[sys.argv.index(a) - 1] != "-k"), os.path.join(REPO, "build"))
AGENT = os.path.join(BUILD, "bin", "launcher-agent")
ONLY = sys.argv[sys.argv.index("-k") + 1] if "-k" in sys.argv else None
SOCK = os.environ.get("AGENT_ENGINE_SOCKET", "")
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
SECRET = "s3cr3t-Value-%s" % uuid.uuid4().hex[:8]
TENANT_ID = str(uuid.uuid4())
PROJECT_ID = str(uuid.uuid4())

passed = failed = 0


def check(cond, name, detail=""):
    global passed, failed
    if cond:
        passed += 1
    else:
        failed += 1
        print("FAIL %s %s" % (name, str(detail)[:3000]))


def engine(method, path, body=None):
    """(status, parsed JSON or text) of one Engine API call on SOCK."""
    args = ["curl", "-s", "-m", "30", "--unix-socket", SOCK, "-X", method, "-w", "\n%{http_code}"]
    if body is not None:
        args += ["-H", "Content-Type: application/json", "-d", json.dumps(body)]
    out = subprocess.run(args + ["http://d/v1.41" + path], capture_output=True, text=True).stdout
    text, _, code = out.rpartition("\n")
    try:
        return int(code), json.loads(text)
    except ValueError:
        return int(code or 0), text


def engine_log_lines(cid):
    """The container's log lines as the engine holds them (frames decoded)."""
    raw = subprocess.run(["curl", "-s", "-m", "10", "--unix-socket", SOCK,
                          "http://d/v1.41/containers/%s/logs?stdout=1&stderr=1" % cid],
                         capture_output=True).stdout
    out, i = {1: b"", 2: b""}, 0
    while i + 8 <= len(raw) and raw[i] in (0, 1, 2):
        n = int.from_bytes(raw[i + 4:i + 8], "big")
        out[max(raw[i], 1)] += raw[i + 8:i + 8 + n]
        i += 8 + n
    return [l.decode(errors="replace") for b in out.values() for l in b.split(b"\n") if l]


def containers(app_id):
    flt = json.dumps({"label": ["launcher.app=%s" % app_id]})
    st, arr = engine("GET", "/containers/json?all=1&filters=" + urlq(flt))
    return arr if st == 200 else []


def urlq(s):
    from urllib.parse import quote
    return quote(s, safe="")


def free_port():
    sys.path.insert(0, os.path.join(REPO, "tests", "lib"))
    from ports import free_port as lib_free_port
    return lib_free_port()


class Edge:
    """A private nginx that includes the agent's site files."""

    def __init__(self, tmp):
        self.dir = os.path.join(tmp, "edge")
        self.sites = os.path.join(self.dir, "sites")
        os.makedirs(self.sites)
        os.makedirs(os.path.join(self.dir, "logs"))
        self.port = free_port()
        self.tls_port = free_port()
        while self.tls_port == self.port:
            self.tls_port = free_port()
        with open(os.path.join(self.dir, "nginx.conf"), "w") as f:
            f.write("""worker_processes 1;
pid %(d)s/nginx.pid;
error_log %(d)s/logs/error.log warn;
events { worker_connections 64; }
http {
    access_log off;
    client_body_temp_path %(d)s/tmp_body;
    proxy_temp_path %(d)s/tmp_proxy;
    fastcgi_temp_path %(d)s/tmp_fcgi;
    uwsgi_temp_path %(d)s/tmp_uwsgi;
    scgi_temp_path %(d)s/tmp_scgi;
    server { listen 127.0.0.1:%(p)d default_server; server_name _; return 404; }
    include %(d)s/sites/*.conf;
}
""" % {"d": self.dir, "p": self.port})
        base = "%s -p %s -c %s/nginx.conf" % (NGINX, self.dir, self.dir)
        self.test_cmd = base + " -t -q"
        self.reload_cmd = base + " -s reload"
        subprocess.run(base.split(), check=True, capture_output=True)

    def get(self, host, path="/", want=None):
        """(status, body); with want, retries for 3 s until the status is want
        (a reload is asynchronous: the old workers answer for a moment)."""
        return self.get_full(host, path, want)[:2]

    def get_full(self, host, path="/", want=None):
        """(status, body, Location); with want, as get()."""
        end = time.time() + 3
        while True:
            st, body, loc = self._get_full(host, path)
            if want is None or st == want or time.time() > end:
                return st, body, loc
            time.sleep(0.1)

    def _get_full(self, host, path):
        """(status, body, Location) of one plain HTTP request."""
        try:
            c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
            c.request("GET", path, headers={"Host": host})
            r = c.getresponse()
            return r.status, r.read().decode(errors="replace"), r.getheader("Location")
        except OSError as e:
            return 0, str(e), None

    def host_file(self, hostname):
        p = os.path.join(self.sites, "host-%s.conf" % hostname.replace("*.", "_wildcard_."))
        return open(p).read() if os.path.exists(p) else None

    def site(self, app_id):
        p = os.path.join(self.sites, "app-%s.conf" % app_id)
        return open(p).read() if os.path.exists(p) else None

    def stop(self):
        subprocess.run([NGINX, "-p", self.dir, "-c", self.dir + "/nginx.conf", "-s", "stop"],
                       capture_output=True)


class Agent:
    def __init__(self, plane, tmp, edge, extra=()):
        self.log = open(os.path.join(tmp, "agent.log"), "a+")
        self.state = os.path.join(tmp, "state")
        args = [AGENT, "--plane", plane.url, "--tenant", plane.tenant, "--ca", plane.cert,
                "--engine-socket", SOCK, "--state-dir", self.state,
                "--token-file", os.path.join(tmp, "token"), "--heartbeat-interval", "1",
                "--poll-interval", "0.2", "--edge-sites-dir", edge.sites,
                "--edge-listen", "127.0.0.1:%d" % edge.port,
                "--nginx-test-command", edge.test_cmd, "--edge-reload-command", edge.reload_cmd,
                "--edge-tls-listen", "127.0.0.1:%d" % edge.tls_port,
                "--edge-https-port", str(edge.tls_port),
                "--edge-drain-ms", "300", "--instances-interval", "1",
                "--logs-interval", "0.5"] + list(extra)
        if os.environ.get("AGENT_FIREWALL_CHAIN"):  # the stack's (its stop removes them)
            args += ["--firewall-chain", os.environ["AGENT_FIREWALL_CHAIN"]]
        e = dict(os.environ)
        e.pop("LAUNCHER_AGENT_TOKEN", None)
        self.p = subprocess.Popen(args, stdout=self.log, stderr=subprocess.STDOUT, env=e)

    def output(self):
        self.log.flush()
        with open(self.log.name) as f:
            return f.read()

    def stop(self):
        if self.p.poll() is None:
            self.p.send_signal(signal.SIGTERM)
        try:
            self.p.wait(20)
        except subprocess.TimeoutExpired:
            self.p.kill()
            self.p.wait()


def app_payload(app_id, dep, source=None, **app):
    a = {"name": "web-test", "app_type": "web", "exposed_port": 8080, "replicas": 1,
         "restart_policy": "unless-stopped", "start_command": None, "cpu_limit": 0.5,
         "memory_limit": 128 * 1024 * 1024, "healthcheck_path": "/health",
         "healthcheck_timeout_seconds": 20, "hostname": "%s.apps.test" % app_id[:8]}
    a.update(app)
    p = {"tenant_id": TENANT_ID, "project_id": PROJECT_ID, "app_id": app_id,
         "deployment_id": dep, "app": a, "env": {"APP_MESSAGE": SECRET, "X": "ab"}}
    if source is not None:
        p["source"] = source
    return p


def run_job(plane, kind, payload, timeout=120):
    jid = plane.enqueue(kind, payload, lease_seconds=30)
    ok = plane.wait_status(jid, ("succeeded", "failed"), timeout)
    j = plane.job(jid)
    if not ok:
        j["status"] = "timeout(%s)" % j["status"]
    return j


def no_secret(j, name):
    text = json.dumps({k: v for k, v in j.items() if k != "payload"})
    check(SECRET not in text, name + ": no env value in lines/result/error")


# ----------------------------------------------------------------- cases

def case_deploy_roll_rollback(plane, edge, fx):
    app = str(uuid.uuid4())
    d1, d2, d3 = str(uuid.uuid4()), str(uuid.uuid4()), str(uuid.uuid4())
    host = "%s.apps.test" % app[:8]
    j = run_job(plane, "app.deploy", app_payload(app, d1, {"type": "release",
                "image_id": fx["FIXTURE_WEB_V1_ID"]}, replicas=2))
    check(j["status"] == "succeeded", "deploy v1 succeeded", j.get("error"))
    r = j["result"] or {}
    check(r.get("strategy") == "rolling" and r.get("image_id") == fx["FIXTURE_WEB_V1_ID"],
          "deploy v1 result: strategy and image id", r)
    inst = r.get("instances") or []
    # host_ports' default, below the kernel's ephemeral ports
    check(len(inst) == 2 and all(i["status"] == "running" and i["health"] == "healthy" and
                                 isinstance(i["host_port"], int) and
                                 20000 <= i["host_port"] <= 32000 and i["deployment_id"] == d1 and
                                 i["name"].startswith("lnchr-%s-%s-" % (app[:8], d1[:8]))
                                 for i in inst), "deploy v1: two healthy instances", inst)
    cs = containers(app)
    labels = cs[0]["Labels"] if cs else {}
    check(len(cs) == 2 and labels.get("launcher.managed") == "1" and
          labels.get("launcher.tenant") == TENANT_ID and labels.get("launcher.project") == PROJECT_ID and
          labels.get("launcher.deployment") == d1, "deploy v1: labels", labels)
    site = edge.site(app) or ""
    check(site.count("server 127.0.0.1:") == 2 and "server_name %s;" % host in site and
          "keepalive 16;" in site and d1 in site, "deploy v1: site file", site)
    st, body = edge.get(host)
    check(st == 200 and body.strip() == "v1", "deploy v1: served through the edge", (st, body))
    check(any(l.startswith("starting container lnchr-") for l in j["lines"]) and
          any("health check passed" in l for l in j["lines"]) and
          any("edge route" in l for l in j["lines"]), "deploy v1: progress narrates", j["lines"])
    no_secret(j, "deploy v1")

    j = run_job(plane, "app.deploy", app_payload(app, d2, {"type": "release",
                "image_id": fx["FIXTURE_WEB_V2_ID"]}))
    check(j["status"] == "succeeded", "deploy v2 succeeded", j.get("error"))
    cs = containers(app)
    check(len(cs) == 1 and cs[0]["Labels"]["launcher.deployment"] == d2,
          "deploy v2: old containers stopped and removed", [c["Names"] for c in cs])
    st, body = edge.get(host)
    check(st == 200 and body.strip() == "v2", "deploy v2: served", (st, body))
    check(any("stopping old container" in l for l in j["lines"]), "deploy v2: drain narrated")

    j = run_job(plane, "app.deploy", app_payload(app, d3, {"type": "release",
                "image_id": fx["FIXTURE_WEB_BROKEN_ID"]}))
    err = j.get("error") or ""
    check(j["status"] == "failed" and err.startswith("health check failed:") and
          "last log lines:" in err and "web broken: error" in err,
          "broken release fails with the health check and its logs", err)
    cs = containers(app)
    check(len(cs) == 1 and cs[0]["Labels"]["launcher.deployment"] == d2,
          "broken release: new containers removed, old kept", [c["Names"] for c in cs])
    st, body = edge.get(host)
    check(st == 200 and body.strip() == "v2", "broken release: v2 still served", (st, body))
    no_secret(j, "broken deploy")

    # scale the live release up and down
    p = app_payload(app, d2, {"type": "release", "image_id": fx["FIXTURE_WEB_V2_ID"]})
    p["replicas"] = 3
    j = run_job(plane, "app.scale", p)
    check(j["status"] == "succeeded" and len((j["result"] or {}).get("instances", [])) == 3,
          "scale to 3", j.get("error"))
    check((edge.site(app) or "").count("server 127.0.0.1:") == 3, "scale to 3: site has 3")
    p["replicas"] = 1
    j = run_job(plane, "app.scale", p)
    check(j["status"] == "succeeded" and len((j["result"] or {}).get("instances", [])) == 1 and
          len(containers(app)) == 1, "scale to 1", j.get("error"))

    # exec
    p = app_payload(app, d2)
    p["command"] = ["sh", "-c", "echo hi; echo $APP_MESSAGE; echo oops >&2; exit 3"]
    j = run_job(plane, "app.exec", p)
    r = j["result"] or {}
    check(j["status"] == "succeeded" and r.get("exit_code") == 3 and "hi" in r.get("output", "") and
          "oops" in r.get("output", "") and r.get("timed_out") is False, "exec: output and exit code", j)
    no_secret(j, "exec")
    p["command"] = ["sleep", "30"]
    p["timeout_seconds"] = 1
    j = run_job(plane, "app.exec", p)
    r = j["result"] or {}
    check(j["status"] == "succeeded" and r.get("timed_out") is True and r.get("exit_code") is None,
          "exec: timeout", j)

    # stop / start / restart
    j = run_job(plane, "app.stop", app_payload(app, d2))
    inst = (j["result"] or {}).get("instances", [])
    check(j["status"] == "succeeded" and inst and all(i["status"] == "exited" for i in inst),
          "stop: exited", j)
    check("return 503;" in (edge.site(app) or ""), "stop: the site answers 503")
    st, _ = edge.get(host, want=503)
    check(st == 503, "stop: 503 through the edge", st)
    j = run_job(plane, "app.start", app_payload(app, d2, {"type": "release",
                "image_id": fx["FIXTURE_WEB_V2_ID"]}))
    check(j["status"] == "succeeded" and edge.get(host, want=200)[1].strip() == "v2", "start: served again",
          j.get("error"))
    j = run_job(plane, "app.restart", app_payload(app, d2))
    check(j["status"] == "succeeded" and edge.get(host, want=200)[1].strip() == "v2", "restart: served",
          j.get("error"))

    # the reports
    ok = plane.wait(lambda p: any(any(i.get("app_id") == app and i["state"] == "running" for i in b)
                                  for b in p.instances[-3:]), 10)
    check(ok, "instances reported")
    ok = plane.wait(lambda p: any(e.get("app_id") == app for e in p.logs), 10)
    check(ok, "runtime logs shipped")
    with plane.lock:
        mine = [e for e in plane.logs if e.get("app_id") == app]
    # Podman stamps whole seconds, so the same line may legitimately repeat
    # within a second (a restart): compare with what the engine holds.
    dups = []
    for c in containers(app):
        held = engine_log_lines(c["Id"])
        shipped = [e["message"] for e in mine if e["container_id"] == c["Id"]]
        dups += [m for m in set(shipped) if shipped.count(m) > held.count(m)]
    check(not dups, "runtime logs: no line shipped twice", dups[:5])

    j = run_job(plane, "app.remove", {"app_id": app, "deployment_id": None,
                                      "tenant_id": TENANT_ID, "project_id": PROJECT_ID})
    check(j["status"] == "succeeded" and (j["result"] or {}).get("removed") == 1 and
          not containers(app) and edge.site(app) is None, "remove", j)
    st, _ = edge.get(host, want=404)
    check(st == 404, "remove: the hostname is no longer routed", st)


def case_pull_failure(plane, edge, fx):
    app, dep = str(uuid.uuid4()), str(uuid.uuid4())
    j = run_job(plane, "app.deploy", app_payload(app, dep, {"type": "docker_image",
                "image": "127.0.0.1:9/launcher-test/nothing:v1"}))
    err = j.get("error") or ""
    check(j["status"] == "failed" and "pulling image 127.0.0.1:9/launcher-test/nothing:v1 failed" in err,
          "pull failure reported", err)
    check(not containers(app) and edge.site(app) is None, "pull failure: nothing left")


def case_git_build_and_worker(plane, edge, fx):
    app, dep = str(uuid.uuid4()), str(uuid.uuid4())
    src = {"type": "git", "repository_url": fx["FIXTURE_GIT_URL"], "branch": "main",
           "commit_sha": None, "dockerfile_path": "Dockerfile", "build_context": ".",
           "build_args": {}}
    j = run_job(plane, "app.deploy", app_payload(app, dep, src), timeout=300)
    r = j["result"] or {}
    check(j["status"] == "succeeded" and r.get("commit_sha") == fx["FIXTURE_GIT_SHA_MAIN"] and
          r.get("image", "").startswith("localhost/launcher/%s:" % app) and
          r.get("image_id", "").startswith("sha256:"), "git build deploy", (j.get("error"), r))
    check(any(l.startswith("build: ") for l in j["lines"]), "git build: build output streamed")
    check(edge.get("%s.apps.test" % app[:8])[1].strip() == "v2", "git build: serves the branch head")
    src["commit_sha"] = fx["FIXTURE_GIT_SHA_V1"]
    dep2 = str(uuid.uuid4())
    j = run_job(plane, "app.deploy", app_payload(app, dep2, src), timeout=300)
    check(j["status"] == "succeeded" and (j["result"] or {}).get("commit_sha") == fx["FIXTURE_GIT_SHA_V1"]
          and edge.get("%s.apps.test" % app[:8])[1].strip() == "v1", "git build at a commit", j.get("error"))
    run_job(plane, "app.remove", {"app_id": app, "deployment_id": None})
    # a worker: no port, no route, healthy when still running
    w, wd = str(uuid.uuid4()), str(uuid.uuid4())
    j = run_job(plane, "app.deploy", app_payload(w, wd, {"type": "release",
                "image_id": fx["FIXTURE_WEB_V1_ID"]}, app_type="worker", exposed_port=None,
                hostname=None, healthcheck_path=None))
    inst = (j["result"] or {}).get("instances", [])
    check(j["status"] == "succeeded" and len(inst) == 1 and inst[0]["host_port"] is None and
          inst[0]["health"] == "none" and edge.site(w) is None, "worker deploy", j)
    run_job(plane, "app.remove", {"app_id": w, "deployment_id": None})


def case_cancel(plane, edge, fx):
    app, dep = str(uuid.uuid4()), str(uuid.uuid4())
    jid = plane.enqueue("app.deploy", app_payload(app, dep, {"type": "release",
                        "image_id": fx["FIXTURE_WEB_V1_ID"]}, healthcheck_path="/nowhere",
                        healthcheck_timeout_seconds=120), lease_seconds=6)
    ok = plane.wait(lambda p: any("health check:" in l for l in p.jobs[jid]["lines"]), 60)
    check(ok and len(containers(app)) == 1, "cancel: the deployment's container started")
    plane.cancel(jid)
    end = time.time() + 30
    while time.time() < end and containers(app):
        time.sleep(0.5)
    check(not containers(app), "cancel: the new containers are removed")
    check(edge.site(app) is None, "cancel: no route written")


def bindable(port):
    import socket
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        s.bind(("127.0.0.1", port))
        return True
    except OSError:
        return False
    finally:
        s.close()


def three_free_ports():
    """The first of three bindable host ports in 20000-31997 (a random start)."""
    import random
    base = random.randint(20000, 31997)
    while not all(bindable(base + i) for i in range(3)):
        base = 20000 + (base - 20000 + 3) % 11997
    return base


PORT_BASE = three_free_ports()


def case_host_ports(plane, edge, fx):
    """The agent runs with --host-ports PORT_BASE-(PORT_BASE+2): containers are
    published only there, and never on a port another program holds."""
    import socket
    held = []
    for port in (PORT_BASE, PORT_BASE + 1):
        s = socket.socket()
        s.bind(("127.0.0.1", port))
        s.listen()
        held.append(s)
    app, d1, d2, d3 = (str(uuid.uuid4()) for _ in range(4))
    host = "%s.apps.test" % app[:8]
    j = run_job(plane, "app.deploy", app_payload(app, d1, {"type": "release",
                "image_id": fx["FIXTURE_WEB_V1_ID"]}))
    inst = (j["result"] or {}).get("instances") or []
    check(j["status"] == "succeeded" and [i["host_port"] for i in inst] == [PORT_BASE + 2],
          "host ports: the one port of the range nobody holds", (j.get("error"), inst))
    check(edge.get(host)[1].strip() == "v1", "host ports: served")
    # A rolling deploy needs a second port while v1 holds the third: none left.
    j = run_job(plane, "app.deploy", app_payload(app, d2, {"type": "release",
                "image_id": fx["FIXTURE_WEB_V2_ID"]}))
    check(j["status"] == "failed" and
          "no free host port in host_ports %d-%d" % (PORT_BASE, PORT_BASE + 2) in (j.get("error") or ""),
          "host ports: a full range fails the deploy and says so", j.get("error"))
    cs = containers(app)
    check(len(cs) == 1 and cs[0]["Labels"]["launcher.deployment"] == d1 and
          edge.get(host)[1].strip() == "v1", "host ports: the old release keeps serving")
    held[0].close()
    j = run_job(plane, "app.deploy", app_payload(app, d3, {"type": "release",
                "image_id": fx["FIXTURE_WEB_V2_ID"]}))
    inst = (j["result"] or {}).get("instances") or []
    check(j["status"] == "succeeded" and [i["host_port"] for i in inst] == [PORT_BASE] and
          edge.get(host, want=200)[1].strip() == "v2", "host ports: a port freed is used",
          (j.get("error"), inst))
    held[1].close()
    run_job(plane, "app.remove", {"app_id": app, "deployment_id": None})


case_host_ports.agent_args = lambda: ["--host-ports", "%d-%d" % (PORT_BASE, PORT_BASE + 2)]


class Listener:
    """A TCP listener on addr that counts the connections it accepts."""

    def __init__(self, addr):
        import socket
        import threading
        self.s = socket.socket()
        self.s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.s.bind((addr, 0))
        self.s.listen(16)
        self.port, self.accepted = self.s.getsockname()[1], 0
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        while True:
            try:
                c, _ = self.s.accept()
            except OSError:
                return
            self.accepted += 1
            c.close()

    def close(self):
        self.s.close()


def host_addresses():
    """The host's IPv4 addresses other than loopback (bridges included)."""
    out = subprocess.run(["ip", "-4", "-o", "addr", "show"], capture_output=True, text=True).stdout
    return [l.split()[3].split("/")[0] for l in out.splitlines()
            if len(l.split()) > 3 and not l.split()[3].startswith("127.")]


def git_repo(tmp, name, files, links=()):
    """A one-commit repository (branch main) under tmp: its file:// URL."""
    d = os.path.join(tmp, name)
    os.makedirs(d)
    for rel, text in files.items():
        os.makedirs(os.path.dirname(os.path.join(d, rel)), exist_ok=True)
        with open(os.path.join(d, rel), "w") as f:
            f.write(text)
    for rel, target in links:
        os.symlink(target, os.path.join(d, rel))
    env = dict(os.environ, GIT_AUTHOR_NAME="t", GIT_AUTHOR_EMAIL="t@t.invalid",
               GIT_COMMITTER_NAME="t", GIT_COMMITTER_EMAIL="t@t.invalid",
               GIT_CONFIG_NOSYSTEM="1", GIT_CONFIG_GLOBAL="/dev/null")
    for cmd in (["init", "-q", "-b", "main"], ["add", "-A"], ["commit", "-q", "-m", "probe"]):
        subprocess.run(["git", "-C", d] + cmd, check=True, env=env, capture_output=True)
    return "file://" + d


def case_build_network(plane, edge, fx):
    """A Dockerfile's RUN cannot reach the host: not a loopback listener, not
    the plane (loopback), not a listener on the host's other addresses."""
    lo, anyaddr = Listener("127.0.0.1"), Listener("0.0.0.0")
    plane_port = int(plane.url.rsplit(":", 1)[1].split("/")[0])
    targets = ["127.0.0.1:%d" % lo.port, "127.0.0.1:%d" % plane_port] + \
        ["%s:%d" % (a, anyaddr.port) for a in host_addresses()]
    tmp = tempfile.mkdtemp(prefix="agent-build-net-")
    url = git_repo(tmp, "repo", {"Dockerfile": (
        "FROM %s\n"
        "RUN for t in %s; do if nc -w 3 ${t%%:*} ${t#*:} </dev/null >/dev/null 2>&1; then "
        "echo \"build reached $t\"; exit 1; fi; echo \"build could not reach $t\"; done\n"
        % (fx["FIXTURE_WEB_V1_IMAGE"], " ".join(targets)))})
    app, dep = str(uuid.uuid4()), str(uuid.uuid4())
    src = {"type": "git", "repository_url": url, "branch": "main", "commit_sha": None,
           "dockerfile_path": "Dockerfile", "build_context": ".", "build_args": {}}
    j = run_job(plane, "app.deploy", app_payload(app, dep, src), timeout=300)
    text = "\n".join(j["lines"])
    check(j["status"] == "succeeded", "build network: the build succeeds", (j.get("error"), text[-1500:]))
    for t in targets:
        check("build could not reach %s" % t in text, "build network: %s unreachable" % t, text[-1500:])
    check(lo.accepted == 0 and anyaddr.accepted == 0, "build network: no connection accepted",
          (lo.accepted, anyaddr.accepted))
    lo.close()
    anyaddr.close()
    run_job(plane, "app.remove", {"app_id": app, "deployment_id": None})
    shutil.rmtree(tmp, ignore_errors=True)


def case_build_paths_stay_inside(plane, edge, fx):
    """dockerfile_path and build_context never follow a symbolic link."""
    tmp = tempfile.mkdtemp(prefix="agent-build-link-")
    os.makedirs(os.path.join(tmp, "outside"))
    with open(os.path.join(tmp, "outside", "Dockerfile"), "w") as f:
        f.write("FROM %s\n" % fx["FIXTURE_WEB_V1_IMAGE"])
    url = git_repo(tmp, "repo", {"Dockerfile": "FROM %s\n" % fx["FIXTURE_WEB_V1_IMAGE"]},
                   links=[("Dockerfile.link", os.path.join(tmp, "outside", "Dockerfile")),
                          ("ctx.link", os.path.join(tmp, "outside"))])
    for df, ctx, want in (("Dockerfile.link", ".", "dockerfile Dockerfile.link is not a file inside"),
                          ("Dockerfile", "ctx.link", "build context ctx.link is not a directory")):
        app, dep = str(uuid.uuid4()), str(uuid.uuid4())
        src = {"type": "git", "repository_url": url, "branch": "main", "commit_sha": None,
               "dockerfile_path": df, "build_context": ctx, "build_args": {}}
        j = run_job(plane, "app.deploy", app_payload(app, dep, src), timeout=300)
        err = j.get("error") or ""
        check(j["status"] == "failed" and want in err and "symbolic link" in err,
              "build paths: %s / %s refused" % (df, ctx), err)
        check(not containers(app), "build paths: nothing started for %s / %s" % (df, ctx))
        if j["status"] != "failed":
            run_job(plane, "app.remove", {"app_id": app, "deployment_id": None})
    shutil.rmtree(tmp, ignore_errors=True)


# ------------------------------------------------------- custom hostnames

def host_payload(hostname, version, routes):
    return {"hostname": hostname, "version": version,
            "routes": [{"path_prefix": p, "app_id": a, "https_redirect": r} for p, a, r in routes]}


def deploy(plane, fx, app, image="FIXTURE_WEB_V1_ID", **kw):
    j = run_job(plane, "app.deploy", app_payload(app, str(uuid.uuid4()), {"type": "release",
                "image_id": fx[image]}, **kw))
    check(j["status"] == "succeeded", "deploy %s" % app[:8], j.get("error"))
    return j


def case_edge_hosts(plane, edge, fx):
    """edge.host: a host file routes path prefixes to two apps' upstreams,
    503 for an app without a site, re-rendered when an app's site goes,
    stale versions skipped, removed with no routes."""
    a, b, gone = str(uuid.uuid4()), str(uuid.uuid4()), str(uuid.uuid4())
    deploy(plane, fx, a)
    deploy(plane, fx, b, "FIXTURE_WEB_V2_ID")
    host = "shop.test"
    j = run_job(plane, "edge.host", host_payload(host, 3, [
        ("/", a, True), ("/index.html", b, True), ("/nosite", gone, False)]))
    check(j["status"] == "succeeded" and j["result"] == {"hostname": host, "version": 3, "routes": 3,
                                                          "skipped": False},
          "edge.host: succeeded with its result", (j.get("error"), j.get("result")))
    text = edge.host_file(host) or ""
    check("# version 3" in text and "# route /index.html %s 1" % b in text and
          "# route / %s 1" % a in text and "# route /nosite %s 0" % gone in text and
          "server_name shop.test;" in text and "location ^~ /.well-known/acme-challenge/ {" in text and
          " ssl;" not in text, "edge.host: the host file's header and server", text)
    check(edge.get(host, "/", want=200)[1].strip() == "v1", "path prefix /: the first app",
          edge.get(host, "/"))
    check(edge.get(host, "/index.html")[1].strip() == "v2", "path prefix /index.html: the second app",
          edge.get(host, "/index.html"))
    check(edge.get(host, "/nosite/x", want=503)[0] == 503, "an app without a site: 503", edge.get(host, "/nosite/x"))
    check(edge.get("other.test", "/")[0] == 404, "another host is not routed")
    # The app site of b goes: the host file is re-rendered in the same switch.
    j = run_job(plane, "app.remove", {"app_id": b, "deployment_id": None,
                                      "tenant_id": TENANT_ID, "project_id": PROJECT_ID})
    check(j["status"] == "succeeded", "remove b", j.get("error"))
    check(edge.get(host, "/index.html", want=503)[0] == 503 and edge.get(host, "/")[1].strip() == "v1",
          "an app removed: its prefix answers 503, the others still served")
    # ... and comes back: routed again without any edge.host job.
    deploy(plane, fx, b, "FIXTURE_WEB_V2_ID")
    check(edge.get(host, "/index.html", want=200)[1].strip() == "v2", "an app deployed again: routed again")
    # nginx refuses the configuration: the host file is put back as it was.
    before = edge.host_file(host)
    broken = os.path.join(edge.sites, "zz-broken.conf")
    with open(broken, "w") as f:
        f.write("this is not nginx;\n")
    j = run_job(plane, "edge.host", host_payload(host, 10, [("/", b, True)]))
    os.unlink(broken)
    check(j["status"] == "failed" and "nginx configuration test failed" in (j.get("error") or "") and
          edge.host_file(host) == before, "nginx refuses: the previous host file is back", j.get("error"))
    # A stale payload changes nothing.
    j = run_job(plane, "edge.host", host_payload(host, 2, []))
    check(j["status"] == "succeeded" and (j["result"] or {}).get("skipped") is True and
          edge.host_file(host) is not None and any("skipped" in l for l in j["lines"]),
          "a stale version is skipped", j)
    # Routes [] removes the host; an older version cannot bring it back.
    j = run_job(plane, "edge.host", host_payload(host, 4, []))
    check(j["status"] == "succeeded" and edge.host_file(host) is None and
          edge.get(host, "/", want=404)[0] == 404, "no routes: the host file is removed", j.get("error"))
    j = run_job(plane, "edge.host", host_payload(host, 3, [("/", a, True)]))
    check(j["status"] == "succeeded" and (j["result"] or {}).get("skipped") is True and
          edge.host_file(host) is None, "a version older than the removal is skipped", j.get("result"))
    # Bad payloads fail and write nothing.
    for bad, why in ((host_payload("Bad Host", 9, []), "hostname"),
                     (host_payload(host, 9, [("/a;b", a, True)]), "path_prefix"),
                     (host_payload(host, 9, [("/x", "not-a-uuid", True)]), "app_id"),
                     (host_payload(host, 9, [("/.well-known/acme-challenge/", a, True)]), "challenge")):
        j = run_job(plane, "edge.host", bad)
        check(j["status"] == "failed" and edge.host_file(host) is None, "bad payload refused: " + why,
              j.get("error"))
    # A host that an app's own site already serves is refused.
    j = run_job(plane, "edge.host", host_payload("%s.apps.test" % a[:8], 1, [("/", b, True)]))
    check(j["status"] == "failed" and "already served by app-%s.conf" % a in (j.get("error") or ""),
          "a hostname an app site serves is refused", j.get("error"))
    for app in (a, b):
        run_job(plane, "app.remove", {"app_id": app, "deployment_id": None})


def https_get(edge, host, root, path="/"):
    """(status, body, serial hex) of one HTTPS request on a new connection,
    trusting only root; (0, error, None) on failure."""
    import socket
    import ssl
    ctx = ssl.create_default_context(cafile=root)
    try:
        with socket.create_connection(("127.0.0.1", edge.tls_port), timeout=5) as raw:
            with ctx.wrap_socket(raw, server_hostname=host) as t:
                serial = t.getpeercert()["serialNumber"].lower().lstrip("0")
                t.sendall(("GET %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n" %
                           (path, host)).encode())
                data = b""
                while True:
                    chunk = t.recv(65536)
                    if not chunk:
                        break
                    data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        return int(head.split()[1]), body.decode(errors="replace"), serial
    except (OSError, ValueError, IndexError, KeyError) as e:
        return 0, str(e), None


def pebble_start(d, http_port, dns_addr, validity):
    out = subprocess.run(["bash", os.path.join(REPO, "tests/lib/pebble.sh"), "start", d,
                          str(http_port), dns_addr, str(validity)], capture_output=True, text=True)
    if out.returncode != 0:
        return None, out.stderr
    env = {}
    for part in out.stdout.strip().split()[1:]:
        k, _, v = part.partition("=")
        env[k] = v
    return env, None


def case_domain_cert(plane, edge, fx):
    """domain.cert against a real ACME CA (pebble, HTTP-01 answered by the
    edge nginx from the agent's webroot): the certificate is installed and
    served over TLS, the result names it, plain HTTP redirects per route,
    and a renewal under load switches serials without a failed request."""
    import threading
    sys.path.insert(0, os.path.join(REPO, "tests", "lib"))
    try:
        from dnsmasq import Dns
    except ImportError:
        check(False, "tests/lib/dnsmasq.py (launcher-dnscheck's test DNS) is missing")
        return
    tmp = os.path.dirname(edge.dir)
    os.chmod(tmp, 0o711)  # nginx's workers reach the webroot under the agent's state dir
    dns = Dns(state_dir=os.path.join(tmp, "dns"))
    dns.start()
    host = "tls.test"
    dns.set(host, [("A", "127.0.0.1")])
    pdir = os.path.join(tmp, "pebble")
    # one hour of validity: renewals are "due" by the plane's word, not by lego's
    peb, why = pebble_start(pdir, edge.port, "127.0.0.1:%d" % dns.port, 3600)
    try:
        check(peb is not None, "pebble started", why)
        if peb is None:
            return
        a = str(uuid.uuid4())
        deploy(plane, fx, a)
        j = run_job(plane, "edge.host", host_payload(host, 1, [("/", a, True), ("/health", a, False)]))
        check(j["status"] == "succeeded", "edge.host for the TLS host", j.get("error"))
        check(edge.get(host, "/", want=200)[1].strip() == "v1",
              "served over plain HTTP before the certificate")
        acme = {"directory_url": peb["PEBBLE_DIRECTORY_URL"], "email": "ops@example.com",
                "ca_pem": open(peb["PEBBLE_CA_FILE"]).read()}
        j = run_job(plane, "domain.cert", {"hostname": host, "renew": False, "acme": acme}, timeout=240)
        r = j.get("result") or {}
        check(j["status"] == "succeeded", "domain.cert succeeded", (j.get("error"), j.get("lines")))
        check(set(r) == {"hostname", "issuer", "serial", "not_before", "expires_at"} and
              r.get("hostname") == host and "Pebble" in r.get("issuer", "") and
              all(ch in "0123456789abcdef" for ch in r.get("serial", "x")),
              "domain.cert result fields", r)
        try:
            import datetime
            nb = datetime.datetime.fromisoformat(r["not_before"].replace("Z", "+00:00"))
            na = datetime.datetime.fromisoformat(r["expires_at"].replace("Z", "+00:00"))
            check(3500 <= (na - nb).total_seconds() <= 3700, "expires_at: the CA's validity", r)
        except (KeyError, ValueError) as e:
            check(False, "not_before/expires_at are RFC 3339", (e, r))
        st, body, serial = https_get(edge, host, peb["PEBBLE_ROOT_FILE"])
        check(st == 200 and body.strip() == "v1" and serial == r.get("serial", "").lstrip("0"),
              "served over TLS with the issued certificate", (st, body, serial, r.get("serial")))
        curl = subprocess.run(["curl", "-s", "--cacert", peb["PEBBLE_ROOT_FILE"], "--resolve",
                               "%s:%d:127.0.0.1" % (host, edge.tls_port),
                               "https://%s:%d/" % (host, edge.tls_port)], capture_output=True, text=True)
        check(curl.returncode == 0 and curl.stdout.strip() == "v1", "curl --cacert <pebble root> fetches it",
              (curl.returncode, curl.stdout, curl.stderr))
        key = os.path.join(tmp, "state", "certs", host, "key.pem")
        check(os.path.exists(key) and os.stat(key).st_mode & 0o777 == 0o600, "the key is 0600")
        # The reload is asynchronous: the answer and its Location from the
        # same request (an old worker may still answer the next one).
        st, _, loc = edge.get_full(host, "/some/path?q=1", want=308)
        check(st == 308 and loc == "https://%s:%d/some/path?q=1" % (host, edge.tls_port),
              "plain HTTP: 308 to https once the certificate exists", (st, loc))
        check(edge.get(host, "/health")[0] == 200, "a route without https_redirect stays on plain HTTP")
        check(edge.get(host, "/.well-known/acme-challenge/none")[0] == 404,
              "the challenge path is never redirected")
        text = json.dumps(j) + open(os.path.join(tmp, "agent.log")).read()
        check("PRIVATE KEY" not in text, "no key material in the job or the agent log")

        # Renewal while requests run: every one answered, the new serial served.
        stop, results = threading.Event(), []

        def load():
            while not stop.is_set():
                results.append(https_get(edge, host, peb["PEBBLE_ROOT_FILE"]))

        t = threading.Thread(target=load, daemon=True)
        t.start()
        j = run_job(plane, "domain.cert", {"hostname": host, "renew": True, "acme": acme}, timeout=240)
        r2 = j.get("result") or {}
        time.sleep(0.5)  # let requests run on the new configuration too
        stop.set()
        t.join(10)
        check(j["status"] == "succeeded" and r2.get("serial") not in (None, r.get("serial")),
              "renewal: a new certificate", (j.get("error"), r2))
        bad = [x for x in results if x[0] != 200]
        check(len(results) > 5 and not bad, "renewal: no failed request among %d" % len(results), bad[:3])
        check(any(x[2] == r2.get("serial", "").lstrip("0") for x in results) and
              https_get(edge, host, peb["PEBBLE_ROOT_FILE"])[2] == r2.get("serial", "").lstrip("0"),
              "renewal: the new serial is served", (r2.get("serial"), results[-1:]))
        run_job(plane, "app.remove", {"app_id": a, "deployment_id": None})
    finally:
        subprocess.run(["bash", os.path.join(REPO, "tests/lib/pebble.sh"), "stop", pdir],
                       capture_output=True)
        dns.stop()


def case_objstore_provision(plane, edge, fx):
    """objstore.provision with the web fixture standing in for MinIO (its
    start command and health path given): the container
    lnchr-objstore-<id> runs, labelled launcher.objstore, the data volume
    mounted, the root credentials in its env and not in its command, the
    port published and answering at the result's endpoint; the instance
    report names it by objstore_id (its crash signal, as a database's); again:
    the same container; a store that exits is failed and its container
    removed."""
    sid, vol = str(uuid.uuid4()), str(uuid.uuid4())
    pw = "RootPw-%s" % uuid.uuid4().hex[:12]
    p = {"store_id": sid, "image": fx["FIXTURE_WEB_V1_IMAGE"], "root_user": "launcher",
         "root_password": pw, "port": 8080, "volume_id": vol, "data_path": "/data",
         "start_command": "exec /start.sh", "health_path": "/health"}
    name = "lnchr-objstore-" + sid
    try:
        j = run_job(plane, "objstore.provision", p)
        r = j.get("result") or {}
        check(j["status"] == "succeeded" and r.get("endpoint", "").startswith("http://"),
              "objstore.provision succeeded with an endpoint", j)
        check(pw not in json.dumps({k: v for k, v in j.items() if k != "payload"}),
              "objstore.provision: no root password in lines/result/error")
        code, doc = engine("GET", "/containers/%s/json" % name)
        check(code == 200 and doc["State"]["Running"], "the store's container runs", code)
        if code == 200:
            labels = doc["Config"]["Labels"] or {}
            check(labels.get("launcher.objstore") == sid and labels.get("launcher.managed") == "1" and
                  "launcher.app" not in labels, "labelled launcher.objstore", labels)
            env = doc["Config"]["Env"] or []
            check("MINIO_ROOT_PASSWORD=%s" % pw in env and "MINIO_ROOT_USER=launcher" in env and
                  not any(e.startswith("PORT=") for e in env), "root credentials in the env, no PORT", env)
            check(pw not in json.dumps(doc["Config"].get("Cmd")), "no password in the command")
            mounts = doc.get("Mounts") or []
            check(any(m.get("Name") == "lnchr-vol-" + vol and m.get("Destination") == "/data"
                      for m in mounts), "the labelled data volume on /data", mounts)
        if r.get("endpoint"):
            out = subprocess.run(["curl", "-s", "-m", "10", r["endpoint"] + "/health"],
                                 capture_output=True, text=True).stdout
            check(out == "ok\n", "the endpoint answers", out)
        seen = plane.wait(lambda pl: any(i.get("objstore_id") == sid and i.get("state") == "running"
                                         and i.get("container_id") == r.get("container_id")
                                         for b in pl.instances[-3:] for i in b), 30)
        check(seen, "the store's container in the instance report, by objstore_id",
              plane.instances[-1:])
        j2 = run_job(plane, "objstore.provision", p)
        check(j2["status"] == "succeeded" and (j2.get("result") or {}).get("container_id") ==
              r.get("container_id"), "again: the same container", j2)
        bad = dict(p, store_id=str(uuid.uuid4()), volume_id=str(uuid.uuid4()),
                   start_command="echo no store; exit 3")
        j3 = run_job(plane, "objstore.provision", bad)
        code, _ = engine("GET", "/containers/lnchr-objstore-%s/json" % bad["store_id"])
        check(j3["status"] == "failed" and code == 404, "a store that exits: failed, container removed",
              (j3.get("error"), code))
        engine("DELETE", "/volumes/lnchr-vol-%s" % bad["volume_id"])
    finally:
        engine("DELETE", "/containers/%s?force=1" % name)
        engine("DELETE", "/volumes/lnchr-vol-%s" % vol)


CASES = [case_deploy_roll_rollback, case_pull_failure, case_git_build_and_worker, case_cancel,
         case_host_ports, case_build_network, case_build_paths_stay_inside, case_edge_hosts,
         case_domain_cert, case_objstore_provision]


def fixtures():
    out = subprocess.run(["bash", os.path.join(REPO, "tests/fixtures/build.sh"), "--engine-socket",
                          SOCK], capture_output=True, text=True)
    if out.returncode != 0:
        print(out.stderr[-2000:])
        return None
    fx = {}
    for line in out.stdout.splitlines():
        if line.startswith("export "):
            k, _, v = line[7:].partition("=")
            fx[k] = v.strip("'\"")
    return fx


def main():
    if not os.access(AGENT, os.X_OK):
        print("agent app-jobs: 0 passed, 1 failed (no %s)" % AGENT)
        return 1
    ping = subprocess.run(["curl", "-s", "-m", "3", "--unix-socket", SOCK, "http://d/_ping"],
                          capture_output=True, text=True).stdout if SOCK else ""
    if ping != "OK":
        print("agent app-jobs: 0 passed, 1 failed (no engine at $AGENT_ENGINE_SOCKET)")
        return 1
    fx = fixtures()
    if fx is None:
        print("agent app-jobs: 0 passed, 1 failed (fixtures did not build)")
        return 1
    for case in CASES:
        if ONLY and ONLY not in case.__name__:
            continue
        tmp = tempfile.mkdtemp(prefix="agent-app-")
        plane = Plane(tmp).start()
        with open(os.path.join(tmp, "token"), "w") as f:
            f.write(plane.token + "\n")
        os.chmod(os.path.join(tmp, "token"), 0o600)
        edge = Edge(tmp)
        agent = Agent(plane, tmp, edge, getattr(case, "agent_args", lambda: [])())
        before = failed
        try:
            case(plane, edge, fx)
        except Exception:
            traceback.print_exc()
            check(False, case.__name__ + " raised")
        finally:
            agent.stop()
            plane.stop()
            edge.stop()
        text = agent.output()
        check(SECRET not in text, case.__name__ + ": no env value in the agent log")
        check("AddressSanitizer" not in text and "runtime error:" not in text,
              case.__name__ + ": no sanitizer reports")
        if failed != before or os.environ.get("AGENT_TEST_SHOW_LOG"):
            print("---- agent log of %s ----\n%s" % (case.__name__, text[-6000:]))
        shutil.rmtree(tmp, ignore_errors=True)
        print("%s: done" % case.__name__)
    print("agent app-jobs: %d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
