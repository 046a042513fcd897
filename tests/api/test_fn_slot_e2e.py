"""Invocations beside the agent's one job (README "Jobs in slots",
sql/061_job_claim_kinds.sql).

With the real plane and launcher-agent (the runtime images of
tests/fixtures/fn_runtimes.sh, as in test_functions_e2e.py): a function that
sleeps is invoked and, while it runs, another job of the same server (a
`noop`) is taken and finishes; two invocations run at the same time; a
running invocation cancelled (job_cancel, the one cancel of every job) ends
while another goes on; the container's shim gets the plane's concurrency.  And the claim's kinds at the agent API, spoken by a
test agent on a server of its own (test_servers.py's): kinds and
except_kinds, an agent that sends neither gets any kind, bad input is 400,
and a function's invocations are handed out no more than its container
serves at once, never beside its own deploy."""
import json
import uuid

from lib import assert_error, psql, registered
from test_agent_e2e import _wait
from test_deploy_e2e import app_containers, engine
from test_functions import _fn
from test_functions import _world as _fn_world
from test_functions_e2e import DEPLOY_TIMEOUT, FnWorld
from test_servers import Agent, _enqueue, _server

SLEEPER = r"""
import json, time

def handler(event, context):
    p = json.loads(event["body"]) if event["body"] else {}
    time.sleep(float(p.get("sleep", 0)))
    return {"status": 200, "body": {"slept": p.get("sleep", 0)}}
"""


class Slots(FnWorld):
    """FnWorld's run (the runtime images mapped, the real agent) with one
    function of its own instead of FnWorld's two."""
    _w = None

    def __init__(self, w):
        self.w, self.c, self.p = w, w.c, w.project
        # python3 at 96 MiB: fn_concurrency 4 (one shim worker per 24 MiB).
        self.fn = self.make(name="sleeper-" + uuid.uuid4().hex[:6], runtime="python3",
                            source={"code": SLEEPER}, timeout_seconds=60, memory_limit=96 << 20)
        assert self.c.post("/functions/%s/deploy" % self.fn["id"]).status == 202
        _wait("the sleeper deployed", lambda: self.status(self.fn) in ("running", "failed"), DEPLOY_TIMEOUT)
        assert self.status(self.fn) == "running", self.c.get("/functions/" + self.fn["id"]).data

    def invoke_later(self, sleep):
        """?wait=0: 202 with the job at once."""
        r = self.c.post("/functions/%s/invoke?wait=0" % self.fn["id"], {"payload": {"sleep": sleep}})
        assert r.status == 202, r
        return r.data

    @staticmethod
    def job(jid):
        """The job's row (status, times): the plane's own record."""
        row = psql("SELECT status FROM jobs WHERE id = '%s'" % jid, user="launcher_owner")
        return {"status": row[0] if row else None}


def _job_id(accepted):
    return accepted["job"]["id"]


def test_a_job_runs_while_an_invocation_does():
    s = Slots.get()
    inv = _job_id(s.invoke_later(6))
    _wait("the invocation running", lambda: s.job(inv)["status"] == "running", 30)
    noop = _enqueue(s.w.server["id"], s.c.tid)[0]
    got = _wait("the noop finished", lambda: psql("SELECT status FROM jobs WHERE id = '%s'"
                                                  " AND status NOT IN ('queued', 'running')" % noop,
                                                  user="launcher_owner"), 30)
    assert got == ["succeeded"], got
    # The invocation was still running when the other job ended: beside it, not after it.
    assert s.job(inv)["status"] == "running", s.job(inv)
    _wait("the invocation finished", lambda: s.job(inv)["status"] == "succeeded", 30)


def test_two_invocations_run_at_the_same_time():
    s = Slots.get()
    a, b = _job_id(s.invoke_later(3)), _job_id(s.invoke_later(3))
    _wait("both finished", lambda: all(s.job(j)["status"] in ("succeeded", "failed") for j in (a, b)), 40)
    ja, jb = s.job(a), s.job(b)
    assert ja["status"] == jb["status"] == "succeeded", (ja, jb)
    rows = psql("SELECT (a.started_at < b.finished_at AND b.started_at < a.finished_at)::text"
                " FROM jobs a, jobs b WHERE a.id = '%s' AND b.id = '%s'" % (a, b), user="launcher_owner")
    assert rows == ["true"], (ja, jb)
    # The container's shim runs as many workers as the plane hands out calls
    # (fn_concurrency: python3 at 96 MiB, 4), whatever its own default.
    cs = app_containers(s.fn["id"], all_=False)
    st, doc = engine("GET", "/containers/%s/json" % cs[0]["Id"])
    assert st == 200 and "LAUNCHER_FN_CONCURRENCY=4" in doc["Config"]["Env"], (st, doc.get("Config"))


def test_a_running_invocation_cancelled_ends_while_another_goes_on():
    s = Slots.get()
    a, b = _job_id(s.invoke_later(12)), _job_id(s.invoke_later(4))
    _wait("both running", lambda: s.job(a)["status"] == "running" and s.job(b)["status"] == "running", 20)
    assert psql("SELECT job_cancel('%s', 'cancelled by the test')" % a, user="launcher_owner") == ["cancelled"]
    # The agent hears it (wake, then its lease renewal's 409), kills that
    # child only, and the other completes.
    _wait("b finished", lambda: s.job(b)["status"] in ("succeeded", "failed"), 30)
    assert s.job(b)["status"] == "succeeded", s.job(b)
    ja = s.job(a)
    assert ja["status"] == "cancelled", ja
    inv = [i for i in s.invocations(s.fn) if i["status"] == "error" and i["error"] == "cancelled by the test"]
    assert len(inv) == 1, s.invocations(s.fn)
    # Its slot is free again: a new invocation runs and answers.
    r = s.c.post("/functions/%s/invoke" % s.fn["id"], {"payload": {"sleep": 0}})
    assert r.status == 200 and r.data["body"] == {"slept": 0}, r


# ------------------------------------------------------- the agent API contract

def _fn_payload(fid, runtime="node20", memory=64 << 20, **extra):
    return json.dumps(dict({"function_id": fid, "runtime": runtime, "memory_limit": memory}, **extra))


def _complete(agent, jid):
    r = agent.call("POST", "/jobs/%s/complete" % jid, {"status": "succeeded", "result": {}})
    assert r.status in (200, 204), r


def test_claim_kinds_and_except_kinds():
    c, _ = registered()
    srv = _server(c)
    ag = Agent(c.tenant, srv["agent_token"])
    noop = _enqueue(srv["id"], c.tid, kind="noop")[0]
    inv = _enqueue(srv["id"], c.tid, kind="fn.invoke", payload=_fn_payload(str(uuid.uuid4())))[0]
    # Bad input: 400 naming the field, nothing claimed.
    for body, field in (({"kinds": []}, "kinds"), ({"kinds": ["Fn!"]}, "kinds"),
                        ({"except_kinds": "fn.invoke"}, "except_kinds")):
        assert_error(ag.call("POST", "/jobs/claim", body), 400, "BAD_REQUEST", field)
    assert psql("SELECT count(*) FROM jobs WHERE server_id = '%s' AND status = 'queued'" % srv["id"],
                user="launcher_owner") == ["2"]
    # The main slot busy: invocations only, the older noop left queued.
    r = ag.call("POST", "/jobs/claim", {"kinds": ["fn.invoke"]})
    assert r.status == 200 and r.data["job"]["id"] == inv, r
    assert ag.call("POST", "/jobs/claim", {"kinds": ["fn.invoke"]}).data["job"] is None
    _complete(ag, inv)
    # The invoke slots busy: anything but an invocation.
    inv2 = _enqueue(srv["id"], c.tid, kind="fn.invoke", payload=_fn_payload(str(uuid.uuid4())))[0]
    r = ag.call("POST", "/jobs/claim", {"except_kinds": ["fn.invoke"]})
    assert r.status == 200 and r.data["job"]["id"] == noop, r
    assert ag.call("POST", "/jobs/claim", {"except_kinds": ["fn.invoke"]}).data["job"] is None
    # An agent that says nothing (before slots) gets any kind, the oldest.
    noop2 = _enqueue(srv["id"], c.tid, kind="noop")[0]
    assert ag.claim()["id"] == inv2
    assert ag.claim()["id"] == noop2


def test_claim_keeps_a_function_within_its_workers_and_apart_from_its_deploy():
    c, _ = registered()
    srv = _server(c)
    ag = Agent(c.tenant, srv["agent_token"])
    f, g = str(uuid.uuid4()), str(uuid.uuid4())
    # node20 at 64 MiB: one worker (fn_concurrency 1); python3 at 96 MiB: four.
    assert psql("SELECT fn_concurrency('node20', 67108864), fn_concurrency('python3', 100663296),"
                " fn_concurrency('node20', 1073741824)") == ["1|4|4"]
    f1, f2 = _enqueue(srv["id"], c.tid, n=2, kind="fn.invoke", payload=_fn_payload(f))
    g1 = _enqueue(srv["id"], c.tid, kind="fn.invoke", payload=_fn_payload(g))[0]
    want = {"kinds": ["fn.invoke"]}
    assert ag.call("POST", "/jobs/claim", want).data["job"]["id"] == f1
    # f's one worker is busy: its second call waits, another function's goes.
    assert ag.call("POST", "/jobs/claim", want).data["job"]["id"] == g1
    assert ag.call("POST", "/jobs/claim", want).data["job"] is None
    _complete(ag, f1)
    assert ag.call("POST", "/jobs/claim", want).data["job"]["id"] == f2
    # A deploy of g waits for g's running call; one queued after the deploy
    # waits for the deploy (queue order kept per function).
    dep = _enqueue(srv["id"], c.tid, kind="fn.deploy", payload=_fn_payload(g))[0]
    g2 = _enqueue(srv["id"], c.tid, kind="fn.invoke", payload=_fn_payload(g))[0]
    assert ag.claim() is None, "the deploy must wait for g's running invocation"
    _complete(ag, g1)
    assert ag.claim()["id"] == dep
    assert ag.call("POST", "/jobs/claim", want).data["job"] is None, "g2 must wait for the deploy"
    _complete(ag, dep)
    assert ag.call("POST", "/jobs/claim", want).data["job"]["id"] == g2


def test_claim_counts_a_functions_workers_as_it_deployed():
    """The concurrency is the deployed container's: the fn.deploy claim's of
    its payload (what the container is built from), the invocations' limit
    of the deploy that succeeded, not of the function's row of now."""
    c, srv, p = _fn_world("fslot")
    ag = Agent(c.tenant, srv["agent_token"])
    # python3 at 96 MiB: four workers.
    f = _fn(c, p, runtime="python3", memory_limit=96 << 20)
    assert c.post("/functions/%s/deploy" % f["id"]).status == 202
    # The row changes once the deploy is queued (24 MiB: one worker).
    psql("UPDATE functions SET memory_limit = 25165824 WHERE id = '%s'" % f["id"], user="launcher_owner")
    dep = ag.claim()
    assert dep["kind"] == "fn.deploy" and dep["payload"]["concurrency"] == 4, dep
    _complete(ag, dep["id"])
    assert psql("SELECT deployed_concurrency FROM functions WHERE id = '%s'" % f["id"],
                user="launcher_owner") == ["4"]
    # Invocations queued now carry the row's 24 MiB; the container serves four.
    for _ in range(2):
        assert c.post("/functions/%s/invoke?wait=0" % f["id"], {"payload": {}}).status == 202
    want = {"kinds": ["fn.invoke"]}
    got = [ag.call("POST", "/jobs/claim", want).data["job"] for _ in range(2)]
    assert all(j is not None and j["kind"] == "fn.invoke" for j in got), got
