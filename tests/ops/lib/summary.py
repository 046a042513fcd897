#!/usr/bin/python3
"""tests/ops/lib/summary.py LOG [--inflight A B | --switch A B] - counts the
requests load.py wrote to LOG and prints one JSON object:
  total, failed, tolerated, bad (failed and not tolerated), after (requests
  started after B), after_ok, max_ms (the slowest request), last_failure (t1 of the last failure, or null),
  per_op {op: [total, failed]}, statuses {status of the failures: count}
  (0: no answer), samples (up to 5 bad ones).
Which failures are tolerated:
  (none)           none: every failure is bad (a migration under load)
  --inflight A B   those in flight during [A, B] (started before B, ended
                   after A): a pool killed at A..B (test_scale_out)
  --switch A B     those started from A on, until the client's first success
                   among its requests started after B: the database down at A,
                   up again at B (test_failover)
"""
import json
import sys

log = sys.argv[1]
mode = sys.argv[2] if len(sys.argv) > 2 else None
a = float(sys.argv[3]) if mode else 0.0
b = float(sys.argv[4]) if mode else 0.0
rows = []
with open(log) as f:
    for line in f:
        try:
            rows.append(json.loads(line))
        except ValueError:
            pass
rows.sort(key=lambda r: r["t0"])
# --switch: each client's first success among its requests started after B.
recovered = {}
for r in rows:
    if r["ok"] and r["t0"] > b and r["c"] not in recovered:
        recovered[r["c"]] = r["t0"]


def tolerated(r):
    if mode == "--inflight":
        return r["t0"] <= b and r["t1"] >= a
    if mode == "--switch":
        return r["t0"] >= a and (r["t0"] <= b or r["t0"] < recovered.get(r["c"], float("inf")))
    return False


out = {"total": len(rows), "failed": 0, "tolerated": 0, "bad": 0, "after": 0, "after_ok": 0, "max_ms": 0,
       "last_failure": None, "per_op": {}, "statuses": {}, "samples": []}
for r in rows:
    op = out["per_op"].setdefault(r["op"], [0, 0])
    op[0] += 1
    out["max_ms"] = max(out["max_ms"], round((r["t1"] - r["t0"]) * 1000))
    if mode and r["t0"] > b:
        out["after"] += 1
        out["after_ok"] += 1 if r["ok"] else 0
    if r["ok"]:
        continue
    op[1] += 1
    out["failed"] += 1
    out["statuses"][str(r["status"])] = out["statuses"].get(str(r["status"]), 0) + 1
    out["last_failure"] = max(out["last_failure"] or 0, r["t1"])
    if tolerated(r):
        out["tolerated"] += 1
    else:
        out["bad"] += 1
        if len(out["samples"]) < 5:
            out["samples"].append(r)
print(json.dumps(out))
