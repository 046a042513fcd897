"""API.md §2 projects: CRUD, only-given-fields updates, ETag/If-Match,
icons through nginx, deletion of everything in a project."""
import uuid

from lib import (PNG, Client, assert_error, make_key, multipart, new_project, new_tenant,
                 new_user, psql, registered, request)


def test_create_get_list_update_delete():
    c, me = registered()
    r = c.post("/projects", {"name": "web-shop", "display_name": "Web shop", "color": "#1a2b3c"})
    assert r.status == 201, r
    p = r.data
    assert p["owner_id"] == me["id"] and p["display_name"] == "Web shop" and p["color"] == "#1a2b3c"
    envs = {e["name"]: e["is_default"] for e in p["environments"]}
    assert envs == {"production": True, "staging": False}, p
    assert r.headers.get("etag") == '"1"', r.headers
    g = c.get("/projects/" + p["id"])
    assert g.status == 200 and g.data == p and g.headers["etag"] == '"1"'
    r = c.put("/projects/" + p["id"], {"description": "shop; DROP TABLE projects;--"})
    assert r.status == 200 and r.data["description"] == "shop; DROP TABLE projects;--", r
    assert r.data["display_name"] == "Web shop" and r.data["color"] == "#1a2b3c"
    assert r.headers["etag"] == '"2"'
    r = c.put("/projects/" + p["id"], {"color": None, "auto_error_tracking_enabled": True})
    assert r.data["color"] is None and r.data["auto_error_tracking_enabled"] is True
    assert [x["id"] for x in c.get("/projects").data] == [p["id"]]
    assert c.delete("/projects/" + p["id"]).status == 204
    assert_error(c.get("/projects/" + p["id"]), 404, "NOT_FOUND")


def test_list_items_are_the_project_objects():
    """A list returns the objects the rows keep rendered (sql/011): they
    must be exactly what GET returns (without its environments), through
    every kind of change and every character a string can hold."""
    c, me = registered()
    other = new_user(c, role="user")

    def check(pid):
        g = c.get("/projects/" + pid)
        assert g.status == 200, g
        want = {k: v for k, v in g.data.items() if k != "environments"}
        items = [x for x in c.get("/projects?limit=200").data if x["id"] == pid]
        assert items == [want], (items, want)

    tricky = 'quote " backslash \\ slash / nl \n tab \t bell \u0007 del \u007f Zürich 東京 🚀 </script>'
    p = c.post("/projects", {"name": "json-row", "display_name": "x\"y\\z", "description": tricky}).data
    check(p["id"])
    c.put("/projects/" + p["id"], {"color": "#abcdef", "single_server_mode": True, "description": "\u0001\u001f"})
    check(p["id"])
    body, ctype = multipart("icon", "i.png", PNG, "image/png")
    assert c.post("/projects/%s/icon" % p["id"], raw=body, headers={"Content-Type": ctype}).status == 200
    check(p["id"])
    assert c.post("/projects/%s/members" % p["id"], {"user_id": other.user_id, "role": "admin"}).status == 201
    assert c.post("/projects/%s/transfer" % p["id"], {"new_owner_id": other.user_id}).status == 200
    check(p["id"])
    assert c.get("/projects/" + p["id"]).data["owner_id"] == other.user_id


def test_the_list_shows_each_caller_what_it_may_see():
    """GET /projects per kind of caller, asked in turns so that every pool
    worker answers an admin's first page (which it reads in the auth round
    trip) right before a member's, a bound key's and an unknown key's."""
    c, me = registered()
    u = new_user(c, role="user")
    p1 = c.post("/projects", {"name": "seen-by-u"}).data["id"]
    p2 = c.post("/projects", {"name": "not-seen-by-u"}).data["id"]
    assert c.post("/projects/%s/members" % p1, {"user_id": u.user_id, "role": "viewer"}).status == 201
    admin_key = Client(c.tenant, key=make_key(c)["key"])
    cases = [
        (c, {p1, p2}),
        (admin_key, {p1, p2}),
        (Client(c.tenant, key=make_key(c, project_id=p2)["key"]), {p2}),
        (u, {p1}),
        (Client(c.tenant, key=make_key(u)["key"]), {p1}),
        (Client(c.tenant, key=make_key(u, project_id=p1)["key"]), {p1}),
    ]
    for _ in range(6):
        for who, want in cases:
            for q in ("/projects", "/projects?limit=1", "/projects?limit=200"):
                r = who.get(q)
                assert r.status == 200, r
                got = {x["id"] for x in r.data}
                if q.endswith("=1"):
                    assert len(got) == 1 and got <= want, (q, got, want)
                else:
                    assert got == want, (q, got, want)
            assert_error(Client(c.tenant, key="lnchr_sk_" + "x" * 43).get("/projects"), 401, "UNAUTHORIZED")


def test_my_role_is_the_callers_role_in_each_project():
    """my_role on every project object (list, GET, POST, PUT, transfer):
    the role the caller acts with (fcgi/core/perm.c perm_my_role): its
    membership role, owner for a tenant admin, and for a service key at
    most what its scopes allow, counted in the order read, deploy, write,
    admin."""
    c, _ = registered()
    boss = new_user(c, role="admin")
    roles = ("viewer", "member", "admin")
    users = {role: new_user(c, role="user") for role in roles}
    r = c.post("/projects", {"name": "roles"})
    assert r.status == 201 and r.data["my_role"] == "owner", r
    pid = r.data["id"]
    for role, u in users.items():
        assert c.post("/projects/%s/members" % pid, {"user_id": u.user_id, "role": role}).status == 201

    def seen(who):
        g = who.get("/projects/" + pid)
        assert g.status == 200, g
        items = [x["my_role"] for x in who.get("/projects?limit=200").data if x["id"] == pid]
        assert items == [g.data["my_role"]], (items, g.data)
        return g.data["my_role"]

    assert seen(c) == "owner" and seen(boss) == "owner"
    for role, u in users.items():
        assert seen(u) == role
    r = users["admin"].put("/projects/" + pid, {"description": "x"})
    assert r.status == 200 and r.data["my_role"] == "admin", r
    for scopes, want in ((["read"], "viewer"), (["read", "deploy"], "member"),
                         (["read", "write"], "viewer"), (["read", "deploy", "write"], "admin"),
                         (["read", "deploy", "write", "admin"], "owner")):
        assert seen(Client(c.tenant, key=make_key(c, scopes=scopes)["key"])) == want, scopes
        bound = Client(c.tenant, key=make_key(c, scopes=scopes, project_id=pid)["key"])
        assert seen(bound) == want, scopes
    assert seen(Client(c.tenant, key=make_key(users["member"])["key"])) == "member"

    u = users["member"]
    r = u.post("/projects", {"name": "mine"})
    assert r.status == 201 and r.data["my_role"] == "owner", r
    mine = r.data["id"]
    assert u.post("/projects/%s/members" % mine, {"user_id": users["viewer"].user_id,
                                                   "role": "viewer"}).status == 201
    r = u.post("/projects/%s/transfer" % mine, {"new_owner_id": users["viewer"].user_id})
    assert r.status == 200 and r.data["my_role"] == "admin", r


def test_names_and_bad_bodies():
    c, _ = registered()
    new_project(c, name="dup")
    assert_error(c.post("/projects", {"name": "dup"}), 409, "CONFLICT")
    r = c.post("/projects", {"name": "Bad Name!", "color": "red", "single_server_mode": "yes",
                             "default_server_id": "nope"})
    assert_error(r, 400, "BAD_REQUEST")
    assert sorted(d["field"] for d in r.error["details"]) == [
        "color", "default_server_id", "name", "single_server_mode"], r
    other = new_project(c)
    assert_error(c.put("/projects/" + other["id"], {"name": "dup"}), 409, "CONFLICT")
    assert c.get("/projects/" + other["id"]).data["name"] == other["name"]
    assert_error(c.get("/projects/not-a-uuid"), 404, "NOT_FOUND")
    assert_error(c.get("/projects/" + str(uuid.uuid4())), 404, "NOT_FOUND")


def test_stale_if_match_is_412_and_changes_nothing():
    c, _ = registered()
    p = new_project(c)
    path = "/projects/" + p["id"]
    assert c.put(path, {"description": "v2"}).headers["etag"] == '"2"'
    r = c.put(path, {"description": "stale"}, headers={"If-Match": '"1"'})
    assert_error(r, 412, "PRECONDITION_FAILED")
    assert_error(c.delete(path, headers={"If-Match": '"1"'}), 412, "PRECONDITION_FAILED")
    assert_error(c.put(path, {"description": "x"}, headers={"If-Match": 'W/"2"'}), 412, "PRECONDITION_FAILED")
    assert c.get(path).data["description"] == "v2"
    r = c.put(path, {"description": "v3"}, headers={"If-Match": '"2"'})
    assert r.status == 200 and r.headers["etag"] == '"3"', r
    assert c.put(path, {"description": "v4"}, headers={"If-Match": "*"}).status == 200
    assert c.delete(path, headers={"If-Match": '"4"'}).status == 204


def test_icon_upload_is_sniffed_and_served_by_nginx():
    c, _ = registered()
    p = new_project(c)
    body, ctype = multipart("icon", "logo.png", PNG, "image/png")
    r = c.post("/projects/%s/icon" % p["id"], raw=body, headers={"Content-Type": ctype})
    assert r.status == 200 and r.data["icon_path"].startswith("/icons/") and r.data["icon_path"].endswith(".png"), r
    icon = request("GET", r.data["icon_path"])
    assert icon.status == 200 and icon.raw == PNG, icon.status
    assert icon.headers["content-type"] == "image/png"
    assert icon.headers.get("x-content-type-options") == "nosniff"
    assert "sandbox" in icon.headers.get("content-security-policy", "")
    first = r.data["icon_path"]
    svg = b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" width="1" height="1"><rect width="1" height="1"/></svg>'
    body, ctype = multipart("icon", "logo.svg", svg, "image/svg+xml")
    r = c.post("/projects/%s/icon" % p["id"], raw=body, headers={"Content-Type": ctype})
    assert r.status == 200 and r.data["icon_path"].endswith(".svg"), r
    assert request("GET", first).status == 404, "replaced icon file still served"
    bad = {
        "html named png": (b"<html><script>alert(1)</script></html>", "x.png"),
        "svg with script": (b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>', "x.svg"),
        "svg with onload": (b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"></svg>', "x.svg"),
        "svg with javascript link": (b'<svg><a href="javascript:alert(1)"><rect/></a></svg>', "x.svg"),
        "too large png": (PNG + b"\0" * (512 * 1024), "x.png"),
    }
    for name, (data, fn) in bad.items():
        body, ctype = multipart("icon", fn, data)
        r = c.post("/projects/%s/icon" % p["id"], raw=body, headers={"Content-Type": ctype})
        assert r.status in (400, 413), (name, r)
    assert c.get("/projects/" + p["id"]).data["icon_path"].endswith(".svg")
    body, ctype = multipart("file", "x.png", PNG)
    assert_error(c.post("/projects/%s/icon" % p["id"], raw=body, headers={"Content-Type": ctype}),
                 400, "BAD_REQUEST", field="icon")
    assert_error(c.post("/projects/%s/icon" % p["id"], {"icon": "x"}), 415, "UNSUPPORTED_MEDIA_TYPE")
    svg_path = c.get("/projects/" + p["id"]).data["icon_path"]
    assert c.delete("/projects/%s/icon" % p["id"]).status == 204
    assert c.get("/projects/" + p["id"]).data["icon_path"] is None
    assert request("GET", svg_path).status == 404


def test_delete_removes_everything_of_the_project_only():
    a, _ = registered("del-a")
    b, _ = registered("del-b")
    pa = new_project(a, name="same-name")
    pb = new_project(b, name="same-name")
    u = new_user(a)
    assert a.post("/projects/%s/members" % pa["id"], {"user_id": u.user_id, "role": "member"}).status == 201
    assert a.post("/projects/%s/invites" % pa["id"], {"email": "inv@example.com", "role": "viewer"}).status == 201
    assert a.post("/projects/%s/environments" % pa["id"], {"name": "qa"}).status == 201
    k = make_key(a, project_id=pa["id"])
    assert b.post("/projects/%s/environments" % pb["id"], {"name": "qa"}).status == 201
    assert a.delete("/projects/" + pa["id"]).status == 204
    for t in ("project_members", "project_invites", "environments"):
        assert psql("SELECT count(*) FROM %s WHERE project_id = '%s'" % (t, pa["id"]), user="launcher_owner") == ["0"], t
    assert psql("SELECT count(*) FROM service_keys WHERE id = '%s'" % k["id"], user="launcher_owner") == ["0"]
    # The audit log still names the project.
    log = a.get("/audit-log?projectId=" + pa["id"])
    actions = [e["action"] for e in log.data]
    assert "project.create" in actions and "project.delete" in actions, actions
    # The other tenant's project of the same name is untouched.
    g = b.get("/projects/" + pb["id"])
    assert g.status == 200 and {e["name"] for e in g.data["environments"]} == {"production", "staging", "qa"}


def test_key_bound_to_a_project_sees_only_that_project():
    c, _ = registered()
    p1, p2 = new_project(c), new_project(c)
    k = Client(c.tenant, key=make_key(c, project_id=p1["id"])["key"])
    assert k.get("/projects/" + p1["id"]).status == 200
    assert_error(k.get("/projects/" + p2["id"]), 404, "NOT_FOUND")
    assert [p["id"] for p in k.get("/projects").data] == [p1["id"]]
    assert_error(k.post("/projects", {"name": "nope"}), 403, "FORBIDDEN")
    # Tenant administration is out of reach of a project-bound key, even with admin scope.
    ka = Client(c.tenant, key=make_key(c, project_id=p1["id"], scopes=["read", "admin"])["key"])
    assert_error(ka.get("/users"), 403, "FORBIDDEN")
    assert_error(ka.get("/audit-log"), 403, "FORBIDDEN")
