"""Default hostnames on the edge (sql/059_hostnames.sql), end to end: the real
plane and launcher-agent, the stack's Podman and nginx as the edge.  An
application and a function of one name in one project get two hostnames, so
both edge sites install (before, the function's site repeated the
application's server_name, nginx refused it and the function's deploy
failed) and each answers on its own name.  (Named test_function_* so that
tests/run.sh provides the functions' runtime images.)"""
import json

from test_agent_e2e import _wait
from test_deploy_e2e import World, _app, _deploy, _serves, edge_get
from test_functions_e2e import DEPLOY_TIMEOUT, NODE, fn_runtime_mirrors


def test_an_application_and_a_function_of_one_name_both_serve_on_the_edge():
    fn_runtime_mirrors()
    w = World.get()
    a = _app(w, name="twin")
    r = w.c.post("/functions", {"project_id": w.project["id"], "name": "twin", "runtime": "node20",
                                "source": {"code": NODE}, "triggers": [{"type": "http"}]})
    assert r.status == 201, r
    f = r.data
    assert a["hostname"] != f["hostname"] and f["url"] == "http://" + f["hostname"], (a, f)
    _deploy(w, a)
    r = w.c.post("/functions/%s/deploy" % f["id"])
    assert r.status == 202, r
    got = _wait("function running", lambda: (lambda g: g if g["status"] in ("running", "failed") else None)(
        w.c.get("/functions/" + f["id"]).data), DEPLOY_TIMEOUT)
    assert got["status"] == "running", got
    st, body = edge_get(f["hostname"], timeout=30)
    assert st == 200 and json.loads(body)["runtime"] == "node20", (st, body)
    _serves(a["hostname"], "v1")
