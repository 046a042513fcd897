#!/usr/bin/env python3
"""cpu.py STATE_DIR - CPU time (utime + stime, clock ticks) used so far by
the processes of one stack, by kind: "nginx pool postgres" on one line.

A process belongs to the stack when its command line, or its parent's or
grandparent's, names STATE_DIR (nginx workers and PostgreSQL backends do
not name it themselves; their master does).  tests/bench/bench.sh reads it
before and after each wrk run to print the CPU cost of a request by process.
"""
import os
import sys


def main():
    state = sys.argv[1]
    procs = {}
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open("/proc/%s/cmdline" % pid, "rb") as f:
                cmd = f.read().replace(b"\0", b" ").decode(errors="replace")
            with open("/proc/%s/stat" % pid) as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        procs[pid] = (cmd, fields[1], int(fields[11]) + int(fields[12]))
    tot = {"nginx": 0, "pool": 0, "postgres": 0}
    for pid, (cmd, ppid, ticks) in procs.items():
        chain, p = [cmd], ppid
        for _ in range(2):
            if p not in procs:
                break
            chain.append(procs[p][0])
            p = procs[p][1]
        if not any(state in c for c in chain):
            continue
        if cmd.startswith("nginx"):
            tot["nginx"] += ticks
        elif "launcher-fcgi" in cmd:
            tot["pool"] += ticks
        elif cmd.startswith("postgres") or "/postgres " in cmd:
            tot["postgres"] += ticks
    print("%d %d %d" % (tot["nginx"], tot["pool"], tot["postgres"]))


if __name__ == "__main__":
    main()
