"""tests/lib/sentry_replay.py - the real SDK requests recorded in
tests/fixtures/sentry/ (capture.py), re-addressed to a DSN and given a fresh
event id, byte for byte what the SDK would send otherwise: @sentry/node's
envelope (key in the query string, no Content-Type, uncompressed under
32 KB) and python3-sentry-sdk's store request (X-Sentry-Auth, gzip).  Used by
the ingest burst test (tests/api/test_issues_sdk.py) and the load bench
(tests/bench/ingest_bench.py).

    reqs = Replayer(dsn)               # https://<key>@<host>/<tenant>/<id>
    method, path, headers, body, event_id = reqs.make("node-exception")
"""
import gzip
import json
import os
import urllib.parse
import uuid

FIXTURES = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                        "fixtures", "sentry")
# What the fixtures were captured with (capture.py).
KEY = "0123456789abcdef0123456789abcdef"
PREFIX = "/default/api/17/"
# The events of an application's life; sessions carry no event.
EVENT_KINDS = ("node-exception", "node-message", "node-crash",
               "python-exception", "python-message", "python-crash")
# Headers that belong to the connection, not to the SDK's request.
HOP = {"host", "content-length", "transfer-encoding", "connection"}


def load(kind):
    with open(os.path.join(FIXTURES, kind + ".json")) as f:
        return json.load(f)


class Replayer:
    def __init__(self, dsn):
        u = urllib.parse.urlsplit(dsn)
        tenant, dsn_id = u.path.strip("/").rsplit("/", 1)
        self.key = u.username
        self.prefix = "/%s/api/%s/" % (tenant, dsn_id)
        self.records = {k: load(k) for k in EVENT_KINDS + ("node-session",)}

    def make(self, kind, event_id=None):
        """(method, path?query, headers, body bytes, event_id) of one request
        of this kind; event_id: a fresh one unless given."""
        rec = self.records[kind]
        event_id = event_id or uuid.uuid4().hex
        path = rec["path"].replace(PREFIX, self.prefix, 1)
        query = rec["query"].replace("sentry_key=" + KEY, "sentry_key=" + self.key)
        headers = {k: v.replace("sentry_key=" + KEY, "sentry_key=" + self.key)
                   for k, v in rec["headers"].items() if k.lower() not in HOP}
        # The key also sits in the envelope header (trace.public_key).
        body = rec["body"].replace(KEY, self.key)
        if kind != "node-session":
            body = body.replace(self.event_id(rec), event_id)
        data = body.encode()
        if (rec["headers"].get("Content-Encoding") or "").lower() == "gzip":
            data = gzip.compress(data)
        return "POST", path + ("?" + query if query else ""), headers, data, event_id

    @staticmethod
    def event_id(rec):
        body = rec["body"]
        if rec["path"].endswith("/envelope/"):
            return json.loads(body.split("\n", 1)[0])["event_id"]
        return json.loads(body)["event_id"]
