"""The hwmon and jetson backends through the CLI, against jst-sim-hwmon's
Orin, Xavier NX, amd_energy and Grace trees and their exact truth."""
import os
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import (main_concurrent, HwmonSim, PowercapSim, domains_by_name, measure,  # noqa: E402
                    run_joulestat)
from test_rapl import check_zone, tolerance  # noqa: E402

# Slow steps: a 100 ms sampler sees each one, as on a real module under load.
STEPS = "steps:8,25,12,30@0.3"



def run_list(args, **kw):
    """`joulestat list`, each backend's wrapped reason joined back onto its line."""
    from common import unwrap_list
    proc = run_joulestat(args, **kw)
    proc.stdout = unwrap_list(proc.stdout)
    return proc

def run_sim(layout, seconds, backends, trace="const:20", **opts):
    with HwmonSim(layout, trace=trace, **opts) as sim:
        proc, doc = measure(["sleep", str(seconds)], sim.env(), backends=backends)
        sim.stop()
    if proc.returncode != 0:
        raise AssertionError(proc.stderr)
    return sim, doc["runs"][0]


def serve_split(test, layout, trace, backends):
    """`joulestat serve` on the layout: its energy series counted="1", those
    counted="0", and the exposition."""
    from serve_helpers import Exporter, parse, series
    with HwmonSim(layout, trace=trace) as sim:
        with Exporter(sim.env(), "--backends", backends) as ex:
            status, _, body = ex.scrape()
    test.assertEqual(status, 200, body)
    samples = parse(body)
    return (series(samples, "joulestat_energy_joules_total", counted="1"),
            series(samples, "joulestat_energy_joules_total", counted="0"), body)


class JetsonTest(unittest.TestCase):
    def check_module(self, m, sources):
        doms = domains_by_name(m)
        self.assertEqual(sorted(doms), ["VDD_CPU_GPU_CV", "VDD_IN", "VDD_SOC"])
        self.assertEqual(doms["VDD_IN"]["kind"], "platform")
        self.assertIsNone(doms["VDD_IN"]["parent"])
        for rail in ("VDD_CPU_GPU_CV", "VDD_SOC"):
            self.assertEqual(doms[rail]["parent"], "VDD_IN")
            self.assertEqual(doms[rail]["method"], "power")
        for rail, source in sources.items():
            self.assertEqual(doms[rail]["source"], source)
        t = m["totals"]
        # VDD_IN is the module's energy: the total, once, and nothing else.
        self.assertEqual(sorted(t), ["total"], "rails inside VDD_IN are never added to it")
        self.assertEqual(t["total"]["parts"], 1)
        self.assertAlmostEqual(t["total"]["energy_j"], doms["VDD_IN"]["energy_j"], delta=1e-6)
        return doms

    def test_orin_constant_power_to_a_percent(self):
        sim, m = run_sim("orin", 0.8, "jetson")
        doms = self.check_module(m, {"VDD_IN": "ina238", "VDD_CPU_GPU_CV": "ina3221",
                                     "VDD_SOC": "ina3221"})
        for name, d in doms.items():
            want = check_zone(self, sim, m, name, d["energy_j"], base=0.01 * d["energy_j"])
            self.assertGreater(want, 2.0)
        self.assertNotIn("NC", doms, "an unconnected channel is no rail")

    def test_orin_varying_power_within_its_class(self):
        sim, m = run_sim("orin", 1.5, "jetson", trace=STEPS)
        for name, d in domains_by_name(m).items():
            check_zone(self, sim, m, name, d["energy_j"], base=d["accuracy"] * d["energy_j"])

    def test_module_rail_is_the_total_and_the_estimate_steps_aside(self):
        # The default on a Jetson: jetson and the CPU estimate. VDD_IN measures
        # the whole module, CPU included: the total is VDD_IN (the simulator's
        # truth within its class), the estimate is not counted beside it and
        # the rails inside it are never added to it.
        sim, m = run_sim("orin", 1.0, "jetson,estimate")
        doms = domains_by_name(m)
        self.assertNotIn("cpu", doms, "the estimate steps aside for VDD_IN")
        vdd_in = doms["VDD_IN"]
        want = check_zone(self, sim, m, "VDD_IN", vdd_in["energy_j"],
                          base=vdd_in["accuracy"] * vdd_in["energy_j"])
        t = m["totals"]
        self.assertEqual(sorted(t), ["total"], t)
        self.assertEqual(t["total"]["parts"], 1)
        self.assertFalse(t["total"]["estimated"])
        self.assertAlmostEqual(t["total"]["energy_j"], vdd_in["energy_j"], delta=1e-6)
        self.assertAlmostEqual(t["total"]["energy_j"], want,
                               delta=vdd_in["accuracy"] * want + 1e-6)
        rails = sum(d["energy_j"] for n, d in doms.items() if n != "VDD_IN")
        self.assertLess(t["total"]["energy_j"], vdd_in["energy_j"] + rails - 1.0)

    def test_serve_counts_the_module_rail(self):
        # joulestat serve's counted="1" sums to the node's total, as the
        # measurement's totals form it: VDD_IN, not its rails nor the estimate.
        counted, apart, body = serve_split(self, "orin", "const:20", "jetson,estimate")
        self.assertEqual(sorted(counted), ["VDD_IN"], body)
        self.assertEqual(sorted(apart), ["VDD_CPU_GPU_CV", "VDD_SOC"], body)

    def test_xavier_nx_iio_rails(self):
        sim, m = run_sim("xavier-nx", 1.2, "jetson", trace=STEPS)
        doms = self.check_module(m, {r: "ina3221x" for r in
                                     ("VDD_IN", "VDD_CPU_GPU_CV", "VDD_SOC")})
        for name, d in doms.items():
            check_zone(self, sim, m, name, d["energy_j"], base=d["accuracy"] * d["energy_j"])
        self.assertEqual(doms["VDD_IN"]["device"], "jetson:VDD_IN")


class HwmonTest(unittest.TestCase):
    def test_amd_energy_counters_exact(self):
        sim, m = run_sim("amd-energy", 1.0, "hwmon", trace="steps:40,90,20@0.2")
        doms = domains_by_name(m)
        self.assertEqual(doms["amd_energy-Esocket0"]["kind"], "package")
        self.assertEqual(doms["amd_energy-Esocket0"]["device"], "cpu:package-0")
        self.assertEqual(doms["amd_energy-Ecore000"]["kind"], "core")
        for name, d in doms.items():
            self.assertEqual(d["method"], "counter")
            check_zone(self, sim, m, name, d["energy_j"])
        self.assertAlmostEqual(m["totals"]["cpu"]["energy_j"],
                               doms["amd_energy-Esocket0"]["energy_j"], delta=1e-6)
        # Every output's "counted" is the totals' rule: the socket, not its
        # cores (which amd_energy reports without a parent).
        self.assertEqual({n: d["counted"] for n, d in doms.items()},
                         {"amd_energy-Esocket0": True, "amd_energy-Ecore000": False,
                          "amd_energy-Ecore001": False})
        counted = sum(d["energy_j"] for d in doms.values() if d["counted"])
        self.assertAlmostEqual(m["totals"]["total"]["energy_j"], counted, delta=1e-6)

    def test_serve_counts_the_socket_not_its_cores(self):
        # serve's counted="1" (and top's total, from the same view) once
        # summed the cores beside their socket (+35% on this tree; about
        # double on a whole EPYC).
        counted, apart, body = serve_split(self, "amd-energy", "const:500", "hwmon")
        self.assertEqual(sorted(counted), ["amd_energy-Esocket0"], body)
        self.assertEqual(sorted(apart), ["amd_energy-Ecore000", "amd_energy-Ecore001"], body)

    def test_counter_reset_loses_at_most_a_period(self):
        sim, m = run_sim("amd-energy", 1.2, "hwmon", trace="const:60", reset_after=0.6)
        got = domains_by_name(m)["amd_energy-Esocket0"]["energy_j"]
        zone = sim.zone("amd_energy-Esocket0")
        want = sim.window_truth(zone, m["begin_ns"], m["end_ns"])
        # A reset may lose up to one sampler period (<= 0.12 s) and no more; the
        # edges keep check_zone's tolerance (a read may land a 2 ms refresh
        # early or late: 0.12 J at 60 W), widened only where the sim was late.
        slack = tolerance(want) + sim.lag_slack(zone, m["begin_ns"], m["end_ns"])
        self.assertLessEqual(got, want + slack)
        self.assertGreaterEqual(got, want - 60 * 0.12 - slack)

    def test_grace_power_meters(self):
        sim, m = run_sim("grace", 1.0, "hwmon", trace="const:300")
        doms = domains_by_name(m)
        cpu = doms["power_meter-CPU_Power_Socket_0"]
        module = doms["power_meter-Module_Power_Socket_0"]
        self.assertEqual((cpu["kind"], cpu["device"], cpu["source"]),
                         ("package", "cpu:package-0", "hwmon-average"))
        self.assertEqual(module["kind"], "platform")
        for name, d in doms.items():
            check_zone(self, sim, m, name, d["energy_j"], base=0.01 * d["energy_j"])
        self.assertAlmostEqual(m["totals"]["total"]["energy_j"], cpu["energy_j"], delta=1e-6)
        self.assertAlmostEqual(m["totals"]["system"]["energy_j"], module["energy_j"],
                               delta=1e-6)

    def test_same_package_as_rapl_counted_once(self):
        # amd_energy's Esocket0 reads the package counter powercap also serves.
        with PowercapSim(packages=1, no_dram=True, trace="const:50") as pc:
            with HwmonSim("amd-energy", root=pc.root, trace="const:50") as hw:
                proc, doc = measure(["sleep", "0.4"], pc.env(), backends="rapl,hwmon",
                                    extra=["--cross-validate"])
        self.assertEqual(proc.returncode, 0, proc.stderr)
        m = doc["runs"][0]
        pkgs = [d for d in m["domains"] if d["device"] == "cpu:package-0"]
        self.assertEqual(sorted(d["backend"] for d in pkgs), ["hwmon", "rapl"])
        self.assertEqual([d["backend"] for d in pkgs if d["primary"]], ["rapl"])
        self.assertEqual(m["totals"]["cpu"]["parts"], 1)
        self.assertIsNotNone(hw)


class UnavailableTest(unittest.TestCase):
    def line(self, out, backend):
        lines = [ln for ln in out.splitlines() if ln.strip().startswith(backend + " ")]
        self.assertEqual(len(lines), 1, out)
        return lines[0]

    def test_not_a_jetson_and_no_hwmon(self):
        with tempfile.TemporaryDirectory() as root:
            proc = run_list(["list"], env=dict(os.environ, JOULESTAT_SYSFS_ROOT=root))
        self.assertIn("not a Jetson module", self.line(proc.stdout, "jetson"))
        self.assertIn("no hardware monitoring drivers", self.line(proc.stdout, "hwmon"))

    def test_hwmon_without_energy_or_power_sensors(self):
        with tempfile.TemporaryDirectory() as root:
            d = os.path.join(root, "class", "hwmon", "hwmon0")
            os.makedirs(d)
            with open(os.path.join(d, "name"), "w") as f:
                f.write("coretemp\n")
            with open(os.path.join(d, "temp1_input"), "w") as f:
                f.write("45000\n")
            proc = run_list(["list"], env=dict(os.environ, JOULESTAT_SYSFS_ROOT=root))
        self.assertIn("no hwmon energy*_input or power*_input", self.line(proc.stdout, "hwmon"))


if __name__ == "__main__":
    main_concurrent()  # each test waits on its own simulator and command
