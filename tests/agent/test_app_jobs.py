#!/usr/bin/env python3
"""test_app_jobs.py - launcher-agent's app.* jobs against a fake plane
(tests/agent/fake_plane.py) and a real engine (the throwaway stack's
Podman): deploy a release, roll to another, a broken release rolled back,
a failed pull, a git build, scale, exec, stop/start, cancel, remove; the
edge site files through a private nginx; the instances and logs reports.

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
        end = time.time() + 3
        while True:
            st, body = self._get(host, path)
            if want is None or st == want or time.time() > end:
                return st, body
            time.sleep(0.1)

    def _get(self, host, path):
        try:
            c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
            c.request("GET", path, headers={"Host": host})
            r = c.getresponse()
            return r.status, r.read().decode(errors="replace")
        except OSError as e:
            return 0, str(e)

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

CASES = [case_deploy_roll_rollback, case_pull_failure, case_git_build_and_worker, case_cancel,
         case_host_ports, case_build_network, case_build_paths_stay_inside]


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
