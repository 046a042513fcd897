"""Tenant isolation: through the API, and directly through the API's
database role, so that a handler that forgets `WHERE tenant_id` still
cannot read or write another tenant's rows."""
from lib import Client, assert_error, make_key, psql, registered


def test_credentials_of_tenant_a_never_work_in_tenant_b():
    a, _ = registered("iso-a")
    b, _ = registered("iso-b")
    ka = make_key(a)
    assert_error(Client(b.tenant, key=ka["key"]).get("/auth/me"), 401, "UNAUTHORIZED")
    assert_error(Client(b.tenant, token=a.token).get("/users"), 401, "UNAUTHORIZED")
    assert_error(b.get("/settings/service-keys/" + ka["id"]), 404, "NOT_FOUND")
    assert_error(b.delete("/settings/service-keys/" + ka["id"]), 404, "NOT_FOUND")
    assert Client(a.tenant, key=ka["key"]).get("/auth/me").status == 200
    emails = [u["email"] for u in b.get("/users").data]
    assert a.email not in emails and b.email in emails
    # Same e-mail in two tenants is two independent accounts.
    c, _ = registered("iso-c", email_addr=a.email)
    assert c.get("/auth/me").data["id"] != a.get("/auth/me").data["id"]


def test_api_role_sees_only_the_current_tenant_without_where():
    a, ua = registered("rls-a")
    b, ub = registered("rls-b")
    make_key(a)
    tables = ["users", "sessions", "service_keys", "login_codes"]
    for t in tables:
        # No WHERE clause at all: RLS alone decides.
        seen_b = psql("SELECT DISTINCT tenant_id FROM %s" % t, tenant=b.tid)
        assert a.tid not in seen_b, (t, seen_b)
        assert psql("SELECT count(*) FROM %s" % t)[0] == "0", t  # no tenant set: nothing
    assert psql("SELECT id FROM users", tenant=a.tid) == [ua["id"]]
    assert psql("SELECT id FROM users WHERE id = '%s'" % ua["id"], tenant=b.tid) == []
    # Writes across tenants are refused by the policy's WITH CHECK.
    for sql in ("UPDATE users SET first_name = 'pwned' WHERE id = '%s'" % ua["id"],
                "DELETE FROM users WHERE id = '%s'" % ua["id"]):
        psql(sql, tenant=b.tid)  # affects zero rows
    try:
        psql("INSERT INTO users (tenant_id, email, role) VALUES ('%s', 'x@y.z', 'superadmin')" % a.tid,
             tenant=b.tid)
        assert False, "cross-tenant insert succeeded"
    except RuntimeError as e:
        assert "row-level security" in str(e), e
    assert a.get("/auth/me").data["first_name"] == "Ada"


def test_api_role_owns_nothing_and_cannot_bypass_rls():
    rows = psql("SELECT rolsuper, rolbypassrls, rolcreaterole, rolcreatedb FROM pg_roles"
                " WHERE rolname = current_user")
    assert rows == ["f|f|f|f"], rows
    owned = psql("SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
                 " WHERE n.nspname = 'launcher' AND pg_get_userbyid(c.relowner) = current_user")
    assert owned == ["0"], owned
    # Every table with a tenant_id column has RLS enabled.
    missing = psql("SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
                   " JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = 'tenant_id'"
                   " WHERE n.nspname = 'launcher' AND c.relkind = 'r' AND NOT c.relrowsecurity",
                   user="launcher_owner")
    assert missing == [], missing
    try:
        psql("SELECT count(*) FROM schema_migrations")
        assert False, "the API role can read schema_migrations"
    except RuntimeError as e:
        assert "permission denied" in str(e), e
    try:
        psql("INSERT INTO tenants (slug, name) VALUES ('evil', 'x')")
        assert False, "the API role can create tenants"
    except RuntimeError as e:
        assert "permission denied" in str(e), e


def test_a_slug_that_names_another_tenant_now_resolves_to_it_on_every_worker():
    """Workers remember which tenant their session holds and which URL
    reference it came from (one statement per request instead of two).  A
    slug that comes to name another tenant (here: two tenants' slugs
    swapped in the database; a tenant deleted and its slug reused is the
    same case) must not keep its old meaning on any worker: every change to
    the tenants table reaches every pool connection as a notification."""
    a, _ = registered("swap-a")
    b, _ = registered("swap-b")
    ka, kb = make_key(a)["key"], make_key(b)["key"]
    for _ in range(16):     # every worker's session now holds a for a's slug
        assert Client(a.tenant, key=ka).get("/auth/me").status == 200
    sa, sb = a.tenant, b.tenant
    swap = ("UPDATE tenants SET slug = 'swap-tmp' WHERE slug = '{0}';"
            " UPDATE tenants SET slug = '{0}' WHERE slug = '{1}';"
            " UPDATE tenants SET slug = '{1}' WHERE slug = 'swap-tmp'").format(sa, sb)
    psql(swap, user="launcher_owner")
    try:
        # First, on every worker: a's key at a's old slug.  A worker that
        # kept the old meaning would find a's key in its session's tenant.
        for _ in range(16):
            assert_error(Client(sa, key=ka).get("/auth/me"), 401, "UNAUTHORIZED")
        for _ in range(16):
            me = Client(sa, key=kb).get("/auth/me")     # sa is b's slug now
            assert me.status == 200 and me.data["email"] == b.email, me
            assert_error(Client(sa, key=ka).get("/auth/me"), 401, "UNAUTHORIZED")
            me = Client(sb, key=ka).get("/auth/me")
            assert me.status == 200 and me.data["email"] == a.email, me
    finally:
        psql(swap, user="launcher_owner")
