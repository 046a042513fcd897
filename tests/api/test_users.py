"""API.md §1 /users: tenant administration and its invariants."""
import uuid

from lib import Client, assert_error, make_key, new_user, registered, request


def _addr():
    return "u-%s@example.com" % uuid.uuid4().hex[:8]


def test_create_list_get_update_deactivate():
    c, owner = registered()
    r = c.post("/users", {"email": _addr(), "first_name": "B", "last_name": "C", "role": "admin"})
    assert r.status == 201 and r.data["role"] == "admin" and r.data["active"] is True, r
    uid = r.data["id"]
    lst = c.get("/users")
    assert lst.status == 200 and [u["id"] for u in lst.data] == [owner["id"], uid], lst
    assert c.get("/users/" + uid).data["email"] == r.data["email"]
    r = c.put("/users/" + uid, {"role": "user", "first_name": "Bee"})
    assert r.status == 200 and r.data["role"] == "user" and r.data["first_name"] == "Bee", r
    assert c.delete("/users/" + uid).status == 204
    assert c.get("/users/" + uid).data["active"] is False
    assert_error(c.post("/users", {"email": r.data["email"]}), 409, "CONFLICT")


def test_limit_validation():
    c, _ = registered()
    assert_error(c.get("/users?limit=0"), 400, "BAD_REQUEST", field="limit")
    assert_error(c.get("/users?limit=201"), 400, "BAD_REQUEST", field="limit")
    assert_error(c.get("/users?limit=abc"), 400, "BAD_REQUEST", field="limit")
    for i in range(3):
        assert c.post("/users", {"email": _addr()}).status == 201
    assert len(c.get("/users?limit=2").data) == 2


def test_last_superadmin_cannot_be_demoted_or_deactivated():
    c, owner = registered()
    assert_error(c.put("/users/" + owner["id"], {"role": "admin"}), 409, "CONFLICT")
    assert_error(c.delete("/users/" + owner["id"]), 409, "CONFLICT")
    assert c.get("/auth/me").data["role"] == "superadmin"


def test_admins_cannot_manage_superadmins_and_users_cannot_administer():
    c, owner = registered()
    from test_auth import _code_for
    adm_addr, user_addr = _addr(), _addr()
    assert c.post("/users", {"email": adm_addr, "role": "admin"}).status == 201
    assert c.post("/users", {"email": user_addr, "role": "user"}).status == 201

    def login(addr):
        code = _code_for(c, addr)
        return Client(c.tenant, token=request("POST", "/%s/api/v1/auth/verify-code" % c.tenant,
                                              {"email": addr, "code": code}).data["token"])
    adm, usr = login(adm_addr), login(user_addr)
    assert_error(adm.post("/users", {"email": _addr(), "role": "superadmin"}), 403, "FORBIDDEN")
    assert_error(adm.put("/users/" + owner["id"], {"role": "user"}), 403, "FORBIDDEN")
    assert_error(adm.delete("/users/" + owner["id"]), 403, "FORBIDDEN")
    assert adm.get("/users").status == 200
    assert_error(usr.get("/users"), 403, "FORBIDDEN")
    assert_error(usr.post("/users", {"email": _addr()}), 403, "FORBIDDEN")
    assert_error(usr.post("/settings/service-keys", {"name": "x", "scopes": ["admin"]}), 403, "FORBIDDEN")
    assert c.get("/users/" + owner["id"]).data["role"] == "superadmin"


def test_deactivated_user_loses_sessions():
    c, _ = registered()
    from test_auth import _code_for
    addr = _addr()
    uid = c.post("/users", {"email": addr}).data["id"]
    code = _code_for(c, addr)
    u = Client(c.tenant, token=request("POST", "/%s/api/v1/auth/verify-code" % c.tenant,
                                       {"email": addr, "code": code}).data["token"])
    assert u.get("/auth/me").status == 200
    assert c.put("/users/" + uid, {"active": False}).status == 200
    assert_error(u.get("/auth/me"), 401, "UNAUTHORIZED")
    # Reactivated, the account does not get its old tokens back.
    assert c.put("/users/" + uid, {"active": True}).status == 200
    assert_error(u.get("/auth/me"), 401, "UNAUTHORIZED")


def test_auth_me_is_the_user_object_of_get_users():
    """/auth/me answers with the object the user's row keeps rendered
    (sql/012); GET /users/{id} renders it from the columns.  They must be
    the same, through every change and every character a name can hold."""
    c, me = registered()
    u = new_user(c, role="user")
    key = Client(c.tenant, key=make_key(u)["key"])

    def check():
        want = c.get("/users/" + u.user_id).data
        for who in (u, key):
            got = who.get("/auth/me")
            assert got.status == 200 and got.data == want, (got, want)

    check()
    tricky = 'O"Brien \\ \n\t\u0001 Zoë 東京 🚀 </script>'
    assert u.put("/auth/me", {"first_name": tricky, "last_name": "x\"y"}).status == 200
    check()
    assert c.put("/users/" + u.user_id, {"role": "admin"}).status == 200
    check()
    assert u.get("/auth/me").data["role"] == "admin"


def test_bad_user_bodies():
    c, _ = registered()
    r = c.post("/users", {"email": "nope", "role": "god", "first_name": 3})
    assert_error(r, 400, "BAD_REQUEST")
    assert sorted(d["field"] for d in r.error["details"]) == ["email", "first_name", "role"], r
    assert_error(c.put("/users/" + str(uuid.uuid4()), {"role": "user"}), 404, "NOT_FOUND")
    assert_error(c.put("/users/" + c.get("/auth/me").data["id"], {"active": "no"}), 400, "BAD_REQUEST", field="active")
