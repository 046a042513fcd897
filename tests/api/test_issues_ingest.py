"""Error-tracking ingest (API.md §17): the Sentry-compatible endpoints
POST /{tenant}/api/<dsn-id>/envelope/ and /store/ through nginx, raw HTTP
as the SDKs send it (gzip and deflate bodies, X-Sentry-Auth or
?sentry_key=), what lands in error_events_raw, the refusals (401, 404,
400, 413, 415, 429 with the Sentry rate-limit headers), the decompression
bomb against the pool's memory, the CORS preflight, and
GET/PUT /projects/:id/error-tracking."""
import gzip
import http.client
import json
import os
import signal
import uuid
import zlib

import lib
from lib import HTTPS_PORT, STATE, assert_error, new_project, new_user, psql, registered, request
from test_applications import _app
from test_servers import _server


def _sql(sql):
    return psql(sql, user="launcher_owner")


_paused = []


def _pause_grouping():
    """These tests read the raw queue itself, which the stack's launcher-issues
    empties within milliseconds (it is woken when an event lands in an empty
    queue): it is stopped (SIGSTOP) for the rest of this module and continued
    when the module ends."""
    if _paused:
        return
    try:
        with open(os.path.join(STATE, "run", "issues.pid")) as f:
            pid = int(f.read().split()[0])
        os.kill(pid, signal.SIGSTOP)
    except (OSError, ValueError, IndexError):
        return  # not running: nothing takes the queue
    _paused.append(pid)
    lib.at_module_end(lambda: os.kill(pid, signal.SIGCONT))


def _setup():
    _pause_grouping()
    c, _ = registered("ing")
    p = new_project(c)
    r = c.get("/projects/%s/error-tracking" % p["id"])
    assert r.status == 200, r
    return c, p, r.data


def _auth(key):
    return "Sentry sentry_key=%s, sentry_version=7, sentry_client=sentry.python/1.9.10" % key


def _envelope(event, event_id=None, extra=b"", length=True):
    head = {"sent_at": "2026-12-06T08:00:00Z"}
    if event_id:
        head["event_id"] = event_id
    body = json.dumps(event).encode()
    item = {"type": "event"}
    if length:
        item["length"] = len(body)
    return (json.dumps(head).encode() + b"\n" + json.dumps(item).encode() + b"\n" + body + b"\n"
            + extra)


def _post(c, et, kind, raw, headers=None, query=None, dsn_id=None, tenant=None):
    path = "/%s/api/%s/%s/" % (tenant or c.tenant, dsn_id or et["dsn_id"], kind)
    if query:
        path += "?" + query
    h = {"X-Sentry-Auth": _auth(et["public_key"])} if query is None else {}
    h.update(headers or {})
    return request("POST", path, raw=raw, headers=h)


def _raw(event_id):
    return _sql("SELECT source, dsn_id, project_id, application_id IS NULL, payload,"
                " coalesce(attachments::text, '') FROM error_events_raw WHERE event_id = '%s'"
                % event_id)


def test_envelope_gzip_is_queued_with_its_event_id():
    c, p, et = _setup()
    eid = uuid.uuid4().hex
    ev = {"event_id": eid, "message": "hello", "level": "error", "platform": "python"}
    r = _post(c, et, "envelope", gzip.compress(_envelope(ev, eid)),
              {"Content-Encoding": "gzip", "Content-Type": "application/x-sentry-envelope"})
    assert r.status == 200, r
    assert r.json == {"id": eid}, r
    assert r.headers.get("access-control-allow-origin") == "*", r.headers
    rows = _raw(eid)
    assert len(rows) == 1, rows
    source, dsn, project, app_null, payload, att = rows[0].split("|", 5)
    assert (source, dsn, project, app_null) == ("sdk", str(et["dsn_id"]), p["id"], "t"), rows
    assert json.loads(payload) == ev
    assert att == ""


def test_deflate_zlib_and_raw_and_newline_items_query_key():
    c, p, et = _setup()
    ids = []
    for comp in (lambda b: zlib.compress(b), lambda b: zlib.compress(b)[2:-4]):
        eid = uuid.uuid4().hex
        # As @sentry/node: key in the query, no Content-Type, items without length,
        # a session item beside the event, the event id only in the event.
        body = _envelope({"event_id": eid, "message": "m"}, length=False,
                         extra=b'{"type":"session"}\n{"sid":"x","status":"ok"}')
        r = _post(c, et, "envelope", comp(body), {"Content-Encoding": "deflate"},
                  query="sentry_version=7&sentry_key=%s&sentry_client=sentry.javascript.node%%2F11"
                  % et["public_key"])
        assert r.status == 200 and r.json == {"id": eid}, r
        ids.append(eid)
    for eid in ids:
        assert len(_raw(eid)) == 1


def test_a_chunked_body_without_content_type_as_sentry_node_sends_it():
    c, p, et = _setup()
    eid = uuid.uuid4().hex
    body = _envelope({"event_id": eid, "message": "chunked"}, eid, length=False)
    conn = http.client.HTTPSConnection("localhost", HTTPS_PORT, context=lib._ctx, timeout=30)
    try:
        conn.putrequest("POST", "/%s/api/%s/envelope/?sentry_version=7&sentry_key=%s"
                        % (c.tenant, et["dsn_id"], et["public_key"]), skip_accept_encoding=True)
        conn.putheader("Transfer-Encoding", "chunked")
        conn.endheaders()
        for i in range(0, len(body), 40):
            part = body[i:i + 40]
            conn.send(b"%x\r\n%s\r\n" % (len(part), part))
        conn.send(b"0\r\n\r\n")
        r = conn.getresponse()
        status, answer = r.status, r.read()
    finally:
        conn.close()
    assert status == 200 and json.loads(answer) == {"id": eid}, (status, answer)
    assert len(_raw(eid)) == 1


def test_store_takes_a_plain_event_and_generates_a_missing_id():
    c, p, et = _setup()
    eid = str(uuid.uuid4())
    r = _post(c, et, "store", gzip.compress(json.dumps({"event_id": eid, "message": "s"}).encode()),
              {"Content-Encoding": "gzip", "Content-Type": "application/json"})
    assert r.status == 200 and r.json == {"id": eid.replace("-", "")}, r
    assert len(_raw(eid.replace("-", ""))) == 1
    r = _post(c, et, "store", json.dumps({"message": "no id"}).encode())
    assert r.status == 200, r
    gen = r.json["id"]
    assert len(gen) == 32 and int(gen, 16) >= 0, r
    assert json.loads(_raw(gen)[0].split("|")[4]) == {"message": "no id"}
    # A malformed event_id (in the event, or in an envelope's header) is
    # passed over like a missing one: queued under a generated id.
    for kind, raw in (("store", json.dumps({"event_id": "abc", "message": "bad id"}).encode()),
                      ("envelope", _envelope({"message": "bad id"}, "not-an-id"))):
        r = _post(c, et, kind, raw)
        assert r.status == 200 and len(r.json["id"]) == 32 and int(r.json["id"], 16) >= 0, (kind, r)
        assert json.loads(_raw(r.json["id"])[0].split("|")[4])["message"] == "bad id", kind


def test_the_api_role_queues_events_but_cannot_read_the_queue():
    c, p, et = _setup()
    r = _post(c, et, "store", json.dumps({"message": "queued"}).encode())
    assert r.status == 200 and len(_raw(r.json["id"])) == 1, r
    for sql in ("SELECT payload FROM error_events_raw", "SELECT * FROM error_events_raw",
                "UPDATE error_events_raw SET payload = '{}'", "DELETE FROM error_events_raw"):
        try:
            psql(sql, tenant=c.tid)
        except RuntimeError as e:
            assert "permission denied" in str(e), (sql, e)
        else:
            raise AssertionError("the API role ran: " + sql)


def test_sessions_transactions_and_unknown_items_are_accepted_and_not_queued():
    c, p, et = _setup()
    eid = uuid.uuid4().hex
    body = (b'{"event_id":"%s"}\n' % eid.encode()
            + b'{"type":"transaction"}\n{"type":"transaction","spans":[]}\n'
            + b'{"type":"sessions"}\n{"aggregates":[]}\n{"type":"client_report"}\n{}\n'
            + b'{"type":"something_new","length":3}\nabc\n')
    r = _post(c, et, "envelope", body)
    assert r.status == 200 and r.json == {"id": eid}, r
    assert _raw(eid) == []
    # A sessions-only envelope still needs the right key.
    r = _post(c, et, "envelope", b'{}\n{"type":"session"}\n{}', {"X-Sentry-Auth": _auth("0" * 32)})
    assert_error(r, 401, "UNAUTHORIZED")


def test_attachments_are_kept_small_and_recorded_large():
    c, p, et = _setup()
    eid = uuid.uuid4().hex
    small, big = b"line 1\nline 2\n", os.urandom(70000)
    extra = (b'{"type":"attachment","length":%d,"filename":"log.txt","content_type":"text/plain"}\n'
             % len(small) + small + b"\n"
             + b'{"type":"attachment","length":%d,"filename":"core.bin"}\n' % len(big) + big + b"\n")
    r = _post(c, et, "envelope", _envelope({"message": "with files"}, eid, extra))
    assert r.status == 200, r
    att = json.loads(_raw(eid)[0].split("|", 5)[5])
    assert att[0]["filename"] == "log.txt" and att[0]["size"] == len(small), att
    import base64
    assert base64.b64decode(att[0]["data_b64"]) == small
    assert att[1] == {"filename": "core.bin", "content_type": "application/octet-stream",
                      "size": len(big), "data_dropped": True}, att[1]


def test_wrong_or_missing_key_is_401_and_queues_nothing():
    c, p, et = _setup()
    eid = uuid.uuid4().hex
    path = "/%s/api/%s/envelope/" % (c.tenant, et["dsn_id"])
    for query, headers in (("", {"X-Sentry-Auth": _auth("f" * 32)}),
                           ("?sentry_key=" + "a" * 32, {}),
                           ("?sentry_key=nothex", {}),
                           ("", {"X-Sentry-Auth": "Sentry sentry_version=7"}),
                           ("", {})):
        r = request("POST", path + query, raw=_envelope({"message": "x"}, eid), headers=headers)
        assert_error(r, 401, "UNAUTHORIZED")
    assert _raw(eid) == []


def test_another_tenants_dsn_is_404_under_this_tenants_url():
    c, p, et = _setup()
    other, _ = registered("ing2")
    eid = uuid.uuid4().hex
    # Their DSN id with their own key, under our URL: no such DSN here.
    r = _post(c, et, "envelope", _envelope({"message": "x"}, eid), tenant=other.tenant)
    assert_error(r, 404, "NOT_FOUND")
    r = _post(c, et, "envelope", _envelope({"message": "x"}, eid), dsn_id=10 ** 12)
    assert_error(r, 404, "NOT_FOUND")
    r = request("POST", "/%s/api/%s/envelope/" % ("no-such-tenant-x", et["dsn_id"]),
                raw=_envelope({"message": "x"}, eid), headers={"X-Sentry-Auth": _auth(et["public_key"])})
    assert r.status == 404, r
    assert _raw(eid) == []


def test_malformed_bodies_are_400():
    c, p, et = _setup()
    bad = [
        (b"not json\n", {}),
        (b'{}\n{"type":"event","length":500}\n{}\n', {}),
        (b'{}\n{"type":"event"}\n[1,2]\n', {}),
        (b'{}\n{"type":"event"}\n{"a":1}\n{"type":"event"}\n{"a":2}\n', {}),
        (b"\x1f\x8b garbage", {"Content-Encoding": "gzip"}),
        (gzip.compress(_envelope({"a": 1}))[:-5], {"Content-Encoding": "gzip"}),
        (b'{}\n{"type":"event"}\n{"a":"\xff\xfe"}\n', {}),
    ]
    for raw, h in bad:
        assert_error(_post(c, et, "envelope", raw, h), 400, "BAD_REQUEST")
    assert_error(_post(c, et, "store", b"[]"), 400, "BAD_REQUEST")
    assert_error(_post(c, et, "store", b"{"), 400, "BAD_REQUEST")
    assert_error(_post(c, et, "envelope", b"{}\n", {"Content-Encoding": "br"}), 415,
                 "UNSUPPORTED_MEDIA_TYPE")


def test_over_one_mib_is_413_plain_or_decompressed():
    c, p, et = _setup()
    eid = uuid.uuid4().hex
    big = _envelope({"message": "x" * (1 << 20)}, eid)
    assert_error(_post(c, et, "envelope", big), 413, "PAYLOAD_TOO_LARGE")
    # Small on the wire, over 1 MiB once inflated.
    assert_error(_post(c, et, "envelope", gzip.compress(big), {"Content-Encoding": "gzip"}), 413,
                 "PAYLOAD_TOO_LARGE")
    assert _raw(eid) == []


def _worker_rss():
    with open(os.path.join(STATE, "run", "ingest.pid")) as f:
        master = int(f.read().split()[0])
    with open("/proc/%d/task/%d/children" % (master, master)) as f:
        pids = [int(x) for x in f.read().split()]
    rss = {}
    for pid in pids:
        try:
            with open("/proc/%d/status" % pid) as f:
                rss[pid] = [int(l.split()[1]) for l in f if l.startswith("VmRSS:")][0]
        except (OSError, IndexError):
            pass
    return rss


def test_a_gzip_bomb_is_413_and_the_workers_memory_does_not_move():
    c, p, et = _setup()
    # 1 GiB of zeros in about 1 MB of gzip (just under nginx's 1 MiB body limit).
    z = zlib.compressobj(9, zlib.DEFLATED, 31)
    chunk = bytes(1 << 20)
    bomb = b"".join(z.compress(chunk) for _ in range(1024)) + z.flush()
    assert len(bomb) < (1 << 20), len(bomb)
    before = _worker_rss()
    assert before, "no pool workers found"
    for _ in range(4):   # every worker likely gets one
        r = _post(c, et, "store", bomb, {"Content-Encoding": "gzip"})
        assert_error(r, 413, "PAYLOAD_TOO_LARGE")
        # The pool's answer (it read the body and inflated up to the cap), not nginx's.
        assert "decompressed" in r.error["message"], r
    after = _worker_rss()
    # Workers recycled in between would make the check below vacuous.
    assert set(before) & set(after), "no worker lived through the bombs: %r %r" % (before, after)
    for pid, kb in after.items():
        if pid in before:
            assert kb - before[pid] < 16 * 1024, "worker %d grew %d kB" % (pid, kb - before[pid])
    # And a bomb wrapped twice is an encoding the pool does not take.
    r = _post(c, et, "store", gzip.compress(bomb), {"Content-Encoding": "gzip, gzip"})
    assert_error(r, 415, "UNSUPPORTED_MEDIA_TYPE")


def test_quota_429_with_sentry_headers_then_raised():
    c, p, et = _setup()
    r = c.put("/projects/%s/error-tracking" % p["id"], {"rate_limit_per_minute": 3})
    assert r.status == 200 and r.data["rate_limit_per_minute"] == 3, r
    stored, refused = [], None
    for i in range(6):
        eid = uuid.uuid4().hex
        r = _post(c, et, "store", json.dumps({"event_id": eid, "message": str(i)}).encode())
        if r.status == 200:
            stored.append(eid)
        else:
            refused = r
            break
    # At most 3 in a minute (fewer if the minute turned between two events).
    assert refused is not None and 1 <= len(stored) <= 3, (stored, refused)
    assert_error(refused, 429, "TOO_MANY_REQUESTS")
    secs = int(refused.headers["retry-after"])
    assert 1 <= secs <= 60, refused.headers
    limits = refused.headers["x-sentry-rate-limits"]
    assert limits.startswith("%d:error;" % secs) and ":project" in limits, limits
    # Quota 0 turns ingest off; a raised quota applies at once.
    r = c.put("/projects/%s/error-tracking" % p["id"], {"rate_limit_per_minute": 0})
    assert r.status == 200, r
    assert _post(c, et, "store", b'{"message":"off"}').status == 429
    r = c.put("/projects/%s/error-tracking" % p["id"], {"rate_limit_per_minute": 1000})
    assert r.status == 200, r
    assert _post(c, et, "store", b'{"message":"on"}').status == 200


def test_cors_preflight():
    c, p, et = _setup()
    r = request("OPTIONS", "/%s/api/%s/envelope/?sentry_key=%s" % (c.tenant, et["dsn_id"], et["public_key"]),
                headers={"Origin": "https://shop.example", "Access-Control-Request-Method": "POST",
                         "Access-Control-Request-Headers": "content-type"})
    assert r.status == 204, r
    assert r.headers.get("access-control-allow-origin") == "*", r.headers
    assert "POST" in r.headers.get("access-control-allow-methods", ""), r.headers
    assert "x-sentry-auth" in r.headers.get("access-control-allow-headers", "").lower(), r.headers


def test_the_pool_route_is_not_reachable_through_the_generic_api_location():
    c, p, et = _setup()
    r = request("POST", "/%s/api/v1/sentry/%s/store?sentry_key=%s" % (c.tenant, et["dsn_id"], et["public_key"]),
                raw=b'{"message":"x"}')
    assert_error(r, 404, "NOT_FOUND")


def test_error_tracking_settings_get_put_and_permissions():
    c, p, et = _setup()
    host = et["dsn"].split("@", 1)[1].split("/", 1)[0]
    assert et["dsn"] == "https://%s@%s/%s/%d" % (et["public_key"], host, c.tenant, et["dsn_id"]), et
    assert et["rate_limit_per_minute"] == 6000 and et["auto_error_tracking_enabled"] is False, et
    assert et["applications"] == [], et
    s = _server(c, base_domain="apps.test")
    a = _app(c, p, server_id=s["id"])
    et2 = c.get("/projects/%s/error-tracking" % p["id"]).data
    [row] = et2["applications"]
    assert row["application_id"] == a["id"] and row["name"] == a["name"], row
    assert row["dsn_id"] != et["dsn_id"] and row["dsn"].endswith("/%s/%d" % (c.tenant, row["dsn_id"])), row
    # The application's DSN reports to its project, with the application set.
    key = row["dsn"].split("//", 1)[1].split("@", 1)[0]
    eid = uuid.uuid4().hex
    r = request("POST", "/%s/api/%d/store/" % (c.tenant, row["dsn_id"]),
                raw=json.dumps({"event_id": eid}).encode(), headers={"X-Sentry-Auth": _auth(key)})
    assert r.status == 200, r
    assert _sql("SELECT application_id FROM error_events_raw WHERE event_id = '%s'" % eid) == [a["id"]]
    # The SQL helper issuesapi uses for SENTRY_DSN gives the same string.
    assert _sql("SELECT error_dsn_url('%s', '%s')" % (p["id"], a["id"])) != []

    # Validation: 400 naming the field, nothing changed.
    for body, field in (({"rate_limit_per_minute": -1}, "rate_limit_per_minute"),
                        ({"rate_limit_per_minute": 1000001}, "rate_limit_per_minute"),
                        ({"rate_limit_per_minute": "5"}, "rate_limit_per_minute"),
                        ({"rotate_key": "yes"}, "rotate_key")):
        assert_error(c.put("/projects/%s/error-tracking" % p["id"], body), 400, "BAD_REQUEST", field)
    assert c.get("/projects/%s/error-tracking" % p["id"]).data["rate_limit_per_minute"] == 6000

    # Rotation: new keys, the old one refused; ETag and If-Match as everywhere.
    etag = c.get("/projects/%s/error-tracking" % p["id"]).headers["etag"]
    r = c.put("/projects/%s/error-tracking" % p["id"], {"rotate_key": True}, headers={"If-Match": etag})
    assert r.status == 200 and r.data["public_key"] != et["public_key"], r
    assert r.headers["etag"] != etag, r
    # A stale If-Match changes nothing (neither quota nor keys) and is not audited.
    assert_error(c.put("/projects/%s/error-tracking" % p["id"], {"rotate_key": True,
                       "rate_limit_per_minute": 7}, headers={"If-Match": etag}),
                 412, "PRECONDITION_FAILED")
    assert c.get("/projects/%s/error-tracking" % p["id"]).data == r.data
    assert r.data["dsn_id"] == et["dsn_id"], r
    assert_error(_post(c, et, "store", b'{"message":"old key"}'), 401, "UNAUTHORIZED")
    assert _post(c, r.data, "store", b'{"message":"new key"}').status == 200
    audit = _sql("SELECT action FROM audit_log WHERE resource_id = '%s'"
                 " AND action = 'error_tracking.update'" % p["id"])
    assert len(audit) == 1, audit     # the refused PUTs changed nothing and left no record

    # A viewer reads, cannot change; a stranger sees no project.
    v = new_user(c, prefix="viewer")
    assert c.post("/projects/%s/members" % p["id"], {"user_id": v.user_id, "role": "viewer"}).status == 201
    assert v.get("/projects/%s/error-tracking" % p["id"]).status == 200
    assert_error(v.put("/projects/%s/error-tracking" % p["id"], {"rate_limit_per_minute": 5}), 403, "FORBIDDEN")
    stranger = new_user(c, prefix="stranger")
    assert_error(stranger.get("/projects/%s/error-tracking" % p["id"]), 404, "NOT_FOUND")
    assert_error(c.get("/projects/%s/error-tracking" % uuid.uuid4()), 404, "NOT_FOUND")
