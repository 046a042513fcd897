"""Custom domains of functions end to end (issue 21: "http trigger: the
function answers at its url through the edge nginx, methods filtered, TLS by
issue 6"), with the real parts of test_domains_e2e: the plane,
launcher-dnscheck run --once by the test, the suite's dnsmasq and pebble, the
real launcher-agent writing the host site into the stack's nginx and issuing
the certificate with lego, and the function's container from the runtime
images of tests/fixtures/fn_runtimes.sh (test_functions_e2e's).

A domain with function_id: verified, routed to the function's container with
its methods filter, certificate issued, HTTPS by the custom hostname reaches
the function (other methods 405); a redeploy with other methods re-routes;
the function's delete removes its route.  Validation: a function without an
http trigger and both ids are 400, another tenant's function 404.

The module's name says "function" and "domain": tests/run.sh then builds the
runtime images and starts dnsmasq and pebble."""
import json
import os

from lib import HTTP_PORT, HTTPS_PORT, assert_error, new_project, registered
from test_agent_e2e import _wait
from test_domains_e2e import (DomainWorld, _domain, _host, _need, _publish, _site, _status, _tls, curl,
                              dnscheck, http)
from test_deploy_e2e import engine
from test_functions_e2e import fn_runtime_mirrors
from test_servers import _server

F = os.environ
DEPLOY_TIMEOUT = 120

CODE = r"""
exports.handler = async (event) => ({
  status: 200, body: { fn: 'fn-domain', method: event.method, trigger: event.trigger, path: event.path }
});
"""


class FnDomainWorld(DomainWorld):
    """DomainWorld (a TLS edge agent on 127.0.0.1) with the runtime images
    mapped and one node function with an http trigger (GET, POST), deployed."""
    _w = None

    def __init__(self):
        fn_runtime_mirrors()
        # The stack's Podman answers its first calls slowly on a loaded machine: asked
        # here first, the agent's own first look finds it awake (the world waits 30 s).
        engine("GET", "/info", timeout=120)
        super().__init__()
        r = self.c.post("/functions", {"project_id": self.project["id"], "name": "fn-dom", "runtime": "node20",
                                       "source": {"code": CODE},
                                       "triggers": [{"type": "http", "methods": ["GET", "POST"]}]})
        assert r.status == 201, r
        self.fn = r.data
        self.deploy()

    def deploy(self):
        r = self.c.post("/functions/%s/deploy" % self.fn["id"])
        assert r.status == 202, r
        job = r.data["job"]["id"]
        _wait("the function's deploy job", lambda: self.c.get("/jobs/" + job).data["status"]
              in ("succeeded", "failed", "cancelled"), DEPLOY_TIMEOUT)
        got = self.c.get("/functions/" + self.fn["id"]).data
        assert got["status"] == "running", got


def https(host, *extra):
    return curl("https://%s:%d/hello" % (host, HTTPS_PORT), host, HTTPS_PORT, *extra, cacert=F["PEBBLE_ROOT_FILE"])


_main = {}


def _active_https_function_domain():
    """add (function_id) -> records -> verified -> routed -> certificate, once."""
    if _main:
        return _main["w"], _main["d"]
    _need()
    w = FnDomainWorld.get()
    host = _host("fn")
    r = w.c.post("/domains", {"function_id": w.fn["id"], "hostname": host})
    assert r.status == 201, r
    d = r.data
    assert (d["function_id"], d["application_id"], d["project_id"], d["status"]) == \
        (w.fn["id"], None, w.project["id"], "pending_verification"), d
    # The routing record: a CNAME to the function's default hostname, as an app's.
    rec = w.c.get("/domains/%s/dns-records" % d["id"]).data
    assert {"type": "CNAME", "name": host, "value": w.fn["hostname"], "ttl": 300} in rec["records"], rec
    assert not os.path.exists(_site(host))
    _publish(d)
    dnscheck()
    _status(w, d, "active")
    # Routed (no certificate yet): plain HTTP reaches the function.
    st, body, _ = http(host, "/hello")
    assert st == 200 and json.loads(body) == {"fn": "fn-domain", "method": "GET", "trigger": "http",
                                              "path": "/hello"}, (st, body)
    assert _domain(w, d)["tls"]["status"] == "pending"
    dnscheck()
    got = _tls(w, d, lambda x: x["tls"]["status"] in ("issued", "failed"), "a certificate", 180)
    assert got["tls"]["status"] == "issued" and "pebble" in got["tls"]["issuer"].lower(), got
    _main.update(w=w, d=got)
    return w, got


def test_a_function_domain_is_verified_routed_and_served_over_https_methods_filtered():
    w, d = _active_https_function_domain()
    host = d["hostname"]
    _wait("HTTPS by the custom hostname", lambda: https(host)[0] == 200, 30)
    st, body, _ = https(host, "-X", "POST", "-d", "{}")
    assert st == 200 and json.loads(body)["method"] == "POST", (st, body)
    # Not one of the trigger's methods: 405 from the edge, as at the default hostname.
    st, body, _ = https(host, "-X", "PUT", "-d", "{}")
    assert st == 405, (st, body)
    st, _, _ = curl("http://%s:%d/" % (w.fn["hostname"], HTTP_PORT), w.fn["hostname"], HTTP_PORT, "-X", "PUT")
    assert st == 405, st
    # Plain HTTP redirects once the certificate is there (a function's route always does).
    st, _, loc = http(host, "/x")
    assert st == 308 and loc == "https://%s:%d/x" % (host, HTTPS_PORT), (st, loc)
    with open(_site(host)) as f:
        site = f.read()
    assert "# route / %s 1" % w.fn["id"] in site and "^(GET|POST)$" in site, site
    # Listed by function, with function_id.
    lst = w.c.get("/domains?functionId=" + w.fn["id"]).data
    assert [(x["id"], x["function_id"]) for x in lst] == [(d["id"], w.fn["id"])], lst


def test_function_domain_validation():
    _need()
    w = FnDomainWorld.get()
    c, p = w.c, w.project
    cron = c.post("/functions", {"project_id": p["id"], "name": "no-http", "runtime": "python3",
                                 "source": {"code": "def handler(e, c):\n    return 1\n"}, "triggers": []})
    assert cron.status == 201, cron
    web = c.post("/functions", {"project_id": p["id"], "name": "web-fn", "runtime": "python3",
                                "source": {"code": "def handler(e, c):\n    return 1\n"},
                                "triggers": [{"type": "http"}]})
    assert web.status == 201, web
    assert_error(c.post("/domains", {"function_id": cron.data["id"], "hostname": _host()}),
                 400, "BAD_REQUEST", field="function_id")
    # Both targets: 400, whatever they name.
    assert_error(c.post("/domains", {"function_id": web.data["id"], "application_id": web.data["id"],
                                     "hostname": _host()}), 400, "BAD_REQUEST", field="function_id")
    # A function of another project named with this project: 400; another tenant's: 404.
    other = new_project(c)
    assert_error(c.post("/domains", {"project_id": other["id"], "function_id": web.data["id"],
                                     "hostname": _host()}), 400, "BAD_REQUEST", field="function_id")
    o, _ = registered("fdo")
    _server(o, host="127.0.0.1", base_domain="localhost")
    op = new_project(o)
    ofn = o.post("/functions", {"project_id": op["id"], "name": "theirs", "runtime": "python3",
                                "source": {"code": "def handler(e, c):\n    return 1\n"},
                                "triggers": [{"type": "http"}]})
    assert ofn.status == 201, ofn
    assert_error(c.post("/domains", {"function_id": ofn.data["id"], "hostname": _host()}), 404, "NOT_FOUND")
    assert_error(c.post("/domains", {"project_id": p["id"], "function_id": ofn.data["id"],
                                     "hostname": _host()}), 404, "NOT_FOUND")
    # The http function is a target; the object and the list show function_id.
    r = c.post("/domains", {"function_id": web.data["id"], "hostname": _host()})
    assert r.status == 201 and r.data["function_id"] == web.data["id"] and r.data["application_id"] is None, r
    got = c.get("/domains/" + r.data["id"]).data
    assert got["function_id"] == web.data["id"], got
    assert [x["id"] for x in c.get("/domains?functionId=" + web.data["id"]).data] == [r.data["id"]]
    # PUT to a function without an http trigger: 400, nothing changed.
    assert_error(c.put("/domains/" + r.data["id"], {"function_id": cron.data["id"]}), 400, "BAD_REQUEST",
                 field="function_id")
    assert c.get("/domains/" + r.data["id"]).data == got


def test_a_redeploy_with_other_methods_reroutes_and_a_delete_removes_the_route():
    w, d = _active_https_function_domain()
    host = d["hostname"]
    r = w.c.get("/functions/" + w.fn["id"])
    r = w.c.put("/functions/" + w.fn["id"], {"triggers": [{"type": "http", "methods": ["PUT"]}]},
                headers={"If-Match": r.headers["etag"]})
    assert r.status == 200, r
    w.deploy()
    # The host file follows the function's new site (the agent re-renders it).
    st, body, _ = https(host, "-X", "PUT", "-d", "{}")
    assert st == 200 and json.loads(body)["method"] == "PUT", (st, body)
    assert https(host)[0] == 405
    # The function's delete: its domains go first, their route job removes the host file.
    assert w.c.delete("/functions/" + w.fn["id"]).status == 204
    assert w.c.get("/domains/" + d["id"]).status == 404
    _wait("the host file removed", lambda: not os.path.exists(_site(host)), 60)
    _main.clear()
