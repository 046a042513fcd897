"""Tenant safety by construction: the router's tenant check on every route of
the table, the tenant setting that only the preamble can make count, the
maintenance functions out of the API role's reach, one canonical path form
(the strict auth zone for /auth/login/ too) and ids checked by the router."""
import json
import os
import subprocess
import threading
import time
import uuid

from fcgi_client import read_response, send_request
from lib import (BIN, CONF, STATE, assert_error, make_key, new_project, psql, registered,
                 request)


def _start_pool(tag):
    """A one-worker pool of its own (log_level debug) on its own socket."""
    sock = os.path.join(STATE, "run", "pool-%s.sock" % tag)
    conf = os.path.join(STATE, "pool-%s.conf" % tag)
    override = {"listen": sock, "workers": "1", "log_level": "debug"}
    with open(CONF) as f:
        lines = [l for l in f if l.split("=", 1)[0].strip() not in override]
    lines += ['%s = "%s"\n' % kv for kv in override.items()]
    with open(conf, "w") as f:
        f.writelines(lines)
    log_path = os.path.join(STATE, "log", "pool-%s.log" % tag)
    log = open(log_path, "w")
    p = subprocess.Popen([os.path.join(BIN, "launcher-fcgi"), "-c", conf], stderr=log)
    deadline = time.time() + 10
    while True:
        assert p.poll() is None and time.time() < deadline, "pool did not start"
        if os.path.exists(sock):
            try:
                if read_response(send_request("/healthz", sock_path=sock))[0] == 200:
                    break
            except OSError:
                pass
        time.sleep(0.05)
    return p, sock, log_path


def _tenant():
    """A tenant with a project, a server (agent token), a key and its user."""
    c, user = registered("g")
    p = new_project(c)
    srv = c.post("/servers", {"name": "walk"}).data
    key = make_key(c)
    et = c.get("/projects/%s/error-tracking" % p["id"]).data
    return {"client": c, "slug": c.tenant, "tid": c.tid, "token": c.token,
            "agent": srv["agent_token"], "dsn": (str(et["dsn_id"]), et["public_key"]),
            "ids": {"project": p["id"], "server": srv["id"],
                    "user": user["id"], "key": key["id"]},
            "marks": [c.tid, c.tenant, c.email, p["id"], srv["id"], user["id"], key["id"], p["name"]]}


def _path(t, method, pattern):
    """The pattern with the tenant's own ids (GET) or unknown ones (anything
    else, so that the walk changes nothing it needs later)."""
    segs = pattern.split("/")
    out = []
    for i, s in enumerate(segs):
        if not s.startswith(":"):
            out.append(s)
            continue
        own = None
        if method == "GET" and s == ":id":
            own = {"projects": "project", "servers": "server", "users": "user",
                   "service-keys": "key"}.get(segs[i - 1])
        out.append(t["ids"][own] if own else str(uuid.uuid4()))
    return "/".join(out)


def _routes():
    out = subprocess.run([os.path.join(BIN, "launcher-fcgi"), "--routes"], capture_output=True,
                         text=True, check=True).stdout
    rows = [l.split() for l in out.splitlines()]
    return [(r[0], r[1][len("/{tenant}/api/v1"):], r[4]) for r in rows if r[4] != "global"]


def test_every_route_checks_the_connections_tenant_alternating_two_tenants():
    """The whole --routes table (public, agent, authenticated routes; GET
    /projects is the prefetching one) on a one-worker pool: no answer is a
    500 or carries the other tenant's ids, names or e-mail, and the pool's
    log shows the router's tenant check for every request, with the
    request's own tenant."""
    a, b = _tenant(), _tenant()
    routes = _routes()
    kinds = {k for _, _, k in routes}
    assert kinds == {"public", "agent", "auth"} and len(routes) >= 70, kinds
    proc, sock, log_path = _start_pool("tenant-walk")
    sent = []
    try:
        # Each route twice, once as each tenant; consecutive requests on the
        # one worker alternate tenants (so a route that kept the previous
        # request's tenant would answer with the other one's rows).
        for n, (method, pattern, kind) in enumerate(routes * 2):
            me, other = (a, b) if (n + n // len(routes)) % 2 == 0 else (b, a)
            rid = uuid.uuid4().hex
            params = {"REQUEST_ID": rid}
            if kind == "auth":
                params["HTTP_AUTHORIZATION"] = "Bearer " + me["token"]
            elif kind == "agent":
                params["HTTP_X_LNCHR_AGENT_TOKEN"] = me["agent"]
            uri = "/%s/api/v1%s" % (me["slug"], _path(me, method, pattern))
            body = b"{}" if method in ("POST", "PUT", "PATCH") else b""
            if pattern.startswith("/sentry/"):
                # Sentry ingest: as nginx's ingest location passes it, with
                # the tenant's own DSN and key (an event, or an envelope
                # with no item: its key is still checked in the database).
                uri = "/%s/api/v1%s" % (me["slug"], pattern.replace(":dsn", me["dsn"][0]))
                params["LNCHR_INGEST"] = "1"
                params["QUERY_STRING"] = "sentry_key=" + me["dsn"][1]
                body = b'{"message":"walk"}' if pattern.endswith("/store") else b"{}"
            if pattern == "/mcp":
                # The MCP endpoint: as nginx's MCP location passes it (its
                # tool calls are sub-requests, each with its own check).
                params["LNCHR_MCP"] = "1"
                body = b'{"jsonrpc":"2.0","id":1,"method":"tools/list"}'
            status, _, rbody = read_response(send_request(uri, params, method=method, body=body,
                                                          sock_path=sock))
            text = rbody.decode(errors="replace")
            assert status != 500, (method, uri, status, text)
            leaked = [m for m in other["marks"] if m in text]
            assert not leaked, "%s %s as %s carries the other tenant's %s" % (method, uri, me["slug"], leaked)
            sent.append((rid, method, pattern, me["tid"], status))
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    checked = {}
    with open(log_path) as f:
        for line in f:
            if " rid=" in line and " tenant check " in line:
                rid = line.split(" rid=", 1)[1].split()[0]
                checked[rid] = line.split(" tenant check ", 1)[1].split()
    missing = [(m, p, s) for rid, m, p, tid, s in sent if checked.get(rid) != [p, tid]]
    assert not missing, "routes answered without the router's tenant check: %s" % missing


def test_a_raw_tenant_setting_shows_no_rows_of_that_tenant():
    a, b = _tenant(), _tenant()
    # The preamble's way (a bound nonce proves the tenant) sees b's project.
    assert psql("SELECT id FROM projects", tenant=b["tid"]) == [b["ids"]["project"]]
    # A bare set_config as the API role: the tenant is not honoured.
    rows = psql("SELECT pg_catalog.set_config('launcher.tenant_id', '%s', false);"
                " SELECT count(*) FROM projects" % b["tid"])
    assert rows == [b["tid"], "0"], rows
    rows = psql("SELECT pg_catalog.set_config('launcher.tenant_id', '%s', false);"
                " SELECT count(*) FROM users WHERE id = '%s'" % (b["tid"], b["ids"]["user"]))
    assert rows == [b["tid"], "0"], rows
    # A session bound once cannot be bound again with a nonce it chose, and
    # no nonce can be read back.
    try:
        psql("SELECT launcher.session_bind('%s'); SELECT launcher.session_bind('%s')"
             % ("x" * 40, "y" * 40))
        raise AssertionError("a second bind was accepted")
    except RuntimeError as e:
        assert "bound already" in str(e), e
    try:
        psql("SELECT nonce FROM session_nonces")
        raise AssertionError("the API role read the nonces")
    except RuntimeError as e:
        assert "permission denied" in str(e), e
    # A proof made with a guessed nonce does not count either.
    rows = psql("SELECT launcher.session_bind('%s');"
                " SELECT pg_catalog.set_config('launcher.tenant_id', '%s', false),"
                " pg_catalog.set_config('launcher.tenant_proof', launcher.tenant_proof('%s', '%s'), false);"
                " SELECT count(*) FROM projects" % ("n" * 40, b["tid"], b["tid"], "m" * 40))
    assert rows[-1] == "0", rows


def test_maintenance_functions_belong_to_the_maintenance_role():
    for call in ("launcher.scheduler_tick()", "launcher.runtime_logs_prune(7)",
                 "launcher.job_results_expire(3600)"):
        try:
            psql("SELECT * FROM " + call)
            raise AssertionError("the API role ran " + call)
        except RuntimeError as e:
            assert "permission denied" in str(e), e
        psql("SELECT * FROM " + call, user="launcher_maint")
    out = subprocess.run([os.path.join(BIN, "launcher-scheduler"), "-c", CONF, "--once"],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr


def _hammer(path, n=60):
    statuses = []

    def hit():
        statuses.append(request("POST", path, {"email": "x@y.z", "password": "p"}).status)
    ts = [threading.Thread(target=hit) for _ in range(n)]
    [t.start() for t in ts]
    [t.join() for t in ts]
    return statuses


def test_trailing_slash_is_not_a_way_around_the_strict_auth_zone():
    c, _ = registered()
    for form in ("/auth/login/", "/auth/send-code/"):
        statuses = _hammer("/%s/api/v1%s" % (c.tenant, form))
        assert 429 in statuses and set(statuses) <= {404, 429}, (form, sorted(set(statuses)))
        r = c.post(form, {"email": "x@y.z"})
        assert r.status in (404, 429), r
    # Leave the strict zone as the next tests expect it: wait until it has
    # room again (a deadline, not a fixed sleep).
    deadline = time.time() + 20
    while request("POST", "/%s/api/v1/auth/login" % c.tenant, {"email": "x@y.z", "password": "p"}).status == 429:
        assert time.time() < deadline, "the strict zone did not recover"
        time.sleep(0.2)


def test_the_router_rejects_a_malformed_id_naming_it():
    c, _ = registered()
    p = new_project(c)
    r = c.get("/servers/not-a-uuid")
    assert_error(r, 404, "NOT_FOUND")
    assert "id" in r.error["message"], r
    r = c.delete("/projects/%s/members/nope" % p["id"])
    assert_error(r, 404, "NOT_FOUND")
    assert "memberId" in r.error["message"], r
    # Credentials are still checked first.
    assert_error(request("GET", "/%s/api/v1/servers/not-a-uuid" % c.tenant), 401, "UNAUTHORIZED")
    assert json.loads(json.dumps(c.get("/projects/" + p["id"]).data))["id"] == p["id"]
