#!/usr/bin/python3
"""tests/lib/sentry_python.py - drives Debian's unmodified python3-sentry-sdk
the way an application uses it: init with a DSN, scope data, captured
exceptions and messages, and an uncaught exception that ends the process (the
SDK's default excepthook integration reports it, its atexit integration
flushes).  Run it as its own process with /usr/bin/python3 (Debian's
package is in its dist-packages); the tests never import sentry_sdk.

    /usr/bin/python3 tests/lib/sentry_python.py '<json config>'

The config is tests/lib/sentry_node.js's: {dsn, ca_certs?, release?, environment?,
server_name?, user?, tags?, breadcrumbs?, actions: [{do: "exception", type,
fn, sites}, {do: "message", text, level?}, {do: "crash", type, fn}]}; type is
a Python exception class name (builtins).  Prints one JSON line per event the
SDK is about to send ({"event_id", "level", "kind"}, from before_send), then
{"flushed": true} after the flush (not after a crash: the process ends
with the uncaught exception, status 1).
"""
import json
import linecache
import sys
import types

import sentry_sdk

CFG = json.loads(sys.argv[1])


def out(obj):
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


def generated(fn, exc_type, sites):
    """The application code: module shop.<fn> whose function fn raises from
    one of `sites` lines, compiled under a fixed file name (its lines in
    linecache, so the SDK reads their context) so that every run gives the
    frames the same module and function; only the line numbers differ."""
    lines = ["def %s(site):" % fn]
    for i in range(sites):
        lines.append("    if site == %d:" % i)
        lines.append("        raise %s('payment declined for order %%d' %% (1000 + site))" % exc_type)
    lines.append("    raise %s('payment declined for order %%d' %% (1000 + site))" % exc_type)
    src = "\n".join(lines) + "\n"
    name = "shop.%s" % fn
    filename = "/srv/shop/%s.py" % fn
    linecache.cache[filename] = (len(src), None, src.splitlines(True), filename)
    mod = types.ModuleType(name)
    mod.__file__ = filename
    exec(compile(src, filename, "exec"), mod.__dict__)
    return getattr(mod, fn)


def before_send(event, hint):
    values = (event.get("exception") or {}).get("values") or []
    out({"event_id": event.get("event_id"), "level": event.get("level"),
         "kind": values[-1].get("type") if values else "message"})
    return event


def main():
    sentry_sdk.init(dsn=CFG["dsn"], ca_certs=CFG.get("ca_certs"), release=CFG.get("release"),
                    environment=CFG.get("environment"),
                    server_name=CFG.get("server_name"), before_send=before_send)
    if CFG.get("user"):
        sentry_sdk.set_user(CFG["user"])
    for k, v in (CFG.get("tags") or {}).items():
        sentry_sdk.set_tag(k, v)
    for m in CFG.get("breadcrumbs") or []:
        sentry_sdk.add_breadcrumb(category="shop", message=m, level="info")
    crash = None
    for a in CFG["actions"]:
        if a["do"] == "exception":
            f = generated(a["fn"], a["type"], a.get("sites", 1))
            for i in range(a.get("sites", 1)):
                try:
                    f(i)
                except Exception as e:  # noqa: BLE001 - any: the SDK's to report
                    sentry_sdk.capture_exception(e)
        elif a["do"] == "message":
            sentry_sdk.capture_message(a["text"], level=a.get("level", "info"))
        elif a["do"] == "crash":
            crash = a
    sentry_sdk.flush(timeout=10)
    if crash is None:
        out({"flushed": True})
        return
    generated(crash["fn"], crash["type"], 1)(0)


if __name__ == "__main__":
    main()
