"""End to end: the real launcher-agent against the real plane (through
nginx, TLS verified with the stack's CA) and the real Podman service."""
import os
import signal
import subprocess
import time
import uuid

from lib import BIN, CONF, STATE, HTTPS_PORT, at_module_end, psql, registered, stack_env
from test_servers import _enqueue, scheduler


class RealAgent:
    def __init__(self, tenant, token, name):
        env = stack_env()
        self.dir = os.path.join(STATE, "agents", name)
        os.makedirs(self.dir, exist_ok=True)
        self.token_file = os.path.join(self.dir, "token")
        fd = os.open(self.token_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.write(fd, (token + "\n").encode())
        os.close(fd)
        self.args = [os.path.join(BIN, "launcher-agent"), "--plane", "https://localhost:%d" % HTTPS_PORT,
                     "--tenant", tenant, "--token-file", self.token_file,
                     "--ca", os.path.join(STATE, "tls", "cert.pem"),
                     "--engine-socket", env["LAUNCHER_ENGINE_SOCKET"], "--state-dir", self.dir,
                     "--heartbeat-interval", "1", "--poll-interval", "0.2",
                     "--nginx-test-command", "nginx -t -q -p %s/nginx -c %s/nginx/nginx.conf" % (STATE, STATE)]
        if env.get("LAUNCHER_FIREWALL_CHAIN"):  # the stack's isolation chains (its stop removes them)
            self.args += ["--firewall-chain", env["LAUNCHER_FIREWALL_CHAIN"]]
        self.log = os.path.join(self.dir, "agent.log")
        self.proc = None

    def start(self):
        self.proc = subprocess.Popen(self.args, stderr=open(self.log, "a"), stdout=subprocess.DEVNULL)
        at_module_end(self.end)
        return self

    def end(self):
        """Killed if still running (at the end of the module that started it)."""
        if self.proc is not None and self.proc.poll() is None:
            self.kill()

    def kill(self, sig=signal.SIGKILL):
        self.proc.send_signal(sig)
        return self.proc.wait(timeout=20)


def _wait(what, fn, timeout=20):
    deadline = time.time() + timeout
    while time.time() < deadline:
        v = fn()
        if v:
            return v
        time.sleep(0.2)
    raise AssertionError("timed out waiting for " + what)


def _podman_version():
    out = subprocess.run(["podman", "--version"], capture_output=True, text=True).stdout.split()
    return out[-1]


def _meminfo_total():
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) * 1024


def test_real_agent_goes_online_with_real_facts_and_runs_diagnostics():
    c, _ = registered()
    s = c.post("/servers", {"name": "e2e-" + uuid.uuid4().hex[:6], "heartbeat_interval_seconds": 1}).data
    a = RealAgent(c.tenant, s["agent_token"], s["name"]).start()
    try:
        srv = _wait("online", lambda: (lambda d: d if d["status"] == "online" else None)(
            c.get("/servers/" + s["id"]).data))
        assert srv["engine"] == "podman" and srv["engine_version"] == _podman_version(), srv
        assert srv["cpus"] == os.cpu_count() and srv["memory_bytes"] == _meminfo_total(), srv
        # Its wake-up channel through nginx to the stack's launcher-ws.
        _wait("wake-up channel", lambda: "wake-up channel connected" in open(a.log).read())
        st = c.get("/servers/%s/status" % s["id"]).data
        assert st["resources"]["memory_total_bytes"] == _meminfo_total()
        assert 0 <= st["resources"]["cpu_percent"] <= 100 and st["resources"]["disk_total_bytes"] > 0
        run = c.post("/servers/%s/diagnostics" % s["id"])
        assert run.status == 201 and run.data["status"] == "queued", run
        done = _wait("diagnostics", lambda: (lambda d: d if d["status"] in ("succeeded", "failed") else None)(
            c.get("/servers/%s/diagnostics/%s" % (s["id"], run.data["id"])).data), timeout=60)
        assert done["status"] == "succeeded", done
        checks = {x["name"]: x for x in done["checks"]}
        assert set(checks) == {"engine_ping", "engine_version", "network_isolation", "disk_headroom",
                               "memory_headroom", "dns_resolution", "clock_skew", "edge_nginx",
                               "plane_reachability"}, checks
        assert checks["engine_ping"]["status"] == "ok" and checks["engine_version"]["status"] == "ok"
        # Root with iptables here: the isolation chains are in force.
        iso = checks["network_isolation"]
        assert (iso["status"], iso.get("value")) == ("ok", "enforced"), iso
        assert checks["edge_nginx"]["status"] == "ok", checks["edge_nginx"]
        assert checks["plane_reachability"]["status"] == "ok", checks["plane_reachability"]
        assert all(x["status"] in ("ok", "warn", "fail") and x.get("detail") is not None for x in checks.values())
    finally:
        a.kill(signal.SIGTERM)


def test_killed_agent_goes_offline_and_comes_back():
    c, _ = registered()
    s = c.post("/servers", {"name": "e2e-" + uuid.uuid4().hex[:6], "heartbeat_interval_seconds": 1}).data
    a = RealAgent(c.tenant, s["agent_token"], s["name"]).start()
    _wait("online", lambda: c.get("/servers/" + s["id"]).data["status"] == "online")
    a.kill()
    # three heartbeat intervals pass in the database, not by sleeping
    psql("UPDATE servers SET last_seen_at = now() - interval '10 seconds' WHERE id = '%s'" % s["id"],
         user="launcher_owner")
    scheduler()
    assert c.get("/servers/" + s["id"]).data["status"] == "offline"
    a.start()
    try:
        _wait("online again", lambda: c.get("/servers/" + s["id"]).data["status"] == "online")
    finally:
        a.kill(signal.SIGTERM)


def test_agent_killed_mid_job_the_job_is_retried_once_then_failed():
    c, _ = registered()
    s = c.post("/servers", {"name": "e2e-" + uuid.uuid4().hex[:6], "heartbeat_interval_seconds": 1}).data
    job = _enqueue(s["id"], c.tid, payload='{"sleep_ms": 60000, "marker": "long"}', lease=5)[0]
    state = lambda: psql("SELECT status || ':' || attempts FROM jobs WHERE id = '%s'" % job, user="launcher_owner")[0]
    a = RealAgent(c.tenant, s["agent_token"], s["name"])
    for attempt in (1, 2):
        a.start()
        _wait("claim %d" % attempt, lambda: state() == "running:%d" % attempt)
        time.sleep(1)
        a.kill()
        # the lease runs out in the database, not by sleeping
        psql("UPDATE jobs SET lease_expires_at = now() - interval '1 second' WHERE id = '%s'" % job,
             user="launcher_owner")
        scheduler()
    row = psql("SELECT status, error FROM jobs WHERE id = '%s'" % job, user="launcher_owner")[0]
    assert row.startswith("failed|") and "lease expired on attempt 2 of 2" in row, row
    assert not os.path.exists(os.path.join(a.dir, "noop.log")), "the job completed although killed"


def test_sigterm_lets_the_running_job_finish():
    c, _ = registered()
    s = c.post("/servers", {"name": "e2e-" + uuid.uuid4().hex[:6], "heartbeat_interval_seconds": 1}).data
    job = _enqueue(s["id"], c.tid, payload='{"sleep_ms": 2000, "marker": "short"}')[0]
    a = RealAgent(c.tenant, s["agent_token"], s["name"]).start()
    _wait("claim", lambda: psql("SELECT status FROM jobs WHERE id = '%s'" % job, user="launcher_owner") == ["running"])
    assert a.kill(signal.SIGTERM) == 0
    assert psql("SELECT status, result->>'marker' FROM jobs WHERE id = '%s'" % job,
                user="launcher_owner") == ["succeeded|short"]
    with open(os.path.join(a.dir, "noop.log")) as f:
        assert f.read().split() == [job, "short", "1"]


def test_cancelling_a_running_job_stops_the_agent_working_on_it():
    c, _ = registered()
    s = c.post("/servers", {"name": "e2e-" + uuid.uuid4().hex[:6], "heartbeat_interval_seconds": 1}).data
    job = _enqueue(s["id"], c.tid, payload='{"sleep_ms": 30000, "marker": "cancel-me"}', lease=6)[0]
    a = RealAgent(c.tenant, s["agent_token"], s["name"]).start()
    try:
        _wait("claim", lambda: psql("SELECT status FROM jobs WHERE id = '%s'" % job, user="launcher_owner") == ["running"])
        assert psql("SELECT job_cancel('%s', 'cancelled by the test')" % job, tenant=c.tid) == ["cancelled"]
        # The agent learns it at its next lease renewal (every lease/3 = 2 s) and gives up.
        def noticed():
            with open(a.log) as f:
                return job in f.read()
        _wait("the agent to notice the cancellation", noticed)
        assert psql("SELECT status, error FROM jobs WHERE id = '%s'" % job, user="launcher_owner") == \
            ["cancelled|cancelled by the test"]
        assert not os.path.exists(os.path.join(a.dir, "noop.log"))
        # A cancelled job is never handed out again, and the agent stays healthy.
        nxt = _enqueue(s["id"], c.tid, payload='{"sleep_ms": 10, "marker": "after"}')[0]
        _wait("next job", lambda: psql("SELECT status FROM jobs WHERE id = '%s'" % nxt,
                                       user="launcher_owner") == ["succeeded"])
    finally:
        a.kill(signal.SIGTERM)
