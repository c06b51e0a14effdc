#!/usr/bin/python3
"""jst-sim-procfs: an animated procfs and cgroup v2 tree with a known truth.

Simulated processes keep a stated number of CPUs busy; the files attribution
reads move as a real kernel would move them, as pure functions of
CLOCK_MONOTONIC since the start (so the truth of any span is exact):

  ROOT/stat                 cpuN lines: a task's CPUs from its own onwards, then
                            the others' load spread over what is left
  ROOT/cpuinfo              --cpus processors (for the estimate backend)
  ROOT/PID/stat             each process: utime = its CPU time so far, its CPU
  CGROOT/PATH/cpu.stat      usage_usec of the processes placed in that cgroup
  CGROOT/PATH/cgroup.procs  their pids

  --task PID:CPUS[:CPU[:CGROUP]]   a process keeping CPUS CPUs busy, last run on CPU
  --task-schedule PID:C1,C2,...@S  instead, task PID keeps C1 CPUs busy for S
                                   seconds, then C2, ..., cycling from the clock's
                                   origin: the shape of sim/powercap's
                                   `steps:W1,W2,...@S`, so that a package's power
                                   can follow the load step for step
  --other CPUS                     busy CPUs that belong to no task (other users)
  --cpus N                         CPUs in the machine (default 8)
  --epoch-ns NS                    the clock's origin: this CLOCK_MONOTONIC instant
                                   (default: the start), such as sim/powercap's
                                   start_ns, so that both simulators' time is one
  --period S                       seconds between updates of the files (default
                                   0.01): how stale a reading may be
  --truth FILE                     written at exit: the origin, max_age_s (the
                                   oldest the files' instant was when they were
                                   replaced: how stale a reading could have been)
                                   and updates: [SHOWN, IN_PLACE] for each update,
                                   seconds of the origin (the instant its counts
                                   are of, and when its files were all in place)

Every count is the integral of the load up to the instant of the update (the
schedule's steps summed whole, the current one in part), the cpuN lines the
same load placed on CPUs, so they agree with the tasks' at every instant.
Times are in clock ticks of --hz (default: this machine's USER_HZ, as joulestat
reads them). Files are replaced whole (rename), never seen half-written.
"""
import argparse
import json
import math
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


def parse_schedule(spec):
    """PID:C1,C2,...@S -> (pid, [C1, C2, ...], S)."""
    try:
        pid, rest = spec.split(":", 1)
        steps, secs = rest.rsplit("@", 1)
        cpus = [float(c) for c in steps.split(",")]
        step_s = float(secs)
        pid = int(pid)
    except ValueError:
        sys.exit("--task-schedule: PID:CPUS,CPUS,...@SECONDS, got " + spec)
    if not (step_s > 0 and math.isfinite(step_s)) or any(
            not (c >= 0 and math.isfinite(c)) for c in cpus):
        sys.exit("--task-schedule: CPUS must be >= 0 and SECONDS > 0, got " + spec)
    return pid, cpus, step_s


class Load:
    """The tasks' CPUs over time and their integrals, exact: the load is
    piecewise constant between the schedules' step boundaries, so each count
    is the sum of whole segments so far and the current one in part."""

    def __init__(self, tasks, other, ncpus):
        self.tasks, self.other, self.ncpus = tasks, other, ncpus
        self.placed = {}
        self.seg_t = 0.0  # start of the current segment
        self.acc_task = [0.0] * len(tasks)  # CPU seconds up to seg_t
        self.acc_cpu = [0.0] * ncpus
        if sum(max(self.levels(t)) for t in tasks) + other > ncpus:
            # Schedules may line their peaks up: refuse what could not run.
            sys.exit("more busy CPUs than the machine has")

    @staticmethod
    def levels(t):
        return t["schedule"] or [t["cpus"]]

    @staticmethod
    def cpus_at(t, seg_t):
        """Task t's CPUs in the segment starting at seg_t."""
        if not t["schedule"]:
            return t["cpus"]
        k = int(math.floor(seg_t / t["step"] + 1e-9))
        return t["schedule"][k % len(t["schedule"])]

    def next_boundary(self, seg_t):
        nxt = math.inf
        for t in self.tasks:
            if t["schedule"]:
                k = math.floor(seg_t / t["step"] + 1e-9) + 1
                nxt = min(nxt, k * t["step"])
        return nxt

    def placement(self, state):
        """Each CPU's busy fraction for the tasks' CPUs in state: each task
        fills CPUs from its own onwards, the others' load spreads over what is
        left, in proportion."""
        if state in self.placed:
            return self.placed[state]
        rate = [0.0] * self.ncpus
        for t, cpus in zip(self.tasks, state):
            left, c = cpus, t["cpu"]
            while left > 1e-12:
                take = min(1.0 - rate[c % self.ncpus], left)
                rate[c % self.ncpus] += take
                left -= take
                c += 1
        free = self.ncpus - sum(rate)
        if free > 0:
            rate = [r + self.other * (1.0 - r) / free for r in rate]
        self.placed[state] = rate
        return rate

    def at(self, el):
        """(each task's CPU seconds, each CPU's busy seconds) at el seconds."""
        if el < self.seg_t:  # an earlier instant (a test's model asks): from the origin
            self.seg_t, self.acc_task, self.acc_cpu = 0.0, [0.0] * len(self.tasks), \
                [0.0] * self.ncpus
        while True:
            state = tuple(self.cpus_at(t, self.seg_t) for t in self.tasks)
            end = self.next_boundary(self.seg_t)
            if el < end:
                break
            span = end - self.seg_t
            for i, c in enumerate(state):
                self.acc_task[i] += c * span
            for c, r in enumerate(self.placement(state)):
                self.acc_cpu[c] += r * span
            self.seg_t = end
        span = max(el - self.seg_t, 0.0)
        rate = self.placement(state)
        return ([a + c * span for a, c in zip(self.acc_task, state)],
                [a + r * span for a, r in zip(self.acc_cpu, rate)])


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--root", required=True)
    ap.add_argument("--cgroup-root")
    ap.add_argument("--cpus", type=int, default=8)
    ap.add_argument("--task", action="append", default=[])
    ap.add_argument("--task-schedule", action="append", default=[])
    ap.add_argument("--other", type=float, default=0.0)
    ap.add_argument("--hz", type=float, default=float(os.sysconf("SC_CLK_TCK")))
    ap.add_argument("--period", type=float, default=0.01, help="seconds between updates")
    ap.add_argument("--epoch-ns", type=int, help="CLOCK_MONOTONIC origin (default: now)")
    ap.add_argument("--ready", help="write this file (start_ns) once the tree is there")
    ap.add_argument("--truth", help="write this file at exit: updates, max_age_s")
    a = ap.parse_args()

    tasks = []
    for spec in a.task:
        parts = spec.split(":")
        if len(parts) < 2:
            sys.exit("--task: PID:CPUS[:CPU[:CGROUP]], got " + spec)
        tasks.append({"pid": int(parts[0]), "cpus": float(parts[1]),
                      "cpu": int(parts[2]) if len(parts) > 2 and parts[2] else 0,
                      "cgroup": parts[3] if len(parts) > 3 else None,
                      "schedule": None, "step": None})
    for spec in a.task_schedule:
        pid, cpus, step_s = parse_schedule(spec)
        t = next((t for t in tasks if t["pid"] == pid), None)
        if t is None:
            sys.exit("--task-schedule: no --task %d" % pid)
        t["schedule"], t["step"] = cpus, step_s
    load = Load(tasks, a.other, a.cpus)
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
    if a.epoch_ns is not None:
        if a.epoch_ns > start:
            sys.exit("--epoch-ns is in the future")
        start = a.epoch_ns
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))

    def update():
        """Write the files for now; the instant they hold, in ns."""
        pending = []
        shown = time.monotonic_ns()
        el = (shown - start) / 1e9
        task_s, cpu_s = load.at(el)
        busy = sum(cpu_s)
        lines = ["cpu  %d 0 0 %d 0 0 0 0 0 0" % (busy * a.hz, (a.cpus * el - busy) * a.hz)]
        for c in range(a.cpus):
            lines.append("cpu%d %d 0 0 %d 0 0 0 0 0 0" % (c, cpu_s[c] * a.hz,
                                                          (el - cpu_s[c]) * a.hz))
        write(os.path.join(a.root, "stat"), "\n".join(lines) + "\nintr 0\nctxt 0\n", pending)
        for t, used in zip(tasks, task_s):
            t["used"] = used
            ut = int(used * a.hz)
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
            usec = int(sum(t["used"] for t in ts) * 1e6)
            write(os.path.join(d, "cpu.stat"),
                  "usage_usec %d\nuser_usec %d\nsystem_usec 0\n" % (usec, usec), pending)
            write(os.path.join(d, "cgroup.procs"), "".join("%d\n" % t["pid"] for t in ts),
                  pending)
        commit(pending)
        return shown

    shown = update()
    if a.ready:
        write(a.ready, json.dumps({"start_ns": start, "hz": a.hz}))
    # The files hold the instant of their update until the next is in place:
    # a reader sees counts that much older than its own instant. Every update
    # is kept, so that a test knows how old the files were at any instant.
    log, max_age = [[(shown - start) / 1e9, (time.monotonic_ns() - start) / 1e9]], 0
    while not stop:
        time.sleep(a.period)
        nxt = update()
        now = time.monotonic_ns()
        max_age = max(max_age, now - shown)
        if len(log) < 100000:  # some 10 minutes at 5 ms
            log.append([(nxt - start) / 1e9, (now - start) / 1e9])
        shown = nxt
    if a.truth:
        write(a.truth, json.dumps({"start_ns": start, "hz": a.hz, "max_age_s": max_age / 1e9,
                                   "updates": log}))


if __name__ == "__main__":
    main()
