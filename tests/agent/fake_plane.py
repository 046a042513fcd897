"""fake_plane.py - a stand-in for the plane's agent API, for testing
launcher-agent without PostgreSQL: HTTPS on loopback (self-signed
certificate, the agent verifies it with --ca), the envelope, the agent
token, an in-memory job queue with leases, the agent's wake-up WebSocket
(launcher-ws's GET /<tenant>/ws/agent: 101, then "wake" text frames and
pings on demand), and knobs to break things (rotate the token, cancel a
job, go down).

It checks request bodies the way the plane's field tables do (required
fields, types, ranges) so that a body the plane would refuse fails here
too.  Used by tests/agent/test_agent.py; run alone it serves until Ctrl-C:

    python3 tests/agent/fake_plane.py DIR   # writes DIR/ca.pem, prints the URL
"""
import base64
import datetime
import hashlib
import json
import os
import socket
import ssl
import subprocess
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def now_rfc3339():
    return datetime.datetime.now(datetime.timezone.utc).isoformat().replace("+00:00", "Z")


def make_cert(directory):
    """A self-signed certificate for 127.0.0.1 and localhost; returns (cert, key)."""
    cert, key = os.path.join(directory, "ca.pem"), os.path.join(directory, "key.pem")
    if not os.path.exists(cert):
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                        "-subj", "/CN=127.0.0.1", "-addext",
                        "subjectAltName=IP:127.0.0.1,DNS:localhost",
                        "-keyout", key, "-out", cert], check=True, capture_output=True)
    return cert, key


class Plane:
    """The plane's state; every public method is safe to call from a test thread."""

    def __init__(self, directory, tenant="default", token="t" * 40):
        self.dir = directory
        self.tenant = tenant
        self.token = token
        self.lock = threading.Lock()
        self.cond = threading.Condition(self.lock)
        self.jobs = {}          # id -> dict
        self.queue = []         # ids
        self.heartbeats = []    # bodies
        self.claims = []        # POST /agent/jobs/claim bodies
        self.instances = []     # POST /agent/instances bodies
        self.logs = []          # POST /agent/logs entries
        self.reports = True     # False: answer 404 to instances and logs (an older plane)
        self.requests = []      # (method, path, status)
        self.heartbeat_interval = 1
        self.poll_interval_ms = 200
        self.plane_time_offset = 0.0
        self.ws = {}            # open wake-up channels: connection -> frames to send
        self.ws_opened = 0
        self.ws_received = b""  # what agents sent on them (masked frames)
        self.httpd = None
        self.thread = None
        self.conns = set()      # open client connections (closed by stop())
        self.port = 0
        self.cert, self.key = make_cert(directory)

    # ------------------------------------------------------------ control

    @property
    def url(self):
        return "https://127.0.0.1:%d" % self.port

    def start(self, port=0):
        plane = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def setup(self):
                super().setup()
                with plane.lock:
                    plane.conns.add(self.connection)

            def finish(self):
                super().finish()
                with plane.lock:
                    plane.conns.discard(self.connection)

            def do_GET(self):
                plane._handle(self, "GET")

            def do_POST(self):
                plane._handle(self, "POST")

        if port == 0:
            sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
            from ports import free_port
            port = free_port()
        self.httpd = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.httpd.daemon_threads = True
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(self.cert, self.key)
        self.httpd.socket = ctx.wrap_socket(self.httpd.socket, server_side=True)
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()
        return self

    def stop(self):
        """Stops listening and drops kept-alive connections: the plane is gone."""
        if self.httpd is not None:
            self.httpd.shutdown()
            self.httpd.server_close()
            self.httpd = None
        with self.lock:
            conns, self.conns = list(self.conns), set()
        for c in conns:
            try:
                c.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def wake(self, frame=b"\x81\x04wake"):
        """Queues a frame (default: the text "wake") on every open channel."""
        with self.lock:
            for out in self.ws.values():
                out.append(frame)
            return len(self.ws)

    def drop_ws(self):
        """Closes every wake-up channel from this side."""
        with self.lock:
            for out in self.ws.values():
                out.append(None)

    def enqueue(self, kind, payload=None, lease_seconds=30, deadline_seconds=600):
        jid = str(uuid.uuid4())
        with self.lock:
            self.jobs[jid] = {"id": jid, "kind": kind, "payload": payload or {},
                              "status": "queued", "attempts": 0, "lease_seconds": lease_seconds,
                              "deadline": time.time() + deadline_seconds, "lines": [],
                              "result": None, "error": None, "leases": 0, "completions": 0}
            self.queue.append(jid)
            self.cond.notify_all()
        return jid

    def cancel(self, jid):
        with self.lock:
            self.jobs[jid]["status"] = "cancelled"

    def job(self, jid):
        with self.lock:
            return json.loads(json.dumps(self.jobs[jid]))

    def wait(self, pred, timeout):
        """Waits until pred(self) is true (checked under the lock)."""
        end = time.time() + timeout
        with self.lock:
            while not pred(self):
                left = end - time.time()
                if left <= 0:
                    return False
                self.cond.wait(min(left, 0.2))
            return True

    def wait_status(self, jid, statuses, timeout):
        return self.wait(lambda p: p.jobs[jid]["status"] in statuses, timeout)

    # ----------------------------------------------------------- protocol

    def _reply(self, h, status, data=None, code=None, message=None):
        if status == 204:
            body = b""
        elif code is None:
            body = json.dumps({"success": True, "data": data}).encode()
        else:
            body = json.dumps({"success": False,
                               "error": {"code": code, "message": message}}).encode()
        h.send_response(status)
        if body:
            h.send_header("Content-Type", "application/json")
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        h.wfile.write(body)
        with self.lock:
            self.requests.append((h.command, h.path, status))
            self.cond.notify_all()

    def _handle(self, h, method):
        n = int(h.headers.get("Content-Length") or 0)
        raw = h.rfile.read(n) if n else b""
        if method == "GET" and h.path == "/healthz":
            return self._reply(h, 200, {"status": "ok"})
        if method == "GET" and h.path == "/%s/ws/agent" % self.tenant:
            return self._ws(h)
        prefix = "/%s/api/v1/agent" % self.tenant
        if method != "POST" or not h.path.startswith(prefix):
            return self._reply(h, 404, code="NOT_FOUND", message="no such route")
        if h.headers.get("x-lnchr-agent-token") != self.token:
            return self._reply(h, 401, code="UNAUTHORIZED", message="invalid agent token")
        if h.headers.get("Content-Type") != "application/json":
            return self._reply(h, 415, code="UNSUPPORTED_MEDIA_TYPE", message="json only")
        try:
            body = json.loads(raw or b"null")
        except ValueError:
            return self._reply(h, 400, code="BAD_REQUEST", message="invalid JSON")
        if not isinstance(body, dict):
            return self._reply(h, 400, code="BAD_REQUEST", message="body must be an object")
        parts = h.path[len(prefix):].strip("/").split("/")
        if parts == ["heartbeat"]:
            return self._heartbeat(h, body)
        if parts == ["jobs", "claim"]:
            return self._claim(h, body)
        if len(parts) == 3 and parts[0] == "jobs":
            return self._job(h, parts[1], parts[2], body)
        if parts in (["instances"], ["logs"]) and self.reports:
            return self._report(h, parts[0], body)
        return self._reply(h, 404, code="NOT_FOUND", message="no such route")

    def _ws(self, h):
        """launcher-ws's agent channel: its checks, then frames until closed."""
        key = h.headers.get("Sec-WebSocket-Key")
        if (h.headers.get("Upgrade") or "").lower() != "websocket" or not key:
            return self._reply(h, 400, code="BAD_REQUEST", message="this endpoint speaks WebSocket only")
        if h.headers.get("x-lnchr-agent-token") != self.token:
            return self._reply(h, 401, code="UNAUTHORIZED", message="invalid agent token")
        accept = base64.b64encode(hashlib.sha1(
            (key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").encode()).digest()).decode()
        h.send_response_only(101)
        h.send_header("Upgrade", "websocket")
        h.send_header("Connection", "Upgrade")
        h.send_header("Sec-WebSocket-Accept", accept)
        h.end_headers()
        h.wfile.flush()
        conn, out = h.connection, []
        with self.lock:
            self.requests.append((h.command, h.path, 101))
            self.ws[conn] = out
            self.ws_opened += 1
            self.cond.notify_all()
        # One thread reads and writes (an SSL socket is not shared between
        # threads): wake() only queues.
        conn.settimeout(0.02)
        try:
            while True:
                with self.lock:
                    frames, out[:] = list(out), []
                if None in frames:
                    break
                for f in frames:
                    conn.sendall(f)
                try:
                    b = conn.recv(4096)
                except (socket.timeout, ssl.SSLWantReadError):
                    continue
                if not b:
                    break
                with self.lock:
                    self.ws_received += b
                    self.cond.notify_all()
        except OSError:
            pass
        finally:
            with self.lock:
                self.ws.pop(conn, None)
                self.cond.notify_all()
            h.close_connection = True

    def _heartbeat(self, h, b):
        errs = check_heartbeat(b)
        if errs:
            return self._reply(h, 400, code="VALIDATION_FAILED", message="; ".join(errs))
        with self.lock:
            self.heartbeats.append(b)
            self.cond.notify_all()
        return self._reply(h, 200, {"server_id": "00000000-0000-4000-8000-000000000001",
                                    "status": "online" if b["engine"]["reachable"] else "degraded",
                                    "heartbeat_interval_seconds": self.heartbeat_interval,
                                    "poll_interval_ms": self.poll_interval_ms,
                                    "plane_time": self._plane_time()})

    def _plane_time(self):
        t = datetime.datetime.now(datetime.timezone.utc) + \
            datetime.timedelta(seconds=self.plane_time_offset)
        return t.isoformat().replace("+00:00", "Z")

    def _claim(self, h, body):
        """The oldest queued job whose kind the body's kinds / except_kinds
        allow (sql/061's job_claim; no filter: any kind)."""
        kinds, except_kinds = body.get("kinds"), body.get("except_kinds")
        with self.lock:
            self._expire()
            self.claims.append(body)
            job = None
            for jid in list(self.queue):
                j = self.jobs[jid]
                if j["status"] != "queued":
                    self.queue.remove(jid)
                    continue
                if (kinds is not None and j["kind"] not in kinds) or \
                        (except_kinds is not None and j["kind"] in except_kinds):
                    continue
                self.queue.remove(jid)
                j["status"] = "running"
                j["attempts"] += 1
                j["lease_until"] = time.time() + j["lease_seconds"]
                job = {"id": j["id"], "kind": j["kind"], "payload": j["payload"],
                       "attempt": j["attempts"], "lease_seconds": j["lease_seconds"],
                       "deadline_at": datetime.datetime.fromtimestamp(
                           j["deadline"], datetime.timezone.utc).isoformat(),
                       "plane_time": self._plane_time()}
                break
        return self._reply(h, 200, {"job": job})

    def _expire(self):
        """The scheduler's rule: an expired lease re-queues the job."""
        for j in self.jobs.values():
            if j["status"] == "running" and j["lease_until"] < time.time():
                j["status"] = "queued"
                self.queue.append(j["id"])

    def _report(self, h, kind, b):
        errs = _report_errors(kind, b)
        if errs:
            return self._reply(h, 400, code="VALIDATION_FAILED", message="; ".join(sorted(set(errs))))
        with self.lock:
            if kind == "instances":
                self.instances.append(b["instances"])
            else:
                self.logs.extend(b["entries"])
            self.cond.notify_all()
        return self._reply(h, 200, {"accepted": len(b.get("instances") or b.get("entries") or [])})

    def _job(self, h, jid, action, b):
        with self.lock:
            j = self.jobs.get(jid)
            state = j["status"] if j else None
        if j is None:
            return self._reply(h, 404, code="NOT_FOUND", message="job not found")
        if state != "running":
            return self._reply(h, 409, code="CONFLICT", message="the job is %s, not running" % state)
        if action == "lease":
            with self.lock:
                j["lease_until"] = time.time() + j["lease_seconds"]
                j["leases"] += 1
            return self._reply(h, 200, {"lease_expires_at": now_rfc3339()})
        if action == "progress":
            lines = b.get("lines")
            if (not isinstance(lines, list) or not 1 <= len(lines) <= 100 or
                    any(not isinstance(s, str) or len(s.encode()) > 4096 for s in lines)):
                return self._reply(h, 400, code="VALIDATION_FAILED", message="lines")
            with self.lock:
                j["lines"].extend(lines)
            return self._reply(h, 204)
        if action == "complete":
            st = b.get("status")
            if st not in ("succeeded", "failed") or \
                    ("result" in b and not isinstance(b["result"], (dict, type(None)))) or \
                    ("error" in b and not isinstance(b["error"], (str, type(None)))) or \
                    len(b.get("error") or "") > 8192:
                return self._reply(h, 400, code="VALIDATION_FAILED", message="complete body")
            with self.lock:
                j["status"] = st
                j["result"] = b.get("result")
                j["error"] = b.get("error")
                j["completions"] += 1
                self.cond.notify_all()
            return self._reply(h, 200, {"id": jid, "kind": j["kind"]})
        return self._reply(h, 404, code="NOT_FOUND", message="no such route")


def _report_errors(kind, b):
    """The shapes of POST /agent/instances and /agent/logs, as checks."""
    errs = []
    if kind == "instances":
        arr = b.get("instances")
        if not isinstance(arr, list):
            return ["instances"]
        for i in arr:
            if not isinstance(i, dict):
                errs.append("instance")
                continue
            # A database's container (launcher.database) names its database
            # instead of an application and a release, the managed object
            # store's (launcher.objstore) its store.
            owner = ("database_id",) if "database_id" in i else \
                ("objstore_id",) if "objstore_id" in i else ("app_id", "deployment_id")
            for k in ("container_id", "name", "state", "health") + owner:
                if not isinstance(i.get(k), str):
                    errs.append(k)
            if i.get("health") not in ("healthy", "unhealthy", "starting", "none"):
                errs.append("health")
            for k in ("host_port", "exit_code"):
                if k not in i or not (i[k] is None or _int(i[k], -1000, 65535)):
                    errs.append(k)
            if not _int(i.get("restart_count"), 0, 10 ** 9):
                errs.append("restart_count")
            if "started_at" not in i or not (i["started_at"] is None or isinstance(i["started_at"], str)):
                errs.append("started_at")
    else:
        arr = b.get("entries")
        if not isinstance(arr, list) or not 1 <= len(arr) <= 500:
            return ["entries"]
        for e in arr:
            owner = ("database_id",) if "database_id" in e else ("app_id", "deployment_id")
            for k in ("container_id", "timestamp", "message") + owner:
                if not isinstance(e.get(k), str):
                    errs.append(k)
            if e.get("stream") not in ("stdout", "stderr"):
                errs.append("stream")
            if len(e.get("message", "").encode()) > 4096:
                errs.append("message length")
    return errs


def _int(v, lo, hi):
    return isinstance(v, int) and not isinstance(v, bool) and lo <= v <= hi


def _num(v, lo, hi):
    return isinstance(v, (int, float)) and not isinstance(v, bool) and lo <= v <= hi


def _str(v, lo, hi):
    return isinstance(v, str) and lo <= len(v) <= hi


def check_heartbeat(b):
    """The plane's heartbeat field tables (fcgi/api/agent.c), as checks."""
    errs = []
    big = 2 ** 62

    def need(ok, what):
        if not ok:
            errs.append(what)
    need(_str(b.get("agent_version"), 1, 64), "agent_version")
    need("interval_seconds" not in b or _int(b["interval_seconds"], 1, 3600), "interval_seconds")
    if "time" in b:
        try:
            datetime.datetime.fromisoformat(b["time"].replace("Z", "+00:00"))
        except (ValueError, AttributeError):
            errs.append("time")
    e, hst = b.get("engine"), b.get("host")
    need(isinstance(e, dict), "engine")
    need(isinstance(hst, dict), "host")
    if errs:
        return errs
    need(isinstance(e.get("reachable"), bool), "engine.reachable")
    for k, lo, hi in (("type", 1, 16), ("version", 0, 64), ("api_version", 0, 16),
                      ("os", 0, 64), ("kernel", 0, 128)):
        need(k not in e or _str(e[k], lo, hi), "engine." + k)
    for k in ("containers", "containers_running", "images"):
        need(k not in e or _int(e[k], 0, 10000000), "engine." + k)
    need(_str(hst.get("hostname", ""), 0, 255), "host.hostname")
    need(_str(hst.get("os", ""), 0, 128), "host.os")
    need(_int(hst.get("cpus"), 1, 100000), "host.cpus")
    need("cpu_percent" not in hst or _num(hst["cpu_percent"], 0, 100), "host.cpu_percent")
    for k in ("memory_total_bytes", "memory_used_bytes", "disk_total_bytes", "disk_used_bytes"):
        need(_int(hst.get(k), 0, big), "host." + k)
    for k in ("load1", "load5", "load15"):
        need(k not in hst or _num(hst[k], 0, 1000000), "host." + k)
    for k in ("net_rx_bytes", "net_tx_bytes"):
        need(k not in hst or _int(hst[k], 0, big), "host." + k)
    return errs


if __name__ == "__main__":
    d = sys.argv[1] if len(sys.argv) > 1 else "."
    p = Plane(d).start(int(sys.argv[2]) if len(sys.argv) > 2 else 0)
    print("fake plane at %s, tenant %s, token %s, CA %s" % (p.url, p.tenant, p.token, p.cert))
    try:
        while True:
            time.sleep(1)
    except KeyboardInterrupt:
        p.stop()
