"""The attribution's idle fit end to end: sim/procfs keeps a load that steps in
time (--task-schedule) and sim/powercap draws idle + slope x busy CPUs in step
with it (a `steps:` trace of the same period, from the same CLOCK_MONOTONIC
origin: --epoch-ns is powercap's start_ns), so the idle power a fit should find
and every target's energy above it are known exactly.

The tolerances are not guessed: a model of joulestat's arithmetic (the fit of
attrib_model.c, the per-tick shares of attrib.c) is run over the same ticks on
the simulators' exact counts, and each figure's bound is how far it can move
when every reading is off by what it may be off by: each count by its
whole-clock-tick quantisation (half a tick either way of the mean), the counts'
instant by joulestat's reading after the rotation (up to 3 ms: it reads again
when a reading took longer) and by the age of the procfs files then (the
simulator logs every update: how old its files were at any instant), the
energy's edge by the powercap counter's refresh and lateness (which it reports). The
bound is the sum of each error's worst-case effect, to first order, taken all
in the worst direction at once: no run can be further off unless a reading is
off by more than that.
"""
import bisect
import csv
import importlib.util
import json
import os
import shutil
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import PowercapSim, run_joulestat  # noqa: E402
from test_attrib import SIM_PROCFS, ProcfsSim, domain, figure  # noqa: E402

# How late joulestat's reading of procfs may be after the rotation that ends a
# tick's energy: it reads again (up to four times) when one took over 3 ms.
READ_LAG_S = 0.003
# The procfs simulator's update period here: its files are this old, plus
# the time an update takes, plus its lateness (it logs every update).
PROCFS_PERIOD_S = 0.005
# The fit's threshold (attrib_model.h JST_ATTR_FIT_RES and the 0.2 of variation).
FIT_MIN_VARIATION = 0.2


def sim_module():
    spec = importlib.util.spec_from_file_location("jst_sim_procfs", SIM_PROCFS)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


SIM = sim_module()


class Shape:
    """A package of ncpu CPUs drawing idle_w + slope_w per busy CPU; steady
    tasks [(pid, cpus, first cpu)] and one task whose CPUs step through levels,
    each for step_s seconds, cycling."""

    def __init__(self, ncpu, idle_w, slope_w, steady, sched, levels, step_s):
        self.ncpu, self.idle_w, self.slope_w = ncpu, idle_w, slope_w
        self.steady, self.sched, self.levels, self.step_s = steady, sched, levels, step_s
        base = sum(c for _, c, _ in steady)
        self.busy_levels = [base + lv for lv in levels]
        self.tasks = [{"pid": p, "cpus": c, "cpu": cpu, "cgroup": None, "schedule": None,
                       "step": None} for p, c, cpu in steady]
        pid, cpu = sched
        self.tasks.append({"pid": pid, "cpus": 0, "cpu": cpu, "cgroup": None,
                           "schedule": levels, "step": step_s})
        self.load = SIM.Load(self.tasks, 0.0, ncpu)

    def trace(self):
        """sim/powercap's trace: the package's power in each step."""
        return "steps:%s@%r" % (",".join(repr(self.idle_w + self.slope_w * n)
                                         for n in self.busy_levels), self.step_s)

    def procfs_args(self, epoch_ns, packages=1):
        """sim/procfs's options: the schedule (on each package's copy of the
        job: pids + 1000, CPUs + ncpu per package) and the clock."""
        out = []
        for k in range(packages):
            out += ["--task-schedule", "%d:%s@%r" % (
                self.sched[0] + 1000 * k, ",".join(repr(x) for x in self.levels), self.step_s)]
        return out + ["--epoch-ns", str(epoch_ns), "--period", repr(PROCFS_PERIOD_S)]

    def task_specs(self, packages=1):
        return ["%d:%r:%d" % (p + 1000 * k, c, cpu + self.ncpu * k)
                for k in range(packages) for p, c, cpu in
                self.steady + [(self.sched[0], 0, self.sched[1])]]

    def variation(self):
        """The utilisation's swing between the least and most busy steps."""
        return (max(self.busy_levels) - min(self.busy_levels)) / self.ncpu

    def counts(self, t):
        """(each CPU's, each task's) busy seconds at t seconds of the origin."""
        task_s, cpu_s = self.load.at(t)
        return cpu_s, task_s

    def energy(self, t0, t1, scale):
        """A zone's exact energy over [t0, t1] (scale: its part of the trace)."""
        b0, b1 = sum(self.counts(t0)[0]), sum(self.counts(t1)[0])
        return scale * (self.idle_w * (t1 - t0) + self.slope_w * (b1 - b0))


def model(shape, begin, dur, period, hz, fit, scale, eta=None, rho=None, sigma=None,
          tau=None, ticks_only=False):
    """joulestat's figures for one domain over ticks of `period` from `begin`
    (seconds of the origin) for `dur`, with each reading perturbed: eta[j][k]
    the part of a clock tick counter k (the CPUs', then the tasks') lost to
    its whole ticks at reading j, rho[j] the reading's lag after the rotation,
    sigma[j] the age of the files it read, tau[j] how far behind the rotation
    the energy counter was. Returns (idle W, dynamic J, busy s, then each
    task's energy J and work s, then each task's share of the dynamic J)."""
    n = int(dur / period + 1e-9)
    r = [begin + j * period for j in range(n + 1)]
    if begin + dur > r[-1] + 1e-6:
        r.append(begin + dur)
    if ticks_only:
        return r
    m = len(r)
    eta = eta or [[0.0] * (shape.ncpu + len(shape.tasks)) for _ in range(m)]
    rho, sigma, tau = rho or [0.0] * m, sigma or [0.0] * m, tau or [0.0] * m
    q = [r[j] + rho[j] for j in range(m)]  # when joulestat read the counts
    cnt = []
    for j in range(m):
        cpu_s, task_s = shape.counts(q[j] - sigma[j])
        cnt.append([hz * x - e for x, e in zip(cpu_s + task_s, eta[j])])
    edge = [r[j] - tau[j] for j in range(m)]
    nc = shape.ncpu
    fw = su = suu = sp = sup = 0.0
    tot_e = tot_dt = tot_busy = 0.0
    es = [0.0] * len(shape.tasks)
    dts = [0.0] * len(shape.tasks)
    work = [0.0] * len(shape.tasks)
    for k in range(1, m):
        dt, pdt = r[k] - r[k - 1], q[k] - q[k - 1]
        e = shape.energy(edge[k - 1], edge[k], scale)
        busy = sum(cnt[k][c] - cnt[k - 1][c] for c in range(nc)) / hz
        tot_e, tot_dt, tot_busy = tot_e + e, tot_dt + dt, tot_busy + busy * dt / pdt
        if 1 / (hz * pdt) <= 0.1:
            u, p = busy / (nc * pdt), e / dt
            fw, su, suu, sp, sup = fw + dt, su + dt * u, suu + dt * u * u, sp + dt * p, \
                sup + dt * u * p
        for i in range(len(shape.tasks)):
            w = (cnt[k][nc + i] - cnt[k - 1][nc + i]) / hz
            if w > 0:
                share = w / max(busy, w)
                es[i] += e * pdt / dt * share
                dts[i] += pdt * share
                work[i] += w
    idle = 0.0
    if fit:
        mu, mp = su / fw, sp / fw
        idle = mp - (sup / fw - mu * mp) / (suu / fw - mu * mu) * mu
    out = [idle, tot_e - idle * tot_dt, tot_busy]
    for i in range(len(shape.tasks)):
        out += [es[i] - idle * dts[i], work[i]]
    return out + [(es[i] - idle * dts[i]) / out[1] for i in range(len(shape.tasks))]


def age_range(updates, max_age, x0, x1):
    """How old sim/procfs's files were at instants x0 to x1 (seconds of the
    origin): (least, most), from its log of [shown, in place] per update."""
    placed = [u[1] for u in updates]
    i = bisect.bisect_right(placed, x0) - 1
    if i < 0:
        return 0.0, max_age  # before its log began: only its worst is known
    ages = [x0 - updates[i][0]]
    for k in range(i + 1, bisect.bisect_right(placed, x1)):
        ages += [placed[k] - updates[k - 1][0], placed[k] - updates[k][0]]
        i = k
    ages.append(x1 - updates[i][0])
    return min(ages), max(ages)


def bounds(shape, begin, dur, period, hz, fit, scale, timing):
    """Each of model()'s figures: (exact value, how far a run may be from it)."""
    r = model(shape, begin, dur, period, hz, fit, scale, ticks_only=True)
    m = len(r)
    nk = shape.ncpu + len(shape.tasks)
    exact = model(shape, begin, dur, period, hz, fit, scale)
    # Counters that never move (a CPU no task reaches) lose nothing to ticks.
    moving = [x > 0 for x in sum(map(list, shape.counts(begin + dur)), [])]
    ages = [age_range(timing["updates"], timing["max_age_s"], x, x + READ_LAG_S) for x in r]
    lag = timing["energy_lag_s"]
    center = {"eta": [[0.5 if moving[k] else 0.0 for k in range(nk)] for _ in range(m)],
              "rho": [READ_LAG_S / 2] * m, "sigma": [(lo + hi) / 2 for lo, hi in ages],
              "tau": [lag / 2] * m}
    half = {"eta": [0.5] * m, "rho": [READ_LAG_S / 2] * m,
            "sigma": [(hi - lo) / 2 for lo, hi in ages], "tau": [lag / 2] * m}
    base = model(shape, begin, dur, period, hz, fit, scale, **center)
    err = [abs(b - x) for b, x in zip(base, exact)]
    for name, hw in half.items():
        for j in range(m):
            for k in range(nk if name == "eta" else 1):
                if name == "eta" and not moving[k]:
                    continue
                step = 1e-3 if name == "eta" else 1e-6
                worst = [0.0] * len(err)
                for sign in (1, -1):
                    v = json.loads(json.dumps(center))
                    if name == "eta":
                        v["eta"][j][k] += sign * step
                    else:
                        v[name][j] += sign * step
                    got = model(shape, begin, dur, period, hz, fit, scale, **v)
                    worst = [max(w, abs(g - b) / step) for w, g, b in zip(worst, got, base)]
                err = [e + hw[j] * w for e, w in zip(err, worst)]
    return exact, err


def read_text_domains(text):
    """The text's domain rows (below 'measured J'): name -> their cells."""
    rows, on = {}, False
    for line in text.splitlines():
        if "measured J" in line and "idle from" in line:
            on = True
            continue
        if on:
            f = line.split()
            if len(f) != 6:
                break
            rows[f[0]] = dict(zip(("measured", "idle_w", "idle_j", "dynamic", "from"), f[1:]))
    return rows


class IdleFit(unittest.TestCase):
    PERIOD = 0.2  # attribute.period-ms's default

    # Runs of whole ticks and a few ms: the last tick, too short for the fit
    # (its utilisation is coarser than 0.1), is left out by the model too.
    def measure(self, shape, seconds, dram=False, packages=1):
        """Run `joulestat run --pid ...` on the shape (a copy of the job on
        each package); the run's JSON, the bounds' inputs (begin, the files'
        updates, energy lag), the text (stderr) and the CSV rows."""
        pids = [str(t["pid"] + 1000 * k) for k in range(packages) for t in shape.tasks]
        with PowercapSim(packages=packages, no_dram=not dram, trace=shape.trace(),
                         cpus_per_package=shape.ncpu) as pc:
            with ProcfsSim(*shape.task_specs(packages), cpus=shape.ncpu * packages,
                           extra=shape.procfs_args(pc.start_ns, packages)) as pf:
                self.assertEqual(pf.start_ns, pc.start_ns)
                tmp = tempfile.mkdtemp(prefix="jst-attr-fit-")
                try:
                    j, c = os.path.join(tmp, "a.json"), os.path.join(tmp, "a.csv")
                    args = ["run", "--backends", "rapl", "--json", j, "--csv", c]
                    for p in pids:
                        args += ["--pid", p]
                    proc = run_joulestat(args + ["--", "sleep", str(seconds)],
                                         env=pc.env(JOULESTAT_PROCFS_ROOT=pf.root),
                                         timeout=120)
                    self.assertEqual(proc.returncode, 0, proc.stderr)
                    with open(j) as f:
                        run = json.load(f)["runs"][0]
                    with open(c) as f:
                        rows = list(csv.DictReader(f))
                finally:
                    shutil.rmtree(tmp, ignore_errors=True)
            truth = pc.stop()
        late = max([shown - due for due, shown in truth.get("late", [])] + [0.0])
        timing = {"begin": pc.seconds(run["begin_ns"]), "updates": pf.truth["updates"],
                  "max_age_s": pf.truth["max_age_s"], "energy_lag_s": pc.tick_s + late,
                  # Each zone's part of the trace (package N draws 1 - 0.1 N of it).
                  "scale": {z["name"]: z["scale"] for z in truth["zones"] if not z["mmio"]}}
        return run, timing, proc.stderr, rows

    def check_domain(self, shape, run, timing, name, fit, package=0):
        """The domain's idle power, dynamic energy and each target's energy
        against the model's exact figures, each within its bound."""
        a = run["attribution"]
        d = domain(a, name)
        scale = timing["scale"][name]
        hz = float(os.sysconf("SC_CLK_TCK"))
        exact, err = bounds(shape, timing["begin"], a["duration_s"], self.PERIOD, hz, fit,
                            scale, timing)
        what = "%s (%s, bounds %s)" % (name, json.dumps(d), [round(e, 4) for e in err])
        if fit:
            self.assertEqual(d["idle_source"], "fit", what)
            self.assertAlmostEqual(exact[0], scale * shape.idle_w, delta=1e-6)
            self.assertAlmostEqual(d["idle_w"], scale * shape.idle_w, delta=err[0], msg=what)
            # Whatever the fit, the energy is the meter's: idle + dynamic.
            self.assertAlmostEqual(d["idle_j"] + d["dynamic_j"], d["energy_j"], delta=1e-6)
        else:
            self.assertEqual(d["idle_source"], "none", what)
            self.assertIsNone(d["idle_w"], what)
            self.assertIn("idle power not separated for %s" % name, a["note"])
        # Energy above idle per CPU second: the slope when idle came off,
        # the whole power per busy CPU when it did not (a steady load).
        per_cpu_s = scale * (shape.slope_w if fit else
                             shape.idle_w / shape.busy_levels[0] + shape.slope_w)
        self.assertAlmostEqual(exact[1], per_cpu_s * exact[2], delta=1e-6 * exact[1])
        self.assertAlmostEqual(d["dynamic_j"] - per_cpu_s * d["busy_s"], 0,
                               delta=err[1] + per_cpu_s * err[2], msg=what)
        for i, t in enumerate(shape.tasks):
            f = figure(a, "pid:%d" % (t["pid"] + 1000 * package), name)
            e_err, w_err = err[3 + 2 * i], err[4 + 2 * i]
            self.assertAlmostEqual(f["work_s"], exact[4 + 2 * i], delta=w_err, msg=what)
            self.assertAlmostEqual(f["energy_j"] - per_cpu_s * f["work_s"], 0,
                                   delta=e_err + per_cpu_s * w_err, msg=(t["pid"], what))
            # The share is of the dynamic energy, as the figure says, and
            # the truth's share within its own bound (the idle's error moves
            # the target's energy and the dynamic energy together).
            self.assertAlmostEqual(f["share"], f["energy_j"] / d["dynamic_j"], delta=1e-9)
            k = 3 + 2 * len(shape.tasks) + i
            self.assertAlmostEqual(f["share"], exact[k], delta=err[k], msg=(t["pid"], what))
        return d, err

    def check_outputs(self, run, text, rows, name):
        """The text table and the CSV say what the JSON says of the idle."""
        d = domain(run["attribution"], name)
        shown = read_text_domains(text)
        self.assertIn(name, shown, text)
        row = shown[name]
        self.assertEqual(row["from"], d["idle_source"])
        # As printed: to the last digit shown, of the JSON's figure.
        if d["idle_w"] is None:
            self.assertEqual(row["idle_w"], "-")
        else:
            self.assertAlmostEqual(float(row["idle_w"]), d["idle_w"], delta=0.005 + 1e-9)
        for cell, key in (("measured", "energy_j"), ("idle_j", "idle_j"),
                          ("dynamic", "dynamic_j")):
            self.assertAlmostEqual(float(row[cell]), d[key], delta=0.0005 + 1e-9,
                                   msg=(cell, text))
        idle = [r for r in rows if r["type"] == "idle" and r["name"] == name]
        self.assertEqual(len(idle), 1)
        self.assertEqual(idle[0]["note"], d["idle_source"])
        self.assertAlmostEqual(float(idle[0]["energy_j"]), d["idle_j"], delta=1e-6)
        if d["idle_w"] is not None:
            self.assertAlmostEqual(float(idle[0]["avg_power_w"]), d["idle_w"], delta=1e-6)
        for t in run["attribution"]["targets"]:
            f = next(x for x in t["domains"] if x["domain"] == name)
            r = [r for r in rows if r["type"] == "attributed" and r["name"] == t["target"]
                 and r["parent"] == name]
            self.assertEqual(len(r), 1)
            self.assertAlmostEqual(float(r[0]["energy_j"]), f["energy_j"], delta=1e-6)

    def test_simulator_counts(self):
        """sim/procfs's files hold the schedule's exact integral, in whole
        clock ticks, at one of its logged instants; its cpuN lines add up to
        its tasks' time at every instant."""
        shape = Shape(4, 15.0, 10.0, [(1001, 1, 0)], (1002, 1), [0, 2, 1], 0.05)
        hz = float(os.sysconf("SC_CLK_TCK"))
        seen = []
        with ProcfsSim(*shape.task_specs(), cpus=shape.ncpu,
                       extra=shape.procfs_args(0)[:2]) as pf:
            for _ in range(40):
                with open(os.path.join(pf.root, "stat")) as f:
                    cpus = [int(x.split()[1]) for x in f if x.startswith("cpu") and
                            x[3] != " "]
                utime = []
                for t in shape.tasks:
                    with open(os.path.join(pf.root, str(t["pid"]), "stat")) as f:
                        utime.append(int(f.read().rsplit(")", 1)[1].split()[11]))
                seen.append((cpus, utime))
                time.sleep(0.013)
        instants = [u[0] for u in pf.truth["updates"]]
        self.assertGreater(len(instants), 20)
        cpus_at, utime_at = [], []
        for x in instants:
            cpu_s, task_s = shape.counts(x)
            cpus_at.append([int(c * hz) for c in cpu_s])
            utime_at.append([int(c * hz) for c in task_s])
            # One integral, each counter in whole ticks.
            self.assertLess(abs(sum(cpus_at[-1]) - sum(utime_at[-1])), len(cpu_s))
        # Each file is of one update (the files of one are renamed in turn,
        # so that a reading may see two): its counts are that instant's.
        for cpus, utime in seen:
            self.assertIn(cpus, cpus_at)
            for i, ut in enumerate(utime):
                self.assertIn(ut, [u[i] for u in utime_at])
        self.assertGreater(cpus_at[-1][1], 0)  # the schedule moved

    def test_fit_on_varying_load(self):
        """1 and 3 busy CPUs of 4, every 0.6 s, on a package at 15 W + 10 W
        per busy CPU (its DRAM a fifth of that), the same job on a second
        package drawing 0.9 of it: each fit finds 15 W (3 W; 13.5 W), each
        target is charged 10 W (2 W; 9 W) per CPU second above it on its own
        package and nothing on the other; the text and CSV say the same."""
        shape = Shape(4, 15.0, 10.0, [(1001, 1, 0)], (1002, 1), [0, 2], 0.6)
        run, timing, text, rows = self.measure(shape, 3, dram=True, packages=2)
        for k in range(2):
            for name in ("package-%d" % k, "dram-%d" % k):
                self.check_domain(shape, run, timing, name, fit=True, package=k)
                self.check_outputs(run, text, rows, name)
                # Nothing of one package's job is charged on the other's.
                other = name[:-1] + str(1 - k)
                for t in shape.tasks:
                    f = figure(run["attribution"], "pid:%d" % (t["pid"] + 1000 * k), other)
                    self.assertEqual(f["energy_j"], 0)

    def test_steady_load_is_not_fit(self):
        """The same job at steady load (3 of 4 CPUs, 45 W): nothing to fit,
        `idle from: none` and the note; the whole energy is shared."""
        shape = Shape(4, 15.0, 10.0, [(1001, 1, 0)], (1002, 1), [2], 0.6)
        run, timing, text, rows = self.measure(shape, 2)
        self.check_domain(shape, run, timing, "package-0", fit=False)
        self.check_outputs(run, text, rows, "package-0")
        self.assertIn("idle power not separated for package-0", text)

    def test_sweep(self):
        """Other shapes: 8 CPUs stepping every 0.4 s (two ticks a step) at a
        low slope; a high-power package stepping every second; then a swing
        of 0.15 of the capacity, below the 0.2 the fit needs: refused."""
        shapes = [Shape(8, 30.0, 4.0, [(1001, 2, 0)], (1002, 2), [0, 4], 0.4),
                  Shape(4, 8.0, 25.0, [(1001, 0.5, 0)], (1002, 1), [0, 3], 1.0)]
        for shape in shapes:
            with self.subTest(trace=shape.trace()):
                run, timing, _, _ = self.measure(shape, 2.4)
                self.check_domain(shape, run, timing, "package-0", fit=True)
        small = Shape(8, 20.0, 10.0, [(1001, 2, 0)], (1002, 2), [0, 1.2], 0.6)
        self.assertLess(small.variation(), FIT_MIN_VARIATION)
        run, _, _, _ = self.measure(small, 2.4)
        a = run["attribution"]
        self.assertEqual(domain(a, "package-0")["idle_source"], "none")
        self.assertIn("idle power not separated for package-0", a["note"])


if __name__ == "__main__":
    # One at a time: the bounds allow for the simulators' own lateness, which
    # they report, but runs beside them would make it larger than it need be.
    unittest.main()
