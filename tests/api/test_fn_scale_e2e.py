"""Functions' scale to zero end to end (README "Functions"; fcgi/agent/fnscale.h):
the real plane and launcher-agent, the stack's Podman and nginx as the edge,
the agent tailing the edge's traffic log and checking every half second.
A function with idle_timeout_seconds is stopped after that long without a
request (the engine shows its container exited, the plane scaled_to_zero);
the next request through the edge waits for the start and answers the
function's body (a POST keeps its body); an invoke of a stopped function
starts it first; a function without idle_timeout_seconds stays up."""
import atexit
import json
import os
import shutil
import tempfile
import threading

from lib import STATE, Skip
from test_agent_e2e import _wait
from test_deploy_e2e import EdgeAgent, World, app_containers
from test_functions_e2e import DEPLOY_TIMEOUT, FnWorld, edge, fn_runtime_mirrors, host

IDLE = 3

ECHO = r"""
exports.handler = async (event) => {
  const p = event.body ? JSON.parse(event.body) : {};
  return { status: 200, body: { fn: 'sleepy', method: event.method, trigger: event.trigger,
                                echo: p.echo === undefined ? null : p.echo } };
};
"""


class ScaleAgent(EdgeAgent):
    """The edge agent that sees HTTP requests (the stack nginx's traffic
    log), checks for idle functions twice a second, and serves its wake
    socket on a short path (a unix socket's path is at most 107 bytes)."""

    def __init__(self, tenant, token, name):
        super().__init__(tenant, token, name)
        d = tempfile.mkdtemp(prefix="fnw.")
        atexit.register(shutil.rmtree, d, True)
        self.sock = os.path.join(d, "wake.sock")
        self.args += ["--traffic-log", os.path.join(STATE, "nginx", "logs", "traffic.log"),
                      "--fn-idle-check", "0.5", "--fn-wake-socket", self.sock]


class ScaleWorld(World):
    _w = None
    agent_class = ScaleAgent


class ScaleFnWorld(FnWorld):
    _w = None

    def __init__(self, w):
        self.w, self.c, self.p = w, w.c, w.project
        self.sleepy = self.make(name="sleepy", runtime="node20", source={"code": ECHO},
                                idle_timeout_seconds=IDLE, triggers=[{"type": "http"}])
        self.awake = self.make(name="awake", runtime="node20", source={"code": ECHO},
                               triggers=[{"type": "http"}])
        for f in (self.sleepy, self.awake):
            assert self.c.post("/functions/%s/deploy" % f["id"]).status == 202
        for f in (self.sleepy, self.awake):
            _wait("function %s running" % f["name"], lambda f=f: self.status(f) in ("running", "failed"),
                  DEPLOY_TIMEOUT)
            got = self.c.get("/functions/" + f["id"]).data
            assert got["status"] == "running", got

    @classmethod
    def get(cls):
        if cls._w is None:
            fn_runtime_mirrors()
            cls._w = cls(ScaleWorld.get())
        return cls._w

    def running(self, f):
        return [c for c in app_containers(f["id"]) if c["State"] == "running"]

    def scaled(self, f):
        return self.c.get("/functions/" + f["id"]).data["scaled_to_zero"]

    def wait_stopped(self, f):
        _wait("%s stopped for idleness" % f["name"], lambda: not self.running(f), IDLE + 20)
        assert app_containers(f["id"]), "the container is stopped, not removed"
        _wait("the plane shows it scaled to zero", lambda: self.scaled(f), 20)


def _logs(fw):
    """What the agent and the edge said (for a failure's message)."""
    agent = open(fw.w.agent.log).read().splitlines()[-15:]
    err = [l for l in open(os.path.join(STATE, "nginx", "logs", "error.log")).read().splitlines()
           if "wake" in l][-5:]
    return "\n".join(agent + err)


def test_idle_function_is_stopped_and_the_next_request_waits_for_its_start():
    fw = ScaleFnWorld.get()
    f = fw.sleepy
    assert fw.scaled(fw.awake) is False
    fw.wait_stopped(f)
    # The first requests after (two at once: one start): started, then answered by the
    # function, the POST with its body.
    got = {}
    t = threading.Thread(target=lambda: got.update(get=edge("GET", host(f))))
    t.start()
    st, body, _ = edge("POST", host(f), {"echo": "kept"})
    t.join()
    assert st == 200, (st, body, _logs(fw))
    assert json.loads(body) == {"fn": "sleepy", "method": "POST", "trigger": "http", "echo": "kept"}, body
    assert got["get"][0] == 200 and json.loads(got["get"][1])["method"] == "GET", got
    assert fw.running(f)
    _wait("the plane shows it up again", lambda: not fw.scaled(f), 20)


def test_invoke_of_a_stopped_function_starts_it():
    fw = ScaleFnWorld.get()
    f = fw.sleepy
    fw.wait_stopped(f)
    res = fw.invoke(f, {"echo": 5})
    assert res["status"] == 200 and res["body"]["echo"] == 5 and res["body"]["trigger"] == "invoke", res
    assert fw.running(f)


def test_a_function_without_idle_timeout_stays_up():
    fw = ScaleFnWorld.get()
    # The idle one, deployed with it at the same time, stops; this one does not.
    fw.wait_stopped(fw.sleepy)
    assert fw.running(fw.awake) and not fw.scaled(fw.awake)
    st, body, _ = edge("GET", host(fw.awake))
    assert st == 200 and json.loads(body)["method"] == "GET", (st, body)


# ------------------------------------------------------------------ benchmark
# make bench-fn (also run by make bench): LAUNCHER_FN_BENCH=1 selects it,
# skipped in the suite.  Prints, and writes to $LAUNCHER_FN_BENCH_OUT:
#   warm: wrk through the stack's nginx (the edge) to the warm function's
#         site against the floor: the same handler code in the same image
#         as a plain application (a plain node HTTP server calling the
#         handler, no shim, no worker process) behind a site with the same
#         proxy directives (the function's own site file, its upstream
#         renamed and pointed at the plain container); interleaved rounds,
#         medians of p50 and p99 and their ratios
#   start: the first request after scale to zero (the container stopped by
#         the agent for idleness), client-side, over a few repetitions

FLOOR = r"""
const http = require('http');
const h = require('/fn/index.js').handler;
http.createServer((req, res) => {
  let b = '';
  req.on('data', (c) => { b += c; });
  req.on('end', async () => {
    const r = await h({ method: req.method, path: req.url, headers: req.headers, body: b, trigger: 'http' });
    res.writeHead(r.status || 200, { 'Content-Type': 'application/json' });
    res.end(JSON.stringify(r.body));
  });
}).listen(8080);
"""


def _wrk(hostname, secs, conns):
    import subprocess
    from lib import HTTP_PORT
    out = subprocess.run(["wrk", "-t2", "-c%d" % conns, "-d%ds" % secs, "--latency", "-H", "Host: " + hostname,
                          "http://127.0.0.1:%d/" % HTTP_PORT], capture_output=True, text=True, check=True).stdout
    assert "Non-2xx" not in out, out

    def ms(v):
        for suf, f in (("us", 0.001), ("ms", 1.0), ("s", 1000.0)):
            if v.endswith(suf):
                return float(v[:-len(suf)]) * f
    lat = {l.split()[0]: ms(l.split()[1]) for l in out.splitlines() if l.strip().startswith(("50%", "99%"))}
    n = int([l for l in out.splitlines() if "requests in" in l][0].split()[0])
    return lat["50%"], lat["99%"], n


def _floor_site(fw, f, port):
    """The function's site file, its upstream renamed and pointed at port, for floor.localhost."""
    import re
    import signal as sig
    up = f["id"].replace("-", "")
    sites = os.path.join(STATE, "nginx", "sites")
    text = open(os.path.join(sites, "app-%s.conf" % f["id"])).read()
    text = text.replace(up, "benchfloor" + up[:8])
    text = re.sub(r"server 127\.0\.0\.1:\d+", "server 127.0.0.1:%d" % port, text)
    text = re.sub(r"server_name [^;]+;", "server_name floor.localhost;", text)
    path = os.path.join(sites, "bench-floor.conf")
    with open(path, "w") as out:
        out.write(text)
    os.kill(int(open(os.path.join(STATE, "nginx", "nginx.pid")).read()), sig.SIGHUP)
    return path


def test_bench_warm_function_against_the_floor_and_the_start_after_scale_to_zero():
    import statistics
    import time
    from test_deploy_e2e import engine
    sys_path_ports()
    from ports import free_port
    if os.environ.get("LAUNCHER_FN_BENCH") != "1":
        raise Skip("the benchmark: make bench-fn")
    fw = ScaleFnWorld.get()
    f, secs, conns, rounds = fw.awake, int(os.environ.get("BENCH_SECONDS", "5")), \
        int(os.environ.get("BENCH_CONNECTIONS", "8")), int(os.environ.get("BENCH_ROUNDS", "5"))
    # The floor's container: the function's image, a plain server.
    ctr = app_containers(f["id"])[0]
    port = free_port()
    st, made = engine("POST", "/containers/create?name=benchfloor-%s" % f["id"][:8], {
        "Image": ctr["ImageID"], "Cmd": ["node", "-e", FLOOR],
        "Labels": {"launcher.tenant": fw.w.c.tid},
        "ExposedPorts": {"8080/tcp": {}},
        "HostConfig": {"PortBindings": {"8080/tcp": [{"HostIp": "127.0.0.1", "HostPort": str(port)}]}}})
    assert st == 201, made
    st, out = engine("POST", "/containers/%s/start" % made["Id"])
    assert st in (204, 304), out
    site = _floor_site(fw, f, port)
    try:
        _wait("the floor answers", lambda: edge("GET", "floor.localhost")[0] == 200, 30)
        # Warm-up, then interleaved rounds.
        _wrk(host(f), 2, conns)
        _wrk("floor.localhost", 2, conns)
        rows = {"fn": [], "floor": []}
        for _ in range(rounds):
            rows["fn"].append(_wrk(host(f), secs, conns))
            rows["floor"].append(_wrk("floor.localhost", secs, conns))
        med = {k: (statistics.median(r[0] for r in v), statistics.median(r[1] for r in v),
                   sum(r[2] for r in v)) for k, v in rows.items()}
        # The first request after scale to zero.
        s = fw.sleepy
        starts = []
        for _ in range(int(os.environ.get("BENCH_STARTS", "5"))):
            fw.wait_stopped(s)
            t0 = time.time()
            st, body, _ = edge("GET", host(s))
            starts.append((time.time() - t0) * 1000)
            assert st == 200, (st, body)
        lines = [
            "functions: wrk -t2 -c%d, %d rounds of %d s interleaved (medians); %d cores" % (
                conns, rounds, secs, os.cpu_count()),
            "  warm function   p50 %6.2f ms   p99 %6.2f ms   (%d requests)" % med["fn"],
            "  floor (plain)   p50 %6.2f ms   p99 %6.2f ms   (%d requests)" % med["floor"],
            "  ratios fn/floor: p50 %.2f   p99 %.2f" % (med["fn"][0] / med["floor"][0],
                                                     med["fn"][1] / med["floor"][1]),
            "  first request after scale to zero (%d runs): median %.0f ms, min %.0f, max %.0f ms" % (
                len(starts), statistics.median(starts), min(starts), max(starts)),
        ]
        print("\n".join(lines), flush=True)
        if os.environ.get("LAUNCHER_FN_BENCH_OUT"):
            with open(os.environ["LAUNCHER_FN_BENCH_OUT"], "w") as out:
                out.write("\n".join(lines) + "\n")
    finally:
        os.unlink(site)
        engine("DELETE", "/containers/%s?force=true" % made["Id"])


def sys_path_ports():
    import sys
    p = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib")
    if p not in sys.path:
        sys.path.insert(0, p)
