#!/usr/bin/env python3
"""test_agent.py - launcher-agent against a fake plane (tests/agent/fake_plane.py)
over HTTPS with a self-signed CA: heartbeats, jobs (noop, diagnostics, an
unknown kind), cancellation through a lease 409, a rotated token, a plane
that goes away, an engine that is not there, stopping with SIGTERM, and the
wake-up WebSocket (a contract test: the fake plane stands in for
launcher-ws, which tests/api/test_ws.py tests for real).

    python3 tests/agent/test_agent.py [BUILD_DIR] [-k NAME]

AGENT_TEST_SHOW_LOG=1 prints every case's agent log.  Uses $AGENT_ENGINE_SOCKET as the engine when it answers /_ping (Podman's
or Docker's socket); the engine-dependent checks are skipped otherwise.
Last line: "unit agent-loop: N passed, N failed".
"""
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import traceback

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fake_plane import Plane  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = next((a for a in sys.argv[1:] if not a.startswith("-") and
              sys.argv[sys.argv.index(a) - 1] != "-k"), os.path.join(REPO, "build"))
AGENT = os.path.join(BUILD, "bin", "launcher-agent")
ONLY = sys.argv[sys.argv.index("-k") + 1] if "-k" in sys.argv else None


def engine_socket():
    s = os.environ.get("AGENT_ENGINE_SOCKET", "/var/run/docker.sock")
    try:
        out = subprocess.run(["curl", "-s", "-m", "3", "--unix-socket", s, "http://d/_ping"],
                             capture_output=True, text=True).stdout
        return s if out == "OK" else None
    except OSError:
        return None


ENGINE = engine_socket()


def until(pred, timeout):
    """Polls pred() until it is true (False at the deadline): waits that hold
    on a loaded machine, where a fixed sleep would not."""
    end = time.time() + timeout
    while not pred():
        if time.time() > end:
            return False
        time.sleep(0.1)
    return True


class Agent:
    def __init__(self, plane, tmp, *extra, token_file=True, env=None, engine=None):
        self.state = os.path.join(tmp, "state")
        self.log = open(os.path.join(tmp, "agent.log"), "a+")
        args = [AGENT, "--plane", plane.url, "--tenant", plane.tenant, "--ca", plane.cert,
                "--engine-socket", engine or ENGINE or os.path.join(tmp, "no-engine.sock"),
                "--state-dir", self.state, "--heartbeat-interval", "1",
                "--poll-interval", "0.2",
                # The cases count the agent's job processes (pgrep -P): without
                # the log follower's process among them. The follower is
                # covered by the API tests (test_ws_streams.py).
                "--logs-follow", "false"]
        if token_file:
            args += ["--token-file", os.path.join(tmp, "token")]
        if os.environ.get("AGENT_FIREWALL_CHAIN"):  # the stack's (its stop removes them)
            args += ["--firewall-chain", os.environ["AGENT_FIREWALL_CHAIN"]]
        args += list(extra)
        e = dict(os.environ)
        e.pop("LAUNCHER_AGENT_TOKEN", None)
        e.update(env or {})
        self.p = subprocess.Popen(args, stdout=self.log, stderr=subprocess.STDOUT, env=e)

    def output(self):
        self.log.flush()
        with open(self.log.name) as f:
            return f.read()

    def wait_output(self, text, timeout):
        """Polls the agent's log until it holds text (False at the deadline)."""
        return until(lambda: text in self.output(), timeout)

    def children(self):
        return subprocess.run(["pgrep", "-P", str(self.p.pid)], capture_output=True,
                              text=True).stdout.split()


    def stop(self, timeout=15):
        if self.p.poll() is None:
            self.p.send_signal(signal.SIGTERM)
        try:
            return self.p.wait(timeout)
        except subprocess.TimeoutExpired:
            self.p.kill()
            self.p.wait()
            return None


def write_token(tmp, tok, mode=0o600):
    path = os.path.join(tmp, "token")
    with open(path, "w") as f:
        f.write(tok + "\n")
    os.chmod(path, mode)
    return path


passed = failed = 0


def check(cond, name, detail=""):
    global passed, failed
    if cond:
        passed += 1
    else:
        failed += 1
        print("FAIL %s %s" % (name, detail))


# ----------------------------------------------------------------- cases

def case_heartbeat(plane, tmp):
    a = Agent(plane, tmp)
    ok = plane.wait(lambda p: len(p.heartbeats) >= 3, 10)
    check(ok, "three heartbeats in 10 s")
    hb = plane.heartbeats[-1] if plane.heartbeats else {}
    check(hb.get("agent_version") == "0.1.0", "agent_version", str(hb.get("agent_version")))
    check(hb.get("interval_seconds") == 1, "interval_seconds")
    h = hb.get("host", {})
    for k in ("hostname", "os", "cpus", "cpu_percent", "memory_total_bytes", "memory_used_bytes",
              "disk_total_bytes", "disk_used_bytes", "load1", "load5", "load15",
              "net_rx_bytes", "net_tx_bytes"):
        check(k in h, "host." + k)
    check(0 < h.get("memory_used_bytes", 0) < h.get("memory_total_bytes", 0), "memory used < total")
    e = hb.get("engine", {})
    if ENGINE:
        check(e.get("reachable") is True and e.get("type") in ("docker", "podman") and
              e.get("version") and e.get("api_version") and "containers" in e, "engine facts", str(e))
    rc = a.stop()
    out = a.output()
    check(rc == 0, "SIGTERM exits 0", str(rc))
    check(plane.token not in out, "token never logged")
    check(all(line[:4].isdigit() and line[10] == "T" for line in out.splitlines()),
          "every log line starts with an RFC 3339 time")


def case_engine_down(plane, tmp):
    a = Agent(plane, tmp, engine=os.path.join(tmp, "missing.sock"))
    plane.wait(lambda p: len(p.heartbeats) >= 2, 10)
    e = plane.heartbeats[-1]["engine"] if plane.heartbeats else {}
    check(e == {"reachable": False}, "engine down: only reachable false", str(e))
    check(a.stop() == 0, "exit 0")
    check(a.output().count("engine unreachable") == 1, "engine down logged once")


def case_noop(plane, tmp):
    a = Agent(plane, tmp)
    jid = plane.enqueue("noop", {"sleep_ms": 300, "marker": "m-one"})
    check(plane.wait_status(jid, ("succeeded", "failed"), 15), "noop completes")
    j = plane.job(jid)
    check(j["status"] == "succeeded", "noop succeeded", str(j))
    check(j["result"] == {"marker": "m-one", "slept_ms": 300}, "noop result", str(j["result"]))
    check(j["lines"] == ["noop m-one attempt 1"], "noop progress line", str(j["lines"]))
    check(j["completions"] == 1, "completed once")
    with open(os.path.join(a.state, "noop.log")) as f:
        check(f.read() == "%s m-one 1\n" % jid, "noop.log line")
    bad = plane.enqueue("noop", {"sleep_ms": -5})
    check(plane.wait_status(bad, ("succeeded", "failed"), 10), "bad payload completes")
    check("sleep_ms" in (plane.job(bad)["error"] or ""), "bad payload error", str(plane.job(bad)))
    unk = plane.enqueue("frobnicate")
    check(plane.wait_status(unk, ("succeeded", "failed"), 10), "unknown kind completes")
    check(plane.job(unk)["error"] == "unknown job kind frobnicate", "unknown kind error",
          str(plane.job(unk)["error"]))
    # Several queued jobs run one after another, each exactly once.
    ids = [plane.enqueue("noop", {"marker": "q%d" % i}) for i in range(5)]
    check(plane.wait(lambda p: all(p.jobs[i]["status"] == "succeeded" for i in ids), 20),
          "five queued noops succeed")
    with open(os.path.join(a.state, "noop.log")) as f:
        lines = f.read().splitlines()
    check(sorted(lines) == sorted(["%s m-one 1" % jid] + ["%s q%d 1" % (i, n) for n, i in
                                                          enumerate(ids)]), "each ran once")
    check(a.stop() == 0, "exit 0")


def case_invoke_slots(plane, tmp):
    """Invocations beside the main job (loop.h): while a noop holds the main
    slot the agent claims fn.invoke only, runs one (its bad payload fails it
    at once) and completes it while the noop runs on; the second noop waits
    for the first; with invoke slots busy it claims everything but fn.invoke."""
    a = Agent(plane, tmp, "--invoke-slots", "1")
    long_ = plane.enqueue("noop", {"sleep_ms": 4000, "marker": "long"})
    check(plane.wait_status(long_, ("running",), 10), "the long noop runs")
    nxt = plane.enqueue("noop", {"marker": "after"})
    inv = plane.enqueue("fn.invoke", {})
    check(plane.wait_status(inv, ("succeeded", "failed"), 10), "the invocation completes")
    check("function_id" in (plane.job(inv)["error"] or ""), "its payload refused", str(plane.job(inv)))
    check(plane.job(long_)["status"] == "running", "beside the long noop", str(plane.job(long_)))
    check(plane.job(nxt)["status"] == "queued", "the other noop waits for the main slot")
    check({"kinds": ["fn.invoke"]} in plane.claims, "claimed invocations only", str(plane.claims[-3:]))
    check(plane.wait(lambda p: p.jobs[nxt]["status"] == "succeeded", 15), "then the other noop runs")
    check(plane.job(long_)["status"] == "succeeded", "the long noop succeeded", str(plane.job(long_)))
    check(a.stop() == 0, "exit 0")


def case_lease_and_cancel(plane, tmp):
    a = Agent(plane, tmp)
    jid = plane.enqueue("noop", {"sleep_ms": 60000, "marker": "never"}, lease_seconds=3)
    check(plane.wait(lambda p: p.jobs[jid]["leases"] >= 3, 10), "lease renewed every ~1 s")
    plane.cancel(jid)
    check(plane.wait(lambda p: any(r[1].endswith(jid + "/lease") and r[2] == 409
                                   for r in p.requests), 5), "lease answered 409")
    check(a.wait_output("no longer ours", 10), "cancellation logged")
    check(plane.job(jid)["completions"] == 0, "cancelled job not completed")
    check(not os.path.exists(os.path.join(a.state, "noop.log")), "cancelled noop never wrote")
    check(subprocess.run(["pgrep", "-P", str(a.p.pid)], capture_output=True).stdout == b"",
          "job process gone")
    nxt = plane.enqueue("noop", {"marker": "after"})
    check(plane.wait_status(nxt, ("succeeded",), 10), "next job runs after a cancel")
    check(a.stop() == 0, "exit 0")


def case_diagnostics(plane, tmp):
    a = Agent(plane, tmp, "--nginx-test-command", "echo first; echo 'bad config' >&2; exit 3")
    jid = plane.enqueue("diagnostics")
    check(plane.wait_status(jid, ("succeeded", "failed"), 60), "diagnostics completes")
    j = plane.job(jid)
    check(j["status"] == "succeeded", "diagnostics succeeded", str(j))
    checks = (j["result"] or {}).get("checks", [])
    names = [c.get("name") for c in checks]
    check(names == ["engine_ping", "engine_version", "network_isolation", "disk_headroom",
                    "memory_headroom", "dns_resolution", "clock_skew", "edge_nginx",
                    "plane_reachability"],
          "all checks in order", str(names))
    by = {c["name"]: c for c in checks}
    check(all(c.get("status") in ("ok", "warn", "fail") and isinstance(c.get("detail"), str)
              for c in checks), "each check has status and detail")
    if ENGINE:
        check(by["engine_ping"]["status"] == "ok", "engine_ping ok", str(by["engine_ping"]))
        check(isinstance(by["engine_version"].get("value"), str), "engine_version value")
    check(by["edge_nginx"]["status"] == "fail" and "bad config" in by["edge_nginx"]["detail"],
          "edge_nginx fails with its output", str(by["edge_nginx"]))
    check(by["plane_reachability"]["status"] == "ok" and
          isinstance(by["plane_reachability"].get("value"), (int, float)), "plane_reachability")
    check(by["clock_skew"]["status"] == "ok" and abs(by["clock_skew"]["value"]) < 2,
          "clock_skew small", str(by["clock_skew"]))
    check(by["dns_resolution"]["status"] == "ok", "dns_resolution", str(by["dns_resolution"]))
    check(len(j["lines"]) == len(names), "one progress line per check", str(j["lines"]))
    # A plane clock 45 s ahead fails the skew check.
    plane.plane_time_offset = 45
    jid = plane.enqueue("diagnostics")
    plane.wait_status(jid, ("succeeded", "failed"), 60)
    c = {c["name"]: c for c in plane.job(jid)["result"]["checks"]}["clock_skew"]
    check(c["status"] == "fail" and -46 < c["value"] < -44, "45 s skew fails", str(c))
    plane.plane_time_offset = 0
    check(a.stop() == 0, "exit 0")


def case_token_rotation(plane, tmp):
    a = Agent(plane, tmp)
    check(plane.wait(lambda p: len(p.heartbeats) >= 1, 10), "first heartbeat")
    plane.token = "r" * 40
    check(plane.wait(lambda p: sum(1 for r in p.requests if r[2] == 401) >= 2, 10), "401s seen")
    n = len(plane.heartbeats)
    write_token(tmp, "r" * 40)
    check(plane.wait(lambda p: len(p.heartbeats) > n, 15), "recovers after the token file changes")
    out = a.output()
    check("refused the agent token" in out and "re-read" in out, "401 logged clearly")
    check("r" * 40 not in out and "t" * 40 not in out, "tokens never logged")
    check(a.stop() == 0, "exit 0")
    plane.token = "t" * 40


def case_plane_down(plane, tmp):
    a = Agent(plane, tmp)
    check(plane.wait(lambda p: len(p.heartbeats) >= 1, 10), "first heartbeat")
    port = plane.port
    plane.stop()
    # down long enough for the back-off to double (1 s, then 2 s)
    check(a.wait_output("retrying in 2 s", 20), "backs off while the plane is down")
    check(a.p.poll() is None, "still running while the plane is down")
    plane.start(port)
    n = len(plane.heartbeats)
    check(plane.wait(lambda p: len(p.heartbeats) > n, 15), "heartbeats resume")
    out = a.output()
    check("retrying in 1 s" in out and "retrying in 2 s" in out, "back-off doubles")
    check(a.stop() == 0, "exit 0")


def case_stop_with_job(plane, tmp):
    a = Agent(plane, tmp)
    jid = plane.enqueue("noop", {"sleep_ms": 2000, "marker": "short"})
    plane.wait_status(jid, ("running",), 10)
    time.sleep(0.3)
    t0 = time.time()
    rc = a.stop()
    check(rc == 0 and plane.job(jid)["status"] == "succeeded", "SIGTERM lets a short job finish",
          "%s %s" % (rc, plane.job(jid)["status"]))
    check(time.time() - t0 < 5, "and exits soon after")
    a = Agent(plane, tmp)
    jid = plane.enqueue("noop", {"sleep_ms": 60000, "marker": "long"})
    plane.wait_status(jid, ("running",), 10)
    time.sleep(0.3)
    t0 = time.time()
    rc = a.stop(20)
    took = time.time() - t0
    check(rc == 0 and 9 < took < 13, "SIGTERM kills a long job after 10 s", "%s %.1f" % (rc, took))
    check(plane.job(jid)["status"] == "running" and plane.job(jid)["completions"] == 0,
          "the long job is left to its lease")
    check(subprocess.run(["pgrep", "-f", "launcher-agent.*%s" % tmp], capture_output=True)
          .stdout == b"", "no job process left")


def case_progress_batches(plane, tmp):
    a = Agent(plane, tmp)
    jid = plane.enqueue("noop", {"marker": "b", "lines": 250})
    check(plane.wait_status(jid, ("succeeded",), 20), "chatty noop succeeds")
    want = ["noop b line %d" % i for i in range(1, 251)] + ["noop b attempt 1"]
    check(plane.job(jid)["lines"] == want, "251 lines, in order")
    posts = [r for r in plane.requests if r[1].endswith(jid + "/progress")]
    check(len(posts) >= 3 and all(r[2] == 204 for r in posts), "sent in batches of <= 100",
          str(len(posts)))
    # The plane goes away while the job talks: 1000 lines are kept, the rest counted.
    jid = plane.enqueue("noop", {"marker": "d", "sleep_ms": 1500, "lines": 1500})
    plane.wait_status(jid, ("running",), 10)
    port = plane.port
    plane.stop()
    # the job emits all its lines while the plane is down, and exits
    noop_log = os.path.join(a.state, "noop.log")
    check(until(lambda: os.path.exists(noop_log) and jid in open(noop_log).read(), 30) and
          until(lambda: a.children() == [], 10), "the chatty job ran while the plane was down")
    time.sleep(0.5)  # the agent drains the job's pipe (no plane call holds it: they fail at once)
    plane.start(port)
    check(plane.wait_status(jid, ("succeeded",), 40), "completes after the plane returns")
    lines = plane.job(jid)["lines"]
    check(len(lines) == 1001 and lines[999] == "noop d line 1000" and
          lines[1000] == "(501 progress lines dropped: the plane was unreachable)",
          "1000 lines kept, the drop noted", "%d %s" % (len(lines), lines[-2:]))
    check(a.stop() == 0, "exit 0")


def case_deadline_and_crash(plane, tmp):
    a = Agent(plane, tmp)
    jid = plane.enqueue("noop", {"sleep_ms": 60000}, deadline_seconds=2)
    check(plane.wait_status(jid, ("failed",), 10), "job past its deadline is failed")
    check(plane.job(jid)["error"] == "deadline exceeded", "deadline error", str(plane.job(jid)))
    jid = plane.enqueue("noop", {"sleep_ms": 60000})
    plane.wait_status(jid, ("running",), 10)
    time.sleep(0.5)
    kids = subprocess.run(["pgrep", "-P", str(a.p.pid)], capture_output=True, text=True).stdout.split()
    check(len(kids) == 1, "one job process", str(kids))
    for k in kids:
        os.kill(int(k), signal.SIGKILL)
    check(plane.wait_status(jid, ("failed",), 10), "a crashed job process fails the job")
    check(plane.job(jid)["error"] == "the job process was killed by signal 9", "crash reason",
          str(plane.job(jid)["error"]))
    check(a.stop() == 0, "exit 0")


def case_intervals_and_hup(plane, tmp):
    # The plane's interval wins over the flag.
    a = Agent(plane, tmp, "--heartbeat-interval", "30")
    check(plane.wait(lambda p: len(p.heartbeats) >= 4, 8), "plane's 1 s interval adopted")
    check("heartbeat interval set by the plane: 1 s" in a.output(), "adoption logged")
    # SIGHUP re-reads the token file.
    plane.token = "h" * 40
    write_token(tmp, "h" * 40)
    a.p.send_signal(signal.SIGHUP)
    n = len(plane.heartbeats)
    check(plane.wait(lambda p: len(p.heartbeats) > n + 1, 10), "SIGHUP picks up a new token")
    check(a.stop() == 0, "exit 0")
    plane.token = "t" * 40


def case_refusals(plane, tmp):
    write_token(tmp, "t" * 40, 0o644)
    a = Agent(plane, tmp)
    check(a.p.wait(10) == 2 and "chmod 600" in a.output(), "group-readable token file refused")
    write_token(tmp, "t" * 40)
    r = subprocess.run([AGENT, "--plane", plane.url, "--tenant", "default", "--token", "x" * 40],
                       capture_output=True, text=True)
    check(r.returncode == 2 and "never taken from the command line" in r.stderr,
          "token in argv refused")
    r = subprocess.run([AGENT, "--plane", "http://example.com", "--tenant", "default"],
                       capture_output=True, text=True)
    check(r.returncode == 2 and "loopback" in r.stderr, "http:// off loopback refused")
    conf = os.path.join(tmp, "agent.conf")
    with open(conf, "w") as f:
        f.write("plane_url = %s\nbogus = 1\n" % plane.url)
    r = subprocess.run([AGENT, "-c", conf], capture_output=True, text=True)
    check(r.returncode == 2 and "agent.conf:2: unknown key 'bogus'" in r.stderr,
          "unknown config key refused with file:line", r.stderr)
    # The environment variable works, and flags override the file.
    with open(conf, "w") as f:
        f.write("plane_url = \"https://127.0.0.1:1\"\ntenant = default\n")
    r = subprocess.run([AGENT, "-c", conf, "--plane", plane.url, "--ca", plane.cert,
                        "--engine-socket", os.path.join(tmp, "none.sock"),
                        "--state-dir", os.path.join(tmp, "st"), "--once-heartbeat"],
                       capture_output=True, text=True,
                       env=dict(os.environ, LAUNCHER_AGENT_TOKEN="t" * 40))
    check(r.returncode == 0 and json.loads(r.stdout).get("status") == "degraded",
          "--once-heartbeat with the token from the environment", r.stderr)
    # Without --ca the self-signed plane is not trusted.
    r = subprocess.run([AGENT, "--plane", plane.url, "--tenant", "default",
                        "--engine-socket", os.path.join(tmp, "none.sock"),
                        "--state-dir", os.path.join(tmp, "st"), "--once-heartbeat"],
                       capture_output=True, text=True,
                       env=dict(os.environ, LAUNCHER_AGENT_TOKEN="t" * 40))
    check(r.returncode == 1 and "certificate" in r.stderr.lower(), "TLS verified", r.stderr)


def case_wake_channel(plane, tmp):
    # Polling every 60 s: only the wake-up channel can start a job sooner.
    plane.poll_interval_ms = 60000
    a = Agent(plane, tmp, "--poll-interval", "60")
    check(plane.wait(lambda p: p.ws_opened >= 1 and p.ws, 10), "channel opened", a.output()[-800:])
    time.sleep(1)   # past the claim that follows every (re)connection
    jid = plane.enqueue("noop", {"marker": "woken"})
    time.sleep(0.5)
    check(plane.job(jid)["status"] == "queued", "not claimed before the wake-up")
    t0 = time.time()
    check(plane.wake() == 1, "one channel to wake")
    check(plane.wait_status(jid, ("succeeded",), 5), "woken agent claims at once",
          str(plane.job(jid)))
    check(time.time() - t0 < 5, "well before the 60 s poll")
    # Pings are answered with a masked pong carrying the same payload.
    plane.wake(b"\x89\x02hi")

    def pong(p):
        b = p.ws_received
        i = b.find(b"\x8a\x82")
        return i >= 0 and len(b) >= i + 8 and bytes(
            x ^ b[i + 2 + (n & 3)] for n, x in enumerate(b[i + 6:i + 8])) == b"hi"
    check(plane.wait(pong, 5), "ping answered with its payload", repr(plane.ws_received[-40:]))
    # A running job's lease is renewed at a wake-up: a cancel lands at once.
    long_job = plane.enqueue("noop", {"sleep_ms": 60000, "marker": "long"}, lease_seconds=60)
    plane.wake()
    check(plane.wait_status(long_job, ("running",), 5), "long job running")
    time.sleep(0.3)
    plane.cancel(long_job)
    plane.wake()
    check(plane.wait(lambda p: any(r[1].endswith(long_job + "/lease") and r[2] == 409
                                   for r in p.requests), 5), "cancel seen at the wake-up, not at 20 s")
    # The plane closes the channel (nginx retiring a worker): reopened at once.
    opened = plane.ws_opened
    plane.drop_ws()
    check(plane.wait(lambda p: p.ws_opened > opened and p.ws, 5), "channel reopened")
    nxt = plane.enqueue("noop", {"marker": "after"})
    plane.wake()
    check(plane.wait_status(nxt, ("succeeded",), 5), "woken again on the new channel")
    check(a.stop() == 0, "exit 0")


def case_wake_silent(plane, tmp):
    # A channel on which nothing arrives (the fake plane never pings) is
    # taken for dead after wake_idle_timeout and reopened.
    a = Agent(plane, tmp, "--wake-idle-timeout", "2")
    check(plane.wait(lambda p: p.ws_opened >= 1, 10), "channel opened")
    check(plane.wait(lambda p: p.ws_opened >= 2, 6), "silent channel reopened", a.output()[-800:])
    check("wake-up channel silent for 2 s: reopening" in a.output(), "reopening logged")
    # Pings keep a channel alive: one every second for 4 s, no reopening.
    opened = plane.ws_opened
    for _ in range(4):
        plane.wake(b"\x89\x00")
        time.sleep(1)
    check(plane.ws_opened == opened, "a pinged channel stays open", str(plane.ws_opened - opened))
    check(a.stop() == 0, "exit 0")


def case_wake_refused(plane, tmp):
    # A wrong token: the channel is refused (401) and retried with back-off,
    # and polling alone still runs jobs.
    write_token(tmp, "x" * 40)
    plane.token = "x" * 40
    real = plane.token
    plane.token = "y" * 40      # the plane knows another token now...
    a = Agent(plane, tmp)
    check(plane.wait(lambda p: any(r[1].endswith("/ws/agent") and r[2] == 401 for r in p.requests), 10),
          "channel refused with 401")
    plane.token = real          # ...and the agent's again
    jid = plane.enqueue("noop", {"marker": "polled"})
    check(plane.wait_status(jid, ("succeeded",), 10), "polling runs the job")
    check("wake-up channel unavailable (HTTP 401)" in a.output(), "refusal logged", a.output()[-800:])
    check(a.output().count("wake-up channel unavailable") == 1, "logged once")
    check(a.stop() == 0, "exit 0")


def s3_bucket(name):
    """Creates a bucket on the tests' radosgw as S3_TEST_ACCESS_KEY's user
    (curl signs with SigV4; the empty body's sha256 is named as S3 needs)."""
    url = "%s/%s" % (os.environ["S3_TEST_ENDPOINT"], name)
    r = subprocess.run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "-X", "PUT",
                        "--aws-sigv4", "aws:amz:%s:s3" % os.environ["S3_TEST_REGION"],
                        "-u", "%s:%s" % (os.environ["S3_TEST_ACCESS_KEY"],
                                         os.environ["S3_TEST_SECRET_KEY"]),
                        "-H", "x-amz-content-sha256: e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
                        url], capture_output=True, text=True, timeout=30)
    return r.stdout == "200"


def case_backup_dest_test(plane, tmp):
    """backup.dest_test: a local destination under <state_dir>/backups/<tenant>
    (backup_local_root empty), one whose path tries to leave it, and, with
    the tests' radosgw (S3_TEST_*), a bucket with good and refused keys: the
    job succeeds with the test's steps; a refused key is a result, never a
    secret in the job or the log."""
    a = Agent(plane, tmp)
    tenant = "0b9d3f5e-1c2a-4d6b-8e7f-123456789abc"
    jid = plane.enqueue("backup.dest_test", {"destination": {"provider": "local", "path": "nightly"},
                                             "tenant_id": tenant})
    check(plane.wait_status(jid, ("succeeded", "failed"), 20), "local test completes")
    j = plane.job(jid)
    check(j["status"] == "succeeded", "local test succeeded", str(j))
    res = j["result"] or {}
    check(res.get("ok") is True and [st["step"] for st in res.get("steps", [])] ==
          ["write", "read", "delete"], "local test: three ok steps", str(res))
    d = os.path.join(a.state, "backups", tenant, "nightly")
    check(os.path.isdir(d) and os.listdir(d) == [], "probe written under the root and deleted", d)
    jid = plane.enqueue("backup.dest_test", {"destination": {"provider": "local", "path": "../x"},
                                             "tenant_id": tenant})
    check(plane.wait_status(jid, ("succeeded", "failed"), 20), "escaping path completes")
    res = plane.job(jid)["result"] or {}
    check(res.get("ok") is False and "path" in (res.get("steps") or [{}])[0].get("error", ""),
          "local path with .. refused in the write step", str(res))
    if not os.environ.get("S3_TEST_ENDPOINT"):
        print("note: no S3_TEST_ENDPOINT (tests/lib/radosgw.sh); S3 checks skipped")
        check(a.stop() == 0, "exit 0")
        return
    bucket = "agent-%d" % os.getpid()
    check(s3_bucket(bucket), "bucket created")
    dest = {"provider": "custom", "bucket": bucket, "endpoint": os.environ["S3_TEST_ENDPOINT"],
            "region": os.environ["S3_TEST_REGION"], "url_style": "path", "path": "probe",
            "access_key": os.environ["S3_TEST_ACCESS_KEY"],
            "secret_key": os.environ["S3_TEST_SECRET_KEY"]}
    jid = plane.enqueue("backup.dest_test", {"destination": dest, "tenant_id": tenant})
    check(plane.wait_status(jid, ("succeeded", "failed"), 30), "s3 test completes")
    res = plane.job(jid)["result"] or {}
    check(res.get("ok") is True and len(res.get("steps", [])) == 3, "s3 test ok", str(res))
    wrong = dict(dest, secret_key="not-the-secret-" + os.environ["S3_TEST_SECRET_KEY"][:6])
    jid = plane.enqueue("backup.dest_test", {"destination": wrong, "tenant_id": tenant})
    check(plane.wait_status(jid, ("succeeded", "failed"), 30), "refused key completes")
    j = plane.job(jid)
    res = j["result"] or {}
    check(j["status"] == "succeeded" and res.get("ok") is False, "refused key: ok false", str(j))
    err = (res.get("steps") or [{}])[0].get("error") or ""
    check(err.startswith("SignatureDoesNotMatch:"), "refused key: the S3 code", err)
    # what the agent sent back (the fake plane's job also holds the payload)
    text = json.dumps([j.get("result"), j.get("error"), j.get("lines")]) + a.output()
    check(wrong["secret_key"] not in text and os.environ["S3_TEST_SECRET_KEY"] not in text,
          "no secret in the job or the log")
    check(a.stop() == 0, "exit 0")


CASES = [case_wake_channel, case_wake_silent, case_wake_refused, case_refusals, case_heartbeat, case_engine_down, case_noop, case_invoke_slots, case_lease_and_cancel,
         case_progress_batches, case_deadline_and_crash, case_intervals_and_hup, case_diagnostics, case_token_rotation,
         case_plane_down, case_stop_with_job, case_backup_dest_test]


def main():
    if not os.access(AGENT, os.X_OK):
        print("unit agent-loop: 0 passed, 1 failed (no %s)" % AGENT)
        return 1
    if not ENGINE:
        print("note: no engine answers at $AGENT_ENGINE_SOCKET; engine checks skipped")
    for case in CASES:
        if ONLY and ONLY not in case.__name__:
            continue
        tmp = tempfile.mkdtemp(prefix="agent-test-")
        plane = Plane(tmp).start()
        write_token(tmp, plane.token)
        before = failed
        try:
            case(plane, tmp)
        except Exception:
            traceback.print_exc()
            check(False, case.__name__ + " raised")
        finally:
            plane.stop()
        log = os.path.join(tmp, "agent.log")
        if os.path.exists(log):
            with open(log) as f:
                text = f.read()
            check("AddressSanitizer" not in text and "runtime error:" not in text,
                  case.__name__ + ": no sanitizer reports")
        if failed != before or os.environ.get("AGENT_TEST_SHOW_LOG"):
            with open(os.path.join(tmp, "agent.log")) as f:
                print("---- agent log of %s ----\n%s" % (case.__name__, f.read()[-4000:]))
        shutil.rmtree(tmp, ignore_errors=True)
        print("%s: done" % case.__name__)
    print("unit agent-loop: %d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
