"""A local stand-in for the REST APIs of GitHub, GitLab and Bitbucket that
replays recorded, real-shaped answers (contract tests: the field layout,
pagination headers and rate-limit answers follow each provider's public
documentation and answers captured from them; trimmed to the fields that
matter, never invented ones).

    r = Replay(token).start()       # serves on 127.0.0.1, a free port
    r.base("github")                # http://127.0.0.1:P/gh  (the base_url to give)
    r.set("GET", "/gh/api/v3/user", 200, body)   # one answer (more: r.set again)
    r.requests                      # [(method, path, headers, body)] received
    r.stop()

Every request must carry the token (Bearer, or Basic user:token); anything
else is the provider's own 401.  An unknown path is 404 as the provider
answers it."""
import base64
import http.server
import json
import os
import sys
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ports import free_port  # noqa: E402

PREFIX = {"github": "/gh", "gitlab": "/gl", "bitbucket": "/bb"}
API = {"github": "/gh/api/v3", "gitlab": "/gl/api/v4", "bitbucket": "/bb/2.0"}


class Replay:
    def __init__(self, token, basic_user=None):
        self.token, self.basic_user = token, basic_user
        self.answers = {}
        self.requests = []
        self.port = free_port()
        self.srv = None

    def base(self, kind):
        return "http://127.0.0.1:%d%s" % (self.port, PREFIX[kind])

    def api(self, kind):
        return "http://127.0.0.1:%d%s" % (self.port, API[kind])

    def set(self, method, path, status, body, headers=None):
        self.answers[(method, path)] = (status, headers or {}, body)

    def start(self):
        rp = self

        class H(http.server.BaseHTTPRequestHandler):
            def log_message(self, fmt, *args):
                pass

            def serve(self):
                n = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(n).decode() if n else ""
                rp.requests.append((self.command, self.path, dict(self.headers), body))
                auth = self.headers.get("Authorization", "")
                ok = auth == "Bearer " + rp.token
                if rp.basic_user is not None:
                    ok = auth == "Basic " + base64.b64encode(
                        ("%s:%s" % (rp.basic_user, rp.token)).encode()).decode()
                if not ok:
                    return self.answer(401, {}, {"message": "Bad credentials",
                                                 "documentation_url": "https://docs.github.com/rest"})
                got = rp.answers.get((self.command, self.path))
                if got is None:
                    return self.answer(404, {}, {"message": "Not Found"})
                self.answer(*got)

            def answer(self, status, headers, body):
                raw = body.encode() if isinstance(body, str) else json.dumps(body).encode()
                self.send_response(status)
                ctype = "text/plain" if isinstance(body, str) else "application/json; charset=utf-8"
                self.send_header("Content-Type", ctype)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = serve

        self.srv = http.server.ThreadingHTTPServer(("127.0.0.1", self.port), H)
        threading.Thread(target=self.srv.serve_forever, daemon=True).start()
        return self

    def stop(self):
        self.srv.shutdown()
        self.srv.server_close()


# Recorded shapes (trimmed).  GitHub: GET /user, /user/repos, /repos/:o/:r/branches.
def github_user():
    return {"login": "octocat", "id": 583231, "node_id": "MDQ6VXNlcjU4MzIzMQ==",
            "avatar_url": "https://avatars.githubusercontent.com/u/583231?v=4", "type": "User",
            "site_admin": False, "name": "The Octocat", "company": "@github",
            "blog": "https://github.blog", "location": "San Francisco", "public_repos": 8,
            "created_at": "2011-01-25T18:44:36Z", "updated_at": "2024-01-22T12:12:23Z"}


def github_repo(name, private=False, owner="octocat"):
    return {"id": 1296269, "node_id": "MDEwOlJlcG9zaXRvcnkxMjk2MjY5", "name": name,
            "full_name": "%s/%s" % (owner, name), "private": private,
            "owner": {"login": owner, "id": 583231, "type": "User"},
            "html_url": "https://github.com/%s/%s" % (owner, name), "description": "demo",
            "fork": False, "url": "https://api.github.com/repos/%s/%s" % (owner, name),
            "clone_url": "https://github.com/%s/%s.git" % (owner, name),
            "ssh_url": "git@github.com:%s/%s.git" % (owner, name), "default_branch": "main",
            "visibility": "private" if private else "public",
            "pushed_at": "2024-01-26T19:06:43Z", "created_at": "2011-01-26T19:01:12Z",
            "updated_at": "2024-01-26T19:14:43Z",
            "permissions": {"admin": True, "maintain": True, "push": True, "triage": True, "pull": True}}


def github_branch(name, sha, protected=False):
    return {"name": name, "commit": {"sha": sha, "url": "https://api.github.com/repos/octocat/"
                                     "Hello-World/commits/" + sha}, "protected": protected}


# GitLab: GET /user, /projects, /projects/:id/repository/branches.
def gitlab_user():
    return {"id": 1, "username": "john_smith", "name": "John Smith", "state": "active",
            "locked": False, "avatar_url": "http://localhost:3000/uploads/user/avatar/1/index.jpg",
            "web_url": "http://localhost:3000/john_smith", "created_at": "2012-05-23T08:00:58Z"}


def gitlab_project(path, visibility="private"):
    ns, _, name = path.rpartition("/")
    return {"id": 4, "description": None, "name": name, "name_with_namespace": ns + " / " + name,
            "path": name, "path_with_namespace": path, "created_at": "2013-09-30T13:46:02Z",
            "default_branch": "main", "tag_list": [], "topics": [],
            "ssh_url_to_repo": "git@gitlab.example.com:%s.git" % path,
            "http_url_to_repo": "https://gitlab.example.com/%s.git" % path,
            "web_url": "https://gitlab.example.com/" + path, "visibility": visibility,
            "last_activity_at": "2013-09-30T13:46:02Z"}


def gitlab_branch(name, sha, protected=False):
    return {"name": name, "merged": False, "protected": protected, "default": name == "main",
            "developers_can_push": False, "developers_can_merge": False, "can_push": True,
            "web_url": "https://gitlab.example.com/my-group/my-project/-/tree/" + name,
            "commit": {"id": sha, "short_id": sha[:8], "title": "Initial commit",
                       "author_name": "John Smith", "created_at": "2012-06-27T05:51:39-07:00"}}


# Bitbucket Cloud: GET /2.0/user, /2.0/repositories/:ws, /2.0/repositories/:ws/:r/refs/branches.
def bitbucket_user():
    return {"display_name": "Ada Lovelace", "uuid": "{c788b2da-b7a2-404c-9e26-d3f077557007}",
            "type": "user", "account_id": "557058:c0b72ad0", "nickname": "ada",
            "username": "ada", "created_on": "2018-03-08T20:11:28.219818+00:00",
            "links": {"html": {"href": "https://bitbucket.org/%7Bc788b2da%7D/"}}}


def bitbucket_repo(ws, slug, private=True):
    return {"type": "repository", "full_name": "%s/%s" % (ws, slug), "name": slug, "slug": slug,
            "is_private": private, "scm": "git", "uuid": "{21fa9bf8-b5b2-4891-97ed-d590bad0f871}",
            "mainbranch": {"type": "branch", "name": "main"},
            "links": {"clone": [{"name": "https", "href": "https://%s@bitbucket.org/%s/%s.git" % (ws, ws, slug)},
                                {"name": "ssh", "href": "git@bitbucket.org:%s/%s.git" % (ws, slug)}],
                      "html": {"href": "https://bitbucket.org/%s/%s" % (ws, slug)}},
            "updated_on": "2024-02-01T10:00:00.000000+00:00"}


def bitbucket_branch(name, sha):
    return {"type": "branch", "name": name, "target": {"type": "commit", "hash": sha,
                                                      "date": "2024-02-01T10:00:00+00:00"},
            "links": {"html": {"href": "https://bitbucket.org/ada/app/branch/" + name}}}
