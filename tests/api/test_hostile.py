"""What a hostile probe of the running stack found (issue 11 §6), one case
each through nginx, the pool and PostgreSQL: hostnames that two projects
could share, bodies the pool does not read, nginx's own errors, NUL and
invalid UTF-8 inside JSON strings, unvalidated volume entries."""
import http.client
import json
import re
import socket
import ssl
import threading
import uuid

from lib import HTTPS_PORT, HTTP_PORT, _ctx, assert_error, new_project, psql, registered, request
from test_servers import _server


def _sql(sql):
    return "\n".join(psql(sql, user="launcher_owner"))


def _app(c, p, name, **body):
    body.update(name=name, project_id=p["id"], source_type="docker_image",
                image_url="registry.test/web:v1", exposed_port=8080)
    r = c.post("/applications", body)
    assert r.status == 201, r
    return r.data


# ----------------------------------------------------------- hostnames

def test_two_projects_never_share_a_hostname():
    tag = "cc" + uuid.uuid4().hex[:6]
    domain = "h%s.test" % uuid.uuid4().hex[:6]
    c1, _ = registered("host")
    c2, _ = registered("host")
    _server(c1, base_domain=domain)
    _server(c2, base_domain=domain)
    a1 = _app(c1, new_project(c1, name=tag), "a-b")
    assert a1["hostname"] == "a-b-%s.%s" % (tag, domain), a1
    # Another tenant: app "a" in project "b-<tag>" would make the same name.
    a2 = _app(c2, new_project(c2, name="b-" + tag), "a")
    assert a2["hostname"] != a1["hostname"], a2
    assert re.fullmatch(r"a-b-%s-[0-9a-f]{6}\.%s" % (tag, re.escape(domain)), a2["hostname"]), a2
    assert a2["default_url"] == "http://" + a2["hostname"], a2
    # The same tenant, a third project of the same shape.
    a3 = _app(c1, new_project(c1, name="b-" + tag), "a")
    assert a3["hostname"] not in (a1["hostname"], a2["hostname"]), a3
    # Stable: reading it again, or changing something else, keeps the name.
    r = c2.put("/applications/" + a2["id"], {"replicas": 2})
    assert r.status == 200 and r.data["hostname"] == a2["hostname"], r
    assert c1.get("/applications/" + a1["id"]).data["hostname"] == a1["hostname"]
    # The database refuses a duplicate written by hand, in any tenant.
    assert _sql("SELECT count(*) FROM applications WHERE hostname IN ('%s', '%s', '%s')"
                % (a1["hostname"], a2["hostname"], a3["hostname"])) == "3"
    psql("UPDATE applications SET hostname = '%s' WHERE id = '%s'" % (a1["hostname"], a2["id"]),
         tenant=c2.tid)
    assert c2.get("/applications/" + a2["id"]).data["hostname"] != a1["hostname"]
    assert _sql("SELECT count(*) FROM (SELECT hostname FROM applications WHERE hostname IS NOT NULL"
                " GROUP BY hostname HAVING count(*) > 1) d") == "0"
    # The chooser sees every tenant: only its trigger may run it, not the API role.
    try:
        psql("SELECT app_hostname_pick(a) FROM applications a", tenant=c2.tid)
        raise AssertionError("the API role ran app_hostname_pick")
    except RuntimeError as e:
        assert "permission denied" in str(e), e
    # The name the deploy job carries to the agent is the stored one.
    assert _sql("SELECT app_hostname(a) FROM applications a WHERE id = '%s'" % a2["id"]) == a2["hostname"]


def test_a_renamed_project_or_domain_renames_its_hosts_without_collisions():
    tag = "rn" + uuid.uuid4().hex[:6]
    domain = "h%s.test" % uuid.uuid4().hex[:6]
    c, _ = registered("host")
    s = _server(c, base_domain=domain)
    p1 = new_project(c, name=tag)
    a1 = _app(c, p1, "a-b")
    p2 = new_project(c, name="x-" + tag)
    a2 = _app(c, p2, "a")
    # Renaming p2 to "b-<tag>" would give a2 the name a1 holds.
    r = c.put("/projects/" + p2["id"], {"name": "b-" + tag})
    assert r.status == 200, r
    h2 = c.get("/applications/" + a2["id"]).data["hostname"]
    assert h2 != a1["hostname"] and h2.startswith("a-b-%s-" % tag), h2
    r = c.put("/servers/" + s["id"], {"base_domain": "n" + domain})
    assert r.status == 200, r
    assert c.get("/applications/" + a1["id"]).data["hostname"] == "a-b-%s.n%s" % (tag, domain)


def test_concurrent_creations_of_one_name_get_different_hostnames():
    tag = "cx" + uuid.uuid4().hex[:6]
    domain = "h%s.test" % uuid.uuid4().hex[:6]
    clients = []
    for i in range(6):
        c, _ = registered("host")
        _server(c, base_domain=domain)
        clients.append((c, new_project(c, name=tag)))
    got = [None] * len(clients)

    def go(i):
        c, p = clients[i]
        got[i] = c.post("/applications", {"name": "web", "project_id": p["id"], "source_type": "docker_image",
                                          "image_url": "registry.test/web:v1", "exposed_port": 8080})
    ts = [threading.Thread(target=go, args=(i,)) for i in range(len(clients))]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert all(r.status == 201 for r in got), got
    names = [r.data["hostname"] for r in got]
    assert len(set(names)) == len(names), names
    assert "web-%s.%s" % (tag, domain) in names, names


# -------------------------------------------------- bodies never read

def _nginx_resets():
    import os
    from lib import STATE
    with open(os.path.join(STATE, "nginx", "logs", "error.log"), errors="replace") as f:
        return sum(1 for line in f if "reset by peer" in line and "upstream" in line)


def test_an_unread_large_body_never_costs_the_answer():
    """1 MB bodies to routes that answer before reading them (401, 404):
    every answer arrives whole, and nginx never sees the pool reset the
    connection (a reset loses whatever answer nginx has not read yet)."""
    before = _nginx_resets()
    body = b'{"name":"' + b"x" * ((1 << 20) - 64) + b'"}'
    for i in range(60):
        path = "/default/api/v1/projects" if i % 2 else "/default/api/v1/no-such-route"
        r = request("POST", path, raw=body, headers={"Content-Type": "application/json"}, timeout=15)
        assert r.status in (401, 404) and r.json and r.json["success"] is False, (i, r)
    assert _nginx_resets() == before, "the pool reset %d connections" % (_nginx_resets() - before)


# ------------------------------------------------- nginx's own errors

def _raw(data, port=None):
    """Bytes on a plain connection to nginx; returns (status, headers, body)."""
    s = socket.create_connection(("127.0.0.1", port or HTTP_PORT), timeout=10)
    try:
        s.sendall(data)
        out = b""
        while True:
            try:
                d = s.recv(65536)
            except ConnectionResetError:
                # nginx answers an oversized request line or header and
                # then closes with the rest of it unread: a reset after
                # the answer, which the kernel still hands over first.
                break
            if not d:
                break
            out += d
    finally:
        s.close()
    head, _, body = out.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    hdrs = {k.lower(): v.strip() for k, _, v in (l.partition(":") for l in lines[1:])}
    return int(lines[0].split()[1]), hdrs, body


def test_nginx_errors_answer_the_json_envelope():
    close = b"Host: x\r\nConnection: close\r\n\r\n"
    cases = [
        ("URI over 16 KB", b"GET /default/api/v1/" + b"a" * 17000 + b" HTTP/1.1\r\n" + close, 414, "URI_TOO_LONG"),
        ("header over 16 KB", b"GET /default/api/v1/auth/me HTTP/1.1\r\nX-Big: " + b"a" * 17000 + b"\r\n" + close,
         400, "HEADER_TOO_LARGE"),
        ("%00 in the path", b"GET /default/api/v1/a%00b HTTP/1.1\r\n" + close, 400, "BAD_REQUEST"),
        ("malformed request line", b"GARBAGE\r\n\r\n", 400, "BAD_REQUEST"),
        ("body over client_max_body_size", b"POST /default/api/v1/auth/login HTTP/1.1\r\n"
         b"Content-Length: 999999999\r\n" + close, 413, "PAYLOAD_TOO_LARGE"),
        ("unknown transfer coding", b"POST /default/api/v1/auth/login HTTP/1.1\r\nTransfer-Encoding: gzip\r\n" + close,
         501, "NOT_IMPLEMENTED"),
        ("HTTP/2.0 on a plain port", b"GET / HTTP/2.0\r\n" + close, 505, "HTTP_VERSION_NOT_SUPPORTED"),
        ("unknown static path", b"GET /no/such/file HTTP/1.1\r\n" + close, 404, "NOT_FOUND"),
        ("the error location itself", b"GET /.lnchr-error/500 HTTP/1.1\r\n" + close, 404, "NOT_FOUND"),
    ]
    for what, data, status, code in cases:
        st, h, body = _raw(data)
        assert st == status, (what, st, body[:200])
        assert h.get("content-type") == "application/json", (what, h, body[:200])
        env = json.loads(body)
        assert env["success"] is False and env["error"]["code"] == code and env["error"]["message"], (what, env)
        assert h.get("x-request-id") and h.get("x-plane-version"), (what, h)
    # Plain HTTP to the HTTPS port (nginx's 497) is the envelope too.
    from lib import HTTPS_PORT as tls_port
    st, h, body = _raw(b"GET /default/api/v1/auth/me HTTP/1.1\r\n" + close, tls_port)
    assert st == 400 and json.loads(body)["error"]["code"] == "BAD_REQUEST", (st, body[:200])



# ------------------------------------------ strings inside JSON bodies

def test_nul_and_invalid_utf8_in_any_string_are_refused_naming_the_field():
    c, _ = registered("str")
    _server(c, base_domain="apps.test")
    p = new_project(c)
    before = _sql("SELECT count(*) FROM applications WHERE project_id = '%s'" % p["id"])
    base = ('{"name":"web","project_id":"%s","source_type":"docker_image",'
            '"image_url":"registry.test/web:v1","exposed_port":8080' % p["id"])
    cases = [
        (base + ',"env":{"SECRET":"abc\\u0000def"}}', "env.SECRET"),
        (base.replace('"web"', '"we\\u0000b"') + "}", "name"),
        (base + ',"build_args":{"A":"x","B":["ok","\\u0000"]}}', "build_args.B[1]"),
        (base + ',"env":{"K\\u0000":"v"}}', "env"),
        ((base + ',"env":{"SECRET":"caf\xe9"}}').encode("latin-1"), "env.SECRET"),
        ((base + ',"env":{"SECRET":"\xed\xa0\x80"}}').encode("latin-1"), "env.SECRET"),  # a surrogate
        ((base + ',"start_command":"\xc0\xaf"}').encode("latin-1"), "start_command"),  # overlong "/"
    ]
    for raw, field in cases:
        data = raw if isinstance(raw, bytes) else raw.encode()
        r = c.post("/applications", raw=data, headers={"Content-Type": "application/json"})
        assert_error(r, 400, "BAD_REQUEST", field)
    assert _sql("SELECT count(*) FROM applications WHERE project_id = '%s'" % p["id"]) == before
    # An escaped backslash before "u0000" is text, and real UTF-8 passes.
    ok = base + ',"env":{"SECRET":"a\\\\u0000 caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x9a\x80"}}'
    r = c.post("/applications", raw=ok.encode("latin-1"), headers={"Content-Type": "application/json"})
    assert r.status == 201, r
    g = c.get("/applications/%s/env?reveal=true" % r.data["id"])
    assert g.status == 200, g
    # The same check guards every body, not only applications'.
    r = c.post("/projects", raw=b'{"name":"p\\u0000x"}', headers={"Content-Type": "application/json"})
    assert_error(r, 400, "BAD_REQUEST", "name")


def test_a_pool_nginx_cannot_reach_is_a_502_envelope():
    """The pool's socket moved aside for one request (the runner is
    sequential, and it is put back at once): nginx's 502 in the envelope."""
    import os
    from lib import STATE
    sock = os.path.join(STATE, "run", "fcgi.sock")
    os.rename(sock, sock + ".away")
    try:
        st, h, body = _raw(b"GET /default/api/v1/auth/me HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    finally:
        os.rename(sock + ".away", sock)
    assert st == 502 and h.get("content-type") == "application/json", (st, h, body[:200])
    assert json.loads(body)["error"]["code"] == "SERVICE_UNAVAILABLE", body
    assert request("GET", "/healthz").status == 200

# --------------------------------------------------------- volumes

def test_volume_entries_are_validated_naming_the_entry():
    c, _ = registered("vol")
    _server(c, base_domain="apps.test")
    p = new_project(c)
    cache = c.post("/volumes", {"project_id": p["id"], "name": "cache"}).data
    a = _app(c, p, "vols", volumes=[{"name": "data", "mount_path": "/var/lib/data"},
                                    {"volume_id": cache["id"], "mount_path": "/cache", "mode": "ro"}])
    assert [v["mount_path"] for v in a["volumes"]] == ["/var/lib/data", "/cache"], a
    good = {"name": "data", "mount_path": "/data"}
    cases = [
        ("not-a-list", "volumes"),
        ([good] * 21, "volumes"),
        ([good, "x"], "volumes[1]"),
        ([{"name": "data", "mount_path": "/d", "host_path": "/etc"}], "volumes[0]"),
        ([{"mount_path": "/d"}], "volumes[0]"),
        ([{"name": "d", "volume_id": str(uuid.uuid4()), "mount_path": "/d"}], "volumes[0]"),
        ([{"name": "/etc", "mount_path": "/d"}], "volumes[0].name"),
        ([{"name": "../x", "mount_path": "/d"}], "volumes[0].name"),
        ([{"volume_id": "nope", "mount_path": "/d"}], "volumes[0].volume_id"),
        ([good, {"name": "data"}], "volumes[1].mount_path"),
        ([{"name": "d", "mount_path": "relative/path"}], "volumes[0].mount_path"),
        ([{"name": "d", "mount_path": "/"}], "volumes[0].mount_path"),
        ([{"name": "d", "mount_path": "/a/../etc"}], "volumes[0].mount_path"),
        ([{"name": "d", "mount_path": "/a/./b"}], "volumes[0].mount_path"),
        ([{"name": "d", "mount_path": "/a//b"}], "volumes[0].mount_path"),
        ([{"name": "d", "mount_path": "/data:rw,suid"}], "volumes[0].mount_path"),
        ([{"name": "d", "mount_path": "/proc/sys"}], "volumes[0].mount_path"),
        ([{"name": "d", "mount_path": "/" + "a" * 1024}], "volumes[0].mount_path"),
        ([good, {"name": "other", "mount_path": "/data"}], "volumes[1].mount_path"),
        ([{"name": "d", "mount_path": "/d", "mode": "rwx"}], "volumes[0].mode"),
        ([{"name": "d", "mount_path": "/d", "mode": True}], "volumes[0].mode"),
    ]
    for vols, field in cases:
        r = c.post("/applications", {"name": "v-" + uuid.uuid4().hex[:6], "project_id": p["id"],
                                     "source_type": "docker_image", "image_url": "registry.test/web:v1",
                                     "volumes": vols})
        assert_error(r, 400, "BAD_REQUEST", field)
        r = c.put("/applications/" + a["id"], {"volumes": vols})
        assert_error(r, 400, "BAD_REQUEST", field)
    assert c.get("/applications/" + a["id"]).data["volumes"] == a["volumes"]
    assert _sql("SELECT count(*) FROM applications WHERE project_id = '%s'" % p["id"]) == "1"
