"""The ptd backend against sim/ptd: an analyser whose clock is off and drifts,
one that does not tell its time, one that states its uncertainty, one that
reports watts alone, one that samples once a second."""
import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import main_concurrent  # noqa: E402
from ptd_sim import PtdSim  # noqa: E402
from test_ptd import BURSTY, PtdCase  # noqa: E402

SWING_W = 340.0  # bursty: between 60 W and 400 W


class ClockTest(PtdCase):
    def test_bursty_watts_only(self):
        """Watts alone (PTDaemon's usual reading): every sample the poller sees
        is exact; one it never sees (a machine too loaded to poll within a
        sample) is bridged, and the sim counts those."""
        with PtdSim("bursty:11") as sim:
            _, m, dom = self.run_ptd(sim, ["sleep", "4"])
            missed = sim.missed_allowance(0.1)
            self.assert_truth(sim, m, dom, missed_j=missed, edge_j=SWING_W * 0.1)
        # Stated no wider than the class, the cut samples at the swing and
        # the missed ones.
        self.assertLess(dom["uncertainty_j"], 0.01 * dom["energy_j"] + 2 * SWING_W * 0.1 + missed)

    def test_clock_offset_and_drift(self):
        """The analyser's clock 3.7 s ahead and 500 ppm fast: measured and applied."""
        with PtdSim(BURSTY, offset=3.7, drift=500, energy=True) as sim:
            _, m, dom = self.run_ptd(sim, ["sleep", "2.5"])
        self.assert_truth(sim, m, dom, edge_j=SWING_W * 0.1)

    def test_no_time_command(self):
        """A PTDaemon that does not tell its time: the clocks are taken to agree
        (here they do: one host), and the note says so."""
        with PtdSim(BURSTY, energy=True, **{"no-time": True}) as sim:
            _, m, dom = self.run_ptd(sim, ["sleep", "1.5"])
        self.assertIn("clocks assumed in sync", dom["note"])
        self.assert_truth(sim, m, dom, edge_j=SWING_W * 0.1)

    def test_uncertainty_from_analyser(self):
        """An analyser that states its uncertainty sets the figure's class."""
        with PtdSim("const:250", uncertainty=0.002) as sim:
            _, m, dom = self.run_ptd(sim, ["sleep", "1"])
        self.assertAlmostEqual(dom["accuracy"], 0.002)
        self.assertNotIn("class 1%", dom["note"])
        self.assert_truth(sim, m, dom, rel=0.001)

    def test_slow_analyser(self):
        """An analyser that samples once a second (MLPerf's interval): exact
        over the whole samples the window holds; the two it cuts (a bursty
        load inside a second is not level) are what the figure may miss, and
        stated. The window is the command's, not whole seconds around it."""
        with PtdSim(BURSTY, refresh=1000) as sim:
            _, m, dom = self.run_ptd(sim, ["sleep", "2.5"], extra=["--option", "ptd.interval=1000"])
            self.assert_truth(sim, m, dom, missed_j=sim.missed_allowance(1.0),
                              edge_j=SWING_W * 1.0)
        self.assertGreaterEqual(m["duration_s"], 2.5)
        self.assertLess(m["duration_s"], 2.6)
        self.assertLess(dom["uncertainty_j"], 0.01 * dom["energy_j"] + 2 * SWING_W * 1.0)


if __name__ == "__main__":
    main_concurrent()  # each test waits on its own simulator and command
