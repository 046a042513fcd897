"""Git push webhooks (API.md §21): POST /<tenant>/api/v1/webhooks/github|
gitlab|bitbucket with deliveries shaped and signed as each provider sends
them (tests/api/webhook_fixtures.py).  These tests stop at the queued
deployment and its job (no agent); test_webhooks_e2e.py builds and serves
the pushed commit."""
import json
import os
import subprocess
import uuid

from lib import BIN, CONF, assert_error, new_project, psql, registered, request
from test_servers import _server
from webhook_fixtures import bitbucket_push, delivery, github_push, gitlab_push, sha_of


class World:
    """One tenant with a server (no agent) and a project."""
    _w = None

    @classmethod
    def get(cls):
        if cls._w is None:
            cls._w = cls()
        return cls._w

    def __init__(self):
        self.c, _ = registered("wh")
        self.server = _server(self.c)
        self.project = new_project(self.c)


def _app(w, url, **body):
    body.setdefault("name", "a" + uuid.uuid4().hex[:8])
    body.setdefault("autodeploy", True)
    body.update(project_id=w.project["id"], server_id=w.server["id"], source_type="git",
                repository_url=url, exposed_port=8080)
    r = w.c.post("/applications", body)
    assert r.status == 201, r
    return r.data


def _repo(host="github.com"):
    return "https://%s/acme/web-%s.git" % (host, uuid.uuid4().hex[:8])


def send(tenant, provider, raw, headers, app=None):
    """POSTs a delivery to the tenant's provider endpoint; app: the ?app= of
    an application's webhook_url (one hook per application)."""
    return request("POST", "/%s/api/v1/webhooks/%s%s" % (tenant, provider, "?app=" + app if app else ""),
                   raw=raw, headers=headers)


def hook(w, a, provider):
    """What an application's webhook_url must be."""
    return "/%s/api/v1/webhooks/%s?app=%s" % (w.c.tenant, provider, a["id"])


def push(w, provider, secret, payload, **kw):
    raw, h = delivery(provider, secret, payload, **kw)
    return send(w.c.tenant, provider, raw, h)


def deployments(w, app):
    r = w.c.get("/deployments?applicationId=" + app["id"])
    assert r.status == 200, r
    return r.data


def test_a_signed_github_push_queues_the_pushed_commit_with_its_message_and_author():
    w = World.get()
    url = _repo()
    # The application names the repository in another form than the push:
    # case of the host, no .git, a trailing slash.
    a = _app(w, url.replace("github.com", "GitHub.com")[:-4] + "/")
    sha = sha_of(uuid.uuid4().hex)
    raw, h = delivery("github", a["webhook_secret"], github_push(url, sha=sha,
                      message="Ship it\n\nwith a body"))
    r = send(w.c.tenant, "github", raw, h)
    assert r.status == 200, r
    assert r.data["event"] == "push" and r.data["duplicate"] is False, r
    assert r.data["delivery"] == h["X-GitHub-Delivery"], r
    [dep] = r.data["deployments"]
    assert dep["application_id"] == a["id"] and dep["commit_sha"] == sha and dep["branch"] == "main", r
    d = w.c.get("/deployments/" + dep["deployment_id"]).data
    assert d["trigger"] == "webhook" and d["commit_sha"] == sha and d["branch"] == "main", d
    assert d["commit_message"] == "Ship it\n\nwith a body", d
    assert d["commit_author"] == "Mona Octocat <mona@example.com>", d
    assert d["status"] in ("building", "queued"), d
    # The agent is told to build exactly that commit.
    src = psql("SELECT payload->'source'->>'commit_sha' FROM jobs WHERE id ="
               " (SELECT job_id FROM deployments WHERE id = '%s')" % d["id"], user="launcher_owner")
    assert src == [sha], src
    log = w.c.every("/audit-log?action=application.deploy")
    mine = [e for e in log if e["resource_id"] == a["id"]]
    assert mine and mine[-1]["actor_type"] == "webhook" and mine[-1]["actor_id"] is None, mine
    assert mine[-1]["detail"]["commit_sha"] == sha and mine[-1]["project_id"] == w.project["id"], mine


def test_the_repository_matches_in_its_ssh_and_scp_like_forms():
    w = World.get()
    name = "web-" + uuid.uuid4().hex[:8]
    a = _app(w, "ssh://git@github.com:22/acme/%s.git" % name)
    # Only the scp-like form names the repository in this payload.
    p = github_push("https://example.invalid/other.git", ssh_url="git@github.com:acme/%s.git" % name)
    r = push(w, "github", a["webhook_secret"], p)
    assert r.status == 200 and len(r.data["deployments"]) == 1, r


def test_a_wrong_or_missing_signature_is_401_audited_and_deploys_nothing():
    w = World.get()
    url = _repo()
    a = _app(w, url)
    r = push(w, "github", "whsec_not-the-secret", github_push(url))
    assert_error(r, 401, "UNAUTHORIZED")
    assert a["id"] not in r.raw.decode() and url not in r.raw.decode(), r
    r2 = push(w, "github", None, github_push(url))
    assert_error(r2, 401, "UNAUTHORIZED")
    assert r2.raw == r.raw, (r, r2)  # the same answer either way
    assert deployments(w, a) == []
    log = w.c.every("/audit-log?action=webhook.reject")
    assert len(log) >= 2 and all(e["actor_type"] == "webhook" for e in log), log
    assert {e["detail"]["reason"] for e in log[-2:]} == {
        "the signature matches no application of this repository and branch", "no signature"}, log


def test_an_unknown_repository_or_branch_is_200_and_reveals_nothing():
    w = World.get()
    url = _repo()
    a = _app(w, url)
    unknown = push(w, "github", "whsec_whatever", github_push(_repo()), delivery_id="d-1")
    other_branch = push(w, "github", "whsec_whatever", github_push(url, ref="refs/heads/dev"),
                        delivery_id="d-1")
    for r in (unknown, other_branch):
        assert r.status == 200, r
        assert r.data == {"event": "push", "delivery": "d-1", "duplicate": False,
                          "deployments": [], "skipped": []}, r
    assert deployments(w, a) == []


def test_the_same_delivery_twice_deploys_once():
    w = World.get()
    url = _repo()
    a = _app(w, url)
    raw, h = delivery("github", a["webhook_secret"], github_push(url))
    first, again = send(w.c.tenant, "github", raw, h), send(w.c.tenant, "github", raw, h)
    assert first.status == 200 and len(first.data["deployments"]) == 1, first
    assert again.status == 200 and again.data["duplicate"] is True and again.data["deployments"] == [], again
    assert len(deployments(w, a)) == 1
    # After 7 days the id is forgotten (launcher-scheduler removes it).
    psql("UPDATE webhook_deliveries SET received_at = now() - interval '8 days'"
         " WHERE delivery = '%s'" % h["X-GitHub-Delivery"], user="launcher_owner")
    out = subprocess.run([os.path.join(BIN, "launcher-scheduler"), "-c", CONF, "--once"],
                         capture_output=True, text=True)
    assert out.returncode == 0 and "webhook delivery ids past their 7 days removed" in out.stderr, out
    assert psql("SELECT count(*) FROM webhook_deliveries WHERE delivery = '%s'" % h["X-GitHub-Delivery"],
                user="launcher_owner") == ["0"]


def test_a_push_outside_watch_paths_is_200_and_deploys_nothing():
    w = World.get()
    url = _repo()
    a = _app(w, url, watch_paths=["src/**", "Dockerfile", "*.toml", "/config/"])
    for files in (["docs/readme.md"], ["docs/Cargo.toml"], ["srcx/a.c"], ["config"]):
        r = push(w, "github", a["webhook_secret"], github_push(url, files=files))
        assert r.status == 200 and r.data["deployments"] == [], (files, r)
        assert r.data["skipped"] == [{"application_id": a["id"], "reason":
                                      "the push changes no file that watch_paths names"}], r
    assert deployments(w, a) == []
    for files in (["docs/x.md", "src/a/b/c.c"], ["src/main.c"], ["Dockerfile"], ["Cargo.toml"],
                  ["config/app/x.yml"]):
        r = push(w, "github", a["webhook_secret"], github_push(url, files=files))
        assert r.status == 200 and len(r.data["deployments"]) == 1, (files, r)
    # A push that lists no commit (a branch created at an existing commit):
    # what it changes is unknown, so it deploys.
    p = github_push(url)
    p["commits"] = []
    r = push(w, "github", a["webhook_secret"], p)
    assert r.status == 200 and len(r.data["deployments"]) == 1, r


def test_a_signed_gitlab_push_queues_the_commit_and_a_wrong_token_is_401():
    w = World.get()
    url = _repo("gitlab.example.com")
    a = _app(w, url.replace("https://", "http://"))
    assert a["webhook_url"].endswith(hook(w, a, "github")), a
    sha = sha_of(uuid.uuid4().hex)
    r = push(w, "gitlab", "whsec_wrong", gitlab_push(url, sha=sha))
    assert_error(r, 401, "UNAUTHORIZED")
    r = push(w, "gitlab", a["webhook_secret"], gitlab_push(url, sha=sha))
    assert r.status == 200 and [d["commit_sha"] for d in r.data["deployments"]] == [sha], r
    d = w.c.get("/deployments/" + r.data["deployments"][0]["deployment_id"]).data
    assert d["trigger"] == "webhook" and d["commit_message"] == "fixed readme", d
    assert d["commit_author"] == "GitLab dev user <gitlabdev@example.com>", d
    raw, h = delivery("gitlab", a["webhook_secret"], gitlab_push(url))
    assert send(w.c.tenant, "gitlab", raw, h).status == 200
    again = send(w.c.tenant, "gitlab", raw, h)
    assert again.data["duplicate"] is True, again
    assert len(deployments(w, a)) == 2


def test_a_signed_bitbucket_push_queues_the_commit_and_a_wrong_signature_is_401():
    w = World.get()
    url = _repo("bitbucket.org")
    a = _app(w, url)
    assert a["webhook_url"].endswith(hook(w, a, "bitbucket")), a
    sha = sha_of(uuid.uuid4().hex)
    r = push(w, "bitbucket", "whsec_wrong", bitbucket_push(url, sha=sha))
    assert_error(r, 401, "UNAUTHORIZED")
    raw, h = delivery("bitbucket", a["webhook_secret"], bitbucket_push(url, sha=sha))
    r = send(w.c.tenant, "bitbucket", raw, h)
    assert r.status == 200 and [d["commit_sha"] for d in r.data["deployments"]] == [sha], r
    d = w.c.get("/deployments/" + r.data["deployments"][0]["deployment_id"]).data
    assert d["commit_author"] == "Emma <emma@example.com>" and d["commit_message"] == "Update the landing page\n", d
    assert send(w.c.tenant, "bitbucket", raw, h).data["duplicate"] is True
    assert len(deployments(w, a)) == 1


def test_tag_pushes_deploy_only_applications_that_ask_for_them():
    w = World.get()
    url, url2 = _repo("gitlab.com"), _repo("gitlab.com")
    plain = _app(w, url2)
    tags = _app(w, url, deploy_on_tags=True)
    assert plain["deploy_on_tags"] is False and tags["deploy_on_tags"] is True, tags
    assert tags["webhook_url"].endswith(hook(w, tags, "gitlab")), tags
    sha = sha_of(uuid.uuid4().hex)
    # A tag of a repository whose applications do not deploy tags: no
    # candidate, the answer of an unknown repository.
    r = push(w, "gitlab", plain["webhook_secret"], gitlab_push(url2, ref="refs/tags/v1.2.0", tag=True),
             event="Tag Push Hook")
    assert r.status == 200 and r.data["deployments"] == [] and r.data["skipped"] == [], r
    p = gitlab_push(url, ref="refs/tags/v1.2.0", sha=sha, tag=True)
    r = push(w, "gitlab", tags["webhook_secret"], p, event="Tag Push Hook")
    assert r.status == 200 and [(d["application_id"], d["commit_sha"], d["tag"])
                                for d in r.data["deployments"]] == [(tags["id"], sha, "v1.2.0")], r
    assert deployments(w, plain) == []


def test_an_application_without_autodeploy_is_never_deployed():
    w = World.get()
    url = _repo()
    a = _app(w, url)
    etag = w.c.get("/applications/" + a["id"]).headers["etag"]
    r = w.c.put("/applications/" + a["id"], {"autodeploy": False}, headers={"If-Match": etag})
    assert r.status == 200 and r.data["webhook_url"] is None, r
    r = push(w, "github", a["webhook_secret"], github_push(url))
    assert r.status == 200 and r.data["deployments"] == [], r
    never = _app(w, url, autodeploy=False)
    assert "webhook_secret" not in never and never["webhook_url"] is None, never
    assert deployments(w, a) == [] and deployments(w, never) == []
    # Turning autodeploy on gives the application its secret, shown once.
    etag = w.c.get("/applications/" + never["id"]).headers["etag"]
    r = w.c.put("/applications/" + never["id"], {"autodeploy": True}, headers={"If-Match": etag})
    assert r.status == 200 and r.data["webhook_secret"].startswith("whsec_"), r
    assert r.data["webhook_url"].endswith(hook(w, never, "github")), r
    assert "webhook_secret" not in w.c.get("/applications/" + never["id"]).data


def test_the_lookup_stays_in_the_tenant_of_the_url():
    """Another tenant's application of the same repository, with its own
    secret: a push to this tenant's URL signed with it finds nothing."""
    w = World.get()
    url = _repo()
    mine = _app(w, url)
    other = World()
    theirs = _app(other, url)
    r = push(w, "github", theirs["webhook_secret"], github_push(url))
    assert_error(r, 401, "UNAUTHORIZED")
    r = push(other, "github", theirs["webhook_secret"], github_push(url))
    assert r.status == 200 and [d["application_id"] for d in r.data["deployments"]] == [theirs["id"]], r
    assert deployments(w, mine) == []


def test_ping_and_other_events_are_200_without_a_deploy():
    w = World.get()
    url = _repo()
    a = _app(w, url)
    for event, payload in (("ping", "github_ping.json"), ("issues", "github_push.json")):
        from webhook_fixtures import load
        raw, h = delivery("github", a["webhook_secret"], load(payload), event=event)
        r = send(w.c.tenant, "github", raw, h)
        assert r.status == 200 and r.data["event"] == event and r.data["deployments"] == [], r
    r = push(w, "bitbucket", None, bitbucket_push(url), event="repo:fork")
    assert r.status == 200 and r.data["event"] == "repo:fork", r
    assert deployments(w, a) == []


def test_bad_deliveries_are_refused_naming_what_is_wrong():
    w = World.get()
    url = _repo()
    a = _app(w, url)
    sec = a["webhook_secret"]
    r = send(w.c.tenant, "gitea", *delivery("github", sec, github_push(url)))
    assert_error(r, 404, "NOT_FOUND")
    assert "github, gitlab or bitbucket" in r.error["message"], r
    r = send(w.c.tenant, "github", *delivery("github", sec, b'{"ref": "refs/heads/main",'))
    assert_error(r, 400, "BAD_REQUEST")
    raw, h = delivery("github", sec, b"payload=%7B%22ref%22%7D")
    h["Content-Type"] = "application/x-www-form-urlencoded"
    r = send(w.c.tenant, "github", raw, h)
    assert_error(r, 400, "BAD_REQUEST")
    assert "application/json" in r.error["message"], r
    r = send(w.c.tenant, "github", *delivery("github", sec, b"[1, 2]"))
    assert_error(r, 400, "BAD_REQUEST")
    for field, provider, payload in (("ref", "github", github_push(url)),
                                     ("repository", "github", github_push(url)),
                                     ("ref", "gitlab", gitlab_push(url)),
                                     ("push.changes", "bitbucket", bitbucket_push(url))):
        if field == "push.changes":
            del payload["push"]
        elif provider == "gitlab" and field == "repository":
            del payload["project"], payload["repository"]
        else:
            del payload[field]
        r = send(w.c.tenant, provider, *delivery(provider, sec, payload))
        assert_error(r, 400, "BAD_REQUEST")
        assert field in [d["field"] for d in r.error["details"]], (field, r)
    p = github_push(url)
    p["after"] = "not-a-commit"
    p["head_commit"]["id"] = "not-a-commit"
    r = send(w.c.tenant, "github", *delivery("github", sec, p))
    assert_error(r, 400, "BAD_REQUEST")
    assert [d["field"] for d in r.error["details"]] == ["after"], r
    raw, h = delivery("github", sec, github_push(url))
    del h["X-GitHub-Event"]
    r = send(w.c.tenant, "github", raw, h)
    assert_error(r, 400, "BAD_REQUEST")
    assert r.error["details"][0]["field"] == "x-github-event", r
    assert deployments(w, a) == []


def test_bodies_up_to_5_mib_are_taken_and_6_mb_is_413():
    w = World.get()
    url = _repo()
    a = _app(w, url)
    # 2 MB of changed files: above the API's 1 MiB, within the webhooks' 5 MiB.
    files = ["src/file-%06d-%s.c" % (i, "x" * 40) for i in range(15000)]
    raw, h = delivery("github", a["webhook_secret"], github_push(url, files=files))
    assert 1 << 20 < len(raw) < 5 << 20, len(raw)
    r = send(w.c.tenant, "github", raw, h)
    assert r.status == 200 and len(r.data["deployments"]) == 1, r
    big = json.dumps({"ref": "refs/heads/main", "pad": "x" * (6 * 1000 * 1000)}).encode()
    r = send(w.c.tenant, "github", *delivery("github", a["webhook_secret"], big))
    assert_error(r, 413, "PAYLOAD_TOO_LARGE")
    assert len(deployments(w, a)) == 1


def test_the_webhook_url_names_the_tenant_and_the_provider():
    w = World.get()
    for host, provider in (("github.com", "github"), ("gitlab.com", "gitlab"),
                           ("bitbucket.org", "bitbucket"), ("git.example.com", "github")):
        a = _app(w, _repo(host))
        assert a["webhook_url"].startswith("https://"), a
        assert a["webhook_url"].endswith(hook(w, a, provider)), a
    assert "webhook_token" not in psql(
        "SELECT string_agg(column_name, ',') FROM information_schema.columns"
        " WHERE table_name = 'applications'", user="launcher_owner")[0]


def test_two_applications_of_one_repository_and_branch_each_deploy_from_their_own_hook():
    """One hook per application (webhook_url ?app=, which GitHub needs: it
    refuses a second hook with the same URL), each signed with its own
    secret: a delivery deploys only its application."""
    w = World.get()
    url = _repo()
    a, b = _app(w, url), _app(w, url)
    assert a["webhook_url"] != b["webhook_url"] and a["webhook_secret"] != b["webhook_secret"]
    for me, other in ((a, b), (b, a)):
        r = push_to(w, me, "github", me["webhook_secret"], github_push(url))
        assert r.status == 200 and [d["application_id"] for d in r.data["deployments"]] == [me["id"]], r
        # The other application's hook with this secret: its only candidate
        # does not verify.
        assert_error(push_to(w, other, "github", me["webhook_secret"], github_push(url)), 401, "UNAUTHORIZED")
    # Without ?app= the secret still picks its application alone.
    r = push(w, "github", a["webhook_secret"], github_push(url))
    assert [d["application_id"] for d in r.data["deployments"]] == [a["id"]], r
    assert len(deployments(w, a)) == 2 and len(deployments(w, b)) == 1
    # An id that is not one of the candidates, or not an id: no match, nothing said.
    foreign = World()
    theirs = _app(foreign, _repo())
    for app in (theirs["id"], str(uuid.uuid4()), "not-an-id"):
        raw, h = delivery("github", a["webhook_secret"], github_push(url))
        r = send(w.c.tenant, "github", raw, h, app=app)
        assert r.status == 200 and r.data["deployments"] == [] and r.data["skipped"] == [], (app, r)
    assert len(deployments(w, a)) == 2


def push_to(w, a, provider, secret, payload):
    """A delivery to application a's own webhook_url (its ?app=)."""
    raw, h = delivery(provider, secret, payload)
    return send(w.c.tenant, provider, raw, h, app=a["id"])
