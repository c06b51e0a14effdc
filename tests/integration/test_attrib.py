"""joulestat run --attribute, --pid, --cgroup against sim/procfs (an animated
procfs and cgroup v2 tree), sim/powercap and sim/nvml: simulated processes at
known CPU and GPU shares get their share of the energy above idle (the bar:
3:1 within 2% of the split of the package's dynamic energy), on the package
they ran on; idle apart; the same in JSON, CSV and text; the command's own
process tree on the real /proc; the estimate saying it covers every process;
bad arguments refused."""
import csv
import io
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import (REPO, EmptyMachine, PowercapSim, binary, run_joulestat,  # noqa: E402
                    wait_for_file)

SIM_PROCFS = os.environ.get("SIM_PROCFS",
                            os.path.join(REPO, "sim", "procfs", "jst-sim-procfs.py"))


class ProcfsSim:
    """sim/procfs in a temporary directory: ROOT (procfs) and CGROOT (cgroups).
    extra: more of its options (--task-schedule, --epoch-ns, --period); its
    truth (the files' oldest age) is in self.truth once it has stopped."""

    def __init__(self, *tasks, cpus=8, other=0.0, extra=()):
        self.args = ["--cpus", str(cpus), "--other", str(other)] + list(extra)
        for t in tasks:
            self.args += ["--task", t]
        self.truth = None

    def __enter__(self):
        self.dir = tempfile.mkdtemp(prefix="jst-procfs-")
        self.root = os.path.join(self.dir, "proc")
        self.cgroot = os.path.join(self.dir, "cgroup")
        ready = os.path.join(self.dir, "ready.json")
        self.truth_path = os.path.join(self.dir, "truth.json")
        self.log = open(os.path.join(self.dir, "sim.log"), "w+")
        self.proc = subprocess.Popen(
            ["/usr/bin/python3", SIM_PROCFS, "--root", self.root, "--cgroup-root", self.cgroot,
             "--ready", ready, "--truth", self.truth_path] + self.args,
            stdout=self.log, stderr=subprocess.STDOUT)
        wait_for_file(ready, 30, self.proc)
        with open(ready) as f:
            self.start_ns = json.load(f)["start_ns"]
        return self

    def __exit__(self, *exc):
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        if os.path.exists(self.truth_path):
            with open(self.truth_path) as f:
                self.truth = json.load(f)
        self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)
        return False


def attribute(env, args, seconds=2.0, backends="rapl"):
    """`joulestat run ARGS --json - -- sleep SECONDS`: (CompletedProcess, the run's JSON)."""
    proc = run_joulestat(["run", "--backends", backends, "--json", "-"] + list(args) +
                         ["--", "sleep", str(seconds)], env=env, timeout=120)
    if proc.returncode != 0:
        raise AssertionError("joulestat failed (%d): %s" % (proc.returncode, proc.stderr))
    return proc, json.loads(proc.stdout)["runs"][0]


def figure(attr, target, domain):
    t = next(t for t in attr["targets"] if t["target"] == target)
    return next(d for d in t["domains"] if d["domain"] == domain)


def domain(attr, name):
    return next(d for d in attr["domains"] if d["name"] == name)


class Attribution(unittest.TestCase):
    def test_three_to_one_cpu(self):
        """Two processes on 3 and 1 of 8 CPUs of a 45 W package idling at 15 W
        (given), nothing else busy: 3:1 of (45 - 15) W x the duration, within
        2% each, on the simulator's truth; idle by CPUs over capacity."""
        with PowercapSim(packages=1, no_dram=True, trace="const:45",
                         cpus_per_package=8) as pc, \
                ProcfsSim("1001:3:0", "1002:1:3", cpus=8) as pf:
            env = pc.env(JOULESTAT_PROCFS_ROOT=pf.root)
            _, run = attribute(env, ["--pid", "1001", "--pid", "1002",
                                     "--option", "attribute.idle-w=15"])
        a = run["attribution"]
        dur = a["duration_s"]
        pkg = domain(a, "package-0")
        self.assertAlmostEqual(pkg["energy_j"], 45 * dur, delta=0.01 * 45 * dur)
        self.assertEqual(pkg["idle_source"], "given")
        self.assertAlmostEqual(pkg["idle_j"], 15 * dur, delta=1e-6)
        truth_dynamic = (45 - 15) * dur
        for pid, share, cpus in (("pid:1001", 0.75, 3), ("pid:1002", 0.25, 1)):
            f = figure(a, pid, "package-0")
            self.assertAlmostEqual(f["energy_j"], share * truth_dynamic,
                                   delta=0.02 * share * truth_dynamic, msg=pid)
            self.assertAlmostEqual(f["share"], share, delta=0.02 * share, msg=pid)
            self.assertAlmostEqual(f["work_s"], cpus * dur, delta=0.05 * cpus * dur, msg=pid)
            self.assertAlmostEqual(f["idle_j"], 15 * dur * cpus / 8,
                                   delta=0.05 * 15 * dur * cpus / 8, msg=pid)
            # Wider than the package's own class, and stated.
            self.assertGreater(f["accuracy"], 0.05)
            self.assertGreaterEqual(f["uncertainty_j"], f["accuracy"] * f["energy_j"] * 0.99)
        # Read a moment apart, the targets may show a little more than all
        # the busy time; never more than the 2% the bar allows.
        both = sum(figure(a, p, "package-0")["energy_j"] for p in ("pid:1001", "pid:1002"))
        self.assertLessEqual(both, pkg["dynamic_j"] * 1.02)

    def test_packages_and_other_load(self):
        """Two packages: each process is charged on the package it ran on and
        nothing on the other; with others' load beside it, its share is its
        part of the busy time (3 of 3 + 1 on package 0)."""
        with PowercapSim(packages=2, trace="const:40", cpus_per_package=4) as pc, \
                ProcfsSim("1001:3:0", "1002:1:4", cpus=8, other=1) as pf:
            env = pc.env(JOULESTAT_PROCFS_ROOT=pf.root)
            _, run = attribute(env, ["--pid", "1001", "--pid", "1002",
                                     "--option", "attribute.idle-w=10"])
        a = run["attribution"]
        self.assertEqual({d["name"] for d in a["domains"]},
                         {"package-0", "package-1", "dram-0", "dram-1"})
        # The other load spreads over the free capacity: 1 of 4 free CPUs on
        # package 0 takes 1/4 of it, package 1's 3 free CPUs take 3/4.
        busy0, busy1 = 3 + 0.25, 1 + 0.75
        # 3%, not the 3:1 bar's 2% (test_three_to_one_cpu): a task on 1 CPU
        # beside 0.75 of others' load counts 20 jiffies a 0.2 s tick against
        # 35, each whole, so a tick's split is good to some 5%; a loaded
        # machine spreads the ticks unevenly and the ten of a 2 s run kept up
        # to 2.6% of it (seen under 6 tests at once).
        for pid, pkg, share in (("pid:1001", "package-0", 3 / busy0),
                                ("pid:1002", "package-1", 1 / busy1)):
            f = figure(a, pid, pkg)
            self.assertAlmostEqual(f["share"], share, delta=0.03 * share, msg=pid)
            other = "package-1" if pkg == "package-0" else "package-0"
            self.assertEqual(figure(a, pid, other)["energy_j"], 0, msg=pid)
            dram = figure(a, pid, pkg.replace("package", "dram"))
            self.assertAlmostEqual(dram["share"], share, delta=0.03 * share, msg=pid)
            self.assertGreater(dram["accuracy"], f["accuracy"])  # DRAM is a model

    def test_cgroup_and_outputs(self):
        """--cgroup: the cgroup's usage_usec; the figures in CSV rows and the
        text table, the same as in the JSON."""
        with PowercapSim(packages=1, no_dram=True, trace="const:45",
                         cpus_per_package=8) as pc, \
                ProcfsSim("1001:3:0:/job", "1002:1:3:/other", cpus=8) as pf:
            env = pc.env(JOULESTAT_PROCFS_ROOT=pf.root)
            tmp = tempfile.mkdtemp(prefix="jst-attr-out-")
            try:
                j, c = os.path.join(tmp, "a.json"), os.path.join(tmp, "a.csv")
                proc = run_joulestat(
                    ["run", "--backends", "rapl", "--cgroup", "/job", "--json", j, "--csv", c,
                     "--option", "attribute.cgroup-root=" + pf.cgroot,
                     "--option", "attribute.idle-w=package-0:15", "--", "sleep", "2"],
                    env=env, timeout=120)
                self.assertEqual(proc.returncode, 0, proc.stderr)
                with open(j) as f:
                    a = json.load(f)["runs"][0]["attribution"]
                with open(c) as f:
                    rows = list(csv.DictReader(f))
            finally:
                shutil.rmtree(tmp, ignore_errors=True)
        f = figure(a, "cgroup:/job", "package-0")
        self.assertAlmostEqual(f["share"], 0.75, delta=0.02 * 0.75)
        attributed = [r for r in rows if r["type"] == "attributed"]
        self.assertEqual(len(attributed), 1)
        r = attributed[0]
        self.assertEqual((r["name"], r["parent"], r["window"]),
                         ("cgroup:/job", "package-0", "run-1"))
        self.assertAlmostEqual(float(r["energy_j"]), f["energy_j"], delta=1e-6)
        self.assertAlmostEqual(float(r["uncertainty_j"]), f["uncertainty_j"], delta=1e-6)
        idle = [r for r in rows if r["type"] == "idle"]
        self.assertEqual(idle[0]["note"], "given")
        self.assertAlmostEqual(float(idle[0]["avg_power_w"]), 15, delta=1e-9)
        ai = [r for r in rows if r["type"] == "attributed-idle"]
        self.assertAlmostEqual(float(ai[0]["energy_j"]), f["idle_j"], delta=1e-6)
        self.assertIn("Attributed", proc.stderr)
        self.assertIn("cgroup:/job", proc.stderr)

    def test_gpu(self):
        """GPU energy above idle by the processes' SM samples (sim/nvml): 60%
        and 20% SM are 3:1 of the dynamic energy; a process on the GPU that
        is no target's takes its part away."""
        with ProcfsSim("1001:1:0", "1002:1:1", "1003:1:2", cpus=4) as pf:
            env = dict(os.environ, JOULESTAT_PROCFS_ROOT=pf.root,
                       JOULESTAT_NVML_LIBRARY=os.environ.get("SIM_NVML", ""),
                       JSTSIM_NVML_TRACE="const:300",
                       JSTSIM_NVML_PROCS="0:1001:60,0:1002:20,0:1003:20")
            if not env["JOULESTAT_NVML_LIBRARY"]:
                self.skipTest("SIM_NVML not set")
            _, run = attribute(env, ["--pid", "1001", "--pid", "1002",
                                     "--option", "attribute.idle-w=gpu0:100"], backends="nvml")
        a = run["attribution"]
        gpu = domain(a, "gpu0")
        self.assertEqual(gpu["idle_source"], "given")
        dyn = gpu["dynamic_j"]
        # The GPU's own figure (a counter refreshed every 100 ms) is held to
        # its truth elsewhere (test_nvml); here only that idle came off.
        self.assertAlmostEqual(dyn, 200 * a["duration_s"], delta=0.05 * 300 * a["duration_s"])
        self.assertAlmostEqual(figure(a, "pid:1001", "gpu0")["energy_j"], 0.6 * dyn,
                               delta=0.02 * 0.6 * dyn)
        self.assertAlmostEqual(figure(a, "pid:1002", "gpu0")["energy_j"], 0.2 * dyn,
                               delta=0.02 * 0.2 * dyn)
        self.assertAlmostEqual(figure(a, "pid:1001", "gpu0")["idle_j"],
                               0.6 * gpu["idle_j"], delta=0.02 * 0.6 * gpu["idle_j"])

    def test_command_tree(self):
        """--attribute on the real /proc: the command's tree, a child reaped
        by the shell included, is charged its CPU time; no idle given and a
        steady load: the idle is said not to be separated."""
        loop = "i=0; while [ $i -lt 60000 ]; do i=$((i+1)); done"
        with PowercapSim(packages=1, no_dram=True, trace="const:45") as pc:
            proc = run_joulestat(["run", "--backends", "rapl", "--attribute", "--json", "-",
                                  "--", "sh", "-c", "(%s); %s" % (loop, loop)],
                                 env=pc.env(), timeout=120)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        a = json.loads(proc.stdout)["runs"][0]["attribution"]
        f = figure(a, "command", "package-0")
        ncpu = os.cpu_count() or 1
        self.assertGreater(f["work_s"], 0.05)
        self.assertLessEqual(f["work_s"], a["duration_s"] * ncpu * 1.05)
        self.assertGreater(f["energy_j"], 0)
        self.assertLessEqual(f["energy_j"], domain(a, "package-0")["dynamic_j"] * 1.000001)
        if domain(a, "package-0")["idle_source"] == "none":
            self.assertIn("idle power not separated", a["note"])

    def test_estimate_covers_every_process(self):
        """The estimate on a busy machine (6 of 8 CPUs busy with others' work):
        the run says its figure covers every process, and so does --attribute."""
        with EmptyMachine() as m, ProcfsSim("1001:2:0", cpus=8, other=4) as pf:
            env = m.env(JOULESTAT_PROCFS_ROOT=pf.root)
            proc = run_joulestat(["run", "--json", "-", "--", "sleep", "0.5"], env=env,
                                 timeout=60)
            self.assertEqual(proc.returncode, 0, proc.stderr)
            self.assertIn("the estimate covers every process", proc.stderr)
            self.assertIn("the estimate covers every process",
                          json.loads(proc.stdout)["runs"][0]["note"])
            # Quiet: no table, so no note either; the JSON still has it.
            proc = run_joulestat(["run", "-q", "--", "sleep", "0.2"], env=env, timeout=60)
            self.assertEqual(proc.stderr, "")
            _, run = attribute(env, ["--pid", "1001"], seconds=1, backends="estimate")
        a = run["attribution"]
        self.assertIn("covers every process", a["note"])
        self.assertAlmostEqual(figure(a, "pid:1001", "cpu")["share"], 2 / 6, delta=0.02)

    def test_bad_arguments(self):
        """Bad values are usage errors (2); a process that is not there fails
        before the command runs (125)."""
        with ProcfsSim("1001:1:0", cpus=2) as pf:
            env = dict(os.environ, JOULESTAT_PROCFS_ROOT=pf.root)
            for args in (["--pid", "0"], ["--pid", "x"], ["--cgroup", "../etc"],
                         ["--pid", "1001", "--option", "attribute.idle-w=lots"],
                         ["--pid", "1001", "--option", "attribute.nope=1"],
                         ["--pid", "1001", "--option", "attribute.period-ms=1"]):
                proc = run_joulestat(["run"] + args + ["--", "true"], env=env)
                self.assertEqual(proc.returncode, 2, (args, proc.stderr))
            proc = run_joulestat(["run", "--pid", "4242", "--", "true"], env=env)
            self.assertEqual(proc.returncode, 125, proc.stderr)
            self.assertIn("no process 4242", proc.stderr)
            self.assertIn(pf.root, proc.stderr)
            # procfs.root read as the library reads it, from JOULESTAT_OPTIONS too.
            env = dict(os.environ, JOULESTAT_OPTIONS="period_ms=100,procfs.root=" + pf.root)
            env.pop("JOULESTAT_PROCFS_ROOT", None)
            proc = run_joulestat(["run", "--pid", "4242", "--", "true"], env=env)
            self.assertEqual(proc.returncode, 125, proc.stderr)
            self.assertIn("no process 4242 in " + pf.root, proc.stderr)


if __name__ == "__main__":
    # One at a time: the shares are of CPU time the machine gives the
    # simulated processes, which other tests' runs beside them would take.
    unittest.main()
