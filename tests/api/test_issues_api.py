"""Issues REST (API.md §17): list filters and cursor, get, PUT triage and its
validation, DELETE with the occurrences, GET /issues/:id/events, and the
permission matrix of a project's roles.  Issues and events are written here
as the database owner, as launcher-issues writes them."""
import hashlib
import json
import uuid

from lib import Client, assert_error, make_key, new_project, new_user, psql, registered
from test_applications import _app
from test_servers import _server


def _owner(sql):
    return psql(sql, user="launcher_owner")


def _q(s):
    return "NULL" if s is None else "'%s'" % str(s).replace("'", "''")


def _issue(c, project, app=None, title="TypeError: x is undefined", culprit="app/models.py in save",
           level="error", status="unresolved", count=1):
    fp = hashlib.sha256(uuid.uuid4().bytes).hexdigest()
    return _owner(
        "INSERT INTO issues (tenant_id, project_id, application_id, fingerprint, title, culprit, level,"
        " status, first_seen, last_seen, event_count) VALUES (%s, %s, %s, %s, %s, %s, %s, %s,"
        " now() - interval '1 hour', now(), %d) RETURNING id"
        % (_q(c.tid), _q(project), _q(app), _q(fp), _q(title), _q(culprit), _q(level), _q(status),
           count))[0]


def _event(c, project, issue, data, release=None, environment=None, message=None, ago=0):
    eid = uuid.uuid4().hex
    return _owner(
        "INSERT INTO issue_events (tenant_id, issue_id, project_id, event_id, received_at, occurred_at,"
        " level, message, release, environment, data) VALUES (%s, %s, %s, %s,"
        " clock_timestamp() - interval '%d seconds', now() - interval '%d seconds', 'error', %s, %s,"
        " %s, %s::jsonb) RETURNING id"
        % (_q(c.tid), _q(issue), _q(project), _q(eid), ago, ago, _q(message), _q(release),
           _q(environment), _q(json.dumps(data))))[0]


def _setup():
    c, _ = registered("iss")
    _server(c, base_domain="apps.test")
    return c


FIELDS = {"id", "project_id", "application_id", "fingerprint", "title", "culprit", "level", "status",
          "first_seen", "last_seen", "event_count", "assignee_id"}


def test_list_filters_and_cursor():
    c = _setup()
    p1, p2 = new_project(c), new_project(c)
    a = _app(c, p1)
    ids = [_issue(c, p1["id"], title="KeyError: 'user_%d'" % i) for i in range(5)]
    app_issue = _issue(c, p1["id"], a["id"], title="ZeroDivisionError", culprit="billing.compute_tax")
    resolved = _issue(c, p1["id"], title="Timeout talking to redis", status="resolved")
    other = _issue(c, p2["id"], title="Other project's error", culprit="other.py")
    everything = c.every("/issues", limit=2)
    assert [i["id"] for i in everything] == ids + [app_issue, resolved, other], everything
    assert FIELDS <= set(everything[0]), everything[0]
    i0 = everything[0]
    assert i0["project_id"] == p1["id"] and i0["application_id"] is None and i0["event_count"] == 1
    assert i0["status"] == "unresolved" and i0["level"] == "error" and i0["assignee_id"] is None
    # One page of two has a cursor; the pages do not overlap.
    r = c.get("/issues?limit=2")
    assert len(r.data) == 2 and r.json["meta"]["next_cursor"], r
    r2 = c.get("/issues?limit=2&cursor=" + r.json["meta"]["next_cursor"])
    assert [i["id"] for i in r2.data] == ids[2:4], r2
    # Filters, alone and together.
    assert [i["id"] for i in c.every("/issues?projectId=" + p2["id"])] == [other]
    assert [i["id"] for i in c.every("/issues?applicationId=" + a["id"])] == [app_issue]
    assert [i["id"] for i in c.every("/issues?status=resolved")] == [resolved]
    assert len(c.every("/issues?status=unresolved&projectId=" + p1["id"])) == 6
    assert c.every("/issues?status=ignored") == []
    # q: a case-insensitive substring of the title or the culprit; % and _ are plain.
    assert [i["id"] for i in c.every("/issues?q=zerodivision")] == [app_issue]
    assert [i["id"] for i in c.every("/issues?q=COMPUTE_TAX")] == [app_issue]
    assert [i["id"] for i in c.every("/issues?q=user_3")] == [ids[3]]
    assert c.every("/issues?q=%25") == [] and c.every("/issues?q=user%5F") != []
    assert [i["id"] for i in c.every("/issues?q=redis&status=resolved&projectId=" + p1["id"])] == [resolved]
    # Bad parameters are 400 naming them.
    for query, field in (("status=open", "status"), ("projectId=nope", "projectId"),
                         ("applicationId=1", "applicationId"), ("q=" + "x" * 201, "q"),
                         ("q=%FF%FE", "q"), ("limit=0", "limit"), ("cursor=abc", "cursor")):
        assert_error(c.get("/issues?" + query), 400, "BAD_REQUEST", field)
    # Another tenant sees none of them.
    o, _ = registered("iss")
    assert o.get("/issues").data == []
    assert_error(o.get("/issues/" + other), 404, "NOT_FOUND")


def test_get_put_triage_with_validation_and_etag():
    c = _setup()
    p = new_project(c)
    i = _issue(c, p["id"])
    r = c.get("/issues/" + i)
    assert r.status == 200 and r.data["id"] == i and r.data["resolved_at"] is None, r
    etag = r.headers["etag"]
    assert_error(c.get("/issues/" + str(uuid.uuid4())), 404, "NOT_FOUND")
    assert_error(c.get("/issues/not-a-uuid"), 404, "NOT_FOUND")
    # Resolve: resolved_at set; the ETag moves; a stale If-Match is 412.
    r = c.put("/issues/" + i, {"status": "resolved"}, headers={"If-Match": etag})
    assert r.status == 200 and r.data["status"] == "resolved" and r.data["resolved_at"], r
    resolved_at = r.data["resolved_at"]
    assert r.headers["etag"] != etag
    assert_error(c.put("/issues/" + i, {"status": "ignored"}, headers={"If-Match": etag}),
                 412, "PRECONDITION_FAILED")
    # Assigning keeps the status and its resolved_at.
    me = c.get("/auth/me").data["id"]
    r = c.put("/issues/" + i, {"assignee_id": me})
    assert r.data["assignee_id"] == me and r.data["status"] == "resolved", r
    assert r.data["resolved_at"] == resolved_at, r
    # Ignored: resolved_at cleared; unassign with null.
    r = c.put("/issues/" + i, {"status": "ignored", "assignee_id": None})
    assert (r.data["status"], r.data["resolved_at"], r.data["assignee_id"]) == ("ignored", None, None), r
    # Bad bodies: 400 naming the field, nothing changed.
    member = new_user(c, role="user")
    outsider = new_user(c, role="user")
    assert c.post("/projects/%s/members" % p["id"], {"user_id": member.user_id, "role": "viewer"}).status == 201
    other_tenant, u2 = registered("iss")
    for body, field in (({"status": "open"}, "status"), ({"status": None}, "status"),
                        ({"status": 1}, "status"), ({"assignee_id": "x"}, "assignee_id"),
                        ({"assignee_id": str(uuid.uuid4())}, "assignee_id"),
                        ({"assignee_id": outsider.user_id}, "assignee_id"),
                        ({"assignee_id": u2["id"]}, "assignee_id"),
                        ({"status": "resolved", "assignee_id": outsider.user_id}, "assignee_id")):
        assert_error(c.put("/issues/" + i, body), 400, "BAD_REQUEST", field)
    g = c.get("/issues/" + i).data
    assert (g["status"], g["assignee_id"]) == ("ignored", None), g
    # A member of the project (any role) and a tenant admin can be assignees.
    admin = new_user(c, role="admin")
    for who in (member.user_id, admin.user_id):
        assert c.put("/issues/" + i, {"assignee_id": who}).data["assignee_id"] == who
    # Back to unresolved.
    r = c.put("/issues/" + i, {"status": "unresolved"})
    assert r.data["status"] == "unresolved" and r.data["resolved_at"] is None, r
    log = [x for x in c.every("/audit-log") if x["action"] == "issue.update"]
    assert len(log) == 6 and log[-1]["resource_id"] == i, log


def test_the_api_role_writes_only_the_triage_columns():
    """What launcher-issues counts is its own: the API role (whatever a
    request's SQL could do) updates status, assignee and resolved_at only."""
    c = _setup()
    p = new_project(c)
    i = _issue(c, p["id"], count=3)
    for col, val in (("event_count", "1000"), ("fingerprint", "'%s'" % ("0" * 64)),
                     ("title", "'forged'"), ("first_seen", "now()"), ("last_seen", "now()"),
                     ("row_version", "99"), ("project_id", _q(p["id"]))):
        try:
            psql("UPDATE issues SET %s = %s WHERE id = '%s'" % (col, val, i), tenant=c.tid)
        except RuntimeError as e:
            assert "permission denied" in str(e), (col, e)
        else:
            raise AssertionError("the API role updated issues.%s" % col)
    # The triage columns, as issue_update writes them; the version trigger still runs.
    psql("UPDATE issues SET status = 'resolved', resolved_at = now(), assignee_id = NULL"
         " WHERE id = '%s'" % i, tenant=c.tid)
    assert _owner("SELECT status, event_count, title, row_version FROM issues WHERE id = '%s'"
                  % i) == ["resolved|3|TypeError: x is undefined|2"]


def test_events_are_paged_with_what_the_event_carried():
    c = _setup()
    p = new_project(c)
    i = _issue(c, p["id"], count=3)
    data = {"exception": [{"type": "ValueError", "value": "bad input", "module": "shop.cart",
                           "stacktrace": {"frames": [{"filename": "shop/cart.py", "function": "add",
                                                      "lineno": 42, "in_app": True}]}}],
            "tags": {"browser": "Firefox"}, "user": {"id": "u-1", "email": "x@example.com"},
            "breadcrumbs": [{"category": "http", "message": "GET /cart"}],
            "contexts": {"os": {"name": "Linux"}}, "server_name": "web-1", "platform": "python",
            "sdk": {"name": "sentry.python", "version": "1.9.10"}}
    e = [_event(c, p["id"], i, dict(data, tags={"n": str(k)}), release="abc123", environment="production",
                message="m%d" % k, ago=30 - k) for k in range(3)]
    bare = _event(c, p["id"], i, {}, ago=0)
    r = c.get("/issues/%s/events?limit=2" % i)
    assert r.status == 200 and [x["id"] for x in r.data] == e[:2], r
    first = r.data[0]
    assert first["issue_id"] == i and first["release"] == "abc123" and first["environment"] == "production"
    assert first["exception"][0]["stacktrace"]["frames"][0]["lineno"] == 42, first
    assert first["tags"] == {"n": "0"} and first["user"]["id"] == "u-1", first
    assert first["breadcrumbs"][0]["message"] == "GET /cart" and first["contexts"]["os"]["name"] == "Linux"
    assert first["server_name"] == "web-1" and first["platform"] == "python" and first["message"] == "m0"
    assert first["sdk"]["name"] == "sentry.python" and first["occurred_at"] and first["received_at"]
    r = c.get("/issues/%s/events?limit=2&cursor=%s" % (i, r.json["meta"]["next_cursor"]))
    assert [x["id"] for x in r.data] == [e[2], bare] and r.json["meta"]["next_cursor"] is None, r
    b = r.data[1]
    assert (b["exception"], b["tags"], b["breadcrumbs"], b["user"], b["release"]) == ([], {}, [], None, None), b
    # A cursor of another issue's list is refused.
    j = _issue(c, p["id"])
    cur = c.get("/issues/%s/events?limit=1" % i).json["meta"]["next_cursor"]
    assert_error(c.get("/issues/%s/events?cursor=%s" % (j, cur)), 400, "BAD_REQUEST", "cursor")
    assert c.get("/issues/%s/events" % j).data == []
    assert_error(c.get("/issues/%s/events" % uuid.uuid4()), 404, "NOT_FOUND")


def test_delete_removes_the_issue_and_its_events():
    c = _setup()
    p = new_project(c)
    i, keep = _issue(c, p["id"]), _issue(c, p["id"])
    _event(c, p["id"], i, {}), _event(c, p["id"], i, {})
    _event(c, p["id"], keep, {})
    etag = c.get("/issues/" + i).headers["etag"]
    assert c.put("/issues/" + i, {"status": "resolved"}).status == 200
    assert_error(c.delete("/issues/" + i, headers={"If-Match": etag}), 412, "PRECONDITION_FAILED")
    r = c.delete("/issues/" + i)
    assert r.status == 204 and r.raw == b"", r
    assert_error(c.get("/issues/" + i), 404, "NOT_FOUND")
    assert_error(c.delete("/issues/" + i), 404, "NOT_FOUND")
    assert _owner("SELECT count(*) FROM issue_events WHERE issue_id = '%s'" % i) == ["0"]
    assert _owner("SELECT count(*) FROM issue_events WHERE issue_id = '%s'" % keep) == ["1"]
    assert [x["id"] for x in c.every("/issues")] == [keep]
    assert any(x["action"] == "issue.delete" and x["resource_id"] == i for x in c.every("/audit-log"))


def test_permission_matrix_of_project_roles_and_keys():
    c = _setup()
    pa, pb = new_project(c), new_project(c)
    ia, ib = _issue(c, pa["id"]), _issue(c, pb["id"])
    _event(c, pa["id"], ia, {}), _event(c, pb["id"], ib, {})
    users = {}
    for role in ("viewer", "member", "admin"):
        u = new_user(c, role="user")
        assert c.post("/projects/%s/members" % pa["id"], {"user_id": u.user_id, "role": role}).status == 201
        users[role] = u
    # Everyone of project A sees A's issues and events, never B's.
    for role, u in users.items():
        assert [x["id"] for x in u.every("/issues")] == [ia], role
        assert u.every("/issues?projectId=" + pb["id"]) == [], role
        assert u.get("/issues/" + ia).status == 200, role
        assert u.get("/issues/%s/events" % ia).status == 200, role
        for path in ("/issues/" + ib, "/issues/%s/events" % ib):
            assert_error(u.get(path), 404, "NOT_FOUND")
        assert_error(u.put("/issues/" + ib, {"status": "resolved"}), 404, "NOT_FOUND")
        assert_error(u.delete("/issues/" + ib), 404, "NOT_FOUND")
    # viewer: read only; member: triage, not delete; admin: both.
    assert_error(users["viewer"].put("/issues/" + ia, {"status": "resolved"}), 403, "FORBIDDEN")
    assert_error(users["viewer"].delete("/issues/" + ia), 403, "FORBIDDEN")
    assert users["member"].put("/issues/" + ia, {"status": "resolved"}).status == 200
    assert_error(users["member"].delete("/issues/" + ia), 403, "FORBIDDEN")
    assert users["admin"].put("/issues/" + ia, {"status": "ignored"}).status == 200
    assert c.get("/issues/" + ia).data["status"] == "ignored"
    # Keys: read scope reads; a deploy-scoped key triages; a key bound to B sees only B.
    ro = Client(c.tenant, key=make_key(c, scopes=["read"])["key"])
    assert ro.get("/issues/" + ia).status == 200
    assert_error(ro.put("/issues/" + ia, {"status": "resolved"}), 403, "FORBIDDEN")
    dep = Client(c.tenant, key=make_key(c, scopes=["read", "deploy"])["key"])
    assert dep.put("/issues/" + ia, {"status": "resolved"}).status == 200
    assert_error(dep.delete("/issues/" + ia), 403, "FORBIDDEN")
    bound = Client(c.tenant, key=make_key(c, scopes=["read", "write"], project_id=pb["id"])["key"])
    assert [x["id"] for x in bound.every("/issues")] == [ib]
    assert_error(bound.get("/issues/" + ia), 404, "NOT_FOUND")
    # The tenant's superadmin sees both; the admin of A deletes A's.
    assert {x["id"] for x in c.every("/issues")} == {ia, ib}
    assert users["admin"].delete("/issues/" + ia).status == 204
    assert [x["id"] for x in c.every("/issues")] == [ib]
