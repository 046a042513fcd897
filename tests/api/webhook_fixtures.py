"""Push deliveries shaped as each provider sends them, from the recorded
payloads of tests/fixtures/webhooks/ (see its README), signed as each
provider signs: GitHub X-Hub-Signature-256 and Bitbucket X-Hub-Signature
(sha256=<hex HMAC-SHA256 of the exact body bytes>), GitLab X-Gitlab-Token
(the secret itself).  Used by the webhook API and e2e tests and by
tests/bench/webhooks.py.

    raw, headers = delivery("github", secret, url, sha=..., files=[...])"""
import copy
import hashlib
import hmac
import json
import os
import uuid

DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fixtures", "webhooks")


def load(name):
    with open(os.path.join(DIR, name)) as f:
        return json.load(f)


_CACHE = {}


def _fixture(name):
    if name not in _CACHE:
        _CACHE[name] = load(name)
    return copy.deepcopy(_CACHE[name])


def _headers(name):
    path = os.path.join(DIR, name)
    return _fixture(name) if os.path.exists(path) else {}


def sha_of(text):
    return hashlib.sha1(text.encode()).hexdigest()


def github_push(url, ref="refs/heads/main", sha=None, files=None, message="Update the landing page",
                deleted=False, ssh_url=None):
    """GitHub's push event for repository url (clone_url; html_url and
    friends derived from it) moving ref to sha, touching files."""
    p = _fixture("github_push.json")
    sha = sha or sha_of(uuid.uuid4().hex)
    base = url[:-4] if url.endswith(".git") else url
    p["ref"] = ref
    p["after"] = "0" * 40 if deleted else sha
    p["deleted"] = deleted
    r = p["repository"]
    r["clone_url"] = url
    r["html_url"] = r["url"] = r["svn_url"] = base
    r["ssh_url"] = ssh_url or r["ssh_url"]
    r["git_url"] = base.replace("https://", "git://").replace("http://", "git://") + ".git"
    for c in p["commits"] + [p["head_commit"]]:
        c["id"] = sha
        c["message"] = message
        c["added"], c["removed"] = [], []
        c["modified"] = list(files if files is not None else ["www/index.html"])
    if deleted:
        p["commits"], p["head_commit"] = [], None
    return p


def gitlab_push(url, ref="refs/heads/main", sha=None, files=None, message="fixed readme", tag=False):
    p = _fixture("gitlab_tag_push.json" if tag else "gitlab_push.json")
    sha = sha or sha_of(uuid.uuid4().hex)
    base = url[:-4] if url.endswith(".git") else url
    p["ref"] = ref
    p["after"] = p["checkout_sha"] = sha
    for o in (p["project"], p["repository"]):
        o["git_http_url"] = url
        o["homepage"] = base
        if "web_url" in o:
            o["web_url"] = base
        if "http_url" in o:
            o["http_url"] = url
    if p["commits"]:
        p["commits"][-1]["id"] = sha
        p["commits"][-1]["message"] = message
        for c in p["commits"]:
            c["added"], c["removed"] = [], []
            c["modified"] = list(files if files is not None else ["www/index.html"])
    return p


def bitbucket_push(url, branch="main", sha=None, message="Update the landing page\n"):
    p = _fixture("bitbucket_push.json")
    sha = sha or sha_of(uuid.uuid4().hex)
    base = url[:-4] if url.endswith(".git") else url
    p["repository"]["links"]["html"]["href"] = base
    ch = p["push"]["changes"][0]
    for side in ("old", "new"):
        ch[side]["name"] = branch
    ch["new"]["target"]["hash"] = sha
    ch["new"]["target"]["message"] = message
    ch["commits"][0]["hash"] = sha
    return p


EVENTS = {"github": ("X-GitHub-Event", "push"), "gitlab": ("X-Gitlab-Event", "Push Hook"),
          "bitbucket": ("X-Event-Key", "repo:push")}
DELIVERY = {"github": "X-GitHub-Delivery", "gitlab": "X-Gitlab-Event-UUID",
            "bitbucket": "X-Request-UUID"}


def sign(provider, secret, raw):
    """The signature header the provider sends for body raw under secret."""
    if provider == "gitlab":
        return {"X-Gitlab-Token": secret}
    mac = "sha256=" + hmac.new(secret.encode(), raw, hashlib.sha256).hexdigest()
    return {"X-Hub-Signature-256" if provider == "github" else "X-Hub-Signature": mac}


def delivery(provider, secret, payload, event=None, delivery_id=None, signed=True):
    """(raw body, headers) of one delivery: the provider's own headers, the
    event, a fresh delivery id (or the one given), the signature."""
    raw = payload if isinstance(payload, bytes) else json.dumps(payload, indent=2).encode()
    h = _headers(provider + "_push.headers.json")
    name, value = EVENTS[provider]
    h[name] = event or value
    h[DELIVERY[provider]] = delivery_id or (
        "{%s}" % uuid.uuid4() if provider == "bitbucket" else str(uuid.uuid4()))
    if signed and secret is not None:
        h.update(sign(provider, secret, raw))
    return raw, h
