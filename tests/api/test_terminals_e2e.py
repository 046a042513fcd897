"""Terminals end to end (API.md §22, README "Terminals"): a real WebSocket
client (Debian's python3-websockets) through nginx and launcher-ws, the real
launcher-agent and the stack's Podman.  A shell in an application's
container computes $((6*7)); a resize changes `stty size`; `exit 3` ends
with {"type":"exit","code":3} and a 1000 close, recorded on the session
and in the audit log; the agent runs other jobs meanwhile.  Refused before
the upgrade: an expired session, a reused one, a viewer, another user of
the tenant, another tenant's token, no token.  psql through a database
terminal answers `select 1`; a server terminal is a shell on the host."""
import asyncio
import json
import os
import ssl
import time

import websockets

from lib import HTTPS_PORT, STATE, Client, new_user, psql, registered
from test_databases_e2e import World as DbWorld
from test_databases_e2e import _db, _need_fixtures, _settled
from test_deploy_e2e import World, _app, _deploy, exec_result
from test_ws import _status

TIMEOUT = 30


def _owner(sql):
    return psql(sql, user="launcher_owner")


def _tls():
    return ssl.create_default_context(cafile=os.path.join(STATE, "tls", "cert.pem"))


def _url(c, sid, token=None):
    return "wss://localhost:%d/%s/ws/terminal/%s?token=%s" % (HTTPS_PORT, c.tenant, sid,
                                                             token or c.token)


class Term:
    """One client socket: what arrived (bytes as text, and the text messages)."""

    def __init__(self, ws):
        self.ws, self.out, self.texts = ws, "", []

    async def until(self, pred, what, timeout=TIMEOUT):
        deadline = time.time() + timeout
        while not pred(self):
            left = deadline - time.time()
            if left <= 0:
                raise AssertionError("timed out waiting for %s; got %r %r"
                                     % (what, self.out[-500:], self.texts))
            try:
                m = await asyncio.wait_for(self.ws.recv(), left)
            except asyncio.TimeoutError:
                continue
            except websockets.exceptions.ConnectionClosed:
                if pred(self):
                    break
                raise AssertionError("closed (%s) waiting for %s; got %r %r"
                                     % (self.ws.close_code, what, self.out[-500:], self.texts))
            if isinstance(m, bytes):
                self.out += m.decode(errors="replace")
            else:
                self.texts.append(json.loads(m))

    async def line(self, want, timeout=TIMEOUT):
        """Waits for a line of output that is want, maybe after a prompt ("# ",
        "$ ": the terminal echoes what was typed before the shell prompts);
        the echo of the command that prints it never is."""
        def at(t):
            lines = t.out.replace("\r", "").split("\n")
            return next((i for i, ln in enumerate(lines)
                         if ln == want or ln.endswith("# " + want) or ln.endswith("$ " + want)), None)
        await self.until(lambda t: at(t) is not None, repr(want), timeout)
        lines = self.out.replace("\r", "").split("\n")
        self.out = "\n".join(lines[at(self) + 1:])     # what came after it

    async def run(self, command):
        await self.ws.send((command + "\n").encode())

    async def resize(self, cols, rows):
        await self.ws.send(json.dumps({"type": "resize", "cols": cols, "rows": rows}))

    async def exit_code(self):
        await self.until(lambda t: any(x.get("type") == "exit" for x in t.texts), "the exit message")
        await self.until(lambda t: t.ws.closed, "the close")
        assert self.ws.close_code == 1000, self.ws.close_code
        return [x for x in self.texts if x.get("type") == "exit"][0]["code"]


def _open(c, path):
    r = c.post(path)
    assert r.status == 201, r
    assert r.data["url"] == "/%s/ws/terminal/%s" % (c.tenant, r.data["sessionId"]), r
    return r.data["sessionId"]


def _session(sid):
    return json.loads(_owner("SELECT row_to_json(t)::text FROM terminal_sessions t WHERE id = '%s'"
                             % sid)[0])


def _ended(sid):
    deadline = time.time() + 10
    while time.time() < deadline:
        s = _session(sid)
        if s["ended_at"]:
            return s
        time.sleep(0.2)
    raise AssertionError("the end of session %s was not recorded: %r" % (sid, _session(sid)))


def _shell_session(c, sid, script):
    async def go():
        async with websockets.connect(_url(c, sid), ssl=_tls()) as ws:
            t = Term(ws)
            return await script(t)
    return asyncio.run(go())


def _refused(c, sid, token=None, headers=None):
    path = "/%s/ws/terminal/%s" % (c.tenant, sid) + ("?token=" + token if token else "")
    return _status(c.tenant, headers or {}, path)


def test_a_shell_in_an_application_container():
    w = World.get()
    a = _app(w)
    _deploy(w, a)
    sid = _open(w.c, "/applications/%s/terminal" % a["id"])

    async def script(t):
        await t.resize(100, 30)
        await t.run("stty size")
        await t.line("30 100")
        await t.run("echo $((6*7))")
        await t.line("42")
        await t.resize(120, 50)
        await t.run("stty size")
        await t.line("50 120")
        # The agent goes on with other jobs while the session is open.
        out = await asyncio.get_running_loop().run_in_executor(
            None, lambda: exec_result(w.c, a["id"], ["echo", "meanwhile"]))
        assert out["exit_code"] == 0 and "meanwhile" in out["output"], out
        await t.run("exit 3")
        return await t.exit_code()

    assert _shell_session(w.c, sid, script) == 3
    s = _ended(sid)
    assert s["exit_code"] == 3 and s["attached_at"] and s["agent_attached_at"], s
    assert s["started_at"] and s["duration_ms"] is not None and s["duration_ms"] >= 0, s
    job = _owner("SELECT status || ' ' || coalesce(result->>'session_id', '') FROM jobs"
                 " WHERE kind = 'terminal.open' AND payload->>'session_id' = '%s'" % sid)
    assert job == ["succeeded " + sid], job
    log = [x["action"] for x in w.c.every("/audit-log") if x["resource_id"] in (sid, a["id"])]
    assert {"application.terminal", "terminal.attach", "terminal.end"} <= set(log), log
    # Nothing typed or printed is stored.
    assert "6*7" not in json.dumps(s) and "stty" not in json.dumps(w.c.every("/audit-log"))
    # Used: refused before the upgrade.
    st, body = _refused(w.c, sid, w.c.token)
    assert st == 410 and '"code":"GONE"' in body, (st, body)


def test_refusals_before_the_upgrade():
    w = World.get()
    a = _app(w)
    _deploy(w, a)
    viewer = new_user(w.c)
    other_admin = new_user(w.c)
    for u, role in ((viewer, "viewer"), (other_admin, "admin")):
        r = w.c.post("/projects/%s/members" % w.project["id"], {"user_id": u.user_id, "role": role})
        assert r.status == 201, r
    sid = _open(w.c, "/applications/%s/terminal" % a["id"])
    st, body = _refused(w.c, sid)
    assert st == 401 and '"code":"UNAUTHORIZED"' in body, (st, body)
    st, body = _refused(w.c, sid, viewer.token)
    assert st == 403 and '"code":"FORBIDDEN"' in body, (st, body)
    st, body = _refused(w.c, sid, other_admin.token)
    assert st == 403 and "another user" in body, (st, body)
    other, _ = registered("term-x")
    st, body = _refused(w.c, sid, other.token)             # this tenant's URL, their token
    assert st == 401, (st, body)
    st, body = _status(other.tenant, {}, "/%s/ws/terminal/%s?token=%s" % (other.tenant, sid, other.token))
    assert st == 404 and "terminal session not found" in body, (st, body)
    # None of these used it: the creator still can, once.
    assert _session(sid)["attached_at"] is None

    async def script(t):
        await t.run("exit 0")
        return await t.exit_code()
    assert _shell_session(w.c, sid, script) == 0
    # Expired (60 s after its creation).
    sid = _open(w.c, "/applications/%s/terminal" % a["id"])
    _owner("UPDATE terminal_sessions SET expires_at = now() - interval '1 second' WHERE id = '%s'" % sid)
    st, body = _refused(w.c, sid, w.c.token)
    assert st == 410 and "expired" in body, (st, body)
    # A service key with write is admitted for its creator's session.
    key = w.c.post("/settings/service-keys", {"name": "term", "scopes": ["read", "write"]}).data["key"]
    sid = _open(Client(w.c.tenant, key=key), "/applications/%s/terminal" % a["id"])
    st, _ = _refused(w.c, sid, headers={"x-lnchr-key": key})
    assert st == 101, st


def test_psql_through_a_database_terminal():
    _need_fixtures()
    w = DbWorld.get()
    d = _settled(w, _db(w, type="postgres")["id"])
    sid = _open(w.c, "/databases/%s/terminal" % d["id"])
    pw = w.c.get("/databases/%s/connection" % d["id"]).data["password"]

    async def script(t):
        await t.run("select 40 + 2 as answer;")
        await t.until(lambda x: "(1 row)" in x.out, "psql's answer")
        assert [ln.strip() for ln in t.out.replace("\r", "").split("\n")].count("42") == 1, t.out
        t.out = ""
        await t.run("select 1;")
        await t.until(lambda x: "(1 row)" in x.out, "select 1")
        await t.run("\\q")
        return await t.exit_code()

    assert _shell_session(w.c, sid, script) == 0
    s = _ended(sid)
    assert s["exit_code"] == 0 and pw not in json.dumps(s), s
    for row in _owner("SELECT payload::text || coalesce(result::text, '') || coalesce(error, '')"
                      " FROM jobs WHERE payload->>'session_id' = '%s'" % sid):
        assert pw not in row, row
    w.c.delete("/databases/%s?delete_data=true" % d["id"])


def test_a_login_shell_on_the_server():
    w = World.get()
    sid = _open(w.c, "/servers/%s/terminal" % w.server["id"])

    async def script(t):
        await t.resize(90, 20)
        await t.run("stty size; echo $((6*7))")
        await t.line("20 90")
        await t.line("42")
        # The shell's signals are at default, SIGPIPE too (the agent ignores
        # it): `yes | head` ends quietly, no "Broken pipe" on the terminal.
        t.out = ""
        await t.run("grep SigIgn /proc/self/status; yes | head -n 1 >/dev/null; echo piped-$((1+1))")
        await t.until(lambda x: "\npiped-2\r\n" in x.out, "the pipeline's end")
        ign = [ln.split()[1] for ln in t.out.replace("\r", "").split("\n") if ln.startswith("SigIgn:")]
        assert ign and not int(ign[0], 16) & (1 << (13 - 1)), t.out
        assert "Broken pipe" not in t.out, t.out
        t.out = ""
        # More than the relay queues (64 KiB a direction): all of it, in order.
        await t.run("yes 0123456789abcdef | head -n 20000 | nl -ba | tail -c 400000; echo END")
        await t.until(lambda x: "\nEND\r\n" in x.out, "the end of the output", 60)
        got = [ln.split() for ln in t.out.replace("\r", "").split("\n") if "0123456789abcdef" in ln]
        got = [int(x[0]) for x in got if len(x) == 2 and x[0].isdigit()]
        assert got == list(range(got[0], 20001)) and got[0] < 20000 - 10000, (got[:3], got[-3:])
        t.out = ""
        await t.run("exit 3")
        return await t.exit_code()

    assert _shell_session(w.c, sid, script) == 3
    assert _ended(sid)["exit_code"] == 3
