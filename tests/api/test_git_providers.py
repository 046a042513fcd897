"""Git providers (API.md §15): CRUD with a write-only sealed token, bad
input, permissions, the 409 of a provider in use; the provider calls (test,
repositories, branches, webhook registration) as agent jobs against a local
server replaying recorded provider answers (tests/lib/git_provider_replay.py:
contract tests); and a real private clone through git's own http-backend
with the provider's token, watched for the token everywhere."""
import json
import os
import subprocess
import sys
import threading
import time
import uuid

from lib import STATE, Client, assert_error, make_key, new_project, new_user, psql, registered
from test_agent_e2e import _wait
from test_deploy_e2e import F, World, _app, _deploy, _have_fixtures, _serves, job_done

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import git_provider_replay as gr  # noqa: E402

SECRET_FIELDS = ("token", "token_sealed")


def _tok():
    return "ghp_" + uuid.uuid4().hex + uuid.uuid4().hex[:8]


def _provider(c, **body):
    body.setdefault("name", "gp-" + uuid.uuid4().hex[:8])
    body.setdefault("type", "github")
    body.setdefault("token", _tok())
    r = c.post("/git-providers", body)
    assert r.status == 201, r
    return r.data


def test_crud_keeps_the_token_write_only_and_sealed():
    c, _ = registered("gp")
    tok = _tok()
    g = _provider(c, name="github-main", token=tok, username="deployer")
    assert g["type"] == "github" and g["token_set"] is True and g["base_url"] is None, g
    assert g["username"] == "deployer" and g["applications"] == 0, g
    assert not any(k in g for k in SECRET_FIELDS), g
    r = c.get("/git-providers/" + g["id"])
    assert r.status == 200 and r.data == g and r.headers.get("etag"), r
    assert [x["id"] for x in c.get("/git-providers").data] == [g["id"]]
    # A new token and a self-hosted base URL (trailing slash dropped).
    tok2 = _tok()
    r = c.put("/git-providers/" + g["id"], {"token": tok2, "base_url": "https://ghe.example.com/"},
              headers={"If-Match": r.headers["etag"]})
    assert r.status == 200 and r.data["base_url"] == "https://ghe.example.com", r
    assert r.data["username"] == "deployer" and r.data["name"] == "github-main", r
    # A stale If-Match changes nothing.
    assert c.put("/git-providers/" + g["id"], {"name": "x"}, headers={"If-Match": '"1"'}).status == 412
    # The same name twice is 409.
    assert_error(c.post("/git-providers", {"name": "github-main", "type": "gitlab", "token": _tok()}),
                 409, "CONFLICT")
    raw = "\n".join(psql("SELECT row_to_json(g)::text FROM git_providers g", user="launcher_owner"))
    assert tok not in raw and tok2 not in raw and "token_sealed" in raw, raw
    seen = json.dumps([c.get("/git-providers").data, c.every("/audit-log")])
    assert tok not in seen and tok2 not in seen
    actions = {x["action"] for x in c.every("/audit-log")}
    assert {"git_provider.create", "git_provider.update"} <= actions, actions
    assert_error(c.delete("/git-providers/" + g["id"], headers={"If-Match": '"1"'}), 412,
                 "PRECONDITION_FAILED")
    assert c.delete("/git-providers/" + g["id"]).status == 204
    assert_error(c.get("/git-providers/" + g["id"]), 404, "NOT_FOUND")
    assert_error(c.delete("/git-providers/" + g["id"]), 404, "NOT_FOUND")


def test_bad_input_is_400_naming_every_field_and_changes_nothing():
    c, _ = registered("gq")
    r = c.post("/git-providers", {"name": "", "type": "gitea", "base_url": "ftp://git.example.com",
                                  "username": "a b", "token": "has space"})
    assert_error(r, 400, "BAD_REQUEST")
    fields = {d["field"] for d in r.error["details"]}
    assert fields == {"name", "type", "base_url", "username", "token"}, r.error
    assert_error(c.post("/git-providers", {"name": "x", "type": "gitea", "token": _tok()}),
                 400, "BAD_REQUEST", field="type")
    assert_error(c.post("/git-providers", {"name": "x", "type": "github"}), 400, "BAD_REQUEST",
                 field="token")
    for bad in ("https://user:pw@git.example.com", "https://", "git.example.com", "https://h/x?y=1",
                "https://h/#frag", "javascript:alert(1)"):
        assert_error(c.post("/git-providers", {"name": "x", "type": "gitlab", "token": _tok(),
                                               "base_url": bad}), 400, "BAD_REQUEST", field="base_url")
    assert_error(c.post("/git-providers", {"name": "x", "type": "github", "token": "a@b"}),
                 400, "BAD_REQUEST", field="token")
    assert_error(c.post("/git-providers", {"name": "x", "type": "github", "token": 42}),
                 400, "BAD_REQUEST", field="token")
    assert c.get("/git-providers").data == []
    g = _provider(c)
    assert_error(c.put("/git-providers/" + g["id"], {"type": "svn"}), 400, "BAD_REQUEST", field="type")
    assert_error(c.get("/git-providers/%s/branches" % g["id"]), 400, "BAD_REQUEST", field="repository")
    assert_error(c.get("/git-providers/%s/branches?repository=../etc" % g["id"]), 400, "BAD_REQUEST",
                 field="repository")
    assert_error(c.get("/git-providers/%s/repositories?cursor=zz" % g["id"]), 400, "BAD_REQUEST",
                 field="cursor")
    assert_error(c.get("/git-providers/%s/repositories?serverId=nope" % g["id"]), 400, "BAD_REQUEST",
                 field="serverId")
    assert_error(c.get("/git-providers/%s/repositories" % uuid.uuid4()), 404, "NOT_FOUND")
    # No server online: the check cannot run (409 naming server_id), no job left behind.
    assert_error(c.post("/git-providers/%s/test" % g["id"]), 409, "CONFLICT", field="server_id")
    assert psql("SELECT count(*) FROM jobs WHERE kind LIKE 'git.%%' AND payload->>'git_provider_id' = '%s'"
                % g["id"], user="launcher_owner") == ["0"]


def test_admins_manage_providers_and_everyone_signed_in_lists_them():
    c, _ = registered("gr")
    g = _provider(c)
    u = new_user(c, role="user")
    assert u.get("/git-providers").status == 200 and u.get("/git-providers/" + g["id"]).status == 200
    assert_error(u.post("/git-providers", {"name": "u", "type": "github", "token": _tok()}), 403, "FORBIDDEN")
    assert_error(u.delete("/git-providers/" + g["id"]), 403, "FORBIDDEN")
    assert_error(u.post("/git-providers/%s/test" % g["id"]), 403, "FORBIDDEN")
    assert_error(u.get("/git-providers/%s/repositories" % g["id"]), 403, "FORBIDDEN")
    p = new_project(c)
    bound = Client(c.tenant, key=make_key(c, scopes=["read", "write", "admin"], project_id=p["id"])["key"])
    assert_error(bound.post("/git-providers", {"name": "b", "type": "github", "token": _tok()}),
                 403, "FORBIDDEN")
    reader = Client(c.tenant, key=make_key(c, scopes=["read"])["key"])
    assert reader.get("/git-providers").status == 200
    assert_error(reader.post("/git-providers", {"name": "r", "type": "github", "token": _tok()}),
                 403, "FORBIDDEN")
    # Another tenant sees nothing of it.
    other, _ = registered("gs")
    assert_error(other.get("/git-providers/" + g["id"]), 404, "NOT_FOUND")
    assert other.get("/git-providers").data == []


def test_delete_while_applications_use_it_is_409_naming_them():
    w = World.get()
    g = _provider(w.c)
    a = _app(w, source_type="git", repository_url="https://github.com/octocat/hello.git",
             git_provider_id=g["id"])
    assert a["git_provider_id"] == g["id"], a
    r = w.c.delete("/git-providers/" + g["id"])
    assert_error(r, 409, "CONFLICT")
    assert a["name"] in r.error["message"] and a["id"] in r.error["message"], r.error
    assert w.c.get("/git-providers/" + g["id"]).data["applications"] == 1
    assert w.c.delete("/applications/" + a["id"]).status in (200, 202, 204)
    assert w.c.delete("/git-providers/" + g["id"]).status == 204


def _job(c, r, kind):
    assert r.status == 202, r
    job = r.data["job"]
    assert job["kind"] == kind and r.headers["location"] == job["url"], r
    return job_done(c, job["id"], 60)


def _no_token(w, tok, *more):
    seen = "\n".join([
        "\n".join(psql("SELECT payload::text || coalesce(error, '') || coalesce(result::text, '') FROM jobs"
                       " WHERE kind LIKE 'git.%' OR kind LIKE 'app.%'", user="launcher_owner")),
        "\n".join(psql("SELECT line FROM job_logs", user="launcher_owner")),
        json.dumps(w.c.every("/audit-log")),
        open(w.agent.log).read()] + [json.dumps(m) for m in more])
    assert tok not in seen


def test_contract_github_test_repositories_pages_and_branches():
    """Contract test (recorded GitHub answers): /user, /user/repos followed
    by its Link rel="next" through the opaque cursor, /search/repositories
    for ?q=, /repos/:o/:r/branches over two pages; a bad token is refused."""
    w = World.get()
    tok = _tok()
    rp = gr.Replay(tok).start()
    try:
        api = rp.api("github")
        g = _provider(w.c, token=tok, base_url=rp.base("github"))
        rp.set("GET", "/gh/api/v3/user", 200, gr.github_user())
        j = _job(w.c, w.c.post("/git-providers/%s/test" % g["id"]), "git.test")
        assert j["status"] == "succeeded", j
        assert j["result"] == {"login": "octocat", "name": "The Octocat", "api_url": api}, j
        rp.set("GET", "/gh/api/v3/user/repos?per_page=50&sort=updated", 200,
               [gr.github_repo("Hello-World"), gr.github_repo("secret-app", private=True)],
               {"Link": '<%s/user/repos?per_page=50&sort=updated&page=2>; rel="next", '
                        '<%s/user/repos?per_page=50&sort=updated&page=2>; rel="last"' % (api, api)})
        rp.set("GET", "/gh/api/v3/user/repos?per_page=50&sort=updated&page=2", 200,
               [gr.github_repo("Spoon-Knife")],
               {"Link": '<%s/user/repos?per_page=50&sort=updated&page=1>; rel="prev", '
                        '<%s/user/repos?per_page=50&sort=updated&page=1>; rel="first"' % (api, api)})
        j = _job(w.c, w.c.get("/git-providers/%s/repositories" % g["id"]), "git.repositories")
        assert j["status"] == "succeeded", j
        repos = j["result"]["repositories"]
        assert [x["full_name"] for x in repos] == ["octocat/Hello-World", "octocat/secret-app"], repos
        assert repos[1] == {"full_name": "octocat/secret-app", "name": "secret-app", "private": True,
                            "clone_url": "https://github.com/octocat/secret-app.git",
                            "default_branch": "main"}, repos
        cur = j["result"]["next_cursor"]
        assert cur, j
        j = _job(w.c, w.c.get("/git-providers/%s/repositories?cursor=%s" % (g["id"], cur)),
                 "git.repositories")
        assert [x["name"] for x in j["result"]["repositories"]] == ["Spoon-Knife"], j
        assert j["result"]["next_cursor"] is None, j
        # A cursor that leads elsewhere is refused by the agent.
        evil = "//evil.example/x".encode().hex()
        j = _job(w.c, w.c.get("/git-providers/%s/repositories?cursor=%s" % (g["id"], evil)),
                 "git.repositories")
        assert j["status"] == "failed" and "cursor" in j["error"], j
        rp.set("GET", "/gh/api/v3/search/repositories?q=hello%20world&per_page=50", 200,
               {"total_count": 1, "incomplete_results": False, "items": [gr.github_repo("Hello-World")]})
        j = _job(w.c, w.c.get("/git-providers/%s/repositories?q=hello%%20world" % g["id"]),
                 "git.repositories")
        assert [x["name"] for x in j["result"]["repositories"]] == ["Hello-World"], j
        rp.set("GET", "/gh/api/v3/repos/octocat/Hello-World/branches?per_page=100", 200,
               [gr.github_branch("main", "c5b97d5ae6c19d5c5df71a34c7fbeeda2479ccbc", True)],
               {"Link": '<%s/repositories/1296269/branches?per_page=100&page=2>; rel="next"' % api})
        rp.set("GET", "/gh/api/v3/repositories/1296269/branches?per_page=100&page=2", 200,
               [gr.github_branch("feature", "553c2077f0edc3d5dc5d17262f6aa498e69d6f8e")])
        j = _job(w.c, w.c.get("/git-providers/%s/branches?repository=octocat/Hello-World" % g["id"]),
                 "git.branches")
        assert j["result"] == {"repository": "octocat/Hello-World", "truncated": False, "branches": [
            {"name": "main", "commit_sha": "c5b97d5ae6c19d5c5df71a34c7fbeeda2479ccbc", "protected": True},
            {"name": "feature", "commit_sha": "553c2077f0edc3d5dc5d17262f6aa498e69d6f8e",
             "protected": False}]}, j
        assert all(h.get("Authorization") == "Bearer " + tok for _, _, h, _ in rp.requests)
        # A wrong token: the provider's 401, said plainly, without any token.
        bad = _tok()
        etag = w.c.get("/git-providers/" + g["id"]).headers["etag"]
        assert w.c.put("/git-providers/" + g["id"], {"token": bad}, headers={"If-Match": etag}).status == 200
        j = _job(w.c, w.c.post("/git-providers/%s/test" % g["id"]), "git.test")
        assert j["status"] == "failed" and "refused the token" in j["error"] and "401" in j["error"], j
        _no_token(w, tok)
        _no_token(w, bad)
    finally:
        rp.stop()


def test_contract_rate_limits_say_when_to_retry():
    """Contract test: GitHub's 403 with X-RateLimit-Remaining: 0 and
    X-RateLimit-Reset, GitLab's 429 with Retry-After: a failed job whose
    error says it is a rate limit and when to retry."""
    w = World.get()
    tok = _tok()
    rp = gr.Replay(tok).start()
    try:
        reset = int(time.time()) + 1800
        gh = _provider(w.c, token=tok, base_url=rp.base("github"))
        rp.set("GET", "/gh/api/v3/search/repositories?q=limit&per_page=50", 403,
               {"message": "API rate limit exceeded for user ID 583231.",
                "documentation_url": "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api"},
               {"X-RateLimit-Limit": "30", "X-RateLimit-Remaining": "0", "X-RateLimit-Used": "30",
                "X-RateLimit-Reset": str(reset), "X-RateLimit-Resource": "search"})
        j = _job(w.c, w.c.get("/git-providers/%s/repositories?q=limit" % gh["id"]), "git.repositories")
        want = time.strftime("%Y-%m-%dT%H:%M", time.gmtime(reset))
        assert j["status"] == "failed" and "rate limited" in j["error"] and want in j["error"], j
        gl = _provider(w.c, type="gitlab", token=tok, base_url=rp.base("gitlab"))
        rp.set("GET", "/gl/api/v4/user", 429, "Retry later",
               {"Retry-After": "60", "RateLimit-Limit": "600", "RateLimit-Remaining": "0",
                "RateLimit-Reset": str(reset)})
        t0 = time.time()
        j = _job(w.c, w.c.post("/git-providers/%s/test" % gl["id"]), "git.test")
        assert j["status"] == "failed" and "rate limited (HTTP 429)" in j["error"], j
        after = j["error"].split("retry after ")[1][:16]
        lo = time.strftime("%Y-%m-%dT%H:%M", time.gmtime(t0 + 55))
        hi = time.strftime("%Y-%m-%dT%H:%M", time.gmtime(time.time() + 65))
        assert lo <= after <= hi, j
    finally:
        rp.stop()


def test_contract_gitlab_and_bitbucket_listings():
    """Contract test: GitLab /projects?membership=true&search= with its Link
    header and /projects/:id/repository/branches; Bitbucket /2.0/user,
    /2.0/repositories/:ws?q= with its "next" and refs/branches, and Basic
    auth when the provider has a user name (an app password)."""
    w = World.get()
    tok = _tok()
    rp = gr.Replay(tok).start()
    try:
        gl = _provider(w.c, type="gitlab", token=tok, base_url=rp.base("gitlab") + "/")
        api = rp.api("gitlab")
        rp.set("GET", "/gl/api/v4/projects?membership=true&order_by=last_activity_at&per_page=50&search=web",
               200, [gr.gitlab_project("my-group/web-app"), gr.gitlab_project("my-group/web-site", "public")],
               {"Link": '<%s/projects?id_after=4&membership=true&order_by=last_activity_at&per_page=50'
                        '&search=web>; rel="next"' % api, "X-Next-Page": "2", "X-Per-Page": "50"})
        j = _job(w.c, w.c.get("/git-providers/%s/repositories?q=web" % gl["id"]), "git.repositories")
        repos = j["result"]["repositories"]
        assert [(x["full_name"], x["private"]) for x in repos] == [("my-group/web-app", True),
                                                                   ("my-group/web-site", False)], j
        assert repos[0]["clone_url"] == "https://gitlab.example.com/my-group/web-app.git", repos
        assert bytes.fromhex(j["result"]["next_cursor"]).decode().startswith("/projects?id_after=4"), j
        rp.set("GET", "/gl/api/v4/projects/my-group%2Fweb-app/repository/branches?per_page=100", 200,
               [gr.gitlab_branch("main", "7b5c3cc8be40ee161ae89a06bba6229da1032a0c", True)])
        j = _job(w.c, w.c.get("/git-providers/%s/branches?repository=my-group/web-app" % gl["id"]),
                 "git.branches")
        assert j["result"]["branches"] == [{"name": "main", "protected": True,
                                            "commit_sha": "7b5c3cc8be40ee161ae89a06bba6229da1032a0c"}], j
        assert all(h.get("Authorization") == "Bearer " + tok for _, _, h, _ in rp.requests)
    finally:
        rp.stop()
    rp = gr.Replay(tok, basic_user="ada").start()
    try:
        bb = _provider(w.c, type="bitbucket", token=tok, username="ada", base_url=rp.base("bitbucket"))
        api = rp.api("bitbucket")
        first = "/bb/2.0/repositories/ada?pagelen=50&sort=-updated_on&q=name%20~%20%22app%22"
        rp.set("GET", first, 200, {"pagelen": 50, "size": 2, "page": 1,
                                   "values": [gr.bitbucket_repo("ada", "app")],
                                   "next": api + "/repositories/ada?pagelen=50&sort=-updated_on"
                                   "&q=name%20~%20%22app%22&page=2"})
        rp.set("GET", first.replace("%22app%22", "%22app%22&page=2"), 200,
               {"pagelen": 50, "size": 2, "page": 2, "values": [gr.bitbucket_repo("ada", "app-two", False)]})
        j = _job(w.c, w.c.get("/git-providers/%s/repositories?q=app" % bb["id"]), "git.repositories")
        repos = j["result"]["repositories"]
        assert repos == [{"full_name": "ada/app", "name": "app", "private": True, "default_branch": "main",
                          "clone_url": "https://bitbucket.org/ada/app.git"}], j
        j = _job(w.c, w.c.get("/git-providers/%s/repositories?q=app&cursor=%s"
                              % (bb["id"], j["result"]["next_cursor"])), "git.repositories")
        assert [x["name"] for x in j["result"]["repositories"]] == ["app-two"], j
        assert j["result"]["next_cursor"] is None, j
        rp.set("GET", "/bb/2.0/repositories/ada/app/refs/branches?pagelen=100", 200,
               {"pagelen": 100, "values": [gr.bitbucket_branch("main", "1e8e0a8d8a3e8b6b23bd1c5e9a1b6e6c2c3d4e5f")]})
        j = _job(w.c, w.c.get("/git-providers/%s/branches?repository=ada/app" % bb["id"]), "git.branches")
        assert j["result"]["branches"][0]["commit_sha"] == "1e8e0a8d8a3e8b6b23bd1c5e9a1b6e6c2c3d4e5f", j
        rp.set("GET", "/bb/2.0/user", 200, gr.bitbucket_user())
        j = _job(w.c, w.c.post("/git-providers/%s/test" % bb["id"]), "git.test")
        assert j["result"]["login"] == "ada" and j["result"]["name"] == "Ada Lovelace", j
        _no_token(w, tok)
    finally:
        rp.stop()


def _hook_jobs(w, app_id, n, timeout=60):
    def done():
        rows = psql("SELECT id FROM jobs WHERE kind = 'git.hook' AND payload->>'app_id' = '%s'"
                    " ORDER BY created_at" % app_id, user="launcher_owner")
        return rows if len(rows) >= n else None
    ids = _wait("%d git.hook jobs" % n, done, timeout)
    return [job_done(w.c, i, timeout) for i in ids]


def test_contract_push_webhook_is_registered_and_removed():
    """Contract test (GitHub's hooks API): an autodeploy application with a
    git provider gets its push webhook (its URL and secret) registered on
    the repository; a second registration updates it; autodeploy off
    removes it; a token that may not manage hooks fails the job only."""
    w = World.get()
    tok = _tok()
    rp = gr.Replay(tok).start()
    try:
        g = _provider(w.c, token=tok, base_url=rp.base("github"))
        hooks = "/gh/api/v3/repos/octocat/hello/hooks"
        rp.set("GET", hooks + "?per_page=100", 200, [])
        rp.set("POST", hooks, 201, {"type": "Repository", "id": 12345678, "name": "web", "active": True,
                                    "events": ["push"], "config": {"content_type": "json", "insecure_ssl": "0",
                                                                   "url": "https://example.com/webhook"}})
        a = _app(w, source_type="git", repository_url="https://github.com/octocat/hello.git",
                 git_provider_id=g["id"], autodeploy=True)
        secret = a["webhook_secret"]
        [j] = _hook_jobs(w, a["id"], 1)
        assert j["status"] == "succeeded", j
        assert j["result"]["action"] == "register" and j["result"]["hook_id"] == "12345678", j
        url = j["result"]["url"]
        reg = w.c.get("/applications/" + a["id"]).data["webhook_registration"]
        assert reg["status"] == "succeeded" and reg["error"] is None and reg["job_id"] == j["id"], reg
        assert url.startswith("http") and url.endswith("/%s/api/v1/webhooks/github?app=%s" % (w.c.tenant, a["id"])), j
        posted = [json.loads(b) for m, p, _, b in rp.requests if m == "POST" and p == hooks]
        assert posted == [{"name": "web", "active": True, "events": ["push"], "config": {
            "url": url, "content_type": "json", "secret": secret, "insecure_ssl": "0"}}], posted
        # A new secret: the hook found by its URL is updated, not duplicated.
        rp.set("GET", hooks + "?per_page=100", 200, [{"type": "Repository", "id": 12345678, "name": "web",
                                                      "active": True, "events": ["push"],
                                                      "config": {"url": url, "content_type": "json",
                                                                 "secret": "********"}}])
        rp.set("PATCH", hooks + "/12345678", 200, {"id": 12345678, "config": {"url": url}})
        r = w.c.post("/applications/%s/webhook-secret" % a["id"])
        assert r.status in (200, 201), r
        j = _hook_jobs(w, a["id"], 2)[1]
        assert j["status"] == "succeeded", j
        patched = [json.loads(b) for m, p, _, b in rp.requests if m == "PATCH"]
        assert patched and patched[-1]["config"]["secret"] == r.data["webhook_secret"], patched
        # Autodeploy off: removed.
        rp.set("DELETE", hooks + "/12345678", 204, "")
        etag = w.c.get("/applications/" + a["id"]).headers["etag"]
        assert w.c.put("/applications/" + a["id"], {"autodeploy": False}, headers={"If-Match": etag}).status == 200
        j = _hook_jobs(w, a["id"], 3)[2]
        assert j["status"] == "succeeded" and j["result"]["action"] == "remove", j
        assert ("DELETE", hooks + "/12345678") in [(m, p) for m, p, _, _ in rp.requests]
        # A token without the right: the job fails with the reason, the app is untouched.
        b = _app(w, source_type="git", repository_url="ssh://git@github.com/octocat/locked.git",
                 git_provider_id=g["id"], autodeploy=True)
        rp.set("GET", "/gh/api/v3/repos/octocat/locked/hooks?per_page=100", 404,
               {"message": "Not Found", "documentation_url": "https://docs.github.com/rest/repos/webhooks"})
        [j] = _hook_jobs(w, b["id"], 1)
        assert j["status"] == "failed" and "registering the push webhook of octocat/locked" in j["error"], j
        assert "404" in j["error"], j
        got = w.c.get("/applications/" + b["id"]).data
        assert got["autodeploy"] is True, got
        reg = got["webhook_registration"]
        assert reg["status"] == "failed" and reg["action"] == "register" and reg["job_id"] == j["id"], got
        assert "404" in reg["error"] and reg["finished_at"].endswith("Z"), got
        # Deleting the application removes its hook (a job of no project: it outlives the app).
        assert w.c.delete("/applications/" + b["id"]).status in (200, 202, 204)
        js = _hook_jobs(w, b["id"], 2)
        assert js[1]["result"] is None or js[1]["status"] in ("failed", "succeeded"), js
        seen = json.dumps([w.c.get("/git-providers/" + g["id"]).data, w.c.every("/audit-log")])
        assert secret not in seen and tok not in seen
        _no_token(w, tok)
    finally:
        rp.stop()


def test_private_clone_with_the_provider_token_and_never_shown():
    """A private repository behind Basic auth (git's own http-backend): an
    application with a git provider clones with the provider's token
    (GIT_ASKPASS), fails clearly without it, and the token appears in no
    process's command line during the clone, no log, deployment log, API
    answer, job row or audit entry."""
    if not _have_fixtures():
        raise AssertionError("fixtures missing (FIXTURE_GIT_DIR): run through make test")
    w = World.get()
    token = _tok()
    base = os.path.dirname(F["FIXTURE_GIT_DIR"])
    srv = subprocess.Popen(["/usr/bin/python3", os.path.join(os.path.dirname(__file__), "..", "lib", "git_http.py"),
                            base, "deployer", token], stdout=subprocess.PIPE, text=True)
    stop = threading.Event()
    leaks = []

    server_argv = []    # the server's own argv, once it runs (below)

    def watch():
        # Every process's argv, again and again while the clone runs.
        while not stop.is_set():
            for pid in os.listdir("/proc"):
                # (git_http.py itself takes the password in its argv: the test's server;
                # so does each child it forks for git-http-backend, until its exec.)
                if not pid.isdigit() or int(pid) == srv.pid:
                    continue
                try:
                    with open("/proc/%s/cmdline" % pid, "rb") as f:
                        argv = f.read()
                    if token.encode() in argv and argv not in server_argv:
                        leaks.append(pid)
                except OSError:
                    pass
            time.sleep(0.01)
    watcher = threading.Thread(target=watch, daemon=True)
    try:
        port = int(srv.stdout.readline())
        with open("/proc/%d/cmdline" % srv.pid, "rb") as f:
            server_argv.append(f.read())
        url = "http://127.0.0.1:%d/%s" % (port, os.path.basename(F["FIXTURE_GIT_DIR"]))
        g = _provider(w.c, token=token, username="deployer")
        a = _app(w, source_type="git", repository_url=url, git_provider_id=g["id"])
        assert a["repository_url"] == url and a["repository_credentials_set"] is False, a
        watcher.start()
        d = _deploy(w, a, {"commit_sha": F["FIXTURE_GIT_SHA_V1"]})
        _serves(a["hostname"], "v1")
        # Without the provider: the clone fails with a clear cause.
        etag = w.c.get("/applications/" + a["id"]).headers["etag"]
        assert w.c.put("/applications/" + a["id"], {"git_provider_id": None},
                       headers={"If-Match": etag}).status == 200
        f = _deploy(w, a, want="failed")
        assert "git clone failed" in f["error"], f
        stop.set()
        watcher.join()
        assert leaks == [], "the token was in the argv of processes %s" % leaks
        answers = [w.c.get("/applications/" + a["id"]).data, w.c.get("/git-providers/" + g["id"]).data,
                   w.c.get("/deployments?applicationId=" + a["id"]).data,
                   w.c.get("/deployments/%s/logs" % d["id"]).data, w.c.get("/deployments/%s/logs" % f["id"]).data,
                   w.c.get("/applications/%s/build-logs?deploymentId=%s" % (a["id"], d["id"])).data]
        _no_token(w, token, *answers)
        raw = "\n".join(psql("SELECT source::text || coalesce(error, '') FROM deployments"
                             " WHERE application_id = '%s'" % a["id"], user="launcher_owner"))
        assert token not in raw
        for root, _, files in list(os.walk(os.path.join(STATE, "log"))) + list(os.walk(os.path.join(STATE, "nginx", "logs"))):
            for fn in files:
                with open(os.path.join(root, fn), "rb") as fh:
                    assert token.encode() not in fh.read(), fn
    finally:
        stop.set()
        srv.terminate()
        srv.wait()
