"""The dcgm backend through the CLI, against sim/dcgm and its exact truth, with
sim/nvml simulating the same GPUs: DCGM measures each GPU, NVML is shown beside
it only under --cross-validate, and totals count each GPU once."""
import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import domains_by_name, measure, run_joulestat, unwrap_list  # noqa: E402
from dcgm_sim import DcgmSim, gpu_uuid  # noqa: E402

# Power that changes every 0.2 s: a figure is only right for the right interval.
STEPS = "steps:150,420,80,300@0.2"
BASE_J = 123456.789  # the simulated counters start near here; it must never show


class DcgmCase(unittest.TestCase):
    def run_sim(self, sim, cmd=("sleep", "1"), extra=(), backends="dcgm,nvml"):
        proc, doc = measure(list(cmd), sim.env(), backends=backends, extra=extra, timeout=60)
        self.assertGreaterEqual(proc.returncode, 0, "killed by a signal: " + proc.stderr)
        self.assertIsNotNone(doc, proc.stderr)
        sim.dcgm_truth()
        if sim.nvml:
            sim.truth()
        return proc, doc, doc["runs"][0]

    def assert_matches_truth(self, sim, m, d, k):
        self.assertLess(d["energy_j"], BASE_J / 10, "the counter's base leaked")
        want = sim.dcgm_exact(k, m["begin_ns"], m["end_ns"])
        self.assertLessEqual(abs(d["energy_j"] - want), d["uncertainty_j"],
                             "%s: %.4f J, truth %.4f J, ± %.4f J" %
                             (d["name"], d["energy_j"], want, d["uncertainty_j"]))


class DcgmWinsTest(DcgmCase):
    """The same 8 GPUs in DCGM and NVML: DCGM measures them, once."""

    @classmethod
    def setUpClass(cls):
        cls.sim = DcgmSim(gpus=8, trace=STEPS, nvml=True).__enter__()

    @classmethod
    def tearDownClass(cls):
        cls.sim.__exit__(None, None, None)

    def test_dcgm_is_chosen_and_matches_truth(self):
        proc, doc, m = self.run_sim(self.sim)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertFalse(doc["partial"])
        doms = domains_by_name(m)
        self.assertEqual(sorted(doms), ["gpu%d" % k for k in range(8)])
        self.assertEqual(len(m["domains"]), 8, "NVML's domains must not be shown")
        for k in range(8):
            d = doms["gpu%d" % k]
            self.assertEqual(d["backend"], "dcgm")
            self.assertEqual(d["device"], "gpu:" + gpu_uuid(k))
            self.assertEqual(d["method"], "counter")
            self.assertEqual(d["source"], "energy-field")
            self.assertAlmostEqual(d["accuracy"], 0.02)
            self.assertTrue(d["primary"])
            self.assertFalse(d["partial"], d["note"])
            self.assert_matches_truth(self.sim, m, d, k)
        self.assertEqual(m["totals"]["gpu"]["parts"], 8)
        self.assertAlmostEqual(m["totals"]["gpu"]["energy_j"],
                               sum(d["energy_j"] for d in doms.values()), places=6)

    def test_cross_validate_shows_nvml_not_counted(self):
        proc, doc, m = self.run_sim(self.sim, extra=["--cross-validate"])
        self.assertEqual(proc.returncode, 0, proc.stderr)
        for k in range(8):
            doms = [d for d in m["domains"] if d["device"] == "gpu:" + gpu_uuid(k)]
            by = {(d["backend"], d["source"]): d for d in doms}
            self.assertIn(("dcgm", "energy-field"), by)
            self.assertIn(("nvml", "energy-counter"), by)
            self.assertEqual([(d["backend"], d["source"]) for d in doms if d["primary"]],
                             [("dcgm", "energy-field")])
            dcgm, nvml = by[("dcgm", "energy-field")], by[("nvml", "energy-counter")]
            self.assert_matches_truth(self.sim, m, dcgm, k)
            # The same GPU by two methods, read in the same windows.
            self.assertLessEqual(abs(dcgm["energy_j"] - nvml["energy_j"]),
                                 dcgm["uncertainty_j"] + nvml["uncertainty_j"])
        primary = [d for d in m["domains"] if d["primary"]]
        self.assertEqual(len(primary), 8)
        self.assertEqual(m["totals"]["gpu"]["parts"], 8)
        self.assertAlmostEqual(m["totals"]["gpu"]["energy_j"],
                               sum(d["energy_j"] for d in primary), places=6)

    def test_cuda_visible_devices_selects_the_same_gpus(self):
        env = self.sim.env(cuda_visible="%s,5" % gpu_uuid(6))
        proc, doc = measure(["true"], env, backends="dcgm,nvml", extra=["--cross-validate"])
        self.assertEqual(proc.returncode, 0, proc.stderr)
        m = doc["runs"][0]
        self.assertEqual(sorted({(d["backend"], d["name"]) for d in m["domains"]}),
                         [("dcgm", "gpu5"), ("dcgm", "gpu6"), ("nvml", "gpu5"), ("nvml", "gpu6")])
        self.assertEqual(m["totals"]["gpu"]["parts"], 2)

    def test_list_names_the_host_engine(self):
        proc = run_joulestat(["list"], env=self.sim.env())
        self.assertEqual(proc.returncode, 0, proc.stderr)
        text = unwrap_list(proc.stdout)
        line = [ln for ln in text.splitlines() if ln.strip().startswith("dcgm")][0]
        self.assertIn("available", line)
        self.assertIn("8 GPUs, NVIDIA H100 80GB HBM3 (sim), through an embedded host engine",
                      line)


class DcgmFaultsTest(DcgmCase):
    def test_validate_takes_dcgm_as_the_reference(self):
        # A constant power, so that every method must agree (steps would let
        # the polled ones miss an edge on a short run).
        with DcgmSim(gpus=2, trace="const:300", nvml=True, counter_tick_ms=20) as sim:
            sim.vars["JSTSIM_NVML_COUNTER_TICK_MS"] = "20"
            proc = run_joulestat(["validate", "--backends", "dcgm,nvml", "--", "sleep", "0.5"],
                                 env=sim.env())
        self.assertEqual(proc.returncode, 0, proc.stdout + proc.stderr)
        for k in range(2):
            block = proc.stdout.split("gpu%d  (gpu, gpu:%s)" % (k, gpu_uuid(k)))[1]
            lines = [ln.split() for ln in block.strip().splitlines()[1:5]]
            self.assertEqual((lines[0][0], lines[0][-1]), ("dcgm/energy-field", "reference"))
            self.assertEqual([ln[0] for ln in lines[1:]], ["nvml/energy-counter",
                                                           "nvml/instant-power",
                                                           "nvml/average-power"])
            self.assertTrue(all(ln[-1] == "agrees" for ln in lines[1:]), block)

    def test_errors_reset_and_lost_gpu(self):
        # gpu0: 200 ms of failed samples; gpu1: the counter restarts; gpu2: lost.
        with DcgmSim(gpus=3, trace="const:200", counter_tick_ms=20, errors="0@0.6+0.2",
                     reset="1@0.6", lost="2@0.8") as sim:
            proc, doc, m = self.run_sim(sim, cmd=("sleep", "1.4"), extra=["--period", "20"])
        self.assertEqual(proc.returncode, 0, proc.stderr)
        doms = domains_by_name(m)
        for k in (0, 1):
            d = doms["gpu%d" % k]
            self.assertFalse(d["partial"], d["note"])
            want = sim.dcgm_exact(k, m["begin_ns"], m["end_ns"])
            self.assertAlmostEqual(d["energy_j"], want, delta=0.02 * want)
        self.assertIn("skipped", doms["gpu0"]["note"])
        self.assertTrue(doms["gpu1"]["bridged"], doms["gpu1"]["note"])
        self.assertTrue(doms["gpu2"]["partial"])
        self.assertIn("gpu2: GPU is lost", doms["gpu2"]["note"])
        self.assertTrue(doc["partial"])

    def test_power_only_gpus(self):
        with DcgmSim(gpus=2, trace="const:250", mode="nocounter") as sim:
            proc, doc, m = self.run_sim(sim, cmd=("sleep", "1"), extra=["--period", "20"])
        self.assertEqual(proc.returncode, 0, proc.stderr)
        for k in range(2):
            d = domains_by_name(m)["gpu%d" % k]
            self.assertEqual(d["method"], "power")
            self.assertEqual(d["source"], "power-field")
            want = sim.dcgm_exact(k, m["begin_ns"], m["end_ns"])
            self.assertAlmostEqual(d["energy_j"], want, delta=0.03 * want)

    def test_host_engine_address(self):
        with DcgmSim(gpus=2, trace="const:300", hostengine="127.0.0.1:5555",
                     counter_tick_ms=20) as sim:
            proc, doc, m = self.run_sim(sim, cmd=("sleep", "0.5"),
                                        extra=["--option", "dcgm.address=127.0.0.1:5555"])
            self.assertEqual(proc.returncode, 0, proc.stderr)
            self.assertEqual([d["backend"] for d in m["domains"]], ["dcgm", "dcgm"])
            # Nothing listens at another address: DCGM is unavailable, and says why.
            proc = run_joulestat(["list", "--option", "dcgm.address=127.0.0.1:6666"],
                                 env=sim.env())
        text = unwrap_list(proc.stdout)
        self.assertIn("cannot connect to nv-hostengine at 127.0.0.1:6666", text)

    def test_host_engine_lost_mid_run(self):
        with DcgmSim(gpus=2, trace="const:300", hostengine="unix:/run/dcgm.sock",
                     disconnect=0.5, counter_tick_ms=20) as sim:
            proc, doc, m = self.run_sim(sim, cmd=("sleep", "1"),
                                        extra=["--option", "dcgm.address=unix:/run/dcgm.sock"])
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertTrue(doc["partial"])
        for d in m["domains"]:
            self.assertTrue(d["partial"])
            self.assertIn("connection to nv-hostengine is lost", d["note"])


if __name__ == "__main__":
    unittest.main()
