"""The browser tests' bridge to the API tests' helpers (tests/api/lib.py and
the deployment tests' agent and git daemon): one process per test file,
started by tests/browser/lib.mjs, reading one JSON request a line on stdin
and answering one JSON line on stdout ({"id", "ok", "data"|"error"}).

Nothing here is a copy: tenants and registration are lib.py's, the agent is
test_deploy_e2e's EdgeAgent (the real launcher-agent routing into the
stack's nginx), the git daemon and a tenant's clean-up are its own too.  At
the end of stdin (the test file is over, or died) what was started ends:
each agent is killed and its tenant's containers and volumes removed
(lib.module_end), the git daemons are killed."""
import json
import os
import re
import sys
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "api"))

import lib  # noqa: E402

_daemons = []


def op_tenant(prefix="b"):
    """A fresh tenant with no user yet (first-run registration)."""
    slug, tid = lib.new_tenant(prefix)
    return {"tenant": slug, "tid": tid}


def op_registered(prefix="b"):
    """A fresh tenant with its superadmin registered through the API."""
    c, user = lib.registered(prefix)
    return {"tenant": c.tenant, "tid": c.tid, "token": c.token, "email": c.email,
            "password": lib.PASSWORD, "user": user}


def op_mail_code(addr, after=0.0, timeout=15.0):
    """The 6-digit code of the newest mail to addr written after `after`
    (seconds since the epoch), from the stack's real SMTP server's store."""
    body = lib.mail_body(lib.mail_for(addr, after=after, timeout=timeout))
    codes = re.findall(r"\b\d{6}\b", body)
    if not codes:
        raise AssertionError("no 6-digit code in the mail to %s: %r" % (addr, body[:300]))
    return codes[0]


def op_mail_text(addr, after=0.0, timeout=15.0):
    """The plain text of the newest mail to addr written after `after`."""
    return lib.mail_body(lib.mail_for(addr, after=after, timeout=timeout))


def op_admin(args):
    """launcher-admin against the stack; its stdout."""
    return lib.admin(*args)


def op_agent(tenant, tid, token, name):
    """The real agent (with edge routing into the stack's nginx) for the
    server `name` of the tenant, with its agent token; ends, with the
    tenant's containers and volumes, when this process ends."""
    from test_deploy_e2e import EdgeAgent, tenant_end
    a = EdgeAgent(tenant, token, name).start()
    lib.at_module_end(lambda: tenant_end(a, tid))
    return {"pid": a.proc.pid, "log": a.log}


def op_git_daemon():
    """git daemon on loopback serving the deployment fixture's repository
    (tests/fixtures/build.sh); its URL and the fixture's commits."""
    from test_deploy_e2e import _git_daemon
    if not os.environ.get("FIXTURE_GIT_DIR"):
        raise AssertionError("no FIXTURE_GIT_DIR: run through tests/run.sh (the fixtures)")
    p, url = _git_daemon()
    _daemons.append(p)
    return {"url": url, "sha_v1": os.environ.get("FIXTURE_GIT_SHA_V1"),
            "sha_v2": os.environ.get("FIXTURE_GIT_SHA_V2")}


def op_issue(tid, project_id, app_id=None):
    """An error-tracking issue with one event (a stack trace) in the project,
    written as tests/api/test_issues_api.py writes them (no SDK, no grouping
    run): its id."""
    from test_issues_api import _event, _issue

    class C:
        pass
    c = C()
    c.tid = tid
    iid = _issue(c, project_id, app_id, title="TypeError: cart.total is undefined")
    _event(c, project_id, iid, {"exception": {"values": [{"type": "TypeError", "value": "cart.total is undefined",
           "stacktrace": {"frames": [{"filename": "app/cart.js", "function": "checkout", "lineno": 42,
                                      "context_line": "return cart.total.amount;"}]}}]}},
           message="cart.total is undefined")
    return iid


def op_psql(sql, user="launcher_api", tenant=None):
    return lib.psql(sql, user=user, tenant=tenant)


OPS = {k[3:]: v for k, v in dict(globals()).items() if k.startswith("op_")}


def end():
    for err in lib.module_end():
        print("world.py: clean-up: %s" % err, file=sys.stderr, flush=True)
    for p in _daemons:
        if p.poll() is None:
            p.kill()
            p.wait()


def main():
    out = sys.stdout
    # What the helpers print (e.g. a deployment's timing) must not mix with
    # the answers: it goes to stderr.
    sys.stdout = sys.stderr
    try:
        for line in sys.stdin:
            if not line.strip():
                continue
            req = json.loads(line)
            t0 = time.time()
            try:
                data = OPS[req["op"]](*req.get("args", []))
                ans = {"id": req["id"], "ok": True, "data": data}
            except Exception as e:  # reported to the caller, who fails its test
                ans = {"id": req["id"], "ok": False,
                       "error": "%s: %s: %s" % (req.get("op"), type(e).__name__, e),
                       "trace": traceback.format_exc(limit=4)}
            ans["seconds"] = round(time.time() - t0, 2)
            out.write(json.dumps(ans) + "\n")
            out.flush()
    finally:
        end()


if __name__ == "__main__":
    main()
