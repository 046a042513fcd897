"""API.md §1 Authentication through nginx against the real database and a
real SMTP server."""
import base64
import hashlib
import hmac
import json
import os
import statistics
import time
import uuid

from lib import (PASSWORD, Client, STATE, assert_error, mail_body, mail_for, make_key,
                 new_tenant, registered, request)


def test_setup_status_and_register_only_once():
    slug, _ = new_tenant()
    r = request("GET", "/%s/api/v1/auth/setup-status" % slug)
    assert r.status == 200 and r.data == {"setup_complete": False}, r
    assert r.headers.get("x-plane-version"), r.headers
    assert r.headers.get("x-request-id"), r.headers
    body = {"email": "First@Example.com", "password": PASSWORD, "first_name": "A", "last_name": "B"}
    r = request("POST", "/%s/api/v1/auth/register" % slug, body)
    assert r.status == 201, r
    assert r.data["user"]["role"] == "superadmin"
    assert r.data["user"]["email"] == "first@example.com"
    assert r.data["token"].count(".") == 2
    for k in ("password", "password_hash", "_password_hash"):
        assert k not in r.data["user"]
    r = request("GET", "/%s/api/v1/auth/setup-status" % slug)
    assert r.data == {"setup_complete": True}, r
    body["email"] = "second@example.com"
    assert_error(request("POST", "/%s/api/v1/auth/register" % slug, body), 409, "CONFLICT")


def test_register_concurrently_creates_one_superadmin():
    import threading
    slug, _ = new_tenant()
    results = []

    def go(i):
        results.append(request("POST", "/%s/api/v1/auth/register" % slug, {
            "email": "u%d@example.com" % i, "password": PASSWORD,
            "first_name": "A", "last_name": "B"}).status)
    ts = [threading.Thread(target=go, args=(i,)) for i in range(6)]
    [t.start() for t in ts]
    [t.join() for t in ts]
    assert sorted(results).count(201) == 1 and results.count(409) == 5, results


def test_login_success_and_indistinguishable_failures():
    c, user = registered()
    r = request("POST", "/%s/api/v1/auth/login" % c.tenant, {"email": c.email.upper(), "password": PASSWORD})
    assert r.status == 200 and r.data["user"]["id"] == user["id"], r
    wrong = request("POST", "/%s/api/v1/auth/login" % c.tenant, {"email": c.email, "password": "nope-nope"})
    unknown = request("POST", "/%s/api/v1/auth/login" % c.tenant, {"email": "ghost@example.com", "password": "nope-nope"})
    assert_error(wrong, 401, "UNAUTHORIZED")
    assert_error(unknown, 401, "UNAUTHORIZED")
    assert wrong.error == unknown.error, (wrong, unknown)

    def timed(email):
        t = []
        for _ in range(5):
            t0 = time.perf_counter()
            request("POST", "/%s/api/v1/auth/login" % c.tenant, {"email": email, "password": "nope-nope"})
            t.append(time.perf_counter() - t0)
        return statistics.median(t)
    # Both paths do one argon2id computation: the times are of one kind.
    a, b = timed(c.email), timed("ghost@example.com")
    assert 0.5 < a / b < 2.0, (a, b)


def test_logout_revokes_token_until_expiry():
    c, _ = registered()
    assert c.get("/auth/me").status == 200
    r = c.post("/auth/logout")
    assert r.status == 204 and r.raw == b"", r
    assert_error(c.get("/auth/me"), 401, "UNAUTHORIZED")
    # Without a token, logout still answers 204.
    assert request("POST", "/%s/api/v1/auth/logout" % c.tenant).status == 204


def test_logout_revokes_that_token_only():
    c, _ = registered()
    login = lambda: request("POST", "/%s/api/v1/auth/login" % c.tenant,
                            {"email": c.email, "password": PASSWORD}).data["token"]
    tokens = [login() for _ in range(3)]
    assert Client(c.tenant, token=tokens[1]).post("/auth/logout").status == 204
    assert_error(Client(c.tenant, token=tokens[1]).get("/auth/me"), 401, "UNAUTHORIZED")
    for t in (c.token, tokens[0], tokens[2]):
        assert Client(c.tenant, token=t).get("/auth/me").status == 200
    # A second logout of the same token changes nothing; the others still work.
    assert Client(c.tenant, token=tokens[1]).post("/auth/logout").status == 204
    assert Client(c.tenant, token=tokens[2]).post("/auth/logout").status == 204
    assert_error(Client(c.tenant, token=tokens[2]).get("/auth/me"), 401, "UNAUTHORIZED")
    assert Client(c.tenant, token=tokens[0]).get("/auth/me").status == 200


def test_me_get_and_put_with_sql_metacharacters_stored_verbatim():
    c, user = registered()
    r = c.get("/auth/me")
    assert r.status == 200 and r.data["id"] == user["id"] and "etag" not in r.data
    evil = "Robert'); DROP TABLE users;-- \\ \" % _ $1 ${x}"
    r = c.put("/auth/me", {"first_name": evil, "last_name": "O'Brien"})
    assert r.status == 200 and r.data["first_name"] == evil and r.data["last_name"] == "O'Brien", r
    assert c.get("/auth/me").data["first_name"] == evil


def test_bad_body_changes_nothing_and_names_every_field():
    c, _ = registered()
    before = c.get("/auth/me").data
    r = c.put("/auth/me", {"first_name": "Changed", "last_name": 42})
    assert_error(r, 400, "BAD_REQUEST", field="last_name")
    assert c.get("/auth/me").data == before
    r = request("POST", "/%s/api/v1/auth/register" % c.tenant, {"email": 5, "password": "x"})
    assert r.status in (400, 409), r
    slug, _ = new_tenant()
    r = request("POST", "/%s/api/v1/auth/register" % slug, {"email": "not-an-email", "password": "short", "first_name": ""})
    assert_error(r, 400, "BAD_REQUEST")
    fields = sorted(d["field"] for d in r.error["details"])
    assert fields == ["email", "first_name", "last_name", "password"], r
    assert request("GET", "/%s/api/v1/auth/setup-status" % slug).data["setup_complete"] is False


def test_malformed_json_wrong_type_and_content_type():
    c, _ = registered()
    assert_error(c.put("/auth/me", raw=b"{\"first_name\": ", headers={"Content-Type": "application/json"}),
                 400, "BAD_REQUEST")
    assert_error(c.put("/auth/me", raw=b"[1,2]", headers={"Content-Type": "application/json"}),
                 400, "BAD_REQUEST")
    assert_error(c.put("/auth/me", raw=b"first_name=x", headers={"Content-Type": "application/x-www-form-urlencoded"}),
                 415, "UNSUPPORTED_MEDIA_TYPE")
    assert_error(c.put("/auth/me", {"first_name": ["x"]}), 400, "BAD_REQUEST", field="first_name")


def test_body_over_limit_is_413_in_envelope():
    c, _ = registered()
    big = b"{\"first_name\": \"" + b"x" * (2 * 1024 * 1024) + b"\"}"
    r = c.put("/auth/me", raw=big, headers={"Content-Type": "application/json"})
    assert_error(r, 413, "PAYLOAD_TOO_LARGE")


def test_unknown_tenant_and_malformed_ids_are_404():
    c, _ = registered()
    assert_error(request("GET", "/no-such-tenant/api/v1/auth/setup-status"), 404, "NOT_FOUND")
    assert_error(request("GET", "/%s/api/v1/auth/setup-status" % uuid.uuid4()), 404, "NOT_FOUND")
    assert_error(request("GET", "/no-such-tenant/api/v1/auth/me", headers=c.headers()), 404, "NOT_FOUND")
    assert_error(c.get("/settings/service-keys/not-a-uuid"), 404, "NOT_FOUND")
    assert_error(c.get("/settings/service-keys/%s'--" % uuid.uuid4()), 404, "NOT_FOUND")
    assert_error(c.get("/users/123"), 404, "NOT_FOUND")
    assert_error(c.get("/no/such/route"), 404, "NOT_FOUND")
    r = c.call("DELETE", "/auth/me")
    assert_error(r, 405, "METHOD_NOT_ALLOWED")
    assert "GET" in r.headers.get("allow", "") and "PUT" in r.headers["allow"], r.headers


# ---- forged tokens ---------------------------------------------------------

def _b64(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def _jwt_key():
    """The JWT key, derived from the stack's master key as the server does
    (libsodium crypto_kdf: BLAKE2b keyed with the master key)."""
    with open(os.path.join(STATE, "secrets", "master.key"), "rb") as f:
        master = f.read()
    return hashlib.blake2b(b"", digest_size=32, key=master,
                           salt=(1).to_bytes(8, "little") + bytes(8),
                           person=b"lnchrjwt" + bytes(8)).digest()


def _forge(header, claims, key):
    signing = _b64(json.dumps(header).encode()) + "." + _b64(json.dumps(claims).encode())
    sig = hmac.new(key, signing.encode(), hashlib.sha256).digest() if key else b""
    return signing + "." + _b64(sig)


def _claims_of(token):
    p = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(p + "=" * (-len(p) % 4)))


def test_forged_tokens_are_401():
    c, _ = registered()
    claims = _claims_of(c.token)
    key = _jwt_key()
    # Control: our derivation is right, a re-signed copy of the real claims works.
    good = _forge({"alg": "HS256", "typ": "JWT"}, claims, key)
    assert Client(c.tenant, token=good).get("/auth/me").status == 200
    cases = {
        "alg none": _forge({"alg": "none", "typ": "JWT"}, claims, None),
        "alg None": _forge({"alg": "None"}, claims, None),
        "RS256 signed with the HMAC key": _forge({"alg": "RS256", "typ": "JWT"}, claims, key),
        "HS512": _forge({"alg": "HS512", "typ": "JWT"}, claims, key),
        "wrong key": _forge({"alg": "HS256", "typ": "JWT"}, claims, b"k" * 32),
        "expired": _forge({"alg": "HS256", "typ": "JWT"}, dict(claims, exp=int(time.time()) - 10), key),
        "other session": _forge({"alg": "HS256", "typ": "JWT"}, dict(claims, jti=str(uuid.uuid4())), key),
        "no session proof": _forge({"alg": "HS256", "typ": "JWT"},
                                   {k: v for k, v in claims.items() if k != "sk"}, key),
        "other session generation": _forge({"alg": "HS256", "typ": "JWT"}, dict(claims, gen=claims["gen"] + 1), key),
        "other issuer": _forge({"alg": "HS256", "typ": "JWT"}, dict(claims, iss="evil"), key),
        "garbage": "a.b.c",
    }
    for name, tok in cases.items():
        r = Client(c.tenant, token=tok).get("/auth/me")
        assert r.status == 401 and r.error.get("code") == "UNAUTHORIZED", (name, r)


def test_token_of_one_tenant_is_401_in_another():
    a, _ = registered("ta")
    b, _ = registered("tb")
    assert_error(Client(b.tenant, token=a.token).get("/auth/me"), 401, "UNAUTHORIZED")


# ---- one-time codes by e-mail ------------------------------------------------

def _code_for(c, addr):
    t0 = time.time() - 1
    r = request("POST", "/%s/api/v1/auth/send-code" % c.tenant, {"email": addr, "method": "email"})
    assert r.status == 200, r
    msg = mail_for(addr, after=t0)
    body = mail_body(msg)
    code = [w for w in body.split() if w.isdigit() and len(w) == 6]
    assert code, body
    return code[0]


def test_send_code_and_verify_code_single_use():
    c, user = registered()
    code = _code_for(c, c.email)
    r = request("POST", "/%s/api/v1/auth/verify-code" % c.tenant, {"email": c.email, "code": code})
    assert r.status == 200 and r.data["user"]["id"] == user["id"], r
    assert Client(c.tenant, token=r.data["token"]).get("/auth/me").status == 200
    r = request("POST", "/%s/api/v1/auth/verify-code" % c.tenant, {"email": c.email, "code": code})
    assert_error(r, 401, "UNAUTHORIZED")


def test_code_allows_five_tries_only():
    c, _ = registered()
    code = _code_for(c, c.email)
    wrong = "%06d" % ((int(code) + 1) % 1000000)
    for _ in range(5):
        assert request("POST", "/%s/api/v1/auth/verify-code" % c.tenant,
                       {"email": c.email, "code": wrong}).status == 401
    r = request("POST", "/%s/api/v1/auth/verify-code" % c.tenant, {"email": c.email, "code": code})
    assert_error(r, 401, "UNAUTHORIZED")


def test_code_is_stored_hashed_and_unknown_email_gets_no_mail():
    from lib import psql
    c, _ = registered()
    code = _code_for(c, c.email)
    rows = psql("SELECT encode(code_hash, 'hex') FROM login_codes WHERE email = '%s'" % c.email,
                user="launcher_owner")
    assert rows and all(code not in r for r in rows), rows
    t0 = time.time() - 1
    r = request("POST", "/%s/api/v1/auth/send-code" % c.tenant, {"email": "nobody@example.com"})
    assert r.status == 200, r
    try:
        mail_for("nobody@example.com", after=t0, timeout=2)
        assert False, "mail sent to an unknown address"
    except AssertionError as e:
        assert "no mail" in str(e), e
    assert_error(request("POST", "/%s/api/v1/auth/send-code" % c.tenant, {"email": "x@y.z", "method": "sms"}),
                 400, "BAD_REQUEST", field="method")
    assert_error(request("POST", "/%s/api/v1/auth/verify-code" % c.tenant, {"email": c.email, "code": "12a456"}),
                 400, "BAD_REQUEST", field="code")


# ---- passwords ---------------------------------------------------------------

def test_password_change_revokes_other_tokens_only():
    c, _ = registered()
    other = request("POST", "/%s/api/v1/auth/login" % c.tenant, {"email": c.email, "password": PASSWORD}).data["token"]
    r = c.put("/auth/me/password", {"current_password": "wrong-one", "new_password": "another-Passw0rd"})
    assert_error(r, 400, "BAD_REQUEST", field="current_password")
    assert Client(c.tenant, token=other).get("/auth/me").status == 200
    r = c.put("/auth/me/password", {"current_password": PASSWORD, "new_password": "another-Passw0rd"})
    assert r.status == 200, r
    assert c.get("/auth/me").status == 200
    assert_error(Client(c.tenant, token=other).get("/auth/me"), 401, "UNAUTHORIZED")
    assert request("POST", "/%s/api/v1/auth/login" % c.tenant, {"email": c.email, "password": PASSWORD}).status == 401
    r = request("POST", "/%s/api/v1/auth/login" % c.tenant, {"email": c.email, "password": "another-Passw0rd"})
    assert r.status == 200
    # A token issued after the change works; a change made with it revokes
    # the token the first change had kept.
    newer = Client(c.tenant, token=r.data["token"])
    assert newer.get("/auth/me").status == 200
    r = newer.put("/auth/me/password", {"current_password": "another-Passw0rd", "new_password": "third-Passw0rd"})
    assert r.status == 200 and r.data["revoked_sessions"] == 1, r
    assert newer.get("/auth/me").status == 200
    assert_error(c.get("/auth/me"), 401, "UNAUTHORIZED")


def test_invited_user_signs_in_by_code_then_sets_initial_password():
    c, _ = registered()
    addr = "new-%s@example.com" % uuid.uuid4().hex[:6]
    r = c.post("/users", {"email": addr, "first_name": "N", "last_name": "U", "role": "user"})
    assert r.status == 201 and r.data["must_reset_password"] is True, r
    assert request("POST", "/%s/api/v1/auth/login" % c.tenant, {"email": addr, "password": "anything-1"}).status == 401
    code = _code_for(c, addr)
    tok = request("POST", "/%s/api/v1/auth/verify-code" % c.tenant, {"email": addr, "code": code}).data["token"]
    u = Client(c.tenant, token=tok)
    r = u.post("/auth/me/set-initial-password", {"password": "first-Passw0rd"})
    assert r.status == 200 and r.data["must_reset_password"] is False, r
    assert_error(u.post("/auth/me/set-initial-password", {"password": "second-Passw0rd"}), 409, "CONFLICT")
    assert request("POST", "/%s/api/v1/auth/login" % c.tenant, {"email": addr, "password": "first-Passw0rd"}).status == 200
