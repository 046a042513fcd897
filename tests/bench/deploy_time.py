"""The measuring half of tests/bench/deploy_time.sh (see there)."""
import datetime
import http.client
import os
import random
import resource
import socket
import statistics
import subprocess
import sys
import time
import uuid

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "api"))
from lib import HTTP_PORT, Client, request  # noqa: E402
from test_deploy_e2e import engine  # noqa: E402

ROUNDS = int(os.environ.get("BENCH_DEPLOYS", "7"))
TRACE = os.environ.get("BENCH_TRACE") == "1"
PROBE = 0.02
SOCK = os.environ["LAUNCHER_ENGINE_SOCKET"]


def ulimit(name, which, cap):
    """What the agent gives containers: at most the current hard limit (Podman here)."""
    hard = resource.getrlimit(which)[1]
    v = cap if hard == resource.RLIM_INFINITY else min(hard, cap)
    return {"Name": name, "Soft": v, "Hard": v}


def get(port, path, host=None):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
    try:
        c.request("GET", path, headers={"Host": host or "localhost", "Connection": "close"})
        r = c.getresponse()
        return r.status, r.read().decode(errors="replace")
    except OSError:
        return 0, ""
    finally:
        c.close()


def hms(t):
    return datetime.datetime.fromtimestamp(t, datetime.timezone.utc).strftime("%H:%M:%S.%f")[:-3]


def until(fn, timeout=120):
    t0 = time.time()
    while time.time() - t0 < timeout:
        if fn():
            return
        time.sleep(PROBE)
    raise SystemExit("timed out")


def main():
    r = request("POST", "/default/api/v1/auth/register", {
        "email": "deploy-bench@example.com", "password": "bench-Passw0rd", "first_name": "B", "last_name": "D"})
    c = Client("default", token=r.data["token"])
    p = c.post("/projects", {"name": "bench"}).data
    images = {"v1": os.environ["FIXTURE_REGISTRY_WEB_V1"], "v2": os.environ["FIXTURE_REGISTRY_WEB_V2"]}
    a = c.post("/applications", {"project_id": p["id"], "name": "web", "source_type": "docker_image",
                                 "image_url": images["v1"], "exposed_port": 8080,
                                 "healthcheck_path": "/health"}).data
    host = a["hostname"]

    def deploy(version):
        t0 = time.time()
        d = c.post("/applications/%s/deploy" % a["id"], {"image_url": images[version]}).data
        t1 = time.time()
        until(lambda: get(HTTP_PORT, "/", host) == (200, version + "\n"))
        took = time.time() - t0
        if TRACE:   # to lay beside the agent's log (BENCH_KEEP_LOGS)
            print("round: POST %s, answered %s, first 200 %s" % (hms(t0), hms(t1), hms(t0 + took)))
        until(lambda: c.get("/deployments/" + d["id"]).data["status"] in ("succeeded", "failed"))
        assert c.get("/deployments/" + d["id"]).data["status"] == "succeeded"
        return took

    def host_port():
        """A free port in the agent's host_ports range (20000-32000), as the
        agent picks them: the kernel's ephemeral ports may carry firewall
        rules an earlier container left behind, which would time a dead end."""
        while True:
            port = random.randint(20000, 32000)
            s = socket.socket()
            try:
                s.bind(("127.0.0.1", port))
                return port
            except OSError:
                continue
            finally:
                s.close()

    def floor(version):
        port = host_port()
        t0 = time.time()
        st, ctr = engine("POST", "/containers/create?name=floor-" + uuid.uuid4().hex[:8], {
            "Image": images[version], "StopTimeout": 1, "ExposedPorts": {"8080/tcp": {}},
            "HostConfig": {"PortBindings": {"8080/tcp": [{"HostIp": "127.0.0.1", "HostPort": str(port)}]},
                           "Ulimits": [ulimit("nofile", resource.RLIMIT_NOFILE, 65536),
                                       ulimit("nproc", resource.RLIMIT_NPROC, 4096)]}})
        assert st == 201, ctr
        st, out = engine("POST", "/containers/%s/start" % ctr["Id"])
        assert st == 204, out
        until(lambda: get(port, "/health")[0] == 200)
        took = time.time() - t0
        engine("DELETE", "/containers/%s?force=1" % ctr["Id"])
        return took

    def podman_run(version):
        """`podman run` (the remote client on the same engine) + the health check by hand."""
        port = host_port()
        lim = [ulimit("nofile", resource.RLIMIT_NOFILE, 65536), ulimit("nproc", resource.RLIMIT_NPROC, 4096)]
        t0 = time.time()
        out = subprocess.run(["podman", "--url", "unix://" + SOCK, "run", "-d", "-p", "127.0.0.1:%d:8080" % port]
                             + sum((["--ulimit", "%s=%d:%d" % (u["Name"], u["Soft"], u["Hard"])] for u in lim), [])
                             + [images[version]], capture_output=True, text=True)
        assert out.returncode == 0, out.stderr
        until(lambda: get(port, "/health")[0] == 200)
        took = time.time() - t0
        engine("DELETE", "/containers/%s?force=1" % out.stdout.strip())
        return took

    deploy("v1")        # the first pull and route
    floor("v1")
    podman_run("v1")
    dep, flo, cli = [], [], []
    for i in range(ROUNDS):
        v = "v2" if i % 2 == 0 else "v1"
        dep.append(deploy(v))
        flo.append(floor(v))
        cli.append(podman_run(v))
    md, mf, mc = statistics.median(dep), statistics.median(flo), statistics.median(cli)

    def show(label, m, xs):
        print("%-52s median %.2f s  (rounds: %s)" % (label, m, ", ".join("%.2f" % x for x in xs)))
    show("deploy: POST /deploy -> first 200 through nginx", md, dep)
    show("floor: podman run -d + health check by hand", mc, cli)
    show("strict floor: Engine API create + start + health", mf, flo)
    print("ratio deploy/podman-run = %.2f   deploy/strict-floor = %.2f" % (md / mc, md / mf))


main()
