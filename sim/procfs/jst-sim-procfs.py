#!/usr/bin/python3
"""jst-sim-procfs: an animated procfs and cgroup v2 tree with a known truth.

Simulated processes keep a stated number of CPUs busy; the files attribution
reads move as a real kernel would move them, as pure functions of
CLOCK_MONOTONIC since the start (so the truth of any span is exact):

  ROOT/stat                 cpuN lines: a task's CPUs from its own onwards, then
                            the others' load spread over what is left
  ROOT/cpuinfo              --cpus processors (for the estimate backend)
  ROOT/PID/stat             each process: utime = its CPUs x elapsed, its CPU
  CGROOT/PATH/cpu.stat      usage_usec of the processes placed in that cgroup
  CGROOT/PATH/cgroup.procs  their pids

  --task PID:CPUS[:CPU[:CGROUP]]   a process keeping CPUS CPUs busy, last run on CPU
  --other CPUS                     busy CPUs that belong to no task (other users)
  --cpus N                         CPUs in the machine (default 8)

Times are in clock ticks of --hz (default: this machine's USER_HZ, as joulestat
reads them). Files are replaced whole (rename), never seen half-written.
"""
import argparse
import json
import os
import signal
import sys
import time


def write(path, text, pending=None):
    """Write path whole; with pending, only its temporary, renamed by commit()."""
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write(text)
    if pending is None:
        os.replace(tmp, path)
    else:
        pending.append((tmp, path))


def commit(pending):
    """Put every file of one instant in place at once: a reader between two
    renames sees two instants a few microseconds apart, not the time it took
    to write them all."""
    for tmp, path in pending:
        os.replace(tmp, path)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--root", required=True)
    ap.add_argument("--cgroup-root")
    ap.add_argument("--cpus", type=int, default=8)
    ap.add_argument("--task", action="append", default=[])
    ap.add_argument("--other", type=float, default=0.0)
    ap.add_argument("--hz", type=float, default=float(os.sysconf("SC_CLK_TCK")))
    ap.add_argument("--period", type=float, default=0.01, help="seconds between updates")
    ap.add_argument("--ready", help="write this file (start_ns) once the tree is there")
    a = ap.parse_args()

    tasks = []
    for spec in a.task:
        parts = spec.split(":")
        if len(parts) < 2:
            sys.exit("--task: PID:CPUS[:CPU[:CGROUP]], got " + spec)
        tasks.append({"pid": int(parts[0]), "cpus": float(parts[1]),
                      "cpu": int(parts[2]) if len(parts) > 2 and parts[2] else 0,
                      "cgroup": parts[3] if len(parts) > 3 else None})
    busy_cpus = sum(t["cpus"] for t in tasks) + a.other
    if busy_cpus > a.cpus:
        sys.exit("more busy CPUs than the machine has")
    # Where the busy time falls: each task fills CPUs from its own onwards,
    # the others' load spreads over what is left, in proportion.
    rate = [0.0] * a.cpus
    for t in tasks:
        left, c = t["cpus"], t["cpu"]
        while left > 1e-12:
            take = min(1.0 - rate[c % a.cpus], left)
            rate[c % a.cpus] += take
            left -= take
            c += 1
    free = a.cpus - sum(rate)
    if free > 0:
        rate = [r + a.other * (1.0 - r) / free for r in rate]
    os.makedirs(a.root, exist_ok=True)
    write(os.path.join(a.root, "cpuinfo"), "".join(
        "processor\t: %d\nvendor_id\t: GenuineIntel\ncpu family\t: 6\nmodel\t\t: 85\n"
        "model name\t: Intel(R) Xeon(R) Gold 6148 CPU @ 2.40GHz (sim)\n\n" % c
        for c in range(a.cpus)))
    for t in tasks:
        os.makedirs(os.path.join(a.root, str(t["pid"])), exist_ok=True)
    cgroups = {}
    for t in tasks:
        if t["cgroup"]:
            cgroups.setdefault(t["cgroup"], []).append(t)
    for path in cgroups:
        os.makedirs(os.path.join(a.cgroup_root, path.strip("/")), exist_ok=True)

    start = time.monotonic_ns()
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))

    def update():
        pending = []
        el = (time.monotonic_ns() - start) / 1e9
        lines = ["cpu  %d 0 0 %d 0 0 0 0 0 0" % (busy_cpus * el * a.hz,
                                                 (a.cpus - busy_cpus) * el * a.hz)]
        for c in range(a.cpus):
            lines.append("cpu%d %d 0 0 %d 0 0 0 0 0 0" % (c, rate[c] * el * a.hz,
                                                          (1 - rate[c]) * el * a.hz))
        write(os.path.join(a.root, "stat"), "\n".join(lines) + "\nintr 0\nctxt 0\n", pending)
        for t in tasks:
            ut = int(t["cpus"] * el * a.hz)
            # proc(5) fields 3 to 44: state, ppid, ..., utime (14), ...,
            # starttime (22), ..., processor (39).
            fields = ["0"] * 42
            fields[3 - 3], fields[4 - 3] = "S", "1"
            fields[14 - 3] = str(ut)
            fields[22 - 3] = "1000"
            fields[39 - 3] = str(t["cpu"])
            write(os.path.join(a.root, str(t["pid"]), "stat"),
                  "%d (sim task) %s\n" % (t["pid"], " ".join(fields)), pending)
        for path, ts in cgroups.items():
            d = os.path.join(a.cgroup_root, path.strip("/"))
            usec = int(sum(t["cpus"] for t in ts) * el * 1e6)
            write(os.path.join(d, "cpu.stat"),
                  "usage_usec %d\nuser_usec %d\nsystem_usec 0\n" % (usec, usec), pending)
            write(os.path.join(d, "cgroup.procs"), "".join("%d\n" % t["pid"] for t in ts),
                  pending)
        commit(pending)

    update()
    if a.ready:
        write(a.ready, json.dumps({"start_ns": start, "hz": a.hz}))
    while not stop:
        time.sleep(a.period)
        update()


if __name__ == "__main__":
    main()
