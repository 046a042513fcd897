"""The OpenAPI document and the route table describe the same API."""
import json
import os
import re
import subprocess

from lib import BIN, REPO


def test_every_route_is_documented_and_every_documented_route_exists():
    out = subprocess.run([os.path.join(BIN, "launcher-fcgi"), "--routes"],
                         capture_output=True, text=True, check=True).stdout
    routes = set()
    for line in out.splitlines():
        method, path = line.split(" ")[:2]
        routes.add((method.lower(), re.sub(r":(\w+)", r"{\1}", path)))
    with open(os.path.join(REPO, "static", "openapi.json")) as f:
        doc = json.load(f)
    # An operation served at another public path than its route's (the
    # Sentry ingest, which nginx rewrites) names its route in x-lnchr-route.
    documented = {(m, op.get("x-lnchr-route", p)) for p, ops in doc["paths"].items()
                  for m, op in ops.items() if m in ("get", "post", "put", "patch", "delete")}
    assert routes, out
    assert routes - documented == set(), "undocumented: %s" % sorted(routes - documented)
    assert documented - routes == set(), "documented but absent: %s" % sorted(documented - routes)
