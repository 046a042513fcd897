"""conf/functions/shim.py - the HTTP shim of a python3 function (Python 3.11,
standard library only).  Compiled into launcher-agent (fcgi/agent/fnshim.c)
and copied into every function image as /launcher/shim.py; the protocol is the
README's "Functions: runtimes and the shim" (API.md §7).

  python3 shim.py              the server on $PORT (8080)
  python3 shim.py --check      exit 0 when the handler's file compiles and
                               defines it, else 1 naming it (the image build
                               runs it: a deploy of a handler that does not
                               exist fails at build; nothing of it runs)
  python3 shim.py --worker FD  (internal) one worker process on socket FD

Env: LAUNCHER_FN_HANDLER ("index.handler": `def handler(event, context)`
(or `handler(event)`, or async) of $LAUNCHER_FN_DIR/index.py),
LAUNCHER_FN_TIMEOUT (seconds, default 30), LAUNCHER_FN_DIR (/fn),
LAUNCHER_FN_CONCURRENCY (workers at most; default one per 24 MiB of the
cgroup's memory limit, 1..4), PORT (8080).

Every invocation runs in a worker process (a fresh interpreter that has
imported the handler, talking JSON lines over a socket pair; its
stdout/stderr are the container's), so that the shim can kill it: past the
timeout the shim SIGKILLs it (504, status timeout); a worker killed by a
SIGKILL the shim did not send (the memory limit's OOM killer, confirmed by
the cgroup's oom_kill counter when readable; workers raise their
oom_score_adj so that the killer takes them first) is 502, status oom; a handler
that raises is 500, status error.  One worker is kept loaded (no cold start
per call) and replaced when it dies; more are started under load up to the
limit, further requests wait in a bounded queue (503 beyond it), and workers
past the first leave after IDLE_S idle.  Each invocation prints one line
LAUNCHER-INVOCATION {json} on stdout, and every answer carries
X-Launcher-Invocation-Status.
"""

import ast
import asyncio
import base64
import datetime
import http.server
import inspect
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import traceback
import urllib.parse
import uuid

BODY_MAX = 6 * 1024 * 1024      # request body; above: 413
DRAIN_MAX = 64 * 1024 * 1024    # a refused body up to this is read (dropped) before the 413
QUEUE_MAX = 256                 # requests waiting for a worker; above: 503
IDLE_S = 30                     # an extra worker's idle life
WORKER_MEMORY = 24 * 1024 * 1024  # a worker's share of the memory limit (python: ~10 MiB idle)
HEALTH_PATH = "/_launcher/health"
TRIGGERS = ("http", "cron", "invoke")
SHAPE_KEYS = {"status", "statusCode", "headers", "body"}
ID_RE = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")

HANDLER = os.environ.get("LAUNCHER_FN_HANDLER") or "index.handler"
FN_DIR = os.environ.get("LAUNCHER_FN_DIR") or "/fn"


def int_env(name, default, lo, hi):
    try:
        v = int(os.environ.get(name, ""))
    except ValueError:
        return default
    return v if lo <= v <= hi else default


def handler_parts():
    """(file path, function name) of LAUNCHER_FN_HANDLER, or ValueError."""
    mod, dot, name = HANDLER.rpartition(".")
    if not dot or not mod or not name.isidentifier():
        raise ValueError("handler %s: not of the form <file>.<function>" % HANDLER)
    path = os.path.join(FN_DIR, mod + ".py")
    if not os.path.isfile(path):
        raise ValueError("handler %s: %s does not exist" % (HANDLER, path))
    return path, name


def check():
    """The handler's file compiles and binds its name at top level."""
    path, name = handler_parts()
    with open(path, "rb") as f:
        tree = ast.parse(f.read(), path)
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and node.name == name:
            return
        if isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            if any(isinstance(t, ast.Name) and t.id == name for t in targets):
                return
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            if any((a.asname or a.name) == name for a in node.names):
                return
    raise ValueError("handler %s: %s does not define %s" % (HANDLER, path, name))


# ------------------------------------------------------------------ worker

def load_handler():
    path, name = handler_parts()
    sys.path.insert(0, FN_DIR)
    modname = os.path.relpath(path, FN_DIR)[:-3].replace(os.sep, ".")
    import importlib
    mod = importlib.import_module(modname)
    fn = getattr(mod, name, None)
    if not callable(fn):
        raise ValueError("handler %s: %s does not define a function %s" % (HANDLER, path, name))
    return fn


def error_text(e):
    return "%s: %s" % (type(e).__name__, e)


def encode_result(res):
    """The handler's answer as the parent sends it: {status, headers, body, base64}."""
    status, headers, body = 200, {}, res
    # An answer dict has only these keys, and a body or an integer status
    # ({"status": "healthy"} is a value, answered as JSON).
    if isinstance(res, dict) and set(res) <= SHAPE_KEYS and (
            "body" in res or any(isinstance(res.get(k), int) and not isinstance(res.get(k), bool)
                                 for k in ("status", "statusCode"))):
        status = res.get("status", res.get("statusCode"))
        if not isinstance(status, int) or isinstance(status, bool) or not 200 <= status <= 599:
            status = 200
        headers = res.get("headers") if isinstance(res.get("headers"), dict) else {}
        body = res.get("body")
    h = {str(k).lower(): str(v) for k, v in headers.items()}
    if body is None:
        return {"status": status, "headers": h, "body": ""}
    if isinstance(body, (bytes, bytearray)):
        h.setdefault("content-type", "application/octet-stream")
        return {"status": status, "headers": h, "body": base64.b64encode(body).decode(), "base64": True}
    if isinstance(body, str):
        h.setdefault("content-type", "text/plain; charset=utf-8")
        return {"status": status, "headers": h, "body": body}
    h.setdefault("content-type", "application/json")
    return {"status": status, "headers": h, "body": json.dumps(body, default=str)}


def worker_main(fd):
    try:  # the OOM killer takes a worker before the shim (raising it needs no privilege)
        with open("/proc/self/oom_score_adj", "w") as f:
            f.write("1000")
    except OSError:
        pass
    sock = socket.socket(fileno=fd)
    rf = sock.makefile("rb")
    sys.stdout.reconfigure(line_buffering=True)

    def put(m):
        sock.sendall(json.dumps(m).encode() + b"\n")

    try:
        fn = load_handler()
    except Exception as e:  # the message names the handler
        traceback.print_exc()
        put({"type": "load_error", "error": error_text(e)})
        return 1
    try:
        nparams = len(inspect.signature(fn).parameters)
    except (TypeError, ValueError):
        nparams = 2
    put({"type": "ready"})
    for line in rf:
        m = json.loads(line)
        if m.get("type") != "invoke":
            continue
        deadline = m["deadline"]
        context = {"invocation_id": m["id"], "trigger": m["event"]["trigger"], "handler": HANDLER,
                   "deadline": deadline, "remaining_ms": lambda: max(0, int(deadline * 1000 - time.time() * 1000))}
        try:
            res = fn(m["event"], context) if nparams >= 2 else fn(m["event"])
            if inspect.isawaitable(res):
                res = asyncio.run(_await(res))
            reply = {"type": "result", "id": m["id"], "ok": True, "result": encode_result(res)}
        except Exception as e:
            traceback.print_exc()
            reply = {"type": "result", "id": m["id"], "ok": False, "error": error_text(e)}
        put(reply)
    return 0


async def _await(a):
    return await a


# -------------------------------------------------------------- the shim

def oom_kills():
    """The cgroup's count of OOM kills (v2 memory.events, v1 memory.oom_control); -1 unknown."""
    for f in ("/sys/fs/cgroup/memory.events", "/sys/fs/cgroup/memory/memory.oom_control"):
        try:
            with open(f) as fh:
                m = re.search(r"^oom_kill (\d+)$", fh.read(), re.M)
        except OSError:
            continue
        if m:
            return int(m.group(1))
    return -1


def memory_limit():
    """The cgroup's memory limit in bytes (v2 memory.max, v1 memory.limit_in_bytes); 0 unknown or none."""
    for f in ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"):
        try:
            with open(f) as fh:
                v = int(fh.read().strip())
        except (OSError, ValueError):
            continue
        if 0 < v < 1 << 50:
            return v
    return 0


class LoadError(Exception):
    pass


class Worker:
    def __init__(self):
        parent, child = socket.socketpair()
        self.proc = subprocess.Popen([sys.executable, os.path.abspath(__file__), "--worker", str(child.fileno())],
                                     pass_fds=[child.fileno()], stdin=subprocess.DEVNULL)
        child.close()
        self.sock = parent
        self.rf = parent.makefile("rb")
        self.killed_by_shim = False
        self.idle_since = 0.0
        m = self.read(None)
        if m is None or m.get("type") != "ready":
            self.kill()
            raise LoadError(m["error"] if m and m.get("type") == "load_error"
                            else "the worker exited while loading the handler (%s)" % self.proc.returncode)

    def read(self, timeout):
        """The worker's next message; None when it died; TimeoutError past timeout."""
        self.sock.settimeout(timeout)
        try:
            line = self.rf.readline()
        except (socket.timeout, TimeoutError):
            raise TimeoutError from None
        except OSError:
            line = b""
        if not line:
            self.proc.wait()
            return None
        return json.loads(line)

    def kill(self, by_shim=False, sig=signal.SIGKILL):
        self.killed_by_shim = self.killed_by_shim or by_shim
        try:
            self.proc.send_signal(sig)
        except ProcessLookupError:
            pass
        self.proc.wait()
        self.rf.close()
        self.sock.close()


class Pool:
    def __init__(self, size):
        self.max = size
        self.cond = threading.Condition()
        self.idle = []
        self.count = 0          # workers alive or starting
        self.loading = 0        # of which starting
        self.waiting = 0

    def start_one(self):
        """Starts a worker (self.count already counts it) and puts it idle."""
        try:
            w = Worker()
        except LoadError as e:
            with self.cond:
                self.count -= 1
                self.loading -= 1
                self.cond.notify_all()
            print("launcher shim: %s" % e, file=sys.stderr, flush=True)
            time.sleep(1)
            return None
        with self.cond:
            self.loading -= 1
        self.release(w)
        return w

    def spawn_async(self):
        self.count += 1
        self.loading += 1
        threading.Thread(target=self.start_one, daemon=True).start()

    def acquire(self):
        """A worker for one invocation, or None when the queue is full."""
        with self.cond:
            if not self.idle and self.waiting >= QUEUE_MAX:
                return None
            self.waiting += 1
            try:
                while not self.idle:
                    if self.count < self.max and self.loading < self.waiting:
                        self.spawn_async()
                    self.cond.wait(1.0)
                return self.idle.pop()
            finally:
                self.waiting -= 1

    def release(self, w):
        with self.cond:
            w.idle_since = time.monotonic()
            self.idle.append(w)
            self.cond.notify()

    def dead(self, w):
        """w died or was killed: a warm one replaces it when none is left."""
        with self.cond:
            self.count -= 1
            if self.count == 0 or self.waiting:
                self.spawn_async()

    def reap(self):
        """Workers past the first that idled IDLE_S leave."""
        while True:
            time.sleep(IDLE_S / 3)
            with self.cond:
                old = [w for w in self.idle if time.monotonic() - w.idle_since > IDLE_S]
                old = old[:max(0, self.count - 1)]
                for w in old:
                    self.idle.remove(w)
                    self.count -= 1
            for w in old:
                w.kill(sig=signal.SIGTERM)


def log_invocation(rec):
    sys.stdout.write("LAUNCHER-INVOCATION %s\n" % json.dumps(rec))
    sys.stdout.flush()


def err_body(code, message):
    return json.dumps({"error": {"code": code, "message": message}}).encode()


def make_handler(pool, timeout_s):
    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "launcher-shim"

        def log_message(self, *args):
            pass

        def handle_expect_100(self):
            # no "100 Continue" for a body that will be refused (413)
            try:
                if int(self.headers.get("Content-Length") or 0) > BODY_MAX:
                    return True
            except ValueError:
                return True
            return super().handle_expect_100()

        def answer(self, status, headers, body, inv_status):
            self.send_response(status)
            h = {k.lower(): v for k, v in headers.items()}
            h.setdefault("content-type", "text/plain; charset=utf-8")
            h["x-launcher-invocation-status"] = inv_status
            h["content-length"] = str(len(body))
            for k, v in h.items():
                self.send_header(k, v)
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        def invoke(self):
            started = time.time()
            iid = self.headers.get("X-Launcher-Invocation") or ""
            iid = iid if ID_RE.match(iid) else str(uuid.uuid4())
            trigger = (self.headers.get("X-Launcher-Trigger") or "http").lower()
            trigger = trigger if trigger in TRIGGERS else "http"
            jh = {"content-type": "application/json"}

            def finish(status, http_status, headers, body, error):
                headers = dict(headers, **{"x-launcher-invocation": iid})
                try:
                    self.answer(http_status, headers, body, status)
                except OSError:
                    pass
                log_invocation({"id": iid, "trigger": trigger, "status": status, "http_status": http_status,
                                "duration_ms": int((time.time() - started) * 1000),
                                "started_at": datetime.datetime.fromtimestamp(started, datetime.timezone.utc)
                                .isoformat(timespec="milliseconds").replace("+00:00", "Z"),
                                "error": error})

            try:
                length = int(self.headers.get("Content-Length") or 0)
            except ValueError:
                length = -1
            if length < 0 or length > BODY_MAX or self.headers.get("Transfer-Encoding"):
                self.close_connection = True
                if BODY_MAX < length <= DRAIN_MAX:
                    # read and dropped, so that the client, still sending it, gets the answer
                    while length > 0:
                        chunk = self.rfile.read(min(length, 1 << 16))
                        if not chunk:
                            break
                        length -= len(chunk)
                    self.close_connection = False
                    length = BODY_MAX + 1
                if length < 0 or length > BODY_MAX:
                    finish("error", 413, dict(jh, connection="close"),
                           err_body("PAYLOAD_TOO_LARGE", "the request body exceeds 6 MiB"), "request body too large")
                else:
                    finish("error", 411, dict(jh, connection="close"),
                           err_body("LENGTH_REQUIRED", "a request body needs Content-Length"), "no Content-Length")
                return
            body = self.rfile.read(length) if length else b""
            url = urllib.parse.urlsplit(self.path)
            query = {}
            for k, v in urllib.parse.parse_qsl(url.query, keep_blank_values=True):
                query[k] = (query[k] if isinstance(query[k], list) else [query[k]]) + [v] if k in query else v
            event = {"method": self.command, "path": url.path, "query": query,
                     "headers": {k.lower(): v for k, v in self.headers.items()},
                     "body": body.decode("utf-8", "replace"), "trigger": trigger}
            w = pool.acquire()
            if w is None:
                finish("error", 503, jh, err_body("BUSY", "too many requests waiting for the function"), "queue full")
                return
            before = oom_kills()
            deadline = time.time() + timeout_s
            try:
                w.sock.sendall(json.dumps({"type": "invoke", "id": iid, "event": event,
                                           "deadline": deadline}).encode() + b"\n")
                m = w.read(timeout_s)
            except TimeoutError:
                w.kill(by_shim=True)
                pool.dead(w)
                finish("timeout", 504, jh, err_body("TIMEOUT", "the function ran past its timeout (%d s)" % timeout_s),
                       "timed out after %d s" % timeout_s)
                return
            except OSError:
                w.proc.wait()
                m = None
            if m is None:
                rc = w.proc.returncode
                w.kill()
                pool.dead(w)
                after = oom_kills()
                if rc == -signal.SIGKILL or (before >= 0 and after > before):
                    finish("oom", 502, jh, err_body("OUT_OF_MEMORY", "the function was killed: out of memory"),
                           "killed: out of memory")
                else:
                    msg = "the worker exited (%s)" % (("signal %d" % -rc) if rc < 0 else ("code %d" % rc))
                    finish("error", 500, jh, err_body("FUNCTION_ERROR", msg), msg)
                return
            pool.release(w)
            if m.get("ok"):
                r = m["result"]
                b = base64.b64decode(r["body"]) if r.get("base64") else r["body"].encode()
                finish("ok", r["status"], r["headers"], b, None)
            else:
                finish("error", 500, jh, err_body("FUNCTION_ERROR", m["error"]), m["error"])

        def do_GET(self):
            if urllib.parse.urlsplit(self.path).path == HEALTH_PATH:
                self.answer(200, {}, b"ok", "ok")
            else:
                self.invoke()

        do_HEAD = do_GET

        def __getattr__(self, name):
            if name.startswith("do_"):
                return self.invoke
            raise AttributeError(name)

    return Handler


def main():
    timeout_s = int_env("LAUNCHER_FN_TIMEOUT", 30, 1, 3600)
    port = int_env("PORT", 8080, 1, 65535)
    # workers at most: LAUNCHER_FN_CONCURRENCY, else one per WORKER_MEMORY of
    # the memory limit, 1..4
    limit = memory_limit()
    pool = Pool(int_env("LAUNCHER_FN_CONCURRENCY", min(4, max(1, limit // WORKER_MEMORY)) if limit else 4, 1, 64))
    pool.count = pool.loading = 1
    if pool.start_one() is None:
        return 1
    threading.Thread(target=pool.reap, daemon=True).start()
    server = http.server.ThreadingHTTPServer(("0.0.0.0", port), make_handler(pool, timeout_s))
    server.daemon_threads = True

    def stop(*_):
        threading.Thread(target=server.shutdown, daemon=True).start()
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    print("launcher shim: %s listening on :%d" % (HANDLER, port), flush=True)
    server.serve_forever()
    with pool.cond:
        for w in pool.idle:
            w.kill(sig=signal.SIGTERM)
    return 0


if __name__ == "__main__":
    if len(sys.argv) >= 3 and sys.argv[1] == "--worker":
        sys.exit(worker_main(int(sys.argv[2])))
    if len(sys.argv) >= 2 and sys.argv[1] == "--check":
        try:
            check()
        except (ValueError, SyntaxError, OSError) as e:
            print(str(e), file=sys.stderr)
            sys.exit(1)
        sys.exit(0)
    sys.exit(main())
