"""Agents on more servers: the agent's downloads served by the plane's nginx
at /agent/, GET /servers/:id/install-script, and the install_command run for
real in a fresh Debian 12 root (tests/fixtures/agentroot.sh: an overlay in a
mount namespace of its own, chrooted) that reaches the stack's nginx on
loopback: it downloads from the plane only, verifies, installs, and the
agent it installed goes online without its token in any argv or environment."""
import grp
import hashlib
import os
import shutil
import stat
import subprocess
import tempfile
import uuid

from lib import (BIN, HTTPS_PORT, REPO, STATE, Client, Skip, assert_error, at_module_end, make_key,
                 new_user, registered, request, stack_env)
from test_agent_e2e import _wait
from test_servers import _server

DIST = os.path.join(STATE, "dist", "agent")
PATH_ENV = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def _arch():
    return subprocess.run(["dpkg", "--print-architecture"], capture_output=True, text=True,
                          check=True).stdout.strip()


def _sha256(data):
    return hashlib.sha256(data).hexdigest()


def test_nginx_serves_the_agent_downloads_as_built():
    arch = _arch()
    build = os.path.join(os.path.dirname(BIN), "agent-dist")
    sums = request("GET", "/agent/SHA256SUMS")
    assert sums.status == 200 and sums.headers["content-type"].startswith("text/plain"), sums
    lines = {name: h for h, name in (line.split("  ", 1) for line in sums.raw.decode().splitlines())}
    assert set(lines) >= {"install.sh", "launcher-agent.service", "linux-%s/launcher-agent" % arch}, lines
    b = request("GET", "/agent/linux-%s/launcher-agent" % arch)
    assert b.status == 200 and b.headers["content-type"] == "application/octet-stream", b.headers
    assert b.headers["x-content-type-options"] == "nosniff" and "etag" in b.headers
    # The bytes make built, and the checksum the script verifies.
    with open(os.path.join(build, "linux-%s" % arch, "launcher-agent"), "rb") as f:
        assert b.raw == f.read()
    assert _sha256(b.raw) == lines["linux-%s/launcher-agent" % arch]
    s = request("GET", "/agent/install.sh")
    assert s.status == 200 and s.headers["content-type"] == "text/x-shellscript; charset=utf-8", s.headers
    with open(os.path.join(REPO, "conf", "agent", "install.sh"), "rb") as f:
        assert s.raw == f.read()
    assert _sha256(s.raw) == lines["install.sh"]
    u = request("GET", "/agent/launcher-agent.service")
    assert u.status == 200 and u.headers["content-type"].startswith("text/plain") and b"ExecStart=" in u.raw
    # No listing, no other file, no way out of the tree.
    for path in ("/agent/", "/agent/linux-%s/" % arch, "/agent/nope", "/agent/linux-%s" % arch,
                 "/agent/%2e%2e/launcher.conf"):
        r = request("GET", path)
        assert_error(r, 404, "NOT_FOUND")
    # A tenant slugged "agent" keeps its API (a plain prefix location).
    assert request("GET", "/agent/api/v1/auth/me").error["message"] == "tenant not found"


def test_install_script_route_fills_in_the_plane_tenant_and_server():
    c, _ = registered()
    s = _server(c)
    r = c.get("/servers/%s/install-script" % s["id"])
    assert r.status == 200, r
    assert r.headers["content-type"] == "text/x-shellscript; charset=utf-8", r.headers
    assert r.headers["cache-control"] == "no-store" and "x-plane-version" in r.headers
    text = r.raw.decode()
    with open(os.path.join(DIST, "install.sh")) as f:
        template = f.read()
    plane = "https://localhost:%d" % HTTPS_PORT
    filled = {"plane": plane, "tenant": c.tenant, "server": s["name"]}
    want = template
    for k, v in filled.items():
        assert "\n%s=''\n" % k in want
        want = want.replace("\n%s=''\n" % k, "\n%s=%s\n" % (k, v), 1)
    assert text == want
    # No secret in it: the token stays on the server, in its file.
    assert s["agent_token"] not in text
    assert "lnchr_at_" not in text.replace("'lnchr_at_...'", "")
    # HEAD, a user who is not an admin, a read key: the same script.
    assert c.call("HEAD", "/servers/%s/install-script" % s["id"]).status == 200
    u = new_user(c)
    assert u.get("/servers/%s/install-script" % s["id"]).raw == r.raw
    reader = Client(c.tenant, key=make_key(c, scopes=["read"])["key"])
    assert reader.get("/servers/%s/install-script" % s["id"]).raw == r.raw
    deployer = Client(c.tenant, key=make_key(c, scopes=["deploy"])["key"])
    assert_error(deployer.get("/servers/%s/install-script" % s["id"]), 403, "FORBIDDEN")
    assert_error(Client(c.tenant).get("/servers/%s/install-script" % s["id"]), 401, "UNAUTHORIZED")
    assert_error(c.get("/servers/%s/install-script" % uuid.uuid4()), 404, "NOT_FOUND")
    assert_error(c.get("/servers/not-a-uuid/install-script"), 404, "NOT_FOUND")
    # Another tenant's server is not found.
    other, _ = registered()
    assert_error(other.get("/servers/%s/install-script" % s["id"]), 404, "NOT_FOUND")


def test_install_command_writes_the_token_with_a_builtin_and_downloads_from_the_plane():
    c, _ = registered()
    s = _server(c)
    plane = "https://localhost:%d" % HTTPS_PORT
    want = ("install -d -m 0700 /etc/launcher && (umask 077 && printf '%%s\\n' '%s' > /etc/launcher/agent.token)"
            " && curl -fsS --proto =https %s/agent/install.sh | sh -s -- --plane %s --tenant %s"
            % (s["agent_token"], plane, plane, c.tenant))
    assert s["install_command"] == want, s["install_command"]
    r = c.post("/servers/%s/agent-token" % s["id"])
    assert r.status == 200 and r.data["install_command"] == want.replace(s["agent_token"], r.data["agent_token"])


# ------------------------------------------------------ a fresh server


class Root:
    """A fresh Debian 12 server: the fixture's root as the lower layer of an
    overlay, mounted (with /proc, /sys, /dev and the stack's engine socket as
    the Docker socket) in a mount namespace of its own for each command, so
    that nothing stays mounted on the host; its writes stay in upper/."""

    _lower = None

    def __init__(self):
        if "build-san" in BIN:
            raise Skip("the ASan build's agent needs the sanitizer runtime, not on a fresh server")
        if Root._lower is None:
            out = subprocess.run(["bash", os.path.join(REPO, "tests", "fixtures", "agentroot.sh")],
                                 capture_output=True, text=True, timeout=1800)
            assert out.returncode == 0, out.stderr[-3000:]
            Root._lower = out.stdout.strip().split("FIXTURE_AGENTROOT=", 1)[1]
        self.dir = tempfile.mkdtemp(prefix="agentroot.", dir=STATE)
        at_module_end(lambda: shutil.rmtree(self.dir, ignore_errors=True))
        for d in ("upper", "work", "merged"):
            os.mkdir(os.path.join(self.dir, d))
        self.upper = os.path.join(self.dir, "upper")
        self.engine = stack_env()["LAUNCHER_ENGINE_SOCKET"]
        os.makedirs(self.path("run"), exist_ok=True)
        open(self.path("run/docker.sock"), "w").close()

    def engine_group(self):
        """The engine socket 0660 with a group "docker" of this server (and
        of no one on the host), as a Docker host has it; restored at the
        module's end."""
        st = os.stat(self.engine)
        gid = 64000
        while True:
            try:
                grp.getgrgid(gid)
                gid += 1
            except KeyError:
                break
        out = self.sh("groupadd --gid %d docker\n" % gid)
        assert out.returncode == 0, out
        os.chown(self.engine, -1, gid)
        os.chmod(self.engine, 0o660)

        def restore():
            os.chown(self.engine, -1, st.st_gid)
            os.chmod(self.engine, stat.S_IMODE(st.st_mode))
        at_module_end(restore)

    def path(self, p):
        """A file the commands wrote (or will see), in the upper layer."""
        return os.path.join(self.upper, p.lstrip("/"))

    def argv(self, command, user=None):
        m = os.path.join(self.dir, "merged")
        setup = ("set -e; mount -t overlay overlay -o lowerdir={lower},upperdir={d}/upper,workdir={d}/work {m};"
                 " mount -t proc proc {m}/proc; mount -t sysfs -o ro sysfs {m}/sys; mount --rbind /dev {m}/dev;"
                 " mount --bind {engine} {m}/run/docker.sock; exec chroot {spec} {m} /usr/bin/env -i"
                 " PATH={path} HOME=/root LANG=C.UTF-8 ").format(
                     lower=Root._lower, d=self.dir, m=m, engine=self.engine, path=PATH_ENV,
                     spec="--userspec=%s" % user if user else "")
        return ["unshare", "--mount", "--propagation", "private", "bash", "-c", setup + command]

    def sh(self, script, trace=None, timeout=120):
        """script run by the root's /bin/sh read from its stdin (as typed)."""
        argv = self.argv("/bin/sh -s")
        if trace:
            argv = ["strace", "-f", "-qq", "-v", "-s", "65536", "-e", "trace=execve", "-o", trace] + argv
        return subprocess.run(argv, input=script, capture_output=True, text=True, timeout=timeout)


def _token_file(root, token, mode=0o600):
    os.makedirs(root.path("/etc/launcher"), mode=0o700, exist_ok=True)
    p = root.path("/etc/launcher/agent.token")
    with open(p, "w") as f:
        f.write(token + "\n")
    os.chmod(p, mode)


def test_install_command_on_a_fresh_server_installs_and_the_agent_goes_online():
    c, _ = registered()
    s = _server(c, heartbeat_interval_seconds=1)
    root = Root()
    # The plane's self-signed CA is trusted by this server (as a site's own
    # CA would be, in the system bundle that curl and the agent read): the
    # install_command runs exactly as the API answered it.
    bundle = "/etc/ssl/certs/ca-certificates.crt"
    os.makedirs(os.path.dirname(root.path(bundle)), exist_ok=True)
    with open(os.path.join(Root._lower, bundle.lstrip("/")), "rb") as f, \
            open(os.path.join(STATE, "tls", "cert.pem"), "rb") as g, open(root.path(bundle), "wb") as out:
        out.write(f.read() + g.read())
    # The engine's socket as Docker's is: 0660, group docker (the stack's
    # Podman socket, given a group that only this server has, for the test).
    root.engine_group()
    trace = os.path.join(root.dir, "execve.trace")
    out = root.sh(s["install_command"] + "\n", trace=trace)
    assert out.returncode == 0, out.stdout + out.stderr
    log = out.stdout + out.stderr
    arch = _arch()
    assert "sha256 verified" in log and "systemd is not running here" in log, log
    # Every program it ran: curl fetched from the plane only; the token was in
    # no argv and no environment of any of them (printf is the shell's).
    with open(trace) as f:
        traced = f.read()
    execs = [line for line in traced.splitlines() if "execve(" in line]
    assert any('"curl"' in line for line in execs) and any("sha256sum" in line for line in execs), execs[:20]
    assert s["agent_token"] not in traced
    for line in execs:
        if '"curl"' in line:
            assert "https://localhost:%d/agent/" % HTTPS_PORT in line, line
    # What it installed: the served binary, a 0600 token file, the config.
    with open(root.path("/usr/local/bin/launcher-agent"), "rb") as f, \
            open(os.path.join(DIST, "linux-%s" % arch, "launcher-agent"), "rb") as g:
        assert f.read() == g.read()
    with open(root.path("/etc/systemd/system/launcher-agent.service")) as f:
        unit = f.read()
    user = ([x[len("User="):] for x in unit.splitlines() if x.startswith("User=")] or [None])[0]
    assert user == "launcher-agent", unit
    st = os.stat(root.path("/etc/launcher/agent.token"))
    assert stat.S_IMODE(st.st_mode) == 0o600 and (user or st.st_uid == 0), st
    # The edge's site directory: made for the agent (its unit's ReadWritePaths
    # names it without "-", so the agent may write there under ProtectSystem).
    rw = [x for x in unit.splitlines() if x.startswith("ReadWritePaths=")]
    assert rw and "/etc/nginx/launcher-sites" in rw[0].split("=", 1)[1].split(), rw
    sites = os.stat(root.path("/etc/nginx/launcher-sites"))
    assert stat.S_ISDIR(sites.st_mode) and sites.st_uid == st.st_uid, sites
    with open(root.path("/etc/launcher/agent.token")) as f:
        assert f.read() == s["agent_token"] + "\n"
    if user:
        # The unit's user: created by the script, owns the token (still
        # 0600), reads the configuration, is in the engine socket's group.
        with open(root.path("/etc/passwd")) as f:
            uid = [int(x.split(":")[2]) for x in f if x.startswith(user + ":")]
        assert uid == [st.st_uid], (uid, st)
        with open(root.path("/etc/group")) as f:
            docker = [x.strip() for x in f if x.startswith("docker:")]
        assert docker and docker[0].split(":")[3].split(",").count(user) == 1, docker
        assert stat.S_IMODE(os.stat(root.path("/etc/launcher")).st_mode) == 0o750
    else:
        assert stat.S_IMODE(os.stat(root.path("/etc/launcher")).st_mode) == 0o700
    with open(root.path("/etc/launcher/agent.conf")) as f:
        conf = f.read()
    assert "plane_url = https://localhost:%d\n" % HTTPS_PORT in conf and "tenant = %s\n" % c.tenant in conf
    assert "token_file = /etc/launcher/agent.token\n" in conf and s["agent_token"] not in conf
    assert "engine_socket = /var/run/docker.sock\n" in conf
    # The unit's ExecStart, run as systemd would (none runs here).
    exec_start = [x[len("ExecStart="):] for x in unit.splitlines() if x.startswith("ExecStart=")][0]
    assert exec_start.startswith("/usr/local/bin/launcher-agent "), exec_start
    agent_log = open(os.path.join(root.dir, "agent.log"), "w")
    proc = subprocess.Popen(root.argv(exec_start, user=user), stdout=agent_log, stderr=agent_log)

    def end():
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
    at_module_end(end)
    try:
        _wait("online", lambda: c.get("/servers/" + s["id"]).data["status"] == "online" or
              (proc.poll() is not None and open(agent_log.name).read() + " (exited)"))
        assert proc.poll() is None, open(agent_log.name).read()
        srv = c.get("/servers/" + s["id"]).data
        assert srv["status"] == "online" and srv["agent_version"], srv
        # The agent (this very process: unshare, bash, chroot and env exec'ed
        # into it) has no token in its argv or environment.
        with open("/proc/%d/cmdline" % proc.pid, "rb") as f:
            cmdline = f.read()
        with open("/proc/%d/environ" % proc.pid, "rb") as f:
            environ = f.read()
        assert cmdline.split(b"\0")[:3] == [b"/usr/local/bin/launcher-agent", b"-c", b"/etc/launcher/agent.conf"]
        assert s["agent_token"].encode() not in cmdline and s["agent_token"].encode() not in environ
        assert b"LAUNCHER_AGENT_TOKEN" not in environ
        if user:
            with open("/proc/%d/status" % proc.pid) as f:
                uids = [x.split()[1:] for x in f if x.startswith("Uid:")][0]
            assert uids == [str(st.st_uid)] * 4, uids
    finally:
        end()


def test_install_script_with_a_ca_file_and_what_it_refuses():
    c, _ = registered()
    s = _server(c)
    script = c.get("/servers/%s/install-script" % s["id"])
    assert script.status == 200
    root = Root()
    os.makedirs(root.path("/root"), exist_ok=True)
    with open(root.path("/root/install.sh"), "wb") as f:
        f.write(script.raw)
    os.makedirs(root.path("/etc"), exist_ok=True)
    shutil.copy(os.path.join(STATE, "tls", "cert.pem"), root.path("/etc/plane-ca.pem"))

    def run(args):
        return root.sh("sh /root/install.sh %s\n" % args)

    # No token file, then one that others may read: refused before any download.
    out = run("--ca-file /etc/plane-ca.pem --no-start")
    assert out.returncode != 0 and "no token file /etc/launcher/agent.token" in out.stderr, out
    _token_file(root, s["agent_token"], 0o644)
    out = run("--ca-file /etc/plane-ca.pem --no-start")
    assert out.returncode != 0 and "has mode 644: it must be 0600" in out.stderr, out
    assert not os.path.exists(root.path("/usr/local/bin/launcher-agent"))
    os.chmod(root.path("/etc/launcher/agent.token"), 0o600)
    # The plane's certificate is self-signed: without its CA nothing is fetched.
    out = run("--no-start")
    assert out.returncode != 0 and "cannot download https://localhost:%d/agent/SHA256SUMS" % HTTPS_PORT \
        in out.stderr, out
    assert not os.path.exists(root.path("/usr/local/bin/launcher-agent"))
    # A binary that is not the one SHA256SUMS lists is not installed.
    served = os.path.join(DIST, "linux-%s" % _arch(), "launcher-agent")
    backup = served + ".orig"
    shutil.copy2(served, backup)
    try:
        with open(served, "ab") as f:
            f.write(b"\0")
        out = run("--ca-file /etc/plane-ca.pem --no-start")
    finally:
        os.replace(backup, served)
    assert out.returncode != 0 and "do not match the plane's SHA256SUMS" in out.stderr, out
    assert not os.path.exists(root.path("/usr/local/bin/launcher-agent"))
    # With the CA: installed, the agent's config names it, and the agent's
    # heartbeat is accepted by the plane.
    out = run("--ca-file /etc/plane-ca.pem --no-start")
    assert out.returncode == 0, out
    assert "for the server %s" % s["name"] in open(root.path("/etc/launcher/agent.conf")).read()
    assert "ca_file = /etc/plane-ca.pem\n" in open(root.path("/etc/launcher/agent.conf")).read()
    hb = root.sh("/usr/local/bin/launcher-agent -c /etc/launcher/agent.conf --once-heartbeat\n")
    assert hb.returncode == 0, hb
    assert c.get("/servers/" + s["id"]).data["status"] == "online"
    # Run again (an upgrade, a rotated token): the edited config is kept.
    with open(root.path("/etc/launcher/agent.conf"), "a") as f:
        f.write("log_level = debug\n")
    out = run("--ca-file /etc/plane-ca.pem --no-start")
    assert out.returncode == 0 and "kept your /etc/launcher/agent.conf" in out.stdout, out
    assert os.path.exists(root.path("/etc/launcher/agent.conf.dist"))
