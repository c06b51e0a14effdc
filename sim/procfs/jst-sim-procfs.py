#!/usr/bin/python3
"""jst-sim-procfs: an animated procfs and cgroup v2 tree with a known truth.

Simulated processes keep a stated number of CPUs busy; the files attribution
reads move as a real kernel would move them, as pure functions of
CLOCK_MONOTONIC since the start (so the truth of any span is exact):

  ROOT/stat                 cpuN lines: each CPU's share of all the busy time
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


def write(path, text):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write(text)
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
    os.makedirs(a.root, exist_ok=True)
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
        el = (time.monotonic_ns() - start) / 1e9
        per_cpu_busy = busy_cpus / a.cpus * el * a.hz
        idle = (1 - busy_cpus / a.cpus) * el * a.hz
        lines = ["cpu  %d 0 0 %d 0 0 0 0 0 0" % (per_cpu_busy * a.cpus, idle * a.cpus)]
        for c in range(a.cpus):
            lines.append("cpu%d %d 0 0 %d 0 0 0 0 0 0" % (c, per_cpu_busy, idle))
        write(os.path.join(a.root, "stat"), "\n".join(lines) + "\nintr 0\nctxt 0\n")
        for t in tasks:
            ut = int(t["cpus"] * el * a.hz)
            fields = ["S", "1", str(t["pid"]), str(t["pid"]), "0", "-1", "0", "0", "0", "0",
                      "0", str(ut), "0", "0", "0", "20", "0", "1", "0", "1000", "0", "0",
                      "0", "0", "0", "0", "0", "0", "0", "0", "0", "0", "0", "0", "17",
                      str(t["cpu"]), "0", "0", "0", "0", "0"]
            write(os.path.join(a.root, str(t["pid"]), "stat"),
                  "%d (sim task) %s\n" % (t["pid"], " ".join(fields)))
        for path, ts in cgroups.items():
            d = os.path.join(a.cgroup_root, path.strip("/"))
            usec = int(sum(t["cpus"] for t in ts) * el * 1e6)
            write(os.path.join(d, "cpu.stat"),
                  "usage_usec %d\nuser_usec %d\nsystem_usec 0\n" % (usec, usec))
            write(os.path.join(d, "cgroup.procs"), "".join("%d\n" % t["pid"] for t in ts))

    update()
    if a.ready:
        write(a.ready, json.dumps({"start_ns": start, "hz": a.hz}))
    while not stop:
        time.sleep(a.period)
        update()


if __name__ == "__main__":
    main()
