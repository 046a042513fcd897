"""Push webhooks end to end: a real commit pushed to a real git server (git's
own http-backend behind Basic auth, tests/lib/git_http.py), the GitHub push
delivery for it (tests/fixtures/webhooks/, signed as GitHub signs), the
real agent building exactly that commit, and the application serving it
through the stack's nginx."""
import os
import shutil
import subprocess
import tempfile
import uuid

from test_deploy_e2e import F, World, _app, _finished, _have_fixtures, _serves
from test_webhooks import send
from webhook_fixtures import delivery, github_push

GIT_ENV = dict(os.environ, GIT_CONFIG_GLOBAL="/dev/null", GIT_CONFIG_NOSYSTEM="1",
               GIT_TERMINAL_PROMPT="0")


def git(*args, cwd=None):
    out = subprocess.run(["git"] + list(args), cwd=cwd, env=GIT_ENV, capture_output=True, text=True)
    assert out.returncode == 0, (args, out.stderr)
    return out.stdout.strip()


class GitServer:
    """A copy of the fixture repository served by git_http.py on a free port."""

    def __init__(self):
        self.root = tempfile.mkdtemp(prefix="webhook-git-")
        self.user, self.token = "deployer", "ghp_" + uuid.uuid4().hex
        git("clone", "-q", "--bare", F["FIXTURE_GIT_DIR"], os.path.join(self.root, "web.git"))
        # git-http-backend accepts pushes from an authenticated user (REMOTE_USER).
        git("config", "http.receivepack", "true", cwd=os.path.join(self.root, "web.git"))
        self.proc = subprocess.Popen(["/usr/bin/python3", os.path.join(
            os.path.dirname(__file__), "..", "lib", "git_http.py"), self.root, self.user, self.token],
            stdout=subprocess.PIPE, text=True)
        self.url = "http://127.0.0.1:%d/web.git" % int(self.proc.stdout.readline())
        self.auth_url = self.url.replace("://", "://%s:%s@" % (self.user, self.token))

    def push_commit(self, text, message, author="Mona Octocat <mona@example.com>"):
        """Clones, changes www/index.html to text, commits and pushes main;
        returns (before, after) commit ids."""
        work = os.path.join(self.root, "work-" + uuid.uuid4().hex[:6])
        git("clone", "-q", self.auth_url, work)
        before = git("rev-parse", "HEAD", cwd=work)
        with open(os.path.join(work, "www", "index.html"), "w") as f:
            f.write(text + "\n")
        git("add", "-A", cwd=work)
        git("-c", "user.name=Mona Octocat", "-c", "user.email=mona@example.com", "commit", "-q",
            "--author", author, "-m", message, cwd=work)
        git("push", "-q", "origin", "HEAD:main", cwd=work)
        return before, git("rev-parse", "HEAD", cwd=work)

    def close(self):
        self.proc.terminate()
        self.proc.wait()
        shutil.rmtree(self.root, ignore_errors=True)


def test_a_signed_github_push_deploys_the_pushed_commit_and_the_app_serves_it():
    if not _have_fixtures():
        raise AssertionError("fixtures missing (FIXTURE_GIT_DIR): run through make test")
    w = World.get()
    srv = GitServer()
    try:
        a = _app(w, source_type="git", repository_url=srv.auth_url, branch="main", autodeploy=True,
                 watch_paths=["www/**", "Dockerfile"])
        assert a["webhook_url"].endswith("/%s/api/v1/webhooks/github?app=%s" % (w.c.tenant, a["id"])), a
        version = "v3-" + uuid.uuid4().hex[:8]
        before, sha = srv.push_commit(version, "Ship %s" % version)
        p = github_push(srv.url, sha=sha, message="Ship %s" % version, files=["www/index.html"])
        p["before"] = before
        raw, h = delivery("github", a["webhook_secret"], p)
        r = send(w.c.tenant, "github", raw, h, app=a["id"])
        assert r.status == 200 and [d["commit_sha"] for d in r.data["deployments"]] == [sha], r
        d = _finished(w, r.data["deployments"][0]["deployment_id"])
        logs = w.c.get("/deployments/%s/logs" % d["id"]).data
        assert d["status"] == "succeeded", (d, logs[-30:])
        assert d["trigger"] == "webhook" and d["commit_sha"] == sha, d
        assert d["commit_author"] == "Mona Octocat <mona@example.com>", d
        assert any("commit " + sha in x["message"] for x in logs), logs
        _serves(a["hostname"], version)
        # The same delivery again changes nothing; a wrong signature neither.
        assert send(w.c.tenant, "github", raw, h).data["duplicate"] is True
        raw2, h2 = delivery("github", "whsec_wrong", p)
        assert send(w.c.tenant, "github", raw2, h2).status == 401
        assert len(w.c.get("/deployments?applicationId=" + a["id"]).data) == 1
        assert srv.token not in r.raw.decode()
    finally:
        srv.close()


def _provider_case(provider, build):
    """A pushed commit delivered by provider (GitLab's token, Bitbucket's
    HMAC) is built and served, as GitHub's is above."""
    if not _have_fixtures():
        raise AssertionError("fixtures missing (FIXTURE_GIT_DIR): run through make test")
    w = World.get()
    srv = GitServer()
    try:
        a = _app(w, source_type="git", repository_url=srv.auth_url, branch="main", autodeploy=True)
        version = "%s-%s" % (provider, uuid.uuid4().hex[:8])
        _, sha = srv.push_commit(version, "Ship %s" % version)
        raw, h = delivery(provider, a["webhook_secret"], build(srv.url, sha, "Ship %s" % version))
        r = send(w.c.tenant, provider, raw, h)
        assert r.status == 200 and [d["commit_sha"] for d in r.data["deployments"]] == [sha], r
        d = _finished(w, r.data["deployments"][0]["deployment_id"])
        assert d["status"] == "succeeded" and d["commit_sha"] == sha and d["trigger"] == "webhook", (
            d, w.c.get("/deployments/%s/logs" % d["id"]).data[-30:])
        _serves(a["hostname"], version)
    finally:
        srv.close()


def test_a_gitlab_push_deploys_the_pushed_commit_and_the_app_serves_it():
    from webhook_fixtures import gitlab_push
    _provider_case("gitlab", lambda url, sha, msg: gitlab_push(url, sha=sha, message=msg,
                                                               files=["www/index.html"]))


def test_a_bitbucket_push_deploys_the_pushed_commit_and_the_app_serves_it():
    from webhook_fixtures import bitbucket_push
    _provider_case("bitbucket", lambda url, sha, msg: bitbucket_push(url, sha=sha, message=msg))
