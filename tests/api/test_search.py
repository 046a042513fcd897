"""GET /search (API.md §20, sql/046_search.sql): one ranked, prefix- and
typo-tolerant query over projects, applications, databases, volumes,
domains, deployments (commit sha and message), env var keys (never values)
and users, limited to what the caller may see.  Resources are made through
the API (a deployment by a signed GitHub push, for its commit message)."""
import hashlib
import json
import re
import uuid
from urllib.parse import quote

from lib import Client, assert_error, make_key, new_project, new_user, psql, registered, request
from test_servers import _server
from webhook_fixtures import delivery, github_push, sha_of

TYPES = ["project", "application", "database", "volume", "domain", "deployment", "env_var", "issue",
         "user"]
SECRET = "sk-live-" + uuid.uuid4().hex     # an env var value that must never show


def _ok(r, status=201):
    assert r.status == status, r
    return r.data


def _resources(c, srv, p, tag, message):
    """One resource of every project-scoped type, each named with tag."""
    repo = "https://github.com/acme/r%s.git" % uuid.uuid4().hex[:8]
    a = _ok(c.post("/applications", {"project_id": p["id"], "server_id": srv["id"],
                                     "name": tag + "-web", "source_type": "git",
                                     "repository_url": repo, "exposed_port": 8080,
                                     "autodeploy": True}))
    _ok(c.post("/databases", {"project_id": p["id"], "name": tag + "-db", "type": "postgres"}))
    _ok(c.post("/volumes", {"project_id": p["id"], "name": tag + "-vol"}))
    _ok(c.post("/domains", {"application_id": a["id"],
                            "hostname": "%s.d%s.example.com" % (tag, uuid.uuid4().hex[:8])}))
    _ok(c.put("/applications/%s/env" % a["id"], {tag.upper().replace("-", "_") + "_API_KEY": SECRET}), 200)
    sha = sha_of(uuid.uuid4().hex)
    raw, h = delivery("github", a["webhook_secret"], github_push(repo, sha=sha, message=message))
    r = request("POST", "/%s/api/v1/webhooks/github" % c.tenant, raw=raw, headers=h)
    assert r.status == 200 and len(r.data["deployments"]) == 1, r
    # An issue of the application, as launcher-issues writes one (grouping
    # is its own worker's; the search follows the row whoever writes it).
    psql("INSERT INTO issues (tenant_id, project_id, application_id, fingerprint, title, culprit,"
         " level, first_seen, last_seen, event_count) SELECT tenant_id, project_id, id, '%s',"
         " 'TypeError: %s cart is undefined', 'checkout.js in submit', 'error', now(), now(), 1"
         " FROM applications WHERE id = '%s'" % (hashlib.sha256(tag.encode()).hexdigest(), tag, a["id"]), user="launcher_owner")
    return a, sha


class World:
    """A tenant with project "shop" (A) and project "zebra-b" (B), each
    holding one resource of every type named "zebra-..."; a viewer, a
    member and an admin of A; an outsider; keys."""
    _w = None

    @classmethod
    def get(cls):
        if cls._w is None:
            cls._w = cls()
        return cls._w

    def __init__(self):
        self.c, self.owner = registered("search")
        srv = _server(self.c, name="only")
        self.a = new_project(self.c, name="shop", display_name="Zebra shop")
        self.b = new_project(self.c, name="zebra-b")
        self.app_a, self.sha_a = _resources(self.c, srv, self.a, "zebra-a",
                                            "fix deploy of the zebra checkout\n\nbody")
        self.app_b, self.sha_b = _resources(self.c, srv, self.b, "zebra-b", "zebra release")
        self.members = {}
        for role in ("viewer", "member", "admin"):
            u = new_user(self.c, prefix="zebra")
            _ok(self.c.post("/projects/%s/members" % self.a["id"], {"user_id": u.user_id, "role": role}))
            self.members[role] = u
        self.outsider = new_user(self.c, prefix="zebra")
        self.tenant_admin = new_user(self.c, role="admin", prefix="zebra")
        self.key_a = Client(self.c.tenant, key=make_key(self.c, scopes=["read"],
                                                        project_id=self.a["id"])["key"])
        self.key_read = Client(self.c.tenant, key=make_key(self.c, scopes=["read"])["key"])
        self.key_admin = Client(self.c.tenant, key=make_key(self.c, scopes=["read", "admin"])["key"])


def search(client, q, **params):
    qs = "&".join("%s=%s" % (k, v) for k, v in params.items())
    r = client.get("/search?q=%s%s" % (quote(q), "&" + qs if qs else ""))
    assert r.status == 200 and isinstance(r.data, list), r
    for hit in r.data:
        assert set(hit) == {"type", "id", "name", "project_id", "title", "snippet"}, hit
    return r.data


def test_a_prefix_finds_the_project_and_a_typo_still_does():
    w = World.get()
    for q in ("shp", "sho", "shop", "shpo", "SHOP"):
        hits = search(w.c, q, types="project")
        assert hits and hits[0]["id"] == w.a["id"], (q, hits)
        assert hits[0]["name"] == "shop" and hits[0]["title"] == "Zebra shop", hits
        assert hits[0]["project_id"] == w.a["id"], hits
    # Ranked: the exact name comes first among every type.
    assert search(w.c, "shop")[0]["id"] == w.a["id"]
    # Nothing close: nothing found.
    assert search(w.c, "qqxxjj") == []


def test_words_in_any_order_find_the_deployment_by_its_commit_message():
    w = World.get()
    hits = search(w.c, "deploy fix", types="deployment")
    assert hits and hits[0]["project_id"] == w.a["id"], hits
    d = hits[0]
    assert d["name"] == w.sha_a[:7] and d["title"].startswith("fix deploy of the zebra checkout"), d
    assert d["title"].endswith(" · zebra-a-web"), d        # the application it deployed
    assert "fix deploy" in d["snippet"], d
    dep = w.c.get("/deployments/" + d["id"])
    assert dep.status == 200 and dep.data["commit_sha"] == w.sha_a, dep
    # And by its commit sha, a prefix of it as git prints it.
    for q in (w.sha_a, w.sha_a[:7]):
        assert [h["id"] for h in search(w.c, q, types="deployment")][:1] == [d["id"]], q
    # A typo in a word of the message.
    assert d["id"] in [h["id"] for h in search(w.c, "chekout", types="deployment")]


def test_an_env_var_is_found_by_its_key_and_its_value_never_shows():
    w = World.get()
    r = w.c.get("/search?q=zebra_a_api")
    assert r.status == 200, r
    hits = [h for h in r.data if h["type"] == "env_var"]
    # Every word a prefix: ZEBRA_B_API_KEY matches too ("a" of "api"), after.
    assert hits[0]["name"] == "ZEBRA_A_API_KEY", r.data
    assert hits[0]["project_id"] == w.a["id"] and hits[0]["title"] == "ZEBRA_A_API_KEY · zebra-a-web", hits
    assert SECRET not in r.raw.decode(), r.raw.decode()
    # The value is not searchable either, in whole or in part.
    for q in (SECRET, SECRET[8:20], "sk-live"):
        rr = w.c.get("/search?q=" + q)
        assert rr.status == 200 and SECRET not in rr.raw.decode(), rr
        assert [h for h in rr.data if h["type"] == "env_var"] == [], rr.data
    every = w.c.get("/search?q=zebra&limit=100")
    assert every.status == 200 and SECRET not in every.raw.decode()


def test_an_issue_is_found_by_its_title_and_culprit():
    w = World.get()
    hits = search(w.c, "cart undefined zebra-a", types="issue")
    assert hits and hits[0]["title"] == "TypeError: zebra-a cart is undefined · zebra-a-web", hits
    assert hits[0]["project_id"] == w.a["id"] and "checkout.js" in hits[0]["snippet"], hits
    assert hits[0]["id"] in [h["id"] for h in search(w.c, "checkout submit", types="issue")]
    assert hits[0]["id"] in [h["id"] for h in search(w.c, "TypErorr", types="issue")]


def _seen(client, q="zebra", **params):
    return search(client, q, limit=100, **params)


def test_a_caller_sees_only_the_projects_it_may_read_for_every_type():
    w = World.get()
    everything = _seen(w.c)
    types_a = {h["type"] for h in everything if h["project_id"] == w.a["id"]}
    types_b = {h["type"] for h in everything if h["project_id"] == w.b["id"]}
    project_types = set(TYPES) - {"user"}
    assert types_a == project_types and types_b == project_types, (types_a, types_b)
    assert {h["type"] for h in everything if h["project_id"] is None} == {"user"}, everything
    cases = [
        # (who, projects seen, users seen)
        ("superadmin", w.c, {w.a["id"], w.b["id"]}, True),
        ("tenant admin", w.tenant_admin, {w.a["id"], w.b["id"]}, True),
        ("viewer of A", w.members["viewer"], {w.a["id"]}, False),
        ("member of A", w.members["member"], {w.a["id"]}, False),
        ("admin of A", w.members["admin"], {w.a["id"]}, False),
        ("outsider", w.outsider, set(), False),
        ("key bound to A", w.key_a, {w.a["id"]}, False),
        ("read key", w.key_read, {w.a["id"], w.b["id"]}, False),
        ("admin key", w.key_admin, {w.a["id"], w.b["id"]}, True),
    ]
    for who, client, projects, users in cases:
        hits = _seen(client)
        got = {h["project_id"] for h in hits if h["project_id"] is not None}
        assert got == projects, (who, got, hits)
        assert any(h["type"] == "user" for h in hits) == users, (who, hits)
        for pid in projects:   # every type of a visible project, nothing less
            assert {h["type"] for h in hits if h["project_id"] == pid} == project_types, (who, hits)
        # Asked for each type alone, by its own name, B stays out of reach.
        if w.b["id"] not in projects:
            for t in project_types:
                assert [h for h in _seen(client, types=t) if h["project_id"] == w.b["id"]] == [], (who, t)
            for q in ("zebra-b", "zebra_b_api_key", w.sha_b, "release"):
                assert [h for h in _seen(client, q) if h["project_id"] == w.b["id"]] == [], (who, q)
            assert _seen(client, projectId=w.b["id"]) == [], who
    # Another tenant sees nothing of this one.
    other, _ = registered("search-x")
    assert _seen(other) == [] and _seen(other, "shop") == []


def test_filters_by_type_and_project():
    w = World.get()
    hits = _seen(w.c, types="database,volume")
    assert hits and {h["type"] for h in hits} == {"database", "volume"}, hits
    # A database's own volume (db-<name>) is a volume too.
    assert {h["name"] for h in hits} == {"zebra-a-db", "zebra-b-db", "zebra-a-vol", "zebra-b-vol",
                                         "db-zebra-a-db", "db-zebra-b-db"}, hits
    hits = _seen(w.c, projectId=w.b["id"])
    assert hits and {h["project_id"] for h in hits} == {w.b["id"]}, hits
    hits = _seen(w.members["viewer"], projectId=w.a["id"], types="application")
    assert [h["id"] for h in hits] == [w.app_a["id"]], hits
    assert hits[0]["title"] == "zebra-a-web · shop", hits
    assert len(search(w.c, "zebra", limit=3)) == 3


def test_bad_parameters_are_400_naming_each():
    w = World.get()
    cases = [
        ("/search", ["q"]),
        ("/search?q=", ["q"]),
        ("/search?q=" + "x" * 201, ["q"]),
        ("/search?q=shop&types=application,planet", ["types"]),
        ("/search?q=shop&types=application,", ["types"]),
        ("/search?q=shop&limit=0", ["limit"]),
        ("/search?q=shop&limit=101", ["limit"]),
        ("/search?q=shop&limit=ten", ["limit"]),
        ("/search?q=shop&projectId=nope", ["projectId"]),
        ("/search?types=x&limit=1000&projectId=1", ["q", "types", "projectId", "limit"]),
    ]
    for url, fields in cases:
        r = w.c.get(url)
        assert_error(r, 400, "BAD_REQUEST")
        assert sorted(d["field"] for d in r.error["details"]) == sorted(fields), (url, r)
    assert search(w.c, "x" * 200) == []
    assert search(w.c, "é" * 200) == []       # 200 characters, 400 bytes: accepted
    assert_error(w.c.get("/search?q=" + quote("é" * 201)), 400, "BAD_REQUEST", field="q")
    # Query syntax is not ours to parse: operators are plain characters.
    for q in ("!", "a%26b", "'", "(", "%5C", ":*", "--"):
        assert w.c.get("/search?q=" + q).status == 200, q
    assert_error(Client(w.c.tenant).get("/search?q=shop"), 401, "UNAUTHORIZED")


def test_a_renamed_resource_is_found_by_its_new_name_and_a_deleted_one_disappears():
    w = World.get()
    c = w.c
    p = new_project(c, name="tmp-" + uuid.uuid4().hex[:6])
    srv = c.get("/servers").data[0]
    app, _ = _resources(c, srv, p, "quokka", "quokka launch")
    found = {h["type"] for h in _seen(c, "quokka")}
    assert found == {"application", "database", "volume", "domain", "deployment", "env_var", "issue"}, found
    # A rename shows at once, in the application's own hit and in the
    # titles that name it.
    _ok(c.put("/applications/" + app["id"], {"name": "wombat-web"}), 200)
    hits = _seen(c, "wombat")
    assert [h["id"] for h in hits if h["type"] == "application"] == [app["id"]], hits
    assert [h["name"] for h in _seen(c, "quokka", types="application")] == [], "old name still found"
    titles = [h["title"] for h in _seen(c, "quokka") if h["type"] in ("deployment", "env_var", "issue")]
    assert len(titles) == 3 and all(t.endswith(" · wombat-web") for t in titles), titles
    # Deleting the application takes its deployments, domains, env vars and issues.
    assert c.delete("/applications/" + app["id"]).status == 204
    left = {h["type"] for h in _seen(c, "quokka")} | {h["type"] for h in _seen(c, "wombat")}
    assert left == {"database", "volume"}, left
    # Deleting the project takes the rest, and the project itself.
    assert c.delete("/projects/" + p["id"]).status == 204
    assert _seen(c, "quokka") == [] and _seen(c, p["name"], types="project") == []


def test_the_search_is_one_statement_served_by_the_indexes():
    """search_find() (what the API calls) runs one statement, search_query()
    inlined; planned as the owner it runs as, with the generic plan a
    function's statement may get (parameters unknown), over a tenant of
    10,000 documents, it reads search_documents through its two indexes,
    once each (full text, name prefix), never by a sequential
    scan; one query per type would read it once per type.
    The API role cannot read the table at all."""
    c, _ = registered("search-plan")
    p = new_project(c)
    words = ["shop", "cart", "billing", "ledger", "mail", "queue", "worker", "report", "media",
             "chat", "search", "auth", "notify", "stream", "image", "video", "backup", "metrics"]
    psql("INSERT INTO search_documents (tenant_id, type, id, project_id, name, label, body)"
         " SELECT '%s', 'volume', gen_random_uuid(), '%s', w, w, 'body of ' || w FROM ("
         "  SELECT (ARRAY[%s])[1 + i %% %d] || '-' || (ARRAY['api','web','db','jobs'])[1 + i / 7 %% 4]"
         "         || '-' || i AS w FROM generate_series(1, 10000) i) x; ANALYZE search_documents"
         % (c.tid, p["id"], ",".join("'%s'" % x for x in words), len(words)), user="launcher_owner")
    find = "\n".join(psql("SELECT prosrc FROM pg_proc WHERE proname = 'search_find'", user="launcher_owner"))
    assert find.count("RETURN QUERY") == 1 and "search_query(" in find, find
    # The settings search_find makes for its statement, made here too.
    settings = "".join("SET %s = '%s'; " % kv for kv in
                       re.findall(r"set_config\('([a-z_.]+)', '([^']*)', true\)", find))
    assert "pg_trgm.similarity_threshold" in settings, find
    # The core settings are the function's own (SET clause), not the
    # transaction's: they do not outlive the search.
    config = psql("SELECT unnest(proconfig) FROM pg_proc WHERE proname = 'search_find'", user="launcher_owner")
    assert "enable_seqscan=off" in config and "plan_cache_mode=force_generic_plan" in config, config
    assert "set_config('enable_seqscan'" not in find and "set_config('plan_cache_mode'" not in find, find
    settings += "".join("SET %s = '%s'; " % tuple(kv.split("=", 1)) for kv in config if "search_path" not in kv)
    query = "\n".join(psql("SELECT prosrc FROM pg_proc WHERE proname = 'search_query'", user="launcher_owner"))
    assert ";" not in query.strip().rstrip(";"), "more than one statement"
    args = "text, text[], uuid, integer, boolean, uuid[], uuid, boolean"
    for params in ("'shp', NULL, NULL, 20, true, NULL, NULL, true",
                   "'deploy fix', '{deployment,application}', NULL, 20, false, '{%s}', NULL, false"
                   % p["id"]):
        out = psql(settings + " PREPARE s(%s) AS SELECT * FROM search_query($1, $2, $3, $4, $5, $6, $7, $8);"
                   " EXPLAIN (FORMAT JSON) EXECUTE s(%s)" % (args, params),
                   user="launcher_owner", tenant=c.tid)
        plan = json.loads("\n".join(out))
        scans = []

        def walk(n):
            if n.get("Relation Name") == "search_documents" or n.get("Index Name", "").startswith("search_documents"):
                scans.append((n["Node Type"], n.get("Index Name")))
            for ch in n.get("Plans", []):
                walk(ch)
        walk(plan[0]["Plan"])
        kinds = [k for k, _ in scans]
        assert "Seq Scan" not in kinds, scans
        # Two branches (typo-tolerant full text, name prefix), each one
        # scan of one index: not one per type.
        assert len([k for k in kinds if k in ("Index Scan", "Bitmap Heap Scan")]) == 2, scans
        assert sorted(i for _, i in scans if i) == ["search_documents_name", "search_documents_tsv"], scans
    # The vocabulary lookup (each query word's nearest words, as
    # search_fuzzy_tsquery makes it) goes through its trigram index too.
    out = psql(settings + " EXPLAIN (FORMAT JSON) SELECT word FROM search_words WHERE word %% 'shp'"
               " AND tenant_id IS NOT DISTINCT FROM '%s' ORDER BY similarity(word, 'shp') DESC LIMIT 10" % c.tid,
               user="launcher_owner")
    text = "\n".join(out)
    assert "search_words_trgm" in text and "Seq Scan" not in text, text
    assert psql("SELECT word FROM search_words WHERE tenant_id = '%s' AND word IN ('shop', 'api', 'db')"
                " ORDER BY 1" % c.tid, user="launcher_owner") == ["api", "shop"]
    # The core settings do not outlive the search in its transaction.
    assert psql("SELECT count(*) FROM search_find('shp', NULL, NULL, 5, true, NULL, NULL, false);"
                " SELECT current_setting('enable_seqscan') || ' ' || current_setting('plan_cache_mode')",
                tenant=c.tid) == ["5", "on auto"]
    hits = search(c, "shp", limit=5)
    assert len(hits) == 5 and all(h["name"].startswith("shop-") for h in hits), hits
    try:
        psql("SELECT count(*) FROM search_documents", tenant=c.tid)
        raise AssertionError("the API role reads search_documents")
    except RuntimeError as e:
        assert "permission denied" in str(e), e


def test_the_api_role_cannot_write_documents_through_the_owner_functions():
    """The document functions run as the owner and take the tenant from
    their argument: called by the API role, they would write (or overwrite)
    another tenant's documents.  Only search_find is the API role's."""
    w = World.get()
    other, _ = registered("search-victim")
    victim = new_project(other, name="victim-" + uuid.uuid4().hex[:6])
    calls = ["SELECT search_doc_project(p) FROM projects p LIMIT 1",
             "SELECT search_doc_user(ROW(u.*)::users) FROM users u LIMIT 1",
             "SELECT search_put('%s', 'project', '%s', NULL, NULL, 'owned', 'owned', '')"
             % (other.tid, victim["id"])]
    calls += ["SELECT search_doc_%s(NULL::%s)" % (t, tbl) for t, tbl in (
        ("application", "applications"), ("database", "databases"), ("volume", "volumes"),
        ("domain", "domains"), ("deployment", "deployments"), ("env_var", "env_vars"),
        ("issue", "issues"))]
    for sql in calls:
        try:
            psql(sql, tenant=w.c.tid)
            raise AssertionError("the API role ran " + sql)
        except RuntimeError as e:
            assert "permission denied for function" in str(e), (sql, e)
    definers = psql("SELECT p.oid::regprocedure FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace"
                    " WHERE n.nspname = 'launcher' AND p.proname LIKE 'search%' AND p.prosecdef"
                    " AND has_function_privilege('launcher_api', p.oid, 'EXECUTE')",
                    user="launcher_owner")
    assert definers == ["search_find(text,text[],uuid,integer,boolean,uuid,uuid,boolean)"], definers
    # The victim's project document is untouched, and an id already taken
    # by one tenant's document is never rewritten for another.
    assert [h["name"] for h in search(other, victim["name"], types="project")] == [victim["name"]]
    psql("SELECT search_put('%s', 'project', '%s', NULL, NULL, 'owned', 'owned', '')"
         % (w.c.tid, victim["id"]), user="launcher_owner")
    assert psql("SELECT tenant_id || ' ' || name FROM search_documents WHERE id = '%s'" % victim["id"],
                user="launcher_owner") == ["%s %s" % (other.tid, victim["name"])]


def _bulk(tid, project, doc_type, n, words, name, label, body="''"):
    """n documents of a type per word w, name, label and body SQL
    expressions of w and i, written as the owner (fast, in table order)."""
    psql("INSERT INTO search_documents (tenant_id, type, id, project_id, name, label, body)"
         " SELECT '%s', '%s', gen_random_uuid(), '%s', %s, %s, %s FROM generate_series(1, %d) i,"
         " unnest(ARRAY[%s]) w" % (tid, doc_type, project, name, label, body, n,
                                   ", ".join("'%s'" % x for x in words)), user="launcher_owner")


def test_the_best_matches_are_found_among_thousands_made_before_them():
    """Each fuzzy branch takes its best candidates, not the first in table
    order: 5,000 names sharing the first letters of "shp" and 400
    deployments matching "deploy" and "fix", all written before the
    targets, leave "shop" and the "fix deploy" deployment first."""
    c, _ = registered("search-many")
    filler = new_project(c, name="fillers")
    _bulk(c.tid, filler["id"], "volume", 1250, ("shipping", "shipment", "shell", "shared"),
          "w || '-' || i", "w || '-' || i")
    _bulk(c.tid, filler["id"], "deployment", 400, ("fixes deployer config",), "left(md5(i::text), 7)",
          "w || ' ' || i", "w || ' ' || i || ' of the build'")
    shop = new_project(c, name="shop")
    target = str(uuid.uuid4())
    psql("INSERT INTO search_documents (tenant_id, type, id, project_id, name, label, body)"
         " VALUES ('%s', 'deployment', '%s', '%s', 'c0ffee1', 'fix deploy of the checkout',"
         " 'fix deploy of the checkout')" % (c.tid, target, filler["id"]), user="launcher_owner")
    for params in ({}, {"types": "project"}, {"limit": 1}):
        assert search(c, "shp", **params)[0]["id"] == shop["id"], params
    for params in ({}, {"types": "deployment"}, {"limit": 1}):
        assert search(c, "deploy fix", **params)[0]["id"] == target, params


def test_documents_follow_renames_and_deletions_through_the_api():
    w = World.get()
    c = w.c
    p = new_project(c, name="tmp-" + uuid.uuid4().hex[:6])
    srv = c.get("/servers").data[0]
    _resources(c, srv, p, "numbat", "numbat launch")
    # An env var's key.
    env = search(c, "numbat_api_key", types="env_var")
    assert env and env[0]["name"] == "NUMBAT_API_KEY", env
    _ok(c.put("/env-vars/" + env[0]["id"], {"key": "BILBY_API_KEY"}), 200)
    hits = search(c, "bilby_api_key", types="env_var")
    assert (hits[0]["id"], hits[0]["name"]) == (env[0]["id"], "BILBY_API_KEY"), hits
    assert "NUMBAT_API_KEY" not in [h["name"] for h in search(c, "numbat_api_key", types="env_var")]
    # A database (the API renames none, nor changes its major version):
    # found by its name, engine and version.
    db = search(c, "numbat-db", types="database")
    assert db and db[0]["name"] == "numbat-db", db
    assert db[0]["title"].startswith("numbat-db (postgres "), db
    # An issue deleted.
    issue = [h for h in search(c, "numbat cart", types="issue") if "numbat" in h["title"]]
    assert len(issue) == 1, issue
    assert c.delete("/issues/" + issue[0]["id"]).status == 204
    assert [h for h in search(c, "numbat cart", types="issue") if "numbat" in h["title"]] == []
    # A user renamed, then deactivated: found by the new name while the
    # users list shows them (as it does a deactivated user).
    u = new_user(c, prefix="numbat")
    assert [h["id"] for h in search(c, "numbat", types="user")] == [u.user_id]
    _ok(c.put("/users/" + u.user_id, {"first_name": "Quenda", "last_name": "Potoroo"}), 200)
    hits = search(c, "potoroo", types="user")
    assert [(h["id"], h["title"]) for h in hits] == [(u.user_id, "Quenda Potoroo")], hits
    assert c.delete("/users/" + u.user_id).status in (200, 204)
    assert c.get("/users/" + u.user_id).data["active"] is False
    assert [h["id"] for h in search(c, "quenda", types="user")] == [u.user_id]


def test_another_tenants_thousands_of_matches_change_nothing():
    w = World.get()
    queries = ("zebra", "shp", "deploy fix", "zebra_a_api", "chekout")
    before = {q: search(w.c, q, limit=100) for q in queries}
    other, _ = registered("search-crowd")
    op = new_project(other, name="shop")
    _bulk(other.tid, op["id"], "volume", 1000, ("zebra", "shop", "zebra_a_api"), "w || '-' || i",
          "w || ' shop ' || i", "'fix deploy of the zebra checkout'")
    for q in queries:
        assert search(w.c, q, limit=100) == before[q], q
    assert len(search(other, "zebra", limit=100)) == 100
