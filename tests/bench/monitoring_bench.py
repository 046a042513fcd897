#!/usr/bin/env python3
"""The body of make bench-monitoring (tests/bench/monitoring_bench.sh):
1,000 applications on 10 simulated agents, each agent sending every 10 s
what the real one sends (fcgi/agent/metrics.c, traffic.c): POST
/agent/metrics {"host": [1 point], "containers": [1 point per application]}
and POST /agent/traffic {"points": [1 point per application, with its
latency histogram]}, over a kept-alive HTTPS connection of its own, the
agents spread over the 10 s.  The CPU time (utime + stime) of the pool and
of PostgreSQL over BENCH_SECONDS is read from /proc (tests/bench/cpu.py)
and printed as a share of one core; nginx's too, apart (the goal counts the
plane: pool + PostgreSQL)."""
import http.client
import json
import os
import random
import ssl
import subprocess
import sys
import time
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "api"))
from lib import HTTPS_PORT, STATE, admin, registered  # noqa: E402

AGENTS, APPS = 10, 1000
SECONDS = int(os.environ.get("BENCH_SECONDS", "120"))
PERIOD = 10
HZ = os.sysconf("SC_CLK_TCK")
CTX = ssl.create_default_context(cafile=os.path.join(STATE, "tls", "cert.pem"))


def cpu():
    out = subprocess.run([sys.executable, os.path.join(HERE, "cpu.py"), STATE],
                         capture_output=True, text=True, check=True).stdout.split()
    return dict(zip(("nginx", "pool", "postgres"), map(int, out)))


def iso(ts):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts))


class Agent:
    def __init__(self, tenant, server, token, apps):
        self.tenant, self.server, self.token, self.apps = tenant, server, token, apps
        self.conn = http.client.HTTPSConnection("localhost", HTTPS_PORT, context=CTX, timeout=30)
        self.rx = self.tx = 0

    def post(self, path, body):
        data = json.dumps(body, separators=(",", ":")).encode()
        self.conn.request("POST", "/%s/api/v1%s" % (self.tenant, path), body=data,
                          headers={"x-lnchr-agent-token": self.token,
                                   "Content-Type": "application/json"})
        r = self.conn.getresponse()
        raw = r.read()
        assert r.status == 200, (path, r.status, raw[:300])
        return json.loads(raw)["data"]

    def send(self, ts):
        """One 10 s round: the host and container points, then the traffic."""
        self.rx += 1000 + random.randrange(1000)
        self.tx += 2000 + random.randrange(1000)
        host = {"ts": iso(ts), "cpu_percent": 20 + random.random() * 10,
                "memory_used_bytes": 3 << 30, "memory_total_bytes": 8 << 30,
                "disk_used_bytes": 40 << 30, "disk_total_bytes": 100 << 30,
                "load1": 0.7, "net_rx_bytes": self.rx, "net_tx_bytes": self.tx}
        ctrs = [{"ts": iso(ts), "app_id": a, "instance_id": "lnchr-%s-1" % a[:8],
                 "cpu_percent": random.random() * 5, "memory_bytes": 64 << 20, "restarts": 0}
                for a in self.apps]
        m = self.post("/agent/metrics", {"host": [host], "containers": ctrs})
        points = []
        for a in self.apps:
            n = 40 + random.randrange(20)
            # Latencies around 20-60 ms: buckets 31..43 of the 1.1-ratio bounds.
            hist = [0] * 44
            for _ in range(n):
                hist[31 + random.randrange(13)] += 1
            s5 = random.randrange(2)
            s4 = random.randrange(3)
            points.append({"app_id": a, "ts": iso(ts), "requests": n, "status_2xx": n - s4 - s5,
                           "status_3xx": 0, "status_4xx": s4, "status_5xx": s5,
                           "bytes_out": n * 2048, "latency_hist": hist})
        t = self.post("/agent/traffic", {"points": points})
        return m, t


def setup():
    c, _ = registered("monbench")
    # The default quota is 500 applications a tenant.
    admin("quota", "set", c.tenant, "applications", str(APPS))
    r = c.post("/projects", {"name": "p-" + uuid.uuid4().hex[:8]})
    assert r.status == 201, r
    project = r.data["id"]
    agents = []
    for i in range(AGENTS):
        r = c.post("/servers", {"name": "agent-%d-%s" % (i, uuid.uuid4().hex[:6])})
        assert r.status == 201, r
        server, token = r.data["id"], r.data["agent_token"]
        apps = []
        for j in range(APPS // AGENTS):
            r = c.post("/applications", {"name": "app-%d-%d" % (i, j), "project_id": project,
                                         "server_id": server, "source_type": "docker_image",
                                         "image_url": "registry.test/app:v1", "exposed_port": 8080})
            assert r.status == 201, r
            apps.append(r.data["id"])
        agents.append(Agent(c.tenant, server, token, apps))
    return agents


def round_of(agents, start):
    """Each agent at its own offset in the 10 s (as real agents drift)."""
    ts = int(start) // PERIOD * PERIOD
    for i, a in enumerate(agents):
        delay = start + i * PERIOD / len(agents) - time.time()
        if delay > 0:
            time.sleep(delay)
        m, t = a.send(ts)
        assert m["containers_inserted"] == len(a.apps) and t["stored"] == len(a.apps), (m, t)


def main():
    t0 = time.time()
    agents = setup()
    print("setup: %d agents, %d applications in %.0f s" % (AGENTS, APPS, time.time() - t0))
    # One round unmeasured (connections, prepared statements), aligned on 10 s.
    start = (int(time.time()) // PERIOD + 1) * PERIOD
    time.sleep(max(0.0, start - time.time()))
    round_of(agents, start)
    start += PERIOD
    time.sleep(max(0.0, start - time.time()))
    c0, w0 = cpu(), time.monotonic()
    rounds = max(1, SECONDS // PERIOD)
    for k in range(rounds):
        round_of(agents, start + k * PERIOD)
    # The window ends where the next round would start.
    time.sleep(max(0.0, start + rounds * PERIOD - time.time()))
    c1, w1 = cpu(), time.monotonic()
    wall = w1 - w0
    share = {k: (c1[k] - c0[k]) / HZ / wall * 100 for k in c0}
    plane = share["pool"] + share["postgres"]
    print("window %.1f s, %d rounds: %d metrics + %d traffic requests, %d container points"
          " and %d traffic points" % (wall, rounds, rounds * AGENTS, rounds * AGENTS,
                                      rounds * APPS, rounds * APPS))
    print("cpu of one core: pool %.2f %%, postgres %.2f %% (nginx %.2f %%, not counted)"
          % (share["pool"], share["postgres"], share["nginx"]))
    print("ingesting the monitoring of %d applications on %d agents costs the plane %.2f %%"
          " of one core (goal: under 5 %%): %s" % (APPS, AGENTS, plane,
                                                  "ok" if plane < 5 else "OVER"))


if __name__ == "__main__":
    main()
