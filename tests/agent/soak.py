#!/usr/bin/env python3
"""soak.py - launcher-agent's memory over a long run against the fake plane:
heartbeats every second, a job every few seconds (noop, diagnostics, an
unknown kind, a cancelled one), the plane going away and a token rotation
now and then.  Samples VmRSS once a second and prints the first, peak and
last values; fails when the peak passes the limit.

    python3 tests/agent/soak.py [--seconds 600] [--limit-mb 20] [--valgrind] [BUILD_DIR]

--valgrind runs the agent under valgrind --leak-check=full (RSS is then
valgrind's, not the agent's; read the leak summary instead).
"""
import argparse
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fake_plane import Plane  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def rss_kb(pid):
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=int, default=600)
    ap.add_argument("--limit-mb", type=float, default=20)
    ap.add_argument("--valgrind", action="store_true")
    ap.add_argument("build", nargs="?", default=os.path.join(REPO, "build"))
    o = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="agent-soak-")
    plane = Plane(tmp).start()
    tok = os.path.join(tmp, "token")
    with open(tok, "w") as f:
        f.write(plane.token)
    os.chmod(tok, 0o600)
    engine = os.environ.get("AGENT_ENGINE_SOCKET", "/var/run/docker.sock")
    cmd = [os.path.join(o.build, "bin", "launcher-agent"), "--plane", plane.url,
           "--tenant", plane.tenant, "--ca", plane.cert, "--token-file", tok,
           "--engine-socket", engine, "--state-dir", os.path.join(tmp, "state"),
           "--heartbeat-interval", "1", "--poll-interval", "0.2",
           "--nginx-test-command", "echo nginx: ok"]
    if o.valgrind:
        cmd = ["valgrind", "--leak-check=full", "--show-leak-kinds=definite,indirect,possible",
               "--child-silent-after-fork=yes", "--errors-for-leak-kinds=definite,indirect",
               "--error-exitcode=99", "--log-file=%s/valgrind.log" % tmp] + cmd
    log = open(os.path.join(tmp, "agent.log"), "w")
    p = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
    samples, jobs, t0, tick = [], [], time.time(), 0
    try:
        while time.time() - t0 < o.seconds and p.poll() is None:
            time.sleep(1)
            tick += 1
            samples.append(rss_kb(p.pid))
            if tick % 3 == 0:
                jobs.append(plane.enqueue("noop", {"sleep_ms": 500, "marker": "s%d" % tick}))
            if tick % 20 == 0:
                jobs.append(plane.enqueue("diagnostics"))
            if tick % 30 == 0:
                jobs.append(plane.enqueue("mystery"))
            if tick % 45 == 0:
                j = plane.enqueue("noop", {"sleep_ms": 600000}, lease_seconds=6)
                jobs.append(j)
                plane.wait_status(j, ("running",), 10)
                plane.cancel(j)
            if tick % 90 == 0:
                port = plane.port
                plane.stop()
                time.sleep(5)
                plane.start(port)
            if tick % 120 == 0:
                plane.token = "k%d" % tick + "x" * 30
                time.sleep(2)
                with open(tok, "w") as f:
                    f.write(plane.token)
    finally:
        p.send_signal(signal.SIGTERM)
        rc = p.wait(30)
        plane.stop()
    done = sum(1 for j in jobs if plane.job(j)["status"] in ("succeeded", "failed", "cancelled"))
    print("agent exit %s; %d heartbeats, %d of %d jobs finished" % (rc, len(plane.heartbeats),
                                                                    done, len(jobs)))
    samples = [s for s in samples if s] or [0]
    print("VmRSS first %.1f MB, peak %.1f MB, last %.1f MB over %d s" % (
        samples[0] / 1024, max(samples) / 1024, samples[-1] / 1024, len(samples)))
    ok = rc == 0 and (o.valgrind or max(samples) / 1024 < o.limit_mb)
    if o.valgrind:
        with open(os.path.join(tmp, "valgrind.log")) as f:
            text = f.read()
        summary = [l for l in text.splitlines()
                   if any(k in l for k in ("in use at exit", "definitely", "indirectly",
                                           "possibly", "still reachable", "no leaks are possible",
                                           "ERROR SUMMARY"))]
        print("\n".join(summary))
        ok = ok and "ERROR SUMMARY: 0 errors" in text
    if not ok:
        print("agent log tail:\n" + open(os.path.join(tmp, "agent.log")).read()[-3000:])
    shutil.rmtree(tmp, ignore_errors=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
