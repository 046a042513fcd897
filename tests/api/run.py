"""Runs the API tests: every test_* function of every tests/api/test_*.py
module, in file and definition order, one scenario each.  Prints one line
per test and "api: N passed, N failed" at the end; exit 1 on any failure.
A module that does not import counts as one failed test; so does a filter
that selects no test.

  run.py [substring ...]   only tests whose "file::name" contains one

LAUNCHER_API_ELSEWHERE="test_a.py test_b.py": those modules are run by
another run.py (on a second stack at the same time, tests/api/lane.sh, or
after the browser tests: tests/run.sh): this one prints one "elsewhere"
line for each instead."""
import importlib.util
import inspect
import os
import sys
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))


def main():
    sys.path.insert(0, HERE)
    wanted = sys.argv[1:]
    elsewhere = set(os.environ.get("LAUNCHER_API_ELSEWHERE", "").split())
    passed = failed = skipped = routed = 0
    for fn in sorted(os.listdir(HERE)):
        if not (fn.startswith("test_") and fn.endswith(".py")):
            continue
        if fn in elsewhere:
            print("elsewhere %s: run by another run.py (the second stack's, tests/api/lane.sh,"
                  " or after the browser tests, tests/run.sh)" % fn, flush=True)
            routed += not wanted or any(w.split("::")[0] in fn for w in wanted)
            continue
        spec = importlib.util.spec_from_file_location(fn[:-3], os.path.join(HERE, fn))
        mod = importlib.util.module_from_spec(spec)
        try:
            spec.loader.exec_module(mod)
        except BaseException as e:  # a module that does not import is a failure, never a skip
            if isinstance(e, KeyboardInterrupt):
                raise
            failed += 1
            print("FAIL %s: does not import: %s: %s" % (fn, type(e).__name__, e), flush=True)
            traceback.print_exc(limit=3, file=sys.stdout)
            continue
        tests = [(n, f) for n, f in vars(mod).items()
                 if n.startswith("test_") and inspect.isfunction(f) and f.__module__ == mod.__name__]
        tests.sort(key=lambda t: t[1].__code__.co_firstlineno)
        for name, f in tests:
            full = "%s::%s" % (fn, name)
            if wanted and not any(w in full for w in wanted):
                continue
            t0 = time.time()
            try:
                f()
                passed += 1
                print("ok   %s (%.1fs)" % (full, time.time() - t0), flush=True)
            except Exception as e:  # a test fails on any exception but lib.Skip
                if type(e).__name__ == "Skip":
                    skipped += 1
                    print("skip %s: %s" % (full, e), flush=True)
                    continue
                failed += 1
                print("FAIL %s: %s" % (full, e), flush=True)
                traceback.print_exc(limit=3, file=sys.stdout)
        # What the module started ends with it (lib.at_module_end).
        lib = sys.modules.get("lib")
        for err in (lib.module_end() if lib is not None else []):
            print("note %s: clean-up after the module: %s" % (fn, err), flush=True)
    if wanted and passed + failed + skipped + routed == 0:
        failed += 1  # a filter that selects nothing is a typo, not a pass
        print("FAIL no test matches %s" % " ".join(wanted), flush=True)
    if skipped:
        print("api: %d skipped (reasons above)" % skipped)
    print("api: %d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
