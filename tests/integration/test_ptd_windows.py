"""PTD windows are the command's own (sim/ptd's exact truth): a window that
cuts samples at its edges, or lies inside one sample, is the energy of its own
span, with a ± that states the share of the cut samples and is no wider than
that needs; beside NVML, the analyser moves neither the window's instants nor
the GPU's figure.

The bar for the ± (how wide it may be): the class (1 % of the figure) plus,
at each edge, a sample's energy at the spread the core allows a mean (its
noise floor, 5 % of the power, on a constant trace; the steps' range on a
stepped one) plus the timing of the readings: 1 % + 2 x 100 ms x spread x P,
and on a constant trace never above 3 % of the figure for 1 s and longer."""
import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import measure  # noqa: E402
from nvml_sim import NvmlSim, gpu_domains  # noqa: E402
from ptd_sim import PtdSim  # noqa: E402

SAMPLE_S = 0.1  # ptd.interval's default
# Steps that no sample boundary follows: every edge cuts a step or a sample.
STEPS = "steps:600,1500,300,1200@0.37"


def ptd_domain(m):
    doms = [d for d in m["domains"] if d["backend"] == "ptd"]
    assert len(doms) == 1, m
    return doms[0]


class WindowCase(unittest.TestCase):
    def run_cmd(self, sim, seconds, env=None, backends="ptd"):
        env = env or {k: v for k, v in os.environ.items() if k != "JOULESTAT_OPTIONS"}
        proc, doc = measure(["sleep", str(seconds)], env, backends=backends,
                            extra=sim.option(), timeout=30)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        m = doc["runs"][0]
        # The window is the command's: as long as it ran (its start and
        # reaping on a loaded machine added), never snapped to samples.
        self.assertGreaterEqual(m["duration_s"], seconds, m["duration_s"])
        self.assertLess(m["duration_s"], seconds + 0.08, m["duration_s"])
        return proc, m

    def assert_ptd(self, sim, m, peak_w, seconds):
        dom = ptd_domain(m)
        want = sim.truth(m["begin_ns"], m["end_ns"])
        err = abs(dom["energy_j"] - want)
        u = dom["uncertainty_j"]
        msg = "sleep %s: %.3f J, truth %.3f J (%+.3f%%), stated ± %.3f J (%.2f%%), %s" % (
            seconds, dom["energy_j"], want, 100 * (dom["energy_j"] - want) / want, u,
            100 * u / dom["energy_j"], dom.get("note", ""))
        self.assertFalse(dom["partial"], msg)
        self.assertGreater(dom["energy_j"], 0, msg)
        self.assertLessEqual(err, u, msg)
        # The class, and at each edge the share of a cut sample: anywhere
        # from none of its energy to all of it (src/core/power_edge.c).
        bar = 0.01 * dom["energy_j"] + 2 * SAMPLE_S * peak_w
        self.assertLessEqual(u, bar, msg)
        return dom, want


class AloneTest(WindowCase):
    def test_const(self):
        """1500 W: sleep 0.05 (inside a sample or across one edge), 1 and 2.3 s."""
        with PtdSim("const:1500") as sim:
            for seconds in (0.05, 1, 2.3):
                proc, m = self.run_cmd(sim, seconds)
                dom, want = self.assert_ptd(sim, m, 1500, seconds)
                # What happened, said: a window shorter than a few samples
                # takes the cut samples' means for their share of time; never
                # the text of a counter interpolated between refreshes.
                note = dom.get("note", "")
                self.assertNotIn("interpolated", note)
                self.assertEqual("means its edges cut" in note, seconds < 0.3, note)

    def test_steps(self):
        """Steps between 300 and 1500 W that no sample boundary follows."""
        with PtdSim(STEPS) as sim:
            for seconds in (0.05, 1, 2.3):
                proc, m = self.run_cmd(sim, seconds)
                self.assert_ptd(sim, m, 1500, seconds)


class WithNvmlTest(WindowCase):
    def test_const(self):
        """A GPU at 1000 W (NVML counter) in a node at 1500 W (the analyser):
        the GPU's figure is that of the GPU alone, the window as long as the
        command, and the analyser's figure its own window's."""
        with NvmlSim(gpus=1, trace="const:1000") as nv, PtdSim("const:1500") as sim:
            env = nv.env()
            for seconds in (0.05, 1, 2.3):
                proc, m = self.run_cmd(sim, seconds, env=env, backends="nvml,ptd")
                self.assert_ptd(sim, m, 1500, seconds)
                gpu = gpu_domains(m)[0]
                nv.truth()
                want = nv.exact_truth(0, m["begin_ns"], m["end_ns"])
                msg = "sleep %s: GPU %.3f J, truth %.3f J, ± %.3f J" % (
                    seconds, gpu["energy_j"], want, gpu["uncertainty_j"])
                self.assertLessEqual(abs(gpu["energy_j"] - want), gpu["uncertainty_j"], msg)
                if seconds >= 1:
                    # The GPU's own figure: within 0.5 % (its counter is exact),
                    # stated within its class and edges (5 % + 2 x 100 ms).
                    self.assertLess(abs(gpu["energy_j"] - want), 0.005 * want, msg)
                    self.assertLess(gpu["uncertainty_j"], 0.05 * want + 2 * 0.1 * 1000, msg)


if __name__ == "__main__":
    unittest.main(verbosity=2)
