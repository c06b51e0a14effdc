"""The rapl backend through the CLI, against jst-sim-powercap and its exact truth."""
import json
import os
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import (REPO, PowercapSim, domains_by_name, measure, run_joulestat,  # noqa: E402
                    unprivileged_prefix, unwrap_list)

# Power varies, so a figure that is right is right for the right interval.
STEPS = "steps:40,90,20,70@0.15"


def tolerance(truth):
    """0.5% of the truth, and no less than 0.1 J: a counter read can land one
    1 ms refresh early or late at either edge of the window."""
    return max(0.005 * truth, 0.1)


def check_zone(case, sim, m, name, measured, base=None):
    """measured (J) against what zone `name`'s counter gained over m's window.
    The tolerance is `base` (default tolerance(truth)), widened only where the
    simulator reports it was itself late at an edge."""
    zone = sim.zone(name)
    want = sim.window_truth(zone, m["begin_ns"], m["end_ns"])
    slack = sim.lag_slack(zone, m["begin_ns"], m["end_ns"])
    # 1e-9: the figures are printed with finite digits, so an exact tenth may read 0.1000000001.
    delta = (tolerance(want) if base is None else base) + slack + 1e-9
    with case.subTest(domain=name, measured=measured, truth=want, sim_slack=slack):
        case.assertAlmostEqual(measured, want, delta=delta)
    return want


class FullTreeTest(unittest.TestCase):
    """Two packages with core, uncore and dram, psys, and an mmio duplicate: one run."""

    @classmethod
    def setUpClass(cls):
        cls.sim = PowercapSim(packages=2, psys=True, mmio=True, trace=STEPS).__enter__()
        try:
            cls.proc, cls.doc = measure(["sleep", "1.5"], cls.sim.env())
            cls.sim.stop()
        except BaseException:
            cls.sim.__exit__(None, None, None)  # tearDownClass will not run
            raise

    @classmethod
    def tearDownClass(cls):
        cls.sim.__exit__(None, None, None)

    def setUp(self):
        self.assertEqual(self.proc.returncode, 0, self.proc.stderr)
        self.assertIsNotNone(self.doc, self.proc.stderr)
        self.m = self.doc["runs"][0]
        self.doms = domains_by_name(self.m)

    def test_declares_every_zone_once(self):
        self.assertEqual(sorted(self.doms), sorted([
            "package-0", "core-0", "uncore-0", "dram-0",
            "package-1", "core-1", "uncore-1", "dram-1", "psys"]))
        self.assertEqual(len(self.m["domains"]), len(self.doms), "a domain appears twice")
        for d in self.m["domains"]:
            self.assertEqual(d["backend"], "rapl")
            self.assertEqual(d["method"], "counter")
            self.assertEqual(d["source"], "powercap")
            self.assertAlmostEqual(d["accuracy"], 0.05)
            self.assertFalse(d["partial"], d["note"])
        self.assertEqual(self.doms["package-0"]["device"], "cpu:package-0")
        self.assertEqual(self.doms["core-1"]["device"], "cpu:package-1/core")
        self.assertEqual(self.doms["dram-0"]["device"], "cpu:package-0/dram")
        self.assertEqual(self.doms["psys"]["device"], "platform:psys")

    def test_every_counter_matches_truth(self):
        self.assertGreater(self.m["duration_s"], 1.4)
        for name, d in sorted(self.doms.items()):
            want = check_zone(self, self.sim, self.m, name, d["energy_j"])
            self.assertGreater(want, 1.0)
            self.assertAlmostEqual(d["avg_power_w"], d["energy_j"] / self.m["duration_s"],
                                   delta=1e-6 * d["avg_power_w"] + 1e-9)

    def test_mmio_duplicate_not_double_counted(self):
        self.assertTrue(self.sim.zone("package-0", mmio=True))
        pkgs = [d for d in self.m["domains"] if d["kind"] == "package"]
        self.assertEqual(sorted(d["name"] for d in pkgs), ["package-0", "package-1"])
        cpu = self.m["totals"]["cpu"]
        self.assertEqual(cpu["parts"], 2)
        self.assertAlmostEqual(cpu["energy_j"], sum(d["energy_j"] for d in pkgs), delta=1e-6)
        # Twice package-0 would be ~85 J too much: far outside any tolerance.
        check_zone(self, self.sim, self.m, "package-0", self.doms["package-0"]["energy_j"])

    def test_core_and_uncore_are_inside_their_package(self):
        for k in (0, 1):
            self.assertEqual(self.doms["core-%d" % k]["parent"], "package-%d" % k)
            self.assertEqual(self.doms["uncore-%d" % k]["parent"], "package-%d" % k)
            self.assertLess(self.doms["core-%d" % k]["energy_j"],
                            self.doms["package-%d" % k]["energy_j"])
            self.assertIsNone(self.doms["dram-%d" % k]["parent"], "dram is beside the package")
        t = self.m["totals"]
        pkg = sum(self.doms["package-%d" % k]["energy_j"] for k in (0, 1))
        dram = sum(self.doms["dram-%d" % k]["energy_j"] for k in (0, 1))
        self.assertAlmostEqual(t["cpu"]["energy_j"], pkg, delta=1e-6)
        self.assertAlmostEqual(t["dram"]["energy_j"], dram, delta=1e-6)
        self.assertEqual(t["dram"]["parts"], 2)
        self.assertAlmostEqual(t["total"]["energy_j"], pkg + dram, delta=1e-6)
        self.assertAlmostEqual(t["total"]["accuracy"], 0.05)
        self.assertFalse(t["total"]["estimated"])

    def test_psys_is_system_not_total(self):
        psys = self.doms["psys"]
        self.assertEqual(psys["kind"], "platform")
        t = self.m["totals"]
        self.assertEqual(t["system"]["parts"], 1)
        self.assertAlmostEqual(t["system"]["energy_j"], psys["energy_j"], delta=1e-6)
        self.assertLess(t["total"]["energy_j"], psys["energy_j"])
        self.assertAlmostEqual(t["total"]["energy_j"],
                               t["cpu"]["energy_j"] + t["dram"]["energy_j"], delta=1e-6)


class RunTest(unittest.TestCase):
    def test_short_run_within_a_tenth_of_a_joule(self):
        with PowercapSim(packages=1, trace="const:50") as sim:
            proc, doc = measure(["sleep", "0.2"], sim.env())
            sim.stop()
        self.assertEqual(proc.returncode, 0, proc.stderr)
        m = doc["runs"][0]
        for d in m["domains"]:
            check_zone(self, sim, m, d["name"], d["energy_j"], base=0.1)

    def test_counter_wraps_twice_during_the_run(self):
        # 40 J at 50 W: package-0 wraps every 0.8 s, starting 3 J short of it.
        with PowercapSim(packages=1, no_dram=True, modulus_j=40, start_near_wrap=True,
                         trace="const:50") as sim:
            proc, doc = measure(["sleep", "3.5"], sim.env())
            truth = sim.stop()
        self.assertEqual(proc.returncode, 0, proc.stderr)
        m = doc["runs"][0]
        doms = domains_by_name(m)
        pkg = sim.zone("package-0")
        self.assertGreaterEqual(pkg["wraps"], 2, truth)
        self.assertGreaterEqual(sim.wraps_between(pkg, m["begin_ns"], m["end_ns"]), 2)
        for name in ("package-0", "core-0"):
            want = check_zone(self, sim, m, name, doms[name]["energy_j"])
            self.assertGreater(want, 40.0, "the window must span more than one wrap")
            self.assertFalse(doms[name]["partial"], doms[name]["note"])

    def test_turbo_above_the_tdp_constraint_is_counted(self):
        # Client CPUs state their TDP in constraint_0_max_power_uw (15 W on a
        # U-series laptop) and 0 for the short-term limit, while turbo (PL2)
        # draws 40-64 W for tens of seconds. Energy at 60 W must not be taken
        # for an implausible jump and dropped.
        with PowercapSim(packages=1, no_dram=True, tdp_w=15, trace="const:60") as sim:
            proc, doc = measure(["sleep", "0.6"], sim.env())
            sim.stop()
        self.assertEqual(proc.returncode, 0, proc.stderr)
        m = doc["runs"][0]
        doms = domains_by_name(m)
        for name in ("package-0", "core-0"):
            want = check_zone(self, sim, m, name, doms[name]["energy_j"])
            self.assertGreater(want, 10.0)
            self.assertFalse(doms[name]["partial"], doms[name]["note"])

    def test_garbage_power_constraint_does_not_speed_up_the_sampler(self):
        # A 40 J counter at the default 400 W bound wraps in 0.1 s: the sampler
        # reads it every 0.05 s. A real 1 kW constraint raises the bound (0.02
        # s); firmware garbage such as 2^64-1 uW must not (it made the sampler
        # read at its 10 kHz floor), nor any bound beyond a physical one.
        cases = [(None, 0.05), ("1000000000", 0.02), ("18446744073709551615", 0.05),
                 ("9223372036854775808", 0.05), ("20000000000", 0.05),
                 ("10000000000", 0.002)]
        for uw, period in cases:
            with self.subTest(max_power_uw=uw), \
                    PowercapSim(packages=1, no_dram=True, modulus_j=40, max_power_uw=uw) as sim:
                proc = run_joulestat(["list", "--json", "--backends", "rapl"], env=sim.env())
                self.assertEqual(proc.returncode, 0, proc.stderr)
                doms = json.loads(proc.stdout)["domains"]
                self.assertGreaterEqual(len(doms), 2)
                for d in doms:
                    self.assertAlmostEqual(d["sample_period_s"], period, places=6)
                    # The package is in the total, its core inside it is not.
                    self.assertEqual(d["counted"], d["name"] == "package-0", d)
        with PowercapSim(packages=1, no_dram=True, modulus_j=40, trace="const:60",
                         max_power_uw="18446744073709551615") as sim:
            proc, doc = measure(["sleep", "0.5"], sim.env())
            sim.stop()
        self.assertEqual(proc.returncode, 0, proc.stderr)
        m = doc["runs"][0]
        doms = domains_by_name(m)
        for name in ("package-0", "core-0"):
            check_zone(self, sim, m, name, doms[name]["energy_j"])
            self.assertFalse(doms[name]["partial"], doms[name]["note"])

    def test_dies_are_summed_as_packages(self):
        with PowercapSim(packages=1, dies=2, trace="const:60") as sim:
            proc, doc = measure(["sleep", "0.5"], sim.env())
            sim.stop()
        self.assertEqual(proc.returncode, 0, proc.stderr)
        m = doc["runs"][0]
        doms = domains_by_name(m)
        self.assertIn("package-0-die-1", doms)
        self.assertEqual(doms["core-0-die-1"]["parent"], "package-0-die-1")
        self.assertEqual(m["totals"]["cpu"]["parts"], 2)
        for name in ("package-0-die-0", "package-0-die-1"):
            check_zone(self, sim, m, name, doms[name]["energy_j"])
        self.assertAlmostEqual(m["totals"]["cpu"]["energy_j"],
                               doms["package-0-die-0"]["energy_j"] +
                               doms["package-0-die-1"]["energy_j"], delta=1e-6)


class UnavailableTest(unittest.TestCase):
    def rapl_line(self, out):
        """joulestat list's output, once it is known to speak of rapl. What is
        looked for in it (a CVE number, a file name) only rapl can say."""
        self.assertRegex(out, r"(?m)^\s*rapl\b", out)
        return unwrap_list(out)

    def rapl_entry(self, listing):
        """The object that describes the rapl backend in `joulestat list --json`."""
        found = []

        def walk(node):
            if isinstance(node, dict):
                if node.get("name") == "rapl" and "available" in node:
                    found.append(node)
                for v in node.values():
                    walk(v)
            elif isinstance(node, list):
                for v in node:
                    walk(v)
        walk(json.loads(listing))
        self.assertEqual(len(found), 1, listing)
        return found[0]

    def test_unreadable_counters_say_why_and_what_to_do(self):
        prefix = unprivileged_prefix()
        with PowercapSim(packages=1, mode="unreadable") as sim:
            proc = run_joulestat(["list"], env=sim.env(), prefix=prefix)
            listing = run_joulestat(["list", "--json"], env=sim.env(), prefix=prefix)
        self.assertGreaterEqual(proc.returncode, 0, "killed by a signal")
        text = self.rapl_line(proc.stdout + proc.stderr)
        self.assertEqual(listing.returncode, 0, listing.stderr)
        rapl = self.rapl_entry(listing.stdout)
        self.assertFalse(rapl["available"])
        for needle in ("energy_uj", "Permission denied", "CVE-2020-8694", "root",
                       'SUBSYSTEM=="powercap"', "chgrp", "g+r", "docs/backends/rapl.md"):
            self.assertIn(needle, text)
            self.assertIn(needle, rapl["reason"])
        # Never the remedy that reopens the side channel for every user.
        for bad in ("o+r", "a+r", "chmod +r", "chmod 444", "chmod 644"):
            self.assertNotIn(bad, rapl["reason"])
            self.assertNotIn(bad, text)

    def test_docs_never_suggest_world_readable_counters(self):
        with open(os.path.join(REPO, "docs", "backends", "rapl.md")) as f:
            doc = f.read()
        for bad in ("chmod o+r", "chmod a+r", "chmod +r", "chmod 444", "chmod 644"):
            self.assertNotIn(bad, doc)

    def test_garbage_counter_is_a_clear_error_naming_the_file(self):
        with PowercapSim(packages=1, mode="garbage") as sim:
            listing = run_joulestat(["list"], env=sim.env())
            proc, doc = measure(["true"], sim.env())
        for p in (listing, proc):
            self.assertGreaterEqual(p.returncode, 0, "killed by a signal: " + p.stderr)
        text = self.rapl_line(listing.stdout + listing.stderr)
        self.assertIn("intel-rapl:0/energy_uj", text)
        self.assertIn("not-a-number", text)
        # Nothing else measures: the run fails, saying so, and never crashes.
        self.assertNotEqual(proc.returncode, 0)
        self.assertTrue(proc.stderr.strip())

    def test_garbage_range_names_the_file(self):
        with PowercapSim(packages=1, mode="garbage-range") as sim:
            listing = run_joulestat(["list"], env=sim.env())
        self.assertGreaterEqual(listing.returncode, 0)
        self.assertIn("intel-rapl:0/max_energy_range_uj", self.rapl_line(listing.stdout))

    def test_counter_turning_to_garbage_mid_run_is_bridged(self):
        with PowercapSim(packages=1, no_dram=True, mode="garbage-late", garbage_after=0.6) as sim:
            proc, doc = measure(["sleep", "1.2"], sim.env())
            sim.stop()
        self.assertGreaterEqual(proc.returncode, 0, "killed by a signal: " + proc.stderr)
        self.assertIsNotNone(doc, proc.stderr)
        m = doc["runs"][0]
        doms = domains_by_name(m)
        pkg = doms["package-0"]
        # Unreadable values are transient: skipped and bridged, never the end
        # of the figure, and said.
        self.assertFalse(pkg["partial"])
        self.assertIn("skipped", pkg["note"])
        self.assertIn("intel-rapl:0/energy_uj", pkg["note"])
        self.assertIn("not-a-number", pkg["note"])
        core = doms["core-0"]
        self.assertFalse(core["partial"])
        check_zone(self, sim, m, "core-0", core["energy_j"])

    def test_no_powercap_tree(self):
        with tempfile.TemporaryDirectory() as root:
            env = dict(os.environ, JOULESTAT_SYSFS_ROOT=root)
            proc = run_joulestat(["list"], env=env)
        self.assertGreaterEqual(proc.returncode, 0)
        text = self.rapl_line(proc.stdout + proc.stderr)
        self.assertIn("no RAPL powercap zones under", text)
        self.assertIn("modprobe intel_rapl_msr", text)


if __name__ == "__main__":
    unittest.main(verbosity=2)
