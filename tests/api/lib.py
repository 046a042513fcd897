"""Test helpers: a client for the stack under test (through nginx, TLS
verified against the stack's own certificate), tenants, mail, psql.

The stack's layout comes from the environment that tests/run.sh exports
(the `launcher-stack.sh env` lines)."""
import email
import glob
import http.client
import json
import os
import re
import ssl
import subprocess
import time
import uuid

STATE = os.environ["LAUNCHER_STATE_DIR"]
HTTPS_PORT = int(os.environ["LAUNCHER_HTTPS_PORT"])
HTTP_PORT = int(os.environ["LAUNCHER_HTTP_PORT"])
REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.environ.get("LAUNCHER_BIN_DIR", os.path.join(REPO, "build", "bin"))
CONF = os.path.join(STATE, "launcher.conf")
STACK = os.path.join(REPO, "conf", "stack", "launcher-stack.sh")

_ctx = ssl.create_default_context(cafile=os.path.join(STATE, "tls", "cert.pem"))


_module_end = []


def at_module_end(fn):
    """fn() runs once the tests of the module being run are over (tests/api/run.py
    calls module_end()): what a module started (agents polling every 0.2 s,
    its containers, their volumes) ends with it instead of loading the 2 cores
    and the engine for every later module.  Last registered, first run."""
    _module_end.append(fn)


def module_end():
    """Runs what at_module_end registered; returns the errors ("what: error")."""
    errors = []
    while _module_end:
        fn = _module_end.pop()
        try:
            fn()
        except Exception as e:  # one failed clean-up does not stop the others
            errors.append("%s: %s: %s" % (getattr(fn, "__qualname__", fn), type(e).__name__, e))
    return errors


class Skip(Exception):
    """Raised by a test that cannot run here; run.py reports it skipped, with the reason."""


class Resp:
    def __init__(self, status, headers, raw):
        self.status = status
        self.headers = {k.lower(): v for k, v in headers}
        self.raw = raw
        try:
            self.json = json.loads(raw) if raw else None
        except ValueError:
            self.json = None

    @property
    def data(self):
        return (self.json or {}).get("data")

    @property
    def error(self):
        return (self.json or {}).get("error") or {}

    def __repr__(self):
        return "<%d %s>" % (self.status, self.raw[:300])


def request(method, path, body=None, headers=None, raw=None, timeout=30):
    """One request through nginx over HTTPS; body is JSON-encoded unless raw."""
    h = dict(headers or {})
    data = raw
    if body is not None:
        data = json.dumps(body).encode()
        h.setdefault("Content-Type", "application/json")
    conn = http.client.HTTPSConnection("localhost", HTTPS_PORT, context=_ctx, timeout=timeout)
    try:
        conn.request(method, path, body=data, headers=h)
        r = conn.getresponse()
        return Resp(r.status, r.getheaders(), r.read())
    finally:
        conn.close()


class Client:
    """Calls /{tenant}/api/v1 with a JWT or a service key."""

    def __init__(self, tenant, token=None, key=None):
        self.tenant, self.token, self.key = tenant, token, key

    def headers(self, extra=None):
        h = {}
        if self.token:
            h["Authorization"] = "Bearer " + self.token
        if self.key:
            h["x-lnchr-key"] = self.key
        h.update(extra or {})
        return h

    def call(self, method, path, body=None, headers=None, raw=None):
        return request(method, "/%s/api/v1%s" % (self.tenant, path), body,
                       self.headers(headers), raw)

    def get(self, path, **kw):
        return self.call("GET", path, **kw)

    def post(self, path, body=None, **kw):
        return self.call("POST", path, body, **kw)

    def put(self, path, body=None, **kw):
        return self.call("PUT", path, body, **kw)

    def every(self, path, limit=200):
        """Every item of a list, following meta.next_cursor page by page."""
        items, sep = [], "&" if "?" in path else "?"
        url = "%s%slimit=%d" % (path, sep, limit)
        while True:
            r = self.get(url)
            assert r.status == 200, r
            items += r.data
            cur = ((r.json or {}).get("meta") or {}).get("next_cursor")
            if not cur:
                return items
            url = "%s%slimit=%d&cursor=%s" % (path, sep, limit, cur)

    def delete(self, path, **kw):
        return self.call("DELETE", path, **kw)


def admin(*args):
    """Runs launcher-admin against the stack; returns stdout."""
    out = subprocess.run([os.path.join(BIN, "launcher-admin"), "-c", CONF] + list(args),
                         check=True, capture_output=True, text=True)
    return out.stdout.strip()


def new_tenant(prefix="t"):
    slug = "%s-%s" % (prefix, uuid.uuid4().hex[:10])
    tid = admin("tenant", "create", slug, "Test " + slug)
    return slug, tid


PASSWORD = "s3cret-Passw0rd!"


def registered(prefix="t", email_addr=None):
    """A new tenant with its superadmin registered; returns (Client, user)."""
    slug, tid = new_tenant(prefix)
    email_addr = email_addr or "owner-%s@example.com" % uuid.uuid4().hex[:8]
    r = request("POST", "/%s/api/v1/auth/register" % slug, {
        "email": email_addr, "password": PASSWORD,
        "first_name": "Ada", "last_name": "Lovelace"})
    assert r.status == 201, r
    c = Client(slug, token=r.data["token"])
    c.tid = tid
    c.email = email_addr
    return c, r.data["user"]


def make_key(client, **body):
    body.setdefault("name", "key-" + uuid.uuid4().hex[:6])
    r = client.post("/settings/service-keys", body)
    assert r.status == 201, r
    return r.data


def mail_for(addr, after=0.0, timeout=10.0):
    """Waits for a message to addr in the SMTP server's store; returns it."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        for path in sorted(glob.glob(os.path.join(STATE, "mail", "*.eml"))):
            if os.path.getmtime(path) < after:
                continue
            with open(path, "rb") as f:
                msg = email.message_from_bytes(f.read())
            if addr.lower() in (msg.get("To") or "").lower():
                return msg
        time.sleep(0.1)
    raise AssertionError("no mail to %s within %ss" % (addr, timeout))


def mail_body(msg):
    if msg.is_multipart():
        return "".join(p.get_payload(decode=True).decode() for p in msg.walk()
                       if p.get_content_type() == "text/plain")
    return msg.get_payload(decode=True).decode()


def pgpass(user):
    with open(os.path.join(STATE, "secrets", "pgpass")) as f:
        for line in f:
            parts = line.strip().split(":")
            if len(parts) == 5 and parts[3] == user:
                return parts[4]
    raise AssertionError("no password for " + user)


def tenant_sql(tenant):
    """SQL that puts a session of the API role in tenant as the pool's
    preamble does: a bound nonce proves the tenant (sql/015_tenant_guard.sql);
    a bare setting shows no rows."""
    nonce = os.urandom(24).hex()
    return ("DO $$ BEGIN PERFORM launcher.session_bind('%s');"
            " PERFORM set_config('launcher.tenant_id', '%s', false);"
            " PERFORM set_config('launcher.tenant_proof', launcher.tenant_proof('%s', '%s'), false);"
            " END $$; " % (nonce, tenant, tenant, nonce))


def psql(sql, user="launcher_api", tenant=None):
    """Runs sql as a database role directly (not through the API); returns rows."""
    env = dict(os.environ, PGPASSWORD=pgpass(user))
    pre = "SET search_path = launcher; "
    if tenant is not None:
        pre += tenant_sql(tenant)
    port = os.environ.get("LAUNCHER_PG_PORT", "5488")
    out = subprocess.run(["psql", "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1",
                          "-h", os.path.join(STATE, "pg", "sock"), "-p", port,
                          "-U", user, "-d", "launcher", "-c", pre + sql],
                         capture_output=True, text=True, env=env)
    if out.returncode != 0:
        raise RuntimeError(out.stderr.strip())
    return [l for l in out.stdout.splitlines() if l != ""]


def assert_error(r, status, code, field=None):
    assert r.status == status, "want %d, got %r" % (status, r)
    assert r.json and r.json.get("success") is False, r
    assert r.error.get("code") == code, r
    assert r.error.get("message"), r
    if field is not None:
        fields = [d.get("field") for d in r.error.get("details", [])]
        assert field in fields, "details lack %s: %r" % (field, r)


def login_by_code(client, addr):
    """Signs addr in with an e-mailed code (real SMTP); returns a Client."""
    t0 = time.time() - 1
    r = request("POST", "/%s/api/v1/auth/send-code" % client.tenant, {"email": addr, "method": "email"})
    assert r.status == 200, r
    body = mail_body(mail_for(addr, after=t0))
    code = [w for w in body.split() if w.isdigit() and len(w) == 6][0]
    r = request("POST", "/%s/api/v1/auth/verify-code" % client.tenant, {"email": addr, "code": code})
    assert r.status == 200, r
    c = Client(client.tenant, token=r.data["token"])
    c.email, c.user_id = addr, r.data["user"]["id"]
    return c


def new_user(admin_client, role="user", prefix="u"):
    """Creates a tenant user through /users and signs them in; returns a Client."""
    addr = "%s-%s@example.com" % (prefix, uuid.uuid4().hex[:8])
    r = admin_client.post("/users", {"email": addr, "role": role})
    assert r.status == 201, r
    return login_by_code(admin_client, addr)


def new_project(client, **body):
    body.setdefault("name", "p-" + uuid.uuid4().hex[:10])
    r = client.post("/projects", body)
    assert r.status == 201, r
    return r.data


# A real 1x1 PNG.
PNG = bytes.fromhex("89504e470d0a1a0a0000000d4948445200000001000000010806000000"
                    "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082")


def multipart(field, filename, data, ctype="application/octet-stream"):
    boundary = "----lnchr" + uuid.uuid4().hex
    body = (("--%s\r\nContent-Disposition: form-data; name=\"%s\"; filename=\"%s\"\r\n"
             "Content-Type: %s\r\n\r\n" % (boundary, field, filename, ctype)).encode()
            + data + ("\r\n--%s--\r\n" % boundary).encode())
    return body, "multipart/form-data; boundary=" + boundary


def stack_env():
    """The running stack's layout (written by launcher-stack.sh at start)."""
    out = {}
    with open(os.path.join(STATE, "run", "stack.env")) as f:
        for line in f:
            if line.startswith("export ") and "=" in line:
                k, v = line[len("export "):].rstrip("\n").split("=", 1)
                out[k] = v.strip("'\"")
    return out


def permission_tables(*prefixes):
    """The server's own tables (`launcher-fcgi --routes` and `--permissions`):
    [(method, path, capability)] of the routes under the given prefixes (paths
    without /{tenant}/api/v1, :param as {param}), and {capability: (minimum
    project role, key scopes that grant it)}."""
    routes = []
    out = subprocess.run([os.path.join(BIN, "launcher-fcgi"), "--routes"], capture_output=True,
                         text=True, check=True).stdout
    for line in out.splitlines():
        method, path, cap, _audit, _kind = line.split(" ")
        path = re.sub(r":(\w+)", r"{\1}", path.replace("/{tenant}/api/v1", ""))
        if cap != "none" and path.startswith(prefixes):
            routes.append((method, path, cap))
    perms = {}
    out = subprocess.run([os.path.join(BIN, "launcher-fcgi"), "--permissions"], capture_output=True,
                         text=True, check=True).stdout
    for line in out.splitlines():
        w = line.split()
        perms[w[1]] = (w[3], set(w[5:]))
    return routes, perms


def image_mirrors(mapping):
    """Adds the rows {source-ref: replacement-ref} to the run's image mirror table
    (LAUNCHER_IMAGE_MIRRORS, <state>/image-mirrors.conf: the stack's image_mirrors_file;
    a row of the same source is replaced, the others stay) and reloads the API pool:
    SIGHUP to its master (the pid of fcgi_state_file), which rewrites that file once
    the new generation of workers serves; returns then.  Raises with the pool's log
    when the reload is refused or does not come."""
    import signal
    path = os.environ.get("LAUNCHER_IMAGE_MIRRORS") or os.path.join(STATE, "image-mirrors.conf")
    head, rows = [], {}
    with open(path) as f:
        for line in f:
            s = line.strip()
            if s and not s.startswith("#") and "|" in s:
                k, v = s.split("|", 1)
                rows[k.strip()] = v.strip()
            elif not rows:
                head.append(line.rstrip("\n"))
    rows.update(mapping)
    with open(path + ".w", "w") as f:
        f.write("\n".join(head + ["%s | %s" % kv for kv in sorted(rows.items())]) + "\n")
    os.rename(path + ".w", path)
    state = os.path.join(STATE, "run", "fcgi.state")
    before = os.stat(state).st_ino
    with open(state) as f:
        os.kill(int(f.read().split("\n")[0]), signal.SIGHUP)
    deadline = time.time() + 30
    while time.time() < deadline:
        try:
            if os.stat(state).st_ino != before:
                return
        except FileNotFoundError:
            pass
        time.sleep(0.05)
    with open(os.path.join(STATE, "log", "fcgi.log")) as f:
        raise AssertionError("the pool did not reload the image mirrors: " + f.read()[-2000:])
