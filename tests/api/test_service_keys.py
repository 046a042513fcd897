"""API.md §1 service keys: shown once, stored hashed, scoped, revocable,
expiring, never more than their creator."""
import datetime
import uuid

from lib import Client, assert_error, make_key, psql, registered, request


def _iso(seconds_from_now):
    t = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=seconds_from_now)
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def test_create_shows_key_once_and_it_authenticates():
    c, user = registered()
    k = make_key(c, name="ci-cd")
    assert k["key"].startswith("lnchr_sk_") and len(k["key"]) >= 9 + 40, k
    assert k["prefix"] == k["key"][:13] and k["scopes"] == ["read", "write", "deploy"], k
    assert k["created_by"] == user["id"]
    r = c.get("/settings/service-keys/" + k["id"])
    assert r.status == 200 and "key" not in r.data and "key_hash" not in r.data, r
    listed = c.get("/settings/service-keys")
    assert listed.status == 200 and listed.json["meta"] == {"next_cursor": None}
    assert [x["id"] for x in listed.data] == [k["id"]] and "key" not in listed.data[0]
    kc = Client(c.tenant, key=k["key"])
    me = kc.get("/auth/me")
    assert me.status == 200 and me.data["id"] == user["id"], me
    # Stored only as a keyed hash: the key appears nowhere in the table.
    rows = psql("SELECT encode(key_hash, 'hex') || prefix FROM service_keys", user="launcher_owner")
    assert all(k["key"] not in r and k["key"][13:] not in r for r in rows)


def test_quick_example_of_the_seed():
    c, _ = registered()
    r = c.post("/settings/service-keys", {"name": "ci-cd"})
    assert r.status == 201, r
    kc = Client(c.tenant, key=r.data["key"])
    r = kc.get("/applications")
    assert r.status == 200 and r.data == [] and r.json["meta"] == {"next_cursor": None}, r
    # ... and deploy an application with it (the job waits for a server's agent).
    assert c.post("/servers", {"name": "srv"}).status == 201
    p = kc.post("/projects", {"name": "quick"}).data
    a = kc.post("/applications", {"project_id": p["id"], "name": "web", "source_type": "docker_image",
                                  "image_url": "registry.example.com/web:1", "exposed_port": 8080}).data
    assert [x["id"] for x in kc.get("/applications").data] == [a["id"]]
    r = kc.call("POST", "/applications/%s/deploy" % a["id"])
    assert r.status == 201 and r.data["status"] == "deploying" and r.data["trigger"] == "api", r


def test_revoked_key_is_401_at_once():
    c, _ = registered()
    k = make_key(c)
    kc = Client(c.tenant, key=k["key"])
    assert kc.get("/auth/me").status == 200
    assert c.delete("/settings/service-keys/" + k["id"]).status == 204
    assert_error(kc.get("/auth/me"), 401, "UNAUTHORIZED")
    assert_error(c.get("/settings/service-keys/" + k["id"]), 404, "NOT_FOUND")
    assert_error(c.delete("/settings/service-keys/" + k["id"]), 404, "NOT_FOUND")


def test_expiring_key_and_past_expiry():
    c, _ = registered()
    assert_error(c.post("/settings/service-keys", {"name": "old", "expires_at": _iso(-60)}),
                 400, "BAD_REQUEST", field="expires_at")
    assert_error(c.post("/settings/service-keys", {"name": "bad", "expires_at": "tomorrow"}),
                 400, "BAD_REQUEST", field="expires_at")
    # Expiry without waiting for it (a loaded machine may take seconds per
    # call): a key valid for an hour works, then its expires_at is moved
    # into the past in the database, the clock the check reads.
    k = make_key(c, expires_at=_iso(3600))
    kc = Client(c.tenant, key=k["key"])
    assert kc.get("/auth/me").status == 200
    psql("UPDATE service_keys SET expires_at = now() - interval '1 second' WHERE id = '%s'" % k["id"],
         user="launcher_owner")
    assert_error(kc.get("/auth/me"), 401, "UNAUTHORIZED")


def test_bad_keys_are_401():
    c, _ = registered()
    for bad in ("lnchr_sk_" + "A" * 43, "not-a-key", "lnchr_sk_' OR '1'='1", "x" * 500):
        assert_error(Client(c.tenant, key=bad).get("/auth/me"), 401, "UNAUTHORIZED")
    assert_error(Client(c.tenant).get("/auth/me"), 401, "UNAUTHORIZED")


def test_scopes_are_enforced_and_never_exceed_the_creator():
    c, _ = registered()
    ro = Client(c.tenant, key=make_key(c, scopes=["read"])["key"])
    assert ro.get("/auth/me").status == 200
    assert_error(ro.put("/auth/me", {"first_name": "X"}), 403, "FORBIDDEN")
    assert_error(ro.post("/settings/service-keys", {"name": "more", "scopes": ["read", "write"]}), 403, "FORBIDDEN")
    assert_error(c.post("/settings/service-keys", {"name": "x", "scopes": ["root"]}), 400, "BAD_REQUEST", field="scopes")
    assert_error(c.post("/settings/service-keys", {"name": "x", "scopes": "read"}), 400, "BAD_REQUEST", field="scopes")
    admin_key = make_key(c, scopes=["read", "write", "deploy", "admin"])
    assert Client(c.tenant, key=admin_key["key"]).get("/users").status == 200
    # A non-admin key cannot reach admin endpoints.
    w = Client(c.tenant, key=make_key(c, scopes=["read", "write"])["key"])
    assert_error(w.get("/users"), 403, "FORBIDDEN")


def test_key_of_demoted_creator_is_capped():
    c, _ = registered()
    r = c.post("/users", {"email": "adm-%s@example.com" % uuid.uuid4().hex[:6], "role": "admin"})
    assert r.status == 201, r
    admin_id = r.data["id"]
    # The admin signs in through the owner-made key path: make them a key by
    # acting as them is not possible without a password; use a code instead.
    from test_auth import _code_for
    code = _code_for(c, r.data["email"])
    tok = request("POST", "/%s/api/v1/auth/verify-code" % c.tenant, {"email": r.data["email"], "code": code}).data["token"]
    adm = Client(c.tenant, token=tok)
    k = make_key(adm, scopes=["read", "admin"])
    kc = Client(c.tenant, key=k["key"])
    assert kc.get("/users").status == 200
    assert c.put("/users/" + admin_id, {"role": "user"}).status == 200
    assert_error(kc.get("/users"), 403, "FORBIDDEN")
    assert kc.get("/auth/me").data["role"] == "user"
    # Promoted beyond the role it had when it made the key: capped there.
    assert c.put("/users/" + admin_id, {"role": "superadmin"}).status == 200
    assert kc.get("/users").status == 200
    assert kc.get("/auth/me").data["role"] == "superadmin"
    # Deactivating the creator kills the key, on every route.
    assert c.delete("/users/" + admin_id).status == 204
    assert_error(kc.get("/auth/me"), 401, "UNAUTHORIZED")
    assert_error(kc.get("/projects"), 401, "UNAUTHORIZED")
    assert_error(kc.get("/users"), 401, "UNAUTHORIZED")
    # Reactivated, it works again, as the user it acts for.
    assert c.put("/users/" + admin_id, {"active": True}).status == 200
    assert kc.get("/projects").status == 200


def test_users_see_only_their_own_keys():
    c, _ = registered()
    mine = make_key(c)
    r = c.post("/users", {"email": "u-%s@example.com" % uuid.uuid4().hex[:6], "role": "user"})
    from test_auth import _code_for
    code = _code_for(c, r.data["email"])
    tok = request("POST", "/%s/api/v1/auth/verify-code" % c.tenant, {"email": r.data["email"], "code": code}).data["token"]
    u = Client(c.tenant, token=tok)
    theirs = make_key(u)
    assert [k["id"] for k in u.get("/settings/service-keys").data] == [theirs["id"]]
    assert_error(u.get("/settings/service-keys/" + mine["id"]), 404, "NOT_FOUND")
    assert_error(u.delete("/settings/service-keys/" + mine["id"]), 404, "NOT_FOUND")
    assert {k["id"] for k in c.get("/settings/service-keys").data} == {mine["id"], theirs["id"]}


def test_admin_cannot_revoke_a_superadmins_keys():
    c, _ = registered()
    top = make_key(c, name="superadmin-key")
    r = c.post("/users", {"email": "adm-%s@example.com" % uuid.uuid4().hex[:6], "role": "admin"})
    assert r.status == 201, r
    from test_auth import _code_for
    code = _code_for(c, r.data["email"])
    tok = request("POST", "/%s/api/v1/auth/verify-code" % c.tenant, {"email": r.data["email"], "code": code}).data["token"]
    adm = Client(c.tenant, token=tok)
    own = make_key(adm)
    # The admin sees the superadmin's key but cannot revoke it, by session or by admin key.
    assert adm.get("/settings/service-keys/" + top["id"]).status == 200
    r = adm.delete("/settings/service-keys/" + top["id"])
    assert_error(r, 403, "FORBIDDEN")
    assert "superadmin" in r.error["message"], r
    akey = make_key(adm, scopes=["read", "write", "admin"])
    assert_error(Client(c.tenant, key=akey["key"]).delete("/settings/service-keys/" + top["id"]),
                 403, "FORBIDDEN")
    assert Client(c.tenant, key=top["key"]).get("/auth/me").status == 200
    # Its own keys, yes; and the superadmin may revoke the admin's.
    assert adm.delete("/settings/service-keys/" + akey["id"]).status == 204
    assert c.delete("/settings/service-keys/" + own["id"]).status == 204
    assert c.delete("/settings/service-keys/" + top["id"]).status == 204
    assert_error(Client(c.tenant, key=top["key"]).get("/auth/me"), 401, "UNAUTHORIZED")
