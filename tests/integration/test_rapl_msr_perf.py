"""The rapl-msr and rapl-perf backends through the CLI, against jst-sim-powercap
serving one set of counters three ways (powercap, MSR files, the perf power
PMU through sim/perf's stand-in seam), with its exact truth."""
import os
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import (PowercapSim, domains_by_name, measure, run_joulestat,  # noqa: E402
                    unprivileged_prefix)
from test_rapl import STEPS, check_zone, tolerance  # noqa: E402

METHODS = ("rapl", "rapl-perf", "rapl-msr")



def run_list(args, **kw):
    """`joulestat list`, each backend's wrapped reason joined back onto its line."""
    from common import unwrap_list
    proc = run_joulestat(args, **kw)
    proc.stdout = unwrap_list(proc.stdout)
    return proc

def by_backend(measurement):
    """{(name, backend): domain} for a cross-validated run."""
    return {(d["name"], d["backend"]): d for d in measurement["domains"]}


class CrossValidateTest(unittest.TestCase):
    """Two Intel packages with core, uncore, dram and psys, seen by all three methods."""

    @classmethod
    def setUpClass(cls):
        cls.sim = PowercapSim(views=True, packages=2, psys=True, trace=STEPS).__enter__()
        try:
            cls.proc, cls.doc = measure(["sleep", "1.5"], cls.sim.env(),
                                        backends=",".join(METHODS),
                                        extra=["--cross-validate"])
            cls.sim.stop()
        except BaseException:
            cls.sim.__exit__(None, None, None)
            raise

    @classmethod
    def tearDownClass(cls):
        cls.sim.__exit__(None, None, None)

    def setUp(self):
        self.assertEqual(self.proc.returncode, 0, self.proc.stderr)
        self.m = self.doc["runs"][0]
        self.doms = by_backend(self.m)

    def test_three_methods_per_domain_one_device(self):
        names = ["package-0", "core-0", "uncore-0", "dram-0",
                 "package-1", "core-1", "uncore-1", "dram-1", "psys"]
        self.assertEqual(len(self.m["domains"]), 3 * len(names))
        for name in names:
            devs = {self.doms[(name, b)]["device"] for b in METHODS}
            self.assertEqual(len(devs), 1, (name, devs))
            self.assertEqual({self.doms[(name, b)]["source"] for b in METHODS},
                             {"powercap", "perf", "msr"})
        self.assertEqual(self.doms[("package-1", "rapl-msr")]["device"], "cpu:package-1")
        self.assertEqual(self.doms[("core-0", "rapl-perf")]["device"], "cpu:package-0/core")
        self.assertEqual(self.doms[("psys", "rapl-msr")]["device"], "platform:psys")
        self.assertEqual(self.doms[("core-1", "rapl-msr")]["parent"], "package-1")

    def test_every_method_matches_truth(self):
        for (name, backend), d in sorted(self.doms.items()):
            with self.subTest(backend=backend):
                want = check_zone(self, self.sim, self.m, name, d["energy_j"])
                self.assertGreater(want, 1.0)

    def test_methods_agree_within_their_classes(self):
        for (name, backend), d in self.doms.items():
            ref = self.doms[(name, "rapl")]["energy_j"]
            allowed = self.doms[(name, "rapl")]["accuracy"] + d["accuracy"]
            self.assertLessEqual(abs(d["energy_j"] - ref) / ref, allowed, (name, backend))
            # Same hardware counter: far closer than the classes allow.
            self.assertAlmostEqual(d["energy_j"], ref, delta=0.005 * ref + 0.1)

    def test_totals_count_each_package_once(self):
        primary = [d for d in self.m["domains"] if d["primary"]]
        self.assertEqual({d["backend"] for d in primary}, {"rapl"})
        t = self.m["totals"]
        self.assertEqual(t["cpu"]["parts"], 2)
        pkg = sum(self.doms[("package-%d" % k, "rapl")]["energy_j"] for k in (0, 1))
        dram = sum(self.doms[("dram-%d" % k, "rapl")]["energy_j"] for k in (0, 1))
        self.assertAlmostEqual(t["cpu"]["energy_j"], pkg, delta=1e-6)
        self.assertAlmostEqual(t["total"]["energy_j"], pkg + dram, delta=1e-6)
        self.assertEqual(t["system"]["parts"], 1)


class ValidateTest(unittest.TestCase):
    def test_validate_shows_three_methods_agreeing(self):
        with PowercapSim(views=True, packages=1, trace=STEPS) as sim:
            proc = run_joulestat(["validate", "--backends", ",".join(METHODS), "--",
                                  "sleep", "0.5"], env=sim.env())
        self.assertEqual(proc.returncode, 0, proc.stdout + proc.stderr)
        group = proc.stdout.split("package-0  (package, cpu:package-0)")[1].split("\n\n")[0]
        for method in ("rapl/powercap (counter)", "rapl-perf/perf (counter)",
                       "rapl-msr/msr (counter)"):
            self.assertIn(method, group)
        self.assertEqual(group.count("agrees"), 2, group)
        self.assertIn("every comparison lies within the combined accuracy classes", proc.stdout)


class WithoutPowercapTest(unittest.TestCase):
    def test_perf_counts_msr_cross_checks(self):
        with PowercapSim(views=True, no_powercap=True, packages=2, trace="const:40") as sim:
            proc, doc = measure(["sleep", "0.6"], sim.env(), backends=",".join(METHODS))
            listing = run_list(["list", "--backends", ",".join(METHODS)], env=sim.env())
            sim.stop()
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertRegex(listing.stdout, r"(?m)^\s*rapl\s+unavailable: no RAPL powercap")
        self.assertRegex(listing.stdout, r"(?m)^\s*rapl-msr\s+available.*\(not used: a more "
                                         r"accurate method")
        m = doc["runs"][0]
        self.assertEqual({d["backend"] for d in m["domains"]}, {"rapl-perf"})
        doms = domains_by_name(m)
        for name in ("package-0", "core-0", "dram-1"):
            check_zone(self, sim, m, name, doms[name]["energy_j"])
        self.assertEqual(m["totals"]["cpu"]["parts"], 2)
        self.assertFalse(m["totals"]["total"]["estimated"])


class MsrTest(unittest.TestCase):
    def run_msr(self, seconds, **opts):
        opts.setdefault("packages", 1)
        with PowercapSim(views=True, **opts) as sim:
            proc, doc = measure(["sleep", str(seconds)], sim.env(), backends="rapl-msr")
            sim.stop()
        self.assertEqual(proc.returncode, 0, proc.stderr)
        return sim, doc["runs"][0]

    def test_32_bit_counter_wraps_twice(self):
        # ESU 27: one count is 2^-27 J, the 32-bit counter spans 32 J: at 50 W it
        # wraps every 0.64 s, starting 3 J short of it.
        sim, m = self.run_msr(2.0, no_dram=True, esu=27, start_near_wrap=True,
                              trace="const:50")
        doms = domains_by_name(m)
        pkg = sim.zone("package-0")
        self.assertEqual(pkg["msr_unit_j"], 2.0 ** -27)
        self.assertGreaterEqual(sim.msr_wraps_between(pkg, m["begin_ns"], m["end_ns"]), 2)
        for name in ("package-0", "core-0"):
            want = check_zone(self, sim, m, name, doms[name]["energy_j"])
            self.assertGreater(want, 32.0, "the window must span more than one wrap")
            self.assertFalse(doms[name]["partial"], doms[name]["note"])

    def test_server_dram_unit_quirk(self):
        # Skylake-SP (model 85): the unit register says 2^-14 J, DRAM counts 2^-16 J.
        # Read with the register's unit, DRAM would be 4x too high.
        sim, m = self.run_msr(0.5, cpu_model=85, trace="const:60")
        doms = domains_by_name(m)
        self.assertEqual(sim.zone("dram-0")["msr_unit_j"], 2.0 ** -16)
        self.assertIn("server DRAM", doms["dram-0"]["note"])
        for name in ("package-0", "dram-0"):
            check_zone(self, sim, m, name, doms[name]["energy_j"])

    def test_client_dram_uses_the_unit_register(self):
        sim, m = self.run_msr(0.5, cpu_model=158, trace="const:60")
        doms = domains_by_name(m)
        self.assertEqual(sim.zone("dram-0")["msr_unit_j"], 2.0 ** -14)
        self.assertEqual(doms["dram-0"]["note"], "")
        check_zone(self, sim, m, "dram-0", doms["dram-0"]["energy_j"])

    def test_amd_package_counter(self):
        sim, m = self.run_msr(0.5, vendor="amd", packages=2, trace="const:70")
        doms = domains_by_name(m)
        self.assertEqual(sorted(doms), ["package-0", "package-1"])
        self.assertEqual(sim.zone("package-0")["msr"], 0xC001029B)
        for name in doms:
            check_zone(self, sim, m, name, doms[name]["energy_j"])

    def test_counter_reset_loses_at_most_a_period_never_adds_a_wrap(self):
        # A reset looks like a wrap to naive arithmetic: from a quarter of the
        # range (65 kJ at 2^-14 J) that would add 196 kJ. The core must count the
        # interval as nothing: no power can move the counter that far that fast.
        sim, m = self.run_msr(1.5, no_dram=True, msr_reset_after=0.8,
                              trace="const:50")
        doms = domains_by_name(m)
        zone = sim.zone("package-0")
        want = sim.window_truth(zone, m["begin_ns"], m["end_ns"])
        got = doms["package-0"]["energy_j"]
        # One sampler period (<= 0.12 s) at 50 W, plus check_zone's tolerance at
        # the edges, widened only where the sim was late.
        slack = tolerance(want) + sim.lag_slack(zone, m["begin_ns"], m["end_ns"])
        self.assertLessEqual(got, want + slack)
        self.assertGreaterEqual(got, want - 50 * 0.12 - slack)


class PerfTest(unittest.TestCase):
    def test_amd_perf_package(self):
        with PowercapSim(views=True, vendor="amd", packages=1, trace="const:30") as sim:
            proc, doc = measure(["sleep", "0.5"], sim.env(), backends="rapl-perf")
            sim.stop()
        self.assertEqual(proc.returncode, 0, proc.stderr)
        m = doc["runs"][0]
        doms = domains_by_name(m)
        self.assertEqual(list(doms), ["package-0"])
        check_zone(self, sim, m, "package-0", doms["package-0"]["energy_j"])

    def test_refused_names_paranoid_and_cap_perfmon(self):
        with PowercapSim(views=True, packages=1, perf_refuse=True) as sim:
            proc = run_list(["list"], env=sim.env())
        self.assertEqual(proc.returncode, 0, proc.stderr)
        line = [ln for ln in proc.stdout.splitlines() if ln.strip().startswith("rapl-perf")]
        self.assertEqual(len(line), 1, proc.stdout)
        for needle in ("unavailable", "Permission denied", "/proc/sys/kernel/perf_event_paranoid",
                       "(it is 2 here)", "CAP_PERFMON", "cap_perfmon=ep"):
            self.assertIn(needle, line[0])


class UnavailableTest(unittest.TestCase):
    def line(self, out, backend):
        lines = [ln for ln in out.splitlines() if ln.strip().startswith(backend + " ")]
        self.assertEqual(len(lines), 1, out)
        return lines[0]

    def test_msr_without_the_driver_says_modprobe(self):
        with PowercapSim(views=True, packages=1) as sim:
            with tempfile.TemporaryDirectory() as empty:
                proc = run_list(["list"], env=sim.env(JOULESTAT_DEVFS_ROOT=empty))
        line = self.line(proc.stdout, "rapl-msr")
        self.assertIn("cpu/0/msr: No such file or directory", line)
        self.assertIn("modprobe msr", line)

    def test_msr_unreadable_names_cap_sys_rawio(self):
        prefix = unprivileged_prefix()
        with PowercapSim(views=True, packages=1, mode="unreadable") as sim:
            proc = run_list(["list"], env=sim.env(), prefix=prefix)
        line = self.line(proc.stdout, "rapl-msr")
        for needle in ("Permission denied", "CAP_SYS_RAWIO", "root"):
            self.assertIn(needle, line)

    def test_not_intel_or_amd(self):
        with PowercapSim(views=True, packages=1) as sim:
            with open(os.path.join(sim.procfs, "cpuinfo"), "w") as f:
                f.write("processor\t: 0\nvendor_id\t: ARM\n\n")
            proc = run_list(["list"], env=sim.env())
        self.assertIn("not an Intel or AMD CPU (vendor_id 'ARM')",
                      self.line(proc.stdout, "rapl-msr"))

    def test_no_power_pmu(self):
        with tempfile.TemporaryDirectory() as root:
            proc = run_list(["list"], env=dict(os.environ, JOULESTAT_SYSFS_ROOT=root))
        self.assertIn("no power PMU", self.line(proc.stdout, "rapl-perf"))


if __name__ == "__main__":
    unittest.main(verbosity=2)
