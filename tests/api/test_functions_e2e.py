"""Functions end to end: the real plane and launcher-agent, the stack's Podman
and nginx as the edge, the runtime base images of tests/fixtures/fn_runtimes.sh
(mapped from the default function_runtime_images through the run's image
mirror table).  A Node and a Python function answer over HTTP through the
edge (methods filtered), invoke answers {status, body, duration_ms}, a run
past the timeout is recorded `timeout`, one past the memory limit `oom`, a
cron tick at real now runs the function, and the shim's log lines record
the http-trigger calls."""
import http.client
import json
import os
import signal
import uuid

from lib import HTTP_PORT, Skip, image_mirrors
from test_agent_e2e import _wait
from test_deploy_e2e import World
from test_functions import _tick

F = os.environ


def fn_runtime_mirrors():
    """The image mirror rows of the runtime images (tests/fixtures/fn_runtimes.sh,
    FIXTURE_FN_IMAGE_MIRRORS "image|local image" lines) in the run's table; a
    run without them skips."""
    if not F.get("FIXTURE_FN_IMAGE_MIRRORS"):
        raise Skip("no runtime images (tests/fixtures/fn_runtimes.sh)")
    image_mirrors(dict((s.strip() for s in line.split("|", 1))
                       for line in F["FIXTURE_FN_IMAGE_MIRRORS"].splitlines() if "|" in line))
DEPLOY_TIMEOUT = 120

NODE = r"""
exports.handler = async (event) => {
  const p = event.body ? JSON.parse(event.body) : {};
  return { status: 200, body: { runtime: 'node20', method: event.method, trigger: event.trigger,
                                echo: p.echo === undefined ? null : p.echo } };
};
"""
PYTHON = r"""
import json, time

def handler(event, context):
    p = json.loads(event["body"]) if event["body"] else {}
    if "sleep" in p:
        time.sleep(float(p["sleep"]))
    if "alloc" in p:
        a = []
        while True:
            a.append(bytearray(1 << 20))
    return {"status": 200, "body": {"runtime": "python3", "method": event["method"],
                                    "trigger": event["trigger"]}}
"""


class FnWorld:
    _w = None

    @classmethod
    def get(cls):
        if not F.get("FIXTURE_FN_IMAGE_MIRRORS"):
            raise Skip("no runtime images (tests/fixtures/fn_runtimes.sh)")
        if cls._w is None:
            fn_runtime_mirrors()
            cls._w = cls(World.get())
        return cls._w

    def __init__(self, w):
        self.w, self.c, self.p = w, w.c, w.project
        self.node = self.make(name="hello-node", runtime="node20", source={"code": NODE},
                              triggers=[{"type": "http", "methods": ["POST"]}])
        self.py = self.make(name="hello-py", runtime="python3", source={"files": {"index.py": PYTHON}},
                            timeout_seconds=2, memory_limit=96 << 20,
                            triggers=[{"type": "http"},
                                      {"type": "cron", "schedule": "* * * * *", "timezone": "UTC"}])
        for f in (self.node, self.py):
            r = self.c.post("/functions/%s/deploy" % f["id"])
            assert r.status == 202, r
        for f in (self.node, self.py):
            _wait("function %s running" % f["name"], lambda f=f: self.status(f) in ("running", "failed"),
                  DEPLOY_TIMEOUT)
            got = self.c.get("/functions/" + f["id"]).data
            assert got["status"] == "running", got

    def make(self, **body):
        body.setdefault("project_id", self.p["id"])
        r = self.c.post("/functions", body)
        assert r.status == 201, r
        return r.data

    def status(self, f):
        return self.c.get("/functions/" + f["id"]).data["status"]

    def invoke(self, f, payload):
        """POST invoke: answered when the job ends (launcher-ws waits, not a pool worker)."""
        r = self.c.post("/functions/%s/invoke" % f["id"], {"payload": payload})
        assert r.status == 200, r
        return r.data

    def invocations(self, f):
        return self.c.get("/functions/%s/invocations" % f["id"]).data


def edge(method, host, body=None):
    conn = http.client.HTTPConnection("127.0.0.1", HTTP_PORT, timeout=30)
    try:
        data = json.dumps(body).encode() if body is not None else None
        conn.request(method, "/", data, {"Host": host, "Connection": "close",
                                         "Content-Type": "application/json"})
        r = conn.getresponse()
        return r.status, r.read().decode(errors="replace"), {k.lower(): v for k, v in r.getheaders()}
    finally:
        conn.close()


def host(f):
    return f["url"][len("http://"):]


def test_node_and_python_answer_over_http_through_the_edge_methods_filtered():
    fw = FnWorld.get()
    st, body, h = edge("POST", host(fw.node), {"echo": 7})
    assert st == 200 and json.loads(body) == {"runtime": "node20", "method": "POST", "trigger": "http",
                                              "echo": 7}, (st, body)
    assert h.get("x-launcher-invocation-status") == "ok", h
    st, body, _ = edge("GET", host(fw.node))
    assert st == 405, (st, body)
    st, body, _ = edge("GET", host(fw.py))
    assert st == 200 and json.loads(body)["runtime"] == "python3", (st, body)
    # The shim's line of each call reaches the invocation record (shipped logs).
    _wait("http invocations recorded",
          lambda: [i["status"] for i in fw.invocations(fw.node) if i["trigger"] == "http"] == ["ok"], 30)


def test_invoke_answers_status_body_and_duration():
    fw = FnWorld.get()
    res = fw.invoke(fw.node, {"echo": "x"})
    assert res["status"] == 200 and res["body"]["echo"] == "x" and res["body"]["trigger"] == "invoke", res
    assert isinstance(res["duration_ms"], (int, float)) and res["duration_ms"] >= 0, res
    inv = [i for i in fw.invocations(fw.node) if i["trigger"] == "invoke"]
    assert [(i["status"], i["http_status"]) for i in inv] == [("ok", 200)], inv


def test_past_the_timeout_is_timeout_and_past_the_memory_limit_is_oom():
    fw = FnWorld.get()
    # ?wait=0: 202 with the job; its invocation is running once the agent took it.
    r = fw.c.post("/functions/%s/invoke?wait=0" % fw.py["id"], {"payload": {"sleep": 5}})
    assert r.status == 202, r
    _wait("a running invocation", lambda: "running" in {i["status"] for i in fw.invocations(fw.py)}, 30)
    _wait("its timeout", lambda: "timeout" in {i["status"] for i in fw.invocations(fw.py)}, 30)
    res = fw.invoke(fw.py, {"sleep": 5})
    assert res["status"] == 504 and res["invocation"]["status"] == "timeout", res
    res = fw.invoke(fw.py, {"alloc": True})
    assert res["status"] == 502 and res["invocation"]["status"] == "oom", res
    got = [i["status"] for i in fw.invocations(fw.py) if i["trigger"] == "invoke"]
    assert got == ["timeout", "timeout", "oom"], fw.invocations(fw.py)
    # The container stays up: the next call answers.
    assert fw.invoke(fw.py, {})["status"] == 200


def test_a_cron_tick_runs_the_function():
    fw = FnWorld.get()
    _tick()
    _wait("the cron run", lambda: [(i["trigger"], i["status"]) for i in fw.invocations(fw.py)
                                   if i["trigger"] == "cron"] == [("cron", "ok")], 60)


def test_delete_removes_the_container():
    fw = FnWorld.get()
    f = fw.make(name="gone-" + uuid.uuid4().hex[:6], runtime="node20", source={"code": NODE})
    assert fw.c.post("/functions/%s/deploy" % f["id"]).status == 202
    _wait("deployed", lambda: fw.status(f) in ("running", "failed"), DEPLOY_TIMEOUT)
    assert fw.status(f) == "running"
    from test_deploy_e2e import app_containers
    assert len(app_containers(f["id"], all_=False)) == 1
    assert fw.c.delete("/functions/" + f["id"]).status == 204
    _wait("container removed", lambda: app_containers(f["id"]) == [], 60)


def test_a_handler_that_does_not_exist_fails_the_deploy_naming_it():
    fw = FnWorld.get()
    f = fw.make(name="nohandler", runtime="python3", handler="index.nothere",
                source={"code": "def handler(event, context):\n    return 1\n"})
    assert fw.c.post("/functions/%s/deploy" % f["id"]).status == 202
    _wait("deploy failed", lambda: fw.status(f) in ("running", "failed"), DEPLOY_TIMEOUT)
    got = fw.c.get("/functions/" + f["id"]).data
    assert got["status"] == "failed" and "nothere" in got["status_reason"], got


def test_a_git_source_is_cloned_as_an_application_s():
    """A repository served by `git daemon` on loopback: source.path picks its
    directory, and without it the checkout's root is the code; the function
    answers its code."""
    import subprocess
    import sys
    import tempfile
    from lib import STATE, at_module_end
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
    from ports import free_port
    fw = FnWorld.get()
    base = tempfile.mkdtemp(dir=STATE, prefix="fngit.")
    work = os.path.join(base, "work")
    os.makedirs(os.path.join(work, "api"))
    with open(os.path.join(work, "api", "main.js"), "w") as f:
        f.write("exports.run = async () => ({status: 200, body: {from: 'git'}});\n")
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@t", "-c", "init.defaultBranch=main"]
    for args in (["init", "-q", work], ["-C", work, "add", "."], ["-C", work, "commit", "-qm", "fn"],
                 ["clone", "-q", "--bare", work, os.path.join(base, "fn.git")]):
        subprocess.run(git + args, check=True, capture_output=True)
    port = free_port()
    d = subprocess.Popen(["git", "daemon", "--reuseaddr", "--export-all", "--base-path=" + base,
                          "--listen=127.0.0.1", "--port=%d" % port, base],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    # `git daemon` runs git-daemon as its child: end the whole group.
    at_module_end(lambda: (os.killpg(d.pid, signal.SIGKILL), d.wait()))
    f = fw.make(name="from-git", runtime="node20", handler="main.run",
                source={"type": "git", "repository_url": "git://127.0.0.1:%d/fn.git" % port,
                        "branch": "main", "path": "api"})
    assert fw.c.post("/functions/%s/deploy" % f["id"]).status == 202
    _wait("deployed", lambda: fw.status(f) in ("running", "failed"), DEPLOY_TIMEOUT)
    got = fw.c.get("/functions/" + f["id"]).data
    assert got["status"] == "running", got
    assert fw.invoke(f, {})["body"] == {"from": "git"}
    # Without source.path the checkout's root is the code (a root main.js).
    with open(os.path.join(work, "main.js"), "w") as fh:
        fh.write("exports.run = async () => ({status: 200, body: {from: 'root'}});\n")
    for args in (["-C", work, "add", "."], ["-C", work, "commit", "-qm", "root"],
                 ["-C", work, "push", "-q", os.path.join(base, "fn.git"), "main"]):
        subprocess.run(git + args, check=True, capture_output=True)
    r = fw.make(name="git-root", runtime="node20", handler="main.run",
                source={"type": "git", "repository_url": "git://127.0.0.1:%d/fn.git" % port, "branch": "main"})
    assert fw.c.post("/functions/%s/deploy" % r["id"]).status == 202
    _wait("deployed", lambda: fw.status(r) in ("running", "failed"), DEPLOY_TIMEOUT)
    got = fw.c.get("/functions/" + r["id"]).data
    assert got["status"] == "running", got
    assert fw.invoke(r, {})["body"] == {"from": "root"}
