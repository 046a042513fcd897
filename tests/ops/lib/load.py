#!/usr/bin/python3
"""tests/ops/lib/load.py - the operator tests' API load (test_migrate_load,
test_scale_out, test_failover): CLIENTS concurrent clients against a stack's
HTTPS API, client n registering once as the first user of the n-th of
TENANTS (comma-separated, fresh tenants: registration closes after the
first user), then looping without pause over GET /auth/me, GET /projects,
POST /projects, GET /projects/:id, DELETE /projects/:id on one keep-alive
connection (a new one after any connection error), until the
file STOP exists.

Every request is one JSON line in OUT: {"c": client, "op": name, "t0": start,
"t1": end (time.time()), "status": HTTP status or 0 (no answer), "err": text}.
A request whose status is not the expected one (201 for the register and
the create, 204 for the delete, 200 otherwise) is a failure; the callers count them
(summary.py) against their own rule.

Usage: load.py URL TENANTS CACERT OUT STOP
"""
import http.client
import json
import ssl
import sys
import threading
import time
import urllib.parse
import uuid

URL, TENANTS, CACERT, OUT, STOP = sys.argv[1:6]
U = urllib.parse.urlsplit(URL)
CTX = ssl.create_default_context(cafile=CACERT)
LOCK = threading.Lock()
OUTF = open(OUT, "a", buffering=1)


def stopped():
    try:
        open(STOP).close()
        return True
    except OSError:
        return False


class Client:
    def __init__(self, n, tenant):
        self.n = n
        self.prefix = "/%s/api/v1" % tenant
        self.conn = None
        self.token = None

    def call(self, op, method, path, body=None, want=200):
        hdr = {"Content-Type": "application/json"}
        if self.token:
            hdr["Authorization"] = "Bearer " + self.token
        data = json.dumps(body).encode() if body is not None else None
        t0 = time.time()
        status, err, doc = 0, "", None
        try:
            if self.conn is None:
                self.conn = http.client.HTTPSConnection(U.hostname, U.port, context=CTX, timeout=30)
            self.conn.request(method, self.prefix + path, body=data, headers=hdr)
            resp = self.conn.getresponse()
            raw = resp.read()
            status = resp.status
            if resp.getheader("Connection", "").lower() == "close":
                self.conn.close()
                self.conn = None
            try:
                doc = json.loads(raw) if raw else None
                doc = doc.get("data") if isinstance(doc, dict) else None
            except ValueError:
                doc = None
            if status != want:
                err = raw[:200].decode("utf-8", "replace")
        except (OSError, http.client.HTTPException) as e:
            err = "%s: %s" % (type(e).__name__, e)
            if self.conn is not None:
                self.conn.close()
            self.conn = None
        t1 = time.time()
        line = json.dumps({"c": self.n, "op": op, "t0": round(t0, 4), "t1": round(t1, 4),
                           "status": status, "ok": status == want, "err": err})
        with LOCK:
            OUTF.write(line + "\n")
        return status == want, doc

    def run(self):
        email = "load-%s@example.com" % uuid.uuid4().hex[:12]
        # Registered once (a failed attempt is counted, then tried again).
        while not stopped():
            ok, doc = self.call("register", "POST", "/auth/register",
                                {"email": email, "password": "s3cret-Passw0rd!",
                                 "first_name": "Load", "last_name": "Client%d" % self.n}, 201)
            if ok and doc and doc.get("token"):
                self.token = doc["token"]
                break
            time.sleep(0.2)
        i = 0
        while not stopped():
            i += 1
            self.call("me", "GET", "/auth/me")
            self.call("list", "GET", "/projects?limit=5")
            ok, doc = self.call("create", "POST", "/projects",
                                {"name": "load-%d-%d-%s" % (self.n, i, uuid.uuid4().hex[:6])}, 201)
            if ok and doc and doc.get("id"):
                self.call("get", "GET", "/projects/%s" % doc["id"])
                self.call("delete", "DELETE", "/projects/%s" % doc["id"], want=204)


threads = [threading.Thread(target=Client(n, t).run) for n, t in enumerate(TENANTS.split(","))]
for t in threads:
    t.start()
for t in threads:
    t.join()
