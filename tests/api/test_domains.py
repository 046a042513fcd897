"""Custom domains (API.md §10, sql/032_domains.sql): CRUD and lists, the
hostname rules (IDNA, IP literals, lengths, wildcards, reserved names),
one tenant per hostname, permissions and row-level security, verify, the
DNS records to create, applications' https_redirect, and the edge.host
route jobs the database queues and the status their completion sets.
The DNS checks themselves are launcher-dnscheck's (sql/033)."""
import json
import os
import re
import subprocess
import threading
import uuid

from lib import (CONF, STATE, Client, assert_error, make_key, new_project, new_user, pgpass, psql,
                 registered)
from test_servers import _server

OBJECT_KEYS = {"id", "project_id", "application_id", "function_id", "hostname", "path_prefix",
               "status", "verification", "routing", "tls", "last_checked_at", "next_check_at",
               "check_error", "verified_at", "created_at", "updated_at"}


def _world(prefix="dom", **server):
    c, _ = registered(prefix)
    server.setdefault("base_domain", "apps-%s.example.net" % uuid.uuid4().hex[:8])
    srv = _server(c, name="only", **server)
    p = new_project(c)
    return c, srv, p


def _app(c, p, **body):
    body.setdefault("project_id", p["id"])
    body.setdefault("name", "a" + uuid.uuid4().hex[:8])
    body.setdefault("source_type", "docker_image")
    body.setdefault("image_url", "registry.test/w:1")
    r = c.post("/applications", body)
    assert r.status == 201, r
    return r.data


def _host(label="shop"):
    return "%s.d%s.example.com" % (label, uuid.uuid4().hex[:10])


def _dom(c, app, **body):
    body.setdefault("application_id", app["id"])
    body.setdefault("hostname", _host())
    r = c.post("/domains", body)
    assert r.status == 201, r
    return r.data


def _owner(sql):
    return psql(sql, user="launcher_owner")


def _route_jobs(server_id, hostname):
    rows = _owner("SELECT status || ' ' || payload::text FROM jobs WHERE kind = 'edge.host'"
                  " AND server_id = '%s' AND payload->>'hostname' = '%s' ORDER BY created_at"
                  % (server_id, hostname))
    return [(r.split(" ", 1)[0], json.loads(r.split(" ", 1)[1])) for r in rows]


def _set_status(domain_id, status):
    _owner("UPDATE domains SET status = '%s' WHERE id = '%s'" % (status, domain_id))


def _finish_job(server_id, hostname, status="succeeded", error=None):
    _owner("UPDATE jobs SET status = '%s', finished_at = now(), error = %s WHERE kind = 'edge.host'"
           " AND server_id = '%s' AND payload->>'hostname' = '%s' AND status = 'queued'"
           % (status, "NULL" if error is None else "'%s'" % error, server_id, hostname))


def test_round_trip_through_every_endpoint():
    c, srv, p = _world()
    app = _app(c, p)
    host = _host("Shop")
    r = c.post("/domains", {"application_id": app["id"], "hostname": "  " + host.upper() + ". "})
    assert r.status == 201, r
    d = r.data
    assert set(d) == OBJECT_KEYS, d
    assert (d["project_id"], d["application_id"], d["function_id"], d["hostname"], d["path_prefix"],
            d["status"]) == (p["id"], app["id"], None, host.lower(), "/", "pending_verification"), d
    token = d["verification"]["value"].split("=", 1)[1]
    assert re.fullmatch(r"[0-9a-f]{32}", token), d
    assert d["verification"] == {"type": "TXT", "name": "_lnchr-verify." + host.lower(),
                                 "value": "lnchr-verify=" + token, "ok": None}, d
    assert d["routing"] == {"type": "CNAME", "name": host.lower(), "value": app["hostname"],
                            "ok": None}, d
    assert d["tls"] == {"status": "none", "issuer": None, "expires_at": None, "error": None}, d
    assert d["last_checked_at"] is None and d["check_error"] is None and d["verified_at"] is None
    assert d["next_check_at"] and d["created_at"] and d["updated_at"], d
    got = c.get("/domains/" + d["id"])
    assert got.status == 200 and got.data == d, got
    etag = got.headers["etag"]
    # The application lists its domains.
    assert c.get("/applications/" + app["id"]).data["domains"] == [
        {"id": d["id"], "hostname": d["hostname"], "path_prefix": "/",
         "status": "pending_verification"}]
    # Lists: by project, by application, with the shared cursor.
    other_app = _app(c, p)
    d2 = _dom(c, other_app, project_id=p["id"])
    assert [x["id"] for x in c.get("/domains?projectId=" + p["id"]).data] == [d["id"], d2["id"]]
    assert [x["id"] for x in c.get("/domains?applicationId=" + other_app["id"]).data] == [d2["id"]]
    page = c.get("/domains?limit=1")
    assert [x["id"] for x in page.data] == [d["id"]] and page.json["meta"]["next_cursor"], page
    assert [x["id"] for x in c.every("/domains", limit=1)] == [d["id"], d2["id"]]
    assert c.get("/domains?projectId=" + str(uuid.uuid4())).data == []
    assert_error(c.get("/domains?applicationId=nope"), 400, "BAD_REQUEST")
    # PUT: a new prefix keeps the verification (same token).
    r = c.put("/domains/" + d["id"], {"path_prefix": "/shop"}, headers={"If-Match": etag})
    assert r.status == 200 and r.data["path_prefix"] == "/shop", r
    assert r.data["verification"]["value"] == d["verification"]["value"], r
    assert r.headers["etag"] != etag
    assert_error(c.put("/domains/" + d["id"], {"path_prefix": "/x"}, headers={"If-Match": etag}),
                 412, "PRECONDITION_FAILED")
    assert_error(c.delete("/domains/" + d["id"], headers={"If-Match": etag}), 412, "PRECONDITION_FAILED")
    assert c.get("/domains/" + d["id"]).data["path_prefix"] == "/shop"
    # A new hostname starts over: new token, pending again.
    _owner("UPDATE domains SET status = 'failed', check_error = 'x' WHERE id = '%s'" % d["id"])
    new_host = _host("other")
    r = c.put("/domains/" + d["id"], {"hostname": new_host})
    assert r.status == 200 and r.data["hostname"] == new_host, r
    assert r.data["status"] == "pending_verification" and r.data["check_error"] is None, r
    assert r.data["verification"]["value"] != d["verification"]["value"], r
    assert c.delete("/domains/" + d["id"]).status == 204
    assert_error(c.get("/domains/" + d["id"]), 404, "NOT_FOUND")
    assert_error(c.get("/domains/not-a-uuid"), 404, "NOT_FOUND")
    # Audit entries as the siblings write them.
    actions = _owner("SELECT action FROM audit_log WHERE resource_id = '%s' ORDER BY created_at"
                     % d["id"])
    assert actions[:1] == ["domain.create"] and "domain.update" in actions, actions
    assert actions[-1] == "domain.delete", actions


def _public_host():
    with open(CONF) as f:
        for line in f:
            if line.strip().startswith("public_url"):
                url = line.split("=", 1)[1].strip().strip('"')
                return re.match(r"[a-z]+://([^/:]+)", url).group(1)
    raise AssertionError("no public_url in " + CONF)


def test_hostnames_are_normalised_and_refused_by_rule():
    c, srv, p = _world()
    app = _app(c, p)
    d = _dom(c, app, hostname="B\u00fccher.d%s.example" % uuid.uuid4().hex[:6])
    assert d["hostname"].startswith("xn--bcher-kva.d") and d["hostname"].endswith(".example"), d
    assert _dom(c, app, hostname="Bücher.example")["hostname"] == "xn--bcher-kva.example"
    # Another tenant's server: its base_domain is reserved here too.
    o, osrv, _ = _world("domo")
    long_name = ".".join(["a" * 60] * 5)             # 304 characters
    assert len(long_name) > 300
    bad = [
        "", "   ", "localhost", "api.localhost", _public_host(), "1.2.3.4", "10.1", "[::1]",
        "::1", "2001:db8::1", "[2001:db8::1]", "example.com:8443", "https://example.com",
        "example.com/path", "*.wild.example.com", "a.*.example.com", "com", "a..b.example",
        "-a.example.com", "a_b.example.com", long_name, "a" * 64 + ".example.com",
        srv["base_domain"], "x." + srv["base_domain"], osrv["base_domain"].upper(),
        "deep.x." + osrv["base_domain"],
    ]
    before = c.get("/domains").data
    for h in bad:
        assert_error(c.post("/domains", {"application_id": app["id"], "hostname": h}),
                     400, "BAD_REQUEST", field="hostname")
    prefixes = ["api", "/a b", "/a;b", "/a/../b", "/{x}", "/a#b", '/"x', "/a?b", "/" + "a" * 256]
    for pp in prefixes:
        assert_error(c.post("/domains", {"application_id": app["id"], "hostname": _host(),
                                         "path_prefix": pp}), 400, "BAD_REQUEST", field="path_prefix")
    assert_error(c.post("/domains", {"function_id": str(uuid.uuid4()), "hostname": _host()}),
                 404, "NOT_FOUND")
    assert_error(c.post("/domains", {"hostname": _host(), "project_id": p["id"]}),
                 400, "BAD_REQUEST", field="application_id")
    assert_error(c.post("/domains", {"application_id": str(uuid.uuid4()), "hostname": _host()}),
                 404, "NOT_FOUND")
    assert_error(c.post("/domains", {"application_id": app["id"]}), 400, "BAD_REQUEST",
                 field="hostname")
    # An application of another project, and a worker (no HTTP).
    other = new_project(c)
    assert_error(c.post("/domains", {"project_id": other["id"], "application_id": app["id"],
                                     "hostname": _host()}), 400, "BAD_REQUEST", field="application_id")
    worker = _app(c, p, app_type="worker")
    assert_error(c.post("/domains", {"application_id": worker["id"], "hostname": _host()}),
                 400, "BAD_REQUEST", field="application_id")
    # PUT: the same rules, nothing changed.
    assert_error(c.put("/domains/" + d["id"], {"hostname": "1.2.3.4"}), 400, "BAD_REQUEST",
                 field="hostname")
    assert_error(c.put("/domains/" + d["id"], {"path_prefix": "nope"}), 400, "BAD_REQUEST",
                 field="path_prefix")
    assert c.get("/domains").data == before
    # The database refuses what the API would (a direct write).
    try:
        psql("INSERT INTO domains (project_id, application_id, hostname) VALUES ('%s', '%s',"
             " 'Upper.Example.com')" % (p["id"], app["id"]), tenant=c.tid)
        raise AssertionError("upper case accepted")
    except RuntimeError as e:
        assert "domains_hostname_check" in str(e), e


def test_a_hostname_belongs_to_one_tenant():
    a, srv_a, pa = _world("doma")
    b, srv_b, pb = _world("domb")
    app_a, app_b = _app(a, pa), _app(b, pb)
    host = _host()
    da = _dom(a, app_a, hostname=host)
    for prefix in ("/", "/other"):
        assert_error(b.post("/domains", {"application_id": app_b["id"], "hostname": host.upper(),
                                         "path_prefix": prefix}), 409, "CONFLICT", field="hostname")
    # PUT onto another tenant's name: refused too.
    db_ = _dom(b, app_b)
    assert_error(b.put("/domains/" + db_["id"], {"hostname": host}), 409, "CONFLICT", field="hostname")
    # The same tenant: another prefix shares the host; the same one does not.
    assert _dom(a, _app(a, pa), hostname=host, path_prefix="/api")["hostname"] == host
    assert_error(a.post("/domains", {"application_id": app_a["id"], "hostname": host}),
                 409, "CONFLICT", field="hostname")
    # Row-level security: b sees none of a's.
    assert_error(b.get("/domains/" + da["id"]), 404, "NOT_FOUND")
    assert_error(b.put("/domains/" + da["id"], {"path_prefix": "/x"}), 404, "NOT_FOUND")
    assert_error(b.delete("/domains/" + da["id"]), 404, "NOT_FOUND")
    assert_error(b.post("/domains/%s/verify" % da["id"]), 404, "NOT_FOUND")
    assert_error(b.get("/domains/%s/dns-records" % da["id"]), 404, "NOT_FOUND")
    assert [x["id"] for x in b.get("/domains").data] == [db_["id"]]
    assert psql("SELECT count(*) FROM domains WHERE hostname = '%s'" % host, tenant=b.tid) == ["0"]
    assert psql("SELECT count(*) FROM domains WHERE hostname = '%s'" % host, tenant=a.tid) == ["2"]
    # Another tenant's application cannot be the target: b cannot see it (404).
    assert_error(b.post("/domains", {"project_id": pb["id"], "application_id": app_a["id"],
                                     "hostname": _host()}), 404, "NOT_FOUND")
    # Deleted, the name is free for the other tenant.
    for x in a.get("/domains").data:
        assert a.delete("/domains/" + x["id"]).status == 204
    assert _dom(b, app_b, hostname=host)["hostname"] == host


def test_two_tenants_racing_for_one_hostname_get_one_201_and_one_409():
    worlds = [_world("domc%d" % i) for i in range(2)]
    apps = [_app(c, p) for c, _, p in worlds]
    host, out = _host("race"), [None, None]

    def add(i):
        out[i] = worlds[i][0].post("/domains", {"application_id": apps[i]["id"], "hostname": host,
                                                "path_prefix": "/p%d" % i})
    threads = [threading.Thread(target=add, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(r.status for r in out) == [201, 409], out
    assert _owner("SELECT count(DISTINCT tenant_id) FROM domains WHERE hostname = '%s'" % host) == ["1"]


def test_permissions_follow_the_project_roles():
    c, srv, p = _world()
    app = _app(c, p)
    d = _dom(c, app)
    users = {}
    for role in ("viewer", "member", "admin"):
        u = new_user(c)
        assert c.post("/projects/%s/members" % p["id"], {"user_id": u.user_id, "role": role}).status == 201
        users[role] = u
    for role, u in users.items():
        can_write = role == "admin"
        assert u.get("/domains/" + d["id"]).status == 200
        assert u.get("/domains/%s/dns-records" % d["id"]).status == 200
        assert [x["id"] for x in u.get("/domains").data][:1] == [d["id"]]
        r = u.post("/domains", {"application_id": app["id"], "hostname": _host()})
        assert r.status == (201 if can_write else 403), (role, r)
        r = u.put("/domains/" + d["id"], {"path_prefix": "/" + role})
        assert r.status == (200 if can_write else 403), (role, r)
        r = u.post("/domains/%s/verify" % d["id"])
        assert r.status == (202 if can_write else 403), (role, r)
    assert_error(users["member"].delete("/domains/" + d["id"]), 403, "FORBIDDEN")
    outsider = new_user(c)
    assert_error(outsider.get("/domains/" + d["id"]), 404, "NOT_FOUND")
    assert outsider.get("/domains").data == []
    assert_error(outsider.post("/domains", {"application_id": app["id"], "hostname": _host()}),
                 404, "NOT_FOUND")
    read = Client(c.tenant, key=make_key(c, scopes=["read"])["key"])
    assert read.get("/domains/" + d["id"]).status == 200
    assert_error(read.post("/domains/%s/verify" % d["id"]), 403, "FORBIDDEN")
    assert users["admin"].delete("/domains/" + d["id"]).status == 204


class _Listener:
    """A session LISTENing on launcher_dnscheck, as launcher-dnscheck --loop does."""

    def __init__(self):
        env = dict(os.environ, PGPASSWORD=pgpass("launcher_owner"))
        self.p = subprocess.Popen(
            ["psql", "-X", "-A", "-t", "-h", os.path.join(STATE, "pg", "sock"),
             "-p", os.environ.get("LAUNCHER_PG_PORT", "5488"), "-U", "launcher_owner", "-d", "launcher"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
        self.p.stdin.write("LISTEN launcher_dnscheck;\nSELECT 'listening';\n")
        self.p.stdin.flush()
        while "listening" not in self.p.stdout.readline():
            pass

    def heard(self):
        """The payloads received so far (psql prints them after a command)."""
        out, _ = self.p.communicate("SELECT 'done';\n", timeout=10)
        return re.findall(r'notification "launcher_dnscheck" with payload "([^"]*)"', out)


def test_verify_makes_the_check_due_and_retries_a_failed_one():
    c, srv, p = _world()
    d = _dom(c, _app(c, p))
    listener = _Listener()
    _owner("UPDATE domains SET status = 'failed', check_attempts = 9, pending_since = now() -"
           " interval '80 hours', next_check_at = now() + interval '1 hour',"
           " check_error = 'TXT _lnchr-verify.x: NXDOMAIN' WHERE id = '%s'" % d["id"])
    assert c.get("/domains/" + d["id"]).data["status"] == "failed"
    r = c.post("/domains/%s/verify" % d["id"])
    assert r.status == 202 and r.data["id"] == d["id"], r
    assert r.data["status"] == "pending_verification", r
    row = _owner("SELECT check_attempts, next_check_at <= now(), pending_since > now() - interval"
                 " '1 minute' FROM domains WHERE id = '%s'" % d["id"])
    assert row == ["0|t|t"], row
    # launcher-dnscheck --loop hears of it at commit.
    assert listener.heard() == [d["id"]]
    # A verified one stays verified (the check runs, nothing resets).
    _set_status(d["id"], "verified")
    r = c.post("/domains/%s/verify" % d["id"])
    assert r.status == 202 and r.data["status"] == "verified", r
    assert_error(c.post("/domains/%s/verify" % uuid.uuid4()), 404, "NOT_FOUND")


def test_dns_records_say_what_to_create():
    c, srv, p = _world()
    app = _app(c, p)
    d = _dom(c, app)
    h, token = d["hostname"], d["verification"]["value"]
    r = c.get("/domains/%s/dns-records" % d["id"])
    assert r.status == 200, r
    assert r.data["records"] == [
        {"type": "TXT", "name": "_lnchr-verify." + h, "value": token, "ttl": 300},
        {"type": "CNAME", "name": h, "value": app["hostname"], "ttl": 300}], r
    assert r.data["zone"] == ('_lnchr-verify.%s. 300 IN TXT "%s"\n%s. 300 IN CNAME %s.\n'
                              % (h, token, h, app["hostname"])), r
    # A server without base_domain: its address (v4, v6), or its name.
    for host, typ in (("203.0.113.7", "A"), ("[2001:db8::7]", "AAAA"), ("edge.example.org", "CNAME")):
        c2, srv2, p2 = _world("domr", base_domain=None, host=host)
        a2 = _app(c2, p2)
        d2 = _dom(c2, a2)
        rec = c2.get("/domains/%s/dns-records" % d2["id"]).data["records"][1]
        assert rec == {"type": typ, "name": d2["hostname"], "value": host.strip("[]"), "ttl": 300}, rec
        assert d2["routing"]["type"] == typ and d2["routing"]["value"] == host.strip("[]"), d2
    zone = c2.get("/domains/%s/dns-records" % d2["id"]).data["zone"]
    assert zone.endswith("%s. 300 IN CNAME edge.example.org.\n" % d2["hostname"]), zone


def test_https_redirect_is_an_application_field():
    c, srv, p = _world()
    app = _app(c, p)
    assert app["https_redirect"] is True
    off = _app(c, p, https_redirect=False)
    assert off["https_redirect"] is False
    assert c.get("/applications/" + off["id"]).data["https_redirect"] is False
    etag = c.get("/applications/" + app["id"]).headers["etag"]
    r = c.put("/applications/" + app["id"], {"https_redirect": False}, headers={"If-Match": etag})
    assert r.status == 200 and r.data["https_redirect"] is False and r.headers["etag"] != etag, r
    assert_error(c.put("/applications/" + app["id"], {"https_redirect": "no"}), 400, "BAD_REQUEST",
                 field="https_redirect")


def test_route_jobs_follow_the_route_set_of_a_host():
    c, srv, p = _world()
    app, api = _app(c, p), _app(c, p)
    host = _host()
    root = _dom(c, app, hostname=host)
    sub = _dom(c, api, hostname=host, path_prefix="/api")
    # Nothing is routed before a domain is verified.
    assert _route_jobs(srv["id"], host) == []
    _set_status(root["id"], "verified")
    jobs = _route_jobs(srv["id"], host)
    assert [(s, j["routes"]) for s, j in jobs] == [
        ("queued", [{"path_prefix": "/", "app_id": app["id"], "function": False,
                     "https_redirect": True}])], jobs
    v1 = jobs[0][1]["version"]
    # A second verified prefix: the queued job takes the whole new set,
    # longest prefix first, with a newer version.
    _set_status(sub["id"], "verified")
    jobs = _route_jobs(srv["id"], host)
    assert len(jobs) == 1 and jobs[0][1]["version"] > v1, jobs
    assert jobs[0][1]["routes"] == [
        {"path_prefix": "/api", "app_id": api["id"], "function": False, "https_redirect": True},
        {"path_prefix": "/", "app_id": app["id"], "function": False, "https_redirect": True}], jobs
    # The agent's success makes both active and asks for certificates,
    # waking launcher-dnscheck --loop to queue them.
    listener = _Listener()
    _finish_job(srv["id"], host)
    assert listener.heard() == [host]
    for d in (root, sub):
        got = c.get("/domains/" + d["id"]).data
        assert got["status"] == "active" and got["tls"]["status"] == "pending", got
    assert _owner("SELECT count(*) FROM domains WHERE hostname = '%s' AND routed_at IS NOT NULL"
                  " AND tls_next_attempt_at <= now()" % host) == ["2"]
    # The application's https_redirect is part of its routes.
    assert c.put("/applications/" + api["id"], {"https_redirect": False}).status == 200
    s, j = _route_jobs(srv["id"], host)[-1]
    assert s == "queued" and j["routes"][0] == {"path_prefix": "/api", "app_id": api["id"],
                                                "function": False, "https_redirect": False}, j
    # A failed route job says why and changes no status.
    _finish_job(srv["id"], host, "failed", "nginx -t failed")
    got = c.get("/domains/" + sub["id"]).data
    assert got["status"] == "active" and got["check_error"] == "edge route: nginx -t failed", got
    # A new prefix re-routes (verified until its job succeeds).
    r = c.put("/domains/" + sub["id"], {"path_prefix": "/v2"})
    assert r.status == 200 and r.data["status"] == "verified", r
    s, j = _route_jobs(srv["id"], host)[-1]
    assert s == "queued" and [x["path_prefix"] for x in j["routes"]] == ["/v2", "/"], j
    # A job the edge skipped as stale (an older version than its file's) routes nothing.
    _owner("UPDATE jobs SET status = 'succeeded', finished_at = now(), result = '{\"skipped\": true}'"
           " WHERE kind = 'edge.host' AND server_id = '%s' AND payload->>'hostname' = '%s'"
           " AND status = 'queued'" % (srv["id"], host))
    assert c.get("/domains/" + sub["id"]).data["status"] == "verified"
    # The next change queues a job of its own, which the edge applies.
    assert c.put("/domains/" + sub["id"], {"path_prefix": "/v2/"}).status == 200
    _finish_job(srv["id"], host)
    assert c.get("/domains/" + sub["id"]).data["status"] == "active"
    assert c.get("/domains/" + sub["id"]).data["check_error"] is None
    # Deleting a routed domain leaves the others' routes.
    assert c.delete("/domains/" + sub["id"]).status == 204
    s, j = _route_jobs(srv["id"], host)[-1]
    assert s == "queued" and j["routes"] == [{"path_prefix": "/", "app_id": app["id"],
                                              "function": False, "https_redirect": True}], j
    _finish_job(srv["id"], host)
    # Deleting the application removes the host's site: routes [].
    assert c.delete("/applications/" + app["id"]).status == 204
    s, j = _route_jobs(srv["id"], host)[-1]
    assert s == "queued" and j["hostname"] == host and j["routes"] == [], j
    assert _owner("SELECT project_id IS NULL FROM jobs WHERE kind = 'edge.host' AND status ="
                  " 'queued' AND payload->>'hostname' = '%s'" % host) == ["t"]
    assert_error(c.get("/domains/" + root["id"]), 404, "NOT_FOUND")


def test_a_stale_route_job_marks_only_the_rows_it_named():
    c, srv, p = _world()
    app = _app(c, p)
    d = _dom(c, app)
    _set_status(d["id"], "verified")
    # The job is claimed (running) with "/"; the prefix changes meanwhile.
    _owner("UPDATE jobs SET status = 'running' WHERE kind = 'edge.host' AND payload->>'hostname'"
           " = '%s'" % d["hostname"])
    assert c.put("/domains/" + d["id"], {"path_prefix": "/new"}).status == 200
    _owner("UPDATE jobs SET status = 'succeeded', finished_at = now() WHERE kind = 'edge.host'"
           " AND status = 'running' AND payload->>'hostname' = '%s'" % d["hostname"])
    assert c.get("/domains/" + d["id"]).data["status"] == "verified"
    _finish_job(srv["id"], d["hostname"])
    assert c.get("/domains/" + d["id"]).data["status"] == "active"


def test_deleting_the_project_removes_its_routed_hosts():
    c, srv, p = _world()
    d = _dom(c, _app(c, p))
    _set_status(d["id"], "verified")
    _finish_job(srv["id"], d["hostname"])
    assert c.get("/domains/" + d["id"]).data["status"] == "active"
    assert c.delete("/projects/" + p["id"]).status == 204
    # The removal outlives the project (a job of no project).
    s, j = _route_jobs(srv["id"], d["hostname"])[-1]
    assert s == "queued" and j["routes"] == [], j
    assert _owner("SELECT count(*) FROM domains WHERE id = '%s'" % d["id"]) == ["0"]


def _fn(c, p, triggers=({"type": "http"},)):
    r = c.post("/functions", {"project_id": p["id"], "name": "f" + uuid.uuid4().hex[:8],
                              "runtime": "python3", "triggers": list(triggers),
                              "source": {"code": "def handler(e, c):\n    return 1\n"}})
    assert r.status == 201, r
    return r.data


def test_a_null_target_is_not_given_and_a_domain_moves_between_app_and_function():
    c, srv, p = _world()
    app, fn = _app(c, p), _fn(c, p)
    # A client echoing the object it read sends the other target as null.
    d = _dom(c, app, function_id=None)
    assert (d["application_id"], d["function_id"]) == (app["id"], None), d
    r = c.put("/domains/" + d["id"], {"application_id": None, "function_id": fn["id"]})
    assert r.status == 200 and (r.data["application_id"], r.data["function_id"]) == (None, fn["id"]), r
    r = c.put("/domains/" + d["id"], {"application_id": app["id"], "function_id": None})
    assert r.status == 200 and (r.data["application_id"], r.data["function_id"]) == (app["id"], None), r
    f = _dom(c, app, application_id=None, function_id=fn["id"])
    assert (f["application_id"], f["function_id"]) == (None, fn["id"]), f
    # Search finds a function's domain under its function (sql/058's search_doc_domain).
    assert _owner("SELECT parent_id FROM search_documents WHERE id = '%s'" % f["id"]) == [fn["id"]]
    assert_error(c.post("/domains", {"application_id": None, "function_id": None, "hostname": _host()}),
                 400, "BAD_REQUEST", field="application_id")


def test_a_target_the_caller_cannot_see_is_404_as_a_random_id():
    """One rule for application_id and function_id: not visible to the
    caller (or no such id) is 404, named in this project or not; visible in
    another project is 400 naming the field."""
    c, srv, p = _world()
    app, fn = _app(c, p), _fn(c, p)
    outsider = new_user(c)
    mine = new_project(outsider)
    d = outsider.post("/domains", {"project_id": mine["id"], "application_id": _app(outsider, mine)["id"],
                                   "hostname": _host()})
    assert d.status == 201, d
    before = c.get("/domains").data
    for field, target in (("application_id", app["id"]), ("function_id", fn["id"])):
        for ident in (target, str(uuid.uuid4())):
            r = outsider.post("/domains", {"project_id": mine["id"], field: ident, "hostname": _host()})
            assert_error(r, 404, "NOT_FOUND")
            assert field.split("_")[0] in r.error["message"], r
            assert_error(outsider.put("/domains/" + d.data["id"], {field: ident}), 404, "NOT_FOUND")
        assert_error(c.post("/domains", {field: str(uuid.uuid4()), "hostname": _host()}), 404, "NOT_FOUND")
        # Seen by the caller (the tenant's admin sees both), in another project: 400 naming it.
        assert_error(c.post("/domains", {"project_id": mine["id"], field: target, "hostname": _host()}),
                     400, "BAD_REQUEST", field=field)
        assert_error(c.put("/domains/" + d.data["id"], {field: target}), 400, "BAD_REQUEST", field=field)
    assert c.get("/domains").data == before


def test_a_function_keeps_its_http_trigger_while_domains_route_to_it():
    c, srv, p = _world()
    fn = _fn(c, p, triggers=({"type": "http", "methods": ["GET"]},))
    d = c.post("/domains", {"function_id": fn["id"], "hostname": _host()}).data
    etag = c.get("/functions/" + fn["id"]).headers["etag"]
    for triggers in ([], [{"type": "cron", "schedule": "* * * * *"}]):
        assert_error(c.put("/functions/" + fn["id"], {"triggers": triggers}, headers={"If-Match": etag}),
                     409, "CONFLICT", field="triggers")
    assert c.get("/functions/" + fn["id"]).data["triggers"] == fn["triggers"]
    # Other methods keep the trigger: allowed.
    r = c.put("/functions/" + fn["id"], {"triggers": [{"type": "http", "methods": ["POST"]}]},
              headers={"If-Match": etag})
    assert r.status == 200, r
    assert c.delete("/domains/" + d["id"]).status == 204
    r = c.put("/functions/" + fn["id"], {"triggers": []}, headers={"If-Match": r.headers["etag"]})
    assert r.status == 200 and r.data["triggers"] == [], r
